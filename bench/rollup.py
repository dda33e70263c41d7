r"""Benchmark: the economics engine on a large ledger (rollup of a new day; the Founder Table endpoint).

    createdb -h 127.0.0.1 -U postgres finops_bench_rollup
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/finops_bench_rollup .venv/bin/python bench/rollup.py \
        [--orgs 100] [--rows 10000000] [--repeat 5] [--requests 200] [--profile] [--bill-rows 1000000] [--cases abcd]

Builds once (kept in the database, checked by a marker table) a ledger of N rows for M organisations over
30 days: usage events (95%) and bill lines (5%), organisations sized by 1/sqrt(rank), the largest being the
one measured, events interleaved in time as ingest would leave them. Rows are generated in Arrow a day at a
time and sent with COPY straight into the ledger tables (the importers have their own benchmarks); the
indexes are built after the load. The measured organisation's 30 days are rolled up, and their rollup rows
copied to the other organisations so the rollup tables have every tenant's size.

(a) Recompute one new day: one more day of the organisation's rows is copied in and marked dirty, then
    `rollup_day_recompute` is timed (median of --repeat) against the reference, the pure-SQL floor: the day's
    call path as one `INSERT ... SELECT` (one grouped read of the events, job outcomes by a window function,
    buckets and labels as CASE, into scratch copies of the rollup and job tables; no rules, plans, bill scaling,
    bill lines or Python), timed with its commit. Goal: at most 2x. The old reference is printed beside it: the
    same day's rows read by bare indexed `GROUP BY`s on a raw cursor (the usage events by every dimension the
    rollup keeps, job and attempt included; the bill lines by theirs).
(b) The Founder Table endpoint: --requests GETs of /api/v1/founder-table/ for one week through Django's test
    client with an API key; database time per request (every query's execute, summed by an execute wrapper)
    and the whole request. Reference: the very SQL statements of a request replayed against pre-aggregated
    weekly tables (the week's rollup and job rows summed over days, same columns, same index), same timing.
    Goals: database time p95 at most 3x the reference's, request p95 under 150 ms.
(c) The Founder Table page, rendered in full: the first request after a recompute and the next ones.
(d) A bill of --bill-rows lines (default 1M) over the 30 days for one more organisation (the same bill line
    generator, COPYed once, kept under a marker table): all its days marked dirty and recomputed by the rollup
    task's body (`rollup_org`), timed. Goal: under 10 s.

--cases picks among a to d (default all), e.g. `--cases ad --rows 1000000 --orgs 20 --bill-rows 200000`.
"""

import argparse
import cProfile
import csv
import io
import json
import os
import pstats
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST_DAY = date(2026, 10, 1)
DAYS = 30
NEW_DAY = FIRST_DAY + timedelta(days=DAYS)  # (a): the day ingested after the build
WEEK = (date(2026, 10, 19), date(2026, 10, 26))  # (b): a Monday-to-Monday week inside the build
COST_SHARE = 0.05  # of the rows, bill lines; the rest usage events
ORG_PREFIX = "Rollup Bench"

# (provider, model, route, $ per 1M input tokens, $ per 1M output tokens or None: unpriced), weight in 1,000
MODELS = (
    (("openai", "gpt-4o-mini", "cheap", 0.15, 0.6), 350),
    (("openai", "gpt-4o", "premium", 2.5, 10.0), 200),
    (("anthropic", "claude-haiku-4-5", "cheap", 1.0, 5.0), 200),
    (("anthropic", "claude-sonnet-4-5", "premium", 3.0, 15.0), 100),
    (("mistral", "mistral-small", "cheap", 0.2, 0.6), 50),
    (("self-hosted", "ft-v2", "cheap", None, None), 100),
)
FEATURES = (("chat", 300), ("summarise", 200), ("agent", 150), ("search", 120), ("extract", 90),
            ("batch-report", 60), ("translate", 50), ("classify", 30))  # fmt: skip
ENVIRONMENTS = (("prod", 800), ("staging", 150), ("dev", 50))
PURPOSES = (("", 850), ("evaluation", 80), ("research", 40), ("batch", 30))
CUSTOMERS = 200
USAGE_COLUMNS = ("event_id", "occurred_at", "is_aggregate", "request_count", "provider", "model", "route", "customer",
                 "feature", "environment", "purpose", "job_id", "attempt", "status", "error_type", "input_tokens",
                 "output_tokens", "cached_input_tokens", "latency_ms", "cost_amount", "currency", "cost_source",
                 "metadata", "org_id")  # fmt: skip
COST_COLUMNS = ("source_row", "provider", "billing_account_id", "billing_account_name", "sub_account_id",
                "sub_account_name", "billing_period_start", "billing_period_end", "charge_period_start",
                "charge_period_end", "charge_category", "charge_class", "charge_frequency", "charge_description",
                "region", "service_name", "service_category", "resource_id", "resource_name", "resource_type",
                "sku_id", "gpu_type", "pricing_quantity", "pricing_unit", "consumed_quantity", "consumed_unit",
                "billed_cost_amount", "effective_cost_amount", "currency", "commitment_discount_id",
                "commitment_discount_status", "commitment_discount_type", "tags", "customer", "feature",
                "environment", "owner", "purpose", "shutoff", "org_id", "upload_id")  # fmt: skip
# Built after the load, as the migrations define them.
LEDGER_INDEXES = (
    ("ingest_usageevent", "usageevent_org_time", "CREATE INDEX usageevent_org_time ON ingest_usageevent "
     "(org_id, occurred_at)"),
    ("ingest_usageevent", "usageevent_unique_org_event", "ALTER TABLE ingest_usageevent ADD CONSTRAINT "
     "usageevent_unique_org_event UNIQUE (org_id, event_id)"),
    ("ingest_costline", "costline_org_day", "CREATE INDEX costline_org_day ON ingest_costline "
     "(org_id, charge_period_start)"),
    ("ingest_costline", "costline_upload_row", "CREATE INDEX costline_upload_row ON ingest_costline "
     "(upload_id, source_row)"),
    ("ingest_costline", "costline_org_day_commitment", "CREATE INDEX costline_org_day_commitment ON ingest_costline "
     "(org_id, charge_period_start) INCLUDE (commitment_discount_id, commitment_discount_status, billed_cost_amount) "
     "WHERE NOT (commitment_discount_id = '')"),
)  # fmt: skip


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic for a benchmark
    django.setup()


def rollup_models():
    """Every table the rollup writes for an (org, day), the full-grain rollup first."""
    from finops.models import CustomerRollup, JobRollup, Rollup, WorkRollup

    return (Rollup, JobRollup, WorkRollup, CustomerRollup)


def org_weights(orgs: int) -> list[float]:
    raw = [1 / (rank + 1) ** 0.5 for rank in range(orgs)]
    return [w / sum(raw) for w in raw]


def plan_of(customer: int) -> str:
    if customer % 10 == 0:
        return "enterprise"
    if customer % 7 == 0:
        return "trial"
    if customer % 5 == 0:
        return "free"
    return "pro"


# ---------------------------------------------------------------------------------------------------------- data


class Lookup:
    """Weighted choices as Arrow takes: an index table of 1,000 slots, drawn by uniform randoms."""

    def __init__(self, weighted):
        import pyarrow as pa

        self.slots = pa.array([i for i, (_, w) in enumerate(weighted) for _ in range(w)], pa.int32())
        assert len(self.slots) == 1000

    def indices(self, randoms):
        import pyarrow as pa
        import pyarrow.compute as pc

        return self.slots.take(pc.cast(pc.floor(pc.multiply(randoms, 999.999)), pa.int32()))


def customer_lookup():
    import pyarrow as pa

    raw = [1 / (k + 1) for k in range(CUSTOMERS)]
    slots = []
    for k, w in enumerate(raw):
        slots += [k] * max(1, round(w / sum(raw) * 2000))
    return pa.array(slots, pa.int32())


def fraction(values):
    import pyarrow.compute as pc

    return pc.subtract(values, pc.floor(values))


def usage_day(org_id: int, day: date, count: int, lookups: dict):
    """One org-day of usage events as an Arrow table in USAGE_COLUMNS order; calls of a job are three in a row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if count <= 0:
        return None
    i = pa.array(range(count), pa.int64())
    job = pc.divide(i, 3)
    job_random = pc.random(count // 3 + 1)
    per_job = job_random.take(job)
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    # evenly through the day, each call up to 40 s after its slot
    seconds = pc.add(
        pc.divide(pc.multiply(i, 86400 - 60), count), pc.cast(pc.floor(pc.multiply(pc.random(count), 40)), pa.int64())
    )
    occurred = pc.cast(pc.add(seconds, start), pa.timestamp("s", tz="UTC"))
    model = lookups["model"].indices(pc.random(count))
    spec = [m for m, _ in MODELS]
    customers = lookups["customers"]
    customer_index = customers.take(pc.cast(pc.floor(pc.multiply(per_job, len(customers) - 0.001)), pa.int32()))
    internal = pc.less(pc.random(count), 0.05)
    customer_names = pa.array([f"cust-{k:03d}" for k in range(CUSTOMERS)])
    customer = pc.if_else(internal, "", customer_names.take(customer_index))
    plans = pa.array([json.dumps({"plan": plan_of(k)}) for k in range(CUSTOMERS)])
    metadata = pc.if_else(internal, "{}", plans.take(customer_index))
    feature_random = fraction(pc.multiply(per_job, 1000))
    feature = pa.array([f for f, _ in FEATURES]).take(lookups["feature"].indices(feature_random))
    in_job = pc.less(pc.random(count // 3 + 1).take(job), 0.7)
    job_id = pc.if_else(
        in_job, pc.binary_join_element_wise(f"job-{day:%m%d}-", pc.cast(job, pa.string()), ""), pa.scalar("")
    )
    attempt_random = pc.random(count)
    attempt = pc.if_else(pc.less(attempt_random, 0.88), 1, pc.if_else(pc.less(attempt_random, 0.97), 2, 3))
    error = pc.less(pc.random(count), 0.06)
    input_tokens = pc.add(pc.cast(pc.floor(pc.multiply(pc.random(count), 3900)), pa.int64()), 100)
    output_tokens = pc.add(pc.cast(pc.floor(pc.multiply(pc.random(count), 890)), pa.int64()), 10)
    price_in = pa.array([m[3] for m in spec], pa.float64()).take(model)
    price_out = pa.array([m[4] for m in spec], pa.float64()).take(model)
    cost = pc.round(
        pc.divide(pc.add(pc.multiply(input_tokens, price_in), pc.multiply(output_tokens, price_out)), 1e6), ndigits=8
    )
    priced = pc.is_valid(cost)
    columns = {
        "event_id": pc.binary_join_element_wise(f"e{day:%Y%m%d}-", pc.cast(i, pa.string()), ""),
        "occurred_at": occurred,
        "is_aggregate": pa.nulls(count, pa.bool_()).fill_null(False),
        "request_count": pa.nulls(count, pa.int32()).fill_null(1),
        "provider": pa.array([m[0] for m in spec]).take(model),
        "model": pa.array([m[1] for m in spec]).take(model),
        "route": pa.array([m[2] for m in spec]).take(model),
        "customer": customer,
        "feature": feature,
        "environment": pa.array([e for e, _ in ENVIRONMENTS]).take(lookups["environment"].indices(pc.random(count))),
        "purpose": pa.array([p for p, _ in PURPOSES]).take(
            lookups["purpose"].indices(fraction(pc.multiply(per_job, 37)))
        ),
        "job_id": job_id,
        "attempt": attempt,
        "status": pc.if_else(error, "error", "ok"),
        "error_type": pc.if_else(error, "timeout", ""),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": pc.if_else(pc.less(pc.random(count), 0.3), 1024, 0),
        "latency_ms": pc.add(pc.cast(pc.floor(pc.multiply(pc.random(count), 4000)), pa.int32()), 80),
        "cost_amount": cost,
        "currency": pc.if_else(priced, "USD", ""),
        "cost_source": pc.if_else(priced, "catalogue", "unpriced"),
        "metadata": metadata,
        "org_id": pa.nulls(count, pa.int64()).fill_null(org_id),
    }
    return pa.table(columns)


def cost_day(org_id: int, upload_id: int, day: date, count: int):
    """One org-day of bill lines as CSV rows in COST_COLUMNS order: hourly lines of GPU instances, LLM API bills,
    storage, egress, a managed database and tagged CPU compute."""
    period = (f"{day:%Y-%m}-01 00:00:00Z", f"{day.year + day.month // 12}-{day.month % 12 + 1:02d}-01 00:00:00Z")
    for j in range(count):
        hour, slot = j % 24, j // 24
        begin = f"{day} {hour:02d}:00:00Z"
        end = f"{day + timedelta(days=1)} 00:00:00Z" if hour == 23 else f"{day} {hour + 1:02d}:00:00Z"
        kind = slot % 10
        customer = feature = environment = owner = purpose = commitment = status = ""
        tags = {}
        gpu = ""
        if kind < 5:
            provider, service, category, sku, rtype = "AWS", "Amazon EC2", "Compute", "p5.48xlarge", "Instance"
            resource, gpu, amount = f"i-gpu-{slot:04d}", "H100", 98.32
            if slot % 3 == 0:
                owner, purpose = "team-ml", "training"
            if slot % 4 == 1:
                customer, environment = f"cust-{slot % CUSTOMERS:03d}", "prod"
            if slot % 5 == 2:
                commitment, status = "sp-2026-1", "used"
        elif kind == 5:
            provider, service, category, sku, rtype = ("OpenAI", "Chat Completions", "AI and Machine Learning",
                                                       "gpt-4o", "Model")  # fmt: skip
            if slot % 20 == 15:
                provider, sku = "Anthropic", "claude-sonnet-4-5"
            resource, amount = f"proj-{slot:04d}", 3.1 + slot % 7
        elif kind == 6:
            provider, service, category, sku, rtype = "AWS", "Amazon S3", "Storage", "TimedStorage", "Bucket"
            resource, amount = f"bucket-{slot:04d}", 0.42
        elif kind == 7:
            provider, service, category, sku, rtype = "AWS", "AWS Data Transfer", "Networking", "DataTransfer-Out", ""
            resource, amount = f"eni-{slot:04d}", 0.9
        elif kind == 8:
            provider, service, category, sku, rtype = "AWS", "Amazon RDS", "Databases", "db.r6g.xlarge", "DBInstance"
            resource, amount, feature, environment = f"db-{slot:04d}", 0.48, "search", "prod"
        else:
            provider, service, category, sku, rtype = "AWS", "Amazon EC2", "Compute", "m7i.2xlarge", "Instance"
            resource, amount = f"i-cpu-{slot:04d}", 0.4032
            customer, feature, environment = f"cust-{slot % 37:03d}", "agent", "prod"
        for name, value in (("customer", customer), ("feature", feature), ("env", environment), ("owner", owner),
                            ("purpose", purpose)):  # fmt: skip
            if value:
                tags[name] = value
        yield (
            j + 1, provider, "acct-1", "Main", "sub-1", "Production", *period, begin, end, "Usage", "",
            "Usage-Based", f"{sku} {service}", "us-east-1", service, category, resource, resource, rtype, sku, gpu,
            1, "Hours", 1, "Hours", amount, amount, "USD", commitment, status, "Savings Plan" if commitment else "",
            json.dumps(tags), customer, feature, environment, owner, purpose, "", org_id, upload_id,
        )  # fmt: skip


def day_counts(rows: int, orgs: int) -> tuple[list[int], list[int]]:
    """Usage events and bill lines per org and day."""
    weights = org_weights(orgs)
    usage = [round(rows * (1 - COST_SHARE) * w / DAYS) for w in weights]
    cost = [round(rows * COST_SHARE * w / DAYS) for w in weights]
    return usage, cost


def copy_day(cursor, org_ids, uploads, day, usage, cost, lookups) -> int:
    """COPY one day of every given org into the ledgers, usage events in time order across orgs."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    tables = [usage_day(org_id, day, n, lookups) for org_id, n in zip(org_ids, usage, strict=True)]
    tables = [t for t in tables if t is not None]
    written = 0
    if tables:
        table = pa.concat_tables(tables).sort_by("occurred_at")
        buffer = io.BytesIO()
        pcsv.write_csv(table, buffer, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
        with cursor.copy(f"COPY ingest_usageevent ({', '.join(USAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
            view = buffer.getbuffer()
            for offset in range(0, len(view), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        written += table.num_rows
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_NONNUMERIC)  # "" is an empty string, not NULL
    for org_id, n in zip(org_ids, cost, strict=True):
        rows = cost_day(org_id, uploads[org_id], day, n)
        writer.writerows(rows)
        written += n
    with cursor.copy(f"COPY ingest_costline ({', '.join(COST_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(text.getvalue())
    return written


def lookups_make() -> dict:
    return {
        "model": Lookup(MODELS),
        "feature": Lookup(FEATURES),
        "environment": Lookup(ENVIRONMENTS),
        "purpose": Lookup(PURPOSES),
        "customers": customer_lookup(),
    }


def build(orgs: int, rows: int):
    """The ledger, the orgs and the measured org's rollups; kept when the marker says they are there."""
    from django.db import connection

    from accounts.models import Organization

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_rollup_meta (orgs int, rows bigint)")
        cursor.execute("SELECT orgs, rows FROM bench_rollup_meta")
        if cursor.fetchone() == (orgs, rows):
            print(f"ledger of {rows:,} rows for {orgs} orgs already built")
            return
    started = time.perf_counter()
    from accounts.services import org_bootstrap
    from ingest.models import Upload

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM bench_rollup_meta")
        cursor.execute("TRUNCATE ingest_usageevent, ingest_costline, finops_rollup, finops_jobrollup, "
                       "finops_workrollup, finops_customerrollup, finops_rollupday, ingest_dirtyday")  # fmt: skip
    Organization.objects.filter(name__startswith=ORG_PREFIX).delete()
    org_ids, uploads = [], {}
    for rank in range(orgs):
        org, _, _ = org_bootstrap(name=f"{ORG_PREFIX} {rank:03d}", owner_email=f"rollup-bench-{rank}@example.org")
        org_ids.append(org.pk)
        uploads[org.pk] = Upload.objects.create(
            org=org, kind="bill", file="bench/rollup.csv", original_name="rollup.csv", sha256="0" * 64, status="done"
        ).pk
    usage, cost = day_counts(rows, orgs)
    lookups = lookups_make()
    written = 0
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for table, name, _ in LEDGER_INDEXES:
            if name.startswith("usageevent_unique"):
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
            else:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
        for offset in range(DAYS):
            day = FIRST_DAY + timedelta(days=offset)
            written += copy_day(cursor, org_ids, uploads, day, usage, cost, lookups)
            if offset % 10 == 9:
                print(f"  {day}: {written:,} rows in {time.perf_counter() - started:.0f}s", flush=True)
        loaded = time.perf_counter()
        for _, _, sql in LEDGER_INDEXES:
            cursor.execute(sql)
        indexed = time.perf_counter()
        cursor.execute("VACUUM ANALYZE ingest_usageevent")
        cursor.execute("VACUUM ANALYZE ingest_costline")
        print(f"  loaded in {loaded - started:.0f}s, indexes {indexed - loaded:.0f}s, vacuum "
              f"{time.perf_counter() - indexed:.0f}s")  # fmt: skip
    rollups_build(Organization.objects.get(pk=org_ids[0]), org_ids[1:])
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_rollup_meta VALUES (%s, %s)", (orgs, rows))
    print(f"built {written:,} rows for {orgs} orgs in {time.perf_counter() - started:.0f}s")


def rollups_build(org, others):
    """Roll up the measured org's 30 days; copy its rows to the other orgs so the tables hold every tenant."""
    from django.db import connection

    from finops.services.rollups import rollup_day_recompute

    shares = org_weights(len(others) + 1)
    shares = [w / shares[0] for w in shares[1:]]
    started = time.perf_counter()
    for offset in range(DAYS):
        rollup_day_recompute(org=org, day=FIRST_DAY + timedelta(days=offset))
    rollup_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        for model in rollup_models():
            table = model._meta.db_table
            names = [f.column for f in model._meta.concrete_fields if f.column not in ("id", "org_id")]
            columns = ", ".join(f'"{name}"' for name in names)
            # each org gets the share of the measured org's rows its size gives it (1/sqrt(rank))
            cursor.execute(
                f"INSERT INTO {table} (org_id, {columns}) SELECT o.id, {columns} FROM {table} "  # noqa: S608 - fixed names
                f"JOIN unnest(%s::bigint[], %s::float8[]) AS o(id, share) ON {table}.id %% 1000 < 1000 * o.share "
                f"WHERE org_id = %s",
                (list(others), shares, org.pk),
            )
            cursor.execute(f"ANALYZE {table}")
    rows = rollup_models()[0].objects.for_org(org).count()
    print(f"  rolled up the measured org's {DAYS} days ({rows:,} rollup rows) in {rollup_seconds:.1f}s, "
          f"copied to {len(others)} orgs by their size")  # fmt: skip


# ---------------------------------------------------------------------------------------------------------- (a)

REFERENCE_USAGE = """
SELECT provider, model, route, customer, metadata ->> 'plan', feature, environment, purpose, job_id, attempt, status,
       currency, sum(request_count), sum(request_count) FILTER (WHERE cost_source = 'unpriced'), sum(cost_amount),
       sum(input_tokens), sum(output_tokens)
FROM ingest_usageevent WHERE org_id = %(org)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
"""
REFERENCE_COST = """
SELECT provider, service_name, resource_id, sku_id, gpu_type, customer, feature, environment, owner, purpose,
       commitment_discount_status, currency, sum(billed_cost_amount), count(*)
FROM ingest_costline WHERE org_id = %(org)s AND charge_period_start >= %(start)s AND charge_period_start < %(end)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
"""

# The restated reference of (a): the pure-SQL floor of the day's call path, the whole recompute of its calls as one
# statement from one grouped read into both tables (scratch copies): job outcomes by a window function, buckets and
# labels as CASE; no rules, no plans, no bill scaling, no currencies, no Python.
FLOOR = """
WITH g AS (
    SELECT lower(provider) AS provider, model, route, customer, coalesce(metadata ->> 'plan', '') AS plan, feature,
           environment, purpose, job_id, attempt, status, coalesce(nullif(currency, ''), 'USD') AS currency,
           sum(request_count) AS calls, coalesce(sum(request_count) FILTER (WHERE cost_source = 'unpriced'), 0)
           AS unpriced, coalesce(sum(cost_amount), 0) AS cost, sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens
    FROM ingest_usageevent WHERE org_id = %(org)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
), o AS (
    SELECT g.*, first_value(attempt) OVER w AS last_attempt, first_value(status = 'ok') OVER w AS job_ok FROM g
    WINDOW w AS (PARTITION BY job_id ORDER BY attempt DESC, status = 'ok' DESC)
), i AS (
    SELECT o.*, CASE WHEN job_id = '' THEN status = 'ok' ELSE job_ok END AS ok,
           CASE WHEN job_id <> '' AND (NOT job_ok OR attempt < last_attempt OR status <> 'ok') THEN 'retries'
                WHEN purpose IN ('inference', 'batch') THEN 'inference' WHEN purpose = 'evaluation' THEN 'evaluation'
                WHEN purpose IN ('training', 'tuning', 'fine-tuning') THEN 'training'
                WHEN purpose IN ('research', 'training-data') THEN 'research'
                WHEN customer <> '' OR feature <> '' THEN 'inference' ELSE 'waste' END AS bucket
    FROM o
), r AS (
    INSERT INTO bench_floor.finops_rollup (org_id, day, kind, source, bucket, label, currency, job_outcome,
        "deferrable", customer, plan, feature, environment, owner, provider, model, route, host, cost_amount, calls,
        unpriced_calls, input_tokens, output_tokens, gpu_seconds, cost_line_ids)
    SELECT %(org)s, %(day)s, 'allocated', 'api_calls', bucket,
           CASE WHEN bucket IN ('inference', 'retries') AND customer <> '' THEN 'customer_value'
                WHEN bucket = 'evaluation' THEN 'product_proof' ELSE 'unlabelled' END,
           currency, CASE WHEN ok THEN 'completed' ELSE 'failed' END, purpose = 'batch', customer, plan, feature,
           environment, '', provider, model, route, '', sum(cost), sum(calls), sum(unpriced), sum(input_tokens),
           sum(output_tokens), 0, '[]'
    FROM i GROUP BY bucket, currency, ok, purpose = 'batch', customer, plan, feature, environment, provider, model,
                    route
)
INSERT INTO bench_floor.finops_jobrollup (org_id, day, job_id, customer, plan, feature, purpose, jobs_completed,
    jobs_failed, attempts, cost_completed_amount, cost_failed_amount, retry_cost_amount, currency, gpu_seconds,
    unpriced_calls)
SELECT %(org)s, %(day)s, job_id, customer, plan, feature, purpose,
       CASE WHEN job_id = '' THEN coalesce(sum(calls) FILTER (WHERE ok), 0) ELSE bool_and(ok)::int END,
       CASE WHEN job_id = '' THEN coalesce(sum(calls) FILTER (WHERE NOT ok), 0) ELSE (NOT bool_and(ok))::int END,
       sum(calls), coalesce(sum(cost) FILTER (WHERE ok), 0), coalesce(sum(cost) FILTER (WHERE NOT ok), 0),
       coalesce(sum(cost) FILTER (WHERE bucket = 'retries'), 0), currency, 0, sum(unpriced)
FROM i GROUP BY job_id, customer, plan, feature, purpose, currency
"""


def new_day(org, rows: int, orgs: int) -> int:
    """Ingest one more day of the org's rows (as the build made the others) and mark it dirty."""
    from django.db import connection, transaction

    from ingest.models import CostLine, DirtyDay, Upload, UsageEvent

    usage, cost = day_counts(rows, orgs)
    upload = Upload.objects.filter(org=org).first()
    with transaction.atomic():
        UsageEvent.objects.for_org(org).filter(occurred_at__gte=datetime(2026, 10, 31, tzinfo=UTC)).delete()
        CostLine.objects.for_org(org).filter(charge_period_start__gte=datetime(2026, 10, 31, tzinfo=UTC)).delete()
        for model in rollup_models():
            model.objects.for_org(org).filter(day=NEW_DAY).delete()
        with connection.cursor() as cursor:
            written = copy_day(cursor, [org.pk], {org.pk: upload.pk}, NEW_DAY, usage[:1], cost[:1], lookups_make())
        DirtyDay.objects.update_or_create(org=org, day=NEW_DAY)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ingest_usageevent")
    return written


def bench_recompute(org, repeat: int, profile: bool) -> dict:
    """Ours, the SQL floor and the bare GROUP BYs on the new day, in turn, `repeat` times each."""
    from django.db import connection

    from finops.selectors.inputs import day_bounds
    from finops.services.rollups import rollup_day_recompute

    start, end = day_bounds(NEW_DAY)
    params = {"org": org.pk, "start": start, "end": end, "day": NEW_DAY}
    ours, floor, reference, groups, rows, floor_rows = [], [], [], 0, 0, (0, 0)
    with connection.cursor() as cursor:
        # Scratch copies of the two tables (same columns, defaults and indexes, logged like them), emptied after
        # each run of the floor outside its timing: it writes what the rollup writes, where nobody reads it.
        cursor.execute("DROP SCHEMA IF EXISTS bench_floor CASCADE; CREATE SCHEMA bench_floor")
        for table in ("finops_rollup", "finops_jobrollup"):
            cursor.execute(f"CREATE TABLE bench_floor.{table} (LIKE public.{table} INCLUDING ALL)")
    try:
        for _ in range(repeat):
            began = time.perf_counter()
            rows = rollup_day_recompute(org=org, day=NEW_DAY)
            ours.append(time.perf_counter() - began)
            with connection.cursor() as cursor:
                began = time.perf_counter()
                cursor.execute(FLOOR, params)  # autocommit: the statement and its commit, as ours commits
                floor.append(time.perf_counter() - began)
                cursor.execute("SELECT (SELECT count(*) FROM bench_floor.finops_rollup), "
                               "(SELECT count(*) FROM bench_floor.finops_jobrollup)")  # fmt: skip
                floor_rows = cursor.fetchone()
                cursor.execute("TRUNCATE bench_floor.finops_rollup, bench_floor.finops_jobrollup")
                began = time.perf_counter()
                cursor.execute(REFERENCE_USAGE, params)
                groups = len(cursor.fetchall())
                cursor.execute(REFERENCE_COST, params)
                cursor.fetchall()
                reference.append(time.perf_counter() - began)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA bench_floor CASCADE")
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(rollup_day_recompute, org=org, day=NEW_DAY)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return {
        "ours": ours,
        "floor": floor,
        "reference": reference,
        "rollup_rows": rows,
        "groups": groups,
        "floor_rows": floor_rows,
    }


# ---------------------------------------------------------------------------------------------------------- (d)

BILL_ORG = f"{ORG_PREFIX} bill"


def bill_build(rows: int):
    """(d): an organisation whose ledger is one bill of `rows` lines over the build's 30 days (the build's bill line
    generator, COPYed the same way), built once (a marker table says so); returns it."""
    from django.db import connection

    from accounts.models import Organization
    from accounts.services import org_bootstrap
    from ingest.models import Upload

    org = Organization.objects.filter(name=BILL_ORG).first()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_rollup_bill (org_id bigint, rows bigint)")
        cursor.execute("SELECT org_id, rows FROM bench_rollup_bill")
        if org is not None and cursor.fetchone() == (org.pk, rows):
            print(f"bill of {rows:,} lines already built")
            return org
    started = time.perf_counter()
    if org is None:
        org, _, _ = org_bootstrap(name=BILL_ORG, owner_email="rollup-bench-bill@example.org")
    upload = Upload.objects.filter(org=org).first() or Upload.objects.create(
        org=org, kind="bill", file="bench/bill.csv", original_name="bill.csv", sha256="1" * 64, status="done"
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM bench_rollup_bill")
        for model in (*rollup_models(), "ingest_costline", "ingest_dirtyday", "finops_rollupday"):
            table = model if isinstance(model, str) else model._meta.db_table
            cursor.execute(f"DELETE FROM {table} WHERE org_id = %s", (org.pk,))  # noqa: S608 - fixed names
        per_day = [rows // DAYS + (1 if offset < rows % DAYS else 0) for offset in range(DAYS)]
        for offset, count in enumerate(per_day):
            copy_day(cursor, [org.pk], {org.pk: upload.pk}, FIRST_DAY + timedelta(days=offset), [0], [count], {})
        cursor.execute("ANALYZE ingest_costline")
        cursor.execute("INSERT INTO bench_rollup_bill VALUES (%s, %s)", (org.pk, rows))
    print(f"  bill of {rows:,} lines over {DAYS} days built in {time.perf_counter() - started:.0f}s")
    return org


def bench_bill(org, repeat: int) -> dict:
    """Mark every day of the bill's organisation dirty and time the rollup task's body recomputing them all."""
    from finops.tasks import rollup_org
    from ingest.models import CostLine, DirtyDay

    days = [FIRST_DAY + timedelta(days=offset) for offset in range(DAYS)]  # what ingest marks: each line's one day
    seconds, recomputed = [], 0
    for _ in range(repeat):
        DirtyDay.objects.bulk_create([DirtyDay(org=org, day=day) for day in days], ignore_conflicts=True)
        began = time.perf_counter()
        recomputed = rollup_org(org.pk)
        seconds.append(time.perf_counter() - began)
    lines = CostLine.objects.for_org(org).count()
    return {"seconds": seconds, "days": recomputed, "lines": lines}


# ---------------------------------------------------------------------------------------------------------- (b)


class QueryTimer:
    """An execute wrapper: the summed duration of every query, and optionally the statements."""

    def __init__(self):
        self.seconds, self.statements, self.capture = 0.0, [], False

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - began
            if self.capture:
                self.statements.append((sql, params))


def weekly_tables(org):
    """bench_weekly.<each rollup table>: the week's rows of the org summed over its days; their row counts."""
    from django.db import connection

    sums = {"cost_amount", "calls", "unpriced_calls", "input_tokens", "output_tokens", "gpu_seconds", "jobs_completed",
            "jobs_failed", "attempts", "cost_completed_amount", "cost_failed_amount", "retry_cost_amount"}  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS bench_weekly CASCADE; CREATE SCHEMA bench_weekly")
        counts = []
        for model in rollup_models():
            table = model._meta.db_table
            select, keys = ["min(id) AS id", "org_id", "%(monday)s::date AS day"], ["org_id"]
            for f in model._meta.concrete_fields:
                if f.column in ("id", "org_id", "day"):
                    continue
                if f.column in sums:
                    select.append(f'sum("{f.column}") AS "{f.column}"')
                elif f.column == "cost_line_ids":
                    select.append("'[]'::jsonb AS cost_line_ids")
                else:
                    select.append(f'"{f.column}"')
                    keys.append(f'"{f.column}"')
            cursor.execute(
                f"CREATE TABLE bench_weekly.{table} AS SELECT {', '.join(select)} FROM public.{table} "  # noqa: S608
                f"WHERE org_id = %(org)s AND day >= %(monday)s AND day < %(end)s GROUP BY {', '.join(keys)}",
                {"org": org.pk, "monday": WEEK[0], "end": WEEK[1]},
            )
            cursor.execute(f"CREATE INDEX ON bench_weekly.{table} (org_id, day)")
            cursor.execute(f"ANALYZE bench_weekly.{table}")
            cursor.execute(f"SELECT count(*) FROM bench_weekly.{table}")  # noqa: S608 - fixed names
            counts.append(cursor.fetchone()[0])
        return counts


def p95(values):
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def bench_founder_table(org, requests: int, profile: bool) -> dict:
    from django.db import connection
    from django.test import Client

    from accounts.services import api_key_create
    from finops.api import founder_table_rows
    from finops.services.rollups import rollups_refresh

    rollups_refresh(org=org)  # the dirty day of (a): no request recomputes
    _, raw = api_key_create(org=org, name="rollup bench", scope="read", created_by=None)
    client = Client()
    url = f"/api/v1/founder-table/?start={WEEK[0]}&end={WEEK[1]}"
    timer = QueryTimer()
    ours_db, ours_total = [], []
    with connection.execute_wrapper(timer):
        for n in range(requests + 5):
            timer.seconds, timer.capture = 0.0, n == 4
            began = time.perf_counter()
            response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
            elapsed = time.perf_counter() - began
            assert response.status_code == 200, response.content[:500]
            if n >= 5:  # the first requests warm the connection and caches
                ours_db.append(timer.seconds)
                ours_total.append(elapsed)
            timer.capture = False
    statements = timer.statements
    week_rows = [m.objects.for_org(org).filter(day__gte=WEEK[0], day__lt=WEEK[1]).count() for m in rollup_models()]
    weekly = weekly_tables(org)
    selects = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT")]
    reference = []
    with connection.cursor() as cursor:
        cursor.execute("SET search_path TO bench_weekly, public")
        try:
            with connection.execute_wrapper(timer):
                for n in range(requests + 5):
                    timer.seconds = 0.0
                    for sql, params in selects:
                        cursor.execute(sql, params)
                        cursor.fetchall()
                    if n >= 5:
                        reference.append(timer.seconds)
        finally:
            cursor.execute("SET search_path TO public")
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(founder_table_rows, org=org, start=WEEK[0], end=WEEK[1])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
    return {
        "db": ours_db, "total": ours_total, "reference": reference, "queries": len(statements),
        "selects": len(selects), "week_rows": week_rows, "weekly_rows": weekly,
    }  # fmt: skip


def bench_founder_page(org, requests: int) -> dict:
    """The Founder Table page as a member opens it (the week's table, its twelve metrics against the week before,
    the anomalies and the month-end forecast), rendered in full: the first request after a recompute (anomalies
    read afresh) and the next `requests`."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    from accounts.models import Membership

    # The benchmark has no collected static files: plain static URLs instead of the manifest.
    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    user = get_user_model().objects.filter(email="rollup-bench@example.com").first()
    if user is None:
        user = get_user_model().objects.create_user(email="rollup-bench@example.com", password="bench-" + "p" * 20)
    Membership.objects.get_or_create(org=org, user=user, defaults={"role": "viewer"})
    client = Client()
    client.force_login(user)
    year, week, _ = WEEK[0].isocalendar()
    url = f"/o/{org.code}/?week={year}-W{week:02d}"
    cache.clear()
    began = time.perf_counter()
    assert client.get(url).status_code == 200
    first = time.perf_counter() - began
    totals = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        totals.append(time.perf_counter() - began)
        assert response.status_code == 200
    return {"first": first, "total": totals}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="recomputes of the new day (median)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile one recompute and one Founder Table")
    parser.add_argument("--bill-rows", type=int, default=1_000_000, help="(d): lines of the one-org bill")
    parser.add_argument("--bill-repeat", type=int, default=1, help="(d): recomputes of all its days")
    parser.add_argument("--cases", default="abcd", help="which of (a) to (d) to run, e.g. ad")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (createdb finops_bench_rollup).")
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    build(args.orgs, args.rows)

    from accounts.models import Organization

    org = Organization.objects.get(name=f"{ORG_PREFIX} 000")
    if "a" in args.cases:
        report_recompute(org, args)
    if "b" in args.cases:
        report_founder_table(org, args)
    if "c" in args.cases:
        report_founder_page(org, args)
    if "d" in args.cases and args.bill_rows:
        report_bill(args)


def report_recompute(org, args):
    written = new_day(org, args.rows, args.orgs)
    a = bench_recompute(org, args.repeat, args.profile)
    ours, floor = statistics.median(a["ours"]), statistics.median(a["floor"])
    reference = statistics.median(a["reference"])
    print(f"(a) recompute one new day of the largest org ({written:,} new ledger rows, {a['groups']:,} call groups, "
          f"{a['rollup_rows']:,} rollup rows):")  # fmt: skip
    runs = ", ".join(f"{s * 1000:.0f}" for s in a["ours"])
    print(f"    rollup_day_recompute  median {ours * 1000:7.0f} ms  (runs: {runs})")
    runs = ", ".join(f"{s * 1000:.0f}" for s in a["floor"])
    print(f"    SQL floor             median {floor * 1000:7.0f} ms  (runs: {runs}; one INSERT ... SELECT of the calls "
          f"into scratch tables: {a['floor_rows'][0]:,} rollup and {a['floor_rows'][1]:,} job rows)")  # fmt: skip
    print(f"    bare GROUP BYs        median {reference * 1000:7.0f} ms")
    print(f"    ratio to the floor    {ours / floor:.2f}x (goal <= 2x); to the bare GROUP BYs {ours / reference:.2f}x")


def report_founder_table(org, args):
    b = bench_founder_table(org, args.requests, args.profile)
    db, total, ref = p95(b["db"]), p95(b["total"]), p95(b["reference"])
    rollup, job, work, customer = b["week_rows"]
    print(f"(b) Founder Table, {args.requests} requests of one week ({rollup:,} rollup rows, {job:,} job rows, "
          f"{work:,} work rows, {customer:,} customer rows; {b['queries']} queries a request):")  # fmt: skip
    print(f"    database time         p95 {db * 1000:7.1f} ms  (median {statistics.median(b['db']) * 1000:.1f})")
    print(f"    request               p95 {total * 1000:7.1f} ms  (median {statistics.median(b['total']) * 1000:.1f}; "
          f"goal < 150 ms)")  # fmt: skip
    print(f"    pre-aggregated weekly p95 {ref * 1000:7.1f} ms  ({b['selects']} SELECTs replayed on "
          f"{' + '.join(f'{n:,}' for n in b['weekly_rows'])} weekly rows)")  # fmt: skip
    print(f"    ratio                 {db / ref:.2f}x (goal <= 3x)")


def report_founder_page(org, args):
    c = bench_founder_page(org, min(args.requests, 50))
    print(f"(c) Founder Table page (table, metrics, anomalies, forecast), {len(c['total'])} requests of the same week:")
    print(f"    first after a recompute {c['first'] * 1000:7.1f} ms")
    print(f"    request               p95 {p95(c['total']) * 1000:7.1f} ms  (median "
          f"{statistics.median(c['total']) * 1000:.1f})")  # fmt: skip


def report_bill(args):
    org = bill_build(args.bill_rows)
    d = bench_bill(org, args.bill_repeat)
    runs = ", ".join(f"{s:.2f}" for s in d["seconds"])
    print(f"(d) every dirty day of a {d['lines']:,}-line bill ({d['days']} days) recomputed by the rollup task:")
    print(f"    rollup_org            median {statistics.median(d['seconds']):7.2f} s   (runs: {runs}; goal < 10 s)")


if __name__ == "__main__":
    main()
