r"""Benchmark: usage events through the file path and through the live endpoint.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/finops_bench .venv/bin/python bench/ingest_usage.py \
        [--file-events 1000000] [--live-events 100000]

1. File path: N generic JSON-lines events (generated once into bench/out/) through the real upload
   path (store, parse, validate, price from the catalogue, COPY into the ledger, mark dirty days, commit),
   in a child process, against `psql \copy` of the same events as CSV into a bare text table.
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
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
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


def reference_copy(csv_path: Path) -> float:
    url = os.environ["DATABASE_URL"]
    columns = ", ".join(f'"{c}" text' for c in FIELDS)
    subprocess.run(
        ["psql", url, "-qc", f"DROP TABLE IF EXISTS bench_usage; CREATE TABLE bench_usage ({columns})"], check=True
    )
    started = time.perf_counter()
    subprocess.run(
        ["psql", url, "-qc", f"\\copy bench_usage FROM '{csv_path}' WITH (FORMAT csv, HEADER true)"], check=True
    )
    elapsed = time.perf_counter() - started
    subprocess.run(["psql", url, "-qc", "DROP TABLE bench_usage"], check=True)
    return elapsed


def fresh_org(name: str):
    from accounts.models import Organization
    from accounts.services import org_bootstrap

    Organization.objects.filter(name=name).delete()
    return org_bootstrap(name=name, owner_email=f"{name.split()[0].lower()}@example.org")


def child_import(path: str) -> None:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from ingest.models import Upload
    from ingest.services.uploads import upload_create_from_path, upload_run

    org, _, _ = fresh_org("Usage Bench AI")
    started = time.perf_counter()
    upload = upload_create_from_path(org=org, path=path, kind="usage", enqueue=False)
    upload = upload_run(upload_id=upload.pk)
    elapsed = time.perf_counter() - started
    assert upload.status == Upload.Status.DONE, upload.errors
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floor = database_share(upload.pk)
    print(json.dumps({"seconds": elapsed, "rows": upload.rows_loaded, "peak_rss_mib": peak, "floor": floor}))
    org.delete()


def database_share(upload_id: int) -> dict:
    r"""Seconds for psql to do the database's part of our import alone, on our stored events (binary):
    `direct`, \copy them into an empty copy of the ledger (what a file of new events costs); `staged`,
    \copy them into a staging table and INSERT ... ON CONFLICT DO NOTHING them into it (a file with
    events already held)."""
    from ingest.services.usage import COLUMNS

    url, dump = os.environ["DATABASE_URL"], OUT / "usage_rows.bin"
    select = f"SELECT {COLUMNS} FROM ingest_usageevent WHERE upload_id = {int(upload_id)}"  # noqa: S608
    subprocess.run(["psql", url, "-qc", f"\\copy ({select}) TO '{dump}' WITH (FORMAT binary)"], check=True)
    script = OUT / "usage_floor.sql"
    insert = f"INSERT INTO bench_usage_floor ({COLUMNS}) SELECT {COLUMNS} FROM st"  # noqa: S608 - fixed names
    scripts = {
        "direct": f"\\copy bench_usage_floor ({COLUMNS}) FROM '{dump}' WITH (FORMAT binary)\n",
        "staged": f"BEGIN;\nCREATE TEMP TABLE st AS SELECT {COLUMNS} FROM bench_usage_floor WITH NO DATA;\n"  # noqa: S608
        f"\\copy st FROM '{dump}' WITH (FORMAT binary)\n"
        f"{insert} ON CONFLICT (org_id, event_id) DO NOTHING;\nCOMMIT;\n",
    }
    seconds = {}
    for name, text in scripts.items():
        subprocess.run(
            ["psql", url, "-qc", "DROP TABLE IF EXISTS bench_usage_floor; "
             "CREATE TABLE bench_usage_floor (LIKE ingest_usageevent INCLUDING ALL)"],
            check=True,
        )  # fmt: skip
        script.write_text(text)
        started = time.perf_counter()
        subprocess.run(["psql", url, "-q", "-f", str(script)], check=True)
        seconds[name] = time.perf_counter() - started
    subprocess.run(["psql", url, "-qc", "DROP TABLE bench_usage_floor"], check=True)
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--file-events", type=int, default=1_000_000)
    parser.add_argument("--live-events", type=int, default=100_000)
    parser.add_argument("--child-import", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(args.child_import)
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database: the benchmark compares against psql \\copy.")
    jsonl, csv_path = generate(args.file_events)
    reference = reference_copy(csv_path)
    child = subprocess.run(
        [sys.executable, __file__, "--child-import", str(jsonl)], check=True, capture_output=True, text=True
    )
    ours = json.loads(child.stdout.strip().splitlines()[-1])
    per_second = ours["rows"] / ours["seconds"]
    print(f"file path:       {ours['rows']:,} events in {ours['seconds']:.2f}s ({per_second:,.0f} events/s)")
    print(f"psql \\copy:      {reference:.2f}s ({args.file_events / reference:,.0f} rows/s)")
    print(f"ratio:           {reference / ours['seconds']:.2f}x the speed of psql \\copy (goal >= 0.3)")
    print(f"peak RSS:        {ours['peak_rss_mib']:.0f} MiB")
    floor = ours["floor"]
    print(
        f"database share:  {floor['direct']:.2f}s for psql alone to \\copy our stored events into an empty copy of "
        f"the ledger (its indexes): no importer into it can beat {reference / floor['direct']:.2f}x"
    )
    print(
        f"                 {floor['staged']:.2f}s to stage them and INSERT ... ON CONFLICT DO NOTHING instead (a file "
        f"with events already held): {reference / floor['staged']:.2f}x at best"
    )
    seconds = live(args.live_events)
    rate = args.live_events / seconds
    print(f"live endpoint:   {args.live_events:,} events in {seconds:.2f}s = {rate:,.0f} events/s (goal >= 2,000/s)")


if __name__ == "__main__":
    main()
