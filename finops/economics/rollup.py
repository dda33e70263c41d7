"""Items of a day, summed into rollup rows and job rows: pure, so a rerun gives the same rows."""

from dataclasses import dataclass, fields
from decimal import Decimal
from operator import attrgetter, itemgetter

from finops.economics.allocation import ZERO, Item

ROW_DIMS = ("customer", "plan", "feature", "environment", "owner", "provider", "model", "route", "host", "service",
            "resource")  # fmt: skip
ROW_KEY = ("kind", "source", "bucket", "label", "currency", "job_outcome", "deferrable")
ROW_SUMS = ("amount", "calls", "unpriced_calls", "input_tokens", "output_tokens", "gpu_seconds")


_item_key = attrgetter(*ROW_KEY)
_dims_key = attrgetter(*ROW_DIMS)
_item_sums = attrgetter(*ROW_SUMS)


def _add(totals: dict, key: tuple, sums: tuple) -> bool:
    """Add the six ROW_SUMS to `totals[key]` (a new entry when absent); True when the key was there."""
    total = totals.get(key)
    if total is None:
        totals[key] = list(sums)
        return False
    amount, calls, unpriced, tokens_in, tokens_out, seconds = sums
    total[0] += amount
    total[1] += calls
    total[2] += unpriced
    total[3] += tokens_in
    total[4] += tokens_out
    total[5] += seconds
    return True


def rollup_rows(items: list[Item]) -> list[dict]:
    """One dict per distinct (kind, source, bucket, label, dimensions, currency, job outcome), with sums and
    the union of the bill lines behind it, in a stable order (every position of the key has one type)."""
    sums, lines = {}, {}
    for item in items:
        key = _item_key(item) + _dims_key(item.dims)
        if _add(sums, key, _item_sums(item)):
            lines[key].update(item.cost_line_ids)
        else:
            lines[key] = set(item.cost_line_ids)
    names = (*ROW_KEY, *ROW_DIMS)
    return [dict(zip(names, key, strict=True)) | dict(zip(ROW_SUMS, sums[key], strict=True))
            | {"cost_line_ids": sorted(lines[key])} for key in sorted(sums)]  # fmt: skip


WORK_DIMS = ("kind", "source", "bucket", "label", "currency", "plan", "feature", "environment", "owner", "provider",
             "model", "host", "deferrable", "has_unpriced")  # fmt: skip
CUSTOMER_DIMS = ("kind", "currency", "customer", "plan", "by_key")
# Sources whose amounts an allocation key placed on customers (shared cloud cost, the API bill's gap), not a tag,
# an event or the agent: a customer's direct cost leaves them out.
KEY_SOURCES = frozenset({"cloud_shared", "api_gap"})
_row_sums = itemgetter(*ROW_SUMS)
# Dimensions of the summed tables that are derived from a rollup row rather than copied from it.
DERIVED_DIMS = {
    "has_unpriced": lambda row: row["unpriced_calls"] > 0,
    "by_key": lambda row: row["source"] in KEY_SOURCES,
}


def summed_rows(rows: list[dict], dims: tuple) -> list[dict]:
    """Rollup rows summed by `dims` (WORK_DIMS or CUSTOMER_DIMS), in a stable order; `has_unpriced` is each source
    row's own unpriced_calls > 0, `by_key` whether an allocation key placed its cost."""
    plain = tuple(d for d in dims if d not in DERIVED_DIMS)
    derived = tuple((d, DERIVED_DIMS[d]) for d in dims if d in DERIVED_DIMS)
    names = (*plain, *(d for d, _ in derived))
    values = itemgetter(*plain)  # every dims tuple has more than one name, so this returns a tuple
    totals = {}
    for row in rows:
        _add(totals, values(row) + tuple(derive(row) for _, derive in derived), _row_sums(row))
    return [dict(zip(names, key, strict=True)) | dict(zip(ROW_SUMS, totals[key], strict=True))
            for key in sorted(totals)]  # fmt: skip


@dataclass
class JobRow:
    job_id: str
    customer: str
    plan: str
    feature: str
    purpose: str
    currency: str
    jobs_completed: int = 0
    jobs_failed: int = 0
    attempts: int = 0
    cost_completed: Decimal = ZERO
    cost_failed: Decimal = ZERO
    retry_cost: Decimal = ZERO
    gpu_seconds: Decimal = ZERO
    unpriced_calls: int = 0


def job_rows(items: list[Item]) -> list[JobRow]:
    """Per job id: its calls and GPU time (completed or failed by its last attempt); calls without a job
    id count one job each, grouped by customer, plan, feature and purpose."""
    jobs: dict[tuple, JobRow] = {}
    outcome_of = {}
    for item in items:
        if item.kind == "allocated" and item.dims.job_id and item.job_outcome:
            outcome_of[item.dims.job_id] = item.job_outcome
    for item in items:
        dims = item.dims
        if item.kind != "allocated" or not (dims.job_id or item.calls):
            continue
        key = (dims.job_id, item.currency) if dims.job_id else ("", dims.customer, dims.plan, dims.feature,
                                                                 dims.purpose, item.currency)  # fmt: skip
        row = jobs.get(key)
        if row is None:
            row = jobs[key] = JobRow(dims.job_id, dims.customer, dims.plan, dims.feature, dims.purpose, item.currency)
        row.customer, row.plan = row.customer or dims.customer, row.plan or dims.plan
        row.feature, row.purpose = row.feature or dims.feature, row.purpose or dims.purpose
        row.attempts += item.calls
        row.gpu_seconds += item.gpu_seconds
        row.unpriced_calls += item.unpriced_calls
        if item.bucket == "retries":
            row.retry_cost += item.amount
        outcome = outcome_of.get(dims.job_id, "completed") if dims.job_id else item.job_outcome
        if outcome == "failed":
            row.cost_failed += item.amount
        else:
            row.cost_completed += item.amount
        if not dims.job_id:
            if item.job_outcome == "failed":
                row.jobs_failed += item.calls
            else:
                row.jobs_completed += item.calls
    for (job_id, *_), row in jobs.items():
        if job_id:
            failed = outcome_of.get(job_id) == "failed"
            row.jobs_failed, row.jobs_completed = (1, 0) if failed else (0, 1)
    return [jobs[k] for k in sorted(jobs)]


JOB_FIELDS = tuple(f.name for f in fields(JobRow))
