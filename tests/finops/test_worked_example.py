"""ECONOMICS.md's worked example, driven the way a user would: a FOCUS bill upload, an agent batch, live
usage events and the provider's cost report, then the rollup read back through the API."""

import json
from datetime import UTC, datetime, timedelta

from accounts.services import agent_token_create
from finops.models import LearningQuestion, Rollup, RollupDay
from finops.services.rollups import rollups_refresh
from ingest.models import DirtyDay
from ingest.services.agent import gpu_host_update
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin, csv_bytes

T10 = datetime(2026, 10, 5, 10, tzinfo=UTC)
FOCUS_HEADER = ["BillingAccountId", "ProviderName", "BillingCurrency", "BillingPeriodStart", "ChargePeriodStart",
                "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ResourceId", "SkuId",
                "Tags"]  # fmt: skip


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def agent_hour():
    """gpu-1's hour: GPU 0 runs acme's job j1 at 100% for 30 minutes, GPU 1 a training run at 50% all hour."""
    samples, processes = [], []
    for minute in range(60):
        ts = iso(T10 + timedelta(minutes=minute))
        busy = minute < 30
        samples.append({"ts": ts, "gpu_uuid": "GPU-0", "utilization_gpu_pct": 100 if busy else 0})
        samples.append({"ts": ts, "gpu_uuid": "GPU-1", "utilization_gpu_pct": 50})
        if busy:
            processes.append({"ts": ts, "gpu_uuid": "GPU-0", "pid": 100, "sm_util_pct": 100,
                              "used_memory_bytes": 10**10,
                              "labels": {"customer": "acme", "job_id": "j1", "purpose": "inference"}})  # fmt: skip
        processes.append({"ts": ts, "gpu_uuid": "GPU-1", "pid": 200, "sm_util_pct": 50, "used_memory_bytes": 10**10,
                          "labels": {"purpose": "training", "job_id": "run-b"}})  # fmt: skip
    return {"batch_id": "gpu-1-h10", "agent_version": "1.0.0", "interval_seconds": 60,
            "host": {"name": "gpu-1"}, "samples": samples, "processes": processes,
            "gpus": [{"uuid": f"GPU-{i}", "index": i, "name": "NVIDIA H100"} for i in (0, 1)]}  # fmt: skip


def calls():
    return [{"event_id": f"j1-{n}", "timestamp": iso(T10 + timedelta(minutes=5 * n)), "provider": "openai",
             "model": "gpt-4o", "customer": "acme", "job_id": "j1", "attempt": n, "purpose": "inference",
             "status": "ok" if n == 3 else "error", "input_tokens": 1000, "output_tokens": 200}
            for n in (1, 2, 3)]  # fmt: skip


def openai_cost_report(amount):
    begin = int(datetime(2026, 10, 5, tzinfo=UTC).timestamp())
    result = {"object": "organization.costs.result", "amount": {"value": amount, "currency": "usd"},
              "line_item": "completions", "project_id": "proj_1"}  # fmt: skip
    bucket = {"object": "bucket", "start_time": begin, "end_time": begin + 86400, "results": [result]}
    return json.dumps({"object": "page", "data": [bucket], "has_more": False, "next_page": None}).encode()


class WorkedExampleTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()
        gpu_host_update(org=self.org, name="gpu-1", owner="ml", bill_resource_id="i-gpu-1")
        LearningQuestion.objects.create(org=self.org, run="run-b", question="Does the v3 data mix cut refusals?")
        bill = csv_bytes([FOCUS_HEADER, ["acct", "AWS", "USD", "2026-10-01T00:00:00Z", iso(T10),
                                         iso(T10 + timedelta(hours=1)), "Usage", "10.00", "10.00", "i-gpu-1",
                                         "p5.48xlarge", "{}"]])  # fmt: skip
        self.assertEqual(self.api_upload("focus.csv", bill).status_code, 201)
        self.assertEqual(self.api_upload("openai-costs.json", openai_cost_report("0.0135")).status_code, 201)
        _, agent = agent_token_create(org=self.org, host_name="gpu-1", created_by=self.alice)
        response = self.client.post("/api/v1/agent/samples/", json.dumps(agent_hour()),
                                    content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {agent}")  # fmt: skip
        self.assertEqual(response.status_code, 201, response.content)
        response = self.client.post("/api/v1/usage-events/", json.dumps(calls()), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.json()["accepted"], 3, response.content)

    def test_it_reconciles_the_hour_to_the_cent(self):
        body = self.api_get("/api/v1/ledger/summary/?start=2026-10-05&end=2026-10-06").json()
        self.assertEqual(
            (body["billed_total"], body["allocated"], body["idle"], body["unattributed"]),
            ("10.0135000000", "5.0135000000", "5.0000000000", "0.0000000000"),
        )
        self.assertEqual(body["by_bucket"]["idle"], "5.0000000000")
        self.assertEqual(body["by_bucket"]["training"], "2.5000000000")
        self.assertEqual(body["by_bucket"]["retries"], "0.0090000000")
        self.assertEqual(body["by_label"]["customer_value"], "2.5135000000")
        self.assertEqual(body["by_label"]["approved_learning"], "2.5000000000")

    def test_it_costs_acmes_completed_job_with_its_retries(self):
        [acme] = self.api_get("/api/v1/economics/customers/?start=2026-10-05&end=2026-10-06").json()
        self.assertEqual((acme["customer"], acme["ai_cost"]), ("acme", "2.5135000000"))
        self.assertEqual((acme["completed_jobs"], acme["cost_per_completed_job"]), (1, "2.5135000000"))
        self.assertEqual(acme["retries_per_completed_job"], "2.0000000000")
        self.assertIsNone(acme["revenue"])

    def test_every_allocated_amount_names_its_bill_lines(self):
        self.api_get("/api/v1/ledger/summary/?start=2026-10-05&end=2026-10-06")
        gpu_rows = Rollup.objects.filter(org=self.org, source="gpu_bill")
        self.assertTrue(gpu_rows.exists())
        self.assertTrue(all(len(row.cost_line_ids) == 1 for row in gpu_rows))

    def test_a_rerun_changes_nothing_and_only_dirty_days_are_recomputed(self):
        self.api_get("/api/v1/ledger/summary/?start=2026-10-05&end=2026-10-06")
        before = sorted(Rollup.objects.filter(org=self.org).values_list("source", "kind", "cost_amount", "customer"))
        self.assertFalse(DirtyDay.objects.filter(org=self.org).exists())
        self.assertEqual(rollups_refresh(org=self.org), [])  # nothing dirty: nothing recomputed
        DirtyDay.objects.create(org=self.org, day=T10.date())
        self.assertEqual(rollups_refresh(org=self.org), [T10.date()])
        after = sorted(Rollup.objects.filter(org=self.org).values_list("source", "kind", "cost_amount", "customer"))
        self.assertEqual(before, after)

    def test_ingesting_a_new_day_recomputes_only_that_day(self):
        rollups_refresh(org=self.org)
        first = RollupDay.objects.get(org=self.org, day=T10.date()).computed_at
        next_day = [{**call, "event_id": f"{call['event_id']}-next", "timestamp": iso(T10 + timedelta(days=1))}
                    for call in calls()]  # fmt: skip
        response = self.client.post("/api/v1/usage-events/", json.dumps(next_day), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.json()["accepted"], 3)
        self.assertEqual(rollups_refresh(org=self.org), [T10.date() + timedelta(days=1)])
        self.assertEqual(RollupDay.objects.get(org=self.org, day=T10.date()).computed_at, first)

    def test_the_costs_page_shows_the_identity_and_its_breakdown(self):
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{self.org.code}/costs/?start=2026-10-05&end=2026-10-06")
        html = page.content.decode()
        for figure in ("$10.01", "$5.01", "$5.00", "cost-figures", "gpu_bill"):
            self.assertIn(figure, html)
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(f"/o/{self.org.code}/costs/").status_code, 404)

    def test_it_hides_other_orgs(self):
        body = self.api_get("/api/v1/ledger/summary/?start=2026-10-05&end=2026-10-06", key=self.charlie_key).json()
        self.assertIsNone(body["billed_total"])
        rows = self.api_get("/api/v1/economics/customers/?start=2026-10-05&end=2026-10-06", key=self.charlie_key)
        self.assertEqual(rows.json(), [])
