"""The formats a page lists, from the source registry: `{% formats "bill" "and" %}`."""

from django import template

from ingest.sources import shown_formats

register = template.Library()


@register.simple_tag
def formats(kind: str, last: str = "") -> str:
    """The short labels of the `kind` formats, comma-separated; `last` ("and", "or") joins the final one."""
    names = shown_formats(kind)
    if not last or len(names) < 2:
        return ", ".join(names)
    return f"{', '.join(names[:-1])}, {last} {names[-1]}"
