from decimal import Decimal

from django import template

from finops.money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """{{ amount|money:currency }}: rounded half-even to the minor unit; unknown shows as a dash."""
    if amount is None or amount == "":
        return format_money(None, currency or "USD")
    return format_money(amount if isinstance(amount, Decimal) else Decimal(str(amount)), currency or "USD")
