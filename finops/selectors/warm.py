"""The reads of the pages a founder opens first, computed ahead: after new rollups a worker asks for them, so the
read cache holds them and the first page view after new data is as fast as the next ones (the Founder Table's eight
weeks of metrics and the LLM usage page's month of calls take seconds to compute at a large tenant)."""

from finops.selectors.founder_week import founder_table_for
from finops.selectors.trends import weekly_bucket_spend, weekly_metric_series
from finops.selectors.usage import usage_page
from ingest.periods import default_period, local_today


def first_reads_warm(*, org) -> None:
    """Read what the Founder Table (rows, totals, metrics, eight weeks of spend and of metrics) and the LLM usage
    page show for the default week: each is a cached read, so asking is computing it into the cache."""
    period = default_period(today=local_today(org.timezone))
    table = founder_table_for(org=org, start=period.start, end=period.end)
    table.rows, table.totals, table.metrics  # noqa: B018 - each property is a cached read
    weekly_bucket_spend(org=org, last_day=min(period.last_day, period.today))
    weekly_metric_series(org=org, last_day=period.start)
    usage_page(org=org, start=period.start, end=period.end)
