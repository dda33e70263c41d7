"""The evaluation_run row of the Founder Table, its declaration and its rule: a release with no evaluation spend before
it, or a model used in production with no evaluation calls first, fires."""

from decimal import Decimal

from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, offender


def judge(f: PeriodFacts, t: dict) -> dict:
    offenders = [
        offender("release", name, name, ZERO, "released with no evaluation spend before it")
        for name, spend in f.releases
        if not spend
    ]
    offenders += [
        offender(
            "feature",
            feature,
            f"{feature} on {model}",
            cost,
            f"{model} used in production with no evaluation calls first",
        )
        for feature, model, cost in f.unevaluated_models
    ]
    return {
        "measured": {"evaluation_spend": f.evaluation_cost, "releases": len(f.releases)},
        "stop_sign": bool(offenders),
        "offenders": offenders,
    }


ROW = Row(
    key="evaluation_run",
    title="Evaluation run",
    measures="Test set, score, cost, release decision",
    founder_move="Budget evals as launch protection",
    fires_when="A release shipped with no evaluation spend",
    thresholds=(
        Threshold(
            "evaluation_lookback_days",
            Decimal("7"),
            Unit.DAYS,
            "days before a release in which evaluation spend must appear",
        ),
    ),
    figures=(
        Figure("evaluation_spend", Unit.MONEY),
        Figure("releases", Unit.COUNT),
    ),
    offender_kinds=(
        "release",
        "feature",
    ),
    judge=judge,
)
