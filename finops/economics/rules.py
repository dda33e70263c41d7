"""The Founder Table engine: each registered row (finops/economics/rows) judged over one period's facts with the
organisation's thresholds, as `RowResult`s in the table's order, offenders largest first.

Pure functions of `PeriodFacts` (gathered by finops/selectors) and the thresholds. A rule that needs data the
organisation has not connected (revenue before Stripe, say) neither fires nor passes: its `stop_sign` is None and
`note` says what is missing.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from finops.economics import rows
from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.rows.base import offender, percentile
from finops.economics.rows.model_route import premium_audit
from finops.economics.rows.provider_commitment import commitment_split

__all__ = ["DEFAULT_THRESHOLDS", "THRESHOLD_HELP", "ZERO", "RowResult", "commitment_split", "founder_table",
           "offender", "percentile", "premium_audit", "thresholds_with_defaults"]  # fmt: skip

# The registry's thresholds as it stands at import (forms and tests read these; the engine asks the registry).
DEFAULT_THRESHOLDS = rows.default_thresholds()
THRESHOLD_HELP = {threshold.key: rows.threshold_help(row, threshold) for row, threshold in rows.thresholds()}


@dataclass
class RowResult:
    key: str
    title: str
    founder_move: str
    measured: dict
    stop_sign: bool | None
    offenders: list = field(default_factory=list)
    note: str = ""
    fires_when: str = ""
    measures: str = ""
    units: dict = field(default_factory=dict)  # {measured figure key: Unit}, as the row declares them


def thresholds_with_defaults(overrides: dict | None) -> dict:
    """The default thresholds with the organisation's overrides (decimal text) applied."""
    merged = rows.default_thresholds()
    for key, value in (overrides or {}).items():
        if key in merged:
            merged[key] = Decimal(str(value))
    return merged


def founder_table(facts: PeriodFacts, thresholds: dict | None = None) -> list[RowResult]:
    """Every registered row, in the table's order, offenders largest first."""
    t = thresholds_with_defaults(thresholds)
    results = []
    for row in rows.ROWS:
        result = row.judge(facts, t)
        offenders = sorted(result.get("offenders", []), key=lambda o: -o["amount"])
        measured = dict(result["measured"])
        for extra in row.extras:
            if extra in result:
                measured[extra] = result[extra]
        results.append(
            RowResult(
                row.key,
                row.title,
                row.founder_move,
                measured,
                result["stop_sign"],
                offenders,
                result.get("note", ""),
                row.fires_when,
                row.measures,
                row.units,
            )
        )
    return results
