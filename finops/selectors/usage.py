"""The LLM usage page of a period: the usage ledger's calls, tokens (input, cached, output), priced cost, unpriced
calls, errors and retry attempts by model, provider, feature and customer, and day by day; the totals are the usage
summary's own (the API's GET /api/v1/usage/summary/)."""

from collections import defaultdict
from datetime import UTC, date, timedelta

from django.db.models import Q, Sum
from django.db.models.functions import TruncDate

from accounts.read_cache import ECONOMICS, LEDGER, cached_read
from ingest.models import UsageEvent
from ingest.periods import as_utc_bounds
from ingest.selectors import usage_event_list, usage_summary

MEASURES = ("calls", "input_tokens", "cached_input_tokens", "output_tokens", "unpriced_calls", "errors", "retries")
DIMENSIONS = ("model", "provider", "feature", "customer")
TREND_DAYS_MAX = 400  # a longer period's trend shows only the days with calls


@cached_read(LEDGER, ECONOMICS)
def usage_page(*, org, start: date, end: date) -> dict:
    """For the days [start, end): the usage summary (totals, jobs, retries, unpriced models), and per model,
    provider, feature and customer (largest cost first, then most calls) and per day: calls, tokens, priced cost in
    the org's currency (None when none of its calls has a price: unpriced, never 0), unpriced calls, errors and
    retry attempts (calls after a job's first attempt). One GROUP BY over the period's calls."""
    since, until = as_utc_bounds(start, end)
    priced = Q(cost_source__in=(UsageEvent.CostSource.REPORTED, UsageEvent.CostSource.CATALOGUE), currency=org.currency)
    rows = (
        usage_event_list(org=org)
        .filter(occurred_at__gte=since, occurred_at__lt=until)
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("day", "provider", "model", "feature", "customer")
        .annotate(
            calls=Sum("request_count"),
            input_tokens=Sum("input_tokens"),
            cached_input_tokens=Sum("cached_input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost=Sum("cost_amount", filter=priced),
            unpriced_calls=Sum("request_count", filter=Q(cost_source=UsageEvent.CostSource.UNPRICED)),
            errors=Sum("request_count", filter=~Q(status="ok")),
            retries=Sum("request_count", filter=Q(attempt__gt=1)),
        )
        .order_by()
    )
    tables = {name: defaultdict(_empty) for name in (*DIMENSIONS, "day")}
    for r in rows:
        keys = {"model": (r["provider"], r["model"]), "provider": r["provider"], "feature": r["feature"],
                "customer": r["customer"], "day": r["day"]}  # fmt: skip
        for name, key in keys.items():
            _add(tables[name][key], r)
    result = {"summary": usage_summary(org=org, start=since, end=until)}
    for name in DIMENSIONS:
        ranked = sorted(tables[name].items(), key=lambda kv: (kv[1]["cost"] is None, -(kv[1]["cost"] or 0),
                                                              -kv[1]["calls"], str(kv[0])))  # fmt: skip
        result[name] = [{**_names(name, key), **sums} for key, sums in ranked]
    result["daily"] = _days(tables["day"], start, end)
    result["totals"] = _empty()
    for sums in tables["provider"].values():
        _add(result["totals"], sums)
    return result


def _empty() -> dict:
    return {"cost": None, **dict.fromkeys(MEASURES, 0)}


def _add(sums: dict, row: dict) -> None:
    for measure in MEASURES:
        sums[measure] += row[measure] or 0
    if row["cost"] is not None:
        sums["cost"] = row["cost"] + (sums["cost"] or 0)


def _names(name: str, key) -> dict:
    if name == "model":
        return {"provider": key[0], "model": key[1]}
    return {name: key}


def _days(days: dict, start: date, end: date) -> list[dict]:
    """Every day of [start, end) (only the days with calls when the period is long), oldest first."""
    wanted = set(days)
    if (end - start).days <= TREND_DAYS_MAX:
        wanted |= {start + timedelta(days=n) for n in range((end - start).days)}
    return [{"day": day, **(days[day] if day in days else _empty())} for day in sorted(wanted)]
