"""Bills through POST /api/v1/uploads/, as a script would send them: real samples, to the cent."""

import gzip
import io
import zipfile
from decimal import Decimal

from django.db.models import Sum
from django.test import override_settings

from ingest.models import CostLine, DirtyDay, Upload
from tests.base import BaseTestCase, sample_path
from tests.ingest.helpers import ApiClientMixin, cents, csv_bytes, file_totals

FOCUS_SAMPLES = [
    "focus/focus-sample-data_focus_sample_1000.csv",
    "focus/spec-v1.2_commitment_discount_purchase_scenario_1.csv",
    "focus/spec-v1.2_commitment_discount_purchase_scenario_2.csv",
    "focus/spec-v1.2_commitment_discount_purchase_scenario_3.csv",
    "focus/spec-v1.2_commitment_discount_usage_scenario_1.csv",
    "focus/spec-v1.2_commitment_discount_usage_scenario_2.csv",
    "focus/spec-v1.2_commitment_discount_usage_scenario_3.csv",
    "focus/spec-v1.2_commitment_discount_usage_scenario_4.csv",
    "focus/spec-v1.2_one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv",
    "focus/spec-v1.2_one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv",
    "focus/spec-v1.2_one_hundred_percent_utilization_without_commitment_discount_flexibility.csv",
    "focus/spec-v1.2_simple_saas_agreements_a1.csv",
    "focus/spec-v1.2_simple_saas_agreements_a2.csv",
    "focus/spec-v1.2_simple_saas_agreements_a3.csv",
    "focus/spec-v1.2_simple_saas_agreements_b.csv",
    "focus/spec-v1.2_simple_saas_agreements_c.csv",
    "focus/spec-v1.2_zero_percent_utilization_without_commitment_discount_flexibility.csv",
]
HEADER = ["BillingAccountId", "ProviderName", "BillingCurrency", "BillingPeriodStart", "ChargePeriodStart",
          "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ResourceId", "Tags"]  # fmt: skip


def focus_rows(amounts, period="2026-10", account="acct-1", currency="USD", provider="AWS"):
    rows = [HEADER]
    for day, amount in enumerate(amounts, start=1):
        start = f"{period}-{day:02d}T00:00:00Z"
        end = f"{period}-{day:02d}T23:59:59Z"
        tags = '{"customer": "acme", "team": "ml"}'
        rows.append(
            [account, provider, currency, f"{period}-01T00:00:00Z", start, end, "Usage", amount, amount, "i-1", tags]
        )
    return csv_bytes(rows)


class UploadTestCase(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def upload(self, name, content, **fields):
        response = self.api_upload(name, content, **fields)
        self.assertEqual(response.status_code, 201, response.content)
        return self.api_get(f"/api/v1/uploads/{response.json()['id']}/").json()

    def ledger_totals(self, org=None):
        rows = CostLine.objects.filter(org=org or self.org).values("currency").annotate(total=Sum("billed_cost_amount"))
        return {row["currency"]: row["total"] for row in rows}


class FocusSampleTests(UploadTestCase):
    def test_it_imports_every_focus_sample_to_the_cent(self):
        for relative in FOCUS_SAMPLES:
            with self.subTest(relative):
                CostLine.objects.all().delete()
                path = sample_path(relative)
                body = self.upload(path.name, path.read_bytes())
                self.assertEqual(body["status"], "done", body["errors"])
                self.assertEqual(body["format"], "focus")
                expected = cents(file_totals(path, "BilledCost", "BillingCurrency"))
                self.assertEqual(cents(body["totals"]), expected)
                self.assertEqual(cents(self.ledger_totals()), expected)
                self.assertEqual(body["rows_loaded"], CostLine.objects.filter(org=self.org).count())

    def test_it_keeps_the_attribution_tags_and_source_rows(self):
        path = sample_path("focus/focus-sample-data_focus_sample_1000.csv")
        self.upload(path.name, path.read_bytes())
        line = CostLine.objects.filter(org=self.org, environment="dev").order_by("source_row").first()
        self.assertEqual(line.tags["environment"], "dev")
        self.assertEqual(line.tags["application"], line.feature)
        self.assertGreaterEqual(line.source_row, 2)
        self.assertEqual(CostLine.objects.filter(org=self.org).values("source_row").distinct().count(), 1000)

    def test_it_rejects_the_pre_1_0_parquet_for_its_missing_columns(self):
        path = sample_path("focus/focus_validator_sample.parquet")
        body = self.upload(path.name, path.read_bytes())
        self.assertEqual(body["status"], "failed")
        self.assertEqual({e["column"] for e in body["errors"]}, {"BilledCost", "ChargePeriodStart"})
        self.assertIn("no BilledCost column", body["errors"][0]["message"])

    def test_it_reads_parquet(self):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "ProviderName": ["AWS", "AWS"],
                "BillingAccountId": ["1", "1"],
                "BillingCurrency": ["USD", "USD"],
                "ChargePeriodStart": pa.array([1761955200000, 1762041600000], pa.timestamp("ms", tz="UTC")),
                "BilledCost": pa.array([Decimal("1.25"), Decimal("-0.25")], pa.decimal128(12, 4)),
                "Tags": ['{"customer": "acme"}', None],
            }
        )
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        body = self.upload("bill.parquet", buffer.getvalue())
        self.assertEqual(body["status"], "done", body["errors"])
        self.assertEqual(body["totals"], {"USD": "1.0000000000"})
        self.assertEqual(CostLine.objects.get(org=self.org, customer="acme").billed_cost_amount, Decimal("1.25"))


class IdempotencyTests(UploadTestCase):
    def test_it_changes_nothing_when_the_same_file_comes_twice(self):
        path = sample_path("focus/focus-sample-data_focus_sample_1000.csv")
        first = self.upload(path.name, path.read_bytes())
        before = (CostLine.objects.count(), self.ledger_totals())
        second = self.upload(path.name, path.read_bytes())
        self.assertEqual((CostLine.objects.count(), self.ledger_totals()), before)
        self.assertEqual(second["rows_replaced"], first["rows_loaded"])
        self.assertFalse(CostLine.objects.filter(upload__code=first["id"]).exists())

    def test_it_replaces_a_restated_period_and_keeps_the_others(self):
        self.upload("oct.csv", focus_rows(["10.00", "5.00"], period="2026-10"))
        self.upload("sep.csv", focus_rows(["7.00"], period="2026-09"))
        restated = self.upload("oct-restated.csv", focus_rows(["12.50"], period="2026-10"))
        self.assertEqual(restated["rows_replaced"], 2)
        self.assertEqual(self.ledger_totals(), {"USD": Decimal("19.50")})
        october = CostLine.objects.filter(org=self.org, billing_period_start__month=10)
        self.assertEqual([line.billed_cost_amount for line in october], [Decimal("12.50")])

    def test_a_restated_period_is_replaced_even_when_its_provider_and_account_are_longer_than_their_keys(self):
        provider, account = "Neo GPU Cloud " + "x" * 120, "billing-account-" + "7" * 250  # past 100 and 200
        self.upload("oct.csv", focus_rows(["10.00", "5.00"], provider=provider, account=account))
        restated = self.upload("oct-restated.csv", focus_rows(["12.50"], provider=provider, account=account))
        self.assertEqual(restated["rows_replaced"], 2)
        self.assertEqual(self.ledger_totals(), {"USD": Decimal("12.50")})  # never the old lines beside the new

    def test_it_keeps_another_account_of_the_same_period(self):
        self.upload("a.csv", focus_rows(["10.00"], account="acct-a"))
        self.upload("b.csv", focus_rows(["3.00"], account="acct-b"))
        self.assertEqual(self.ledger_totals(), {"USD": Decimal("13.00")})

    def test_it_never_touches_another_orgs_period(self):
        self.upload("a.csv", focus_rows(["10.00"]))
        response = self.api_upload("c.csv", focus_rows(["99.00"]), key=self.charlie_key)
        self.assertEqual(response.status_code, 201)
        self.assertEqual(self.ledger_totals(), {"USD": Decimal("10.00")})
        self.assertEqual(self.ledger_totals(self.charlies_org), {"USD": Decimal("99.00")})

    def test_it_marks_the_days_it_touched_dirty(self):
        self.upload("oct.csv", focus_rows(["1", "2", "3"]))
        days = sorted(str(d) for d in DirtyDay.objects.filter(org=self.org).values_list("day", flat=True))
        self.assertEqual(days, ["2026-10-01", "2026-10-02", "2026-10-03"])
        self.assertFalse(DirtyDay.objects.filter(org=self.charlies_org).exists())


class RejectionTests(UploadTestCase):
    def setUp(self):
        super().setUp()
        self.good = self.upload("good.csv", focus_rows(["10.00"]))
        self.before = (CostLine.objects.count(), self.ledger_totals())

    def assert_unchanged(self):
        self.assertEqual((CostLine.objects.count(), self.ledger_totals()), self.before)

    def test_it_rejects_a_bad_amount_whole_with_row_and_column(self):
        content = focus_rows(["1.00", "abc", "3.00", "oops"])
        body = self.upload("bad.csv", content)
        self.assertEqual(body["status"], "failed")
        self.assertEqual([(e["row"], e["column"]) for e in body["errors"]], [(3, "BilledCost"), (5, "BilledCost")])
        self.assertIn("not a number", body["errors"][0]["message"])
        self.assertEqual(body["rows_loaded"], 0)
        self.assert_unchanged()

    def test_it_rejects_a_bad_date(self):
        content = focus_rows(["1.00"]).replace(b"2026-10-01T00:00:00Z,2026-10-01T23", b"yesterday,2026-10-01T23")
        body = self.upload("bad-date.csv", content)
        self.assertEqual(body["errors"][0]["column"], "ChargePeriodStart")
        self.assert_unchanged()

    def test_it_rejects_a_truncated_file(self):
        path = sample_path("focus/focus-sample-data_focus_sample_1000.csv")
        content = path.read_bytes()
        body = self.upload("cut.csv", content[: len(content) // 2] + b'"unterminated')
        self.assertEqual(body["status"], "failed")
        self.assertTrue(body["errors"][0]["row"])
        self.assert_unchanged()

    def test_it_rejects_mixed_currencies(self):
        content = focus_rows(["1.00", "2.00"]) + csv_bytes(
            [["acct-1", "AWS", "EUR", "2026-10-01", "2026-10-05", "2026-10-06", "Usage", "3", "3", "i", ""]]
        )
        body = self.upload("mixed.csv", content)
        self.assertEqual(body["errors"][0]["row"], 4)
        self.assertEqual(body["errors"][0]["column"], "BillingCurrency")
        self.assertIn("mixes currencies", body["errors"][0]["message"])
        self.assert_unchanged()

    def test_it_rejects_an_unknown_header(self):
        body = self.upload("what.csv", csv_bytes([["date", "thing"], ["2026-10-01", "x"]]))
        self.assertEqual(body["status"], "failed")
        self.assertIn("could not recognise", body["errors"][0]["message"])

    def test_it_rejects_a_corrupt_archive(self):
        body = self.upload("bill.csv.gz", gzip.compress(focus_rows(["1"]))[:40])
        self.assertEqual(body["status"], "failed")
        self.assertIn("corrupt", body["errors"][0]["message"])
        self.assert_unchanged()

    def test_it_reads_gzip_and_zip(self):
        self.assertEqual(self.upload("b.csv.gz", gzip.compress(focus_rows(["4.00"], account="g")))["status"], "done")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("bill.csv", focus_rows(["6.00"], account="z"))
        self.assertEqual(self.upload("b.zip", buffer.getvalue())["status"], "done")
        self.assertEqual(self.ledger_totals(), {"USD": Decimal("20.00")})

    @override_settings(INGEST_MAX_UPLOAD_BYTES=100)
    def test_it_refuses_an_oversized_file(self):
        response = self.api_upload("big.csv", focus_rows(["1"] * 5))
        self.assertEqual(response.status_code, 400)
        self.assertIn("limit", response.json()["file"][0])

    @override_settings(INGEST_MAX_DECOMPRESSED_BYTES=500)
    def test_it_refuses_a_compression_bomb(self):
        body = self.upload("bomb.csv.gz", gzip.compress(focus_rows(["1"] * 20)))
        self.assertEqual(body["status"], "failed")
        self.assertIn("decompressed", body["errors"][0]["message"])
        self.assert_unchanged()

    def test_it_refuses_an_unknown_kind(self):
        response = self.api_upload("r.csv", b"a,b\n1,2\n", kind="profit")
        self.assertEqual(response.status_code, 400)


class UploadApiTenancyTests(UploadTestCase):
    def test_it_hides_other_orgs(self):
        mine = self.upload("a.csv", focus_rows(["1"]))
        self.assertEqual(self.api_get(f"/api/v1/uploads/{mine['id']}/", key=self.charlie_key).status_code, 404)
        self.assertEqual(self.api_get("/api/v1/uploads/", key=self.charlie_key).json(), [])
        self.assertEqual([u["id"] for u in self.api_get("/api/v1/uploads/").json()], [mine["id"]])

    def test_it_requires_write(self):
        response = self.api_upload("a.csv", focus_rows(["1"]), key=self.read_key)
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Upload.objects.exists())


class LedgerSummaryApiTests(UploadTestCase):
    def test_it_returns_the_billed_total_of_a_period(self):
        self.upload("oct.csv", focus_rows(["10.00", "5.25"]))
        self.upload("sep.csv", focus_rows(["7.00"], period="2026-09"))
        body = self.api_get("/api/v1/ledger/summary/?start=2026-10-01&end=2026-11-01").json()
        self.assertEqual(body["billed_total"], "15.2500000000")
        self.assertEqual(body["currency"], "USD")
        self.assertEqual(body["lines"], 2)
        self.assertEqual(body["allocated"], "15.2500000000")  # tagged customer=acme
        self.assertEqual(
            set(body["by_bucket"]),
            {"research", "training", "evaluation", "inference", "retries", "idle", "unmeasured", "waste"},
        )
        second_day = self.api_get("/api/v1/ledger/summary/?start=2026-10-02&end=2026-10-03").json()
        self.assertEqual(second_day["billed_total"], "5.2500000000")

    def test_it_says_unknown_not_zero_for_an_empty_period(self):
        body = self.api_get("/api/v1/ledger/summary/?start=2020-01-01&end=2020-02-01").json()
        self.assertIsNone(body["billed_total"])

    def test_it_validates_the_period(self):
        self.assertEqual(self.api_get("/api/v1/ledger/summary/?start=2026-10-05&end=2026-10-01").status_code, 400)
        self.assertEqual(self.api_get("/api/v1/ledger/summary/?start=yesterday").status_code, 400)

    def test_it_hides_other_orgs(self):
        self.upload("oct.csv", focus_rows(["10.00"]))
        body = self.api_get("/api/v1/ledger/summary/?start=2026-10-01&end=2026-11-01", key=self.charlie_key).json()
        self.assertIsNone(body["billed_total"])
