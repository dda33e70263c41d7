"""Usage (LLM call) ingest: files through the upload path, and live event batches.

Both paths parse with the same source plug-ins, refuse bad events with their row (or index) and
field, and store through `usage_rows_store`, which skips an event_id the organisation already
has, so a re-imported file or a retried batch changes nothing. Calls without a reported cost are
priced from the catalogue or stay unpriced: the columnar file path prices them before they are
staged (`settings.USAGE_TABLE_PRICER`), the other paths after the insert (`settings.USAGE_PRICER`);
both live in the pricing app above this one, so ingest reaches them through settings.
"""

import json
from contextlib import ExitStack
from operator import itemgetter

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from psycopg.errors import UniqueViolation

from ingest.limits import cut_lengths, cut_to_columns, row_problem
from ingest.models import UsageEvent
from ingest.readers import open_csv_stream, open_json_document, open_table, sniff_json_document
from ingest.selectors import usage_event_days
from ingest.services.days import dirty_days_mark
from ingest.services.focus_columnar import NotColumnarError
from ingest.services.problems import ErrorList, ImportRejectedError, ParsedRows, progress_key
from ingest.services.upload_files import upload_file_path
from ingest.services.usage_columnar import usage_columnar_possible, usage_stream_columnar
from ingest.sources import USAGE_SOURCES
from ingest.sources.usage_base import USAGE_ROW_FIELDS
from ingest.sources.values import CellError

STORE_COLUMNS = ("org_id", "upload_id", "source_row", *USAGE_ROW_FIELDS, "cost_source")
TABLE = UsageEvent._meta.db_table
COLUMNS = ", ".join(STORE_COLUMNS)
_row_values = itemgetter(*USAGE_ROW_FIELDS)
PROGRESS_EVERY = 5000
UNIQUE_EVENT = "usageevent_unique_org_event"
CUT_LENGTHS = cut_lengths("usage")


class UsageWriter:
    """Stores usage rows inside the caller's transaction, skipping event ids the org already has.

    PostgreSQL: rows stream by COPY into a temporary table, then one INSERT ... ON CONFLICT DO
    NOTHING moves the new ones; elsewhere batched inserts that ignore conflicts. `direct` (only for a
    caller that writes the COPY itself) sends the rows straight into the ledger instead, which costs
    the database about a third less; an event id the org already has then fails the whole COPY with a
    unique violation, and the caller must start again without `direct`.

    Labels longer than their column (`limits.CUT_TO_COLUMN`) are cut to it in `write`, once for every source;
    the columnar path needs no cut, since the generic format refuses them.
    """

    def __init__(self, *, org, upload, text_copy=True, direct=False):
        self.org, self.upload_id = org, (upload.pk if upload else None)
        self.rows = 0
        self._postgres = connection.vendor == "postgresql"
        self._text_copy = text_copy  # False: the caller writes `self.table` itself (the columnar path)
        self.direct = direct and self._postgres and not text_copy
        self.table = TABLE if self.direct else "usage_staging"
        self._copy_context = None

    def __enter__(self):
        if self._postgres:
            self._cursor = connection.cursor()
            if self.direct:
                return self
            self._cursor.execute(
                f"CREATE TEMP TABLE usage_staging ON COMMIT DROP AS SELECT {COLUMNS} FROM {TABLE} WITH NO DATA"  # noqa: S608
            )
            if self._text_copy:
                self._copy_context = self._cursor.cursor.copy(f"COPY usage_staging ({COLUMNS}) FROM STDIN")
                self._copy = self._copy_context.__enter__()
        else:
            self._before = UsageEvent.objects.for_org(self.org).count()
            self._batch = []
        return self

    def write(self, number, row) -> None:
        cut_to_columns(row, CUT_LENGTHS)
        row["metadata"] = json.dumps(row["metadata"], sort_keys=True, ensure_ascii=False)
        source = UsageEvent.CostSource.REPORTED if row["cost_amount"] is not None else UsageEvent.CostSource.UNPRICED
        values = (self.org.pk, self.upload_id, number, *_row_values(row), source)
        self.rows += 1
        if self._postgres:
            self._copy.write_row(values)
            return
        fields = dict(zip(STORE_COLUMNS, values, strict=True))
        fields["metadata"] = json.loads(fields["metadata"])
        self._batch.append(UsageEvent(**fields))
        if len(self._batch) >= 2000:
            self._flush()

    def _flush(self):
        UsageEvent.objects.bulk_create(self._batch, ignore_conflicts=True)
        self._batch = []

    def _end_copy(self, exc_type=None, exc=None, tb=None):
        if self._copy_context is not None:
            context, self._copy_context = self._copy_context, None
            context.__exit__(exc_type, exc, tb)

    def __exit__(self, exc_type, exc, tb):
        if self._postgres:
            try:
                self._end_copy(exc_type, exc, tb)
                if exc_type is None and not self.direct:  # after an error the rollback removes the table
                    self._cursor.execute("DROP TABLE IF EXISTS usage_staging")
            finally:
                self._cursor.close()
        return False

    @property
    def raw_cursor(self):
        """The psycopg cursor, for a caller that fills `self.table` itself."""
        return self._cursor.cursor

    def finish(self) -> int:
        """Move the staged rows into the ledger; returns how many were new. Call before leaving the context."""
        if not self._postgres:
            self._flush()
            return UsageEvent.objects.for_org(self.org).count() - self._before
        self._end_copy()
        if self.direct:
            return self.rows
        self._cursor.execute(
            f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM usage_staging "  # noqa: S608 - fixed names
            "ON CONFLICT (org_id, event_id) DO NOTHING"
        )
        return self._cursor.rowcount


def usage_rows_store(*, org, upload, rows) -> int:
    """Store (row number, row) pairs, skipping event ids the org already has; returns how many were new."""
    with UsageWriter(org=org, upload=upload) as writer:
        for number, row in rows:
            writer.write(number, row)
        return writer.finish() if writer.rows else 0


def _price_and_mark(*, org, upload=None, event_ids=None, days=(), priced=False) -> None:
    if not priced:
        import_string(settings.USAGE_PRICER)(org=org, upload=upload, event_ids=event_ids)
    dirty_days_mark(org=org, days=days)


def choose_usage_source(upload, columns=None, document=None):
    """The usage source for a table header or a JSON document: the one asked for, or the one that matches."""
    candidates = [s for s in USAGE_SOURCES if not upload.requested_format or s.name == upload.requested_format]
    if upload.requested_format and not candidates:
        raise ImportRejectedError.single(f"Unknown usage format {upload.requested_format!r}.")
    for source in candidates:
        if document is not None and source.document and source.detect_document(document):
            return source
        if columns is not None and not source.document and source.detect(columns):
            return source
    raise ImportRejectedError.single(
        "We could not recognise this usage file. It should be an OpenAI usage or costs export, an Anthropic "
        "usage or cost report, a LiteLLM spend log, or the generic CSV / JSON lines format (docs/usage-events.md).",
        row=1,
    )


def _first_event_held(upload) -> bool:
    """Whether the org already has the file's first event: a re-imported file is seen before any work."""
    try:
        with open_csv_stream(upload_file_path(upload)) as stream:
            event_id = json.loads(stream.readline(1 << 16)).get("event_id")
    except (ValueError, AttributeError):
        return False  # the columnar path will step aside for this file anyway
    if not isinstance(event_id, str):
        return False
    return UsageEvent.objects.for_org(upload.org).filter(event_id=event_id.strip()).exists()


def _event_held(exc) -> bool:
    while exc is not None and not isinstance(exc, UniqueViolation):
        exc = exc.__cause__
    return exc is not None and exc.diag.constraint_name == UNIQUE_EVENT


def _import_columnar(upload, days) -> bool:
    """Try the columnar path in a savepoint; False (nothing left behind) when the row path must run.

    A file of new events is copied straight into the ledger; if one turns out to be held already (or
    the file repeats one), that attempt is rolled back and the file staged so the held ones are skipped."""
    direct = not _first_event_held(upload)
    while True:
        try:
            with transaction.atomic(), UsageWriter(org=upload.org, upload=upload, text_copy=False, direct=direct) as w:
                rows, first, last = usage_stream_columnar(
                    upload, w.raw_cursor, table=w.table, days=days, progress_key=progress_key(upload)
                )
                upload.rows_total = w.rows = rows
                _finish(upload, w, first, last, days, priced=True)
            return True
        except (NotColumnarError, DataError, psycopg.DataError):  # DataError: a value the database refused
            days.clear()
            upload.rows_total = 0
            return False
        except (UniqueViolation, IntegrityError) as exc:
            if not direct or not _event_held(exc):
                raise
            days.clear()
            direct = False


def usage_import(upload) -> None:
    """Load a usage file: every record valid, or nothing; events already held are skipped."""
    errors, days = ErrorList(), set()
    first = last = None
    with ExitStack() as stack:
        if sniff_json_document(upload_file_path(upload)):
            document, table = open_json_document(upload_file_path(upload)), None
            source = choose_usage_source(upload, document=document)(org_currency=upload.org.currency)
            records = source.records(document)
        else:
            document = None
            table = stack.enter_context(open_table(upload_file_path(upload)))
            source = choose_usage_source(upload, columns=table.columns)(org_currency=upload.org.currency)
            for column in source.missing_columns(table.columns):
                errors.add(1, column, f"The header has no {column} column; it is required.")
            errors.raise_if_any()
            records = table.records()
        upload.format = source.name
        stack.enter_context(transaction.atomic())
        if usage_columnar_possible(source, table) and _import_columnar(upload, days):
            return
        span = source.report_span(document) if document is not None else None
        if span is not None:  # before the writer's COPY holds the connection; a rejected file rolls it back
            _replace_report_span(upload, source, span, days)
        writer = stack.enter_context(UsageWriter(org=upload.org, upload=upload))
        rows = ParsedRows(records, source, errors, lambda total: cache.set(progress_key(upload), total, 3600))
        for number, row in rows:
            moment = row["occurred_at"]
            days.add(moment.date())
            first = moment if first is None or moment < first else first
            last = moment if last is None or moment > last else last
            writer.write(number, row)
        upload.rows_total = rows.total
        errors.raise_if_any()  # inside the transaction: nothing of the file stays
        _finish(upload, writer, first, last, days)


def _replace_report_span(upload, source, span, days) -> None:
    """A usage report delivered again replaces its span: the rows earlier uploads of the same format (and report,
    `scope`) held from the span's start to its end go, in the import's transaction, before the file's rows are
    stored, so a day the provider restated holds the new numbers, not both. Live events (no upload) stay."""
    start, end, scope = span
    if connection.vendor == "postgresql":  # two deliveries of the same report take turns, not both replacing
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [upload.org_id, source.name])
    older = (
        UsageEvent.objects.for_org(upload.org)
        .filter(occurred_at__gte=start, occurred_at__lt=end, upload__format=source.name)
        .exclude(upload_id=upload.pk)
    )
    for key, values in scope.items():
        named = [value for value in values if value is not None]
        match = Q(**{f"metadata__{key}__in": named}) if named else Q(pk__in=[])
        older = older.filter(match | ~Q(metadata__has_key=key) if None in values else match)
    days.update(usage_event_days(older))
    upload.rows_replaced = older.delete()[0]


def _finish(upload, writer, first, last, days, priced=False) -> None:
    upload.rows_loaded = writer.finish() if writer.rows else 0
    upload.rows_duplicate = writer.rows - upload.rows_loaded
    upload.period_start, upload.period_end = first, last
    _price_and_mark(org=upload.org, upload=upload, days=days, priced=priced)
    upload.status = upload.Status.DONE
    upload.finished_at = timezone.now()
    upload.save()


@transaction.atomic
def usage_events_ingest(*, org, events: list) -> dict:
    """Store a live batch: {accepted, duplicates, rejected: [{index, field, message}]}; one bad event
    does not stop the others."""
    from ingest.sources.generic_events import parse_event

    rejected, rows = [], []
    for index, record in enumerate(events):
        if not isinstance(record, dict):
            rejected.append({"index": index, "field": None, "message": "each event must be a JSON object"})
            continue
        try:
            row = parse_event(record, org.currency)
        except CellError as exc:
            rejected.append({"index": index, "field": exc.column, "message": exc.message})
            continue
        problem = row_problem(row, "usage")
        if problem:
            rejected.append({"index": index, "field": problem[0], "message": problem[1]})
        else:
            rows.append((None, row))
    accepted = usage_rows_store(org=org, upload=None, rows=rows)
    if accepted:
        _price_and_mark(
            org=org,
            event_ids=[row["event_id"] for _, row in rows],
            days={row["occurred_at"].date() for _, row in rows},
        )
    return {"accepted": accepted, "duplicates": len(rows) - accepted, "rejected": rejected}
