"""The period header of every page that shows money or usage: `{% period_header period period_error %}`."""

from urllib.parse import urlencode

from django import template

from ingest.periods import (
    CLEAR_PARAMETER,
    PAGE_PARAMETER_NAMES,
    PERIOD_PARAMETER_NAMES,
    SESSION_KEY,
    Period,
    PeriodError,
    default_period,
    period_check,
    period_presets,
    period_progress,
    period_title,
    week_label,
)

register = template.Library()


@register.inclusion_tag("includes/period.html", takes_context=True)
def period_header(context, period, error=None, keep=True):
    """The period, its previous and next, the presets (`period_presets`), a week / month / range picker and, once
    a period is chosen (it then follows the user from page to page), a link back to the default; the page's other
    query parameters (a feature, a plan) are kept in every link and form unless `keep` is false."""
    request = context.get("request")
    kept = [(name, value) for name, values in (request.GET.lists() if request and keep else [])
            if name not in PAGE_PARAMETER_NAMES for value in values]  # fmt: skip
    chosen = request is not None and (any(request.GET.get(name) for name in PERIOD_PARAMETER_NAMES)
                                      or bool(getattr(request, "session", {}).get(SESSION_KEY)))  # fmt: skip

    def url(other):
        if other is None:
            return None
        try:
            period_check(other.start, other.end, today=other.today)
        except PeriodError:
            return None
        return "?" + urlencode([*kept, *other.query().items()])

    last_week = default_period(today=period.today)
    return {
        "period": period,
        "error": error,
        "title": period_title(period),
        "progress": period_progress(period),
        "previous_url": url(period.previous()),
        "next_url": url(period.next()),
        "shortcuts": [(name, url(p), p == period, p) for name, p in period_presets(period.today)],
        "clear_url": "?" + urlencode([*kept, (CLEAR_PARAMETER, "default")]) if chosen else None,
        "kept": kept,
        "week_value": week_label(period.start),
        "month_value": f"{period.start:%Y-%m}",
        "default_title": period_title(last_week),
        # A custom range keeps its end; from a week or a month, a new start alone runs through today (an end left
        # from the week shown would be before most starts a person picks).
        "end_value": period.end if period.kind == "range" else None,
    }


@register.filter
def period_name(value) -> str:
    """`{{ period|period_name }}`: how a page names its period ('Week 2026-W48'), '' for anything not a Period
    (a page whose `period` is something else, or none)."""
    return period_title(value) if isinstance(value, Period) else ""
