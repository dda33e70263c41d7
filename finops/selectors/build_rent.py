"""Reads for the build-versus-rent page: the organisation's GPU rate card and the utilisation its agents measured."""

import re
from datetime import datetime
from decimal import Decimal

from django.db.models import Sum

from finops.models import GpuRate
from ingest.models import GpuHour
from pricing.gpu_prices import GPU_LIST_PRICES

RATE_FIELDS = (
    "match_name",
    "on_demand_hourly_amount",
    "reserved_1y_hourly_amount",
    "reserved_3y_hourly_amount",
    "spot_hourly_amount",
    "purchase_amount",
    "power_watts",
    "currency",
    "source",
    "as_of",
)


def gpu_rate_card(*, org) -> list[GpuRate]:
    """The rate card: the organisation's saved GPU types, and unsaved public list prices for the types it has not
    saved (their `pk` is None), the bundled types first in their order."""
    saved = {rate.gpu_type: rate for rate in GpuRate.objects.for_org(org)}
    card = [
        saved.pop(price.gpu_type, None)
        or GpuRate(org=org, gpu_type=price.gpu_type, **{field: getattr(price, field) for field in RATE_FIELDS})
        for price in GPU_LIST_PRICES
    ]
    return card + sorted(saved.values(), key=lambda rate: rate.gpu_type)


def gpu_name_matches(name: str, match_name: str) -> bool:
    """Whether an agent's GPU name ("NVIDIA H100 80GB HBM3") is of a type ("H100"): the type as a whole word, so
    "L4" does not match "NVIDIA L40S"."""
    if not match_name.strip():
        return False
    pattern = r"(?<![A-Za-z0-9])" + re.escape(match_name.strip()) + r"(?![A-Za-z0-9])"
    return re.search(pattern, name or "", flags=re.IGNORECASE) is not None


def gpu_type_utilisation(*, org, match_name: str, start: datetime, end: datetime) -> dict | None:
    """Busy share of the covered time of the organisation's GPUs of one type over the hours starting in
    [start, end): {utilisation, busy_hours, covered_hours, gpus, hosts}; None when no agent reported such a GPU."""
    rows = (
        GpuHour.objects.for_org(org)
        .filter(hour__gte=start, hour__lt=end)
        .values("gpu_id", "gpu__name", "gpu__host__name")
        .annotate(busy=Sum("busy_seconds"), covered=Sum("covered_seconds"))
    )
    matching = [row for row in rows if gpu_name_matches(row["gpu__name"], match_name)]
    covered = sum(row["covered"] or 0 for row in matching)
    if not covered:
        return None
    busy = sum(row["busy"] or 0 for row in matching)
    return {
        "utilisation": Decimal(busy) / Decimal(covered),
        "busy_hours": Decimal(busy) / 3600,
        "covered_hours": Decimal(covered) / 3600,
        "gpus": len({row["gpu_id"] for row in matching}),
        "hosts": sorted({row["gpu__host__name"] for row in matching}),
    }
