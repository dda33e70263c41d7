"""Reads of the pricing app."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce

from accounts.read_cache import ECONOMICS, LEDGER, cached_read
from finops.money import MONTH_DAYS
from ingest.models import UsageEvent
from pricing.models import (
    PriceOverride,
    StripeConnection,
    StripeCustomer,
    StripeEvent,
    StripeInvoice,
    StripeInvoiceLine,
    StripePrice,
    StripeProduct,
    StripeSubscription,
)
from pricing.revenue import DEFAULT_FEE_FIXED, DEFAULT_FEE_RATE, ZERO, InvoiceLine, PaidInvoice, recognise


@cached_read(LEDGER, ECONOMICS)
def unpriced_model_list(*, org, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """[{provider, model, calls, events}] of the organisation's unpriced calls (made in [start, end) when given),
    most calls first."""
    events = UsageEvent.objects.for_org(org).filter(cost_source=UsageEvent.CostSource.UNPRICED)
    if start is not None and end is not None:
        events = events.filter(occurred_at__gte=start, occurred_at__lt=end)
    rows = (
        events.values("provider", "model")
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


PER_MONTH = {"day": MONTH_DAYS, "week": MONTH_DAYS / 7, "month": Decimal(1), "year": Decimal(1) / 12}
PAID_LOOKBACK = timedelta(days=400)


def plan_name(price) -> str:
    """What a Stripe price is called as a plan: its nickname, else its product's name, else its id."""
    if price is None:
        return ""
    return plan_name_of(price.nickname, price.product.name if price.product_id else "", price.stripe_id)


def plan_name_of(nickname: str, product_name: str, stripe_id: str) -> str:
    """`plan_name` from a price's fields as read in rows."""
    return nickname or product_name or stripe_id or ""


def stripe_customer_key(customer, stripe_id: str) -> str:
    """Our customer id for a Stripe customer (mapped or from metadata), else 'stripe:<id>' so it stays visible."""
    return customer_key_of(customer.customer_id if customer is not None else "", stripe_id)


def customer_key_of(customer_id: str, stripe_id: str) -> str:
    """`stripe_customer_key` from the fields as read in rows."""
    if customer_id:
        return customer_id
    return f"stripe:{stripe_id}" if stripe_id else ""


def paid_invoices(*, org, start: date, end: date) -> list[PaidInvoice]:
    """Invoices with money collected whose service may fall in [start, end), as pure inputs for recognition.

    Plain rows, no model instances: the invoices (created in [start - PAID_LOOKBACK, end), as always) whose
    service can reach a day on or after `start` (a line's or the invoice's period, or the payment day), then
    every line of those, each as a tuple. An invoice left out here has no day in the period, so recognition
    would give it nothing; the order is the model's, so the sums add up in the same order as before."""
    since, until = _midnight(start), _midnight(end)
    reaches = Q(period_start__gte=since) | Q(period_end__gt=since) | Q(paid_on__gte=since)
    line_reaches = StripeInvoiceLine.objects.filter(invoice_id=OuterRef("pk")).filter(
        Q(period_start__gte=since) | Q(period_end__gt=since)
    )
    invoices = (
        StripeInvoice.objects.for_org(org)
        .filter(paid_amount__gt=0, stripe_created__lt=until, stripe_created__gte=since - PAID_LOOKBACK)
        .alias(paid_on=Coalesce("paid_at", "stripe_created"))
        .filter(reaches | Exists(line_reaches))
        .order_by("-stripe_created", "stripe_id")
    )
    invoice_fields = ("pk", "customer__customer_id", "customer_stripe_id", "currency", "paid_amount",
                      "refunded_amount", "credit_note_amount", "tax_amount", "period_start", "period_end", "paid_at",
                      "stripe_created")  # fmt: skip
    rows = list(invoices.values_list(*invoice_fields))
    if not rows:
        return []
    line_fields = ("invoice_id", "amount", "period_start", "period_end", "price_id", "price__nickname",
                   "price__product_id", "price__product__name", "price__stripe_id")  # fmt: skip
    line_rows = (
        StripeInvoiceLine.objects.filter(invoice__in=invoices.order_by().values("pk"))
        .order_by("invoice_id", "stripe_id")
        .values_list(*line_fields)
    )
    lines = defaultdict(list)
    for invoice_id, amount, line_start, line_end, price_id, nickname, product_id, product, price_stripe_id in line_rows:
        plan = plan_name_of(nickname, product if product_id else "", price_stripe_id) if price_id else ""
        lines[invoice_id].append(InvoiceLine(amount, line_start, line_end, plan))
    result = []
    for pk, customer_id, stripe_id, currency, paid, refunded, credited, tax, start_, end_, paid_at, created in rows:
        result.append(
            PaidInvoice(
                customer=customer_key_of(customer_id, stripe_id),
                currency=currency.upper(),
                paid=paid,
                refunded=refunded or ZERO,
                credited=credited or ZERO,
                tax=tax or ZERO,
                period_start=start_,
                period_end=end_,
                paid_at=paid_at or created,
                lines=tuple(lines.get(pk, ())),
            )
        )
    return result


def recognised_revenue(
    *, org, start: date, end: date, fee_rate: Decimal = DEFAULT_FEE_RATE, fee_fixed: Decimal = DEFAULT_FEE_FIXED
) -> list:
    """Revenue and payment fees per (customer, plan) recognised in [start, end), in every currency."""
    invoices = paid_invoices(org=org, start=start, end=end)
    return recognise(invoices, start, end, fee_rate=fee_rate, fee_fixed=fee_fixed)


def plan_monthly_prices(*, org) -> dict:
    """{plan name: price per month} of the org's active recurring prices in its currency (per unit)."""
    prices = {}
    for price in (
        StripePrice.objects.for_org(org).filter(active=True, currency__iexact=org.currency).select_related("product")
    ):
        if price.unit_amount is None or price.interval not in PER_MONTH:
            continue
        monthly = price.unit_amount * PER_MONTH[price.interval] / (price.interval_count or 1)
        prices.setdefault(plan_name(price), monthly)
    return prices


def customer_plans_on(*, org, day: date, trial_plan: str = "trial", customer: str | None = None) -> dict:
    """{our customer id: plan} from the subscriptions running on `day` (only `customer`'s when given); a
    subscription in its trial counts as the trial plan."""
    moment = _midnight(day)
    plans = {}
    subscriptions = (
        StripeSubscription.objects.for_org(org)
        .filter(stripe_created__lt=moment + timedelta(days=1))
        .exclude(ended_at__lte=moment)
        .select_related("customer")
        .prefetch_related("items__price__product")
        .order_by("stripe_created")
    )
    if customer is not None:
        stripe_id = customer.removeprefix("stripe:")
        subscriptions = subscriptions.filter(Q(customer__customer_id=customer) | Q(customer_stripe_id=stripe_id))
    for subscription in subscriptions:
        key = stripe_customer_key(subscription.customer, subscription.customer_stripe_id)
        if customer is not None and key != customer:
            continue
        if (
            subscription.trial_end
            and subscription.trial_end > moment
            and (subscription.trial_start is None or subscription.trial_start < moment + timedelta(days=1))
        ):
            plans[key] = trial_plan
            continue
        names = [plan_name(item.price) for item in subscription.items.all() if item.price_id]
        if names:
            plans[key] = names[0]
    return plans


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def revenue_known(*, org) -> bool:
    """Whether the organisation has revenue data at all (synced, pushed by webhooks or imported)."""
    return StripeInvoice.objects.for_org(org).exists() or StripePrice.objects.for_org(org).exists()
