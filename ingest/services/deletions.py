"""Taking data out: an upload with every row it loaded, or usage events by upload or by `event_id`.

Each runs in one transaction and deletes with one `DELETE ... WHERE` per table (the ledgers have no delete signal
listeners, so Django never loads their rows: accounts/read_cache.py, QUIET_MODELS); the days the deleted rows fell
on are found by the database and marked dirty, so their rollups recompute (and a day quarantined by a bad row it
held is tried again). A revenue upload's Stripe objects live in the pricing app, above this one: they go through
`settings.REVENUE_DELETER`, in the same transaction."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from ingest.models import BillPeriod, ContractCommitment, CostLine, Upload, UsageEvent
from ingest.selectors import cost_line_days, usage_event_days
from ingest.services.days import dirty_days_mark

MAX_EVENT_IDS = 1000


class UploadBusyError(Exception):
    """The upload's import is running: its rows are not committed yet, so deleting now would miss them."""


def upload_busy(upload) -> bool:
    """True while a worker imports the upload (one stuck past the hard time limit no longer counts)."""
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    return upload.status == Upload.Status.PROCESSING and upload.started_at is not None and upload.started_at >= stale


@transaction.atomic
def upload_delete(*, org, upload) -> dict:
    """Delete the upload, its bill lines, usage events and contract commitments, and the billing periods it
    stands for (so the same period uploaded again is a first load, not a restatement); returns the counts and
    the days marked dirty. The stored file goes once the deletion is committed. Raises UploadBusyError while
    its import runs. For a revenue export, the Stripe objects whose last writer was this upload go too, with their
    items and lines (`stripe_objects`), and the days their subscriptions' plans labelled recompute; objects a sync
    or webhook has written since hold Stripe's own state and stay."""
    locked = Upload.objects.for_org(org).select_for_update().filter(pk=upload.pk).first()
    if locked is None:  # deleted by a concurrent request: nothing left to do
        raise Upload.DoesNotExist
    if upload_busy(locked):
        raise UploadBusyError("This upload is being imported; delete it once the import has finished.")
    lines = CostLine.objects.for_org(org).filter(upload=locked)
    events = UsageEvent.objects.for_org(org).filter(upload=locked)
    days = cost_line_days(lines) | usage_event_days(events)
    counts = {
        "cost_lines": lines.delete()[0],
        "usage_events": events.delete()[0],
        "commitments": ContractCommitment.objects.for_org(org).filter(upload=locked).delete()[0],
        "billing_periods": BillPeriod.objects.for_org(org).filter(upload=locked).delete()[0],
        "stripe_objects": 0,
    }
    if locked.kind == Upload.Kind.REVENUE:
        revenue = import_string(settings.REVENUE_DELETER)(org=org, upload=locked)
        counts["stripe_objects"] = revenue["stripe_objects"]
        days |= set(revenue["days"])
    if days:
        dirty_days_mark(org=org, days=days)
    code, kind, name, storage = locked.code, locked.kind, locked.file.name, locked.file.storage
    locked.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name))
    return {"upload": code, "kind": kind, **counts, "days": sorted(days)}


@transaction.atomic
def usage_events_delete(*, org, event_ids=None, upload=None) -> dict:
    """Delete usage events named by `event_id` (at most MAX_EVENT_IDS) or all those an upload stored; returns how
    many went, the ids not held (already deleted, or never sent: a replay deletes nothing more and says so) and
    the days marked dirty. Raises ValidationError for neither or both, or too many ids; UploadBusyError while the
    upload's import runs."""
    if (event_ids is None) == (upload is None):
        raise ValidationError("Name the events to delete: event_ids, or upload, not both.")
    events = UsageEvent.objects.for_org(org)
    not_found = []
    if upload is not None:
        if upload_busy(upload):
            raise UploadBusyError("This upload is being imported; delete its events once the import has finished.")
        events = events.filter(upload=upload)
    else:
        asked = list(dict.fromkeys(event_ids))
        if len(asked) > MAX_EVENT_IDS:
            raise ValidationError(f"At most {MAX_EVENT_IDS} event ids per request.")
        events = events.filter(event_id__in=asked)
        held = set(events.values_list("event_id", flat=True))
        not_found = [event_id for event_id in asked if event_id not in held]
    days = usage_event_days(events)
    deleted = events.delete()[0]
    if days:
        dirty_days_mark(org=org, days=days)
    return {"deleted": deleted, "not_found": not_found, "days": sorted(days)}
