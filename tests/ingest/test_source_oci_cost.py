"""The OCI cost report source against the real focus_converters sample, plus fixtures for corrections,
overage and tag collisions that the sample lacks."""

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
from ingest.sources.oci_cost import OciCostSource
from ingest.sources.values import CellError, attribution
from tests.base import sample_path

SAMPLE = "oci/focus_converters_oci-cost-report_2023-11.csv"
HEADER = (
    "lineItem/referenceNo",
    "lineItem/tenantId",
    "lineItem/intervalUsageStart",
    "lineItem/intervalUsageEnd",
    "product/service",
    "product/compartmentId",
    "product/compartmentName",
    "product/region",
    "product/resourceId",
    "usage/billedQuantity",
    "cost/productSku",
    "product/Description",
    "cost/myCost",
    "cost/myCostOverage",
    "cost/currencyCode",
    "cost/billingUnitReadable",
    "lineItem/isCorrection",
    "lineItem/backreferenceNo",
    "tags/owner",
    "tags/Finance.Owner",
    "tags/Oracle-Tags.CreatedBy",
)


def line(cells=None):
    """An OCI cost report record: one GPU hour, with `cells` replacing columns by name."""
    record = dict.fromkeys(HEADER, "")
    record.update(
        {
            "lineItem/referenceNo": "ref1",
            "lineItem/tenantId": "ocid1.tenancy.oc1..t",
            "lineItem/intervalUsageStart": "2024-02-29T23:00Z",
            "lineItem/intervalUsageEnd": "2024-03-01T00:00:00Z",
            "product/service": "COMPUTE",
            "product/compartmentId": "ocid1.compartment.oc1..c",
            "product/compartmentName": "ml",
            "product/region": "us-ashburn-1",
            "product/resourceId": "ocid1.instance.oc1.iad.x",
            "usage/billedQuantity": "8",
            "cost/productSku": "B98415",
            "product/Description": "Compute - GPU - H100",
            "cost/myCost": "80.00",
            "cost/currencyCode": "usd",
            "lineItem/isCorrection": "false",
        }
    )
    record.update(cells or {})
    return record


def parse(*records):
    source = OciCostSource(org_currency="EUR")
    return [source.parse(record) for record in records]


def read_sample():
    with open_table(sample_path(SAMPLE)) as table:
        source = OciCostSource(org_currency="EUR")
        assert source.missing_columns(table.columns) == []
        return [source.parse(record) for _, record in table.records()]


def test_it_detects_the_sample_as_oci_and_nothing_else():
    with open_table(sample_path(SAMPLE)) as table:
        assert OciCostSource.detect(table.columns)
        assert not AwsCurSource.detect(table.columns)
        assert not FocusSource.detect(table.columns)
        assert [s for s in BILL_SOURCES if s is not OciCostSource and s.detect(table.columns)] == []


def test_it_does_not_claim_a_legacy_cur_header():
    assert not OciCostSource.detect(["lineItem/UnblendedCost", "lineItem/UsageStartDate", "lineItem/LineItemType"])


def test_it_parses_every_row_of_the_sample():
    rows = read_sample()
    assert len(rows) == 506
    assert all(set(row) == set(COST_ROW_FIELDS) for row in rows)
    assert Counter(row["charge_category"] for row in rows) == {"usage": 506}
    assert Counter(row["charge_class"] for row in rows) == {"": 506}
    totals = defaultdict(Decimal)
    for row in rows:
        totals[row["currency"]] += row["billed_cost_amount"]
        assert row["effective_cost_amount"] == row["billed_cost_amount"]
    with open(sample_path(SAMPLE), newline="", encoding="utf-8-sig") as handle:
        expected = defaultdict(Decimal)
        for cells in csv.DictReader(handle):
            expected[cells["cost/currencyCode"]] += Decimal(cells["cost/myCost"])
            if cells["cost/myCostOverage"]:
                expected[cells["cost/currencyCode"]] += Decimal(cells["cost/myCostOverage"])
    assert dict(totals) == dict(expected)


def test_it_maps_the_sample_columns():
    rows = read_sample()
    assert {(r["billing_period_start"], r["billing_period_end"]) for r in rows} == {
        (datetime(2023, 11, 1, tzinfo=UTC), datetime(2023, 12, 1, tzinfo=UTC))
    }
    starts = {row["charge_period_start"] for row in rows}
    assert (min(starts), max(starts)) == (datetime(2023, 11, 13, 5, tzinfo=UTC), datetime(2023, 11, 13, 11, tzinfo=UTC))
    assert Counter(row["sub_account_name"] for row in rows) == {"platformpm2022": 500, "redbullhol": 6}
    assert {row["provider"] for row in rows} == {"Oracle"}
    first = rows[0]
    assert first["billing_account_id"].startswith("ocid1.tenancy.oc1..")
    assert (first["service_name"], first["region"], first["sku_id"]) == ("DATABASE", "us-sanjose-1", "B92911")
    assert first["pricing_unit"] == "1 NONE HOURS INSTANCE"
    assert first["charge_description"] == "Oracle APEX Application Development"


def test_it_extracts_the_sample_tags():
    rows = read_sample()
    tagged = [row for row in rows if row["tags"]]
    assert len(tagged) == 272
    tags = tagged[0]["tags"]
    assert tags["oracle_tags_createdby"].startswith("default/")
    assert tags["createdby"] == tags["oracle_tags_createdby"]
    assert tags["oracleinternalreserved_owneremail"] == "marek.czajka@oracle.com"
    assert attribution(tags)["owner"] == "marek.czajka@oracle.com"
    assert sum("release" in row["tags"] for row in rows) == 6


def test_it_marks_corrections_and_keeps_them_negative():
    correction, normal = parse(
        line({"lineItem/isCorrection": "true", "cost/myCost": "-12.50", "lineItem/backreferenceNo": "ref0"}),
        line(),
    )
    assert (correction["charge_class"], correction["billed_cost_amount"]) == ("correction", Decimal("-12.50"))
    assert correction["effective_cost_amount"] == Decimal("-12.50")
    assert normal["charge_class"] == ""


def test_it_adds_overage_and_reads_null_overage_as_absent():
    (overage,) = parse(line({"cost/myCostOverage": "4.25"}))
    assert overage["billed_cost_amount"] == Decimal("84.25")
    for sentinel in ("NULL", "", "null"):
        (row,) = parse(line({"cost/myCostOverage": sentinel}))
        assert row["billed_cost_amount"] == Decimal("80.00")


def test_it_rejects_a_missing_cost_and_a_bad_start():
    with pytest.raises(CellError) as caught:
        parse(line({"cost/myCost": "NULL"}))
    assert caught.value.column == "cost/myCost"
    with pytest.raises(CellError) as caught:
        parse(line({"lineItem/intervalUsageStart": "yesterday"}))
    assert caught.value.column == "lineItem/intervalUsageStart"


def test_it_bills_by_the_month_of_the_interval_start():
    (row,) = parse(line())
    assert row["billing_period_start"] == datetime(2024, 2, 1, tzinfo=UTC)
    assert row["billing_period_end"] == datetime(2024, 3, 1, tzinfo=UTC)
    assert (row["currency"], row["gpu_type"]) == ("USD", "H100")


def test_it_lets_a_free_form_tag_win_its_bare_key():
    (row,) = parse(
        line({"tags/owner": "alice", "tags/Finance.Owner": "finance-team", "tags/Oracle-Tags.CreatedBy": "x"})
    )
    assert row["tags"] == {
        "owner": "alice",
        "finance_owner": "finance-team",
        "oracle_tags_createdby": "x",
        "createdby": "x",
    }
    (row,) = parse(line({"tags/Finance.Owner": "finance-team"}))
    assert row["tags"] == {"finance_owner": "finance-team", "owner": "finance-team"}
