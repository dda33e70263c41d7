"""Dirty days: the (org, day) pairs whose rollups must be recomputed."""

from accounts.read_cache import LEDGER, org_changed
from ingest.models import DirtyDay


def dirty_days_mark(*, org, days) -> None:
    """Record that these UTC dates of the organisation changed; repeat calls just refresh the mark. Every write
    to a ledger marks its days, so this is also where the reads of raw ledger rows learn that they changed."""
    DirtyDay.objects.bulk_create(
        [DirtyDay(org=org, day=day) for day in sorted(set(days))],
        update_conflicts=True,
        unique_fields=["org", "day"],
        update_fields=["marked_at"],
        batch_size=1000,
    )
    org_changed(org.pk, LEDGER)
