from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Count, F, Max, Q, Sum, Window
from django.db.models.functions import RowNumber, TruncDate, TruncDay, TruncHour
from django.utils import timezone

from accounts.read_cache import ECONOMICS, LEDGER, cached_read
from ingest.gpu_facts import MJ_PER_KWH, seen_is_stale
from ingest.models import (
    BillPeriod,
    ColumnMapping,
    Connector,
    ConnectorFile,
    ConnectorRun,
    ContractCommitment,
    CostLine,
    GpuHost,
    GpuHour,
    GpuMinute,
    GpuResourceMark,
    ProcessMinute,
    QuarantinedDay,
    Upload,
    UsageEvent,
)
from ingest.services.tally import MAX_DAYS_PER_LINE


def upload_list(*, org, kind: str | None = None):
    """The organisation's uploads, newest first (optionally of one kind)."""
    uploads = Upload.objects.for_org(org).select_related("created_by", "mapping")
    return uploads.filter(kind=kind) if kind else uploads


def column_mapping_list(*, org):
    """Saved column mappings for GPU cloud CSVs, by name."""
    return ColumnMapping.objects.for_org(org)


@cached_read(LEDGER, ECONOMICS)
def ledger_billed_totals(*, org, start: datetime, end: datetime) -> dict:
    """Billed total and line count per currency for charges starting in [start, end)."""
    rows = (
        CostLine.objects.for_org(org)
        .filter(charge_period_start__gte=start, charge_period_start__lt=end)
        .values("currency")
        .annotate(total=Sum("billed_cost_amount"), lines=Count("id"))
        .order_by("currency")
    )
    return {row["currency"]: {"total": row["total"], "lines": row["lines"]} for row in rows}


def upload_usage_events(*, org, upload, limit: int = 20):
    """The first usage events an upload stored, in file order."""
    return UsageEvent.objects.for_org(org).filter(upload=upload).order_by("source_row")[:limit]


def upload_ledger_lines(*, org, upload, limit: int = 20):
    """The first ledger lines an upload wrote, in file order, for tracing numbers back to rows."""
    return CostLine.objects.for_org(org).filter(upload=upload).order_by("source_row")[:limit]


def upload_contents(*, org, upload) -> dict:
    """What deleting the upload removes: its rows of each ledger, the billing periods it stands for, and the UTC
    days whose rollups then change (sorted), counted and found by the database."""
    lines = CostLine.objects.for_org(org).filter(upload=upload)
    events = UsageEvent.objects.for_org(org).filter(upload=upload)
    return {
        "cost_lines": lines.count(),
        "usage_events": events.count(),
        "commitments": ContractCommitment.objects.for_org(org).filter(upload=upload).count(),
        "billing_periods": BillPeriod.objects.for_org(org).filter(upload=upload).count(),
        "days": sorted(cost_line_days(lines) | usage_event_days(events)),
    }


def cost_line_days(lines) -> set[date]:
    """The UTC days bill lines touch, from one grouped read of their (start day, end day) pairs: from the start's
    day through the end's (a day more than the rollup reads when the end is exactly midnight: harmless, it is only
    recomputed), at most MAX_DAYS_PER_LINE days after the start, as the importer marks them."""
    days = set()
    spans = lines.values_list(TruncDate("charge_period_start", tzinfo=UTC), TruncDate("charge_period_end", tzinfo=UTC))
    for first, last in spans.order_by().distinct():
        span = 0 if last is None or last <= first else min((last - first).days, MAX_DAYS_PER_LINE)
        days.update(first + timedelta(days=i) for i in range(span + 1))
    return days


def usage_event_days(events) -> set[date]:
    """The UTC days of usage events, the database's distinct dates of their moments."""
    return set(events.values_list(TruncDate("occurred_at", tzinfo=UTC), flat=True).order_by().distinct())


QUARANTINE_LISTED = 20


def quarantined_day_list(*, org) -> list[dict]:
    """The organisation's quarantined days (the oldest QUARANTINE_LISTED), each with its error and the uploads whose
    bill lines or usage events fall on it, and whether live events (no upload) do: in four queries at most."""
    days = list(QuarantinedDay.objects.for_org(org).order_by("day")[:QUARANTINE_LISTED])
    if not days:
        return []
    on_day, crossing = Q(pk__in=[]), Q(pk__in=[])
    for record in days:
        start = datetime.combine(record.day, time(0), tzinfo=UTC)
        on_day |= Q(occurred_at__gte=start, occurred_at__lt=start + timedelta(days=1))
        crossing |= Q(charge_period_start__gte=start, charge_period_start__lt=start + timedelta(days=1)) | Q(
            charge_period_start__gte=start - timedelta(days=MAX_DAYS_PER_LINE),
            charge_period_start__lt=start,
            charge_period_end__gt=start,
        )
    line_uploads = (
        CostLine.objects.for_org(org)
        .filter(crossing)
        .annotate(day=TruncDate("charge_period_start", tzinfo=UTC), end=F("charge_period_end"))
    )
    found = set()  # (upload id, day)
    for upload_id, first, end in line_uploads.values_list("upload_id", "day", "end").order_by().distinct():
        for record in days:
            start = datetime.combine(record.day, time(0), tzinfo=UTC)
            if first == record.day or (first < record.day and end is not None and end > start):
                found.add((upload_id, record.day))
    event_uploads = UsageEvent.objects.for_org(org).filter(on_day)
    for upload_id, day in (
        event_uploads.values_list("upload_id", TruncDate("occurred_at", tzinfo=UTC)).order_by().distinct()
    ):
        found.add((upload_id, day))
    uploads = Upload.objects.for_org(org).in_bulk({upload_id for upload_id, _ in found if upload_id})
    return [
        {
            "day": record.day,
            "error": record.error,
            "attempts": record.attempts,
            "first_failed_at": record.first_failed_at,
            "last_failed_at": record.last_failed_at,
            "retry_after": record.retry_after,
            "uploads": sorted(
                (uploads[u] for u, d in found if d == record.day and u in uploads), key=lambda u: u.created_at
            ),
            "live_events": any(u is None and d == record.day for u, d in found),
        }
        for record in days
    ]


def usage_event_list(*, org):
    """The organisation's usage ledger."""
    return UsageEvent.objects.for_org(org)


@cached_read(LEDGER, ECONOMICS)
def usage_summary(*, org, start: datetime, end: datetime) -> dict:
    """Model calls in [start, end): counts, priced and unpriced, cost by source, tokens, jobs and retries. One pass
    over the period's calls for the counts, costs and tokens; the unpriced models grouped only when there are any;
    the jobs in one more."""
    events = usage_event_list(org=org).filter(occurred_at__gte=start, occurred_at__lt=end)
    sources = (UsageEvent.CostSource.REPORTED, UsageEvent.CostSource.CATALOGUE)
    unpriced_only = Q(cost_source=UsageEvent.CostSource.UNPRICED)
    totals = events.aggregate(
        calls=Sum("request_count"),
        priced_calls=Sum("request_count", filter=Q(cost_source__in=sources)),
        unpriced_calls=Sum("request_count", filter=unpriced_only),
        unpriced_rows=Count("id", filter=unpriced_only),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        **{
            f"cost_{source.value}": Sum("cost_amount", filter=Q(cost_source=source, currency=org.currency))
            for source in sources
        },
    )
    by_source = {source: totals[f"cost_{source.value}"] for source in sources}
    unpriced = []
    if totals["unpriced_rows"]:
        unpriced = list(
            events.filter(unpriced_only)
            .values("provider", "model")
            .annotate(calls=Sum("request_count"))
            .order_by("-calls", "provider", "model")
        )
    known = [value for value in by_source.values() if value is not None]
    return {
        **{key: totals[key] or 0 for key in ("calls", "priced_calls", "unpriced_calls")},
        "input_tokens": totals["input_tokens"],
        "output_tokens": totals["output_tokens"],
        "cost": sum(known) if known else None,
        "cost_by_source": by_source,
        "unpriced_models": unpriced,
        **_jobs(events),
    }


def _jobs(events) -> dict:
    """Completed jobs (their last attempt ok), failed jobs (the others) and retries (attempts minus jobs), as
    ECONOMICS.md defines them: one pass that numbers each job's attempts from the last (ROW_NUMBER over the job),
    so the work grows with the period's calls, not with calls x calls as a per-job subquery did."""
    last_first = (F("attempt").desc(), F("occurred_at").desc(), F("id").desc())
    ranked = events.exclude(job_id="").annotate(rank=Window(RowNumber(), partition_by=F("job_id"), order_by=last_first))
    counts = ranked.aggregate(
        attempts=Count("id"), jobs=Count("id", filter=Q(rank=1)), completed=Count("id", filter=Q(rank=1, status="ok"))
    )
    return {
        "completed_jobs": counts["completed"],
        "failed_jobs": counts["jobs"] - counts["completed"],
        "retries": counts["attempts"] - counts["jobs"],
    }


# Usage providers whose own bills (or cost reports) are token spend, by the names bills use.
LLM_BILL_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "mistral ai": "mistral", "mistral": "mistral"}


@cached_read(LEDGER, ECONOMICS)
def reconciliation(*, org, start: datetime, end: datetime) -> list[dict]:
    """Per provider: the cost of logged calls against the provider's bill in [start, end), and the gap. The calls
    are read once, grouped by provider (a provider whose calls have no cost is listed, its total unknown), and the
    bill lines once."""
    calls = {
        row["provider"]: row["total"]
        for row in usage_event_list(org=org)
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .values("provider")
        .annotate(total=Sum("cost_amount"))
        .order_by()
    }
    bills = {}
    lines = CostLine.objects.for_org(org).filter(charge_period_start__gte=start, charge_period_start__lt=end)
    for row in lines.values("provider").annotate(total=Sum("billed_cost_amount")).order_by():
        provider = LLM_BILL_PROVIDERS.get(row["provider"].strip().lower())
        if provider:
            bills[provider] = bills.get(provider, 0) + row["total"]
    result = []
    for provider in sorted(set(calls) | set(bills)):
        call_total, bill_total = calls.get(provider), bills.get(provider)
        gap = bill_total - call_total if call_total is not None and bill_total is not None else None
        result.append(
            {
                "provider": provider,
                "currency": org.currency,
                "calls_total": call_total,
                "bill_total": bill_total,
                "gap": gap,
                "status": _status(gap),
            }
        )
    return result


def _status(gap) -> str:
    if gap is None:
        return "incomplete"
    if abs(gap) < Decimal("0.005"):
        return "matched"
    return "under" if gap > 0 else "over"  # calls under the bill: unattributed token spend


def usage_cost_by_provider_day(*, org) -> dict:
    """{(provider, date): cost of priced calls} over the whole usage ledger."""
    rows = (
        usage_event_list(org=org)
        .filter(cost_amount__isnull=False)
        .annotate(day=TruncDate("occurred_at"))
        .values("provider", "day")
        .annotate(total=Sum("cost_amount"))
    )
    return {(row["provider"], row["day"]): row["total"] for row in rows}


def host_list(*, org, start: datetime, end: datetime) -> list[dict]:
    """Agent hosts with their GPUs and, for [start, end), stored GPU minutes and busy, idle, zombie and unowned
    GPU-seconds of the GPU-hour facts of the hours starting in it."""
    usage = {
        row["gpu__host_id"]: row
        for row in GpuMinute.objects.for_org(org)
        .filter(minute__gte=start, minute__lt=end)
        .values("gpu__host_id")
        .annotate(samples=Count("id"))
        .order_by()
    }
    # Busy and idle from the GPU-hour facts, as the host page (host_hour_totals) and the economics read them.
    facts = {
        row["gpu__host_id"]: row
        for row in GpuHour.objects.for_org(org)
        .filter(hour__gte=start, hour__lt=end)
        .values("gpu__host_id")
        .annotate(
            busy=Sum("busy_seconds"),
            idle=Sum("idle_seconds"),
            zombie=Sum("zombie_seconds"),
            unowned=Sum("unowned_seconds"),
        )
        .order_by()
    }
    hosts, now = [], timezone.now()
    for host in GpuHost.objects.for_org(org).prefetch_related("gpus"):
        row = usage.get(host.pk, {})
        derived = facts.get(host.pk, {})
        hosts.append(
            {
                "code": host.code,
                "name": host.name,
                "last_seen": host.last_seen_at,
                "stale": seen_is_stale(host.last_seen_at, now),
                "owner": host.owner,
                "gpus": list(host.gpus.all()),
                "samples": row.get("samples", 0),
                "resource_id": host.bill_resource_id or None,
                "reported_hostname": host.reported_hostname,
                "gpu_seconds_busy": derived.get("busy") or 0,
                "gpu_seconds_idle": derived.get("idle") or 0,
                "gpu_seconds_zombie": derived.get("zombie") or 0,
                "gpu_seconds_unowned": derived.get("unowned") or 0,
            }
        )
    return hosts


def host_for_code(*, org, code):
    """One agent host of the organisation, or None."""
    return GpuHost.objects.for_org(org).prefetch_related("gpus").filter(code=code).first()


# The host page charts one point per stored minute up to a day, then per hour up to a year, then per day: a longer
# period (the page's default week included) is summed into points by the database instead of reading every
# GPU-minute into Python and plotting it (a 2-GPU week: 20,160 minute points, 336 hourly ones).
TIMELINE_PER_MINUTE = timedelta(days=1)
TIMELINE_PER_HOUR = timedelta(days=366)
TIMELINE_SUMS = {"n": Sum("samples"), "util": Sum("utilization_gpu_sum"), "memory": Max("memory_used_max_bytes"),
                 "power": Sum("power_mw_sum"), "power_n": Sum("power_samples")}  # fmt: skip


class TimelinePoint(NamedTuple):
    """One point of a GPU's line on the host page (None where nothing was measured)."""

    at: datetime
    utilization_pct: float | None  # mean
    memory_used_bytes: int | None  # peak
    power_watts: float | None  # mean


@cached_read(LEDGER, ECONOMICS)
def host_timeline(*, org, host, start: datetime, end: datetime) -> dict:
    """Per GPU of `host`: its label and `TimelinePoint`s in [start, end), one per minute for up to a day, per hour
    (UTC) up to a year, per day (UTC) beyond."""
    if end - start <= TIMELINE_PER_MINUTE:
        at = F("minute")
    else:
        at = (TruncHour if end - start <= TIMELINE_PER_HOUR else TruncDay)("minute", tzinfo=UTC)
    rows = (
        GpuMinute.objects.for_org(org)
        .filter(gpu__host=host, minute__gte=start, minute__lt=end)
        .annotate(at=at)
        .values("gpu_id", "gpu__index", "gpu__name", "at")
        .annotate(**TIMELINE_SUMS)
        .order_by("gpu__index", "at")
    )
    series = {}
    for row in rows:
        gpu = series.setdefault(row["gpu_id"], {"label": f"#{row['gpu__index']} {row['gpu__name']}", "points": []})
        gpu["points"].append(
            TimelinePoint(
                at=row["at"],
                utilization_pct=int(row["util"]) / int(row["n"]) if row["n"] else None,
                memory_used_bytes=None if row["memory"] is None else int(row["memory"]),
                power_watts=int(row["power"]) / int(row["power_n"]) / 1000 if row["power_n"] else None,
            )
        )
    return series


@cached_read(LEDGER, ECONOMICS)
def host_workloads(*, org, host, start: datetime, end: datetime) -> list[dict]:
    """GPU-seconds and peak memory per label set on `host` in [start, end), largest first."""
    rows = (
        ProcessMinute.objects.for_org(org)
        .filter(gpu__host=host, minute__gte=start, minute__lt=end)
        .values("customer", "feature", "job_id", "purpose", "owner", "environment")
        .annotate(gpu_seconds=Sum("gpu_seconds"), memory=Max("memory_max_bytes"), minutes=Count("id"))
        .order_by("-gpu_seconds")
    )
    return list(rows[:50])


@cached_read(LEDGER, ECONOMICS)
def host_hour_totals(*, org, host, start: datetime, end: datetime) -> dict:
    """GPU-seconds busy, idle, zombie and unowned, and energy in kWh (None when unmeasured), summed over
    `host`'s GPU-hour facts for the hours starting in [start, end) (the bounds the hosts list uses)."""
    row = (
        GpuHour.objects.for_org(org)
        .filter(gpu__host=host, hour__gte=start, hour__lt=end)
        .aggregate(
            busy=Sum("busy_seconds"),
            idle=Sum("idle_seconds"),
            zombie=Sum("zombie_seconds"),
            unowned=Sum("unowned_seconds"),
            energy=Sum("energy_mj"),
        )
    )
    return {
        "gpu_seconds_busy": row["busy"] or 0,
        "gpu_seconds_idle": row["idle"] or 0,
        "gpu_seconds_zombie": row["zombie"] or 0,
        "gpu_seconds_unowned": row["unowned"] or 0,
        "energy_kwh": None if row["energy"] is None else Decimal(row["energy"]) / MJ_PER_KWH,
    }


def gpu_resource_marks(*, org) -> dict:
    """{resource id: is_gpu} of the organisation's marks on bill resources."""
    return dict(GpuResourceMark.objects.for_org(org).values_list("resource_id", "is_gpu"))


def gpu_resource_mark_list(*, org):
    """The organisation's marks on bill resources, the latest first."""
    return GpuResourceMark.objects.for_org(org).select_related("marked_by").order_by("-marked_at")


def connector_list(*, org):
    """The organisation's connectors, by name."""
    return Connector.objects.for_org(org).order_by("name")


def connector_runs(*, org, connector, limit: int = 10):
    """The connector's latest runs, newest first."""
    return ConnectorRun.objects.for_org(org).filter(connector=connector).order_by("-started_at")[:limit]


def connector_files(*, org, connector, limit: int = 50):
    """The files the connector has pulled, newest first, with their uploads."""
    return (
        ConnectorFile.objects.for_org(org)
        .filter(connector=connector)
        .select_related("upload")
        .order_by("-imported_at")[:limit]
    )


def connector_status_counts() -> dict:
    """How many connectors (all organisations) last ended ok, failed, never ran or are running: for /healthz."""
    counts = dict(Connector.objects.values_list("last_status").annotate(n=Count("id")).order_by())
    return {status: counts.get(status, 0) for status in Connector.Status.values}
