"""Budgets: saving them, the budget check a product calls before an expensive job, and the alert e-mails.

The check is safe under concurrency: it locks the budgets that may apply (in id order, so two checks never wait on
each other in a cycle), reads what is spent and reserved, and reserves the estimate on every budget that applies
before it commits. Two checks racing for the last dollars of a budget are therefore decided one after the other.
"""

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import WRITE_ROLES
from finops.economics.budgets import Verdict, budget_verdict
from finops.models import Budget, BudgetAlert, BudgetHold, BudgetReservation
from finops.money import format_money
from finops.selectors.budgets import budget_list, budget_states, budgets_for_job, customer_plan
from finops.selectors.inputs import economics_settings_for


@transaction.atomic
def budget_save(*, org, scope: str, target: str, period: str, amount: Decimal, currency: str,
                alert_at: Decimal) -> tuple[Budget, bool]:  # fmt: skip
    """Create the budget for (scope, target, period), or update the one already there; returns (budget, created)."""
    budget, created = Budget.objects.select_for_update().get_or_create(
        org=org, scope=scope, target=target, period=period,
        defaults={"amount": amount, "currency": currency, "alert_at": alert_at},
    )  # fmt: skip
    if not created:
        budget.amount, budget.currency, budget.alert_at = amount, currency, alert_at
        budget.updated_at = timezone.now()
        budget.save(update_fields=["amount", "currency", "alert_at", "updated_at"])
    return budget, created


def budget_delete(*, org, budget: Budget) -> None:
    """Remove a budget of the organisation, with its reservations and alerts."""
    budget_list(org=org).filter(pk=budget.pk).delete()


@dataclass(frozen=True)
class BudgetCheck:
    verdict: Verdict
    currency: str
    reservation: uuid.UUID | None
    expires_at: datetime | None


@transaction.atomic
def budget_check(*, org, customer: str, feature: str, estimated_cost: Decimal,
                 now: datetime | None = None) -> BudgetCheck:  # fmt: skip
    """Whether a job of `customer` in `feature` estimated at `estimated_cost` (in the org's currency) fits every
    budget that applies; when it does, the estimate is held on those budgets for `BUDGET_RESERVATION_MINUTES` (or
    until released), so concurrent checks cannot spend the same money twice."""
    now = now or timezone.now()
    candidates = list(budgets_for_job(org=org, customer=customer, feature=feature).select_for_update().order_by("id"))
    candidates = [b for b in candidates if b.currency == org.currency]
    trial_plan = economics_settings_for(org=org).trial_plan if candidates else ""
    if any(b.scope in (Budget.Scope.PLAN, Budget.Scope.TRIAL) for b in candidates):
        plan = customer_plan(org=org, customer=customer, day=now.date(), trial_plan=trial_plan)
        candidates = [b for b in candidates if _plan_budget_applies(b, plan, trial_plan)]
    states = budget_states(org=org, budgets=candidates, now=now, trial_plan=trial_plan)
    verdict = budget_verdict([s for _, s, _, _ in states], estimated_cost, fmt=lambda a: format_money(a, org.currency))
    if not verdict.allow or not states or not estimated_cost:  # nothing to hold
        return BudgetCheck(verdict, org.currency, None, None)
    code, expires_at = uuid.uuid4(), _hold_expiry(now)
    BudgetReservation.objects.bulk_create(
        BudgetReservation(org=org, budget=budget, check_code=code, customer=customer, feature=feature,
                          amount=estimated_cost, created_at=now, expires_at=expires_at)
        for budget, _, _, _ in states
    )  # fmt: skip
    _holds_add(org, [(budget.id, expires_at, estimated_cost) for budget, _, _, _ in states])
    if any(replace(state, reserved=state.reserved + estimated_cost).status != "ok" for _, state, _, _ in states):
        transaction.on_commit(lambda: budget_alerts_queue(org=org))
    return BudgetCheck(verdict, org.currency, code, expires_at)


def _plan_budget_applies(budget: Budget, plan: str, trial_plan: str) -> bool:
    if budget.scope == Budget.Scope.PLAN:
        return bool(plan) and budget.target == plan
    if budget.scope == Budget.Scope.TRIAL:
        return bool(plan) and plan == trial_plan
    return True


def _hold_expiry(now: datetime) -> datetime:
    """Holds expire on a whole minute, at least `BUDGET_RESERVATION_MINUTES` from now."""
    later = now + timedelta(minutes=settings.BUDGET_RESERVATION_MINUTES)
    return later.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _holds_add(org, holds: list[tuple[int, datetime, Decimal]]) -> None:
    """Add (budget id, expiry minute, amount) to the per-minute sums; a negative amount gives a hold back. The
    callers hold the budgets' row locks, so no two checks add to one budget at once."""
    table = BudgetHold._meta.db_table
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(holds))
    params = [value for budget_id, expires_at, amount in holds for value in (org.id, budget_id, expires_at, amount)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (org_id, budget_id, expires_at, amount) VALUES {rows} "  # noqa: S608 - our table
            f"ON CONFLICT (budget_id, expires_at) DO UPDATE SET amount = {table}.amount + EXCLUDED.amount",
            params,
        )


@transaction.atomic
def budget_reservation_release(*, org, code: uuid.UUID) -> int:
    """Give back what a budget check held (the job finished and its cost was sent, or it never ran); returns the
    number of budgets it was held on, 0 when unknown, expired or already released."""
    held = list(BudgetReservation.objects.for_org(org).filter(check_code=code, expires_at__gt=timezone.now()))
    if not held:
        return 0
    list(budget_list(org=org).filter(id__in=[r.budget_id for r in held]).select_for_update().order_by("id"))
    _holds_add(org, [(r.budget_id, r.expires_at, -r.amount) for r in held])
    BudgetReservation.objects.for_org(org).filter(check_code=code).delete()
    return len(held)


def budget_reservations_purge(*, now: datetime | None = None) -> int:
    """Delete expired holds of every organisation (they no longer count; this keeps the tables small); returns the
    number of checks' reservations deleted."""
    now = now or timezone.now()
    BudgetHold.objects.filter(expires_at__lte=now).delete()
    deleted, _ = BudgetReservation.objects.filter(expires_at__lte=now).delete()
    return deleted


def budget_alerts_queue(*, org) -> None:
    """Check the organisation's budgets for alerts in a task (after a recompute or a check that neared a limit)."""
    if not budget_list(org=org).exists():
        return
    from finops.tasks import send_budget_alerts  # tasks import the services

    send_budget_alerts.delay(org.id)


def budget_alerts_send(*, org, now: datetime | None = None) -> int:
    """E-mail the organisation's writers once per budget and period when spending reaches the alert fraction;
    returns how many alerts went out. Each alert is claimed before it is sent, so a rerun sends nothing twice."""
    now = now or timezone.now()
    sent = 0
    for budget, state, start, end in budget_states(org=org, budgets=budget_list(org=org), now=now):
        if state.status == "ok":
            continue
        alert, _ = BudgetAlert.objects.get_or_create(
            org=org, budget=budget, period_start=start, defaults={"spent_amount": state.spent + state.reserved}
        )
        if not BudgetAlert.objects.filter(pk=alert.pk, sent_at=None).update(sent_at=now):
            continue
        try:
            _alert_email_send(org, budget, state, start, end)
        except Exception:
            BudgetAlert.objects.filter(pk=alert.pk).update(sent_at=None)
            raise
        sent += 1
    return sent


def _alert_email_send(org, budget, state, start, end) -> None:
    recipients = sorted(
        org.memberships.filter(role__in=WRITE_ROLES).values_list("user__email", flat=True)
    )  # fmt: skip
    if not recipients:
        return
    money = lambda amount: format_money(amount, budget.currency)  # noqa: E731
    context = {
        "org": org,
        "name": state.name,
        "status": state.status,
        "used_pct": round((state.used_fraction or 0) * 100),
        "amount": money(state.amount),
        "spent": money(state.spent),
        "reserved": money(state.reserved),
        "remaining": money(state.remaining),
        "start": start,
        "end": end - timedelta(days=1),
        "url": settings.SITE_URL + reverse("finops-budgets", kwargs={"org_code": org.code}),
    }
    verb = "is over" if state.status == "over" else f"has reached {context['used_pct']}% of"
    send_mail(
        subject=f"{org.name}: {state.name} {verb} its budget",
        message=render_to_string("finops/email/budget_alert.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
