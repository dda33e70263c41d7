"""Google Cloud billing export (the BigQuery standard or detailed export) as CSV or JSON lines.

Column names are BigQuery's dotted field paths (`sku.description`, `invoice.month`); the JSON
lines reader flattens nested records to the same names, so one mapping reads both. `cost` is
before credits; GCP's net cost adds the credits (negative amounts), which is what the invoice
charges, so billed = cost + credits. `credits` arrives as JSON text, as a Python-repr list
(single quotes, None: how pandas writes a list cell, see the koku sample) or as a native list.
"""

import ast
import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from ingest import limits
from ingest.gpu_names import gpu_detect, line_gpu_type
from ingest.sources import values as v
from ingest.sources.base import BillSource, cost_row
from ingest.sources.focus import month_start, next_month

PROVIDER = "Google Cloud"
MAX_CREDITS_TEXT = 65536
COST_TYPES = {
    "regular": "usage",
    "tax": "tax",
    "adjustment": "adjustment",
    "rounding_error": "adjustment",
    "rounding error": "adjustment",
}
# Credits of these types are the committed use discount being applied to the line.
CUD_CREDIT_PREFIX = "COMMITTED_USAGE_DISCOUNT"
_ZERO = Decimal(0)


def gpu_model(description: str) -> str:
    """The GPU a SKU description names ("Nvidia Tesla T4 GPU ..." -> "T4", "A2 Instance Core ..." -> "A100"), or ''."""
    found = gpu_detect(description)
    return found.model if found else ""


@lru_cache(maxsize=1024)
def _invoice_period(raw: str) -> tuple[datetime, datetime] | None:
    value = raw.strip()
    if not (len(value) == 6 and value.isdigit() and 1 <= int(value[4:]) <= 12):
        return None
    start = datetime(int(value[:4]), int(value[4:]), 1, tzinfo=UTC)
    return start, next_month(start)


def _credit_amount(amount) -> Decimal:
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, float):
        return Decimal(repr(amount))  # the shortest text that reads back as the exported number
    if isinstance(amount, int | str) and not isinstance(amount, bool):
        return Decimal(str(amount).strip())
    raise ValueError(amount)


def _credit_summary(items) -> tuple[Decimal, str]:
    """(sum of the credit amounts, id of a committed use discount credit or '')."""
    if not isinstance(items, list):
        raise ValueError(items)
    total, commitment = _ZERO, ""
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(item)
        total += _credit_amount(item.get("amount", 0) or 0)
        if not commitment and str(item.get("type") or "").upper().startswith(CUD_CREDIT_PREFIX):
            commitment = str(item.get("id") or item.get("name") or "")
    if not total.is_finite():
        raise ValueError(total)
    return total, commitment


@lru_cache(maxsize=16384)
def _credits_from_text(raw: str) -> tuple[Decimal, str]:
    value = raw.strip()
    if value.lower() in v.NULL_SENTINELS or value == "[]":
        return _ZERO, ""
    if len(value) > MAX_CREDITS_TEXT:
        raise ValueError(raw[:60])
    try:
        parsed = json.loads(value, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        try:
            parsed = ast.literal_eval(value)  # Python repr: literals only, never code
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            raise ValueError(raw[:60]) from None
    return _credit_summary(parsed)


def credits(record, column: str = "credits") -> tuple[Decimal, str]:
    """The credits cell as (sum of amounts, committed use discount id or '')."""
    value = record.get(column)
    try:
        if value is None:
            return _ZERO, ""
        if isinstance(value, list):
            return _credit_summary(value)
        return _credits_from_text(str(value))
    except (ValueError, ArithmeticError):
        raise v.CellError(column, f"{column} is not a list of credits we can read: {str(value)[:60]!r}") from None


def _label_text(cell) -> str:
    """A labels cell as text for the GPU detector: JSON text as it is, a native list of pairs as its values."""
    if cell is None or isinstance(cell, str):
        return cell or ""
    if isinstance(cell, list):
        return " ".join(str(item.get("value", "")) if isinstance(item, dict) else str(item) for item in cell)
    return str(cell)


class GcpBillingSource(BillSource):
    """Google Cloud's BigQuery billing export, one usage hour of one SKU per record."""

    name = "gcp_billing"
    label = "Google Cloud billing export (CSV or JSON lines)"
    short_label = "Google Cloud billing exports"
    required_columns = ("cost", "usage_start_time")
    currency_column = "currency"

    @classmethod
    def detect(cls, columns):
        """True for the export's dotted header: billing_account_id, usage_start_time, cost and sku./service. fields."""
        present = set(columns)
        if not {"billing_account_id", "usage_start_time", "cost"} <= present:
            return False
        return any(c.startswith(("sku.", "service.")) for c in present)

    def parse(self, record):
        """One normalised cost row from one export record; billed is cost plus its (negative) credits."""
        start = v.timestamp(record, "usage_start_time", required=True)
        period = self._billing_period(record, start)
        cost = v.decimal(record, "cost", required=True)
        credit_total, commitment_id = credits(record)
        billed = cost + credit_total
        cost_type = v.text(record, "cost_type").lower()
        category = COST_TYPES.get(cost_type or "regular")
        if category is None:
            raise v.CellError(
                "cost_type", f"cost_type {cost_type!r} is not one of regular, tax, adjustment, rounding error"
            )
        description = v.text(record, "sku.description")
        tags = v.tags(record, "project.labels")
        resource_labels = v.tags(record, "labels")
        if tags:
            tags.update(resource_labels)  # a resource's own label overrides its project's
        else:
            tags = resource_labels
        return cost_row(
            provider=PROVIDER,
            billing_account_id=v.text(record, "billing_account_id"),
            sub_account_id=v.text(record, "project.id"),
            sub_account_name=v.text(record, "project.name"),
            billing_period_start=period[0],
            billing_period_end=period[1],
            charge_period_start=start,
            charge_period_end=v.timestamp(record, "usage_end_time", end=True),
            charge_category=category,
            charge_description=description,
            region=(v.text(record, "location.region") or v.text(record, "location.location")),
            service_name=v.text(record, "service.description"),
            resource_id=v.first_text(record, "resource.global_name", "resource.name"),
            resource_name=v.text(record, "resource.name"),
            sku_id=v.text(record, "sku.id"),
            # system_labels carry the machine type (compute.googleapis.com/machine_spec: a2-highgpu-1g).
            gpu_type=line_gpu_type(
                charge_description=description,
                service_name=v.text(record, "service.description"),
                provider_columns=(_label_text(record.get("system_labels")),),
                resource_name=v.text(record, "resource.name"),
            ),
            pricing_quantity=v.decimal(record, "usage.amount_in_pricing_units", limit=limits.MAX_QUANTITY),
            pricing_unit=v.text(record, "usage.pricing_unit"),
            consumed_quantity=v.decimal(record, "usage.amount", limit=limits.MAX_QUANTITY),
            consumed_unit=v.text(record, "usage.unit"),
            billed_cost_amount=billed,
            effective_cost_amount=billed,
            # `cost` is at the account's contract price, not the public list price: only the
            # detailed export's cost_at_list is a list cost.
            list_cost_amount=v.decimal(record, "cost_at_list"),
            currency=self._currency(record),
            commitment_discount_id=commitment_id,
            commitment_discount_status="used" if commitment_id else "",
            commitment_discount_type="Committed Use Discount" if commitment_id else "",
            tags=tags,
        )

    def _billing_period(self, record, start: datetime) -> tuple[datetime, datetime]:
        raw = record.get("invoice.month")
        if raw is None or v.is_null(raw):
            first = month_start(start)
            return first, next_month(first)
        period = _invoice_period(str(raw))
        if period is None:
            raise v.CellError("invoice.month", f"invoice.month is not a month as YYYYMM: {str(raw)[:20]!r}")
        return period

    def _currency(self, record) -> str:
        currency = (v.text(record, "currency") or self.org_currency).upper()
        if len(currency) != 3 or not currency.isalpha():
            raise v.CellError("currency", f"currency is not a three-letter ISO code: {currency[:20]!r}")
        return currency
