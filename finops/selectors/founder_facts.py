"""The facts of a period that the Founder Table rules and the weekly metrics read (`PeriodFacts`), gathered from
the rollups in one grouped scan, the GPU-hours, jobs, releases and commitments; the commitments page's measured use."""

from collections import defaultdict
from datetime import UTC, date, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import TruncDate

from accounts.read_cache import ECONOMICS, cached_read
from finops.economics.customer_cost import CustomerCosts, customer_costs
from finops.economics.facts import HostFacts, PeriodFacts, RouteFacts, RunFacts
from finops.economics.rules import commitment_split, premium_audit, thresholds_with_defaults
from finops.models import Commitment, JobRollup, LearningQuestion, Release
from finops.money import prorate_monthly
from finops.selectors.grouping import cost_by, cost_of, slice_sets
from finops.selectors.inputs import economics_settings_for, target_margin
from finops.selectors.ledger import GPU_SOURCES, work_between
from finops.selectors.revenue import plan_prices_for, revenue_by_customer, subscribed_plans
from ingest.models import CostLine, Gpu, GpuHost, GpuHour
from ingest.periods import as_utc_bounds

ZERO = Decimal(0)

PRODUCTION = ("prod", "production", "live")

NEW_MODEL_LOOKBACK = timedelta(days=28)

# The sums the rules read, each grouped by its own dimensions: one GROUPING SETS query on PostgreSQL.
SLICE_SETS = {
    # Every figure by workload (kinds, routes, plans, features, environments, deferrable work) sums from "work".
    "work": ("kind", "source", "bucket", "environment", "plan", "feature", "model", "deferrable", "has_unpriced"),
    "customers": ("kind", "customer", "plan", "by_key"),
    "hosts": ("kind", "source", "host", "owner"),
}

# What the twelve metrics read (period_facts with_rules=False): spend by feature and environment, calls by bucket.
METRIC_SLICE_SETS = {
    "work": ("kind", "source", "bucket", "environment", "feature"),
    "customers": SLICE_SETS["customers"],
    "hosts": SLICE_SETS["hosts"],
}


@cached_read(ECONOMICS)
def period_facts(*, org, start: date, end: date, with_rules: bool = True) -> PeriodFacts:
    """Everything the Founder Table rules and the weekly metrics need for [start, end); with `with_rules=False`
    only what the twelve metrics read, from a coarser grouping (routes, training runs, commitments and the
    new-model check stay empty, so such facts are never for the rules).

    The period's rollup rows are read once, grouped by the dimensions the rules use, and summed here in
    Python: one scan instead of one per figure."""
    settings = economics_settings_for(org=org)
    sets = slice_sets(org=org, start=start, end=end, sets=SLICE_SETS if with_rules else METRIC_SLICE_SETS)
    allocated = {name: [s for s in rows_ if s["kind"] == "allocated"] for name, rows_ in sets.items()}
    kinds = cost_by(sets["work"], "kind")
    split = _customer_costs(sets["customers"])
    revenue = revenue_by_customer(org=org, start=start, end=end)
    jobs = JobRollup.objects.for_org(org).filter(day__gte=start, day__lt=end, currency=org.currency)
    customers = ~Q(customer="")
    customer_jobs = jobs.aggregate(  # customers' jobs, and every failed job's cost, in one scan
        completed=Sum("jobs_completed", filter=customers), failed=Sum("jobs_failed", filter=customers),
        attempts=Sum("attempts", filter=customers), cost_completed=Sum("cost_completed_amount", filter=customers),
        cost_failed=Sum("cost_failed_amount", filter=customers), all_failed_cost=Sum("cost_failed_amount"),
    )  # fmt: skip
    return PeriodFacts(
        currency=org.currency,
        billed_total=sum(kinds.values(), ZERO),
        allocated=kinds.get("allocated", ZERO),
        idle=kinds.get("idle", ZERO),
        unmeasured=kinds.get("unmeasured", ZERO),
        unattributed=kinds.get("unattributed", ZERO),
        customer_cost=tuple(
            (customer, plan, total)
            for (customer, plan), total in sorted(
                cost_by(
                    [s for s in allocated["customers"] if s["customer"] and not s["by_key"]], "customer", "plan"
                ).items()
            )
        ),
        # with no customer to carry them, idle, unmeasured and unattributed cost still weigh on the margin
        customers_fully_loaded=sum(split.fully_loaded.values(), ZERO) + split.unplaced,
        revenue=revenue,
        revenue_plans=_revenue_plans(org, end, revenue, sets["customers"], settings) if with_rules else None,
        completed_jobs=customer_jobs["completed"] or 0,
        failed_jobs=customer_jobs["failed"] or 0,
        job_attempts=customer_jobs["attempts"] or 0,
        job_cost=(customer_jobs["cost_completed"] or ZERO) + (customer_jobs["cost_failed"] or ZERO),
        hosts=tuple(_hosts(org, sets["hosts"], start, end)),
        releases=tuple(_releases(org, start, end, settings)),
        evaluation_cost=cost_of(s for s in allocated["work"] if s["bucket"] == "evaluation"),
        trial_plan=settings.trial_plan,
        target_margin=target_margin(settings),
        feature_cost=tuple(sorted(cost_by(allocated["work"], "feature").items())),
        environment_cost=tuple(sorted(cost_by(allocated["work"], "environment").items())),
        inference_calls=sum(s["calls"] or 0 for s in allocated["work"] if s["bucket"] == "inference"),
        failed_job_cost=customer_jobs["all_failed_cost"] or ZERO,
        training_research_cost=cost_of(s for s in allocated["work"] if s["bucket"] in ("training", "research")),
        **(_rule_facts(org, start, end, allocated["work"], jobs) if with_rules else {}),
    )


def _rule_facts(org, start: date, end: date, work: list, jobs) -> dict:
    """The facts only the Founder Table rules read."""
    routes = route_facts(work)
    deferrable = [s for s in work if s["deferrable"]]
    return {
        "untagged_allocated": cost_of(s for s in work if s["source"] in ("cloud_shared", "api_gap")),
        "plan_prices": plan_prices_for(org=org, start=start, end=end),
        "runs": tuple(_runs(org, jobs)),
        "routes": routes,
        "deferrable_realtime_cost": cost_of(deferrable),
        "deferrable_by_feature": tuple(sorted(cost_by(deferrable, "feature").items())),
        "unevaluated_models": tuple(_unevaluated_models(org, work, start, end)),
        "commitments": tuple(_commitments(org, end)) + tuple(_manual_commitments(org, end)),
        "promised": tuple(_promised(org, start, end)),
        "plan_premium": tuple(_plan_premium(work, routes)),
    }


def _revenue_plans(org, end: date, revenue: dict | None, slices, settings) -> dict | None:
    """{customer: plan} of paying customers whose rollup rows name no plan (no cost in the period), from Stripe."""
    named = {s["customer"] for s in slices if s["customer"] and s["plan"]}
    return subscribed_plans(org, end, set(revenue or {}) - named, settings.trial_plan) or None


def _customer_costs(slices) -> CustomerCosts:
    return customer_costs((s["kind"], s["customer"], s["by_key"], s["cost"]) for s in slices)


def _hosts(org, slices, start, end):
    since, until = as_utc_bounds(start, end)
    agent_hosts = set(GpuHost.objects.for_org(org).values_list("name", flat=True))
    seconds = {
        r["gpu__host__name"]: r
        for r in GpuHour.objects.for_org(org)
        .filter(hour__gte=since, hour__lt=until)
        .values("gpu__host__name")
        .annotate(covered=Sum("covered_seconds"), idle=Sum("idle_seconds"), zombie=Sum("zombie_seconds"))
        .order_by()
    }
    costs = defaultdict(lambda: {"paid": ZERO, "idle": ZERO, "unowned": ZERO, "unmeasured": ZERO,
                                 "unowned_unmeasured": ZERO, "tagged_unmeasured": ZERO})  # fmt: skip
    for s in slices:
        if s["host"] and s["source"] in GPU_SOURCES:
            entry = costs[s["host"]]
            entry["paid"] += s["cost"]
            if s["kind"] == "idle":
                entry["idle"] += s["cost"]
                entry["unowned"] += s["cost"] if not s["owner"] else ZERO
            elif s["kind"] == "unmeasured":
                entry["unmeasured"] += s["cost"]
                entry["unowned_unmeasured"] += s["cost"] if not s["owner"] else ZERO
            elif s["source"] == "gpu_tagged":
                entry["tagged_unmeasured"] += s["cost"]
    for host, row in sorted(costs.items()):
        measured = seconds.get(host, {})
        yield HostFacts(
            host=host,
            paid_cost=row["paid"],
            idle_cost=row["idle"],
            unowned_idle_cost=row["unowned"],
            unmeasured_cost=row["unmeasured"],
            unowned_unmeasured_cost=row["unowned_unmeasured"],
            tagged_unmeasured_cost=row["tagged_unmeasured"],
            paid_gpu_seconds=Decimal(measured.get("covered") or 0),
            idle_gpu_seconds=Decimal(measured.get("idle") or 0),
            zombie_seconds=measured.get("zombie") or 0,
            agent=host in agent_hosts,
        )


def _runs(org, jobs):
    approved = set(LearningQuestion.objects.for_org(org).values_list("run", flat=True))
    rows = (
        jobs.filter(purpose__in=("training", "research"))
        .exclude(job_id="")
        .values("job_id", "purpose")
        .annotate(cost=Sum(F("cost_completed_amount") + F("cost_failed_amount")), gpu=Sum("gpu_seconds"))
        .order_by("job_id")
        .values_list("job_id", "purpose", "cost", "gpu")
    )
    for job_id, purpose, cost, gpu in rows:
        yield RunFacts(job_id, purpose, cost or ZERO, gpu or ZERO, job_id in approved)


def route_facts(allocated) -> tuple:
    """Priced inference calls per (feature, model): calls, cost and tokens."""
    totals = defaultdict(lambda: [0, ZERO, 0])
    for s in allocated:
        if s["source"] == "api_calls" and s["bucket"] in ("inference", "retries") and not s["unpriced"]:
            entry = totals[(s["feature"], s["model"])]
            entry[0] += s["calls"] or 0
            entry[1] += s["cost"]
            entry[2] += (s["tin"] or 0) + (s["tout"] or 0)
    return tuple(RouteFacts(feature, model, *values) for (feature, model), values in sorted(totals.items()))


def _plan_premium(allocated, routes):
    premium = {a["feature"]: a["premium_model"] for a in premium_audit(routes)}
    plans = defaultdict(lambda: [0, 0, ZERO])
    for s in allocated:
        if s["source"] != "api_calls":
            continue
        entry = plans[s["plan"] or "(no plan)"]
        entry[1] += s["calls"] or 0
        if premium.get(s["feature"]) == s["model"]:
            entry[0] += s["calls"] or 0
            entry[2] += s["cost"]
    return [(plan, *values) for plan, values in sorted(plans.items())]


def _releases(org, start, end, settings):
    """(name, evaluation spend) of each release in the period: the spend of its day and of the days before it that
    the organisation's `evaluation_lookback_days` threshold names (whole days; a part of a day counts as one).
    The evaluation spend of every day any release looks back over is read once, per day."""
    since, until = as_utc_bounds(start, end)
    days = thresholds_with_defaults(settings.thresholds)["evaluation_lookback_days"]
    lookback = timedelta(days=int(days.to_integral_value(rounding=ROUND_CEILING)))
    in_period = Release.objects.for_org(org).filter(released_at__gte=since, released_at__lt=until)
    releases = [(release.name, release.released_at.date()) for release in in_period]
    if not releases:
        return
    first, last = min(day for _, day in releases) - lookback, max(day for _, day in releases) + timedelta(days=1)
    daily = (
        work_between(org=org, start=first, end=last)
        .filter(bucket="evaluation")
        .values("day")
        .annotate(total=Sum("cost_amount"))
        .order_by()
    )
    spend_on = {r["day"]: r["total"] for r in daily}
    for name, day in releases:
        window = (d for d in spend_on if day - lookback <= d <= day)
        yield name, sum((spend_on[d] for d in window), ZERO)


def _unevaluated_models(org, allocated, start, end):
    """(feature, model, cost) of models first used in production for a feature in the period with no evaluation
    calls of that model before."""
    candidates = defaultdict(lambda: ZERO)
    for s in allocated:
        if (s["source"] == "api_calls" and s["environment"] in PRODUCTION and s["model"]
                and s["bucket"] in ("inference", "retries")):  # fmt: skip
            candidates[(s["feature"], s["model"])] += s["cost"]
    if not candidates:
        return
    # Most routes ran in production the week before too: drop those with one short scan first.
    seen = set(
        work_between(org=org, start=start - timedelta(days=7), end=start)
        .filter(source="api_calls", environment__in=PRODUCTION)
        .values_list("feature", "model")
        .distinct()
    )
    candidates = {pair: cost for pair, cost in candidates.items() if pair not in seen}
    if not candidates:
        return
    # "Newly used" means not used in production in the four weeks before: a bounded look back, not all history,
    # read in one scan (first production use per feature and model, first evaluation per model).
    rows = (
        work_between(org=org, start=start - NEW_MODEL_LOOKBACK, end=end)
        .filter(source="api_calls", model__in={m for _, m in candidates})
        .values("feature", "model")
        .annotate(
            first=Min("day", filter=Q(environment__in=PRODUCTION)),
            evaluated=Min("day", filter=Q(bucket="evaluation")),
        )
        .order_by()
    )
    first_used, first_evaluated = {}, {}
    for r in rows:
        first_used[(r["feature"], r["model"])] = r["first"]
        if r["evaluated"] is not None:
            first_evaluated[r["model"]] = min(r["evaluated"], first_evaluated.get(r["model"], r["evaluated"]))
    for (feature, model), cost in sorted(candidates.items()):
        first = first_used.get((feature, model))
        if first is None or first < start:
            continue
        evaluated = first_evaluated.get(model)
        if evaluated is None or evaluated > first:
            yield feature, model, cost


def _window(commitment, end):
    since = max(end - timedelta(weeks=4), commitment.starts_on)
    until = min(end, commitment.ends_on) if commitment.ends_on else end
    return since, until


def _manual_commitments(org, end):
    """(name, used, unused) of the commitments entered on the commitments page, over the four weeks before `end`:
    reserved GPUs by their agents' busy share of every hour, API spend by the provider's cost in the rollups.
    Whatever the number of commitments, the rollups, the GPU-hours and the GPU counts are each read once, per day
    (and provider or host)."""
    commitments = []
    for commitment in Commitment.objects.for_org(org).filter(currency=org.currency, starts_on__lt=end):
        since, until = _window(commitment, end)
        if (until - since).days > 0:
            commitments.append((commitment, since, until))
    api = [c for c in commitments if c[0].kind == Commitment.Kind.API_SPEND]
    gpu = [c for c in commitments if c[0].kind != Commitment.Kind.API_SPEND]
    spend = _api_spend_per_day(org, api) if api else {}
    busy, gpus = _host_busy_per_day(org, gpu) if gpu else ({}, {})
    for commitment, since, until in commitments:
        days = (until - since).days
        if commitment.kind == Commitment.Kind.API_SPEND:
            provider = commitment.provider.lower()
            used = sum((t for (p, d), t in spend.items() if p == provider and since <= d < until), ZERO)
            committed = prorate_monthly(commitment.monthly_amount, days)
            share = used / committed if committed else ZERO
        else:
            names = set(commitment.host_names)
            count = sum(gpus.get(name, 0) for name in names)
            seconds = sum(s for (name, d), s in busy.items() if name in names and since <= d < until)
            share = Decimal(seconds) / (count * days * 86400) if count else ZERO
        used, unused = commitment_split(commitment.monthly_amount, days, share)
        yield commitment.name, used, unused


def _api_spend_per_day(org, commitments) -> dict:
    """{(provider, day): the provider's cost in the rollups} over the windows of API-spend `commitments`."""
    providers = {c[0].provider.lower() for c in commitments}
    rows = (
        work_between(org=org, start=min(c[1] for c in commitments), end=max(c[2] for c in commitments))
        .filter(currency=org.currency, source__in=("api_calls", "api_gap"), provider__in=providers)
        .values("provider", "day")
        .annotate(total=Sum("cost_amount"))
        .order_by()
    )
    return {(r["provider"], r["day"]): r["total"] for r in rows}


def _host_busy_per_day(org, commitments) -> tuple[dict, dict]:
    """({(host name, day): busy GPU-seconds}, {host name: GPUs}) of the hosts GPU `commitments` name, over their
    windows (days in UTC, as the windows' bounds)."""
    names = {name for c in commitments for name in c[0].host_names}
    begin, finish = as_utc_bounds(min(c[1] for c in commitments), max(c[2] for c in commitments))
    hours = (
        GpuHour.objects.for_org(org)
        .filter(gpu__host__name__in=names, hour__gte=begin, hour__lt=finish)
        .annotate(day=TruncDate("hour", tzinfo=UTC))
        .values("gpu__host__name", "day")
        .annotate(busy=Sum("busy_seconds"))
        .order_by()
    )
    counts = Gpu.objects.for_org(org).filter(host__name__in=names).values("host__name").annotate(n=Count("id"))
    busy = {(r["gpu__host__name"], r["day"]): r["busy"] or 0 for r in hours}
    return busy, {r["host__name"]: r["n"] for r in counts.order_by()}


def _promised(org, start, end):
    """(name, cost, revenue) over [start, end) of capacity promised to customers, pro rata from monthly figures."""
    days = (end - start).days
    for commitment in (
        Commitment.objects.for_org(org)
        .filter(currency=org.currency, starts_on__lt=end)
        .exclude(promised_revenue_amount=None)
    ):
        yield (
            commitment.name,
            prorate_monthly(commitment.monthly_amount, days),
            prorate_monthly(commitment.promised_revenue_amount, days),
        )


def _commitments(org, end):
    """(commitment id, used cost, unused cost) over the four weeks before `end`, from the bill's commitment lines."""
    since, until = as_utc_bounds(end - timedelta(weeks=4), end)
    rows = (
        CostLine.objects.for_org(org)
        .filter(charge_period_start__gte=since, charge_period_start__lt=until)
        .exclude(commitment_discount_id="")
        .values("commitment_discount_id")
        .annotate(
            used=Sum("billed_cost_amount", filter=~Q(commitment_discount_status__iexact="unused")),
            unused=Sum("billed_cost_amount", filter=Q(commitment_discount_status__iexact="unused")),
        )
        .order_by("commitment_discount_id")
    )
    return [(r["commitment_discount_id"], r["used"] or ZERO, r["unused"] or ZERO) for r in rows]


def commitment_list(*, org, today: date) -> list[dict]:
    """Commitments entered on the commitments page with their use over the last four weeks (None when unknown)."""
    measured = {name: (used, unused) for name, used, unused in _manual_commitments(org, today)}
    result = []
    for commitment in Commitment.objects.for_org(org):
        used, unused = measured.get(commitment.name, (None, None))
        share = used / (used + unused) if used is not None and used + unused else None
        result.append({"commitment": commitment, "used": used, "unused": unused, "utilisation": share})
    return result
