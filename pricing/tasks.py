from celery import shared_task

from pricing.services.prices import price_override_apply as price_override_apply_service


@shared_task(acks_late=True)
def price_override_apply(override_id: int) -> int:
    return price_override_apply_service(override_id=override_id)
