"""The rollup: recompute exactly the (org, day) pairs ingest marked dirty, replacing their rows whole."""

from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from finops.economics.allocation import allocate_day
from finops.economics.rollup import job_rows, rollup_rows
from finops.models import JobRollup, Rollup, RollupDay
from finops.selectors.inputs import day_inputs
from ingest.models import DirtyDay


@transaction.atomic
def rollup_day_recompute(*, org, day: date) -> int:
    """Replace the rollup and job rows of one org-day from the ledgers; returns the rollup rows written."""
    items = allocate_day(day_inputs(org=org, day=day))
    Rollup.objects.for_org(org).filter(day=day).delete()
    JobRollup.objects.for_org(org).filter(day=day).delete()
    rows = [_rollup(org, day, row) for row in rollup_rows(items)]
    Rollup.objects.bulk_create(rows, batch_size=2000)
    JobRollup.objects.bulk_create([_job(org, day, job) for job in job_rows(items)], batch_size=2000)
    RollupDay.objects.update_or_create(org=org, day=day, defaults={"computed_at": timezone.now(), "rows": len(rows)})
    return len(rows)


def _rollup(org, day, row) -> Rollup:
    values = {k: v for k, v in row.items() if k != "amount"}
    return Rollup(org=org, day=day, cost_amount=row["amount"], **values)


def _job(org, day, job) -> JobRollup:
    return JobRollup(
        org=org,
        day=day,
        job_id=job.job_id,
        customer=job.customer,
        plan=job.plan,
        feature=job.feature,
        purpose=job.purpose,
        jobs_completed=job.jobs_completed,
        jobs_failed=job.jobs_failed,
        attempts=job.attempts,
        cost_completed_amount=job.cost_completed,
        cost_failed_amount=job.cost_failed,
        retry_cost_amount=job.retry_cost,
        currency=job.currency,
        gpu_seconds=job.gpu_seconds,
        unpriced_calls=job.unpriced_calls,
    )


def rollups_refresh(*, org) -> list[date]:
    """Recompute every dirty day of `org`, oldest first; returns the days recomputed.

    Each day is claimed under a row lock (skipping days another worker holds) and its mark is removed
    only if nothing re-marked it while we computed, so a concurrent ingest is never lost.
    """
    done = []
    for day in list(DirtyDay.objects.for_org(org).order_by("day").values_list("day", flat=True)):
        with transaction.atomic():
            mark = DirtyDay.objects.for_org(org).select_for_update(skip_locked=True).filter(day=day).first()
            if mark is None:
                continue
            rollup_day_recompute(org=org, day=day)
            DirtyDay.objects.for_org(org).filter(pk=mark.pk, marked_at=mark.marked_at).delete()
        done.append(day)
    return done


def rollups_refresh_when_embedded(*, org) -> list[date]:
    """In the embedded mode (tasks run in-process, no beat) a read brings the org's rollups up to date first;
    with workers the periodic task does it."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    return rollups_refresh(org=org)
