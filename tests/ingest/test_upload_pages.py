"""The Sources page as a founder uses it: upload, watch the result, map a GPU cloud's CSV once."""

import shutil
import tempfile
from decimal import Decimal
from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command
from django.urls import reverse

from ingest.models import ColumnMapping, CostLine, Upload
from tests.base import BaseTestCase, sample_path
from tests.ingest.helpers import LAMBDA_MAPPING_FORM, as_upload, csv_bytes
from tests.ingest.test_bill_uploads import focus_rows

LAMBDA_INVOICE = csv_bytes(
    [
        ["Invoice Date", "Instance ID", "Instance Type", "GPU Hours", "Total (USD)", "Team"],
        ["2026-10-03", "i-abc", "8x H100 SXM", "24", "575.76", "research"],
        ["2026-10-04", "i-abc", "8x H100 SXM", "24", "575.76", "research"],
        ["2026-10-05", "i-def", "1x A100", "10", "12.90", ""],
    ]
)


class UploadPageTests(BaseTestCase):
    def sources_url(self, org=None):
        return reverse("ingest-sources", kwargs={"org_code": (org or self.org).code})

    def post_file(self, name, content, **fields):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                self.sources_url(), {"file": as_upload(name, content), "kind": "bill", **fields}
            )
        upload = Upload.objects.filter(org=self.org).order_by("-created_at").first()
        return response, upload

    def test_it_uploads_a_bill_and_shows_the_result(self):
        self.client.force_login(self.alice)
        path = sample_path("focus/focus-sample-data_focus_sample_1000.csv")
        response, upload = self.post_file(path.name, path.read_bytes())
        detail = reverse("ingest-upload", kwargs={"org_code": self.org.code, "code": upload.code})
        self.assertRedirects(response, detail)
        page = self.client.get(detail)
        self.assertContains(page, "Ledger lines")
        self.assertContains(page, "$20.52")
        self.assertContains(self.client.get(self.sources_url()), path.name)

    def test_it_lists_the_errors_of_a_rejected_file(self):
        self.client.force_login(self.alice)
        _, upload = self.post_file("bad.csv", focus_rows(["1.00", "ten"]))
        page = self.client.get(reverse("ingest-upload", kwargs={"org_code": self.org.code, "code": upload.code}))
        self.assertContains(page, "nothing of it was loaded")
        self.assertContains(page, "BilledCost is not a number")

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.alice)
        _, upload = self.post_file("a.csv", focus_rows(["1.00"]))
        self.client.force_login(self.charlie)
        for name in ("ingest-upload", "ingest-mapping-create"):
            url = reverse(name, kwargs={"org_code": self.org.code, "code": upload.code})
            self.assertEqual(self.client.get(url).status_code, 404)
            url = reverse(name, kwargs={"org_code": self.charlies_org.code, "code": upload.code})
            self.assertEqual(self.client.get(url).status_code, 404)
        self.assertNotContains(self.client.get(self.sources_url(self.charlies_org)), "a.csv")

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertNotContains(self.client.get(self.sources_url()), "Upload and import")
        response, _ = self.post_file("a.csv", focus_rows(["1.00"]))
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Upload.objects.exists())

    def test_it_shows_the_events_of_a_usage_log(self):
        self.client.force_login(self.alice)
        lines = (
            b'{"event_id": "a", "timestamp": "2026-10-05T10:00:00Z", "provider": "openai", "model": "gpt-4o-mini", '
            b'"customer": "acme", "input_tokens": 1000, "output_tokens": 100}\n'
            b'{"event_id": "b", "timestamp": "2026-10-05T10:01:00Z", "provider": "self-hosted", "model": "ft-v2"}\n'
        )
        _, upload = self.post_file("calls.jsonl", lines, kind="usage")
        page = self.client.get(reverse("ingest-upload", kwargs={"org_code": self.org.code, "code": upload.code}))
        self.assertContains(page, "New events")
        self.assertContains(page, "openai/gpt-4o-mini")
        self.assertContains(page, "catalogue")
        self.assertContains(page, "unpriced")

    def test_it_maps_a_gpu_cloud_invoice_once_and_reuses_the_mapping(self):
        self.client.force_login(self.alice)
        _, first = self.post_file("lambda-oct.csv", LAMBDA_INVOICE)
        self.assertEqual(first.status, "failed")
        detail = self.client.get(reverse("ingest-upload", kwargs={"org_code": self.org.code, "code": first.code}))
        self.assertContains(detail, "Map the columns")
        map_url = reverse("ingest-mapping-create", kwargs={"org_code": self.org.code, "code": first.code})
        self.assertContains(self.client.get(map_url), "Instance Type")
        form = {**LAMBDA_MAPPING_FORM, "col_tags": ["Team"]}
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(map_url, form).status_code, 403)
        self.client.force_login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(map_url, form)
        mapped = Upload.objects.filter(org=self.org).order_by("-created_at").first()
        self.assertEqual((mapped.status, mapped.format), ("done", "mapped_csv"), mapped.errors)
        lines = CostLine.objects.filter(org=self.org, provider="Lambda").order_by("source_row")
        self.assertEqual(
            [line.billed_cost_amount for line in lines], [Decimal("575.76"), Decimal("575.76"), Decimal("12.90")]
        )
        self.assertEqual(lines[0].gpu_type, "H100")
        self.assertEqual(lines[0].tags, {"team": "research"})
        self.assertEqual(lines[0].owner, "research")

        november = LAMBDA_INVOICE.replace(b"2026-10-", b"2026-11-")
        _, again = self.post_file("lambda-nov.csv", november)
        self.assertEqual((again.status, again.mapping), ("done", ColumnMapping.objects.get(org=self.org)))
        self.assertEqual(CostLine.objects.filter(org=self.org, provider="Lambda").count(), 6)

    def test_mapping_an_upload_whose_file_is_gone_says_so(self):
        self.client.force_login(self.alice)
        _, upload = self.post_file("lambda-oct.csv", LAMBDA_INVOICE)
        upload.file.storage.delete(upload.file.name)
        map_url = reverse("ingest-mapping-create", kwargs={"org_code": self.org.code, "code": upload.code})
        detail = reverse("ingest-upload", kwargs={"org_code": self.org.code, "code": upload.code})
        for request in (lambda: self.client.get(map_url), lambda: self.client.post(map_url, {"name": "Lambda"})):
            self.assertRedirects(request(), detail, fetch_redirect_response=False)
            page = self.client.get(detail)
            self.assertContains(page, "upload (lambda-oct.csv) is no longer stored or cannot be opened")
        self.assertFalse(ColumnMapping.objects.filter(org=self.org).exists())
        Upload.objects.filter(pk=upload.pk).update(file="")  # no file recorded at all
        self.assertRedirects(self.client.get(map_url), detail, fetch_redirect_response=False)
        self.assertContains(self.client.get(detail), "Upload the file again to map it.")


class ImportFileCommandTests(BaseTestCase):
    def test_it_imports_and_prints_a_summary(self):
        path = sample_path("focus/focus-sample-data_focus_sample_1000.csv")
        out = StringIO()
        call_command("import_file", str(path), "--org", str(self.org.code), "--kind", "bill", stdout=out)
        self.assertIn("1000 lines loaded", out.getvalue())
        self.assertIn("20.5202267290 USD", out.getvalue())

    def test_it_fails_with_rows_and_columns(self):
        bad = self.tmp_file(focus_rows(["1.00", "x"]))
        with self.assertRaises(CommandError) as caught:
            call_command("import_file", bad, "--org", str(self.org.code), "--kind", "bill", stdout=StringIO())
        self.assertIn("row 3, column BilledCost", str(caught.exception))
        self.assertFalse(CostLine.objects.exists())

    def test_it_imports_a_usage_log_twice_without_doubling(self):
        path = self.tmp_file(
            b'{"event_id": "a", "timestamp": "2026-10-05T10:00:00Z", "provider": "openai", "model": "x"}\n'
        )
        for expected in ("1 new events (0 already held)", "0 new events (1 already held)"):
            out = StringIO()
            call_command("import_file", path, "--org", str(self.org.code), "--kind", "usage", stdout=out)
            self.assertIn(expected, out.getvalue())

    def test_it_fails_for_an_unknown_org(self):
        with self.assertRaises(CommandError):
            call_command("import_file", "x.csv", "--org", "nope", "--kind", "bill")

    def tmp_file(self, content: bytes) -> str:
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder)
        path = folder / "bill.csv"
        path.write_bytes(content)
        return str(path)
