"""Reads of the pricing app."""

from django.db.models import Count, Sum

from ingest.models import UsageEvent
from pricing.models import PriceOverride


def unpriced_model_list(org) -> list[dict]:
    """[{provider, model, calls, events}] of the organisation's unpriced calls, most calls first."""
    rows = (
        UsageEvent.objects.for_org(org)
        .filter(cost_source=UsageEvent.CostSource.UNPRICED)
        .values("provider", "model")
        .annotate(calls=Sum("request_count"), events=Count("id"))
        .order_by("-calls", "provider", "model")
    )
    return list(rows)


def price_override_list(org):
    """The organisation's own prices, by provider and model, latest date first."""
    return (
        PriceOverride.objects.for_org(org).select_related("created_by").order_by("provider", "model", "-effective_from")
    )
