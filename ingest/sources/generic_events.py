"""The generic usage format: one model call per CSV row or JSON line, and the objects of the live
`POST /api/v1/usage-events/` endpoint. Field reference: docs/usage-events.md.

One parser serves both paths, so a file and the API accept and refuse exactly the same events.
"""

import json
import re
from decimal import Decimal

from ingest import limits
from ingest.sources import values as v
from ingest.sources.usage_base import PURPOSES, UsageSource

REQUIRED = ("event_id", "timestamp", "provider", "model")
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens")
TEXT_FIELDS = {"customer": 200, "feature": 200, "environment": 100, "route": 200, "job_id": 200, "error_type": 200}
KNOWN_FIELDS = frozenset(
    (
        *REQUIRED,
        *TOKEN_FIELDS,
        *TEXT_FIELDS,
        "purpose",
        "attempt",
        "status",
        "cost",
        "currency",
        "metadata",
        "latency_ms",
    )
)
ZONED = re.compile(r"(Z|z|[+-]\d{2}:?\d{2})$")


def _required_text(record, field, max_length):
    value = v.text(record, field)
    if not value:
        raise v.CellError(field, f"{field} is required")
    if len(value) > max_length:
        raise v.CellError(field, f"{field} is longer than {max_length} characters")
    return value


def _count(record, field, minimum=0, maximum=limits.MAX_TOKENS):
    value = record.get(field)
    if value is None or (isinstance(value, str) and v.is_null(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            text = str(value).strip()
            if not re.fullmatch(r"-?\d+", text):
                raise ValueError
            value = int(text)
        except ValueError:
            raise v.CellError(field, f"{field} must be a whole number, not {str(value)[:30]!r}") from None
    if value < minimum:
        raise v.CellError(field, f"{field} must be at least {minimum}")
    if value > maximum:
        raise v.CellError(field, f"{field} must be at most {maximum:,}")
    return value


def parse_event(record, org_currency: str) -> dict:
    """One generic event as a normalised usage row; CellError(field, message) on the first bad field."""
    event_id = _required_text(record, "event_id", 200)
    raw_time = record.get("timestamp")
    if not isinstance(raw_time, str) or not ZONED.search(raw_time.strip()):
        raise v.CellError("timestamp", "timestamp must be ISO 8601 with a time zone, e.g. 2026-11-02T10:00:00Z")
    occurred_at = v.timestamp(record, "timestamp", required=True)
    purpose = v.text(record, "purpose").lower()
    if purpose and purpose not in PURPOSES:
        raise v.CellError("purpose", f"purpose must be one of {', '.join(PURPOSES)}")
    status = (v.text(record, "status") or "ok").lower()
    if status not in ("ok", "error"):
        raise v.CellError("status", "status must be ok or error")
    cost = v.decimal(record, "cost", limit=limits.MAX_USAGE_COST)
    currency = v.text(record, "currency").upper()
    if currency and (len(currency) != 3 or not currency.isalpha()):
        raise v.CellError("currency", "currency must be a three-letter ISO 4217 code")
    metadata = record.get("metadata")
    if isinstance(metadata, str) and metadata.strip():
        try:
            metadata = json.loads(metadata)
        except (ValueError, RecursionError):
            raise v.CellError("metadata", "metadata must be a JSON object") from None
    if metadata in (None, ""):
        metadata = {}
    if not isinstance(metadata, dict):
        raise v.CellError("metadata", "metadata must be a JSON object")
    try:
        limits.json_check(metadata)
    except limits.LimitError as exc:
        raise v.CellError("metadata", f"metadata {exc}") from None
    row = {
        "event_id": event_id,
        "occurred_at": occurred_at,
        "period_end": None,
        "is_aggregate": False,
        "request_count": 1,
        "provider": _required_text(record, "provider", 100).lower(),
        "model": _required_text(record, "model", 200),
        "purpose": purpose,
        "job_id": "",
        "attempt": _count(record, "attempt", minimum=1, maximum=limits.MAX_INT32) or 1,
        "status": status,
        "latency_ms": _count(record, "latency_ms", maximum=limits.MAX_INT32),
        "cost_amount": cost,
        "currency": (currency or org_currency) if cost is not None else "",
        "metadata": metadata,
    }
    for field, max_length in TEXT_FIELDS.items():
        value = v.text(record, field)
        if len(value) > max_length:
            raise v.CellError(field, f"{field} is longer than {max_length} characters")
        row[field] = value
    for field in TOKEN_FIELDS:
        row[field] = _count(record, field)
    if cost is not None and cost < Decimal(0):
        raise v.CellError("cost", "cost must not be negative")
    return row


class GenericEventsSource(UsageSource):
    name = "generic_events"
    label = "Generic usage events (CSV or JSON lines)"
    short_label = "a generic CSV/JSONL"
    required_columns = REQUIRED

    @classmethod
    def detect(cls, columns):
        return all(c in columns for c in REQUIRED)

    def parse(self, record):
        return parse_event(record, self.org_currency)
