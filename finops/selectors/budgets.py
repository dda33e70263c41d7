"""Budgets in their current period: what the rollups say was spent and what budget checks hold in reserve."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.read_cache import ECONOMICS, cached_read
from finops.economics.budgets import BudgetState, period_bounds
from finops.models import Budget, BudgetHold
from finops.selectors.inputs import economics_settings_for
from finops.selectors.ledger import customers_between, work_between
from pricing.selectors import customer_plans_on

ZERO = Decimal(0)
PLAN_LOOKBACK_DAYS = 35
WORK, CUSTOMERS = "work", "customers"  # the two rollup tables a budget's spend is read from


def budget_list(*, org):
    return Budget.objects.for_org(org)


def budget_name(budget: Budget) -> str:
    """How a budget is named in reasons, alerts and pages: `customer acme per week`."""
    what = {
        Budget.Scope.ORG: "the organisation",
        Budget.Scope.TRIAL: "trial accounts",
    }.get(budget.scope, f"{budget.scope} {budget.target}")
    return f"{what} per {budget.period}"


def spent_by_budget(*, org, periods: list[tuple[Budget, date, date]], trial_plan: str) -> dict:
    """{budget id: its scope's cost in its [start, end)} from the rollups, in the budget's currency."""
    scopes = tuple((b.id, b.scope, b.target, b.currency, start, end) for b, start, end in periods)
    return _spent(org=org, scopes=scopes, trial_plan=trial_plan)


@cached_read(ECONOMICS)
def _spent(*, org, scopes: tuple, trial_plan: str) -> dict:
    """One grouped read of WorkRollup (the organisation, features) and one of CustomerRollup (customers, plans,
    trial accounts) for the budgets' `scopes` (id, scope, target, currency, start, end)."""
    sums = {WORK: {}, CUSTOMERS: {}}
    for ident, scope, target, currency, start, end in scopes:
        where = Q(day__gte=start, day__lt=end, currency=currency)
        if scope == Budget.Scope.FEATURE:
            where &= Q(feature=target)
        elif scope == Budget.Scope.CUSTOMER:
            where &= Q(customer=target)
        elif scope in (Budget.Scope.PLAN, Budget.Scope.TRIAL):
            where &= Q(plan=target if scope == Budget.Scope.PLAN else trial_plan)
        table = WORK if scope in (Budget.Scope.ORG, Budget.Scope.FEATURE) else CUSTOMERS
        sums[table][f"b{ident}"] = Sum("cost_amount", filter=where, default=ZERO)
    spent = {}
    for table, between in ((WORK, work_between), (CUSTOMERS, customers_between)):
        if sums[table]:
            first = min(s[4] for s in scopes)
            last = max(s[5] for s in scopes)
            spent.update(between(org=org, start=first, end=last).aggregate(**sums[table]))
    return {s[0]: spent[f"b{s[0]}"] for s in scopes}


def reserved_by_budget(*, org, budget_ids, now: datetime) -> dict:
    """{budget id: amount held by budget checks whose hold has not expired}."""
    rows = (
        BudgetHold.objects.for_org(org)
        .filter(budget_id__in=list(budget_ids), expires_at__gt=now)
        .values("budget_id")
        .annotate(total=Sum("amount"))
    )
    return {row["budget_id"]: row["total"] for row in rows}


def budget_states(*, org, budgets, now: datetime | None = None,
                  trial_plan: str | None = None) -> list[tuple[Budget, BudgetState, date, date]]:  # fmt: skip
    """Each budget with its state in the period holding `now` (UTC) and that period's bounds."""
    now = now or timezone.now()
    periods = [(budget, *period_bounds(budget.period, now.date())) for budget in budgets]
    if not periods:
        return []
    if trial_plan is None:
        trial_plan = economics_settings_for(org=org).trial_plan
    reserved = reserved_by_budget(org=org, budget_ids=[b.id for b, _, _ in periods], now=now)
    spent = spent_by_budget(org=org, periods=periods, trial_plan=trial_plan)
    return [
        (budget, BudgetState(name=budget_name(budget), amount=budget.amount, spent=spent[budget.id],
                             reserved=reserved.get(budget.id, ZERO), alert_at=budget.alert_at), start, end)
        for budget, start, end in periods
    ]  # fmt: skip


def customer_plan(*, org, customer: str, day: date, trial_plan: str) -> str:
    """The customer's plan on `day`: its Stripe subscription's, else the plan its latest rolled-up calls carried."""
    if not customer:
        return ""
    plan = customer_plans_on(org=org, day=day, trial_plan=trial_plan, customer=customer).get(customer)
    if plan:
        return plan
    latest = (
        customers_between(org=org, start=day - timedelta(days=PLAN_LOOKBACK_DAYS), end=day + timedelta(days=1))
        .filter(customer=customer)
        .exclude(plan="")
        .order_by("-day")
        .values_list("plan", flat=True)
        .first()
    )
    return latest or ""


def budgets_for_job(*, org, customer: str, feature: str):
    """The budgets a job of `customer` in `feature` may fall under: the org's, the customer's, the feature's, and
    every plan and trial budget (whether those apply depends on the customer's plan)."""
    scopes = Q(scope=Budget.Scope.ORG) | Q(scope__in=(Budget.Scope.PLAN, Budget.Scope.TRIAL))
    if customer:
        scopes |= Q(scope=Budget.Scope.CUSTOMER, target=customer)
    if feature:
        scopes |= Q(scope=Budget.Scope.FEATURE, target=feature)
    return budget_list(org=org).filter(scopes)


TARGET_LOOKBACK_DAYS = 30


@cached_read(ECONOMICS)
def budget_targets(*, org, today: date) -> dict:
    """{scope: names seen in the last 30 days' rollups}: the customers, plans and features a budget can name."""
    start, end = today - timedelta(days=TARGET_LOOKBACK_DAYS), today + timedelta(days=1)
    customers = customers_between(org=org, start=start, end=end).exclude(customer="")
    features = work_between(org=org, start=start, end=end).exclude(feature="")
    return {
        "customer": _distinct(customers, "customer"),
        "plan": _distinct(customers.exclude(plan=""), "plan"),
        "feature": _distinct(features, "feature"),
    }


def _distinct(rows, field: str) -> list[str]:
    return list(rows.order_by(field).values_list(field, flat=True).distinct())
