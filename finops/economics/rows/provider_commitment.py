"""The provider_commitment row of the Founder Table, its declaration and its rule: a commitment used below the limit, or
promised capacity costing more than the revenue it serves, fires."""

from decimal import Decimal

from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, money_text, offender, ratio
from finops.money import prorate_monthly


def judge(f: PeriodFacts, t: dict) -> dict:
    offenders = []
    used_total = unused_total = ZERO
    for ident, used, unused in f.commitments:
        used_total += used
        unused_total += unused
        share = ratio(used, used + unused)
        if share is not None and share < t["commitment_min_utilisation"]:
            offenders.append(offender("commitment", ident, ident, unused, f"used {share:.0%}"))
    for name, cost, revenue in f.promised:
        if cost > revenue:
            why = f"promised capacity costs {money_text(f, cost)} against {money_text(f, revenue)} of revenue"
            offenders.append(offender("commitment", name, name, cost - revenue, why))
    judged = f.commitments or f.promised
    return {
        "measured": {
            "commitments": len(f.commitments),
            "used": used_total,
            "unused": unused_total,
            "utilisation": ratio(used_total, used_total + unused_total),
        },
        "stop_sign": bool(offenders) if judged else None,
        "offenders": offenders,
        "note": "" if judged else "No commitments in the bills or on the commitments page yet.",
    }


def commitment_split(monthly_amount: Decimal, days: int, used_share: Decimal) -> tuple[Decimal, Decimal]:
    """(used, unused) of a commitment over `days`: its monthly amount pro rata (12 months a 365-day year),
    split by the share of it that was used (capped at all of it)."""
    committed = prorate_monthly(monthly_amount, days)
    used = committed * min(max(used_share, ZERO), Decimal(1))
    return used, committed - used


ROW = Row(
    key="provider_commitment",
    title="Provider commitment",
    measures="Used vs committed capacity",
    founder_move="Commit only once usage is stable",
    fires_when="Committed capacity is far above what is used",
    thresholds=(
        Threshold(
            "commitment_min_utilisation",
            Decimal("0.6"),
            Unit.SHARE,
            "a commitment used below this share",
        ),
    ),
    figures=(
        Figure("commitments", Unit.COUNT),
        Figure("used", Unit.MONEY),
        Figure("unused", Unit.MONEY),
        Figure("utilisation", Unit.SHARE),
    ),
    offender_kinds=("commitment",),
    judge=judge,
)
