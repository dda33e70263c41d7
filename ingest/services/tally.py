"""What an import saw, shared by the row path and the columnar path of the bill importer."""

import json
from datetime import timedelta
from functools import lru_cache

from ingest.models import BillPeriod
from ingest.sources.values import ATTRIBUTION_KEYS, attribution

MAX_DAYS_PER_LINE = 62
# A billing period's key as BillPeriod holds it: provider and account cut to its columns (the ledger keeps the
# whole values, so lines are matched to their period by the same cut).
PERIOD_PROVIDER_LENGTH = BillPeriod._meta.get_field("provider").max_length
PERIOD_ACCOUNT_LENGTH = BillPeriod._meta.get_field("billing_account_id").max_length


class Tally:
    """Billing periods, totals per currency, days touched and the time span of one import."""

    def __init__(self):
        self.periods = {}  # (provider, billing account, period start) -> period end
        self.totals = {}
        self.days = set()
        self.first = None
        self.last = None
        self.currency = None
        self.currency_row = None


@lru_cache(maxsize=8192)
def tags_columns(items: tuple) -> tuple:
    """The tags as JSON text and the attribution keys found in them; bills repeat a few tag sets."""
    tags = dict(items)
    found = attribution(tags)
    return (json.dumps(tags, sort_keys=True, ensure_ascii=False), *(found[key] for key in ATTRIBUTION_KEYS))


@lru_cache(maxsize=8192)
def days_covered(start, end) -> tuple:
    """The UTC dates a charge from `start` to `end` touches (at most two months of them)."""
    first = start.date()
    last = (end - timedelta(microseconds=1)).date() if end and end > start else first
    span = min((last - first).days, MAX_DAYS_PER_LINE)
    return tuple(first + timedelta(days=i) for i in range(span + 1))
