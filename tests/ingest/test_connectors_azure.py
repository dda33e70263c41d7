"""Azure Cost Management exports pulled from Blob Storage (a real Azurite server), through connector_create and
connector_run, into the ledger: the finops-toolkit EA samples and a FOCUS file laid out as Cost Management writes
them (<directory>/<export>/<YYYYMMDD-YYYYMMDD>/<run id>/part_*.csv.gz + manifest.json)."""

import csv
import gzip
import io
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from azure.core.pipeline.policies import RequestHistory
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.test import override_settings
from django.urls import reverse

from ingest.connectors.azure_blob import AzureCostExportsSource, _retry_policy
from ingest.connectors.base import ConnectorError
from ingest.models import Connector, CostLine, Upload
from ingest.services.connectors import connector_check, connector_create, connector_run
from ingest.services.uploads import upload_create_from_path, upload_run
from tests.base import BaseTestCase, sample_path
from tests.ingest import azurite_server
from tests.ingest.connector_servers import ThrottlingProxy

ACTUAL = "azure/finops-toolkit_EA_ActualCost_Small.csv"
AMORTIZED = "azure/finops-toolkit_EA_AmortizedCost_Small.csv"
FOCUS = "focus/focus-sample-data_focus_sample_1000.csv"
SEPTEMBER = "20230901-20230930"
CENT = Decimal("0.01")
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)  # every request


@pytest.fixture(scope="module")
def azurite():
    yield from azurite_server.azurite()


@pytest.fixture(autouse=True)
def _server(request, azurite):
    request.cls.azurite = azurite


def _rows(relative: str) -> list[list[str]]:
    with open(sample_path(relative), encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _csv(rows, *, bom=True) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()


def _ledger(org) -> Decimal:
    return CostLine.objects.for_org(org).aggregate(total=Sum("billed_cost_amount"))["total"] or Decimal(0)


@override_settings(CONNECTOR_PRIVATE_ENDPOINTS=True)  # Azurite listens on 127.0.0.1
class AzureExportsTest(BaseTestCase):
    azurite: azurite_server.Azurite

    def setUp(self):
        self.container_name = f"exports-{uuid.uuid4().hex[:10]}"
        self.container = self.azurite.service().create_container(self.container_name)
        self.clock = datetime(2023, 10, 1, 6, tzinfo=UTC)

    def tearDown(self):
        self.container.delete_container()

    # -- the export as Cost Management writes it ----------------------------------------------------------

    def put_run(self, export, parts: list[bytes], *, date_range=SEPTEMBER, path="costs", ext=".csv.gz",
                dataset="ActualCost", manifest=True, run_folder=None) -> str:  # fmt: skip
        """One run of `export`: its parts (gzip'd when ext says so) and its manifest.json, written last."""
        run_id = str(uuid.uuid4())
        folder = f"{path}/{export}/{date_range}/{run_folder or run_id}"
        blobs = []
        for number, content in enumerate(parts):
            name = f"{folder}/part_{number}_0001{ext}"
            data = gzip.compress(content) if ext.endswith(".gz") else content
            self.container.upload_blob(name, data)
            blobs.append({"blobName": name, "byteCount": len(data), "dataRowCount": content.count(b"\n") - 1})
        if manifest:
            start, end = date_range.split("-")
            document = {
                "manifestVersion": "2024-04-01",
                "byteCount": sum(b["byteCount"] for b in blobs),
                "blobCount": len(blobs),
                "dataRowCount": sum(b["dataRowCount"] for b in blobs),
                "exportConfig": {
                    "exportName": export,
                    "resourceId": f"/providers/Microsoft.Billing/billingAccounts/8611537/providers/"
                    f"Microsoft.CostManagement/exports/{export}",
                    "dataVersion": "2021-10-01",
                    "apiVersion": "2023-07-01-preview",
                    "type": dataset,
                    "timeFrame": "MonthToDate",
                    "granularity": "Daily",
                },
                "deliveryConfig": {
                    "partitionData": True,
                    "dataOverwriteBehavior": "OverwritePreviousReport",
                    "fileFormat": "Parquet" if ext.endswith("parquet") else "Csv",
                    "compressionMode": "gzip" if ext.endswith(".gz") else "None",
                    "containerUri": f"/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/"
                    f"storageAccounts/{self.azurite.account_name}",
                    "rootFolderPath": path,
                },
                "runInfo": {
                    "executionType": "Scheduled",
                    "submittedTime": self.clock.isoformat(),
                    "runId": run_id,
                    "startDate": f"{start[:4]}-{start[4:6]}-{start[6:]}T00:00:00",
                    "endDate": f"{end[:4]}-{end[4:6]}-{end[6:]}T00:00:00",
                },
                "blobs": blobs,
            }
            self.container.upload_blob(f"{folder}/manifest.json", json.dumps(document).encode())
        self.clock += timedelta(days=1)
        return folder

    def sas(self, **permissions) -> str:
        return generate_container_sas(
            self.azurite.account_name,
            self.container_name,
            account_key=self.azurite.account_key,
            permission=ContainerSasPermissions(**(permissions or {"read": True, "list": True})),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )

    def connector(self, credential=None, *, path="costs", name="Azure costs", org=None, account_url=None):
        return connector_create(
            org=org or self.org,
            kind="azure_blob",
            name=name,
            values={
                "account_url": account_url or self.azurite.account_url,
                "container": self.container_name,
                "path": path,
                "credential": credential if credential is not None else self.sas(),
            },
            created_by=self.alice,
        )

    def reference_total(self, content: bytes, name="reference.csv") -> dict:
        """The totals of the same file imported by upload, into charlie's org."""
        path = self.tmp / name
        path.write_bytes(content)
        upload = upload_create_from_path(org=self.charlies_org, path=path, kind="bill", enqueue=False)
        upload = upload_run(upload_id=upload.pk)
        assert upload.status == Upload.Status.DONE, upload.errors
        return upload.totals

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp = tmp_path

    # -- pulling ------------------------------------------------------------------------------------------

    def test_it_pulls_the_actual_cost_export_to_the_cent(self):
        content = _csv(_rows(ACTUAL))
        self.put_run("daily-actual", [content])
        connector = self.connector()
        ok, message, fix = connector_check(connector=connector)
        assert ok, (message, fix)
        assert "1 period of 1 export (daily-actual)" in message

        run = connector_run(connector=connector)

        assert (run.status, run.files_seen, run.files_imported) == ("ok", 1, 1), run.error
        upload = Upload.objects.for_org(self.org).get()
        assert upload.original_name == f"daily-actual_{SEPTEMBER}.csv.gz"
        assert upload.format == "azure_cost"
        assert upload.cost_basis == "actual"
        assert upload.totals == self.reference_total(content)
        assert _ledger(self.org).quantize(CENT) == Decimal(upload.totals["USD"]).quantize(CENT)
        assert CostLine.objects.for_org(self.org).count() == len(_rows(ACTUAL)) - 1

    def test_it_imports_nothing_the_second_time(self):
        self.put_run("daily-actual", [_csv(_rows(ACTUAL))])
        connector = self.connector()
        connector_run(connector=connector)
        total, lines = _ledger(self.org), CostLine.objects.for_org(self.org).count()

        again = connector_run(connector=connector)

        assert (again.status, again.files_seen, again.files_imported, again.files_unchanged) == ("ok", 1, 0, 1)
        assert Upload.objects.for_org(self.org).count() == 1
        assert (_ledger(self.org), CostLine.objects.for_org(self.org).count()) == (total, lines)

    def test_it_replaces_a_period_a_newer_run_restates(self):
        rows = _rows(AMORTIZED)
        self.put_run("daily-amortized", [_csv(rows)], dataset="AmortizedCost")
        connector = self.connector()
        connector_run(connector=connector)
        first = _ledger(self.org)
        assert Upload.objects.for_org(self.org).get().cost_basis == "amortised"
        # The next day's run restates September: one line fewer, one cost changed.
        cost = rows[0].index("Cost")
        restated = [rows[0], *rows[1:-1]]
        restated[1] = [*restated[1]]
        restated[1][cost] = str(Decimal(restated[1][cost]) + Decimal("10.25"))
        self.put_run("daily-amortized", [_csv(restated)], dataset="AmortizedCost")

        run = connector_run(connector=connector)

        assert (run.status, run.files_imported) == ("ok", 1), run.error
        expected = sum((Decimal(r[cost]) for r in restated[1:]), Decimal(0))
        assert _ledger(self.org).quantize(CENT) == expected.quantize(CENT)
        assert _ledger(self.org).quantize(CENT) == (first + Decimal("10.25") - Decimal(rows[-1][cost])).quantize(CENT)
        assert CostLine.objects.for_org(self.org).count() == len(restated) - 1
        assert Upload.objects.for_org(self.org).latest("pk").rows_replaced == len(rows) - 1

    def test_it_keeps_the_complete_run_while_a_newer_one_is_written(self):
        self.put_run("daily-actual", [_csv(_rows(ACTUAL))])
        rows = _rows(ACTUAL)
        self.put_run("daily-actual", [_csv(rows[:3])], manifest=False)  # parts written, manifest not yet
        source = AzureCostExportsSource(
            {"account_url": self.azurite.account_url, "container": self.container_name, "path": "costs"},
            {"credential": self.azurite.account_key},
        )
        (remote,) = source.list_files()
        handle = io.BytesIO()
        source.fetch(remote, handle)
        assert gzip.decompress(handle.getvalue()) == _csv(rows)

    def test_it_reads_a_run_written_straight_into_its_date_range(self):
        rows = _rows(ACTUAL)
        folder = self.put_run("overwriting", [_csv(rows[:6]), _csv([rows[0], *rows[6:]])], run_folder="x")
        for blob in self.container.list_blobs(name_starts_with=folder):  # the same files, one folder up
            data = self.container.download_blob(blob.name).readall()
            self.container.upload_blob(blob.name.replace("/x/", "/"), data.replace(b"/x/", b"/"))
            self.container.delete_blob(blob.name)
        source = AzureCostExportsSource(
            {"account_url": self.azurite.account_url, "container": self.container_name, "path": ""},
            {"credential": self.azurite.account_key},
        )

        (remote,) = source.list_files()
        handle = io.BytesIO()
        source.fetch(remote, handle)

        assert (remote.key, remote.name) == (f"costs/overwriting/{SEPTEMBER}", f"overwriting_{SEPTEMBER}.csv.gz")
        assert remote.version.startswith("2 parts sha256:")
        assert list(csv.reader(io.StringIO(gzip.decompress(handle.getvalue()).decode()))) == rows

    def test_it_joins_the_parts_of_a_partitioned_run(self):
        rows = _rows(AMORTIZED)
        whole = _csv(rows)
        parts = [_csv([rows[0], *rows[1:10]]), _csv([rows[0], *rows[10:20]], bom=False), _csv([rows[0], *rows[20:]])]
        self.put_run("monthly-amortized", parts, dataset="AmortizedCost")
        connector = self.connector(self.azurite.account_key)

        run = connector_run(connector=connector)

        assert (run.status, run.files_imported) == ("ok", 1), run.error
        upload = Upload.objects.for_org(self.org).get()
        assert upload.rows_loaded == len(rows) - 1
        assert upload.totals == self.reference_total(whole)

    def test_it_joins_parquet_parts(self):
        pyarrow_csv = pytest.importorskip("pyarrow.csv")
        import pyarrow.parquet as pq

        rows = _rows(ACTUAL)
        table = pyarrow_csv.read_csv(io.BytesIO(_csv(rows, bom=False)))
        parts = []
        for piece in (table.slice(0, 4), table.slice(4)):
            buffer = io.BytesIO()
            pq.write_table(piece, buffer, compression="snappy")
            parts.append(buffer.getvalue())
        self.put_run("daily-actual", parts, ext=".snappy.parquet")

        run = connector_run(connector=self.connector())

        assert (run.status, run.files_imported) == ("ok", 1), run.error
        upload = Upload.objects.for_org(self.org).get()
        assert upload.original_name.endswith(".parquet")
        assert upload.rows_loaded == len(rows) - 1
        expected = sum((Decimal(r[rows[0].index("Cost")]) for r in rows[1:]), Decimal(0))
        assert _ledger(self.org).quantize(CENT) == expected.quantize(CENT)

    def test_it_sends_the_focus_export_to_the_focus_source(self):
        rows = _rows(FOCUS)
        provider = rows[0].index("ProviderName")
        microsoft = [rows[0], *(r for r in rows[1:] if r[provider] == "Microsoft")]
        september = [microsoft[0], *(r for r in microsoft[1:] if r[rows[0].index("BillingPeriodStart")] < "2024-10")]
        content = _csv(september)
        self.put_run("focus-cost", [content], date_range="20240901-20240930", dataset="FocusCost")

        run = connector_run(connector=self.connector())

        assert (run.status, run.files_imported) == ("ok", 1), run.error
        upload = Upload.objects.for_org(self.org).get()
        assert upload.format == "focus"
        assert upload.totals == self.reference_total(content)

    def test_it_pulls_every_export_and_period_under_the_directory_oldest_first(self):
        actual = _rows(ACTUAL)
        self.put_run("daily-actual", [_csv(actual)])
        self.put_run("prices", [b"MeterId,UnitPrice\r\nx,1\r\n"], dataset="PriceSheet")  # not cost lines: skipped
        self.put_run("other", [_csv(actual)], path="elsewhere")  # outside the directory
        # An older export writes one file per run straight into the date range's folder.
        date_column = actual[0].index("Date")
        august = [actual[0], *([*r[:date_column], "08/30/2023", *r[date_column + 1 :]] for r in actual[1:2])]
        august = [
            [c.replace("09/01/2023", "08/01/2023").replace("09/30/2023", "08/31/2023") for c in r] for r in august
        ]
        self.container.upload_blob(f"costs/legacy/20230801-20230831/legacy_{uuid.uuid4()}.csv", _csv(august))

        source = AzureCostExportsSource(
            {"account_url": self.azurite.account_url, "container": self.container_name, "path": "/costs/"},
            {"credential": f"{self.azurite.account_url}/{self.container_name}?{self.sas()}"},
        )
        remotes = source.list_files()

        assert [r.key for r in remotes] == ["costs/legacy/20230801-20230831", f"costs/daily-actual/{SEPTEMBER}"]
        run = connector_run(connector=self.connector())
        assert (run.status, run.files_imported) == ("ok", 2), run.error
        expected = sum((Decimal(r[actual[0].index("Cost")]) for r in actual[1:] + august[1:]), Decimal(0))
        assert _ledger(self.org).quantize(CENT) == expected.quantize(CENT)

    # -- what goes wrong ----------------------------------------------------------------------------------

    def test_it_reports_a_wrong_key_and_changes_nothing(self):
        self.put_run("daily-actual", [_csv(_rows(ACTUAL))])
        wrong = "A" * 86 + "=="
        connector = self.connector(wrong)

        ok, message, fix = connector_check(connector=connector)
        run = connector_run(connector=connector)

        assert not ok
        assert "refused the credential" in message and "SAS token" in fix
        assert run.status == "failed"
        assert "refused the credential" in run.error
        assert "Read and List" in run.fix
        assert not Upload.objects.for_org(self.org).exists()
        assert _ledger(self.org) == 0

    def test_it_reports_an_expired_sas_token(self):
        self.put_run("daily-actual", [_csv(_rows(ACTUAL))])
        expired = generate_container_sas(
            self.azurite.account_name,
            self.container_name,
            account_key=self.azurite.account_key,
            permission=ContainerSasPermissions(read=True, list=True),
            start=datetime.now(UTC) - timedelta(days=2),
            expiry=datetime.now(UTC) - timedelta(days=1),
        )
        run = connector_run(connector=self.connector(expired))
        assert run.status == "failed"
        assert "SAS token has expired" in run.error and "expiry well ahead" in run.fix
        assert not Upload.objects.for_org(self.org).exists()

    def test_it_reports_a_sas_token_without_list_permission(self):
        self.put_run("daily-actual", [_csv(_rows(ACTUAL))])
        for token in (self.sas(read=True), self.sas(list=True)):
            with self.subTest(token=token[:30]):
                source = AzureCostExportsSource(
                    {"account_url": self.azurite.account_url, "container": self.container_name, "path": "costs"},
                    {"credential": token},
                )
                with pytest.raises(ConnectorError) as caught:
                    for remote in source.list_files():
                        source.fetch(remote, io.BytesIO())
                assert "Read and List" in caught.value.fix

    @override_settings(CONNECTOR_PRIVATE_ENDPOINTS=False)
    def test_it_refuses_an_account_url_on_a_private_network(self):
        with pytest.raises(ValidationError) as caught:
            self.connector()
        assert "private network" in str(caught.value)

    def test_it_refuses_a_credential_that_is_neither_token_nor_key(self):
        with pytest.raises(ValidationError) as caught:
            self.connector("not a key!")
        assert "neither a SAS token" in str(caught.value)

    def test_it_reports_a_missing_container_and_an_unreachable_account(self):
        missing = AzureCostExportsSource(
            {"account_url": self.azurite.account_url, "container": "no-such-container"},
            {"credential": self.azurite.account_key},
        )
        with pytest.raises(ConnectorError) as caught:
            missing.check()
        assert "There is no container 'no-such-container'" in caught.value.message

        port = self.azurite.account_url.split(":")[2].split("/")[0]
        unreachable = AzureCostExportsSource(
            {"account_url": self.azurite.account_url.replace(port, "9"), "container": self.container_name},
            {"credential": self.azurite.account_key},
        )
        with pytest.raises(ConnectorError) as caught:
            unreachable.check()
        assert "Could not reach" in caught.value.message and "account URL" in caught.value.fix

    # -- throttling ----------------------------------------------------------------------------------------

    def storm(self, status: int, throttled: int, **answer) -> tuple[ThrottlingProxy, str]:
        """A proxy in front of Azurite throttling its first `throttled` requests, and the account URL through it."""
        proxy = ThrottlingProxy(self.azurite.account_url, throttled=throttled, status=status, **answer)
        self.addCleanup(proxy.close)
        return proxy, f"{proxy.url}/{self.azurite.account_name}"

    def quick_retries(self, **waits):
        """The connector's retry policy without its waits of seconds (its number of retries unchanged)."""
        waits = {"initial_backoff": 0, "increment_base": 0, "random_jitter_range": 0, **waits}
        return mock.patch.multiple(AzureCostExportsSource, **waits)

    def test_it_rides_out_a_server_busy_storm_and_says_when_it_lasts(self):
        content = _csv(_rows(ACTUAL))
        self.put_run("daily-actual", [content])
        proxy, url = self.storm(503, throttled=3)  # Blob Storage's 503 ServerBusy, three times in a row

        with self.quick_retries():
            run = connector_run(connector=self.connector(account_url=url))

        assert (run.status, run.files_seen, run.files_imported) == ("ok", 1, 1), run.error
        assert proxy.seen > 3
        assert Upload.objects.for_org(self.org).get().totals == self.reference_total(content)
        imported = (_ledger(self.org), CostLine.objects.for_org(self.org).count())
        assert imported[1] == len(_rows(ACTUAL)) - 1

        endless, url = self.storm(503, throttled=10**6)
        with self.quick_retries():
            failed = connector_run(connector=self.connector(account_url=url, name="Busy"))

        assert failed.status == "failed"
        assert "Azure Blob Storage stayed busy after every retry (503 ServerBusy)" in failed.error
        assert "the next run tries again" in failed.fix
        assert endless.seen == AzureCostExportsSource.retries + 1  # the first try and every retry, then it gave up
        assert Upload.objects.for_org(self.org).count() == 1
        assert (_ledger(self.org), CostLine.objects.for_org(self.org).count()) == imported

    def test_it_retries_a_429_storm_as_it_does_a_busy_server(self):
        content = _csv(_rows(ACTUAL))
        self.put_run("daily-actual", [content])
        proxy, url = self.storm(429, throttled=3)  # a gateway's 429 Too Many Requests, which the SDK never retries

        with self.quick_retries():
            run = connector_run(connector=self.connector(account_url=url))

        assert (run.status, run.files_imported) == ("ok", 1), run.error
        assert proxy.seen > 3
        assert Upload.objects.for_org(self.org).get().totals == self.reference_total(content)
        imported = _ledger(self.org)

        endless, url = self.storm(429, throttled=10**6)
        with self.quick_retries():
            failed = connector_run(connector=self.connector(account_url=url, name="Throttled"))

        assert failed.status == "failed"
        assert "stayed busy after every retry (429" in failed.error and "the next run tries again" in failed.fix
        assert endless.seen == AzureCostExportsSource.retries + 1
        assert (Upload.objects.for_org(self.org).count(), _ledger(self.org)) == (1, imported)

    def test_it_waits_what_retry_after_asks(self):
        # The wait between tries is what Retry-After asks (seconds or an HTTP date, at most longest_wait), else the
        # backoff: read off the policy itself, not a clock (a loaded machine retries for reasons of its own).
        policy = _retry_policy(longest_wait=30, initial_backoff=7, increment_base=2, random_jitter_range=0,
                               retry_total=3)  # fmt: skip

        def wait(headers):
            history = [RequestHistory(None, http_response=mock.Mock(headers=headers))]
            return policy.get_backoff_time({"count": 1, "history": history})

        assert wait({"Retry-After": "0"}) == 0
        assert wait({"Retry-After": "2"}) == 2
        assert wait({"Retry-After": "600"}) == 30  # longest_wait
        later = (datetime.now(UTC) + timedelta(seconds=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        assert 15 < wait({"Retry-After": later}) <= 20
        assert wait({}) >= 7  # no header: the backoff

        self.put_run("daily-actual", [_csv(_rows(ACTUAL))])
        proxy, url = self.storm(429, throttled=2, retry_after="0")
        with self.quick_retries():
            run = connector_run(connector=self.connector(account_url=url))
        assert (run.status, run.files_imported) == ("ok", 1), run.error
        assert proxy.seen > 2

    def test_it_finds_nothing_in_an_empty_container(self):
        connector = self.connector()

        ok, message, _ = connector_check(connector=connector)
        run = connector_run(connector=connector)

        assert ok and "no cost export there yet" in message
        assert (run.status, run.files_seen, run.files_imported) == ("ok", 0, 0)
        assert not Upload.objects.for_org(self.org).exists()

    def test_it_rejects_a_malformed_export_whole_with_row_and_column(self):
        rows = _rows(ACTUAL)
        self.put_run("daily-actual", [_csv(rows)])
        connector = self.connector()
        connector_run(connector=connector)
        before, lines = _ledger(self.org), CostLine.objects.for_org(self.org).count()
        broken = [rows[0], *rows[1:]]
        broken[6] = [*broken[6]]
        broken[6][rows[0].index("Cost")] = "twelve"
        self.put_run("daily-actual", [_csv(broken)])

        run = connector_run(connector=connector)

        assert run.status == "partial"
        assert "row 7" in run.error and "column Cost" in run.error, run.error
        rejected = Upload.objects.for_org(self.org).latest("pk")
        assert rejected.status == Upload.Status.FAILED
        assert (rejected.errors[0]["row"], rejected.errors[0]["column"]) == (7, "Cost")
        assert (_ledger(self.org), CostLine.objects.for_org(self.org).count()) == (before, lines)

    def test_it_refuses_parts_with_different_headers(self):
        rows = _rows(ACTUAL)
        other = [rows[0][:-1], *(r[:-1] for r in rows[6:])]
        self.put_run("daily-actual", [_csv(rows[:6]), _csv(other)])

        run = connector_run(connector=self.connector())

        assert run.status == "failed"
        assert "different headers" in run.error
        assert not Upload.objects.for_org(self.org).exists()

    # -- as alice uses the pages ----------------------------------------------------------------------------

    def test_alice_connects_the_export_on_the_page_and_others_cannot_see_it(self):
        content = _csv(_rows(ACTUAL))
        self.put_run("daily-actual", [content])
        self.client.force_login(self.alice)
        create = reverse("ingest-connector-create", kwargs={"org_code": self.org.code, "kind": "azure_blob"})
        self.assertContains(self.client.get(create), "SAS token or account key")

        fields = {"name": "Azure EA", "schedule_hour": "6", "account_url": self.azurite.account_url,
                  "container": self.container_name, "path": "costs", "credential": self.sas()}  # fmt: skip
        response = self.client.post(create, fields)

        connector = Connector.objects.for_org(self.org).get(name="Azure EA")
        detail = reverse("ingest-connector", kwargs={"org_code": self.org.code, "code": connector.code})
        self.assertRedirects(response, detail)
        tested = self.client.post(
            reverse("ingest-connector-test", kwargs={"org_code": self.org.code, "code": connector.code}), follow=True
        )
        self.assertContains(tested, "1 period of 1 export (daily-actual)")
        run_now = reverse("ingest-connector-run", kwargs={"org_code": self.org.code, "code": connector.code})
        self.assertRedirects(self.client.post(run_now), detail)
        page = self.client.get(detail)
        self.assertContains(page, f"daily-actual_{SEPTEMBER}.csv.gz")
        self.assertNotContains(page, self.sas()[-12:])  # the token is never shown again
        assert Upload.objects.for_org(self.org).get().totals == self.reference_total(content)

        self.client.force_login(self.bob)  # a viewer sees it and cannot run it
        assert self.client.get(detail).status_code == 200
        assert self.client.post(run_now).status_code == 403
        self.client.force_login(self.charlie)
        assert self.client.get(detail).status_code == 404
        assert self.client.post(run_now).status_code == 404
