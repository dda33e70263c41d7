r"""Benchmark: every page and read endpoint of the URLconf, timed at one large tenant through a real HTTP server.

    createdb -h 127.0.0.1 -U postgres finops_bench_reads
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/finops_bench_reads .venv/bin/python bench/reads.py \
        [--scale 0.02] [--bill-lines 10000000] [--bill-days 90] [--usage-events 3000000] [--usage-days 30] \
        [--gpus 40] [--gpu-days 30] [--customers 200] [--requests 30] [--rebuild] [--explain]

Builds once (a marker table in the database remembers the sizes; --rebuild starts over, flushing the whole
database, whose name must contain "bench") one organisation with the project's own generators:
- bills: `finops.demo_bills` FOCUS 1.2 files, one per calendar month, --bill-lines lines over --bill-days days
  (hourly GPU instances, a database, storage, egress and logging on three providers), through the real upload path;
- usage: --usage-events model calls over the last --usage-days days, made in Arrow a day at a time by
  bench/rollup.py's generator (--customers customers with plans, 8 features, 6 models, jobs of three calls with
  retries and errors) and COPYed into the ledger as that benchmark does;
- GPUs: --gpus GPUs on training, inference and dev hosts (`finops.demo_gpus`, one sample a minute) for the last
  --gpu-days days, each six-hour batch validated and stored by the agent endpoint's serializer and service;
- revenue: every customer on a Stripe plan (`finops.demo_revenue` events through the webhook service);
- then every dirty day is rolled up, and budgets are set (the organisation, each plan, the trials, each feature,
  every fourth customer).
--scale multiplies the volumes (bill lines, usage events, GPUs): --scale 0.02 is a 1/50 tenant.

Then it serves the project's WSGI app under gunicorn (one sync worker, the same settings with plain static
storage: nothing is collected for a benchmark) and times, over HTTP on loopback, every route of the URLconf found by
walking `django.urls.get_resolver()`: pages under o/<org_code>/ with the owner's session cookie, API reads under
api/v1/ with a read API key. Routes that need an object's code get one from the tenant; POST- or DELETE-only
views and routes outside those two prefixes are listed as skipped, with the reason. Each is requested once cold,
then --requests times: p50 and p95. Reference, the same server in the same run: a trivial authenticated request
(`GET /api/v1/` who-am-I with the same key; the notifications settings page for sessions), timed before and
after the others. Goals: API read p95 <= 5x the trivial API request's p95, page p95 <= 8x the trivial page's,
the Founder Table page p95 < 150 ms. Each route is also requested once in-process to count its queries and
their time (--explain prints EXPLAIN ANALYZE of the slowest query of each route that misses its goal).
Exits 0 whatever the figures: it is a benchmark.
"""

import argparse
import contextlib
import http.client
import inspect
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import rollup  # noqa: E402 - the benchmarks' Django set-up and usage generator (bench/ is on the path)

ORG_NAME = "Reads Bench"
OWNER_EMAIL = "reads-bench@example.org"
SETTINGS_MODULE = "bench_reads_settings"
# The benchmark's settings: the project's, with plain static URLs (a benchmark collects no static files).
SETTINGS_SOURCE = """from finops.settings import *  # noqa: F403

PLAIN = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
STORAGES = {**STORAGES, "staticfiles": PLAIN}  # noqa: F405
"""
DEFAULTS = {"bill_lines": 10_000_000, "bill_days": 90, "usage_events": 3_000_000, "usage_days": 30, "gpus": 40,
            "gpu_days": 30, "customers": 200}  # fmt: skip
SCALED = ("bill_lines", "usage_events", "gpus")
HOST_KINDS = (("train-h100", "NVIDIA H100 80GB HBM3", 8, 85_899_345_920, 690_000),
              ("infer-a100", "NVIDIA A100-SXM4-40GB", 2, 42_949_672_960, 390_000),
              ("dev-l4", "NVIDIA L4", 1, 24_146_608_128, 72_000))  # fmt: skip
TRIVIAL_API = "api-root"
TRIVIAL_PAGE = "accounts-notifications"
GOALS = {"page": 8.0, "api": 5.0}
ABSOLUTE_MS = {"finops-founder-table": 150.0}


def sizes_from(args) -> dict:
    sizes = {name: getattr(args, name) for name in DEFAULTS}
    for name in SCALED:
        sizes[name] = max(1, round(sizes[name] * args.scale))
    return sizes


def stripe_plan(customer: int) -> str:
    """A customer's Stripe plan, from the usage generator's plan (demo_revenue has no free plan: starter)."""
    plan = rollup.plan_of(customer)
    return "starter" if plan == "free" else plan


# ---------------------------------------------------------------------------------------------------------- build


def build(sizes: dict, rebuild: bool):
    """The tenant, unless the marker says one of these sizes is there; returns the organisation."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Organization

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_reads_meta (sizes jsonb)")
        cursor.execute("SELECT sizes FROM bench_reads_meta")
        row = cursor.fetchone()
    built = json.loads(row[0]) if row and isinstance(row[0], str) else (row[0] if row else None)
    if built == sizes and not rebuild:
        print(f"tenant already built: {sizes}")
        return Organization.objects.get(name=ORG_NAME)
    if "bench" not in connection.settings_dict["NAME"]:
        sys.exit("Building flushes the whole database: use a dedicated one whose name contains 'bench'.")
    call_command("flush", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM bench_reads_meta")
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    org, owner = tenant_create()
    for name, step in (("revenue", revenue_build), ("bills", bills_build), ("usage", usage_build),
                       ("gpus", gpus_build)):  # fmt: skip
        began = time.perf_counter()
        what = step(org, owner, today, sizes)
        print(f"  {name}: {what} in {time.perf_counter() - began:.0f}s", flush=True)
    began = time.perf_counter()
    with connection.cursor() as cursor:  # statistics first: without them a day's calls statement plans badly
        cursor.execute("ANALYZE")
    from finops.services.rollups import rollups_refresh

    days = rollups_refresh(org=org)
    print(f"  rollups: {len(days)} days recomputed in {time.perf_counter() - began:.0f}s", flush=True)
    budgets_build(org, sizes["customers"])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("INSERT INTO bench_reads_meta VALUES (%s)", (json.dumps(sizes),))
    print(f"built in {time.perf_counter() - started:.0f}s: {sizes}", flush=True)
    return org


def tenant_create():
    from accounts.models import Scope
    from accounts.services import api_key_create, org_bootstrap

    org, owner, _ = org_bootstrap(name=ORG_NAME, owner_email=OWNER_EMAIL, password="bench-" + "p" * 20)
    api_key_create(org=org, name="reads bench", scope=Scope.READ, created_by=owner)
    return org, owner


def revenue_build(org, owner, today, sizes):
    """Every customer on a Stripe plan, with monthly paid invoices since the bills start, through the webhooks."""
    from finops.demo_revenue import demo_stripe_events
    from finops.services.demo import DEMO_WEBHOOK_SECRET, stripe_signature
    from pricing.services.stripe_sync import stripe_connection_save
    from pricing.services.stripe_webhooks import stripe_webhook_receive

    stripe_connection_save(org=org, webhook_secret=DEMO_WEBHOOK_SECRET)
    plans = {f"cust-{k:03d}": stripe_plan(k) for k in range(sizes["customers"])}
    events = demo_stripe_events(start=today - timedelta(days=sizes["bill_days"]), today=today, customers=plans)
    for event in events:
        payload = json.dumps(event).encode()
        stripe_webhook_receive(org=org, payload=payload, signature=stripe_signature(payload, DEMO_WEBHOOK_SECRET))
    return f"{len(plans)} customers, {len(events):,} Stripe events"


def bills_build(org, owner, today, sizes):
    """FOCUS files of the bill lines over the days before today, one per calendar month, imported."""
    from finops.demo_bills import PROVIDERS, demo_resources, write_focus_bill
    from ingest.services.uploads import upload_create_from_path, upload_run

    lines, days = sizes["bill_lines"], sizes["bill_days"]
    # demo_resources: per provider, `per_provider` hourly GPU instances, an hourly database and 3 daily services
    per_provider = max(1, round((lines / days - 27 * len(PROVIDERS)) / (24 * len(PROVIDERS))))
    resources = demo_resources(per_provider=per_provider)
    start = today - timedelta(days=days)
    written = 0
    folder = OUT / "reads"
    folder.mkdir(parents=True, exist_ok=True)
    while start < today:
        month_end = min((start.replace(day=1) + timedelta(days=32)).replace(day=1), today)
        path = folder / f"focus-{start:%Y-%m}.csv"
        written += write_focus_bill(path, start=start, days=(month_end - start).days, resources=resources)
        upload = upload_create_from_path(org=org, path=path, kind="bill", created_by=owner, enqueue=False)
        upload = upload_run(upload_id=upload.pk)
        path.unlink()
        if upload.status != upload.Status.DONE:
            raise RuntimeError(f"{path.name} did not import: {upload.errors[:3]}")
        start = month_end
    return f"{written:,} bill lines ({per_provider * len(PROVIDERS)} GPU instances)"


def usage_build(org, owner, today, sizes):
    """Model calls over the days before today, COPYed a day at a time (bench/rollup.py's rows)."""
    from django.db import connection

    from ingest.models import Upload
    from ingest.services.days import dirty_days_mark

    events, days = sizes["usage_events"], sizes["usage_days"]
    rollup.CUSTOMERS = sizes["customers"]  # its generator draws customers cust-000 .. from this many
    upload = Upload.objects.filter(org=org).first()
    lookups = rollup.lookups_make()
    per_day = events // days
    written = 0
    usage_indexes = [entry for entry in rollup.LEDGER_INDEXES if entry[0] == "ingest_usageevent"]
    with connection.cursor() as cursor:
        for table, name, _ in usage_indexes:  # built after the load, as bench/rollup.py does
            if name.startswith("usageevent_unique"):
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
            else:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
        for offset in range(days, 0, -1):
            day = today - timedelta(days=offset)
            count = per_day + (events - per_day * days if offset == 1 else 0)
            written += rollup.copy_day(cursor, [org.pk], {org.pk: upload.pk}, day, [count], [0], lookups)
        for _, _, sql in usage_indexes:
            cursor.execute(sql)
    dirty_days_mark(org=org, days=[today - timedelta(days=offset) for offset in range(days, 0, -1)])
    return f"{written:,} usage events"


def gpu_hosts(gpus: int) -> dict:
    """Hosts for `gpus` GPUs, in turn an 8-GPU training box, a 2-GPU inference box and a 1-GPU dev box."""
    hosts, left, number = {}, gpus, 0
    while left > 0:
        number += 1
        for kind, name, size, memory, power in HOST_KINDS:
            take = min(size, left)
            if take <= 0:
                break
            hosts[f"{kind}-{number:02d}"] = {"gpus": (name,) * take, "memory": memory, "power": power}
            left -= take
    return hosts


def gpus_build(org, owner, today, sizes):
    """Agent hosts with the GPUs, one sample a minute over the days before now, through the agent endpoint's
    serializer and service; training and dev boxes owned (an hourly rate), inference boxes linked to a bill line."""
    from accounts.services import agent_token_create
    from finops.demo_gpus import demo_gpu_batches, demo_start
    from ingest.serializers import AgentBatchInput
    from ingest.services.agent import agent_batch_ingest, gpu_host_update

    gpus, days = sizes["gpus"], sizes["gpu_days"]
    hosts = gpu_hosts(gpus)
    for number, name in enumerate(hosts):
        agent_token_create(org=org, host_name=name, created_by=owner)
        if name.startswith("infer-"):  # Microsoft's odd-numbered instances are the bills' A100s
            details = {"provider": "Microsoft", "bill_resource_id": f"mic-gpu-{2 * number + 1:04d}"}
        else:
            rate = Decimal("24.00") if name.startswith("train-") else Decimal("0.85")
            details = {"provider": "owned", "hourly_rate_amount": rate, "currency": "USD"}
        gpu_host_update(org=org, name=name, owner="ml-team" if name.startswith("train-") else "", **details)
    batches = samples = 0
    start = demo_start(datetime.now(UTC), days)
    for name, batch in demo_gpu_batches(start=start, days=days, hosts=hosts, interval=60):
        data = AgentBatchInput(data=batch)
        data.is_valid(raise_exception=True)
        agent_batch_ingest(org=org, host_name=name, batch=data.validated_data)
        batches += 1
        samples += len(batch["samples"])
    return f"{gpus} GPUs on {len(hosts)} hosts, {samples:,} samples in {batches:,} batches"


def budgets_build(org, customers: int):
    from finops.services.budgets import budget_save

    budgets = [("org", "", "month", 5_000_000), ("trial", "", "month", 50_000)]
    budgets += [("plan", plan, "month", 1_000_000) for plan in ("starter", "pro", "enterprise")]
    budgets += [("feature", feature, "week", 500_000) for feature, _ in rollup.FEATURES]
    budgets += [("customer", f"cust-{k:03d}", "day", 10_000) for k in range(0, customers, 4)]
    for scope, target, period, amount in budgets:
        budget_save(org=org, scope=scope, target=target, period=period, amount=Decimal(amount), currency="USD",
                    alert_at=Decimal("0.8"))  # fmt: skip


# ---------------------------------------------------------------------------------------------------------- routes


def walk(resolver, prefix=""):
    """(route, URL name, callback) of every pattern, with the route's prefixes joined."""
    from django.urls import URLResolver

    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry, route)
        else:
            yield route, entry.name, entry.callback


def http_methods(callback) -> set[str]:
    """The methods a view answers: a DRF or class-based view's handlers, else what require_http_methods allows."""
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return {m.upper() for m in view_class.http_method_names if hasattr(view_class, m) and m != "options"}
    function = callback
    while function is not None:
        allowed = inspect.getclosurevars(function).nonlocals.get("request_method_list")
        if allowed is not None:
            return set(allowed)
        function = getattr(function, "__wrapped__", None)
    return {"GET", "POST"}


def bench_connector(org, uploads):
    """The tenant's AWS export connector with a year of daily runs and a file pulled a day (made once, here rather
    than in the build, so that a tenant built before connectors existed gets it too)."""
    from datetime import timedelta

    from django.utils import timezone

    from ingest.models import Connector, ConnectorFile, ConnectorRun
    from ingest.services.connectors import connector_create

    connector = Connector.objects.for_org(org).filter(name="Bench AWS export").first()
    if connector is not None:
        return connector
    connector = connector_create(org=org, kind="aws_data_exports", name="Bench AWS export",
                                 values={"bucket": "bench-billing", "prefix": "exports",
                                         "access_key_id": "AKIABENCHBENCHBENCH1",
                                         "secret_access_key": "bench-secret-not-real-0123456789"})  # fmt: skip
    now = timezone.now()
    ConnectorRun.objects.bulk_create(
        ConnectorRun(org=org, connector=connector, trigger="schedule", status="ok", started_at=now - timedelta(days=d),
                     finished_at=now - timedelta(days=d), files_seen=3, files_imported=1, files_unchanged=2)
        for d in range(365)
    )  # fmt: skip
    ConnectorFile.objects.bulk_create(
        ConnectorFile(org=org, connector=connector, key=f"exports/cur2/period-{d:03d}/", version=f"v{d}",
                      upload=uploads[d % len(uploads)], status="imported", imported_at=now - timedelta(days=d))
        for d in range(365)
    )  # fmt: skip
    return connector


def code_sources(org) -> dict:
    """URL name -> the code of an object of the tenant that the route needs."""
    from finops.models import Budget
    from ingest.models import GpuHost, Upload

    host = GpuHost.objects.for_org(org).order_by("name").first()
    upload = Upload.objects.for_org(org).filter(kind="bill").order_by("-created_at").first()
    budget = Budget.objects.for_org(org).filter(scope="org").first()
    connector = bench_connector(org, list(Upload.objects.for_org(org).filter(kind="bill")))
    return {
        "ingest-connector": connector.code,
        "ingest-connector-edit": connector.code,
        "finops-gpu-host": host.code,
        "finops-gpu-host-edit": host.code,
        "ingest-upload": upload.code,
        "ingest-mapping-create": upload.code,
        "ingest-upload-detail-api": upload.code,
        "finops-budget-detail-api": budget.code,
    }


def customer_of(org) -> str:
    """The customer with the most cost in the tenant's rollups (the customer page's argument)."""
    from django.db.models import Sum

    from finops.models import CustomerRollup

    top = (
        CustomerRollup.objects.for_org(org)
        .exclude(customer="")
        .values("customer")
        .annotate(cost=Sum("cost_amount"))
        .order_by("-cost")
        .first()
    )
    return top["customer"] if top else "unknown"


def routes(org) -> tuple[list[dict], list[tuple[str, str]]]:
    """The routes to time (route, name, kind, path) and the skipped ones with the reason."""
    from django.urls import get_resolver, reverse

    codes = code_sources(org)
    timed, skipped = [], []
    for route, name, callback in walk(get_resolver()):
        if route.startswith("o/<uuid:org_code>/"):
            kind = "page"
        elif route.startswith("api/v1/"):
            kind = "api"
        else:
            skipped.append((route, "not a tenant page (o/<org_code>/) or a read endpoint (api/v1/)"))
            continue
        methods = http_methods(callback)
        if "GET" not in methods:
            skipped.append((route, f"answers {'/'.join(sorted(methods))} only"))
            continue
        kwargs = {}
        if "<uuid:org_code>" in route:
            kwargs["org_code"] = org.code
        if "<uuid:code>" in route:
            if name not in codes:
                skipped.append((route, "needs an object's code: add its kind to code_sources()"))
                continue
            kwargs["code"] = codes[name]
        if "<path:customer>" in route:
            kwargs["customer"] = customer_of(org)
        unknown = set(re.findall(r"<(?:\w+:)?(\w+)>", route)) - set(kwargs)
        if unknown:
            skipped.append((route, f"needs {', '.join(sorted(unknown))}: add it to routes()"))
            continue
        timed.append({"route": "/" + route, "name": name, "kind": kind, "path": reverse(name, kwargs=kwargs)})
    timed += drill_downs(org, [row for row in timed if row["name"] in DRILLED])
    return timed, skipped


# The explorer's reads as a drill-down reaches them, filtered (a Founder Table offender's host, a customer's row, a
# bucket's bar): they read other paths than the unfiltered request.
DRILLED = ("finops-explore-lines-api", "finops-explore-api")


def drill_downs(org, rows: list[dict]) -> list[dict]:
    """Each of `rows` again with a host, a customer and a bucket filter (the busiest of each)."""
    from urllib.parse import urlencode

    from ingest.models import GpuHost

    host = GpuHost.objects.for_org(org).order_by("name").values_list("name", flat=True).first()
    filters = [("host", host), ("customer", customer_of(org)), ("bucket", "inference")]
    return [{**row, "route": f"{row['route']}?{name}=", "path": f"{row['path']}?{urlencode({name: value})}"}
            for row in rows for name, value in filters if value]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------- serve


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(port: int):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PYTHONPATH"] = os.pathsep.join((str(OUT), str(ROOT)))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "finops.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--timeout", "3600", "--log-level", "warning"], cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


def fetch(port: int, path: str, headers: dict) -> tuple[int, float, int]:
    """(status, seconds, body bytes) of one GET on a fresh connection (sync workers close it anyway)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    began = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - began
    connection.close()
    return response.status, elapsed, len(body)


def timed(port: int, path: str, headers: dict, requests: int, budget: float) -> dict:
    """One cold request, then up to `requests` warm ones while the route's time stays within `budget` seconds."""
    status, cold, size = fetch(port, path, headers)
    warm = []
    while status == 200 and len(warm) < requests and cold + sum(warm) < budget:
        warm.append(fetch(port, path, headers)[1])
    return {"status": status, "cold": cold, "warm": warm, "bytes": size}


def p95(values: list[float]) -> float:
    """The 95th percentile (interpolated); the largest value of fewer than two."""
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else max(values)


# ---------------------------------------------------------------------------------------------------------- queries


def queries_of(org, owner, key: str, row: dict) -> list[dict]:
    """The queries of one in-process request of the route, each with its time."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(raise_request_exception=False)  # a query over the statement timeout fails the request
    headers = {}
    if row["kind"] == "page":
        client.force_login(owner)
    else:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    if row["warm"]:
        client.get(row["path"], **headers)  # warm, as the timed requests were
    with CaptureQueriesContext(connection) as captured:
        client.get(row["path"], **headers)
    return list(captured.captured_queries)


def explain(sql: str) -> str:
    """EXPLAIN ANALYZE of a SELECT; the plan alone when running it takes longer than the statement timeout."""
    from django.db import DatabaseError, connection, transaction

    if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return "(not a SELECT)"
    for prefix in ("EXPLAIN (ANALYZE, BUFFERS) ", "EXPLAIN "):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(prefix + sql)
                return "\n".join(line for (line,) in cursor.fetchall())
        except DatabaseError as error:
            failure = str(error).strip()
    return failure


def profile(org, owner, key: str, row: dict, lines: int = 25) -> str:
    """cProfile of one in-process request of the route: the project's functions by cumulative time."""
    import cProfile
    import io
    import pstats

    from django.test import Client

    client = Client(raise_request_exception=False)
    headers = {}
    if row["kind"] == "page":
        client.force_login(owner)
    else:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    client.get(row["path"], **headers)  # warm: imports and caches are not the route's
    profiler = cProfile.Profile()
    response = profiler.runcall(client.get, row["path"], **headers)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
    stats.print_stats(r"/(finops|ingest|pricing|accounts)/(?!migrations)", lines)
    return f"status {response.status_code}\n   ncalls" + text.getvalue().split("   ncalls", 1)[-1]


# ---------------------------------------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies bill lines, usage events and GPUs")
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    parser.add_argument("--requests", type=int, default=30, help="warm requests of each route")
    parser.add_argument("--route-budget", type=float, default=60, help="seconds of warm requests a route may take")
    parser.add_argument("--statement-timeout", type=int, default=60, help="seconds a query may run when timed")
    parser.add_argument("--rebuild", action="store_true", help="build the tenant again even if it is there")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest query of each miss")
    parser.add_argument("--profile", action="store_true", help="cProfile one request of each miss")
    parser.add_argument("--only", default="", help="time only the routes whose URL name contains this")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a dedicated PostgreSQL database (createdb finops_bench_reads).")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{SETTINGS_MODULE}.py").write_text(SETTINGS_SOURCE)
    sys.path.insert(0, str(OUT))
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,testserver")
    os.environ.setdefault("MEDIA_ROOT", str(OUT / "reads-media"))
    os.environ.pop("REDIS_URL", None)
    rollup.setup_django()
    sizes = sizes_from(args)
    org = build(sizes, args.rebuild)
    # From here on (the server, and the queries counted in-process) a runaway query fails its request instead of
    # holding the benchmark for hours.
    from django.db import connection

    timeout = f" -c statement_timeout={args.statement_timeout}s"
    options = connection.settings_dict["OPTIONS"].get("options", "") + timeout
    os.environ["DATABASE_SESSION_OPTIONS"] = connection.settings_dict["OPTIONS"]["options"] = options
    connection.close()

    from django.contrib.auth import get_user_model
    from django.test import Client

    from accounts.models import ApiKey, Scope
    from accounts.services import api_key_create

    owner = get_user_model().objects.get(email=OWNER_EMAIL)
    ApiKey.objects.for_org(org).filter(name="reads bench run").delete()
    _, key = api_key_create(org=org, name="reads bench run", scope=Scope.READ, created_by=owner)
    browser = Client()
    browser.force_login(owner)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    headers = {"page": {"Cookie": cookie}, "api": {"Authorization": f"Bearer {key}"}}
    rows, skipped = routes(org)
    rows = [row for row in rows if args.only in row["name"] or row["name"] in (TRIVIAL_API, TRIVIAL_PAGE)]
    trivial = {row["name"]: row for row in rows if row["name"] in (TRIVIAL_API, TRIVIAL_PAGE)}
    port = free_port()
    print(f"serving on 127.0.0.1:{port} (gunicorn, 1 sync worker); {len(rows)} routes, {args.requests} warm requests "
          f"each", flush=True)  # fmt: skip
    reference = {"page": [], "api": []}
    with gunicorn(port):
        for row in trivial.values():
            reference[row["kind"]] += timed(port, row["path"], headers[row["kind"]], args.requests, 600)["warm"]
        for row in rows:
            row.update(timed(port, row["path"], headers[row["kind"]], args.requests, args.route_budget))
            figures = f"p95 {p95(row['warm']) * 1000:.1f} ms" if row["warm"] else f"status {row['status']}"
            print(f"  {row['kind']:4} {row['route']:55} {figures}", flush=True)
        for row in trivial.values():
            reference[row["kind"]] += timed(port, row["path"], headers[row["kind"]], args.requests, 600)["warm"]
    for row in rows:
        row["queries"] = queries_of(org, owner, key, row)
    report(rows, skipped, reference, sizes, args)
    if args.profile:
        for row in rows:
            if row.get("missed") and row["warm"]:
                print(f"\nprofile of {row['route']} ({row['name']}), the project's functions, "
                      + profile(org, owner, key, row))  # fmt: skip


def report(rows, skipped, reference, sizes, args):
    base = {kind: p95(values) for kind, values in reference.items()}
    print(f"\ntenant: {sizes} (scale {args.scale})")
    print(f"reference p95: trivial API request {base['api'] * 1000:.1f} ms, trivial page {base['page'] * 1000:.1f} ms "
          f"(each {len(reference['api'])} requests, before and after the others)\n")  # fmt: skip
    print("| route | kind | cold ms | n | p50 ms | p95 ms | p95 / trivial | goal | verdict | queries | db ms |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
    failures = []
    for row in rows:
        queries = row["queries"]
        db_ms = sum(float(q["time"]) for q in queries) * 1000
        goal = f"<= {GOALS[row['kind']]:g}x"
        if row["name"] in ABSOLUTE_MS:
            goal += f", < {ABSOLUTE_MS[row['name']]:g} ms"
        if not row["warm"]:
            why = f"status {row['status']}" if row["status"] != 200 else "cold request over the route budget"
            print(f"| `{row['route']}` | {row['kind']} | {row['cold'] * 1000:.0f} | 0 | | | | {goal} | "
                  f"**FAIL: {why}** | {len(queries)} | {db_ms:.0f} |")  # fmt: skip
            failures.append((row, f"{why} after {row['cold']:.1f} s"))
            continue
        high = p95(row["warm"])
        ratio = high / base[row["kind"]]
        missed = []
        if ratio > GOALS[row["kind"]]:
            missed.append(f"p95 {ratio:.1f}x the trivial {row['kind']}'s (goal {GOALS[row['kind']]:g}x)")
        if row["name"] in ABSOLUTE_MS and high * 1000 >= ABSOLUTE_MS[row["name"]]:
            missed.append(f"p95 {high * 1000:.0f} ms (goal < {ABSOLUTE_MS[row['name']]:g} ms)")
        verdict = "**FAIL**" if missed else "PASS"
        if missed:
            failures.append((row, "; ".join(missed)))
        print(f"| `{row['route']}` | {row['kind']} | {row['cold'] * 1000:.0f} | {len(row['warm'])} | "
              f"{statistics.median(row['warm']) * 1000:.1f} | {high * 1000:.1f} | {ratio:.1f}x | {goal} | {verdict} | "
              f"{len(queries)} | {db_ms:.0f} |")  # fmt: skip
    print("\nskipped:")
    outside = {}
    for route, reason in skipped:
        if reason.startswith("not a tenant page"):
            outside.setdefault(route.split("/")[0], []).append(route)
        else:
            print(f"  /{route}: {reason}")
    for top, found in outside.items():
        print(f"  /{top}{'/...' if top else ''} ({len(found)} routes): not a tenant page (o/<org_code>/) or a read "
              f"endpoint (api/v1/)")  # fmt: skip
    print(f"\n{len(failures)} of {len(rows)} routes miss their goal:" if failures else "\nevery route meets its goal")
    for row, why in failures:
        row["missed"] = why
        queries = sorted(row["queries"], key=lambda q: -float(q["time"]))
        print(f"  {row['route']} ({row['name']}): {why}; {len(queries)} queries, "
              f"{sum(float(q['time']) for q in queries) * 1000:.0f} ms in the database")  # fmt: skip
        for query in queries[:3]:
            print(f"      {float(query['time']) * 1000:7.1f} ms  {query['sql'][:220]}")
        if args.explain and queries:
            print("\n".join("        " + line for line in explain(queries[0]["sql"]).splitlines()))


if __name__ == "__main__":
    main()
