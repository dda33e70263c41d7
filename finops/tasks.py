from celery import shared_task

from accounts.models import Organization
from finops.services.rollups import rollups_refresh
from ingest.models import DirtyDay


@shared_task(acks_late=True)
def rollup_org(org_id: int) -> int:
    org = Organization.objects.filter(pk=org_id).first()
    return len(rollups_refresh(org=org)) if org else 0


@shared_task
def rollup_dirty() -> int:
    """Fan out one rollup task per organisation with dirty days."""
    org_ids = sorted(set(DirtyDay.objects.values_list("org_id", flat=True)))
    for org_id in org_ids:
        rollup_org.delay(org_id)
    return len(org_ids)
