"""Hostile uploads (issue 16, "Memory"): each is refused whole with a message naming the limit (and the row where
known), nothing written; legitimate JSON lists stream and import the same rows as when they were read whole.
The files are bench/hostile_files.py's, built small against small limits."""

import json
import tempfile
from decimal import Decimal
from pathlib import Path

from django.test import SimpleTestCase, override_settings

from bench import hostile_files as hostile
from ingest.models import CostLine, UsageEvent
from ingest.readers import FileProblemError, open_json_document, open_table
from ingest.sources.litellm_spend import LiteLLMSpendDocumentSource
from ingest.sources.openai_usage import OpenAIUsageSource
from tests.base import BaseTestCase, sample_path
from tests.ingest.helpers import ApiClientMixin, csv_bytes

KiB, MiB = 2**10, 2**20
SMALL = {
    "INGEST_MAX_DECOMPRESSED_BYTES": 4 * MiB,
    "INGEST_RATIO_CHECK_BYTES": 1 * MiB,
    "INGEST_MAX_COMPRESSION_RATIO": 200,
    "INGEST_MAX_ROW_BYTES": 64 * KiB,
    "INGEST_MAX_FIELD_BYTES": 16 * KiB,
    "INGEST_MAX_ROWS": 1000,
    "INGEST_MAX_JSON_DEPTH": 16,
}


class FolderMixin:
    def setUp(self):
        super().setUp()
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)


@override_settings(**SMALL)
class HostileUploadTests(FolderMixin, ApiClientMixin, BaseTestCase):
    def setUp(self):
        super().setUp()
        self.make_keys()

    def refused(self, path: Path, kind: str, *expected: str) -> dict:
        response = self.api_upload(path.name, path.read_bytes(), kind=kind)
        self.assertEqual(response.status_code, 201, response.content)
        body = self.api_get(f"/api/v1/uploads/{response.json()['id']}/").json()
        self.assertEqual(body["status"], "failed", body)
        self.assertEqual(body["rows_loaded"], 0)
        message = body["errors"][0]["message"]
        for text in expected:
            self.assertIn(text, message)
        self.assertFalse(CostLine.objects.filter(org=self.org).exists())
        self.assertFalse(UsageEvent.objects.filter(org=self.org).exists())
        return body

    def test_it_refuses_a_gzip_bomb_of_zeros_at_the_first_row(self):
        self.refused(hostile.gzip_bomb_zeros(self.folder, 32 * MiB), "bill", "Row 1 is longer than 64 KiB")

    def test_it_refuses_a_gzip_bomb_of_valid_rows_by_its_ratio(self):
        path = hostile.gzip_bomb_rows(self.folder, 32 * MiB)
        self.assertLess(path.stat().st_size, 1 * MiB)
        with override_settings(INGEST_MAX_ROWS=10**6, INGEST_MAX_DECOMPRESSED_BYTES=64 * MiB):
            self.refused(path, "bill", "more than 200 times its compressed size")

    def test_it_refuses_a_gzip_bomb_of_valid_rows_at_the_decompressed_limit(self):
        path = hostile.gzip_bomb_rows(self.folder, 32 * MiB)
        with override_settings(INGEST_MAX_COMPRESSION_RATIO=10**6, INGEST_MAX_ROWS=10**6):
            self.refused(path, "bill", "larger than 4 MiB once decompressed")

    def test_it_refuses_a_zip_bomb_from_its_declared_size(self):
        self.refused(hostile.zip_bomb(self.folder, 8 * MiB), "bill", "larger than 4 MiB once decompressed")

    def test_it_refuses_a_zip_bomb_under_the_size_limit_by_its_ratio(self):
        path = hostile.zip_bomb(self.folder, 3 * MiB)
        self.refused(path, "bill", "more than 200 times its compressed size")

    def test_it_refuses_a_long_csv_line_with_its_row(self):
        path = hostile.long_csv_line(self.folder, 1 * MiB)
        self.refused(path, "bill", "decompresses to more than 200 times")  # x after x: the ratio stops it first
        with override_settings(INGEST_MAX_COMPRESSION_RATIO=10**6):
            self.refused(path, "bill", "Row 2 is longer than 64 KiB")

    def test_it_refuses_a_long_quoted_value_spread_over_short_lines(self):
        self.refused(hostile.long_csv_field(self.folder, 1 * MiB), "bill", "Row 3 has a value longer than 16 KiB")

    def test_it_refuses_a_long_record_of_short_values(self):
        header = hostile.FOCUS_HEADER.strip().split(",")
        content = csv_bytes([header, ["v\n" * (4 * KiB)] * len(header)])  # 11 values of 8 KiB, lines of 2 bytes
        path = self.folder / "wide.csv"
        path.write_bytes(content)
        self.refused(path, "bill", "Row 2 is longer than 64 KiB")

    def test_it_refuses_a_json_document_with_a_giant_string(self):
        path = hostile.json_giant_string(self.folder, 2 * MiB)
        self.refused(path, "usage", "Item 1 of the list is longer than 64 KiB")

    def test_it_refuses_deeply_nested_json(self):
        self.refused(hostile.json_deep(self.folder, 100_000), "usage", "deeper than")
        self.refused(hostile.json_deep(self.folder, 40), "usage", "Item 1 of the list nests", "deeper than 16 levels")

    def test_it_refuses_a_long_json_line_with_its_line(self):
        self.refused(hostile.jsonl_long_line(self.folder, 2 * MiB), "usage", "Line 2 is longer than 64 KiB")

    def test_it_refuses_deep_nesting_in_a_json_line(self):
        path = self.folder / "deep.jsonl"
        event = {"event_id": "e-1", "timestamp": "2026-10-01T00:00:00Z", "provider": "openai", "model": "m"}
        path.write_text(json.dumps(event) + "\n" + '{"metadata": ' + "[" * 30 + "]" * 30 + "}\n")
        self.refused(path, "usage", "Line 2 nests objects and lists deeper than 16 levels")

    def test_it_refuses_a_zip_of_many_members_before_reading_them(self):
        self.refused(hostile.zip_many_members(self.folder, 100), "bill", "holds 100 entries")

    def test_it_refuses_a_zip_inside_a_zip(self):
        self.refused(hostile.zip_nested(self.folder, 1 * MiB), "bill", "holds another compressed file")

    def test_it_refuses_a_parquet_dictionary_bomb(self):
        path = hostile.parquet_dictionary_bomb(self.folder, 32 * KiB, rows=500)
        self.refused(path, "bill", "have a value longer than 16 KiB")

    def test_it_refuses_more_rows_than_the_limit_on_both_bill_paths(self):
        header = hostile.FOCUS_HEADER.strip().split(",")
        row = next(iter(__import__("csv").reader([hostile.FOCUS_ROW])))
        path = self.folder / "many.csv"
        path.write_bytes(csv_bytes([header] + [row] * 1001))
        self.refused(path, "bill", "more than 1,000 rows")  # columnar (FOCUS on PostgreSQL)
        path.write_bytes(csv_bytes([header] + [row] * 1001 + [["a" * 20 * KiB]]))
        self.refused(path, "bill", "more than 1,000 rows")  # the row path, which the long value forces

    def test_it_refuses_more_rows_than_the_limit_in_a_json_list_and_json_lines(self):
        self.refused(hostile.json_big_array(self.folder, 1001), "usage", "more than 1,000 rows")
        path = self.folder / "many.jsonl"
        event = {"timestamp": "2026-10-01T00:00:00Z", "provider": "openai", "model": "m"}
        path.write_text("".join(json.dumps({**event, "event_id": f"e-{i}"}) + "\n" for i in range(1001)))
        self.refused(path, "usage", "more than 1,000 rows")

    def test_it_imports_a_large_json_list_streamed(self):
        path = hostile.json_big_array(self.folder, 1000)
        response = self.api_upload(path.name, path.read_bytes(), kind="usage")
        body = self.api_get(f"/api/v1/uploads/{response.json()['id']}/").json()
        self.assertEqual(body["status"], "done", body["errors"])
        self.assertEqual(body["format"], "litellm_spend_json")
        self.assertEqual(body["rows_loaded"], 1000)
        self.assertEqual(UsageEvent.objects.filter(org=self.org).count(), 1000)


class StreamedDocumentTests(FolderMixin, SimpleTestCase):
    def rows(self, source, document):
        return [(number, source.parse(record)) for number, record in source.records(document)]

    def test_it_reads_a_streamed_list_as_the_whole_parsed_list(self):
        path = hostile.json_big_array(self.folder, 300)
        source = LiteLLMSpendDocumentSource(org_currency="USD")
        whole = json.loads(path.read_text(), parse_float=Decimal)
        streamed = open_json_document(path)
        self.assertTrue(LiteLLMSpendDocumentSource.detect_document(streamed))
        self.assertEqual(self.rows(source, streamed), self.rows(source, whole))

    def test_it_reads_a_report_page_as_the_whole_parsed_page(self):
        path = sample_path("llm/openai_usage_cookbook_output.json")
        source = OpenAIUsageSource(org_currency="USD")
        whole = json.loads(path.read_text(), parse_float=Decimal)
        streamed = open_json_document(path)
        self.assertEqual(OpenAIUsageSource.detect_document(streamed), OpenAIUsageSource.detect_document(whole))
        self.assertEqual(self.rows(source, streamed), self.rows(source, whole))

    def test_it_reads_a_list_of_pages_and_keys_around_data(self):
        page = {"object": "page", "data": [{"start_time": 1, "results": [{"a": Decimal("1.5")}]}], "has_more": False}
        path = self.folder / "pages.json"
        path.write_text(json.dumps([page, page], default=str).replace('"1.5"', "1.5"))
        self.assertEqual(list(open_json_document(path)), [page, page])
        path.write_text(json.dumps({"object": "page", "data": [{"n": 1}, {"n": 2}], "next_page": None}))
        document = open_json_document(path)
        self.assertEqual(document["object"], "page")
        self.assertEqual(list(document["data"]), [{"n": 1}, {"n": 2}])

    @override_settings(INGEST_MAX_ROW_BYTES=64 * KiB)
    def test_it_refuses_broken_json_with_where(self):
        for text, expected in (
            ('[{"a": 1}, {"a": 2} {"a": 3}]', "after item 2 of the list"),
            ('[{"a": 1}, {"a": tru}]', "Item 2 of the list"),
            ('[{"a": 1}] trailing', "unexpected text after the document"),
            ('{"data": [{"a": 1}], "x": }', "The value of 'x'"),
            ('[{"a": "' + "x" * 100 * KiB, "Item 1 of the list is longer than 64 KiB"),
        ):
            path = self.folder / "broken.json"
            path.write_text(text)
            with self.subTest(text[:30]), self.assertRaisesMessage(FileProblemError, expected):
                document = open_json_document(path)
                list(document["data"] if isinstance(document, dict) else document)

    @override_settings(INGEST_MAX_ROW_BYTES=64 * KiB, INGEST_MAX_FIELD_BYTES=16 * KiB)
    def test_it_reads_csv_rows_with_values_just_under_the_limits(self):
        path = self.folder / "ok.csv"
        path.write_bytes(csv_bytes([["a", "b"], ["x" * (16 * KiB), "line one\nline two"]]))
        with open_table(path) as table:
            self.assertEqual([record["a"] for _, record in table.records()], ["x" * (16 * KiB)])
