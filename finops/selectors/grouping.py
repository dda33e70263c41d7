"""Sums of an organisation's rollups grouped by several sets of dimensions at once (one GROUPING SETS scan on
PostgreSQL), and the small sums over their rows that every read of them makes."""

from collections import defaultdict
from datetime import date
from decimal import Context, Decimal

from django.db import connection

from finops.models import CustomerRollup, WorkRollup

ZERO = Decimal(0)

FLOAT_SUMS = Context(prec=15)

SLICE_COLUMNS = ("day", "currency", "kind", "source", "bucket", "label", "customer", "plan", "feature", "environment",
                 "provider", "model", "host", "owner", "deferrable", "has_unpriced", "by_key")  # fmt: skip


def slice_sets(*, org, start: date, end: date, sets: dict, every_currency: bool = False) -> dict:
    """{set name: [row dicts of its columns with cost, calls, unpriced, tin, tout]} of the org's rollups in its
    currency (in every currency with `every_currency`, for sets that group by it) for [start, end): sets by
    customer from CustomerRollup, the others from WorkRollup; per table on PostgreSQL one scan with GROUPING
    SETS, elsewhere one GROUP BY per set."""
    result = {}
    for model in (WorkRollup, CustomerRollup):
        mine = {name: columns for name, columns in sets.items() if ("customer" in columns) == (model is CustomerRollup)}
        if mine:
            result.update(_slices(model, org, start, end, mine, every_currency))
    return {name: result[name] for name in sets}


def _slices(model, org, start: date, end: date, sets: dict, every_currency: bool) -> dict:
    table = connection.ops.quote_name(model._meta.db_table)
    column = {c: connection.ops.quote_name(c) for c in SLICE_COLUMNS}
    sums = ("SUM(cost_amount) AS cost, SUM(calls) AS calls, SUM(unpriced_calls) AS unpriced, "
            "SUM(input_tokens) AS tin, SUM(output_tokens) AS tout")  # fmt: skip
    where = f"FROM {table} WHERE org_id = %s AND day >= %s AND day < %s"
    params = [org.pk, start, end]
    if not every_currency:
        where, params = f"{where} AND currency = %s", [*params, org.currency]
    names = list(sets)
    if connection.vendor == "postgresql":
        used = [c for c in SLICE_COLUMNS if any(c in sets[n] for n in names)]
        bits = f"GROUPING({', '.join(column[c] for c in used)})"
        grouping = ", ".join("(" + ", ".join(column[c] for c in sets[n]) + ")" for n in names)
        select = ", ".join(f"{column[c] if c in used else 'NULL'} AS {connection.ops.quote_name(c)}"
                           for c in SLICE_COLUMNS)  # fmt: skip
        sql = f"SELECT {select}, {bits} AS grouping_id, {sums} {where} GROUP BY GROUPING SETS ({grouping})"
        masks = {_mask(sets[n], used): n for n in names}
        key, query_params = "grouping_id", params
    else:
        parts = []
        for index, name in enumerate(names):
            select = ", ".join(
                f"{column[c] if c in sets[name] else 'NULL'} AS {connection.ops.quote_name(c)}" for c in SLICE_COLUMNS
            )
            group = ", ".join(column[c] for c in sets[name])
            parts.append(f"SELECT {select}, {index} AS grouping_id, {sums} {where} GROUP BY {group}")
        sql = " UNION ALL ".join(parts)
        masks = dict(enumerate(names))
        key, query_params = "grouping_id", params * len(names)
    result = {name: [] for name in names}
    with connection.cursor() as cursor:
        cursor.execute(sql, query_params)
        fields = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(fields, values, strict=True))
            name = masks[row.pop(key)]
            row["cost"] = _decimal(row["cost"])
            for count in ("calls", "unpriced", "tin", "tout"):  # PostgreSQL sums bigints as numeric
                row[count] = int(row[count] or 0)
            result[name].append(row)
    return result


def _mask(columns, used) -> int:
    """GROUPING()'s bits for a set: 1 for each of the `used` columns not in it, the first the highest bit."""
    return sum(1 << (len(used) - 1 - i) for i, c in enumerate(used) if c not in columns)


def _decimal(value) -> Decimal:
    """Sums come back as Decimal from PostgreSQL and as float or text from SQLite (its decimals are floats)."""
    if value is None:
        return ZERO
    if isinstance(value, float):  # as Django converts SQLite's sums: 15 significant digits
        return FLOAT_SUMS.create_decimal_from_float(value)
    return value if isinstance(value, Decimal) else Decimal(value)


def cost_of(slices) -> Decimal:
    """The summed cost of `slices`."""
    return sum((s["cost"] for s in slices), ZERO)


def cost_by(slices, *fields) -> dict:
    """{value (or tuple of values): summed cost} of `slices` by `fields`."""
    totals = defaultdict(lambda: ZERO)
    for s in slices:
        key = s[fields[0]] if len(fields) == 1 else tuple(s[f] for f in fields)
        totals[key] += s["cost"]
    return dict(totals)


def as_day(value) -> date:
    """A day from a raw cursor: a date on PostgreSQL, ISO text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)
