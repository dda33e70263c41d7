"""The Google Cloud billing export source, driven by koku's real BigQuery export flattened to CSV."""

import ast
import csv
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.readers import open_table
from ingest.sources.base import COST_ROW_FIELDS
from ingest.sources.focus import FocusSource
from ingest.sources.gcp_billing import GcpBillingSource, gpu_model
from ingest.sources.values import CellError
from tests.base import sample_path

SAMPLE = "gcp/koku_gcp-bq-export-as-csv_2020-11.csv"
CENT = Decimal("0.01")


def _parse_file(path, **options):
    source = GcpBillingSource(org_currency="EUR", options=options)
    with open_table(path) as table:
        columns = table.columns
        assert source.missing_columns(columns) == []
        rows = [source.parse(record) for _, record in table.records()]
    return columns, rows


def _expected_totals(path) -> tuple[dict, Decimal]:
    """Net (cost + credits) per currency and the gross cost, read with csv, ast and Decimal only."""
    net, gross = {}, Decimal(0)
    with open(path, newline="", encoding="utf-8") as handle:
        for line in csv.DictReader(handle):
            cost = Decimal(line["cost"])
            credit = sum((Decimal(repr(c["amount"])) for c in ast.literal_eval(line["credits"])), Decimal(0))
            net[line["currency"]] = net.get(line["currency"], Decimal(0)) + cost + credit
            gross += cost
    return net, gross


def _record(**cells):
    record = {
        "billing_account_id": "0000-AAAA",
        "service.description": "Compute Engine",
        "sku.id": "SKU-1",
        "sku.description": "N2 Instance Core running in Americas",
        "usage_start_time": "2024-05-31 23:00:00 UTC",
        "usage_end_time": "2024-06-01 00:00:00 UTC",
        "project.id": "proj-1",
        "cost": "1.50",
        "currency": "USD",
        "credits": "[]",
        "invoice.month": "202405",
        "cost_type": "regular",
    }
    record.update(cells)
    return record


def test_it_reads_the_koku_export():
    path = sample_path(SAMPLE)
    columns, rows = _parse_file(path)
    assert GcpBillingSource.detect(columns)
    assert not FocusSource.detect(columns)
    assert len(rows) == 25
    assert all(tuple(row) == COST_ROW_FIELDS for row in rows)  # the importer's fast path
    totals = {}
    for row in rows:
        totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + row["billed_cost_amount"]
    expected, gross = _expected_totals(path)
    assert totals == expected
    assert {c: t.quantize(CENT) for c, t in totals.items()} == {"USD": Decimal("0.00")}
    assert gross == Decimal("0.000032")  # the free-trial credits cancel every cent of it
    first = rows[0]
    assert first["provider"] == "Google Cloud"
    assert first["billing_account_id"] == "000000-B0BBA4-940A77"
    assert first["sub_account_id"] == "billing-example-00000"
    assert first["sub_account_name"] == "cloud-billing"
    assert first["service_name"] == "Security Command Center"
    assert first["sku_id"] == "D5A4-0C3E-4DA4"
    assert first["charge_description"] == "Event Threat Detection Log Ingest Bytes"
    assert first["region"] == "global"
    assert first["billing_period_start"] == datetime(2020, 11, 1, tzinfo=UTC)
    assert first["billing_period_end"] == datetime(2020, 12, 1, tzinfo=UTC)
    assert first["charge_period_start"] == datetime(2020, 11, 9, 23, tzinfo=UTC)
    assert first["charge_period_end"] == datetime(2020, 11, 10, tzinfo=UTC)
    assert first["billed_cost_amount"] == Decimal("5e-06") + Decimal("-5e-06")
    assert first["consumed_quantity"] == Decimal("24909.0")
    assert first["consumed_unit"] == "bytes"
    assert first["pricing_unit"] == "gibibyte"
    assert first["list_cost_amount"] is None
    assert rows[3]["tags"] == {"goog_resource_type": "bigquery_resource"}
    assert {row["charge_category"] for row in rows} == {"usage"}


def test_it_does_not_claim_other_headers():
    for other in (
        "azure/finops-toolkit_EA_ActualCost_Small.csv",
        "focus/focus-sample-data_focus_sample_1000.csv",
        "aws-cur/focus_converters_cur-legacy_anonymous_2023-11.csv",
        "oci/focus_converters_oci-cost-report_2023-11.csv",
    ):
        with open_table(sample_path(other)) as table:
            assert not GcpBillingSource.detect(table.columns)


def test_it_reads_json_lines_with_nested_records(tmp_path):
    line = {
        "billing_account_id": "0000-AAAA",
        "service": {"id": "6F81-5844-456A", "description": "Compute Engine"},
        "sku": {"id": "9C7E-1234", "description": "Nvidia Tesla A100 GPU running in Americas"},
        "usage_start_time": "2024-05-01 10:00:00 UTC",
        "usage_end_time": "2024-05-01 11:00:00 UTC",
        "project": {
            "id": "ml-prod",
            "name": "ML prod",
            "labels": [{"key": "env", "value": "prod"}, {"key": "team", "value": "research"}],
        },
        "labels": [{"key": "team", "value": "inference"}, {"key": "customer", "value": "acme"}],
        "system_labels": [],
        "location": {"location": "us-central1", "country": "US", "region": "us-central1", "zone": "us-central1-a"},
        "cost": 2.934,
        "currency": "USD",
        "usage": {"amount": 3600, "unit": "seconds", "amount_in_pricing_units": 1, "pricing_unit": "hour"},
        "credits": [
            {"name": "Committed use discount", "amount": -1.5, "type": "COMMITTED_USAGE_DISCOUNT", "id": "cud-1"},
            {"name": "Sustained use discount", "amount": -0.2, "type": "SUSTAINED_USAGE_DISCOUNT", "id": "sud"},
        ],
        "invoice": {"month": "202405"},
        "cost_type": "regular",
    }
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "cost_type": "tax", "credits": []}) + "\n")
    columns, rows = _parse_file(path)
    assert GcpBillingSource.detect(columns)
    row = rows[0]
    assert row["billed_cost_amount"] == Decimal("1.234")
    assert row["effective_cost_amount"] == Decimal("1.234")
    assert row["tags"] == {"env": "prod", "team": "inference", "customer": "acme"}
    assert row["gpu_type"] == "A100"
    assert row["region"] == "us-central1"
    assert row["sub_account_id"] == "ml-prod"
    assert row["pricing_quantity"] == 1
    assert row["pricing_unit"] == "hour"
    assert row["consumed_quantity"] == 3600
    assert row["commitment_discount_id"] == "cud-1"
    assert row["commitment_discount_status"] == "used"
    assert row["billing_period_start"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert rows[1]["charge_category"] == "tax"
    assert rows[1]["billed_cost_amount"] == Decimal("2.934")


def test_it_reads_parquet_with_nested_records(tmp_path):
    """BigQuery's Parquet export keeps records as structs and arrays, timestamps as timestamps: the reader flattens
    the structs to the same dotted names as JSON lines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    record = {
        "billing_account_id": "0000-AAAA",
        "service": {"id": "6F81-5844-456A", "description": "Compute Engine"},
        "sku": {"id": "9C7E-1234", "description": "Nvidia Tesla A100 GPU running in Americas"},
        "usage_start_time": datetime(2024, 5, 1, 10, tzinfo=UTC),
        "usage_end_time": datetime(2024, 5, 1, 11, tzinfo=UTC),
        "project": {"id": "ml-prod", "name": "ML prod", "labels": [{"key": "env", "value": "prod"}]},
        "labels": [{"key": "customer", "value": "acme"}],
        "location": {"location": "us-central1", "region": "us-central1"},
        "cost": 2.934,
        "currency": "USD",
        "usage": {"amount": 3600.0, "unit": "seconds", "amount_in_pricing_units": 1.0, "pricing_unit": "hour"},
        "credits": [{"name": "Committed use discount", "amount": -1.5, "type": "COMMITTED_USAGE_DISCOUNT", "id": "c"}],
        "invoice": {"month": "202405"},
        "cost_type": "regular",
    }
    path = tmp_path / "export-000000000000.parquet"
    pq.write_table(pa.Table.from_pylist([record, {**record, "cost_type": "tax", "credits": []}]), path)
    columns, rows = _parse_file(path)
    assert GcpBillingSource.detect(columns)
    assert {"service.description", "sku.description", "usage.pricing_unit", "invoice.month"} <= set(columns)
    row = rows[0]
    assert row["billed_cost_amount"] == Decimal("1.434")
    assert row["service_name"] == "Compute Engine"
    assert row["tags"] == {"env": "prod", "customer": "acme"}
    assert (row["gpu_type"], row["region"], row["sub_account_id"]) == ("A100", "us-central1", "ml-prod")
    assert (row["pricing_quantity"], row["pricing_unit"], row["commitment_discount_id"]) == (1, "hour", "c")
    assert row["charge_period_start"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert (rows[1]["charge_category"], rows[1]["billed_cost_amount"]) == ("tax", Decimal("2.934"))


def test_it_reads_credits_written_as_json(tmp_path):
    path = tmp_path / "export.csv"
    record = _record(credits=json.dumps([{"name": "FreeTrial", "amount": -0.25, "type": "PROMOTION"}]))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(record))
        writer.writeheader()
        writer.writerow(record)
    _, rows = _parse_file(path)
    assert rows[0]["billed_cost_amount"] == Decimal("1.25")
    assert rows[0]["commitment_discount_id"] == ""


def test_it_keeps_net_negative_when_credits_exceed_cost():
    row = GcpBillingSource(org_currency="USD").parse(_record(credits="[{'amount': -2.0, 'full_name': None}]"))
    assert row["billed_cost_amount"] == Decimal("-0.50")


def test_it_reads_a_tax_row():
    row = GcpBillingSource(org_currency="USD").parse(
        _record(cost_type="tax", **{"sku.description": "Tax", "project.id": None, "cost": "0.42"})
    )
    assert row["charge_category"] == "tax"
    assert row["billed_cost_amount"] == Decimal("0.42")
    assert row["sub_account_id"] == ""


@pytest.mark.parametrize("cost_type", ["adjustment", "rounding_error", "rounding error", "Rounding Error"])
def test_it_reads_adjustments(cost_type):
    assert GcpBillingSource(org_currency="USD").parse(_record(cost_type=cost_type))["charge_category"] == "adjustment"


def test_it_rejects_an_unknown_cost_type():
    with pytest.raises(CellError) as caught:
        GcpBillingSource(org_currency="USD").parse(_record(cost_type="bonus"))
    assert caught.value.column == "cost_type"
    assert "bonus" in caught.value.message


def test_it_rejects_unreadable_credits():
    with pytest.raises(CellError) as caught:
        GcpBillingSource(org_currency="USD").parse(_record(credits="[{'amount': __import__('os')}]"))
    assert caught.value.column == "credits"
    with pytest.raises(CellError):
        GcpBillingSource(org_currency="USD").parse(_record(credits="[{'amount': 'lots'}]"))


def test_it_rejects_a_bad_invoice_month():
    with pytest.raises(CellError) as caught:
        GcpBillingSource(org_currency="USD").parse(_record(**{"invoice.month": "2024-13"}))
    assert caught.value.column == "invoice.month"


def test_it_falls_back_to_the_usage_month_without_invoice_month():
    row = GcpBillingSource(org_currency="USD").parse(_record(**{"invoice.month": ""}))
    assert row["billing_period_start"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert row["billing_period_end"] == datetime(2024, 6, 1, tzinfo=UTC)


def test_it_uses_the_org_currency_when_the_export_has_none():
    assert GcpBillingSource(org_currency="eur").parse(_record(currency=""))["currency"] == "EUR"


@pytest.mark.parametrize(
    ("description", "gpu"),
    [
        ("Nvidia Tesla T4 GPU running in Americas", "T4"),
        ("Nvidia H100 80GB GPU running in Americas", "H100"),
        ("Nvidia L4 GPU attached to Spot Preemptible VMs running in EMEA", "L4"),
        ("A2 Instance Core running in Americas", "A100"),
        ("G2 Instance Ram running in Americas", "L4"),
        ("N2 Instance Core running in Americas", ""),
        ("Storage PD Capacity", ""),
    ],
)
def test_it_names_the_gpu(description, gpu):
    assert gpu_model(description) == gpu
