"""The OpenAI Usage API and Costs API sources: the cookbook's real usage output, plus fixtures in the
documented shapes for what it lacks (grouped results, cache writes, the `result` key, costs)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.readers import open_json_document
from ingest.sources.base import COST_ROW_FIELDS
from ingest.sources.openai_usage import UNGROUPED_MODEL, OpenAICostsSource, OpenAIUsageSource
from ingest.sources.usage_base import USAGE_ROW_FIELDS
from ingest.sources.values import CellError
from tests.base import sample_path

SAMPLE = "llm/openai_usage_cookbook_output.json"
DAY = 86400
JAN_13 = 1736726400  # 2025-01-13T00:00:00Z


def _usage():
    return OpenAIUsageSource(org_currency="EUR")


def _rows(source, document):
    return [(number, source.parse(record)) for number, record in source.records(document)]


def _result(**fields):
    """A completions usage result as the API reference documents it, grouped by nothing."""
    result = {
        "object": "organization.usage.completions.result",
        "input_tokens": 1000,
        "output_tokens": 500,
        "input_cached_tokens": 800,
        "num_model_requests": 5,
        "project_id": None,
        "user_id": None,
        "api_key_id": None,
        "model": None,
        "batch": None,
    }
    result.update(fields)
    return result


def _page(*buckets, key="results"):
    """A page as GET /v1/organization/usage/... returns it; `key` "result" is the variant some SDKs export."""
    return {
        "object": "page",
        "data": [{"object": "bucket", "start_time": s, "end_time": s + DAY, key: results} for s, results in buckets],
        "has_more": False,
        "next_page": None,
    }


def _parse_one(**fields):
    record = {**_result(**fields), "start_time": JAN_13, "end_time": JAN_13 + DAY}
    return _usage().parse(record)


def test_it_reads_every_result_of_the_cookbook_sample():
    path = sample_path(SAMPLE)
    expected = {"rows": 0, "input": 0, "cached": 0, "output": 0, "requests": 0}
    for bucket in json.loads(path.read_text()):  # read independently: plain json, plain sums
        for result in bucket["results"]:
            expected["rows"] += 1
            expected["input"] += result["input_tokens"] - result["input_cached_tokens"]
            expected["cached"] += result["input_cached_tokens"]
            expected["output"] += result["output_tokens"]
            expected["requests"] += result["num_model_requests"]
    document = open_json_document(path)
    assert OpenAIUsageSource.detect_document(document)
    assert not OpenAICostsSource.detect_document(document)
    rows = [row for _, row in _rows(_usage(), document)]
    assert len(rows) == expected["rows"] == 26
    assert sum(r["input_tokens"] for r in rows) == expected["input"]
    assert sum(r["cached_input_tokens"] for r in rows) == expected["cached"]
    assert sum(r["output_tokens"] for r in rows) == expected["output"]
    assert sum(r["request_count"] for r in rows) == expected["requests"]
    assert all(set(r) == set(USAGE_ROW_FIELDS) for r in rows)


def test_it_keeps_a_bucket_as_one_aggregate_row():
    document = open_json_document(sample_path(SAMPLE))
    rows = dict(_rows(_usage(), document))
    row = rows[3]  # 2025-01-13: cached and audio tokens
    assert row["is_aggregate"] is True
    assert row["request_count"] == 3053
    assert row["occurred_at"] == datetime(2025, 1, 13, tzinfo=UTC)
    assert row["period_end"] == datetime(2025, 1, 14, tzinfo=UTC)
    assert (row["provider"], row["model"], row["route"], row["status"]) == ("openai", UNGROUPED_MODEL, "", "ok")
    assert (row["input_tokens"], row["cached_input_tokens"]) == (3718360 - 76544, 76544)
    assert row["cache_write_tokens"] is None
    assert row["cost_amount"] is None and row["currency"] == ""
    assert row["metadata"]["input_audio_tokens"] == 5776
    assert row["metadata"]["usage_type"] == "completions"
    # The export ran mid-day: its first bucket starts, and its last ends, at the query bounds.
    assert rows[1]["occurred_at"] == datetime.fromtimestamp(1736616660, UTC)


def test_it_gives_each_bucket_a_stable_event_id():
    document = open_json_document(sample_path(SAMPLE))
    first = [row["event_id"] for _, row in _rows(_usage(), document)]
    again = [row["event_id"] for _, row in _rows(_usage(), open_json_document(sample_path(SAMPLE)))]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(event_id.startswith("openai-usage:") and len(event_id) <= 200 for event_id in first)


def test_it_reads_a_page_and_a_list_of_pages_alike():
    buckets = json.loads(sample_path(SAMPLE).read_text(), parse_float=Decimal)
    bare = [row["event_id"] for _, row in _rows(_usage(), buckets)]
    page = {"object": "page", "data": buckets, "has_more": False, "next_page": None}
    pages = [
        {"object": "page", "data": buckets[:10], "has_more": True, "next_page": "page_2"},
        {"object": "page", "data": buckets[10:], "has_more": False, "next_page": None},
    ]
    for document in (page, pages):
        assert OpenAIUsageSource.detect_document(document)
        assert [row["event_id"] for _, row in _rows(_usage(), document)] == bare


def test_it_reads_grouped_results_under_the_result_key():
    results = [
        _result(model="gpt-4o-mini-2024-07-18", project_id="proj_a", batch=True, api_key_id="key_1"),
        _result(model="gpt-4o-mini-2024-07-18", project_id="proj_b", batch=False, api_key_id="key_1"),
    ]
    document = _page((JAN_13, results), key="result")
    assert OpenAIUsageSource.detect_document(document)
    (_, batch), (_, online) = _rows(_usage(), document)
    assert batch["model"] == "gpt-4o-mini-2024-07-18"
    assert (batch["route"], online["route"]) == ("batch", "")
    assert batch["metadata"]["project_id"] == "proj_a" and batch["metadata"]["api_key_id"] == "key_1"
    assert batch["event_id"] != online["event_id"]  # same bucket, another group


def test_it_takes_cache_writes_out_of_input_when_reported():
    row = _parse_one(input_tokens=1000, input_cached_tokens=300, input_cache_write_tokens=100)
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (600, 300, 100)


def test_it_leaves_an_unreported_count_unknown():
    row = _parse_one(object="organization.usage.embeddings.result", output_tokens=None, input_cached_tokens=None)
    assert row["output_tokens"] is None and row["cached_input_tokens"] is None
    assert row["input_tokens"] == 1000


@pytest.mark.parametrize(
    ("fields", "column"),
    [
        ({"input_tokens": "lots"}, "input_tokens"),
        ({"output_tokens": -5}, "output_tokens"),
        ({"num_model_requests": True}, "num_model_requests"),
        ({"num_model_requests": None}, "num_model_requests"),
        ({"input_cached_tokens": 5000}, "input_cached_tokens"),
        ({"batch": "yes"}, "batch"),
        ({"object": "organization.usage.vector_stores.result"}, "object"),
    ],
)
def test_it_refuses_a_bad_count_naming_the_field(fields, column):
    with pytest.raises(CellError) as caught:
        _parse_one(**fields)
    assert caught.value.column == column


@pytest.mark.parametrize(
    ("bounds", "column"),
    [
        ({"start_time": "yesterday"}, "start_time"),
        ({"start_time": None}, "start_time"),
        ({"end_time": JAN_13 * 1000}, "end_time"),  # milliseconds
        ({"end_time": JAN_13}, "end_time"),  # not after the start
    ],
)
def test_it_refuses_a_bad_bucket_time_naming_the_field(bounds, column):
    record = {**_result(), "start_time": JAN_13, "end_time": JAN_13 + DAY, **bounds}
    with pytest.raises(CellError) as caught:
        _usage().parse(record)
    assert caught.value.column == column


def test_it_does_not_claim_usage_that_is_not_model_calls():
    vector_stores = {"object": "organization.usage.vector_stores.result", "usage_bytes": 1024, "project_id": None}
    assert not OpenAIUsageSource.detect_document(_page((JAN_13, [vector_stores])))
    assert not OpenAIUsageSource.detect_document(_page((JAN_13, [])))
    assert not OpenAIUsageSource.detect_document({"data": "nope"})


def test_it_reports_a_malformed_bucket_as_an_item_error():
    document = _page((JAN_13, [_result()]))
    document["data"].append("not a bucket")
    items = list(_usage().records(document))
    assert [number for number, _ in items] == [1, 2]
    assert "__error__" in items[1][1]


# The Costs API reference's example page (amount 0.06 usd), grouped by line item and project, in
# the `result` spelling, with a long decimal to prove no float rounding.
COSTS_PAGE = """{"object": "page", "has_more": false, "next_page": null, "data": [
 {"object": "bucket", "start_time": 1730419200, "end_time": 1730505600, "result": [
  {"object": "organization.costs.result", "amount": {"value": 0.06, "currency": "usd"},
   "line_item": "gpt-4o-mini-2024-07-18, input", "project_id": "proj_a"},
  {"object": "organization.costs.result", "amount": {"value": 12.345678901234567891, "currency": "usd"},
   "line_item": "gpt-4o-2024-08-06, output", "project_id": null}]},
 {"object": "bucket", "start_time": 1730505600, "end_time": 1730592000, "result": []}]}"""


def _costs():
    return OpenAICostsSource(org_currency="EUR")


def test_it_reads_a_costs_page_exactly():
    document = json.loads(COSTS_PAGE, parse_float=Decimal)  # as ingest.readers.open_json_document does
    assert OpenAICostsSource.detect_document(document)
    assert not OpenAIUsageSource.detect_document(document)
    (n1, first), (n2, second) = _rows(_costs(), document)
    assert (n1, n2) == (1, 2)
    assert set(first) == set(COST_ROW_FIELDS)
    assert first["billed_cost_amount"] == first["effective_cost_amount"] == Decimal("0.06")
    assert second["billed_cost_amount"] == Decimal("12.345678901234567891")
    assert (first["provider"], first["billing_account_id"], first["currency"]) == ("OpenAI", "openai", "USD")
    assert first["sub_account_id"] == "proj_a" and first["tags"] == {"project": "proj_a"}
    assert second["sub_account_id"] == "" and second["tags"] == {}
    assert first["charge_description"] == "gpt-4o-mini-2024-07-18, input"
    assert first["charge_period_start"] == datetime(2024, 11, 1, tzinfo=UTC)
    assert first["charge_period_end"] == datetime(2024, 11, 2, tzinfo=UTC)
    assert first["billing_period_start"] == datetime(2024, 11, 1, tzinfo=UTC)
    assert first["billing_period_end"] == datetime(2024, 12, 1, tzinfo=UTC)
    assert (first["charge_category"], first["service_name"]) == ("usage", "OpenAI API")


def test_it_never_takes_cost_money_through_a_float():
    document = json.loads(COSTS_PAGE)  # floats: what a reader without parse_float=Decimal would give
    _, record = next(iter(_costs().records(document)))
    with pytest.raises(CellError) as caught:
        _costs().parse(record)
    assert caught.value.column == "amount.value"


@pytest.mark.parametrize(
    ("amount", "column"),
    [(None, "amount"), ({"value": None, "currency": "usd"}, "amount.value"), ({"value": "a lot"}, "amount.value")],
)
def test_it_refuses_a_cost_without_an_amount(amount, column):
    record = {"object": "organization.costs.result", "amount": amount, "start_time": JAN_13, "end_time": JAN_13 + DAY}
    with pytest.raises(CellError) as caught:
        _costs().parse(record)
    assert caught.value.column == column
