"""The fast path for generic JSON-lines usage files: whole columns through Arrow, binary COPY.

Like the columnar bill path: Arrow's C++ reader parses the lines into typed columns, every field
rule of `generic_events.parse_event` is checked over whole columns (distinct timestamps go through
the same Python parser once each), and the batch goes to the staging table in PostgreSQL's binary
COPY format. Anything this path cannot take exactly as the row path would (a blank line, a
metadata object, a number written as text, any rule broken) raises NotColumnarError; the importer
rolls the attempt back and runs the row path, which reports each problem with its row and field.
"""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.module_loading import import_string

from ingest import limits
from ingest.readers import line_too_long, open_csv_stream, rows_within_limit
from ingest.services.focus_columnar import (
    DECIMAL,
    SENTINELS,
    TIMESTAMP,
    NotColumnarError,
    _ShortQueueWriter,
    arrow_batches,
    binary_encoder,
    by_distinct,
)
from ingest.services.upload_files import upload_file_path
from ingest.sources import values as v
from ingest.sources.generic_events import KNOWN_FIELDS, TEXT_FIELDS, TOKEN_FIELDS, ZONED
from ingest.sources.usage_base import PURPOSES

SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("event_id", "timestamp", "provider", "model", "purpose", "status", "currency")]
    + [(name, pa.string()) for name in TEXT_FIELDS]
    + [(name, pa.int64()) for name in (*TOKEN_FIELDS, "attempt", "latency_ms")]
    + [("cost", pa.string())]
)
BLOCK_BYTES = 4 << 20
FEW = 4  # a column with more distinct values than a quarter of its rows is checked whole


def usage_columnar_possible(source, table) -> bool:
    """True for generic JSON-lines usage files loaded into PostgreSQL."""
    return connection.vendor == "postgresql" and source.name == "generic_events" and table.file_format == "jsonl"


def _refuse(condition, reason):
    if condition:
        raise NotColumnarError(reason)


def clean_text(column):
    """focus_columnar.clean_text (trimmed, every null sentinel a real null), without rebuilding a column
    that has no sentinel."""
    trimmed = pc.utf8_trim_whitespace(column)
    sentinel = pc.is_in(pc.utf8_lower(trimmed), value_set=SENTINELS)
    return pc.if_else(sentinel, None, trimmed) if pc.any(sentinel).as_py() else trimmed


def _too_long(column, max_length) -> bool:
    """Whether a value has more than max_length characters (none can when none has that many bytes)."""
    if not len(column) or pc.max(pc.binary_length(column)).as_py() <= max_length:
        return False
    return pc.max(pc.utf8_length(column)).as_py() > max_length


def _required_text(column, max_length):
    cleaned = clean_text(column)
    _refuse(cleaned.null_count, "a required field is empty")
    _refuse(_too_long(cleaned, max_length), "a field is too long")
    return cleaned


def _optional_text(column, max_length, rows):
    if column is None:
        return pa.repeat("", rows)
    cleaned = pc.fill_null(clean_text(column), "")
    _refuse(_too_long(cleaned, max_length), "a field is too long")
    return cleaned


def _timestamps(column):
    _refuse(column.null_count, "a timestamp is missing")
    trimmed = pc.utf8_trim_whitespace(column)
    if not pc.all(pc.ends_with(trimmed, "Z")).as_py():  # Z, the usual zone, needs no regular expression
        _refuse(not pc.all(pc.match_substring_regex(trimmed, ZONED.pattern)).as_py(), "a timestamp has no zone")

    def parse(text):
        try:
            moment = v.parse_timestamp_text(text)
        except ValueError as exc:
            raise NotColumnarError("timestamp") from exc
        _refuse(moment is None, "timestamp")
        try:
            return limits.moment_check(moment)
        except limits.LimitError as exc:
            raise NotColumnarError("timestamp") from exc

    return by_distinct(trimmed, parse, TIMESTAMP)


def _counts(column, minimum, rows, maximum=limits.MAX_TOKENS):
    if column is None:
        return pa.nulls(rows, pa.int64())
    if len(column) > column.null_count:
        low, high = pc.min_max(column).values()
        _refuse(low.as_py() < minimum, "a count is too small")
        _refuse(high.as_py() > maximum, "a count is too large")
    return column


def _row_numbers(first_row, rows):
    """first_row, first_row + 1, ... as int32, summed in Arrow instead of built from a Python range."""
    ones = pa.repeat(pa.scalar(1, pa.int32()), rows)
    return pc.cumulative_sum_checked(ones, start=pa.scalar(first_row - 1, pa.int32()))


def _constant(value, type_, rows):
    return pa.repeat(pa.scalar(value, type_), rows)


def _few(column, transform, rows):
    """transform(column), for a column of few distinct values (a provider, a status, a customer): worked
    out once per distinct value and spread back, or the column itself where it changes none. The same
    result, and the same refusals (every value is among the distinct ones); a column of many distinct
    values is transformed whole."""
    column = pa.nulls(rows, pa.string()) if column is None else column
    distinct = pc.unique(column)
    if len(distinct) * FEW > len(column):
        return transform(column)
    done = transform(distinct)
    return column if done.equals(distinct) else pc.take(done, pc.index_in(column, value_set=distinct))


def _optional(column, max_length, rows):
    if column is not None and column.null_count == rows:  # a field no event of the batch has
        return pa.repeat("", rows)
    return _few(column, lambda values: _optional_text(values, max_length, len(values)), rows)


def _provider(column):
    return pc.utf8_lower(_required_text(column, 100))


def _purpose(column):
    purpose = pc.utf8_lower(_optional_text(column, 20, len(column)))
    _refuse(not pc.all(pc.is_in(purpose, value_set=pa.array(["", *PURPOSES]))).as_py(), "purpose")
    return purpose


def _status(column):
    status = pc.utf8_lower(_optional_text(column, 5, len(column)))
    status = pc.if_else(pc.equal(status, ""), "ok", status)
    _refuse(not pc.all(pc.is_in(status, value_set=pa.array(["ok", "error"]))).as_py(), "status")
    return status


def _currency(column):
    currency = pc.utf8_upper(_optional_text(column, 3, len(column)))
    _refuse(not pc.all(pc.match_substring_regex(currency, r"^([A-Z]{3})?$")).as_py(), "currency")
    return currency


class _Columns:
    def __init__(self, batch):
        self.batch, self.names = batch, set(batch.schema.names)

    def __getitem__(self, name):
        return self.batch.column(name) if name in self.names else None


def usage_table(batch, *, org, upload_id, first_row) -> pa.Table:
    """The batch as rows of the staging table (STORE_COLUMNS order), or NotColumnarError."""
    from ingest.services.usage import STORE_COLUMNS

    _refuse(not set(batch.schema.names) <= KNOWN_FIELDS - {"metadata"}, "a field this path does not take")
    rows, col = batch.num_rows, _Columns(batch)
    purpose = _few(col["purpose"], _purpose, rows)
    status = _few(col["status"], _status, rows)
    cost = pa.nulls(rows, DECIMAL)
    if col["cost"] is not None and col["cost"].null_count < rows:
        try:
            cost = pc.cast(clean_text(col["cost"]), DECIMAL)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise NotColumnarError("cost") from exc
        if cost.null_count < rows:
            low, high = pc.min_max(cost).values()
            _refuse(low.as_py() < 0, "a negative cost")
            _refuse(high.as_py() >= limits.MAX_USAGE_COST, "a cost beyond the limit")
    currency = _few(col["currency"], _currency, rows)
    if cost.null_count == rows:  # no reported cost: no currency, all unpriced until the pricer
        currency, cost_source = pa.repeat("", rows), pa.repeat("unpriced", rows)
    else:
        priced = pc.is_valid(cost)
        currency = pc.if_else(priced, pc.if_else(pc.equal(currency, ""), org.currency, currency), "")
        cost_source = pc.if_else(priced, "reported", "unpriced")
    attempt = pc.fill_null(_counts(col["attempt"], 1, rows, limits.MAX_INT32), 1)
    columns = {
        "org_id": _constant(org.pk, pa.int64(), rows),
        "upload_id": _constant(upload_id, pa.int64(), rows),
        "source_row": _row_numbers(first_row, rows),
        "event_id": _required_text(col["event_id"], 200),
        "occurred_at": _timestamps(col["timestamp"]),
        "period_end": pa.nulls(rows, TIMESTAMP),
        "is_aggregate": _constant(False, pa.bool_(), rows),
        "request_count": _constant(1, pa.int32(), rows),
        "provider": _few(col["provider"], _provider, rows),
        "model": _few(col["model"], lambda column: _required_text(column, 200), rows),
        "purpose": purpose,
        "attempt": pc.cast(attempt, pa.int32()),
        "status": status,
        "cost_amount": cost,
        "currency": currency,
        "metadata": _constant("{}", pa.string(), rows),
        "cost_source": cost_source,
        "latency_ms": pc.cast(_counts(col["latency_ms"], 0, rows, limits.MAX_INT32), pa.int32()),
        **{name: _optional(col[name], limit, rows) for name, limit in TEXT_FIELDS.items()},
        **{name: _counts(col[name], 0, rows) for name in TOKEN_FIELDS},
    }
    return pa.table([columns[name] for name in STORE_COLUMNS], names=list(STORE_COLUMNS))


class _LineCounter:
    """The file's bytes as Arrow's reader takes them, counting the lines on the way (instead of reading
    the file a second time at the end), and refusing a line that runs past INGEST_MAX_ROW_BYTES across
    reads: Arrow would read ahead tens of MiB looking for its end."""

    def __init__(self, stream):
        self._stream, self._newlines, self._last = stream, 0, b"\n"
        self._open, self._limit = 0, settings.INGEST_MAX_ROW_BYTES

    @property
    def closed(self):
        return self._stream.closed

    def read(self, size=-1):
        chunk = self._stream.read(size)
        if chunk:
            newlines = chunk.count(b"\n")
            self._newlines += newlines
            self._last = chunk[-1:]
            self._open = len(chunk) - chunk.rfind(b"\n") - 1 if newlines else self._open + len(chunk)
            if self._open > self._limit:
                raise line_too_long(self._newlines + 1)
        return chunk

    def lines(self) -> int:
        return self._newlines + (self._last != b"\n")


def usage_stream_columnar(upload, cursor, *, table, days, progress_key) -> tuple[int, object, object]:
    """COPY the file's events, priced, into `table` (binary); returns (rows, first, last) or NotColumnarError."""
    from ingest.services.usage import COLUMNS

    parse = pajson.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="infer")
    # One thread: the database, storing the rows, is the slower side and needs a core of its own; Arrow's
    # readers would compete with it for the CPU while the main thread is busy anyway.
    read = pajson.ReadOptions(block_size=BLOCK_BYTES, use_threads=False)
    rows, first, last, encoder = 0, None, None, None
    # Calls are priced here, before the COPY, so the ledger receives final rows: an UPDATE of rows
    # already in the indexed ledger cost more than reading, checking and storing them together.
    price = import_string(settings.USAGE_TABLE_PRICER)(org=upload.org)
    with open_csv_stream(upload_file_path(upload)) as stream:
        stream = _LineCounter(stream)
        try:
            reader = pajson.open_json(stream, read_options=read, parse_options=parse)
        except pa.ArrowInvalid as exc:
            raise NotColumnarError(str(exc)) from exc
        # A writer thread sends the data while the next batch is parsed, as for bills.
        copy_sql = f"COPY {table} ({COLUMNS}) FROM STDIN WITH (FORMAT binary)"
        with cursor.copy(copy_sql, writer=_ShortQueueWriter(cursor)) as copy:
            for batch in arrow_batches(reader):
                rows_within_limit(rows + batch.num_rows)
                staged = price(usage_table(batch, org=upload.org, upload_id=upload.pk, first_row=rows + 1))
                if encoder is None:
                    encoder = binary_encoder(staged.schema, json_column="metadata")
                    copy.write(encoder.write_header())
                for record_batch in staged.to_batches():
                    copy.write(encoder.write_batch(record_batch))
                moments = staged.column("occurred_at")
                low, high = pc.min(moments).as_py(), pc.max(moments).as_py()
                first = low if first is None else min(first, low)
                last = high if last is None else max(last, high)
                days.update(d for d in pc.unique(pc.cast(moments, pa.date32())).to_pylist())
                rows += batch.num_rows
                cache.set(progress_key, rows, 3600)
            if encoder is not None:
                copy.write(encoder.finish())
            # Arrow skips blank lines; the row numbers kept for tracing are only right without them.
            _refuse(rows != stream.lines(), "blank lines")
    return rows, first, last
