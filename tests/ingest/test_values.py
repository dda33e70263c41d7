"""The shared cell parsers: nulls, amounts, timestamp dialects, tag encodings, attribution."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.sources import values as v


@pytest.mark.parametrize("raw", [None, "", "  ", "NULL", "null", "None", "N/A", "nan", "NaN", "-", "<null>", "(null)"])
def test_it_reads_every_null_sentinel_as_unknown(raw):
    record = {"c": raw}
    assert v.is_null(raw)
    assert v.text(record, "c") == ""
    assert v.decimal(record, "c") is None
    assert v.timestamp(record, "c") is None


def test_it_refuses_an_empty_required_amount_instead_of_zero():
    with pytest.raises(v.CellError) as caught:
        v.decimal({"BilledCost": "NULL"}, "BilledCost", required=True)
    assert caught.value.column == "BilledCost"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("98.3200000", "98.3200000"),
        ("-0.25", "-0.25"),
        ("5e-06", "0.000005"),
        ("$10,000.00 ", "10000.00"),
        ("(1.50)", "-1.50"),
        ("€3.5", "3.5"),
    ],
)
def test_it_reads_amounts_exactly(raw, expected):
    assert v.decimal({"c": raw}, "c") == Decimal(expected)


def test_it_refuses_floats_as_text_with_a_message():
    with pytest.raises(v.CellError, match="not a number"):
        v.decimal({"Cost": "12,34,5"}, "Cost")
    assert v.decimal({"c": 0.1}, "c") == Decimal("0.1")  # Parquet floats go through their shortest text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-09-18 22:00:00", datetime(2024, 9, 18, 22, tzinfo=UTC)),
        ("2023-11-01T00:00:00.000Z", datetime(2023, 11, 1, tzinfo=UTC)),
        ("2023-11-13T10:00Z", datetime(2023, 11, 13, 10, tzinfo=UTC)),
        ("2020-11-09 23:00:00+00:00", datetime(2020, 11, 9, 23, tzinfo=UTC)),
        ("2023-11-01T00:00:00-08:00", datetime(2023, 11, 1, 8, tzinfo=UTC)),
        ("2020-11-10 05:49:32 UTC", datetime(2020, 11, 10, 5, 49, 32, tzinfo=UTC)),
        ("09/21/2023", datetime(2023, 9, 21, tzinfo=UTC)),
        ("5/1/25", datetime(2025, 5, 1, tzinfo=UTC)),
        ("2023-11-01", datetime(2023, 11, 1, tzinfo=UTC)),
        ("2023-02-01T30:00:00Z", datetime(2023, 2, 2, 6, tzinfo=UTC)),
    ],
)
def test_it_reads_the_timestamp_dialects_of_bills(raw, expected):
    assert v.timestamp({"t": raw}, "t") == expected


def test_it_names_the_column_of_an_unreadable_date():
    with pytest.raises(v.CellError) as caught:
        v.timestamp({"ChargePeriodStart": "yesterday"}, "ChargePeriodStart")
    assert caught.value.column == "ChargePeriodStart"
    assert "ISO 8601" in caught.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"Customer": "acme", "user:Env": "prod"}', {"customer": "acme", "env": "prod"}),  # FOCUS JSON
        ("[{'key': 'team', 'value': 'ml'}, {'key': 'env', 'value': None}]", {"team": "ml"}),  # GCP repr list
        ('[{"key": "team", "value": "ml"}]', {"team": "ml"}),  # GCP JSON list
        ('"costcenter": "42","Owner-Email": "li@x.io"', {"costcenter": "42", "owner_email": "li@x.io"}),  # Azure
        ("", {}),
        ("{}", {}),
    ],
)
def test_it_reads_every_tag_encoding(raw, expected):
    assert v.tags({"Tags": raw}, "Tags") == expected


def test_it_reads_native_tag_maps_and_refuses_garbage():
    assert v.tags({"t": [("Team", "ml")]}, "t") == {"team": "ml"}
    assert v.tags({"t": {"Project": "x"}}, "t") == {"project": "x"}
    with pytest.raises(v.CellError):
        v.tags({"Tags": "{not json"}, "Tags")


def test_it_finds_attribution_keys_through_their_synonyms():
    found = v.attribution({"tenant": "acme", "project": "search", "env": "prod", "team": "ml", "ttl": "2026-12-01"})
    assert found == {
        "customer": "acme",
        "feature": "search",
        "environment": "prod",
        "owner": "ml",
        "purpose": "",
        "shutoff": "2026-12-01",
    }


def test_it_maps_charge_categories_and_refuses_unknown_ones():
    assert v.charge_category("Credit") == "credit"
    assert v.charge_category("") == "usage"
    with pytest.raises(v.CellError):
        v.charge_category("Gift")
