from decimal import Decimal

from django import template

from finops.money import CURRENCY_SYMBOLS, minor_unit_exponent
from pricing.selectors import stripe_connection_get, stripe_mirror_counts

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


@register.inclusion_tag("pricing/revenue_status.html")
def revenue_status(org):
    """The Sources page's Stripe card status: connected (and synced when), revenue held, or nothing yet."""
    connection = stripe_connection_get(org)
    counts = stripe_mirror_counts(org)
    return {"org": org, "connection": connection, "invoices": counts["invoices"], "customers": counts["customers"]}
