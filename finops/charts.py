"""Plotly figures built in Python (plain dicts), passed to pages with json_script. Floats only here:
plot coordinates, never money.

Plotly reads every string it draws (trace names, titles, axis and tick labels, hover text, annotations) as a
little HTML: `<a href>`, `<b>`, `<br>`, `<span style>`. A name someone else chose (a GPU reported by an agent, a
plan, a feature, a currency) therefore goes through `plot_text` exactly once, where the figure is built, so it is
drawn literally and never becomes a link or markup."""

from html import escape

from finops.models import Bucket
from finops.money import CURRENCY_SYMBOLS, minor_unit_exponent

DAY_TICKS = "%-d %b"  # dates as the pages write them (`j M Y`): 5 Nov, and 5 Nov 2026 on hover
DAY_HOVER = "%{x|%-d %b %Y}"
# The legend at the foot of the figure (the container, not the plot area), so it never sits on the x axis's title.
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"}


def plot_text(value) -> str:
    """`value` as text Plotly shows literally: `&`, `<` and `>` as entities, which Plotly turns back into characters."""
    return escape(str(value), quote=False)


def chart_title(text: str) -> dict:
    """A figure's title as every chart sets it: small, at the left."""
    return {"text": text, "font": {"size": 14}, "x": 0.01, "xanchor": "left"}


def money_hover(currency: str, value: str = "y") -> str:
    """A hover template's amount as `finops.money.format_money` writes it: `$1,234.50`, `1,234.50 SEK`."""
    code = currency.upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    number = f"%{{{value}:,.{minor_unit_exponent(code)}f}}"
    return f"{plot_text(symbol)}{number}" if symbol else f"{number} {plot_text(code)}"


def money_axis(currency: str, title: str) -> dict:
    """A Plotly axis of amounts in `currency`: titled with the currency, ticks with its symbol (or code) and
    thousands separators, cents only where the ticks need them ($1,200, $0.05)."""
    code = currency.upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    return {
        "title": {"text": f"{title} ({plot_text(currency)})"},
        "tickprefix": plot_text(symbol) if symbol else "",
        "ticksuffix": "" if symbol else f" {plot_text(code)}",
        "tickformat": f",.{minor_unit_exponent(code)}~f",
        "rangemode": "tozero",
        "automargin": True,
    }


def host_figures(series: dict) -> dict:
    """Utilisation, memory and power over time, one line per GPU (`ingest.selectors.host_timeline`'s points)."""

    def figure(title, unit, field, scale=1, digits=0):
        traces = []
        for gpu in series.values():
            values = [getattr(point, field) for point in gpu["points"]]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": plot_text(gpu["label"]),
                    "x": [point.at.isoformat() for point in gpu["points"]],
                    "y": [None if value is None else value / scale for value in values],
                    "hovertemplate": f"%{{x|%-d %b %Y %H:%M}}: "
                    f"%{{y:,.{digits}f}}{unit if unit == '%' else ' ' + unit}<extra>%{{fullData.name}}</extra>",
                }
            )
        layout = {
            "title": chart_title(title),
            "xaxis": {"title": {"text": "Time (UTC)"}, "automargin": True},
            "yaxis": {"title": {"text": f"{title} ({unit})"}, "rangemode": "tozero", "tickformat": ",~f"},
            "margin": {"l": 50, "r": 10, "t": 40, "b": 70},
            "height": 260,
            "showlegend": len(traces) <= 8,
            "legend": LEGEND_BELOW,
        }
        return {"data": traces, "layout": layout}

    return {
        "utilization": figure("GPU utilisation", "%", "utilization_pct"),
        "memory": figure("Memory used", "GiB", "memory_used_bytes", scale=2**30, digits=1),
        "power": figure("Power", "W", "power_watts"),
    }


BUILD_RENT_COLOURS = {"on_demand": "#2f5bea", "reserved_1y": "#8e5cd9", "reserved_3y": "#c0459b", "spot": "#e08a1e",
                      "buy": "#1f2937"}  # fmt: skip


def build_rent_figure(result, currency: str) -> dict:
    """Cumulative cost of each rent option and of buying, month by month, with buying's break-even points."""
    amount = money_hover(currency)
    traces = []
    for option in result.options:
        label = plot_text(option.label)
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label,
                "x": list(range(len(option.cumulative))),
                "y": [float(amount) for amount in option.cumulative],
                "line": {"color": BUILD_RENT_COLOURS[option.key], "width": 3.5 if option.key == "buy" else 2},
                "hovertemplate": f"month %{{x}}: {amount}<extra>{label}</extra>",
            }
        )
    crossings = [option for option in result.rent if option.break_even_month is not None]
    if crossings:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Buying breaks even",
                "x": [option.break_even_month for option in crossings],
                "y": [float(result.buy.cumulative[option.break_even_month]) for option in crossings],
                "marker": {"size": 11, "symbol": "circle-open", "color": "#1f2937", "line": {"width": 2.5}},
                "text": [f"against {plot_text(option.label.lower())}" for option in crossings],
                "hovertemplate": f"month %{{x}}: breaks even %{{text}}<extra>{amount}</extra>",
            }
        )
    layout = {
        "title": chart_title("Cumulative cost"),
        "xaxis": {"title": {"text": "Months from today"}, "rangemode": "tozero", "dtick": 6, "automargin": True},
        "yaxis": money_axis(currency, "Cumulative cost"),
        "margin": {"l": 70, "r": 10, "t": 40, "b": 80},
        "height": 380,
        "hovermode": "closest",
        "legend": LEGEND_BELOW,
    }
    return {"cumulative": {"data": traces, "layout": layout}}


def plan_cost_histogram(plans: list[dict], customers: list[dict], target_margin_pct) -> dict:
    """Each customer's AI cost as a share of its plan's price, one histogram per priced plan, on one axis: past
    the dashed line at 100% the customer loses money; past the target line the plan misses its target margin."""
    prices = {p["plan"]: p["price"] for p in plans if p["price"]}
    by_plan = {}
    for row in customers:
        price = prices.get(row["plan"] or "")
        if price:
            by_plan.setdefault(row["plan"], []).append(float(row["ai_cost"] / price * 100))
    traces = [
        {
            "type": "histogram",
            "name": plot_text(plan),
            "x": shares,
            "opacity": 0.7,
            "xbins": {"size": 5},
            "hovertemplate": "%{x}% of the price: %{y} customers<extra>%{fullData.name}</extra>",
        }
        for plan, shares in sorted(by_plan.items())
    ]
    target = 100 - float(target_margin_pct)
    lines = ((100, "price"), (target, f"target margin ({float(target_margin_pct):.0f}%)"))
    shapes = [
        {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
         "line": {"dash": "dash", "width": 1, "color": "#b42318" if x == 100 else "#a15c00"}}
        for x, _ in lines
    ]  # fmt: skip
    notes = [
        {"x": x, "y": 1, "xref": "x", "yref": "paper", "text": text, "showarrow": False, "yanchor": "bottom",
         "xanchor": "left" if x == 100 else "right",  # the two labels lean apart, never on each other
         "font": {"size": 11}}
        for x, text in lines
    ]  # fmt: skip
    layout = {
        "barmode": "overlay",
        "title": chart_title("AI cost per customer, by plan"),
        "xaxis": {
            "title": {"text": "AI cost as a share of the plan's price (%)"},
            "rangemode": "tozero",
            "ticksuffix": "%",
            "automargin": True,
        },
        "yaxis": {"title": {"text": "Customers"}, "tickformat": ",d"},
        "shapes": shapes,
        "annotations": notes,
        "margin": {"l": 50, "r": 10, "t": 50, "b": 50},
        "height": 320,
        "legend": LEGEND_BELOW,
    }
    return {"costs": {"data": traces, "layout": layout}}


def daily_cost_figure(daily: dict, currency: str, link=None) -> dict:
    """Stacked bars per day: allocated, idle, unmeasured, unattributed (the identity, day by day). With
    `link(kind, day)`, each bar's customdata is its URL (a click opens it: static/js/figures.js)."""
    days = [day.isoformat() for day in daily]
    colours = {"allocated": "#2f6fdb", "idle": "#a15c00", "unmeasured": "#8a8f98", "unattributed": "#b42318"}
    amount = money_hover(currency)
    traces = [
        {"type": "bar", "name": kind.capitalize(), "x": days, "y": [float(v[kind]) for v in daily.values()],
         "marker": {"color": colours[kind]},
         "hovertemplate": f"{DAY_HOVER}: {amount}<extra>{kind.capitalize()}</extra>"}
        | ({"customdata": [link(kind, day) for day in daily]} if link else {})
        for kind in ("allocated", "idle", "unmeasured", "unattributed")
    ]  # fmt: skip
    layout = {
        "barmode": "stack",
        "title": chart_title("Cost per day"),
        "xaxis": {"title": {"text": "Day"}, "type": "date", "tickformat": DAY_TICKS, "automargin": True},
        "yaxis": money_axis(currency, "Cost per day"),
        "margin": {"l": 60, "r": 10, "t": 40, "b": 50},
        "height": 300,
        "legend": LEGEND_BELOW,
    }
    return {"daily": {"data": traces, "layout": layout}}


def guided_check_waterfall(check) -> dict:
    """The guided check's steps for one completed job as a waterfall up to the cost per job, the price paid per
    job beside it, and the price as a dashed line across. Zero steps carry no label; unknown steps are left out
    (the table says so)."""
    from finops.money import format_money

    steps = [s for s in check.steps if s.per_job is not None]
    currency = check.currency
    x = [plot_text(s.label) for s in steps] + ["Cost per job"]
    y = [float(s.per_job) for s in steps] + [0.0]
    waterfall = {
        "type": "waterfall",
        "name": "Cost per completed job",
        "orientation": "v",
        "x": x,
        "y": y,
        "measure": ["relative"] * len(steps) + ["total"],
        "text": [plot_text(s.shown) if s.per_job else "" for s in steps]
        + [plot_text(format_money(check.cost_per_job, currency))],
        "hovertext": [plot_text(s.shown) for s in steps] + [plot_text(format_money(check.cost_per_job, currency))],
        "textposition": "outside",
        "hovertemplate": "%{x}: %{hovertext}<extra></extra>",
        "connector": {"line": {"color": "#9aa4b2", "width": 1, "dash": "dot"}},
        "increasing": {"marker": {"color": "#e08a1e"}},
        "decreasing": {"marker": {"color": "#137a3d"}},
        "totals": {"marker": {"color": "#b42318" if check.status == "loses" else "#1f2937"}},
        "showlegend": False,
    }
    traces = [waterfall]
    shapes = []
    if check.price_per_job is not None:
        price = float(check.price_per_job)
        traces.append(
            {
                "type": "bar",
                "name": "Price paid per job",
                "x": ["Price paid per job"],
                "y": [price],
                "marker": {"color": "#2f5bea"},
                "text": [plot_text(format_money(check.price_per_job, currency))],
                "textposition": "outside",
                "hovertemplate": "Price paid per job: %{text}<extra></extra>",
                "showlegend": False,
            }
        )
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": price, "y1": price,
                       "line": {"dash": "dash", "width": 1.5, "color": "#2f5bea"}})  # fmt: skip
    layout = {
        "title": chart_title(f"One completed {plot_text(check.feature)} job, step by step"),
        "yaxis": money_axis(currency, "Cost per completed job"),
        "xaxis": {"type": "category", "title": {"text": "Step"}, "automargin": True},
        "shapes": shapes,
        "margin": {"l": 70, "r": 10, "t": 40, "b": 50},
        "height": 400,
        "bargap": 0.35,
    }
    return {"waterfall": {"data": traces, "layout": layout}}


TREND_PANELS = (  # (title, [(key, name, kind)]) from the top; money in the first panel
    ("Cost and revenue", [("ai_cost", "Direct cost", "bar"), ("fully_loaded_cost", "Fully loaded cost", "line"),
                          ("revenue", "Revenue", "line")]),
    ("Margin (%)", [("gross_margin", "Margin", "line")]),
    ("Completed jobs", [("completed_jobs", "Completed jobs", "bar")]),
    ("Cost per completed job", [("cost_per_completed_job", "Cost per completed job", "line")]),
    ("GPU hours", [("gpu_hours", "GPU hours", "bar")]),
)  # fmt: skip


TREND_HOVER = (  # each panel's value on hover, in its unit
    money_hover,
    lambda currency: "%{y:.1f}%",
    lambda currency: "%{y:,d} jobs",
    money_hover,
    lambda currency: "%{y:,.1f} h",
)


def customer_trend_figure(weeks: list[dict], currency: str, link=None) -> dict:
    """One customer's twelve weeks as one chart of stacked panels sharing the weeks: cost and revenue, margin,
    completed jobs, cost per completed job, GPU hours. Undefined values (no revenue, no completed job) are gaps.
    With `link(monday)`, each cost bar's customdata is its URL (a click opens it: static/js/figures.js)."""
    x = [w["week"].isoformat() for w in weeks]
    gap = 0.04
    height = (1 - gap * (len(TREND_PANELS) - 1)) / len(TREND_PANELS)
    traces = []
    layout = {
        "height": 640,
        "margin": {"l": 55, "r": 10, "t": 70, "b": 40},
        "showlegend": True,
        "legend": {"orientation": "h", "y": 1.05, "yanchor": "bottom"},
        "barmode": "overlay",
        "annotations": [],
    }
    for n, (title, series) in enumerate(TREND_PANELS):
        axis = "" if n == 0 else str(n + 1)
        top = 1 - n * (height + gap)
        layout[f"yaxis{axis}"] = {"domain": [top - height, top], "rangemode": "tozero", "automargin": True,
                                  **({"ticksuffix": "%"} if title.startswith("Margin") else {})}  # fmt: skip
        if n in (0, 3):
            layout[f"yaxis{axis}"].update({k: v for k, v in money_axis(currency, "").items() if k.startswith("tick")})
        layout[f"xaxis{axis}"] = {"anchor": f"y{axis}", "matches": "x" if axis else None,
                                  "showticklabels": n == len(TREND_PANELS) - 1, "type": "date",
                                  "tickformat": DAY_TICKS}  # fmt: skip
        if n == len(TREND_PANELS) - 1:
            layout[f"xaxis{axis}"]["title"] = {"text": "Week starting"}
        unit = f" ({plot_text(currency)})" if n in (0, 3) else ""
        layout["annotations"].append({"text": f"{title}{unit}", "xref": "paper", "yref": "paper", "x": 0, "y": top,
                                      "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 11}})  # fmt: skip
        for key, name, kind in series:
            scale = 100 if key == "gross_margin" else 1
            y = [None if w[key] is None else float(w[key]) * scale for w in weeks]
            trace = {"type": "bar" if kind == "bar" else "scatter", "name": name, "x": x, "y": y,
                     "xaxis": f"x{axis}", "yaxis": f"y{axis}",
                     "hovertemplate": f"week of {DAY_HOVER}: {TREND_HOVER[n](currency)}<extra>{name}</extra>",
                     }  # fmt: skip
            if kind == "line":
                trace["mode"] = "lines+markers"
            elif link and n == 0:
                trace["customdata"] = [link(w["week"]) for w in weeks]
            trace["showlegend"] = n == 0  # the other panels' titles name their one series
            traces.append(trace)
    layout["xaxis"].pop("matches")
    return {"trend": {"data": traces, "layout": layout}}


def usage_trend_figure(daily: list[dict], currency: str, link=None) -> dict:
    """Model calls day by day as one chart of two panels sharing the days: priced cost (bars), and calls, errors,
    retry attempts and unpriced calls (lines). A day with no priced call has no bar: unpriced is never drawn as 0.
    With `link(day)`, each bar's customdata is its URL (a click opens the day's calls: static/js/figures.js)."""
    x = [d["day"].isoformat() for d in daily]
    traces = [
        {
            "type": "bar",
            "name": f"Priced cost ({plot_text(currency)})",
            "x": x,
            "y": [None if d["cost"] is None else float(d["cost"]) for d in daily],
            "marker": {"color": "#2f6fdb"},
        }
        | ({"customdata": [link(d["day"]) for d in daily]} if link else {})
    ]
    colours = {"calls": "#1f7a4d", "errors": "#b42318", "retries": "#a15c00", "unpriced_calls": "#8a8f98"}
    names = {"calls": "Calls", "errors": "Errors", "retries": "Retry attempts", "unpriced_calls": "Unpriced calls"}
    traces += [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": names[key],
            "x": x,
            "y": [d[key] for d in daily],
            "xaxis": "x2",
            "yaxis": "y2",
            "line": {"color": colour},
        }
        for key, colour in colours.items()
    ]
    layout = {
        "height": 420,
        "margin": {"l": 55, "r": 10, "t": 30, "b": 40},
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        "yaxis": {"domain": [0.55, 1], "rangemode": "tozero", "automargin": True},
        "xaxis": {"anchor": "y", "showticklabels": False, "type": "date"},
        "yaxis2": {"domain": [0, 0.45], "rangemode": "tozero", "automargin": True},
        "xaxis2": {"anchor": "y2", "matches": "x", "type": "date"},
    }
    return {"daily": {"data": traces, "layout": layout}}


BUCKET_COLOURS = {"research": "#8e5cd9", "training": "#2f5bea", "evaluation": "#0f9fb5", "inference": "#137a3d",
                  "retries": "#e08a1e", "waste": "#b42318", "idle": "#a15c00", "unmeasured": "#8a8f98"}  # fmt: skip
APART_BUCKETS = ("idle", "unmeasured")  # on top of the work, hatched: paid for, no work seen


def bucket_trend_figure(trend: dict, currency: str, link=None) -> dict:
    """The Founder Table's eight weeks (`selectors.trends.weekly_bucket_spend`): spend per ISO week stacked by
    bucket, the work buckets first, idle and unmeasured GPU time on top and hatched. With `link(bucket, monday)`,
    each bar's customdata is its URL (a click opens it: static/js/figures.js)."""
    x = [monday.isoformat() for monday in trend["weeks"]]
    names = dict(Bucket.choices)
    apart = [b for b in APART_BUCKETS if b in trend["buckets"]]
    order = [b for b in trend["buckets"] if b not in APART_BUCKETS] + apart
    amount = money_hover(currency)
    traces = []
    for bucket in order:
        amounts = trend["buckets"][bucket]
        if not any(amounts) and bucket not in APART_BUCKETS:
            continue  # a bucket never used in the eight weeks is left out of the legend
        name = plot_text(names.get(bucket, bucket or "Other"))
        marker = {"color": BUCKET_COLOURS.get(bucket, "#5c6777")}
        if bucket in APART_BUCKETS:
            marker["pattern"] = {"shape": "/", "fillmode": "overlay", "fgcolor": "#ffffff", "size": 6, "solidity": 0.3}
        trace = {"type": "bar", "name": name, "x": x, "y": [float(a) for a in amounts], "marker": marker,
                 "hovertemplate": f"week of {DAY_HOVER}: {amount}<extra>{name}</extra>"}  # fmt: skip
        if link:
            trace["customdata"] = [link(bucket, monday) for monday in trend["weeks"]]
        traces.append(trace)
    layout = {
        "barmode": "stack",
        # Each bar is a week, named by its Monday ("week of" on hover); every other Monday is written under its bar,
        # the last week's included, so the dates fit a phone without turning.
        "xaxis": {"type": "date", "tickformat": DAY_TICKS, "tickvals": x[-1::-2][::-1], "automargin": True},
        "yaxis": money_axis(currency, "Spend per week"),
        "margin": {"l": 60, "r": 10, "t": 10, "b": 90},
        "height": 360,
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"},  # below the axis title
    }
    return {"trend": {"data": traces, "layout": layout}}
