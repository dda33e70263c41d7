"""What a Founder Table row declares (`Row`, its `Threshold`s and `Figure`s) and the helpers its rule uses.

A row's rule (`judge`) is a pure function of `PeriodFacts` and the thresholds: it returns
{"measured": {figure key: value}, "stop_sign": True/False/None, "offenders": [...], "note": "..."} and may add
the keys its row names in `extras` (shown beside the measured figures, e.g. the model route's audit).
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from finops.economics.facts import PeriodFacts
from finops.economics.units import Unit
from finops.money import format_money

__all__ = ["Figure", "Row", "Threshold", "Unit", "money_text", "offender", "percentile", "ratio"]


@dataclass(frozen=True)
class Threshold:
    """A number the organisation may change on the thresholds page; `help` reads after the row's title."""

    key: str
    default: Decimal
    unit: Unit
    help: str


@dataclass(frozen=True)
class Figure:
    """A measured figure the rule returns under `key`; a {name: value} figure (by plan) declares its values' unit."""

    key: str
    unit: Unit


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    measures: str
    founder_move: str
    fires_when: str
    thresholds: tuple[Threshold, ...]
    figures: tuple[Figure, ...]
    offender_kinds: tuple[str, ...]
    judge: Callable[[PeriodFacts, dict], dict]
    extras: tuple[str, ...] = ()  # other keys of the judge's result kept with the measured figures

    @property
    def units(self) -> dict:
        """{figure key: unit}."""
        return {figure.key: figure.unit for figure in self.figures}


def offender(kind, ident, name, amount, reason, *, at_stake: bool = True, measure: str = "") -> dict:
    """One offender of a row. `at_stake` False: the amount is what it concerns, not money known to leak (GPU time no
    agent measured), so the row's impact (`founder_table.row_impact`) leaves it out. `measure` names what the amount
    is where one kind has several (a host's idle, unowned idle, unmeasured or zombie cost: finops/drilldown.py)."""
    return {"kind": kind, "id": ident, "name": name, "amount": amount, "reason": reason, "at_stake": at_stake,
            "measure": measure}  # fmt: skip


def percentile(values: list, share: Decimal) -> Decimal | None:
    """The nearest-rank percentile of Decimal values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(int((share * len(ordered)).to_integral_value(rounding="ROUND_CEILING")), 1)
    return ordered[rank - 1]


def money_text(f: PeriodFacts, amount: Decimal) -> str:
    """An amount in a reason, as a person reads it: in the organisation's currency, rounded to its minor unit."""
    return format_money(amount, f.currency)


def ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    return part / whole if whole else None
