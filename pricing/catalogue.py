"""The model price catalogue: the unit prices of a model call (pure lookup, no writes).

A call's unit prices come from, in order: the organisation's own `PriceOverride` in force on the
call's UTC date; else the price data bundled with the installed `genai-prices` package (USD, as of
the call's time: it knows price changes and off-peak hours); else nothing, and the call stays
unpriced (counted, never $0). The bundled data is never refreshed at run time: upgrading the
pinned package is how catalogue prices change.

What a call costs at those prices is pricing/formula.py (`call_cost`); pricing the usage ledger
with them is pricing/services/repricing.py, and pricing the columnar import's Arrow tables
pricing/arrow_pricing.py.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from functools import lru_cache

from genai_prices import types as genai_types
from genai_prices.data_snapshot import get_snapshot

from pricing.formula import UnitPrices
from pricing.models import PriceOverride

CATALOGUE_CURRENCY = "USD"  # genai-prices quotes every price in US dollars

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
    at = as_utc(at)
    return _in_window(catalogue_day(provider.strip().lower(), model, at.date()), at.time())


def _in_window(windows, moment: time) -> UnitPrices | None:
    chosen = windows[0][1]
    for start, prices in windows[1:]:
        if start > moment:
            break
        chosen = prices
    return chosen


def as_utc(at: datetime) -> datetime:
    """`at` in UTC (a naive moment is taken to be UTC)."""
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
        at = as_utc(at)
        key = (provider.strip().lower(), model, at.date())
        windows = self._days.get(key)
        if windows is None:
            windows = self._days[key] = self.day_windows(*key)
        return windows[0][1] if len(windows) == 1 else _in_window(windows, at.time())

    def day_windows(self, provider: str, model: str, day: date) -> tuple[tuple[time, UnitPrices | None], ...]:
        """The prices in force through one UTC day, as `catalogue_day` (the provider in lower case)."""
        in_force = [prices for since, prices in self._overrides.get((provider, model), ()) if since <= day]
        if in_force:
            return ((time(0), in_force[-1]),)
        return catalogue_day(provider, model, day)

    def whole_day_prices(self, provider: str, model: str, day: date) -> UnitPrices | None:
        """The prices in force for the whole UTC day, or None when there are none or they change within it."""
        windows = self.day_windows(provider.strip().lower(), model, day)
        return windows[0][1] if len(windows) == 1 and windows[0][0] == time(0) else None


def unit_prices(org, provider: str, model: str, at: datetime) -> UnitPrices | None:
    """The prices of `provider`/`model` for a call at `at`: the org's override in force, else the catalogue."""
    return PriceBook(org).prices_at(provider, model, at)
