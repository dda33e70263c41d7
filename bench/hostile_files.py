"""Hostile upload files (issue 16, "Memory"), written at any scale: the benchmark writes them at full size
(bench/upload_memory.py), the tests small, against small limits (tests/ingest/test_hostile_files.py).

Each builder writes one file into `folder` and returns its path; `size` is the size that matters (the
decompressed bytes of a bomb, the length of the long line or value, the items of a list). Bombs are built
without holding their content: a gzip file may hold several members, so one compressed member is written
again and again.
"""

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

FOCUS_HEADER = ("BillingAccountId,ProviderName,BillingCurrency,BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,"
                "ChargeCategory,BilledCost,EffectiveCost,ResourceId,Tags\n")  # fmt: skip
FOCUS_ROW = ('acct-1,AWS,USD,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,2026-10-01T01:00:00Z,Usage,1.25,1.25,i-1,'
             '"{""customer"": ""acme""}"\n')  # fmt: skip
MEMBER_BYTES = 64 * 2**20


def _gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _repeated_gzip(path: Path, head: bytes, unit: bytes, size: int) -> Path:
    """`head`, then `unit` repeated to about `size` bytes, gzipped: one member compressed once, written again."""
    per_member = max(1, min(MEMBER_BYTES, size) // len(unit))
    member = _gzip_member(unit * per_member)
    with open(path, "wb") as out:
        out.write(_gzip_member(head))
        for _ in range(max(1, size // (per_member * len(unit)))):
            out.write(member)
    return path


def _repeated_text(path: Path, head: str, unit: str, size: int, tail: str) -> Path:
    """`head`, then `unit` written again and again to about `size` characters, then `tail`."""
    with open(path, "w") as out:
        out.write(head)
        for _ in range(size // len(unit)):
            out.write(unit)
        out.write(tail)
    return path


def gzip_bomb_zeros(folder: Path, size: int) -> Path:
    """`size` zero bytes, gzipped (about 1,000 to 1)."""
    return _repeated_gzip(folder / "zeros.csv.gz", b"", b"\0" * 4096, size)


def gzip_bomb_rows(folder: Path, size: int) -> Path:
    """A FOCUS header and one valid row repeated to `size` bytes, gzipped: a bill that looks legitimate."""
    return _repeated_gzip(folder / "rows.csv.gz", FOCUS_HEADER.encode(), FOCUS_ROW.encode() * 64, size)


def zip_bomb(folder: Path, size: int) -> Path:
    """One member of `size` zero bytes in a zip (deflate)."""
    path = folder / "zeros.zip"
    chunk = b"\0" * (4 * 2**20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("bill.csv", "w", force_zip64=size > 2**31) as member,
    ):
        for _ in range(size // len(chunk)):
            member.write(chunk)
        member.write(b"\0" * (size % len(chunk)))
    return path


def long_csv_line(folder: Path, size: int) -> Path:
    """A FOCUS header, then one line of `size` bytes without a newline, gzipped."""
    return _repeated_gzip(folder / "long_line.csv.gz", FOCUS_HEADER.encode(), b"x" * 4096, size)


def long_csv_field(folder: Path, size: int) -> Path:
    """A FOCUS row whose quoted Tags value holds `size` bytes spread over lines of 100 (each line is short)."""
    head = (
        FOCUS_HEADER
        + FOCUS_ROW
        + ('acct-1,AWS,USD,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,2026-10-01T01:00:00Z,Usage,1,1,i-1,"')
    )
    return _repeated_text(folder / "long_field.csv", head, "a" * 99 + "\n", size, '"\n')


def litellm_event(i: int) -> dict:
    return {
        "request_id": f"req-{i}",
        "call_type": "acompletion",
        "startTime": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "endTime": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:01Z",
        "model": ("gpt-4o-mini", "claude-haiku-4-5")[i % 2],
        "spend": 0.000125,
        "prompt_tokens": 100 + i % 900,
        "completion_tokens": 20 + i % 100,
        "total_tokens": 120 + i % 1000,
        "metadata": {"customer": f"cust-{i % 50}"},
    }


def json_big_array(folder: Path, size: int) -> Path:
    """A LiteLLM /spend/logs list of `size` small objects, pretty-printed: legitimate, must stream."""
    path = folder / "litellm_list.json"
    with open(path, "w") as out:
        out.write("[\n")
        for i in range(size):
            out.write(("  " if i == 0 else ",\n  ") + json.dumps(litellm_event(i)))
        out.write("\n]\n")
    return path


def json_giant_string(folder: Path, size: int) -> Path:
    """An OpenAI usage page whose one result holds a string of `size` bytes."""
    head = (
        '{"object": "page", "data": [{"object": "bucket", "start_time": 1727740800, '
        '"end_time": 1727827200, "results": [{"object": "organization.usage.completions.result", "x": "'
    )
    return _repeated_text(folder / "giant_string.json", head, "A" * 2**20, size, '"}]}], "has_more": false}\n')


def json_deep(folder: Path, size: int) -> Path:
    """A list nested `size` levels deep."""
    path = folder / "deep.json"
    path.write_text("[" * size + "]" * size)
    return path


def jsonl_long_line(folder: Path, size: int) -> Path:
    """Generic usage events: one ordinary line, then one of `size` bytes (a metadata string)."""
    event = {"event_id": "e-1", "timestamp": "2026-10-01T00:00:00Z", "provider": "openai", "model": "gpt-4o-mini"}
    head = (
        json.dumps(event) + "\n"
        '{"event_id": "e-2", "timestamp": "2026-10-01T00:00:00Z", "provider": "openai", "model": "m", '
        '"metadata": {"blob": "'
    )
    return _repeated_text(folder / "long_line.jsonl", head, "B" * 2**20, size, '"}}\n')


def zip_many_members(folder: Path, size: int) -> Path:
    """A zip of `size` empty members."""
    path = folder / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for i in range(size):
            archive.writestr(f"part-{i}.csv", b"")
    return path


def zip_nested(folder: Path, size: int) -> Path:
    """A zip holding a zip holding `size` zero bytes."""
    inner, chunk = io.BytesIO(), b"\0" * 2**20
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("bill.csv", "w") as member:
        for _ in range(size // len(chunk)):
            member.write(chunk)
    path = folder / "nested.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("bill.zip", inner.getvalue())
    return path


def parquet_dictionary_bomb(folder: Path, size: int, rows: int = 1_000_000) -> Path:
    """A FOCUS-shaped Parquet file of `rows` rows in one row group whose Tags repeat one value of `size`
    bytes: stored once in the column's dictionary, `rows` copies once decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = FOCUS_HEADER.strip().split(",")
    values = next(csv.reader([FOCUS_ROW]))
    columns = {name: pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array([value]))
               for name, value in zip(names, values, strict=True)}  # fmt: skip
    columns["Tags"] = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["t" * size]))
    path = folder / "dictionary_bomb.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=rows, compression="zstd")
    return path


HOSTILE = {
    # name: (builder, size at full scale)
    "gzip bomb, 10 GiB of zeros": (gzip_bomb_zeros, 10 * 2**30),
    "gzip bomb, 10 GiB of FOCUS rows": (gzip_bomb_rows, 10 * 2**30),
    "zip bomb, 4 GiB of zeros": (zip_bomb, 4 * 2**30),
    "CSV line of 50 MiB (gzip)": (long_csv_line, 50 * 2**20),
    "CSV value of 50 MiB over short lines": (long_csv_field, 50 * 2**20),
    "JSON string of 100 MiB": (json_giant_string, 100 * 2**20),
    "JSON nested 10M deep": (json_deep, 10_000_000),
    "JSON line of 100 MiB": (jsonl_long_line, 100 * 2**20),
    "zip of 100,000 members": (zip_many_members, 100_000),
    "zip in a zip": (zip_nested, 100 * 2**20),
    "Parquet dictionary bomb (1M rows x 100 KiB)": (parquet_dictionary_bomb, 100 * 2**10),
}
