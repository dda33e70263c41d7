"""The explorer page's state in its URL, and its chart: every link (a sort, a drill-down, a removed filter, a CSV
export, the next page of lines) is the current query with a change, so a link shared shows the same view and the
back button works. The numbers come from finops/selectors/explore.py, as the API's."""

from decimal import Decimal
from urllib.parse import urlencode

from finops.charts import DAY_HOVER, DAY_TICKS, LEGEND_BELOW, chart_title, money_axis, money_hover
from finops.selectors.explore import DIMENSIONS, EMPTY, ZERO

DEFAULT_GROUP_BY = "provider"
SORTS = ("amount", "previous", "change")
STATE = ("start", "end", "week", "month", "group_by", "sort", "by", "show", *DIMENSIONS)  # what a URL carries
COLOURS = ["#2f6fdb", "#a15c00", "#0e7c66", "#b42318", "#6941c6", "#c11574", "#4e5ba6", "#8a8f98", "#b54708",
           "#027a48", "#175cd3"]  # fmt: skip
TOP_SERIES = 10


def page_params(get) -> dict:
    """{name: [values]} of the explorer state in a request's query (a page's cursor and format are not state)."""
    return {name: get.getlist(name) for name in STATE if get.getlist(name)}


def with_group_by(params: dict) -> dict:
    """The query with the page's default grouping when it names none (`group_by=` asks for the total only)."""
    return params if "group_by" in params else {**params, "group_by": [DEFAULT_GROUP_BY]}


def url_with(params: dict, **changes) -> str:
    """`?query` of `params` with `changes` (a value of None removes the parameter)."""
    merged = dict(params)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value if isinstance(value, list) else [value]
    return "?" + urlencode([(name, v) for name, values in merged.items() for v in values])


def narrowed(params: dict, group: dict, group_by: tuple) -> dict:
    """The query filtered to one group's values."""
    return {**params, **{name: [group[name]] for name in group_by}}


def change_text(change) -> str:
    """A relative change as a person reads it: +12%, -3.4%, 0% for less than a twentieth of a percent, — unknown."""
    if change is None:
        return "—"
    percent = change * 100
    if abs(percent) < Decimal("0.05"):
        return "0%"
    return f"{percent:+.1f}%" if abs(percent) < 10 else f"{percent:+.0f}%"


def sort_groups(groups: list, sort: str, group_by: tuple) -> list:
    """Groups in the asked order (`-amount` by default); unknown values (None) last either way."""
    name = sort.lstrip("-")
    if name not in (*SORTS, *group_by):
        name, sort = "amount", "-amount"
    reverse = sort.startswith("-")
    known = [g for g in groups if g[name] is not None]
    unknown = [g for g in groups if g[name] is None]
    return sorted(known, key=lambda g: g[name], reverse=reverse) + unknown


def sort_links(params: dict, sort: str, group_by: tuple) -> dict:
    """{column: (url, arrow)}: a click on a column sorts by it, a second click the other way."""
    links = {}
    for name in (*group_by, *SORTS):
        descending = sort == f"-{name}"
        ascending = sort == name
        target = name if descending else f"-{name}"
        links[name] = (url_with(params, sort=target), "▼" if descending else "▲" if ascending else "")
    return links


def filter_chips(params: dict) -> list:
    """[(dimension, values shown, url without that filter)] of the query's filters."""
    return [(name, ", ".join(v or EMPTY for v in params[name]), url_with(params, **{name: None}))
            for name in DIMENSIONS if name in params]  # fmt: skip


def by_week(period, asked: str | None) -> bool:
    """Weekly bars when asked, or by default for periods longer than two months."""
    if asked in ("day", "week"):
        return asked == "week"
    return period.days > 62


def explore_figure(series: dict, params: dict, *, group_by: tuple, currency: str, weekly: bool) -> dict:
    """The stacked bars of the period by day or week, one trace per value of the first dimension (the ten largest,
    then "Other"); a click on a segment (its customdata) narrows the filter to that value."""
    name = group_by[0] if group_by else None
    totals = {}
    for values in series.values():
        for value, amount in values.items():
            totals[value] = totals.get(value, ZERO) + amount
    ranked = sorted(totals, key=lambda v: (-totals[v], v))
    top, rest = ranked[:TOP_SERIES], ranked[TOP_SERIES:]
    days = list(series)
    x = [d.isoformat() for d in days]
    amount = money_hover(currency)
    traces = []
    for index, value in enumerate(top + (["Other"] if rest else [])):
        if value == "Other" and rest:
            ys = [sum((series[d].get(v, ZERO) for v in rest), ZERO) for d in days]
            link = None
        else:
            ys = [series[d].get(value, ZERO) for d in days]
            link = url_with(params, **{name: [value]}) if name else None
        traces.append({"type": "bar", "name": value, "x": x, "y": [float(y) for y in ys],
                       "marker": {"color": COLOURS[index % len(COLOURS)]},
                       "customdata": [link] * len(x),
                       "hovertemplate": f"{DAY_HOVER}: {amount}<extra>{value}</extra>"})  # fmt: skip
    step = "week" if weekly else "day"
    layout = {
        "barmode": "stack",
        "title": chart_title(f"Cost per {step}"),
        "xaxis": {"type": "date", "tickformat": DAY_TICKS, "automargin": True},
        "yaxis": money_axis(currency, f"Cost per {step}"),
        "margin": {"l": 60, "r": 10, "t": 40, "b": 40},
        "height": 320,
        "legend": LEGEND_BELOW,
        "showlegend": bool(name),
    }
    return {"data": traces, "layout": layout}
