"""Stripe dashboard exports through the upload path: all of a file or none of it, stored like a sync.

Ingest sits below pricing, so `ingest.services.uploads.upload_run` reaches `revenue_file_import` through
`settings.REVENUE_IMPORTER`. The file is read and checked whole first (`pricing/sources/stripe_csv.py`: a bad
cell, a missing column or rows that disagree reject it with their row and column); then, in one transaction,
each object goes through the upserts the sync and the webhooks use.

Ordering: an export shows state as of some moment after the latest thing its row shows happening (created,
started, renewed, canceled, paid), never before. The row is stored as of a microsecond before that moment: a
webhook or a sync that saw the same or a later state (second resolution) keeps its row, an older one gives
way, and the same file imported again stores the same values again, which changes nothing. A row that shows
no time at all never overwrites anything.

Every row the file writes records the upload (`upload`); a sync or a webhook writing the same object later sets it
back to None. Deleting the upload (`ingest.services.deletions.upload_delete`, through `settings.REVENUE_DELETER`)
deletes the objects whose last writer it was, with their items and lines: `revenue_upload_delete`.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from finops.money import as_json
from ingest.readers import open_table
from ingest.services.problems import ErrorList, ImportRejectedError, ParsedRows
from ingest.services.upload_files import upload_file_path
from pricing.models import (
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceLine,
    StripePrice,
    StripeProduct,
    StripeSubscription,
    StripeSubscriptionItem,
)
from pricing.services.stripe_objects import (
    customer_upsert,
    invoice_upsert,
    minor,
    plan_days,
    product_upsert,
    references_link,
    subscription_upsert,
)
from pricing.sources.stripe_csv import EXPORTS, EXPORTS_BY_NAME, detect_export

NEVER = datetime(1970, 1, 1, tzinfo=UTC)
BEFORE_THE_MOMENT = timedelta(microseconds=1)


def _choose_export(upload, columns):
    if upload.requested_format:
        export = EXPORTS_BY_NAME.get(upload.requested_format)
        if export is None:
            names = ", ".join(e.name for e in EXPORTS)
            raise ImportRejectedError.single(f"Unknown revenue format {upload.requested_format!r}; use one of {names}.")
        return export
    export = detect_export(columns)
    if export is None:
        shown = ", ".join(str(c) for c in columns[:6]) + (f" and {len(columns) - 6} more" if len(columns) > 6 else "")
        raise ImportRejectedError.single(
            f"This is not a Stripe export we know (customers, subscriptions, invoices); its header has {shown}.",
            row=1,
        )
    return export


def state_at_of(moments, now: datetime) -> datetime:
    """When an exported row's state was at least current: just before the latest past moment it shows."""
    shown = [moment for moment in moments if moment is not None and moment <= now]
    return (max(shown) if shown else NEVER) - BEFORE_THE_MOMENT


def _product_ref(org, product):
    if isinstance(product, dict) and StripeProduct.objects.for_org(org).filter(stripe_id=product["id"]).exists():
        return product["id"]
    return product


def _price_ref(org, price: dict | None, state_at: datetime, upload=None):
    """The price to hand the upsert: the dict when the org does not hold it yet (stored with the row), else its
    id, after filling in what the held price leaves blank (a price first seen on an invoice line has no amount
    until the subscriptions export names it)."""
    if price is None:
        return None
    held = StripePrice.objects.for_org(org).select_for_update().filter(stripe_id=price["id"]).first()
    if held is None:
        price["product"] = _product_ref(org, price.get("product"))
        return price
    changed = []
    recurring = price.get("recurring") or {}
    if not held.nickname and price.get("nickname"):
        held.nickname = price["nickname"][:255]
        changed.append("nickname")
    currency = (price.get("currency") or "").upper()
    amount_known = price.get("unit_amount_decimal") is not None and currency
    if held.unit_amount is None and amount_known and held.currency in ("", currency):
        held.unit_amount, held.currency = minor(price["unit_amount_decimal"], currency), currency
        changed += ["unit_amount", "currency"]
    if not held.interval and recurring.get("interval"):
        held.interval, held.interval_count = recurring["interval"], recurring["interval_count"]
        held.usage_type = held.usage_type or recurring.get("usage_type") or ""
        changed += ["interval", "interval_count", "usage_type"]
    product = price.get("product")
    if not held.product_stripe_id and isinstance(product, dict):
        held.product = product_upsert(org=org, obj=product, state_at=state_at, upload=upload).row
        held.product_stripe_id = product["id"]
        changed += ["product", "product_stripe_id"]
    if changed:
        held.save(update_fields=changed)
    return price["id"]


def _store(org, exported, state_at: datetime, upload) -> bool:
    obj = exported.obj
    if exported.kind == "customer":
        return customer_upsert(org=org, obj=obj, state_at=state_at, upload=upload).written
    if exported.kind == "subscription":
        for item in obj["items"]["data"]:
            item["price"] = _price_ref(org, item["price"], state_at, upload)
        return subscription_upsert(org=org, obj=obj, state_at=state_at, upload=upload).written
    for line in obj["lines"]["data"]:
        line["price"] = _price_ref(org, line["price"], state_at, upload)
    return invoice_upsert(org=org, obj=obj, state_at=state_at, upload=upload).written


def _span(found) -> tuple:
    """(first, last) moment the file covers: invoices' service periods, else when the objects were created."""
    moments = []
    for exported in found:
        obj = exported.obj
        for key in ("period_start", "period_end", "created"):
            if obj.get(key) is not None:
                moments.append(datetime.fromtimestamp(obj[key], tz=UTC))
    return (min(moments), max(moments)) if moments else (None, None)


def _paid_totals(found) -> dict:
    totals = {}
    for exported in found:
        if exported.kind == "invoice":
            currency = exported.obj["currency"].upper()
            paid = minor(exported.obj["amount_paid"], currency) or Decimal(0)
            totals[currency] = totals.get(currency, Decimal(0)) + paid
    return {currency: as_json(total) for currency, total in sorted(totals.items())}


def revenue_file_import(upload) -> None:
    """Store the upload's Stripe export in the mirror tables; raises ImportRejectedError (nothing written) on any
    error, else marks the upload done with what it stored."""
    errors = ErrorList()
    with open_table(upload_file_path(upload)) as table:
        export = _choose_export(upload, table.columns)
        upload.format = export.name
        source = export(table.columns)
        for column in source.missing_columns():
            errors.add(1, column, f"The header has no {column} column; a {export.label} has it.")
        errors.raise_if_any()
        parsed = ParsedRows(table.records(), source, errors)
        rows = list(parsed)
    errors.raise_if_any()
    found = source.objects(rows, errors)
    errors.raise_if_any()
    now = timezone.now()
    written = 0
    with transaction.atomic():
        for exported in found:
            written += _store(upload.org, exported, state_at_of(exported.moments, now), upload)
        references_link(org=upload.org)
        upload.rows_total = parsed.total
        upload.rows_loaded = written
        upload.rows_duplicate = len(found) - written  # a webhook or sync held newer state
        upload.period_start, upload.period_end = _span(found)
        upload.totals = _paid_totals(found)
        upload.status = upload.Status.DONE
        upload.finished_at = timezone.now()
        upload.save()  # in the same transaction: the mirrors and "done" appear together


# Children before their parents, so each count is of rows that were still there (a parent's delete also takes the
# children other writers left under it, counted with it).
_WRITTEN_BY_UPLOAD = (
    StripeInvoiceLine,
    StripeInvoice,
    StripeSubscriptionItem,
    StripeSubscription,
    StripePrice,
    StripeProduct,
    StripeCustomer,
)


def revenue_upload_delete(*, org, upload) -> dict:
    """Delete the Stripe objects whose last writer was this revenue upload, with their items and lines (the caller,
    `upload_delete`, holds the transaction); those a sync or webhook has written since (upload None) stay. Returns
    how many rows went and the days the deleted subscriptions may have labelled with a plan (to recompute)."""
    subscriptions = list(
        StripeSubscription.objects.for_org(org).filter(upload=upload).only("trial_start", "stripe_created")
    )
    deleted = sum(model.objects.for_org(org).filter(upload=upload).delete()[0] for model in _WRITTEN_BY_UPLOAD)
    return {"stripe_objects": deleted, "days": set(plan_days(subscriptions))}
