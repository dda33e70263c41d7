"""The columnar FOCUS path writes exactly the rows the row path writes, and steps aside when it must."""

import tempfile
import unittest
from datetime import date
from pathlib import Path
from unittest import mock

from django.db import connection

from ingest.models import CostLine, Upload
from ingest.services import bills
from ingest.services.ledger_writer import LEDGER_COLUMNS
from tests.base import sample_path
from tests.ingest.helpers import completed_calls
from tests.ingest.test_bill_uploads import UploadTestCase, focus_rows

COMPARED = [c for c in LEDGER_COLUMNS if c not in ("upload_id",)]


@unittest.skipUnless(connection.vendor == "postgresql", "the columnar path writes with PostgreSQL COPY; CI runs it")
class ColumnarEquivalenceTests(UploadTestCase):
    def import_both_ways(self, name, content):
        """Import through the columnar path, then the row path; returns both sets of ledger rows."""
        with completed_calls(bills, "focus_stream_columnar") as calls:  # the columnar path took the whole file
            fast = self.upload(name, content)
        fast_rows = list(CostLine.objects.filter(upload__code=fast["id"]).order_by("source_row").values_list(*COMPARED))
        with mock.patch.object(bills, "columnar_possible", return_value=False):
            slow = self.upload(name, content)
        slow_rows = list(CostLine.objects.filter(upload__code=slow["id"]).order_by("source_row").values_list(*COMPARED))
        return calls, fast, slow, fast_rows, slow_rows

    def test_it_matches_the_row_path_on_the_focus_sample(self):
        path = sample_path("focus/focus-sample-data_focus_sample_1000.csv")
        calls, fast, slow, fast_rows, slow_rows = self.import_both_ways(path.name, path.read_bytes())
        self.assertEqual(calls, [1])
        self.assertEqual(len(fast_rows), 1000)
        self.assertEqual(fast_rows, slow_rows)
        for key in ("status", "rows_total", "rows_loaded", "totals", "period_start", "period_end"):
            self.assertEqual(fast[key], slow[key], key)

    def test_it_matches_the_row_path_on_a_generated_multi_provider_bill(self):
        from finops.demo_bills import demo_resources, write_focus_bill

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bill.csv"
            write_focus_bill(path, start=date(2026, 9, 28), days=5, resources=demo_resources(per_provider=2))
            calls, fast, slow, fast_rows, slow_rows = self.import_both_ways(path.name, path.read_bytes())
        self.assertEqual(calls, [1])
        self.assertEqual(fast_rows, slow_rows)
        self.assertEqual(fast["totals"], slow["totals"])
        self.assertGreater(len({row[COMPARED.index("customer")] for row in fast_rows}), 2)

    def test_it_steps_aside_for_files_it_cannot_take_exactly(self):
        quirky = {
            "blank line": focus_rows(["1.00", "2.00"]).replace(b"\n", b"\n\n", 1),
            "spreadsheet money": focus_rows(["$1,000.00 ", "2.00"]),
            "bad tags": focus_rows(["1.00"]).replace(b'"{""customer"": ""acme"", ""team"": ""ml""}"', b"{not json"),
        }
        for name, content in quirky.items():
            with self.subTest(name):
                body = self.upload(f"{name}.csv", content)
                if name == "bad tags":
                    self.assertEqual((body["status"], body["errors"][0]["column"]), ("failed", "Tags"))
                else:
                    self.assertEqual(body["status"], "done", body["errors"])
        self.assertEqual(Upload.objects.filter(status="done").count(), 2)
