"""The Azure cost details source, driven by the finops-toolkit EA actual and amortised samples."""

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.readers import open_table
from ingest.sources.azure_cost import AzureCostSource, gpu_model
from ingest.sources.base import COST_ROW_FIELDS
from ingest.sources.focus import FocusSource
from ingest.sources.values import CellError
from tests.base import sample_path

ACTUAL = "azure/finops-toolkit_EA_ActualCost_Small.csv"
AMORTISED = "azure/finops-toolkit_EA_AmortizedCost_Small.csv"
CENT = Decimal("0.01")


def _parse_file(path, **options):
    source = AzureCostSource(org_currency="EUR", options=options)
    with open_table(path) as table:
        columns = table.columns
        assert source.missing_columns(columns) == []
        rows = [source.parse(record) for _, record in table.records()]
    return source, columns, rows


def _expected_totals(path) -> dict:
    totals = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line in csv.DictReader(handle):
            totals[line["BillingCurrency"]] = totals.get(line["BillingCurrency"], Decimal(0)) + Decimal(line["Cost"])
    return totals


def _totals(rows, field="billed_cost_amount") -> dict:
    totals = {}
    for row in rows:
        totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + row[field]
    return totals


def _first_detected(columns):
    # Detection order the registry must use: Focus also accepts EA headers (ChargeType + ResourceId).
    return next(s for s in (AzureCostSource, FocusSource) if s.detect(columns))


def _record(**cells):
    record = {
        "BillingAccountId": "8611537",
        "BillingPeriodStartDate": "09/01/2023",
        "BillingPeriodEndDate": "09/30/2023",
        "SubscriptionId": "sub-1",
        "Date": "09/04/2023",
        "MeterCategory": "Virtual Machines",
        "MeterSubCategory": "Dv3/DSv3 Series",
        "MeterName": "D2 v3/D2s v3",
        "Quantity": "24",
        "EffectivePrice": "0.11",
        "Cost": "2.64",
        "UnitPrice": "0.11",
        "PayGPrice": "0.11",
        "BillingCurrency": "USD",
        "Tags": "",
        "ChargeType": "Usage",
        "PricingModel": "OnDemand",
        "ReservationId": "",
        "benefitId": "",
    }
    record.update(cells)
    return record


def test_it_reads_the_actual_cost_sample():
    path = sample_path(ACTUAL)
    source, columns, rows = _parse_file(path)
    assert AzureCostSource.detect(columns)
    assert _first_detected(columns) is AzureCostSource
    assert len(rows) == 11
    assert all(tuple(row) == COST_ROW_FIELDS for row in rows)  # the importer's fast path
    assert source.cost_basis == "actual"
    assert _totals(rows) == _expected_totals(path)
    assert _totals(rows)["USD"].quantize(CENT) == Decimal("8.55")
    purchase = rows[0]
    assert purchase["charge_category"] == "purchase"
    assert purchase["billed_cost_amount"] == Decimal("3.25")
    assert purchase["effective_cost_amount"] == 0
    assert purchase["commitment_discount_type"] == "Reservation"
    assert purchase["commitment_discount_id"] == "49ed0e4d-8e0c-4f1f-af2c-67c865056615"
    assert purchase["list_cost_amount"] is None  # PayGPrice 0 on a purchase is unknown, not free
    usage = rows[1]
    assert usage["provider"] == "Microsoft"
    assert usage["billing_account_id"] == "8611537"
    assert usage["sub_account_id"] == "ed570627-0265-4620-bb42-bae06bcfa914"
    assert usage["sub_account_name"] == "Trey Research IT"
    assert usage["billing_period_start"] == datetime(2023, 9, 1, tzinfo=UTC)
    assert usage["billing_period_end"] == datetime(2023, 10, 1, tzinfo=UTC)
    assert usage["charge_period_start"] == datetime(2023, 9, 4, tzinfo=UTC)
    assert usage["charge_period_end"] == datetime(2023, 9, 5, tzinfo=UTC)
    assert usage["service_name"] == "Storage"
    assert usage["service_category"] == "Compute"
    assert usage["region"] == "EastUS2"
    assert usage["sku_id"] == "AAD-37090"
    assert usage["resource_name"] == "dbstoragewp6hglwvvrad2"
    assert usage["charge_description"] == "GRS List and Create Container Operations"
    assert usage["pricing_quantity"] == Decimal("0.0004")
    assert usage["pricing_unit"] == "10K"
    assert usage["list_cost_amount"] == Decimal("0.00004")
    assert usage["tags"] == {
        "costcenter": "1234",
        "env": "prod",
        "org": "trey",
        "application": "databricks",
        "databricks_environment": "true",
    }
    assert rows[7]["tags"] == {"costcenter": "SubACM"}  # "org": "" is dropped
    assert _totals(rows, "effective_cost_amount")["USD"] == _expected_totals(path)["USD"] - Decimal("3.25")


def test_it_reads_the_amortised_cost_sample():
    path = sample_path(AMORTISED)
    source, columns, rows = _parse_file(path)
    assert _first_detected(columns) is AzureCostSource
    assert len(rows) == 28
    assert source.cost_basis == "amortised"
    assert _totals(rows) == _expected_totals(path)
    assert _totals(rows, "effective_cost_amount") == _totals(rows)
    assert _totals(rows)["USD"].quantize(CENT) == Decimal("16.30")
    reserved, saved = rows[0], rows[1]
    assert reserved["commitment_discount_status"] == "used"
    assert reserved["commitment_discount_type"] == "Reservation"
    assert reserved["commitment_discount_id"] == "f39d1c73-af74-4308-9083-fbf5efab37d1"
    assert reserved["billed_cost_amount"] == Decimal("0.493152")
    assert saved["commitment_discount_type"] == "Savings Plan"
    assert saved["commitment_discount_id"].endswith("/savingsPlans/09ff8291-64ac-45fb-afed-b9b39dbd88d7")
    assert reserved["tags"]["poolname"] == "agentpool"
    assert all(row["commitment_discount_status"] == "" for row in rows[2:])


def test_it_does_not_claim_other_headers():
    for other in (
        "gcp/koku_gcp-bq-export-as-csv_2020-11.csv",
        "focus/focus-sample-data_focus_sample_1000.csv",
        "aws-cur/focus_converters_cur-legacy_anonymous_2023-11.csv",
        "oci/focus_converters_oci-cost-report_2023-11.csv",
    ):
        with open_table(sample_path(other)) as table:
            assert not AzureCostSource.detect(table.columns)


def test_it_reads_an_mca_header_in_camel_case(tmp_path):
    record = {
        "billingAccountId": "",
        "billingProfileId": "BP-42",
        "billingProfileName": "Main profile",
        "billingPeriodStartDate": "2025-04-01",
        "billingPeriodEndDate": "2025-04-30",
        "date": "04/15/2025",
        "subscriptionId": "sub-mca",
        "subscriptionName": "GPU lab",
        "meterCategory": "Virtual Machines",
        "meterSubCategory": "NCadsH100v5 Series",
        "meterName": "NC40ads H100 v5",
        "ProductName": "Virtual Machines NCadsH100v5 Series - NC40ads H100 v5 - US East",
        "meterId": "meter-9",
        "resourceId": "/subscriptions/sub-mca/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/gpu-1",
        "resourceLocation": "eastus",
        "quantity": "10",
        "unitOfMeasure": "1 Hour",
        "effectivePrice": "6.98",
        "unitPrice": "6.98",
        "PayGPrice": "6.98",
        "costInBillingCurrency": "69.8",
        "paygCostInBillingCurrency": "69.80",
        "billingCurrency": "usd",
        "chargeType": "Usage",
        "pricingModel": "OnDemand",
        "frequency": "UsageBased",
        "benefitId": "",
        "tags": json.dumps({"customer": "acme", "Env": "prod"}),
    }
    path = tmp_path / "mca.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(record))
        writer.writeheader()
        writer.writerow(record)
    source, columns, rows = _parse_file(path)
    assert AzureCostSource.detect(columns)
    assert not FocusSource.detect(columns)
    row = rows[0]
    assert row["billing_account_id"] == "BP-42"
    assert row["billing_account_name"] == "Main profile"
    assert row["billing_period_end"] == datetime(2025, 5, 1, tzinfo=UTC)
    assert row["charge_period_start"] == datetime(2025, 4, 15, tzinfo=UTC)
    assert row["billed_cost_amount"] == Decimal("69.8")
    assert row["list_cost_amount"] == Decimal("69.80")
    assert row["currency"] == "USD"
    assert row["sku_id"] == "meter-9"
    assert row["region"] == "eastus"
    assert row["gpu_type"] == "H100"
    assert row["charge_frequency"] == "usage-based"
    assert row["tags"] == {"customer": "acme", "env": "prod"}
    assert source.cost_basis == ""  # on-demand rows look the same in both views
    assert source.currency_column == "billingCurrency"


def test_it_reports_missing_columns_case_insensitively():
    source = AzureCostSource(org_currency="USD")
    assert source.missing_columns(["date", "meterCategory"]) == ["CostInBillingCurrency|Cost|PreTaxCost"]


def test_it_reads_tags_without_braces():
    row = AzureCostSource(org_currency="USD").parse(_record(Tags='"CostCenter": "1234","cm-resource-parent": "/x/y"'))
    assert row["tags"] == {"costcenter": "1234", "cm_resource_parent": "/x/y"}


def test_it_keeps_a_refund_negative():
    row = AzureCostSource(org_currency="USD").parse(_record(ChargeType="Refund", Cost="-3.25", PayGPrice="0"))
    assert row["charge_category"] == "credit"
    assert row["billed_cost_amount"] == Decimal("-3.25")
    assert row["effective_cost_amount"] == Decimal("-3.25")


def test_it_zeroes_the_effective_cost_of_a_reservation_refund_in_an_actual_file():
    source = AzureCostSource(org_currency="USD")
    row = source.parse(_record(ChargeType="Refund", PricingModel="Reservation", Cost="-3.25", ReservationId="r-1"))
    assert source.cost_basis == "actual"
    assert row["billed_cost_amount"] == Decimal("-3.25")
    assert row["effective_cost_amount"] == 0


def test_it_marks_an_unused_reservation_row():
    source = AzureCostSource(org_currency="USD")
    row = source.parse(
        _record(ChargeType="UnusedReservation", PricingModel="Reservation", Cost="0.5", ReservationId="r-1")
    )
    assert row["charge_category"] == "usage"
    assert row["commitment_discount_status"] == "unused"
    assert row["commitment_discount_type"] == "Reservation"
    assert row["commitment_discount_id"] == "r-1"
    assert row["consumed_quantity"] is None
    assert source.cost_basis == "amortised"


def test_it_tells_actual_from_covered_usage_at_zero_price():
    source = AzureCostSource(org_currency="USD")
    source.parse(_record(PricingModel="Reservation", Cost="0", EffectivePrice="0", PayGPrice="0", ReservationId="r"))
    assert source.cost_basis == "actual"
    # the first row that tells decides; a later contradicting row does not flip it
    source.parse(_record(ChargeType="UnusedSavingsPlan", PricingModel="SavingsPlan", Cost="1"))
    assert source.cost_basis == "actual"


def test_it_takes_the_basis_from_options():
    source = AzureCostSource(org_currency="USD", options={"cost_basis": "amortized"})
    row = source.parse(_record(ChargeType="Purchase", PricingModel="Reservation", Cost="3.25"))
    assert source.cost_basis == "amortised"
    assert row["effective_cost_amount"] == Decimal("3.25")
    with pytest.raises(ValueError, match="cost_basis"):
        AzureCostSource(org_currency="USD", options={"cost_basis": "blended"})


def test_it_rejects_an_unknown_charge_type():
    with pytest.raises(CellError) as caught:
        AzureCostSource(org_currency="USD").parse(_record(ChargeType="Gift"))
    assert caught.value.column == "ChargeType"
    assert "Gift" in caught.value.message


def test_it_reads_rounding_adjustments_and_tax():
    source = AzureCostSource(org_currency="USD")
    assert source.parse(_record(ChargeType="RoundingAdjustment", Cost="-0.01"))["charge_category"] == "adjustment"
    assert source.parse(_record(ChargeType="Tax"))["charge_category"] == "tax"


def test_it_rejects_a_missing_cost():
    with pytest.raises(CellError) as caught:
        AzureCostSource(org_currency="USD").parse(_record(Cost=""))
    assert caught.value.column == "Cost"


@pytest.mark.parametrize(
    ("category", "subcategory", "meter", "gpu"),
    [
        ("Virtual Machines", "NCasT4 v3 Series", "NC4as T4 v3", "T4"),
        ("Virtual Machines", "NDasrA100 v4 Series", "ND96asr A100 v4", "A100"),
        ("Virtual Machines", "NVadsA10 v5 Series", "NV36ads A10 v5", "A10"),
        ("Virtual Machines", "NC Series", "NC6", "K80"),
        ("Virtual Machines", "NCv3 Series", "NC6s v3", "V100"),
        ("Virtual Machines", "NDv2 Series", "ND40rs v2", "V100"),
        ("Virtual Machines", "Dv3/DSv3 Series", "D2 v3/D2s v3", ""),
        ("Virtual Machines", "Lsv2 Series", "L8s v2 NVMe", ""),
        ("Storage", "Premium SSD Managed Disks", "P4 LRS Disk", ""),
    ],
)
def test_it_names_the_gpu_of_n_series_vms(category, subcategory, meter, gpu):
    assert gpu_model(category, subcategory, meter, "") == gpu
