"""A period's Founder Table as pages, the API and the digest show it: its rows, its totals (the identity cards)
and, for one ISO week, the twelve metrics against the week before."""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

from accounts.read_cache import ECONOMICS, cached_read
from finops.economics.facts import PeriodFacts
from finops.economics.metrics import weekly_metrics
from finops.economics.rules import founder_table
from finops.selectors.founder_facts import period_facts
from finops.selectors.inputs import economics_settings_for
from finops.selectors.ledger import IDENTITY_TERMS

WEEK = timedelta(days=7)


@dataclass
class FounderTable:
    """A period's Founder Table: its ten rows, its totals (the identity cards) and, when the period is one ISO week,
    the twelve metrics against the week before. Each part is read when first asked, from its cached read, so a
    caller pays only for what it shows and the page, the API and the digest cannot disagree."""

    org: object
    start: date
    end: date

    @property
    def weekly(self) -> bool:
        """Whether the period is one ISO week (Monday to Sunday): only a week has the twelve metrics."""
        return self.start.weekday() == 0 and self.end - self.start == WEEK

    @cached_property
    def rows(self) -> list[dict]:
        return founder_table_rows(org=self.org, start=self.start, end=self.end)

    @cached_property
    def metrics(self) -> list[dict]:
        return metrics_for_week(org=self.org, monday=self.start) if self.weekly else []

    @cached_property
    def totals(self) -> dict:
        return period_totals(org=self.org, start=self.start, end=self.end)

    @property
    def stop_sign_count(self) -> int:
        return sum(1 for row in self.rows if row["stop_sign"])

    @property
    def ok_count(self) -> int:
        return sum(1 for row in self.rows if row["stop_sign"] is False)

    @property
    def no_data_count(self) -> int:
        return sum(1 for row in self.rows if row["stop_sign"] is None)

    @property
    def audit(self) -> list:
        """The model route row's premium-model audit (empty when the row has none)."""
        return next((row["measured"].get("audit", []) for row in self.rows if row["key"] == "model_route"), [])


def founder_table_for(*, org, start: date, end: date) -> FounderTable:
    """The Founder Table of [start, end): what the Founder Table page, `GET founder-table/` and the weekly digest
    show."""
    return FounderTable(org=org, start=start, end=end)


@cached_read(ECONOMICS)
def period_totals(*, org, start: date, end: date) -> dict:
    """The identity of [start, end) as the Founder Table's facts sum it (the page's cards), without unpacking the
    facts (a big bill's thousands of hosts) at each request."""
    facts = period_facts(org=org, start=start, end=end)
    return {"currency": org.currency, **{term: getattr(facts, term) for term in IDENTITY_TERMS}}


@cached_read(ECONOMICS)
def founder_table_rows(*, org, start: date, end: date, facts: PeriodFacts | None = None) -> list[dict]:
    """The Founder Table rows of [start, end) as dicts, with the org's thresholds (from `facts` when the
    caller already read the period's)."""
    facts = facts or period_facts(org=org, start=start, end=end)
    thresholds = economics_settings_for(org=org).thresholds
    return [vars(row) for row in founder_table(facts, thresholds)]


@cached_read(ECONOMICS)
def metrics_for_week(*, org, monday: date, facts: PeriodFacts | None = None) -> list[dict]:
    """The twelve metrics of the ISO week starting `monday` (from `facts` when the caller already read the
    week's), against the week before."""
    now = facts or period_facts(org=org, start=monday, end=monday + WEEK, with_rules=False)
    before = period_facts(org=org, start=monday - WEEK, end=monday, with_rules=False)
    return weekly_metrics(now, before)
