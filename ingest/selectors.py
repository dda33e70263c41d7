from datetime import datetime

from django.db.models import Count, Sum

from ingest.models import ColumnMapping, CostLine, Upload


def upload_list(*, org, kind: str | None = None):
    """The organisation's uploads, newest first (optionally of one kind)."""
    uploads = Upload.objects.for_org(org).select_related("created_by", "mapping")
    return uploads.filter(kind=kind) if kind else uploads


def column_mapping_list(*, org):
    """Saved column mappings for GPU cloud CSVs, by name."""
    return ColumnMapping.objects.for_org(org)


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


def upload_ledger_lines(*, org, upload, limit: int = 20):
    """The first ledger lines an upload wrote, in file order, for tracing numbers back to rows."""
    return CostLine.objects.for_org(org).filter(upload=upload).order_by("source_row")[:limit]
