"""Costing and allocation of one organisation-day: pure Decimal arithmetic over frozen inputs.

Everything the organisation paid for the day becomes exactly one `Item`, so that
`billed_total = allocated + idle + unmeasured + unattributed` holds by construction, per currency,
and the items' sum equals the inputs' sum to the 10th decimal place (ECONOMICS.md is the specification):

- GPU hosts: an hour's cost (its bill lines spread per hour, or the hourly rate plus energy of
  owned hardware) is split by the GPU-seconds each workload used; the rest is idle, "owned" when
  the host or its processes have an owner. GPU cost no agent reported on is not idle (nobody saw it
  idle): a line tagged to a workload (customer, feature, purpose) is allocated by its tags, marked
  not measured (`gpu_tagged`); the rest is unmeasured (`gpu_no_agent`), owned when it has an owner.
- Token spend: each call at its cost; where the provider's own bill for the day is known, the
  gap between the bill and the logged calls is unattributed (or allocated by the org's key), and
  when the calls are priced above the bill, they are scaled down to it (the bill wins).
- Other bill lines: tagged lines go to their tags; untagged ones to the org's shared-cost key, or
  stay unattributed (the mystery bucket). Unused commitment is idle.
"""

import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

from finops.money import STORAGE_QUANTUM, quantize_storage

ZERO = Decimal(0)
SECONDS_PER_HOUR = 3600

PURPOSE_BUCKETS = {
    "inference": "inference",
    "batch": "inference",
    "evaluation": "evaluation",
    "training": "training",
    "tuning": "training",
    "fine-tuning": "training",
    "research": "research",
    "training-data": "research",
}


@dataclass(frozen=True, order=True)
class Dims:
    """Who and what a cost is for; empty string means not known."""

    customer: str = ""
    plan: str = ""
    feature: str = ""
    environment: str = ""
    owner: str = ""
    provider: str = ""
    model: str = ""
    route: str = ""
    host: str = ""
    job_id: str = ""
    purpose: str = ""
    service: str = ""
    resource: str = ""


@dataclass(frozen=True)
class BillShare:
    """One bill line's cost inside the day. `hourly` is set for a GPU line mapped to an agent host.

    Or, with `line_ids`, the summed cost of several whole lines (`line_id` the first) that allocate_day places as
    one: lines whose items only differ by their amount and line ids, so that the rollup rows are the same (no
    conversion, hours, credits to net or key to split them by: finops/selectors/inputs.py says which)."""

    line_id: int
    amount: Decimal
    currency: str
    category: str  # "gpu", "llm", "commitment_unused" or "cloud"
    dims: Dims = Dims()
    tagged: bool = False
    llm_provider: str = ""
    hourly: tuple = ()  # ((hour, amount), ...) summing to `amount`
    line_ids: tuple = ()  # every line of a summed share, in order; () for one line

    @property
    def ids(self) -> tuple:
        return self.line_ids or (self.line_id,)


@dataclass(frozen=True)
class HostHour:
    """One agent host over one hour: GPUs, what the agent saw and, for owned hardware, its own cost."""

    host: str
    hour: datetime
    gpus: int
    owner: str = ""
    covered_seconds: int = 0
    unowned_seconds: int = 0
    workloads: tuple = ()  # ((Dims, gpu_seconds Decimal), ...)
    own_cost: Decimal | None = None  # hourly rate + energy of owned hardware; None when a bill prices it
    currency: str = ""


@dataclass(frozen=True)
class CallGroup:
    """Calls of one slice that share a job attempt and status; `cost` covers the priced ones only."""

    dims: Dims
    attempt: int = 1
    status: str = "ok"
    calls: int = 1
    unpriced_calls: int = 0
    cost: Decimal = ZERO
    currency: str = "USD"
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Rule:
    field: str
    pattern: str
    bucket: str


@dataclass(frozen=True)
class Policy:
    """The organisation's choices that shape allocation."""

    currency: str = "USD"
    shared_cost_key: str = "none"
    api_gap_key: str = "none"
    blend_weights: tuple = ()  # ((key, weight), ...)
    group_keys: tuple = ()  # ((service name pattern, key), ...): a cost group's own key, else shared_cost_key
    rates: tuple = ()  # ((currency, value of one unit in the org's currency), ...) for the day
    rules: tuple = ()  # Rule, in order
    approved_runs: frozenset = frozenset()  # job ids with a recorded learning question
    deferrable_features: frozenset = frozenset()


@dataclass(frozen=True)
class DayInputs:
    day: date
    bills: tuple = ()
    host_hours: tuple = ()
    calls: tuple = ()
    policy: Policy = Policy()


@dataclass(frozen=True)
class CallTotals:
    """What the rest of a day's allocation reads of its call items, for a day whose calls were costed and rolled up
    elsewhere (in SQL, finops/services/rollup_calls.py): per provider, the calls' cost in the org's currency (the API
    bill's gap); per customer, the plan of their last call item, their tokens and their calls (the allocation keys;
    only needed when a key is set)."""

    logged: tuple = ()  # ((provider, amount), ...)
    customers: tuple = ()  # ((customer, plan, tokens, calls), ...)


@dataclass(frozen=True)
class Item:
    """One allocated, idle or unattributed amount, with its provenance."""

    kind: str
    source: str
    bucket: str
    label: str
    dims: Dims
    amount: Decimal
    currency: str
    calls: int = 0
    unpriced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    gpu_seconds: Decimal = ZERO
    job_outcome: str = ""
    deferrable: bool = False
    cost_line_ids: tuple = field(default=())


def split_exact(amount: Decimal, weights: list) -> list[Decimal]:
    """`amount` in parts proportional to `weights`, at storage precision, summing exactly to `amount`.

    Largest remainders: each part is rounded toward zero, then the units left over go one each to the parts that
    lost the most (ties to the larger weight, then the first), so no part of a positive amount is negative and
    none is off by more than one unit; digits of an amount finer than storage go to the largest part."""
    total = sum(weights, ZERO)
    if not weights:
        return []
    if total <= 0:
        return [amount] + [ZERO] * (len(weights) - 1)
    exact = [amount * Decimal(w) / total for w in weights]
    parts = [e.quantize(STORAGE_QUANTUM, rounding=ROUND_DOWN) for e in exact]
    left = amount - sum(parts, ZERO)
    step = STORAGE_QUANTUM if left > 0 else -STORAGE_QUANTUM
    order = sorted(range(len(parts)), key=lambda i: (-abs(exact[i] - parts[i]), -weights[i], i))
    for i in order[: int(abs(left) / STORAGE_QUANTUM)]:
        parts[i] += step
    largest = max(range(len(parts)), key=lambda i: weights[i])
    parts[largest] += amount - sum(parts, ZERO)
    return parts


def bucket_for(dims: Dims, rules: tuple, *, gpu: bool) -> str:
    """The spend bucket of a workload: its purpose, else the org's rules, else a default by kind."""
    known = PURPOSE_BUCKETS.get(dims.purpose.strip().lower())
    if known:
        return known
    for rule in rules:
        value = getattr(dims, rule.field, "") if rule.field != "service" else dims.service
        if value and fnmatch.fnmatch(value.lower(), rule.pattern.lower()):
            return rule.bucket
    if dims.customer or (not gpu and dims.feature):
        return "inference"
    return "waste"


def label_for(bucket: str, dims: Dims, approved_runs: frozenset) -> str:
    """customer_value, product_proof, approved_learning or unlabelled (ECONOMICS.md, Buckets and labels)."""
    if bucket in ("inference", "retries") and dims.customer:
        return "customer_value"
    if bucket == "evaluation":
        return "product_proof"
    if bucket in ("training", "research") and dims.job_id and dims.job_id in approved_runs:
        return "approved_learning"
    return "unlabelled"


def allocate_day(inputs: DayInputs, calls_done: CallTotals | None = None) -> list[Item]:
    """Every cost of the day as items; their sum equals the bills' day shares plus owned-host cost plus
    calls of providers with no bill that day. With `calls_done`, the calls were allocated elsewhere (none in
    `inputs`): the items are the rest, placed exactly as they would be beside the call items."""
    policy = inputs.policy
    rates = dict(policy.rates)
    bills = [convert_bill(b, rates, policy.currency) for b in inputs.bills]
    calls = [convert_call(c, rates, policy.currency) for c in inputs.calls]
    items: list[Item] = []
    host_bill = defaultdict(lambda: defaultdict(list))  # host -> hour -> [(line id, amount, line dims)]
    llm_bills = defaultdict(list)  # provider -> [BillShare]
    unmapped = defaultdict(list)  # GPU resource no agent host maps -> [(dims, amount, line ids)]
    shared = []
    for bill in bills:
        if bill.currency != policy.currency:
            items.append(_unattributed(bill, "no_rate"))
        elif bill.category == "llm":
            llm_bills[bill.llm_provider].append(bill)
        elif bill.category == "commitment_unused":
            items.append(_idle(bill.dims, bill.amount, bill.currency, "commitment_unused", bill.ids))
        elif bill.category == "gpu" and bill.hourly:
            for hour, amount in bill.hourly:
                host_bill[bill.dims.host][hour].append((bill.line_id, amount, bill.dims))
        elif bill.category == "gpu":
            unmapped[bill.dims.host].append((bill.dims, bill.amount, bill.ids))
        elif bill.tagged:
            bucket = bucket_for(bill.dims, policy.rules, gpu=False)
            label = label_for(bucket, bill.dims, policy.approved_runs)
            items.append(
                Item("allocated", "cloud_tagged", bucket, label, bill.dims, bill.amount, bill.currency,
                     cost_line_ids=bill.ids)
            )  # fmt: skip
        else:
            shared.append(bill)
    for parts in unmapped.values():
        items += [
            _unmeasured_gpu(dims, amount, policy.currency, ids, policy) for dims, amount, ids in net_credits(parts)
        ]
    items += _gpu_hosts(inputs.host_hours, host_bill, policy)
    if calls_done is None:
        items += _calls(calls, llm_bills, policy)
        seen = items
    else:  # the call items' stand-ins, where the call items would be, for the keys and the gaps only
        seen = items + _stand_ins(calls_done, policy.currency)
    keys = _Keys(seen, policy)  # the day's work (GPU and calls) decides every key's weights, computed once
    gaps = _api_gaps(seen, llm_bills, policy, keys)
    items += gaps
    if seen is not items:
        seen += gaps
    items += [i for bill in shared for i in keys.place(bill.amount, bill.dims, "cloud_shared", bill.ids,
                                                        group_key(bill.dims.service, policy))]  # fmt: skip
    return items


def _stand_ins(totals: CallTotals, currency: str) -> list[Item]:
    """Items that weigh in the keys and the gaps as the call items they sum would: one per provider with its calls'
    cost in `currency`, one per customer (their last plan, tokens and calls) with none."""
    items = [Item("allocated", "api_calls", "", "", Dims(provider=p), amount, currency) for p, amount in totals.logged]
    items += [Item("allocated", "api_calls", "", "", Dims(customer=customer, plan=plan), ZERO, currency, calls=calls,
                   input_tokens=tokens) for customer, plan, tokens, calls in totals.customers]  # fmt: skip
    return items


def llm_bills_of(inputs: DayInputs) -> dict:
    """{provider: its LLM bill lines' cost in the org's currency} of the day, as allocate_day reads them (converted at
    the day's rate; a line with no rate is unattributed and bills nothing)."""
    policy = inputs.policy
    rates = dict(policy.rates)
    bills = defaultdict(lambda: ZERO)
    for bill in inputs.bills:
        bill = convert_bill(bill, rates, policy.currency)
        if bill.currency == policy.currency and bill.category == "llm":
            bills[bill.llm_provider] += bill.amount
    return dict(bills)


def keys_used(policy: Policy) -> bool:
    """Whether any allocation key can place cost on customers (their weights are then read)."""
    return any(
        key != "none" for key in (policy.shared_cost_key, policy.api_gap_key, *(k for _, k in policy.group_keys))
    )


def convert_bill(bill: BillShare, rates: dict, currency: str) -> BillShare:
    """A line in another currency in the org's currency at the day's rate (exactly: every hourly part converted,
    the whole their sum); unchanged when no rate is known, so it stays unattributed in its own currency."""
    rate = rates.get(bill.currency)
    if bill.currency == currency or rate is None:
        return bill
    hourly = tuple((hour, quantize_storage(amount * rate)) for hour, amount in bill.hourly)
    amount = sum((a for _, a in hourly), ZERO) if hourly else quantize_storage(bill.amount * rate)
    return replace(bill, amount=amount, currency=currency, hourly=hourly)


def convert_call(call: CallGroup, rates: dict, currency: str) -> CallGroup:
    """Calls with a reported cost in another currency, converted at the day's rate when one is known."""
    rate = rates.get(call.currency)
    if call.currency == currency or rate is None:
        return call
    return replace(call, cost=quantize_storage(call.cost * rate), currency=currency)


def _idle(dims, amount, currency, source, line_ids=()) -> Item:
    return Item("idle", source, "idle", "unlabelled", dims, amount, currency, cost_line_ids=tuple(line_ids))


def net_credits(parts: list) -> list:
    """[(dims, amount, line ids)] of one GPU resource, with its negative parts (credits, discounts) spread over its
    positive ones in proportion, exactly: a credit belongs to the use it discounts, whoever that was tagged to, so an
    untagged discount never makes unmeasured cost negative beside a customer's full price. Unchanged unless there
    are both."""
    positive = [p for p in parts if p[1] > 0]
    negative = [p for p in parts if p[1] < 0]
    if not positive or not negative:
        return parts
    credit_ids = tuple(i for _, _, ids in negative for i in ids)
    shares = split_exact(sum((a for _, a, _ in negative), ZERO), [a for _, a, _ in positive])
    netted = [(dims, amount + share, (*ids, *credit_ids))
              for (dims, amount, ids), share in zip(positive, shares, strict=True)]  # fmt: skip
    return netted + [p for p in parts if p[1] == 0]


def _unmeasured_gpu(dims: Dims, amount, currency, line_ids, policy) -> Item:
    """GPU cost no agent reported on: allocated by the line's workload tags (not measured), else unmeasured. Unknown
    use is neither customer value nor proven waste."""
    if dims.customer or dims.feature or dims.purpose:
        bucket = bucket_for(dims, policy.rules, gpu=True)
        return Item("allocated", "gpu_tagged", bucket, label_for(bucket, dims, policy.approved_runs), dims, amount,
                    currency, cost_line_ids=tuple(line_ids), deferrable=_deferrable(dims, policy))  # fmt: skip
    return Item("unmeasured", "gpu_no_agent", "unmeasured", "unlabelled", dims, amount, currency,
                cost_line_ids=tuple(line_ids))  # fmt: skip


def _unattributed(bill: BillShare, source: str) -> Item:
    return Item("unattributed", source, "waste", "unlabelled", bill.dims, bill.amount, bill.currency,
                cost_line_ids=bill.ids)  # fmt: skip


def _gpu_hosts(host_hours, host_bill, policy) -> list[Item]:
    items = []
    seen = set()
    for hh in host_hours:
        seen.add((hh.host, hh.hour))
        lines = host_bill.get(hh.host, {}).get(hh.hour, [])
        if lines:
            cost, source, currency = sum((a for _, a, _ in lines), ZERO), "gpu_bill", policy.currency
        elif hh.own_cost is not None:
            cost, source, currency = hh.own_cost, "gpu_rate", hh.currency or policy.currency
        else:
            continue  # nobody pays for this host (no bill line, no rate): its use carries no cost
        line_ids = tuple(sorted({i for i, _, _ in lines}))
        items += _host_hour(hh, cost, currency, source, line_ids, policy)
    for host, hours in host_bill.items():
        for hour, lines in hours.items():
            if (host, hour) not in seen:  # billed, but the agent was silent that hour: not seen idle
                parts = [(dims, amount, (line_id,)) for line_id, amount, dims in lines]
                items += [_unmeasured_gpu(dims, amount, policy.currency, ids, policy)
                          for dims, amount, ids in net_credits(parts)]  # fmt: skip
    return items


def _host_hour(hh: HostHour, cost, currency, source, line_ids, policy) -> list[Item]:
    capacity = Decimal(hh.gpus * SECONDS_PER_HOUR)
    used = sum((s for _, s in hh.workloads), ZERO)
    items = []
    if hh.workloads and capacity > 0:
        # The cost over the workloads' GPU-seconds and the capacity left idle, exactly (rounding never makes idle
        # negative); more GPU-seconds than the GPUs hold (clock skew, overlapping batches) share the whole hour.
        *shares, idle = split_exact(cost, [s for _, s in hh.workloads] + [max(capacity - used, ZERO)])
        for (dims, seconds), share in zip(hh.workloads, shares, strict=True):
            dims = replace(dims, host=hh.host, owner=dims.owner or hh.owner)
            bucket = bucket_for(dims, policy.rules, gpu=True)
            items.append(
                Item("allocated", source, bucket, label_for(bucket, dims, policy.approved_runs), dims, share, currency,
                     gpu_seconds=seconds, cost_line_ids=line_ids,
                     deferrable=_deferrable(dims, policy))
            )  # fmt: skip
    else:
        idle = cost
    if idle:
        covered = Decimal(hh.covered_seconds)
        unowned = ZERO if hh.owner or covered <= 0 else min(Decimal(hh.unowned_seconds) / covered, Decimal(1))
        unowned_part = quantize_storage(idle * unowned)
        if idle - unowned_part:
            items.append(_idle(Dims(host=hh.host, owner=hh.owner or "(labelled processes)"), idle - unowned_part,
                               currency, source, line_ids))  # fmt: skip
        if unowned_part:
            items.append(_idle(Dims(host=hh.host), unowned_part, currency, source, line_ids))
    return items


def group_key(service: str, policy: Policy) -> str:
    """The allocation key of an untagged line's cost group: the first group pattern its service matches, else
    the organisation's default key."""
    for pattern, key in policy.group_keys:
        if service and fnmatch.fnmatch(service.lower(), pattern.lower()):
            return key
    return policy.shared_cost_key


def _deferrable(dims: Dims, policy: Policy) -> bool:
    return dims.purpose == "batch" or dims.feature in policy.deferrable_features


def job_outcomes(calls) -> dict:
    """job_id -> (last attempt number, "completed" or "failed"): completed when its last attempt is ok."""
    last = {}
    for call in calls:
        job = call.dims.job_id
        if not job:
            continue
        attempt, ok = last.get(job, (0, False))
        if call.attempt > attempt:
            last[job] = (call.attempt, call.status == "ok")
        elif call.attempt == attempt:
            last[job] = (attempt, ok or call.status == "ok")
    return {job: (attempt, "completed" if ok else "failed") for job, (attempt, ok) in last.items()}


def _calls(calls, llm_bills, policy) -> list[Item]:
    outcomes = job_outcomes(calls)
    by_provider = defaultdict(list)
    for call in calls:
        by_provider[call.dims.provider].append(call)
    items = []
    for provider, group in by_provider.items():
        bill = sum((b.amount for b in llm_bills.get(provider, [])), ZERO) if provider in llm_bills else None
        costs = [c.cost if c.currency == policy.currency else ZERO for c in group]
        logged = sum(costs, ZERO)
        # The bill wins: calls priced above the provider's bill for the day are scaled down to it.
        if bill is not None and logged > bill:
            costs = split_exact(bill, costs)
        for call, cost in zip(group, costs, strict=True):
            # A call in another currency counts at its own cost only when no bill covers its provider; under a
            # bill it is part of the bill (and of its gap), so counting it again would bill it twice.
            if call.currency != policy.currency and bill is None:
                cost = call.cost
            items.append(_call_item(call, cost, outcomes, policy))
    return items


def _call_item(call: CallGroup, cost, outcomes, policy) -> Item:
    dims = call.dims
    if dims.job_id:
        last_attempt, outcome = outcomes[dims.job_id]
        retry = outcome == "failed" or call.attempt < last_attempt or call.status != "ok"
    else:
        outcome = "completed" if call.status == "ok" else "failed"
        retry = False
    bucket = "retries" if retry else bucket_for(dims, policy.rules, gpu=False)
    return Item("allocated", "api_calls", bucket, label_for(bucket, dims, policy.approved_runs), dims, cost,
                call.currency, calls=call.calls, unpriced_calls=call.unpriced_calls, input_tokens=call.input_tokens,
                output_tokens=call.output_tokens, job_outcome=outcome,
                deferrable=_deferrable(dims, policy))  # fmt: skip


def _api_gaps(items, llm_bills, policy, keys) -> list[Item]:
    """Per provider: the bill minus the calls allocated (never negative: over-priced calls were scaled)."""
    gaps = []
    logged = defaultdict(lambda: ZERO)
    for item in items:
        if item.source == "api_calls" and item.currency == policy.currency:
            logged[item.dims.provider] += item.amount
    for provider, bills in llm_bills.items():
        gap = sum((b.amount for b in bills), ZERO) - logged[provider]
        if gap:
            line_ids = tuple(sorted(i for b in bills for i in b.ids))
            gaps += keys.place(gap, Dims(provider=provider), "api_gap", line_ids, policy.api_gap_key)
    return gaps


def customer_weights(items, key: str, blend: tuple) -> dict:
    """The day's weight of each customer under an allocation key (even, gpu_hours, tokens, requests, blend)."""
    measures = {"even": defaultdict(lambda: ZERO), "gpu_hours": defaultdict(lambda: ZERO),
                "tokens": defaultdict(lambda: ZERO), "requests": defaultdict(lambda: ZERO)}  # fmt: skip
    for item in items:
        customer = item.dims.customer
        if item.kind != "allocated" or not customer:
            continue
        measures["even"][customer] = Decimal(1)
        measures["gpu_hours"][customer] += item.gpu_seconds
        measures["tokens"][customer] += Decimal(item.input_tokens + item.output_tokens)
        measures["requests"][customer] += Decimal(item.calls)
    if key != "blend":
        return {c: w for c, w in measures.get(key, {}).items() if w > 0}
    weights = defaultdict(lambda: ZERO)
    for name, weight in blend:
        measure = measures.get(name, {})
        total = sum(measure.values(), ZERO)
        for customer, value in measure.items():
            if total > 0:
                weights[customer] += Decimal(str(weight)) * value / total
    return {c: w for c, w in weights.items() if w > 0}


class _Keys:
    """Places an amount on customers by an allocation key, or leaves it unattributed when no key (or no
    customer) places it; weights are computed once per key for the day."""

    def __init__(self, items, policy):
        self.items, self.policy, self.weights = items, policy, {}
        self.plans = {i.dims.customer: i.dims.plan for i in items if i.dims.customer}

    def place(self, amount, dims, source, line_ids, key) -> list[Item]:
        currency = self.policy.currency
        if key not in self.weights:
            self.weights[key] = customer_weights(self.items, key, self.policy.blend_weights) if key != "none" else {}
        weights = self.weights[key]
        if not weights:
            return [Item("unattributed", source, "waste", "unlabelled", dims, amount, currency,
                         cost_line_ids=line_ids)]  # fmt: skip
        customers = sorted(weights)
        parts = split_exact(amount, [weights[c] for c in customers])
        return [
            Item("allocated", source, "inference", "customer_value",
                 replace(dims, customer=c, plan=self.plans.get(c, "")), part, currency, cost_line_ids=line_ids)
            for c, part in zip(customers, parts, strict=True)
        ]  # fmt: skip
