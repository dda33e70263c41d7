"""A person's mark on a bill resource: a GPU host, or not one, whatever its names say."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ingest.models import CostLine, GpuResourceMark
from ingest.services.days import dirty_days_mark
from ingest.services.tally import days_covered

RESOURCE_ID_MAX = 500


@transaction.atomic
def gpu_resource_mark(*, org, resource_id: str, is_gpu: bool | None, user=None) -> GpuResourceMark | None:
    """Mark `resource_id` as a GPU host (True) or not (False), or forget the mark (None, detection decides again);
    every day its bill lines touch is recomputed. Returns the mark (None when forgotten)."""
    resource_id = (resource_id or "").strip()
    if not resource_id:
        raise ValidationError({"resource_id": "Give the resource id of the bill lines."})
    if len(resource_id) > RESOURCE_ID_MAX:
        raise ValidationError({"resource_id": f"A resource id has at most {RESOURCE_ID_MAX} characters."})
    if is_gpu is None:
        GpuResourceMark.objects.for_org(org).filter(resource_id=resource_id).delete()
        mark = None
    else:
        values = {"is_gpu": is_gpu, "marked_by": user, "marked_at": timezone.now()}
        mark, _ = GpuResourceMark.objects.update_or_create(org=org, resource_id=resource_id, defaults=values)
    resource_days_mark(org=org, resource_id=resource_id)
    return mark


def resource_days_mark(*, org, resource_id: str) -> None:
    """Mark dirty every day the bill lines of `resource_id` (or, without ids, of that resource name) touch."""
    named = Q(resource_id=resource_id) | Q(resource_id="", resource_name=resource_id)
    spans = CostLine.objects.for_org(org).filter(named).values_list("charge_period_start", "charge_period_end")
    days = set()
    for start, end in spans.distinct().iterator():
        days.update(days_covered(start, end))
    dirty_days_mark(org=org, days=days)
