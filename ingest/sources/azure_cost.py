"""Azure Cost Management cost details: actual or amortised, Enterprise Agreement or MCA.

EA exports spell columns in PascalCase (`CostInBillingCurrency`, `Cost` in older ones), MCA in
camelCase (`costInBillingCurrency`, `billingCurrency`), and the 2025 "c360" export uses the EA
names; the header is matched case-insensitively, once per file. Dates are MM/DD/YYYY (ISO in
some exports); the billing period end date is inclusive, so the stored end is the next day.

Actual or amortised is read from the data, never the file name. What tells them apart in the
two finops-toolkit EA samples (same enrollment, Sep 2023) and in Microsoft's description of the
two datasets:
- actual: the reservation purchase is a `ChargeType=Purchase, PricingModel=Reservation` row with
  its full price (3.25); usage that a reservation or savings plan covers costs 0, with
  EffectivePrice 0 (Microsoft's description: the actual sample has no covered usage rows).
- amortised: no purchase row; the covered usage carries its share (`ChargeType=Usage,
  PricingModel=Reservation`, Cost 0.493152, EffectivePrice 0.061644 below UnitPrice 0.146; a
  `SavingsPlan` row likewise), and unused commitment shows as UnusedReservation/UnusedSavingsPlan.
On-demand rows are identical in both files (the ten usage rows of the actual sample appear
unchanged in the amortised one), so they say nothing; a file with no commitment rows keeps
cost_basis '' (both views of it are the same).
"""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from ingest import limits
from ingest.gpu_names import gpu_detect, line_gpu_type
from ingest.sources import values as v
from ingest.sources.base import BillSource, cost_row
from ingest.sources.focus import month_start, next_month

PROVIDER = "Microsoft"
# Our name for a column -> the spellings exports use, preferred first (compared in lower case).
COLUMNS = {
    "account": ("BillingAccountId",),
    "account_name": ("BillingAccountName",),
    "profile": ("BillingProfileId",),
    "profile_name": ("BillingProfileName",),
    "subscription": ("SubscriptionId", "SubscriptionGuid"),
    "subscription_name": ("SubscriptionName",),
    "period_start": ("BillingPeriodStartDate",),
    "period_end": ("BillingPeriodEndDate",),
    "date": ("Date", "UsageDate", "UsageDateTime"),
    "meter_category": ("MeterCategory",),
    "meter_subcategory": ("MeterSubCategory",),
    "meter_name": ("MeterName",),
    "meter_region": ("MeterRegion",),
    "meter_id": ("MeterId",),
    "part_number": ("PartNumber",),
    "product": ("Product", "ProductName"),
    "consumed_service": ("ConsumedService",),
    "service_family": ("ServiceFamily",),
    "resource_id": ("ResourceId", "InstanceId"),
    "resource_name": ("ResourceName",),
    "resource_type": ("ResourceType",),
    "additional_info": ("AdditionalInfo", "additionalInfo"),
    "location": ("ResourceLocation", "Location"),
    "quantity": ("Quantity", "ConsumedQuantity"),
    "unit": ("UnitOfMeasure",),
    "currency": ("BillingCurrency", "BillingCurrencyCode", "Currency"),
    "cost": ("CostInBillingCurrency", "Cost", "PreTaxCost"),
    "payg_cost": ("PaygCostInBillingCurrency",),
    "payg_price": ("PayGPrice",),
    "effective_price": ("EffectivePrice",),
    "charge_type": ("ChargeType",),
    "frequency": ("Frequency",),
    "pricing_model": ("PricingModel",),
    "reservation_id": ("ReservationId",),
    "benefit_id": ("BenefitId",),
    "tags": ("Tags",),
}
REQUIRED = ("cost", "date")
# ChargeType (lower case, no spaces) -> (charge category, commitment status it implies).
CHARGE_TYPES = {
    "usage": ("usage", ""),
    "purchase": ("purchase", ""),
    "refund": ("credit", ""),
    "credit": ("credit", ""),
    "unusedreservation": ("usage", "unused"),
    "unusedsavingsplan": ("usage", "unused"),
    "tax": ("tax", ""),
    "adjustment": ("adjustment", ""),
    "roundingadjustment": ("adjustment", ""),
}
COMMITMENT_TYPES = {"reservation": "Reservation", "savingsplan": "Savings Plan"}
UNUSED_TYPES = {"unusedreservation": "Reservation", "unusedsavingsplan": "Savings Plan"}
FREQUENCIES = {"usagebased": "usage-based", "onetime": "one-time", "recurring": "recurring"}
BASES = {"actual": "actual", "amortised": "amortised", "amortized": "amortised"}
ONE_DAY = timedelta(days=1)
ZERO = Decimal(0)

# AdditionalInfo is JSON text; only its VM size is read, without parsing the rest of every row.
_SERVICE_TYPE = re.compile(r'"ServiceType"\s*:\s*"([^"]{1,100})"')


def gpu_model(category: str, subcategory: str, meter_name: str, product: str) -> str:
    """The GPU of an N-series VM meter ("NCads H100 v5" -> "H100"), its family when unknown, or ''."""
    found = gpu_detect(meter_name, product, subcategory, category)
    return found.model if found else ""


def _vm_size(additional_info: str) -> str:
    """The VM size in AdditionalInfo ({"ServiceType": "Standard_NC24ads_A100_v4", ...}), or ''."""
    found = _SERVICE_TYPE.search(additional_info) if "ServiceType" in additional_info else None
    return found.group(1) if found else ""


@lru_cache(maxsize=1024)
def _billing_end(start: datetime, end: datetime) -> datetime:
    if start.day == 1 and end == next_month(start):
        return end  # already exclusive
    return datetime.combine(end.date(), datetime.min.time(), tzinfo=end.tzinfo) + ONE_DAY


def resolve_columns(columns) -> dict:
    """Our column names -> the header's own spelling (or the preferred spelling when absent)."""
    by_lower = {}
    for column in columns:
        by_lower.setdefault(str(column).strip().lower(), column)
    resolved = {}
    for key, spellings in COLUMNS.items():
        found = next((by_lower[s.lower()] for s in spellings if s.lower() in by_lower), None)
        resolved[key] = spellings[0] if found is None else found
    return resolved


class AzureCostSource(BillSource):
    """Cost Management cost details, one meter of one resource per day per record."""

    name = "azure_cost"
    label = "Azure cost details (actual or amortised; EA and MCA)"
    short_label = "Azure cost exports"
    required_columns = tuple("|".join(COLUMNS[key]) for key in REQUIRED)
    currency_column = "BillingCurrency"

    def __init__(self, *, org_currency, options=None):
        super().__init__(org_currency=org_currency, options=options)
        basis = str(self.options.get("cost_basis") or "").strip().lower()
        if basis and basis not in BASES:
            raise ValueError(f"cost_basis must be 'actual' or 'amortised', not {basis!r}")
        self.cost_basis = BASES.get(basis, "")
        self._cols = None

    @classmethod
    def detect(cls, columns):
        """True for a header with MeterCategory, a cost and a date column, in any letter case."""
        present = {str(c).strip().lower() for c in columns}
        return (
            "metercategory" in present
            and any(s.lower() in present for s in COLUMNS["cost"])
            and any(s.lower() in present for s in COLUMNS["date"])
        )

    def missing_columns(self, columns):
        """Required columns the header lacks, compared case-insensitively."""
        present = {str(c).strip().lower() for c in columns}
        self._use_columns(columns)
        return ["|".join(COLUMNS[key]) for key in REQUIRED if not any(s.lower() in present for s in COLUMNS[key])]

    def _use_columns(self, columns) -> None:
        self._cols = resolve_columns(columns)
        self.currency_column = self._cols["currency"]

    def parse(self, record):
        """One normalised cost row from one cost details record; settles cost_basis on the way."""
        if self._cols is None:
            self._use_columns(list(record))
        c = self._cols
        start = v.timestamp(record, c["date"], required=True)
        billed = v.decimal(record, c["cost"], required=True)
        charge_type = v.text(record, c["charge_type"]).lower().replace(" ", "")
        found = CHARGE_TYPES.get(charge_type or "usage")
        if found is None:
            raise v.CellError(
                c["charge_type"],
                f"{c['charge_type']} {v.text(record, c['charge_type'])!r} is not one of Usage, Purchase, Refund, "
                "UnusedReservation, UnusedSavingsPlan, Tax, Adjustment, RoundingAdjustment",
            )
        category, status = found
        pricing_model = v.text(record, c["pricing_model"]).lower().replace(" ", "")
        commitment_type = COMMITMENT_TYPES.get(pricing_model) or UNUSED_TYPES.get(charge_type, "")
        if commitment_type and not status and category == "usage":
            status = "used"
        if not self.cost_basis and commitment_type:
            self._observe(record, charge_type, billed)
        effective = billed
        # In an actual file the commitment's whole price sits on its purchase (and any refund)
        # row while the usage it covers shows 0. Effective cost follows FOCUS: the purchase is 0
        # and its cost belongs to the usage it amortises over. This file cannot carry that
        # share, so effective totals of an actual file leave commitments out; billed keeps them.
        if category in ("purchase", "credit") and commitment_type and self.cost_basis == "actual":
            effective = ZERO
        quantity = v.decimal(record, c["quantity"], limit=limits.MAX_QUANTITY)
        unit = v.text(record, c["unit"])
        consumed = category == "usage" and status != "unused"
        billing_start = v.timestamp(record, c["period_start"])
        billing_start = billing_start or month_start(start)
        billing_end = v.timestamp(record, c["period_end"], end=True)
        meter_category = v.text(record, c["meter_category"])
        product = v.text(record, c["product"])
        meter_name = v.text(record, c["meter_name"])
        resource_type = v.text(record, c["resource_type"])
        resource_name = v.text(record, c["resource_name"])
        return cost_row(
            provider=PROVIDER,
            billing_account_id=v.first_text(record, c["account"], c["profile"]),
            billing_account_name=v.first_text(record, c["account_name"], c["profile_name"]),
            sub_account_id=v.text(record, c["subscription"]),
            sub_account_name=v.text(record, c["subscription_name"]),
            billing_period_start=billing_start,
            billing_period_end=_billing_end(billing_start, billing_end) if billing_end else next_month(billing_start),
            charge_period_start=start,
            charge_period_end=start + ONE_DAY,
            charge_category=category,
            charge_frequency=FREQUENCIES.get(v.text(record, c["frequency"]).lower(), ""),
            charge_description=meter_name or product,
            region=v.first_text(record, c["location"], c["meter_region"]),
            service_name=(meter_category or v.text(record, c["consumed_service"])),
            service_category=v.text(record, c["service_family"]),
            resource_id=v.text(record, c["resource_id"]),
            resource_name=resource_name,
            resource_type=resource_type,
            sku_id=v.first_text(record, c["part_number"], c["meter_id"]),
            gpu_type=line_gpu_type(
                instance_type=_vm_size(v.text(record, c["additional_info"])),
                charge_description=meter_name,
                resource_type=resource_type,
                service_name=meter_category,
                provider_columns=(
                    product,
                    v.text(record, c["meter_subcategory"]),
                    v.text(record, c["consumed_service"]),
                ),
                resource_name=resource_name,
            ),
            pricing_quantity=quantity,
            pricing_unit=unit,
            consumed_quantity=quantity if consumed else None,
            consumed_unit=unit if consumed else "",
            billed_cost_amount=billed,
            effective_cost_amount=effective,
            list_cost_amount=self._list_cost(record, billed, quantity, commitment_type),
            currency=self._currency(record),
            commitment_discount_id=v.first_text(record, c["reservation_id"], c["benefit_id"]),
            commitment_discount_status=status if commitment_type else "",
            commitment_discount_type=commitment_type,
            tags=v.tags(record, c["tags"]),
        )

    def _observe(self, record, charge_type: str, billed) -> None:
        """Settle cost_basis from the first commitment row that tells (see the module docstring)."""
        if charge_type in UNUSED_TYPES:
            self.cost_basis = "amortised"
        elif charge_type == "usage":
            # EffectivePrice rather than Cost: a tiny covered quantity can round its amortised cost to 0.
            price = v.decimal(record, self._cols["effective_price"])
            if (billed if price is None else price) != 0:
                self.cost_basis = "amortised"
            elif billed == 0:
                self.cost_basis = "actual"
        elif charge_type in ("purchase", "refund") and billed != 0:
            self.cost_basis = "actual"

    def _list_cost(self, record, billed, quantity, commitment_type):
        c = self._cols
        listed = v.decimal(record, c["payg_cost"])
        if listed is None:
            price = v.decimal(record, c["payg_price"])
            if price is None or quantity is None:
                return None
            listed = price * quantity
        # PayGPrice is 0 on reservation rows and purchases, which have a list price: unknown, not free.
        if listed == 0 and (billed != 0 or commitment_type):
            return None
        return listed

    def _currency(self, record) -> str:
        currency = (v.text(record, self._cols["currency"]) or self.org_currency).upper()
        if len(currency) != 3 or not currency.isalpha():
            raise v.CellError(
                self._cols["currency"], f"{self._cols['currency']} is not a three-letter ISO code: {currency[:20]!r}"
            )
        return currency
