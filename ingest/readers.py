"""Open an uploaded file as a table of records, streaming: CSV, JSON lines or Parquet, plain,
gzip- or zip-compressed. Records are dicts of column name to cell. Row numbers are what a person
finds in the file: in CSV and Parquet the header is row 1, so the first record is row 2, as in a
spreadsheet; in JSON lines a record's row is its line number.
"""

import codecs
import csv
import gzip
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from django.conf import settings

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
PARQUET_BATCH_ROWS = 8192


class FileProblemError(Exception):
    """The file as a whole cannot be read: corrupt archive, too large, not a table."""


class _Limited(io.RawIOBase):
    """A byte stream that refuses to yield more than `limit` bytes (zip and gzip bombs)."""

    def __init__(self, raw, limit: int):
        self.raw, self.limit, self.seen = raw, limit, 0

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
                f"The file is larger than {self.limit // 2**30} GiB once decompressed; split it by billing period."
            )
        buffer[: len(data)] = data
        return len(data)


class Table:
    """Column names and a one-pass iterator of (row number, record)."""

    def __init__(self, columns: list[str], records: Iterator[tuple[int, dict]], file_format: str):
        self.columns = columns
        self._records = records
        self.file_format = file_format  # csv, jsonl or parquet

    def records(self) -> Iterator[tuple[int, dict]]:
        return self._records


def _decompressed(path: Path, head: bytes):
    limit = settings.INGEST_MAX_DECOMPRESSED_BYTES
    if head.startswith(b"\x1f\x8b"):
        return io.BufferedReader(_Limited(gzip.open(path, "rb"), limit), 1 << 20)
    if head.startswith(b"PK\x03\x04"):
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise FileProblemError("The zip archive is corrupt.") from exc
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise FileProblemError(f"The zip archive holds {len(members)} files; upload one bill file per archive.")
        return io.BufferedReader(_Limited(archive.open(members[0]), limit), 1 << 20)
    return open(path, "rb")


def _csv_table(stream) -> Table:
    text_stream = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text_stream)
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblemError("The file is empty.") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FileProblemError(f"The file is not readable CSV text ({exc}).") from exc
    columns = [c.strip() for c in header]
    if not any(columns):
        raise FileProblemError("The first line is empty; it must be the header with the column names.")

    def records():
        width = len(columns)
        number = 1
        try:
            for values in reader:
                number += 1
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                if len(values) < width:
                    values = values + [None] * (width - len(values))
                elif len(values) > width and any(v.strip() for v in values[width:]):
                    yield number, {"__error__": f"this row has {len(values)} values but the header has {width}"}
                    continue
                yield number, dict(zip(columns, values, strict=False))
        except UnicodeDecodeError as exc:
            raise FileProblemError(
                f"Row {number + 1} is not UTF-8 text ({exc.reason}); export the file as UTF-8."
            ) from exc
        except csv.Error as exc:
            raise FileProblemError(f"Row {number + 1} is not valid CSV ({exc}).") from exc

    return Table(columns, records(), "csv")


def _flatten(value: dict, prefix: str = "") -> dict:
    flat = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        flat[name] = item  # kept whole too: a metadata object stays an object
        if isinstance(item, dict) and item:
            flat.update(_flatten(item, name + "."))
    return flat


def _jsonl_table(stream) -> Table:
    lines = codecs.getreader("utf-8-sig")(stream)
    first_line, number = "", 0
    for first_line in lines:
        number += 1
        if first_line.strip():
            break
    try:
        first = _flatten(json.loads(first_line, parse_float=Decimal))
    except (ValueError, AttributeError) as exc:
        raise FileProblemError("The file is neither CSV nor JSON lines (one JSON object per line).") from exc
    columns = list(first)

    def records():  # JSON lines have no header: a record's row is its line number
        yield number, first
        row = number
        for line in lines:
            row += 1
            if not line.strip():
                continue
            try:
                yield row, _flatten(json.loads(line, parse_float=Decimal))
            except (ValueError, AttributeError):
                yield row, {"__error__": "this line is not a JSON object"}

    return Table(columns, records(), "jsonl")


def _parquet_table(path: Path) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise FileProblemError(f"The Parquet file is corrupt ({exc}).") from exc
    columns = list(parquet.schema_arrow.names)

    def records():
        number = 1
        try:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                for record in batch.to_pylist():
                    number += 1
                    yield number, record
        except (pa.ArrowException, OSError) as exc:
            raise FileProblemError(f"The Parquet file is corrupt near row {number} ({exc}).") from exc

    return Table(columns, records(), "parquet")


MAX_JSON_DOCUMENT_BYTES = 512 * 2**20


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
    except ValueError:
        return True  # a pretty-printed object spans lines: a document
    return isinstance(first, dict) and (isinstance(first.get("data"), list) or first.get("object") == "page")


def open_json_document(path):
    """The parsed JSON document at `path` (decompressed; refused above 512 MiB)."""
    with open_csv_stream(path) as stream:
        data = stream.read(MAX_JSON_DOCUMENT_BYTES + 1)
    if len(data) > MAX_JSON_DOCUMENT_BYTES:
        raise FileProblemError("The JSON document is larger than 512 MiB; export it in smaller pages.")
    try:
        # Decimal, never float: report amounts go to the ledger exactly as written.
        return json.loads(data.decode("utf-8-sig"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FileProblemError(f"The file is not valid JSON ({exc}).") from exc


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
        if peek.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
            yield _jsonl_table(stream)
        else:
            yield _csv_table(stream)
    finally:
        stream.close()
