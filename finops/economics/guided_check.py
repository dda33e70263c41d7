"""The guided pricing check: one paid workflow (a feature, optionally of one plan) walked step by step for one
completed job, against the price paid per job. Pure Decimal arithmetic; unknown is None, never 0.

Every step is the period's cost divided by the workflow's completed jobs, so failed jobs and retries are paid
for by the jobs that completed. Storage and egress (and logs) are the cost tagged to the feature, times the
selection's share of the feature's calls, plus the shared (untagged) cost of those services times the
selection's share of all calls. The price per job is the plan price for the period over the completed jobs of
the customers who pay it, or the monthly price over the jobs a customer gets a month, or a price entered.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from finops.money import MONTH_DAYS, format_money, minor_unit_exponent, round_to_minor
from pricing.revenue import DEFAULT_FEE_FIXED, DEFAULT_FEE_RATE

ZERO = Decimal(0)

LOG_SERVICES = re.compile(r"log|monitor|cloudwatch|observab|trac(e|ing)", re.IGNORECASE)
STORAGE_SERVICES = re.compile(r"storage|s3|blob|bucket|egress|transfer|bandwidth|network|cdn", re.IGNORECASE)


def service_kind(category: str, name: str) -> str | None:
    """'logs', 'storage' (storage and egress) or None for a bill line's service category and name."""
    text = f"{category or ''} {name or ''}"
    if LOG_SERVICES.search(name or "") or LOG_SERVICES.search(category or ""):
        return "logs"
    if STORAGE_SERVICES.search(text):
        return "storage"
    return None


@dataclass(frozen=True)
class WorkflowCosts:
    """What the data knows of one workflow over a period of `days` days, in `currency`."""

    feature: str
    plan: str  # "" for all paid plans
    currency: str
    days: int
    completed_jobs: int
    failed_jobs: int
    customers: int  # customers (with a plan) who completed a job of the workflow
    model_calls: Decimal  # first attempts of completed jobs and single calls that succeeded
    retries: Decimal  # later attempts of jobs that completed
    failed_runs: Decimal  # every attempt of jobs that failed
    gpu: Decimal  # GPU time allocated to the selection
    storage_tagged: Decimal | None  # None when no storage or egress service is on the period's bills
    storage_shared: Decimal | None
    logs_tagged: Decimal | None  # None when no logging service is on the period's bills
    logs_shared: Decimal | None
    other_tagged: Decimal  # other cloud cost tagged to the feature (a database, a queue)
    calls: int  # the selection's calls
    feature_calls: int  # the feature's calls, every plan
    all_calls: int  # the organisation's calls
    price_total: Decimal | None  # sum of the plan price for the period over the priced customers; None: unknown
    priced_customers: int = 0
    priced_jobs: int = 0  # completed jobs of the priced customers
    models: tuple = ()  # (model, cost, tokens) of the selection's calls


@dataclass(frozen=True)
class FounderInputs:
    """What the data cannot know, entered on the page."""

    support_per_job: Decimal | None = None
    support_per_month: Decimal | None = None  # for the workflow's customers together
    jobs_per_month: Decimal | None = None  # jobs a customer buys or gets for the monthly price
    price_per_job: Decimal | None = None  # when the workflow is priced per job
    fee_rate: Decimal = DEFAULT_FEE_RATE
    fee_fixed: Decimal = DEFAULT_FEE_FIXED
    target_margin: Decimal = Decimal("0.6")


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    per_job: Decimal | None
    share: Decimal | None  # of the price paid per job
    note: str
    shown: str  # per_job for display: "—" when unknown, "< $0.01" when below the minor unit but not zero


@dataclass(frozen=True)
class GuidedCheck:
    feature: str
    plan: str
    currency: str
    completed_jobs: int
    failed_jobs: int
    steps: tuple  # Step
    cost_per_job: Decimal | None  # the known steps
    price_per_job: Decimal | None
    price_basis: str
    margin_per_job: Decimal | None
    margin_share: Decimal | None
    status: str  # "loses", "below_target", "healthy", "unknown"
    verdict: str
    cheaper_model: str | None
    support_known: bool


MOVES = {
    "retries": "cut retries and failed runs",
    "failed_runs": "cut retries and failed runs",
    "gpu": "batch or right-size its GPU work",
    "storage": "trim its storage and egress",
    "logs": "cut its log volume",
    "other": "trim the infrastructure tagged to it",
    "support": "cut the support it needs",
    "payment_fees": "bill less often or in larger amounts",
}


def cheaper_route(models) -> tuple[str | None, str | None]:
    """(main model, a cheaper model) of (model, cost, tokens): the model that costs most, and the priced model
    with the lowest cost per token when it is not the main one; self-hosted (zero-cost) models are left out."""
    priced = [(m, c, t) for m, c, t in models if c > 0 and t > 0]
    if not priced:
        return None, None
    main = max(priced, key=lambda r: (r[1], r[0]))
    cheap = min(priced, key=lambda r: (r[1] / r[2], r[0]))
    return main[0], cheap[0] if cheap[1] / cheap[2] < main[1] / main[2] else None


def per_job_text(amount: Decimal | None, currency: str) -> str:
    """A cost per job for display: a fraction of a cent is "< $0.01", not "$0.00" (which would read as free)."""
    if amount is not None and amount > 0 and round_to_minor(amount, currency) == 0:
        return "< " + format_money(Decimal(1).scaleb(-minor_unit_exponent(currency)), currency)
    return format_money(amount, currency)


def _share(part: int, whole: int) -> Decimal | None:
    return Decimal(part) / Decimal(whole) if whole else None


def _spread(tagged: Decimal | None, shared: Decimal | None, w: WorkflowCosts) -> Decimal | None:
    """The selection's part of a service's cost: tagged by its share of the feature's calls (all of it without
    a plan), shared by its share of all calls. None when the service is not on the bills, or cannot be split."""
    if tagged is None and shared is None:
        return None
    total = ZERO
    if tagged:
        factor = _share(w.calls, w.feature_calls) if w.plan else Decimal(1)
        if factor is None:
            return None
        total += tagged * factor
    if shared:
        factor = _share(w.calls, w.all_calls)
        if factor is None:
            return None
        total += shared * factor
    return total


def _cloud_note(tagged, shared, service: str, feature: str) -> str:
    if tagged is None and shared is None:
        return f"no {service} on the bills"
    if not tagged and not shared:
        return f"{service} on the bills, none tagged to {feature} or shared"
    return f"{service} tagged to {feature}, plus a share of the shared part by calls"


def _price_per_job(w: WorkflowCosts, f: FounderInputs) -> tuple[Decimal | None, str]:
    if f.price_per_job is not None:
        return f.price_per_job, "the price per job entered"
    if w.price_total is None or not w.priced_customers:
        return None, "unknown: no plan price"
    if f.jobs_per_month:
        monthly = w.price_total / w.priced_customers * MONTH_DAYS / w.days
        return monthly / f.jobs_per_month, "the monthly plan price over the jobs a customer gets a month (entered)"
    if not w.priced_jobs:
        return None, "unknown: the paying customers completed no job"
    return w.price_total / w.priced_jobs, "the plan price for the period over its customers' completed jobs"


def _jobs_per_customer_month(w: WorkflowCosts, f: FounderInputs) -> Decimal | None:
    if f.jobs_per_month:
        return f.jobs_per_month
    customers, jobs = (w.priced_customers, w.priced_jobs) if w.priced_customers else (w.customers, w.completed_jobs)
    if not customers or not jobs or not w.days:
        return None
    return Decimal(jobs) / customers * MONTH_DAYS / w.days


def guided_check(w: WorkflowCosts, f: FounderInputs) -> GuidedCheck:
    """The steps of one completed job, each per job and as a share of the price per job, and the verdict."""
    n = w.completed_jobs
    price, basis = _price_per_job(w, f)

    def per_job(total: Decimal | None) -> Decimal | None:
        return None if total is None or not n else total / n

    if f.support_per_job is not None:
        support, support_note = f.support_per_job, "entered per job"
    elif f.support_per_month is not None and n:
        support = f.support_per_month * w.days / MONTH_DAYS / n
        support_note = f"{format_money(f.support_per_month, w.currency)} a month (entered) over the period's jobs"
    else:
        support, support_note = None, "not entered"
    fees, fee_note = None, "unknown without a price"
    jobs_month = _jobs_per_customer_month(w, f)
    if price is not None and jobs_month:
        fees = price * f.fee_rate + f.fee_fixed / jobs_month
        fee_note = (f"{f.fee_rate * 100:.1f}% of the price plus {format_money(f.fee_fixed, w.currency)} an invoice, "
                    f"one invoice a month for {jobs_month:.0f} jobs")  # fmt: skip
    raw = [
        ("model_calls", "Model calls", per_job(w.model_calls), "the attempt that succeeded"),
        ("retries", "Retries", per_job(w.retries), "attempts that failed before the job completed"),
        ("failed_runs", "Failed runs", per_job(w.failed_runs),
         f"{w.failed_jobs} failed job{'s' if w.failed_jobs != 1 else ''}, spread over the completed ones"),
        ("gpu", "GPU time", per_job(w.gpu), "GPU-seconds allocated to the feature"),
        ("storage", "Storage and egress", per_job(_spread(w.storage_tagged, w.storage_shared, w)),
         _cloud_note(w.storage_tagged, w.storage_shared, "storage or egress", w.feature)),
        ("logs", "Logs", per_job(_spread(w.logs_tagged, w.logs_shared, w)),
         _cloud_note(w.logs_tagged, w.logs_shared, "logging service", w.feature)),
    ]  # fmt: skip
    if w.other_tagged:
        other = w.other_tagged * (_share(w.calls, w.feature_calls) or ZERO) if w.plan else w.other_tagged
        raw.append(("other", "Other infrastructure", per_job(other), "other cloud cost tagged to the feature"))
    raw += [("support", "Support", support if n else None, support_note),
            ("payment_fees", "Payment fees", fees if n else None, fee_note)]  # fmt: skip
    steps = tuple(
        Step(
            key,
            label,
            value,
            value / price if value is not None and price else None,
            note,
            per_job_text(value, w.currency),
        )
        for key, label, value, note in raw
    )
    known = [s.per_job for s in steps if s.per_job is not None]
    cost = sum(known, ZERO) if n else None
    margin = price - cost if price is not None and cost is not None else None
    margin_share = margin / price if margin is not None and price else None
    _, cheaper = cheaper_route(w.models)
    status, verdict = _verdict(w, f, steps, cost, price, margin_share, cheaper)
    return GuidedCheck(w.feature, w.plan, w.currency, n, w.failed_jobs, steps, cost, price, basis, margin,
                       margin_share, status, verdict, cheaper, support is not None)  # fmt: skip


def _verdict(w, f, steps, cost, price, margin_share, cheaper) -> tuple[str, str]:
    money = lambda amount: format_money(amount, w.currency)  # noqa: E731
    job = f"completed {w.feature} job"
    if cost is None:
        return "unknown", f"No {job}s in the period: there is nothing to check yet."
    if price is None:
        return "unknown", (f"Each {job} costs {money(cost)}; the price paid per job is unknown: pick a plan with a "
                           "price, connect Stripe, or enter the jobs a customer gets for the price.")  # fmt: skip
    largest = max((s for s in steps if s.per_job is not None), key=lambda s: s.per_job)
    if largest.key == "model_calls":
        move = f"route to {cheaper}" if cheaper else "route to a cheaper model"
    else:
        move = MOVES[largest.key]
    head = f"Each {job} costs {money(cost)} against {money(price)} paid"
    target = f"{f.target_margin * 100:.0f}% target"
    if margin_share is None or margin_share < 0:
        status, sentence = "loses", f"{head}: raise the price, cap usage, or {move}."
    elif margin_share < f.target_margin:
        margin = f"a margin of {margin_share * 100:.0f}%"
        status, sentence = (
            "below_target",
            f"{head}, {margin} below the {target}: raise the price, cap usage, or {move}.",
        )
    else:
        status, sentence = "healthy", f"{head}: a margin of {margin_share * 100:.0f}%, at or above the {target}."
    if not any(s.key == "support" and s.per_job is not None for s in steps):
        sentence += " Support is not entered, so it is not counted."
    return status, sentence
