"""LiteLLM proxy spend logs: one row per request through the gateway.

The LiteLLM_SpendLogs table (columns per litellm-proxy-extras schema.prisma) exported as CSV or
JSON lines, or the JSON list the proxy's `/spend/logs` endpoint returns. `metadata` and
`request_tags` are JSON: text in CSV, values in JSON, `metadata.*` columns once the JSON-lines
reader has flattened them. LiteLLM writes usage beyond prompt/completion/total tokens into
`metadata.additional_usage_values` (and the whole usage into `metadata.usage_object`); a failed
call has `status` "failure" and `metadata.error_information`.
"""

import json
from datetime import timedelta

from ingest import limits
from ingest.readers import is_array
from ingest.sources import values as v
from ingest.sources.openai_usage import count, stable_id
from ingest.sources.usage_base import PURPOSES, UsageSource

REQUIRED = ("request_id", "startTime", "model", "spend")
SIGNATURE = frozenset({"request_id", "call_type", "spend", "startTime"})
FAILED = frozenset({"failure", "failed", "error"})
TRUE_TEXT = frozenset({"true", "1", "yes"})
# Only when the row names no provider: LiteLLM's own "provider/model" prefix, then the model family.
MODEL_FAMILIES = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("text-embedding-", "openai"),
    ("claude", "anthropic"),
)
JOB_KEYS = ("job", "job_id", "jobid")
PURPOSE_ALIASES = {"eval": "evaluation", "train": "training"}
# Attribution keys read from the top level of metadata too (hand-made exports put them there).
METADATA_KEYS = ("customer", "feature", "environment", "env", "purpose", "job", "job_id")
KEPT = ("team_id", "api_base", "call_type", "session_id", "model_id", "user")


def _unflatten(flat: dict) -> dict:
    nested = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for parent in parents:
            if not isinstance(node.get(parent), dict):
                node[parent] = {}
            node = node[parent]
        node[leaf] = value
    return nested


def json_cell(record, column: str, kind: type):
    """A JSON object or list cell: CSV text, a JSON value, or JSON-lines keys flattened as `column.key`."""
    value = record.get(column)
    if isinstance(value, str):
        try:
            value = None if v.is_null(value) else json.loads(value)
            if isinstance(value, str):  # JSON text stored as a JSON string
                value = json.loads(value)
        except ValueError:
            raise v.CellError(column, f"{column} is not valid JSON") from None
    if value is None:
        prefix = column + "."
        value = _unflatten({k[len(prefix) :]: x for k, x in record.items() if k.startswith(prefix)})
        value = value if value or kind is dict else []
    if not isinstance(value, kind):
        raise v.CellError(column, f"{column} must be a JSON {'object' if kind is dict else 'list'}")
    return value


def _usage_count(usage: dict, *path: str) -> int | None:
    """A count inside LiteLLM's usage details, named by its metadata path in errors."""
    node = usage
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    name = "metadata.additional_usage_values." + ".".join(path)
    return count({name: node}, name)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _tag_map(metadata: dict, request_tags: list) -> dict:
    """Attribution pairs from metadata keys, then metadata.spend_logs_metadata, then request tags
    "key:value" (or key=value): a later one wins."""
    pairs = [(k, metadata[k]) for k in METADATA_KEYS if isinstance(metadata.get(k), str | int)]
    pairs += _dict(metadata.get("spend_logs_metadata")).items()
    for tag in request_tags:
        text = str(tag)
        key, sep, value = text.partition(":") if ":" in text else text.partition("=")
        if sep:
            pairs.append((key, value))
    return v.normalise_tags(pairs)


def _provider_and_model(record) -> tuple[str, str]:
    provider = v.text(record, "custom_llm_provider").lower()
    model = v.text(record, "model") or v.text(record, "model_group")
    if not model:
        raise v.CellError("model", "model is required")
    prefix, slash, rest = model.partition("/")
    if slash and (not provider or prefix.lower() == provider):
        provider, model = prefix.lower(), rest  # "openai/gpt-4o": the catalogue knows "gpt-4o"
    if not provider:
        lowered = model.lower()
        provider = next((p for family, p in MODEL_FAMILIES if lowered.startswith(family)), "unknown")
    return provider, model


def _cost(record, cache_hit: bool, failed: bool) -> tuple:
    """(spend as written, cost): cost is None where LiteLLM's 0 means it could not price the call."""
    # CSV text is exact; a JSON-lines float is LiteLLM's own double
    spend = v.decimal(record, "spend", limit=limits.MAX_USAGE_COST)
    if spend is not None and spend < 0:
        raise v.CellError("spend", "spend must not be negative")
    if spend == 0 and not (cache_hit or failed):
        return spend, None  # LiteLLM writes 0 when its cost map lacks the model: unknown, the catalogue prices it
    return spend, spend  # 0 on a cache hit (no provider call) or a failed call (not billed) is a real 0


class LiteLLMSpendSource(UsageSource):
    name = "litellm_spend"
    label = "LiteLLM spend logs (CSV or JSON lines)"
    short_label = "LiteLLM spend logs"
    required_columns = REQUIRED

    @classmethod
    def detect(cls, columns):
        return set(columns) >= SIGNATURE

    def parse(self, record):
        request_id = v.text(record, "request_id")
        if not request_id:
            raise v.CellError("request_id", "request_id is required")
        start = v.timestamp(record, "startTime", required=True)
        end = v.timestamp(record, "endTime", end=True)
        if end is not None and end < start:
            raise v.CellError("endTime", "endTime is before startTime")
        metadata = json_cell(record, "metadata", dict)
        request_tags = json_cell(record, "request_tags", list)
        provider, model = _provider_and_model(record)
        status = (v.text(record, "status") or str(metadata.get("status") or "")).lower()
        failed = status in FAILED
        cache_hit = v.text(record, "cache_hit").lower() in TRUE_TEXT
        spend, cost = _cost(record, cache_hit, failed)
        # LiteLLM's prompt_tokens include cache reads (OpenAI's meaning; it adds Anthropic's reads in)
        # and, in current versions, Anthropic's cache writes. Take out what metadata reports.
        usage = {**_dict(metadata.get("usage_object")), **_dict(metadata.get("additional_usage_values"))}
        cached = _usage_count(usage, "prompt_tokens_details", "cached_tokens")
        if cached is None:
            cached = _usage_count(usage, "cache_read_input_tokens")
        writes = _usage_count(usage, "cache_creation_input_tokens")
        if writes is None:
            writes = _usage_count(usage, "prompt_tokens_details", "cache_creation_tokens")
        prompt = count(record, "prompt_tokens")
        input_tokens = prompt
        if prompt is not None and (cached is not None or writes is not None):
            input_tokens = prompt - (cached or 0) - (writes or 0)
            if input_tokens < 0 and writes:
                input_tokens = prompt - (cached or 0)  # older LiteLLM left cache writes out of prompt_tokens
            if input_tokens < 0:
                raise v.CellError("prompt_tokens", "prompt_tokens is smaller than the cached tokens in metadata")
        tags = _tag_map(metadata, request_tags)
        found = v.attribution(tags)
        purpose = PURPOSE_ALIASES.get(found["purpose"].lower(), found["purpose"].lower())
        attempt = tags.get("attempt") or "1"
        if not (attempt.isascii() and attempt.isdigit() and int(attempt) >= 1):
            raise v.CellError("request_tags", f"the attempt tag must be a whole number from 1, not {attempt[:20]!r}")
        error = _dict(metadata.get("error_information"))
        kept = {k: v.text(record, k) for k in KEPT if v.text(record, k)}
        kept["cache_hit"] = cache_hit
        # Bounds on what metadata (jsonb, no column) keeps of free text; the writer cuts only the columns.
        if request_tags:
            kept["tags"] = [str(t)[:200] for t in request_tags[:50]]
        if metadata.get("user_api_key_alias"):
            kept["api_key_alias"] = str(metadata["user_api_key_alias"])[:200]
        if spend == 0 and cost is None:
            kept["gateway_spend_zero"] = True
        if error.get("error_code"):
            kept["error_code"] = str(error["error_code"])[:50]
        return {
            "event_id": request_id if len(request_id) <= 200 else stable_id("litellm", [request_id]),
            "occurred_at": start,
            "period_end": None,
            "is_aggregate": False,
            "request_count": 1,
            "provider": provider,
            "model": model,
            "route": v.text(record, "model_group"),
            "customer": v.text(record, "end_user") or found["customer"] or v.text(record, "user"),
            "feature": found["feature"],
            "environment": found["environment"],
            "purpose": purpose if purpose in PURPOSES else "",  # free-form tags: an unknown purpose is not ours
            "job_id": next((tags[k] for k in JOB_KEYS if tags.get(k)), ""),
            "attempt": int(attempt),
            "status": "error" if failed else "ok",
            "error_type": str(error.get("error_class") or ""),
            "input_tokens": input_tokens,
            "output_tokens": count(record, "completion_tokens"),
            "cached_input_tokens": cached,
            "cache_write_tokens": writes,
            "reasoning_tokens": _usage_count(usage, "completion_tokens_details", "reasoning_tokens"),
            "latency_ms": None if end is None else (end - start) // timedelta(milliseconds=1),
            "cost_amount": cost,
            "currency": "USD" if cost is not None else "",  # LiteLLM prices in USD
            "metadata": kept,
        }


class LiteLLMSpendDocumentSource(LiteLLMSpendSource):
    """The same rows as the JSON list that GET /spend/logs returns."""

    name = "litellm_spend_json"
    label = "LiteLLM spend logs (JSON list from /spend/logs)"
    short_label = ""  # listed under its sibling
    document = True

    @classmethod
    def detect(cls, columns):
        return False  # tables go to LiteLLMSpendSource

    @classmethod
    def detect_document(cls, document):
        first = next(iter(document), None) if is_array(document) else None
        return isinstance(first, dict) and {"request_id", "startTime", "spend"} <= set(first)

    def records(self, document):
        for number, row in enumerate(document if is_array(document) else (), start=1):
            yield number, row if isinstance(row, dict) else {"__error__": "this item is not a JSON object"}
