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
    point = (datetime(2026, 1, 5, tzinfo=UTC), 50.0, 2**30, 300.0)
    figures = host_figures({1: {"label": HOSTILE, "points": [point]}})
    assert_literal(figures)
    assert [figure["data"][0]["name"] for figure in figures.values()] == [SHOWN] * 3


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
