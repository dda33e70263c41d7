"""The day's calls rolled up in SQL (finops/services/rollup_calls.py) against the Python path, the oracle: on generated
days with every kind of call and bill the allocation distinguishes, every row of the four rollup tables the same, to
the 10th decimal. On SQLite both are the Python path."""

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from unittest.mock import patch

from django.db import connection

from finops.models import (
    BucketRule,
    CustomerRollup,
    EconomicsSettings,
    ExchangeRate,
    JobRollup,
    LearningQuestion,
    Rollup,
    RollupDay,
    WorkRollup,
)
from finops.services.rollup_calls import calls_rollup_write
from finops.services.rollups import rollup_day_recompute
from ingest.models import CostLine, Gpu, GpuHost, GpuHour, Upload, UsageEvent
from tests.base import BaseTestCase
from tests.finops.test_money_in_reasons import subscribe

DAY = date(2026, 11, 4)
START = datetime(2026, 11, 4, tzinfo=UTC)
PROVIDERS = ("openai", " OpenAI ", "anthropic", "mistral ai", "self-hosted", "Anthropic\t")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet", "ft-v2")
FEATURES = ("", "chat", "agent", "batch-report", "search")
PURPOSES = ("", "", "inference", " Evaluation ", "training", "research", "batch", "fine-tuning", "odd")
PLANS = ("", "pro", "free", "enterprise")


def snapshot(org) -> dict:
    """Every row of the day in each rollup table, as a multiset of its values (ids aside)."""
    tables = {}
    for model in (Rollup, JobRollup, WorkRollup, CustomerRollup):
        names = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        rows = model.objects.filter(org=org, day=DAY).values_list(*names)
        tables[model.__name__] = Counter(
            tuple(tuple(v) if isinstance(v, list) else (D(v).normalize() if isinstance(v, D) else v) for v in row)
            for row in rows
        )
    return tables


class RollupCallsTests(BaseTestCase):
    def events(self, org, rng: random.Random, count: int, currencies=("USD",)):
        rows = []
        for n in range(count):
            job = rng.random() < 0.6
            job_id = f"job-{rng.randrange(count // 3 + 1)}" if job else ""
            priced = rng.random() < 0.85
            customer = "" if rng.random() < 0.15 else f"cust-{rng.randrange(12)}"
            plan = rng.choice(PLANS)
            rows.append(UsageEvent(
                org=org, event_id=f"e{n}", occurred_at=START + timedelta(seconds=rng.randrange(86400)),
                request_count=rng.choice((1, 1, 1, 3)), provider=rng.choice(PROVIDERS), model=rng.choice(MODELS),
                route=rng.choice(("", "cheap", "premium")), customer=customer, feature=rng.choice(FEATURES),
                environment=rng.choice(("prod", "staging", "")), purpose=rng.choice(PURPOSES), job_id=job_id,
                attempt=rng.choice((1, 1, 2, 3)) if job else 1, status=rng.choice(("ok", "ok", "ok", "error")),
                input_tokens=rng.choice((None, rng.randrange(50, 4000))), output_tokens=rng.randrange(0, 900),
                cost_amount=D(rng.randrange(1, 10**8)) / 10**10 * rng.choice((1, 1, 1, 100)) if priced else None,
                currency=rng.choice(currencies) if priced else "",
                cost_source="catalogue" if priced else "unpriced",
                metadata={"plan": plan} if plan else {},
            ))  # fmt: skip
        UsageEvent.objects.bulk_create(rows)

    def bills(self, org, lines):
        """(provider, service, resource, amount, currency, tags) bill lines of the day, each over one hour."""
        upload = Upload.objects.create(org=org, kind="bill", file="x.csv", original_name="x.csv", sha256="0" * 64,
                                       status="done")  # fmt: skip
        rows = []
        for n, (provider, service, resource, amount, currency, tags) in enumerate(lines):
            begin = START + timedelta(hours=n % 24)
            rows.append(CostLine(
                org=org, upload=upload, source_row=n + 1, provider=provider, billing_period_start=START,
                billing_period_end=START + timedelta(days=30), charge_period_start=begin,
                charge_period_end=begin + timedelta(hours=1), charge_category="Usage", service_name=service,
                resource_id=resource, billed_cost_amount=D(amount), effective_cost_amount=D(amount), currency=currency,
                **tags,
            ))  # fmt: skip
        CostLine.objects.bulk_create(rows)

    def assert_same(self, org, *, in_sql: bool = True):
        """Both paths write the same rows; on PostgreSQL the SQL one wrote the calls' rows (or, not `in_sql`, left
        them to Python)."""
        rollup_day_recompute(org=org, day=DAY, in_sql=False)
        oracle, rows = snapshot(org), RollupDay.objects.get(org=org, day=DAY).rows
        returned = []

        def spy(**kwargs):
            returned.append(calls_rollup_write(**kwargs))
            return returned[-1]

        with patch("finops.services.rollups.calls_rollup_write", spy):
            rollup_day_recompute(org=org, day=DAY)
        if connection.vendor == "postgresql":
            self.assertEqual([r is not None for r in returned], [in_sql])
        ours = snapshot(org)
        for table, expected in oracle.items():
            self.assertEqual(ours[table], expected, table)
        self.assertEqual(RollupDay.objects.get(org=org, day=DAY).rows, rows)
        self.assertEqual(rows, sum(oracle["Rollup"].values()))
        self.assertGreater(sum(oracle["Rollup"].values()), 0)
        return oracle

    def test_it_rolls_up_generated_days_as_the_python_path(self):
        for seed in range(4):
            with self.subTest(seed=seed):
                rng = random.Random(seed)
                org = self.org_create(f"Seed {seed}")
                self.events(org, rng, 400 + 100 * seed, currencies=("USD", "USD", "USD", "EUR", "GBP"))
                ExchangeRate.objects.create(org=org, currency="EUR", rate=D("1.0833333333"), effective_from=DAY)
                subscribe(org, "cust-1", "99")  # a Stripe plan wins over the events' own
                LearningQuestion.objects.create(org=org, run="job-3", question="Does it learn?")
                self.bills(org, [
                    ("OpenAI", "Chat Completions", "proj-1", "50.0000000001", "USD", {}),  # above the calls: a gap
                    ("Anthropic", "Claude", "proj-2", "900", "USD", {}),
                    ("AWS", "Amazon S3", "bucket-1", "3.21", "USD", {}),  # shared
                    ("AWS", "Amazon RDS", "db-1", "1.5", "USD", {"feature": "search", "customer": "cust-2"}),
                    ("AWS", "Amazon EC2", "i-gpu-1", "98.32", "USD", {"purpose": "training"}),
                    ("AWS", "Amazon EC2", "i-cpu-1", "0.4", "EUR", {}),
                    ("Mistral AI", "Le Chat", "m-1", "7", "GBP", {}),  # no rate: unattributed, bills nothing
                ])  # fmt: skip
                if seed % 2:
                    BucketRule.objects.create(org=org, field="feature", pattern="batch-*", bucket="evaluation")
                    BucketRule.objects.create(org=org, field="model", pattern="*MINI", bucket="research")
                    BucketRule.objects.create(org=org, field="job_id", pattern="job-1?", bucket="training")
                    BucketRule.objects.create(org=org, field="owner", pattern="*", bucket="waste")
                EconomicsSettings.objects.create(org=org, shared_cost_key=("none", "tokens", "blend", "even")[seed],
                                                 api_gap_key=("none", "requests", "even", "none")[seed],
                                                 blend_weights={"tokens": 2, "requests": 1},
                                                 deferrable_features=["agent"] if seed else [])  # fmt: skip
                self.assert_same(org)

    def test_it_leaves_the_calls_to_python_when_they_cost_more_than_their_bill_or_are_huge(self):
        for n, bill in enumerate(("0.0001", None)):
            with self.subTest(bill=bill):
                org = self.org_create(f"Scaled {n}")
                self.events(org, random.Random(7), 300, currencies=("USD", "EUR"))
                if bill:
                    self.bills(org, [("OpenAI", "Chat Completions", "proj-1", bill, "USD", {})])
                else:  # a converted amount past what Python's 28 digits keep exact
                    ExchangeRate.objects.create(org=org, currency="EUR", rate=D("1.0833333333"), effective_from=DAY)
                    UsageEvent.objects.filter(org=org, currency="EUR").update(cost_amount=D("123456789.1234567891"))
                self.assert_same(org, in_sql=False)

    def test_it_merges_the_calls_of_jobs_that_gpu_time_also_carries(self):
        org = self.org_create("GPU jobs")
        self.events(org, random.Random(3), 300)
        host = GpuHost.objects.create(org=org, name="gpu-1", hourly_rate_amount=D("10"), currency="USD", owner="ml")
        gpus = [Gpu.objects.create(org=org, host=host, uuid=f"GPU-{i}", index=i) for i in range(2)]
        for hour in range(3):
            GpuHour.objects.create(org=org, gpu=gpus[hour % 2], hour=START + timedelta(hours=hour),
                                   covered_seconds=3600,
                                   gpu_seconds_by_label={"customer=cust-4;job_id=job-1": "1800.5",
                                                         "job_id=job-2;purpose=training": "900",
                                                         "customer=cust-9;job_id=job-404": "60.25"})  # fmt: skip
        oracle = self.assert_same(org)
        gpu_jobs = [row for row in oracle["JobRollup"] if row[2] in ("job-1", "job-2", "job-404")]
        self.assertEqual(len(gpu_jobs), 3)

    def test_it_is_the_python_path_on_sqlite(self):
        org = self.org_create("Plain")
        self.events(org, random.Random(1), 50)
        self.assert_same(org)
        if connection.vendor != "postgresql":
            self.assertFalse(Rollup.objects.filter(org=org, day=DAY + timedelta(days=1)).exists())

    def org_create(self, name):
        from accounts.services import org_create

        return org_create(name=name, owner=self.alice)
