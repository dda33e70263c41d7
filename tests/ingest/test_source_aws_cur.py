"""The AWS CUR source against the two real legacy CUR samples, plus small fixtures for what they lack:
CUR 2.0 snake headers and maps, savings plans, reservations, credits and tags."""

import csv
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.readers import open_table
from ingest.sources import BILL_SOURCES
from ingest.sources.aws_cur import AwsCurSource
from ingest.sources.base import COST_ROW_FIELDS
from ingest.sources.focus import FocusSource
from ingest.sources.values import CellError
from tests.base import sample_path

LEGACY_SAMPLE = "aws-cur/focus_converters_cur-legacy_anonymous_2023-11.csv"
KOKU_SAMPLE = "aws-cur/koku_test_cur_legacy_2018-06.csv"
# file -> (rows, charge categories)
SAMPLES = {
    LEGACY_SAMPLE: (1281, {"usage": 1269, "tax": 12}),
    KOKU_SAMPLE: (19, {"usage": 19}),
}
SP_ARN = "arn:aws:savingsplans::123456789012:savingsplan/sp-1"
RI_ARN = "arn:aws:ec2:us-east-1:123456789012:reserved-instances/ri-1"
LEGACY_HEADER = (
    "identity/LineItemId",
    "identity/TimeInterval",
    "bill/PayerAccountId",
    "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/ProductCode",
    "lineItem/ResourceId",
    "lineItem/AvailabilityZone",
    "lineItem/UsageAmount",
    "lineItem/CurrencyCode",
    "lineItem/UnblendedCost",
    "lineItem/LineItemDescription",
    "product/ProductName",
    "product/instanceType",
    "product/region",
    "product/regionCode",
    "product/sku",
    "pricing/publicOnDemandCost",
    "pricing/unit",
    "reservation/EffectiveCost",
    "reservation/ReservationARN",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "resourceTags/user:Customer",
    "resourceTags/user:cost-center",
    "resourceTags/aws:createdBy",
    "costCategory/Team",
)
CUR2_HEADER = (
    "identity_line_item_id,identity_time_interval,bill_payer_account_id,bill_payer_account_name,"
    "bill_billing_period_start_date,bill_billing_period_end_date,line_item_usage_account_id,"
    "line_item_usage_account_name,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,"
    "line_item_product_code,line_item_resource_id,line_item_usage_amount,line_item_currency_code,"
    "line_item_unblended_cost,line_item_line_item_description,product,product_instance_type,product_region_code,"
    "product_sku,pricing_public_on_demand_cost,pricing_unit,resource_tags,cost_category,"
    "savings_plan_savings_plan_a_r_n,savings_plan_savings_plan_effective_cost"
)


def legacy(cells=None, header=LEGACY_HEADER):
    """A legacy CUR record: a usage line of one p5 hour, with `cells` replacing columns by name."""
    record = dict.fromkeys(header, "")
    record.update(
        {
            "identity/LineItemId": "abc123",
            "bill/PayerAccountId": "111111111111",
            "bill/BillingPeriodStartDate": "2024-05-01T00:00:00Z",
            "bill/BillingPeriodEndDate": "2024-06-01T00:00:00Z",
            "lineItem/UsageAccountId": "222222222222",
            "lineItem/LineItemType": "Usage",
            "lineItem/UsageStartDate": "2024-05-03T10:00:00Z",
            "lineItem/UsageEndDate": "2024-05-03T11:00:00Z",
            "lineItem/ProductCode": "AmazonEC2",
            "lineItem/ResourceId": "i-0abc",
            "lineItem/UsageAmount": "1",
            "lineItem/CurrencyCode": "USD",
            "lineItem/UnblendedCost": "98.32",
            "product/ProductName": "Amazon Elastic Compute Cloud",
            "product/instanceType": "p5.48xlarge",
            "product/region": "us-east-1",
            "pricing/unit": "Hrs",
        }
    )
    record.update({k: val for k, val in (cells or {}).items() if k in record})
    return record


def parse(*records):
    source = AwsCurSource(org_currency="EUR")
    return [source.parse(record) for record in records]


def read_sample(relative):
    with open_table(sample_path(relative)) as table:
        source = AwsCurSource(org_currency="EUR")
        assert source.missing_columns(table.columns) == []
        return table.columns, [source.parse(record) for _, record in table.records()]


def csv_totals(relative):
    """Billed total per currency straight from the file: csv module, Decimal, no importer code."""
    with open(sample_path(relative), newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        cost, currency = header.index("lineItem/UnblendedCost"), header.index("lineItem/CurrencyCode")
        totals = defaultdict(Decimal)
        for row in rows:
            if row:
                totals[row[currency]] += Decimal(row[cost])
    return dict(totals)


@pytest.mark.parametrize("relative", SAMPLES)
def test_it_detects_the_samples_as_cur_and_nothing_else(relative):
    with open_table(sample_path(relative)) as table:
        assert AwsCurSource.detect(table.columns)
        assert not FocusSource.detect(table.columns)
        assert [s for s in BILL_SOURCES if s is not AwsCurSource and s.detect(table.columns)] == []


@pytest.mark.parametrize("relative", SAMPLES)
def test_it_parses_every_row_of_the_samples(relative):
    rows_expected, categories = SAMPLES[relative]
    _, rows = read_sample(relative)
    assert len(rows) == rows_expected
    assert all(set(row) == set(COST_ROW_FIELDS) for row in rows)
    assert Counter(row["charge_category"] for row in rows) == categories
    totals = defaultdict(Decimal)
    for row in rows:
        totals[row["currency"]] += row["billed_cost_amount"]
        assert isinstance(row["billed_cost_amount"], Decimal)
        assert row["effective_cost_amount"] == row["billed_cost_amount"]  # no commitments in the samples
        assert row["provider"] == "AWS"
    assert dict(totals) == csv_totals(relative)


def test_it_maps_the_legacy_sample_columns():
    _, rows = read_sample(LEGACY_SAMPLE)
    assert {row["billing_period_start"] for row in rows} == {datetime(2023, 11, 1, tzinfo=UTC)}
    assert {row["billing_period_end"] for row in rows} == {datetime(2023, 12, 1, tzinfo=UTC)}
    assert {row["billing_account_id"] for row in rows} == {"123412340534"}
    assert Counter(row["region"] for row in rows)["ca-central-1"] == 380
    tax = next(row for row in rows if row["charge_category"] == "tax")
    assert tax["service_name"] == "AWS CloudTrail"
    assert tax["charge_description"] == "Tax for product code AWSCloudTrail"
    assert all(row["tags"] == {} for row in rows)  # the export has no resourceTags/ columns


def test_it_keeps_rows_sharing_a_line_item_id_in_the_sample():
    with open(sample_path(LEGACY_SAMPLE), newline="", encoding="utf-8") as handle:
        ids = [row["identity/LineItemId"] for row in csv.DictReader(handle)]
    assert len(set(ids)) < len(ids)  # 388 ids over 1281 lines: the id is not a row key
    _, rows = read_sample(LEGACY_SAMPLE)
    assert len(rows) == len(ids)


def test_it_reads_the_ragged_koku_sample():
    columns, rows = read_sample(KOKU_SAMPLE)
    assert len(columns) == 131
    first = rows[0]
    assert first["resource_id"] == "i-16847552"
    assert first["service_name"] == "Amazon Elastic Compute Cloud"
    assert first["pricing_unit"] == "GB"
    assert first["charge_period_start"] == datetime(2018, 6, 1, tzinfo=UTC)
    assert first["region"] == "US East (N. Virginia)"  # 2018 exports carry only the location name
    assert all(row["tags"] == {} for row in rows)  # costCategory/CostCenter is not a tag


def test_it_amortises_a_savings_plan():
    covered, negation, fee, upfront = parse(
        legacy(
            {
                "lineItem/LineItemType": "SavingsPlanCoveredUsage",
                "lineItem/UnblendedCost": "10.00",
                "savingsPlan/SavingsPlanARN": SP_ARN,
                "savingsPlan/SavingsPlanEffectiveCost": "6.50",
            }
        ),
        legacy(
            {
                "lineItem/LineItemType": "SavingsPlanNegation",
                "lineItem/UnblendedCost": "-10.00",
                "savingsPlan/SavingsPlanARN": SP_ARN,
            }
        ),
        legacy(
            {
                "lineItem/LineItemType": "SavingsPlanRecurringFee",
                "lineItem/UnblendedCost": "8.00",
                "lineItem/ResourceId": "",
                "savingsPlan/SavingsPlanARN": SP_ARN,
                "savingsPlan/TotalCommitmentToDate": "8.00",
                "savingsPlan/UsedCommitment": "6.50",
            }
        ),
        legacy(
            {
                "lineItem/LineItemType": "SavingsPlanUpfrontFee",
                "lineItem/UnblendedCost": "1000.00",
                "savingsPlan/SavingsPlanARN": SP_ARN,
            }
        ),
    )
    assert (covered["billed_cost_amount"], covered["effective_cost_amount"]) == (Decimal("10.00"), Decimal("6.50"))
    assert (covered["charge_category"], covered["commitment_discount_status"]) == ("usage", "used")
    assert negation["billed_cost_amount"] == Decimal("-10.00")
    assert (negation["effective_cost_amount"], negation["charge_category"]) == (0, "adjustment")
    assert (fee["billed_cost_amount"], fee["effective_cost_amount"]) == (Decimal("8.00"), Decimal("1.50"))
    assert (fee["charge_category"], fee["commitment_discount_status"]) == ("purchase", "unused")
    assert (upfront["effective_cost_amount"], upfront["charge_category"]) == (0, "purchase")
    for row in (covered, negation, fee, upfront):
        assert row["commitment_discount_id"] == SP_ARN
        assert row["commitment_discount_type"] == "Savings Plan"
    # The invoice (billed) is the fee; amortised cost moves the used part onto the usage.
    monthly = (covered, negation, fee)
    assert sum(r["billed_cost_amount"] for r in monthly) == sum(r["effective_cost_amount"] for r in monthly) == 8


def test_it_amortises_a_reservation():
    usage, fee, fully_used, purchase = parse(
        legacy(
            {
                "lineItem/LineItemType": "DiscountedUsage",
                "lineItem/UnblendedCost": "0",
                "reservation/ReservationARN": RI_ARN,
                "reservation/EffectiveCost": "0.75",
            }
        ),
        legacy(
            {
                "lineItem/LineItemType": "RIFee",
                "lineItem/UnblendedCost": "20.00",
                "reservation/ReservationARN": RI_ARN,
                "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "1.00",
                "reservation/UnusedRecurringFee": "2.00",
            }
        ),
        legacy(
            {
                "lineItem/LineItemType": "RIFee",
                "lineItem/UnblendedCost": "20.00",
                "reservation/ReservationARN": RI_ARN,
                "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "0",
                "reservation/UnusedRecurringFee": "0",
            }
        ),
        legacy({"lineItem/LineItemType": "Fee", "lineItem/UnblendedCost": "500", "reservation/ReservationARN": RI_ARN}),
    )
    assert (usage["billed_cost_amount"], usage["effective_cost_amount"]) == (0, Decimal("0.75"))
    assert usage["commitment_discount_status"] == "used"
    assert (fee["billed_cost_amount"], fee["effective_cost_amount"]) == (Decimal("20.00"), Decimal("3.00"))
    assert fee["commitment_discount_status"] == "unused"
    assert (fully_used["effective_cost_amount"], fully_used["commitment_discount_status"]) == (0, "")
    assert (purchase["billed_cost_amount"], purchase["effective_cost_amount"]) == (Decimal(500), 0)
    for row in (usage, fee, fully_used, purchase):
        assert (row["commitment_discount_id"], row["commitment_discount_type"]) == (RI_ARN, "Reservation")


def test_it_falls_back_to_unblended_cost_without_commitment_columns():
    header = [c for c in LEGACY_HEADER if not c.startswith(("savingsPlan/", "reservation/"))]
    covered, fee = parse(
        legacy({"lineItem/LineItemType": "SavingsPlanCoveredUsage", "lineItem/UnblendedCost": "4.2"}, header),
        legacy({"lineItem/LineItemType": "RIFee", "lineItem/UnblendedCost": "7"}, header),
    )
    assert covered["effective_cost_amount"] == Decimal("4.2")
    assert (fee["effective_cost_amount"], fee["commitment_discount_status"]) == (Decimal(7), "")


def test_it_keeps_a_credit_negative():
    (credit,) = parse(legacy({"lineItem/LineItemType": "Credit", "lineItem/UnblendedCost": "-5.00"}))
    assert credit["charge_category"] == "credit"
    assert credit["billed_cost_amount"] == credit["effective_cost_amount"] == Decimal("-5.00")


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        ("Tax", "tax"),
        ("Refund", "credit"),
        ("EdpDiscount", "credit"),
        ("BundledDiscount", "credit"),
        ("Fee", "purchase"),
    ],
)
def test_it_maps_line_item_types_to_charge_categories(kind, category):
    (row,) = parse(legacy({"lineItem/LineItemType": kind}))
    assert row["charge_category"] == category


def test_it_rejects_an_unknown_line_item_type():
    with pytest.raises(CellError) as caught:
        parse(legacy({"lineItem/LineItemType": "MysteryCharge"}))
    assert caught.value.column == "lineItem/LineItemType"
    assert "MysteryCharge" in caught.value.message


def test_it_keeps_duplicate_line_item_ids():
    rows = parse(legacy({"identity/LineItemId": "same"}), legacy({"identity/LineItemId": "same"}))
    assert len(rows) == 2
    assert sum(row["billed_cost_amount"] for row in rows) == Decimal("196.64")


def test_it_reads_null_sentinels_in_optional_amounts_as_none():
    for sentinel in ("NULL", ""):
        (row,) = parse(legacy({"pricing/publicOnDemandCost": sentinel}))
        assert row["list_cost_amount"] is None
    (row,) = parse(legacy({"pricing/publicOnDemandCost": "120.5"}))
    assert row["list_cost_amount"] == Decimal("120.5")


def test_it_extracts_legacy_tags_and_ignores_cost_categories():
    (row,) = parse(
        legacy(
            {
                "resourceTags/user:Customer": " acme ",
                "resourceTags/user:cost-center": "NULL",
                "resourceTags/aws:createdBy": "IAMUser:bob",
                "costCategory/Team": "ml",
            }
        )
    )
    assert row["tags"] == {"customer": "acme", "aws_createdby": "IAMUser:bob"}


def test_it_names_gpu_instance_types():
    gpu, cpu, sagemaker = parse(
        legacy(),
        legacy({"product/instanceType": "m5.large"}),
        legacy({"product/instanceType": "ml.g5.xlarge"}),
    )
    assert (gpu["gpu_type"], cpu["gpu_type"], sagemaker["gpu_type"]) == ("H100", "", "A10G")


@pytest.mark.parametrize(
    ("zone", "region"),
    [("eu-west-1b", "eu-west-1"), ("us-gov-west-1a", "us-gov-west-1"), ("us-west-2-lax-1a", "us-west-2"), ("x", "")],
)
def test_it_takes_the_region_from_the_availability_zone(zone, region):
    (row,) = parse(legacy({"product/region": "", "lineItem/AvailabilityZone": zone}))
    assert row["region"] == region


def test_it_falls_back_for_region_and_charge_period():
    (row,) = parse(
        legacy(
            {
                "product/region": "",
                "lineItem/AvailabilityZone": "eu-west-1b",
                "lineItem/UsageStartDate": "",
                "lineItem/UsageEndDate": "",
                "identity/TimeInterval": "2024-05-03T10:00:00Z/2024-05-03T11:00:00Z",
            }
        )
    )
    assert row["region"] == "eu-west-1"
    assert row["charge_period_start"] == datetime(2024, 5, 3, 10, tzinfo=UTC)
    assert row["charge_period_end"] == datetime(2024, 5, 3, 11, tzinfo=UTC)


@pytest.mark.parametrize("interval", ["", "yesterday/today"])
def test_it_rejects_a_row_without_a_readable_start(interval):
    record = legacy({"lineItem/UsageStartDate": "", "identity/TimeInterval": interval})
    with pytest.raises(CellError) as caught:
        parse(record)
    assert caught.value.column == "identity/TimeInterval"


def test_it_reads_a_cur2_csv_with_maps(tmp_path):
    base = {
        "identity_line_item_id": "id1",
        "bill_payer_account_id": "111",
        "bill_payer_account_name": "Payer",
        "bill_billing_period_start_date": "2024-05-01T00:00:00Z",
        "bill_billing_period_end_date": "2024-06-01T00:00:00Z",
        "line_item_usage_account_id": "222",
        "line_item_usage_account_name": "Prod",
        "line_item_product_code": "AmazonEC2",
        "line_item_currency_code": "USD",
        "line_item_usage_amount": "1",
        "cost_category": '{"team": "ml"}',
    }
    usage = {
        "line_item_line_item_type": "SavingsPlanCoveredUsage",
        "line_item_usage_start_date": "2024-05-03T10:00:00Z",
        "line_item_usage_end_date": "2024-05-03T11:00:00Z",
        "line_item_resource_id": "i-1",
        "line_item_unblended_cost": "98.32",
        "product": '{"product_name": "Amazon Elastic Compute Cloud", "region": "us-west-2"}',
        "product_instance_type": "p5.48xlarge",
        "pricing_public_on_demand_cost": "98.32",
        "resource_tags": '{"user_customer": "acme", "user_env": "prod", "aws_createdBy": "Role:ci"}',
        "savings_plan_savings_plan_a_r_n": SP_ARN,
        "savings_plan_savings_plan_effective_cost": "61.00",
    }
    tax = {
        "line_item_line_item_type": "Tax",
        "line_item_usage_start_date": "2024-05-01T00:00:00Z",
        "line_item_unblended_cost": "7.10",
        "product": "{}",
        "pricing_public_on_demand_cost": "NULL",
    }
    path = tmp_path / "cur2.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CUR2_HEADER.split(","))
        writer.writeheader()
        writer.writerows([base | usage, base | tax])
    with open_table(path) as table:
        assert AwsCurSource.detect(table.columns) and not FocusSource.detect(table.columns)
        source = AwsCurSource(org_currency="EUR")
        assert source.missing_columns(table.columns) == []
        usage, tax = [source.parse(record) for _, record in table.records()]
    assert usage["tags"] == {"customer": "acme", "env": "prod", "aws_createdby": "Role:ci"}
    assert (usage["service_name"], usage["region"], usage["gpu_type"]) == (
        "Amazon Elastic Compute Cloud",
        "us-west-2",
        "H100",
    )
    assert (usage["billing_account_name"], usage["sub_account_name"]) == ("Payer", "Prod")
    assert (usage["billed_cost_amount"], usage["effective_cost_amount"]) == (Decimal("98.32"), Decimal("61.00"))
    assert (tax["charge_category"], tax["tags"], tax["list_cost_amount"]) == ("tax", {}, None)
    assert tax["service_name"] == "AmazonEC2"


def test_it_reads_cur2_parquet_native_cells():
    record = {
        "line_item_line_item_type": "Usage",
        "line_item_usage_start_date": datetime(2024, 5, 3, 10),
        "line_item_usage_end_date": datetime(2024, 5, 3, 11),
        "bill_billing_period_start_date": datetime(2024, 5, 1),
        "bill_payer_account_id": "111",
        "line_item_unblended_cost": Decimal("3.25"),
        "line_item_currency_code": "USD",
        "product": [("product_name", "Amazon SageMaker"), ("region", "us-east-1")],
        "resource_tags": [("user_customer", "acme"), ("user_team", None)],
        "cost_category": [("team", "ml")],
    }
    assert AwsCurSource.detect(list(record))
    (row,) = parse(record)
    assert row["charge_period_start"] == datetime(2024, 5, 3, 10, tzinfo=UTC)
    assert row["billing_period_end"] == datetime(2024, 6, 1, tzinfo=UTC)
    assert (row["billed_cost_amount"], row["service_name"], row["region"]) == (
        Decimal("3.25"),
        "Amazon SageMaker",
        "us-east-1",
    )
    assert row["tags"] == {"customer": "acme"}


def test_it_reports_missing_required_columns():
    source = AwsCurSource(org_currency="USD")
    assert source.missing_columns(["line_item_usage_start_date", "bill_payer_account_id"]) == [
        "lineItem/UnblendedCost|line_item_unblended_cost"
    ]
    assert not AwsCurSource.detect(["lineItem/UnblendedCost", "cost/myCost"])
