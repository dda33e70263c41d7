"""Reads for the guided pricing check: the rollups of one workflow, its jobs, its cloud services and prices."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import BigIntegerField, Sum
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast

from accounts.read_cache import ECONOMICS, LEDGER, cached_read
from finops.economics.guided_check import GuidedCheck, WorkflowCosts, guided_check, service_kind
from finops.models import JobRollup
from finops.selectors.inputs import economics_settings_for, fee_model, target_margin
from finops.selectors.ledger import GPU_SOURCES, rollups_between
from finops.selectors.revenue import plan_prices_for
from ingest.models import CostLine

ZERO = Decimal(0)
CLOUD_SOURCES = ("cloud_tagged", "cloud_shared")


def _customer_jobs(*, org, start: date, end: date):
    return (
        JobRollup.objects.for_org(org)
        .filter(day__gte=start, day__lt=end, currency=org.currency)
        .exclude(customer="")
        .exclude(feature="")
    )


@cached_read(ECONOMICS)
def workflow_choices(*, org, start: date, end: date) -> tuple[list[str], list[str]]:
    """(features customers completed jobs of in [start, end), most costly first; paid plans with a price)."""
    rows = (
        _customer_jobs(org=org, start=start, end=end)
        .values("feature")
        .annotate(done=Sum("jobs_completed"), cost=Sum("cost_completed_amount"))
        .order_by()
    )
    features = [r["feature"] for r in sorted(rows, key=lambda r: (-(r["cost"] or ZERO), r["feature"])) if r["done"]]
    trial = economics_settings_for(org=org).trial_plan
    plans = sorted(p for p in (plan_prices_for(org=org, start=start, end=end) or {}) if p != trial)
    return features, plans


@cached_read(ECONOMICS, LEDGER)  # it also reads the bill lines behind its cloud services
def workflow_costs(*, org, feature: str, plan: str, start: date, end: date) -> WorkflowCosts:
    """The period's costs, jobs, calls and plan prices of `feature` (for customers of `plan`, or of every plan
    but the trial when `plan` is "")."""
    trial = economics_settings_for(org=org).trial_plan
    allocated = rollups_between(org=org, start=start, end=end).filter(currency=org.currency, kind="allocated")
    selection = allocated.filter(feature=feature).exclude(customer="")
    selection = selection.filter(plan=plan) if plan else selection.exclude(plan=trial)
    parts = defaultdict(lambda: ZERO)
    calls = 0
    models = defaultdict(lambda: [ZERO, 0])
    rows = (
        selection.values("source", "bucket", "job_outcome", "model")
        .annotate(cost=Sum("cost_amount"), n=Sum("calls"), tin=Sum("input_tokens"), tout=Sum("output_tokens"))
        .order_by()
    )
    for r in rows:
        cost = r["cost"] or ZERO
        if r["source"] == "api_calls":
            calls += r["n"] or 0
            key = "failed_runs" if r["job_outcome"] == "failed" else "retries" if r["bucket"] == "retries" else "calls"
            parts[key] += cost
            models[r["model"]][0] += cost
            models[r["model"]][1] += (r["tin"] or 0) + (r["tout"] or 0)
        elif r["source"] in GPU_SOURCES:
            parts["gpu"] += cost
        elif r["source"] not in CLOUD_SOURCES:
            parts["other_direct"] += cost
    api = allocated.filter(source="api_calls")
    feature_calls = api.filter(feature=feature).aggregate(n=Sum("calls"))["n"] or 0
    all_calls = api.aggregate(n=Sum("calls"))["n"] or 0
    cloud = _cloud_services(org=org, feature=feature, start=start, end=end)

    jobs = _customer_jobs(org=org, start=start, end=end).filter(feature=feature)
    jobs = jobs.filter(plan=plan) if plan else jobs.exclude(plan=trial)
    prices = plan_prices_for(org=org, start=start, end=end)
    completed = failed = customers = priced_customers = priced_jobs = 0
    price_total = None
    per_customer = (
        jobs.values("customer", "plan").annotate(done=Sum("jobs_completed"), lost=Sum("jobs_failed")).order_by()
    )
    for r in per_customer:
        done = r["done"] or 0
        completed += done
        failed += r["lost"] or 0
        if not done:
            continue
        customers += 1
        price = (prices or {}).get(r["plan"])
        if price is not None:
            price_total = (price_total or ZERO) + price
            priced_customers += 1
            priced_jobs += done
    return WorkflowCosts(
        feature=feature,
        plan=plan,
        currency=org.currency,
        days=(end - start).days,
        completed_jobs=completed,
        failed_jobs=failed,
        customers=customers,
        model_calls=parts["calls"],
        retries=parts["retries"],
        failed_runs=parts["failed_runs"],
        gpu=parts["gpu"],
        storage_tagged=cloud["storage_tagged"],
        storage_shared=cloud["storage_shared"],
        logs_tagged=cloud["logs_tagged"],
        logs_shared=cloud["logs_shared"],
        other_tagged=cloud["other_tagged"] + parts["other_direct"],
        calls=calls,
        feature_calls=feature_calls,
        all_calls=all_calls,
        price_total=price_total,
        priced_customers=priced_customers,
        priced_jobs=priced_jobs,
        models=tuple((m, c, t) for m, (c, t) in sorted(models.items()) if m),
    )


def _cloud_services(*, org, feature: str, start: date, end: date) -> dict:
    """Cloud cost by service kind: tagged to `feature`, and shared (no feature, allocated or not). A service kind
    absent from every cloud line of the period is None (not on the bills), not zero."""
    # A cloud row comes from one bill line; a row of several lines takes the kind of its first (the ids are sorted),
    # so only each row's first line is looked up, not every line of the period.
    rows = list(
        rollups_between(org=org, start=start, end=end)
        .filter(currency=org.currency, source__in=CLOUD_SOURCES)
        .annotate(first_line=Cast(KeyTransform(0, "cost_line_ids"), BigIntegerField()))
        .values("feature", "first_line")
        .annotate(cost=Sum("cost_amount"))
        .order_by()
    )
    lines = CostLine.objects.for_org(org).filter(id__in={r["first_line"] for r in rows if r["first_line"] is not None})
    kinds = {
        line["id"]: service_kind(line["service_category"], line["service_name"])
        for line in lines.values("id", "service_category", "service_name")
    }
    totals = defaultdict(lambda: ZERO)
    present = set()
    for r in rows:
        kind = kinds.get(r["first_line"])
        present.add(kind)
        if r["feature"] == feature:
            totals[f"{kind or 'other'}_tagged"] += r["cost"]
        elif not r["feature"] and kind:
            totals[f"{kind}_shared"] += r["cost"]
    result = {"other_tagged": totals["other_tagged"]}
    for kind in ("storage", "logs"):
        known = kind in present
        result[f"{kind}_tagged"] = totals[f"{kind}_tagged"] if known else None
        result[f"{kind}_shared"] = totals[f"{kind}_shared"] if known else None
    return result


def guided_check_for(*, org, feature: str, plan: str, start: date, end: date, founder_inputs) -> GuidedCheck:
    """The guided pricing check of one workflow in [start, end): its measured costs (`workflow_costs`) against the
    founder's figures, `founder_inputs(target margin, payment fee rate, fixed fee)` with the organisation's own."""
    settings = economics_settings_for(org=org)
    costs = workflow_costs(org=org, feature=feature, plan=plan, start=start, end=end)
    fee_rate, fee_fixed = fee_model(settings)
    return guided_check(costs, founder_inputs(target_margin(settings), fee_rate, fee_fixed))
