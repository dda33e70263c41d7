"""Google Cloud billing export files in a bucket, read through the S3-compatible XML API (moto's S3 server stands in
for storage.googleapis.com): koku's real BigQuery export as the JSON lines, Parquet and CSV files a scheduled
EXPORT DATA writes, sharded the way BigQuery names shards, pulled through connector_create/connector_run."""

import ast
import csv
import gzip
import io
import json
from datetime import datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.test import override_settings
from django.urls import reverse

from ingest.connectors.base import ConnectorError
from ingest.connectors.gcs import DEFAULT_ENDPOINT, GcsBillingExportSource, delivery_key
from ingest.models import Connector, ConnectorRun, CostLine, Upload
from ingest.services.connectors import connector_check, connector_create, connector_plugin, connector_run
from ingest.services.uploads import upload_create_from_path, upload_run
from tests.base import BaseTestCase, sample_path
from tests.ingest.connector_servers import ThrottlingProxy, boto_client, moto_auth, moto_endpoint, moto_reset

KOKU = "gcp/koku_gcp-bq-export-as-csv_2020-11.csv"
BUCKET = "acme-billing"
FOLDER = "billing"


@pytest.fixture(scope="module", autouse=True)
def _moto():
    moto_endpoint()  # started once for the module, emptied before each test


def _bigquery_records(rows: list[dict] | None = None) -> list[dict]:
    """koku's flattened export as the nested records of BigQuery's billing table, as its JSON export writes them:
    service, sku, project, location, usage and invoice as objects, labels and credits as arrays, timestamps as
    'YYYY-MM-DD hh:mm:ss UTC'."""
    if rows is None:
        with open(sample_path(KOKU), encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))

    def moment(value):
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S UTC") if value else None

    def array(value):
        return ast.literal_eval(value) if value else []

    def number(value):
        return float(value) if value else None

    return [
        {
            "billing_account_id": row["billing_account_id"],
            "service": {"id": row["service.id"], "description": row["service.description"]},
            "sku": {"id": row["sku.id"], "description": row["sku.description"]},
            "usage_start_time": moment(row["usage_start_time"]),
            "usage_end_time": moment(row["usage_end_time"]),
            "project": {
                "id": row["project.id"],
                "name": row["project.name"],
                "labels": array(row["project.labels"]),
                "ancestry_numbers": row["project.ancestry_numbers"],
            },
            "labels": array(row["labels"]),
            "system_labels": array(row["system_labels"]),
            "location": {part: row[f"location.{part}"] or None for part in ("location", "country", "region", "zone")},
            "export_time": moment(row["export_time"]),
            "cost": number(row["cost"]),
            "currency": row["currency"],
            "currency_conversion_rate": number(row["currency_conversion_rate"]),
            "usage": {
                "amount": number(row["usage.amount"]),
                "unit": row["usage.unit"],
                "amount_in_pricing_units": number(row["usage.amount_in_pricing_units"]),
                "pricing_unit": row["usage.pricing_unit"],
            },
            "credits": array(row["credits"]),
            "invoice": {"month": row["invoice.month"]},
            "cost_type": row["cost_type"],
        }
        for row in rows
    ]


def _jsonl(records) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def _parquet(records) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for record in records:  # BigQuery's Parquet holds timestamps as timestamps
        for column in ("usage_start_time", "usage_end_time", "export_time"):
            record[column] = datetime.strptime(record[column] + "+0000", "%Y-%m-%d %H:%M:%S UTC%z")
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), buffer)
    return buffer.getvalue()


def _ledger(org) -> Decimal:
    return CostLine.objects.for_org(org).aggregate(total=Sum("billed_cost_amount"))["total"] or Decimal(0)


def _gross(org) -> Decimal:
    return CostLine.objects.for_org(org).aggregate(total=Sum("list_cost_amount"))["total"] or Decimal(0)


@override_settings(CONNECTOR_PRIVATE_ENDPOINTS=True)  # moto listens on 127.0.0.1
class GcsBillingExportTests(BaseTestCase):
    def setUp(self):
        moto_reset()
        self.s3 = boto_client("s3")
        self.s3.create_bucket(Bucket=BUCKET)

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp = tmp_path

    def put(self, key: str, content: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=content)

    def put_shards(self, records, *, month="202011", ext=".json.gz", shards=2) -> list[str]:
        """What `EXPORT DATA OPTIONS (uri='gs://acme-billing/billing/<month>/export-*.json', format='JSON',
        compression='GZIP')` writes: the records split into 12-digit numbered shards."""
        size = -(-len(records) // shards)
        keys = []
        for number, start in enumerate(range(0, len(records), size)):
            key = f"{FOLDER}/{month}/export-{number:012d}{ext}"
            content = _jsonl(records[start : start + size])
            self.put(key, gzip.compress(content) if ext.endswith(".gz") else content)
            keys.append(key)
        return keys

    def connector(self, *, name="GCP billing", access_id="GOOG1EXAMPLEACCESSID", hmac="hmac-secret", **values):
        settings = {"bucket": f"gs://{BUCKET}", "prefix": FOLDER, "access_key_id": access_id}
        settings.update({"secret_access_key": hmac, "endpoint_url": moto_endpoint(), **values})
        return connector_create(org=self.org, kind="gcs_billing", name=name, values=settings, created_by=self.alice)

    def by_upload(self, content: bytes, name: str) -> tuple[Decimal, Decimal, int]:
        """(billed, list, lines) of the same data uploaded by hand, into charlie's organisation."""
        path = self.tmp / name
        path.write_bytes(content)
        upload = upload_create_from_path(org=self.charlies_org, path=path, kind="bill", enqueue=False)
        assert upload_run(upload_id=upload.pk).status == Upload.Status.DONE
        result = (_ledger(self.charlies_org), _gross(self.charlies_org), CostLine.objects.for_org(self.charlies_org))
        return result[0], result[1], result[2].count()

    def ours(self) -> tuple[Decimal, Decimal, int]:
        return _ledger(self.org), _gross(self.org), CostLine.objects.for_org(self.org).count()

    # -- pulling ------------------------------------------------------------------------------------------

    def test_it_pulls_sharded_json_lines_as_one_export(self):
        records = _bigquery_records()
        self.put_shards(records)
        connector = self.connector()
        ok, message, fix = connector_check(connector=connector)
        assert ok, (message, fix)
        assert message == f"Connected to gs://{BUCKET}/{FOLDER}: 1 export in 2 files."

        run = connector_run(connector=connector)

        assert (run.status, run.files_seen, run.files_imported) == ("ok", 1, 1), run.error
        upload = Upload.objects.for_org(self.org).get()
        assert (upload.format, upload.original_name) == ("gcp_billing", "export.jsonl.gz")
        assert upload.rows_loaded == len(records)
        with open(sample_path(KOKU), "rb") as handle:
            assert self.ours() == self.by_upload(handle.read(), "koku.csv")
        line = CostLine.objects.for_org(self.org).get(source_row=1, upload=upload)
        assert (line.service_name, line.provider) == (records[0]["service"]["description"], "Google Cloud")

    def test_it_imports_nothing_the_second_time(self):
        self.put_shards(_bigquery_records())
        connector = self.connector()
        connector_run(connector=connector)
        before = self.ours()

        again = connector_run(connector=connector)

        assert (again.status, again.files_seen, again.files_imported, again.files_unchanged) == ("ok", 1, 0, 1)
        assert Upload.objects.for_org(self.org).count() == 1
        assert self.ours() == before

    def test_a_shard_rewritten_between_the_listing_and_the_read_is_pulled_at_the_next_run(self):
        records = _bigquery_records()
        keys = self.put_shards(records)
        connector = self.connector()
        plugin = connector_plugin(connector)
        listed = plugin.list_files()
        restated = _bigquery_records()
        restated[-1]["cost"] = 12.5
        self.put(keys[1], gzip.compress(_jsonl(restated[-(-len(records) // 2) :])))  # the shard, written again
        with pytest.raises(ConnectorError, match="changed while it was being read"):
            plugin.fetch(listed[0], io.BytesIO())
        assert not Upload.objects.for_org(self.org).exists()
        run = connector_run(connector=connector)
        assert (run.status, run.files_imported) == ("ok", 1), run.error

    def test_it_replaces_the_month_a_scheduled_export_writes_again(self):
        records = _bigquery_records()
        keys = self.put_shards(records)
        connector = self.connector()
        connector_run(connector=connector)
        # The next day's export restates November: one SKU costs 12.5 more, without credits.
        restated = _bigquery_records()
        restated[3]["cost"] = 12.5
        self.put_shards(restated)
        assert [o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == keys

        run = connector_run(connector=connector)

        assert (run.status, run.files_imported) == ("ok", 1), run.error
        assert _ledger(self.org) == Decimal("12.5")
        assert CostLine.objects.for_org(self.org).count() == len(records)
        assert Upload.objects.for_org(self.org).latest("pk").rows_replaced == len(records)

    def test_it_reads_nested_parquet_and_the_flat_csv(self):
        records = _bigquery_records()
        self.put(f"{FOLDER}/202011/export-000000000000.parquet", _parquet(records))
        with open(sample_path(KOKU), "rb") as handle:
            koku = handle.read()
        self.put(f"{FOLDER}/other-account/koku-2020-11.csv", koku.replace(b"000000-B0BBA4-940A77", b"000000-OTHER0"))

        run = connector_run(connector=self.connector())

        assert (run.status, run.files_seen, run.files_imported) == ("ok", 2, 2), run.error
        uploads = Upload.objects.for_org(self.org).order_by("original_name")
        assert [(u.original_name, u.format, u.rows_loaded) for u in uploads] == [
            ("export.parquet", "gcp_billing", len(records)),
            ("koku-2020-11.csv", "gcp_billing", len(records)),
        ]
        billed, gross, lines = self.by_upload(koku, "koku.csv")
        assert self.ours() == (billed * 2, gross * 2, lines * 2)
        assert CostLine.objects.for_org(self.org).filter(tags__has_key="goog-k8s-cluster-name").exists() == (
            CostLine.objects.for_org(self.charlies_org).filter(tags__has_key="goog-k8s-cluster-name").exists()
        )

    # -- what goes wrong ----------------------------------------------------------------------------------

    def test_it_reports_an_unknown_hmac_key_and_changes_nothing(self):
        self.put_shards(_bigquery_records())
        moto_auth(True)
        try:
            connector = self.connector(access_id="GOOG1EUNKNOWNKEY0000")
            ok, message, fix = connector_check(connector=connector)
            run = connector_run(connector=connector)
        finally:
            moto_auth(False)

        assert not ok
        assert message == "The HMAC access ID is not known to the storage."
        assert "Interoperability" in fix
        assert (run.status, run.error) == ("failed", message)
        assert "HMAC key" in run.fix
        assert not Upload.objects.for_org(self.org).exists()
        assert self.ours() == (0, 0, 0)

    def _allow(self, *actions) -> None:
        """What the HMAC key's service account may do (moto's IAM stands in for Cloud Storage's roles)."""
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
        boto_client("iam").put_user_policy(
            UserName="billing-reader", PolicyName="viewer", PolicyDocument=json.dumps(policy)
        )

    def _run_checked(self, **values) -> ConnectorRun:
        """A run of a new connector while the server checks signatures and permissions."""
        moto_auth(True)
        try:
            return connector_run(connector=self.connector(**values))
        finally:
            moto_auth(False)

    def test_it_reports_a_wrong_hmac_secret_and_a_missing_role(self):
        self.put_shards(_bigquery_records())
        boto_client("iam").create_user(UserName="billing-reader")
        key = boto_client("iam").create_access_key(UserName="billing-reader")["AccessKey"]
        self._allow("s3:ListBucket", "s3:ListObjectsV2", "s3:GetObject")

        wrong = self._run_checked(access_id=key["AccessKeyId"], hmac="not-the-secret")

        assert (wrong.status, wrong.error) == ("failed", "The HMAC secret does not match the HMAC access ID.")
        assert "Interoperability" in wrong.fix

        self._allow("s3:ListBucket", "s3:ListObjectsV2")  # listing, but not Storage Object Viewer's reads
        denied = self._run_checked(name="No viewer", access_id=key["AccessKeyId"], hmac=key["SecretAccessKey"])

        assert denied.status == "failed"
        assert f"Access denied to gs://{BUCKET}/{FOLDER}" in denied.error
        assert "Storage Object Viewer" in denied.fix
        assert not Upload.objects.for_org(self.org).exists()

    def test_it_survives_a_429_storm(self):
        with open(sample_path(KOKU), "rb") as handle:
            koku = handle.read()
        self.put(f"{FOLDER}/202011/koku-2020-11.csv", koku)
        proxy = ThrottlingProxy(moto_endpoint(), throttled=2)  # 429 SlowDown, as the XML API answers a burst
        self.addCleanup(proxy.close)

        run = connector_run(connector=self.connector(endpoint_url=proxy.url))

        assert (run.status, run.files_imported) == ("ok", 1), run.error
        assert proxy.seen > 2
        imported = self.ours()
        assert imported == self.by_upload(koku, "koku.csv")

        storm = ThrottlingProxy(moto_endpoint(), throttled=10**6)
        self.addCleanup(storm.close)
        with mock.patch.object(GcsBillingExportSource, "attempts", 2):
            failed = connector_run(connector=self.connector(name="Storm", endpoint_url=storm.url))

        assert failed.status == "failed"
        assert failed.error == "Cloud Storage kept asking us to slow down (HTTP 429, SlowDown) after every retry."
        assert "the next run tries again" in failed.fix
        assert Upload.objects.for_org(self.org).count() == 1
        assert self.ours() == imported

    def test_it_names_a_missing_bucket(self):
        run = connector_run(connector=self.connector(bucket="no-such-bucket"))
        assert run.status == "failed"
        assert "The bucket 'no-such-bucket' does not exist" in run.error

    def test_it_finds_nothing_in_an_empty_bucket(self):
        self.put(f"{FOLDER}/README.txt", b"exports land here")
        connector = self.connector()

        ok, message, _ = connector_check(connector=connector)
        run = connector_run(connector=connector)

        assert ok and "no export files there yet" in message
        assert (run.status, run.files_seen) == ("ok", 0)
        assert not Upload.objects.for_org(self.org).exists()

    def test_it_rejects_a_malformed_shard_whole_with_row_and_column(self):
        records = _bigquery_records()
        self.put_shards(records)
        connector = self.connector()
        connector_run(connector=connector)
        before = self.ours()
        broken = _bigquery_records()
        broken[16]["cost"] = "twelve"  # the second shard's fourth line: row 17 of the export
        self.put_shards(broken)

        run = connector_run(connector=connector)

        assert run.status == "partial"
        assert "row 17" in run.error and "column cost" in run.error, run.error
        rejected = Upload.objects.for_org(self.org).latest("pk")
        assert (rejected.status, rejected.errors[0]["row"], rejected.errors[0]["column"]) == ("failed", 17, "cost")
        assert self.ours() == before

    # -- the plug-in ----------------------------------------------------------------------------------------

    def test_it_groups_bigquery_shards_by_name(self):
        assert delivery_key("billing/202011/export-000000000001.json.gz") == "billing/202011/export-*.json.gz"
        assert delivery_key("billing/000000000000.parquet") == "billing/*.parquet"
        assert delivery_key("billing/koku-2020-11.csv") == "billing/koku-2020-11.csv"
        source = GcsBillingExportSource({"bucket": BUCKET}, {})
        assert (source._setting("endpoint_url"), source._setting("region")) == (DEFAULT_ENDPOINT, "auto")

    @override_settings(CONNECTOR_PRIVATE_ENDPOINTS=False)
    def test_it_refuses_a_private_endpoint(self):
        with pytest.raises(ValidationError) as caught:
            self.connector(endpoint_url="http://169.254.169.254")
        assert "private network" in str(caught.value)

    def test_alice_creates_and_runs_it_on_the_page(self):
        self.put_shards(_bigquery_records())
        self.client.force_login(self.alice)
        create = reverse("ingest-connector-create", kwargs={"org_code": self.org.code, "kind": "gcs_billing"})
        page = self.client.get(create)
        assert page.status_code == 200
        self.assertContains(page, "HMAC access ID")

        response = self.client.post(create, {"name": "GCP", "schedule_hour": "6", "bucket": BUCKET, "prefix": FOLDER,
                                             "access_key_id": "GOOG1EXAMPLE", "secret_access_key": "hmac-secret",
                                             "endpoint_url": moto_endpoint()})  # fmt: skip
        connector = Connector.objects.for_org(self.org).get(name="GCP")
        detail = reverse("ingest-connector", kwargs={"org_code": self.org.code, "code": connector.code})
        self.assertRedirects(response, detail)
        run_url = reverse("ingest-connector-run", kwargs={"org_code": self.org.code, "code": connector.code})
        self.assertRedirects(self.client.post(run_url), detail)
        assert ConnectorRun.objects.for_org(self.org).get().status == "ok"
        assert CostLine.objects.for_org(self.org).count() == len(_bigquery_records())

        self.client.force_login(self.charlie)
        assert self.client.get(detail).status_code == 404
