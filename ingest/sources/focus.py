"""FOCUS cost and usage, versions 1.0 to 1.3 (AWS, Azure, Google Cloud and OCI all export it).

Column names follow the spec; 1.3 renamed ProviderName to ServiceProviderName, older
exports may only carry InvoiceIssuerName. Files without a currency column (the spec's own
examples) are in the organisation's currency. Spreadsheet-style money ("$10,000.00 ") and
M/D/YY dates, seen in the spec's SaaS examples, are read too.
"""

from datetime import UTC, datetime
from functools import lru_cache

from ingest import limits
from ingest.gpu_names import line_gpu_type
from ingest.sources import values as v
from ingest.sources.base import BillSource, cost_row

SIGNATURE = frozenset(
    {
        "BilledCost",
        "EffectiveCost",
        "ListCost",
        "ChargePeriodStart",
        "ChargeCategory",
        "BillingPeriodStart",
        "BillingCurrency",
        "ProviderName",
        "ServiceProviderName",
        "InvoiceIssuerName",
        "InvoiceIssuer",
        "ChargeType",
        "ResourceID",
        "ResourceId",
    }
)
COMMITMENT_STATUS = {"used": "used", "unused": "unused"}
# The columns the GPU detector reads (ECONOMICS.md, GPU cost), in its reading order, then every naming x_ column;
# ResourceName and x_ names and ids other than the SKU's (x_ResourceGroupName, x_AccountId) are chosen by people.
GPU_TEXT_COLUMNS = (
    "SkuPriceDetails", "SkuId", "SkuMeter", "ResourceType", "ChargeDescription", "ServiceName", "ServiceSubcategory",
    "ServiceCategory",
)  # fmt: skip
GPU_NAME_COLUMNS = ("ResourceName",)
# x_ columns of amounts, prices, quantities and dates never name a GPU (and would make every row distinct).
_NOT_NAMING = ("cost", "price", "quantity", "rate", "date", "period", "amount", "usd", "credit", "size")
_PROVIDER_PREFIXES = ("x_Sku", "x_Service", "x_Pricing", "x_Meter", "x_Product", "x_Instance", "x_Usage")
GPU_SEPARATOR = "\x1f"


def gpu_columns(columns) -> tuple[tuple[str, ...], int]:
    """(columns a header's GPU type is read from, how many are provider text: the rest are user-chosen names)."""
    present = set(columns)
    extra = [c for c in columns if c.startswith("x_") and not any(w in c.lower() for w in _NOT_NAMING)]
    named = [c for c in extra if c.endswith(("Name", "Id")) and not c.startswith(_PROVIDER_PREFIXES)]
    text = [c for c in GPU_TEXT_COLUMNS if c in present] + [c for c in extra if c not in named]
    names = [c for c in GPU_NAME_COLUMNS if c in present] + named
    return tuple(text + names), len(text)


@lru_cache(maxsize=16384)
def gpu_type_of(joined: str, provider_texts: int) -> str:
    """The gpu_type of a row from its gpu_columns cells joined by GPU_SEPARATOR (both FOCUS paths call this)."""
    cells = joined.split(GPU_SEPARATOR)
    return line_gpu_type(provider_columns=cells[:provider_texts], names=cells[provider_texts:])


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)


class FocusSource(BillSource):
    name = "focus"
    label = "FOCUS 1.0–1.3 (CSV or Parquet)"
    short_label = "FOCUS 1.0–1.3 (AWS, Azure, Google Cloud, OCI)"
    required_columns = ("BilledCost", "ChargePeriodStart|BillingPeriodStart")
    currency_column = "BillingCurrency"
    _width: int | None = None  # the record width the column lookups were learnt for

    @classmethod
    def detect(cls, columns):
        return len(SIGNATURE.intersection(columns)) >= 2

    def parse(self, record):
        if self._width != len(record):
            self._width = len(record)
            self._gpu_columns, self._gpu_texts = gpu_columns(list(record))
        charge_start = v.timestamp(record, "ChargePeriodStart")
        billing_start = v.timestamp(record, "BillingPeriodStart")
        if charge_start is None and billing_start is None:
            raise v.CellError("ChargePeriodStart", "ChargePeriodStart is empty; a date is required")
        charge_start = charge_start or billing_start
        billing_start = billing_start or month_start(charge_start)
        billed = v.decimal(record, "BilledCost", required=True)
        effective = v.decimal(record, "EffectiveCost")
        status = v.text(record, "CommitmentDiscountStatus").lower()
        return cost_row(
            provider=v.first_text(record, "ServiceProviderName", "ProviderName", "InvoiceIssuerName", "PublisherName"),
            billing_account_id=v.text(record, "BillingAccountId"),
            billing_account_name=v.text(record, "BillingAccountName"),
            sub_account_id=v.text(record, "SubAccountId"),
            sub_account_name=v.text(record, "SubAccountName"),
            billing_period_start=billing_start,
            billing_period_end=v.timestamp(record, "BillingPeriodEnd", end=True) or next_month(billing_start),
            charge_period_start=charge_start,
            charge_period_end=v.timestamp(record, "ChargePeriodEnd", end=True),
            charge_category=v.charge_category(v.text(record, "ChargeCategory")),
            charge_class=v.text(record, "ChargeClass").lower(),
            charge_frequency=v.text(record, "ChargeFrequency").lower(),
            charge_description=v.text(record, "ChargeDescription"),
            region=v.first_text(record, "RegionId", "RegionName", "Region"),
            service_name=v.text(record, "ServiceName"),
            service_category=v.text(record, "ServiceCategory"),
            resource_id=v.first_text(record, "ResourceId", "ResourceID"),
            resource_name=v.text(record, "ResourceName"),
            resource_type=v.text(record, "ResourceType"),
            sku_id=v.text(record, "SkuId"),
            gpu_type=gpu_type_of(GPU_SEPARATOR.join(v.text(record, c) for c in self._gpu_columns), self._gpu_texts),
            pricing_quantity=v.decimal(record, "PricingQuantity", limit=limits.MAX_QUANTITY),
            pricing_unit=v.text(record, "PricingUnit"),
            consumed_quantity=v.decimal(record, "ConsumedQuantity", limit=limits.MAX_QUANTITY),
            consumed_unit=v.text(record, "ConsumedUnit"),
            billed_cost_amount=billed,
            effective_cost_amount=billed if effective is None else effective,
            list_cost_amount=v.decimal(record, "ListCost"),
            currency=(v.text(record, "BillingCurrency") or self.org_currency).upper(),
            commitment_discount_id=v.text(record, "CommitmentDiscountId"),
            commitment_discount_status=COMMITMENT_STATUS.get(status, ""),
            commitment_discount_type=v.text(record, "CommitmentDiscountType"),
            tags=v.tags(record, "Tags"),
        )
