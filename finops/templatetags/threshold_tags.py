from django import template

from finops.economics import rows
from finops.economics.rules import thresholds_with_defaults
from finops.selectors.inputs import economics_settings_for
from finops.templatetags.money_tags import figure_text

register = template.Library()


@register.simple_tag
def org_thresholds(org) -> dict:
    """{% org_thresholds org as limits %}: the organisation's thresholds (its own, else the defaults) and its
    currency, for `row_thresholds`: read once per page."""
    return {"values": thresholds_with_defaults(economics_settings_for(org=org).thresholds), "currency": org.currency}


@register.filter
def row_thresholds(row, limits) -> list[tuple[str, str]]:
    """{% for help, value in row|row_thresholds:limits %}: the thresholds a Founder Table row declares (from the
    registry, not the row's output, so the API's JSON is untouched), each as its help text and the organisation's
    value in its unit (a share as a percentage, money in the currency)."""
    key = row["key"] if isinstance(row, dict) else row.key
    try:
        declared = rows.row_by_key(key).thresholds
    except KeyError:
        return []
    values, currency = limits["values"], limits["currency"]
    return [(threshold.help, threshold_text(values[threshold.key], threshold.unit, currency)) for threshold in declared]


def threshold_text(value, unit, currency: str) -> str:
    """A threshold's value as a person reads it: like a figure, but a share keeps its decimals (12.5%, not 13%)."""
    if unit == rows.Unit.SHARE:
        return f"{format((value * 100).normalize(), 'f')}%"
    return figure_text(value, unit, currency)
