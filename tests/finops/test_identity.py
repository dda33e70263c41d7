"""The identity `billed_total = allocated + idle + unmeasured + unattributed`, per currency, to the cent: on every
sample bill through the real upload path, on randomised days of the pure allocation (hypothesis), and on the demo."""

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from django.test import SimpleTestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.economics.allocation import (
    BillShare,
    CallGroup,
    DayInputs,
    Dims,
    HostHour,
    Policy,
    allocate_day,
    split_exact,
)
from finops.economics.customer_cost import customer_costs
from finops.economics.rollup import CUSTOMER_DIMS, KEY_SOURCES, WORK_DIMS
from finops.models import CustomerRollup, Rollup, WorkRollup
from finops.services.rollups import rollups_refresh
from ingest.models import BillPeriod, CostLine, DirtyDay
from tests.base import BaseTestCase, sample_path
from tests.demo import demo_org
from tests.ingest.test_bill_uploads import FOCUS_SAMPLES, UploadTestCase
from tests.ingest.test_native_samples import NATIVE_SAMPLES

CENT = D("0.01")
KINDS = ("allocated", "idle", "unmeasured", "unattributed")


def cents(totals: dict) -> dict:
    return {currency: D(total).quantize(CENT) for currency, total in totals.items()}


def add_up(rows, key, value) -> dict:
    """Totals per `key` summed here in Decimal: SQLite would sum the decimals as floats."""
    totals = defaultdict(lambda: D(0))
    for row in rows.values(key, value):
        totals[row[key]] += D(row[value])
    return dict(totals)


def rollup_totals(org, **filters) -> dict:
    return add_up(Rollup.objects.filter(org=org, **filters), "currency", "cost_amount")


def rollup_kinds(org) -> dict:
    kinds = defaultdict(lambda: dict.fromkeys(KINDS, D(0)))
    for row in Rollup.objects.filter(org=org).values("currency", "kind", "cost_amount"):
        kinds[row["currency"]][row["kind"]] += D(row["cost_amount"])
    return kinds


def ledger_totals(org, **filters) -> dict:
    return add_up(CostLine.objects.filter(org=org, **filters), "currency", "billed_cost_amount")


def summed(rows, dims) -> dict:
    """{(day, *dims): (cost, calls, unpriced, input tokens, output tokens, GPU-seconds)} summed here in Decimal."""
    totals = defaultdict(lambda: [D(0)] * len(SUMS))
    for row in rows.values("day", *dims, *SUMS):
        entry = totals[(row["day"], *(row[d] for d in dims))]
        for i, name in enumerate(SUMS):
            entry[i] += D(row[name])
    return {key: tuple(values) for key, values in totals.items()}


SUMS = ("cost_amount", "calls", "unpriced_calls", "input_tokens", "output_tokens", "gpu_seconds")


class IdentityAssertions:
    def assert_identity(self, org):
        """allocated + idle + unattributed equals the rollups' total, per currency, exactly (sums before rounding);
        and the work and customer rollups are the rollup rows summed, exactly."""
        totals = rollup_totals(org)
        for currency, kinds in rollup_kinds(org).items():
            self.assertEqual(sum(kinds.values(), D(0)), totals[currency], currency)
        rollups = Rollup.objects.filter(org=org)
        work_dims = tuple(d for d in WORK_DIMS if d != "has_unpriced")
        by_work = defaultdict(lambda: [D(0)] * len(SUMS))
        for key, values in summed(rollups, (*work_dims, "unpriced_calls")).items():
            *head, unpriced = key
            entry = by_work[(*head, unpriced > 0)]
            for i, value in enumerate(values):
                entry[i] += value
        self.assertEqual({k: tuple(v) for k, v in by_work.items()}, summed(WorkRollup.objects.filter(org=org),
                                                                             (*work_dims, "has_unpriced")))  # fmt: skip
        customer_dims = tuple(d for d in CUSTOMER_DIMS if d != "by_key")
        by_customer = defaultdict(lambda: [D(0)] * len(SUMS))
        for key, values in summed(rollups, (*customer_dims, "source")).items():
            *head, source = key
            entry = by_customer[(*head, source in KEY_SOURCES)]
            for i, value in enumerate(values):
                entry[i] += value
        self.assertEqual({k: tuple(v) for k, v in by_customer.items()},
                         summed(CustomerRollup.objects.filter(org=org), CUSTOMER_DIMS))  # fmt: skip


class SampleBillIdentityTests(IdentityAssertions, UploadTestCase):
    def test_it_holds_on_every_sample_bill(self):
        samples = [(relative, "focus") for relative in FOCUS_SAMPLES]
        samples += [(relative, fmt) for relative, fmt, _ in NATIVE_SAMPLES]
        for relative, expected_format in samples:
            with self.subTest(relative):
                for model in (CostLine, BillPeriod, Rollup, WorkRollup, CustomerRollup, DirtyDay):
                    model.objects.filter(org=self.org).delete()
                path = sample_path(relative)
                body = self.upload(path.name, path.read_bytes())
                self.assertEqual((body["status"], body["format"]), ("done", expected_format), body["errors"])
                self.assertTrue(rollups_refresh(org=self.org))
                self.assertFalse(DirtyDay.objects.filter(org=self.org).exists())
                self.assertEqual(cents(rollup_totals(self.org)), cents(ledger_totals(self.org)))
                self.assert_identity(self.org)


# Randomised days of the pure allocation: bills of every category and currency, host hours, calls, policies.

DAY = date(2026, 10, 5)
HOURS = [datetime(2026, 10, 5, h, tzinfo=UTC) for h in range(4)]
HOSTS = ("h1", "h2", "h3")
PROVIDERS = ("openai", "anthropic", "mistral")
CURRENCIES = ("USD", "USD", "EUR")
KEYS = ("none", "even", "gpu_hours", "tokens", "requests", "blend")

money = st.decimals(min_value=0, max_value=1000, places=10, allow_nan=False, allow_infinity=False)
small_money = st.one_of(st.just(D(0)), st.decimals(min_value=0, max_value=D("0.000001"), places=10), money)
# whole shares of an hour (thirds of a busy GPU, say) as well as any figure, up to more than 4 GPUs can hold
gpu_seconds = st.one_of(st.sampled_from((D(1200), D(1800), D(2400), D(3600))),
                        st.decimals(min_value=0, max_value=20000, places=3))  # fmt: skip
dims = st.builds(
    Dims,
    customer=st.sampled_from(("", "acme", "beta", "gamma")),
    plan=st.sampled_from(("", "trial", "pro")),
    feature=st.sampled_from(("", "chat", "search")),
    owner=st.sampled_from(("", "ml")),
    job_id=st.sampled_from(("", "j1", "j2", "run-1")),
    purpose=st.sampled_from(("", "inference", "training", "batch", "evaluation")),
)


@st.composite
def bill_shares(draw, line_id):
    category = draw(st.sampled_from(("gpu", "gpu_hourly", "llm", "commitment_unused", "cloud")))
    currency = draw(st.sampled_from(CURRENCIES))
    base = draw(dims)
    if category == "gpu_hourly":
        hours = draw(st.lists(st.sampled_from(HOURS), min_size=1, max_size=4, unique=True))
        hourly = tuple((hour, draw(small_money)) for hour in sorted(hours))
        host = draw(st.sampled_from(HOSTS))
        line_dims = replace(base, host=host) if draw(st.booleans()) else Dims(host=host)  # tagged or not
        return BillShare(line_id, sum((a for _, a in hourly), D(0)), currency, "gpu", line_dims, hourly=hourly)
    if category == "gpu":  # a GPU resource no agent maps: tagged to a workload, or not
        line_dims = replace(base, host="i-0abc") if draw(st.booleans()) else Dims(host="i-0abc", owner=base.owner)
        return BillShare(line_id, draw(small_money), currency, "gpu", line_dims)
    if category == "llm":
        provider = draw(st.sampled_from(PROVIDERS[:2]))
        return BillShare(line_id, draw(small_money), currency, "llm", Dims(provider=provider), llm_provider=provider)
    tagged = category == "cloud" and draw(st.booleans())
    return BillShare(line_id, draw(small_money), currency, category, base if tagged else Dims(service="S3"),
                     tagged=tagged)  # fmt: skip


@st.composite
def host_hours(draw):
    keys = draw(st.lists(st.tuples(st.sampled_from(HOSTS), st.sampled_from(HOURS)), max_size=5, unique=True))
    hours = []
    for host, hour in keys:
        gpus = draw(st.integers(0, 4))
        covered = draw(st.integers(0, gpus * 3600))
        workloads = draw(st.lists(st.tuples(dims, gpu_seconds), max_size=4))
        own_cost = draw(st.one_of(st.none(), small_money))
        hours.append(
            HostHour(host, hour, gpus, owner=draw(st.sampled_from(("", "ml"))), covered_seconds=covered,
                     unowned_seconds=draw(st.integers(0, covered)), workloads=tuple(workloads), own_cost=own_cost,
                     currency=draw(st.sampled_from(("", "USD", "EUR"))))
        )  # fmt: skip
    return tuple(hours)


@st.composite
def call_groups(draw):
    groups = []
    for _ in range(draw(st.integers(0, 6))):
        base = draw(dims)
        calls = draw(st.integers(1, 5))
        groups.append(
            CallGroup(Dims(customer=base.customer, plan=base.plan, feature=base.feature, job_id=base.job_id,
                           purpose=base.purpose, provider=draw(st.sampled_from(PROVIDERS)), model="m"),
                      attempt=draw(st.integers(1, 3)), status=draw(st.sampled_from(("ok", "error"))), calls=calls,
                      unpriced_calls=draw(st.integers(0, calls)), cost=draw(small_money),
                      currency=draw(st.sampled_from(CURRENCIES)), input_tokens=draw(st.integers(0, 5000)),
                      output_tokens=draw(st.integers(0, 5000)))
        )  # fmt: skip
    return tuple(groups)


@st.composite
def day_inputs(draw):
    bills = tuple(draw(bill_shares(n)) for n in range(draw(st.integers(0, 8))))
    policy = Policy(
        shared_cost_key=draw(st.sampled_from(KEYS)),
        api_gap_key=draw(st.sampled_from(KEYS)),
        blend_weights=(("gpu_hours", D("0.5")), ("requests", D("0.3")), ("tokens", D("0.2"))),
        approved_runs=frozenset({"run-1"}),
        deferrable_features=frozenset({"search"}),
    )
    return DayInputs(DAY, bills=bills, host_hours=draw(host_hours()), calls=draw(call_groups()), policy=policy)


def expected_totals(inputs: DayInputs) -> dict:
    """What the day cost, per currency: every bill share, owned hosts' own cost in hours no bill prices, and the
    calls of providers with no bill in the org's currency."""
    currency = inputs.policy.currency
    totals = defaultdict(lambda: D(0))
    billed_hours = set()
    billed_providers = set()
    for bill in inputs.bills:
        totals[bill.currency] += bill.amount
        if bill.currency == currency and bill.category == "gpu":
            billed_hours.update((bill.dims.host, hour) for hour, _ in bill.hourly)
        if bill.currency == currency and bill.category == "llm":
            billed_providers.add(bill.llm_provider)
    for hh in inputs.host_hours:
        if (hh.host, hh.hour) not in billed_hours and hh.own_cost is not None:
            totals[hh.currency or currency] += hh.own_cost
    for call in inputs.calls:
        if call.dims.provider not in billed_providers:
            totals[call.currency] += call.cost
    return {c: t for c, t in totals.items() if t}


class RandomisedIdentityTests(SimpleTestCase):
    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(day_inputs())
    def test_it_holds_exactly_on_any_day(self, inputs):
        items = allocate_day(inputs)
        totals = defaultdict(lambda: D(0))
        for item in items:
            totals[item.currency] += item.amount
            self.assertIn(item.kind, KINDS)
            self.assertGreaterEqual(item.amount, 0, item)
        self.assertEqual({c: t for c, t in totals.items() if t}, expected_totals(inputs))

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(day_inputs())
    def test_customers_fully_loaded_plus_internal_work_is_the_whole_bill(self, inputs):
        items = [i for i in allocate_day(inputs) if i.currency == inputs.policy.currency]
        costs = customer_costs((i.kind, i.dims.customer, i.source in KEY_SOURCES, i.amount) for i in items)
        whole = sum((i.amount for i in items), D(0))
        self.assertEqual(sum(costs.fully_loaded.values(), D(0)) + costs.internal + costs.unplaced, whole)
        for customer, direct in costs.direct.items():
            self.assertGreaterEqual(costs.fully_loaded[customer], direct, customer)
        if any(v > 0 for v in costs.direct.values()):
            self.assertEqual(costs.unplaced, 0, "customers with direct cost carry the whole pool")

    @settings(max_examples=200, deadline=None, database=None)
    @given(small_money, st.lists(st.one_of(st.integers(0, 10), gpu_seconds), min_size=1, max_size=6))
    def test_a_split_is_exact_and_never_negative(self, amount, weights):
        parts = split_exact(amount, weights)
        self.assertEqual(sum(parts, D(0)), amount)
        self.assertTrue(all(p >= 0 for p in parts), parts)


# The demo: six weeks of bills, calls, cost reports and GPU hosts, built once.

BILL_SOURCES = ("gpu_bill", "gpu_no_agent", "gpu_tagged", "cloud_tagged", "cloud_shared", "commitment_unused",
                "no_rate", "api_gap")  # fmt: skip
BILLED_PROVIDERS = ("openai", "anthropic")  # the demo's cost reports bill these two


class DemoIdentityTests(IdentityAssertions, BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        from accounts.models import Organization

        demo = demo_org()
        cls.demo = Organization.objects.get(code=demo["org"])
        rollups_refresh(org=cls.demo)

    def test_it_rolls_up_every_day_of_the_demo(self):
        self.assertFalse(DirtyDay.objects.filter(org=self.demo).exists())
        days = sorted(set(Rollup.objects.filter(org=self.demo).values_list("day", flat=True)))
        self.assertGreaterEqual(len(days), 42)
        self.assertEqual(days[-1] - days[0], timedelta(days=len(days) - 1))

    def test_it_holds_per_currency_over_the_whole_range(self):
        self.assertTrue(Rollup.objects.filter(org=self.demo).exists())
        self.assert_identity(self.demo)
        for kind in KINDS:
            self.assertTrue(Rollup.objects.filter(org=self.demo, kind=kind).exists(), kind)

    def test_the_bill_derived_rows_add_up_to_the_bills(self):
        from django.db.models import Q

        billed = rollup_totals(self.demo, source__in=BILL_SOURCES)
        calls = Rollup.objects.filter(org=self.demo, source="api_calls", provider__in=BILLED_PROVIDERS)
        for currency, total in add_up(calls, "currency", "cost_amount").items():
            billed[currency] = billed.get(currency, D(0)) + total
        self.assertEqual(cents(billed), cents(ledger_totals(self.demo)))
        # and the rest is the owned host's rate and the calls of providers with no bill
        rest = Rollup.objects.filter(org=self.demo).exclude(
            Q(source__in=BILL_SOURCES) | Q(source="api_calls", provider__in=BILLED_PROVIDERS)
        )
        self.assertEqual(set(rest.values_list("source", flat=True).distinct()) - {"api_calls"}, {"gpu_rate"})
