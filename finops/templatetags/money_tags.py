from decimal import Decimal

from django import template

from finops.economics.units import Unit
from finops.money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """{{ amount|money:currency }}: rounded half-even to the minor unit; unknown shows as a dash."""
    if amount is None or amount == "":
        return format_money(None, currency or "USD")
    return format_money(amount if isinstance(amount, Decimal) else Decimal(str(amount)), currency or "USD")


@register.filter
def measure(value, unit_and_currency):
    """{{ value|measure:"share" }}, {{ value|measure:"money,EUR" }}: a figure shown in its unit (finops.economics.units:
    money, share, hours, days, count, number); unknown is a dash. A name that is not a unit is an error, never a
    guess."""
    name, _, currency = unit_and_currency.partition(",")
    return figure_text(value, Unit(name), currency or "USD")


def figure_text(value, unit: Unit, currency: str) -> str:
    """A figure as text in its unit: money rounded in the currency, a share as a whole percentage, hours to a
    tenth; counts and plain numbers with thousands separators (a decimal to two places)."""
    if value is None:
        return "—"
    if unit == Unit.SHARE:
        return f"{Decimal(value) * 100:.0f}%"
    if unit == Unit.MONEY:
        return format_money(Decimal(value), currency)
    if unit == Unit.HOURS:
        return f"{Decimal(value):,.1f} h"
    if unit == Unit.DAYS:
        return f"{Decimal(value):,.0f} d"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else value


@register.filter
def figures(row, currency):
    """{% for label, text in row|figures:currency %}: a Founder Table row's measured figures (not its breakdowns
    by plan nor its audit) as text, each in the unit its row declares (the engine's `units`)."""
    units = row["units"]
    return [
        (humanize_key(key), figure_text(value, units[key], currency or "USD"))
        for key, value in row["measured"].items()
        if not isinstance(value, dict | list)
    ]


ACRONYMS = {"gpu": "GPU", "gpus": "GPUs", "api": "API", "ai": "AI", "llm": "LLM", "p90": "p90"}


@register.filter
def humanize_key(key):
    """'cost_per_completed_job' -> 'Cost per completed job'; 'gpu_hours' -> 'GPU hours' (acronyms as people write
    them)."""
    words = str(key).replace("_", " ").capitalize().split(" ")
    return " ".join(ACRONYMS.get(word.lower(), word) for word in words)
