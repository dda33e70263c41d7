"""The one cost formula (pricing/formula.py): `call_cost` against the formula as ECONOMICS.md writes it, and
its three forms (Python, the SQL the repricing service runs on PostgreSQL, the Arrow pricer's 64-bit sums)
giving the same Decimal cost, or the same None, for generated token counts and prices."""

import inspect
import unittest
from datetime import UTC, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pyarrow as pa
from django.db import connection
from django.test import SimpleTestCase
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from ingest.services.focus_columnar import DECIMAL
from pricing.arrow_pricing import UsageTablePricer
from pricing.formula import (
    COUNT_COLUMNS,
    PLAIN_TERMS,
    TERMS,
    USAGE_COLUMNS,
    UnitPrices,
    call_cost,
    plain_unit_prices,
    sql_cost,
    sql_has_usage,
)

D = Decimal
INT64_MAX = 2**63 - 1
# The largest cost a ledger row can hold (numeric(20, 10)); beyond it every form refuses the row somewhere
# (Python's rounding, Arrow's cast or the COPY, PostgreSQL's column), so agreement is checked below it.
STORABLE = D(10) ** 10
TOKEN_COLUMNS = tuple(name for name in COUNT_COLUMNS if name != "request_count")


def spec_cost(prices, *, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
              request_count):  # fmt: skip
    """The formula of ECONOMICS.md and pricing/formula.py's docstring, written out by hand (no tiers)."""
    if input_tokens is None and cached_input_tokens is None and cache_write_tokens is None and output_tokens is None:
        return None
    uncached, reads, writes, output = (n or 0 for n in (input_tokens, cached_input_tokens, cache_write_tokens,
                                                        output_tokens))  # fmt: skip
    calls = request_count if request_count and request_count > 0 else 1
    reasoning = reasoning_tokens or 0 if prices.reasoning_per_mtok is not None else 0
    if reasoning > output:
        return None
    input_price = prices.input_per_mtok
    pairs = (
        (uncached, input_price),
        (reads, input_price if prices.cached_input_per_mtok is None else prices.cached_input_per_mtok),
        (writes, input_price if prices.cache_write_per_mtok is None else prices.cache_write_per_mtok),
        (output - reasoning, prices.output_per_mtok),
        (reasoning, prices.reasoning_per_mtok),
    )
    if any(count and price is None for count, price in pairs):
        return None  # usage of a kind without a price: unpriced, never 0
    with localcontext(prec=100):
        total = sum((count * price for count, price in pairs if count), D(0)) / 1_000_000
        if prices.request_amount is not None:
            total += calls * prices.request_amount
        return total.quantize(D("1E-10"), rounding=ROUND_HALF_EVEN)


def price(max_units=10**14):
    """A price per million tokens or per call: up to 14 decimal places (genai-prices has some beyond 10)."""
    return st.builds(lambda units, places: D(units).scaleb(-places), st.integers(0, max_units), st.integers(0, 14))


def maybe(strategy, none_weight=1):
    return st.one_of(*[st.none()] * none_weight, strategy)


def any_prices(max_units):
    return st.builds(
        UnitPrices,
        currency=st.sampled_from(["USD", "EUR"]),
        input_per_mtok=maybe(price(max_units)),
        cached_input_per_mtok=maybe(price(max_units)),
        cache_write_per_mtok=maybe(price(max_units)),
        output_per_mtok=maybe(price(max_units)),
        reasoning_per_mtok=maybe(price(max_units), none_weight=3),
        request_amount=maybe(price(max_units), none_weight=3),
    )


def exact(places):
    return lambda p: p.quantize(D(1).scaleb(-places))


# The plain prices the SQL and Arrow forms take (exact at 10 places once per token). Up to 10^6 a million
# tokens, so that 2^63 tokens of each kind still cost less than the staging column's 10^20.
plain_prices = st.builds(
    UnitPrices,
    currency=st.just("USD"),
    input_per_mtok=price(10**6).map(exact(4)),
    cached_input_per_mtok=maybe(price(10**6).map(exact(4))),
    cache_write_per_mtok=maybe(price(10**6).map(exact(4))),
    output_per_mtok=price(10**6).map(exact(4)),
    request_amount=maybe(price(10**6).map(exact(10))),
)
token_count = st.one_of(
    st.none(),
    st.integers(0, 10_000),
    st.integers(0, 10**9),
    st.integers(0, INT64_MAX),
    st.sampled_from([0, 1, 2**31, 2**62, INT64_MAX]),
)
counts = st.fixed_dictionaries(
    {name: token_count for name in TOKEN_COLUMNS} | {"request_count": maybe(st.integers(-3, 2**31 - 1))}
)


class SpecTests(SimpleTestCase):
    @settings(max_examples=600, deadline=None, database=None)
    @given(any_prices(10**14), counts)
    @example(UnitPrices("USD", input_per_mtok=D("2.5"), output_per_mtok=D("10")),
             dict.fromkeys(COUNT_COLUMNS) | {"input_tokens": 1000, "output_tokens": 200})  # fmt: skip
    def test_it_is_the_formula_as_written(self, prices, row):
        expected = spec_cost(prices, **row)
        assume(expected is None or expected < STORABLE)
        self.assertEqual(call_cost(prices, **row), expected)

    def test_it_derives_every_form_from_the_terms(self):
        self.assertEqual(COUNT_COLUMNS, tuple(term.count for term in TERMS))
        self.assertEqual(tuple(inspect.signature(call_cost).parameters)[1:-1], COUNT_COLUMNS)
        self.assertEqual(len(plain_unit_prices(UnitPrices("USD", input_per_mtok=D(1), output_per_mtok=D(1)))),
                         len(PLAIN_TERMS))  # fmt: skip
        self.assertEqual(sql_cost().count("%s"), len(PLAIN_TERMS))
        self.assertEqual(
            sql_cost(),
            "COALESCE(input_tokens, 0) * %s + COALESCE(cached_input_tokens, 0) * %s"
            " + COALESCE(cache_write_tokens, 0) * %s + COALESCE(output_tokens, 0) * %s"
            " + GREATEST(request_count, 1) * %s",
        )
        self.assertEqual(set(USAGE_COLUMNS), {"input_tokens", "cached_input_tokens", "cache_write_tokens",
                                              "output_tokens"})  # fmt: skip

    def test_it_leaves_plain_form_to_exact_prices_only(self):
        flat = UnitPrices("USD", input_per_mtok=D("2.5"), output_per_mtok=D("10"))
        self.assertEqual(plain_unit_prices(flat), (D("0.0000025"), D("0.0000025"), D("0.0000025"), D("0.00001"), 0))
        self.assertIsNone(plain_unit_prices(None))
        self.assertIsNone(plain_unit_prices(UnitPrices("USD", input_per_mtok=D("2.5"))))  # output unpriced
        self.assertIsNone(plain_unit_prices(UnitPrices("USD", input_per_mtok=D("0.00001"), output_per_mtok=D(1))))
        self.assertIsNone(plain_unit_prices(UnitPrices("USD", input_per_mtok=D(1), output_per_mtok=D(1),
                                                       reasoning_per_mtok=D(1))))  # fmt: skip
        self.assertIsNone(plain_unit_prices(UnitPrices("USD", gpu_hour_amount=D(4))))
        self.assertIsNone(plain_unit_prices(UnitPrices("USD", input_per_mtok=D(1), output_per_mtok=D(1),
                                                       tiers=((10, flat),))))  # fmt: skip


class OnePrice:
    """A price book with one price for every call (None: a model nobody prices)."""

    def __init__(self, prices):
        self.prices = prices

    def day_windows(self, provider, model, day):
        return ((time(0), self.prices),)

    def whole_day_prices(self, provider, model, day):
        return self.prices

    def prices_at(self, provider, model, at):
        return self.prices


def arrow_costs(prices, rows):
    n = len(rows)
    columns = {
        "provider": pa.array(["openai"] * n),
        "model": pa.array(["m"] * n),
        "occurred_at": pa.array([datetime(2026, 10, 1, 12, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")),
        **{name: pa.array([row[name] for row in rows], pa.int64()) for name in TOKEN_COLUMNS},
        "request_count": pa.array([row["request_count"] for row in rows], pa.int32()),
        "cost_amount": pa.nulls(n, DECIMAL),
        "currency": pa.array([""] * n),
        "cost_source": pa.array(["unpriced"] * n),
        "metadata": pa.array(["{}"] * n),
    }
    priced = UsageTablePricer(book=OnePrice(prices))(pa.table(columns))
    costs = priced.column("cost_amount").to_pylist()
    sources = priced.column("cost_source").to_pylist()
    for cost, source in zip(costs, sources, strict=True):
        assert (source == "catalogue") == (cost is not None), (cost, source)
    return costs


def sql_costs(prices, rows):
    """The repricing service's SQL form, evaluated by PostgreSQL over the rows (None: left unpriced)."""
    units = plain_unit_prices(prices)
    if units is None:
        return None  # not plain: the service leaves these rows to call_cost
    values = ", ".join(["(%s, %s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::integer)"] * len(rows))
    params = [value for i, row in enumerate(rows) for value in (i, *(row[name] for name in COUNT_COLUMNS))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT CASE WHEN {sql_has_usage('e.')} THEN {sql_cost('e.')} END FROM (VALUES {values})"  # noqa: S608
            f" AS e(n, {', '.join(COUNT_COLUMNS)}) ORDER BY n",
            [*units, *params],
        )
        return [cost for (cost,) in cursor.fetchall()]


@unittest.skipUnless(connection.vendor == "postgresql", "the SQL form runs on PostgreSQL only")
class ThreeFormsTests(TestCase):
    @settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.one_of(plain_prices, plain_prices, any_prices(10**6), st.none()), st.lists(counts, min_size=1, max_size=4)
    )
    @example(None, [dict.fromkeys(COUNT_COLUMNS) | {"input_tokens": 1000}])  # unknown model: None, never 0
    @example(UnitPrices("USD", input_per_mtok=D(1), output_per_mtok=D(2)), [dict.fromkeys(COUNT_COLUMNS)])
    @example(
        UnitPrices("USD", input_per_mtok=D("0.1234567891"), output_per_mtok=D("0.3")),  # 16 places a token
        [dict.fromkeys(COUNT_COLUMNS) | {"input_tokens": 7, "output_tokens": 3}],
    )
    @example(
        UnitPrices("USD", input_per_mtok=D("0.15"), cached_input_per_mtok=D("0.075"), output_per_mtok=D("0.6")),
        [
            dict.fromkeys(COUNT_COLUMNS) | {"input_tokens": 10, "cached_input_tokens": 10**6, "output_tokens": 5},
        ],
    )
    @example(  # 2^62 + 2^62 units of 10^-10: past 64 bits, so the whole batch goes one by one
        UnitPrices("USD", input_per_mtok=D("0.0001"), output_per_mtok=D("0.0001")),
        [
            dict.fromkeys(COUNT_COLUMNS) | {"input_tokens": 2**62, "output_tokens": 2**62},
            dict.fromkeys(COUNT_COLUMNS) | {"input_tokens": 1000, "output_tokens": 10, "request_count": 40},
        ],
    )
    @example(  # a carved-out price (reasoning) and 2^63 tokens: the cost passes 10^18 (it rounded with an error)
        UnitPrices("USD", input_per_mtok=D(10**6), output_per_mtok=D(1), reasoning_per_mtok=D(1)),
        [dict.fromkeys(COUNT_COLUMNS) | {"input_tokens": INT64_MAX, "output_tokens": 1}],
    )
    def test_python_sql_and_arrow_agree(self, prices, rows):
        if prices is not None and not prices.reasoning_per_mtok:
            assume(all((spec_cost(prices, **row) or 0) < STORABLE for row in rows))
        expected = [None if prices is None else call_cost(prices, **row) for row in rows]
        assume(all(cost is None or cost < STORABLE for cost in expected))
        for cost in expected:
            self.assertTrue(cost is None or cost == cost.quantize(D("1E-10")))
        self.assertEqual(arrow_costs(prices, rows), expected)
        in_sql = sql_costs(prices, rows)
        event("plain: SQL and 64-bit sums" if in_sql is not None else "not plain: call_cost one by one")
        event("some row unpriced" if None in expected else "every row priced")
        if in_sql is not None:
            self.assertEqual(in_sql, expected)
            self.assertTrue(all(cost is None or -cost.as_tuple().exponent <= 10 for cost in in_sql))

    def test_the_sql_form_prices_the_ledger_rows_it_is_given(self):
        prices = UnitPrices("USD", input_per_mtok=D("2.5"), cached_input_per_mtok=D("1.25"), output_per_mtok=D("10"))
        rows = [dict.fromkeys(COUNT_COLUMNS) | {"input_tokens": 600, "cached_input_tokens": 400, "output_tokens": 200}]
        self.assertEqual(sql_costs(prices, rows), [D("0.004")])
