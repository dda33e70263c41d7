"""The cost explorer: a period's rollup cost grouped by one or two dimensions and filtered by any of them, with the
previous period of the same length beside it; and the source rows behind a group (bill lines, model calls,
GPU-hours), cursor-paginated.

Groups are read from Rollup rows only (one GROUP BY per read); the source rows are found through the filtered rollup
rows: bill lines by their `cost_line_ids`, calls by the dimensions they share with the rollup, GPU-hours by host."""

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from math import inf
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DecimalField,
    F,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL

from accounts.read_cache import ECONOMICS, cached_read
from finops.models import ROLLUP_TOKENS, Rollup, RollupLineRun, epoch_microseconds, rollup_token
from finops.selectors.grouping import as_day
from ingest.models import CostLine, GpuHour, UsageEvent
from ingest.services.tally import MAX_DAYS_PER_LINE

ZERO = Decimal(0)
EMPTY = "(none)"  # how an empty dimension value is shown, and how a filter asks for it ("is empty")
MAX_GROUP_BY = 2
LINES_PAGE = 100
LINES_PAGE_MAX = 1000

# The explorer's dimension -> the Rollup column (or annotation) it reads.
DIMENSIONS = {
    "provider": "provider",
    "service": "service",  # a bill line's service ('' for calls and agent-measured GPU time)
    "resource": "resource",  # a bill line's resource id (or name)
    "host": "host",
    "customer": "customer",
    "plan": "plan",
    "feature": "feature",
    "model": "model",
    "route": "route",
    "environment": "environment",
    "owner": "owner",
    "bucket": "bucket",
    "label": "label",
    "source": "source_kind",
    "origin": "source",  # the rollup's own source (gpu_bill, cloud_shared, api_gap, no_rate, ...): finer than `source`
}
SOURCE_ALIASES = {"api_calls": "api_call", "bill_lines": "bill_line"}  # the rollup's names, as other pages link
SOURCE_KINDS = ("bill_line", "api_call", "gpu_time", "idle", "unmeasured", "unattributed")
# Rollup sources of allocated cost that are agent-measured GPU time, and model calls; the rest are bill lines.
GPU_TIME_SOURCES = ("gpu_bill", "gpu_rate")
CALL_SOURCES = ("api_calls",)
# Dimensions a model call carries itself; the others are matched through its rollup row.
CALL_FIELDS = ("provider", "model", "route", "customer", "feature", "environment")
# Dimensions the rollup rows of calls leave empty (the SQL rollup writes them ''): a filter on a value of one of
# them finds no call.
NOT_ON_CALLS = ("host", "owner", "service", "resource")
SEPARATOR = "\x1f"  # between the parts of a call's slice key (no dimension value holds it)
LINE_KINDS = ("bill_line", "usage_event", "gpu_hour")


class ExploreError(ValueError):
    """A request the explorer cannot answer: `field` and the message say why."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class Query:
    """What to explore: the grouping (at most two dimensions) and filters {dimension: (values, '' = is empty)}."""

    group_by: tuple = ()
    filters: dict = field(default_factory=dict)


def explore_query(params) -> Query:
    """The grouping and filters of query parameters (`group_by=a,b`, `<dimension>=v1,v2`, `(none)` for empty), or
    ExploreError."""
    group_by = tuple(g.strip() for g in _values(params, "group_by") if g.strip())
    for name in group_by:
        _check_dimension(name, "group_by")
    if len(group_by) > MAX_GROUP_BY:
        raise ExploreError("group_by", f"Group by one or two dimensions, not {len(group_by)}.")
    if len(set(group_by)) != len(group_by):
        raise ExploreError("group_by", "Group by two different dimensions.")
    filters = {}
    for name in DIMENSIONS:
        if name not in params:
            continue
        _check_dimension(name, name)
        values = tuple(dict.fromkeys("" if v.strip() == EMPTY else v.strip() for v in _values(params, name)))
        if any("\x00" in v for v in values):
            raise ExploreError(name, "A value cannot hold a NUL character.")
        if name == "source":
            values = tuple(dict.fromkeys(SOURCE_ALIASES.get(v, v) for v in values))
        if name == "source":
            unknown = [v for v in values if v not in SOURCE_KINDS]
            if unknown:
                raise ExploreError("source", f"Unknown source {unknown[0]!r}: one of {', '.join(SOURCE_KINDS)}.")
        if values:
            filters[name] = values
    return Query(group_by=group_by, filters=filters)


def _values(params, name) -> list[str]:
    """A parameter's values, repeated or comma-separated."""
    getlist = getattr(params, "getlist", None)
    raw = getlist(name) if getlist else params.get(name, [])
    raw = [raw] if isinstance(raw, str) else raw
    return [v for text in raw for v in str(text).split(",")]


def _check_dimension(name: str, field_name: str) -> None:
    if name not in DIMENSIONS:
        raise ExploreError(field_name, f"Unknown dimension {name!r}: one of {', '.join(DIMENSIONS)}.")


def _source_kind():
    """Which of SOURCE_KINDS a rollup row is, as an SQL expression."""
    return Case(
        When(~Q(kind="allocated"), then=F("kind")),
        When(source__in=CALL_SOURCES, then=Value("api_call")),
        When(source__in=GPU_TIME_SOURCES, then=Value("gpu_time")),
        default=Value("bill_line"),
        output_field=CharField(),
    )


def _rollups(*, org, start: date, end: date, query: Query, any_currency: bool = False):
    """The org's rollup rows in its currency (or in any, for calls: a call is listed in its own) for [start, end),
    filtered by `query`."""
    rows = Rollup.objects.for_org(org).filter(day__gte=start, day__lt=end)
    if not any_currency:
        rows = rows.filter(currency=org.currency)
    rows = rows.annotate(source_kind=_source_kind())
    for name, values in query.filters.items():
        rows = rows.filter(**{f"{DIMENSIONS[name]}__in": values})
        if connection.vendor == "postgresql" and name not in BROAD:
            rows = rows.filter(_tokens_of(org, name, values) or Q())
    return rows


# Dimensions of a few values each, whose one value is held by a large share of a period's rows: their rows are read
# by day, not looked up by token (a bitmap of a third of every day's rows costs more than the days' rows).
BROAD = ("bucket", "label", "environment", "provider", "origin")
# The tokens (finops.models.ROLLUP_TOKENS) of the rows of the source kinds that are a small share of a day's rows
# (bill lines and calls are most of them, read by day).
SOURCE_KIND_TOKENS = {"gpu_time": tuple(("source", s) for s in GPU_TIME_SOURCES), "idle": (("kind", "idle"),),
                      "unmeasured": (("kind", "unmeasured"),), "unattributed": (("kind", "unattributed"),)}  # fmt: skip


def _tokens_of(org, name: str, values) -> Q | None:
    """The filter `name` in `values` again as tokens its rows hold (one holds any of them): what the GIN index of
    rollup rows by their tokens answers, so the planner reads only the filter's rows of a period (None for source
    kinds that are most rows)."""
    if name == "source":
        if any(value not in SOURCE_KIND_TOKENS for value in values):
            return None
        pairs = [pair for value in values for pair in SOURCE_KIND_TOKENS[value]]
    else:
        pairs = [(DIMENSIONS[name], value) for value in values]
    tokens = sorted({rollup_token(org.pk, column, value) for column, value in pairs})
    return Q(RawSQL(f"{ROLLUP_TOKENS} && %s::text[]", [tokens], output_field=BooleanField()))  # noqa: S611 - bound


def _previous_start(start: date, end: date) -> date:
    return start - (end - start)


def _plain(query: Query) -> dict:
    """The query as plain values, the key of a cached read (accounts/read_cache.py)."""
    return {"group_by": query.group_by, "filters": tuple(sorted(query.filters.items()))}


def explore_groups(*, org, start: date, end: date, query: Query) -> dict:
    """{currency, total, previous_total, change, groups: [{dimension values, amount, previous, change,
    unpriced_calls}]} of [start, end) against the period of the same length before it: one GROUP BY on Rollup,
    kept under the economics version. Groups are the ones with cost in the period, largest first; empty values are
    EMPTY."""
    return _explore_groups(org=org, start=start, end=end, **_plain(query))


@cached_read(ECONOMICS)
def _explore_groups(*, org, start: date, end: date, group_by: tuple, filters: tuple) -> dict:
    query = Query(group_by=group_by, filters=dict(filters))
    before = _previous_start(start, end)
    columns = [DIMENSIONS[name] for name in query.group_by]
    money = DecimalField(max_digits=30, decimal_places=10)
    sums = {
        "amount": Sum(Case(When(day__gte=start, then=F("cost_amount")), output_field=money)),
        "previous": Sum(Case(When(day__lt=start, then=F("cost_amount")), output_field=money)),
        "unpriced": Sum(Case(When(day__gte=start, then=F("unpriced_calls")), default=0)),
    }
    rows = _rollups(org=org, start=before, end=end, query=query)
    # The total only is one row: values() of no column would group by every column.
    rows = rows.values(*columns).annotate(**sums).order_by() if columns else [rows.aggregate(**sums)]
    groups, total, previous_total, has_previous = [], ZERO, ZERO, False
    for row in rows:
        previous = row["previous"]
        if previous is not None:
            previous_total += previous
            has_previous = True
        if row["amount"] is None:
            continue  # only in the previous period
        total += row["amount"]
        group = {name: row[DIMENSIONS[name]] or EMPTY for name in query.group_by}
        group.update(amount=row["amount"], previous=previous, change=_change(row["amount"], previous),
                     unpriced_calls=int(row["unpriced"] or 0))  # fmt: skip
        groups.append(group)
    groups.sort(key=lambda g: (-g["amount"], *(g[n] for n in query.group_by)))
    has_rows = bool(groups)
    previous_total = previous_total if has_previous else None
    return {
        "currency": org.currency,
        "total": total if has_rows else None,
        "previous_total": previous_total,
        "change": _change(total, previous_total) if has_rows else None,
        "previous_start": before,
        "previous_end": start,
        "groups": groups,
    }


def _change(amount, previous):
    """The relative change against `previous`; None where it is unknown or zero."""
    if amount is None or not previous:
        return None
    return (amount - previous) / abs(previous)


def explore_series(*, org, start: date, end: date, query: Query, by_week: bool) -> dict:
    """{day or week start: {first dimension's value: amount}} of [start, end) for the stacked chart, kept under the
    economics version."""
    return _explore_series(org=org, start=start, end=end, by_week=by_week, **_plain(query))


@cached_read(ECONOMICS)
def _explore_series(*, org, start: date, end: date, group_by: tuple, filters: tuple, by_week: bool) -> dict:
    query = Query(group_by=group_by, filters=dict(filters))
    columns = [DIMENSIONS[query.group_by[0]]] if query.group_by else []
    rows = (
        _rollups(org=org, start=start, end=end, query=query)
        .values("day", *columns)
        .annotate(amount=Sum("cost_amount"))
        .order_by()
    )
    series = {}
    for row in rows:
        day = as_day(row["day"])
        if by_week:
            day -= timedelta(days=day.weekday())
        name = (row[columns[0]] or EMPTY) if columns else "Total"
        bucket = series.setdefault(day, {})
        bucket[name] = bucket.get(name, ZERO) + row["amount"]
    return dict(sorted(series.items()))


# --- Source rows ---


@dataclass(frozen=True)
class Cursor:
    """Where a page of lines ends: the last row's moment, kind and id (rows are ordered by all three)."""

    at: datetime
    kind: str
    id: int

    def encode(self) -> str:
        text = json.dumps([self.at.isoformat(), self.kind, self.id])
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            at, kind, pk = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            cursor = cls(datetime.fromisoformat(at), kind, int(pk))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise ExploreError("cursor", "Unknown cursor: pass the `next` of the previous page.") from exc
        if cursor.kind not in LINE_KINDS or cursor.at.tzinfo is None:
            raise ExploreError("cursor", "Unknown cursor: pass the `next` of the previous page.")
        return cursor


def _after(cursor: Cursor | None, kind: str, at_field: str, id_field: str = "id") -> Q:
    """The rows of one kind after `cursor` in (moment, kind, id) order."""
    if cursor is None:
        return Q()
    rank, mine = LINE_KINDS.index(cursor.kind), LINE_KINDS.index(kind)
    if mine > rank:
        return Q(**{f"{at_field}__gte": cursor.at})
    if mine < rank:
        return Q(**{f"{at_field}__gt": cursor.at})
    return Q(**{f"{at_field}__gt": cursor.at}) | Q(**{at_field: cursor.at, f"{id_field}__gt": cursor.id})


def _wants(query: Query, *kinds) -> bool:
    sources = query.filters.get("source")
    return sources is None or any(k in sources for k in kinds)


def _bill_lines(*, org, start, end, query: Query, lookups: bool = False):
    """The bill lines behind the filtered rollup rows (each once), through their `cost_line_ids`. With `lookups`
    (PostgreSQL), the ids are gathered once into an array whose lines are looked up by key: the plan does not rest
    on the planner's guess of how many ids the rows name (a guess of one row, before statistics, made it expand
    every row's ids again for each line of the window)."""
    rollups = _rollups(org=org, start=start, end=end, query=query).filter(cost_line_count__gt=0)
    sql, params = rollups.values("cost_line_ids").query.sql_with_params()
    if connection.vendor == "postgresql":
        ids = f"SELECT (jsonb_array_elements_text(r.cost_line_ids))::bigint FROM ({sql}) r"  # noqa: S608 - ORM SQL
    else:
        ids = f"SELECT CAST(j.value AS INTEGER) FROM ({sql}) r, json_each(r.cost_line_ids) j"  # noqa: S608 - ORM SQL
    lines = CostLine.objects.for_org(org)
    if lookups:
        named = RawSQL(f"ingest_costline.id = ANY(ARRAY({ids}))", params, output_field=BooleanField())  # noqa: S611
        return lines.filter(Q(named))
    return lines.filter(id__in=RawSQL(ids, params))  # noqa: S611 - params bound


def _call_filters(query: Query) -> tuple[Q, bool]:
    """Filters on a model call's own fields, and whether others (plan, bucket, label, owner, host) need its rollup."""
    own = Q()
    for name, values in query.filters.items():
        if name in CALL_FIELDS:
            own &= Q(**{f"{name}__in": values})
    return own, any(name not in CALL_FIELDS and name != "source" for name in query.filters)


def _on_calls(query: Query) -> bool:
    """Whether calls can be among the rows `query` filters: not where it asks for other kinds of source only, or
    for a value of a dimension the rollup rows of calls leave empty."""
    return _wants(query, "api_call") and not any(name in NOT_ON_CALLS and "" not in values
                                                 for name, values in query.filters.items())  # fmt: skip


def _usage_events(*, org, start, end, query: Query):
    """The model calls behind the filtered rollup rows: by their own fields, and through a rollup row of their day
    where the filters name dimensions a call does not carry."""
    if not _on_calls(query):
        return UsageEvent.objects.none()
    since, until = datetime.combine(start, datetime.min.time(), UTC), datetime.combine(end, datetime.min.time(), UTC)
    own, through_rollup = _call_filters(query)
    events = UsageEvent.objects.for_org(org).filter(own, occurred_at__gte=since, occurred_at__lt=until)
    if through_rollup:
        events = events.filter(_call_slices(org=org, start=start, end=end, query=query))
    return events


def _call_slices(*, org, start, end, query: Query) -> Q:
    """Calls whose (day, provider, model, route, customer, feature, environment) is one of the filtered rollup rows':
    the rows are read first (a few thousand slices at most), then matched as one array (a hashed lookup)."""
    rollups = _rollups(org=org, start=start, end=end, query=query, any_currency=True).filter(source__in=CALL_SOURCES)
    if connection.vendor != "postgresql":
        sql, params = rollups.values("day", *CALL_FIELDS).query.sql_with_params()
        match = f"(date(occurred_at), {', '.join(CALL_FIELDS)}) IN (SELECT * FROM ({sql}) r)"  # noqa: S608 - ORM SQL
        return Q(RawSQL(match, params, output_field=BooleanField()))  # noqa: S611 - params bound
    slices = rollups.values_list("day", *CALL_FIELDS).distinct().order_by()
    keys = sorted({SEPARATOR.join([as_day(day).isoformat(), *rest]) for day, *rest in slices})
    if not keys:
        return Q(pk__in=[])
    columns = ", ".join(CALL_FIELDS)
    match = f"concat_ws(chr(31), ((occurred_at AT TIME ZONE 'UTC')::date)::text, {columns}) = ANY(%s)"
    return Q(RawSQL(match, [keys], output_field=BooleanField()))  # noqa: S611 - params bound


def _gpu_hours(*, org, start, end, query: Query):
    """The GPU-hours of the period on the filtered hosts (only where the filters are about hosts: a GPU-hour is not
    split by customer, feature or model)."""
    about_hosts = {"host", "owner", "provider", "source"}
    if not _wants(query, "gpu_time", "idle") or any(n not in about_hosts for n in query.filters):
        return GpuHour.objects.none()
    since, until = datetime.combine(start, datetime.min.time(), UTC), datetime.combine(end, datetime.min.time(), UTC)
    hours = GpuHour.objects.for_org(org).filter(hour__gte=since, hour__lt=until)
    for name, column in (
        ("host", "gpu__host__name"),
        ("owner", "gpu__host__owner"),
        ("provider", "gpu__host__provider"),
    ):
        if name in query.filters:
            hours = hours.filter(**{f"{column}__in": query.filters[name]})
    return hours


BILL_LINE_COLUMNS = ("id", "charge_period_start", "billed_cost_amount", "currency", "provider", "service_name",
                     "resource_id", "resource_name", "customer", "feature", "environment", "consumed_quantity",
                     "consumed_unit", "source_row", "upload__code", "upload__original_name")  # fmt: skip
CALL_COLUMNS = ("id", "occurred_at", "cost_amount", "currency", "provider", "model", "customer", "feature",
                "environment", "input_tokens", "output_tokens", "source_row", "upload__code",
                "upload__original_name")  # fmt: skip
HOUR_COLUMNS = ("id", "hour", "busy_seconds", "idle_seconds", "gpu__name", "gpu__host__name", "gpu__host__provider")


def _bill_lines_page(*, org, start, end, query: Query, cursor: Cursor | None, limit: int) -> list:
    """The first `limit + 1` bill lines after `cursor` in (start, id) order: unfiltered, from the lines the rollups
    name in page order (RollupLineRun); filtered, through the filtered rollup rows' ids (_filtered_lines_page)."""
    if not query.filters:
        return _named_lines_page(org=org, start=start, end=end, cursor=cursor, limit=limit)
    return _filtered_lines_page(org=org, start=start, end=end, query=query, cursor=cursor, limit=limit)


def _named_lines_page(*, org, start, end, cursor: Cursor | None, limit: int) -> list:
    """The first `limit + 1` lines the period's rollup rows (in the org's currency) name, after `cursor`: the same
    lines as expanding every row's `cost_line_ids`, read from the days' runs of named lines (RollupLineRun). The runs
    of lines named on their own start day are in page order by their last line: the first runs ending after the
    cursor hold the page (a run or two; more where days have few lines). The lines named on a later day of the
    period (those that run into it: a month's fee, a line from before the period) are in runs of their own, few,
    read per day and merged."""
    since, until = (datetime.combine(d, datetime.min.time(), UTC) for d in (start, end))
    after = _line_key_after(cursor)
    runs = RollupLineRun.objects.for_org(org).filter(currency=org.currency)
    own = runs.filter(_after(cursor, "bill_line", "last_at", "last_line_id"), started_before=False,
                      last_at__gte=since, last_at__lt=until)  # fmt: skip
    carried = Q(started_before=True, day__gte=start, day__lt=end)
    read = runs.filter(Q(pk__in=_runs_of_a_page(own, limit)) | carried).values_list("lines", flat=True)
    keys = {tuple(key) for lines in read for key in lines if tuple(key) > after}
    ids = [line_id for _, line_id in sorted(keys)[: limit + 1]]
    lines = CostLine.objects.for_org(org).filter(id__in=ids).values(*BILL_LINE_COLUMNS)
    return sorted(lines, key=itemgetter("charge_period_start", "id"))


def _runs_of_a_page(runs, limit: int) -> list[int]:
    """The ids of the first runs that hold `limit + 1` lines after the cursor: the first run holds at least one (its
    last line is after it), each other run only lines after it."""
    needed, held = [], 0
    for pk, size in runs.order_by("last_at", "last_line_id").values_list("id", "size")[: limit + 2]:
        if needed and held > limit:
            break
        needed.append(pk)
        held += size if len(needed) > 1 else 1
    return needed


def _line_key_after(cursor: Cursor | None) -> tuple:
    """The (start in microseconds, id) that a bill line's key must be above to come after `cursor` (bill lines come
    first at a moment: after another kind's cursor, the lines of its moment are behind it)."""
    if cursor is None:
        return (-inf, -inf)
    return (epoch_microseconds(cursor.at), cursor.id if cursor.kind == "bill_line" else inf)


def _filtered_lines_page(*, org, start, end, query: Query, cursor: Cursor | None, limit: int) -> list:
    """The first `limit + 1` bill lines after `cursor` in (start, id) order, reading the rollups of as few days as
    answer it: a day's rollup rows name every line that starts that day (and the period's first day's, every line
    that runs into it), so the lines starting before the end of a window of days are all among the window's. The
    window starts at the cursor's day and ends after the day where the rollups have named a page of lines (counted
    first, from the rollups alone); a page costs the lines of a few days, not the expansion of every line of the
    period. Were the count high (a line named on several days, or lines of the cursor's day before it), the window
    grows by another page's worth of days. On SQLite (the embedded default, small) the period is read at once."""
    first = max(start, cursor.at.astimezone(UTC).date()) if cursor else start
    if connection.vendor != "postgresql":
        return _first_rows(_bill_lines(org=org, start=first, end=end, query=query), cursor, "bill_line", limit + 1)
    named = _named_per_day(org=org, start=first, end=end, query=query)
    if not named:  # the filtered rows name no line from the cursor's day on (a count of the ids, exact)
        return []
    until = _window_end(named, first, end, limit)
    while True:
        ids = sum(count for day, count in named if first <= day < until)
        page = _window_page(org=org, first=first, until=until, query=query, cursor=cursor, limit=limit,
                            hashed=ids > LOOKUPS_UP_TO)  # fmt: skip
        if len(page) > limit or until >= end:
            return page
        until = _window_end(named, until, end, limit)


def _named_per_day(*, org, start, end, query: Query) -> list[tuple[date, int]]:
    """(day, how many bill-line ids its filtered rollup rows name), by day: one grouped read of the rollups' counts
    (not of their ids)."""
    rows = _rollups(org=org, start=start, end=end, query=query).filter(cost_line_count__gt=0)
    counts = rows.values("day").annotate(n=Sum("cost_line_count")).order_by("day").values_list("day", "n")
    return [(as_day(day), int(n)) for day, n in counts]


def _window_end(named: list[tuple[date, int]], since: date, end: date, limit: int) -> date:
    """The day after the one where the days from `since` have named more than `limit` lines; `end` if none has."""
    seen = 0
    for day, count in named:
        if day >= since:
            seen += count
            if seen > limit:
                return min(end, day + timedelta(days=1))
    return end


# A line that runs past the UTC midnight after its start: the predicate of the partial index costline_org_crossing
# (ingest migration 0009), word for word so that the planner uses it.
CROSSING = """ingest_costline.charge_period_end > (date_trunc('day', ingest_costline.charge_period_start AT TIME ZONE
    'UTC') + interval '1 day') AT TIME ZONE 'UTC'"""


# Up to this many ids named in a window, its lines are looked up by key; more, the window's lines are hashed against
# them (the planner cannot tell: it guesses 200 ids for the expanded arrays).
LOOKUPS_UP_TO = 20_000


def _window_page(*, org, first, until, query: Query, cursor: Cursor | None, limit: int, hashed: bool) -> list:
    """A page of the window [first, until) on PostgreSQL: the lines that start in it, among the ids its rollup rows
    name (bounded by the window's start, the planner hashes the ids and reads only the window's lines; unbounded, it
    walked every line of the organisation against them), and on the first page the lines from before the period
    that run into it, through the index of lines that cross a midnight: one query."""
    since, before = (datetime.combine(d, datetime.min.time(), UTC) for d in (first, until))
    starting = Q(charge_period_start__gte=since, charge_period_start__lt=before)
    if cursor is None:
        crossing = Q(RawSQL(CROSSING, [], output_field=BooleanField()))  # noqa: S611 - no parameters
        starting |= crossing & Q(charge_period_start__lt=since,
                                 charge_period_start__gte=since - timedelta(days=MAX_DAYS_PER_LINE + 1))  # fmt: skip
    rows = _bill_lines(org=org, start=first, end=until, query=query, lookups=not hashed).filter(starting)
    with transaction.atomic(), connection.cursor() as db:
        # Many ids: the planner would still look up each line by its key (5x slower than hashing at a 500k-line
        # tenant, growing with a day's lines). Few (a host's, a customer's lines): looking them up reads only them.
        db.execute(f"SET LOCAL enable_nestloop = {'off' if hashed else 'on'}")
        return _first_rows(rows, cursor, "bill_line", limit + 1)


# Each kind of row: the field of its moment, and the columns a line is made of.
ROWS_OF = {"bill_line": ("charge_period_start", BILL_LINE_COLUMNS), "usage_event": ("occurred_at", CALL_COLUMNS),
           "gpu_hour": ("hour", HOUR_COLUMNS)}  # fmt: skip


def _first_rows(rows, cursor: Cursor | None, kind: str, count: int) -> list:
    """The first `count` of these rows of `kind` after `cursor`, in (moment, id) order, as their columns' values."""
    at_field, columns = ROWS_OF[kind]
    rows = rows.filter(_after(cursor, kind, at_field)).values(*columns)
    return list(rows.order_by(at_field, "id")[:count])


def _calls_page(*, org, start, end, query: Query, cursor: Cursor | None, limit: int) -> list:
    """The first `limit + 1` model calls after `cursor` in (moment, id) order. Filtered only by a call's own fields,
    one query (a customer's calls through the ledger's index by customer). Filtered also by dimensions a call does
    not carry (plan, bucket, label), on PostgreSQL the calls are matched against the slices of the rollup rows of a
    window of days at a time, the windows doubling from one day (a broad filter answers from the first day's few
    thousand slices, not a week's; a narrow one costs a few reads of its few rows through the rollups' index)."""
    if not _on_calls(query):
        return []
    first = max(start, cursor.at.astimezone(UTC).date()) if cursor else start
    if connection.vendor != "postgresql" or not _call_filters(query)[1]:
        return _first_rows(_usage_events(org=org, start=first, end=end, query=query), cursor, "usage_event", limit + 1)
    page, since, days = [], first, 1
    while since < end and len(page) <= limit:
        until = min(end, since + timedelta(days=days))
        events = _usage_events(org=org, start=since, end=until, query=query)
        page += _first_rows(events, cursor, "usage_event", limit + 1 - len(page))
        since, days = until, days * 2
    return page


def _gpu_hours_page(*, org, start, end, query: Query, cursor: Cursor | None, limit: int) -> list:
    return _first_rows(_gpu_hours(org=org, start=start, end=end, query=query), cursor, "gpu_hour", limit + 1)


def _bill_line(line: dict) -> dict:
    at = line["charge_period_start"]
    return {"kind": "bill_line", "id": line["id"], "at": at, "day": at.date(), "amount": line["billed_cost_amount"],
            "currency": line["currency"], "provider": line["provider"], "service": line["service_name"],
            "resource": line["resource_id"] or line["resource_name"], "model": "", "customer": line["customer"],
            "feature": line["feature"], "environment": line["environment"], "quantity": line["consumed_quantity"],
            "unit": line["consumed_unit"], "upload": line["upload__code"], "upload_name": line["upload__original_name"],
            "source_row": line["source_row"]}  # fmt: skip


def _usage_event(event: dict) -> dict:
    at, tokens = event["occurred_at"], (event["input_tokens"], event["output_tokens"])
    return {"kind": "usage_event", "id": event["id"], "at": at, "day": at.date(), "amount": event["cost_amount"],
            "currency": event["currency"], "provider": event["provider"], "service": "", "resource": "",
            "model": event["model"], "customer": event["customer"], "feature": event["feature"],
            "environment": event["environment"],
            "quantity": None if tokens == (None, None) else sum(t or 0 for t in tokens), "unit": "tokens",
            "upload": event["upload__code"], "upload_name": event["upload__original_name"] or "",
            "source_row": event["source_row"]}  # fmt: skip


def _gpu_hour(hour: dict) -> dict:
    busy_hours = (Decimal(hour["busy_seconds"]) / 3600).quantize(Decimal("0.001"))
    return {"kind": "gpu_hour", "id": hour["id"], "at": hour["hour"], "day": hour["hour"].date(), "amount": None,
            "currency": "", "provider": hour["gpu__host__provider"], "service": "",
            "resource": f"{hour['gpu__host__name']} {hour['gpu__name']}".strip(), "model": "", "customer": "",
            "feature": "", "environment": "",
            "quantity": busy_hours, "unit": "busy GPU-hours", "upload": None, "upload_name": "",
            "source_row": None}  # fmt: skip


def explore_lines(*, org, start: date, end: date, query: Query, cursor: Cursor | None = None,
                  limit: int = LINES_PAGE) -> dict:  # fmt: skip
    """{lines, next}: up to `limit` source rows behind the filtered rollup rows, after `cursor`, ordered by
    (moment, kind, id); `next` is the cursor of the following page or None. Each kind's first rows after the cursor
    are read on their own (bill lines and calls a window of days at a time where filtered), then merged."""
    found = []
    for page, as_line in ((_bill_lines_page, _bill_line), (_calls_page, _usage_event), (_gpu_hours_page, _gpu_hour)):
        found += map(as_line, page(org=org, start=start, end=end, query=query, cursor=cursor, limit=limit))
    found.sort(key=lambda line: (line["at"], LINE_KINDS.index(line["kind"]), line["id"]))
    lines = found[:limit]
    more = len(found) > limit
    last = lines[-1] if lines else None
    return {"lines": lines, "next": Cursor(last["at"], last["kind"], last["id"]).encode() if more else None}


def explore_lines_all(*, org, start: date, end: date, query: Query, chunk: int = 2000):
    """Every source row behind the filtered rollup rows, kind after kind, read in chunks (for a streamed export)."""
    for kind, rows_of, as_line in (("bill_line", _bill_lines, _bill_line), ("usage_event", _usage_events, _usage_event),
                                   ("gpu_hour", _gpu_hours, _gpu_hour)):  # fmt: skip
        at_field, columns = ROWS_OF[kind]
        rows = rows_of(org=org, start=start, end=end, query=query).values(*columns)
        for row in rows.order_by(at_field, "id").iterator(chunk_size=chunk):
            yield as_line(row)
