"""The columnar usage path stores exactly what the row path stores, and steps aside when it must."""

import hashlib
import io
import json
import unittest
from unittest import mock

from django.core.files import File
from django.db import connection

from ingest.models import UsageEvent
from ingest.services import usage
from ingest.services.uploads import _HashingFile
from ingest.services.usage import STORE_COLUMNS
from tests.ingest.helpers import completed_calls
from tests.ingest.test_bill_uploads import UploadTestCase

COMPARED = [c for c in STORE_COLUMNS if c not in ("upload_id",)] + ["cost_amount", "cost_source"]


def lines(events) -> bytes:
    return "\n".join(json.dumps(e) for e in events).encode() + b"\n"


def events(prefix="e", count=60):
    rows = []
    for i in range(count):
        event = {
            "event_id": f"{prefix}-{i}",
            "timestamp": f"2026-10-{1 + i % 20:02d}T{i % 24:02d}:00:00{'Z' if i % 2 else '+02:00'}",
            "provider": ("OpenAI", "anthropic", "self-hosted")[i % 3],
            "model": ("gpt-4o-mini", "claude-haiku-4-5", "ft-v2")[i % 3],
            "customer": f"  cust-{i % 7} ",
            "feature": "chat" if i % 4 else "NULL",
            "job_id": f"job-{i // 3}",
            "attempt": 1 + i % 3,
            "status": "error" if i % 5 == 0 else ("OK" if i % 2 else ""),
            "purpose": "evaluation" if i % 9 == 0 else "",
            "input_tokens": 1000 + i,
            "output_tokens": None if i % 11 == 0 else 100 + i,
            "cached_input_tokens": 512 if i % 2 else 0,
        }
        if i % 6 == 0:
            event.update(cost="0.0123", currency="usd" if i % 12 else "")
        rows.append(event)
    return rows


@unittest.skipUnless(connection.vendor == "postgresql", "the columnar path writes with PostgreSQL COPY; CI runs it")
class UsageColumnarTests(UploadTestCase):
    def both_ways(self, content):
        with completed_calls(usage, "usage_stream_columnar") as calls:  # the columnar path took the whole file
            fast = self.upload("fast.jsonl", content, kind="usage")
        fast_rows = self.rows(fast["id"])
        UsageEvent.objects.all().delete()
        with mock.patch.object(usage, "usage_columnar_possible", return_value=False):
            slow = self.upload("slow.jsonl", content, kind="usage")
        return calls, fast, slow, fast_rows, self.rows(slow["id"])

    def rows(self, upload_code):
        return list(UsageEvent.objects.filter(upload__code=upload_code).order_by("source_row").values_list(*COMPARED))

    def test_it_matches_the_row_path(self):
        calls, fast, slow, fast_rows, slow_rows = self.both_ways(lines(events()))
        self.assertEqual(calls, [1])
        self.assertEqual(len(fast_rows), 60)
        self.assertEqual(fast_rows, slow_rows)
        for key in ("status", "rows_total", "rows_loaded", "rows_duplicate", "period_start", "period_end"):
            self.assertEqual(fast[key], slow[key], key)
        sources = {row[COMPARED.index("cost_source")] for row in fast_rows}
        self.assertEqual(sources, {"reported", "catalogue", "unpriced"})

    def test_it_matches_the_row_path_with_no_cost_or_optional_field(self):
        # Whole columns with nothing to clean, or nothing at all, take shortcuts; the rows must not change.
        optional = ("cost", "currency", "purpose", "status", "customer", "feature")
        bare = [{k: v for k, v in event.items() if k not in optional} for event in events("bare", 200)]
        calls, _, _, fast_rows, slow_rows = self.both_ways(lines(bare))
        self.assertEqual(calls, [1])
        self.assertEqual(len(fast_rows), 200)
        self.assertEqual(fast_rows, slow_rows)
        sources = {row[COMPARED.index("cost_source")] for row in fast_rows}
        self.assertEqual(sources, {"catalogue", "unpriced"})

    def test_few_and_many_distinct_values_are_cleaned_alike(self):
        # A column of few distinct values is cleaned once per value and spread back: the same as whole.
        many = [
            {**e, "customer": f" c-{i} ", "feature": ("NULL", "n/a", " Chat ")[i % 3]} for i, e in enumerate(events())
        ]
        calls, _, _, fast_rows, slow_rows = self.both_ways(lines(many))
        self.assertEqual(calls, [1])
        self.assertEqual(fast_rows, slow_rows)
        customers = {row[COMPARED.index("customer")] for row in fast_rows}
        features = {row[COMPARED.index("feature")] for row in fast_rows}
        self.assertEqual((len(customers), features), (60, {"", "Chat"}))

    def test_it_skips_events_already_held(self):
        content = lines(events())
        self.upload("a.jsonl", content, kind="usage")
        with mock.patch.object(usage, "UsageWriter", wraps=usage.UsageWriter) as writers:
            again = self.upload("b.jsonl", content, kind="usage")
        self.assertEqual((again["rows_loaded"], again["rows_duplicate"]), (0, 60))
        # the first event is held, so the file is staged at once rather than copied into the ledger
        self.assertEqual([call.kwargs["direct"] for call in writers.call_args_list], [False])

    def test_a_file_of_new_events_goes_straight_into_the_ledger(self):
        with mock.patch.object(usage, "UsageWriter", wraps=usage.UsageWriter) as writers:
            body = self.upload("a.jsonl", lines(events()), kind="usage")
        self.assertEqual((body["rows_loaded"], body["rows_duplicate"]), (60, 0))
        self.assertEqual([call.kwargs["direct"] for call in writers.call_args_list], [True])

    def test_a_held_event_further_down_sends_the_file_through_staging(self):
        self.upload("old.jsonl", lines(events("old", 10)), kind="usage")
        held = {row[0]: row for row in self.all_rows()}
        mixed = events("new", 5) + events("old", 10) + events("more", 5)
        with mock.patch.object(usage, "UsageWriter", wraps=usage.UsageWriter) as writers:
            body = self.upload("mixed.jsonl", lines(mixed), kind="usage")
        self.assertEqual([call.kwargs["direct"] for call in writers.call_args_list], [True, False])
        self.assertEqual((body["status"], body["rows_loaded"], body["rows_duplicate"]), ("done", 10, 10))
        rows = {row[0]: row for row in self.all_rows()}
        self.assertEqual(len(rows), 20)
        self.assertEqual({k: rows[k] for k in held}, held)  # the held events are untouched
        self.assertEqual(rows["more-4"][1], 20)  # source rows of the staged attempt

    def test_an_event_repeated_in_the_file_is_stored_once(self):
        repeated = events("r", 4)
        repeated.append({**repeated[1], "customer": "second"})
        calls, fast, slow, fast_rows, slow_rows = self.both_ways(lines(repeated))
        self.assertEqual(fast["rows_loaded"], slow["rows_loaded"])
        self.assertEqual(calls, [1])
        self.assertEqual(fast_rows, slow_rows)
        self.assertEqual((fast["rows_loaded"], fast["rows_duplicate"]), (4, 1))
        self.assertEqual(UsageEvent.objects.get(event_id="r-1").customer, "cust-1")

    def all_rows(self):
        return list(UsageEvent.objects.order_by("event_id").values_list("event_id", "source_row", "upload_id"))

    def test_it_steps_aside_for_files_it_cannot_take_exactly(self):
        cases = {
            "blank line": lines(events("b", 3)).replace(b"\n", b"\n\n", 1),
            "metadata": lines([{**events("m", 1)[0], "metadata": {"trace": 1}}]),
            "number as text": lines([{**events("n", 1)[0], "input_tokens": "1200"}]),
            "unknown field": lines([{**events("u", 1)[0], "colour": "blue"}]),
        }
        for name, content in cases.items():
            with self.subTest(name):
                body = self.upload(f"{name}.jsonl", content, kind="usage")
                self.assertEqual(body["status"], "done", body["errors"])
        self.assertEqual(UsageEvent.objects.get(event_id="m-0").metadata, {"trace": 1})
        self.assertEqual(UsageEvent.objects.get(event_id="b-2").source_row, 4)

    def test_it_leaves_errors_to_the_row_path(self):
        bad = events("x", 3)
        bad[1]["timestamp"] = "2026-10-05 10:00"
        body = self.upload("bad.jsonl", lines(bad), kind="usage")
        self.assertEqual(body["status"], "failed")
        self.assertEqual((body["errors"][0]["row"], body["errors"][0]["column"]), (2, "timestamp"))
        self.assertFalse(UsageEvent.objects.exists())


class HashingFileTests(unittest.TestCase):
    def test_the_digest_is_the_contents_over_many_chunks(self):
        data = bytes(range(256)) * 5000
        hashing = _HashingFile(File(io.BytesIO(data), "x.jsonl"), "x.jsonl")
        self.assertEqual(b"".join(hashing.chunks(chunk_size=4096)), data)
        self.assertEqual(hashing.digest.hexdigest(), hashlib.sha256(data).hexdigest())
