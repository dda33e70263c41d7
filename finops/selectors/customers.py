"""The Customers table (searched and sorted) and one customer's page: their economics in a period (from the table's
own read), the models and features they used, and the weekly trend of their cost, revenue, margin, jobs and GPU hours
over the last twelve weeks."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import DateField, Sum
from django.db.models.functions import TruncWeek

from accounts.read_cache import ECONOMICS, cached_read
from finops.economics.customer_cost import customer_costs
from finops.models import JobRollup
from finops.selectors.economics import customer_economics
from finops.selectors.inputs import economics_settings_for, fee_model
from finops.selectors.ledger import customers_between, rollups_between
from pricing.selectors import recognised_revenue, revenue_known

ZERO = Decimal(0)
TREND_WEEKS = 12
SECONDS_PER_HOUR = Decimal(3600)


def customer_summary(*, org, customer: str, start: date, end: date) -> dict | None:
    """`customer`'s row of customer_economics for [start, end) (a quiet one when they did nothing in it); None when
    the org has no such customer (in no rollup, with no revenue in the period)."""
    rows = customer_economics(org=org, start=start, end=end)
    row = next((r for r in rows if r["customer"] == customer), None)
    if row is not None:
        return row
    if not customer or not customers_between(org=org, start=date.min, end=date.max).filter(customer=customer).exists():
        return None
    revenue = ZERO if any(r["revenue"] is not None for r in rows) else None
    return {"customer": customer, "plan": None, "currency": org.currency, "revenue": revenue, "ai_cost": ZERO,
            "fully_loaded_cost": ZERO, "gross_margin": None, "fully_loaded_margin": None,
            "gross_margin_after_fees": None, "payment_fees": revenue, "loses_money": False, "completed_jobs": 0,
            "failed_jobs": 0, "cost_per_completed_job": None, "retries_per_completed_job": None}  # fmt: skip


@cached_read(ECONOMICS)
def customer_usage(*, org, customer: str, start: date, end: date) -> dict:
    """`customer`'s allocated cost in [start, end) by model and by feature (cost, calls, unpriced calls, tokens,
    GPU hours), largest first, and their GPU hours; one GROUP BY over the rollup."""
    rows = (
        rollups_between(org=org, start=start, end=end)
        .filter(customer=customer, currency=org.currency, kind="allocated")
        .values("provider", "model", "feature")
        .annotate(
            cost=Sum("cost_amount"),
            calls=Sum("calls"),
            unpriced=Sum("unpriced_calls"),
            tin=Sum("input_tokens"),
            tout=Sum("output_tokens"),
            gpu=Sum("gpu_seconds"),
        )
        .order_by()
    )
    by_model, by_feature = defaultdict(_empty), defaultdict(_empty)
    gpu_seconds = ZERO
    for r in rows:
        gpu_seconds += r["gpu"] or ZERO
        model = (r["provider"], r["model"]) if r["model"] else ("", "")  # GPU time and bill lines: one row
        for key, table in ((model, by_model), (r["feature"], by_feature)):
            t = table[key]
            t["cost"] += r["cost"] or ZERO
            t["calls"] += r["calls"] or 0
            t["unpriced_calls"] += r["unpriced"] or 0
            t["tokens"] += (r["tin"] or 0) + (r["tout"] or 0)
            t["gpu_hours"] += (r["gpu"] or ZERO) / SECONDS_PER_HOUR

    def ranked(table, names):
        return [{**names(key), **t} for key, t in sorted(table.items(), key=lambda kv: (-kv[1]["cost"], kv[0]))]

    return {
        "models": ranked(by_model, lambda key: {"provider": key[0], "model": key[1]}),
        "features": ranked(by_feature, lambda key: {"feature": key}),
        "gpu_hours": gpu_seconds / SECONDS_PER_HOUR,
    }


def _empty() -> dict:
    return {"cost": ZERO, "calls": 0, "unpriced_calls": 0, "tokens": 0, "gpu_hours": ZERO}


def trend_weeks(last_day: date) -> list[date]:
    """The Mondays of the twelve ISO weeks that end with the one holding `last_day`, oldest first."""
    monday = last_day - timedelta(days=last_day.weekday())
    return [monday - timedelta(weeks=n) for n in range(TREND_WEEKS - 1, -1, -1)]


@cached_read(ECONOMICS)
def customer_trend(*, org, customer: str, last_day: date) -> list[dict]:
    """Per ISO week of the twelve ending with the one holding `last_day`: `customer`'s direct and fully loaded cost,
    revenue, margin, completed jobs, cost per completed job and GPU hours, each as customer_economics computes it
    for that week: one GROUP BY per rollup table over the twelve weeks, revenue recognised week by week."""
    weeks = trend_weeks(last_day)
    start, end = weeks[0], weeks[-1] + timedelta(weeks=1)
    week = TruncWeek("day", output_field=DateField())
    slices, gpu = defaultdict(list), defaultdict(lambda: ZERO)
    for r in (
        customers_between(org=org, start=start, end=end)
        .filter(currency=org.currency)
        .annotate(week=week)
        .values("week", "kind", "customer", "by_key")
        .annotate(total=Sum("cost_amount"), gpu=Sum("gpu_seconds"))
        .order_by()
    ):
        slices[r["week"]].append((r["kind"], r["customer"], r["by_key"], r["total"]))
        if r["customer"] == customer:
            gpu[r["week"]] += r["gpu"] or ZERO
    jobs = {
        r["week"]: r
        for r in JobRollup.objects.for_org(org)
        .filter(day__gte=start, day__lt=end, currency=org.currency, customer=customer)
        .annotate(week=week)
        .values("week")
        .annotate(
            completed=Sum("jobs_completed"), cost=Sum("cost_completed_amount"), failed_cost=Sum("cost_failed_amount")
        )
        .order_by()
    }
    revenue = _weekly_revenue(org, customer, weeks)
    result = []
    for monday in weeks:
        costs = customer_costs(slices.get(monday, ()))
        direct, loaded = costs.direct.get(customer, ZERO), costs.fully_loaded.get(customer, ZERO)
        j = jobs.get(monday, {})
        completed = j.get("completed") or 0
        earned = None if revenue is None else revenue[monday]
        result.append(
            {
                "week": monday,
                "ai_cost": direct,
                "fully_loaded_cost": loaded,
                "revenue": earned,
                "gross_margin": (earned - direct) / earned if earned else None,
                "completed_jobs": completed,
                "cost_per_completed_job": ((j.get("cost") or ZERO) + (j.get("failed_cost") or ZERO)) / completed
                if completed
                else None,
                "gpu_hours": gpu[monday] / SECONDS_PER_HOUR,
            }
        )
    return result


def _weekly_revenue(org, customer: str, weeks: list[date]) -> dict | None:
    """{monday: `customer`'s revenue recognised that week} in the org's currency; None without revenue data."""
    if not revenue_known(org=org):
        return None
    fee_rate, fee_fixed = fee_model(economics_settings_for(org=org))
    result = {}
    for monday in weeks:  # recognition is per period: twelve fixed reads, whatever the rows
        rows = recognised_revenue(org=org, start=monday, end=monday + timedelta(weeks=1), fee_rate=fee_rate,
                                  fee_fixed=fee_fixed)  # fmt: skip
        result[monday] = sum((r.revenue for r in rows if r.customer == customer and r.currency == org.currency), ZERO)
    return result


# The Customers table's columns: (sort key, heading, row field, numeric); a numeric column sorts largest first.
CUSTOMER_COLUMNS = (
    ("customer", "Customer", "customer", False),
    ("plan", "Plan", "plan", False),
    ("revenue", "Revenue", "revenue", True),
    ("cost", "Direct cost", "ai_cost", True),
    ("margin", "Margin", "gross_margin", True),
    ("after_fees", "after fees", "gross_margin_after_fees", True),
    ("loaded", "Fully loaded cost", "fully_loaded_cost", True),
    ("loaded_margin", "Margin, fully loaded", "fully_loaded_margin", True),
    ("jobs", "Completed jobs", "completed_jobs", True),
    ("cost_per_job", "Cost per completed job", "cost_per_completed_job", True),
    ("retries", "Retries per job", "retries_per_completed_job", True),
)


def customer_table(*, org, start: date, end: date, params) -> dict:
    """The Customers table of [start, end) as `params` (the page's query) asks: rows whose customer or plan
    contains `q` (any case), sorted by `sort` (a column key, `-key` for descending; unknown ones are ignored) with
    undefined values last, and each column's heading with the query that sorts by it; also how many customers the
    period has and whether revenue is known."""
    rows = every = customer_economics(org=org, start=start, end=end)
    query = (params.get("q") or "").strip()
    if query:
        needle = query.casefold()
        rows = [r for r in rows if needle in r["customer"].casefold() or needle in (r["plan"] or "").casefold()]
    sort = params.get("sort") or ""
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    field = next((f for k, _, f, _ in CUSTOMER_COLUMNS if k == key), None)
    if field is None:
        key = ""
    else:
        known = [r for r in rows if r[field] is not None]
        known.sort(key=lambda r: r[field].casefold() if isinstance(r[field], str) else r[field], reverse=descending)
        rows = known + [r for r in rows if r[field] is None]
    columns = []
    for column, heading, _, numeric in CUSTOMER_COLUMNS:
        active = column == key
        first = f"-{column}" if numeric else column  # the first click: largest first, or A to Z
        asked = (column if descending else f"-{column}") if active else first
        others = {name: value for name, value in params.items() if name not in ("sort", "page")}
        direction = ("descending" if descending else "ascending") if active else None
        columns.append({"key": column, "heading": heading, "numeric": numeric,
                        "query": urlencode({**others, "sort": asked}), "sorted": direction})  # fmt: skip
    return {
        "rows": rows,
        "columns": columns,
        "q": query,
        "sort": sort if key else "",
        "customers": len(every),
        "revenue_known": any(r["revenue"] is not None for r in every),
    }
