"""Uploads on object storage: STORAGE_URL pointing at moto's S3 server (a real HTTP server on a free port), driven
through the upload API and the Sources page as a script or a founder would. The stored object lands in the bucket,
the worker reads it back from there, and the ledger matches the same file uploaded to the local disk, to the cent.
Retention then removes the object and keeps the rows and their source row numbers."""

import gzip
import hashlib
import os
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import boto3
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.storage import FileSystemStorage, storages
from django.db.models import Sum
from django.test import SimpleTestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from finops.storage_url import LOCAL_STORAGE, S3_BACKEND, default_storage_config
from ingest.models import CostLine, Upload, UsageEvent
from ingest.services import upload_files
from ingest.services.connectors import connector_create, connector_run
from ingest.services.upload_files import upload_file_path, upload_local_path
from ingest.services.uploads import upload_reimport
from ingest.tasks import upload_files_expire
from tests.base import BaseTestCase, sample_path
from tests.finops.test_settings_modes import python
from tests.ingest.helpers import LAMBDA_MAPPING_FORM, ApiClientMixin, as_upload, cents, csv_bytes, file_totals

BUCKET = "finops-uploads"
PREFIX = "tenant-files"
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
FOCUS_CSV = "focus/focus-sample-data_focus_sample_1000.csv"
LOCAL = {**settings.STORAGES, "default": LOCAL_STORAGE}
# A GPU cloud invoice no format recognises: it is mapped once on the page.
INVOICE = csv_bytes(
    [
        ["Invoice Date", "Instance ID", "Instance Type", "GPU Hours", "Total (USD)"],
        ["2026-10-03", "i-abc", "8x H100 SXM", "24", "575.76"],
        ["2026-10-04", "i-def", "1x A100", "10", "12.90"],
    ]
)


class MotoS3:
    """moto's S3 server in a thread of this process, on a free port, with one bucket."""

    def __init__(self):
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        )
        self.client.create_bucket(Bucket=BUCKET)

    def url(self) -> str:
        return f"s3://{BUCKET}/{PREFIX}?endpoint_url={self.endpoint}&region=us-east-1"

    def keys(self, prefix: str = PREFIX) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", [])]

    def body(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


class ObjectStorageTestCase(ApiClientMixin, BaseTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3 = MotoS3()
        cls.addClassCleanup(cls.s3.server.stop)
        # The STORAGES the settings build from a STORAGE_URL naming moto's bucket.
        cls.on_s3 = override_settings(
            STORAGES={**settings.STORAGES, "default": default_storage_config(cls.s3.url(), KEYS)}
        )

    def setUp(self):
        self.make_keys()
        self.on_s3.enable()
        self.addCleanup(self.on_s3.disable)

    def upload(self, name, content, key=None, **fields) -> Upload:
        response = self.api_upload(name, content, key=key, **fields)
        self.assertEqual(response.status_code, 201, response.content)
        return Upload.objects.get(code=response.json()["id"])

    def upload_locally(self, name, content, **fields) -> Upload:
        """The same file into charlie's organisation, on the local disk: what the bucket's import must equal."""
        with self.settings(STORAGES=LOCAL):
            upload = self.upload(name, content, key=self.charlie_key, **fields)
            disk = storages["default"]
            self.assertIsInstance(disk, FileSystemStorage)
            self.addCleanup(disk.delete, upload.file.name)
        return upload

    def assert_in_bucket(self, upload, content: bytes):
        key = f"{PREFIX}/uploads/{self.org.code}/{upload.code}/{upload.original_name}"
        self.assertEqual(self.s3.keys(f"{PREFIX}/uploads/{self.org.code}/{upload.code}/"), [key])
        self.assertEqual(self.s3.body(key), content)
        self.assertEqual(upload.sha256, hashlib.sha256(content).hexdigest())

    def ledger(self, org):
        lines = CostLine.objects.filter(org=org)
        rows = lines.values("currency").annotate(
            total=Sum("billed_cost_amount"), effective=Sum("effective_cost_amount")
        )
        return {r["currency"]: (r["total"], r["effective"]) for r in rows}, sorted(
            lines.values_list("source_row", flat=True)
        )


class BillsOnObjectStorageTests(ObjectStorageTestCase):
    def test_it_imports_a_focus_bill_from_the_bucket_to_the_cent(self):
        path = sample_path(FOCUS_CSV)
        content = path.read_bytes()
        upload = self.upload(path.name, content)
        self.assertIsInstance(storages["default"], S3Storage)
        self.assert_in_bucket(upload, content)
        self.assertEqual((upload.status, upload.format), ("done", "focus"), upload.errors)
        expected = cents(file_totals(path, "BilledCost", "BillingCurrency"))
        self.assertEqual(cents({c: Decimal(t) for c, t in upload.totals.items()}), expected)
        local = self.upload_locally(path.name, content)
        self.assertEqual(local.totals, upload.totals)
        self.assertEqual(self.ledger(self.org), self.ledger(self.charlies_org))
        self.assertEqual(cents({c: t for c, (t, _) in self.ledger(self.org)[0].items()}), expected)

    def test_it_imports_a_gzipped_bill_sent_through_the_sources_page(self):
        path = sample_path(FOCUS_CSV)
        content = gzip.compress(path.read_bytes())
        self.client.force_login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("ingest-sources", kwargs={"org_code": self.org.code}),
                {"file": as_upload(path.name + ".gz", content), "kind": "bill"},
            )
        upload = Upload.objects.get(org=self.org)
        self.assertRedirects(
            response, reverse("ingest-upload", kwargs={"org_code": self.org.code, "code": upload.code})
        )
        self.assert_in_bucket(upload, content)
        self.assertEqual(upload.status, "done", upload.errors)
        self.upload_locally(path.name + ".gz", content)
        self.assertEqual(self.ledger(self.org), self.ledger(self.charlies_org))
        self.assertContains(self.client.get(response.url), "$20.52")

    def test_it_reads_the_parquet_sample_from_the_bucket_as_from_disk(self):
        path = sample_path("focus/focus_validator_sample.parquet")
        content = path.read_bytes()
        upload = self.upload(path.name, content)
        self.assert_in_bucket(upload, content)
        local = self.upload_locally(path.name, content)
        fields = ("status", "format", "totals", "errors", "rows_total", "rows_loaded")
        self.assertEqual([getattr(upload, f) for f in fields], [getattr(local, f) for f in fields])
        self.assertTrue(upload.format, upload.errors)  # read far enough to know the format: the file came back whole
        self.assertEqual(self.ledger(self.org), self.ledger(self.charlies_org))

    def test_it_maps_an_unrecognised_invoice_read_from_the_bucket(self):
        upload = self.upload("lambda-oct.csv", INVOICE)
        self.assertEqual(upload.status, "failed")
        self.client.force_login(self.alice)
        map_url = reverse("ingest-mapping-create", kwargs={"org_code": self.org.code, "code": upload.code})
        self.assertContains(self.client.get(map_url), "Instance Type")
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(map_url, LAMBDA_MAPPING_FORM)
        mapped = Upload.objects.filter(org=self.org).exclude(pk=upload.pk).get()
        self.assertEqual((mapped.status, mapped.format), ("done", "mapped_csv"), mapped.errors)
        self.assert_in_bucket(mapped, INVOICE)
        amounts = (
            CostLine.objects.filter(org=self.org).order_by("source_row").values_list("billed_cost_amount", flat=True)
        )
        self.assertEqual(list(amounts), [Decimal("575.76"), Decimal("12.90")])

    def test_it_deletes_the_object_with_the_upload(self):
        upload = self.upload("lambda-oct.csv", INVOICE)
        self.client.force_login(self.alice)
        url = reverse("ingest-upload-delete", kwargs={"org_code": self.org.code, "code": upload.code})
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(url)
        self.assertFalse(Upload.objects.filter(pk=upload.pk).exists())
        self.assertEqual(self.s3.keys(f"{PREFIX}/uploads/{self.org.code}/{upload.code}/"), [])

    def test_it_reads_an_object_once_per_import_into_a_temporary_copy(self):
        upload = self.upload("lambda-oct.csv", INVOICE)
        with self.assertRaises(RuntimeError):
            upload_file_path(upload)  # object storage has no path outside the context
        with upload_local_path(upload) as path:
            self.assertTrue(path.endswith(".csv"))
            self.assertEqual(upload_file_path(upload), path)
            with upload_local_path(upload) as again:
                self.assertEqual(again, path)
            with open(path, "rb") as copy:
                self.assertEqual(copy.read(), INVOICE)
        self.assertFalse(os.path.exists(path))


@override_settings(CONNECTOR_PRIVATE_ENDPOINTS=True)  # moto listens on 127.0.0.1
class ConnectorOnObjectStorageTests(ObjectStorageTestCase):
    def test_a_pulled_file_is_stored_in_the_bucket_and_imported_from_the_pulled_copy(self):
        focus = sample_path(FOCUS_CSV).read_bytes()
        self.s3.client.create_bucket(Bucket="exports")
        self.s3.client.put_object(Bucket="exports", Key="coreweave/focus.csv", Body=focus)
        values = {"endpoint_url": self.s3.endpoint, "bucket": "exports", "prefix": "coreweave",
                  "access_key_id": "testing", "secret_access_key": "testing"}  # fmt: skip
        connector = connector_create(org=self.org, kind="s3_compatible", name="CoreWeave", values=values)
        downloads = []
        real = upload_files._download
        with patch.object(upload_files, "_download", lambda *a: downloads.append(a[1]) or real(*a)):
            run = connector_run(connector=connector)
        self.assertEqual((run.files_imported, run.error), (1, ""))
        self.assertEqual(downloads, [])  # read from the pulled copy, not fetched back from the bucket
        upload = Upload.objects.for_org(self.org).get()
        self.assert_in_bucket(upload, focus)
        self.assertEqual((upload.status, upload.format), ("done", "focus"), upload.errors)
        self.assertEqual(upload.totals, self.upload_locally(upload.original_name, focus).totals)
        self.assertEqual(self.ledger(self.org), self.ledger(self.charlies_org))


class UsageOnObjectStorageTests(ObjectStorageTestCase):
    def test_it_imports_an_openai_usage_export_from_the_bucket(self):
        path = sample_path("llm/openai_usage_cookbook_output.json")
        content = path.read_bytes()
        upload = self.upload(path.name, content, kind="usage")
        self.assert_in_bucket(upload, content)
        self.assertEqual((upload.status, upload.format), ("done", "openai_usage"), upload.errors)
        self.assertGreater(upload.rows_loaded, 0)
        local = self.upload_locally(path.name, content, kind="usage")
        self.assertEqual((local.rows_loaded, local.rows_total), (upload.rows_loaded, upload.rows_total))

        def events(org):
            fields = ("source_row", "occurred_at", "model", "request_count", "input_tokens", "output_tokens")
            return list(UsageEvent.objects.filter(org=org).order_by("source_row").values_list(*fields, "cost_amount"))

        self.assertEqual(events(self.org), events(self.charlies_org))


class RetentionTests(ObjectStorageTestCase):
    def age(self, upload, days):
        Upload.objects.filter(pk=upload.pk).update(finished_at=timezone.now() - timedelta(days=days))

    def detail_url(self, upload, org=None):
        return reverse("ingest-upload", kwargs={"org_code": (org or self.org).code, "code": upload.code})

    @override_settings(SOURCE_FILE_RETENTION_DAYS=30)
    def test_it_removes_old_source_files_and_keeps_their_rows(self):
        path = sample_path(FOCUS_CSV)
        old = self.upload(path.name, path.read_bytes())
        recent = self.upload("oct.csv", INVOICE)  # failed (unrecognised): its file is kept for mapping meanwhile
        self.age(old, 31)
        self.age(recent, 29)
        before = self.ledger(self.org)
        self.assertEqual(upload_files_expire.delay().get(), 1)
        old.refresh_from_db()
        self.assertEqual(old.file.name, "")
        self.assertEqual(self.s3.keys(f"{PREFIX}/uploads/{self.org.code}/{old.code}/"), [])
        self.assertEqual(len(self.s3.keys(f"{PREFIX}/uploads/{self.org.code}/{recent.code}/")), 1)
        self.assertEqual(self.ledger(self.org), before)  # every row, with its source row number
        self.assertEqual((old.status, old.rows_loaded), ("done", 1000))
        self.assertTrue(old.totals)
        self.assertEqual(upload_files_expire.delay().get(), 0)  # a rerun finds nothing more

        self.client.force_login(self.bob)
        page = self.client.get(self.detail_url(old))
        self.assertContains(
            page, "The source file was removed after 30 days (retention); its rows and their source row numbers remain."
        )
        self.assertContains(page, "Ledger lines")
        self.assertNotContains(self.client.get(self.detail_url(recent)), "(retention)")

    @override_settings(SOURCE_FILE_RETENTION_DAYS=30)
    def test_it_refuses_to_reimport_a_removed_file_with_a_clear_error(self):
        upload = self.upload("lambda-oct.csv", INVOICE)
        self.age(upload, 31)
        upload_files_expire.delay()
        upload.refresh_from_db()
        with self.assertRaisesMessage(ValidationError, "was removed after 30 days (retention)"):
            upload_reimport(org=self.org, upload=upload, mapping=None, created_by=self.alice)
        self.client.force_login(self.alice)
        page = self.client.get(self.detail_url(upload))
        self.assertContains(page, "(retention)")
        self.assertNotContains(page, "Map the columns")
        map_url = reverse("ingest-mapping-create", kwargs={"org_code": self.org.code, "code": upload.code})
        self.assertRedirects(self.client.get(map_url), self.detail_url(upload), fetch_redirect_response=False)
        self.assertContains(self.client.get(self.detail_url(upload)), "was removed after 30 days (retention)")

    @override_settings(SOURCE_FILE_RETENTION_DAYS=0)
    def test_it_keeps_files_for_ever_at_zero_days(self):
        upload = self.upload("lambda-oct.csv", INVOICE)
        self.age(upload, 4000)
        self.assertEqual(upload_files_expire.delay().get(), 0)
        upload.refresh_from_db()
        self.assertTrue(upload.file.name)
        self.assertEqual(len(self.s3.keys(f"{PREFIX}/uploads/{self.org.code}/{upload.code}/")), 1)

    @override_settings(SOURCE_FILE_RETENTION_DAYS=30)
    def test_it_hides_other_orgs(self):
        upload = self.upload("lambda-oct.csv", INVOICE)
        self.age(upload, 31)
        upload_files_expire.delay()
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.detail_url(upload)).status_code, 404)
        self.assertEqual(self.client.get(self.detail_url(upload, org=self.charlies_org)).status_code, 404)


class StorageUrlTests(SimpleTestCase):
    def test_it_keeps_the_local_disk_without_a_url(self):
        self.assertEqual(default_storage_config("", {}), LOCAL_STORAGE)
        self.assertEqual(default_storage_config("  ", KEYS), LOCAL_STORAGE)

    def test_it_reads_a_bucket_and_prefix_with_keys_from_the_environment(self):
        config = default_storage_config("s3://finops-uploads/prod/files?region=eu-west-1", KEYS)
        self.assertEqual(config["BACKEND"], S3_BACKEND)
        options = config["OPTIONS"]
        self.assertEqual((options["bucket_name"], options["location"]), ("finops-uploads", "prod/files"))
        self.assertEqual((options["access_key"], options["secret_key"]), ("testing", "testing"))
        self.assertEqual(options["region_name"], "eu-west-1")
        self.assertIsNone(options["default_acl"])
        self.assertFalse(options["file_overwrite"])
        self.assertNotIn("endpoint_url", options)
        self.assertNotIn("addressing_style", options)

    def test_it_reads_an_endpoint_and_credentials_in_the_url(self):
        config = default_storage_config(
            "s3://minio%2Fuser:p%40ss@finops?endpoint_url=http://minio:9000&region=us-east-1", KEYS
        )
        options = config["OPTIONS"]
        self.assertEqual((options["access_key"], options["secret_key"]), ("minio/user", "p@ss"))
        self.assertEqual(options["endpoint_url"], "http://minio:9000")
        self.assertEqual(options["addressing_style"], "path")
        self.assertEqual(options["location"], "")

    def test_it_leaves_credentials_to_the_machine_role_when_none_are_given(self):
        options = default_storage_config("s3://finops", {})["OPTIONS"]
        self.assertNotIn("access_key", options)
        self.assertNotIn("secret_key", options)

    def test_it_takes_django_storages_variables(self):
        environ = {**KEYS, "AWS_STORAGE_BUCKET_NAME": "finops", "AWS_S3_ENDPOINT_URL": "https://s3.example.test"}
        options = default_storage_config("", environ)["OPTIONS"]
        self.assertEqual((options["bucket_name"], options["endpoint_url"]), ("finops", "https://s3.example.test"))

    def test_it_refuses_what_cannot_work(self):
        cases = {
            "https://finops/uploads": "must start with s3://",
            "s3:///uploads": "names no bucket",
            "s3://Finops_Uploads": "not a valid S3 bucket name",
            "s3://finops:9000": "not a valid S3 bucket name",
            "s3://finops?endpoint=http://minio:9000": "unknown parameter 'endpoint'",
            "s3://finops?endpoint_url=minio:9000": "must be an http:// or https:// URL",
            "s3://finops?addressing_style=sideways": "addressing_style must be",
            "s3://onlyuser@finops": "access_key:secret_key",
        }
        for url, message in cases.items():
            with self.subTest(url), pytest.raises(ImproperlyConfigured, match=message.replace("?", r"\?")):
                default_storage_config(url, KEYS)
        with pytest.raises(ImproperlyConfigured, match="need both parts"):
            default_storage_config("s3://finops", {"AWS_ACCESS_KEY_ID": "only"})
        with pytest.raises(ImproperlyConfigured, match="not both"):
            default_storage_config("s3://finops", {"AWS_STORAGE_BUCKET_NAME": "finops"})

    def test_it_builds_the_storage_when_the_settings_load(self):
        probe = (
            "import django, json; django.setup()\n"
            "from django.core.files.storage import storages\n"
            "s = storages['default']\n"
            "print(json.dumps([type(s).__name__, s.bucket_name, s.location, s.endpoint_url, s.access_key]))"
        )
        url = "s3://finops-uploads/prod?endpoint_url=http://minio:9000&region=us-east-1"
        result = python(["-c", probe], STORAGE_URL=url, **KEYS)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            result.stdout.split("\n")[-2], '["S3Storage", "finops-uploads", "prod", "http://minio:9000", "testing"]'
        )

    def test_it_stops_the_start_on_a_bad_url_or_retention(self):
        result = python(["-c", "import django; django.setup()"], STORAGE_URL="ftp://finops/uploads")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("STORAGE_URL must start with s3://", result.stderr)
        result = python(["-c", "import django; django.setup()"], SOURCE_FILE_RETENTION_DAYS="-1")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SOURCE_FILE_RETENTION_DAYS must be 0", result.stderr)
