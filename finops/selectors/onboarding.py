"""The onboarding checklist as the data shows it: which day of the first week it is, and which steps are done.

Each step decides from the organisation's own data (docs/architecture.md, "Onboarding"); totals come from the
rollups, the raw ledgers are only asked whether they hold anything. `onboarding_banner` is the Founder Table's
cheap version: nothing after day 14, else one query of flags and, once spend is connected, up to three small
indexed reads of the rollups, stopping at the first step not done.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, Exists, Max, Q, Subquery, Sum, Window
from django.urls import reverse
from django.utils import timezone

from accounts.models import OnboardingState, Organization
from accounts.read_cache import ECONOMICS, LEDGER, cached_read
from finops.economics.rows import ROWS
from finops.founder_table import row_impact
from finops.models import Budget, CustomerRollup, Kind, WorkRollup
from finops.money import format_money
from finops.onboarding import BANNER_DAYS, FIRST_WEEK_DAYS, ONBOARDING_STEPS, SHARE_NEEDED, WINDOW_DAYS
from finops.selectors.founder_week import founder_table_rows
from ingest.models import BillPeriod, Connector, CostLine, GpuHost, UsageEvent
from pricing.models import StripeInvoice, StripePrice

ZERO = Decimal(0)
FIXES = {row.key: row for row in ROWS}


@dataclass(frozen=True)
class StepProgress:
    day: int
    key: str
    title: str
    why: str
    done: bool
    evidence: str
    url: str
    action: str
    today: bool


@dataclass(frozen=True)
class OnboardingProgress:
    day: int  # 1 on the day the organisation was created, in its time zone
    steps: tuple  # StepProgress, in day order
    chosen_fix: str
    chosen_by: str
    chosen_at: object  # datetime or None

    @property
    def done_count(self) -> int:
        return sum(1 for s in self.steps if s.done)

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def complete(self) -> bool:
        return self.done_count == self.total

    @property
    def first_week_over(self) -> bool:
        return self.day > FIRST_WEEK_DAYS

    @property
    def next_step(self) -> StepProgress | None:
        return next((s for s in self.steps if not s.done), None)

    @property
    def share_needed(self) -> str:
        return _percent(SHARE_NEEDED)

    @property
    def percent(self) -> int:
        return self.done_count * 100 // self.total


def onboarding_day(*, org, today: date | None = None) -> int:
    """The day of onboarding the organisation is on: 1 on the day it was created, in its own time zone."""
    zone = zoneinfo.ZoneInfo(org.timezone)
    today = today or timezone.now().astimezone(zone).date()
    return max(1, (today - org.created_at.astimezone(zone).date()).days + 1)


def _local_today(org) -> date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(org.timezone)).date()


def onboarding_progress(*, org, today: date | None = None) -> OnboardingProgress:
    """The seven steps, each done or not from the organisation's data, with a measured line of evidence."""
    return _progress(org=org, today=today or _local_today(org))


@cached_read(ECONOMICS, LEDGER)
def _progress(*, org, today: date) -> OnboardingProgress:
    day = onboarding_day(org=org, today=today)
    facts = _Facts(org)
    steps = []
    for step in ONBOARDING_STEPS:
        done = DONE[step.key](facts)
        url, action = _action(step, done, org)
        evidence = EVIDENCE[step.key](facts, done)
        is_today = step.day == day
        steps.append(StepProgress(step.day, step.key, step.title, step.why, done, evidence, url, action, is_today))
    state = facts.state
    return OnboardingProgress(
        day=day,
        steps=tuple(steps),
        chosen_fix=facts.chosen_fix,
        chosen_by=state.chosen_by.email if state and state.chosen_by else "",
        chosen_at=state.chosen_at if state else None,
    )


def onboarding_banner(*, org, today: date | None = None) -> dict | None:
    """{day, first_week, step} for the Founder Table's banner: the first step not done yet, while the checklist is
    not complete in the first 14 days; None otherwise. Reads as little as it can, in step order."""
    return _banner(org=org, today=today or _local_today(org))


@cached_read(ECONOMICS, LEDGER)
def _banner(*, org, today: date) -> dict | None:
    day = onboarding_day(org=org, today=today)
    if day > BANNER_DAYS:
        return None
    facts = _Facts(org)
    step = next((s for s in ONBOARDING_STEPS if not DONE[s.key](facts)), None)
    if step is None:
        return None
    return {"day": day, "first_week": day <= FIRST_WEEK_DAYS, "step": step}


def onboarding_fix_choices(*, org, today: date | None = None) -> list[dict]:
    """The Founder Table rows to choose the one fix from, judged on the last complete ISO week as the Founder
    Table shows it by default: rows with a red stop sign first, the most money at stake first."""
    return _fix_choices(org=org, today=today or _local_today(org))


@cached_read(ECONOMICS)
def _fix_choices(*, org, today: date) -> list[dict]:
    monday = today - timedelta(days=today.weekday() + 7)
    rows = founder_table_rows(org=org, start=monday, end=monday + timedelta(days=7))
    choices = [
        {
            "key": row["key"],
            "title": row["title"],
            "founder_move": row["founder_move"],
            "stop_sign": row["stop_sign"],
            "at_stake": row_impact(row),
        }
        for row in rows
    ]
    order = {key: index for index, key in enumerate(FIXES)}
    return sorted(choices, key=lambda c: (c["stop_sign"] is not True, -c["at_stake"], order[c["key"]]))


class _Facts:
    """What the steps read, each read once and only when a step asks for it."""

    def __init__(self, org):
        self.org = org

    @cached_property
    def flags(self) -> dict:
        """Whether each ledger or table holds anything, and the fix chosen: one query of EXISTS subqueries."""
        org = self.org
        return (
            Organization.objects.filter(pk=org.pk)
            .values(
                bills=Exists(CostLine.objects.for_org(org)),
                calls=Exists(UsageEvent.objects.for_org(org)),
                agent=Exists(GpuHost.objects.for_org(org).filter(last_seen_at__isnull=False)),
                # pricing.selectors.revenue_known, inline: synced, webhook-pushed or imported invoices or prices
                invoices=Exists(StripeInvoice.objects.for_org(org)),
                prices=Exists(StripePrice.objects.for_org(org)),
                budget=Exists(Budget.objects.for_org(org)),
                connector=Exists(Connector.objects.for_org(org).filter(last_status=Connector.Status.OK)),
                chosen_fix=Subquery(OnboardingState.objects.for_org(org).values("chosen_fix")[:1]),
            )
            .get()
        )

    @property
    def chosen_fix(self) -> str:
        fix = self.flags["chosen_fix"] or ""
        return fix if fix in FIXES else ""

    @cached_property
    def window(self) -> tuple[date, date] | None:
        """The last WINDOW_DAYS days up to the newest day with rollup rows in the org's currency (inclusive)."""
        rows = WorkRollup.objects.for_org(self.org).filter(currency=self.org.currency)
        last = rows.aggregate(last=Max("day"))["last"]
        return (last - timedelta(days=WINDOW_DAYS - 1), last) if last else None

    @cached_property
    def work(self) -> dict:
        """The window's cost: charges (rows of net positive cost, so credits do not shrink the whole below its owned
        part) in all and with an owner or a feature; idle; GPU time billed with no agent."""
        if self.window is None:
            return {"total": ZERO, "owned": ZERO, "idle": ZERO, "unwatched": ZERO}
        start, end = self.window
        sums = (
            WorkRollup.objects.for_org(self.org)
            .filter(day__gte=start, day__lte=end, currency=self.org.currency)
            .aggregate(
                total=Sum("cost_amount", filter=Q(cost_amount__gt=0)),
                owned=Sum("cost_amount", filter=Q(cost_amount__gt=0) & (~Q(owner="") | ~Q(feature=""))),
                idle=Sum("cost_amount", filter=Q(kind=Kind.IDLE)),
                unwatched=Sum("cost_amount", filter=Q(source__in=("gpu_no_agent", "gpu_tagged"))),
            )
        )
        return {key: value or ZERO for key, value in sums.items()}

    @cached_property
    def customers(self) -> dict:
        """The window's charges that carry a customer, how much of them is on a known plan, how many customers."""
        if self.window is None:
            return {"cost": ZERO, "on_plan": ZERO, "customers": 0}
        start, end = self.window
        sums = (
            CustomerRollup.objects.for_org(self.org)
            .filter(day__gte=start, day__lte=end, currency=self.org.currency, kind=Kind.ALLOCATED)
            .exclude(customer="")
            .filter(cost_amount__gt=0)
            .aggregate(
                cost=Sum("cost_amount"),
                on_plan=Sum("cost_amount", filter=~Q(plan="")),
                customers=Count("customer", distinct=True),
            )
        )
        return {"cost": sums["cost"] or ZERO, "on_plan": sums["on_plan"] or ZERO, "customers": sums["customers"]}

    @cached_property
    def state(self) -> OnboardingState | None:
        return OnboardingState.objects.for_org(self.org).select_related("chosen_by").first()

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self.org.currency)

    def window_text(self) -> str:
        return f"the {WINDOW_DAYS} days to {_day(self.window[1])}"


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return part / whole if whole > 0 else None


def _percent(share: Decimal) -> str:
    """Rounded down, so a share just under the bar never reads as the bar."""
    return f"{int(share * 100)}%"


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


# 1. Name the spend: any cloud bill line or model call, or a connector whose last run worked.
def _spend_done(f: _Facts) -> bool:
    return f.flags["bills"] or f.flags["calls"] or f.flags["connector"]


def _spend_evidence(f: _Facts, done: bool) -> str:
    if not done:
        return "No cloud bill or LLM usage yet."
    bills = BillPeriod.objects.for_org(f.org).count()
    calls = WorkRollup.objects.for_org(f.org).aggregate(calls=Sum("calls"))["calls"] or 0
    parts = []
    if f.flags["bills"]:
        parts.append(_plural(bills, "bill"))
    if f.flags["calls"]:
        parts.append(_plural(calls, "model call") if calls else "model calls (being counted)")
    pulling = ""
    if f.flags["connector"]:
        working = Connector.objects.for_org(f.org).filter(last_status=Connector.Status.OK).count()
        pulling = f"{_plural(working, 'connector')} pulling daily"
        if not parts:
            return f"{pulling}; nothing imported yet."
        pulling = f"; {pulling}"
    missing = "" if len(parts) == 2 else ("; no LLM usage yet" if f.flags["bills"] else "; no cloud bill yet")
    return f"{' and '.join(parts)} imported{missing}{pulling}."


# 2. Add ownership: SHARE_NEEDED of the window's cost names an owner (tag, GPU host owner) or a feature.
def _ownership_done(f: _Facts) -> bool:
    share = _share(f.work["owned"], f.work["total"])
    return share is not None and share >= SHARE_NEEDED


def _ownership_evidence(f: _Facts, done: bool) -> str:
    share = _share(f.work["owned"], f.work["total"])
    if share is None:
        return "No costs yet to give an owner." if f.window is None else f"No costs in {f.window_text()}."
    needed = "" if done else f" — {_percent(SHARE_NEEDED)} needed"
    return f"{_percent(share)} of the cost of {f.window_text()} has an owner or a feature{needed}."


# 3. Connect customers: some cost carries a customer, SHARE_NEEDED of it on a known plan.
def _customers_done(f: _Facts) -> bool:
    share = _share(f.customers["on_plan"], f.customers["cost"])
    return f.customers["customers"] > 0 and share is not None and share >= SHARE_NEEDED


def _customers_evidence(f: _Facts, done: bool) -> str:
    c = f.customers
    share = _share(c["on_plan"], c["cost"])
    if not c["customers"] or share is None:
        where = "" if f.window is None else f" in {f.window_text()}"
        return f"No cost{where} carries a customer yet."
    carry = "carries" if c["customers"] == 1 else "carry"
    text = f"{_plural(c['customers'], 'customer')} {carry} {f.money(c['cost'])} of cost in {f.window_text()}; "
    text += f"{_percent(share)} of it is on a known plan"
    return text + ("." if done else f" — {_percent(SHARE_NEEDED)} needed.")


# 4. Find idle burn: a GPU agent has reported.
def _agent_done(f: _Facts) -> bool:
    return f.flags["agent"]


def _agent_evidence(f: _Facts, done: bool) -> str:
    if not done:
        unwatched = f.work["unwatched"]
        if unwatched > 0:
            return f"No agent reports yet; {f.money(unwatched)} of billed GPU time in {f.window_text()} is unwatched."
        return "No GPU agent has reported yet."
    hosts = (
        GpuHost.objects.for_org(f.org)
        .filter(last_seen_at__isnull=False)
        .aggregate(hosts=Count("id", distinct=True), gpus=Count("gpus"))
    )
    text = f"{_plural(hosts['hosts'], 'GPU host')} ({_plural(hosts['gpus'], 'GPU')}) reporting"
    if f.window is not None:
        text += f"; {f.money(f.work['idle'])} idle in {f.window_text()}"
    return text + "."


# 5. Review pricing: Stripe revenue data (synced, webhooks or CSV exports), as pricing.selectors.revenue_known.
def _revenue_done(f: _Facts) -> bool:
    return f.flags["invoices"] or f.flags["prices"]


def _revenue_evidence(f: _Facts, done: bool) -> str:
    if not done:
        return "No Stripe data yet."
    prices = StripePrice.objects.for_org(f.org).count()
    invoices = StripeInvoice.objects.for_org(f.org).count()
    return f"Stripe: {_plural(prices, 'price')} and {_plural(invoices, 'invoice')}."


# 6. Add caps: at least one budget.
def _caps_done(f: _Facts) -> bool:
    return f.flags["budget"]


def _caps_evidence(f: _Facts, done: bool) -> str:
    if not done:
        return "No budget yet."
    # The first three and how many there are, in one read however many budgets there are.
    budgets = list(Budget.objects.for_org(f.org).annotate(total=Window(Count("id")))[:3])
    count = budgets[0].total if budgets else 0
    names = [_budget_name(b) for b in budgets]
    if count > 3:
        return f"{_plural(count, 'budget')}: {', '.join(names)} and {count - 3:,} more."
    return f"{_plural(count, 'budget')}: {', '.join(names[:-1])}{' and ' if len(names) > 1 else ''}{names[-1]}."


def _budget_name(budget: Budget) -> str:
    what = {Budget.Scope.ORG: "the organisation", Budget.Scope.TRIAL: "trial accounts"}.get(
        budget.scope, f"{budget.scope} {budget.target}"
    )
    return f"{what} per {budget.period}"


# 7. Choose one fix: a Founder Table row's founder move chosen on this page.
def _fix_done(f: _Facts) -> bool:
    return bool(f.chosen_fix)


def _fix_evidence(f: _Facts, done: bool) -> str:
    if not done:
        return "Not chosen yet."
    row = FIXES[f.chosen_fix]
    return f"Chosen: {row.title} — {row.founder_move.lower()}."


DONE = {
    "name_spend": _spend_done,
    "add_ownership": _ownership_done,
    "connect_customers": _customers_done,
    "find_idle": _agent_done,
    "review_pricing": _revenue_done,
    "add_caps": _caps_done,
    "choose_fix": _fix_done,
}
EVIDENCE = {
    "name_spend": _spend_evidence,
    "add_ownership": _ownership_evidence,
    "connect_customers": _customers_evidence,
    "find_idle": _agent_evidence,
    "review_pricing": _revenue_evidence,
    "add_caps": _caps_evidence,
    "choose_fix": _fix_evidence,
}


def _action(step, done: bool, org) -> tuple[str, str]:
    """(url, label) of the step's action: its done variant once done."""
    name, label = step.url_name, step.action
    if done and step.done_url_name:
        name, label = step.done_url_name, step.done_action
    return reverse(name, kwargs={"org_code": org.code}), label
