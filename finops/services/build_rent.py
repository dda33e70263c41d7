"""Writes of the build-versus-rent page: the organisation's GPU rate card."""

from django.db import transaction
from django.utils import timezone

from finops.models import GpuRate


@transaction.atomic
def gpu_rate_save(*, org, gpu_type: str, **fields) -> GpuRate:
    """Create or replace one GPU type's prices on the organisation's rate card; returns the saved row."""
    gpu_type = gpu_type.strip()
    if not gpu_type:
        raise ValueError("a GPU type needs a name")
    fields["currency"] = fields.get("currency", org.currency).upper()
    rate, _ = GpuRate.objects.for_org(org).update_or_create(
        org=org, gpu_type=gpu_type, defaults={**fields, "updated_at": timezone.now()}
    )
    return rate
