r"""Benchmark: usage events through the file path and through the live endpoint.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/finops_bench .venv/bin/python bench/ingest_usage.py \
        [--file-events 1000000] [--live-events 100000] [--repeat 3]

1. File path: N generic JSON-lines events (generated once into bench/out/) through the real upload
   path (store, parse, validate, price from the catalogue, COPY into the ledger, mark dirty days, commit),
   in a child process, against the **floor**, measured right after in the same child on the same data:
   `psql \copy` of our stored events, in the binary format our import sends, into an empty copy of the
   ledger table with its indexes (`LIKE ingest_usageevent INCLUDING ALL`). Both start from the same
   state: when the ledger holds nothing but this benchmark's rows it is truncated before our import
   (so our indexes are as empty as the floor's); when it holds other organisations' rows, the floor's
   copy is given the same rows first. A CHECKPOINT precedes each timed part, and neither table is
   autovacuumed while they are timed (else the ledger's, after our commit, may run during the floor).
   Goal: floor / ours >= 0.9x at 1M events (the median of --repeat pairs), peak RSS < 500 MiB. The old
   ratio, against `psql \copy` of the same events as CSV into a bare text table (goal >= 0.3x), is
   reported beside it. The child imports the task modules before the clock starts, as a worker does.
2. Live endpoint: M events as batches of 1,000 posted to POST /api/v1/usage-events/ of the app
   served by gunicorn on loopback (2 workers), from 2 client threads; events/s sustained.
"""

import argparse
import csv
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
from ingest_bills import reference_copy  # noqa: E402 - the bill benchmark's psql \\copy reference (bench/ is on the path)

FIELDS = ("event_id", "timestamp", "provider", "model", "customer", "feature", "route", "job_id", "attempt", "status",
          "input_tokens", "output_tokens", "cached_input_tokens")  # fmt: skip
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5"), ("self-hosted", "ft-v2"))


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
    import django

    django.setup()


def events(count: int, prefix: str, seed: int = 3):
    rng = random.Random(seed)
    for i in range(count):
        provider, model = MODELS[i % len(MODELS)]
        yield {
            "event_id": f"{prefix}-{i}",
            "timestamp": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            "provider": provider,
            "model": model,
            "customer": f"cust-{i % 300:03d}",
            "feature": ("chat", "summarise", "agent", "batch")[i % 4],
            "route": "premium" if i % 3 == 0 else "cheap",
            "job_id": f"job-{i // 3}",
            "attempt": 1 + i % 3,
            "status": "ok" if i % 7 else "error",
            "input_tokens": rng.randint(100, 4000),
            "output_tokens": rng.randint(10, 900),
            "cached_input_tokens": rng.choice((0, 512, 1024)),
        }


def generate(count: int) -> tuple[Path, Path]:
    jsonl, csv_path = OUT / f"usage_{count}.jsonl", OUT / f"usage_{count}.csv"
    if jsonl.exists() and csv_path.exists():
        return jsonl, csv_path
    OUT.mkdir(parents=True, exist_ok=True)
    with open(jsonl, "w") as lines, open(csv_path, "w", newline="") as table:
        writer = csv.DictWriter(table, FIELDS)
        writer.writeheader()
        for event in events(count, "file"):
            lines.write(json.dumps(event) + "\n")
            writer.writerow(event)
    return jsonl, csv_path


def fresh_org(name: str):
    from accounts.models import Organization
    from accounts.services import org_bootstrap

    Organization.objects.filter(name=name).delete()
    return org_bootstrap(name=name, owner_email=f"{name.split()[0].lower()}@example.org")


def psql(*args: str) -> None:
    subprocess.run(["psql", os.environ["DATABASE_URL"], "-q", *args], check=True)


def ledger_prepare() -> int:
    """Put the ledger in the state the floor's empty copy starts from; returns the other organisations' rows.

    Rows of earlier bench runs are gone (fresh_org), so a ledger holding nothing else is truncated: same
    rows (none), and none of the dead rows and index pages that deleting earlier runs' rows leaves. A
    ledger with other organisations' rows is kept (vacuumed); the floor's copy is then given them too."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_usageevent")
        others = cursor.fetchone()[0]
        if not others:
            cursor.execute("TRUNCATE ingest_usageevent")
    if others:
        psql("-c", "VACUUM ANALYZE ingest_usageevent")
    psql("-c", "CHECKPOINT")
    return others


def child_import(path: str, staged: bool) -> None:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from finops.celery import app
    from ingest.models import Upload
    from ingest.services.uploads import upload_create_from_path, upload_run

    # As a Celery worker does when it starts (imports run once per worker, not once per upload).
    app.loader.import_default_modules()
    org, _, _ = fresh_org("Usage Bench AI")
    others = ledger_prepare()
    # No autovacuum of the ledger after our commit while the floor is timed (nor of the floor's copy).
    psql("-c", "ALTER TABLE ingest_usageevent SET (autovacuum_enabled = off)")
    try:
        started = time.perf_counter()
        upload = upload_create_from_path(org=org, path=path, kind="usage", enqueue=False)
        upload = upload_run(upload_id=upload.pk)
        elapsed = time.perf_counter() - started
        assert upload.status == Upload.Status.DONE, upload.errors
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        floor = database_share(upload.pk, others=others, staged=staged)
    finally:
        psql("-c", "ALTER TABLE ingest_usageevent RESET (autovacuum_enabled)")
    upload.file.delete(save=False)
    org.delete()
    ledger_prepare()  # leaves the ledger as it found it, without our dead rows
    result = {"seconds": elapsed, "rows": upload.rows_loaded, "peak_rss_mib": peak, "floor": floor, "others": others}
    print(json.dumps(result))


def database_share(upload_id: int, *, others: int, staged: bool) -> dict:
    r"""Seconds for psql to do the database's part of our import alone, on our stored events (binary):
    `direct`, \copy them into an empty copy of the ledger (what a file of new events costs; the floor);
    `staged`, \copy them into a staging table and INSERT ... ON CONFLICT DO NOTHING them into it (a file
    with events already held). The copy holds the other organisations' rows when the ledger does."""
    from ingest.services.usage import COLUMNS

    dump = OUT / "usage_rows.bin"
    select = f"SELECT {COLUMNS} FROM ingest_usageevent WHERE upload_id = {int(upload_id)}"  # noqa: S608
    psql("-c", f"\\copy ({select}) TO '{dump}' WITH (FORMAT binary)")
    script = OUT / "usage_floor.sql"
    insert = f"INSERT INTO bench_usage_floor ({COLUMNS}) SELECT {COLUMNS} FROM st"  # noqa: S608 - fixed names
    scripts = {
        "direct": f"\\copy bench_usage_floor ({COLUMNS}) FROM '{dump}' WITH (FORMAT binary)\n",
        "staged": f"BEGIN;\nCREATE TEMP TABLE st AS SELECT {COLUMNS} FROM bench_usage_floor WITH NO DATA;\n"  # noqa: S608
        f"\\copy st FROM '{dump}' WITH (FORMAT binary)\n"
        f"{insert} ON CONFLICT (org_id, event_id) DO NOTHING;\nCOMMIT;\n",
    }
    create = [
        "DROP TABLE IF EXISTS bench_usage_floor",
        "CREATE TABLE bench_usage_floor (LIKE ingest_usageevent INCLUDING ALL)",
        "ALTER TABLE bench_usage_floor SET (autovacuum_enabled = off)",
    ]
    if others:
        create += [
            "INSERT INTO bench_usage_floor SELECT * FROM ingest_usageevent "  # noqa: S608 - fixed names
            f"WHERE upload_id IS DISTINCT FROM {int(upload_id)}",
            "SELECT setval(pg_get_serial_sequence('bench_usage_floor', 'id'), max(id)) FROM bench_usage_floor",
            "VACUUM ANALYZE bench_usage_floor",
        ]
    seconds = {}
    for name, text in scripts.items():
        if name == "staged" and not staged:
            continue
        for statement in [*create, "CHECKPOINT"]:  # one each: VACUUM cannot run inside a transaction
            psql("-c", statement)
        script.write_text(text)
        started = time.perf_counter()
        psql("-f", str(script))
        seconds[name] = time.perf_counter() - started
    psql("-c", "DROP TABLE bench_usage_floor")
    dump.unlink()
    return seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live(count: int) -> float:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    org, _, key = fresh_org("Live Bench AI")
    port = free_port()
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0", "DEBUG": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "finops.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        batches = [json.dumps(list(batch)).encode() for batch in _chunks(events(count, "live"), 1000)]
        pending = list(range(len(batches)))
        lock = threading.Lock()
        accepted = []

        def client():
            while True:
                with lock:
                    if not pending:
                        return
                    index = pending.pop()
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v1/usage-events/",
                    data=batches[index],
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                    accepted.append(json.loads(response.read())["accepted"])

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        assert sum(accepted) == count, sum(accepted)
        return elapsed
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        org.delete()


def _chunks(iterable, size):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def verdict(met: bool) -> str:
    return "PASS" if met else "FAIL"


def file_path(args) -> None:
    jsonl, csv_path = generate(args.file_events)
    runs = []
    for index in range(args.repeat):
        reference = reference_copy(csv_path, FIELDS, "bench_usage")
        command = [sys.executable, __file__, "--child-import", str(jsonl)] + (["--staged"] if index == 0 else [])
        child = subprocess.run(command, check=True, capture_output=True, text=True)
        run = json.loads(child.stdout.strip().splitlines()[-1])
        run["reference"], run["ratio"] = reference, run["floor"]["direct"] / run["seconds"]
        runs.append(run)
        print(
            f"  run {index + 1}: ours {run['seconds']:.2f}s, floor {run['floor']['direct']:.2f}s: {run['ratio']:.2f}x; "
            f"old reference {reference:.2f}s: {reference / run['seconds']:.2f}x; "
            f"peak RSS {run['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
    ours = statistics.median(r["seconds"] for r in runs)
    floor = statistics.median(r["floor"]["direct"] for r in runs)
    ratio = statistics.median(r["ratio"] for r in runs)
    reference = statistics.median(r["reference"] for r in runs)
    old_ratio = statistics.median(r["reference"] / r["seconds"] for r in runs)
    peak = max(r["peak_rss_mib"] for r in runs)
    rows, others = runs[0]["rows"], runs[0]["others"]
    at_goal = args.file_events == 1_000_000
    judged = (lambda met: verdict(met)) if at_goal else (lambda met: f"not judged at {args.file_events:,} events")
    median = f"median of {len(runs)}" if len(runs) > 1 else "one run"
    print(f"file path:       {rows:,} events in {ours:.2f}s ({rows / ours:,.0f} events/s), {median}")
    print(
        f"floor:           {floor:.2f}s for psql to \\copy our stored events (binary) into a copy of the ledger table "
        f"with its indexes, holding what ours held (see ledger)"
    )
    print(f"ratio:           {ratio:.2f}x the floor's speed (goal >= 0.9x at 1M events): {judged(ratio >= 0.9)}")
    print(f"peak RSS:        {peak:.0f} MiB, the largest of the runs (goal < 500 MiB): {judged(peak < 500)}")
    print(
        f"old reference:   psql \\copy of the events as CSV into a bare text table {reference:.2f}s: {old_ratio:.2f}x "
        f"(old goal >= 0.3x: {judged(old_ratio >= 0.3)})"
    )
    staged = runs[0]["floor"]["staged"]
    print(
        f"staged floor:    {staged:.2f}s for psql to stage them and INSERT ... ON CONFLICT DO NOTHING instead (a file "
        f"with events already held; run 1)"
    )
    if others:
        print(f"ledger:          held {others:,} rows of other organisations; the floor's copy was given the same rows")
    else:
        print("ledger:          held no other rows: truncated before each import, as empty as the floor's copy")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--file-events", type=int, default=1_000_000)
    parser.add_argument("--live-events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="pairs of (ours, floor); the median is reported")
    parser.add_argument("--child-import", help=argparse.SUPPRESS)
    parser.add_argument("--staged", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(args.child_import, args.staged)
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database: the benchmark compares against psql \\copy.")
    if args.file_events:
        file_path(args)
    if args.live_events:
        seconds = live(args.live_events)
        rate = args.live_events / seconds
        print(f"live endpoint:   {args.live_events:,} events in {seconds:.2f}s = {rate:,.0f} events/s", end="")
        print(" (goal >= 2,000/s)")


if __name__ == "__main__":
    main()
