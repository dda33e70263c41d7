"""What pages and the API show, read from the rollups (never a total scanned from the raw ledgers)."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Context, Decimal

from django.db import connection
from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import TruncDate

from accounts.read_cache import ECONOMICS, cached_read
from finops.economics.anomalies import detect_anomalies, month_end_forecast
from finops.economics.customer_cost import CustomerCosts, customer_costs
from finops.economics.facts import HostFacts, PeriodFacts, RouteFacts, RunFacts
from finops.economics.metrics import weekly_metrics
from finops.economics.plans import PlanInputs, plan_check
from finops.economics.rules import (
    commitment_split,
    founder_table,
    premium_audit,
    thresholds_with_defaults,
)
from finops.models import (
    Bucket,
    BucketRule,
    Commitment,
    CustomerRollup,
    JobRollup,
    Label,
    LearningQuestion,
    Release,
    Rollup,
    RollupDay,
    WorkRollup,
)
from finops.money import prorate_monthly
from finops.selectors.inputs import economics_settings_for, fee_model
from ingest.models import CostLine, Gpu, GpuHost, GpuHour
from pricing.selectors import (
    customer_plans_on,
    plan_monthly_prices,
    recognised_revenue,
    revenue_known,
)

ZERO = Decimal(0)
FLOAT_SUMS = Context(prec=15)
PRODUCTION = ("prod", "production", "live")
NEW_MODEL_LOOKBACK = timedelta(days=28)


def rollups_between(*, org, start: date, end: date):
    """Rollup rows of the days in [start, end): every dimension, with the bill lines behind each amount."""
    return Rollup.objects.for_org(org).filter(day__gte=start, day__lt=end)


def work_between(*, org, start: date, end: date):
    """WorkRollup rows of the days in [start, end): the rollup without customer and route."""
    return WorkRollup.objects.for_org(org).filter(day__gte=start, day__lt=end)


def customers_between(*, org, start: date, end: date):
    """CustomerRollup rows of the days in [start, end): the rollup per customer and plan."""
    return CustomerRollup.objects.for_org(org).filter(day__gte=start, day__lt=end)


IDENTITY_TERMS = ("billed_total", "allocated", "idle", "unmeasured", "unattributed")
SUMMARY_SETS = {"kinds": ("currency", "kind"), "buckets": ("currency", "bucket"), "labels": ("currency", "label"),
                "sources": ("currency", "source"), "owners": ("currency", "kind", "owner")}  # fmt: skip


@cached_read(ECONOMICS)
def ledger_summary(*, org, start: date, end: date) -> dict:
    """The identity for [start, end) in the org's currency, by bucket and label; other currencies beside."""
    sets = slice_sets(org=org, start=start, end=end, sets=SUMMARY_SETS, every_currency=True)
    totals = defaultdict(lambda: dict.fromkeys(IDENTITY_TERMS, ZERO))
    for row in sets["kinds"]:
        totals[row["currency"]][row["kind"]] += row["cost"]
        totals[row["currency"]]["billed_total"] += row["cost"]
    mine = {name: [r for r in rows if r["currency"] == org.currency] for name, rows in sets.items()}
    by_bucket = dict.fromkeys(Bucket.values, ZERO)
    for row in mine["buckets"]:
        by_bucket[row["bucket"]] += row["cost"]
    by_label = dict.fromkeys(Label.values, ZERO)
    for row in mine["labels"]:
        by_label[row["label"]] += row["cost"]
    has_rows = org.currency in totals
    own = totals.pop(org.currency, None)
    return {
        "currency": org.currency,
        **(own or dict.fromkeys(IDENTITY_TERMS)),
        "by_bucket": by_bucket if has_rows else dict.fromkeys(Bucket.values),
        "by_label": by_label if has_rows else dict.fromkeys(Label.values),
        "unmeasured_owned": _cost(r for r in mine["owners"] if r["kind"] == "unmeasured" and r["owner"])
        if has_rows
        else None,
        "by_source": {r["source"]: r["cost"] for r in mine["sources"]},
        "other_currencies": {c: t for c, t in sorted(totals.items())},
        "unpriced_calls": sum(r["unpriced"] or 0 for r in sets["kinds"]),
    }


def _bounds(start: date, end: date):
    return datetime.combine(start, time(0), tzinfo=UTC), datetime.combine(end, time(0), tzinfo=UTC)


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
SLICE_COLUMNS = ("day", "currency", "kind", "source", "bucket", "label", "customer", "plan", "feature", "environment",
                 "provider", "model", "host", "owner", "deferrable", "has_unpriced", "by_key")  # fmt: skip
GPU_SOURCES = ("gpu_bill", "gpu_rate", "gpu_no_agent", "gpu_tagged")


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
    kinds = _group(sets["work"], "kind")
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
                _group(
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
        evaluation_cost=_cost(s for s in allocated["work"] if s["bucket"] == "evaluation"),
        trial_plan=settings.trial_plan,
        target_margin=Decimal(str(settings.target_margin_pct)) / 100,
        feature_cost=tuple(sorted(_group(allocated["work"], "feature").items())),
        environment_cost=tuple(sorted(_group(allocated["work"], "environment").items())),
        inference_calls=sum(s["calls"] or 0 for s in allocated["work"] if s["bucket"] == "inference"),
        failed_job_cost=customer_jobs["all_failed_cost"] or ZERO,
        training_research_cost=_cost(s for s in allocated["work"] if s["bucket"] in ("training", "research")),
        **(_rule_facts(org, start, end, allocated["work"], jobs) if with_rules else {}),
    )


def _rule_facts(org, start: date, end: date, work: list, jobs) -> dict:
    """The facts only the Founder Table rules read."""
    routes = _routes(work)
    deferrable = [s for s in work if s["deferrable"]]
    return {
        "untagged_allocated": _cost(s for s in work if s["source"] in ("cloud_shared", "api_gap")),
        "plan_prices": plan_prices_for(org=org, start=start, end=end),
        "runs": tuple(_runs(org, jobs)),
        "routes": routes,
        "deferrable_realtime_cost": _cost(deferrable),
        "deferrable_by_feature": tuple(sorted(_group(deferrable, "feature").items())),
        "unevaluated_models": tuple(_unevaluated_models(org, work, start, end)),
        "commitments": tuple(_commitments(org, end)) + tuple(_manual_commitments(org, end)),
        "promised": tuple(_promised(org, start, end)),
        "plan_premium": tuple(_plan_premium(work, routes)),
    }


def slice_sets(*, org, start: date, end: date, sets: dict = SLICE_SETS, every_currency: bool = False) -> dict:
    """{set name: [row dicts of its columns with cost, calls, unpriced, tin, tout]} of the org's rollups in its
    currency (in every currency with `every_currency`, for sets that group by it) for [start, end): sets by
    customer from CustomerRollup, the others from WorkRollup; per table on PostgreSQL one scan with GROUPING
    SETS, elsewhere one GROUP BY per set."""
    result = {}
    for model in (WorkRollup, CustomerRollup):
        mine = {name: columns for name, columns in sets.items() if ("customer" in columns) == (model is CustomerRollup)}
        if mine:
            result.update(_slices(model, org, start, end, mine, every_currency))
    return {name: result[name] for name in sets}


def _slices(model, org, start: date, end: date, sets: dict, every_currency: bool) -> dict:
    table = connection.ops.quote_name(model._meta.db_table)
    column = {c: connection.ops.quote_name(c) for c in SLICE_COLUMNS}
    sums = ("SUM(cost_amount) AS cost, SUM(calls) AS calls, SUM(unpriced_calls) AS unpriced, "
            "SUM(input_tokens) AS tin, SUM(output_tokens) AS tout")  # fmt: skip
    where = f"FROM {table} WHERE org_id = %s AND day >= %s AND day < %s"
    params = [org.pk, start, end]
    if not every_currency:
        where, params = f"{where} AND currency = %s", [*params, org.currency]
    names = list(sets)
    if connection.vendor == "postgresql":
        used = [c for c in SLICE_COLUMNS if any(c in sets[n] for n in names)]
        bits = f"GROUPING({', '.join(column[c] for c in used)})"
        grouping = ", ".join("(" + ", ".join(column[c] for c in sets[n]) + ")" for n in names)
        select = ", ".join(f"{column[c] if c in used else 'NULL'} AS {connection.ops.quote_name(c)}"
                           for c in SLICE_COLUMNS)  # fmt: skip
        sql = f"SELECT {select}, {bits} AS grouping_id, {sums} {where} GROUP BY GROUPING SETS ({grouping})"
        masks = {_mask(sets[n], used): n for n in names}
        key, query_params = "grouping_id", params
    else:
        parts = []
        for index, name in enumerate(names):
            select = ", ".join(
                f"{column[c] if c in sets[name] else 'NULL'} AS {connection.ops.quote_name(c)}" for c in SLICE_COLUMNS
            )
            group = ", ".join(column[c] for c in sets[name])
            parts.append(f"SELECT {select}, {index} AS grouping_id, {sums} {where} GROUP BY {group}")
        sql = " UNION ALL ".join(parts)
        masks = dict(enumerate(names))
        key, query_params = "grouping_id", params * len(names)
    result = {name: [] for name in names}
    with connection.cursor() as cursor:
        cursor.execute(sql, query_params)
        fields = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(fields, values, strict=True))
            name = masks[row.pop(key)]
            row["cost"] = _decimal(row["cost"])
            for count in ("calls", "unpriced", "tin", "tout"):  # PostgreSQL sums bigints as numeric
                row[count] = int(row[count] or 0)
            result[name].append(row)
    return result


def _mask(columns, used) -> int:
    """GROUPING()'s bits for a set: 1 for each of the `used` columns not in it, the first the highest bit."""
    return sum(1 << (len(used) - 1 - i) for i, c in enumerate(used) if c not in columns)


def _decimal(value) -> Decimal:
    """Sums come back as Decimal from PostgreSQL and as float or text from SQLite (its decimals are floats)."""
    if value is None:
        return ZERO
    if isinstance(value, float):  # as Django converts SQLite's sums: 15 significant digits
        return FLOAT_SUMS.create_decimal_from_float(value)
    return value if isinstance(value, Decimal) else Decimal(value)


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


def _revenue_plans(org, end: date, revenue: dict | None, slices, settings) -> dict | None:
    """{customer: plan} of paying customers whose rollup rows name no plan (no cost in the period), from Stripe."""
    named = {s["customer"] for s in slices if s["customer"] and s["plan"]}
    return _subscribed_plans(org, end, set(revenue or {}) - named, settings.trial_plan) or None


def _subscribed_plans(org, end: date, customers: set, trial_plan: str) -> dict:
    """{customer: plan} of `customers` from their Stripe subscriptions on the period's last day (one read)."""
    if not customers:
        return {}
    plans = customer_plans_on(org=org, day=end - timedelta(days=1), trial_plan=trial_plan)
    return {customer: plans[customer] for customer in sorted(customers) if plans.get(customer)}


def _customer_costs(slices) -> CustomerCosts:
    return customer_costs((s["kind"], s["customer"], s["by_key"], s["cost"]) for s in slices)


def _cost(slices) -> Decimal:
    return sum((s["cost"] for s in slices), ZERO)


def _group(slices, *fields) -> dict:
    """{value (or tuple of values): summed cost} of `slices` by `fields`."""
    totals = defaultdict(lambda: ZERO)
    for s in slices:
        key = s[fields[0]] if len(fields) == 1 else tuple(s[f] for f in fields)
        totals[key] += s["cost"]
    return dict(totals)


def _hosts(org, slices, start, end):
    since, until = _bounds(start, end)
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


def _routes(allocated) -> tuple:
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
    since, until = _bounds(start, end)
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
    begin, finish = _bounds(min(c[1] for c in commitments), max(c[2] for c in commitments))
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
    since, until = _bounds(end - timedelta(weeks=4), end)
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


@cached_read(ECONOMICS)
def customer_economics(*, org, start: date, end: date) -> list[dict]:
    """Per customer in [start, end): plan, revenue, direct and fully loaded AI cost, margins on both, jobs, cost
    per completed job, retries."""
    rows = (
        customers_between(org=org, start=start, end=end)
        .filter(currency=org.currency)
        .values("kind", "customer", "plan", "by_key")
        .annotate(total=Sum("cost_amount"))
        .order_by("customer", "plan")
    )
    slices, plans = [], {}
    for r in rows:
        slices.append((r["kind"], r["customer"], r["by_key"], r["total"]))
        if r["customer"] and (r["plan"] or r["customer"] not in plans):  # a known plan wins over none
            plans[r["customer"]] = r["plan"]
    split = customer_costs(slices)
    costs, loaded = split.direct, split.fully_loaded
    revenue, fees = revenue_and_fees(org=org, start=start, end=end)
    planless = {c for c in set(costs) | set(revenue or {}) if not plans.get(c)}
    if revenue is not None:  # no rollup row names their plan (no cost, or bill lines): Stripe does
        plans.update(_subscribed_plans(org, end, planless, economics_settings_for(org=org).trial_plan))
    jobs = {
        r["customer"]: r
        for r in JobRollup.objects.for_org(org)
        .filter(day__gte=start, day__lt=end, currency=org.currency)
        .exclude(customer="")
        .values("customer")
        .annotate(
            completed=Sum("jobs_completed"),
            failed=Sum("jobs_failed"),
            attempts=Sum("attempts"),
            cost=Sum("cost_completed_amount"),
            failed_cost=Sum("cost_failed_amount"),
        )
        .order_by()
    }
    customers = set(costs) | set(revenue or {})
    result = []
    for customer in sorted(customers, key=lambda c: (-loaded.get(c, ZERO), c)):
        cost, full = costs.get(customer, ZERO), loaded.get(customer, ZERO)
        j = jobs.get(customer, {})
        completed = j.get("completed") or 0
        attempts, all_jobs = j.get("attempts") or 0, completed + (j.get("failed") or 0)
        job_cost = (j.get("cost") or ZERO) + (j.get("failed_cost") or ZERO)
        earned = None if revenue is None else revenue.get(customer, ZERO)
        fee = fees.get(customer, ZERO)
        result.append(
            {
                "customer": customer,
                "plan": plans.get(customer) or None,
                "currency": org.currency,
                "revenue": earned,
                "ai_cost": cost,
                "fully_loaded_cost": full,
                "gross_margin": (earned - cost) / earned if earned else None,
                "fully_loaded_margin": (earned - full) / earned if earned else None,
                "gross_margin_after_fees": (earned - cost - fee) / earned if earned else None,
                "payment_fees": fee if revenue is not None else None,
                "loses_money": earned is not None and cost > earned,
                "completed_jobs": completed,
                "failed_jobs": j.get("failed") or 0,
                "cost_per_completed_job": job_cost / completed if completed else None,
                "retries_per_completed_job": Decimal(attempts - all_jobs) / completed if completed else None,
            }
        )
    return result


@cached_read(ECONOMICS)
def period_totals(*, org, start: date, end: date) -> dict:
    """The identity of [start, end) as the Founder Table's facts sum it (the page's cards), without unpacking the
    facts (a big bill's thousands of hosts) at each request."""
    facts = period_facts(org=org, start=start, end=end)
    return {"currency": org.currency, **{term: getattr(facts, term) for term in IDENTITY_TERMS}}


@cached_read(ECONOMICS)
def founder_table_rows(*, org, start: date, end: date, facts: PeriodFacts | None = None) -> list[dict]:
    """The ten Founder Table rows of [start, end) as dicts, with the org's thresholds (from `facts` when the
    caller already read the period's)."""
    facts = facts or period_facts(org=org, start=start, end=end)
    thresholds = economics_settings_for(org=org).thresholds
    return [vars(row) for row in founder_table(facts, thresholds)]


@cached_read(ECONOMICS)
def metrics_for_week(*, org, monday: date, facts: PeriodFacts | None = None) -> list[dict]:
    """The twelve metrics of the ISO week starting `monday` (from `facts` when the caller already read the
    week's), against the week before."""
    week = timedelta(days=7)
    now = facts or period_facts(org=org, start=monday, end=monday + week, with_rules=False)
    before = period_facts(org=org, start=monday - week, end=monday, with_rules=False)
    return weekly_metrics(now, before)


def last_rollup_at(*, org=None):
    """When any rollup (of `org`, or of any org) was last computed; None before the first."""
    days = RollupDay.objects.for_org(org) if org else RollupDay.objects.all()
    return days.order_by("-computed_at").values_list("computed_at", flat=True).first()


def bucket_rule_list(*, org):
    """The organisation's bucket rules, in the order they apply."""
    return BucketRule.objects.for_org(org)


def release_list(*, org):
    """Releases, newest first."""
    return Release.objects.for_org(org)


def learning_question_list(*, org):
    """Recorded learning questions, newest first."""
    return LearningQuestion.objects.for_org(org).order_by("-created_at")


ANOMALY_SETS = {
    # Daily spend by customer, feature and model, and the calls, tokens and model mix per day of each route.
    "customers": ("day", "kind", "customer"),
    "features": ("day", "kind", "feature"),
    "models": ("day", "kind", "model"),
    "routes": ("day", "kind", "source", "bucket", "feature", "model", "has_unpriced"),
}


def anomaly_inputs(*, org, week_start: date) -> tuple[dict, dict, dict]:
    """The daily spend and idle series, weekly ratios and premium shares that `detect_anomalies` reads: the
    week and the four before it, from one grouped read of their rollup rows (GROUPING SETS on PostgreSQL)."""
    since = week_start - timedelta(days=28)
    until = week_start + timedelta(days=7)
    sets = slice_sets(org=org, start=since, end=until, sets=ANOMALY_SETS)
    allocated = {name: [r for r in rows if r["kind"] == "allocated"] for name, rows in sets.items()}
    daily = defaultdict(dict)
    for name, field in (("customers", "customer"), ("features", "feature"), ("models", "model")):
        for r in allocated[name]:
            if r[field]:
                daily[("spend_spike", f"{field} {r[field]}")][_day(r["day"])] = r["cost"]
    begin, end = _bounds(since, until)
    idle = (
        GpuHour.objects.for_org(org)
        .filter(hour__gte=begin, hour__lt=end)
        .annotate(day=TruncDate("hour"))
        .values("day", "gpu__host__name")
        .annotate(seconds=Sum("idle_seconds"))
        .order_by()
    )
    for r in idle:
        daily[("idle_hours_jump", f"host {r['gpu__host__name']}")][r["day"]] = Decimal(r["seconds"]) / 3600
    calls = [r for r in allocated["routes"] if r["source"] == "api_calls"]
    premium = {a["feature"]: a["premium_model"] for a in premium_audit(_routes(allocated["routes"]))}
    tokens, mixes = defaultdict(lambda: [[0, 0] for _ in range(5)]), defaultdict(lambda: [None] * 5)
    for r in calls:
        week = (_day(r["day"]) - since).days // 7
        entry = tokens[r["feature"]][week]
        entry[0] += (r["tin"] or 0) + (r["tout"] or 0)
        entry[1] += r["calls"] or 0
        if r["feature"] in premium:
            mix = mixes[r["feature"]]
            mix[week] = mix[week] or [0, 0]
            mix[week][1] += r["calls"] or 0
            mix[week][0] += (r["calls"] or 0) if r["model"] == premium[r["feature"]] else 0
    ratios = defaultdict(lambda: [None] * 5)
    for feature, weeks in tokens.items():
        for i, (used, n) in enumerate(weeks):
            if n:
                ratios[("tokens_per_request_jump", f"feature {feature or '(none)'}")][i] = Decimal(used) / n
    for i, done, attempts in _job_weeks(org, since, until):
        if done:
            ratios[("retry_rate_jump", "all jobs")][i] = Decimal(attempts - done) / done
    shares = {f: [Decimal(p) / n if p is not None and n else None for p, n in (w or (None, 0) for w in weeks_)]
              for f, weeks_ in mixes.items()}  # fmt: skip
    return dict(daily), dict(ratios), shares


def _day(value) -> date:
    """A day from a raw cursor: a date on PostgreSQL, ISO text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _job_weeks(org, since: date, until: date):
    """(week index from `since`, jobs done, attempts) of each week in [since, until) with jobs."""
    per_day = (
        JobRollup.objects.for_org(org)
        .filter(day__gte=since, day__lt=until)
        .values("day")
        .annotate(attempts=Sum("attempts"), completed=Sum("jobs_completed"), failed=Sum("jobs_failed"))
        .order_by()
    )
    weeks = defaultdict(lambda: [0, 0])
    for r in per_day:
        entry = weeks[(r["day"] - since).days // 7]
        entry[0] += (r["completed"] or 0) + (r["failed"] or 0)
        entry[1] += r["attempts"] or 0
    return [(i, done, attempts) for i, (done, attempts) in sorted(weeks.items())]


def daily_billed(*, org, start: date, end: date) -> dict:
    """{day: everything the org paid that day} in its currency, from the rollups."""
    rows = work_between(org=org, start=start, end=end).filter(currency=org.currency)
    return {r["day"]: r["total"] for r in rows.values("day").annotate(total=Sum("cost_amount")).order_by()}


@cached_read(ECONOMICS)
def anomalies_for_week(*, org, week_start: date) -> list:
    """The week's anomalies against each series' own baseline, from five weeks of rollups."""
    daily, ratios, mixes = anomaly_inputs(org=org, week_start=week_start)
    return detect_anomalies(daily, ratios, mixes, week_start, currency=org.currency)


@cached_read(ECONOMICS)
def forecast_for_month(*, org, today: date):
    """Month-end forecast of what the org pays, from the rollups of the last weeks."""
    since = min(today.replace(day=1), today - timedelta(days=14))
    return month_end_forecast(daily_billed(org=org, start=since, end=today), today)


def commitment_list(*, org, today: date) -> list[dict]:
    """Commitments entered on the commitments page with their use over the last four weeks (None when unknown)."""
    measured = {name: (used, unused) for name, used, unused in _manual_commitments(org, today)}
    result = []
    for commitment in Commitment.objects.for_org(org):
        used, unused = measured.get(commitment.name, (None, None))
        share = used / (used + unused) if used is not None and used + unused else None
        result.append({"commitment": commitment, "used": used, "unused": unused, "utilisation": share})
    return result


@cached_read(ECONOMICS)
def plan_economics(*, org, start: date, end: date, customers: list[dict] | None = None) -> list[dict]:
    """Per plan in [start, end): price, customers, AI cost distribution, margin, losers and the suggested cap
    (from `customers`, the period's customer_economics, when the caller already read them)."""
    customers = customer_economics(org=org, start=start, end=end) if customers is None else customers
    prices = plan_prices_for(org=org, start=start, end=end) or {}
    known = any(row["revenue"] is not None for row in customers)
    revenue = {row["customer"]: row["revenue"] for row in customers} if known else None
    target = Decimal(str(economics_settings_for(org=org).target_margin_pct)) / 100
    allocated = work_between(org=org, start=start, end=end).filter(currency=org.currency, kind="allocated")
    tokens = {
        r["plan"]: (r["tin"] or 0) + (r["tout"] or 0)
        for r in allocated.values("plan").annotate(tin=Sum("input_tokens"), tout=Sum("output_tokens")).order_by()
    }
    jobs = {
        r["plan"]: r
        for r in JobRollup.objects.for_org(org)
        .filter(day__gte=start, day__lt=end, currency=org.currency)
        .exclude(customer="")
        .values("plan")
        .annotate(done=Sum("jobs_completed"), cost=Sum("cost_completed_amount"), failed=Sum("cost_failed_amount"))
        .order_by()
    }
    by_plan, loaded = defaultdict(dict), defaultdict(dict)
    for row in customers:
        by_plan[row["plan"] or ""][row["customer"]] = row["ai_cost"]
        loaded[row["plan"] or ""][row["customer"]] = row["fully_loaded_cost"]
    result = []
    for plan in sorted(set(by_plan) | set(prices)):
        j = jobs.get(plan, {})
        inputs = PlanInputs(
            plan=plan,
            price=prices.get(plan),
            costs=by_plan.get(plan, {}),
            revenue=revenue,
            tokens=tokens.get(plan, 0),
            completed_jobs=j.get("done") or 0,
            job_cost=(j.get("cost") or ZERO) + (j.get("failed") or ZERO),
            loaded_costs=loaded.get(plan, {}),
        )
        result.append({**plan_check(inputs, target), "currency": org.currency})
    return result


BREAKDOWN_SETS = {"daily": ("day", "kind"), "provider": ("provider",), "feature": ("feature",),
                  "environment": ("environment",), "owner": ("owner",)}  # fmt: skip


@cached_read(ECONOMICS)
def cost_breakdown(*, org, start: date, end: date) -> dict:
    """For the Costs page: per day allocated, idle, unmeasured and unattributed; the twelve largest providers,
    features, environments and owners (teams)."""
    sets = slice_sets(org=org, start=start, end=end, sets=BREAKDOWN_SETS)
    daily = defaultdict(lambda: dict.fromkeys(IDENTITY_TERMS[1:], ZERO))
    for r in sets["daily"]:
        daily[_day(r["day"])][r["kind"]] += r["cost"]

    def top(field):
        ranked = sorted(sets[field], key=lambda r: (-r["cost"], r[field]))
        return [(r[field] or "(none)", r["cost"]) for r in ranked[:12]]

    return {"daily": dict(sorted(daily.items())), "by_provider": top("provider"), "by_feature": top("feature"),
            "by_environment": top("environment"), "by_owner": top("owner")}  # fmt: skip
