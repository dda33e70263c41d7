"""FOCUS 1.3's contract commitment dataset: one row per commitment period of a provider contract.

It is not a bill (nothing here is charged); it says what was committed, so the Founder Table's
provider-commitment row can hold committed capacity against what was used.
"""

from ingest import limits
from ingest.sources import values as v
from ingest.sources.base import BillSource

CATEGORIES = {"spend": "spend", "usage": "usage"}


class FocusContractCommitmentSource(BillSource):
    name = "focus_contract_commitment"
    label = "FOCUS 1.3 contract commitments"
    short_label = ""  # listed under its sibling
    dataset = "contract_commitment"
    required_columns = ("ContractCommitmentId", "ContractCommitmentPeriodStart", "ContractCommitmentCategory")
    currency_column = "BillingCurrency"

    @classmethod
    def detect(cls, columns):
        return "ContractCommitmentId" in columns and "BilledCost" not in columns

    def parse(self, record):
        category = v.text(record, "ContractCommitmentCategory").lower()
        if category not in CATEGORIES:
            raise v.CellError(
                "ContractCommitmentCategory", f"ContractCommitmentCategory {category!r} is not Spend or Usage"
            )
        cost = v.decimal(record, "ContractCommitmentCost")
        if category == "spend" and cost is None:
            raise v.CellError("ContractCommitmentCost", "ContractCommitmentCost is required for a Spend commitment")
        commitment_id = v.text(record, "ContractCommitmentId")
        if not commitment_id:
            raise v.CellError("ContractCommitmentId", "ContractCommitmentId is empty")
        return {
            "provider": v.first_text(record, "ServiceProviderName", "InvoiceIssuerName"),
            "contract_id": v.text(record, "ContractId"),
            "commitment_id": commitment_id,
            "category": category,
            "commitment_type": v.text(record, "ContractCommitmentType"),
            "description": v.text(record, "ContractCommitmentDescription"),
            "period_start": v.timestamp(record, "ContractCommitmentPeriodStart", required=True, end=True),
            "period_end": v.timestamp(record, "ContractCommitmentPeriodEnd", end=True),
            "contract_period_start": v.timestamp(record, "ContractPeriodStart", end=True),
            "contract_period_end": v.timestamp(record, "ContractPeriodEnd", end=True),
            "cost_amount": cost,
            "quantity": v.decimal(record, "ContractCommitmentQuantity", limit=limits.MAX_QUANTITY),
            "unit": v.text(record, "ContractCommitmentUnit"),
            "currency": (v.text(record, "BillingCurrency") or self.org_currency).upper(),
        }
