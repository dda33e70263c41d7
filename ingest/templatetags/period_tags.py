"""The period header of every page that shows money or usage: `{% period_header period period_error %}`."""

from urllib.parse import urlencode

from django import template

from ingest.periods import (
    PERIOD_PARAMETER_NAMES,
    PeriodError,
    default_period,
    month_period,
    period_check,
    period_progress,
    period_title,
    week_label,
)

register = template.Library()


@register.inclusion_tag("includes/period.html", takes_context=True)
def period_header(context, period, error=None, keep=True):
    """The period, its previous and next, shortcuts and a week / month / range picker; the page's other query
    parameters (a feature, a plan) are kept in every link and form unless `keep` is false."""
    request = context.get("request")
    kept = [(name, value) for name, values in (request.GET.lists() if request and keep else [])
            if name not in PERIOD_PARAMETER_NAMES for value in values]  # fmt: skip

    def url(other):
        if other is None:
            return None
        try:
            period_check(other.start, other.end, today=other.today)
        except PeriodError:
            return None
        return "?" + urlencode([*kept, *other.query().items()])

    today = period.today
    last_week = default_period(today=today)
    this_month = month_period(today)
    shortcuts = [("Last week", last_week), ("This week so far", last_week.next()),
                 ("Last month", this_month.previous()), ("This month so far", this_month)]  # fmt: skip
    return {
        "period": period,
        "error": error,
        "title": period_title(period),
        "progress": period_progress(period),
        "previous_url": url(period.previous()),
        "next_url": url(period.next()),
        "shortcuts": [(name, url(p), p == period) for name, p in shortcuts],
        "kept": kept,
        "week_value": week_label(period.start),
        "month_value": f"{period.start:%Y-%m}",
        "default_title": period_title(last_week),
        # A custom range keeps its end; from a week or a month, a new start alone runs through today (an end left
        # from the week shown would be before most starts a person picks).
        "end_value": period.end if period.kind == "range" else None,
    }
