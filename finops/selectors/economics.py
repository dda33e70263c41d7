"""Per customer and per plan economics of a period: revenue, direct and fully loaded AI cost, margins, jobs, the
pricing check of each plan, and the Plans page's trial accounts, caps and plan budgets."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from accounts.read_cache import ECONOMICS, cached_read
from finops.economics.customer_cost import customer_costs
from finops.economics.plans import PlanInputs, plan_check
from finops.models import JobRollup
from finops.selectors.inputs import economics_settings_for, target_margin
from finops.selectors.ledger import customers_between, work_between
from finops.selectors.revenue import plan_prices_for, revenue_and_fees, subscribed_plans

ZERO = Decimal(0)


@cached_read(ECONOMICS)
def customer_economics(*, org, start: date, end: date) -> list[dict]:
    """Per customer in [start, end): plan, revenue, direct and fully loaded AI cost, margins on both, jobs, cost
    per completed job, retries."""
    rows = (
        customers_between(org=org, start=start, end=end)
        .filter(currency=org.currency)
        .values("kind", "customer", "plan", "by_key")
        .annotate(total=Sum("cost_amount"))
        .order_by("customer", "plan")
    )
    slices, plans = [], {}
    for r in rows:
        slices.append((r["kind"], r["customer"], r["by_key"], r["total"]))
        if r["customer"] and (r["plan"] or r["customer"] not in plans):  # a known plan wins over none
            plans[r["customer"]] = r["plan"]
    split = customer_costs(slices)
    costs, loaded = split.direct, split.fully_loaded
    revenue, fees = revenue_and_fees(org=org, start=start, end=end)
    planless = {c for c in set(costs) | set(revenue or {}) if not plans.get(c)}
    if revenue is not None:  # no rollup row names their plan (no cost, or bill lines): Stripe does
        plans.update(subscribed_plans(org, end, planless, economics_settings_for(org=org).trial_plan))
    jobs = _customer_job_sums(org, start, end, "customer")
    customers = set(costs) | set(revenue or {})
    result = []
    for customer in sorted(customers, key=lambda c: (-loaded.get(c, ZERO), c)):
        cost, full = costs.get(customer, ZERO), loaded.get(customer, ZERO)
        j = jobs.get(customer, {})
        completed = j.get("completed") or 0
        attempts, all_jobs = j.get("attempts") or 0, completed + (j.get("failed") or 0)
        job_cost = (j.get("cost") or ZERO) + (j.get("failed_cost") or ZERO)
        earned = None if revenue is None else revenue.get(customer, ZERO)
        fee = fees.get(customer, ZERO)
        result.append(
            {
                "customer": customer,
                "plan": plans.get(customer) or None,
                "currency": org.currency,
                "revenue": earned,
                "ai_cost": cost,
                "fully_loaded_cost": full,
                "gross_margin": (earned - cost) / earned if earned else None,
                "fully_loaded_margin": (earned - full) / earned if earned else None,
                "gross_margin_after_fees": (earned - cost - fee) / earned if earned else None,
                "payment_fees": fee if revenue is not None else None,
                "loses_money": earned is not None and cost > earned,
                "completed_jobs": completed,
                "failed_jobs": j.get("failed") or 0,
                "cost_per_completed_job": job_cost / completed if completed else None,
                "retries_per_completed_job": Decimal(attempts - all_jobs) / completed if completed else None,
            }
        )
    return result


@cached_read(ECONOMICS)
def plan_economics(*, org, start: date, end: date, customers: list[dict] | None = None) -> list[dict]:
    """Per plan in [start, end): price, customers, AI cost distribution, margin, losers and the suggested cap
    (from `customers`, the period's customer_economics, when the caller already read them)."""
    customers = customer_economics(org=org, start=start, end=end) if customers is None else customers
    prices = plan_prices_for(org=org, start=start, end=end) or {}
    known = any(row["revenue"] is not None for row in customers)
    revenue = {row["customer"]: row["revenue"] for row in customers} if known else None
    target = target_margin(economics_settings_for(org=org))
    allocated = work_between(org=org, start=start, end=end).filter(currency=org.currency, kind="allocated")
    tokens = {
        r["plan"]: (r["tin"] or 0) + (r["tout"] or 0)
        for r in allocated.values("plan").annotate(tin=Sum("input_tokens"), tout=Sum("output_tokens")).order_by()
    }
    jobs = _customer_job_sums(org, start, end, "plan")
    by_plan, loaded = defaultdict(dict), defaultdict(dict)
    for row in customers:
        by_plan[row["plan"] or ""][row["customer"]] = row["ai_cost"]
        loaded[row["plan"] or ""][row["customer"]] = row["fully_loaded_cost"]
    result = []
    for plan in sorted(set(by_plan) | set(prices)):
        j = jobs.get(plan, {})
        inputs = PlanInputs(
            plan=plan,
            price=prices.get(plan),
            costs=by_plan.get(plan, {}),
            revenue=revenue,
            tokens=tokens.get(plan, 0),
            completed_jobs=j.get("completed") or 0,
            job_cost=(j.get("cost") or ZERO) + (j.get("failed_cost") or ZERO),
            loaded_costs=loaded.get(plan, {}),
        )
        result.append({**plan_check(inputs, target), "currency": org.currency})
    return result


def _customer_job_sums(org, start: date, end: date, by: str) -> dict:
    """{customer or plan (`by`): its customers' jobs of [start, end) summed: completed, failed, attempts, cost
    (completed jobs'), failed_cost}, in the org's currency, from the job rollups."""
    return {
        r[by]: r
        for r in JobRollup.objects.for_org(org)
        .filter(day__gte=start, day__lt=end, currency=org.currency)
        .exclude(customer="")
        .values(by)
        .annotate(
            completed=Sum("jobs_completed"),
            failed=Sum("jobs_failed"),
            attempts=Sum("attempts"),
            cost=Sum("cost_completed_amount"),
            failed_cost=Sum("cost_failed_amount"),
        )
        .order_by()
    }


def plan_overview(*, org, start: date, end: date) -> dict:
    """The Plans page of [start, end): the paid plans' checks with each plan's whole budget (its suggested cap for
    each of its customers), the trial accounts, their spend and the cap a trial account may use, the target margin
    (a percentage), and every plan and customer row (for the chart)."""
    customers = customer_economics(org=org, start=start, end=end)
    rows = plan_economics(org=org, start=start, end=end)  # from the same customer rows, cached
    settings = economics_settings_for(org=org)
    trial_plan = settings.trial_plan
    trial = [r for r in customers if r["plan"] == trial_plan]
    paid_caps = [p["suggested_usage_cap"]["cost"] for p in rows
                 if p["suggested_usage_cap"] and p["plan"] != trial_plan]  # fmt: skip
    for p in rows:  # the plan's whole budget: the suggested cap for each of its customers
        cap = (p["suggested_usage_cap"] or {}).get("cost")
        p["plan_budget"] = cap * p["customers"] if cap and p["plan"] else None
    return {
        "plans": [p for p in rows if p["plan"] != trial_plan],
        "trial": trial,
        "trial_spend": sum((r["ai_cost"] for r in trial), ZERO),
        # A trial account may use what a customer of the cheapest plan may use and keep the target margin.
        "trial_cap": min(paid_caps) if paid_caps else None,
        "target_margin_pct": settings.target_margin_pct,
        "plan_rows": rows,
        "customer_rows": customers,
    }
