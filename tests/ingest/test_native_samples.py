"""Every native provider sample through POST /api/v1/uploads/, checked against the file's own total."""

import ast
import csv
from collections import defaultdict
from decimal import Decimal

from ingest.models import BillPeriod, CostLine
from tests.base import sample_path
from tests.ingest.helpers import cents, file_totals
from tests.ingest.test_bill_uploads import UploadTestCase


def gcp_net_totals(path) -> dict:
    totals = defaultdict(Decimal)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            credits = ast.literal_eval(row["credits"]) if row["credits"].strip() else []
            totals[row["currency"]] += Decimal(row["cost"]) + sum(Decimal(str(c["amount"])) for c in credits)
    return dict(totals)


NATIVE_SAMPLES = [
    # (sample, format, expected totals per currency read independently from the file)
    ("aws-cur/focus_converters_cur-legacy_anonymous_2023-11.csv", "aws_cur",
     lambda p: file_totals(p, "lineItem/UnblendedCost", "lineItem/CurrencyCode")),
    ("aws-cur/koku_test_cur_legacy_2018-06.csv", "aws_cur",
     lambda p: file_totals(p, "lineItem/UnblendedCost", "lineItem/CurrencyCode")),
    ("gcp/koku_gcp-bq-export-as-csv_2020-11.csv", "gcp_billing", gcp_net_totals),
    ("azure/finops-toolkit_EA_ActualCost_Small.csv", "azure_cost", lambda p: file_totals(p, "Cost", "BillingCurrency")),
    ("oci/focus_converters_oci-cost-report_2023-11.csv", "oci_cost",
     lambda p: file_totals(p, "cost/myCost", "cost/currencyCode")),
]  # fmt: skip


class NativeSampleTests(UploadTestCase):
    def test_it_imports_every_native_sample_to_the_cent(self):
        for relative, expected_format, expected_totals in NATIVE_SAMPLES:
            with self.subTest(relative):
                CostLine.objects.all().delete()
                BillPeriod.objects.all().delete()
                path = sample_path(relative)
                body = self.upload(path.name, path.read_bytes())
                self.assertEqual(body["status"], "done", body["errors"])
                self.assertEqual(body["format"], expected_format)
                expected = cents(expected_totals(path))
                self.assertEqual(cents(body["totals"]), expected)
                self.assertEqual(cents(self.ledger_totals()), expected)

    def test_it_imports_the_amortised_azure_sample(self):
        path = sample_path("azure/finops-toolkit_EA_AmortizedCost_Small.csv")
        body = self.upload(path.name, path.read_bytes())
        self.assertEqual((body["status"], body["cost_basis"]), ("done", "amortised"))
        self.assertEqual(cents(body["totals"]), cents(file_totals(path, "Cost", "BillingCurrency")))

    def test_it_refuses_actual_and_amortised_azure_costs_for_one_period(self):
        actual = sample_path("azure/finops-toolkit_EA_ActualCost_Small.csv")
        amortised = sample_path("azure/finops-toolkit_EA_AmortizedCost_Small.csv")
        self.assertEqual(self.upload(actual.name, actual.read_bytes())["cost_basis"], "actual")
        before = (CostLine.objects.count(), self.ledger_totals())
        body = self.upload(amortised.name, amortised.read_bytes())
        self.assertEqual(body["status"], "failed")
        self.assertIn("count the same spend twice", body["errors"][0]["message"])
        self.assertEqual((CostLine.objects.count(), self.ledger_totals()), before)

    def test_it_keeps_aws_duplicate_line_item_ids(self):
        path = sample_path("aws-cur/focus_converters_cur-legacy_anonymous_2023-11.csv")
        body = self.upload(path.name, path.read_bytes())
        self.assertEqual(body["rows_loaded"], 1281)
        self.assertEqual(CostLine.objects.filter(org=self.org, charge_category="tax").count(), 12)

    def test_it_finds_the_owner_in_oci_tags(self):
        oci = sample_path("oci/focus_converters_oci-cost-report_2023-11.csv")
        self.upload(oci.name, oci.read_bytes())
        self.assertTrue(CostLine.objects.filter(org=self.org, owner="marek.czajka@oracle.com").exists())

    def test_it_nets_gcp_credits_against_cost(self):
        gcp = sample_path("gcp/koku_gcp-bq-export-as-csv_2020-11.csv")
        gross = file_totals(gcp, "cost", "currency")["USD"]
        self.assertGreater(gross, 0)
        self.upload(gcp.name, gcp.read_bytes())
        self.assertEqual(self.ledger_totals()["USD"], gcp_net_totals(gcp)["USD"])
        self.assertLess(self.ledger_totals()["USD"], gross)
