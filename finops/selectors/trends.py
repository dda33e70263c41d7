"""The Founder Table's last eight weeks: spend by ISO week and bucket (one grouped read of the work rollups), and
each of the twelve weekly metrics week by week (the same `metrics_for_week` the table shows, so a sparkline's last
point is the table's figure)."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import DateField, Sum
from django.db.models.functions import TruncWeek

from accounts.read_cache import ECONOMICS, cached_read
from finops.models import Bucket
from finops.selectors.founder_week import metrics_for_week
from finops.selectors.ledger import work_between

ZERO = Decimal(0)
TREND_WEEKS = 8


def trend_mondays(last_day: date, weeks: int = TREND_WEEKS) -> list[date]:
    """The Mondays of the `weeks` ISO weeks ending with the one holding `last_day`, oldest first."""
    monday = last_day - timedelta(days=last_day.weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


@cached_read(ECONOMICS)
def weekly_bucket_spend(*, org, last_day: date, weeks: int = TREND_WEEKS) -> dict:
    """{"weeks": Mondays, "buckets": {bucket: [amount per week]}, "totals": [amount per week]} in the org's
    currency over the `weeks` ISO weeks ending with the one holding `last_day`: one GROUP BY of the work rollups
    by week and bucket. Every bucket is listed (zeros where none), idle and unmeasured included, so a week's
    buckets sum to its billed total as `ledger_summary` states it."""
    mondays = trend_mondays(last_day, weeks)
    index = {monday: n for n, monday in enumerate(mondays)}
    buckets = {bucket: [ZERO] * len(mondays) for bucket in Bucket.values}
    rows = (
        work_between(org=org, start=mondays[0], end=mondays[-1] + timedelta(weeks=1))
        .filter(currency=org.currency)
        .annotate(week=TruncWeek("day", output_field=DateField()))
        .values("week", "bucket")
        .annotate(cost=Sum("cost_amount"))
        .order_by()
    )
    for row in rows:
        buckets.setdefault(row["bucket"], [ZERO] * len(mondays))[index[row["week"]]] += row["cost"] or ZERO
    totals = [sum((amounts[n] for amounts in buckets.values()), ZERO) for n in range(len(mondays))]
    return {"weeks": mondays, "buckets": buckets, "totals": totals}


def weekly_metric_series(*, org, last_day: date, weeks: int = TREND_WEEKS) -> dict[str, list[float | None]]:
    """{metric key: [its value per week]} of the twelve weekly metrics over the `weeks` ISO weeks ending with the
    one holding `last_day`, from `metrics_for_week` (cached per week): a metric split by customer, feature or
    environment is its total; undefined is None."""
    series = defaultdict(list)
    for monday in trend_mondays(last_day, weeks):
        for metric in metrics_for_week(org=org, monday=monday):
            value = metric["value"]
            if isinstance(value, dict):
                value = sum(value.values(), ZERO)
            series[metric["key"]].append(None if value is None else float(value))
    return dict(series)
