"""How the Founder Table and the twelve weekly metrics are shown (page and digest alike): a metric's figures as
text in its declared unit, and a row's dollar impact.

The rows themselves are declared in finops/economics/rows (title, founder move, rule, figures and thresholds).
"""

from collections import defaultdict
from decimal import Decimal

from finops.economics.metrics import METRIC_UNITS
from finops.economics.units import Unit
from finops.money import format_money

BREAKDOWN_SHOWN = 3


def metric_display(metric: dict, currency: str) -> dict:
    """One of the twelve metrics with its value, the week before and the change as text, and its largest parts;
    unknown is '—', never 0. A metric must declare its unit (`economics.metrics.METRIC_UNITS`): none is an error."""
    unit = METRIC_UNITS.get(metric["key"])
    if unit is None:
        raise KeyError(f"the weekly metric {metric['key']!r} declares no unit in finops.economics.metrics.METRIC_UNITS")

    def show(value):
        if isinstance(value, dict):
            return format_money(sum(value.values(), Decimal(0)), currency)
        if value is None:
            return "—"
        if unit == Unit.MONEY:
            return format_money(value, currency)
        if unit == Unit.SHARE:
            return f"{value * 100:.0f}%"
        return f"{value:,.1f}" + (" h" if unit == Unit.HOURS else "")

    change = metric["change"]
    breakdown = metric["value"] if isinstance(metric["value"], dict) else {}
    return {
        **metric,
        "shown_value": show(metric["value"]),
        "shown_previous": show(metric["previous"]),
        "shown_change": "—" if change is None else f"{change * 100:+.0f}%",
        "breakdown": [
            (name, format_money(amount, currency)) for name, amount in list(breakdown.items())[:BREAKDOWN_SHOWN]
        ],
    }


def row_impact(row: dict) -> Decimal:
    """A Founder Table row's dollar impact: the largest, over its offenders' kinds, of the kind's subjects' amounts
    summed (each subject once, at its largest amount).

    Offenders of one kind are different subjects (hosts, customers, features), so their amounts add up; one
    subject can be listed twice (a host idle and running a zombie) and different kinds can describe the same
    money (all trial accounts, and each trial account above the cap), so those are not added. Offenders not at stake
    (hosts no agent measured) count for nothing."""
    by_kind = defaultdict(dict)
    for offender in row["offenders"]:
        if not offender.get("at_stake", True):  # e.g. GPU time no agent measured: not known to leak
            continue
        subjects = by_kind[offender["kind"]]
        subjects[offender["id"]] = max(subjects.get(offender["id"], offender["amount"]), offender["amount"])
    return max((sum(subjects.values(), Decimal(0)) for subjects in by_kind.values()), default=Decimal(0))
