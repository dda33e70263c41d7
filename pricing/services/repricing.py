"""Writes of the pricing app to the usage ledger: pricing (or pricing again) calls without a reported cost.

Prices come from the catalogue (pricing/catalogue.py), costs from the one formula (pricing/formula.py):
`call_cost` row by row, or its SQL form (`sql_cost`, generated from the same terms) for whole groups
with a plain price. Reported costs are never touched.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models.functions import TruncDate

from ingest.models import UsageEvent
from pricing.catalogue import PriceBook, as_utc
from pricing.formula import COUNT_COLUMNS, metadata_gpu_seconds, plain_unit_prices, row_cost, sql_cost, sql_has_usage

ROW_BATCH = 5000
EVENT_ID_BATCH = 500
_ROW_FIELDS = ("id", "provider", "model", "occurred_at", "cost_source", *COUNT_COLUMNS)
_COUNTS = slice(5, 5 + len(COUNT_COLUMNS))
_METADATA = len(_ROW_FIELDS)  # read only where the organisation has a GPU-hour price


@dataclass
class PricingResult:
    priced: int = 0
    days: set = field(default_factory=set)


def usage_rows_price(*, org, rows, book: PriceBook | None = None) -> PricingResult:
    """Price (or price again) the given usage rows of the organisation; returns how many have a price now
    and the UTC days of the rows written. Reported costs are never touched; a catalogue-priced row that
    no longer has a price becomes unpriced."""
    book = book or PriceBook(org)
    catalogue = UsageEvent.CostSource.CATALOGUE
    reported = UsageEvent.CostSource.REPORTED
    fields = (*_ROW_FIELDS, "metadata") if book.has_gpu_hour_prices else _ROW_FIELDS
    result, writes = PricingResult(), []
    with transaction.atomic():
        for row in rows.exclude(cost_source=reported).values_list(*fields).iterator(chunk_size=ROW_BATCH):
            prices = book.prices_at(row[1], row[2], row[3])
            cost = None
            if prices is not None:
                gpu_seconds = metadata_gpu_seconds(row[_METADATA]) if prices.gpu_hour_amount is not None else None
                cost = row_cost(prices, dict(zip(COUNT_COLUMNS, row[_COUNTS], strict=True)), gpu_seconds)
            if cost is None and row[4] != catalogue:
                continue
            writes.append((row[0], cost, prices.currency if cost is not None else ""))
            result.priced += cost is not None
            result.days.add(as_utc(row[3]).date())
        _costs_write(org, writes)
    return result


def usage_price(*, org, upload=None, event_ids=None) -> int:
    """Price the organisation's unpriced calls (of `upload`, or of `event_ids`, or all of them) from the
    catalogue; returns how many were priced. Calls of unknown models stay unpriced with a null cost."""
    rows = UsageEvent.objects.for_org(org).filter(cost_source=UsageEvent.CostSource.UNPRICED)
    if upload is not None:
        rows = rows.filter(upload=upload)
    book = PriceBook(org)
    if event_ids is None:
        in_sql = _price_plain_groups_in_sql(org, upload, rows, book) if upload is not None else 0
        return in_sql + usage_rows_price(org=org, rows=rows, book=book).priced
    ids = list(dict.fromkeys(event_ids))
    return sum(
        usage_rows_price(org=org, rows=rows.filter(event_id__in=ids[i : i + EVENT_ID_BATCH]), book=book).priced
        for i in range(0, len(ids), EVENT_ID_BATCH)
    )


def _costs_write(org, writes: list) -> None:
    """Write (id, cost or None, currency) to the ledger: a cost makes the row catalogue-priced, None unpriced."""
    if not writes:
        return
    table = UsageEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One COPY and one UPDATE whatever the number of rows.
            cursor.execute(
                "CREATE TEMP TABLE pricing_costs (id bigint, cost_amount numeric(20, 10), currency varchar(3)) "
                "ON COMMIT DROP"
            )
            with cursor.cursor.copy("COPY pricing_costs (id, cost_amount, currency) FROM STDIN") as copy:
                for row in writes:
                    copy.write_row(row)
            cursor.execute(
                f"UPDATE {table} AS e SET cost_amount = s.cost_amount, currency = s.currency, "  # noqa: S608 - fixed names
                "cost_source = CASE WHEN s.cost_amount IS NULL THEN 'unpriced' ELSE 'catalogue' END "
                "FROM pricing_costs AS s WHERE e.id = s.id AND e.org_id = %s AND e.cost_source <> 'reported'",
                [org.pk],
            )
            cursor.execute("DROP TABLE pricing_costs")
        else:
            cursor.executemany(
                f"UPDATE {table} SET cost_amount = %s, currency = %s, cost_source = %s "  # noqa: S608 - fixed names
                "WHERE id = %s AND org_id = %s AND cost_source <> 'reported'",
                [
                    (cost, currency, "unpriced" if cost is None else "catalogue", pk, org.pk)
                    for pk, cost, currency in writes
                ],
            )


def _price_plain_groups_in_sql(org, upload, rows, book: PriceBook) -> int:
    """Price an upload's calls one (provider, model, day) at a time in SQL where the price is plain and
    the whole day has one price; returns how many were priced. The rest is left to `usage_rows_price`,
    which computes the same costs row by row (tested). PostgreSQL only: SQLite numbers are floats."""
    if connection.vendor != "postgresql":
        return 0
    table = UsageEvent._meta.db_table
    # Both generated from pricing.formula.TERMS, as call_cost and the Arrow pricer are.
    cost, has_usage = sql_cost(), sql_has_usage()
    groups = rows.annotate(day=TruncDate("occurred_at")).values_list("provider", "model", "day").distinct()
    priced = 0
    with connection.cursor() as cursor:
        for provider, model, day in groups:
            prices = book.whole_day_prices(provider, model, day)
            units = plain_unit_prices(prices)
            if units is None:
                continue
            start = datetime.combine(day, time(0), tzinfo=UTC)
            cursor.execute(
                f"UPDATE {table} SET cost_amount = {cost}, currency = %s, cost_source = 'catalogue'"  # noqa: S608 - fixed names
                " WHERE org_id = %s AND upload_id = %s AND cost_source = 'unpriced' AND provider = %s"
                f" AND model = %s AND occurred_at >= %s AND occurred_at < %s AND {has_usage}",
                [*units, prices.currency, org.pk, upload.pk, provider, model, start, start + timedelta(days=1)],
            )
            priced += cursor.rowcount
    return priced
