from celery import shared_task

from accounts.models import Organization
from pricing.selectors import stripe_connected_org_ids
from pricing.services.prices import price_override_apply as price_override_apply_service
from pricing.services.stripe_sync import StripeSyncError, stripe_sync_run


@shared_task(acks_late=True)
def price_override_apply(override_id: int) -> int:
    return price_override_apply_service(override_id=override_id)


@shared_task(acks_late=True)
def stripe_sync_org(org_id: int) -> str:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return "no such organisation"
    try:
        return stripe_sync_run(org=org).summary()
    except StripeSyncError as exc:
        return str(exc)


@shared_task
def stripe_sync_all() -> int:
    """Fan out one sync task per organisation with a stored Stripe key."""
    org_ids = stripe_connected_org_ids()
    for org_id in org_ids:
        stripe_sync_org.delay(org_id)
    return len(org_ids)
