"""Stripe webhooks: verify the signature with the organisation's own secret, record the event once, apply it.

A replayed event (same id) changes nothing. An event older than the state a row holds (its `state_at`,
set from the newest event or sync that wrote it) is recorded but not applied, so out-of-order delivery
never regresses a subscription or an invoice.
"""

from dataclasses import dataclass

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.vault import SecretUnreadableError, secret_decrypt
from pricing.models import StripeConnection, StripeEvent
from pricing.services.stripe_objects import (
    customer_upsert,
    epoch,
    invoice_upsert,
    price_upsert,
    product_upsert,
    subscription_upsert,
)

TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE


class WebhookRejectedError(Exception):
    """The request is not a genuine, fresh event for this organisation: nothing was changed."""


@dataclass
class WebhookOutcome:
    event_id: str
    type: str
    duplicate: bool = False
    applied: bool = False


def _handler(event_type: str):
    prefix, _, _ = event_type.rpartition(".")
    if event_type.startswith("customer.subscription."):
        return subscription_upsert
    if prefix == "customer" and event_type.count(".") == 1:
        return customer_upsert
    if prefix == "invoice":
        return invoice_upsert
    if prefix == "product":
        return product_upsert
    if prefix in ("price", "plan"):
        return price_upsert
    return None


def _secret(org) -> str:
    connection = StripeConnection.objects.for_org(org).first() if org is not None else None
    if connection is not None and connection.has_webhook_secret:
        try:
            return secret_decrypt(connection.webhook_secret_encrypted)
        except SecretUnreadableError as exc:
            raise WebhookRejectedError(str(exc)) from exc
    if org is not None and settings.STRIPE_WEBHOOK_SECRET:
        return settings.STRIPE_WEBHOOK_SECRET
    raise WebhookRejectedError("No webhook signing secret is configured for this organisation.")


def stripe_webhook_receive(*, org, payload: bytes, signature: str | None) -> WebhookOutcome:
    """Verify and apply one webhook delivery; returns what happened, or raises WebhookRejectedError.

    `org` may be None (an unknown organisation code): it is rejected like a bad signature, so the
    answer does not tell whether an organisation exists.
    """
    secret = _secret(org)
    try:
        event = stripe.Webhook.construct_event(payload, signature or "", secret, tolerance=TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise WebhookRejectedError("The Stripe-Signature header does not verify.") from exc
    data = event.to_dict()
    if not data.get("id") or not data.get("type") or data.get("created") is None:
        raise WebhookRejectedError("Not a Stripe event.")
    return _event_apply(org=org, data=data)


@transaction.atomic
def _event_apply(*, org, data: dict) -> WebhookOutcome:
    outcome = WebhookOutcome(event_id=data["id"], type=data["type"])
    created = epoch(data["created"])
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(
                org=org, stripe_id=data["id"], type=data["type"], stripe_created=created
            )
    except IntegrityError:
        outcome.duplicate = True
        return outcome
    handler = _handler(data["type"])
    obj = (data.get("data") or {}).get("object") or {}
    if handler is not None and obj.get("id"):
        outcome.applied = handler(org=org, obj=obj, state_at=created).written
    record.applied = outcome.applied
    record.save(update_fields=["applied"])
    return outcome
