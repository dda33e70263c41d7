"""AWS Cost and Usage Report: legacy CUR (slash headers such as `lineItem/UnblendedCost`) and
CUR 2.0 or the legacy Athena layout (snake headers such as `line_item_unblended_cost`).

Billed cost is the unblended cost, which is what the invoice sums. Effective cost follows the
amortised recipe of the FOCUS converters: commitment-covered usage carries its share of the
commitment, the unused part of a commitment stays on its fee row, and negations and upfront
payments count 0 so nothing is counted twice. Rows are never deduplicated: a CUR line item id
repeats across legitimately distinct rows (hourly splits, restatements).
"""

from decimal import Decimal
from functools import lru_cache

from ingest import limits
from ingest.gpu_names import line_gpu_type
from ingest.sources import values as v
from ingest.sources.base import BillSource, cost_row
from ingest.sources.focus import month_start, next_month

ZERO = Decimal(0)
USED_TYPES = frozenset({"DiscountedUsage", "SavingsPlanCoveredUsage"})
# Logical field -> column names, legacy first, then CUR 2.0 / Athena spellings.
COLUMNS = {
    "payer": ("bill/PayerAccountId", "bill_payer_account_id"),
    "payer_name": ("bill/PayerAccountName", "bill_payer_account_name"),
    "account": ("lineItem/UsageAccountId", "line_item_usage_account_id"),
    "account_name": ("lineItem/UsageAccountName", "line_item_usage_account_name"),
    "period_start": ("bill/BillingPeriodStartDate", "bill_billing_period_start_date"),
    "period_end": ("bill/BillingPeriodEndDate", "bill_billing_period_end_date"),
    "start": ("lineItem/UsageStartDate", "line_item_usage_start_date"),
    "end": ("lineItem/UsageEndDate", "line_item_usage_end_date"),
    "interval": ("identity/TimeInterval", "identity_time_interval"),
    "type": ("lineItem/LineItemType", "line_item_line_item_type"),
    "cost": ("lineItem/UnblendedCost", "line_item_unblended_cost"),
    "currency": ("lineItem/CurrencyCode", "line_item_currency_code"),
    "description": ("lineItem/LineItemDescription", "line_item_line_item_description"),
    "product_code": ("lineItem/ProductCode", "line_item_product_code"),
    "product_name": ("product/ProductName", "product_product_name"),
    "region": ("product/region", "product_region"),
    "region_code": ("product/regionCode", "product_region_code"),
    "location": ("product/location", "product_location"),
    "zone": ("lineItem/AvailabilityZone", "line_item_availability_zone"),
    "resource": ("lineItem/ResourceId", "line_item_resource_id"),
    "sku": ("product/sku", "product_sku"),
    "usage": ("lineItem/UsageAmount", "line_item_usage_amount"),
    "unit": ("pricing/unit", "pricing_unit"),
    "instance_type": ("product/instanceType", "product_instance_type"),
    "instance_family": ("product/instanceFamily", "product_instance_family"),
    "usage_type": ("lineItem/UsageType", "line_item_usage_type"),
    "list_cost": ("pricing/publicOnDemandCost", "pricing_public_on_demand_cost"),
    "product_map": ("product",),
    "tag_map": ("resource_tags",),
    "sp_effective": ("savingsPlan/SavingsPlanEffectiveCost", "savings_plan_savings_plan_effective_cost"),
    "sp_total": ("savingsPlan/TotalCommitmentToDate", "savings_plan_total_commitment_to_date"),
    "sp_used": ("savingsPlan/UsedCommitment", "savings_plan_used_commitment"),
    "sp_arn": ("savingsPlan/SavingsPlanARN", "savings_plan_savings_plan_a_r_n", "savings_plan_savings_plan_arn"),
    "ri_effective": ("reservation/EffectiveCost", "reservation_effective_cost"),
    "ri_unused_upfront": (
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
        "reservation_unused_amortized_upfront_fee_for_billing_period",
    ),
    "ri_unused_recurring": ("reservation/UnusedRecurringFee", "reservation_unused_recurring_fee"),
    "ri_arn": ("reservation/ReservationARN", "reservation_reservation_a_r_n", "reservation_reservation_arn"),
}
# A header is CUR when it has the cost column and two of these, in the same dialect.
SIGNATURE_FIELDS = ("start", "type", "period_start", "payer")
LEGACY_SIGNATURE = frozenset(COLUMNS[field][0] for field in SIGNATURE_FIELDS)
SNAKE_SIGNATURE = frozenset(COLUMNS[field][1] for field in SIGNATURE_FIELDS)
# LineItemType -> (charge category, charge frequency). Discounts are credits (a price reduction);
# a savings-plan negation is an adjustment: it cancels on-demand cost that the plan's fee already bills.
LINE_ITEM_TYPES = {
    "Usage": ("usage", "usage-based"),
    "DiscountedUsage": ("usage", "usage-based"),
    "SavingsPlanCoveredUsage": ("usage", "usage-based"),
    "Tax": ("tax", ""),
    "Credit": ("credit", ""),
    "Refund": ("credit", ""),
    "Fee": ("purchase", "one-time"),
    "RIFee": ("purchase", "recurring"),
    "SavingsPlanRecurringFee": ("purchase", "recurring"),
    "SavingsPlanUpfrontFee": ("purchase", "one-time"),
    "SavingsPlanNegation": ("adjustment", "usage-based"),
    "BundledDiscount": ("credit", "usage-based"),
    "Discount": ("credit", ""),
    "EdpDiscount": ("credit", ""),
    "PrivateRateDiscount": ("credit", ""),
}
COMMITMENT_TYPES = dict.fromkeys(("DiscountedUsage", "RIFee"), "Reservation") | dict.fromkeys(
    ("SavingsPlanCoveredUsage", "SavingsPlanNegation", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee"),
    "Savings Plan",
)


def _zone_region(zone: str) -> str:
    # us-east-1a -> us-east-1, us-gov-west-1a -> us-gov-west-1, local zone us-west-2-lax-1a -> us-west-2.
    if len(zone) < 2 or not zone[-1].isalpha() or not zone[-2].isdigit():
        return ""
    parts = zone[:-1].split("-")
    for index, part in enumerate(parts):
        if part.isdigit():
            return "-".join(parts[: index + 1])
    return ""


@lru_cache(maxsize=4096)
def _product_map_text(raw: str) -> dict:
    # Informational only: an unreadable product map must not reject the bill. Shared, never mutated.
    try:
        return v.tags({"product": raw}, "product")
    except v.CellError:
        return {}


def _bare(key: str) -> str:
    # CUR 2.0 and Athena spell the tag user:env as user_env; aws_* (AWS-generated) keys keep their prefix.
    return key[5:] if key.startswith("user_") and len(key) > 5 else key


def _strip_user(tag_map: dict) -> dict:
    return {_bare(key): value for key, value in tag_map.items()}


@lru_cache(maxsize=16384)
def _tag_map_text(raw: str) -> tuple:
    return tuple(_strip_user(v.tags({"resource_tags": raw}, "resource_tags")).items())


class AwsCurSource(BillSource):
    name = "aws_cur"
    label = "AWS Cost and Usage Report (legacy CUR and CUR 2.0)"
    short_label = "AWS CUR"
    _width: int | None = None  # the record width the column lookups were learnt for
    required_columns = (
        "lineItem/UnblendedCost|line_item_unblended_cost",
        "lineItem/UsageStartDate|line_item_usage_start_date|identity/TimeInterval|identity_time_interval",
    )

    @classmethod
    def detect(cls, columns):
        """True for a CUR header: the unblended cost column and two more CUR columns of the same dialect."""
        present = set(columns)
        if "lineItem/UnblendedCost" in present:
            return len(LEGACY_SIGNATURE & present) >= 2
        if "line_item_unblended_cost" in present:
            return len(SNAKE_SIGNATURE & present) >= 2
        return False

    def missing_columns(self, columns):
        """Required columns the header lacks; also learns the header's layout."""
        self._learn(columns)
        return super().missing_columns(columns)

    def _learn(self, columns) -> None:
        # Resolved once per header, not per row: which spelling each field uses, and the tag columns.
        present = set(columns)
        self._width = len(columns)
        self._col = {field: next((c for c in names if c in present), None) for field, names in COLUMNS.items()}
        self.currency_column = self._col["currency"] or COLUMNS["currency"][0]  # the importer names it in errors
        tag_columns = []
        for column in columns:
            if column.startswith("resourceTags/"):
                tag_columns.append((column, v.normalise_tag_key(column)))
            elif column.startswith("resource_tags_"):  # legacy CUR as Parquet/Athena: resource_tags_user_env
                tag_columns.append((column, _bare(v.normalise_tag_key(column[len("resource_tags_") :]))))
        self._tag_columns = tuple(tag_columns)

    def parse(self, record):
        """One normalised cost row from one CUR line item."""
        if self._width != len(record):
            self._learn(list(record))
        c = self._col
        kind = v.text(record, c["type"]) or "Usage"
        if kind not in LINE_ITEM_TYPES:
            column = c["type"]
            raise v.CellError(column, f"{column} {kind!r} is not an AWS line item type we know")
        category, frequency = LINE_ITEM_TYPES[kind]
        charge_start, charge_end = self._charge_period(record)
        billing_start = v.timestamp(record, c["period_start"]) or month_start(charge_start)
        billed = v.decimal(record, c["cost"] or COLUMNS["cost"][0], required=True)
        effective, unused = self._effective(record, kind, billed)
        commitment_id = v.first_text(record, c["ri_arn"], c["sp_arn"])
        commitment_type = COMMITMENT_TYPES.get(kind) or ("Reservation" if kind == "Fee" and commitment_id else "")
        product = self._product(record)
        instance_type = v.text(record, c["instance_type"]) or product.get("instance_type", "")
        description = v.text(record, c["description"])
        usage = v.decimal(record, c["usage"], limit=limits.MAX_QUANTITY)
        unit = v.text(record, c["unit"])
        return cost_row(
            provider="AWS",
            billing_account_id=v.text(record, c["payer"]),
            billing_account_name=v.text(record, c["payer_name"]),
            sub_account_id=v.text(record, c["account"]),
            sub_account_name=v.text(record, c["account_name"]),
            billing_period_start=billing_start,
            billing_period_end=v.timestamp(record, c["period_end"], end=True) or next_month(billing_start),
            charge_period_start=charge_start,
            charge_period_end=charge_end,
            charge_category=category,
            charge_frequency=frequency,
            charge_description=description,
            region=self._region(record, product),
            service_name=v.text(record, c["product_name"])
            or product.get("product_name", "")
            or v.text(record, c["product_code"]),
            resource_id=v.text(record, c["resource"]),
            sku_id=v.text(record, c["sku"]),
            gpu_type=line_gpu_type(
                instance_type=instance_type,
                charge_description=description,
                provider_columns=(
                    v.text(record, c["usage_type"]),
                    v.text(record, c["instance_family"]) or product.get("instance_family", ""),
                ),
            ),
            pricing_quantity=usage,
            pricing_unit=unit,
            consumed_quantity=usage,
            consumed_unit=unit,
            billed_cost_amount=billed,
            effective_cost_amount=effective,
            list_cost_amount=v.decimal(record, c["list_cost"]),
            currency=(v.text(record, c["currency"]) or self.org_currency).upper(),
            commitment_discount_id=commitment_id,
            # Unused only where the unused part is known and non-zero (RIFee, SavingsPlanRecurringFee).
            commitment_discount_status="used" if kind in USED_TYPES else ("unused" if unused else ""),
            commitment_discount_type=commitment_type,
            tags=self._tags(record),
        )

    def _charge_period(self, record):
        c = self._col
        start, end = v.timestamp(record, c["start"]), v.timestamp(record, c["end"], end=True)
        if start is not None:
            return start, end
        column = c["interval"] or c["start"] or COLUMNS["start"][0]
        raw = v.text(record, c["interval"])
        first, _, last = raw.partition("/")
        try:
            start, last = v.parse_timestamp_text(first), v.parse_timestamp_text(last)
        except ValueError:
            raise v.CellError(column, f"{column} is not a start/end time interval: {raw[:60]!r}") from None
        if start is None:
            raise v.CellError(column, f"{column} is empty; a date is required")
        return start, end or last

    def _effective(self, record, kind, billed):
        """(effective cost, unused commitment or None) by the amortised recipe."""
        c = self._col
        amount = unused = None
        if kind == "SavingsPlanCoveredUsage":
            amount = v.decimal(record, c["sp_effective"])
        elif kind == "SavingsPlanRecurringFee":
            total = v.decimal(record, c["sp_total"])
            if total is not None:
                amount = unused = total - (v.decimal(record, c["sp_used"]) or ZERO)
        elif kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
            amount = ZERO
        elif kind == "DiscountedUsage":
            amount = v.decimal(record, c["ri_effective"])
        elif kind == "RIFee":
            upfront = v.decimal(record, c["ri_unused_upfront"])
            recurring = v.decimal(record, c["ri_unused_recurring"])
            if upfront is not None or recurring is not None:
                amount = unused = (upfront or ZERO) + (recurring or ZERO)
        elif kind == "Fee" and v.text(record, c["ri_arn"]):
            amount = ZERO  # an RI's upfront payment: amortised over the term through DiscountedUsage
        return (billed if amount is None else amount), unused

    def _product(self, record) -> dict:
        column = self._col["product_map"]
        cell = record.get(column) if column else None
        if cell is None:
            return {}
        if isinstance(cell, str):
            return _product_map_text(cell)
        try:
            return v.tags(record, column)
        except v.CellError:
            return {}

    def _region(self, record, product):
        c = self._col
        return (
            v.first_text(record, c["region"], c["region_code"])
            or product.get("region", "")
            or _zone_region(v.text(record, c["zone"]))
            or v.text(record, c["location"])
        )

    def _tags(self, record) -> dict:
        column = self._col["tag_map"]
        found = {}
        if column is not None:
            cell = record.get(column)
            if isinstance(cell, str):
                try:
                    found = dict(_tag_map_text(cell))
                except v.CellError:
                    raise v.CellError(column, f"{column} is not a tag map we can read: {cell[:60]!r}") from None
            elif cell is not None:
                found = _strip_user(v.tags(record, column))
        for column, key in self._tag_columns:
            value = v.text(record, column)
            if value:
                found[key] = value
        return found
