"""The batch_job row of the Founder Table, its declaration and its rule: deferrable work paid at real-time prices above
the limit fires, listed by feature."""

from decimal import Decimal

from finops.economics.facts import PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, offender


def judge(f: PeriodFacts, t: dict) -> dict:
    fires = f.deferrable_realtime_cost > t["batch_realtime_cost"]
    offenders = (
        [
            offender("feature", name, name, cost, "deferrable work paid at real-time prices")
            for name, cost in f.deferrable_by_feature
            if cost > 0
        ]
        if fires
        else []
    )
    return {
        "measured": {
            "deferrable_realtime_cost": f.deferrable_realtime_cost,
            "batch_discount_at_stake": f.deferrable_realtime_cost / 2,
        },
        "stop_sign": fires,
        "offenders": offenders,
    }


ROW = Row(
    key="batch_job",
    title="Batch job",
    measures="Cost per item and wait time",
    founder_move="Run deferrable work when buyers can wait",
    fires_when="Live (on-demand) prices paid for work that could wait",
    thresholds=(
        Threshold(
            "batch_realtime_cost",
            Decimal("100"),
            Unit.MONEY,
            "deferrable work paid at real-time prices above this amount",
        ),
    ),
    figures=(
        Figure("deferrable_realtime_cost", Unit.MONEY),
        Figure("batch_discount_at_stake", Unit.MONEY),
    ),
    offender_kinds=("feature",),
    judge=judge,
)
