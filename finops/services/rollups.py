"""The rollup: recompute exactly the (org, day) pairs ingest marked dirty, replacing their rows whole."""

import json
import logging
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from functools import wraps

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.tenancy import get_org_for_user
from finops.economics.allocation import allocate_day
from finops.economics.rollup import (
    CUSTOMER_DIMS,
    KEY_SOURCES,
    ROW_DIMS,
    ROW_KEY,
    ROW_SUMS,
    WORK_DIMS,
    job_rows,
    rollup_rows,
    summed_rows,
)
from finops.models import CustomerRollup, JobRollup, Rollup, RollupDay, RollupLineRun, WorkRollup, epoch_microseconds
from finops.selectors.inputs import CROSSING, day_bounds, day_call_groups, day_inputs, day_plans
from finops.services.budgets import budget_alerts_queue
from finops.services.rollup_calls import calls_rollup_write
from ingest.models import CostLine, DirtyDay, QuarantinedDay
from ingest.services.tally import MAX_DAYS_PER_LINE

ROLLUP_COLUMNS = ("org_id", "day", *ROW_KEY, *ROW_DIMS, "cost_amount", *ROW_SUMS[1:], "cost_line_ids")
JOB_COLUMNS = ("org_id", "day", "job_id", "customer", "plan", "feature", "purpose", "jobs_completed", "jobs_failed",
               "attempts", "cost_completed_amount", "cost_failed_amount", "retry_cost_amount", "currency",
               "gpu_seconds", "unpriced_calls")  # fmt: skip
SUM_COLUMNS = ("cost_amount", *ROW_SUMS[1:])
WORK_COLUMNS = ("org_id", "day", *WORK_DIMS, *SUM_COLUMNS)
CUSTOMER_COLUMNS = ("org_id", "day", *CUSTOMER_DIMS, *SUM_COLUMNS)
logger = logging.getLogger(__name__)
# A quarantined day is tried again when its data changes (it is marked dirty) or, in case the failure was passing
# (a lock timeout, a worker's time limit), after an hour, then two, four, ... at most a day: never every minute.
QUARANTINE_RETRY_FIRST = timedelta(hours=1)
QUARANTINE_RETRY_MAX = timedelta(days=1)
QUARANTINE_ERROR_CHARS = 1000
SUMMED = ((WorkRollup, WORK_DIMS, WORK_COLUMNS), (CustomerRollup, CUSTOMER_DIMS, CUSTOMER_COLUMNS))
# A bill's text has no length in the ledger; the rollups' dimensions have: values are cut to them in one place,
# where the day's rows are made, so a provider, resource or tag longer than its column still rolls up.
DIM_LENGTHS = {d: Rollup._meta.get_field(d).max_length for d in ROW_DIMS}
JOB_TEXT = ("job_id", "customer", "plan", "feature", "purpose")
JOB_LENGTHS = tuple(JobRollup._meta.get_field(name).max_length for name in JOB_TEXT)


@transaction.atomic
def rollup_day_recompute(*, org, day: date, in_sql: bool = True) -> int:
    """Replace the rollup rows of one org-day (and the job, work and customer rows summed from them) from the
    ledgers; returns the rollup rows written.

    On PostgreSQL the model calls are costed, allocated and rolled up by one SQL statement (rollup_calls.py), the
    bill lines that are placed by a plain sum come summed by a grouped read (selectors.inputs._bill_shares), and the
    work and customer rows are summed in SQL from the day's rollup rows; the other bill lines and the GPU hours, and
    every line and call on SQLite (or with `in_sql` False: the oracle the tests compare with, test_rollup_calls.py
    and test_rollup_bills.py), go through `allocate_day` one by one."""
    for model in (Rollup, JobRollup, WorkRollup, CustomerRollup):
        model.objects.for_org(org).filter(day=day).delete()
    in_sql = in_sql and connection.vendor == "postgresql"
    calls = None
    if in_sql:
        plans = day_plans(org=org, day=day)
        with _hashed(bitmap=True):  # the bill lines' grouped read hashes (a sort on its 16 text columns costs 4x)
            inputs = day_inputs(org=org, day=day, plans=plans, calls=False, grouped=True)
        with _hashed():
            calls = calls_rollup_write(org=org, day=day, inputs=inputs, plans=plans)
        if calls is None:  # the Python path decides this day's calls (rollup_calls.py says when)
            inputs = replace(inputs, calls=day_call_groups(org=org, day=day, plans=plans))
    else:
        inputs = day_inputs(org=org, day=day)
    items = allocate_day(inputs, calls.totals if calls else None)
    rows = [_fitted(row) for row in rollup_rows(items)]
    _write(Rollup, ROLLUP_COLUMNS, ((org.pk, day, *_rollup_values(row)) for row in rows))
    named_lines = _named_runs_write(org, day)
    jobs = job_rows([*items, *calls.jobs] if calls else items)
    _write(JobRollup, JOB_COLUMNS, ((org.pk, day, *_job_values(job)) for job in jobs))
    if in_sql:
        with _hashed():
            _sum_in_sql(org, day)
    else:
        for model, dims, columns in SUMMED:
            _write(model, columns, ((org.pk, day, *(r[d] for d in dims), *(r[s] for s in ROW_SUMS))
                                    for r in summed_rows(rows, dims)))  # fmt: skip
    count = len(rows) + (calls.rows if calls else 0)
    RollupDay.objects.update_or_create(
        org=org, day=day, defaults={"computed_at": timezone.now(), "rows": count, "named_lines": named_lines}
    )
    return count


@contextmanager
def _hashed(*, bitmap: bool = False):
    """Group by hashing: a new day's rows have no statistics yet, and the planner's sort of thousands of rows on a
    dozen text columns costs several times the hash (46 against 13 ms for the benchmark's work rows). With `bitmap`,
    rows are fetched by bitmap scans rather than index scans: a day's bill lines are all read, in heap order by a
    bitmap (a quarter less time for the benchmark's 33k lines a day than row by row, which their time order's
    correlation makes the planner pick)."""
    names = ("enable_sort", "enable_indexscan") if bitmap else ("enable_sort",)
    with connection.cursor() as cursor:
        before = []
        for name in names:
            cursor.execute("SELECT current_setting(%s), set_config(%s, 'off', true)", (name, name))
            before.append(cursor.fetchone()[0])
        try:
            yield
        finally:
            for name, value in zip(names, before, strict=True):
                cursor.execute("SELECT set_config(%s, %s, true)", (name, value))


# The bill lines a day's rollup rows name, once per currency, from the rows just written.
NAMED = """
    SELECT DISTINCT r.currency, j.id
    FROM finops_rollup r CROSS JOIN LATERAL jsonb_array_elements_text(r.cost_line_ids) AS j(id)
    WHERE r.org_id = %(org)s AND r.day = %(day)s AND r.cost_line_ids <> '[]'::jsonb"""
# Their count and a sum of their hashes (whatever their order): when a recompute names the same lines in the same
# currencies, the day's runs stay as they are (most recomputes follow new calls or GPU samples, not new bill lines).
NAMED_DIGEST = f"""
SELECT count(*) || ':' || coalesce(sum(hashtextextended(currency || ':' || id, 0)::numeric), 0) FROM ({NAMED}) named
"""  # noqa: S608 - fixed names
# The runs of bill lines a day's rollup rows name (RollupLineRun): the named ids joined to the day's lines (read by
# their start, and those from before it by the index of lines that cross a midnight: a hash join, where looking up
# each id costs 5x), numbered in (start, id) order and cut in runs.
NAMED_RUNS = f"""
WITH named AS ({NAMED}
), day_lines AS (
    SELECT id, charge_period_start FROM ingest_costline
    WHERE org_id = %(org)s AND charge_period_start >= %(start)s AND charge_period_start < %(end)s
    UNION ALL
    SELECT id, charge_period_start FROM ingest_costline
    WHERE org_id = %(org)s AND charge_period_start >= %(back)s AND charge_period_start < %(start)s
        AND charge_period_end > %(start)s AND {CROSSING}
), numbered AS (
    SELECT n.currency, l.id, l.charge_period_start AS at, l.charge_period_start < %(start)s AS before,
           row_number() OVER (PARTITION BY n.currency, l.charge_period_start < %(start)s
                              ORDER BY l.charge_period_start, l.id) - 1 AS n
    FROM named n JOIN day_lines l ON l.id = n.id::bigint
)
INSERT INTO finops_rolluplinerun (org_id, day, currency, started_before, last_at, last_line_id, size, lines)
SELECT %(org)s, %(day)s, currency, before, max(at), (array_agg(id ORDER BY at DESC, id DESC))[1], count(*),
       jsonb_agg(jsonb_build_array((extract(epoch FROM at) * 1000000)::bigint, id) ORDER BY at, id)
FROM numbered GROUP BY currency, before, n / {RollupLineRun.RUN_SIZE}
"""  # noqa: S608 - fixed names and numbers


def _named_runs_write(org, day: date) -> str:
    """Replace the day's RollupLineRun rows from its rollup rows' `cost_line_ids`, unless they name the lines the
    runs were written from; returns the digest of the named lines. In SQL on PostgreSQL, else (and as the tests'
    oracle) `named_runs`, always written."""
    runs = RollupLineRun.objects.for_org(org).filter(day=day)
    if connection.vendor != "postgresql":
        runs.delete()
        RollupLineRun.objects.bulk_create(named_runs(org, day))
        return ""
    start, end = day_bounds(day)
    params = {"org": org.pk, "day": day, "start": start, "end": end, "back": start - timedelta(days=MAX_DAYS_PER_LINE)}
    with connection.cursor() as cursor:
        cursor.execute(NAMED_DIGEST, params)
        digest = cursor.fetchone()[0]
        if RollupDay.objects.for_org(org).filter(day=day, named_lines=digest).exists():
            return digest
        runs.delete()
        cursor.execute(NAMED_RUNS, params)
    return digest


def named_runs(org, day: date) -> list[RollupLineRun]:
    """The runs of lines the day's rollup rows name, one line at a time in Python (what NAMED_RUNS computes)."""
    named = {}
    for currency, ids in Rollup.objects.for_org(org).filter(day=day).values_list("currency", "cost_line_ids"):
        named.setdefault(currency, set()).update(ids)
    starts = dict(CostLine.objects.for_org(org).filter(id__in={i for ids in named.values() for i in ids})
                  .values_list("id", "charge_period_start"))  # fmt: skip
    start, _ = day_bounds(day)
    runs = []
    for currency, ids in sorted(named.items()):
        for before in (False, True):
            lines = sorted((starts[i], i) for i in ids if i in starts and (starts[i] < start) == before)
            for first in range(0, len(lines), RollupLineRun.RUN_SIZE):
                run = lines[first : first + RollupLineRun.RUN_SIZE]
                runs.append(RollupLineRun(org=org, day=day, currency=currency, started_before=before,
                                          last_at=run[-1][0], last_line_id=run[-1][1], size=len(run),
                                          lines=[[epoch_microseconds(at), i] for at, i in run]))  # fmt: skip
    return runs


def _sum_in_sql(org, day: date) -> None:
    """The day's work and customer rows, summed_rows's sums of its rollup rows, by INSERT ... SELECT from them."""
    derived = {"has_unpriced": "unpriced_calls > 0", "by_key": f"source IN ({', '.join(map(repr, KEY_SOURCES))})"}
    sums = ", ".join(f"sum({connection.ops.quote_name(c)})" for c in SUM_COLUMNS)
    with connection.cursor() as cursor:
        for model, dims, columns in SUMMED:
            keys = ", ".join(derived.get(d) or connection.ops.quote_name(d) for d in dims)
            cursor.execute(
                f"INSERT INTO {model._meta.db_table} ({', '.join(map(connection.ops.quote_name, columns))}) "  # noqa: S608 - fixed names
                f"SELECT org_id, day, {keys}, {sums} FROM {Rollup._meta.db_table} WHERE org_id = %s AND day = %s "
                f"GROUP BY org_id, day, {keys}",
                (org.pk, day),
            )


def _rollup_values(row) -> tuple:
    return (*(row[k] for k in ROW_KEY), *(row[d] for d in ROW_DIMS), *(row[s] for s in ROW_SUMS),
            json.dumps(row["cost_line_ids"]) if row["cost_line_ids"] else "[]")  # fmt: skip


def _fitted(row: dict) -> dict:
    """A rollup row with each dimension cut to its column's length."""
    for name, length in DIM_LENGTHS.items():
        if len(row[name]) > length:
            row[name] = row[name][:length]
    return row


def _job_values(job) -> tuple:
    texts = (getattr(job, name)[:length] for name, length in zip(JOB_TEXT, JOB_LENGTHS, strict=True))
    return (*texts, job.jobs_completed, job.jobs_failed,
            job.attempts, job.cost_completed, job.cost_failed, job.retry_cost, job.currency, job.gpu_seconds,
            job.unpriced_calls)  # fmt: skip


def _write(model, columns, values) -> None:
    """Rows in `columns` order into `model`'s table: one COPY on PostgreSQL (a day can hold tens of thousands of
    rows, and building model instances costs more than computing them), batched inserts elsewhere."""
    if connection.vendor == "postgresql":
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)  # "deferrable" is a reserved word
        statement = f"COPY {model._meta.db_table} ({quoted}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
        return
    objects = []
    for row in values:
        fields = dict(zip(columns, row, strict=True))
        if "cost_line_ids" in fields:
            fields["cost_line_ids"] = json.loads(fields["cost_line_ids"])
        objects.append(model(**fields))
    model.objects.bulk_create(objects, batch_size=2000)


def rollups_refresh(*, org) -> list[date]:
    """Recompute every dirty day of `org`, oldest first, and every quarantined day due for a retry; returns the
    days recomputed.

    Each day is claimed under a row lock (skipping days another worker holds) and its mark is removed
    only if nothing re-marked it while we computed, so a concurrent ingest is never lost. A day whose
    recompute raises is rolled back alone (its rollup rows stay as they were) and quarantined, and the
    loop goes on: one bad row cannot keep every other day of the tenant from its rollup.
    """
    done = []
    now = timezone.now()
    dirty = DirtyDay.objects.for_org(org).values_list("day", flat=True)
    quarantined = dict(QuarantinedDay.objects.for_org(org).values_list("day", "retry_after"))
    due = [day for day, retry_after in quarantined.items() if retry_after <= now]
    for day in sorted({*dirty, *due}):
        if _day_refresh(org, day, now, quarantined=day in quarantined):
            done.append(day)
    if done:
        budget_alerts_queue(org=org)
    return done


def _day_refresh(org, day: date, now, *, quarantined: bool) -> bool:
    """Recompute one day under its dirty mark's lock (and its quarantine record's, if it has one); False when
    another worker holds it, nothing is due, or the recompute failed and the day is quarantined."""
    with transaction.atomic():
        mark = DirtyDay.objects.for_org(org).select_for_update(skip_locked=True).filter(day=day).first()
        held = None
        if quarantined:
            record = QuarantinedDay.objects.for_org(org).filter(day=day)
            held = record.select_for_update(skip_locked=True).first()
            if held is None and record.exists():
                return False  # another worker is retrying it
        if mark is None and (held is None or held.retry_after > now):
            return False
        try:
            with transaction.atomic():
                rollup_day_recompute(org=org, day=day)
        except Exception as exc:  # noqa: BLE001 - any failure of one day must not stop the others
            _quarantine(org, day, held, exc)
            recomputed = False
        else:
            if held is not None:
                held.delete()
            recomputed = True
        if mark is not None:  # a failed day keeps no mark: the quarantine holds it until its data changes
            DirtyDay.objects.for_org(org).filter(pk=mark.pk, marked_at=mark.marked_at).delete()
    return recomputed


def _quarantine(org, day: date, held, exc: Exception) -> None:
    """Record the day's failure (its first, its last, how many) and when to try it again without new data."""
    error = _failure_text(exc)
    logger.exception("rollup of org %s, day %s failed; the day is quarantined: %s", org.pk, day, error)
    now = timezone.now()
    if held is None:
        held = QuarantinedDay(org=org, day=day, attempts=0, first_failed_at=now)
    held.attempts += 1
    held.error = error
    held.last_failed_at = now
    held.retry_after = now + min(QUARANTINE_RETRY_FIRST * 2 ** (held.attempts - 1), QUARANTINE_RETRY_MAX)
    held.save()


def _failure_text(exc: BaseException) -> str:
    """What went wrong, short enough to store and show: the first error, not the "transaction is aborted" that a
    statement run after it (a cleanup in a `finally`) raises in its place."""
    while exc.__context__ is not None and "current transaction is aborted" in str(exc):
        exc = exc.__context__
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= QUARANTINE_ERROR_CHARS else text[: QUARANTINE_ERROR_CHARS - 1] + "…"


def rollups_refresh_when_embedded(*, org) -> list[date]:
    """In the embedded mode (tasks run in-process, no beat) a read brings the org's rollups up to date first;
    with workers the periodic task does it."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    return rollups_refresh(org=org)


def fresh_rollups(view):
    """Decorate a page view or an API view class that reads the rollups: in the embedded mode each request first
    brings its organisation's rollups up to date (`rollups_refresh_when_embedded`); with workers nothing happens,
    the periodic task does it. A page's organisation is the `org_code` it is called with, for a member only (anyone
    else gets the 404 the view would give); an API view's is `self.org`, once the view has resolved it."""
    if isinstance(view, type):
        resolve = view.initial

        @wraps(resolve)
        def initial(self, request, *args, **kwargs):
            resolve(self, request, *args, **kwargs)
            rollups_refresh_when_embedded(org=self.org)

        view.initial = initial
        return view

    @wraps(view)
    def fresh(request, org_code, *args, **kwargs):
        if settings.CELERY_TASK_ALWAYS_EAGER:
            rollups_refresh(org=get_org_for_user(request, org_code))
        return view(request, org_code, *args, **kwargs)

    return fresh
