"""A GPU cloud's own CSV (Lambda, RunPod, CoreWeave invoices, anything else) read through a
column mapping the user saved once: which column holds the date, the amount, and so on.

Every line is usage (a negative amount is a credit) in the month of its date; the mapping
stands for the billing account, so re-uploading a month replaces that month.
"""

from datetime import time, timedelta

from ingest import limits
from ingest.gpu_names import line_gpu_type
from ingest.sources import values as v
from ingest.sources.base import BillSource, cost_row
from ingest.sources.focus import month_start, next_month

# Our field -> what the user is asked to pick in the mapping form.
MAPPABLE_FIELDS = {
    "date": "Date (or start time) of the charge",
    "end_date": "End time of the charge (optional)",
    "amount": "Amount charged",
    "currency": "Currency (optional; otherwise the mapping's currency)",
    "resource": "Instance or resource id (optional)",
    "gpu_type": "GPU type (optional)",
    "quantity": "Quantity, e.g. GPU-hours (optional)",
    "unit": "Unit of the quantity (optional)",
    "description": "Description (optional)",
}
REQUIRED_FIELDS = ("date", "amount")


class MappedCsvSource(BillSource):
    name = "mapped_csv"
    label = "GPU cloud CSV with a saved column mapping"
    short_label = "GPU cloud invoices"

    @classmethod
    def detect(cls, columns):
        return False  # only chosen explicitly, or through a saved mapping whose columns the header has

    @classmethod
    def mapping_fits(cls, mapping_columns: dict, columns) -> bool:
        """True when every mapped column is in this header: the mapping can read the file."""
        present = set(columns)
        mapped = [c for key, c in mapping_columns.items() if key != "tags" and c]
        return (
            bool(mapped)
            and all(c in present for c in mapped)
            and all(t in present for t in mapping_columns.get("tags", []))
        )

    def __init__(self, *, org_currency, options=None):
        super().__init__(org_currency=org_currency, options=options)
        self.columns = self.options.get("columns", {})
        self.provider = self.options.get("provider", "GPU cloud")
        self.account = self.options.get("account", self.provider)
        self.default_currency = self.options.get("currency") or org_currency
        self.tag_columns = list(self.columns.get("tags", []))
        self.currency_column = self.columns.get("currency") or "currency"

    def missing_columns(self, columns):
        present = set(columns)
        missing = [self.columns[f] for f in MAPPABLE_FIELDS if self.columns.get(f) and self.columns[f] not in present]
        missing += [f for f in REQUIRED_FIELDS if not self.columns.get(f)]
        return missing + [t for t in self.tag_columns if t not in present]

    def parse(self, record):
        c = self.columns
        start = v.timestamp(record, c["date"], required=True)
        end = v.timestamp(record, c["end_date"], end=True) if c.get("end_date") else None
        amount = v.decimal(record, c["amount"], required=True)
        quantity = v.decimal(record, c["quantity"], limit=limits.MAX_QUANTITY) if c.get("quantity") else None
        currency = (v.text(record, c["currency"]) if c.get("currency") else "") or self.default_currency
        if len(currency) != 3 or not currency.isalpha():
            raise v.CellError(c.get("currency") or "currency", f"{currency!r} is not a three-letter currency code")
        tags = v.normalise_tags((column, record.get(column)) for column in self.tag_columns)
        gpu_cell = v.text(record, c["gpu_type"]) if c.get("gpu_type") else ""
        description = v.text(record, c["description"]) if c.get("description") else ""
        resource = v.text(record, c["resource"]) if c.get("resource") else ""
        # The canonical model ("8x H100 SXM" -> "H100"); a GPU type naming no known GPU is the user's mark: "GPU".
        gpu = line_gpu_type(gpu_type=gpu_cell, charge_description=description, names=(resource,))
        if end is None:  # a date covers its day; a time stamp, its hour
            end = start + (timedelta(days=1) if start.time() == time.min else timedelta(hours=1))
        billing_start = month_start(start)
        return cost_row(
            provider=self.provider,
            billing_account_id=self.account,
            billing_account_name=self.provider,
            billing_period_start=billing_start,
            billing_period_end=next_month(billing_start),
            charge_period_start=start,
            charge_period_end=end,
            charge_category="credit" if amount < 0 else "usage",
            charge_frequency="usage-based",
            charge_description=description,
            service_name="GPU compute" if gpu else "GPU cloud",
            service_category="Compute",
            resource_id=resource,
            resource_type="GPU instance" if gpu else "",
            gpu_type=gpu,
            pricing_quantity=quantity,
            pricing_unit=v.text(record, c["unit"]) if c.get("unit") else "",
            consumed_quantity=quantity,
            consumed_unit=v.text(record, c["unit"]) if c.get("unit") else "",
            billed_cost_amount=amount,
            effective_cost_amount=amount,
            currency=currency.upper(),
            tags=tags,
        )
