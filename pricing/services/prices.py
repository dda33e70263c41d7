"""Writes of the pricing app: the organisation's own model prices, and pricing calls again after one."""

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from finops.money import MAX_DIGITS, quantize_storage, to_decimal
from ingest.models import UsageEvent
from ingest.services.days import dirty_days_mark
from pricing.models import PriceOverride
from pricing.services.repricing import usage_rows_price

CURRENCY_SHAPE = re.compile(r"[A-Z]{3}")
TOKEN_PRICE_FIELDS = ("input_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok", "output_per_mtok")
PRICE_FIELDS = (*TOKEN_PRICE_FIELDS, "gpu_hour_amount")
LARGEST_PRICE = Decimal(10) ** (MAX_DIGITS - 10)


def _price(value, name: str, errors: dict) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = to_decimal(value)
    except ValueError:
        errors[name] = "Enter a number such as 2.50."
        return None
    if not amount.is_finite() or amount < 0:
        errors[name] = "A price cannot be negative."
    elif amount >= LARGEST_PRICE:
        errors[name] = "That price is too large."
    elif quantize_storage(amount) != amount:
        errors[name] = "Use at most 10 decimal places."
    return amount


@transaction.atomic
def price_override_create(
    *,
    org,
    provider: str,
    model: str,
    effective_from: date,
    currency: str,
    input_per_mtok=None,
    cached_input_per_mtok=None,
    cache_write_per_mtok=None,
    output_per_mtok=None,
    gpu_hour_amount=None,
    note: str = "",
    created_by=None,
) -> PriceOverride:
    """Save the organisation's price for a model from a date on (replacing one of the same date); returns it.

    After commit, the model's unpriced calls are priced, and its catalogue-priced calls from that date
    on are priced again (a negotiated rate replaces the catalogue); reported costs are never touched.
    """
    errors = {}
    provider = (provider or "").strip().lower()
    model = (model or "").strip()
    currency = (currency or "").strip().upper()
    if not provider:
        errors["provider"] = "Name the provider, e.g. openai or self-hosted."
    elif len(provider) > 100:
        errors["provider"] = "At most 100 characters."
    if not model:
        errors["model"] = "Name the model exactly as your calls do."
    elif len(model) > 200:
        errors["model"] = "At most 200 characters."
    if not CURRENCY_SHAPE.fullmatch(currency):
        errors["currency"] = "Use a three-letter ISO 4217 code such as USD."
    if not isinstance(effective_from, date):
        errors["effective_from"] = "Give the first day this price applies to."
    given = dict(
        zip(
            PRICE_FIELDS,
            (input_per_mtok, cached_input_per_mtok, cache_write_per_mtok, output_per_mtok, gpu_hour_amount),
            strict=True,
        )
    )
    prices = {name: _price(value, name, errors) for name, value in given.items()}
    token_prices = [prices[name] for name in TOKEN_PRICE_FIELDS if prices[name] is not None]
    if prices["gpu_hour_amount"] is None and not token_prices:
        errors.setdefault("__all__", "Give at least one price: per million tokens, or per GPU-hour.")
    elif prices["gpu_hour_amount"] is not None and token_prices:
        errors.setdefault("gpu_hour_amount", "Give either prices per million tokens or a price per GPU-hour, not both.")
    if errors:
        raise ValidationError(errors)
    PriceOverride.objects.for_org(org).filter(provider=provider, model=model, effective_from=effective_from).delete()
    override = PriceOverride.objects.create(
        org=org,
        provider=provider,
        model=model,
        effective_from=effective_from,
        currency=currency,
        note=(note or "").strip(),
        created_by=created_by,
        **prices,
    )
    from pricing.tasks import price_override_apply as price_override_apply_task

    transaction.on_commit(lambda: price_override_apply_task.delay(override.pk))
    return override


@transaction.atomic
def price_override_apply(*, override_id: int) -> int:
    """Price an override's model again: its unpriced calls, and its catalogue-priced calls from the
    override's date on; marks the touched days for the rollups. Returns how many calls have a price now."""
    override = PriceOverride.objects.select_related("org").filter(pk=override_id).first()
    if override is None:
        return 0
    org = override.org
    since = datetime.combine(override.effective_from, time(0), tzinfo=UTC)
    rows = (
        UsageEvent.objects.for_org(org)
        .filter(provider__iexact=override.provider, model=override.model)
        .filter(
            Q(cost_source=UsageEvent.CostSource.UNPRICED)
            | Q(cost_source=UsageEvent.CostSource.CATALOGUE, occurred_at__gte=since)
        )
    )
    result = usage_rows_price(org=org, rows=rows)
    dirty_days_mark(org=org, days=result.days)
    return result.priced
