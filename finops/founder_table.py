"""The ten rows of the GPU FinOps Founder Table: what each measures, the founder move, when it fires.

The definitions are the product (PRODUCT.md); the numbers and the rules that fire come
from the economics engine.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from finops.money import format_money


@dataclass(frozen=True)
class FounderRow:
    key: str
    title: str
    measures: str
    founder_move: str
    fires_when: str


FOUNDER_ROWS = (
    FounderRow(
        "training_run",
        "Training run",
        "Total spend, duration, data used, result",
        "Approve only with a learning question",
        "A run has no recorded question or decision it supports",
    ),
    FounderRow(
        "inference_request",
        "Inference request",
        "Cost per completed customer job",
        "Price by workload, not hoped-for usage",
        "Heavy users create losses (cost above their revenue)",
    ),
    FounderRow(
        "idle_gpu",
        "Idle GPU",
        "Paid time with low useful work",
        "Shut-off rules and owner alerts",
        "A running GPU has no owner, or idles past the limit",
    ),
    FounderRow(
        "batch_job",
        "Batch job",
        "Cost per item and wait time",
        "Run deferrable work when buyers can wait",
        "Live (on-demand) prices paid for work that could wait",
    ),
    FounderRow(
        "model_route",
        "Model route",
        "Model used, fallback, retry count",
        "Send simple work to cheaper paths",
        "(Nearly) every request takes the premium route",
    ),
    FounderRow(
        "evaluation_run",
        "Evaluation run",
        "Test set, score, cost, release decision",
        "Budget evals as launch protection",
        "A release shipped with no evaluation spend",
    ),
    FounderRow(
        "free_trial",
        "Free trial",
        "GPU/API spend per trial account",
        "Cap trial workloads by cost",
        "Free users consume paid-user margin",
    ),
    FounderRow(
        "customer_tier",
        "Customer tier",
        "Spend by plan and account",
        "Match limits to price paid",
        "Low-price plans use high-cost routes",
    ),
    FounderRow(
        "shared_cluster",
        "Shared cluster",
        "Spend by team, feature, namespace, customer",
        "Tag every workload before launch",
        "Costs land in one untagged mystery bucket",
    ),
    FounderRow(
        "provider_commitment",
        "Provider commitment",
        "Used vs committed capacity",
        "Commit only once usage is stable",
        "Committed capacity is far above what is used",
    ),
)


# How the twelve weekly metrics are shown (page and digest alike): everything not named here is money.
METRIC_UNITS = {"inference_calls_per_user": "count", "retries_per_completed_job": "count",
                "idle_gpu_hours": "hours", "gross_margin_after_ai_compute": "share"}  # fmt: skip
BREAKDOWN_SHOWN = 3


def metric_display(metric: dict, currency: str) -> dict:
    """One of the twelve metrics with its value, the week before and the change as text, and its largest parts;
    unknown is '—', never 0."""
    unit = METRIC_UNITS.get(metric["key"], "money")

    def show(value):
        if isinstance(value, dict):
            return format_money(sum(value.values(), Decimal(0)), currency)
        if value is None:
            return "—"
        if unit == "money":
            return format_money(value, currency)
        if unit == "share":
            return f"{value * 100:.0f}%"
        return f"{value:,.1f}" + (" h" if unit == "hours" else "")

    change = metric["change"]
    breakdown = metric["value"] if isinstance(metric["value"], dict) else {}
    return {
        **metric,
        "shown_value": show(metric["value"]),
        "shown_previous": show(metric["previous"]),
        "shown_change": "—" if change is None else f"{change * 100:+.0f}%",
        "breakdown": [
            (name, format_money(amount, currency)) for name, amount in list(breakdown.items())[:BREAKDOWN_SHOWN]
        ],
    }


def row_impact(row: dict) -> Decimal:
    """A Founder Table row's dollar impact: the largest, over its offenders' kinds, of the kind's subjects' amounts
    summed (each subject once, at its largest amount).

    Offenders of one kind are different subjects (hosts, customers, features), so their amounts add up; one
    subject can be listed twice (a host idle and running a zombie) and different kinds can describe the same
    money (all trial accounts, and each trial account above the cap), so those are not added. Offenders not at stake
    (hosts no agent measured) count for nothing."""
    by_kind = defaultdict(dict)
    for offender in row["offenders"]:
        if not offender.get("at_stake", True):  # e.g. GPU time no agent measured: not known to leak
            continue
        subjects = by_kind[offender["kind"]]
        subjects[offender["id"]] = max(subjects.get(offender["id"], offender["amount"]), offender["amount"])
    return max((sum(subjects.values(), Decimal(0)) for subjects in by_kind.values()), default=Decimal(0))
