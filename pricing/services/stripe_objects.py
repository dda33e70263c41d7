"""Stripe objects into the mirror tables: one upsert per object type, shared by the sync and the webhooks.

Each takes Stripe's object as a plain dict and `state_at`, the moment that state was current. A row holding
newer state is left alone, so an event that arrives late never regresses it. The dicts come in two shapes:
the current API (stripe 16 pins 2026-10-28: invoice.parent.subscription_details, line.pricing.price_details,
total_taxes, the period on subscription items) and the older one localstripe and older accounts speak
(invoice.subscription, line.price/plan, tax, subscription.current_period_*); both are read.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from finops.money import from_minor_units, minor_unit_exponent
from ingest.services.days import dirty_days_mark
from pricing.models import (
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceLine,
    StripePrice,
    StripeProduct,
    StripeSubscription,
    StripeSubscriptionItem,
)

CUSTOMER_ID_METADATA_KEYS = ("customer_id", "finops_customer")


@dataclass
class Upserted:
    row: object
    written: bool


def epoch(value) -> datetime | None:
    """A Stripe epoch-seconds timestamp as an aware UTC datetime."""
    return None if value in (None, "") else datetime.fromtimestamp(int(value), tz=UTC)


def minor(value, currency: str) -> Decimal | None:
    """Stripe minor units (an int, or a decimal string for sub-cent prices) as a Decimal amount."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return from_minor_units(value, currency)
    return Decimal(str(value)).scaleb(-minor_unit_exponent(currency))


def stripe_id_of(value) -> str:
    """The id of a reference that is either an id or an expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _upsert(model, *, org, stripe_id: str, state_at: datetime, fields: dict, upload=None) -> Upserted:
    """Store the row unless it holds newer state; `upload` is the revenue upload writing it (None for a sync or a
    webhook: Stripe's own state, no longer the file's)."""
    fields = {**fields, "upload": upload}
    with transaction.atomic():
        row = model.objects.for_org(org).select_for_update().filter(stripe_id=stripe_id).first()
        if row is None:
            try:
                with transaction.atomic():
                    created = model.objects.create(org=org, stripe_id=stripe_id, state_at=state_at, **fields)
                return Upserted(created, True)
            except IntegrityError:
                row = model.objects.for_org(org).select_for_update().get(stripe_id=stripe_id)
        if row.state_at > state_at:
            return Upserted(row, False)
        for name, value in {**fields, "state_at": state_at}.items():
            setattr(row, name, value)
        row.save()
        return Upserted(row, True)


def _common(obj: dict) -> dict:
    return {
        "livemode": bool(obj.get("livemode")),
        "metadata": dict(obj.get("metadata") or {}),
        "stripe_created": epoch(obj.get("created")),
    }


def customer_upsert(*, org, obj: dict, state_at: datetime, upload=None) -> Upserted:
    """Store a Stripe customer; our customer id comes from a user's mapping, else the metadata."""
    metadata = obj.get("metadata") or {}
    from_metadata = next((str(metadata[k]).strip() for k in CUSTOMER_ID_METADATA_KEYS if metadata.get(k)), "")
    held = StripeCustomer.objects.for_org(org).filter(stripe_id=obj["id"])
    mapped = held.values_list("mapped_customer_id", flat=True).first() or ""
    fields = {
        **_common(obj),
        "email": obj.get("email") or "",
        "name": obj.get("name") or "",
        "metadata_customer_id": from_metadata[:200],
        "customer_id": (mapped or from_metadata)[:200],
        "deleted": bool(obj.get("deleted")),
    }
    if obj.get("deleted"):
        fields = {"deleted": True}
    return _upsert(StripeCustomer, org=org, stripe_id=obj["id"], state_at=state_at, fields=fields, upload=upload)


def _first_given(obj: dict, *keys):
    return next((obj[k] for k in keys if obj.get(k) is not None), None)


def product_upsert(*, org, obj: dict, state_at: datetime, upload=None) -> Upserted:
    """Store a Stripe product."""
    fields = {**_common(obj), "name": obj.get("name") or "", "active": obj.get("active", True) is not False}
    return _upsert(StripeProduct, org=org, stripe_id=obj["id"], state_at=state_at, fields=fields, upload=upload)


def price_upsert(*, org, obj: dict, state_at: datetime, upload=None) -> Upserted:
    """Store a price or a legacy plan (either shape); the amount from minor units of its currency."""
    currency = (obj.get("currency") or "").upper()
    is_plan = obj.get("object") == "plan"
    recurring = obj.get("recurring") or {}
    if is_plan:
        amount = _first_given(obj, "amount_decimal", "amount")
        interval, count, usage = obj.get("interval"), obj.get("interval_count"), obj.get("usage_type")
    else:
        amount = _first_given(obj, "unit_amount_decimal", "unit_amount")
        interval, count, usage = recurring.get("interval"), recurring.get("interval_count"), recurring.get("usage_type")
    product_id = stripe_id_of(obj.get("product"))
    if isinstance(obj.get("product"), dict):
        product_upsert(org=org, obj=obj["product"], state_at=state_at, upload=upload)
    fields = {
        **_common(obj),
        # Stripe lists a recurring price under /v1/plans too; a legacy plan is one not made as a price.
        "kind": StripePrice.Kind.PRICE if obj["id"].startswith("price_") else StripePrice.Kind.PLAN,
        "product": StripeProduct.objects.for_org(org).filter(stripe_id=product_id).first() if product_id else None,
        "product_stripe_id": product_id,
        "nickname": obj.get("nickname") or "",
        "unit_amount": minor(amount, currency) if currency else None,
        "currency": currency,
        "interval": interval or "",
        "interval_count": int(count or 1),
        "usage_type": usage or "",
        "active": obj.get("active", True) is not False,
    }
    return _upsert(StripePrice, org=org, stripe_id=obj["id"], state_at=state_at, fields=fields, upload=upload)


def _price_ref(org, ref, state_at: datetime, upload=None) -> tuple[StripePrice | None, str]:
    """The stored price for an id or an embedded price/plan object (stored first when embedded)."""
    if isinstance(ref, dict) and ref.get("id"):
        return price_upsert(org=org, obj=ref, state_at=state_at, upload=upload).row, ref["id"]
    price_id = stripe_id_of(ref)
    row = StripePrice.objects.for_org(org).filter(stripe_id=price_id).first() if price_id else None
    return row, price_id


def _customer_ref(org, ref) -> tuple[StripeCustomer | None, str]:
    customer_id = stripe_id_of(ref)
    row = StripeCustomer.objects.for_org(org).filter(stripe_id=customer_id).first() if customer_id else None
    return row, customer_id


@transaction.atomic
def subscription_upsert(*, org, obj: dict, state_at: datetime, upload=None) -> Upserted:
    """Store a subscription with its items (price and quantity); items gone from Stripe are removed."""
    items = list((obj.get("items") or {}).get("data") or [])
    customer, customer_id = _customer_ref(org, obj.get("customer"))
    starts = [i["current_period_start"] for i in items if i.get("current_period_start")]
    ends = [i["current_period_end"] for i in items if i.get("current_period_end")]
    first_price = (items[0].get("price") or items[0].get("plan")) if items else None
    currency = obj.get("currency") or (first_price.get("currency") if isinstance(first_price, dict) else "") or ""
    fields = {
        **_common(obj),
        "customer": customer,
        "customer_stripe_id": customer_id,
        "status": obj.get("status") or "",
        "currency": currency.upper(),
        "trial_start": epoch(obj.get("trial_start")),
        "trial_end": epoch(obj.get("trial_end")),
        "current_period_start": epoch(obj.get("current_period_start") or (min(starts) if starts else None)),
        "current_period_end": epoch(obj.get("current_period_end") or (max(ends) if ends else None)),
        "cancel_at": epoch(obj.get("cancel_at")),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        "canceled_at": epoch(obj.get("canceled_at")),
        "ended_at": epoch(obj.get("ended_at")),
    }
    result = _upsert(StripeSubscription, org=org, stripe_id=obj["id"], state_at=state_at, fields=fields, upload=upload)
    if not result.written:
        return result
    subscription = result.row
    _plan_days_mark(org, subscription)
    kept = []
    for item in items:
        price, price_id = _price_ref(org, item.get("price") or item.get("plan"), state_at, upload)
        quantity = item.get("quantity")
        item_fields = {
            **_common(item),
            "subscription": subscription,
            "price": price,
            "price_stripe_id": price_id,
            "quantity": int(quantity) if quantity is not None else None,
        }
        _upsert(
            StripeSubscriptionItem, org=org, stripe_id=item["id"], state_at=state_at, fields=item_fields, upload=upload
        )
        kept.append(item["id"])
    StripeSubscriptionItem.objects.for_org(org).filter(subscription=subscription).exclude(stripe_id__in=kept).delete()
    return result


PLAN_RECOMPUTE_DAYS = 92


def plan_days(subscriptions) -> list:
    """A customer's plan is part of its rolled-up costs: the days changed (or deleted) subscriptions may relabel,
    from the earliest start, at most the last three months, to today."""
    if not subscriptions:
        return []
    today = timezone.now().date()
    since = min((s.trial_start or s.stripe_created or timezone.now()).date() for s in subscriptions)
    first = max(since, today - timedelta(days=PLAN_RECOMPUTE_DAYS))
    return [first + timedelta(days=i) for i in range((today - first).days + 1)]


def _plan_days_mark(org, subscription) -> None:
    """The days a changed subscription may relabel are recomputed."""
    dirty_days_mark(org=org, days=plan_days([subscription]))


def _sum_amounts(values, currency: str) -> Decimal | None:
    if values is None:
        return None
    return sum((minor(v.get("amount") or 0, currency) for v in values), Decimal(0))


def _invoice_subscription_id(obj: dict) -> str:
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    return stripe_id_of(obj.get("subscription")) or stripe_id_of(details.get("subscription"))


def _line_price(line: dict):
    details = (line.get("pricing") or {}).get("price_details") or {}
    return line.get("price") or line.get("plan") or details.get("price")


def _line_subscription_id(line: dict) -> str:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    return stripe_id_of(line.get("subscription")) or stripe_id_of(details.get("subscription"))


def _invoice_fields(org, obj: dict) -> dict:
    currency = (obj.get("currency") or "").upper()
    customer, customer_id = _customer_ref(org, obj.get("customer"))
    subscription_id = _invoice_subscription_id(obj)
    subtotal, total = minor(obj.get("subtotal"), currency), minor(obj.get("total"), currency)
    tax = minor(obj["tax"], currency) if obj.get("tax") is not None else _sum_amounts(obj.get("total_taxes"), currency)
    discount = _sum_amounts(obj.get("total_discount_amounts"), currency)
    if discount is None and None not in (subtotal, total, tax):
        # Older shapes (and localstripe) give no discount amounts: total = subtotal - discounts + tax.
        discount = subtotal + tax - total
    credit_notes = [obj.get("pre_payment_credit_notes_amount"), obj.get("post_payment_credit_notes_amount")]
    charge = obj.get("charge")
    transitions = obj.get("status_transitions") or {}
    return {
        **_common(obj),
        "customer": customer,
        "customer_stripe_id": customer_id,
        "subscription": StripeSubscription.objects.for_org(org).filter(stripe_id=subscription_id).first()
        if subscription_id
        else None,
        "subscription_stripe_id": subscription_id,
        "number": obj.get("number") or "",
        "status": obj.get("status") or "",
        "currency": currency,
        "due_amount": minor(obj.get("amount_due") or 0, currency),
        "paid_amount": minor(obj.get("amount_paid") or 0, currency),
        "remaining_amount": minor(obj.get("amount_remaining"), currency),
        "subtotal_amount": subtotal,
        "total_amount": total,
        "tax_amount": tax,
        "discount_amount": discount,
        "credit_note_amount": None
        if all(v is None for v in credit_notes)
        else sum((minor(v or 0, currency) for v in credit_notes), Decimal(0)),
        "refunded_amount": minor(charge.get("amount_refunded") or 0, currency) if isinstance(charge, dict) else None,
        "period_start": epoch(obj.get("period_start")),
        "period_end": epoch(obj.get("period_end")),
        "paid_at": epoch(transitions.get("paid_at")),
    }


@transaction.atomic
def invoice_upsert(*, org, obj: dict, state_at: datetime, lines: list[dict] | None = None, upload=None) -> Upserted:
    """Store an invoice and its lines (all of them in `lines` when the caller paged through more)."""
    fields = _invoice_fields(org, obj)
    result = _upsert(StripeInvoice, org=org, stripe_id=obj["id"], state_at=state_at, fields=fields, upload=upload)
    if not result.written:
        return result
    invoice = result.row
    complete = lines is not None or not (obj.get("lines") or {}).get("has_more")
    if lines is None:
        lines = list((obj.get("lines") or {}).get("data") or [])
    kept = []
    for line in lines:
        currency = (line.get("currency") or invoice.currency).upper()
        price, price_id = _price_ref(org, _line_price(line), state_at, upload)
        period = line.get("period") or {}
        parent = line.get("parent") or {}
        details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
        quantity = line.get("quantity")
        fields = {
            **_common(line),
            "invoice": invoice,
            "price": price,
            "price_stripe_id": price_id,
            "subscription_stripe_id": _line_subscription_id(line),
            "description": line.get("description") or "",
            "quantity": int(quantity) if quantity is not None else None,
            "amount": minor(line.get("amount") or 0, currency),
            "currency": currency,
            "period_start": epoch(period.get("start")),
            "period_end": epoch(period.get("end")),
            "proration": bool(line.get("proration") or details.get("proration")),
        }
        _upsert(StripeInvoiceLine, org=org, stripe_id=line["id"], state_at=state_at, fields=fields, upload=upload)
        kept.append(line["id"])
    if complete:  # a webhook's first page of a long invoice must not delete the lines it leaves out
        StripeInvoiceLine.objects.for_org(org).filter(invoice=invoice).exclude(stripe_id__in=kept).delete()
    return result


def _link(model, org, fk: str, target, key: str) -> None:
    held = target.objects.for_org(org).filter(stripe_id=OuterRef(key)).values("pk")[:1]
    model.objects.for_org(org).filter(**{fk: None}).exclude(**{key: ""}).update(**{fk: Subquery(held)})


@transaction.atomic
def references_link(*, org) -> None:
    """Point rows stored before what they name (a subscription before its customer, a line before its price) at
    it by Stripe id, so the order in which objects arrive does not matter."""
    _link(StripePrice, org, "product", StripeProduct, "product_stripe_id")
    for model in (StripeSubscription, StripeInvoice):
        _link(model, org, "customer", StripeCustomer, "customer_stripe_id")
    _link(StripeInvoice, org, "subscription", StripeSubscription, "subscription_stripe_id")
    for model in (StripeSubscriptionItem, StripeInvoiceLine):
        _link(model, org, "price", StripePrice, "price_stripe_id")
