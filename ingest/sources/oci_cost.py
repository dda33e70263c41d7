"""Oracle Cloud (OCI) cost reports: the native CSV with slash headers (`lineItem/intervalUsageStart`,
`cost/myCost`, `tags/NAMESPACE.KEY`).

The report has no billing-period columns; OCI invoices by calendar month, so the period is the
month of the usage interval. Tags are defined tags (`tags/Namespace.Key`) or free-form tags
(`tags/key`); each is kept under its full key and, so that attribution finds `OwnerEmail` or
`CreatedBy` whatever the namespace, also under its bare key unless another tag holds that key.
"""

from ingest import limits
from ingest.gpu_names import line_gpu_type
from ingest.sources import values as v
from ingest.sources.base import BillSource, cost_row
from ingest.sources.focus import month_start, next_month

PROVIDER = "Oracle"  # as in FOCUS exports of the same cloud
TRUE_TEXT = frozenset({"true", "1", "yes", "y", "t"})


def _tag_keys(column: str) -> tuple[str, str]:
    """(full key, bare key) of a `tags/...` column: Oracle-Tags.CreatedBy -> oracle_tags_createdby, createdby."""
    raw = column[len("tags/") :]
    return v.normalise_tag_key(raw), v.normalise_tag_key(raw.rpartition(".")[2])


class OciCostSource(BillSource):
    name = "oci_cost"
    label = "Oracle Cloud cost report"
    short_label = "OCI cost reports"
    required_columns = ("cost/myCost", "lineItem/intervalUsageStart")
    currency_column = "cost/currencyCode"
    _width: int | None = None  # the record width the column lookups were learnt for

    @classmethod
    def detect(cls, columns):
        """True for an OCI cost report header (AWS's CUR shares the lineItem/ prefix, never these names)."""
        present = set(columns)
        return "cost/myCost" in present and "lineItem/intervalUsageStart" in present

    def missing_columns(self, columns):
        """Required columns the header lacks; also learns the header's tag columns."""
        self._learn(columns)
        return super().missing_columns(columns)

    def _learn(self, columns) -> None:
        # Once per header: the per-row loop only reads cells, it never splits or normalises names.
        self._width = len(columns)
        self._tag_columns = tuple((c, *_tag_keys(c)) for c in columns if c.startswith("tags/"))

    def parse(self, record):
        """One normalised cost row from one OCI cost report line."""
        if self._width != len(record):
            self._learn(list(record))
        start = v.timestamp(record, "lineItem/intervalUsageStart", required=True)
        billed = v.decimal(record, "cost/myCost", required=True)
        overage = v.decimal(record, "cost/myCostOverage")
        if overage is not None:
            billed += overage
        period_start = month_start(start)
        quantity = v.decimal(record, "usage/billedQuantity", limit=limits.MAX_QUANTITY)
        consumed = v.decimal(record, "usage/consumedQuantity", limit=limits.MAX_QUANTITY)
        description = v.text(record, "product/Description")
        return cost_row(
            provider=PROVIDER,
            billing_account_id=v.text(record, "lineItem/tenantId"),
            sub_account_id=v.text(record, "product/compartmentId"),
            sub_account_name=v.text(record, "product/compartmentName"),
            billing_period_start=period_start,
            billing_period_end=next_month(period_start),
            charge_period_start=start,
            charge_period_end=v.timestamp(record, "lineItem/intervalUsageEnd", end=True),
            charge_category="usage",
            charge_class="correction" if v.text(record, "lineItem/isCorrection").lower() in TRUE_TEXT else "",
            charge_frequency="usage-based",
            charge_description=description,
            region=v.text(record, "product/region"),
            service_name=v.text(record, "product/service"),
            resource_id=v.text(record, "product/resourceId"),
            sku_id=v.text(record, "cost/productSku"),
            # product/resource names the shape's SKU ("PIC_COMPUTE_GPU_A10"); the description its GPU.
            gpu_type=line_gpu_type(
                charge_description=description,
                service_name=v.text(record, "product/service"),
                provider_columns=(v.text(record, "product/resource"),),
            ),
            pricing_quantity=quantity,
            pricing_unit=v.text(record, "cost/billingUnitReadable"),
            consumed_quantity=quantity if consumed is None else consumed,
            consumed_unit=v.first_text(record, "usage/consumedQuantityUnits", "cost/skuUnitDescription"),
            billed_cost_amount=billed,
            effective_cost_amount=billed,
            currency=(v.text(record, "cost/currencyCode") or self.org_currency).upper(),
            tags=self._tags(record),
        )

    def _tags(self, record) -> dict:
        found, bare = {}, {}
        for column, key, bare_key in self._tag_columns:
            value = v.text(record, column)
            if value:
                found[key] = value
                bare.setdefault(bare_key, value)
        for key, value in bare.items():
            found.setdefault(key, value)
        return found
