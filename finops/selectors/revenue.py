"""What customers paid: revenue and payment fees recognised in a period, plan prices for it, the plans customers
subscribe to."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from finops.money import prorate_monthly
from finops.selectors.inputs import economics_settings_for, fee_model
from pricing.selectors import customer_plans_on, plan_monthly_prices, recognised_revenue, revenue_known

ZERO = Decimal(0)


def revenue_by_customer(*, org, start: date, end: date) -> dict | None:
    """{customer: revenue recognised in [start, end)} in the org's currency; None when no revenue is connected."""
    return revenue_and_fees(org=org, start=start, end=end)[0]


def revenue_and_fees(*, org, start: date, end: date) -> tuple[dict | None, dict]:
    """({customer: revenue}, {customer: payment fees}) recognised in [start, end) in the org's currency, from one
    read of the invoices; (None, {}) when no revenue is connected."""
    if not revenue_known(org=org):
        return None, {}
    fee_rate, fee_fixed = fee_model(economics_settings_for(org=org))
    revenue, fees = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for row in recognised_revenue(org=org, start=start, end=end, fee_rate=fee_rate, fee_fixed=fee_fixed):
        if row.currency == org.currency:
            revenue[row.customer] += row.revenue
            fees[row.customer] += row.fees
    return dict(revenue), dict(fees)


def plan_prices_for(*, org, start: date, end: date) -> dict | None:
    """{plan: price per customer for [start, end)}, pro rata from monthly prices; None when none is known."""
    monthly = plan_monthly_prices(org=org)
    if not monthly:
        return None
    days = Decimal((end - start).days)
    return {plan: prorate_monthly(price, days) for plan, price in monthly.items()}


def subscribed_plans(org, end: date, customers: set, trial_plan: str) -> dict:
    """{customer: plan} of `customers` from their Stripe subscriptions on the period's last day (one read)."""
    if not customers:
        return {}
    plans = customer_plans_on(org=org, day=end - timedelta(days=1), trial_plan=trial_plan)
    return {customer: plans[customer] for customer in sorted(customers) if plans.get(customer)}
