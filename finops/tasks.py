from datetime import datetime

from celery import shared_task
from django.utils import timezone

from accounts.models import Organization
from finops.selectors.warm import first_reads_warm
from finops.services import budgets, digests
from finops.services.rollups import rollups_refresh
from ingest.models import DirtyDay, QuarantinedDay
from ingest.periods import week_label


@shared_task(acks_late=True)
def rollup_org(org_id: int) -> int:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return 0
    done = rollups_refresh(org=org)
    if done:
        rollup_reads_warm.delay(org_id)
    return len(done)


@shared_task
def rollup_reads_warm(org_id: int) -> None:
    """After new rollups, the reads of the pages a founder opens first into the read cache (on the rollup queue),
    before anyone asks."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is not None:
        first_reads_warm(org=org)


@shared_task
def rollup_dirty() -> int:
    """Fan out one rollup task per organisation with dirty days or a quarantined day due for a retry."""
    due = QuarantinedDay.objects.filter(retry_after__lte=timezone.now()).values_list("org_id", flat=True)
    org_ids = sorted({*DirtyDay.objects.values_list("org_id", flat=True), *due})
    for org_id in org_ids:
        rollup_org.delay(org_id)
    return len(org_ids)


@shared_task(acks_late=True)
def send_budget_alerts(org_id: int) -> int:
    org = Organization.objects.filter(pk=org_id).first()
    return budgets.budget_alerts_send(org=org) if org else 0


@shared_task
def budget_reservations_purge() -> int:
    return budgets.budget_reservations_purge()


@shared_task(acks_late=True)
def send_digest_org(org_id: int, week_iso: str) -> int:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return 0
    return len(digests.digests_send(org=org, week=digests.digest_week(org=org, week=week_iso, now=timezone.now())).sent)


@shared_task
def digests_due(now: str | None = None) -> int:
    """Fan out one digest task per organisation where it is Monday from 08:00 local time, for the week that just
    ended; hourly, so a digest whose sending failed is tried again the next hour (the claim stops repeats)."""
    due = digests.digest_orgs_due(now=datetime.fromisoformat(now) if now else timezone.now())
    for org_id, monday in due:
        send_digest_org.delay(org_id, week_label(monday))
    return len(due)
