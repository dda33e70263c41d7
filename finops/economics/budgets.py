"""Budgets as pure arithmetic: a period's bounds, how much of a budget is left, and whether a job fits.

A budget's period is the UTC day, ISO week (Monday first) or calendar month holding the day asked about.
What is left is `amount - spent - reserved`: spent from the rollups, reserved by budget checks that allowed a
job whose cost has not landed yet. A job fits when its estimate fits in every budget that applies to it.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

PERIODS = ("day", "week", "month")
NAMED_SCOPES = ("customer", "plan", "feature")


def target_error(scope: str, target: str) -> str | None:
    """Why `target` does not fit `scope` (customer, plan and feature budgets name one; org and trial none)."""
    if scope in NAMED_SCOPES and not target:
        return f"Name the {scope} this budget is for."
    if scope not in NAMED_SCOPES and target:
        return f"A {scope} budget has no target; leave it empty."
    return None


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The half-open [start, end) of the budget period holding `day`."""
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1)
    raise ValueError(f"unknown budget period {period!r}; use one of {', '.join(PERIODS)}")


@dataclass(frozen=True)
class BudgetState:
    """One budget in its current period."""

    name: str
    amount: Decimal
    spent: Decimal
    reserved: Decimal
    alert_at: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.spent - self.reserved

    @property
    def used_fraction(self) -> Decimal | None:
        return (self.spent + self.reserved) / self.amount if self.amount else None

    @property
    def status(self) -> str:
        """`over` once nothing is left, `alert` from the alert fraction on, else `ok`."""
        if self.remaining <= 0:
            return "over"
        used = self.used_fraction
        return "alert" if used is not None and used >= self.alert_at else "ok"


@dataclass(frozen=True)
class Verdict:
    allow: bool
    reason: str
    remaining: Decimal | None
    """What the tightest budget has left: after this job when it is allowed, before it when refused; None when no
    budget applies (nothing limits the job)."""
    tightest: BudgetState | None


def budget_verdict(states: list[BudgetState], estimate: Decimal, fmt=str) -> Verdict:
    """Whether a job estimated at `estimate` fits in every budget in `states`; `fmt` displays an amount."""
    if estimate < 0:
        raise ValueError("the estimated cost cannot be negative")
    if not states:
        return Verdict(True, "No budget applies to this customer and feature.", None, None)
    tightest = min(states, key=lambda s: (s.remaining, s.name))
    blocking = [s for s in states if s.remaining < estimate]
    if blocking:
        worst = min(blocking, key=lambda s: (s.remaining, s.name))
        reason = (
            f"Over budget: {worst.name} has {fmt(max(worst.remaining, Decimal(0)))} left of {fmt(worst.amount)} "
            f"(spent {fmt(worst.spent)}, reserved {fmt(worst.reserved)}); this job needs about {fmt(estimate)}."
        )
        return Verdict(False, reason, worst.remaining, worst)
    after = tightest.remaining - estimate
    count = f"{len(states)} budgets" if len(states) > 1 else "its budget"
    reason = f"Within {count}; the tightest, {tightest.name}, has {fmt(after)} left after this job."
    return Verdict(True, reason, after, tightest)
