"""`{% drill "card" "idle" amount %}`: a figure of the Founder Table as a link to the explorer filtered to the cost
behind it, over the page's period (finops/drilldown.py decides the filters). Where the explorer's total of the link
is the figure itself, the link carries it exactly in `data-total`, for tests and for a reader's tools to check."""

from decimal import Decimal

from django import template
from django.utils.html import format_html

from finops.drilldown import drilldown, drilldown_url
from finops.money import format_money

register = template.Library()


@register.simple_tag(takes_context=True)
def drill(context, shown, key="", amount=None, text=None, ident="", measure=""):
    """An <a> to the explorer around `text` (the amount as money by default); the text alone where no cost stands
    behind the figure. A {name: amount} breakdown counts as its sum."""
    org, period = context["org"], context["period"]
    if isinstance(amount, dict):
        amount = sum(amount.values(), Decimal(0))
    if text is None:
        text = format_money(amount, org.currency)
    found = drilldown(shown, key, ident=ident, measure=measure)
    if found is None:
        return text
    url = drilldown_url(org, found, start=period.start, end=period.end)
    name = ":".join(part for part in (shown, key, measure) if part)
    if found.equal and amount is not None:
        return format_html('<a class="drill" href="{}" data-drill="{}" data-total="{}" title="Open in the explorer">'
                           "{}</a>", url, name, amount, text)  # fmt: skip
    return format_html('<a class="drill" href="{}" data-drill="{}" title="Open the cost it concerns in the explorer">'
                       "{}</a>", url, name, text)  # fmt: skip
