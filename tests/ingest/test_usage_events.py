"""Live usage events and generic usage files, as a product and a script would send them."""

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ingest.models import CostLine, UsageEvent
from ingest.selectors import _jobs, usage_event_list, usage_summary
from tests.ingest.helpers import csv_bytes
from tests.ingest.test_bill_uploads import UploadTestCase, focus_rows


def event(i, **fields):
    base = {
        "event_id": f"evt-{i}",
        "timestamp": "2026-10-05T10:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "customer": "acme",
        "feature": "summarise",
        "input_tokens": 1000,
        "output_tokens": 200,
    }
    return {**base, **fields}


class UsageEventsApiTests(UploadTestCase):
    url = "/api/v1/usage-events/"

    def post(self, events, key=None):
        return self.client.post(
            self.url,
            json.dumps(events),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key or self.write_key}",
        )

    def test_it_stores_a_batch_once_however_often_it_is_sent(self):
        batch = [event(i) for i in range(1000)]
        first = self.post(batch).json()
        self.assertEqual(first, {"accepted": 1000, "duplicates": 0, "rejected": []})
        second = self.post(batch).json()
        self.assertEqual(second, {"accepted": 0, "duplicates": 1000, "rejected": []})
        self.assertEqual(UsageEvent.objects.filter(org=self.org).count(), 1000)

    def test_it_refuses_bad_events_by_index_and_field_and_keeps_the_rest(self):
        batch = [
            event(1),
            event(2, input_tokens=-5),
            event(3, timestamp="2026-10-05 10:00"),
            event(4, purpose="fun"),
            event(5, model=""),
            event(6, cost="abc"),
            "not an object",
            event(8, status="ok", attempt=2, job_id="job-1"),
        ]
        body = self.post(batch).json()
        self.assertEqual(body["accepted"], 2)
        self.assertEqual(
            [(r["index"], r["field"]) for r in body["rejected"]],
            [(1, "input_tokens"), (2, "timestamp"), (3, "purpose"), (4, "model"), (5, "cost"), (6, None)],
        )
        self.assertIn("time zone", body["rejected"][1]["message"])

    def test_it_refuses_each_text_field_longer_than_its_column(self):
        lengths = {"event_id": 200, "provider": 100, "model": 200, "route": 200, "customer": 200, "feature": 200,
                   "environment": 100, "job_id": 200, "error_type": 200}  # fmt: skip
        batch = [event(i, **{field: "x" * (length + 1)}) for i, (field, length) in enumerate(lengths.items())]
        body = self.post([*batch, event(99, **{field: "x" * length for field, length in lengths.items()})]).json()
        self.assertEqual(body["accepted"], 1, "a value as long as its column is kept whole")
        self.assertEqual([(r["index"], r["field"]) for r in body["rejected"]], list(enumerate(lengths)))
        self.assertEqual(UsageEvent.objects.get(org=self.org).model, "x" * 200)

    def test_it_prices_from_the_catalogue_and_keeps_unknown_models_unpriced(self):
        self.post([event(1), event(2, model="our-finetune-v3"), event(3, cost="0.0100", currency="USD")])
        sources = dict(UsageEvent.objects.filter(org=self.org).values_list("event_id", "cost_source"))
        self.assertEqual(sources, {"evt-1": "catalogue", "evt-2": "unpriced", "evt-3": "reported"})
        priced = UsageEvent.objects.get(event_id="evt-1")
        self.assertGreater(priced.cost_amount, 0)
        self.assertIsNone(UsageEvent.objects.get(event_id="evt-2").cost_amount)
        self.assertEqual(UsageEvent.objects.get(event_id="evt-3").cost_amount, Decimal("0.0100"))

    def test_it_refuses_more_than_a_thousand_events(self):
        self.assertEqual(self.post([event(i) for i in range(1001)]).status_code, 400)
        self.assertEqual(self.post({"event_id": "x"}).status_code, 400)

    def test_it_requires_write(self):
        self.assertEqual(self.post([event(1)], key=self.read_key).status_code, 403)
        self.assertFalse(UsageEvent.objects.exists())

    def test_it_hides_other_orgs(self):
        self.post([event(1)])
        body = self.post([event(1)], key=self.charlie_key).json()
        self.assertEqual(body["accepted"], 1, "an event id of another org is not a duplicate")
        summary = self.api_get("/api/v1/usage/summary/?start=2026-10-01&end=2026-11-01", key=self.charlie_key).json()
        self.assertEqual(summary["calls"], 1)


class UsageSummaryApiTests(UsageEventsApiTests):
    def test_it_counts_calls_jobs_retries_and_unpriced_models(self):
        self.post(
            [
                event(1, job_id="job-1", attempt=1, status="error"),
                event(2, job_id="job-1", attempt=2, status="error"),
                event(3, job_id="job-1", attempt=3, status="ok"),
                event(4, job_id="job-2", attempt=1, status="error"),
                event(5, model="mystery-model"),
                event(6, model="mystery-model"),
                event(7, timestamp="2026-09-30T23:59:59Z"),
            ]
        )
        body = self.api_get("/api/v1/usage/summary/?start=2026-10-01&end=2026-11-01").json()
        self.assertEqual((body["calls"], body["priced_calls"], body["unpriced_calls"]), (6, 4, 2))
        self.assertEqual(body["unpriced_models"], [{"provider": "openai", "model": "mystery-model", "calls": 2}])
        self.assertEqual((body["completed_jobs"], body["retries"]), (1, 2))
        self.assertEqual(body["input_tokens"], 6000)
        self.assertIsNone(body["cost_by_source"]["reported"])
        self.assertEqual(body["cost"], body["cost_by_source"]["catalogue"])

    def test_it_says_unknown_not_zero_when_nothing_is_priced(self):
        self.post([event(1, model="mystery-model")])
        body = self.api_get("/api/v1/usage/summary/?start=2026-10-01&end=2026-11-01").json()
        self.assertIsNone(body["cost"])

    def test_it_counts_many_jobs_as_a_brute_force_count_does(self):
        """Hundreds of jobs, attempts out of order and across the period's edges, calls without a job: completed
        jobs (the last attempt, by attempt then time, is ok), failed jobs and retries (attempts minus jobs) of the
        calls in the period, as counted here in Python."""
        rnd = random.Random(15)
        start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
        events, n = [], 0
        for job in range(300):
            attempts = rnd.choice([1, 1, 2, 3, 5])
            first = start + timedelta(days=rnd.uniform(-2, 32))
            repeated = [attempts] if rnd.random() < 0.2 else []  # one attempt logged twice: the later one counts
            for attempt in rnd.sample(range(1, attempts + 1), attempts) + repeated:  # sent in any order
                at = first + timedelta(seconds=rnd.randrange(1, 86400 * 2))
                status = rnd.choice(["ok", "error", "error"])
                events.append(event(n, job_id=f"job-{job}", attempt=attempt, status=status,
                                    timestamp=at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{n:06d}Z"))  # fmt: skip
                n += 1
        events += [event(n + i, timestamp=f"2026-10-{1 + i % 28:02d}T08:00:00Z") for i in range(40)]  # no job
        for first in range(0, len(events), 1000):
            self.assertEqual(self.post(events[first : first + 1000]).json()["rejected"], [])

        jobs = {}
        for e in events:
            at = datetime.fromisoformat(e["timestamp"])
            if e.get("job_id") and start <= at < end:
                jobs.setdefault(e["job_id"], []).append((e["attempt"], at, e["status"]))
        attempts = sum(len(calls) for calls in jobs.values())
        completed = sum(1 for calls in jobs.values() if max(calls)[2] == "ok")
        self.assertGreater(attempts - len(jobs), 100, "retries enough to tell the counts apart")
        self.assertGreater(len(jobs) - completed, 50)

        body = self.api_get("/api/v1/usage/summary/?start=2026-10-01&end=2026-11-01").json()
        self.assertEqual((body["completed_jobs"], body["retries"]), (completed, attempts - len(jobs)))
        summary = usage_summary(org=self.org, start=start, end=end)
        self.assertEqual(summary["failed_jobs"], len(jobs) - completed)

    def test_it_reads_the_jobs_in_one_query(self):
        """One pass over the period's calls, not a subquery per job."""
        self.post([event(i, job_id=f"job-{i // 2}", attempt=1 + i % 2, status="ok") for i in range(20)])
        events = usage_event_list(org=self.org)
        with self.assertNumQueries(1) as queries:
            self.assertEqual(_jobs(events), {"completed_jobs": 10, "failed_jobs": 0, "retries": 10})
        self.assertNotIn("LIMIT", queries.captured_queries[0]["sql"].upper())


class UsageFileTests(UploadTestCase):
    def test_it_imports_a_generic_csv_once(self):
        content = csv_bytes(
            [
                ["event_id", "timestamp", "provider", "model", "customer", "job_id", "attempt", "status",
                 "input_tokens", "output_tokens"],
                ["e1", "2026-10-05T10:00:00Z", "openai", "gpt-4o-mini", "acme", "j1", "1", "error", "1200", ""],
                ["e2", "2026-10-05T10:00:03Z", "openai", "gpt-4o-mini", "acme", "j1", "2", "ok", "1200", "310"],
            ]
        )  # fmt: skip
        body = self.upload("calls.csv", content, kind="usage")
        self.assertEqual((body["status"], body["format"], body["rows_loaded"]), ("done", "generic_events", 2))
        self.assertIsNone(UsageEvent.objects.get(event_id="e1").output_tokens, "unknown is not zero")
        again = self.upload("calls.csv", content, kind="usage")
        self.assertEqual((again["status"], again["rows_loaded"]), ("done", 0))
        self.assertEqual(UsageEvent.objects.count(), 2)

    def test_it_imports_json_lines(self):
        lines = "\n".join(json.dumps(event(i, metadata={"trace": i})) for i in range(3)).encode()
        body = self.upload("calls.jsonl", lines, kind="usage")
        self.assertEqual((body["status"], body["rows_loaded"]), ("done", 3))
        self.assertEqual(UsageEvent.objects.get(event_id="evt-2").metadata, {"trace": 2})

    def test_it_rejects_a_malformed_file_whole(self):
        lines = b"\n".join(
            [json.dumps(event(1)).encode(), json.dumps(event(2, output_tokens="many")).encode(), b"{oops"]
        )
        body = self.upload("bad.jsonl", lines, kind="usage")
        self.assertEqual(body["status"], "failed")
        self.assertEqual([(e["row"], e["column"]) for e in body["errors"]], [(2, "output_tokens"), (3, None)])
        self.assertFalse(UsageEvent.objects.exists())


class LongLabelTests(UploadTestCase):
    def test_it_cuts_each_label_of_a_litellm_file_longer_than_its_column_to_it(self):
        call = {
            "request_id": "req-" + "i" * 250,
            "call_type": "acompletion",
            "spend": 0.001,
            "startTime": "2026-10-05T10:00:00Z",
            "endTime": "2026-10-05T10:00:01Z",
            "custom_llm_provider": "P" * 150,
            "model": "m" * 300,
            "model_group": "g" * 300,
            "end_user": "c" * 300,
            "status": "failure",
            "request_tags": ["job:" + "j" * 300],
            "metadata": {
                "feature": "f" * 300,
                "environment": "e" * 300,
                "error_information": {"error_class": "x" * 300},
            },
        }
        body = self.upload("spend_logs.json", json.dumps([call]).encode(), kind="usage")
        self.assertEqual((body["status"], body["format"], body["rows_loaded"]), ("done", "litellm_spend_json", 1))
        row = UsageEvent.objects.get(org=self.org)
        stored = {name: getattr(row, name) for name in ("provider", "model", "route", "customer", "feature",
                                                         "environment", "job_id", "error_type")}  # fmt: skip
        self.assertEqual(
            stored,
            {"provider": "p" * 100, "model": "m" * 200, "route": "g" * 200, "customer": "c" * 200,
             "feature": "f" * 200, "environment": "e" * 100, "job_id": "j" * 200, "error_type": "x" * 200},
        )  # fmt: skip
        self.assertTrue(row.event_id.startswith("litellm:"), "a long id is hashed, never cut")

    def test_it_cuts_the_model_of_an_openai_usage_report_to_its_column(self):
        result = {"object": "organization.usage.completions.result", "input_tokens": 10, "output_tokens": 5,
                  "num_model_requests": 1, "model": "m" * 300}  # fmt: skip
        page = {"object": "page", "data": [{"object": "bucket", "start_time": 1736726400, "end_time": 1736812800,
                                            "results": [result]}], "has_more": False}  # fmt: skip
        body = self.upload("usage.json", json.dumps(page).encode(), kind="usage")
        self.assertEqual((body["status"], body["format"], body["rows_loaded"]), ("done", "openai_usage", 1))
        self.assertEqual(UsageEvent.objects.get(org=self.org).model, "m" * 200)


class ReconciliationTests(UsageEventsApiTests):
    def test_it_holds_logged_calls_against_the_provider_bill_to_the_cent(self):
        self.post(
            [event(1, cost="40.00"), event(2, cost="35.50"), event(3, provider="anthropic", model="claude-x", cost="5")]
        )
        bill = focus_rows(["60.00", "25.75"], provider="OpenAI", account="org-openai")
        self.upload("openai-bill.csv", bill)
        body = self.api_get("/api/v1/reconciliation/?month=2026-10").json()
        rows = {row["provider"]: row for row in body["providers"]}
        self.assertEqual(rows["openai"]["calls_total"], "75.5000000000")
        self.assertEqual(rows["openai"]["bill_total"], "85.7500000000")
        self.assertEqual((rows["openai"]["gap"], rows["openai"]["status"]), ("10.2500000000", "under"))
        self.assertEqual((rows["anthropic"]["bill_total"], rows["anthropic"]["gap"]), (None, None))
        self.assertEqual(rows["anthropic"]["status"], "incomplete")
        self.assertNotIn("aws", rows)
        self.assertEqual(CostLine.objects.filter(org=self.org).count(), 2)

    def test_it_matches_when_the_logs_explain_the_bill(self):
        self.post([event(1, cost="60.00"), event(2, cost="25.75")])
        self.upload("openai-bill.csv", focus_rows(["60.00", "25.75"], provider="OpenAI"))
        row = self.api_get("/api/v1/reconciliation/?month=2026-10").json()["providers"][0]
        self.assertEqual((row["gap"], row["status"]), ("0.0000000000", "matched"))

    def test_it_hides_other_orgs(self):
        self.post([event(1, cost="1.00")])
        body = self.api_get("/api/v1/reconciliation/?month=2026-10", key=self.charlie_key).json()
        self.assertEqual(body["providers"], [])
        self.assertEqual(self.api_get("/api/v1/reconciliation/?month=nope").status_code, 400)
