"""The model price catalogue: what one model call costs, and pricing the usage ledger with it.

A call's unit prices come from, in order: the organisation's own `PriceOverride` in force on the
call's UTC date; else the price data bundled with the installed `genai-prices` package (USD, as of
the call's time: it knows price changes and off-peak hours); else nothing, and the call stays
unpriced (counted, never $0). The bundled data is never refreshed at run time: upgrading the
pinned package is how catalogue prices change.

Token arithmetic (`call_cost`). Our ledger's `input_tokens` EXCLUDE cache reads and cache writes,
while genai-prices' `input_tokens` include both; we price our own columns directly:

    cost = ( input             x input price
           + cache reads       x cache-read price    (the input price where none is set)
           + cache writes      x cache-write price   (the input price where none is set)
           + (output - reasoning) x output price
           + reasoning         x reasoning price     (only where one is set; else output price)
           ) / 1,000,000
           + calls x price per call                  (the few models priced per request)

which is exactly what genai-prices computes for input = ours + cache reads + cache writes. A tiered
price (Gemini above 200k input tokens, say) takes its tier from a call's whole input (input + cache
reads + cache writes), as genai-prices does; an aggregate row of N calls uses its average per call.
Reasoning tokens are inside `output_tokens` (as OpenAI and Anthropic report them). A token count
the source did not give (null) counts as 0, but a row with no token count at all stays unpriced,
and so does a row with tokens of a kind that has no price (output tokens on an input-only price).
Catalogue units our ledger does not record (web searches, audio, images, 1-hour cache writes) are
not priced. Everything is Decimal; each row's cost is rounded once, half-even, to the 10 stored
places.

Self-hosted models: a price per GPU-hour cannot price a call from its tokens (throughput depends on
the hardware, batch size and load), so such an override prices only calls whose metadata carries
`gpu_seconds` (cost = gpu_seconds / 3600 x gpu_hour_amount); the others stay unpriced.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection, transaction
from django.db.models.functions import TruncDate
from genai_prices import types as genai_types
from genai_prices.data_snapshot import get_snapshot

from finops.money import DECIMAL_PLACES, STORAGE_QUANTUM, quantize_storage
from ingest.models import UsageEvent
from pricing.models import PriceOverride

MTOK = Decimal(1_000_000)
SECONDS_PER_HOUR = Decimal(3600)
CATALOGUE_CURRENCY = "USD"  # genai-prices quotes every price in US dollars
ROW_BATCH = 5000
# Wide enough that token counts times 10-place prices are exact; the result is rounded once, at the end.
EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
EVENT_ID_BATCH = 500

# Our provider names (lower case, as the ledger stores them) -> genai-prices provider ids. A name
# that is not here is used only when it is itself a genai-prices provider id; anything else
# (self-hosted, an in-house gateway) is not in the public catalogue.
PROVIDER_IDS = {
    "openai": "openai",
    "azure": "azure",
    "azure-openai": "azure",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "google": "google",
    "gemini": "google",
    "vertex": "google",
    "vertex-ai": "google",
    "vertex_ai": "google",
    "mistral": "mistral",
    "mistral-ai": "mistral",
    "mistralai": "mistral",
    "groq": "groq",
    "aws": "aws",
    "bedrock": "aws",
    "aws-bedrock": "aws",
    "amazon-bedrock": "aws",
    "deepseek": "deepseek",
    "xai": "x-ai",
    "x-ai": "x-ai",
    "cohere": "cohere",
    "together": "together",
    "together-ai": "together",
    "together_ai": "together",
    "fireworks": "fireworks",
    "fireworks-ai": "fireworks",
    "perplexity": "perplexity",
    "openrouter": "openrouter",
}

# Our field -> the genai-prices price key it is read from.
_GENAI_PRICE_KEYS = {
    "input_per_mtok": "input_mtok",
    "cached_input_per_mtok": "cache_read_mtok",
    "cache_write_per_mtok": "cache_write_mtok",
    "output_per_mtok": "output_mtok",
    "reasoning_per_mtok": "output_reasoning_mtok",
    "request_amount": "requests_kcount",
}


@dataclass(frozen=True)
class UnitPrices:
    """The prices of one model at one moment; None is "no price for this kind of usage"."""

    currency: str
    input_per_mtok: Decimal | None = None
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    reasoning_per_mtok: Decimal | None = None
    request_amount: Decimal | None = None
    gpu_hour_amount: Decimal | None = None
    # (start, prices): a call whose whole input is above `start` tokens pays `prices` (ascending starts)
    tiers: tuple[tuple[int, UnitPrices], ...] = ()
    source: str = field(default="catalogue", compare=False)


def call_cost(
    prices: UnitPrices,
    *,
    input_tokens: int | None = None,
    cached_input_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    output_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    request_count: int = 1,
    gpu_seconds: Decimal | None = None,
) -> Decimal | None:
    """The cost of one ledger row (a call, or an aggregate of `request_count` calls), or None if unknown."""
    if prices.gpu_hour_amount is not None:
        if gpu_seconds is None:
            return None
        return quantize_storage(EXACT.divide(EXACT.multiply(gpu_seconds, prices.gpu_hour_amount), SECONDS_PER_HOUR))
    if input_tokens is None and cached_input_tokens is None and cache_write_tokens is None and output_tokens is None:
        return None
    uncached = input_tokens or 0
    cache_reads = cached_input_tokens or 0
    cache_writes = cache_write_tokens or 0
    output = output_tokens or 0
    calls = request_count if request_count and request_count > 0 else 1
    whole_input = uncached + cache_reads + cache_writes
    for start, tier in reversed(prices.tiers):
        if whole_input > start * calls:
            prices = tier
            break
    input_price = prices.input_per_mtok
    reasoning = 0
    if prices.reasoning_per_mtok is not None and reasoning_tokens:
        if reasoning_tokens > output:
            return None  # reasoning is part of output: these counts contradict each other
        reasoning = reasoning_tokens
    total = Decimal(0)
    for count, price in (
        (uncached, input_price),
        (cache_reads, input_price if prices.cached_input_per_mtok is None else prices.cached_input_per_mtok),
        (cache_writes, input_price if prices.cache_write_per_mtok is None else prices.cache_write_per_mtok),
        (output - reasoning, prices.output_per_mtok),
        (reasoning, prices.reasoning_per_mtok),
    ):
        if count:
            if price is None:
                return None
            total = EXACT.add(total, EXACT.multiply(count, price))
    total = EXACT.divide(total, MTOK)
    if prices.request_amount is not None:
        total = EXACT.add(total, EXACT.multiply(calls, prices.request_amount))
    return quantize_storage(total)


def override_unit_prices(override: PriceOverride) -> UnitPrices:
    """The unit prices an override stands for."""
    return UnitPrices(
        currency=override.currency,
        input_per_mtok=override.input_per_mtok,
        cached_input_per_mtok=override.cached_input_per_mtok,
        cache_write_per_mtok=override.cache_write_per_mtok,
        output_per_mtok=override.output_per_mtok,
        gpu_hour_amount=override.gpu_hour_amount,
        source="override",
    )


# The genai-prices catalogue -------------------------------------------------------------------


@lru_cache(maxsize=1)
def _genai_provider_ids() -> frozenset[str]:
    return frozenset(provider.id for provider in get_snapshot().providers)


def catalogue_provider_id(provider: str) -> str | None:
    """The genai-prices provider id for one of our provider names, or None when it has none."""
    name = provider.strip().lower()
    if name in PROVIDER_IDS:
        return PROVIDER_IDS[name]
    return name if name in _genai_provider_ids() else None


@lru_cache(maxsize=4096)
def _catalogue_model(provider_id: str, model: str):
    try:
        _provider, info = get_snapshot().find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    return info


def _utc_time(value: time) -> time:
    if value.tzinfo is None:
        return value
    return datetime.combine(date(2000, 1, 1), value).astimezone(UTC).time()


def _flat_prices(values: dict, threshold: int | None) -> dict:
    """Each price at the tier for calls above `threshold` input tokens (None: the base prices)."""
    flat = {}
    for name, value in values.items():
        if isinstance(value, genai_types.TieredPrices):
            price = value.base
            for tier in value.tiers:
                if threshold is not None and tier.start <= threshold:
                    price = tier.price
            value = price
        if name == "request_amount" and value is not None:
            value = value / 1000  # genai-prices prices requests per thousand
        flat[name] = value
    return flat


def _from_model_price(model_price) -> UnitPrices:
    values = {name: getattr(model_price, key, None) for name, key in _GENAI_PRICE_KEYS.items()}
    starts = sorted(
        {tier.start for value in values.values() if isinstance(value, genai_types.TieredPrices) for tier in value.tiers}
    )
    tiers = tuple((start, UnitPrices(currency=CATALOGUE_CURRENCY, **_flat_prices(values, start))) for start in starts)
    return UnitPrices(currency=CATALOGUE_CURRENCY, tiers=tiers, **_flat_prices(values, None))


@lru_cache(maxsize=16384)
def catalogue_day(provider: str, model: str, day: date) -> tuple[tuple[time, UnitPrices | None], ...]:
    """The catalogue's prices of a model through one UTC day: (from time of day, prices) windows.

    One window for nearly every model; off-peak prices (DeepSeek) split the day at their hours.
    Memoised per (provider, model, day), so pricing a million calls reads the catalogue once per group.
    """
    provider_id = catalogue_provider_id(provider)
    info = _catalogue_model(provider_id, model) if provider_id else None
    if info is None:
        return ((time(0), None),)
    starts = {time(0)}
    for conditional in info.prices if isinstance(info.prices, list) else ():
        if isinstance(conditional.constraint, genai_types.TimeOfDateConstraint):
            starts.add(_utc_time(conditional.constraint.start_time))
            starts.add(_utc_time(conditional.constraint.end_time))
    return tuple(
        (start, _from_model_price(info.get_prices(datetime.combine(day, start, tzinfo=UTC))))
        for start in sorted(starts)
    )


def catalogue_unit_prices(provider: str, model: str, at: datetime) -> UnitPrices | None:
    """The public catalogue's prices of `provider`/`model` for a call at `at` (no overrides), or None."""
    at = _as_utc(at)
    return _in_window(catalogue_day(provider.strip().lower(), model, at.date()), at.time())


def _in_window(windows, moment: time) -> UnitPrices | None:
    chosen = windows[0][1]
    for start, prices in windows[1:]:
        if start > moment:
            break
        chosen = prices
    return chosen


def _as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


# One organisation's prices ---------------------------------------------------------------------


class PriceBook:
    """One organisation's prices: its overrides read once, lookups memoised per (provider, model, day)."""

    def __init__(self, org):
        self._overrides = defaultdict(list)
        for override in PriceOverride.objects.for_org(org).order_by("effective_from"):
            key = (override.provider, override.model)
            self._overrides[key].append((override.effective_from, override_unit_prices(override)))
        self.has_gpu_hour_prices = any(
            prices.gpu_hour_amount is not None for entries in self._overrides.values() for _, prices in entries
        )
        self._days = {}

    def prices_at(self, provider: str, model: str, at: datetime) -> UnitPrices | None:
        """The prices in force for a call at `at`: the org's override, else the catalogue, else None."""
        at = _as_utc(at)
        key = (provider.strip().lower(), model, at.date())
        windows = self._days.get(key)
        if windows is None:
            windows = self._days[key] = self._day(*key)
        return windows[0][1] if len(windows) == 1 else _in_window(windows, at.time())

    def _day(self, provider: str, model: str, day: date):
        in_force = [prices for since, prices in self._overrides.get((provider, model), ()) if since <= day]
        if in_force:
            return ((time(0), in_force[-1]),)
        return catalogue_day(provider, model, day)


def unit_prices(org, provider: str, model: str, at: datetime) -> UnitPrices | None:
    """The prices of `provider`/`model` for a call at `at`: the org's override in force, else the catalogue."""
    return PriceBook(org).prices_at(provider, model, at)


# Pricing the usage ledger ------------------------------------------------------------------------

_ROW_FIELDS = (
    "id",
    "provider",
    "model",
    "occurred_at",
    "request_count",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_source",
)


def _gpu_seconds(metadata) -> Decimal | None:
    value = metadata.get("gpu_seconds") if isinstance(metadata, dict) else None
    if value is None or isinstance(value, bool):
        return None
    try:
        # a JSON number arrives as float: its shortest repr is the number that was written
        seconds = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    return seconds if seconds.is_finite() and seconds >= 0 else None


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
                cost = call_cost(
                    prices,
                    request_count=row[4],
                    input_tokens=row[5],
                    cached_input_tokens=row[6],
                    cache_write_tokens=row[7],
                    output_tokens=row[8],
                    reasoning_tokens=row[9],
                    gpu_seconds=_gpu_seconds(row[11]) if prices.gpu_hour_amount is not None else None,
                )
            if cost is None and row[10] != catalogue:
                continue
            writes.append((row[0], cost, prices.currency if cost is not None else ""))
            result.priced += cost is not None
            result.days.add(_as_utc(row[3]).date())
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


def _exact_per_token(price: Decimal | None) -> Decimal | None:
    """The price of one token, if it has at most 10 decimal places (so SQL arithmetic needs no rounding)."""
    if price is None:
        return None
    per_token = price.scaleb(-6)
    return per_token if per_token.as_tuple().exponent >= -DECIMAL_PLACES else None


def _plain_sql_prices(prices: UnitPrices | None) -> tuple | None:
    """Per-token prices for one SQL UPDATE when `call_cost` would be plain arithmetic on them, else None:
    no tiers, no reasoning rate, no GPU-hour price, input and output priced, every price exact."""
    if prices is None or prices.tiers or prices.gpu_hour_amount is not None or prices.reasoning_per_mtok is not None:
        return None
    if prices.input_per_mtok is None or prices.output_per_mtok is None:
        return None
    cached = prices.input_per_mtok if prices.cached_input_per_mtok is None else prices.cached_input_per_mtok
    writes = prices.input_per_mtok if prices.cache_write_per_mtok is None else prices.cache_write_per_mtok
    per_token = [_exact_per_token(p) for p in (prices.input_per_mtok, cached, writes, prices.output_per_mtok)]
    per_call = prices.request_amount or Decimal(0)
    if None in per_token or per_call.as_tuple().exponent < -DECIMAL_PLACES:
        return None
    return (*per_token, per_call)


def _price_plain_groups_in_sql(org, upload, rows, book: PriceBook) -> int:
    """Price an upload's calls one (provider, model, day) at a time in SQL where the price is plain and
    the whole day has one price; returns how many were priced. The rest is left to `usage_rows_price`,
    which computes the same costs row by row (tested). PostgreSQL only: SQLite numbers are floats."""
    if connection.vendor != "postgresql":
        return 0
    table = UsageEvent._meta.db_table
    groups = rows.annotate(day=TruncDate("occurred_at")).values_list("provider", "model", "day").distinct()
    priced = 0
    with connection.cursor() as cursor:
        for provider, model, day in groups:
            windows = book._day(provider.strip().lower(), model, day)
            if len(windows) != 1 or windows[0][0] != time(0):
                continue
            prices = windows[0][1]
            plain = _plain_sql_prices(prices)
            if plain is None:
                continue
            start = datetime.combine(day, time(0), tzinfo=UTC)
            cursor.execute(
                f"UPDATE {table} SET cost_amount = "  # noqa: S608 - fixed names
                "COALESCE(input_tokens, 0) * %s + COALESCE(cached_input_tokens, 0) * %s"
                " + COALESCE(cache_write_tokens, 0) * %s + COALESCE(output_tokens, 0) * %s"
                " + GREATEST(request_count, 1) * %s, currency = %s, cost_source = 'catalogue'"
                " WHERE org_id = %s AND upload_id = %s AND cost_source = 'unpriced' AND provider = %s"
                " AND model = %s AND occurred_at >= %s AND occurred_at < %s AND (input_tokens IS NOT NULL"
                " OR output_tokens IS NOT NULL OR cached_input_tokens IS NOT NULL OR cache_write_tokens IS NOT NULL)",
                [*plain, prices.currency, org.pk, upload.pk, provider, model, start, start + timedelta(days=1)],
            )
            priced += cursor.rowcount
    return priced


# Pricing new usage rows before they are stored (the columnar file path) ---------------------------

_INT64_MAX = 2**63 - 1
_TOKEN_COLUMNS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
_ONE_UNIT = pa.scalar(STORAGE_QUANTUM, pa.decimal128(1, DECIMAL_PLACES))


def _units(price: Decimal) -> int | None:
    """A price in units of 10^-10 (exact: `_plain_sql_prices` only passes prices with at most 10 places)."""
    units = int(price.scaleb(DECIMAL_PLACES))
    return units if abs(units) <= _INT64_MAX else None


def _codes(column):
    """(the distinct values in order of appearance, each row's index among them), in one pass."""
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    return encoded.dictionary.to_pylist(), pc.cast(encoded.indices, pa.int64())


def _plain_costs(request_count, tokens, units, slots, plain, stored):
    """sum(count x price units) for the `plain` rows as stored decimals (null elsewhere), or None when a
    product or the sum does not fit in 64 bits."""
    prices = [pc.take(pa.array([None if u is None else u[i] for u in units], pa.int64()), slots) for i in range(5)]
    counts = [pc.fill_null(count, 0) for count in tokens] + [pc.cast(pc.max_element_wise(request_count, 1), pa.int64())]
    try:
        total = None
        for count, price in zip(counts, prices, strict=True):
            term = pc.multiply_checked(pc.if_else(plain, count, 0), price)
            total = term if total is None else pc.add_checked(total, term)
    except pa.ArrowInvalid:
        return None
    return pc.cast(pc.multiply(pc.cast(total, pa.decimal128(19, 0)), _ONE_UNIT), stored)


class UsageTablePricer:
    """Prices Arrow tables of new usage rows (the staging table's columns) for one organisation before
    they are stored, so that the ledger gets final rows and no UPDATE of it is needed.

    The same decisions as `usage_price`, made over whole columns: reported costs are kept; a call whose
    (provider, model, day) has a plain price for the whole day (`_plain_sql_prices`) costs the same sum as
    in SQL, done in 64-bit integers of 10^-10 (exact, overflow checked); the other calls of a model with a
    price (tiers, time of day, GPU-hours, or a sum too large) go through `call_cost` one by one."""

    def __init__(self, org):
        self.book = PriceBook(org)
        self._groups = {}

    def _group(self, provider: str, model: str, day: date):
        """(units of the plain prices or None, currency, True when some window has a price)."""
        key = (provider.strip().lower(), model, day)
        if key not in self._groups:
            windows = self.book._day(*key)
            prices = windows[0][1]
            plain = _plain_sql_prices(prices) if len(windows) == 1 and windows[0][0] == time(0) else None
            units = None if plain is None else tuple(_units(price) for price in plain)
            self._groups[key] = (
                None if units is None or None in units else units,
                prices.currency if plain is not None else "",
                any(prices is not None for _, prices in windows),
            )
        return self._groups[key]

    def __call__(self, table: pa.Table) -> pa.Table:
        def column(name):
            return table.column(name).combine_chunks()

        cost = column("cost_amount")
        unpriced = pc.is_null(cost)
        if not pc.any(unpriced).as_py():
            return table
        providers, provider_codes = _codes(column("provider"))
        models, model_codes = _codes(column("model"))
        days, day_codes = _codes(pc.cast(column("occurred_at"), pa.date32()))
        group = pc.add(pc.multiply(pc.add(pc.multiply(provider_codes, len(models)), model_codes), len(days)), day_codes)
        group_keys, slots = _codes(group)
        groups = []
        for key in group_keys:
            rest, day = divmod(key, len(days))
            provider, model = divmod(rest, len(models))
            groups.append(self._group(providers[provider], models[model], days[day]))
        tokens = [column(name) for name in _TOKEN_COLUMNS]
        plain = pc.and_(unpriced, pc.take(pa.array([g[0] is not None for g in groups]), slots))
        plain = pc.and_(plain, pc.is_valid(pc.coalesce(*tokens)))  # as call_cost: no token count, no price
        plain_cost = _plain_costs(column("request_count"), tokens, [g[0] for g in groups], slots, plain, cost.type)
        if plain_cost is None:  # a sum too large for 64 bits: those calls go one by one too
            plain = pa.array([False] * len(table))
            plain_cost = pa.nulls(len(table), cost.type)
        one_by_one = pc.and_(pc.and_(unpriced, pc.invert(plain)), pc.take(pa.array([g[2] for g in groups]), slots))
        new_cost = pc.if_else(plain, plain_cost, cost)
        currency = pc.if_else(plain, pc.take(pa.array([g[1] for g in groups]), slots), column("currency"))
        if pc.any(one_by_one).as_py():
            costs, currencies = self._one_by_one(table.filter(one_by_one))
            new_cost = pc.replace_with_mask(new_cost, one_by_one, pa.array(costs, cost.type))
            currency = pc.replace_with_mask(currency, one_by_one, pa.array(currencies, pa.string()))
        priced = pc.and_(unpriced, pc.is_valid(new_cost))
        currency = pc.if_else(priced, currency, column("currency"))
        source = pc.if_else(priced, UsageEvent.CostSource.CATALOGUE.value, column("cost_source"))
        for name, values in (("cost_amount", new_cost), ("currency", currency), ("cost_source", source)):
            table = table.set_column(table.schema.get_field_index(name), name, values)
        return table

    def _one_by_one(self, rows: pa.Table) -> tuple[list, list]:
        costs, currencies = [], []
        for row in rows.select([*_ROW_FIELDS[1:10], "metadata"]).to_pylist():
            prices = self.book.prices_at(row["provider"], row["model"], row["occurred_at"])
            cost = None
            if prices is not None:
                gpu_seconds = None
                if prices.gpu_hour_amount is not None:
                    gpu_seconds = _gpu_seconds(json.loads(row["metadata"]) if row["metadata"] else {})
                cost = call_cost(
                    prices,
                    request_count=row["request_count"],
                    input_tokens=row["input_tokens"],
                    cached_input_tokens=row["cached_input_tokens"],
                    cache_write_tokens=row["cache_write_tokens"],
                    output_tokens=row["output_tokens"],
                    reasoning_tokens=row["reasoning_tokens"],
                    gpu_seconds=gpu_seconds,
                )
            costs.append(cost)
            currencies.append(prices.currency if cost is not None else "")
        return costs, currencies


def usage_table_pricer(*, org) -> UsageTablePricer:
    """settings.USAGE_TABLE_PRICER: prices the columnar path's Arrow tables before the COPY."""
    return UsageTablePricer(org)
