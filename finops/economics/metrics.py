"""The twelve weekly metrics (ECONOMICS.md), each with the week before and the relative change."""

from decimal import Decimal

from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.units import Unit

METRIC_KEYS = (
    "gpu_spend_by_customer",
    "gpu_spend_by_feature",
    "gpu_spend_by_environment",
    "cost_per_completed_job",
    "inference_calls_per_user",
    "retries_per_completed_job",
    "idle_gpu_hours",
    "failed_job_cost",
    "free_trial_compute_spend",
    "training_spend_before_paid_proof",
    "evaluation_spend_per_release",
    "gross_margin_after_ai_compute",
)
METRIC_TITLES = {
    "gpu_spend_by_customer": "GPU and API spend by customer",
    "gpu_spend_by_feature": "GPU and API spend by feature",
    "gpu_spend_by_environment": "GPU and API spend by environment",
    "cost_per_completed_job": "Cost per completed customer job",
    "inference_calls_per_user": "Inference calls per customer",
    "retries_per_completed_job": "Retries per completed job",
    "idle_gpu_hours": "Idle GPU hours",
    "failed_job_cost": "Failed job cost",
    "free_trial_compute_spend": "Free-trial compute spend",
    "training_spend_before_paid_proof": "Training spend before paid proof",
    "evaluation_spend_per_release": "Evaluation spend per release",
    "gross_margin_after_ai_compute": "Gross margin after AI compute",
}
# Each metric's unit, for showing it (finops.founder_table.metric_display): a metric without one cannot be shown.
# A {name: amount} breakdown is money by name.
METRIC_UNITS = {
    "gpu_spend_by_customer": Unit.MONEY,
    "gpu_spend_by_feature": Unit.MONEY,
    "gpu_spend_by_environment": Unit.MONEY,
    "cost_per_completed_job": Unit.MONEY,
    "inference_calls_per_user": Unit.COUNT,
    "retries_per_completed_job": Unit.COUNT,
    "idle_gpu_hours": Unit.HOURS,
    "failed_job_cost": Unit.MONEY,
    "free_trial_compute_spend": Unit.MONEY,
    "training_spend_before_paid_proof": Unit.MONEY,
    "evaluation_spend_per_release": Unit.MONEY,
    "gross_margin_after_ai_compute": Unit.SHARE,
}
TOP = 10


def _top(pairs) -> dict:
    """The ten largest, the rest as 'other'; keys '(none)' for an empty name."""
    ordered = sorted(pairs, key=lambda p: -p[1])
    grouped = {name or "(none)": cost for name, cost in ordered[:TOP]}
    rest = sum((cost for _, cost in ordered[TOP:]), ZERO)
    if rest:
        grouped["other"] = rest
    return grouped


def metric_values(f: PeriodFacts) -> dict:
    """Each metric's value for one period: a Decimal, a {name: amount} breakdown, or None when undefined."""
    customers = {c for c, _, cost in f.customer_cost if c}
    by_customer = {}
    for customer, _, cost in f.customer_cost:
        by_customer[customer] = by_customer.get(customer, ZERO) + cost
    jobs = f.completed_jobs + f.failed_jobs
    releases = len(f.releases)
    revenue = sum(f.revenue.values(), ZERO) if f.revenue else None
    has_paid_proof = bool(revenue and revenue > 0)
    return {
        "gpu_spend_by_customer": _top(by_customer.items()),
        "gpu_spend_by_feature": _top(f.feature_cost),
        "gpu_spend_by_environment": _top(f.environment_cost),
        "cost_per_completed_job": f.job_cost / f.completed_jobs if f.completed_jobs else None,
        "inference_calls_per_user": Decimal(f.inference_calls) / len(customers) if customers else None,
        "retries_per_completed_job": Decimal(f.job_attempts - jobs) / f.completed_jobs if f.completed_jobs else None,
        "idle_gpu_hours": sum((h.idle_gpu_seconds for h in f.hosts), ZERO) / 3600,
        "failed_job_cost": f.failed_job_cost,
        "free_trial_compute_spend": sum((cost for _, plan, cost in f.customer_cost if plan == f.trial_plan), ZERO),
        "training_spend_before_paid_proof": ZERO if has_paid_proof else f.training_research_cost,
        "evaluation_spend_per_release": f.evaluation_cost / releases if releases else None,
        "gross_margin_after_ai_compute": (revenue - f.customers_fully_loaded) / revenue if revenue else None,
    }


def _total(value):
    return sum(value.values(), ZERO) if isinstance(value, dict) else value


def change(current, previous) -> Decimal | None:
    """Relative change; None when either is unknown or the previous is 0."""
    current, previous = _total(current), _total(previous)
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


def weekly_metrics(this_week: PeriodFacts, last_week: PeriodFacts) -> list[dict]:
    """The twelve metrics in order: {key, title, value, previous, change}."""
    now, before = metric_values(this_week), metric_values(last_week)
    return [
        {
            "key": key,
            "title": METRIC_TITLES[key],
            "value": now[key],
            "previous": before[key],
            "change": change(now[key], before[key]),
        }
        for key in METRIC_KEYS
    ]
