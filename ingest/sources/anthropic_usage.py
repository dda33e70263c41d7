"""Anthropic's Admin API usage report and cost report, as exported JSON.

Both are pages `{"data": [bucket, ...], "has_more", "next_page"}` (or a list of pages); a bucket is
`{"starting_at", "ending_at", "results": [...]}` in RFC 3339. References:
platform.claude.com/docs/en/api/admin/usage_report (GET /v1/organizations/usage_report/messages)
and platform.claude.com/docs/en/api/admin/cost_report (GET /v1/organizations/cost_report).

Usage results count tokens only: `uncached_input_tokens` already excludes cache reads and writes,
`cache_creation` splits writes by TTL, and there is no request count. Cost results give `amount`
as a decimal string in cents ("123.45" USD is $1.2345). The cost report leaves out Priority Tier
spend, so it can be below the invoice.
"""

from ingest.sources import values as v
from ingest.sources.base import BillSource
from ingest.sources.openai_usage import (
    ORGANIZATION,
    api_cost_row,
    api_usage_row,
    bucket_records,
    buckets_span,
    count,
    exact_amount,
    organization_identity,
    report_organizations,
    result_kinds,
    stable_id,
)
from ingest.sources.usage_base import UsageSource

# What a usage bucket can be grouped by: each is part of the result's identity.
DIMENSIONS = (
    "model",
    "api_key_id",
    "workspace_id",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
    "account_id",
    "service_account_id",
)
USAGE_FIELDS = ("uncached_input_tokens", "cache_read_input_tokens", "cache_creation", "output_tokens")
CACHE_WRITES = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")
COST_TAGS = ("model", "token_type", "cost_type", "service_tier", "context_window", "inference_geo")


def result_kind(result: dict) -> str:
    """'cost' for a cost report result, 'usage' for a usage report result, '' otherwise."""
    if "amount" in result:
        return "cost"
    return "usage" if any(f in result for f in USAGE_FIELDS) else ""


def _bounds(record):
    start = v.timestamp(record, "starting_at", required=True)
    end = v.timestamp(record, "ending_at", required=True, end=True)
    if end <= start:
        raise v.CellError("ending_at", "ending_at must be after starting_at")
    return start, end


def _nested_counts(record, field: str, keys) -> dict | None:
    """The counts `keys` of an object cell such as cache_creation, named `field.key` in errors; None when absent."""
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise v.CellError(field, f"{field} must be an object")
    return {key: count({f"{field}.{key}": value.get(key)}, f"{field}.{key}") for key in keys}


class AnthropicUsageSource(UsageSource):
    name = "anthropic_usage"
    label = "Anthropic usage report (JSON)"
    short_label = "Anthropic usage reports"
    document = True

    @classmethod
    def detect_document(cls, document):
        return result_kinds(document, "starting_at", result_kind) == {"usage"}

    def records(self, document):
        return bucket_records(document, "starting_at", "ending_at")

    def report_span(self, document):
        """The buckets' span, scoped to the organisations the file reports (the messages report is its only one)."""
        span = buckets_span(document, _bounds)
        return None if span is None else (*span, {ORGANIZATION: report_organizations(document)})

    def parse(self, record):
        start, end = _bounds(record)
        writes = _nested_counts(record, "cache_creation", CACHE_WRITES)
        known_writes = [w for w in (writes or {}).values() if w is not None]
        dims = {d: v.text(record, d) for d in DIMENSIONS}
        metadata = {d: value for d, value in dims.items() if value and d != "model"}
        tools = record.get("server_tool_use")
        if isinstance(tools, dict):  # web_search_requests and whatever tools come next: kept as given
            metadata["server_tool_use"] = {k: n for k, n in tools.items() if isinstance(n, int | str)}
        # The report gives no number of calls. request_count cannot be null, and 0 would claim "no
        # calls", so the row counts as one aggregate and says the true count is unknown.
        metadata["request_count_unknown"] = True
        identity = [start.isoformat(), *dims.values(), *organization_identity(record, metadata)]
        metadata["bucket_key"] = stable_id("anthropic-usage", identity)
        return api_usage_row(
            event_id=stable_id("anthropic-usage", [*identity, end.isoformat()]),
            start=start,
            end=end,
            request_count=1,
            provider="anthropic",
            model=dims["model"],
            route=dims["service_tier"],
            # Anthropic's input count already excludes cache reads and writes: nothing to subtract.
            input_tokens=count(record, "uncached_input_tokens"),
            output_tokens=count(record, "output_tokens"),
            cached_input_tokens=count(record, "cache_read_input_tokens"),
            cache_write_tokens=sum(known_writes) if known_writes else None,
            metadata=metadata,
        )


class AnthropicCostSource(BillSource):
    name = "anthropic_costs"
    label = "Anthropic cost report (JSON)"
    short_label = "Anthropic cost reports"
    document = True

    @classmethod
    def detect_document(cls, document):
        """True when every result of the document is a cost report result."""
        return result_kinds(document, "starting_at", result_kind) == {"cost"}

    def records(self, document):
        """(item number, cost result with its bucket's starting_at and ending_at)."""
        return bucket_records(document, "starting_at", "ending_at")

    def parse(self, record):
        start, end = _bounds(record)
        cents = exact_amount(record.get("amount"), "amount")
        if cents is None:
            raise v.CellError("amount", "amount is empty; a cost is required")
        amount = cents.scaleb(-2)  # cents to currency units, exactly: "1234.5" is 12.345
        workspace = v.text(record, "workspace_id")
        tags = {key: v.text(record, key) for key in COST_TAGS if v.text(record, key)}
        if workspace:
            tags["workspace"] = workspace
        return api_cost_row(
            provider="Anthropic",
            account=v.text(record, ORGANIZATION) or "anthropic",
            workspace=workspace,
            start=start,
            end=end,
            description=v.text(record, "description"),
            service="Claude API",
            amount=amount,
            currency=v.text(record, "currency") or self.org_currency,
            tags=tags,
        )
