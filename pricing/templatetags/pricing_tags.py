from decimal import Decimal

from django import template

from finops.money import CURRENCY_SYMBOLS, minor_unit_exponent

register = template.Library()


@register.filter
def unit_price(amount, currency):
    """{{ price|unit_price:currency }}: a unit price in full (per-token prices go below a cent); blank is a dash."""
    if amount is None or amount == "":
        return "—"
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    places = max(minor_unit_exponent(currency or "USD"), -value.normalize().as_tuple().exponent)
    text = f"{value:,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get((currency or "").upper())
    return f"{symbol}{text}" if symbol else f"{text} {(currency or '').upper()}"
