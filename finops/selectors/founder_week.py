"""A period's Founder Table as pages, the API and the digest show it: its rows, its totals (the identity cards)
and, for one ISO week, the twelve metrics against the week before."""

from datetime import date, timedelta

from accounts.read_cache import ECONOMICS, cached_read
from finops.economics.facts import PeriodFacts
from finops.economics.metrics import weekly_metrics
from finops.economics.rules import founder_table
from finops.selectors.founder_facts import period_facts
from finops.selectors.inputs import economics_settings_for
from finops.selectors.ledger import IDENTITY_TERMS


@cached_read(ECONOMICS)
def period_totals(*, org, start: date, end: date) -> dict:
    """The identity of [start, end) as the Founder Table's facts sum it (the page's cards), without unpacking the
    facts (a big bill's thousands of hosts) at each request."""
    facts = period_facts(org=org, start=start, end=end)
    return {"currency": org.currency, **{term: getattr(facts, term) for term in IDENTITY_TERMS}}


@cached_read(ECONOMICS)
def founder_table_rows(*, org, start: date, end: date, facts: PeriodFacts | None = None) -> list[dict]:
    """The ten Founder Table rows of [start, end) as dicts, with the org's thresholds (from `facts` when the
    caller already read the period's)."""
    facts = facts or period_facts(org=org, start=start, end=end)
    thresholds = economics_settings_for(org=org).thresholds
    return [vars(row) for row in founder_table(facts, thresholds)]


@cached_read(ECONOMICS)
def metrics_for_week(*, org, monday: date, facts: PeriodFacts | None = None) -> list[dict]:
    """The twelve metrics of the ISO week starting `monday` (from `facts` when the caller already read the
    week's), against the week before."""
    week = timedelta(days=7)
    now = facts or period_facts(org=org, start=monday, end=monday + week, with_rules=False)
    before = period_facts(org=org, start=monday - week, end=monday, with_rules=False)
    return weekly_metrics(now, before)
