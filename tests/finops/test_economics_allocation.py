"""The pure allocation of one organisation-day (finops/economics): the worked example of ECONOMICS.md
and the rules under it, without a database."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

from django.test import SimpleTestCase

from finops.economics.allocation import (
    BillShare,
    CallGroup,
    DayInputs,
    Dims,
    HostHour,
    Policy,
    Rule,
    allocate_day,
    split_exact,
)
from finops.economics.rollup import job_rows

DAY = date(2026, 10, 5)
H10 = datetime(2026, 10, 5, 10, tzinfo=UTC)
H11 = datetime(2026, 10, 5, 11, tzinfo=UTC)
ACME_J1 = Dims(customer="acme", job_id="j1", purpose="inference")
TRAINING = Dims(purpose="training", job_id="run-b")


def total(items, **match):
    return sum((i.amount for i in items if all(getattr(i, k) == v for k, v in match.items())), D(0))


def worked_example(policy=None):
    gpu_line = BillShare(1, D("10.00"), "USD", "gpu", Dims(host="gpu-1"), hourly=((H10, D("10.00")),))
    api_line = BillShare(2, D("0.0135"), "USD", "llm", Dims(provider="OpenAI"), llm_provider="openai")
    host = HostHour("gpu-1", H10, gpus=2, owner="ml", covered_seconds=7200, workloads=(
        (ACME_J1, D(1800)), (TRAINING, D(1800))))  # fmt: skip
    calls = tuple(
        CallGroup(Dims(customer="acme", job_id="j1", purpose="inference", provider="openai", model="gpt-4o"),
                  attempt=n, status="ok" if n == 3 else "error", cost=D("0.0045"), input_tokens=1000,
                  output_tokens=200)
        for n in (1, 2, 3)
    )  # fmt: skip
    policy = policy or Policy(approved_runs=frozenset({"run-b"}))
    return allocate_day(DayInputs(DAY, bills=(gpu_line, api_line), host_hours=(host,), calls=calls, policy=policy))


class WorkedExampleTests(SimpleTestCase):
    def test_it_splits_the_hour_by_gpu_seconds_and_keeps_the_rest_idle(self):
        items = worked_example()
        acme = [i for i in items if i.dims.customer == "acme" and i.source == "gpu_bill"]
        self.assertEqual([(i.amount, i.bucket, i.label) for i in acme], [(D("2.50"), "inference", "customer_value")])
        self.assertEqual(total(items, source="gpu_bill", bucket="training", label="approved_learning"), D("2.50"))
        self.assertEqual(total(items, kind="idle"), D("5.00"))
        self.assertEqual({i.dims.owner for i in items if i.kind == "idle"}, {"ml"})

    def test_it_holds_the_identity_to_the_cent(self):
        items = worked_example()
        self.assertEqual(total(items), D("10.0135"))
        self.assertEqual(total(items, kind="allocated"), D("5.0135"))
        self.assertEqual(total(items, kind="unattributed"), D(0))

    def test_it_costs_the_job_with_its_retries(self):
        items = worked_example()
        self.assertEqual(total(items, bucket="retries"), D("0.0090"))
        [job] = [j for j in job_rows(items) if j.job_id == "j1"]
        self.assertEqual((job.jobs_completed, job.jobs_failed, job.attempts), (1, 0, 3))
        self.assertEqual(job.cost_completed, D("2.5135"))
        self.assertEqual(job.retry_cost, D("0.0090"))
        self.assertEqual((job.attempts - 1) / job.jobs_completed, 2)

    def test_a_run_without_a_learning_question_is_unlabelled(self):
        items = worked_example(Policy())
        self.assertEqual(total(items, bucket="training", label="unlabelled"), D("2.50"))


class AllocationRuleTests(SimpleTestCase):
    def test_the_gap_between_calls_and_the_provider_bill_is_unattributed(self):
        bill = BillShare(9, D("1.00"), "USD", "llm", llm_provider="openai")
        call = CallGroup(Dims(customer="a", provider="openai", model="m"), cost=D("0.75"))
        items = allocate_day(DayInputs(DAY, bills=(bill,), calls=(call,)))
        self.assertEqual(total(items, kind="unattributed", source="api_gap"), D("0.25"))
        self.assertEqual(total(items), D("1.00"))

    def test_calls_priced_above_the_bill_are_scaled_down_to_it(self):
        bill = BillShare(9, D("1.00"), "USD", "llm", llm_provider="openai")
        calls = tuple(CallGroup(Dims(customer=c, provider="openai"), cost=D("0.75")) for c in ("a", "b"))
        items = allocate_day(DayInputs(DAY, bills=(bill,), calls=calls))
        self.assertEqual([i.amount for i in items], [D("0.5"), D("0.5")])

    def test_calls_of_a_provider_with_no_bill_count_at_their_own_cost(self):
        call = CallGroup(Dims(customer="a", provider="anthropic"), cost=D("0.30"))
        items = allocate_day(DayInputs(DAY, calls=(call,)))
        self.assertEqual((total(items), items[0].kind), (D("0.30"), "allocated"))

    def test_unpriced_calls_are_counted_and_never_costed(self):
        call = CallGroup(Dims(customer="a", provider="x", model="mystery"), calls=4, unpriced_calls=4, cost=D(0))
        [item] = allocate_day(DayInputs(DAY, calls=(call,)))
        self.assertEqual((item.calls, item.unpriced_calls, item.amount), (4, 4, D(0)))

    def test_a_billed_gpu_with_no_agent_is_unmeasured_owned_by_its_tag(self):
        line = BillShare(3, D("98.32"), "USD", "gpu", Dims(host="i-0abc", owner="maria"))
        [item] = allocate_day(DayInputs(DAY, bills=(line,)))
        self.assertEqual((item.kind, item.source, item.bucket, item.dims.owner),
                         ("unmeasured", "gpu_no_agent", "unmeasured", "maria"))  # fmt: skip

    def test_a_billed_gpu_with_no_agent_but_a_workload_tag_is_allocated_by_it_not_measured(self):
        line = BillShare(3, D("40"), "USD", "gpu", Dims(host="i-0abc", customer="acme-corp", plan="pro"))
        training = BillShare(4, D("60"), "USD", "gpu", Dims(host="i-0def", purpose="training"))
        acme, run = allocate_day(DayInputs(DAY, bills=(line, training)))
        self.assertEqual((acme.kind, acme.source, acme.bucket, acme.label, acme.dims.customer, acme.amount),
                         ("allocated", "gpu_tagged", "inference", "customer_value", "acme-corp", D("40")))  # fmt: skip
        self.assertEqual(
            (run.kind, run.source, run.bucket, run.amount), ("allocated", "gpu_tagged", "training", D("60"))
        )

    def test_an_untagged_credit_on_a_tagged_gpu_resource_discounts_the_use_it_belongs_to(self):
        usage = BillShare(3, D("1000"), "USD", "gpu", Dims(host="node-a", customer="acme"))
        credit = BillShare(4, D("-300"), "USD", "gpu", Dims(host="node-a"))
        [item] = allocate_day(DayInputs(DAY, bills=(usage, credit)))
        self.assertEqual((item.kind, item.source, item.amount, item.dims.customer, item.cost_line_ids),
                         ("allocated", "gpu_tagged", D("700"), "acme", (3, 4)))  # fmt: skip

    def test_a_credit_spreads_over_tagged_and_untagged_use_in_proportion(self):
        bills = (BillShare(3, D("600"), "USD", "gpu", Dims(host="node-a", customer="acme")),
                 BillShare(4, D("400"), "USD", "gpu", Dims(host="node-a", owner="ml")),
                 BillShare(5, D("-100"), "USD", "gpu", Dims(host="node-a")),
                 BillShare(6, D("-50"), "USD", "gpu", Dims(host="node-b")))  # another resource's own  # fmt: skip
        items = allocate_day(DayInputs(DAY, bills=bills))
        self.assertEqual(total(items, kind="allocated"), D("540"))
        self.assertEqual(total(items, kind="unmeasured"), D("360") - D("50"))
        self.assertEqual(sum((i.amount for i in items), D(0)), D("850"))

    def test_a_credit_in_an_hour_the_agent_missed_discounts_that_hours_use(self):
        hours = ((H10, D("10")),)
        usage = BillShare(3, D("10"), "USD", "gpu", Dims(host="gpu-1", customer="acme"), hourly=hours)
        credit = BillShare(4, D("-4"), "USD", "gpu", Dims(host="gpu-1"), hourly=((H10, D("-4")),))
        [item] = allocate_day(DayInputs(DAY, bills=(usage, credit)))
        self.assertEqual((item.kind, item.amount), ("allocated", D("6")))

    def test_a_mapped_host_hour_the_agent_missed_is_unmeasured_not_idle(self):
        line = BillShare(3, D("5"), "USD", "gpu", Dims(host="gpu-1", owner="ml"), hourly=((H10, D("5")),))
        [item] = allocate_day(DayInputs(DAY, bills=(line,)))
        self.assertEqual((item.kind, item.amount, item.cost_line_ids, item.dims.owner),
                         ("unmeasured", D("5"), (3,), "ml"))  # fmt: skip

    def test_an_hour_the_agent_saw_is_idle_and_an_hour_it_missed_is_unmeasured(self):
        line = BillShare(3, D("10"), "USD", "gpu", Dims(host="gpu-1"), hourly=((H10, D("5")), (H11, D("5"))))
        seen = HostHour("gpu-1", H10, gpus=1, owner="ml", covered_seconds=3600)
        items = allocate_day(DayInputs(DAY, bills=(line,), host_hours=(seen,)))
        self.assertEqual(total(items, kind="idle"), D("5"))
        self.assertEqual(total(items, kind="unmeasured"), D("5"))

    def test_idle_of_a_host_without_owner_is_split_by_unowned_seconds(self):
        host = HostHour("box", H10, gpus=1, covered_seconds=3600, unowned_seconds=2700,
                        workloads=((Dims(owner="sam"), D(900)),), own_cost=D("4"), currency="USD")  # fmt: skip
        items = allocate_day(DayInputs(DAY, host_hours=(host,)))
        self.assertEqual(total(items, kind="allocated"), D("1"))
        self.assertEqual(total(items, kind="idle"), D("3"))
        self.assertEqual(sum((i.amount for i in items if i.kind == "idle" and not i.dims.owner), D(0)), D("2.25"))

    def test_tagged_lines_follow_their_tags_and_untagged_ones_are_the_mystery_bucket(self):
        tagged = BillShare(4, D("3"), "USD", "cloud", Dims(feature="search", purpose="eval"), tagged=True)
        untagged = BillShare(5, D("2"), "USD", "cloud", Dims(service="S3"))
        policy = Policy(rules=(Rule("purpose", "eval*", "evaluation"),))
        items = allocate_day(DayInputs(DAY, bills=(tagged, untagged), policy=policy))
        self.assertEqual(total(items, kind="allocated", bucket="evaluation", label="product_proof"), D("3"))
        self.assertEqual(total(items, kind="unattributed", source="cloud_shared"), D("2"))

    def test_a_shared_key_places_untagged_cost_on_customers(self):
        untagged = BillShare(5, D("1"), "USD", "cloud")
        calls = (CallGroup(Dims(customer="a", provider="p"), calls=3, cost=D(0)),
                 CallGroup(Dims(customer="b", provider="p"), calls=1, cost=D(0)))  # fmt: skip
        items = allocate_day(DayInputs(DAY, bills=(untagged,), calls=calls, policy=Policy(shared_cost_key="requests")))
        shared = {i.dims.customer: i.amount for i in items if i.source == "cloud_shared"}
        self.assertEqual(shared, {"a": D("0.75"), "b": D("0.25")})

    def test_a_cost_group_can_have_its_own_key(self):
        storage = BillShare(5, D("1"), "USD", "cloud", Dims(service="Object Storage"))
        cluster = BillShare(6, D("2"), "USD", "cloud", Dims(service="EKS"))
        calls = (CallGroup(Dims(customer="a", provider="p"), calls=1, cost=D(0)),)
        policy = Policy(shared_cost_key="requests", group_keys=(("*storage*", "none"),))
        items = allocate_day(DayInputs(DAY, bills=(storage, cluster), calls=calls, policy=policy))
        self.assertEqual(total(items, kind="unattributed"), D("1"))
        self.assertEqual(total(items, kind="allocated", source="cloud_shared"), D("2"))

    def test_a_rate_converts_lines_and_reported_calls_exactly(self):
        line = BillShare(6, D("7"), "EUR", "cloud", tagged=True, dims=Dims(customer="a"))
        gpu = BillShare(7, D("3"), "EUR", "gpu", Dims(host="gpu-1"), hourly=((H10, D("1")), (H10, D("2"))))
        call = CallGroup(Dims(customer="a", provider="mistral"), cost=D("0.10"), currency="EUR")
        policy = Policy(rates=(("EUR", D("1.0812345678")),))
        items = allocate_day(DayInputs(DAY, bills=(line, gpu), calls=(call,), policy=policy))
        self.assertEqual({i.currency for i in items}, {"USD"})
        self.assertEqual(total(items), D("7.5686419746") + D("3.2437037034") + D("0.1081234568"))

    def test_a_line_in_another_currency_is_unattributed_in_its_own(self):
        line = BillShare(6, D("7"), "EUR", "cloud", tagged=True, dims=Dims(customer="a"))
        [item] = allocate_day(DayInputs(DAY, bills=(line,)))
        self.assertEqual((item.kind, item.currency, item.source), ("unattributed", "EUR", "no_rate"))

    def test_a_failed_job_is_all_retries(self):
        calls = tuple(CallGroup(Dims(customer="a", job_id="j", provider="p"), attempt=n, status="error",
                                cost=D("1")) for n in (1, 2))  # fmt: skip
        items = allocate_day(DayInputs(DAY, calls=calls))
        self.assertEqual({(i.bucket, i.job_outcome) for i in items}, {("retries", "failed")})
        [job] = job_rows(items)
        self.assertEqual((job.jobs_failed, job.jobs_completed, job.cost_failed), (1, 0, D("2")))


class SplitExactTests(SimpleTestCase):
    def test_parts_sum_exactly(self):
        parts = split_exact(D("10"), [1, 1, 1])
        self.assertEqual(sum(parts), D("10"))
        self.assertEqual(parts[1], D("3.3333333333"))
