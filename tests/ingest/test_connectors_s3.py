"""S3 connectors against a real S3 and STS (moto's server): AWS Data Exports laid out as AWS delivers them, and an
S3-compatible bucket of GPU-cloud files, driven through the Connectors pages as alice would."""

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db.models import Sum
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from ingest.connectors.base import ConnectorError
from ingest.connectors.s3 import AwsDataExportsSource
from ingest.models import Connector, ConnectorFile, ConnectorRun, CostLine, Upload
from ingest.services.connectors import connector_create, connector_plugin, connector_run
from ingest.services.uploads import column_mapping_create, upload_create_from_path, upload_run
from tests.base import BaseTestCase, sample_path
from tests.ingest.connector_servers import ThrottlingProxy, boto_client, moto_auth, moto_endpoint, moto_reset

CUR = "aws-cur/focus_converters_cur-legacy_anonymous_2023-11.csv"
KOKU = "aws-cur/koku_test_cur_legacy_2018-06.csv"
FOCUS_CSV = "focus/focus-sample-data_focus_sample_1000.csv"
BUCKET = "exports"
PREFIX = "billing"


@pytest.fixture(scope="module", autouse=True)
def _moto():
    moto_endpoint()  # started once for the module, emptied before each test


def _rows(relative: str) -> list[list[str]]:
    with open(sample_path(relative), encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _csv(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


# The README's policy (s3:ListBucket, s3:GetObject) plus the name moto checks the listing under: moto authorizes an
# S3 call by its operation's name (ListObjectsV2) where AWS uses s3:ListBucket.
READ = ("s3:ListBucket", "s3:GetObject", "s3:ListObjectsV2")


def _policy(actions, resource="*") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions),
                       "Resource": resource}]})  # fmt: skip


def _parquet(relative: str) -> bytes:
    """The sample CSV as a Parquet file of text columns, as a FOCUS export in Parquet delivers it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    header, *body = _rows(relative)
    table = pa.table({name: [row[i] for row in body] for i, name in enumerate(header)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _ledger(org) -> Decimal:
    return CostLine.objects.for_org(org).aggregate(total=Sum("billed_cost_amount"))["total"] or Decimal(0)


@override_settings(CONNECTOR_PRIVATE_ENDPOINTS=True)  # moto listens on 127.0.0.1
class S3ConnectorTests(BaseTestCase):
    def setUp(self):
        moto_reset()
        self.s3 = boto_client("s3")
        self.s3.create_bucket(Bucket=BUCKET)
        self.client.force_login(self.alice)

    # -- the export as AWS delivers it ---------------------------------------------------------------------

    def put_export(self, period: str, parts: list[bytes], *, export="cur2", ext=".csv.gz") -> None:
        """One delivery of `export` for `period`: its data files, then its manifest naming them."""
        uris = []
        for number, content in enumerate(parts, start=1):
            key = f"{PREFIX}/{export}/data/BILLING_PERIOD={period}/{export}-{number:05d}{ext}"
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(content) if ext.endswith(".gz") else content)
            uris.append(f"s3://{BUCKET}/{key}")
        manifest = {
            "executionId": f"{export}-{period}-{len(parts)}",
            "exportArn": f"arn:aws:bcm-data-exports:us-east-1:123456789012:export/{export}",
            "columns": [],
            "dataFiles": uris,
            "bucket": BUCKET,
        }
        key = f"{PREFIX}/{export}/metadata/BILLING_PERIOD={period}/{export}-Manifest.json"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(manifest).encode())

    def put_cur(self, rows=None, *, parts=1, period="2023-11"):
        rows = rows or _rows(CUR)
        header, body = rows[0], rows[1:]
        size = -(-len(body) // parts)
        self.put_export(period, [_csv([header, *body[i : i + size]]) for i in range(0, len(body), size)])

    # -- as alice uses the pages ---------------------------------------------------------------------------

    def url(self, name, connector=None, org=None, **kwargs):
        kwargs["org_code"] = (org or self.org).code
        if connector is not None:
            kwargs["code"] = connector.code
        return reverse(name, kwargs=kwargs)

    def create(self, kind="aws_data_exports", **values):
        fields = {"name": "AWS production", "schedule_hour": "6", "bucket": BUCKET, "prefix": PREFIX,
                  "access_key_id": "testing", "secret_access_key": "testing-secret",
                  "endpoint_url": moto_endpoint()}  # fmt: skip
        fields.update(values)
        response = self.client.post(self.url("ingest-connector-create", kind=kind), fields)
        connector = Connector.objects.for_org(self.org).get(name=fields["name"])
        self.assertRedirects(response, self.url("ingest-connector", connector))
        return connector

    def run_now(self, connector) -> ConnectorRun:
        response = self.client.post(self.url("ingest-connector-run", connector))
        self.assertRedirects(response, self.url("ingest-connector", connector))
        return ConnectorRun.objects.for_org(self.org).filter(connector=connector).latest("started_at")

    def by_upload(self, relative_or_bytes, name="file.csv") -> Decimal:
        """The billed total of the same file uploaded by hand (into charlie's organisation)."""
        Upload.objects.filter(org=self.charlies_org).delete()
        if isinstance(relative_or_bytes, bytes):
            path = self.tmp_path(name, relative_or_bytes)
        else:
            path = sample_path(relative_or_bytes)
        upload = upload_create_from_path(org=self.charlies_org, path=path, kind="bill", enqueue=False)
        self.assertEqual(upload_run(upload_id=upload.pk).status, Upload.Status.DONE)
        return _ledger(self.charlies_org)

    def tmp_path(self, name, content: bytes):
        import tempfile
        from pathlib import Path

        folder = Path(tempfile.mkdtemp(prefix="s3-connector-test-"))
        self.addCleanup(lambda: [p.unlink() for p in folder.iterdir()] and folder.rmdir())
        (folder / name).write_bytes(content)
        return folder / name

    # -- AWS Data Exports ----------------------------------------------------------------------------------

    def test_it_pulls_an_export_into_the_ledger_to_the_cent(self):
        self.put_cur(parts=2)  # one billing period in two parts: one upload, or the second would replace the first
        focus = _parquet(FOCUS_CSV)
        self.put_export("2024-09", [focus], export="focus", ext=".snappy.parquet")
        connector = self.create()
        tested = self.client.post(self.url("ingest-connector-test", connector), follow=True)
        self.assertContains(tested, "2 billing periods (2023-11 to 2024-09) of cur2, focus")
        run = self.run_now(connector)
        self.assertEqual((run.status, run.files_seen, run.files_imported), (ConnectorRun.Status.OK, 2, 2), run.error)
        expected = self.by_upload(CUR)
        expected += self.by_upload(focus, "focus.parquet")
        self.assertGreater(expected, 0)
        self.assertEqual(_ledger(self.org).quantize(Decimal("0.01")), expected.quantize(Decimal("0.01")))
        self.assertEqual(_ledger(self.org), expected)
        page = self.client.get(self.url("ingest-connector", connector))
        self.assertContains(page, "cur2-2023-11.csv.gz")
        self.assertContains(page, "focus-2024-09.parquet")
        upload = ConnectorFile.objects.for_org(self.org).get(key__contains="cur2").upload
        self.assertContains(page, self.url("ingest-upload", upload))

        lines = CostLine.objects.for_org(self.org).count()
        again = self.run_now(connector)
        self.assertEqual((again.files_imported, again.files_unchanged, again.status), (0, 2, ConnectorRun.Status.OK))
        self.assertEqual(CostLine.objects.for_org(self.org).count(), lines)
        self.assertEqual(_ledger(self.org), expected)

    def test_it_replaces_a_restated_period(self):
        rows = _rows(CUR)
        self.put_cur(rows)
        connector = self.create()
        self.run_now(connector)
        self.assertEqual(_ledger(self.org), self.by_upload(CUR))
        restated = [rows[0], *rows[1:900]]  # AWS delivers the period again, with other lines
        self.put_cur(restated, parts=3)
        run = self.run_now(connector)
        self.assertEqual((run.files_imported, run.status), (1, ConnectorRun.Status.OK))
        expected = self.by_upload(_csv(restated), "restated.csv")
        self.assertNotEqual(expected, self.by_upload(CUR))
        self.assertEqual(_ledger(self.org), expected)
        self.assertEqual(CostLine.objects.for_org(self.org).count(), 899)

    def test_it_rejects_a_malformed_file_with_row_and_column_and_imports_the_rest(self):
        self.put_cur()
        rows = _rows(KOKU)
        cost = rows[0].index("lineItem/UnblendedCost")
        rows[2][cost] = "twelve"  # row 3 of the file (the header is row 1)
        self.put_export("2018-06", [_csv(rows)])
        connector = self.create()
        run = self.run_now(connector)
        self.assertEqual((run.status, run.files_imported, run.files_failed), (ConnectorRun.Status.PARTIAL, 1, 1))
        self.assertIn("1 file rejected: cur2-2018-06.csv.gz: row 3, column lineItem/UnblendedCost", run.error)
        self.assertEqual(_ledger(self.org), self.by_upload(CUR))  # nothing of the bad file, all of the good one
        rejected = ConnectorFile.objects.for_org(self.org).get(key__contains="2018-06")
        self.assertEqual(rejected.upload.status, Upload.Status.FAILED)
        page = self.client.get(self.url("ingest-connector", connector))
        self.assertContains(page, "row 3, column lineItem/UnblendedCost")
        self.assertContains(page, self.url("ingest-upload", rejected.upload))
        self.assertContains(page, "correct the file at the source")

        uploads = Upload.objects.for_org(self.org).count()
        again = self.run_now(connector)  # the same broken object is not imported again every day
        self.assertEqual(Upload.objects.for_org(self.org).count(), uploads)
        self.assertEqual(again.status, ConnectorRun.Status.PARTIAL)
        self.assertIn("cur2-2018-06.csv.gz: row 3, column lineItem/UnblendedCost", again.error)
        self.put_export("2018-06", [sample_path(KOKU).read_bytes()])  # the provider fixes it
        fixed = self.run_now(connector)
        self.assertEqual((fixed.status, fixed.files_imported), (ConnectorRun.Status.OK, 1))
        self.assertEqual(_ledger(self.org), self.by_upload(CUR) + self.by_upload(KOKU))

    def test_it_reads_a_legacy_cur_delivery(self):
        """Legacy CUR: `<report>/YYYYMMDD-YYYYMMDD/<report>-Manifest.json` with `reportKeys`, and a copy of it in
        the assembly's folder; the period is imported once."""
        folder = f"{PREFIX}/legacy/20180601-20180701"
        data = f"{folder}/0f6b5c1e/legacy-1.csv.gz"
        self.s3.put_object(Bucket=BUCKET, Key=data, Body=gzip.compress(sample_path(KOKU).read_bytes()))
        period = {"start": "20180601T000000.000Z", "end": "20180701T000000.000Z"}
        manifest = json.dumps(
            {"assemblyId": "0f6b5c1e", "bucket": BUCKET, "reportKeys": [data], "billingPeriod": period}
        )
        self.s3.put_object(Bucket=BUCKET, Key=f"{folder}/0f6b5c1e/legacy-Manifest.json", Body=manifest.encode())
        self.s3.put_object(Bucket=BUCKET, Key=f"{folder}/legacy-Manifest.json", Body=manifest.encode())
        run = self.run_now(self.create())
        self.assertEqual((run.status, run.files_seen, run.files_imported), (ConnectorRun.Status.OK, 1, 1), run.error)
        self.assertEqual(_ledger(self.org), self.by_upload(KOKU))

    def test_it_says_an_empty_bucket_holds_no_export(self):
        connector = self.create()
        run = self.run_now(connector)
        self.assertEqual(run.status, ConnectorRun.Status.FAILED)
        self.assertIn(f"No export files under s3://{BUCKET}/{PREFIX}", run.error)
        page = self.client.get(self.url("ingest-connector", connector))
        self.assertContains(page, f"No export files under s3://{BUCKET}/{PREFIX}")
        self.assertContains(page, "the prefix stops before the export name")
        tested = self.client.post(self.url("ingest-connector-test", connector), follow=True)
        self.assertContains(tested, "No export files under")
        self.assertEqual(Upload.objects.for_org(self.org).count(), 0)

    def test_it_names_a_missing_bucket(self):
        connector = self.create(bucket="no-such-bucket")
        run = self.run_now(connector)
        self.assertIn("The bucket 'no-such-bucket' does not exist", run.error)
        self.assertIn("Check the bucket name", run.fix)

    def _iam_user(self, actions=(*READ, "sts:AssumeRole")) -> dict:
        iam = boto_client("iam")
        self.user = iam.create_user(UserName="finops")["User"]
        iam.put_user_policy(UserName="finops", PolicyName="read", PolicyDocument=_policy(actions))
        return iam.create_access_key(UserName="finops")["AccessKey"]

    def test_it_shows_wrong_credentials_and_changes_nothing(self):
        self.put_cur()
        key = self._iam_user()
        moto_auth(True)
        connector = self.create(access_key_id=key["AccessKeyId"], secret_access_key="not-the-secret")
        run = self.run_now(connector)
        self.assertEqual(run.status, ConnectorRun.Status.FAILED)
        page = self.client.get(self.url("ingest-connector", connector))
        self.assertContains(page, "The secret access key does not match the access key ID.")
        self.assertContains(page, "Enter the secret access key again")
        self.assertEqual((Upload.objects.for_org(self.org).count(), _ledger(self.org)), (0, 0))

        unknown = self.create(name="Unknown key", access_key_id="AKIAUNKNOWN000000000")
        self.assertIn("access key ID is not known", self.run_now(unknown).error)

        self.client.post(
            self.url("ingest-connector-edit", connector),
            {"name": connector.name, "schedule_hour": "6", "bucket": BUCKET, "prefix": PREFIX,
             "access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
             "endpoint_url": moto_endpoint(), "enabled": "on"},
        )  # fmt: skip
        moto_auth(True)  # moto counts requests since auth was switched on; the check must hold for the run too
        rerun = self.run_now(connector)
        self.assertEqual(rerun.status, ConnectorRun.Status.OK, rerun.error)
        moto_auth(False)
        self.assertEqual(_ledger(self.org), self.by_upload(CUR))

    def test_it_says_access_is_denied_without_the_policy(self):
        self.put_cur()
        key = self._iam_user(actions=("s3:ListBucket", "s3:ListObjectsV2"))
        moto_auth(True)
        connector = self.create(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])
        run = self.run_now(connector)
        self.assertIn("Access denied to", run.error)
        self.assertIn("s3:GetObject", run.fix)

    def test_it_assumes_a_role_through_sts(self):
        self.put_cur()
        key = self._iam_user(actions=("sts:AssumeRole",))
        iam = boto_client("iam")
        external_id = f"finops-{self.org.code}"  # this organisation's, shown on the form
        page = self.client.get(reverse("ingest-connector-create", kwargs={"org_code": self.org.code,
                                                                          "kind": "aws_data_exports"}))  # fmt: skip
        self.assertContains(page, f"<code>{external_id}</code>")
        self.assertContains(page, "<h1>Connect AWS Data Exports (S3)</h1>")  # the class is not called by the template
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"AWS": self.user["Arn"]},
                 "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]}  # fmt: skip
        role = iam.create_role(RoleName="finops-read", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        iam.put_role_policy(RoleName="finops-read", PolicyName="read", PolicyDocument=_policy(READ))
        moto_auth(True)
        connector = self.create(
            access_key_id=key["AccessKeyId"],
            secret_access_key=key["SecretAccessKey"],
            role_arn=role["Arn"],
        )
        run = self.run_now(connector)
        self.assertEqual((run.status, run.files_imported), (ConnectorRun.Status.OK, 1), run.error)
        moto_auth(False)
        self.assertEqual(_ledger(self.org), self.by_upload(CUR))

    def test_it_needs_a_key_or_a_role(self):
        response = self.client.post(
            self.url("ingest-connector-create", kind="aws_data_exports"),
            {"name": "No credentials", "schedule_hour": "6", "bucket": BUCKET},
        )
        self.assertContains(response, "Give an access key or a role to assume.")
        self.assertFalse(Connector.objects.for_org(self.org).exists())

    def test_it_survives_a_429_storm(self):
        self.put_cur()
        proxy = ThrottlingProxy(moto_endpoint(), throttled=2)
        self.addCleanup(proxy.close)
        connector = self.create(endpoint_url=proxy.url)
        run = self.run_now(connector)
        self.assertEqual(run.status, ConnectorRun.Status.OK, run.error)
        self.assertEqual(_ledger(self.org), self.by_upload(CUR))

        storm = ThrottlingProxy(moto_endpoint(), throttled=10**6)
        self.addCleanup(storm.close)
        stormy = self.create(name="Storm", endpoint_url=storm.url)
        with mock.patch.object(AwsDataExportsSource, "attempts", 2):
            failed = self.run_now(stormy)
        self.assertEqual(failed.status, ConnectorRun.Status.FAILED)
        self.assertIn("slow down (HTTP 429", failed.error)
        self.assertIn("the next run tries again", failed.fix)

    # -- S3-compatible storage -----------------------------------------------------------------------------

    def test_a_file_rewritten_between_the_listing_and_the_read_is_pulled_at_the_next_run(self):
        first = _csv([["Invoice Date", "Instance ID", "Total (USD)"], ["2026-10-03", "i-abc", "10.00"]])
        second = _csv([["Invoice Date", "Instance ID", "Total (USD)"], ["2026-10-03", "i-abc", "12.50"]])
        self.s3.put_object(Bucket=BUCKET, Key="lambda/invoice.csv", Body=first)
        columns = {"date": "Invoice Date", "amount": "Total (USD)", "resource_id": "Instance ID"}
        column_mapping_create(org=self.org, name="Lambda invoices", provider="Lambda", currency="USD", columns=columns)
        connector = self.create("s3_compatible", name="Lambda", prefix="lambda", mapping="Lambda invoices")
        plugin = connector_plugin(connector)
        listed = plugin.list_files()
        self.s3.put_object(Bucket=BUCKET, Key="lambda/invoice.csv", Body=second)  # rewritten after the listing
        with self.assertRaisesMessage(ConnectorError, "invoice.csv changed while it was being read"):
            plugin.fetch(listed[0], io.BytesIO())
        with mock.patch("ingest.services.connectors.connector_plugin", return_value=plugin), \
                mock.patch.object(plugin, "list_files", return_value=listed):  # fmt: skip
            run = self.run_now(connector)
        self.assertEqual((run.files_imported, run.files_failed), (0, 1))
        self.assertIn("changed while it was being read", run.error)
        self.assertEqual(_ledger(self.org), Decimal(0))
        self.assertEqual(self.run_now(connector).files_imported, 1)
        self.assertEqual(_ledger(self.org), Decimal("12.50"))

    def test_it_pulls_gpu_cloud_files_from_an_s3_compatible_bucket(self):
        focus = sample_path(FOCUS_CSV).read_bytes()
        self.s3.put_object(Bucket=BUCKET, Key="coreweave/2024/focus.csv.gz", Body=gzip.compress(focus))
        invoice = _csv([["Invoice Date", "Instance ID", "GPU Hours", "Total (USD)"],
                        ["2026-10-03", "i-abc", "24", "575.76"], ["2026-10-04", "i-abc", "24", "575.76"]])  # fmt: skip
        self.s3.put_object(Bucket=BUCKET, Key="lambda/invoice-2026-10.csv", Body=invoice)
        self.s3.put_object(Bucket=BUCKET, Key="coreweave/README.txt", Body=b"not data")
        column_mapping_create(
            org=self.org, name="Lambda invoices", provider="Lambda", currency="USD",
            columns={"date": "Invoice Date", "amount": "Total (USD)", "resource_id": "Instance ID"},
        )  # fmt: skip
        values = {"endpoint_url": moto_endpoint(), "bucket": BUCKET, "access_key_id": "testing",
                  "secret_access_key": "testing-secret"}  # fmt: skip
        coreweave = self.create("s3_compatible", name="CoreWeave", prefix="coreweave", **values)
        lambda_ = self.create("s3_compatible", name="Lambda", prefix="lambda", mapping="Lambda invoices", **values)
        self.assertEqual(self.run_now(coreweave).files_imported, 1)
        self.assertEqual(self.run_now(lambda_).files_imported, 1)
        expected = self.by_upload(FOCUS_CSV) + Decimal("1151.52")
        self.assertEqual(_ledger(self.org), expected)
        self.assertEqual(self.run_now(coreweave).files_unchanged, 1)
        self.assertEqual(_ledger(self.org), expected)

    @override_settings(CONNECTOR_PRIVATE_ENDPOINTS=False)
    def test_it_refuses_endpoints_on_the_servers_own_network(self):
        for endpoint in ("http://127.0.0.1:9000", "http://169.254.169.254", "http://[::1]/", "http://minio.internal",
                         "http://10.0.0.5:9000", "file:///etc/passwd"):  # fmt: skip
            response = self.client.post(
                self.url("ingest-connector-create", kind="s3_compatible"),
                {"name": "MinIO", "schedule_hour": "6", "endpoint_url": endpoint, "bucket": BUCKET,
                 "access_key_id": "k", "secret_access_key": "s"},
            )  # fmt: skip
            self.assertEqual(response.status_code, 200, endpoint)
            self.assertFalse(Connector.objects.for_org(self.org).exists(), endpoint)
        self.assertContains(response, "is not an endpoint URL")
        with override_settings(CONNECTOR_PRIVATE_ENDPOINTS=True):
            connector = self.create("s3_compatible", name="MinIO", endpoint_url=moto_endpoint())
        run = connector_run(connector=connector)  # allowed when saved, refused now
        self.assertIn("is on a private network", run.error)

    def test_it_refuses_a_mapping_that_does_not_exist(self):
        response = self.client.post(
            self.url("ingest-connector-create", kind="s3_compatible"),
            {"name": "R2", "schedule_hour": "6", "endpoint_url": moto_endpoint(), "bucket": BUCKET,
             "access_key_id": "k", "secret_access_key": "s", "mapping": "Nope"},
        )  # fmt: skip
        self.assertContains(response, "No saved column mapping is called")

    # -- secrets, access, schedule -------------------------------------------------------------------------

    def test_it_never_shows_or_stores_a_secret_in_clear(self):
        connector = self.create(secret_access_key="wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY")
        self.assertNotIn("wJalrXUtnFEMI", connector.secrets_encrypted + json.dumps(connector.config))
        for name in ("ingest-connector", "ingest-connector-edit"):
            page = self.client.get(self.url(name, connector))
            self.assertNotContains(page, "wJalrXUtnFEMI")
        self.assertContains(self.client.get(self.url("ingest-connector", connector)), "…EKEY")
        with override_settings(SECRET_KEY="another-secret-key-after-a-rotation-0123456789"):
            run = connector_run(connector=connector)
        self.assertIn("cannot be read", run.error)
        self.assertIn("enter its secret fields again", run.fix)

    def test_the_list_names_each_connector_by_its_kind(self):
        connector = self.create()
        page = self.client.get(self.url("ingest-connectors"))
        self.assertContains(page, connector.name)
        self.assertContains(page, '<td class="muted">AWS Data Exports (S3)</td>', html=True)

    def test_it_hides_other_orgs(self):
        connector = self.create()
        self.client.force_login(self.charlie)
        for name in ("ingest-connector", "ingest-connector-edit"):
            self.assertEqual(self.client.get(self.url(name, connector)).status_code, 404)
        for name in ("ingest-connector-test", "ingest-connector-run", "ingest-connector-delete"):
            self.assertEqual(self.client.post(self.url(name, connector)).status_code, 404)
        self.assertEqual(self.client.get(self.url("ingest-connectors")).status_code, 404)
        charlies = self.client.get(self.url("ingest-connectors", org=self.charlies_org))
        self.assertNotContains(charlies, connector.name)
        self.assertTrue(Connector.objects.filter(pk=connector.pk).exists())

    def test_it_requires_write(self):
        connector = self.create()
        self.client.force_login(self.bob)
        self.assertContains(self.client.get(self.url("ingest-connector", connector)), connector.name)
        self.assertNotContains(self.client.get(self.url("ingest-connector", connector)), "Run now")
        for name in ("ingest-connector-test", "ingest-connector-run", "ingest-connector-delete"):
            self.assertEqual(self.client.post(self.url(name, connector)).status_code, 403)
        self.assertEqual(self.client.get(self.url("ingest-connector-edit", connector)).status_code, 403)
        self.assertEqual(self.client.get(self.url("ingest-connector-create", kind="s3_compatible")).status_code, 403)
        self.assertFalse(ConnectorRun.objects.filter(connector=connector).exists())

    def test_it_deletes_a_connector_and_keeps_its_uploads(self):
        self.put_cur()
        connector = self.create()
        self.run_now(connector)
        page = self.client.get(self.url("ingest-connector", connector))
        self.assertContains(page, "data-confirm=")
        response = self.client.post(self.url("ingest-connector-delete", connector))
        self.assertRedirects(response, self.url("ingest-connectors"))
        self.assertFalse(Connector.objects.filter(pk=connector.pk).exists())
        self.assertEqual(_ledger(self.org), self.by_upload(CUR))

    def test_the_beat_runs_due_connectors_and_sets_the_next_run(self):
        from ingest.tasks import connectors_due

        self.put_cur()
        connector = connector_create(
            org=self.org, kind="aws_data_exports", name="Nightly", schedule_hour=6, created_by=self.alice,
            values={"bucket": BUCKET, "prefix": PREFIX, "access_key_id": "testing",
                    "secret_access_key": "testing-secret", "endpoint_url": moto_endpoint()},
        )  # fmt: skip
        self.assertEqual((connector.next_run_at.hour, connector.next_run_at.minute), (6, 0))
        Connector.objects.filter(pk=connector.pk).update(next_run_at=timezone.now() - timedelta(minutes=1))
        connectors_due()  # Celery is eager in tests: the run happens inside
        connector.refresh_from_db()
        self.assertEqual(connector.last_status, Connector.Status.OK)
        self.assertEqual(connector.runs.get().trigger, ConnectorRun.Trigger.SCHEDULE)
        self.assertGreater(connector.next_run_at, timezone.now())
        self.assertEqual(connector.next_run_at.astimezone(UTC).hour, 6)
        connectors_due()  # not due again until tomorrow
        self.assertEqual(connector.runs.count(), 1)

    def test_a_running_connector_is_not_run_twice(self):
        self.put_cur()
        connector = self.create()
        Connector.objects.filter(pk=connector.pk).update(last_status="running", last_run_at=timezone.now())
        lost = ConnectorRun.objects.create(org=self.org, connector=connector, trigger="schedule")
        self.assertIsNone(connector_run(connector=connector))
        stale = datetime.now(UTC) - timedelta(hours=2)
        Connector.objects.filter(pk=connector.pk).update(last_run_at=stale)  # its worker died
        self.assertEqual(connector_run(connector=connector).status, ConnectorRun.Status.OK)
        lost.refresh_from_db()
        self.assertEqual(lost.status, ConnectorRun.Status.FAILED)
        self.assertIn("worker running it stopped", lost.error)

    def test_it_counts_in_healthz_and_names_the_spend_in_onboarding(self):
        from finops.selectors.onboarding import onboarding_progress

        self.put_cur()
        connector = self.create()
        broken = self.create(name="Broken", bucket="no-such-bucket")
        self.assertEqual(
            self.client.get("/healthz").json()["connectors"], {"never": 2, "ok": 0, "failed": 0, "running": 0}
        )
        step = next(s for s in onboarding_progress(org=self.org).steps if s.key == "name_spend")
        self.assertFalse(step.done)
        self.run_now(connector)
        self.run_now(broken)
        self.assertEqual(
            self.client.get("/healthz").json()["connectors"], {"never": 0, "ok": 1, "failed": 1, "running": 0}
        )
        step = next(s for s in onboarding_progress(org=self.org).steps if s.key == "name_spend")
        self.assertTrue(step.done)
        self.assertEqual(step.evidence, "1 bill imported; no LLM usage yet; 1 connector pulling daily.")
