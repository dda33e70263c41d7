"""An OpenAI or Anthropic usage report counts days, not calls: uploaded again it replaces what earlier reports of the
same format held over the days it covers (a restated day counts once, with its new numbers), and nothing else:
not other days, not live events, not another OpenAI endpoint's report. Single-event formats keep the event_id
dedupe (tests/ingest/test_usage_events.py)."""

import json
from datetime import UTC, datetime, timedelta

from django.db.models import Sum

from ingest.models import UsageEvent
from tests.ingest.test_bill_uploads import UploadTestCase

DAY1 = datetime(2026, 10, 5, tzinfo=UTC)
DAY2, DAY3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)


def anthropic_page(days: dict) -> bytes:
    iso = "%Y-%m-%dT%H:%M:%SZ"
    data = [
        {"starting_at": day.strftime(iso), "ending_at": (day + timedelta(days=1)).strftime(iso), "results": results}
        for day, results in days.items()
    ]
    return json.dumps({"data": data, "has_more": False, "next_page": None}).encode()


def anthropic_result(tokens: int, model="claude-sonnet-4-20250514") -> list[dict]:
    return [{"uncached_input_tokens": tokens, "output_tokens": tokens // 10, "cache_read_input_tokens": 0,
             "cache_creation": None, "model": model, "workspace_id": None, "service_tier": "standard"}]  # fmt: skip


def openai_page(days: dict) -> bytes:
    data = [
        {"object": "bucket", "start_time": int(day.timestamp()), "end_time": int(day.timestamp()) + 86400,
         "results": results}
        for day, results in days.items()
    ]  # fmt: skip
    return json.dumps({"object": "page", "data": data, "has_more": False, "next_page": None}).encode()


def openai_result(endpoint: str, tokens: int) -> list[dict]:
    result = {"object": f"organization.usage.{endpoint}.result", "input_tokens": tokens, "num_model_requests": 3,
              "model": "text-embedding-3-small" if endpoint == "embeddings" else "gpt-4o-mini"}  # fmt: skip
    if endpoint == "completions":
        result |= {"output_tokens": tokens // 4, "input_cached_tokens": 0}
    return [result]


class UsageReportReplacesItsSpanTest(UploadTestCase):
    def tokens(self, day, **filters) -> int | None:
        events = UsageEvent.objects.for_org(self.org).filter(occurred_at__gte=day, occurred_at__lt=day + timedelta(1))
        return events.filter(**filters).aggregate(total=Sum("input_tokens"))["total"]

    def test_a_restated_day_replaces_the_old_numbers_and_nothing_else(self):
        days = {day: anthropic_result(100 * n) for n, day in enumerate((DAY1, DAY2, DAY3), 1)}
        first = self.upload("a.json", anthropic_page(days), kind="usage")
        self.assertEqual((first["status"], first["rows_loaded"]), ("done", 3))
        self.post_events([{"event_id": "live-1", "timestamp": "2026-10-06T10:00:00Z", "provider": "anthropic",
                           "model": "claude-sonnet-4-20250514", "input_tokens": 7}])  # fmt: skip
        again = self.upload("b.json", anthropic_page({DAY2: anthropic_result(999)}), kind="usage")
        self.assertEqual((again["status"], again["rows_loaded"], again["rows_replaced"]), ("done", 1, 1))
        self.assertEqual(self.tokens(DAY2, upload__isnull=False), 999)  # not 200 + 999
        self.assertEqual(self.tokens(DAY2, upload__isnull=True), 7)  # the live event stays
        self.assertEqual((self.tokens(DAY1), self.tokens(DAY3)), (100, 300))  # days it does not cover stay

    def test_the_same_report_twice_counts_once(self):
        page = anthropic_page({DAY1: anthropic_result(100), DAY2: anthropic_result(200)})
        self.upload("a.json", page, kind="usage")
        again = self.upload("a.json", page, kind="usage")
        self.assertEqual((again["rows_loaded"], again["rows_replaced"], again["rows_duplicate"]), (2, 2, 0))
        self.assertEqual(UsageEvent.objects.for_org(self.org).aggregate(t=Sum("input_tokens"))["t"], 300)

    def test_a_completions_report_leaves_the_embeddings_report_be(self):
        self.upload("emb.json", openai_page({DAY1: openai_result("embeddings", 5000)}), kind="usage")
        self.upload("c1.json", openai_page({DAY1: openai_result("completions", 100)}), kind="usage")
        restated = self.upload("c2.json", openai_page({DAY1: openai_result("completions", 150)}), kind="usage")
        self.assertEqual(restated["rows_replaced"], 1)
        self.assertEqual(self.tokens(DAY1, model="gpt-4o-mini"), 150)
        self.assertEqual(self.tokens(DAY1, model="text-embedding-3-small"), 5000)

    def test_another_organisations_report_is_never_replaced(self):
        page = anthropic_page({DAY1: anthropic_result(100)})
        self.assertEqual(self.api_upload("a.json", page, kind="usage", key=self.charlie_key).status_code, 201)
        self.upload("a.json", anthropic_page({DAY1: anthropic_result(300)}), kind="usage")
        theirs = UsageEvent.objects.for_org(self.charlies_org).aggregate(t=Sum("input_tokens"))["t"]
        self.assertEqual((theirs, self.tokens(DAY1)), (100, 300))

    def test_a_rejected_report_replaces_nothing(self):
        self.upload("a.json", anthropic_page({DAY1: anthropic_result(100)}), kind="usage")
        bad = anthropic_result(300)
        bad[0]["output_tokens"] = -1
        rejected = self.upload("b.json", anthropic_page({DAY1: bad}), kind="usage")
        self.assertEqual(rejected["status"], "failed")
        self.assertEqual(self.tokens(DAY1), 100)

    def test_reports_of_two_organisations_of_one_provider_replace_only_their_own(self):
        def tagged(tokens, organization):
            return [{**result, "organization_id": organization} for result in anthropic_result(tokens)]

        self.upload("alpha.json", anthropic_page({DAY1: tagged(100, "org-alpha")}), kind="usage")
        self.upload("beta.json", anthropic_page({DAY1: tagged(200, "org-beta")}), kind="usage")
        self.upload("untagged.json", anthropic_page({DAY1: anthropic_result(400)}), kind="usage")
        self.assertEqual(self.tokens(DAY1), 700)  # the same bucket of three organisations: three rows
        restated = self.upload("beta2.json", anthropic_page({DAY1: tagged(250, "org-beta")}), kind="usage")
        self.assertEqual((restated["rows_loaded"], restated["rows_replaced"]), (1, 1))
        self.assertEqual(self.tokens(DAY1), 750)
        self.upload("untagged2.json", anthropic_page({DAY1: anthropic_result(450)}), kind="usage")
        self.assertEqual(self.tokens(DAY1), 800)
