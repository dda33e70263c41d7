"""Stripe connection and sync: store an organisation's key and webhook secret, pull its Stripe account.

The pull goes through the official `stripe` library (a `StripeClient` per call, never the global key, so
two organisations' syncs cannot mix), pointed at `settings.STRIPE_API_BASE` when set. Each object type
is listed with auto-pagination from its `created[gte]` cursor (the newest `created` already seen; the
boundary second is read again, which the upserts make harmless), and open invoices are read again
because they change after creation (paid, voided); other later changes arrive by webhook, or with `full`.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.vault import SecretUnreadableError, secret_decrypt, secret_encrypt
from pricing.models import StripeConnection, StripeCustomer, StripeInvoice
from pricing.services.stripe_objects import (
    customer_upsert,
    invoice_upsert,
    price_upsert,
    product_upsert,
    subscription_upsert,
)

# Order matters: prices point at products, subscriptions at customers and prices, invoices at all of them.
KINDS = ("products", "plans", "prices", "customers", "subscriptions", "invoices")
OPEN_INVOICE_STATUSES = ("draft", "open")


class StripeSyncError(Exception):
    """The sync could not run or Stripe refused it; the message is safe to show the organisation."""


@dataclass
class StripeSyncResult:
    seen: Counter = field(default_factory=Counter)
    written: Counter = field(default_factory=Counter)
    invoice_ids: set = field(default_factory=set)

    def summary(self) -> str:
        parts = ", ".join(f"{self.seen[kind]} {kind}" for kind in KINDS)
        return f"Stripe sync: {parts} read; {sum(self.written.values())} rows new or updated."


def _last4(secret: str) -> str:
    return secret[-4:]


@transaction.atomic
def stripe_connection_save(*, org, api_key: str = "", webhook_secret: str = "") -> StripeConnection:
    """Store the key and/or the webhook secret given (blank keeps the stored one); returns the connection."""
    api_key, webhook_secret = (api_key or "").strip(), (webhook_secret or "").strip()
    errors = {}
    if api_key and not api_key.startswith(("rk_", "sk_")):
        errors["api_key"] = "A Stripe key starts with rk_ (restricted, recommended) or sk_."
    if webhook_secret and not webhook_secret.startswith("whsec_"):
        errors["webhook_secret"] = "A webhook signing secret starts with whsec_."
    if errors:
        raise ValidationError(errors)
    connection, _ = StripeConnection.objects.select_for_update().get_or_create(org=org)
    if api_key:
        connection.api_key_encrypted, connection.api_key_last4 = secret_encrypt(api_key), _last4(api_key)
    if webhook_secret:
        connection.webhook_secret_encrypted = secret_encrypt(webhook_secret)
        connection.webhook_secret_last4 = _last4(webhook_secret)
    connection.updated_at = timezone.now()
    connection.save()
    return connection


def stripe_client(api_key: str) -> stripe.StripeClient:
    """A client for one key, pointed at STRIPE_API_BASE when set (tests use a local Stripe-shaped server)."""
    base = getattr(settings, "STRIPE_API_BASE", "")
    return stripe.StripeClient(api_key, base_addresses={"api": base} if base else None, max_network_retries=2)


def _api_key(connection: StripeConnection | None, api_key: str | None) -> str:
    if api_key:
        return api_key
    if connection is not None and connection.has_api_key:
        try:
            return secret_decrypt(connection.api_key_encrypted)
        except SecretUnreadableError as exc:
            raise StripeSyncError(str(exc)) from exc
    if settings.STRIPE_API_KEY:
        return settings.STRIPE_API_KEY
    raise StripeSyncError("No Stripe key: enter a restricted read-only key on the Stripe settings page.")


def _listing(client: stripe.StripeClient, kind: str):
    return {
        "products": client.v1.products,
        "plans": client.v1.plans,
        "prices": client.v1.prices,
        "customers": client.v1.customers,
        "subscriptions": client.v1.subscriptions,
        "invoices": client.v1.invoices,
    }[kind]


UPSERTS = {
    "products": product_upsert,
    "plans": price_upsert,
    "prices": price_upsert,
    "customers": customer_upsert,
    "subscriptions": subscription_upsert,
}


def _invoice_store(client, org, obj: dict, state_at: datetime):
    lines_page = obj.get("lines") or {}
    lines = None
    if lines_page.get("has_more"):
        lines = [line.to_dict() for line in client.v1.invoices.line_items.list(obj["id"]).auto_paging_iter()]
    return invoice_upsert(org=org, obj=obj, state_at=state_at, lines=lines)


def _pull_kind(client, org, kind: str, cursor: int | None, state_at: datetime, result: StripeSyncResult) -> int | None:
    params = {"limit": 100}
    if cursor:
        params["created"] = {"gte": cursor}
    if kind == "subscriptions":
        params["status"] = "all"
    newest = cursor
    for item in _listing(client, kind).list(params=params).auto_paging_iter():
        obj = item.to_dict()
        if kind == "invoices":
            written = _invoice_store(client, org, obj, state_at).written
            result.invoice_ids.add(obj["id"])
        else:
            written = UPSERTS[kind](org=org, obj=obj, state_at=state_at).written
        result.seen[kind] += 1
        result.written[kind] += int(written)
        created = obj.get("created")
        if created is not None and (newest is None or int(created) > newest):
            newest = int(created)
    return newest


def _refresh_open_invoices(client, org, state_at: datetime, result: StripeSyncResult) -> None:
    """Invoices created before the cursor still change (paid, voided): read the open ones again."""
    open_ids = (
        StripeInvoice.objects.for_org(org).filter(status__in=OPEN_INVOICE_STATUSES).values_list("stripe_id", flat=True)
    )
    for stripe_id in [i for i in open_ids if i not in result.invoice_ids]:
        obj = client.v1.invoices.retrieve(stripe_id).to_dict()
        result.written["invoices"] += int(_invoice_store(client, org, obj, state_at).written)


def stripe_sync_run(*, org, api_key: str | None = None, full: bool = False) -> StripeSyncResult:
    """Pull the org's Stripe account into the mirror tables (idempotent); returns what was read and written.

    A key given here is used for this run only (`stripe_connection_save` stores one). Cursors advance per
    object type after that type is read completely, so an interrupted sync resumes where it stopped.
    """
    connection = StripeConnection.objects.for_org(org).first()
    client = stripe_client(_api_key(connection, api_key))
    if connection is None:
        connection = StripeConnection.objects.get_or_create(org=org)[0]
    # Second resolution, like Stripe's own timestamps: an event of the same second as the read still applies.
    state_at = timezone.now().replace(microsecond=0)
    result = StripeSyncResult()
    cursors = {} if full else dict(connection.cursors or {})
    try:
        for kind in KINDS:
            with transaction.atomic():
                newest = _pull_kind(client, org, kind, cursors.get(kind), state_at, result)
                if newest is not None:
                    cursors[kind] = newest
                StripeConnection.objects.for_org(org).update(cursors=cursors)
        with transaction.atomic():
            _refresh_open_invoices(client, org, state_at, result)
    except stripe.StripeError as exc:
        message = f"Stripe refused the sync: {exc.user_message or exc.__class__.__name__}"
        StripeConnection.objects.for_org(org).update(last_error=message[:1000], updated_at=timezone.now())
        raise StripeSyncError(message) from exc
    StripeConnection.objects.for_org(org).update(
        last_synced_at=timezone.now(), last_sync_summary=result.summary()[:300], last_error=""
    )
    return result


@transaction.atomic
def stripe_customer_map(*, org, code, customer_id: str) -> StripeCustomer:
    """Tie a Stripe customer to our customer id (blank: back to its metadata's id); returns the customer."""
    customer = StripeCustomer.objects.for_org(org).select_for_update().filter(code=code).first()
    if customer is None:
        raise ValidationError({"code": "No such Stripe customer."})
    customer.mapped_customer_id = (customer_id or "").strip()[:200]
    customer.customer_id = customer.mapped_customer_id or customer.metadata_customer_id
    customer.save(update_fields=["mapped_customer_id", "customer_id"])
    return customer
