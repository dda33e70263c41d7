r"""Benchmark: our bill import (file to committed ledger rows) against `psql \copy` of the same file.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/finops_bench .venv/bin/python bench/ingest_bills.py [--rows N]

Generates a realistic FOCUS 1.2 CSV once (several providers, hourly GPU instance lines, tags;
cached in bench/out/), then in the same run:
  1. reference: `psql \copy` of the file into a bare table of text columns (no parsing, no indexes);
  2. ours: the real import path (upload, detect, parse, validate, COPY into the ledger, replace
     the billing periods, commit), in a child process so its peak RSS is its own.
Prints both times, the ratio (reference seconds / our seconds; 1.0 = as fast as psql) and our peak RSS.
Also prints a third time that explains the gap: `psql \copy` of our own normalised ledger rows, in
PostgreSQL's binary format as our import sends them, into a copy of the ledger table (typed columns,
its indexes), i.e. the database's share of our import.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
    import django

    django.setup()


def generate(rows: int) -> Path:
    from finops.demo_bills import PROVIDERS, demo_resources, write_focus_bill

    path = OUT / f"focus12_{rows}.csv"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    days = 60
    per_hour = max(1, rows // (days * 24))
    # GPU instances hourly, plus 4 managed services per provider (two of them daily).
    per_provider = max(1, (per_hour - 2 * len(PROVIDERS)) // len(PROVIDERS))
    started = time.perf_counter()
    count = write_focus_bill(
        path, start=date(2026, 8, 1), days=days, resources=demo_resources(per_provider=per_provider)
    )
    print(f"generated {count:,} lines ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f}s")
    return path


def reference_copy(path: Path, columns, table: str) -> float:
    """Seconds `psql \\copy` takes to load the CSV at `path` into a new bare table of text `columns` (the
    reference of the bill benchmark and the old one of the usage benchmark)."""
    url = os.environ["DATABASE_URL"]
    definition = ", ".join(f'"{c}" text' for c in columns)
    subprocess.run(
        ["psql", url, "-qc", f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({definition})"], check=True
    )
    started = time.perf_counter()
    subprocess.run(["psql", url, "-qc", f"\\copy {table} FROM '{path}' WITH (FORMAT csv, HEADER true)"], check=True)
    elapsed = time.perf_counter() - started
    subprocess.run(["psql", url, "-qc", f"DROP TABLE {table}"], check=True)
    return elapsed


def child_import(path: str) -> None:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import Organization
    from accounts.services import org_bootstrap
    from ingest.models import Upload
    from ingest.services.uploads import upload_create_from_path, upload_run

    Organization.objects.filter(name="Benchmark AI").delete()
    org, _, _ = org_bootstrap(name="Benchmark AI", owner_email="bench@example.org")
    started = time.perf_counter()
    upload = upload_create_from_path(org=org, path=path, kind="bill", enqueue=False)
    upload = upload_run(upload_id=upload.pk)
    elapsed = time.perf_counter() - started
    assert upload.status == Upload.Status.DONE, upload.errors
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floor = ledger_floor(upload.pk)
    print(json.dumps({"seconds": elapsed, "rows": upload.rows_loaded, "peak_rss_mib": peak, "floor": floor}))
    Organization.objects.filter(pk=org.pk).delete()


def ledger_floor(upload_id: int) -> float:
    r"""Seconds for psql to \copy the upload's own ledger rows into an empty copy of the ledger table."""
    from ingest.services.ledger_writer import LEDGER_COLUMNS

    url, dump = os.environ["DATABASE_URL"], OUT / "ledger_rows.bin"
    columns = ", ".join(LEDGER_COLUMNS)
    select = f"SELECT {columns} FROM ingest_costline WHERE upload_id = {int(upload_id)}"  # noqa: S608 - ints and fixed names
    subprocess.run(["psql", url, "-qc", f"\\copy ({select}) TO '{dump}' WITH (FORMAT binary)"], check=True)
    subprocess.run(
        [
            "psql",
            url,
            "-qc",
            "DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor (LIKE ingest_costline INCLUDING ALL)",
        ],
        check=True,
    )
    started = time.perf_counter()
    subprocess.run(
        ["psql", url, "-qc", f"\\copy bench_floor ({columns}) FROM '{dump}' WITH (FORMAT binary)"], check=True
    )
    elapsed = time.perf_counter() - started
    subprocess.run(["psql", url, "-qc", "DROP TABLE bench_floor"], check=True)
    dump.unlink()
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child-import", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(args.child_import)
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database: the benchmark compares against psql \\copy.")
    setup_django()
    from finops.demo_bills import FOCUS_COLUMNS

    path = generate(args.rows)
    reference = reference_copy(path, FOCUS_COLUMNS, "bench_bare")
    child = subprocess.run(
        [sys.executable, __file__, "--child-import", str(path)], check=True, capture_output=True, text=True
    )
    ours = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"file:            {path.name}, {ours['rows']:,} ledger rows")
    print(f"psql \\copy:      {reference:.2f}s ({ours['rows'] / reference:,.0f} rows/s)")
    print(f"our import:      {ours['seconds']:.2f}s ({ours['rows'] / ours['seconds']:,.0f} rows/s)")
    print(f"ratio:           {reference / ours['seconds']:.2f}x the speed of psql \\copy (goal >= 0.5)")
    print(f"peak RSS:        {ours['peak_rss_mib']:.0f} MiB (goal < 500)")
    print(
        f"database share:  {ours['floor']:.2f}s for psql to \\copy our normalised rows (binary) into an empty copy "
        "of the ledger table: the database's own work, which our import overlaps with its parsing"
    )


if __name__ == "__main__":
    main()
