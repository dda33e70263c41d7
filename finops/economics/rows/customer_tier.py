"""The customer_tier row of the Founder Table, its declaration and its rule: a below-median plan riding premium models,
or a plan whose median margin is below the target, fires."""

from decimal import Decimal

from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, money_text, offender, percentile


def judge(f: PeriodFacts, t: dict) -> dict:
    """Fires for a plan priced below the median that rides premium models, or one whose customers' median margin
    after direct compute cost is below the organisation's target margin."""
    shares = {
        plan: (Decimal(premium) / calls if calls else None, cost) for plan, premium, calls, cost in f.plan_premium
    }
    premium_calls, calls = sum(p[1] for p in f.plan_premium), sum(p[2] for p in f.plan_premium)
    margins = _plan_margins(f)
    measured = {
        "plans": len(shares),
        "premium_call_share": Decimal(premium_calls) / calls if calls else None,
        "premium_share_by_plan": {p: v[0] for p, v in sorted(shares.items())},
        "median_margin_by_plan": {p: m for p, (m, _) in sorted(margins.items())},
        "target_margin": f.target_margin,
    }
    if not f.plan_prices:
        return {"measured": measured, "stop_sign": None, "note": "Connect Stripe to know each plan's price."}
    prices = sorted(f.plan_prices.values())
    median = prices[len(prices) // 2]
    reasons = {}
    for plan, (share, cost) in sorted(shares.items()):
        price = f.plan_prices.get(plan)
        if price is not None and price < median and share is not None and share > t["premium_share_low_price_plan"]:
            reasons[plan] = (cost, [f"{share:.0%} of calls on premium models at price {money_text(f, price)}, "
                                    "below the median plan"])  # fmt: skip
    for plan, (margin, at_stake) in sorted(margins.items()):
        if f.target_margin is not None and margin < f.target_margin and plan != f.trial_plan:
            cost, why = reasons.get(plan, (ZERO, []))
            reasons[plan] = (max(cost, at_stake), [*why, f"median margin {margin:.0%} below the {f.target_margin:.0%} "
                                                        "target"])  # fmt: skip
    offenders = [offender("plan", plan, plan, cost, "; ".join(why)) for plan, (cost, why) in sorted(reasons.items())]
    return {"measured": measured, "stop_sign": bool(offenders), "offenders": offenders}


def _plan_margins(f: PeriodFacts) -> dict:
    """{plan: (median margin of its paying customers after direct cost, cost above what the target margin allows)}."""
    if f.revenue is None:
        return {}
    by_plan = {}
    for customer, plan, cost in f.customer_cost:
        by_plan.setdefault(plan, {})[customer] = by_plan.get(plan, {}).get(customer, ZERO) + cost
    costed = {customer for customer, _, _ in f.customer_cost}
    for customer, plan in (f.revenue_plans or {}).items():  # paying customers who cost nothing: a margin of 100%
        if customer not in costed:
            by_plan.setdefault(plan, {})[customer] = ZERO
    result = {}
    for plan, costs in by_plan.items():
        paying = {c: f.revenue[c] for c in costs if f.revenue.get(c, ZERO) > 0}
        if not plan or not paying:
            continue
        margin = percentile(sorted((paying[c] - costs[c]) / paying[c] for c in paying), Decimal("0.5"))
        allowed = sum(paying.values(), ZERO) * (1 - (f.target_margin or ZERO))
        result[plan] = (margin, max(sum((costs[c] for c in paying), ZERO) - allowed, ZERO))
    return result


ROW = Row(
    key="customer_tier",
    title="Customer tier",
    measures="Spend by plan and account",
    founder_move="Match limits to price paid",
    fires_when="Low-price plans use high-cost routes",
    thresholds=(
        Threshold(
            "premium_share_low_price_plan",
            Decimal("0.3"),
            Unit.SHARE,
            "a below-median plan sending more than this share to premium",
        ),
    ),
    figures=(
        Figure("plans", Unit.COUNT),
        Figure("premium_call_share", Unit.SHARE),
        Figure("premium_share_by_plan", Unit.SHARE),
        Figure("median_margin_by_plan", Unit.SHARE),
        Figure("target_margin", Unit.NUMBER),
    ),
    offender_kinds=("plan",),
    judge=judge,
)
