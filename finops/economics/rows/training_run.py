"""The training_run row of the Founder Table, its declaration and its rule: a training or research run costing more than
the limit with no recorded learning question fires."""

from decimal import Decimal

from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, offender


def judge(f: PeriodFacts, t: dict) -> dict:
    runs = [r for r in f.runs if r.purpose in ("training", "research")]
    limit = t["training_run_min_cost"]
    bad = [r for r in runs if r.cost > limit and not r.approved]
    return {
        "measured": {
            "runs": len(runs),
            "spend": sum((r.cost for r in runs), ZERO),
            "gpu_hours": sum((r.gpu_seconds for r in runs), ZERO) / 3600,
            "without_question": len(bad),
        },
        "stop_sign": bool(bad),
        "offenders": [offender("run", r.run, r.run, r.cost, f"{r.purpose} run with no learning question") for r in bad],
    }


ROW = Row(
    key="training_run",
    title="Training run",
    measures="Total spend, duration, data used, result",
    founder_move="Approve only with a learning question",
    fires_when="A run has no recorded question or decision it supports",
    thresholds=(
        Threshold(
            "training_run_min_cost",
            Decimal("50"),
            Unit.MONEY,
            "runs costing more than this need a learning question",
        ),
    ),
    figures=(
        Figure("runs", Unit.COUNT),
        Figure("spend", Unit.MONEY),
        Figure("gpu_hours", Unit.HOURS),
        Figure("without_question", Unit.COUNT),
    ),
    offender_kinds=("run",),
    judge=judge,
)
