"""The fast path for FOCUS CSV: whole columns at a time through Apache Arrow, then COPY as CSV.

Most exports are clean: plain numbers, one timestamp dialect, one currency. For those, Arrow's
C++ reader and compute kernels replace per-cell Python work, and repeated values (timestamps,
tag sets, categories) go through the same Python parsers as the row path once per distinct
value. Anything this path cannot take exactly as the row path would (a blank line, a ragged
row, "$1,000" money, a missing period, a second currency, any bad cell) raises
NotColumnarError; the importer then rolls this attempt back and runs the row path, which
reports each problem with its row and column. Both paths write identical ledger rows (tested).
"""

from contextlib import contextmanager
from queue import Queue

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from pgpq import ArrowToPostgresBinaryEncoder
from pgpq.encoders import StringEncoderBuilder
from pgpq.schema import Jsonb
from psycopg.copy import QueuedLibpqWriter

from ingest import limits
from ingest.models import CostLine
from ingest.readers import open_csv_stream, rows_within_limit
from ingest.services.ledger_writer import LEDGER_COLUMNS
from ingest.services.tally import PERIOD_ACCOUNT_LENGTH, PERIOD_PROVIDER_LENGTH, days_covered
from ingest.services.upload_files import upload_file_path
from ingest.sources import values as v
from ingest.sources.focus import COMMITMENT_STATUS, GPU_SEPARATOR, gpu_columns, gpu_type_of

DECIMAL = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("us", tz="UTC")
SENTINELS = pa.array(sorted(v.NULL_SENTINELS))
BLOCK_BYTES = 2 << 20
WRITER_QUEUE_CHUNKS = 64  # of at most 128 KiB each
REQUIRED_PRESENT = ("BilledCost", "ChargePeriodStart", "BillingPeriodStart", "BillingPeriodEnd")


class NotColumnarError(Exception):
    """This file needs the row-by-row path."""


def columnar_possible(source, table) -> bool:
    """True for CSV FOCUS files that carry the columns this path relies on, loaded into PostgreSQL."""
    return (
        connection.vendor == "postgresql"
        and source.name == "focus"
        and table.file_format == "csv"
        and all(c in table.columns for c in REQUIRED_PRESENT)
    )


def clean_text(column):
    """Trimmed text with every null sentinel (NULL, N/A, empty...) as a real null, like values.text."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.is_in(pc.utf8_lower(trimmed), value_set=SENTINELS), None, trimmed)


def _text(*columns):
    cleaned = [clean_text(c) for c in columns if c is not None]
    if not cleaned:
        return None
    merged = cleaned[0] if len(cleaned) == 1 else pc.coalesce(*cleaned)
    return pc.fill_null(merged, "")


def _decimal(column, required=False, limit=limits.MAX_BILL_AMOUNT):
    cleaned = clean_text(column)
    if required and cleaned.null_count:
        raise NotColumnarError("empty amount")
    try:
        amounts = pc.cast(cleaned, DECIMAL)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise NotColumnarError(str(exc)) from exc
    low, high = pc.min_max(amounts).values()
    if high.is_valid and (high.as_py() >= limit or low.as_py() <= -limit):
        raise NotColumnarError("an amount beyond the limits")  # the row path names the row and column
    return amounts


def _quantity(column):
    return _decimal(column, limit=limits.MAX_QUANTITY)


def by_distinct(column, convert, out_type):
    """Apply a Python `convert` once per distinct value and spread the results back."""
    distinct = pc.unique(column).drop_null()
    converted = pa.array([convert(x) for x in distinct.to_pylist()], out_type)
    return pc.take(converted, pc.index_in(column, value_set=distinct))


def _timestamp(column, end=False):
    def parse(text):
        try:
            moment = v.parse_timestamp_text(text)
            return moment if moment is None else limits.moment_check(moment, end=end)
        except ValueError as exc:  # LimitError too: the row path names the row and column
            raise NotColumnarError(f"timestamp {text!r}") from exc

    return by_distinct(clean_text(column), parse, TIMESTAMP)


def _end(column):
    return _timestamp(column, end=True)


def _category(column):
    def parse(text):
        try:
            return v.charge_category(text)
        except v.CellError as exc:
            raise NotColumnarError(exc.message) from exc

    return pc.fill_null(by_distinct(clean_text(column), parse, pa.string()), "usage")


def _commitment_status(column):
    lowered = pc.utf8_lower(clean_text(column))
    return pc.fill_null(by_distinct(lowered, lambda s: COMMITMENT_STATUS.get(s, ""), pa.string()), "")


def _gpu_type(batch, rows):
    """gpu_type per row: the same cells as the row path, joined the same way, detected once per distinct join."""
    columns, provider_texts = gpu_columns(batch.batch.schema.names)
    if not columns:
        return pa.array([""] * rows)
    cells = [_text(batch[name]) for name in columns]
    joined = cells[0] if len(cells) == 1 else pc.binary_join_element_wise(*cells, GPU_SEPARATOR)
    return by_distinct(joined, lambda text: gpu_type_of(text, provider_texts), pa.string())


def _optional(batch, name, convert, default):
    """`convert` of the column when the file has it, else `default`."""
    column = batch[name]
    return default if column is None else convert(column)


class _Batch:
    def __init__(self, batch):
        self.batch = batch
        self.names = set(batch.schema.names)

    def __getitem__(self, name):
        return self.batch.column(name) if name in self.names else None


def _ledger_table(upload, source, batch: _Batch, first_row: int, tags_columns) -> tuple[pa.Table, dict]:
    rows = batch.batch.num_rows
    billed = _decimal(batch["BilledCost"], required=True)
    effective = _optional(batch, "EffectiveCost", _decimal, billed)
    effective = pc.if_else(pc.is_null(effective), billed, effective)
    charge_start = _timestamp(batch["ChargePeriodStart"])
    billing_start = _timestamp(batch["BillingPeriodStart"])
    billing_end = _timestamp(batch["BillingPeriodEnd"], end=True)
    if charge_start.null_count or billing_start.null_count or billing_end.null_count:
        raise NotColumnarError("a period column is empty")
    currency = (
        pc.utf8_upper(pc.fill_null(clean_text(batch["BillingCurrency"]), source.org_currency))
        if batch["BillingCurrency"] is not None
        else pa.array([source.org_currency.upper()] * rows)
    )
    empty = pa.array([""] * rows)
    tags_raw = batch["Tags"]
    if tags_raw is None:
        tag_parts = [pa.array(["{}"] * rows)] + [empty] * len(v.ATTRIBUTION_KEYS)
    else:
        distinct = pc.unique(tags_raw).drop_null()
        parsed = [tags_columns(text) for text in distinct.to_pylist()]
        positions = pc.fill_null(pc.index_in(tags_raw, value_set=distinct), len(parsed))
        parsed.append(tags_columns(""))
        tag_parts = [pc.take(pa.array([p[i] for p in parsed]), positions) for i in range(1 + len(v.ATTRIBUTION_KEYS))]
    status = _optional(batch, "CommitmentDiscountStatus", _commitment_status, empty)
    text = {
        "provider": _text(
            batch["ServiceProviderName"], batch["ProviderName"], batch["InvoiceIssuerName"], batch["PublisherName"]
        ),
        "billing_account_id": _text(batch["BillingAccountId"]),
        "billing_account_name": _text(batch["BillingAccountName"]),
        "sub_account_id": _text(batch["SubAccountId"]),
        "sub_account_name": _text(batch["SubAccountName"]),
        "charge_class": _text(batch["ChargeClass"]),
        "charge_frequency": _text(batch["ChargeFrequency"]),
        "charge_description": _text(batch["ChargeDescription"]),
        "region": _text(batch["RegionId"], batch["RegionName"], batch["Region"]),
        "service_name": _text(batch["ServiceName"]),
        "service_category": _text(batch["ServiceCategory"]),
        "resource_id": _text(batch["ResourceId"], batch["ResourceID"]),
        "resource_name": _text(batch["ResourceName"]),
        "resource_type": _text(batch["ResourceType"]),
        "sku_id": _text(batch["SkuId"]),
        "pricing_unit": _text(batch["PricingUnit"]),
        "consumed_unit": _text(batch["ConsumedUnit"]),
        "commitment_discount_id": _text(batch["CommitmentDiscountId"]),
        "commitment_discount_type": _text(batch["CommitmentDiscountType"]),
    }
    for name in ("charge_class", "charge_frequency"):
        if text[name] is not None:
            text[name] = pc.utf8_lower(text[name])
    columns = {
        "org_id": pa.array([upload.org_id] * rows, pa.int64()),
        "upload_id": pa.array([upload.pk] * rows, pa.int64()),
        "source_row": pa.array(range(first_row, first_row + rows), pa.int32()),
        **{name: (array if array is not None else empty) for name, array in text.items()},
        "billing_period_start": billing_start,
        "billing_period_end": billing_end,
        "charge_period_start": charge_start,
        "charge_period_end": _optional(batch, "ChargePeriodEnd", _end, pa.nulls(rows, TIMESTAMP)),
        "charge_category": _optional(batch, "ChargeCategory", _category, pa.array(["usage"] * rows)),
        "gpu_type": _gpu_type(batch, rows),
        "pricing_quantity": _optional(batch, "PricingQuantity", _quantity, pa.nulls(rows, DECIMAL)),
        "consumed_quantity": _optional(batch, "ConsumedQuantity", _quantity, pa.nulls(rows, DECIMAL)),
        "billed_cost_amount": billed,
        "effective_cost_amount": effective,
        "list_cost_amount": _optional(batch, "ListCost", _decimal, pa.nulls(rows, DECIMAL)),
        "currency": currency,
        "commitment_discount_status": status,
        "tags": tag_parts[0],
        **dict(zip(v.ATTRIBUTION_KEYS, tag_parts[1:], strict=True)),
    }  # fmt: skip
    return pa.table([columns[name] for name in LEDGER_COLUMNS], names=list(LEDGER_COLUMNS)), columns


def _tally_batch(columns, tally) -> None:
    currencies = pc.unique(columns["currency"]).to_pylist()
    if len(currencies) != 1 or (tally.currency and currencies[0] != tally.currency):
        raise NotColumnarError("more than one currency")
    currency = currencies[0]
    if len(currency) != 3 or not currency.isalpha():
        raise NotColumnarError("bad currency")
    tally.currency = currency
    total = pc.sum(columns["billed_cost_amount"]).as_py()
    tally.totals[currency] = tally.totals.get(currency, 0) + total
    keys = (
        pa.table(
            {
                "provider": pc.utf8_slice_codeunits(columns["provider"], 0, PERIOD_PROVIDER_LENGTH),
                "account": pc.utf8_slice_codeunits(columns["billing_account_id"], 0, PERIOD_ACCOUNT_LENGTH),
                "start": columns["billing_period_start"],
                "end": columns["billing_period_end"],
            }
        )
        .group_by(["provider", "account", "start"])
        .aggregate([("end", "max")])
    )
    for provider, account, start, end in zip(*(keys.column(i).to_pylist() for i in range(4)), strict=True):
        tally.periods.setdefault((provider, account, start), end)
    spans = (
        pa.table({"start": columns["charge_period_start"], "end": columns["charge_period_end"]})
        .group_by(["start", "end"])
        .aggregate([])
    )
    for start, end in zip(spans.column("start").to_pylist(), spans.column("end").to_pylist(), strict=True):
        tally.days.update(days_covered(start, end))
    first = pc.min(columns["charge_period_start"]).as_py()
    last = pc.max(pc.coalesce(columns["charge_period_end"], columns["charge_period_start"])).as_py()
    tally.first = first if tally.first is None else min(tally.first, first)
    tally.last = last if tally.last is None else max(tally.last, last)


@contextmanager
def _csv_input(path):
    """Plain files go to Arrow's own reader (no Python in the loop); compressed ones through our
    size-capped decompressing stream."""
    with open(path, "rb") as probe:
        head = probe.read(4)
    if not head.startswith((b"\x1f\x8b", b"PK\x03\x04")):
        yield str(path)
    else:
        with open_csv_stream(path) as stream:
            yield stream


def focus_stream_columnar(upload, table, source, tally, *, tags_columns, progress_key) -> None:
    """COPY the whole file into the ledger through Arrow, or raise NotColumnarError having written nothing durable."""
    read = pacsv.ReadOptions(column_names=list(table.columns), skip_rows=1, block_size=BLOCK_BYTES)
    parse = pacsv.ParseOptions(ignore_empty_lines=False, newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in table.columns}, strings_can_be_null=False, null_values=[]
    )
    sql = f"COPY {CostLine._meta.db_table} ({', '.join(LEDGER_COLUMNS)}) FROM STDIN WITH (FORMAT binary)"
    next_row, written, encoder = 2, 0, None
    field_limit = settings.INGEST_MAX_FIELD_BYTES
    with _csv_input(upload_file_path(upload)) as stream, connection.cursor() as cursor:
        try:
            reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            raise NotColumnarError(str(exc)) from exc
        with cursor.cursor.copy(sql, writer=_ShortQueueWriter(cursor.cursor)) as copy:
            for batch in arrow_batches(reader):
                rows_within_limit(written + batch.num_rows)
                if max((pc.max(pc.binary_length(c)).as_py() or 0 for c in batch.columns), default=0) > field_limit:
                    raise NotColumnarError("a value is longer than INGEST_MAX_FIELD_BYTES")  # the row path says where
                ledger, columns = _ledger_table(upload, source, _Batch(batch), next_row, tags_columns)
                _tally_batch(columns, tally)
                if encoder is None:
                    encoder = binary_encoder(ledger.schema, json_column="tags")
                    copy.write(encoder.write_header())
                for record_batch in ledger.to_batches():
                    copy.write(encoder.write_batch(record_batch))
                next_row += batch.num_rows
                written += batch.num_rows
                cache.set(progress_key, written, 3600)
            if encoder is not None:
                copy.write(encoder.finish())
    upload.rows_total = upload.rows_loaded = written


class _ShortQueueWriter(QueuedLibpqWriter):
    """psycopg's threaded COPY writer with a short queue: when the database is behind, the reader
    waits instead of holding the rest of the file in memory."""

    def __init__(self, cursor):
        super().__init__(cursor)
        self._queue = Queue(maxsize=WRITER_QUEUE_CHUNKS)


def arrow_batches(reader):
    """The record batches of an Arrow stream reader; one Arrow cannot read raises NotColumnarError."""
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise NotColumnarError(str(exc)) from exc


def binary_encoder(schema, *, json_column):
    """PostgreSQL's binary COPY format straight from Arrow (the database then parses no text), `json_column`
    as jsonb."""
    encoders = {field.name: ArrowToPostgresBinaryEncoder.infer_encoder(field) for field in schema}
    encoders[json_column] = StringEncoderBuilder.new_with_output(schema.field(json_column), Jsonb())
    return ArrowToPostgresBinaryEncoder.new_with_encoders(schema, encoders)
