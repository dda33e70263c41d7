"""The Anthropic usage report and cost report sources, on fixtures in the documented shapes
(platform.claude.com/docs/en/api/admin/usage_report and .../cost_report; the field names match the
Claude cookbook's observability/usage_cost_api.ipynb, which reads the same responses)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.sources.anthropic_usage import AnthropicCostSource, AnthropicUsageSource
from ingest.sources.base import COST_ROW_FIELDS
from ingest.sources.openai_usage import UNGROUPED_MODEL, OpenAIUsageSource
from ingest.sources.usage_base import USAGE_ROW_FIELDS
from ingest.sources.values import CellError

# GET /v1/organizations/usage_report/messages?group_by[]=model&group_by[]=workspace_id, two daily
# buckets; the second result of the first bucket is the default workspace (workspace_id null).
USAGE_PAGE = """{"has_more": false, "next_page": null, "data": [
 {"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z", "results": [
  {"uncached_input_tokens": 1500, "cache_creation": {"ephemeral_5m_input_tokens": 1000,
   "ephemeral_1h_input_tokens": 500}, "cache_read_input_tokens": 20000, "output_tokens": 900,
   "server_tool_use": {"web_search_requests": 3}, "api_key_id": null, "workspace_id": "wrkspc_a",
   "model": "claude-sonnet-4-20250514", "service_tier": "standard", "context_window": "0-200k"},
  {"uncached_input_tokens": 40, "cache_creation": {"ephemeral_5m_input_tokens": 0,
   "ephemeral_1h_input_tokens": 0}, "cache_read_input_tokens": 0, "output_tokens": 12,
   "server_tool_use": {"web_search_requests": 0}, "api_key_id": null, "workspace_id": null,
   "model": "claude-sonnet-4-20250514", "service_tier": "batch", "context_window": "0-200k"}]},
 {"starting_at": "2025-08-02T00:00:00Z", "ending_at": "2025-08-03T00:00:00Z", "results": [
  {"uncached_input_tokens": 7, "cache_read_input_tokens": 0, "output_tokens": 3,
   "api_key_id": null, "workspace_id": null, "model": null, "service_tier": null, "context_window": null}]}]}"""

# GET /v1/organizations/cost_report?group_by[]=workspace_id&group_by[]=description: amounts are
# decimal strings in cents ("123.45" USD is $1.2345).
COST_PAGE = """{"has_more": false, "next_page": null, "data": [
 {"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z", "results": [
  {"currency": "USD", "amount": "1234.5", "workspace_id": "wrkspc_a",
   "description": "Claude Sonnet 4 Usage - Input Tokens, Cache Read", "cost_type": "tokens",
   "context_window": "0-200k", "model": "claude-sonnet-4-20250514", "service_tier": "standard",
   "token_type": "cache_read_input_tokens"},
  {"currency": "USD", "amount": "123.45", "workspace_id": null, "description": "Web Search Usage",
   "cost_type": "web_search", "context_window": null, "model": null, "service_tier": null, "token_type": null}]}]}"""


def _document(text):
    return json.loads(text, parse_float=Decimal)  # as ingest.readers.open_json_document reads it


def _parse_all(source, document):
    return [source.parse(record) for _, record in source.records(document)]


def _usage():
    return AnthropicUsageSource(org_currency="EUR")


def _costs():
    return AnthropicCostSource(org_currency="EUR")


def test_it_reads_a_usage_page_with_cache_creation():
    document = _document(USAGE_PAGE)
    assert AnthropicUsageSource.detect_document(document)
    assert not AnthropicCostSource.detect_document(document)
    assert not OpenAIUsageSource.detect_document(document)
    first, default_workspace, ungrouped = _parse_all(_usage(), document)
    assert set(first) == set(USAGE_ROW_FIELDS)
    assert (first["provider"], first["model"], first["route"]) == ("anthropic", "claude-sonnet-4-20250514", "standard")
    assert first["input_tokens"] == 1500  # uncached already: nothing subtracted
    assert first["cached_input_tokens"] == 20000
    assert first["cache_write_tokens"] == 1000 + 500
    assert first["output_tokens"] == 900
    assert first["is_aggregate"] is True
    assert first["occurred_at"] == datetime(2025, 8, 1, tzinfo=UTC)
    assert first["period_end"] == datetime(2025, 8, 2, tzinfo=UTC)
    assert first["cost_amount"] is None
    assert first["metadata"]["workspace_id"] == "wrkspc_a"
    assert first["metadata"]["context_window"] == "0-200k"
    assert first["metadata"]["server_tool_use"] == {"web_search_requests": 3}
    assert default_workspace["route"] == "batch" and "workspace_id" not in default_workspace["metadata"]
    assert default_workspace["cache_write_tokens"] == 0
    assert ungrouped["model"] == UNGROUPED_MODEL
    assert ungrouped["cache_write_tokens"] is None  # not reported is unknown, not 0


def test_it_counts_a_report_row_as_one_aggregate_of_unknown_size():
    for row in _parse_all(_usage(), _document(USAGE_PAGE)):
        assert row["request_count"] == 1
        assert row["metadata"]["request_count_unknown"] is True


def test_it_gives_each_result_a_stable_event_id():
    document = _document(USAGE_PAGE)
    ids = [row["event_id"] for row in _parse_all(_usage(), document)]
    assert ids == [row["event_id"] for row in _parse_all(_usage(), _document(USAGE_PAGE))]
    assert len(set(ids)) == 3
    # The same instant written with an offset instead of Z is the same bucket.
    document["data"][0]["starting_at"] = "2025-08-01T00:00:00+00:00"
    assert [row["event_id"] for row in _parse_all(_usage(), document)] == ids


def test_it_reads_a_list_of_pages():
    page = _document(USAGE_PAGE)
    pages = [
        {**page, "data": page["data"][:1], "has_more": True, "next_page": "p2"},
        {**page, "data": page["data"][1:]},
    ]
    assert AnthropicUsageSource.detect_document(pages)
    assert len(_parse_all(_usage(), pages)) == 3


@pytest.mark.parametrize(
    ("fields", "column"),
    [
        ({"uncached_input_tokens": "many"}, "uncached_input_tokens"),
        ({"output_tokens": 1.5}, "output_tokens"),
        ({"cache_creation": {"ephemeral_5m_input_tokens": -1}}, "cache_creation.ephemeral_5m_input_tokens"),
        ({"cache_creation": 12}, "cache_creation"),
        ({"starting_at": "last tuesday"}, "starting_at"),
        ({"ending_at": None}, "ending_at"),
        ({"ending_at": "2025-07-31T00:00:00Z"}, "ending_at"),
    ],
)
def test_it_refuses_a_bad_cell_naming_the_field(fields, column):
    _, record = next(iter(_usage().records(_document(USAGE_PAGE))))
    with pytest.raises(CellError) as caught:
        _usage().parse({**record, **fields})
    assert caught.value.column == column


def test_it_reads_cost_report_cents_exactly():
    document = _document(COST_PAGE)
    assert AnthropicCostSource.detect_document(document)
    assert not AnthropicUsageSource.detect_document(document)
    tokens, search = _parse_all(_costs(), document)
    assert set(tokens) == set(COST_ROW_FIELDS)
    assert tokens["billed_cost_amount"] == tokens["effective_cost_amount"] == Decimal("12.345")
    assert search["billed_cost_amount"] == Decimal("1.2345")
    assert (tokens["provider"], tokens["service_name"], tokens["currency"]) == ("Anthropic", "Claude API", "USD")
    assert tokens["sub_account_id"] == "wrkspc_a" and search["sub_account_id"] == ""
    assert tokens["charge_description"] == "Claude Sonnet 4 Usage - Input Tokens, Cache Read"
    assert tokens["tags"]["model"] == "claude-sonnet-4-20250514"
    assert tokens["tags"]["token_type"] == "cache_read_input_tokens"
    assert tokens["tags"]["cost_type"] == "tokens"
    assert search["tags"] == {"cost_type": "web_search"}
    assert tokens["charge_period_start"] == datetime(2025, 8, 1, tzinfo=UTC)
    assert (tokens["billing_period_start"], tokens["billing_period_end"]) == (
        datetime(2025, 8, 1, tzinfo=UTC),
        datetime(2025, 9, 1, tzinfo=UTC),
    )
    assert tokens["charge_category"] == "usage"


@pytest.mark.parametrize(
    ("amount", "column"), [(None, "amount"), ("twelve", "amount"), (1234.5, "amount"), ({"value": 1}, "amount")]
)
def test_it_refuses_a_cost_amount_that_is_not_exact_cents(amount, column):
    _, record = next(iter(_costs().records(_document(COST_PAGE))))
    with pytest.raises(CellError) as caught:
        _costs().parse({**record, "amount": amount})
    assert caught.value.column == column
