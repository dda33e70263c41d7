"""Pricing checks per plan: the distribution of AI cost per customer against the price, margins, losers, and the
usage cap that keeps a target margin. Pure Decimal functions."""

from dataclasses import dataclass
from decimal import Decimal

from finops.economics.facts import ZERO
from finops.economics.rows.base import percentile


@dataclass(frozen=True)
class PlanInputs:
    plan: str
    price: Decimal | None  # per customer for the period; None when the plan has no known price
    costs: dict  # customer -> direct AI cost in the period
    revenue: dict | None  # customer -> revenue in the period; None when no revenue is connected
    tokens: int = 0  # the plan's tokens in the period
    completed_jobs: int = 0
    job_cost: Decimal = ZERO  # cost of the plan's completed and failed jobs
    loaded_costs: dict | None = None  # customer -> fully loaded cost in the period


def plan_check(p: PlanInputs, target_margin: Decimal) -> dict:
    """Median, p90 and max AI cost per customer, margin, losing customers, and the suggested cap per customer
    (cost, tokens, jobs) that keeps `target_margin` (a fraction) at the plan's price."""
    costs = sorted(p.costs.values())
    revenue = sum(p.revenue.get(c, ZERO) for c in p.costs) if p.revenue is not None else None
    cost = sum(costs, ZERO)
    loaded = sum(p.loaded_costs.values(), ZERO) if p.loaded_costs is not None else None
    losers = sorted(
        (c for c in p.costs if p.revenue is not None and p.costs[c] > p.revenue.get(c, ZERO)),
        key=lambda c: -(p.costs[c] - p.revenue.get(c, ZERO)),
    )
    budget = p.price * (1 - target_margin) if p.price is not None else None
    per_token = cost / p.tokens if p.tokens else None
    per_job = p.job_cost / p.completed_jobs if p.completed_jobs else None
    return {
        "plan": p.plan,
        "price": p.price,
        "customers": len(costs),
        "cost_median": percentile(costs, Decimal("0.5")),
        "cost_p90": percentile(costs, Decimal("0.9")),
        "cost_max": costs[-1] if costs else None,
        "ai_cost": cost,
        "revenue": revenue,
        "margin": (revenue - cost) / revenue if revenue else None,
        "fully_loaded_cost": loaded,
        "fully_loaded_margin": (revenue - loaded) / revenue if revenue and loaded is not None else None,
        "losing_customers": losers,
        "suggested_usage_cap": None
        if budget is None
        else {
            "cost": budget,
            "tokens": int(budget / per_token) if per_token else None,
            "jobs": int(budget / per_job) if per_job else None,
        },
    }
