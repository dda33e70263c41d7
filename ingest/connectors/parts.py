"""One export delivered as several files ("parts", "shards"), handed to the importer as one file.

Cost exports split a large result into parts: Azure Cost Management's partitioned exports write
`part_0_0001.csv`, `part_1_0001.csv`... into one run folder, BigQuery's EXPORT DATA writes
`billing-000000000000.csv`, `billing-000000000001.csv`... The importer replaces a whole billing period
with each file it loads, so the parts of one delivery must arrive as one file, or the second part would
replace the first. `join_parts` writes them into one: CSV parts (plain or gzip) as one gzip CSV with the
header once, JSON lines parts as one gzip JSON lines file, Parquet parts as one Parquet file. A single
part is passed on as it is.
"""

import gzip
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from ingest.connectors.base import ConnectorError

COPY_CHUNK = 1 << 20
_REEXPORT = "Run the export again on the provider's side; the new delivery is pulled by itself."
# Names the exports give their data files; anything else under the prefix (a manifest, _SUCCESS) is not data.
DATA_SUFFIXES = (".csv", ".csv.gz", ".csv.gzip", ".json", ".jsonl", ".json.gz", ".jsonl.gz", ".ndjson", ".parquet")


@dataclass(frozen=True)
class Part:
    """One stored object of a delivery: its full name, size and ETag (or generation)."""

    name: str
    size: int
    etag: str


def is_data_file(name: str) -> bool:
    """True for a name a cost export gives its data files (CSV, JSON lines or Parquet, maybe gzip'd)."""
    return name.lower().endswith(DATA_SUFFIXES)


def suffix(name: str) -> str:
    """The data suffix of a part's name ('.csv.gz', '.snappy.parquet' -> '.parquet'), for the upload's name."""
    lowered = name.lower()
    return next((s for s in sorted(DATA_SUFFIXES, key=len, reverse=True) if lowered.endswith(s)), "")


def joined_suffix(parts: Sequence[Part]) -> str:
    """The suffix of the file `join_parts` makes of `parts`: a single part's own, else .parquet for Parquet parts
    and the gzip of CSV or JSON lines for the others ('' when a single part's name says nothing)."""
    first = suffix(parts[0].name)
    if len(parts) == 1 or first == ".parquet":
        return first
    return ".jsonl.gz" if ".json" in first or first == ".ndjson" else ".csv.gz"


def parts_version(parts: Sequence[Part]) -> str:
    """The version of a delivery: the ETag of a single part, else a digest of every part's name and ETag."""
    if len(parts) == 1:
        return parts[0].etag.strip('"')
    digest = hashlib.sha256()
    for part in sorted(parts, key=lambda p: p.name):
        digest.update(f"{part.name}\n{part.etag.strip(chr(34))}\n".encode())
    return f"{len(parts)} parts sha256:{digest.hexdigest()}"


def _kind(path: str) -> tuple[str, bool]:
    """(format, gzipped) of a downloaded part, from its bytes: csv, jsonl or parquet."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet", False
    opener = gzip.open if head[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as handle:
            start = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except (OSError, EOFError) as exc:
        raise ConnectorError(f"A part of the export is not a readable gzip file ({exc}).", _REEXPORT) from exc
    return ("jsonl" if start[:1] == b"{" else "csv"), head[:2] == b"\x1f\x8b"


def _open_text_part(path: str, gzipped: bool):
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _join_lines(paths, kinds, into: IO[bytes], has_header: bool, names: Sequence[str]) -> None:
    header = None
    with gzip.GzipFile(fileobj=into, mode="wb", compresslevel=5, mtime=0) as out:
        for path, (_, gzipped), name in zip(paths, kinds, names, strict=True):
            with _open_text_part(path, gzipped) as part:
                if has_header:
                    first = part.readline()
                    first_text = first.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
                    if header is None:
                        header = first_text
                        out.write(header + b"\n")
                    elif first_text != header:
                        raise ConnectorError(
                            f"The parts of this export have different headers ({name} differs from the first part).",
                            _REEXPORT,
                        )
                last = b"\n"
                while chunk := part.read(COPY_CHUNK):
                    out.write(chunk)
                    last = chunk[-1:]
                if last not in (b"\n", b"\r"):
                    out.write(b"\n")


def _join_parquet(paths, into: IO[bytes], names: Sequence[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for path, name in zip(paths, names, strict=True):
            try:
                parquet = pq.ParquetFile(path)
            except (pa.ArrowException, OSError) as exc:
                raise ConnectorError(f"{name} is not a readable Parquet file ({exc}).", _REEXPORT) from exc
            if writer is None:
                schema = parquet.schema_arrow
                writer = pq.ParquetWriter(into, schema)
            elif not parquet.schema_arrow.equals(schema):
                raise ConnectorError(
                    f"The parts of this export have different columns ({name} differs from the first part).",
                    _REEXPORT,
                )
            try:
                for batch in parquet.iter_batches():
                    writer.write_batch(batch)
            except (pa.ArrowException, OSError) as exc:
                raise ConnectorError(f"{name} is not a readable Parquet file ({exc}).", _REEXPORT) from exc
    finally:
        if writer is not None:
            writer.close()


def join_parts(parts: Sequence[Part], read: Callable[[Part, IO[bytes]], None], into: IO[bytes]) -> None:
    """Write the delivery made of `parts` (in their order) into `into` as one file; `read(part, handle)` writes
    one part's bytes. ConnectorError when the parts do not fit together (mixed formats, different headers)."""
    if len(parts) == 1:
        read(parts[0], into)
        return
    with tempfile.TemporaryDirectory(prefix="connector-parts-") as folder:
        paths = []
        for number, part in enumerate(parts):
            path = f"{folder}/{number}"
            with open(path, "wb") as handle:
                read(part, handle)
            paths.append(path)
        kinds = [_kind(path) for path in paths]
        formats = {kind for kind, _ in kinds}
        names = [part.name for part in parts]
        if len(formats) > 1:
            raise ConnectorError(
                f"The parts of this export mix formats ({', '.join(sorted(formats))}); one export writes one format.",
                "Keep one export per folder, in one format.",
            )
        file_format = formats.pop()
        if file_format == "parquet":
            _join_parquet(paths, into, names)
        else:
            _join_lines(paths, kinds, into, has_header=file_format == "csv", names=names)


def copy_stream(stream, into: IO[bytes]) -> None:
    """Copy a readable stream of bytes into `into`."""
    shutil.copyfileobj(stream, into, COPY_CHUNK)
