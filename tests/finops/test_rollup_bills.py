"""The day's bill lines summed in SQL (finops/selectors/inputs.py, `_bill_shares` grouped) against the Python path, the
oracle that reads and places every line on its own: on generated days with every kind of bill line the allocation
distinguishes (lines inside the day, across its midnights and from weeks before it, credits, GPU resources with and
without an agent host, unnamed and marked ones, LLM bills, unused commitment, tagged and shared lines under every key,
currencies with and without a rate, bucket rules), every row of the four rollup tables the same, to the 10th decimal,
and so the identity too. On SQLite both are the Python path."""

import random
from datetime import timedelta
from decimal import Decimal as D
from unittest.mock import patch

from django.db import connection

from finops.models import BucketRule, EconomicsSettings, ExchangeRate, LearningQuestion, Rollup, RollupDay
from finops.selectors import inputs
from ingest.models import CostLine, Gpu, GpuHost, GpuHour, GpuResourceMark, Upload
from tests.base import BaseTestCase
from tests.finops import test_rollup_calls as calls
from tests.finops.test_money_in_reasons import subscribe

DAY, START = calls.DAY, calls.START
# (provider, service, resource id, resource name, sku, gpu type, commitment status): the resources a bill names
RESOURCES = (
    ("AWS", "Amazon EC2", "i-gpu-1", "", "p5.48xlarge", "H100", ""),  # an agent host's (bill_resource_id)
    ("AWS", "Amazon EC2", "", "gpu-box-2", "p4d.24xlarge", "", ""),  # named as an agent host
    ("AWS", "Amazon EC2", "i-gpu-3", "", "p5.48xlarge", "H100", ""),  # no agent
    ("AWS", "Amazon EC2", "i-gpu-4", "trainer", "g6.xlarge", "", ""),  # no agent, credits some days
    ("AWS", "Amazon EC2", "", "", "p5.48xlarge", "", ""),  # unnamed: "(unnamed) AWS p5.48xlarge"
    ("GCP", "Compute Engine", "vm-a3", "", "a3-highgpu-8g", "", "Used"),
    ("AWS", "Amazon EC2", "i-marked-cpu", "", "p5.48xlarge", "", ""),  # marked not a GPU
    ("AWS", "Amazon EC2", "i-marked-gpu", "", "m7i.2xlarge", "", ""),  # marked a GPU
    ("AWS", "Amazon EC2", "i-cpu-1", "", "m7i.2xlarge", "", ""),
    ("AWS", "Amazon S3", "bucket-1", "", "TimedStorage", "", ""),
    ("AWS", "Amazon S3", "bucket-2", "", "TimedStorage", "", ""),
    ("AWS", "AWS Data Transfer", "eni-1", "", "DataTransfer-Out", "", ""),
    ("AWS", "Amazon RDS", "db-1", "", "db.r6g.xlarge", "", ""),
    ("AWS", "Savings Plan", "sp-1", "", "ComputeSP", "", "Unused"),
    ("AWS", "Savings Plan", "sp-2", "", "ComputeSP", "", " unused "),
    ("OpenAI", "Chat Completions", "proj-1", "", "gpt-4o", "", ""),
    ("Anthropic", "Claude", "proj-2", "", "claude-sonnet", "", ""),
    ("Mistral AI", "Le Chat", "m-1", "", "mistral-large", "", ""),
)
TAGS = ({}, {}, {}, {"customer": "cust-1"}, {"customer": "cust-2", "feature": "search"}, {"feature": "agent"},
        {"owner": "team-ml"}, {"purpose": "training"}, {"purpose": "inference", "customer": "cust-4"},
        {"environment": "prod"}, {"purpose": " Evaluation "})  # fmt: skip


def periods(rng: random.Random):
    """(start, end) of a line with a part in the day: most inside it, some across a midnight or from weeks before,
    and odd ones (no end, an end before the start)."""
    hour = START + timedelta(hours=rng.randrange(24))
    choice = rng.random()
    if choice < 0.6:
        return hour, hour + timedelta(hours=1)
    if choice < 0.66:
        return START + timedelta(hours=23), START + timedelta(days=1)  # up to midnight: inside
    if choice < 0.72:
        return START, START + timedelta(days=1)  # the whole day
    if choice < 0.78:
        return hour + timedelta(minutes=30), hour + timedelta(hours=rng.choice((1, 6, 30)))  # may run past midnight
    if choice < 0.84:
        begin = START - timedelta(days=rng.choice((1, 2, 10, 61)), minutes=rng.choice((0, 17)))
        return begin, START + timedelta(hours=rng.choice((1, 13, 24, 48)))  # from before the day
    if choice < 0.87:
        return START - timedelta(days=70), START + timedelta(days=40)  # a long commitment: capped at 62 days
    if choice < 0.9:
        return START - timedelta(days=3), START  # ends at the day's start: not in it
    if choice < 0.93:
        return hour, None
    if choice < 0.96:
        return hour, hour - timedelta(hours=2)  # an end before the start: the whole amount at its start
    return START + timedelta(days=1, hours=2), START + timedelta(days=1, hours=3)  # the next day: not in it


def amount_of(rng: random.Random, credits: bool) -> D:
    value = D(rng.randrange(1, 10**12)) / 10**10 * rng.choice((1, 1, 10, 1000))
    if credits and rng.random() < 0.25:
        return -value / 3
    return rng.choice((value, value, value, D(0))) if rng.random() < 0.1 else value


class RollupBillsTests(BaseTestCase):
    events, assert_same = calls.RollupCallsTests.events, calls.RollupCallsTests.assert_same
    org_create = calls.RollupCallsTests.org_create

    def bill_lines(self, org, rng: random.Random, count: int, currencies=("USD",)):
        upload = Upload.objects.create(org=org, kind="bill", file="x.csv", original_name="x.csv", sha256="0" * 64,
                                       status="done")  # fmt: skip
        rows = []
        credited = {"i-gpu-1", "i-gpu-4", "bucket-1", ""} if rng.random() < 0.7 else set()
        for n in range(count):
            provider, service, resource, name, sku, gpu, status = rng.choice(RESOURCES)
            begin, end = periods(rng)
            tags = rng.choice(TAGS)
            amount = amount_of(rng, resource in credited)
            rows.append(CostLine(
                org=org, upload=upload, source_row=n + 1, provider=provider, billing_period_start=START,
                billing_period_end=START + timedelta(days=30), charge_period_start=begin, charge_period_end=end,
                charge_category="Credit" if amount < 0 else "Usage", service_name=service, resource_id=resource,
                resource_name=name, sku_id=sku, gpu_type=gpu, commitment_discount_status=status,
                billed_cost_amount=amount, effective_cost_amount=amount, currency=rng.choice(currencies), **tags,
            ))  # fmt: skip
        CostLine.objects.bulk_create(rows)

    def agent_hosts(self, org, rng: random.Random):
        """gpu-1 (the bill's i-gpu-1) and gpu-box-2 (by its name), each seen by its agent some hours of the day."""
        for name, resource, owner in (("gpu-1", "i-gpu-1", "ml"), ("gpu-box-2", "", "")):
            host = GpuHost.objects.create(org=org, name=name, bill_resource_id=resource, owner=owner)
            gpus = [Gpu.objects.create(org=org, host=host, uuid=f"{name}-{i}", index=i) for i in range(2)]
            for hour in rng.sample(range(24), 9):
                GpuHour.objects.create(org=org, gpu=rng.choice(gpus), hour=START + timedelta(hours=hour),
                                       covered_seconds=3600, unowned_seconds=rng.choice((0, 600)),
                                       gpu_seconds_by_label={"customer=cust-1;job_id=job-1": "1800.5",
                                                             "purpose=training;job_id=job-3": "700",
                                                             "owner=ml": rng.choice(("0", "99.25"))})  # fmt: skip

    def generated_day(self, seed: int):
        rng = random.Random(seed)
        org = self.org_create(f"Bills {seed}")
        self.events(org, rng, 150, currencies=("USD", "USD", "EUR"))
        self.bill_lines(org, rng, 500 + 150 * seed, currencies=("USD", "USD", "USD", "USD", "EUR", "GBP"))
        if seed % 3 != 2:
            ExchangeRate.objects.create(org=org, currency="EUR", rate=D("1.0833333333"), effective_from=DAY)
        self.agent_hosts(org, rng)
        GpuResourceMark.objects.create(org=org, resource_id="i-marked-cpu", is_gpu=False)
        GpuResourceMark.objects.create(org=org, resource_id="i-marked-gpu", is_gpu=True)
        subscribe(org, "cust-2", "99")
        LearningQuestion.objects.create(org=org, run="job-3", question="Does it learn?")
        if seed % 2:
            BucketRule.objects.create(org=org, field="service", pattern="amazon s*", bucket="research")
            BucketRule.objects.create(org=org, field="feature", pattern="age*", bucket="evaluation")
            BucketRule.objects.create(org=org, field="owner", pattern="team-*", bucket="training")
        keys = ("none", "even", "tokens", "blend", "requests", "none")
        EconomicsSettings.objects.create(
            org=org,
            shared_cost_key=keys[seed % len(keys)],
            api_gap_key=keys[(seed + 2) % len(keys)],
            blend_weights={"tokens": 2, "requests": 1, "gpu_hours": 1},
            group_keys={"Amazon S3": "even", "AWS Data*": "none"} if seed % 3 == 1 else {},
            deferrable_features=["agent"],
        )
        return org

    def assert_grouped_same(self, org) -> list:
        """Both paths write the same rows; returns the groups the grouped read summed (PostgreSQL)."""
        groups = []
        grouped = inputs._lines_grouped

        def spy(*args, **kwargs):
            result = grouped(*args, **kwargs)
            groups.extend(result[0])
            return result

        with patch("finops.selectors.inputs._lines_grouped", spy):
            oracle = self.assert_same(org)
        if connection.vendor == "postgresql":
            self.assertTrue(groups)
        return groups, oracle

    def test_it_sums_the_bill_lines_of_generated_days_as_the_python_path(self):
        summed = 0
        for seed in range(6):
            with self.subTest(seed=seed):
                groups, _ = self.assert_grouped_same(self.generated_day(seed))
                summed += sum(len(g.ids) > 1 for g in groups)
        if connection.vendor == "postgresql":
            self.assertGreater(summed, 20)  # the days had lines to sum

    def test_it_reads_every_line_on_its_own_where_a_sum_would_differ(self):
        """Credits netted over a GPU resource's lines and shared lines under a key are read again line by line; a
        day of only such lines still rolls up as the Python path does."""
        org = self.org_create("Credits and keys")
        self.events(org, random.Random(5), 100)
        upload = Upload.objects.create(org=org, kind="bill", file="x.csv", original_name="x.csv", sha256="1" * 64,
                                       status="done")  # fmt: skip
        lines = []
        for n, (resource, service, amount, tags) in enumerate([
            ("i-gpu-3", "Amazon EC2", "98.32", {}), ("i-gpu-3", "Amazon EC2", "98.32", {"customer": "cust-1"}),
            ("i-gpu-3", "Amazon EC2", "98.32", {}), ("i-gpu-3", "Amazon EC2", "-30.0000000001", {}),
            ("bucket-1", "Amazon S3", "0.42", {}), ("bucket-1", "Amazon S3", "0.42", {}),
            ("bucket-1", "Amazon S3", "0.4200000003", {}), ("eni-1", "AWS Data Transfer", "0.9", {}),
            ("eni-1", "AWS Data Transfer", "0.9", {}),
        ]):  # fmt: skip
            begin = START + timedelta(hours=n)
            lines.append(CostLine(
                org=org, upload=upload, source_row=n + 1, provider="AWS", billing_period_start=START,
                billing_period_end=START + timedelta(days=30), charge_period_start=begin,
                charge_period_end=begin + timedelta(hours=1), charge_category="Usage", service_name=service,
                resource_id=resource, sku_id="p5.48xlarge" if resource.startswith("i-gpu") else "",
                billed_cost_amount=D(amount), effective_cost_amount=D(amount), currency="USD", **tags,
            ))  # fmt: skip
        CostLine.objects.bulk_create(lines)
        EconomicsSettings.objects.create(org=org, shared_cost_key="none", group_keys={"Amazon S3": "requests"})
        _, oracle = self.assert_grouped_same(org)
        netted = [row for row in oracle["Rollup"] if row[ROLLUP_SOURCE] == "gpu_no_agent"]
        self.assertEqual(len(netted), 1)
        shared = [row for row in oracle["Rollup"] if row[ROLLUP_SOURCE] == "cloud_shared"]
        self.assertEqual({row[ROLLUP_KIND] for row in shared}, {"allocated", "unattributed"})

    def test_a_day_with_no_bill_line(self):
        org = self.org_create("No bill")
        self.events(org, random.Random(2), 60)
        self.assert_same(org)
        self.assertEqual(RollupDay.objects.get(org=org, day=DAY).rows, Rollup.objects.filter(org=org, day=DAY).count())


_ROLLUP_NAMES = [f.attname for f in Rollup._meta.concrete_fields if f.attname != "id"]
ROLLUP_KIND, ROLLUP_SOURCE = _ROLLUP_NAMES.index("kind"), _ROLLUP_NAMES.index("source")
