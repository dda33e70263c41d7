"""The week's anomalies against each series' own baseline, and the month-end forecast of what the org pays."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncDate

from accounts.read_cache import ECONOMICS, cached_read
from finops.economics.anomalies import detect_anomalies, month_end_forecast
from finops.economics.rules import premium_audit
from finops.models import JobRollup
from finops.selectors.founder_facts import route_facts
from finops.selectors.grouping import as_day, slice_sets
from finops.selectors.ledger import work_between
from ingest.models import GpuHour
from ingest.periods import as_utc_bounds

ANOMALY_SETS = {
    # Daily spend by customer, feature and model, and the calls, tokens and model mix per day of each route.
    "customers": ("day", "kind", "customer"),
    "features": ("day", "kind", "feature"),
    "models": ("day", "kind", "model"),
    "routes": ("day", "kind", "source", "bucket", "feature", "model", "has_unpriced"),
}


def anomaly_inputs(*, org, week_start: date) -> tuple[dict, dict, dict]:
    """The daily spend and idle series, weekly ratios and premium shares that `detect_anomalies` reads: the
    week and the four before it, from one grouped read of their rollup rows (GROUPING SETS on PostgreSQL)."""
    since = week_start - timedelta(days=28)
    until = week_start + timedelta(days=7)
    sets = slice_sets(org=org, start=since, end=until, sets=ANOMALY_SETS)
    allocated = {name: [r for r in rows if r["kind"] == "allocated"] for name, rows in sets.items()}
    daily = defaultdict(dict)
    for name, field in (("customers", "customer"), ("features", "feature"), ("models", "model")):
        for r in allocated[name]:
            if r[field]:
                daily[("spend_spike", f"{field} {r[field]}")][as_day(r["day"])] = r["cost"]
    begin, end = as_utc_bounds(since, until)
    idle = (
        GpuHour.objects.for_org(org)
        .filter(hour__gte=begin, hour__lt=end)
        .annotate(day=TruncDate("hour"))
        .values("day", "gpu__host__name")
        .annotate(seconds=Sum("idle_seconds"))
        .order_by()
    )
    for r in idle:
        daily[("idle_hours_jump", f"host {r['gpu__host__name']}")][r["day"]] = Decimal(r["seconds"]) / 3600
    calls = [r for r in allocated["routes"] if r["source"] == "api_calls"]
    premium = {a["feature"]: a["premium_model"] for a in premium_audit(route_facts(allocated["routes"]))}
    tokens, mixes = defaultdict(lambda: [[0, 0] for _ in range(5)]), defaultdict(lambda: [None] * 5)
    for r in calls:
        week = (as_day(r["day"]) - since).days // 7
        entry = tokens[r["feature"]][week]
        entry[0] += (r["tin"] or 0) + (r["tout"] or 0)
        entry[1] += r["calls"] or 0
        if r["feature"] in premium:
            mix = mixes[r["feature"]]
            mix[week] = mix[week] or [0, 0]
            mix[week][1] += r["calls"] or 0
            mix[week][0] += (r["calls"] or 0) if r["model"] == premium[r["feature"]] else 0
    ratios = defaultdict(lambda: [None] * 5)
    for feature, weeks in tokens.items():
        for i, (used, n) in enumerate(weeks):
            if n:
                ratios[("tokens_per_request_jump", f"feature {feature or '(none)'}")][i] = Decimal(used) / n
    for i, done, attempts in _job_weeks(org, since, until):
        if done:
            ratios[("retry_rate_jump", "all jobs")][i] = Decimal(attempts - done) / done
    shares = {f: [Decimal(p) / n if p is not None and n else None for p, n in (w or (None, 0) for w in weeks_)]
              for f, weeks_ in mixes.items()}  # fmt: skip
    return dict(daily), dict(ratios), shares


def _job_weeks(org, since: date, until: date):
    """(week index from `since`, jobs done, attempts) of each week in [since, until) with jobs."""
    per_day = (
        JobRollup.objects.for_org(org)
        .filter(day__gte=since, day__lt=until)
        .values("day")
        .annotate(attempts=Sum("attempts"), completed=Sum("jobs_completed"), failed=Sum("jobs_failed"))
        .order_by()
    )
    weeks = defaultdict(lambda: [0, 0])
    for r in per_day:
        entry = weeks[(r["day"] - since).days // 7]
        entry[0] += (r["completed"] or 0) + (r["failed"] or 0)
        entry[1] += r["attempts"] or 0
    return [(i, done, attempts) for i, (done, attempts) in sorted(weeks.items())]


def daily_billed(*, org, start: date, end: date) -> dict:
    """{day: everything the org paid that day} in its currency, from the rollups."""
    rows = work_between(org=org, start=start, end=end).filter(currency=org.currency)
    return {r["day"]: r["total"] for r in rows.values("day").annotate(total=Sum("cost_amount")).order_by()}


@cached_read(ECONOMICS)
def anomalies_for_week(*, org, week_start: date) -> list:
    """The week's anomalies against each series' own baseline, from five weeks of rollups."""
    daily, ratios, mixes = anomaly_inputs(org=org, week_start=week_start)
    return detect_anomalies(daily, ratios, mixes, week_start, currency=org.currency)


@cached_read(ECONOMICS)
def forecast_for_month(*, org, today: date):
    """Month-end forecast of what the org pays, from the rollups of the last weeks."""
    since = min(today.replace(day=1), today - timedelta(days=14))
    return month_end_forecast(daily_billed(org=org, start=since, end=today), today)
