"""FOCUS 1.3 contract commitments: kept apart from the ledger, replaced per commitment id."""

from decimal import Decimal

from ingest.models import ContractCommitment, CostLine
from tests.ingest.helpers import csv_bytes
from tests.ingest.test_bill_uploads import UploadTestCase

HEADER = [
    "BillingCurrency", "ContractId", "ContractCommitmentId", "ContractCommitmentCategory", "ContractCommitmentType",
    "ContractCommitmentPeriodStart", "ContractCommitmentPeriodEnd", "ContractCommitmentCost",
    "ContractCommitmentQuantity", "ContractCommitmentUnit", "ServiceProviderName",
]  # fmt: skip


def commitments(*rows):
    return csv_bytes([HEADER, *rows])


SPEND_2026 = [
    "USD",
    "edp-1",
    "cc-1",
    "Spend",
    "EDP",
    "2026-01-01T00:00:00Z",
    "2027-01-01T00:00:00Z",
    "1200000",
    "",
    "",
    "AWS",
]
GPU_HOURS = [
    "USD",
    "gpu-1",
    "cc-2",
    "Usage",
    "Capacity",
    "2026-10-01",
    "2026-11-01",
    "",
    "5840",
    "GPU-Hours",
    "CoreWeave",
]


class ContractCommitmentTests(UploadTestCase):
    def test_it_loads_commitments_without_touching_the_ledger(self):
        body = self.upload("commitments.csv", commitments(SPEND_2026, GPU_HOURS))
        self.assertEqual(
            (body["status"], body["format"], body["rows_loaded"]), ("done", "focus_contract_commitment", 2)
        )
        spend = ContractCommitment.objects.get(org=self.org, commitment_id="cc-1")
        self.assertEqual((spend.category, spend.cost_amount, spend.provider), ("spend", Decimal("1200000"), "AWS"))
        usage = ContractCommitment.objects.get(org=self.org, commitment_id="cc-2")
        self.assertEqual((usage.cost_amount, usage.quantity, usage.unit), (None, Decimal("5840"), "GPU-Hours"))
        self.assertFalse(CostLine.objects.exists())

    def test_it_replaces_a_commitment_sent_again(self):
        self.upload("c1.csv", commitments(SPEND_2026, GPU_HOURS))
        revised = [*SPEND_2026[:7], "1500000", *SPEND_2026[8:]]
        body = self.upload("c2.csv", commitments(revised))
        self.assertEqual(body["rows_replaced"], 1)
        self.assertEqual(ContractCommitment.objects.get(commitment_id="cc-1").cost_amount, Decimal("1500000"))
        self.assertEqual(ContractCommitment.objects.count(), 2)

    def test_it_rejects_a_bad_row_whole(self):
        bad = [*GPU_HOURS[:3], "Maybe", *GPU_HOURS[4:]]
        body = self.upload("bad.csv", commitments(SPEND_2026, bad))
        self.assertEqual(body["status"], "failed")
        self.assertEqual((body["errors"][0]["row"], body["errors"][0]["column"]), (3, "ContractCommitmentCategory"))
        self.assertFalse(ContractCommitment.objects.exists())

    def test_it_cuts_each_label_longer_than_its_column_to_it(self):
        long = ["USD", "k" * 250, "c" * 250, "Usage", "t" * 150, "2026-10-01", "", "", "1", "u" * 150, "P" * 150]
        body = self.upload("long.csv", commitments(long))
        self.assertEqual((body["status"], body["rows_loaded"]), ("done", 1), body["errors"])
        row = ContractCommitment.objects.get(org=self.org)
        self.assertEqual(
            (row.provider, row.contract_id, row.commitment_id, row.commitment_type, row.unit),
            ("P" * 100, "k" * 200, "c" * 200, "t" * 100, "u" * 100),
        )
        again = self.upload("long-again.csv", commitments(long))
        self.assertEqual(again["rows_replaced"], 1, "the cut commitment id names the same commitment")

    def test_it_refuses_a_currency_longer_than_its_column(self):
        body = self.upload("bad.csv", commitments(["EURO", *SPEND_2026[1:]]))
        self.assertEqual((body["status"], body["errors"][0]["column"]), ("failed", "currency"))

    def test_it_hides_other_orgs(self):
        self.upload("c1.csv", commitments(SPEND_2026))
        self.api_upload("c.csv", commitments(SPEND_2026), key=self.charlie_key)
        self.assertEqual(ContractCommitment.objects.filter(org=self.org).count(), 1)
        self.assertEqual(ContractCommitment.objects.filter(org=self.charlies_org).count(), 1)
