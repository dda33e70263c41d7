"""Demo revenue as Stripe would send it: products, prices, customers, subscriptions (trials included) and paid
monthly invoices, as webhook events for the demo's 34 paying API customers, its 4 trial accounts and the
customers its cloud bills are tagged with (acme-corp on a dedicated-GPU contract, the others on enterprise)."""

from datetime import UTC, date, datetime, timedelta

from finops.demo_bills import CUSTOMERS as BILLED_CUSTOMERS
from finops.demo_usage import CUSTOMERS, TRIALS, plan_of

PLAN_PRICES = {"starter": 19, "pro": 199, "enterprise": 999, "dedicated": 45000}  # a month, in dollars
# Customers the bills tag GPU instances and storage with: acme-corp rents dedicated H100s under a contract.
CONTRACTS = {customer: "dedicated" if customer == "acme-corp" else "enterprise" for customer in BILLED_CUSTOMERS}


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _add_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=min(day.day, 28))


def demo_customer_plans() -> dict[str, str]:
    """The demo's customers and their plans: the API customers', "trial" for trial accounts, the contracts'."""
    return {**{c: plan_of(c) for c in CUSTOMERS}, **dict.fromkeys(TRIALS, "trial"), **CONTRACTS}


def demo_stripe_events(*, start: date, today: date, customers: dict[str, str] | None = None) -> list[dict]:
    """Stripe events, oldest first: the catalogue, then per customer its subscription and monthly invoices from
    `start` up to `today`. `customers` (customer -> a plan of PLAN_PRICES, or "trial") defaults to the demo's."""
    events, created = [], _epoch(start - timedelta(days=60))

    def event(kind: str, obj: dict, at: int) -> None:
        events.append({"id": f"evt_demo_{len(events):05d}", "object": "event", "type": kind, "created": at,
                       "data": {"object": obj}, "livemode": False})  # fmt: skip

    for plan, dollars in PLAN_PRICES.items():
        event("product.created", {"id": f"prod_{plan}", "object": "product", "name": plan.title(), "active": True,
                                  "created": created}, created)  # fmt: skip
        event("price.created", {"id": f"price_{plan}", "object": "price", "product": f"prod_{plan}",
                                "nickname": plan, "currency": "usd", "unit_amount": dollars * 100, "active": True,
                                "recurring": {"interval": "month", "interval_count": 1}, "created": created},
              created)  # fmt: skip
    for customer, plan in (customers or demo_customer_plans()).items():
        trial = plan == "trial"
        plan = "starter" if trial else plan
        if trial:
            since = today - timedelta(days=14)
        else:
            number = int(customer[-3:]) if customer[-3:].isdigit() else sum(map(ord, customer))
            since = start - timedelta(days=number % 28)
        profile = {"id": f"cus_{customer}", "object": "customer", "email": f"billing@{customer}.example",
                   "name": customer, "metadata": {"customer_id": customer}, "created": _epoch(since)}  # fmt: skip
        event("customer.created", profile, _epoch(since))
        item = {"id": f"si_{customer}", "object": "subscription_item", "quantity": 1, "created": _epoch(since),
                "price": {"id": f"price_{plan}", "object": "price", "product": f"prod_{plan}", "nickname": plan,
                          "currency": "usd", "unit_amount": PLAN_PRICES[plan] * 100, "active": True,
                          "recurring": {"interval": "month", "interval_count": 1}}}  # fmt: skip
        subscription = {"id": f"sub_{customer}", "object": "subscription", "customer": f"cus_{customer}",
                        "status": "trialing" if trial else "active", "currency": "usd", "created": _epoch(since),
                        "items": {"object": "list", "data": [item]}}  # fmt: skip
        if trial:
            subscription.update(trial_start=_epoch(since), trial_end=_epoch(today + timedelta(days=16)))
        event("customer.subscription.created", subscription, _epoch(since))
        period = since
        while not trial and period <= today:
            end = _add_month(period)
            cents = PLAN_PRICES[plan] * 100
            invoice = {"id": f"in_{customer}_{period:%Y%m%d}", "object": "invoice", "customer": f"cus_{customer}",
                       "subscription": f"sub_{customer}", "status": "paid", "currency": "usd",
                       "amount_due": cents, "amount_paid": cents, "amount_remaining": 0, "subtotal": cents,
                       "total": cents, "tax": 0, "created": _epoch(period), "period_start": _epoch(period),
                       "period_end": _epoch(end), "status_transitions": {"paid_at": _epoch(period) + 3600},
                       "lines": {"object": "list", "has_more": False, "data": [
                           {"id": f"il_{customer}_{period:%Y%m%d}", "object": "line_item", "amount": cents,
                            "currency": "usd", "quantity": 1, "description": f"1 x {plan.title()}",
                            "price": f"price_{plan}",
                            "period": {"start": _epoch(period), "end": _epoch(end)}}]}}  # fmt: skip
            event("invoice.paid", invoice, _epoch(period) + 3600)
            period = end
    return events
