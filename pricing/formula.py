"""The cost of one usage row, defined once: the terms below, and the forms derived from them.

Pure code (no ORM, no settings, no database): `call_cost` evaluates the terms in Decimal; the
repricing service's SQL expression (`sql_cost`, `sql_has_usage`) and the Arrow pricer's 64-bit
integer sums (pricing/arrow_pricing.py) are generated from the same `TERMS`, for the rows where the
formula is plain arithmetic on exact prices (`plain_unit_prices`). Change the formula here and all
three follow; tests/pricing/test_formula.py checks that Python, SQL on PostgreSQL and Arrow agree.

Our ledger's `input_tokens` EXCLUDE cache reads and cache writes, while genai-prices' `input_tokens`
include both; we price our own columns directly:

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
and so does a row with tokens of a kind that has no price (output tokens on an input-only price):
unpriced is None, never 0. Everything is Decimal; each row's cost is rounded once, half-even, to
the 10 stored places.

Self-hosted models: a price per GPU-hour cannot price a call from its tokens (throughput depends on
the hardware, batch size and load), so such a price prices only calls whose metadata carries
`gpu_seconds` (cost = gpu_seconds / 3600 x gpu_hour_amount); the others stay unpriced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from finops.money import DECIMAL_PLACES, quantize_storage

SECONDS_PER_HOUR = Decimal(3600)
# Wide enough that token counts times 10-place prices are exact; the result is rounded once, at the end.
EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)


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


@dataclass(frozen=True)
class Term:
    """One term of the formula: a ledger count times a price quoted per 10^`per_power` units."""

    count: str  # the ledger column (and `call_cost` keyword) counted
    price: str  # the UnitPrices field that prices it
    kind: str  # "input" (its tokens choose the tier), "output", or "calls"
    per_power: int = 6  # token prices are per million tokens
    fallback: str | None = None  # the field that prices it where `price` is not set
    carved_from: str | None = None  # counted inside that column, and priced apart only where `price` is set
    at_least: int | None = None  # the count used is at least this (an aggregate row is at least one call)

    @property
    def optional(self) -> bool:
        """A term without a price adds nothing (instead of leaving the row unpriced)."""
        return self.kind == "calls"


TERMS = (
    Term("input_tokens", "input_per_mtok", "input"),
    Term("cached_input_tokens", "cached_input_per_mtok", "input", fallback="input_per_mtok"),
    Term("cache_write_tokens", "cache_write_per_mtok", "input", fallback="input_per_mtok"),
    Term("output_tokens", "output_per_mtok", "output"),
    Term("reasoning_tokens", "reasoning_per_mtok", "output", carved_from="output_tokens"),
    Term("request_count", "request_amount", "calls", per_power=0, at_least=1),
)
# The `call_cost` keywords, in the order of TERMS (the ledger's column names).
COUNT_COLUMNS = tuple(term.count for term in TERMS)
# A row with none of these counted has no usage to price: it stays unpriced.
USAGE_COLUMNS = tuple(term.count for term in TERMS if term.kind != "calls" and term.carved_from is None)
# The terms of the plain form (no carved-out term: `plain_unit_prices` requires its price unset).
PLAIN_TERMS = tuple(term for term in TERMS if term.carved_from is None)


def _term_price(prices: UnitPrices, term: Term) -> Decimal | None:
    price = getattr(prices, term.price)
    if price is None and term.fallback is not None:
        price = getattr(prices, term.fallback)
    return price


# TERMS as index plans, computed once: `call_cost` runs per ledger row, so it does no lookups by name.
_INDEX = {term.count: i for i, term in enumerate(TERMS)}
_AT_LEAST = tuple((i, term.at_least) for i, term in enumerate(TERMS) if term.at_least is not None)
_NULL_IS_ZERO = tuple(i for i, term in enumerate(TERMS) if term.at_least is None)
_USAGE = tuple(_INDEX[name] for name in USAGE_COLUMNS)
_INPUT = tuple(i for i, term in enumerate(TERMS) if term.kind == "input")
(_CALLS,) = (i for i, term in enumerate(TERMS) if term.kind == "calls")
_CARVED = tuple((i, _INDEX[term.carved_from], term.price) for i, term in enumerate(TERMS) if term.carved_from)
_POWERS = tuple(sorted({term.per_power for term in TERMS}, reverse=True))  # larger units first, as written
_DIVISORS = tuple((group, Decimal(10) ** power if power else None) for group, power in enumerate(_POWERS))
_PRICED = tuple(
    (i, term.price, term.fallback, term.optional, _POWERS.index(term.per_power)) for i, term in enumerate(TERMS)
)
_ZERO = Decimal(0)


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
    # In the order of COUNT_COLUMNS (tests/pricing/test_formula.py checks the keywords against it).
    given = (input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, request_count)
    for i in _USAGE:
        if given[i] is not None:
            break
    else:
        return None  # no usage counted at all: unpriced, not 0
    counts = list(given)
    for i, least in _AT_LEAST:
        if counts[i] is None or counts[i] < least:
            counts[i] = least
    for i in _NULL_IS_ZERO:
        if counts[i] is None:
            counts[i] = 0
    if prices.tiers:
        whole_input = sum(counts[i] for i in _INPUT)
        for start, tier in reversed(prices.tiers):
            if whole_input > start * counts[_CALLS]:
                prices = tier
                break
    for i, within, price_name in _CARVED:
        if not counts[i]:
            continue
        if getattr(prices, price_name) is None:
            counts[i] = 0  # priced inside its column
        elif counts[i] > counts[within]:
            return None  # a carved-out count is part of its column: these counts contradict each other
        else:
            counts[within] -= counts[i]
    sums = [_ZERO] * len(_POWERS)
    for i, price_name, fallback, optional, group in _PRICED:
        count = counts[i]
        if not count:
            continue
        price = getattr(prices, price_name)
        if price is None and fallback is not None:
            price = getattr(prices, fallback)
        if price is None:
            if optional:
                continue
            return None
        sums[group] = EXACT.add(sums[group], EXACT.multiply(count, price))
    total = _ZERO
    for group, divisor in _DIVISORS:
        if sums[group] is not _ZERO:
            total = EXACT.add(total, sums[group] if divisor is None else EXACT.divide(sums[group], divisor))
    return quantize_storage(total)


def row_cost(prices: UnitPrices, row, gpu_seconds: Decimal | None = None) -> Decimal | None:
    """`call_cost` of a row that has the ledger's count columns (a mapping by column name)."""
    return call_cost(prices, gpu_seconds=gpu_seconds, **{name: row[name] for name in COUNT_COLUMNS})


def plain_unit_prices(prices: UnitPrices | None) -> tuple[Decimal, ...] | None:
    """The price of one unit of each of `PLAIN_TERMS` where `call_cost` is plain arithmetic on them, else None:
    no tiers, no GPU-hour price, no carved-out price (reasoning), every token term priced, every price exact
    at the stored 10 places once divided to one unit (so SQL and 64-bit sums need no rounding)."""
    if prices is None or prices.tiers or prices.gpu_hour_amount is not None:
        return None
    if any(getattr(prices, term.price) is not None for term in TERMS if term.carved_from is not None):
        return None
    units = []
    for term in PLAIN_TERMS:
        price = _term_price(prices, term)
        if price is None:
            if not term.optional:
                return None
            price = Decimal(0)
        unit = price.scaleb(-term.per_power)
        if unit.as_tuple().exponent < -DECIMAL_PLACES:
            return None
        units.append(unit)
    return tuple(units)


def _sql_count(term: Term, alias: str) -> str:
    column = f"{alias}{term.count}"
    if term.at_least is not None:
        return f"GREATEST({column}, {term.at_least})"  # PostgreSQL's GREATEST skips a null
    return f"COALESCE({column}, 0)"


def sql_cost(alias: str = "") -> str:
    """The plain form as a SQL expression over the ledger's columns, one %s per `plain_unit_prices` value."""
    return " + ".join(f"{_sql_count(term, alias)} * %s" for term in PLAIN_TERMS)


def sql_has_usage(alias: str = "") -> str:
    """The SQL condition of a row with some usage to price (`call_cost` gives None without)."""
    return "(" + " OR ".join(f"{alias}{name} IS NOT NULL" for name in USAGE_COLUMNS) + ")"


def metadata_gpu_seconds(metadata) -> Decimal | None:
    """The `gpu_seconds` a usage row's metadata carries, as a Decimal, or None."""
    value = metadata.get("gpu_seconds") if isinstance(metadata, dict) else None
    if value is None or isinstance(value, bool):
        return None
    try:
        # a JSON number arrives as float: its shortest repr is the number that was written
        seconds = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    return seconds if seconds.is_finite() and seconds >= 0 else None
