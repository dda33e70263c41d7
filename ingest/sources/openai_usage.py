"""OpenAI's organisation Usage API and Costs API, as exported JSON.

Both return pages `{"object": "page", "data": [bucket, ...], "has_more", "next_page"}`; a bucket
is `{"start_time", "end_time", "results": [...]}` in Unix seconds (some SDKs and exports say
`result`). A file may hold one page, several pages in a list, or the bare list of buckets (as the
cookbook prints it). Usage results are aggregates (`num_model_requests` calls) and carry no money;
costs results carry `amount {value, currency}` per `line_item` and `project_id`.

Reference: platform.openai.com/docs/api-reference/usage (completions, embeddings, ... and costs).
The report helpers here (`count`, `exact_amount`, `stable_id`, bucket walking) also serve the
Anthropic and LiteLLM sources.
"""

import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

from ingest import limits
from ingest.readers import is_array
from ingest.sources import values as v
from ingest.sources.base import BillSource, cost_row
from ingest.sources.focus import month_start, next_month
from ingest.sources.usage_base import UsageSource

# The model of a bucket not grouped by model: a total across models, which no price fits. A blank
# model would read as missing data; this says what the row is.
UNGROUPED_MODEL = "(all models)"
_WHOLE = re.compile(r"\s*-?\d+\s*")


def count(record, field: str, *, required: bool = False) -> int | None:
    """A token or request count: a non-negative whole number, None when absent (unknown is not 0)."""
    value = record.get(field)
    if value is None or (isinstance(value, str) and v.is_null(value)):
        if required:
            raise v.CellError(field, f"{field} is empty; a whole number is required")
        return None
    whole = (isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value()) or (
        isinstance(value, str) and _WHOLE.fullmatch(value)
    )
    if isinstance(value, bool) or not (isinstance(value, int) or whole):
        raise v.CellError(field, f"{field} must be a whole number, not {str(value)[:30]!r}")
    number = int(value)
    if number < 0:
        raise v.CellError(field, f"{field} must not be negative")
    if number > limits.MAX_TOKENS:
        raise v.CellError(field, f"{field} must be at most {limits.MAX_TOKENS:,}")
    return number


def exact_amount(value, column: str) -> Decimal | None:
    """Money from a JSON report as Decimal (number parsed as Decimal, int or text); None when null.

    A binary float has already lost digits, so it is refused: the importer parses documents
    with `parse_float=Decimal`.
    """
    if isinstance(value, float | bool):
        raise v.CellError(column, f"{column} must be read as an exact decimal, not {type(value).__name__}")
    if isinstance(value, dict | list):
        raise v.CellError(column, f"{column} is not a number")
    return v.decimal({column: value}, column)


def stable_id(prefix: str, parts) -> str:
    """`prefix:` and a 128-bit hash of `parts` (JSON values): the same bucket always gets the same id."""
    digest = hashlib.sha256(json.dumps(parts, separators=(",", ":"), default=str).encode()).hexdigest()
    return f"{prefix}:{digest[:32]}"


def report_buckets(document):
    """An iterator over the time buckets of a report (one page {"data": [...]}, a list of pages, or a list of
    buckets; lists parsed or streamed from the file), or None when the document is none of these."""
    if isinstance(document, dict):
        data = document.get("data")
        return iter(data) if is_array(data) else None
    if not is_array(document):
        return None
    return _page_buckets(document)


def _page_buckets(items):
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("data"), list):
            yield from item["data"]  # several pages exported into one file
        else:
            yield item


def _results(bucket: dict):
    results = bucket.get("results", bucket.get("result"))
    return [] if results is None else results


def result_kinds(document, start_key: str, kind_of) -> set | None:
    """`kind_of(result)` for every result, or None when the document is not buckets keyed by `start_key`."""
    kinds = None
    for bucket in report_buckets(document) or ():
        if not isinstance(bucket, dict) or start_key not in bucket or not isinstance(_results(bucket), list):
            return None
        kinds = kinds or set()
        kinds.update(kind_of(r) if isinstance(r, dict) else "" for r in _results(bucket))
    return kinds


def buckets_span(document, bounds) -> tuple[datetime, datetime] | None:
    """(earliest bucket start, latest bucket end) of a report, buckets without results included; None when a
    bucket is malformed (the row pass reports it) or there is none. `bounds(bucket)` reads one bucket's."""
    first = last = None
    for bucket in report_buckets(document) or ():
        if not isinstance(bucket, dict):
            return None
        try:
            start, end = bounds(bucket)
        except v.CellError:
            return None
        first = start if first is None else min(first, start)
        last = end if last is None else max(last, end)
    return None if first is None else (first, last)


ORGANIZATION = "organization_id"


def report_organizations(document) -> list[str | None]:
    """The organisation ids the results of a report carry (a connector writes its own into each), None for results
    without one: the replacement scope of a usage report, so two organisations' reports never replace each other."""
    found = set()
    for bucket in report_buckets(document) or ():
        results = _results(bucket) if isinstance(bucket, dict) else None
        for result in results if isinstance(results, list) else ():
            if isinstance(result, dict):
                found.add(str(result.get(ORGANIZATION) or "").strip() or None)
    return sorted(found, key=lambda value: value or "")


def organization_identity(record, metadata: dict) -> list[str]:
    """[the result's organisation id] (also kept in metadata) when it has one, else []: ids of results without one
    stay what they were."""
    organization = v.text(record, ORGANIZATION)
    if not organization:
        return []
    metadata[ORGANIZATION] = organization
    return [organization]


def api_cost_row(*, provider, account, workspace, start, end, description, service, amount, currency, tags) -> dict:
    """A cost row of an LLM provider's cost report (OpenAI's Costs API, Anthropic's cost report): one bucket's
    usage-based amount, in the provider's own account and project or workspace."""
    return cost_row(
        provider=provider,
        billing_account_id=account,
        sub_account_id=workspace,  # empty: the default project or workspace
        billing_period_start=month_start(start),
        billing_period_end=next_month(start),
        charge_period_start=start,
        charge_period_end=end,
        charge_category="usage",
        charge_frequency="usage-based",
        charge_description=description,
        service_name=service,
        service_category="AI and Machine Learning",
        billed_cost_amount=amount,
        effective_cost_amount=amount,
        currency=currency.upper(),
        tags=tags,
    )


def api_usage_row(
    *,
    event_id,
    start,
    end,
    request_count,
    provider,
    model,
    route,
    input_tokens,
    output_tokens,
    cached_input_tokens,
    cache_write_tokens,
    metadata,
) -> dict:
    """A usage row of an LLM provider's usage report (OpenAI's Usage API, Anthropic's usage report): one bucket's
    token counts, an aggregate with no attribution and no money (the catalogue prices it)."""
    return {
        "event_id": event_id,
        "occurred_at": start,
        "period_end": end,
        "is_aggregate": True,
        "request_count": request_count,
        "provider": provider,
        "model": model or UNGROUPED_MODEL,
        "route": route,
        "customer": "",
        "feature": "",
        "environment": "",
        "purpose": "",
        "job_id": "",
        "attempt": 1,
        "status": "ok",
        "error_type": "",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": cached_input_tokens,
        "cache_write_tokens": cache_write_tokens,
        "reasoning_tokens": None,
        "latency_ms": None,
        "cost_amount": None,
        "currency": "",
        "metadata": metadata,
    }


def bucket_records(document, start_key: str, end_key: str):
    """(item number, result with its bucket's start and end merged in), numbering results from 1."""
    number = 0
    for bucket in report_buckets(document) or ():
        results = _results(bucket) if isinstance(bucket, dict) else None
        if not isinstance(results, list):
            number += 1
            yield number, {"__error__": "this bucket is not an object with a list of results"}
            continue
        for result in results:
            number += 1
            if not isinstance(result, dict):
                yield number, {"__error__": "this result is not a JSON object"}
                continue
            yield number, {**result, start_key: bucket.get(start_key), end_key: bucket.get(end_key)}


def epoch(record, field: str) -> datetime:
    """A bucket bound in Unix seconds as an aware UTC datetime."""
    value = record.get(field)
    if value is None:
        raise v.CellError(field, f"{field} is empty; a time is required")
    try:
        return datetime.fromtimestamp(count(record, field), UTC)
    except (v.CellError, TypeError, OverflowError, OSError, ValueError):
        raise v.CellError(field, f"{field} must be a time in Unix seconds, not {str(value)[:30]!r}") from None


def _bucket_bounds(record) -> tuple[datetime, datetime]:
    start, end = epoch(record, "start_time"), epoch(record, "end_time")
    if end <= start:
        raise v.CellError("end_time", "end_time must be after start_time")
    return start, end


USAGE_PREFIX, RESULT_SUFFIX = "organization.usage.", ".result"
# Endpoints whose results count model calls; vector stores and code interpreter sessions do not.
MODEL_USAGE = frozenset(
    {"completions", "embeddings", "moderations", "images", "audio_speeches", "audio_transcriptions"}
)
# What a bucket can be grouped by: each is part of the result's identity.
DIMENSIONS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source", "size", "source")
# Reported counts with no column of their own, kept in metadata as given.
EXTRA_COUNTS = (
    "input_audio_tokens",
    "output_audio_tokens",
    "input_cached_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
    "input_cache_write_tokens",
    "input_cache_write_12h_tokens",
    "images",
    "characters",
)
COSTS_OBJECT = "organization.costs.result"


def usage_kind(result: dict) -> str:
    """'completions' for 'organization.usage.completions.result'; '' for anything else."""
    name = str(result.get("object") or "")
    if name.startswith(USAGE_PREFIX) and name.endswith(RESULT_SUFFIX):
        return name[len(USAGE_PREFIX) : -len(RESULT_SUFFIX)]
    return ""


class OpenAIUsageSource(UsageSource):
    name = "openai_usage"
    label = "OpenAI Usage API export (JSON)"
    short_label = "OpenAI usage reports"
    document = True

    @classmethod
    def detect_document(cls, document):
        kinds = result_kinds(document, "start_time", usage_kind)
        return bool(kinds) and kinds <= MODEL_USAGE

    def records(self, document):
        return bucket_records(document, "start_time", "end_time")

    def report_span(self, document):
        """The buckets' span, scoped to the endpoints and organisations the file reports: a completions export leaves
        embeddings be, and one organisation's report another's."""
        span, kinds = buckets_span(document, _bucket_bounds), result_kinds(document, "start_time", usage_kind)
        if span is None or not kinds:
            return None
        return (*span, {"usage_type": sorted(kinds), ORGANIZATION: report_organizations(document)})

    def parse(self, record):
        kind = usage_kind(record)
        if kind not in MODEL_USAGE:
            raise v.CellError(
                "object",
                f"{v.text(record, 'object') or 'a result without object'} is not model usage; "
                "export completions, embeddings, moderations, images or audio usage",
            )
        start, end = _bucket_bounds(record)
        batch = record.get("batch")
        if batch is not None and not isinstance(batch, bool):
            raise v.CellError("batch", "batch must be true, false or null")
        # OpenAI's input_tokens include cache reads and, where reported, cache writes: take both out.
        total_input, cached = count(record, "input_tokens"), count(record, "input_cached_tokens")
        writes = [count(record, f) for f in ("input_cache_write_tokens", "input_cache_write_12h_tokens")]
        cache_write = None if writes == [None, None] else sum(w or 0 for w in writes)
        input_tokens = None
        if total_input is not None:
            input_tokens = total_input - (cached or 0) - (cache_write or 0)
            if input_tokens < 0:
                raise v.CellError("input_cached_tokens", "cached and cache-write tokens exceed input_tokens")
        dims = {d: batch if d == "batch" else v.text(record, d) for d in DIMENSIONS}
        metadata = {d: value for d, value in dims.items() if value not in ("", None) and d != "model"}
        metadata.update({f: count(record, f) for f in EXTRA_COUNTS if record.get(f) is not None})
        seconds = exact_amount(record.get("seconds"), "seconds")
        if seconds is not None:
            metadata["seconds"] = str(seconds)
        metadata["usage_type"] = kind
        identity = [int(start.timestamp()), kind, *dims.values(), *organization_identity(record, metadata)]
        # A bucket exported before it closed ends at the export time; the same bucket exported later
        # ends elsewhere and gets another event_id. bucket_key (no end) lets the importer see that.
        metadata["bucket_key"] = stable_id("openai-usage", identity)
        return api_usage_row(
            event_id=stable_id("openai-usage", [*identity, int(end.timestamp())]),
            start=start,
            end=end,
            request_count=count(record, "num_model_requests", required=True),
            provider="openai",
            model=dims["model"],
            route="batch" if batch else "",
            input_tokens=input_tokens,
            output_tokens=count(record, "output_tokens"),
            cached_input_tokens=cached,
            cache_write_tokens=cache_write,
            metadata=metadata,
        )


class OpenAICostsSource(BillSource):
    name = "openai_costs"
    label = "OpenAI Costs API export (JSON)"
    short_label = "OpenAI cost reports"
    document = True
    currency_column = "amount.currency"

    @classmethod
    def detect_document(cls, document):
        """True when every result of the document is a costs result."""
        kinds = result_kinds(document, "start_time", lambda r: str(r.get("object") or ""))
        return bool(kinds) and kinds == {COSTS_OBJECT}

    def records(self, document):
        """(item number, cost result with its bucket's start_time and end_time)."""
        return bucket_records(document, "start_time", "end_time")

    def parse(self, record):
        name = v.text(record, "object")
        if name and name != COSTS_OBJECT:
            raise v.CellError("object", f"{name} is not a costs result")
        start, end = _bucket_bounds(record)
        amount = record.get("amount")
        if not isinstance(amount, dict):
            raise v.CellError("amount", "amount must be an object with value and currency")
        value = exact_amount(amount.get("value"), "amount.value")
        if value is None:
            raise v.CellError("amount.value", "amount.value is empty; a cost is required")
        project = v.text(record, "project_id")
        tags = {"project": project} if project else {}
        if v.text(record, "api_key_id"):
            tags["api_key_id"] = v.text(record, "api_key_id")
        return api_cost_row(
            provider="OpenAI",
            account=v.text(record, "organization_id") or "openai",
            workspace=project,
            start=start,
            end=end,
            description=v.text(record, "line_item"),
            service="OpenAI API",
            amount=value,
            currency=v.text(amount, "currency") or self.org_currency,
            tags=tags,
        )
