"""The one shape of a usage (LLM call) source plug-in.

Like bill sources (`base.py`): `detect` recognises the format, `parse(record)` returns one
normalised usage row (keys USAGE_ROW_FIELDS) or None, bad cells raise `values.CellError`.
Formats that are one JSON document rather than a table (OpenAI and Anthropic report pages)
set `document = True`, recognise the parsed document with `detect_document(doc)` and list its
records with `records(doc)`, yielding (item number, record) pairs.

Normalised meaning, whatever the provider says: `input_tokens` EXCLUDES cached input (OpenAI
counts cached tokens inside input_tokens: subtract them); `cached_input_tokens` are cache reads,
`cache_write_tokens` cache writes; a token count the source does not give is None, not 0.
`cost_amount` is a Decimal only when the provider or gateway reported it (cost_source then
"reported"), else None (the price catalogue fills it later or it stays unpriced).
Aggregate rows (a bucket of N calls) set `is_aggregate` True and `request_count` N.
`event_id` must be stable: the same call (or bucket) read twice gives the same id, so a re-import
changes nothing. Sources without ids derive one from the row's identifying fields.
"""

from typing import ClassVar

from ingest.sources.base import BillSource

USAGE_ROW_FIELDS = (
    "event_id",
    "occurred_at",
    "period_end",
    "is_aggregate",
    "request_count",
    "provider",
    "model",
    "route",
    "customer",
    "feature",
    "environment",
    "purpose",
    "job_id",
    "attempt",
    "status",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "latency_ms",
    "cost_amount",
    "currency",
    "metadata",
)
PURPOSES = ("inference", "evaluation", "training", "research")


class UsageSource(BillSource):
    """Base class of usage sources (same constructor, detect, required_columns and parse as bills)."""

    kind: ClassVar[str] = "usage"

    def report_span(self, document):
        """For a provider's usage report (aggregates over buckets of time, not single calls): (start, end, scope).

        A report delivered again for a span of time replaces what earlier uploads of the same format held in
        that span, so a day the provider restated counts its new numbers, not both; `scope` ({metadata key:
        values}, None among the values for rows without the key) narrows the rows replaced to those of the same
        report. None (the default) for sources of
        single events: those keep the event_id dedupe, so a re-sent file or batch changes nothing."""
        return None
