"""Pricing new usage rows before they are stored: the columnar import's Arrow tables (no writes).

`settings.USAGE_TABLE_PRICER` (ingest/services/usage_columnar.py calls it; pricing sits above ingest).
The same decisions as the repricing service (pricing/services/repricing.py), made over whole columns:
reported costs are kept; a call whose (provider, model, day) has a plain price for the whole day
(`plain_unit_prices`) costs the sum of pricing.formula's `PLAIN_TERMS`, here in 64-bit integers of
10^-10 (exact, overflow checked), generated from the same terms as `call_cost` and the SQL form; the
other calls of a model with a price (tiers, time of day, GPU-hours, or a sum too large) go through
`call_cost` one by one.
"""

import json
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from finops.money import DECIMAL_PLACES, STORAGE_QUANTUM
from ingest.models import UsageEvent
from pricing.catalogue import PriceBook
from pricing.formula import COUNT_COLUMNS, PLAIN_TERMS, USAGE_COLUMNS, metadata_gpu_seconds, plain_unit_prices, row_cost

_INT64_MAX = 2**63 - 1
_ONE_UNIT = pa.scalar(STORAGE_QUANTUM, pa.decimal128(1, DECIMAL_PLACES))


def _units(price) -> int | None:
    """A unit price in units of 10^-10 (exact: `plain_unit_prices` only passes prices with at most 10 places)."""
    units = int(price.scaleb(DECIMAL_PLACES))
    return units if abs(units) <= _INT64_MAX else None


def _codes(column):
    """(the distinct values in order of appearance, each row's index among them), in one pass."""
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    return encoded.dictionary.to_pylist(), pc.cast(encoded.indices, pa.int64())


def _term_count(term, values):
    """A term's count column as `call_cost` reads it: null is 0, or at least `term.at_least`."""
    # max_element_wise skips nulls: a null count is `at_least`
    values = pc.fill_null(values, 0) if term.at_least is None else pc.max_element_wise(values, term.at_least)
    return values if values.type == pa.int64() else pc.cast(values, pa.int64())


def plain_costs(columns: dict, units: list, slots, plain, stored):
    """sum over PLAIN_TERMS of count x unit price (in 10^-10) for the `plain` rows, as stored decimals (null
    elsewhere), or None when a product or the sum does not fit in 64 bits. `columns` maps each term's count
    column to its values, `units` gives each group its unit prices (None: not plain), `slots` each row's group."""
    total = None
    try:
        for i, term in enumerate(PLAIN_TERMS):
            price = pc.take(pa.array([None if u is None else u[i] for u in units], pa.int64()), slots)
            count = _term_count(term, columns[term.count])
            product = pc.multiply_checked(pc.if_else(plain, count, 0), price)
            total = product if total is None else pc.add_checked(total, product)
    except pa.ArrowInvalid:
        return None
    return pc.cast(pc.multiply(pc.cast(total, pa.decimal128(19, 0)), _ONE_UNIT), stored)


class UsageTablePricer:
    """Prices Arrow tables of new usage rows (the staging table's columns) for one organisation before
    they are stored, so that the ledger gets final rows and no UPDATE of it is needed."""

    def __init__(self, org=None, *, book=None):
        self.book = book if book is not None else PriceBook(org)
        self._groups = {}

    def _group(self, provider: str, model: str, day: date):
        """(units of the plain prices or None, currency, True when some window has a price)."""
        key = (provider.strip().lower(), model, day)
        if key not in self._groups:
            windows = self.book.day_windows(*key)
            prices = self.book.whole_day_prices(*key)
            plain = plain_unit_prices(prices)
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
        counts = {term.count: column(term.count) for term in PLAIN_TERMS}
        plain = pc.and_(unpriced, pc.take(pa.array([g[0] is not None for g in groups]), slots))
        # as call_cost: a row with no usage count has no price
        plain = pc.and_(plain, pc.is_valid(pc.coalesce(*(counts[name] for name in USAGE_COLUMNS))))
        plain_cost = plain_costs(counts, [g[0] for g in groups], slots, plain, cost.type)
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
        for row in rows.select(["provider", "model", "occurred_at", *COUNT_COLUMNS, "metadata"]).to_pylist():
            prices = self.book.prices_at(row["provider"], row["model"], row["occurred_at"])
            cost = None
            if prices is not None:
                gpu_seconds = None
                if prices.gpu_hour_amount is not None:
                    gpu_seconds = metadata_gpu_seconds(json.loads(row["metadata"]) if row["metadata"] else {})
                cost = row_cost(prices, row, gpu_seconds)
            costs.append(cost)
            currencies.append(prices.currency if cost is not None else "")
        return costs, currencies


def usage_table_pricer(*, org) -> UsageTablePricer:
    """settings.USAGE_TABLE_PRICER: prices the columnar path's Arrow tables before the COPY."""
    return UsageTablePricer(org)
