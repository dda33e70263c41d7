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


MONEY_WORDS = ("cost", "spend", "saving", "used", "unused", "unattributed", "mystery", "at_stake")


@register.filter
def measure(value, key_and_currency):
    """{{ value|measure:"key,USD" }}: a measured figure shown by what its name says it is (money, share,
    hours, count); unknown is a dash."""
    key, _, currency = key_and_currency.partition(",")
    if value is None:
        return "—"
    if key.endswith("share") or key.endswith("share_of_bill") or key == "utilisation":
        return f"{Decimal(value) * 100:.0f}%"
    if any(word in key for word in MONEY_WORDS):
        return format_money(Decimal(value), currency or "USD")
    if key.endswith("hours"):
        return f"{Decimal(value):,.1f} h"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else value


@register.filter
def humanize_key(key):
    """'cost_per_completed_job' -> 'Cost per completed job'."""
    return str(key).replace("_", " ").capitalize()
