r"""Benchmark: ten tenants' bills imported by real Celery workers on the ingest queue, one worker against two.

    .venv/bin/python bench/ingest_workers.py [--lines-per-org 100000] [--orgs 10] [--workers 1,2] [--repeat 3] \
        [--database-url postgres://postgres@127.0.0.1:5432/finops_scale_bench] [--redis-url redis://127.0.0.1:6379/9]

It starts from an empty PostgreSQL database (created, or its schema dropped: its name must contain "bench"),
migrates it and makes --orgs organisations. Each gets its own FOCUS 1.2 bill from `finops.demo_bills` (the
generator of the demo and of bench/ingest_bills.py; a seed, start day, provider mix and GPU fleet of its own; about
--lines-per-org lines over 30 days, so two calendar months and two billing periods per provider; every org uses
the same provider account ids, which the ledger keys by organisation). The files are generated once into
bench/out/ingest_workers/ with their line count and billed total, read back from the CSV with Decimal: the
oracle the ledger is checked against.

Then, for each worker count (--workers, 1 then 2 by default, the first the reference; --repeat N alternates them
N times, 3 by default, and the medians are compared), from an empty ledger:
  1. the orgs' bills are stored as queued uploads (`upload_create(enqueue=False)`: what the web process does
     before it enqueues; not timed);
  2. that many separate `celery -A finops worker -Q ingest -c 1 --pool prefork` processes are started on this
     machine with the project's own settings (DATABASE_URL and REDIS_URL set, so tasks go through Redis, not
     eagerly) and the benchmark waits until each answers a ping;
  3. the ten `ingest.tasks.upload_import` tasks are enqueued at once, and the clock runs until every upload is
     done (the last upload's `finished_at`, written by its worker);
  4. meanwhile a separate connection samples `pg_stat_activity` and `pg_locks` every --sample-ms (100 ms): the
     backends waiting on a heavyweight lock (`wait_event_type = 'Lock'`), the relation, lock type and mode they
     wait for and their statement, and how many import transactions are open at once (the workers' sessions
     are named by `application_name`); the CPU time of the worker processes and of their database sessions is
     read from /proc (PostgreSQL on this machine), and the machine's busy cores from /proc/stat;
  5. the ledger is checked: every org holds exactly its file's lines, and its billed total equals the file's to
     the last decimal place (the benchmark exits 1 otherwise); then the workers are stopped.

Prints lines/s for each worker count, the speed-up of 2 workers against 1 (the reference: the 1-worker runs of
the same invocation), the lock waits seen, and what 1M lines cost: CPU seconds in the workers and in PostgreSQL,
and the ledger's size on disk. The database, Redis and the workers share this machine's cores:
with 2 cores, 2 workers and PostgreSQL compete for CPU, so the ideal speed-up there is below 2.
Use a Redis database of its own: the benchmark empties the `ingest` queue of --redis-url before each run.
"""

import argparse
import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "ingest_workers"
MEDIA = OUT / "media"
LOGS = OUT / "logs"
sys.path.insert(0, str(ROOT))

APPLICATION_NAME = "finops-bench-ingest-worker"
DAYS = 30
QUEUE = "ingest"


def settings_env(database_url: str, redis_url: str, application_name: str = "finops-bench") -> dict:
    """The environment of the benchmark and of its workers: the project's settings, workers not eager."""
    return {
        "DJANGO_SETTINGS_MODULE": "finops.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-only-" + "k" * 50,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "testserver",
        "MEDIA_ROOT": str(MEDIA),
        "LOG_LEVEL": "WARNING",
        # The project's default session options, plus a name the sampler recognises the workers' sessions by.
        "DATABASE_SESSION_OPTIONS": f"-c work_mem=32MB -c jit=off -c application_name={application_name}",
    }


def setup_django(database_url: str, redis_url: str):
    os.environ.update(settings_env(database_url, redis_url))
    import django

    django.setup()


# --- the bills -----------------------------------------------------------------------------------------------


def org_plan(index: int, lines: int) -> dict:
    """Org `index`'s bill: its providers, GPU instances per provider, start day and seed (about `lines` lines)."""
    from finops.demo_bills import PROVIDERS

    names = [p[0] for p in PROVIDERS]
    providers = names if index % 2 == 0 else [n for n in names if n != names[index % 3]]
    # Per provider and day: 24 lines per GPU instance and for the managed database, 1 each for three daily services.
    per_provider = max(1, round((lines / DAYS / len(providers) - 3) / 24 - 1))
    return {
        "providers": providers,
        "per_provider": per_provider,
        "start": date(2026, 9, 1) + timedelta(days=3 * index),
        "seed": 1000 + index,
    }


def bill_generate(index: int, lines: int) -> tuple[Path, dict]:
    """The org's FOCUS file and its oracle (lines, billed total per currency), generated once."""
    from finops.demo_bills import demo_resources, write_focus_bill

    plan = org_plan(index, lines)
    path = OUT / f"org{index:02d}_{lines}.csv"
    oracle_path = path.with_suffix(".json")
    if path.exists() and oracle_path.exists():
        return path, json.loads(oracle_path.read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    resources = demo_resources(per_provider=plan["per_provider"], seed=plan["seed"], providers=plan["providers"])
    write_focus_bill(path, start=plan["start"], days=DAYS, resources=resources, seed=plan["seed"])
    # The oracle is read back from the file itself, independently of the importer.
    count, totals = 0, {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            count += 1
            currency = row["BillingCurrency"]
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(row["BilledCost"])
    oracle = {"lines": count, "totals": {c: str(t) for c, t in totals.items()}, "providers": plan["providers"]}
    oracle_path.write_text(json.dumps(oracle))
    return path, oracle


# --- the database --------------------------------------------------------------------------------------------


def database_recreate(database_url: str) -> None:
    """The database, empty: created if missing, else its schema dropped and made again (DROP DATABASE waits for
    every backend of the server to absorb a barrier, which a client stalled in a COPY elsewhere never lets pass)."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"The benchmark empties {name!r}: use a database whose name contains 'bench'.")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        found = conn.execute("SELECT datconnlimit FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found and found[0] == -2:  # left invalid by an interrupted DROP DATABASE: only dropping it again works
            conn.execute(f'DROP DATABASE "{name}"')
            found = None
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')
            return
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def ledger_reset() -> None:
    """An empty ledger and no uploads, as before the first run (TRUNCATE: no dead rows left for the next run)."""
    from django.db import connection

    from ingest.models import Upload

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ingest_costline, ingest_billperiod, ingest_dirtyday")
    Upload.objects.all().delete()
    shutil.rmtree(MEDIA, ignore_errors=True)
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")  # the previous run's writes flushed before this one's clock starts


def ledger_check(orgs, oracles) -> list[str]:
    """Differences between each org's ledger and its file: count of lines and billed total per currency."""
    from django.db.models import Count, Sum

    from ingest.models import CostLine

    problems = []
    for org, oracle in zip(orgs, oracles, strict=True):
        held = (
            CostLine.objects.for_org(org)
            .values("currency")
            .annotate(lines=Count("id"), total=Sum("billed_cost_amount"))
        )
        lines = sum(row["lines"] for row in held)
        totals = {row["currency"]: row["total"] for row in held}
        if lines != oracle["lines"]:
            problems.append(f"{org.name}: {lines:,} ledger lines, the file has {oracle['lines']:,}")
        expected = {c: Decimal(t) for c, t in oracle["totals"].items()}
        if totals != expected:
            problems.append(f"{org.name}: ledger billed total {totals}, the file's {expected}")
    return problems


# --- the workers ---------------------------------------------------------------------------------------------


class Workers:
    """`count` separate Celery worker processes on the ingest queue, one process each (`-c 1`, prefork)."""

    def __init__(self, count: int, env: dict, label: str):
        self.names = [f"bench-ingest-{label}-{n}@localhost" for n in range(count)]
        self.env = {**os.environ, **env}
        self.processes = []

    def __enter__(self):
        LOGS.mkdir(parents=True, exist_ok=True)
        celery = str(Path(sys.executable).parent / "celery")
        for name in self.names:
            log = open(LOGS / f"{name.split('@')[0]}.log", "w")  # closed with the process
            command = [celery, "-A", "finops", "worker", "-Q", QUEUE, "-c", "1", "--pool", "prefork", "-n", name,
                       "--without-gossip", "--without-mingle", "-l", "warning"]  # fmt: skip
            process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            self.processes.append((process, log))
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 120) -> None:
        from finops.celery import app

        deadline = time.monotonic() + timeout
        waiting = set(self.names)
        while waiting:
            for process, _ in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited with {process.returncode}; see {LOGS}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers not ready after {timeout:.0f}s: {sorted(waiting)}; see {LOGS}")
            for reply in app.control.ping(destination=sorted(waiting), timeout=1.0) or []:
                waiting -= set(reply)

    def cpu(self) -> float:
        """CPU seconds used so far by the worker processes and their pool children."""
        return sum(process_cpu(pid) for pid in descendants([p.pid for p, _ in self.processes]))

    def __exit__(self, *exc):
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # warm shutdown: the pool's child goes with it
        for process, log in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: the worker and its pool child only
                process.wait()
            log.close()


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat (idle and iowait are not busy)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pids) -> set[int]:
    """The processes and every process below them."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
    found, frontier = set(pids), set(pids)
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def queue_purge(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE)


# --- the lock sampler ----------------------------------------------------------------------------------------

WAITING_SQL = """
SELECT a.pid, a.wait_event, l.locktype, l.relation::regclass::text, l.mode, left(a.query, 160)
FROM pg_stat_activity a
LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.wait_event_type = 'Lock'
"""
OPEN_SQL = """
SELECT pid, xact_start IS NOT NULL, state = 'active'
FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s
"""


class LockSampler(threading.Thread):
    """Every `interval` seconds: who waits on a heavyweight lock, for what, and how many imports are open."""

    def __init__(self, database_url: str, interval: float):
        super().__init__(daemon=True)
        self.database_url, self.interval = database_url, interval
        self.stop = threading.Event()
        self.samples = 0
        self.max_waiting = 0
        self.waits = Counter()  # (locktype, relation, mode, statement) -> samples seen waiting
        self.max_open = 0  # import transactions open at once
        self.max_active = 0  # worker sessions running a statement at once
        self.pid = None  # its own session's server process
        self.ready = threading.Event()

    def run(self):
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            self.pid = conn.info.backend_pid
            self.ready.set()
            while not self.stop.is_set():
                waiting = conn.execute(WAITING_SQL).fetchall()
                sessions = conn.execute(OPEN_SQL, (APPLICATION_NAME,)).fetchall()
                opened, active = sum(row[1] for row in sessions), sum(row[2] for row in sessions)
                self.samples += 1
                self.max_waiting = max(self.max_waiting, len({row[0] for row in waiting}))
                self.max_open, self.max_active = max(self.max_open, opened), max(self.max_active, active)
                for _pid, wait_event, locktype, relation, mode, statement in waiting:
                    self.waits[(locktype or wait_event, relation or "-", mode or "-", " ".join(statement.split()))] += 1
                self.stop.wait(self.interval)


class BackendCpu(threading.Thread):
    """CPU seconds of the database's server processes (its sessions: PostgreSQL names each process after its
    database), read from /proc every `interval`; Celery closes a worker's connection after each task, so each
    session's last reading is kept (a lower bound by at most one interval per session). PostgreSQL must run on
    this machine; the benchmark's own sessions are left out."""

    def __init__(self, database: str, exclude: set[int], interval: float = 0.05):
        super().__init__(daemon=True)
        self.marker, self.interval = f" {database} ", interval
        self.stop = threading.Event()
        self.ours = dict.fromkeys(exclude, False)  # pid -> a session of the database (titles read once per pid)
        self.seen = {}

    def _is_ours(self, pid: int) -> bool:
        if pid not in self.ours:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    title = handle.read().decode(errors="replace")
            except (FileNotFoundError, ProcessLookupError):
                return False
            self.ours[pid] = title.startswith("postgres: ") and self.marker in title
        return self.ours[pid]

    def run(self):
        while True:
            stopping = self.stop.is_set()
            for pid in (int(entry) for entry in os.listdir("/proc") if entry.isdigit()):
                if self._is_ours(pid):
                    self.seen[pid] = max(self.seen.get(pid, 0.0), process_cpu(pid))
            if stopping:
                return
            self.stop.wait(self.interval)

    def total(self) -> float:
        return sum(self.seen.values())


# --- one run -------------------------------------------------------------------------------------------------


def run_once(workers: int, label: str, orgs, files, oracles, args) -> dict:
    from django.db import connection
    from django.db.models import Max, Min

    from ingest.models import Upload
    from ingest.services.uploads import upload_create_from_path
    from ingest.tasks import upload_import

    ledger_reset()
    queue_purge(args.redis_url)
    uploads = [
        upload_create_from_path(org=org, path=path, kind="bill", enqueue=False)
        for org, path in zip(orgs, files, strict=True)
    ]
    env = settings_env(args.database_url, args.redis_url, APPLICATION_NAME)
    with Workers(workers, env, label) as pool, connection.cursor() as cursor:
        sampler = LockSampler(args.database_url, args.sample_ms / 1000)
        sampler.start()
        sampler.ready.wait(10)
        cursor.execute("SELECT pg_backend_pid()")
        backends = BackendCpu(connection.settings_dict["NAME"], exclude={cursor.fetchone()[0], sampler.pid})
        backends.start()
        worker_cpu = pool.cpu()
        load_before = os.getloadavg()[0]
        from django.utils import timezone

        cpu_before = cpu_jiffies()
        enqueued = timezone.now()
        for upload in uploads:
            upload_import.delay(upload.pk)
        pending = {u.pk for u in uploads}
        deadline = time.monotonic() + args.timeout
        while pending:
            if time.monotonic() > deadline:
                sampler.stop.set()
                sys.exit(f"uploads still not done after {args.timeout}s: {sorted(pending)}; see {LOGS}")
            time.sleep(0.1)
            finished = Upload.objects.filter(pk__in=pending).exclude(
                status__in=[Upload.Status.QUEUED, Upload.Status.PROCESSING]
            )
            pending -= set(finished.values_list("pk", flat=True))
        cpu_after = cpu_jiffies()
        worker_cpu = pool.cpu() - worker_cpu
        sampler.stop.set()
        sampler.join()
        backends.stop.set()
        backends.join()
        cursor.execute("SELECT pg_total_relation_size('ingest_costline')")
        ledger_bytes = cursor.fetchone()[0]
        load_after = os.getloadavg()[0]
    failed = Upload.objects.filter(pk__in=[u.pk for u in uploads]).exclude(status=Upload.Status.DONE)
    if failed.exists():
        sys.exit(f"uploads failed: {[(u.pk, u.errors) for u in failed]}")
    done = Upload.objects.filter(pk__in=[u.pk for u in uploads])
    span = done.aggregate(first=Min("started_at"), last=Max("finished_at"))
    per_upload = [(u.finished_at - u.started_at).total_seconds() for u in done]
    lines = sum(u.rows_loaded for u in done)
    wall = (span["last"] - enqueued).total_seconds()
    problems = ledger_check(orgs, oracles)
    return {
        "workers": workers,
        "lines": lines,
        "wall": wall,
        "rate": lines / wall,
        "upload_median": statistics.median(per_upload),
        "upload_max": max(per_upload),
        "samples": sampler.samples,
        "max_waiting": sampler.max_waiting,
        "waits": sampler.waits,
        "max_open": sampler.max_open,
        "max_active": sampler.max_active,
        "load": (load_before, load_after),
        # Cores kept busy on average (the whole machine: workers, PostgreSQL, Redis, this process, anything else).
        "busy_cores": (cpu_after[0] - cpu_before[0]) / (cpu_after[1] - cpu_before[1]) * (os.cpu_count() or 1),
        "problems": problems,
        "worker_cpu": worker_cpu,
        "database_cpu": backends.total(),
        "ledger_bytes": ledger_bytes,
    }


def report(run: dict) -> None:
    workers = f"{run['workers']} worker{'s' if run['workers'] > 1 else ''}"
    waited = sum(run["waits"].values())
    print(
        f"  {workers}: {run['lines']:,} lines in {run['wall']:.2f}s = {run['rate']:,.0f} lines/s; one upload took "
        f"{run['upload_median']:.2f}s (median, max {run['upload_max']:.2f}s); imports open at once: {run['max_open']}; "
        f"lock waits: {waited} backend-samples of {run['samples']}, at most {run['max_waiting']} at once; "
        f"CPU {run['busy_cores']:.2f} of {os.cpu_count()} cores busy (workers {run['worker_cpu']:.1f} s, their "
        f"database sessions {run['database_cpu']:.1f} s); "
        f"load {run['load'][0]:.1f} -> {run['load'][1]:.1f}; ledger {'matches' if not run['problems'] else 'WRONG'}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines-per-org", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="worker processes of each run, the first the reference (on a machine with more cores: 1,2,4,8)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the runs (1 worker, 2 workers), alternating")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/finops_scale_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--sample-ms", type=float, default=100)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take")
    args = parser.parse_args()

    started = time.perf_counter()
    database_recreate(args.database_url)
    setup_django(args.database_url, args.redis_url)
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import org_bootstrap

    call_command("migrate", verbosity=0)
    print(f"database {connection.settings_dict['NAME']} created and migrated ({time.perf_counter() - started:.0f}s)")
    began = time.perf_counter()
    bills = [bill_generate(index, args.lines_per_org) for index in range(args.orgs)]
    files, oracles = [path for path, _ in bills], [oracle for _, oracle in bills]
    total = sum(o["lines"] for o in oracles)
    print(f"{args.orgs} bills, {total:,} lines ({sum(f.stat().st_size for f in files) / 2**20:.0f} MiB), ready in "
          f"{time.perf_counter() - began:.0f}s (generated once into {OUT.relative_to(ROOT)}/)", flush=True)  # fmt: skip
    orgs = [
        org_bootstrap(name=f"Ingest Workers Bench {index:02d}", owner_email=f"scale-bench-{index:02d}@example.org")[0]
        for index in range(args.orgs)
    ]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(f"machine: {os.cpu_count()} cores, PostgreSQL {server} and Redis on the same machine; workers run "
          f"`celery -A finops worker -Q ingest -c 1 --pool prefork`, one process per worker", flush=True)  # fmt: skip

    counts = args.workers
    runs = {n: [] for n in counts}
    for repeat in range(args.repeat):
        for workers in counts:
            run = run_once(workers, f"{repeat}{workers}", orgs, files, oracles, args)
            report(run)
            runs[workers].append(run)

    rates = {n: statistics.median(r["rate"] for r in runs[n]) for n in counts}
    first = counts[0]
    median = " (median)" if args.repeat > 1 else ""
    print()
    for n in counts:
        label = f"lines/s, {n} worker{'s' if n > 1 else ''}" + (" (reference)" if n == first else "")
        print(f"{label + ':':<31}{rates[n]:,.0f}{median}")
    for n in counts[1:]:
        print(f"{f'speed-up, {n} workers:':<31}{rates[n] / rates[first]:.2f}x against {first} "
              f"(ideal {n / first:.1f} with a core each for every worker and its database session; "
              f"this machine has {os.cpu_count()})")  # fmt: skip
    waits = sum((r["waits"] for rs in runs.values() for r in rs), Counter())
    kinds = Counter()
    for (locktype, relation, _, _), seen in waits.items():
        kinds[f"{locktype} on {relation}" if relation != "-" else locktype] += seen
    rows = sum(seen for (locktype, *_), seen in waits.items() if locktype in ("tuple", "transactionid"))
    busy = statistics.median(r["busy_cores"] for r in runs[first])
    print(f"{f'CPU, {first} worker' + ('s' if first > 1 else '') + ':':<31}{busy:.2f} of {os.cpu_count()} cores busy "
          f"(median): the most more workers could gain here is about {(os.cpu_count() or 1) / busy:.2f}x")  # fmt: skip
    per_million = {
        key: statistics.median(r[key] / r["lines"] * 1e6 for rs in runs.values() for r in rs)
        for key in ("worker_cpu", "database_cpu", "ledger_bytes")
    }
    print(f"cost of 1M lines:              {per_million['worker_cpu']:.1f} CPU s in the workers (Python: read, parse, "
          f"encode), {per_million['database_cpu']:.1f} CPU s in their PostgreSQL sessions (COPY, indexes, commit), "
          f"{per_million['ledger_bytes'] / 2**30:.2f} GiB of ledger table and indexes (medians)")  # fmt: skip
    if waits:
        print(f"lock waits:                    at most {max(r['max_waiting'] for rs in runs.values() for r in rs)} "
              f"backends at once; {rows} backend-samples waiting on a row (tuple or transaction id); by kind: "
              + ", ".join(f"{kind} {seen}" for kind, seen in kinds.most_common()))  # fmt: skip
        print("lock waits (samples, lock, relation, mode, statement):")
        for (locktype, relation, mode, statement), seen in waits.most_common(10):
            print(f"  {seen:5d}  {locktype} {relation} {mode}: {statement}")
    else:
        samples = sum(r["samples"] for rs in runs.values() for r in rs)
        print(f"lock waits:                    none in {samples} samples every {args.sample_ms:.0f} ms "
              f"(at most {max(r['max_open'] for rs in runs.values() for r in rs)} imports open at once)")  # fmt: skip
    problems = [p for rs in runs.values() for r in rs for p in r["problems"]]
    if problems:
        print("LEDGER CHECK FAILED:")
        for problem in problems:
            print(f"  {problem}")
        sys.exit(1)
    print(f"ledger:                        every org's lines and billed total equal its file's, in every run "
          f"({time.perf_counter() - started:.0f}s in all)")  # fmt: skip


if __name__ == "__main__":
    main()
