"""Every figure draws names someone else chose literally: Plotly's tag syntax (`<a href>`, `<b>`, ...) is escaped."""

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from finops.charts import (
    build_rent_figure,
    daily_cost_figure,
    guided_check_waterfall,
    host_figures,
    plan_cost_histogram,
    plot_text,
)
from finops.economics.guided_check import GuidedCheck, Step
from ingest.selectors import TimelinePoint
from pricing.build_rent import BuyCosts, RentRates, Scenario, build_rent_compare

HOSTILE = '<a href="https://evil.example/login">Session expired</a> & <b>'
SHOWN = '&lt;a href="https://evil.example/login"&gt;Session expired&lt;/a&gt; &amp; &lt;b&gt;'


def assert_literal(figures: dict):
    text = json.dumps(figures)
    assert "<a" not in text and "<b>" not in text, text
    assert json.dumps(SHOWN)[1:-1] in text


def test_it_escapes_ampersands_and_angle_brackets_once():
    assert plot_text(HOSTILE) == SHOWN
    assert plot_text("A100 80GB") == "A100 80GB"


def test_it_escapes_gpu_names_on_the_host_charts():
    point = TimelinePoint(datetime(2026, 1, 5, tzinfo=UTC), 50.0, 2**30, 300.0)
    figures = host_figures({1: {"label": HOSTILE, "points": [point]}})
    assert_literal(figures)
    assert [figure["data"][0]["name"] for figure in figures.values()] == [SHOWN] * 3


def test_it_draws_each_host_chart_from_its_named_field():
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    points = [
        TimelinePoint(at=at, utilization_pct=50.0, memory_used_bytes=3 * 2**29, power_watts=300.5),
        TimelinePoint(at=at.replace(hour=10), utilization_pct=None, memory_used_bytes=None, power_watts=None),
    ]
    figures = host_figures({7: {"label": "#0 A100", "points": points}})
    x = ["2026-01-05T09:00:00+00:00", "2026-01-05T10:00:00+00:00"]
    drawn = {key: [{k: v for k, v in trace.items() if k != "hovertemplate"} for trace in figure["data"]]
             for key, figure in figures.items()}  # fmt: skip
    assert drawn == {
        key: [{"type": "scatter", "mode": "lines", "name": "#0 A100", "x": x, "y": y}]
        for key, y in (("utilization", [50.0, None]), ("memory", [1.5, None]), ("power", [300.5, None]))
    }
    assert [(f["layout"]["title"]["text"], f["layout"]["yaxis"]["title"]["text"]) for f in figures.values()] == [
        ("GPU utilisation", "GPU utilisation (%)"),
        ("Memory used", "Memory used (GiB)"),
        ("Power", "Power (W)"),
    ]


def test_it_escapes_plan_names_on_the_plans_histogram():
    figures = plan_cost_histogram(
        [{"plan": HOSTILE, "price": Decimal(20)}], [{"plan": HOSTILE, "ai_cost": Decimal(5)}], Decimal(60)
    )
    assert_literal(figures)
    assert figures["costs"]["data"][0]["name"] == SHOWN


def test_it_escapes_the_currency_on_the_daily_costs():
    figures = daily_cost_figure(
        {date(2026, 1, 5): {"allocated": 1, "idle": 2, "unmeasured": 0, "unattributed": 0}}, HOSTILE
    )
    assert_literal(figures)


def test_it_escapes_option_labels_and_the_currency_on_build_versus_rent():
    scenario = Scenario(
        gpu_count=8,
        months=36,
        utilisation=Decimal("0.7"),
        rent=RentRates(on_demand=Decimal("4"), reserved_1y=None, reserved_3y=None, spot=None),
        buy=BuyCosts(Decimal(30000), 48, Decimal(700), Decimal("0.15"), Decimal("1.3"), Decimal(150), Decimal(1000)),
    )
    result = build_rent_compare(scenario)
    result = replace(result, rent=tuple(replace(option, label=HOSTILE) for option in result.rent))
    assert result.rent[0].break_even_month is not None  # the break-even markers carry the label too
    figures = build_rent_figure(result, HOSTILE)
    assert_literal(figures)
    assert figures["cumulative"]["data"][0]["name"] == SHOWN


def test_it_escapes_the_feature_and_step_labels_on_the_pricing_check():
    step = Step("gpu", HOSTILE, Decimal("0.5"), Decimal("0.1"), "note", HOSTILE)
    check = GuidedCheck(HOSTILE, "", "USD", 10, 0, (step,), Decimal("0.5"), Decimal(1), "basis", Decimal("0.5"),
                        Decimal("0.5"), "healthy", "verdict", None, True)  # fmt: skip
    figures = guided_check_waterfall(check)
    assert_literal(figures)
    assert figures["waterfall"]["data"][0]["x"][0] == SHOWN
