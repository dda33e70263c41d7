"""The price catalogue and the cost formula: call arithmetic, genai-prices lookups, overrides, and pricing the
usage ledger."""

import warnings
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from unittest import mock

from django.core.exceptions import ValidationError
from django.test import SimpleTestCase
from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import DataSnapshot

from finops.money import quantize_storage
from ingest.models import DirtyDay, UsageEvent
from pricing import catalogue
from pricing.catalogue import catalogue_day, catalogue_unit_prices, unit_prices
from pricing.formula import UnitPrices, call_cost
from pricing.models import PriceOverride
from pricing.services.prices import price_override_create
from pricing.services.repricing import usage_price
from tests.base import BaseTestCase
from tests.pricing.helpers import NOON, usage_event, usage_upload

D = Decimal
FLAT = UnitPrices(
    currency="USD",
    input_per_mtok=D("2.50"),
    cached_input_per_mtok=D("1.25"),
    cache_write_per_mtok=D("3.125"),
    output_per_mtok=D("10.00"),
)


def genai_total(model, provider, at, *, our_input, cached=0, cache_writes=0, output=0):
    """genai-prices' own total for our token columns (its input_tokens include cache reads and writes)."""
    usage = Usage(
        input_tokens=our_input + cached + cache_writes,
        cache_read_tokens=cached,
        cache_write_tokens=cache_writes,
        output_tokens=output,
    )
    return calc_price(usage, model, provider_id=provider, genai_request_timestamp=at).total_price


class CallCostTests(SimpleTestCase):
    def test_it_prices_the_worked_example(self):
        # ECONOMICS.md: 1,000 input and 200 output tokens at 2.50 / 10.00 per million cost 0.0045.
        cost = call_cost(FLAT, input_tokens=1000, output_tokens=200)
        self.assertEqual(cost, D("0.0045"))
        self.assertIsInstance(cost, Decimal)

    def test_it_prices_cached_tokens_at_the_cache_price(self):
        cost = call_cost(FLAT, input_tokens=600, cached_input_tokens=400, output_tokens=0)
        self.assertEqual(cost, (600 * D("2.50") + 400 * D("1.25")) / 1_000_000)
        self.assertEqual(cost, D("0.002"))

    def test_it_prices_cache_writes_at_their_own_price(self):
        cost = call_cost(FLAT, input_tokens=100, cache_write_tokens=1000, output_tokens=10)
        self.assertEqual(cost, D("0.003475"))  # (100 x 2.5 + 1000 x 3.125 + 10 x 10) / 1e6

    def test_it_charges_cache_tokens_the_input_price_when_no_cache_price_is_set(self):
        prices = UnitPrices(currency="EUR", input_per_mtok=D("2"), output_per_mtok=D("8"))
        cost = call_cost(prices, input_tokens=100, cached_input_tokens=300, cache_write_tokens=600, output_tokens=0)
        self.assertEqual(cost, D("0.002"))

    def test_it_returns_none_never_zero_for_tokens_without_a_price(self):
        input_only = UnitPrices(currency="USD", input_per_mtok=D("0.02"))
        self.assertIsNone(call_cost(input_only, input_tokens=100, output_tokens=5))
        self.assertEqual(call_cost(input_only, input_tokens=100, output_tokens=0), D("0.000002"))
        nothing = UnitPrices(currency="USD")
        self.assertIsNone(call_cost(nothing, input_tokens=1, output_tokens=0))

    def test_it_returns_none_for_a_call_without_token_counts(self):
        self.assertIsNone(call_cost(FLAT))
        self.assertEqual(call_cost(FLAT, input_tokens=1000), D("0.0025"))  # a missing count is 0 beside known ones

    def test_it_rounds_once_half_even_to_the_stored_places(self):
        prices = UnitPrices(currency="USD", input_per_mtok=D("0.00005"), output_per_mtok=D("0"))
        half_units = {1: "0.0000000000", 3: "0.0000000002", 5: "0.0000000002", 7: "0.0000000004"}
        for tokens, expected in half_units.items():  # tokens x 0.5e-10: exactly half a stored unit each time
            self.assertEqual(call_cost(prices, input_tokens=tokens, output_tokens=0), D(expected), tokens)

    def test_it_keeps_huge_counts_exact(self):
        prices = UnitPrices(currency="USD", input_per_mtok=D("12.3456789012"), output_per_mtok=D("98.7654321098"))
        cost = call_cost(prices, input_tokens=987_654_321_987_654, output_tokens=123_456_789_123_456)
        # exact: 24386526249.3085598534332536, rounded at the tenth place
        self.assertEqual(cost, D("24386526249.3085598534"))

    def test_it_picks_the_tier_from_the_whole_input_per_call(self):
        high = UnitPrices(
            currency="USD", input_per_mtok=D("2.50"), cached_input_per_mtok=D("0.25"), output_per_mtok=D("15")
        )
        tiered = UnitPrices(
            currency="USD",
            input_per_mtok=D("1.25"),
            cached_input_per_mtok=D("0.125"),
            output_per_mtok=D("10"),
            tiers=((200_000, high),),
        )
        at_threshold = call_cost(tiered, input_tokens=150_000, cached_input_tokens=50_000, output_tokens=0)
        self.assertEqual(at_threshold, (150_000 * D("1.25") + 50_000 * D("0.125")) / 10**6)
        above = call_cost(tiered, input_tokens=150_000, cached_input_tokens=50_001, output_tokens=0)
        self.assertEqual(above, (150_000 * D("2.50") + 50_001 * D("0.25")) / 10**6)
        # An aggregate of 10 calls takes the tier from its average call.
        self.assertEqual(call_cost(tiered, input_tokens=1_500_000, output_tokens=0, request_count=10), D("1.875"))

    def test_it_adds_the_price_per_call_for_each_call_of_an_aggregate(self):
        prices = UnitPrices(currency="USD", input_per_mtok=D("1"), output_per_mtok=D("1"), request_amount=D("0.012"))
        self.assertEqual(call_cost(prices, input_tokens=1000, output_tokens=1000, request_count=3), D("0.038"))

    def test_it_prices_reasoning_inside_output_only_where_it_has_a_rate(self):
        prices = UnitPrices(currency="USD", input_per_mtok=D("2"), output_per_mtok=D("8"), reasoning_per_mtok=D("3"))
        self.assertEqual(call_cost(prices, input_tokens=0, output_tokens=1000, reasoning_tokens=400), D("0.006"))
        self.assertIsNone(call_cost(prices, input_tokens=0, output_tokens=100, reasoning_tokens=400))
        self.assertEqual(call_cost(FLAT, input_tokens=0, output_tokens=1000, reasoning_tokens=400), D("0.01"))

    def test_it_prices_gpu_hours_only_from_gpu_seconds(self):
        prices = UnitPrices(currency="USD", gpu_hour_amount=D("4.00"))
        self.assertEqual(call_cost(prices, input_tokens=1000, output_tokens=200, gpu_seconds=D("1800")), D("2"))
        self.assertEqual(call_cost(prices, gpu_seconds=D("1")), D("0.0011111111"))
        self.assertIsNone(call_cost(prices, input_tokens=1000, output_tokens=200))


class GenaiCatalogueTests(SimpleTestCase):
    def test_it_reads_gpt_4o_as_genai_prices_does(self):
        at = datetime(2026, 3, 2, 12, tzinfo=UTC)
        prices = catalogue_unit_prices("openai", "gpt-4o", at)
        self.assertEqual(
            (prices.currency, prices.input_per_mtok, prices.cached_input_per_mtok, prices.output_per_mtok),
            ("USD", D("2.5"), D("1.25"), D("10")),
        )
        # 1,000 input of which 400 cached: our ledger says input 600, cached 400.
        ours = call_cost(prices, input_tokens=600, cached_input_tokens=400, output_tokens=300)
        self.assertEqual(ours, (600 * D("2.5") + 400 * D("1.25") + 300 * D("10")) / 10**6)
        self.assertEqual(
            ours, quantize_storage(genai_total("gpt-4o", "openai", at, our_input=600, cached=400, output=300))
        )

    def test_it_reads_claude_sonnet_4_with_cache_writes(self):
        at = datetime(2026, 3, 2, 12, tzinfo=UTC)
        prices = catalogue_unit_prices("anthropic", "claude-sonnet-4-20250514", at)
        self.assertEqual(
            (prices.input_per_mtok, prices.cached_input_per_mtok, prices.cache_write_per_mtok, prices.output_per_mtok),
            (D("3"), D("0.3"), D("3.75"), D("15")),
        )
        ours = call_cost(prices, input_tokens=800, cached_input_tokens=2000, cache_write_tokens=1500, output_tokens=150)
        theirs = genai_total(
            "claude-sonnet-4-20250514", "anthropic", at, our_input=800, cached=2000, cache_writes=1500, output=150
        )
        self.assertEqual(ours, quantize_storage(theirs))

    def test_it_follows_dated_price_changes(self):
        before = datetime(2025, 6, 9, 23, 59, tzinfo=UTC)
        after = datetime(2025, 6, 10, 0, 0, tzinfo=UTC)
        self.assertEqual(catalogue_unit_prices("openai", "o3", before).input_per_mtok, D("10"))
        self.assertEqual(catalogue_unit_prices("openai", "o3", after).input_per_mtok, D("2"))
        for at in (before, after):
            ours = call_cost(catalogue_unit_prices("openai", "o3", at), input_tokens=5000, output_tokens=700)
            self.assertEqual(ours, quantize_storage(genai_total("o3", "openai", at, our_input=5000, output=700)))

    def test_it_follows_off_peak_hours_within_a_day(self):
        windows = catalogue_day("deepseek", "deepseek-chat", date(2025, 3, 1))
        self.assertGreater(len(windows), 1)
        for hour, minute in ((0, 0), (0, 30), (12, 0), (16, 29), (16, 30), (23, 59)):
            at = datetime(2025, 3, 1, hour, minute, tzinfo=UTC)
            ours = call_cost(catalogue_unit_prices("deepseek", "deepseek-chat", at), input_tokens=900, output_tokens=80)
            theirs = genai_total("deepseek-chat", "deepseek", at, our_input=900, output=80)
            self.assertEqual(ours, quantize_storage(theirs), at)

    def test_it_applies_tiers_as_genai_prices_does(self):
        at = datetime(2026, 3, 2, 12, tzinfo=UTC)
        prices = catalogue_unit_prices("google", "gemini-2.5-pro", at)
        self.assertTrue(prices.tiers)
        for our_input, cached in ((150_000, 50_000), (150_000, 50_001), (10, 0), (400_000, 1000)):
            ours = call_cost(prices, input_tokens=our_input, cached_input_tokens=cached, output_tokens=2000)
            theirs = genai_total("gemini-2.5-pro", "google", at, our_input=our_input, cached=cached, output=2000)
            self.assertEqual(ours, quantize_storage(theirs))

    def test_it_maps_our_provider_names(self):
        self.assertEqual(catalogue.catalogue_provider_id("gemini"), "google")
        self.assertEqual(catalogue.catalogue_provider_id("Bedrock"), "aws")
        self.assertEqual(catalogue.catalogue_provider_id("azure"), "azure")
        self.assertEqual(catalogue.catalogue_provider_id("x-ai"), "x-ai")
        self.assertIsNone(catalogue.catalogue_provider_id("self-hosted"))
        self.assertIsNone(catalogue.catalogue_provider_id("my-openai-proxy"))
        at = datetime(2026, 3, 2, 12, tzinfo=UTC)
        self.assertEqual(
            catalogue_unit_prices("gemini", "gemini-2.5-pro", at), catalogue_unit_prices("google", "gemini-2.5-pro", at)
        )
        self.assertEqual(
            catalogue_unit_prices("azure", "gpt-4o", at).input_per_mtok, D("2.5")
        )  # Azure falls back to OpenAI

    def test_it_knows_nothing_of_unknown_models_and_self_hosted_ones(self):
        at = datetime(2026, 3, 2, 12, tzinfo=UTC)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assertIsNone(catalogue_unit_prices("openai", "no-such-model-xyz", at))
            self.assertIsNone(catalogue_unit_prices("acme-cloud", "gpt-4o", at))
            self.assertIsNone(catalogue_unit_prices("self-hosted", "llama-3.1-8b-instruct", at))

    def test_it_never_downloads_prices(self):
        with mock.patch("genai_prices.update_prices.UpdatePrices.start", side_effect=AssertionError("no downloads")):
            catalogue_day.cache_clear()
            self.assertIsNotNone(catalogue_unit_prices("openai", "gpt-4o-mini", datetime(2026, 1, 5, tzinfo=UTC)))


class UnitPricesTests(BaseTestCase):
    def test_it_uses_an_override_from_its_date_on(self):
        price_override_create(
            org=self.org,
            provider="openai",
            model="gpt-4o",
            effective_from=date(2026, 3, 1),
            currency="USD",
            input_per_mtok="1.00",
            output_per_mtok="4.00",
            created_by=self.alice,
        )
        price_override_create(
            org=self.org,
            provider="openai",
            model="gpt-4o",
            effective_from=date(2026, 4, 1),
            currency="USD",
            input_per_mtok="0.50",
            output_per_mtok="2.00",
        )
        eve = datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
        self.assertEqual(unit_prices(self.org, "openai", "gpt-4o", eve).input_per_mtok, D("2.5"))
        self.assertEqual(unit_prices(self.org, "openai", "gpt-4o", eve + timedelta(seconds=1)).input_per_mtok, D("1"))
        self.assertEqual(
            unit_prices(self.org, "openai", "gpt-4o", datetime(2026, 3, 31, 23, tzinfo=UTC)).output_per_mtok, D("4")
        )
        self.assertEqual(
            unit_prices(self.org, "openai", "gpt-4o", datetime(2026, 4, 1, tzinfo=UTC)).input_per_mtok, D("0.5")
        )
        # Another organisation still sees the catalogue.
        self.assertEqual(
            unit_prices(self.charlies_org, "openai", "gpt-4o", datetime(2026, 4, 2, tzinfo=UTC)).input_per_mtok,
            D("2.5"),
        )

    def test_it_prices_a_model_only_the_org_knows(self):
        at = datetime(2026, 3, 2, tzinfo=UTC)
        self.assertIsNone(unit_prices(self.org, "openai", "ft:gpt-4o:acme", at))
        price_override_create(
            org=self.org,
            provider="OpenAI",
            model="ft:gpt-4o:acme",
            effective_from=date(2026, 1, 1),
            currency="eur",
            input_per_mtok="3.75",
            output_per_mtok="15",
        )
        prices = unit_prices(self.org, "openai", "ft:gpt-4o:acme", at)
        self.assertEqual((prices.currency, prices.input_per_mtok, prices.output_per_mtok), ("EUR", D("3.75"), D("15")))

    def test_it_validates_overrides(self):
        def create(**kwargs):
            fields = {
                "org": self.org,
                "provider": "openai",
                "model": "m",
                "effective_from": date(2026, 1, 1),
                "currency": "USD",
                "input_per_mtok": "1",
            }
            fields.update(kwargs)
            return price_override_create(**fields)

        cases = {
            "__all__": {"input_per_mtok": None},
            "input_per_mtok": {"input_per_mtok": "-1"},
            "currency": {"currency": "dollars"},
            "gpu_hour_amount": {"gpu_hour_amount": "2.00"},
            "output_per_mtok": {"output_per_mtok": "0.00000000001"},
            "model": {"model": "  "},
        }
        for field, kwargs in cases.items():
            with self.subTest(field), self.assertRaises(ValidationError) as raised:
                create(**kwargs)
            self.assertIn(field, raised.exception.message_dict)
        with self.assertRaises(TypeError):
            create(input_per_mtok=2.5)  # never a float
        self.assertFalse(PriceOverride.objects.exists())
        create(input_per_mtok="0")  # a free model is a known price
        create(input_per_mtok="2")  # the same model and date: replaces
        self.assertEqual(
            list(PriceOverride.objects.for_org(self.org).values_list("input_per_mtok", flat=True)), [D("2")]
        )


class UsagePriceTests(BaseTestCase):
    def test_it_prices_unpriced_calls_from_the_catalogue(self):
        usage_event(self.org, "known", input_tokens=600, cached_input_tokens=400, output_tokens=200)
        usage_event(self.org, "unknown", model="our-own-model-v2")
        usage_event(self.org, "reported", cost_amount=D("9.99"), currency="USD", cost_source="reported")
        usage_event(self.org, "no-tokens", input_tokens=None, output_tokens=None)
        self.assertEqual(usage_price(org=self.org), 1)
        rows = {e.event_id: e for e in UsageEvent.objects.for_org(self.org)}
        self.assertEqual(rows["known"].cost_amount, D("0.004"))  # (600 x 2.5 + 400 x 1.25 + 200 x 10) / 1e6
        self.assertEqual((rows["known"].currency, rows["known"].cost_source), ("USD", "catalogue"))
        self.assertEqual((rows["unknown"].cost_amount, rows["unknown"].cost_source), (None, "unpriced"))
        self.assertEqual((rows["no-tokens"].cost_amount, rows["no-tokens"].cost_source), (None, "unpriced"))
        self.assertEqual((rows["reported"].cost_amount, rows["reported"].cost_source), (D("9.99"), "reported"))
        self.assertEqual(usage_price(org=self.org), 0)  # safe to repeat

    def test_it_prices_only_the_upload_or_events_asked_for(self):
        upload, other_upload = usage_upload(self.org, "a.csv"), usage_upload(self.org, "b.csv")
        usage_event(self.org, "in-upload", upload=upload)
        usage_event(self.org, "other-upload", upload=other_upload)
        usage_event(self.org, "live-1")
        usage_event(self.org, "live-2")
        usage_event(self.charlies_org, "live-1")
        self.assertEqual(usage_price(org=self.org, upload=upload), 1)
        self.assertEqual(usage_price(org=self.org, event_ids=["live-1", "missing"]), 1)
        priced = set(UsageEvent.objects.filter(cost_source="catalogue").values_list("org_id", "event_id"))
        self.assertEqual(priced, {(self.org.pk, "in-upload"), (self.org.pk, "live-1")})
        self.assertEqual(usage_price(org=self.org, event_ids=[]), 0)
        self.assertEqual(UsageEvent.objects.for_org(self.charlies_org).get().cost_source, "unpriced")

    def test_it_prices_many_event_ids_in_batches(self):
        UsageEvent.objects.bulk_create(
            UsageEvent(
                org=self.org,
                event_id=f"e{i}",
                occurred_at=NOON + timedelta(minutes=i),
                provider="anthropic",
                model="claude-sonnet-4-20250514",
                input_tokens=i,
                output_tokens=10,
                cost_source="unpriced",
            )
            for i in range(1200)
        )
        self.assertEqual(usage_price(org=self.org, event_ids=[f"e{i}" for i in range(1100)]), 1100)
        event = UsageEvent.objects.for_org(self.org).get(event_id="e1000")
        self.assertEqual(event.cost_amount, (1000 * D("3") + 10 * D("15")) / 10**6)
        self.assertEqual(UsageEvent.objects.for_org(self.org).filter(cost_source="unpriced").count(), 100)

    def test_it_reads_the_catalogue_once_per_model_and_day(self):
        for i in range(300):
            usage_event(self.org, f"e{i}", model="gpt-4o-mini", at=NOON + timedelta(hours=i % 48))
        catalogue_day.cache_clear()
        catalogue._catalogue_model.cache_clear()
        with mock.patch.object(
            DataSnapshot, "find_provider_model", autospec=True, side_effect=DataSnapshot.find_provider_model
        ) as lookups:
            self.assertEqual(usage_price(org=self.org), 300)
        self.assertEqual(lookups.call_count, 1)
        self.assertEqual(catalogue_day.cache_info().misses, 3)  # 2 March noon + 48 hours spans three UTC days

    def test_it_prices_aggregate_rows_from_their_totals(self):
        usage_event(
            self.org,
            "bucket",
            is_aggregate=True,
            request_count=40,
            input_tokens=40_000,
            cached_input_tokens=10_000,
            output_tokens=8_000,
        )
        self.assertEqual(usage_price(org=self.org), 1)
        self.assertEqual(UsageEvent.objects.get().cost_amount, D("0.1925"))  # 0.1 + 0.0125 + 0.08

    def test_it_prices_self_hosted_calls_only_from_gpu_seconds(self):
        price_override_create(
            org=self.org,
            provider="self-hosted",
            model="llama-3.1-70b",
            effective_from=date(2026, 1, 1),
            currency="USD",
            gpu_hour_amount="4.00",
        )
        usage_event(self.org, "timed", provider="self-hosted", model="llama-3.1-70b", metadata={"gpu_seconds": 12.6})
        usage_event(self.org, "untimed", provider="self-hosted", model="llama-3.1-70b")
        usage_event(self.org, "bad", provider="self-hosted", model="llama-3.1-70b", metadata={"gpu_seconds": "n/a"})
        usage_event(self.org, "api", model="gpt-4o")
        self.assertEqual(usage_price(org=self.org), 2)
        costs = dict(UsageEvent.objects.for_org(self.org).values_list("event_id", "cost_amount"))
        self.assertEqual(costs, {"timed": D("0.014"), "untimed": None, "bad": None, "api": D("0.0045")})


class PriceOverrideRepriceTests(BaseTestCase):
    def test_it_prices_the_models_calls_again_after_commit(self):
        march_1 = datetime(2026, 3, 1, tzinfo=UTC)
        usage_event(self.org, "before", at=march_1 - timedelta(seconds=1))
        usage_event(self.org, "after", at=march_1)
        usage_event(self.org, "reported", at=march_1, cost_amount=D("1.00"), currency="USD", cost_source="reported")
        usage_event(self.org, "other-model", model="gpt-4o-mini", at=march_1)
        usage_event(self.charlies_org, "after", at=march_1)
        usage_price(org=self.org)
        usage_price(org=self.charlies_org)
        DirtyDay.objects.all().delete()
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            price_override_create(
                org=self.org,
                provider="openai",
                model="gpt-4o",
                effective_from=date(2026, 3, 1),
                currency="USD",
                input_per_mtok="1.00",
                output_per_mtok="5.00",
            )
            self.assertEqual(UsageEvent.objects.get(org=self.org, event_id="after").cost_amount, D("0.0045"))
        tasks = [c for c in callbacks if "org_changed" not in c.__qualname__]  # beside the read cache's versions
        self.assertEqual(len(tasks), 1)
        costs = dict(UsageEvent.objects.for_org(self.org).values_list("event_id", "cost_amount"))
        self.assertEqual(costs["before"], D("0.0045"))  # catalogue, before the negotiated rate
        self.assertEqual(costs["after"], D("0.002"))  # 1000 x 1 + 200 x 5
        self.assertEqual(costs["reported"], D("1.00"))
        self.assertEqual(costs["other-model"], D("0.00027"))
        self.assertEqual(UsageEvent.objects.get(org=self.charlies_org).cost_amount, D("0.0045"))
        self.assertEqual(list(DirtyDay.objects.for_org(self.org).values_list("day", flat=True)), [date(2026, 3, 1)])
        self.assertFalse(DirtyDay.objects.for_org(self.charlies_org).exists())

    def test_it_makes_catalogue_calls_unpriced_when_the_new_price_cannot_price_them(self):
        usage_event(self.org, "call", provider="openai", model="gpt-4o")
        usage_price(org=self.org)
        with self.captureOnCommitCallbacks(execute=True):
            price_override_create(
                org=self.org,
                provider="openai",
                model="gpt-4o",
                effective_from=date(2026, 1, 1),
                currency="USD",
                gpu_hour_amount="2",
            )
        event = UsageEvent.objects.get()
        self.assertEqual((event.cost_amount, event.currency, event.cost_source), (None, "", "unpriced"))


class GenaiPricesIsPinnedTests(SimpleTestCase):
    def test_it_is_in_requirements(self):
        from pathlib import Path

        requirements = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text().split()
        self.assertIn("genai-prices==0.2.3", requirements)

    def test_it_keeps_the_midnight_window_first(self):
        for windows in (catalogue_day("openai", "gpt-4o", date(2026, 1, 1)), catalogue_day("x", "y", date(2026, 1, 1))):
            self.assertEqual(windows[0][0], time(0))
