"""Pricing calls in bulk (over Arrow columns before the COPY, or in SQL after the insert) gives exactly
the costs the row-by-row pricer gives."""

import json
import unittest
from datetime import UTC, date, datetime
from decimal import Decimal as D
from unittest import mock

import pyarrow as pa
from django.db import connection

from ingest.models import UsageEvent
from ingest.services import usage
from pricing.arrow_pricing import UsageTablePricer
from pricing.catalogue import unit_prices
from pricing.formula import call_cost
from pricing.models import PriceOverride
from pricing.services import repricing
from tests.ingest.test_bill_uploads import UploadTestCase

MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5"),
          ("anthropic", "claude-sonnet-4-5"), ("google", "gemini-1.5-pro"), ("self-hosted", "ft"),
          ("deepseek", "deepseek-chat"), ("self-hosted", "odd-price"), ("acme", "unknown")]  # fmt: skip


def usage_file(prefix: str) -> bytes:
    lines = []
    for i in range(270):
        provider, model = MODELS[i % len(MODELS)]
        event = {
            "event_id": f"{prefix}-{i}",
            "timestamp": f"2026-10-{1 + i % 5:02d}T{i % 24:02d}:00:00Z",
            "provider": provider,
            "model": model,
            "input_tokens": (i * 977) % 250_000,  # some above long-context thresholds
            "output_tokens": None if i % 13 == 0 else 37 * i,
            "cached_input_tokens": (i % 4) * 1024,
            "cache_write_tokens": 128 if i % 7 == 0 else None,
        }
        if i % 17 == 0:
            event = {k: v for k, v in event.items() if not k.endswith("_tokens")}
        if i % 19 == 0:
            event.update(cost="0.5", currency="USD")
        lines.append(json.dumps(event))
    return "\n".join(lines).encode()


@unittest.skipUnless(connection.vendor == "postgresql", "bulk pricing runs on PostgreSQL only")
class BulkPricingTests(UploadTestCase):
    def setUp(self):
        super().setUp()
        since = date(2026, 1, 1)
        PriceOverride.objects.create(  # exact per token: priced over whole columns
            org=self.org, provider="self-hosted", model="ft", effective_from=since, currency="EUR",
            input_per_mtok=D("0.4"), output_per_mtok=D("1.6"),
        )  # fmt: skip
        PriceOverride.objects.create(  # 16 places per token: priced one by one
            org=self.org, provider="self-hosted", model="odd-price", effective_from=since, currency="EUR",
            input_per_mtok=D("0.1234567891"), output_per_mtok=D("0.3"),
        )  # fmt: skip

    def costs(self, prefix):
        rows = UsageEvent.objects.filter(event_id__startswith=prefix).order_by("source_row")
        return [(r.provider, r.model, r.cost_amount, r.currency, r.cost_source) for r in rows]

    def test_the_three_pricers_agree(self):
        in_sql, in_arrow, real_sql = [], [], repricing._price_plain_groups_in_sql

        def spy(calls, real):
            def spying(*args, **kwargs):
                calls.append(real(*args, **kwargs))
                return calls[-1]

            return spying

        with mock.patch.object(usage, "usage_stream_columnar", spy(in_arrow, usage.usage_stream_columnar)):
            self.upload("a.jsonl", usage_file("a"), kind="usage")
        with (
            mock.patch.object(usage, "usage_columnar_possible", return_value=False),
            mock.patch.object(repricing, "_price_plain_groups_in_sql", spy(in_sql, real_sql)),
        ):
            self.upload("b.jsonl", usage_file("b"), kind="usage")
        with (
            mock.patch.object(usage, "usage_columnar_possible", return_value=False),
            mock.patch.object(repricing, "_price_plain_groups_in_sql", return_value=0),
        ):
            self.upload("c.jsonl", usage_file("c"), kind="usage")
        self.assertEqual(len(in_arrow), 1)  # the columnar path took the whole file
        self.assertGreater(in_sql[0], 50)
        self.assertEqual(self.costs("a"), self.costs("c"))
        self.assertEqual(self.costs("b"), self.costs("c"))
        sources = {row[4] for row in self.costs("a")}
        self.assertEqual(sources, {"reported", "catalogue", "unpriced"})
        currencies = {(row[1], row[3]) for row in self.costs("a") if row[4] == "catalogue"}
        self.assertIn(("ft", "EUR"), currencies)
        self.assertIn(("odd-price", "EUR"), currencies)
        self.assertIn(("deepseek-chat", "USD"), currencies)
        self.assertNotIn("acme", {row[0] for row in self.costs("a") if row[4] == "catalogue"})


def table(**columns):
    rows = len(columns["input_tokens"])
    base = {
        "provider": ["openai"] * rows,
        "model": ["gpt-4o-mini"] * rows,
        "occurred_at": [datetime(2026, 10, 1, 12, tzinfo=UTC)] * rows,
        "request_count": [1] * rows,
        "output_tokens": [10] * rows,
        "cached_input_tokens": [None] * rows,
        "cache_write_tokens": [None] * rows,
        "reasoning_tokens": [None] * rows,
        "cost_amount": [None] * rows,
        "currency": [""] * rows,
        "cost_source": ["unpriced"] * rows,
        "metadata": ["{}"] * rows,
        **columns,
    }
    types = {"occurred_at": pa.timestamp("us", tz="UTC"), "cost_amount": pa.decimal128(38, 18)}
    ints = ("request_count", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens")
    types.update(dict.fromkeys(ints, pa.int64()), reasoning_tokens=pa.int64())
    return pa.table({name: pa.array(values, types.get(name, pa.string())) for name, values in base.items()})


class TablePricerTests(UploadTestCase):
    def priced(self, priced_table):
        columns = (priced_table.column(n).to_pylist() for n in ("cost_amount", "currency", "cost_source"))
        return list(zip(*columns, strict=True))

    def test_it_keeps_reported_costs_and_leaves_unknown_models_unpriced(self):
        result = UsageTablePricer(self.org)(
            table(
                input_tokens=[1000, 1000, 1000, None],
                output_tokens=[10, 10, 10, None],
                model=["gpt-4o-mini", "no-such-model", "gpt-4o-mini", "gpt-4o-mini"],
                cost_amount=[None, None, D("0.5"), None],
                currency=["", "", "EUR", ""],
                cost_source=["unpriced", "unpriced", "reported", "unpriced"],
            )
        )
        prices = unit_prices(self.org, "openai", "gpt-4o-mini", datetime(2026, 10, 1, 12, tzinfo=UTC))
        expected = call_cost(prices, input_tokens=1000, output_tokens=10)
        unpriced = (None, "", "unpriced")
        self.assertEqual(
            self.priced(result), [(expected, "USD", "catalogue"), unpriced, (D("0.5"), "EUR", "reported"), unpriced]
        )

    def test_a_sum_too_large_for_64_bits_is_priced_one_by_one(self):
        huge = 2**62
        result = UsageTablePricer(self.org)(table(input_tokens=[huge, 1000]))
        prices = unit_prices(self.org, "openai", "gpt-4o-mini", datetime(2026, 10, 1, 12, tzinfo=UTC))
        expected = [call_cost(prices, input_tokens=n, output_tokens=10) for n in (huge, 1000)]
        self.assertEqual([row[0] for row in self.priced(result)], expected)
