"""Open an uploaded file as a table of records, streaming: CSV, JSON lines or Parquet, plain,
gzip- or zip-compressed, and JSON documents (report pages, lists) whose arrays are read item by item.
Records are dicts of column name to cell. Row numbers are what a person finds in the file: in CSV and
Parquet the header is row 1, so the first record is row 2, as in a spreadsheet; in JSON lines a
record's row is its line number.

Every reader holds at most one row in memory and refuses a file as soon as it passes a limit
(settings INGEST_MAX_*: decompressed size and ratio, row and field length, row count, JSON nesting),
with FileProblemError naming the limit and, where known, the row: one worker serves every tenant.
"""

import codecs
import csv
import gzip
import io
import json
import re
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from django.conf import settings

PARQUET_BATCH_ROWS = 8192
PARQUET_BATCH_BYTES = 32 * 2**20
JSON_CHUNK_BYTES = 1 << 20
MAX_ZIP_ENTRIES = 16  # one file, and the folders or resource forks an archiver adds


def _size(count: int) -> str:
    """1 MiB, 256 KiB, 2 GiB, 1,000 bytes: a limit as a person reads it."""
    for unit, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if count >= unit and count % (unit // 4 or 1) == 0:
            return f"{count / unit:g} {name}"
    return f"{count:,} bytes"


class FileProblemError(Exception):
    """The file as a whole cannot be read: corrupt archive, too large, not a table."""


class _Limited(io.RawIOBase):
    """A decompressing byte stream that refuses to yield more than `limit` bytes, or, once
    INGEST_RATIO_CHECK_BYTES have come out, more than INGEST_MAX_COMPRESSION_RATIO times the compressed
    bytes read so far (`compressed()`): zip and gzip bombs are stopped while they stream."""

    def __init__(self, raw, limit: int, compressed=None, closing=()):
        self.raw, self.limit, self.seen = raw, limit, 0
        self.compressed, self.closing = compressed, closing
        self.ratio, self.ratio_from = settings.INGEST_MAX_COMPRESSION_RATIO, settings.INGEST_RATIO_CHECK_BYTES

    def readable(self):
        return True

    def readinto(self, buffer):
        try:
            data = self.raw.read(len(buffer))
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise FileProblemError(f"The compressed file is corrupt or truncated ({exc}).") from exc
        self.seen += len(data)
        if self.seen > self.limit:
            raise FileProblemError(
                f"The file is larger than {_size(self.limit)} once decompressed; split it by billing period."
            )
        if self.compressed and self.seen >= self.ratio_from and self.seen > self.ratio * max(1, self.compressed()):
            raise FileProblemError(
                f"The file decompresses to more than {self.ratio} times its compressed size, which no bill or "
                "usage export does; it looks like a decompression bomb."
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self):
        if not self.closed:
            for item in (self.raw, *self.closing):
                item.close()
        super().close()


class Table:
    """Column names and a one-pass iterator of (row number, record)."""

    def __init__(self, columns: list[str], records: Iterator[tuple[int, dict]], file_format: str):
        self.columns = columns
        self._records = records
        self.file_format = file_format  # csv, jsonl or parquet

    def records(self) -> Iterator[tuple[int, dict]]:
        return self._records


def _zip_entries(path: Path) -> int:
    """The entry count of a zip's end record, read before zipfile builds an object for every entry."""
    with open(path, "rb") as handle:
        handle.seek(0, io.SEEK_END)
        handle.seek(max(0, handle.tell() - (22 + 65535)))
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise FileProblemError("The zip archive is corrupt (no end record).")
    return struct.unpack("<H", tail[at + 10 : at + 12])[0]


def _zip_member(path: Path, limit: int):
    entries = _zip_entries(path)
    if entries > MAX_ZIP_ENTRIES:
        count = f"{entries:,}" if entries < 0xFFFF else f"more than {entries - 1:,}"  # the end record's maximum
        raise FileProblemError(f"The zip archive holds {count} entries; upload one bill file per archive.")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise FileProblemError("The zip archive is corrupt.") from exc
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        archive.close()
        raise FileProblemError(f"The zip archive holds {len(members)} files; upload one bill file per archive.")
    member = members[0]
    # zipfile never yields more than the declared size, so the declared sizes can be judged up front.
    ratio = settings.INGEST_MAX_COMPRESSION_RATIO
    too_big = member.file_size > limit
    bomb = member.file_size >= settings.INGEST_RATIO_CHECK_BYTES and member.file_size > ratio * max(
        1, member.compress_size
    )
    if too_big or bomb:
        archive.close()
        if too_big:
            raise FileProblemError(
                f"The file is larger than {_size(limit)} once decompressed; split it by billing period."
            )
        raise FileProblemError(
            f"The file decompresses to more than {ratio} times its compressed size, which no bill or usage "
            "export does; it looks like a decompression bomb."
        )
    return _Limited(archive.open(member), limit, closing=(archive,))


def _decompressed(path: Path, head: bytes):
    limit = settings.INGEST_MAX_DECOMPRESSED_BYTES
    if head.startswith(b"\x1f\x8b"):
        compressed = open(path, "rb")  # noqa: SIM115 - closed with the stream
        gz = gzip.GzipFile(fileobj=compressed, mode="rb")
        return io.BufferedReader(_Limited(gz, limit, compressed.tell, closing=(compressed,)), 1 << 20)
    if head.startswith(b"PK\x03\x04"):
        return io.BufferedReader(_zip_member(path, limit), 1 << 20)
    return open(path, "rb")


class _RowTooLongError(Exception):
    """A CSV record passed the row limit (turned into FileProblemError with its row)."""


class _BoundedLines:
    """The lines of a text stream for csv.reader, never reading more than the row limit at once
    (readline(size)); `row_chars` counts the characters of the record being read, which may span lines."""

    def __init__(self, text_stream, limit: int):
        self.text_stream, self.limit, self.row_chars = text_stream, limit, 0

    def __iter__(self):
        return self

    def __next__(self):
        line = self.text_stream.readline(self.limit - self.row_chars + 1)
        if not line:
            raise StopIteration
        self.row_chars += len(line)
        if self.row_chars > self.limit:
            raise _RowTooLongError
        return line


def _too_long(row: int) -> str:
    return f"Row {row} is longer than {_size(settings.INGEST_MAX_ROW_BYTES)}, the limit for one row."


def _too_many() -> str:
    return f"The file has more than {settings.INGEST_MAX_ROWS:,} rows, the limit for one file; split it by period."


def line_too_long(line: int) -> FileProblemError:
    limit = _size(settings.INGEST_MAX_ROW_BYTES)
    return FileProblemError(f"Line {line} is longer than {limit}, the limit for one row.")


def rows_within_limit(rows: int) -> None:
    """FileProblemError once a reader of its own (the columnar paths) has read more than INGEST_MAX_ROWS rows."""
    if rows > settings.INGEST_MAX_ROWS:
        raise FileProblemError(_too_many())


def _csv_problem(exc: csv.Error, row: int) -> FileProblemError:
    if "field limit" in str(exc):
        return FileProblemError(
            f"Row {row} has a value longer than {_size(settings.INGEST_MAX_FIELD_BYTES)}, the limit for one value."
        )
    return FileProblemError(f"Row {row} is not valid CSV ({exc}).")


def _csv_table(stream) -> Table:
    text_stream = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    lines = _BoundedLines(text_stream, settings.INGEST_MAX_ROW_BYTES)
    csv.field_size_limit(settings.INGEST_MAX_FIELD_BYTES)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblemError("The file is empty.") from None
    except _RowTooLongError:
        raise FileProblemError(_too_long(1)) from None
    except UnicodeDecodeError as exc:
        raise FileProblemError(f"The file is not readable CSV text ({exc}).") from exc
    except csv.Error as exc:
        raise _csv_problem(exc, 1) from exc
    columns = [c.strip() for c in header]
    if not any(columns):
        raise FileProblemError("The first line is empty; it must be the header with the column names.")

    def records():
        width, max_rows = len(columns), settings.INGEST_MAX_ROWS
        number = 1
        try:
            lines.row_chars = 0
            for values in reader:
                lines.row_chars = 0
                number += 1
                if number > max_rows + 1:
                    raise FileProblemError(_too_many())
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                if len(values) < width:
                    values = values + [None] * (width - len(values))
                elif len(values) > width and any(v.strip() for v in values[width:]):
                    yield number, {"__error__": f"this row has {len(values)} values but the header has {width}"}
                    continue
                yield number, dict(zip(columns, values, strict=False))
        except _RowTooLongError:
            raise FileProblemError(_too_long(number + 1)) from None
        except UnicodeDecodeError as exc:
            raise FileProblemError(
                f"Row {number + 1} is not UTF-8 text ({exc.reason}); export the file as UTF-8."
            ) from exc
        except csv.Error as exc:
            raise _csv_problem(exc, number + 1) from exc

    return Table(columns, records(), "csv")


def _flatten(value: dict, prefix: str = "") -> dict:
    flat = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        flat[name] = item  # kept whole too: a metadata object stays an object
        if isinstance(item, dict) and item:
            flat.update(_flatten(item, name + "."))
    return flat


def _json_depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_json_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_json_depth(item) for item in value), default=0)
    return 0


def _deep(opened: int, value) -> bool:
    """Whether a decoded value nests deeper than INGEST_MAX_JSON_DEPTH; `opened`, the brackets in its text,
    spares the walk for nearly every value."""
    limit = settings.INGEST_MAX_JSON_DEPTH
    return opened > limit and _json_depth(value) > limit


def _too_deep(what: str) -> str:
    return f"{what} nests objects and lists deeper than {settings.INGEST_MAX_JSON_DEPTH} levels, the limit."


def _json_line(line: bytes, row: int):
    try:
        value = json.loads(line, parse_float=Decimal)
    except RecursionError:
        raise FileProblemError(_too_deep(f"Line {row}")) from None
    if _deep(line.count(b"{") + line.count(b"["), value):
        raise FileProblemError(_too_deep(f"Line {row}"))
    return value


def _bounded_lines(stream) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of a byte stream, reading at most the row limit at a time; a longer line is refused."""
    limit, max_rows = settings.INGEST_MAX_ROW_BYTES, settings.INGEST_MAX_ROWS
    number = 0
    while line := stream.readline(limit + 1):
        number += 1
        if len(line) > limit and not (len(line) == limit + 1 and line.endswith(b"\n")):
            raise line_too_long(number)
        if number > max_rows:
            raise FileProblemError(_too_many())
        yield number, (line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line)


def _jsonl_table(stream) -> Table:
    lines = _bounded_lines(stream)
    first_line, number = b"", 0
    for number, first_line in lines:  # noqa: B007 - both are used after the loop
        if first_line.strip():
            break
    try:
        first = _flatten(_json_line(first_line, number))
    except (ValueError, AttributeError) as exc:
        raise FileProblemError("The file is neither CSV nor JSON lines (one JSON object per line).") from exc
    columns = list(first)

    def records():  # JSON lines have no header: a record's row is its line number
        yield number, first
        for row, line in lines:
            if not line.strip():
                continue
            try:
                yield row, _flatten(_json_line(line, row))
            except (ValueError, AttributeError):
                yield row, {"__error__": "this line is not a JSON object"}

    return Table(columns, records(), "jsonl")


def _parquet_columns(batch, field_limit: int, first_row: int) -> list[list]:
    """A batch's columns as Python lists. Text arrives dictionary-encoded (`read_dictionary`) and each value
    used is converted once and shared by its rows: a file repeating one long value in every row would
    otherwise become one Python copy per row (a Parquet "dictionary bomb")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        text = pa.types.is_dictionary(column.type) and (
            pa.types.is_string(column.type.value_type) or pa.types.is_binary(column.type.value_type)
        )
        if not text:
            columns.append(column.to_pylist())
            continue
        used = pc.unique(column.indices).drop_null()
        values = pc.take(column.dictionary, used)
        if len(values) and pc.max(pc.binary_length(values)).as_py() > field_limit:
            raise FileProblemError(
                f"Rows {first_row:,} to {first_row + len(column) - 1:,} have a value longer than "
                f"{_size(field_limit)}, the limit for one value."
            )
        lookup = dict(zip(used.to_pylist(), values.to_pylist(), strict=True))
        columns.append([None if i is None else lookup[i] for i in column.indices.to_pylist()])
    return columns


def _field_names(field, prefix: str = "") -> list[str]:
    """A Parquet column's name and, for a struct, its fields' dotted names (`usage`, `usage.amount`...)."""
    import pyarrow as pa

    name = prefix + field.name
    if not pa.types.is_struct(field.type):
        return [name]
    return [name, *(child for index in range(field.type.num_fields)
                     for child in _field_names(field.type.field(index), name + "."))]  # fmt: skip


def _parquet_table(path: Path) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)]
        parquet = pq.ParquetFile(path, read_dictionary=text)
    except (pa.ArrowException, OSError) as exc:
        raise FileProblemError(f"The Parquet file is corrupt ({exc}).") from exc
    top = list(parquet.schema_arrow.names)
    # Nested records (BigQuery's service, sku, usage...) are flattened to dotted names, as in JSON lines.
    nested = any(pa.types.is_struct(f.type) for f in parquet.schema_arrow)
    columns = [name for f in parquet.schema_arrow for name in _field_names(f)] if nested else top
    meta = parquet.metadata
    if meta.num_rows > settings.INGEST_MAX_ROWS:
        raise FileProblemError(_too_many())
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    if sum(g.total_byte_size for g in groups) > settings.INGEST_MAX_DECOMPRESSED_BYTES:
        raise FileProblemError(
            f"The file is larger than {_size(settings.INGEST_MAX_DECOMPRESSED_BYTES)} once decompressed; "
            "split it by billing period."
        )
    widest = max((g.total_byte_size / g.num_rows for g in groups if g.num_rows), default=0)
    if widest > settings.INGEST_MAX_ROW_BYTES:
        limit = _size(settings.INGEST_MAX_ROW_BYTES)
        raise FileProblemError(f"Its rows average more than {limit}, the limit for one row.")
    # A batch holds about PARQUET_BATCH_BYTES of the widest row group's data, however large its groups are.
    batch_rows = max(1, min(PARQUET_BATCH_ROWS, int(PARQUET_BATCH_BYTES // max(widest, 1))))

    def records():
        number = 1
        field_limit = settings.INGEST_MAX_FIELD_BYTES
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                for values in zip(*_parquet_columns(batch, field_limit, number + 1), strict=True):
                    number += 1
                    record = dict(zip(top, values, strict=True))
                    yield number, (_flatten(record) if nested else record)
        except (pa.ArrowException, OSError) as exc:
            raise FileProblemError(f"The Parquet file is corrupt near row {number} ({exc}).") from exc

    return Table(columns, records(), "parquet")


_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder(parse_float=Decimal)  # Decimal, never float: amounts stay exactly as written
MAX_DOCUMENT_KEYS = 1000
_STREAMED = object()  # stands for the value of the key whose list is streamed


class _JsonCursor:
    """A window on a JSON text streaming from `stream`: values are decoded one at a time by the standard
    library's C decoder (raw_decode), the window refilled as it is used up, so it never holds much more
    than one row (INGEST_MAX_ROW_BYTES) however large the document."""

    def __init__(self, stream):
        self.stream, self.decoder = stream, codecs.getincrementaldecoder("utf-8-sig")()
        self.text, self.pos, self.before, self.eof = "", 0, 0, False
        self.limit = settings.INGEST_MAX_ROW_BYTES

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(JSON_CHUNK_BYTES)
        try:
            more = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise FileProblemError(f"The file is not UTF-8 text ({exc.reason}).") from exc
        self.eof = not chunk
        self.before += self.pos
        self.text, self.pos = self.text[self.pos :] + more, 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end), consumed by `take`."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._fill():
                return ""

    def take(self, expected: str, where: str) -> None:
        if self.peek() != expected:
            raise self.invalid(f"expected {expected!r} {where}")
        self.pos += 1

    def invalid(self, message: str) -> FileProblemError:
        return FileProblemError(f"The file is not valid JSON ({message} at character {self.before + self.pos + 1:,}).")

    def value(self, what: str):
        """The next value, decoded whole: `what` (e.g. "Item 5") names it in an error."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except RecursionError:
                raise FileProblemError(_too_deep(what)) from None
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(self.text) - 6 or exc.msg.startswith("Unterminated string")
                if not cut or self.eof:
                    raise FileProblemError(f"The file is not valid JSON ({what}: {exc.msg}).") from None
                value, end = None, len(self.text)  # the value goes on in the next chunk
            if end - self.pos > self.limit:
                raise FileProblemError(f"{what} is longer than {_size(self.limit)}, the limit for one row.")
            if end < len(self.text) or self.eof:
                start, self.pos = self.pos, end
                if _deep(self.text.count("{", start, end) + self.text.count("[", start, end), value):
                    raise FileProblemError(_too_deep(what))
                return value
            self._fill()  # a number at the very end may go on too

    def end(self) -> None:
        if self.peek():
            raise self.invalid("unexpected text after the document")


def _array_items(cursor: _JsonCursor) -> Iterator:
    cursor.take("[", "at the start of a list")
    if cursor.peek() == "]":
        cursor.pos += 1
        return
    number, max_rows = 0, settings.INGEST_MAX_ROWS
    while True:
        number += 1
        if number > max_rows:
            raise FileProblemError(_too_many())
        yield cursor.value(f"Item {number} of the list")
        cursor.take("]" if cursor.peek() == "]" else ",", f"after item {number} of the list")
        if cursor.text[cursor.pos - 1] == "]":
            return


def _object_keys(cursor: _JsonCursor, stop_at: str | None = None) -> Iterator[tuple[str, object]]:
    """(key, value) of an object, after its "{"; stops before the value of `stop_at` when that is a list."""
    if cursor.peek() == "}":
        cursor.pos += 1
        return
    for count in range(MAX_DOCUMENT_KEYS + 1):
        if count == MAX_DOCUMENT_KEYS:
            raise FileProblemError(f"The document has more than {MAX_DOCUMENT_KEYS:,} keys at its top level.")
        if cursor.peek() != '"':
            raise cursor.invalid("expected a key")
        key = cursor.value("A key")
        cursor.take(":", "after a key")
        if key == stop_at and cursor.peek() == "[":
            yield key, _STREAMED
            return
        yield key, cursor.value(f"The value of {str(key)[:40]!r}")
        cursor.take("}" if cursor.peek() == "}" else ",", "after a value")
        if cursor.text[cursor.pos - 1] == "}":
            return


class JsonArray:
    """A list inside a JSON document (the document itself, or a page's "data"), read item by item from
    the file each time it is iterated, never held whole. Document sources take it where they take a list."""

    def __init__(self, path, key: str | None = None):
        self.path, self.key = path, key

    def __iter__(self):
        with open_csv_stream(self.path) as stream:
            cursor = _JsonCursor(stream)
            if self.key is not None:
                cursor.take("{", "at the start")
                for _ in _object_keys(cursor, stop_at=self.key):
                    pass
            yield from _array_items(cursor)
            if self.key is not None:
                cursor.take("}" if cursor.peek() == "}" else ",", "after the list")
                if cursor.text[cursor.pos - 1] == ",":
                    for _ in _object_keys(cursor):
                        pass
            cursor.end()


def is_array(value) -> bool:
    """True for a JSON list, parsed or streamed (JsonArray)."""
    return isinstance(value, list | JsonArray)


def sniff_json_document(path) -> bool:
    """True when the file is one JSON document (a report page or list) rather than a table or JSON lines."""
    with open_csv_stream(path) as stream:
        head = stream.read(65536)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"[":
        return True
    if text[:1] != b"{":
        return False
    first_line = text.split(b"\n", 1)[0]
    try:
        first = json.loads(first_line)
    except (ValueError, RecursionError):
        return True  # a pretty-printed object spans lines: a document
    return isinstance(first, dict) and (isinstance(first.get("data"), list) or first.get("object") == "page")


def open_json_document(path):
    """The JSON document at `path` (decompressed), its large list streamed: a top-level list is a JsonArray;
    an object is a dict of its keys up to "data", whose list is a JsonArray (keys after it are not kept).
    FileProblemError for a document that is not valid JSON or passes a limit."""
    with open_csv_stream(path) as stream:
        cursor = _JsonCursor(stream)
        first = cursor.peek()
        if first == "[":
            return JsonArray(path)
        if first != "{":
            value = cursor.value("The document")
            cursor.end()
            return value
        cursor.pos += 1
        document = dict(_object_keys(cursor, stop_at="data"))
        if document.get("data") is _STREAMED:
            document["data"] = JsonArray(path, key="data")
        else:
            cursor.end()
    return document


@contextmanager
def open_csv_stream(path):
    """The decompressed bytes of a CSV (or JSON lines) file at `path`, for readers of their own."""
    path = Path(path)
    with open(path, "rb") as probe:
        head = probe.read(4)
    stream = _decompressed(path, head)
    try:
        yield stream
    finally:
        stream.close()


@contextmanager
def open_table(path):
    """The file at `path` as a Table, whatever its compression and layout; FileProblemError if unreadable."""
    path = Path(path)
    with open(path, "rb") as probe:
        head = probe.read(4)
    if head == b"PAR1":
        yield _parquet_table(path)
        return
    stream = _decompressed(path, head)
    try:
        peek = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
        if peek[:4] == b"PAR1":
            raise FileProblemError("Compressed Parquet is not supported; upload the .parquet file itself.")
        if head.startswith((b"\x1f\x8b", b"PK\x03\x04")) and peek.startswith((b"\x1f\x8b", b"PK\x03\x04")):
            raise FileProblemError("The archive holds another compressed file; compress the bill file itself once.")
        if peek.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
            yield _jsonl_table(stream)
        else:
            yield _csv_table(stream)
    finally:
        stream.close()
