"""What the costing of one organisation-day needs, read from the ledgers into frozen inputs."""

from collections import defaultdict, namedtuple
from dataclasses import fields, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter

from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.fields.json import KT

from finops.economics.allocation import BillShare, CallGroup, DayInputs, Dims, HostHour, Policy, Rule, group_key
from finops.models import BucketRule, EconomicsSettings, ExchangeRate, LearningQuestion
from finops.money import quantize_storage
from ingest.gpu_facts import MJ_PER_KWH
from ingest.gpu_names import LINE_FIELDS, line_gpu
from ingest.models import CostLine, Gpu, GpuHost, GpuHour, UsageEvent
from ingest.selectors import LLM_BILL_PROVIDERS, gpu_resource_marks
from ingest.services.tally import MAX_DAYS_PER_LINE
from pricing.selectors import customer_plans_on

LABEL_DIMS = {"customer": "customer", "feature": "feature", "job_id": "job_id", "purpose": "purpose",
              "owner": "owner", "env": "environment"}  # fmt: skip


def fee_model(settings) -> tuple[Decimal, Decimal]:
    """(share of a payment, fixed fee per payment) the organisation's payment processor takes."""
    return Decimal(str(settings.payment_fee_pct)) / 100, Decimal(str(settings.payment_fee_fixed_amount))


def target_margin(settings) -> Decimal:
    """The gross margin the organisation aims for, as a fraction (its setting is a percentage)."""
    return Decimal(str(settings.target_margin_pct)) / 100


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def policy_for(org) -> Policy:
    """The organisation's allocation choices, defaults where it made none."""
    settings = economics_settings_for(org=org)
    rules = tuple(Rule(r.field, r.pattern, r.bucket) for r in BucketRule.objects.for_org(org))
    runs = frozenset(LearningQuestion.objects.for_org(org).values_list("run", flat=True))
    return Policy(
        currency=org.currency,
        shared_cost_key=settings.shared_cost_key,
        api_gap_key=settings.api_gap_key,
        blend_weights=tuple(sorted((settings.blend_weights or {}).items())),
        group_keys=tuple((settings.group_keys or {}).items()),
        rules=rules,
        approved_runs=runs,
        deferrable_features=frozenset(settings.deferrable_features or ()),
    )


def economics_settings_for(*, org) -> EconomicsSettings:
    """The organisation's economics settings (unsaved defaults when it never changed them)."""
    return EconomicsSettings.objects.for_org(org).first() or EconomicsSettings(org=org)


def rates_on(*, org, day: date) -> tuple:
    """((currency, rate), ...) in force on `day`: the latest rate from on or before it, else the earliest entered
    (a rate entered today converts the history too, until an older one is entered)."""
    rates = {}
    for rate in ExchangeRate.objects.for_org(org).order_by("currency", "effective_from"):
        if rate.currency not in rates or rate.effective_from <= day:
            rates[rate.currency] = rate.rate
    return tuple(sorted(rates.items()))


def day_plans(*, org, day: date) -> dict:
    """{customer: plan} of the day's Stripe subscriptions, which win over the plan an event names."""
    return customer_plans_on(org=org, day=day, trial_plan=economics_settings_for(org=org).trial_plan)


def day_inputs(*, org, day: date, plans: dict | None = None, calls: bool = True, grouped: bool = False) -> DayInputs:
    """Bills, GPU host hours and model calls (none unless `calls`) of one UTC day of `org`, ready for
    `allocate_day`; `plans` as `day_plans` returns them, when the caller has them. `grouped` (PostgreSQL only): the
    bill lines that allocate_day places by a plain sum come summed (`_bill_shares`)."""
    policy = replace(policy_for(org), rates=rates_on(org=org, day=day))
    plans = day_plans(org=org, day=day) if plans is None else plans
    hosts = {h.pk: h for h in GpuHost.objects.for_org(org)}
    by_resource = {h.bill_resource_id: h for h in hosts.values() if h.bill_resource_id}
    for host in hosts.values():  # a bill resource named exactly as an agent host (or its machine) is that host
        for name in (host.name, host.reported_hostname):
            if name:
                by_resource.setdefault(name, host)
    return DayInputs(
        day=day,
        bills=tuple(_bill_shares(org, day, by_resource, plans, gpu_resource_marks(org=org), policy, grouped)),
        host_hours=tuple(_host_hours(org, day, hosts, plans)),
        calls=day_call_groups(org=org, day=day, plans=plans) if calls else (),
        policy=policy,
    )


def day_call_groups(*, org, day: date, plans: dict) -> tuple:
    """The day's calls by slice (CallGroup), in a stable order."""
    return tuple(sorted(_call_groups(org, day, plans), key=_call_order))


# The columns of a bill line that decide its share's category, dimensions and currency (LINE_FIELDS among them).
LINE_COLUMNS = ("provider", "customer", "feature", "environment", "owner", "purpose", "service_name", "resource_id",
                "resource_name", "resource_type", "sku_id", "gpu_type", "charge_description", "service_category",
                "commitment_discount_status", "currency")  # fmt: skip
_Line = namedtuple("_Line", ("pk", "charge_period_start", "charge_period_end", "billed_cost_amount", *LINE_COLUMNS))
# Whole lines of the day that share every LINE_COLUMNS value: their ids, summed cost, and whether any is positive or
# negative.
_Group = namedtuple("_Group", ("ids", "billed_cost_amount", "positive", "negative", *LINE_COLUMNS))


def _bill_shares(org, day, by_resource, plans, marks, policy, grouped: bool) -> list[BillShare]:
    """The day's bill lines as BillShares, in line id order.

    `grouped` (PostgreSQL): whole lines of the day that allocate_day places by a plain sum are summed in SQL by
    LINE_COLUMNS, one share per group (`line_ids`), and only the others are read line by line: lines that cross the
    day's bounds (prorated), lines of a resource an agent host maps (spread per hour), lines in another currency with
    a rate (converted one by one), and, read again line by line, a GPU resource's lines when it has credits to net,
    and shared lines under an allocation key (split per line). Else every line is read and placed on its own (the
    oracle of tests/finops/test_rollup_bills.py)."""
    start, end = day_bounds(day)
    if grouped and connection.vendor == "postgresql":
        groups, lines = _lines_grouped(org, start, end, by_resource, policy)
    else:
        groups, lines = (), _lines(org, start, end)
    shares = [_line_share(line, start, end, by_resource, plans, marks) for line in lines]
    summed = [(group, _line_share(group, start, end, by_resource, plans, marks)) for group in groups]
    credited = {s.dims.host for s in shares if s.category == "gpu" and s.amount < 0}
    credited |= {share.dims.host for group, share in summed if share.category == "gpu" and group.negative}
    again = []
    for group, share in summed:
        if (share.category == "gpu" and share.dims.host in credited) or (
            share.category == "cloud" and not share.tagged and group_key(share.dims.service, policy) != "none"
        ):
            again += group.ids
        else:
            shares.append(share)
    if again:
        lines = CostLine.objects.for_org(org).filter(pk__in=again).values_list(*_Line._fields)
        shares += [_line_share(_Line(*row), start, end, by_resource, plans, marks) for row in lines]
    return sorted(shares, key=attrgetter("line_id"))


def _lines(org, start, end) -> list:
    """Every line with a part in [start, end), in id order."""
    lines = CostLine.objects.for_org(org).filter(
        Q(charge_period_start__gte=start, charge_period_start__lt=end)
        | Q(
            charge_period_start__gte=start - timedelta(days=MAX_DAYS_PER_LINE),
            charge_period_start__lt=start,
            charge_period_end__gt=start,
        )
    )
    return sorted(map(_Line._make, lines.values_list(*_Line._fields)), key=attrgetter("pk"))


def _lines_grouped(org, start, end, by_resource, policy) -> tuple[list, list]:
    """(groups, lines), by one statement: the whole lines of [start, end) that can be summed, grouped by LINE_COLUMNS;
    the others (and the lines that run into the day from before it, found by the partial index of lines that cross a
    UTC midnight, ingest migration 0009) one by one."""
    params = {"org": org.pk, "start": start, "end": end, "back": start - timedelta(days=MAX_DAYS_PER_LINE),
              "hosts": list(by_resource), "currency": policy.currency,
              "rated": [c for c, _ in policy.rates if c != policy.currency]}  # fmt: skip
    groups, lines = [], []
    with connection.cursor() as cursor:
        cursor.execute(GROUPED.format(columns=", ".join(LINE_COLUMNS), summed=SUMMED, crossing=CROSSING), params)
        for single, ids, amount, positive, negative, begin, finish, *rest in cursor.fetchall():
            if single is None:
                groups.append(_Group(sorted(ids), amount, positive, negative, *rest))
            else:
                lines.append(_Line(single, begin, finish, amount, *rest))
    return groups, sorted(lines, key=attrgetter("pk"))


# A whole line of the day that allocate_day places by a plain sum: inside the day (or with no end), of no agent host's
# resource, and in the org's currency or one with no rate (unattributed as it is).
SUMMED = """(charge_period_end IS NULL OR charge_period_end <= %(end)s) AND NOT resource_id = ANY(%(hosts)s::text[])
    AND NOT (currency <> %(currency)s AND currency = ANY(%(rated)s::text[]))"""
# A line that runs past the UTC midnight after its start: every line that runs into a day from before it does. The
# predicate of the partial index costline_org_crossing (ingest migration 0009), word for word so the planner uses it.
CROSSING = """charge_period_end > (date_trunc('day', charge_period_start AT TIME ZONE 'UTC') + interval '1 day')
    AT TIME ZONE 'UTC'"""
# The day's lines in one scan: those SUMMED grouped (`single` NULL), each other one a group of its own (`single` its
# id, with its charge period: a group's is not read, parsing its timestamps costs more than the rest of its row); then
# the lines from before the day that run into it.
GROUPED = """
SELECT single, array_agg(id), sum(billed_cost_amount), bool_or(billed_cost_amount > 0),
       bool_or(billed_cost_amount < 0), CASE WHEN single IS NOT NULL THEN min(charge_period_start) END,
       CASE WHEN single IS NOT NULL THEN min(charge_period_end) END, {columns}
FROM (SELECT CASE WHEN {summed} THEN NULL ELSE id END AS single, id, billed_cost_amount, charge_period_start,
             charge_period_end, {columns}
      FROM ingest_costline
      WHERE org_id = %(org)s AND charge_period_start >= %(start)s AND charge_period_start < %(end)s) AS line
GROUP BY single, {columns}
UNION ALL
SELECT id, NULL, billed_cost_amount, NULL, NULL, charge_period_start, charge_period_end, {columns}
FROM ingest_costline
WHERE org_id = %(org)s AND charge_period_start >= %(back)s AND charge_period_start < %(start)s
    AND charge_period_end > %(start)s AND {crossing}
"""


def _line_share(line, start, end, by_resource, plans, marks) -> BillShare:
    """One line's (a _Line) or one group's (a _Group: whole lines, summed) share of the day."""
    host = by_resource.get(line.resource_id)
    category = _category(line, host, marks.get(line.resource_id or line.resource_name))
    dims = Dims(customer=line.customer, feature=line.feature, environment=line.environment,
                owner=line.owner or (host.owner if host else ""), purpose=line.purpose, provider=line.provider,
                host=host.name if host else "", service=line.service_name,
                resource=line.resource_id or line.resource_name)  # fmt: skip
    if category == "gpu" and not host:
        dims = replace(dims, host=line.resource_id or line.resource_name or _unnamed_resource(line))
    dims = _with_plan(dims, plans)
    if isinstance(line, _Group):
        hourly, amount, line_id, line_ids = (), line.billed_cost_amount, line.ids[0], tuple(line.ids)
    else:
        hourly = _hourly(line, start, end) if host and category == "gpu" else ()
        amount = sum((a for _, a in hourly), Decimal(0)) if hourly else _share(line, start, end)
        line_id, line_ids = line.pk, ()
    return BillShare(
        line_id=line_id,
        amount=amount,
        currency=line.currency,
        category=category,
        dims=dims,
        tagged=bool(line.customer or line.feature or line.owner or line.purpose),
        llm_provider=LLM_BILL_PROVIDERS.get(line.provider.strip().lower(), ""),
        hourly=hourly,
        line_ids=line_ids if len(line_ids) > 1 else (),
    )


def _category(line, host, marked_gpu: bool | None) -> str:
    """llm, commitment_unused, gpu or cloud. A line is GPU compute when its resource is an agent host's, or the
    organisation marked it so, or (unmarked) its names say so; a mark "not a GPU" wins over the names."""
    if LLM_BILL_PROVIDERS.get(line.provider.strip().lower()):
        return "llm"
    if line.commitment_discount_status.strip().lower() == "unused":
        return "commitment_unused"
    if host or marked_gpu:
        return "gpu"
    if marked_gpu is None and _names_gpu(_line_names(line)):
        return "gpu"
    return "cloud"


def _unnamed_resource(line) -> str:
    """A GPU line with no resource id or name still belongs to a host: one per provider and SKU (or GPU type)."""
    return f"(unnamed) {line.provider} {line.sku_id or line.gpu_type}".strip()


_line_names = attrgetter(*LINE_FIELDS)


@lru_cache(maxsize=65536)
def _names_gpu(names: tuple) -> bool:
    """Whether a line's naming fields (LINE_FIELDS, in order) name a GPU: a day repeats the same few names a lot."""
    return line_gpu(**dict(zip(LINE_FIELDS, names, strict=True))) is not None


def _span(line):
    begin, end = line.charge_period_start, line.charge_period_end
    if not end or end <= begin:
        return begin, None
    # Ingest marks at most MAX_DAYS_PER_LINE days after a line's first one dirty, and a day reads lines from that
    # far back only: a longer line (a year's commitment) is spread over the days it marked, so none of it is lost.
    last = datetime.combine(begin.astimezone(UTC).date(), time(0), tzinfo=UTC) + timedelta(days=MAX_DAYS_PER_LINE + 1)
    return begin, min(end, last)


def _share(line, start, end) -> Decimal:
    """The part of a line's billed cost inside [start, end), spread evenly over its charge period."""
    begin, finish = _span(line)
    if finish is None:
        return line.billed_cost_amount if start <= begin < end else Decimal(0)
    overlap = (min(finish, end) - max(begin, start)).total_seconds()
    if overlap <= 0:
        return Decimal(0)
    if begin >= start and finish <= end:
        return line.billed_cost_amount
    duration = Decimal(int((finish - begin).total_seconds()))
    return quantize_storage(line.billed_cost_amount * Decimal(int(overlap)) / duration)


def _hourly(line, start, end) -> tuple:
    """((hour, amount), ...) of a line inside the day, spread per hour."""
    begin, finish = _span(line)
    if finish is None:
        return ((begin.replace(minute=0, second=0, microsecond=0), line.billed_cost_amount),)
    total = Decimal(int((finish - begin).total_seconds()))
    parts = []
    hour = max(begin, start).replace(minute=0, second=0, microsecond=0)
    while hour < min(finish, end):
        overlap = (min(finish, hour + timedelta(hours=1), end) - max(begin, hour, start)).total_seconds()
        if overlap > 0:
            parts.append((hour, quantize_storage(line.billed_cost_amount * Decimal(int(overlap)) / total)))
        hour += timedelta(hours=1)
    if begin >= start and finish <= end and parts:  # the whole line is in the day: its parts sum exactly
        last_hour, last = parts[-1]
        parts[-1] = (last_hour, last + line.billed_cost_amount - sum((a for _, a in parts), Decimal(0)))
    return tuple(parts)


def _with_plan(dims: Dims, plans: dict) -> Dims:
    return replace(dims, plan=plans[dims.customer]) if dims.customer in plans else dims


def _labels_dims(key: str) -> Dims:
    values = {}
    for part in key.split(";") if key else ():
        name, _, value = part.partition("=")
        if name in LABEL_DIMS:
            values[LABEL_DIMS[name]] = value
    return Dims(**values)


def _host_hours(org, day, hosts, plans):
    start, end = day_bounds(day)
    gpu_counts = dict(Gpu.objects.for_org(org).values("host_id").annotate(n=Count("id")).values_list("host_id", "n"))
    grouped = defaultdict(lambda: {"covered": 0, "unowned": 0, "energy": None, "work": defaultdict(Decimal)})
    for fact in GpuHour.objects.for_org(org).filter(hour__gte=start, hour__lt=end).select_related("gpu"):
        entry = grouped[(fact.gpu.host_id, fact.hour)]
        entry["covered"] += fact.covered_seconds
        entry["unowned"] += fact.unowned_seconds
        if fact.energy_mj is not None:
            entry["energy"] = (entry["energy"] or 0) + fact.energy_mj
        for key, seconds in (fact.gpu_seconds_by_label or {}).items():
            entry["work"][key] += Decimal(seconds)
    settings = economics_settings_for(org=org)
    for (host_id, hour), entry in sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        host = hosts[host_id]
        own_cost = None
        if host.hourly_rate_amount is not None:
            own_cost = host.hourly_rate_amount
            if entry["energy"] is not None and settings.electricity_price_amount:
                kwh = Decimal(entry["energy"]) / MJ_PER_KWH
                own_cost += quantize_storage(kwh * settings.electricity_price_amount * settings.pue)
        workloads = tuple(sorted((_with_plan(_labels_dims(k), plans), s) for k, s in entry["work"].items() if s > 0))
        yield HostHour(
            host=host.name,
            hour=hour,
            gpus=gpu_counts.get(host_id, 0),
            owner=host.owner,
            covered_seconds=entry["covered"],
            unowned_seconds=entry["unowned"],
            workloads=workloads,
            own_cost=own_cost,
            currency=host.currency or org.currency,
        )


CALL_DIMS = ("provider", "model", "route", "customer", "plan", "feature", "environment", "purpose", "job_id", "attempt",
             "status", "currency")  # fmt: skip


_dims_values = attrgetter(*(f.name for f in fields(Dims)))


def _call_order(call: CallGroup) -> tuple:
    """Every dimension in order (all text), then attempt, status and currency: a stable order for the splits."""
    return (*_dims_values(call.dims), call.attempt, call.status, call.currency)


def _call_groups(org, day, plans):
    """The day's calls by slice; a customer's plan is its Stripe subscription's that day, else the events' own."""
    start, end = day_bounds(day)
    rows = (
        UsageEvent.objects.for_org(org)
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .annotate(plan=KT("metadata__plan"))
        .values(*CALL_DIMS)
        .annotate(
            calls=Sum("request_count"),
            unpriced=Sum("request_count", filter=Q(cost_source=UsageEvent.CostSource.UNPRICED)),
            cost=Sum("cost_amount"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
        )
        .order_by()
        .values_list(*CALL_DIMS, "calls", "unpriced", "cost", "input_tokens", "output_tokens")
    )
    for (provider, model, route, customer, plan, feature, environment, purpose, job_id, attempt, status, currency,
         calls, unpriced, cost, input_tokens, output_tokens) in rows:  # fmt: skip
        dims = Dims(customer=customer, plan=plans.get(customer) or plan or "", feature=feature,
                    environment=environment, provider=provider.strip().lower(), model=model, route=route,
                    job_id=job_id, purpose=purpose)  # fmt: skip
        yield CallGroup(dims, attempt, status, calls or 0, unpriced or 0, cost or Decimal(0), currency or org.currency,
                        input_tokens or 0, output_tokens or 0)  # fmt: skip
