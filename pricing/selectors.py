"""Reads of the pricing app."""

from django.db.models import Count, Sum

from ingest.models import UsageEvent
from pricing.models import (
    PriceOverride,
    StripeConnection,
    StripeCustomer,
    StripeEvent,
    StripeInvoice,
    StripePrice,
    StripeProduct,
    StripeSubscription,
)


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


def stripe_connection_get(org):
    """The organisation's Stripe connection, or None before a key or secret was entered."""
    return StripeConnection.objects.for_org(org).first()


def stripe_connected_org_ids() -> list[int]:
    """Ids of the organisations with a stored Stripe key (the periodic sync's fan-out)."""
    return sorted(StripeConnection.objects.exclude(api_key_encrypted="").values_list("org_id", flat=True))


def stripe_customer_list(org):
    """The organisation's Stripe customers with our customer id, by e-mail."""
    return StripeCustomer.objects.for_org(org).filter(deleted=False).order_by("email", "stripe_id")


def stripe_mirror_counts(org) -> dict:
    """How many of each Stripe object the organisation holds: {products, prices, customers, ...}."""
    models = {
        "products": StripeProduct,
        "prices": StripePrice,
        "customers": StripeCustomer,
        "subscriptions": StripeSubscription,
        "invoices": StripeInvoice,
        "events": StripeEvent,
    }
    return {name: model.objects.for_org(org).count() for name, model in models.items()}
