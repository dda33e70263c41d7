"""The LiteLLM spend-log source. Fixture rows follow the LiteLLM_SpendLogs schema (shared sample
llm/litellm_spendlogs_schema.prisma.txt) and what LiteLLM's spend_tracking_utils.get_logging_payload
writes: metadata with additional_usage_values / error_information / status, request_tags as a JSON
list, cache_hit as "True"/"False", a "<id>_cache_hit<time>" request id for cache hits. The same rows
go through the CSV, JSON-lines and JSON-document paths."""

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ingest.readers import open_table
from ingest.sources.generic_events import GenericEventsSource
from ingest.sources.litellm_spend import LiteLLMSpendDocumentSource, LiteLLMSpendSource
from ingest.sources.openai_usage import OpenAIUsageSource
from ingest.sources.usage_base import USAGE_ROW_FIELDS
from ingest.sources.values import CellError
from tests.base import sample_path

# Every LiteLLM_SpendLogs column, in schema order.
HEADER = (
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
    "team_id",
    "end_user",
    "requester_ip_address",
    "messages",
    "response",
    "session_id",
    "status",
    "mcp_namespaced_tool_name",
    "proxy_server_request",
)
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def _row(request_id, minute, **cells):
    row = dict.fromkeys(HEADER, "")
    row.update(
        request_id=request_id,
        call_type="acompletion",
        api_key="88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        startTime=T0 + timedelta(minutes=minute),
        endTime=T0 + timedelta(minutes=minute, milliseconds=1250),
        model_group="chat-default",
        api_base="https://api.openai.com/v1",
        cache_hit="False",
        cache_key="Cache OFF",
        metadata={},
        request_tags=[],
        messages={},
        response={},
        proxy_server_request={},
        session_id=f"sess-{minute}",
        status="success",
    )
    row.update(cells)
    return row


CACHED = {"additional_usage_values": {"prompt_tokens_details": {"cached_tokens": 200}}}
ROWS = [
    # An OpenAI call with a cache read and reasoning tokens, tagged and for an end user.
    _row(
        "chatcmpl-ok1",
        0,
        spend="0.00123",
        prompt_tokens=1200,
        completion_tokens=300,
        total_tokens=1500,
        model="gpt-4o-mini",
        custom_llm_provider="openai",
        end_user="cust_acme",
        user="u_alice",
        team_id="team_web",
        request_tags=["feature:chat", "env:prod"],
        metadata={
            "user_api_key_alias": "web-app",
            "status": "success",
            "additional_usage_values": {
                "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 64},
            },
        },
    ),
    # Job 123 fails on a rate limit, then its retry succeeds.
    _row(
        "chatcmpl-fail1",
        1,
        spend="0.0",
        prompt_tokens=0,
        completion_tokens=0,
        total_tokens=0,
        model="gpt-4o",
        custom_llm_provider="openai",
        user="u_batch",
        status="failure",
        request_tags=["feature:summarise", "job:123", "purpose:evaluation"],
        metadata={
            "status": "failure",
            "error_information": {
                "error_code": "429",
                "error_class": "RateLimitError",
                "llm_provider": "openai",
                "error_message": "Rate limit reached",
            },
        },
    ),
    _row(
        "chatcmpl-retry1",
        2,
        spend="0.0042",
        prompt_tokens=3000,
        completion_tokens=500,
        total_tokens=3500,
        model="gpt-4o",
        custom_llm_provider="openai",
        user="u_batch",
        request_tags=["feature:summarise", "job:123", "attempt:2", "purpose:evaluation"],
        metadata={"additional_usage_values": {"prompt_tokens_details": {"cached_tokens": 0}}},
    ),
    # The first call answered again from LiteLLM's cache: no provider call, spend 0.
    _row(
        "chatcmpl-ok1_cache_hit1740823380.25",
        3,
        spend="0.0",
        prompt_tokens=1200,
        completion_tokens=300,
        total_tokens=1500,
        model="gpt-4o-mini",
        custom_llm_provider="openai",
        end_user="cust_acme",
        cache_hit="True",
        request_tags=["feature:chat", "env:prod"],
        metadata=CACHED,
    ),
    # An Anthropic call LiteLLM could not price (spend 0), from a row without custom_llm_provider.
    _row(
        "msg_01XFDUDYJgAACzvnptvVoYEL",
        4,
        spend="0.0",
        prompt_tokens=400,
        completion_tokens=50,
        total_tokens=450,
        model="claude-3-5-sonnet-20241022",
        metadata={
            "additional_usage_values": {
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 50,
                "prompt_tokens_details": {"cached_tokens": 100},
            }
        },
    ),
    # A Bedrock call without usage details; attribution from metadata keys, spend_logs_metadata and a tag.
    _row(
        "req-bedrock-1",
        5,
        spend="0.0001",
        prompt_tokens=80,
        completion_tokens=20,
        total_tokens=100,
        model="bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        custom_llm_provider="bedrock",
        request_tags=["customer:globex"],
        metadata={"feature": "search", "spend_logs_metadata": {"environment": "staging"}},
    ),
]


def _text_time(value):
    if isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]  # PostgreSQL timestamp(3) as psql exports it


def _csv(tmp_path, rows=ROWS):
    path = tmp_path / "spend_logs.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        for row in rows:
            cells = {k: json.dumps(x) if isinstance(x, dict | list) else x for k, x in row.items()}
            cells.update({k: _text_time(row[k]) for k in ("startTime", "endTime")})
            writer.writerow(cells)
    return path


def _json_row(row):
    """A row as the /spend/logs API returns it: JSON values, ISO times, spend a number."""
    out = {**row, "spend": float(row["spend"])}
    out.update({k: row[k].isoformat().replace("+00:00", "Z") for k in ("startTime", "endTime")})
    return out


def _parse_table(path):
    source = LiteLLMSpendSource(org_currency="EUR")
    with open_table(path) as table:
        assert LiteLLMSpendSource.detect(table.columns)
        assert not GenericEventsSource.detect(table.columns)
        assert source.missing_columns(table.columns) == []
        return [source.parse(record) for _, record in table.records()]


def test_it_has_the_columns_of_the_spendlogs_schema():
    schema = sample_path("llm/litellm_spendlogs_schema.prisma.txt").read_text()
    fields = re.findall(r"^\s+(\w+)\s+\w+", schema.split("{", 1)[1], flags=re.MULTILINE)
    assert tuple(fields) == tuple(HEADER)


def test_it_reads_one_row_per_request(tmp_path):
    rows = {row["event_id"]: row for row in _parse_table(_csv(tmp_path))}
    assert len(rows) == len(ROWS)
    ok = rows["chatcmpl-ok1"]
    assert set(ok) == set(USAGE_ROW_FIELDS)
    assert (ok["provider"], ok["model"], ok["route"]) == ("openai", "gpt-4o-mini", "chat-default")
    assert ok["occurred_at"] == T0 and ok["latency_ms"] == 1250
    assert (ok["is_aggregate"], ok["request_count"], ok["status"]) == (False, 1, "ok")
    assert (ok["input_tokens"], ok["cached_input_tokens"], ok["output_tokens"]) == (1000, 200, 300)
    assert ok["reasoning_tokens"] == 64 and ok["cache_write_tokens"] is None
    assert (ok["cost_amount"], ok["currency"]) == (Decimal("0.00123"), "USD")
    assert (ok["customer"], ok["feature"], ok["environment"]) == ("cust_acme", "chat", "prod")
    assert ok["metadata"]["team_id"] == "team_web" and ok["metadata"]["api_key_alias"] == "web-app"
    assert ok["metadata"]["call_type"] == "acompletion" and ok["metadata"]["cache_hit"] is False


def test_it_reads_a_failed_call_and_its_retry(tmp_path):
    rows = {row["event_id"]: row for row in _parse_table(_csv(tmp_path))}
    failed, retry = rows["chatcmpl-fail1"], rows["chatcmpl-retry1"]
    assert (failed["status"], failed["error_type"]) == ("error", "RateLimitError")
    assert failed["metadata"]["error_code"] == "429"
    assert failed["cost_amount"] == Decimal(0) and failed["currency"] == "USD"  # a failed call is not billed
    assert (failed["job_id"], failed["attempt"], failed["purpose"]) == ("123", 1, "evaluation")
    assert failed["customer"] == "u_batch"  # no end user: the key's user
    assert (retry["status"], retry["job_id"], retry["attempt"]) == ("ok", "123", 2)
    assert retry["input_tokens"] == 3000 and retry["cached_input_tokens"] == 0


def test_it_keeps_a_cache_hit_as_a_real_zero(tmp_path):
    rows = {row["event_id"]: row for row in _parse_table(_csv(tmp_path))}
    hit = rows["chatcmpl-ok1_cache_hit1740823380.25"]
    assert hit["cost_amount"] == Decimal(0) and hit["currency"] == "USD"
    assert hit["metadata"]["cache_hit"] is True
    assert (hit["input_tokens"], hit["output_tokens"]) == (1000, 300)


def test_it_leaves_an_unpriced_zero_to_the_catalogue(tmp_path):
    rows = {row["event_id"]: row for row in _parse_table(_csv(tmp_path))}
    claude = rows["msg_01XFDUDYJgAACzvnptvVoYEL"]
    assert (claude["provider"], claude["model"]) == ("anthropic", "claude-3-5-sonnet-20241022")
    assert claude["cost_amount"] is None and claude["currency"] == ""
    assert claude["metadata"]["gateway_spend_zero"] is True
    # prompt_tokens 400 hold the 100 cache reads and 50 cache writes
    assert (claude["input_tokens"], claude["cached_input_tokens"], claude["cache_write_tokens"]) == (250, 100, 50)


def test_it_reads_a_provider_prefix_and_attribution_from_metadata(tmp_path):
    rows = {row["event_id"]: row for row in _parse_table(_csv(tmp_path))}
    bedrock = rows["req-bedrock-1"]
    assert (bedrock["provider"], bedrock["model"]) == ("bedrock", "anthropic.claude-3-haiku-20240307-v1:0")
    assert bedrock["input_tokens"] == 80 and bedrock["cached_input_tokens"] is None  # no details: as reported
    assert (bedrock["customer"], bedrock["feature"], bedrock["environment"]) == ("globex", "search", "staging")


def test_it_reads_json_lines_and_the_spend_logs_api_alike(tmp_path):
    from_csv = _parse_table(_csv(tmp_path))
    jsonl = tmp_path / "spend_logs.jsonl"
    jsonl.write_text("".join(json.dumps(_json_row(row)) + "\n" for row in ROWS))
    assert _parse_table(jsonl) == from_csv
    document = json.loads(json.dumps([_json_row(row) for row in ROWS]), parse_float=Decimal)
    assert LiteLLMSpendDocumentSource.detect_document(document)
    assert not OpenAIUsageSource.detect_document(document)
    source = LiteLLMSpendDocumentSource(org_currency="EUR")
    assert [source.parse(record) for _, record in source.records(document)] == from_csv


def test_it_gives_the_same_ids_on_a_second_read(tmp_path):
    path = _csv(tmp_path)
    assert [r["event_id"] for r in _parse_table(path)] == [r["event_id"] for r in _parse_table(path)]


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        ({"prompt_tokens": "ten"}, "prompt_tokens"),
        ({"completion_tokens": "-3"}, "completion_tokens"),
        ({"prompt_tokens": 100}, "prompt_tokens"),  # fewer than the 200 cached tokens in metadata
        ({"startTime": "soon"}, "startTime"),
        ({"endTime": T0 - timedelta(seconds=1)}, "endTime"),
        ({"metadata": "{not json"}, "metadata"),
        ({"spend": "-0.5"}, "spend"),
        ({"model": "", "model_group": ""}, "model"),
        ({"request_tags": ["attempt:zero"]}, "request_tags"),
        ({"request_id": ""}, "request_id"),
    ],
)
def test_it_refuses_a_bad_cell_naming_the_field(tmp_path, cells, column):
    path = _csv(tmp_path, [{**ROWS[0], **cells}])
    with pytest.raises(CellError) as caught:
        _parse_table(path)
    assert caught.value.column == column
