"""The inference_request row of the Founder Table, its declaration and its rule: a customer whose AI cost is above their
revenue, or a plan whose p90 cost per customer is above its share of the price, fires; without revenue the row cannot
judge."""

from decimal import Decimal

from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, money_text, offender, percentile


def judge(f: PeriodFacts, t: dict) -> dict:
    per_job = f.job_cost / f.completed_jobs if f.completed_jobs else None
    measured = {"completed_jobs": f.completed_jobs, "cost_per_completed_job": per_job, "failed_jobs": f.failed_jobs}
    if f.revenue is None:
        return {"measured": measured, "stop_sign": None, "note": "Connect Stripe to compare cost with revenue."}
    offenders = []
    for customer, plan, cost in f.customer_cost:
        if plan == f.trial_plan:
            continue  # a trial account pays nothing by design: the free-trial row judges it
        revenue = f.revenue.get(customer, ZERO)
        if cost > revenue:
            offenders.append(
                offender(
                    "customer",
                    customer,
                    customer,
                    cost - revenue,
                    f"AI cost {money_text(f, cost)} above revenue {money_text(f, revenue)}",
                )
            )
    for plan, price in sorted((f.plan_prices or {}).items()):
        costs = [c for _, p, c in f.customer_cost if p == plan]
        p90 = percentile(costs, Decimal("0.9"))
        if p90 is not None and price and p90 > price * t["plan_p90_cost_share_of_price"]:
            offenders.append(
                offender(
                    "plan",
                    plan,
                    plan,
                    p90 - price * t["plan_p90_cost_share_of_price"],
                    f"p90 cost per customer {money_text(f, p90)} against price {money_text(f, price)}",
                )
            )
    return {"measured": measured, "stop_sign": bool(offenders), "offenders": offenders}


ROW = Row(
    key="inference_request",
    title="Inference request",
    measures="Cost per completed customer job",
    founder_move="Price by workload, not hoped-for usage",
    fires_when="Heavy users create losses (cost above their revenue)",
    thresholds=(
        Threshold(
            "plan_p90_cost_share_of_price",
            Decimal("0.5"),
            Unit.SHARE,
            "a plan's p90 cost per customer above this share of its price",
        ),
    ),
    figures=(
        Figure("completed_jobs", Unit.COUNT),
        Figure("cost_per_completed_job", Unit.MONEY),
        Figure("failed_jobs", Unit.COUNT),
    ),
    offender_kinds=(
        "customer",
        "plan",
    ),
    judge=judge,
)
