"""A corpus of hostile input, sent to every write endpoint and the upload path (issue 16): each case answers 4xx
with the field (or row and column) at fault, never 5xx, and nothing is half-written: a refused file leaves the
ledger as it was, a batch's good events land beside its refused ones.

Limits live in ingest/limits.py; the cases name the boundary they probe.
"""

import json
from datetime import timedelta
from decimal import Decimal

import stripe
from django.urls import reverse
from django.utils import timezone

from accounts.services import agent_token_create
from finops.forms import threshold_form_data
from finops.models import EconomicsSettings
from ingest.models import AgentBatch, CostLine, GpuMinute, ProcessMinute, Upload, UsageEvent
from pricing.services.stripe_sync import stripe_connection_save
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin, csv_bytes
from tests.ingest.test_agent_api import batch as agent_batch

DAY = (timezone.now() - timedelta(days=3)).strftime("%Y-%m-%d")
GOOD_EVENT = {"event_id": "good", "timestamp": f"{DAY}T10:00:00Z", "provider": "openai", "model": "gpt-4o",
              "input_tokens": 10, "output_tokens": 5, "cost": "0.01", "currency": "USD"}  # fmt: skip
DEEP = "[" * 100_000 + "]" * 100_000

# (name, the bad event's changes, the field its rejection names)
BAD_EVENTS = [
    ("go zero time", {"timestamp": "0001-01-01T00:00:00Z"}, "timestamp"),
    ("year 9999", {"timestamp": "9999-12-31T23:59:59Z"}, "timestamp"),
    ("overflows west of UTC", {"timestamp": "9999-12-31T23:59:59-01:00"}, "timestamp"),
    ("overflows east of UTC", {"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),
    ("before 2000", {"timestamp": "1999-12-31T23:59:59Z"}, "timestamp"),
    ("far future", {"timestamp": "2100-01-01T00:00:00Z"}, "timestamp"),
    ("NUL in event_id", {"event_id": "a\x00b"}, "event_id"),
    ("NUL in model", {"model": "gpt\x00"}, "model"),
    ("lone surrogate", {"model": "gpt-\ud800"}, "model"),
    ("lone surrogate in customer", {"customer": "\udfff"}, "customer"),
    ("NUL in metadata", {"metadata": {"note": "a\x00"}}, "metadata"),
    ("surrogate metadata key", {"metadata": {"\ud800": 1}}, "metadata"),
    ("cost 1e10", {"cost": "1e10"}, "cost"),
    ("cost 6e9", {"cost": 6e9}, "cost"),
    ("cost as a huge integer", {"cost": 10**30}, "cost"),
    ("cost NaN text", {"cost": "NaN"}, None),  # a null sentinel: no cost, so the event is fine
    ("cost Infinity", {"cost": "Infinity"}, "cost"),
    ("tokens 2^63", {"input_tokens": 2**63}, "input_tokens"),
    ("tokens 2^53", {"output_tokens": 2**53}, "output_tokens"),
    ("negative tokens", {"input_tokens": -1}, "input_tokens"),
    ("attempt 2^31", {"attempt": 2**31}, "attempt"),
    ("latency 2^31", {"latency_ms": 2**31}, "latency_ms"),
    ("long route", {"route": "r" * 201}, "route"),
    ("long event id", {"event_id": "e" * 201}, "event_id"),
    ("currency with NUL", {"currency": "US\x00"}, "currency"),
]


def post_json(client, url, body, key, raw=False):
    return client.post(url, body if raw else json.dumps(body), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip


class UsageEventsTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def test_each_bad_event_is_refused_with_its_field_and_the_good_one_lands(self):
        for name, changes, field in BAD_EVENTS:
            with self.subTest(name):
                UsageEvent.objects.all().delete()
                bad = {**GOOD_EVENT, "event_id": f"bad-{name}", **changes}
                response = post_json(self.client, "/api/v1/usage-events/", [GOOD_EVENT, bad], self.write_key)
                self.assertEqual(response.status_code, 200, response.content[:500])
                body = response.json()
                if field is None:
                    self.assertEqual((body["accepted"], body["rejected"]), (2, []))
                    continue
                self.assertEqual(body["accepted"], 1)
                self.assertEqual([(r["index"], r["field"]) for r in body["rejected"]], [(1, field)], body)
                self.assertTrue(body["rejected"][0]["message"])
                self.assertEqual(list(UsageEvent.objects.values_list("event_id", flat=True)), ["good"])

    def test_a_batch_of_only_bad_events_stores_nothing(self):
        events = [{**GOOD_EVENT, "event_id": f"bad-{i}", **changes} for i, (_, changes, field) in
                  enumerate(BAD_EVENTS) if field]  # fmt: skip
        body = post_json(self.client, "/api/v1/usage-events/", events, self.write_key).json()
        self.assertEqual((body["accepted"], len(body["rejected"])), (0, len(events)))
        self.assertFalse(UsageEvent.objects.exists())

    def test_the_reads_still_answer_after_a_refused_batch(self):
        bad = [{**GOOD_EVENT, "event_id": "zero", "timestamp": "0001-01-01T00:00:00Z"}]
        post_json(self.client, "/api/v1/usage-events/", [GOOD_EVENT, *bad], self.write_key)
        for url in ("/api/v1/founder-table/", "/api/v1/usage/summary/", "/api/v1/ledger/summary/"):
            with self.subTest(url):
                self.assertEqual(self.api_get(url).status_code, 200)


class MalformedJsonTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def test_deep_nesting_is_a_400_on_every_json_endpoint(self):
        _, agent_key = agent_token_create(org=self.org, host_name="box", created_by=self.alice)
        schema = self.client.get("/api/schema/", {"format": "json"}).json()
        writes = sorted(path for path, operations in schema["paths"].items()
                        if "{" not in path and {"post", "put", "patch"} & set(operations))  # fmt: skip
        self.assertIn("/api/v1/usage-events/", writes)
        for url in writes:
            key = agent_key if url == "/api/v1/agent/samples/" else self.write_key
            for body in (DEEP, '{"a": ' * 50_000 + "1" + "}" * 50_000, "[NaN]", '"\\ud800', b"\xff\xfe[]"):
                with self.subTest(url=url, body=body[:12]):
                    response = post_json(self.client, url, body, key, raw=True)
                    self.assertTrue(400 <= response.status_code < 500, (response.status_code, response.content[:300]))
                    if url in ("/api/v1/usage-events/", "/api/v1/budget-check/", "/api/v1/agent/samples/"):
                        self.assertEqual(response.status_code, 400)

    def test_a_validly_signed_stripe_webhook_nested_too_deep_is_a_400(self):
        secret = "whsec_hostile_0123456789"
        stripe_connection_save(org=self.org, webhook_secret=secret)
        signature = stripe.WebhookSignature.generate_signature_header(DEEP, secret)
        response = self.client.post(reverse("pricing-stripe-webhook", args=[self.org.code]), DEEP,
                                    content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)  # fmt: skip
        self.assertEqual(response.status_code, 400)
        self.assertIn(b"nested too deeply", response.content)


# (name, change to the agent batch, the path of the field its 400 names)
BAD_BATCHES = [
    ("pid 2^31", lambda b: b["processes"][0].update(pid=2**31), ("processes", 0, "pid")),
    ("power 2^63", lambda b: b["samples"][0].update(power_mw=2**63), ("samples", 0, "power_mw")),
    ("memory 2^64", lambda b: b["samples"][0].update(memory_used_bytes=2**64), ("samples", 0, "memory_used_bytes")),
    ("energy 2^63", lambda b: b["samples"][0].update(energy_mj=2**63), ("samples", 0, "energy_mj")),
    ("index 2^40", lambda b: b["gpus"][0].update(index=2**40), ("gpus", 0, "index")),
    ("total memory 2^64", lambda b: b["gpus"][0].update(memory_total_bytes=2**64), ("gpus", 0, "memory_total_bytes")),
    ("mig mode 2^31", lambda b: b["gpus"][0].update(mig_mode=2**31), ("gpus", 0, "mig_mode")),
    ("temperature 2^40", lambda b: b["samples"][0].update(temperature_c=2**40), ("samples", 0, "temperature_c")),
    ("clock 2^40", lambda b: b["samples"][0].update(sm_clock_mhz=2**40), ("samples", 0, "sm_clock_mhz")),
    ("long process name", lambda b: b["processes"][0].update(name="p" * 300), ("processes", 0, "name")),
    ("long user", lambda b: b["processes"][0].update(user="u" * 101), ("processes", 0, "user")),
    ("long container", lambda b: b["processes"][0].update(container_id="c" * 101), ("processes", 0, "container_id")),
    ("long label", lambda b: b["processes"][0]["labels"].update(customer="x" * 201), ("processes", 0, "labels")),
    ("long label key", lambda b: b["processes"][0]["labels"].update({"k" * 101: "v"}), ("processes", 0, "labels")),
    ("NUL label", lambda b: b["processes"][0]["labels"].update(customer="a\x00"), ("processes", 0, "labels")),
    ("NUL in a GPU name", lambda b: b["gpus"][0].update(name="H100\x00"), ("gpus", 0, "name")),
    ("surrogate in a process", lambda b: b["processes"][0].update(name="\ud800"), ("processes", 0, "name")),
    ("long driver", lambda b: b["host"].update(driver_version="5" * 101), ("host",)),
    ("NUL hostname", lambda b: b["host"].update(name="box\x00"), ("host",)),
    ("long agent version", lambda b: b.update(agent_version="1" * 51), ("agent_version",)),
    ("long batch id", lambda b: b.update(batch_id="b" * 201), ("batch_id",)),
    ("zero time", lambda b: b["samples"][0].update(ts="0001-01-01T00:00:00Z"), ("samples", 0, "ts")),
    ("overflowing time", lambda b: b["samples"][0].update(ts="9999-12-31T23:59:59-01:00"), ("samples", 0, "ts")),
    (
        "process start 0001",
        lambda b: b["processes"][0].update(start_time="0001-01-01T00:00:00Z"),
        ("processes", 0, "start_time"),
    ),
    ("dropped 2^63", lambda b: b.update(dropped_batches=2**63), ("dropped_batches",)),
]


class AgentSamplesTests(BaseTestCase):
    def test_each_bad_batch_is_a_400_naming_the_field_and_writes_nothing(self):
        _, token = agent_token_create(org=self.org, host_name="box", created_by=self.alice)
        for name, change, path in BAD_BATCHES:
            with self.subTest(name):
                body = agent_batch(batch_id=f"box-{len(name)}-{name}", start=timezone.now() - timedelta(hours=1))
                change(body)
                response = post_json(self.client, "/api/v1/agent/samples/", body, token)
                self.assertEqual(response.status_code, 400, response.content[:300])
                errors = response.json()
                for step in path:
                    self.assertIn(str(step), {str(k) for k in errors}, response.json())
                    errors = errors[step] if step in errors else errors[str(step)]
                self.assertTrue(errors, response.json())
                self.assertFalse(AgentBatch.objects.exists() or GpuMinute.objects.exists()
                                 or ProcessMinute.objects.exists())  # fmt: skip

    def test_a_good_batch_still_lands(self):
        _, token = agent_token_create(org=self.org, host_name="box", created_by=self.alice)
        body = agent_batch(start=timezone.now() - timedelta(hours=1))
        self.assertEqual(post_json(self.client, "/api/v1/agent/samples/", body, token).status_code, 201)


FOCUS_HEADER = ["BillingAccountId", "ProviderName", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
                "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ResourceId",
                "PricingQuantity", "Tags"]  # fmt: skip
MONTH = (timezone.now() - timedelta(days=40)).strftime("%Y-%m")


def focus_row(**changes):
    row = {"BillingAccountId": "acct", "ProviderName": "AWS", "BillingCurrency": "USD",
           "BillingPeriodStart": f"{MONTH}-01T00:00:00Z", "BillingPeriodEnd": "", "ChargeCategory": "Usage",
           "ChargePeriodStart": f"{MONTH}-02T00:00:00Z", "ChargePeriodEnd": f"{MONTH}-03T00:00:00Z",
           "BilledCost": "1.50", "EffectiveCost": "1.50", "ResourceId": "i-1", "PricingQuantity": "1",
           "Tags": '{"customer": "acme"}'}  # fmt: skip
    row.update(changes)
    return [row[name] for name in FOCUS_HEADER]


def focus_file(**changes) -> bytes:
    """Three good lines and, on row 3, the hostile one (the header is row 1)."""
    return csv_bytes([FOCUS_HEADER, focus_row(), focus_row(**changes), focus_row()])


# (name, the hostile row's cells, the column its error names)
BAD_CELLS = [
    ("NUL in ResourceId", {"ResourceId": "i-\x001"}, "ResourceId"),
    ("NUL in a tag", {"Tags": '{"customer": "a\\u0000"}'}, None),
    ("cost 1e10", {"BilledCost": "1e10", "EffectiveCost": "1e10"}, "BilledCost"),
    ("cost -1e10", {"BilledCost": "-1e10", "EffectiveCost": "1"}, "BilledCost"),
    ("cost beyond a bill line", {"BilledCost": "6e9", "EffectiveCost": "1"}, "BilledCost"),
    ("effective cost 1e12", {"EffectiveCost": "1e12"}, "EffectiveCost"),
    ("quantity 1e25", {"PricingQuantity": "1e25"}, "PricingQuantity"),
    ("charge in 9999", {"ChargePeriodStart": "9999-12-31T00:00:00Z", "ChargePeriodEnd": ""}, "ChargePeriodStart"),
    (
        "charge at Go's zero time",
        {"ChargePeriodStart": "0001-01-01T00:00:00Z", "ChargePeriodEnd": ""},
        "ChargePeriodStart",
    ),
    ("overflowing offset", {"ChargePeriodStart": "0001-01-01T00:00:00+05:00"}, "ChargePeriodStart"),
    ("billing period 1970", {"BillingPeriodStart": "1970-01-01T00:00:00Z"}, "BillingPeriodStart"),
    ("billing period end 9999", {"BillingPeriodEnd": "9999-12-31T00:00:00Z"}, "BillingPeriodEnd"),
]


class UploadTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def upload(self, name, content, **fields):
        response = self.api_upload(name, content, **fields)
        self.assertEqual(response.status_code, 201, response.content[:500])
        return self.api_get(f"/api/v1/uploads/{response.json()['id']}/").json()

    def assert_refused(self, upload, column, row=3):
        self.assertEqual(upload["status"], "failed", upload)
        errors = upload["errors"]
        self.assertNotIn("internal error", errors[0]["message"])
        if column:
            self.assertIn((row, column), [(e["row"], e["column"]) for e in errors], errors)
        self.assertTrue(all(len(e["message"]) <= 500 for e in errors))

    def test_a_clean_file_loads(self):
        self.assertEqual(self.upload("clean.csv", focus_file())["status"], "done")

    def test_text_longer_than_any_column_loads_whole_and_rolls_up(self):
        """The ledger keeps a bill's text as written (no length); the rollups, whose dimensions have lengths, cut
        it where they are written, so the day still rolls up and the identity holds."""
        long = {"ProviderName": "P" * 150, "ResourceId": "r" * 600, "BillingAccountId": "a" * 300,
                "Tags": '{"customer": "' + "c" * 400 + '", "feature": "' + "f" * 400 + '"}'}  # fmt: skip
        for fmt in ("", "focus"):  # the columnar path and the row path
            with self.subTest(fmt=fmt or "detected"):
                upload = self.upload("long.csv", focus_file(**long), **({"format": fmt} if fmt else {}))
                self.assertEqual(upload["status"], "done", upload)
                line = CostLine.objects.for_org(self.org).get(upload__code=upload["id"], source_row=3)
                self.assertEqual((line.provider, line.resource_id), ("P" * 150, "r" * 600))
                summary = self.api_get(f"/api/v1/ledger/summary/?month={MONTH}").json()  # the same period, restated
                self.assertEqual(Decimal(summary["billed_total"]), Decimal("4.50"))

    def test_each_bill_cell_that_cannot_be_stored_rejects_the_file_with_its_row_and_column(self):
        before = CostLine.objects.count()
        for name, cells, column in BAD_CELLS:
            for fmt in ("", "focus"):  # the columnar path steps aside and the row path names the cell
                with self.subTest(name=name, format=fmt):
                    upload = self.upload(f"{name}.csv", focus_file(**cells), **({"format": fmt} if fmt else {}))
                    self.assert_refused(upload, column)
                    self.assertEqual(CostLine.objects.count(), before)

    def test_each_usage_cell_that_cannot_be_stored_rejects_the_file_with_its_row_and_field(self):
        for name, changes, field in BAD_EVENTS:
            if field is None:
                continue
            for suffix in ("jsonl", "csv"):
                if suffix == "csv" and isinstance(changes.get(field), dict):
                    continue
                with self.subTest(name=name, file=suffix):
                    events = [GOOD_EVENT, {**GOOD_EVENT, "event_id": "bad", **changes}, {**GOOD_EVENT, "event_id": "x"}]
                    if suffix == "jsonl":
                        content = "\n".join(json.dumps(e) for e in events).encode("utf-8", "surrogatepass")
                    else:
                        names = sorted({k for e in events for k in e})
                        rows = [names] + [[e.get(k, "") for k in names] for e in events]
                        try:
                            content = csv_bytes(rows)
                        except UnicodeEncodeError:
                            continue  # a lone surrogate cannot be written in a UTF-8 text file
                    upload = self.upload(f"usage.{suffix}", content, kind="usage")
                    self.assert_refused(upload, field if suffix == "jsonl" or field != "metadata" else None,
                                        row=2 if suffix == "jsonl" else 3)  # fmt: skip
                    self.assertFalse(UsageEvent.objects.exists())

    def test_a_format_too_long_or_unknown_is_a_400_and_nothing_is_stored(self):
        for fmt in ("f" * 41, "f" * 100_000, "nope", "gpt\x00"):
            with self.subTest(fmt=fmt[:10]):
                response = self.api_upload("bill.csv", focus_file(), format=fmt)
                self.assertEqual(response.status_code, 400, response.content[:300])
                self.assertIn("format", response.json())
        self.assertFalse(Upload.objects.exists())

    def test_a_huge_header_is_not_copied_into_the_stored_errors(self):
        header = ",".join(f"column_{i}_" + "x" * 10_000 for i in range(50))
        upload = self.upload("odd.csv", (header + "\n" + ",".join("1" * 50) + "\n").encode())
        self.assertEqual(upload["status"], "failed")
        self.assertLess(len(json.dumps(upload["errors"])), 20_000)

    def test_a_file_of_many_bad_rows_stores_a_bounded_list(self):
        rows = [FOCUS_HEADER] + [focus_row(BilledCost="1e10") for _ in range(500)]
        upload = self.upload("many.csv", csv_bytes(rows))
        self.assertEqual(upload["status"], "failed")
        self.assertLessEqual(len(upload["errors"]), 100)
        self.assertEqual(CostLine.objects.count(), 0)

    def test_the_upload_page_refuses_a_format_it_does_not_offer(self):
        self.client.force_login(self.alice)
        url = reverse("ingest-sources", kwargs={"org_code": self.org.code})
        from django.core.files.uploadedfile import SimpleUploadedFile

        for fmt in ("f" * 41, "nope"):
            with self.subTest(fmt=fmt[:10]):
                data = {"file": SimpleUploadedFile("b.csv", focus_file()), "kind": "bill", "format": fmt}
                response = self.client.post(url, data)
                self.assertLess(response.status_code, 500)
        self.assertFalse(Upload.objects.exists())


class ThresholdFormTests(BaseTestCase):
    def form(self, **overrides):
        from finops.economics.rules import DEFAULT_THRESHOLDS

        data = {"shared_cost_key": "requests", "api_gap_key": "none", "electricity_price_amount": "0.2",
                "pue": "1.4", "target_margin_pct": "55", "trial_plan": "trial", "payment_fee_pct": "2.9",
                "payment_fee_fixed_amount": "0.30", "deferrable_features_text": "batch"}  # fmt: skip
        data.update(threshold_form_data(DEFAULT_THRESHOLDS))
        data.update(overrides)
        return data

    def test_it_refuses_rates_and_weights_that_are_not_finite_or_sane(self):
        self.client.force_login(self.alice)
        cases = [("rates_text", f"EUR={value}") for value in ("NaN", "Infinity", "-Infinity", "sNaN", "1e30")]
        cases += [("blend_text", f"gpu_hours={value}") for value in ("NaN", "Infinity", "sNaN", "1e30")]
        cases += [(f"t_{key}", value) for key in ("trial_cap",) for value in ("NaN", "Infinity", "1e30")]
        for field, text in cases:
            with self.subTest(field=field, text=text):
                response = self.client.post(f"/o/{self.org.code}/thresholds/",
                                            self.form(shared_cost_key="blend", **{field: text}))  # fmt: skip
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "errorlist")
        self.assertFalse(EconomicsSettings.objects.filter(org=self.org).exists())

    def test_the_price_form_refuses_prices_and_dates_out_of_range(self):
        self.client.force_login(self.alice)
        url = reverse("pricing-prices", kwargs={"org_code": self.org.code})
        base = {"provider": "openai", "model": "gpt-x", "effective_from": "2026-01-01", "currency": "USD",
                "input_per_mtok": "1", "output_per_mtok": "2"}  # fmt: skip
        for changes in ({"input_per_mtok": "NaN"}, {"input_per_mtok": "1e30"}, {"output_per_mtok": "1e9"},
                        {"effective_from": "0001-01-01"}, {"effective_from": "9999-12-31"}):  # fmt: skip
            with self.subTest(changes):
                response = self.client.post(url, {**base, **changes})
                self.assertLess(response.status_code, 500)
                self.assertContains(response, "errorlist", status_code=response.status_code)


HOSTILE_VALUES = ["\x00", "a\x00b", "\ud800", "x" * 100_000, 10**30, -(10**30), 2**63, 1e308, "NaN", "Infinity",
                  "1e30", "-1e30", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "9999-W52", [], {}, None,
                  True]  # fmt: skip


class EveryWriteFieldTests(ApiClientMixin, BaseTestCase):
    """Each field of each JSON write endpoint in the schema, given each hostile value: a 2xx or a 4xx, never a 5xx."""

    def setUp(self):
        self.make_keys()

    def valid_bodies(self):
        """A body each endpoint accepts, so that each hostile value is the only thing wrong."""
        return {
            "/api/v1/budgets/": {"scope": "customer", "target": "acme", "period": "month", "amount": "100"},
            "/api/v1/budget-check/": {"customer": "acme", "feature": "chat", "estimated_cost": "1.5"},
            "/api/v1/agent-tokens/": {"host": "box-2"},
            "/api/v1/api-keys/": {"name": "k", "scope": "read"},
            "/api/v1/agent/samples/": agent_batch(start=timezone.now() - timedelta(hours=2)),
        }

    def test_no_hostile_field_value_is_a_500(self):
        _, agent_key = agent_token_create(org=self.org, host_name="box", created_by=self.alice)
        schema = self.client.get("/api/schema/", {"format": "json"}).json()
        components = schema["components"]["schemas"]
        for path, operations in sorted(schema["paths"].items()):
            for method in ("post", "put", "patch"):
                content = operations.get(method, {}).get("requestBody", {}).get("content", {})
                ref = content.get("application/json", {}).get("schema", {}).get("$ref")
                if "{" in path or not ref:
                    continue
                fields = components[ref.rsplit("/", 1)[1]].get("properties", {})
                key = agent_key if path == "/api/v1/agent/samples/" else self.write_key
                valid = self.valid_bodies().get(path, {})
                for field in fields:
                    for value in HOSTILE_VALUES:
                        with self.subTest(path=path, field=field, value=repr(value)[:20]):
                            body = json.dumps({**valid, field: value})
                            response = getattr(self.client, method)(path, body, content_type="application/json",
                                                                    HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
                            self.assertLess(response.status_code, 500, response.content[:300])


class UploadNameTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def test_hostile_file_names_are_stored_safely_or_refused(self):
        from tests.ingest.helpers import as_upload

        for name in ("b" * 1000 + ".csv", "a\x00b.csv", "../../etc/passwd", "\u202e.csv", "x" * 300):
            with self.subTest(name=name[:20]):
                data = {"file": as_upload(name, focus_file()), "kind": "bill"}
                with self.captureOnCommitCallbacks(execute=True):
                    response = self.client.post("/api/v1/uploads/", data, HTTP_AUTHORIZATION=f"Bearer {self.write_key}")
                self.assertLess(response.status_code, 500, response.content[:300])
