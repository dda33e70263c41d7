"""Import a FOCUS contract commitment file: small, so plain batched inserts; replaced per commitment id."""

from django.db import transaction
from django.utils import timezone

from ingest.limits import cut_lengths, cut_to_columns, row_problem
from ingest.models import ContractCommitment
from ingest.services.problems import ErrorList
from ingest.sources.values import CellError

CUT_LENGTHS = cut_lengths("commitment")


def commitments_import(upload, table, source) -> None:
    """Load the commitments, replacing earlier rows of the same commitment ids; all or nothing."""
    errors, rows = ErrorList(), []
    for number, record in table.records():
        upload.rows_total += 1
        try:
            row = source.parse(record) if "__error__" not in record else None
        except CellError as exc:
            errors.add(number, exc.column, exc.message)
            continue
        if "__error__" in record:
            errors.add(number, None, record["__error__"])
        elif row is not None and (problem := row_problem(row, "commitment")):
            errors.add(number, *problem)
        elif row is not None:
            rows.append(
                ContractCommitment(org=upload.org, upload=upload, source_row=number, **cut_to_columns(row, CUT_LENGTHS))
            )
    errors.raise_if_any()
    with transaction.atomic():
        ids = {row.commitment_id for row in rows}
        older = ContractCommitment.objects.for_org(upload.org).filter(commitment_id__in=ids).exclude(upload=upload)
        upload.rows_replaced, _ = older.delete()
        ContractCommitment.objects.bulk_create(rows, batch_size=1000)
        upload.rows_loaded = len(rows)
        starts = [row.period_start for row in rows]
        ends = [row.period_end or row.period_start for row in rows]
        upload.period_start, upload.period_end = (min(starts), max(ends)) if rows else (None, None)
        upload.status = upload.Status.DONE
        upload.finished_at = timezone.now()
        upload.save()
