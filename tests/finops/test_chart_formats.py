"""Every chart reads well: amounts with their currency and thousands separators on the axis and on hover, both axes
titled, dates as the pages write them (5 Nov 2026), titles clear of Plotly's toolbar."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from finops.charts import (
    build_rent_figure,
    customer_trend_figure,
    daily_cost_figure,
    guided_check_waterfall,
    host_figures,
    money_axis,
    money_hover,
    plan_cost_histogram,
)
from finops.economics.guided_check import GuidedCheck, Step
from ingest.selectors import TimelinePoint
from pricing.build_rent import BuyCosts, RentRates, Scenario, build_rent_compare


def every_figure(currency="USD") -> dict:
    scenario = Scenario(gpu_count=8, months=36, utilisation=Decimal("0.7"),
                        rent=RentRates(on_demand=Decimal("4"), reserved_1y=None, reserved_3y=None, spot=None),
                        buy=BuyCosts(Decimal(30000), 48, Decimal(700), Decimal("0.15"), Decimal("1.3"), Decimal(150),
                                     Decimal(1000)))  # fmt: skip
    step = Step("gpu", "GPU time", Decimal("0.5"), Decimal("0.1"), "note", "$0.50")
    check = GuidedCheck("chat", "", currency, 10, 0, (step,), Decimal("0.5"), Decimal(1), "basis", Decimal("0.5"),
                        Decimal("0.5"), "healthy", "verdict", None, True)  # fmt: skip
    week = {"week": date(2026, 11, 2), "ai_cost": Decimal(1200), "fully_loaded_cost": Decimal(1500),
            "revenue": Decimal(3000), "gross_margin": Decimal("0.5"), "completed_jobs": 40,
            "cost_per_completed_job": Decimal(30), "gpu_hours": Decimal("12.5")}  # fmt: skip
    point = TimelinePoint(datetime(2026, 1, 5, tzinfo=UTC), 50.0, 2**30, 300.0)
    return {
        **{f"host-{k}": v for k, v in host_figures({1: {"label": "#0", "points": [point]}}).items()},
        **build_rent_figure(build_rent_compare(scenario), currency),
        **plan_cost_histogram([{"plan": "pro", "price": Decimal(20)}], [{"plan": "pro", "ai_cost": Decimal(5)}], 60),
        **daily_cost_figure(
            {date(2026, 1, 5): {"allocated": 1, "idle": 2, "unmeasured": 0, "unattributed": 0}}, currency
        ),
        **guided_check_waterfall(check),
        **customer_trend_figure([week], currency),
    }


MONEY = {"cumulative", "daily", "waterfall", "trend"}


def test_it_writes_amounts_with_the_currency_and_separators():
    assert money_hover("USD") == "$%{y:,.2f}"
    assert money_hover("JPY") == "¥%{y:,.0f}"
    assert money_hover("SEK") == "%{y:,.2f} SEK"
    axis = {"title": {"text": "Cost (EUR)"}, "tickprefix": "€", "ticksuffix": "", "tickformat": ",.2~f",
            "rangemode": "tozero", "automargin": True}  # fmt: skip
    assert money_axis("EUR", "Cost") == axis
    assert money_axis("SEK", "Cost")["ticksuffix"] == " SEK"


def test_every_money_chart_formats_its_axis_and_hover():
    for name, figure in every_figure("EUR").items():
        if name not in MONEY:
            continue
        yaxis = figure["layout"]["yaxis"]
        assert yaxis["tickprefix"] == "€" and yaxis["tickformat"] == ",.2~f", name
        hovers = [trace.get("hovertemplate", "") for trace in figure["data"]]
        money_hovers = [h for h in hovers if "€%{y:,.2f}" in h or "%{hovertext}" in h or "%{text}" in h]
        assert money_hovers, (name, hovers)


def test_every_chart_titles_both_axes_and_keeps_its_title_left_of_the_toolbar():
    for name, figure in every_figure().items():
        layout = figure["layout"]
        if name == "trend":  # stacked panels: each titled by an annotation, the shared x axis at the bottom
            assert all(axis.get("title") or not axis.get("showticklabels")
                       for key, axis in layout.items() if key.startswith("xaxis")), name  # fmt: skip
            assert len(layout["annotations"]) == 5
            continue
        assert layout["xaxis"]["title"]["text"], name
        assert layout["yaxis"]["title"]["text"], name
        assert layout["title"]["xanchor"] == "left", name


def test_every_hover_shows_dates_as_the_pages_do():
    figures = every_figure()
    for name in ("host-utilization", "host-memory", "host-power", "daily", "trend"):
        for trace in figures[name]["data"]:
            assert "%{x|%-d %b %Y" in trace["hovertemplate"], (name, trace["hovertemplate"])
    daily = figures["daily"]
    assert daily["layout"]["xaxis"]["tickformat"] == "%-d %b"
    assert [trace["name"] for trace in daily["data"]] == ["Allocated", "Idle", "Unmeasured", "Unattributed"]


def test_it_keeps_unknown_currencies_literal():
    figure = daily_cost_figure({date(2026, 1, 5): {"allocated": 1, "idle": 0, "unmeasured": 0, "unattributed": 0}},
                               "<b>")  # fmt: skip
    assert "<b>" not in json.dumps(figure)
