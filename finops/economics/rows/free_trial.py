"""The free_trial row of the Founder Table, its declaration and its rule: trial spend above its share of paid revenue,
or one trial account above the cap, fires."""

from decimal import Decimal

from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, money_text, offender


def judge(f: PeriodFacts, t: dict) -> dict:
    trials = [(c, cost) for c, plan, cost in f.customer_cost if plan == f.trial_plan]
    spend = sum((cost for _, cost in trials), ZERO)
    offenders = [
        offender("customer", c, c, cost, f"trial account above the cap of {money_text(f, t['trial_cap'])}")
        for c, cost in trials
        if cost > t["trial_cap"]
    ]
    if f.revenue is not None:
        paid = sum((v for c, v in f.revenue.items()), ZERO)
        if spend > paid * t["trial_share_of_paid_revenue"]:
            offenders.insert(
                0,
                offender(
                    "plan", f.trial_plan, "all trial accounts", spend, "trial spend above its share of paid revenue"
                ),
            )
    offenders.sort(key=lambda o: -o["amount"])
    # Without revenue the share-of-revenue half is unknown: only an account above the cap can decide the row.
    unknown = f.revenue is None and not offenders
    return {
        "measured": {"trial_accounts": len(trials), "trial_spend": spend},
        "stop_sign": None if unknown else bool(offenders),
        "offenders": offenders,
        "note": "Connect Stripe to compare trial spend with paid revenue." if unknown else "",
    }


ROW = Row(
    key="free_trial",
    title="Free trial",
    measures="GPU/API spend per trial account",
    founder_move="Cap trial workloads by cost",
    fires_when="Free users consume paid-user margin",
    thresholds=(
        Threshold(
            "trial_share_of_paid_revenue",
            Decimal("0.1"),
            Unit.SHARE,
            "trial spend above this share of paid revenue",
        ),
        Threshold(
            "trial_cap",
            Decimal("25"),
            Unit.MONEY,
            "one trial account spending more than this in the period",
        ),
    ),
    figures=(
        Figure("trial_accounts", Unit.COUNT),
        Figure("trial_spend", Unit.MONEY),
    ),
    offender_kinds=(
        "customer",
        "plan",
    ),
    judge=judge,
)
