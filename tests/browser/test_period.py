"""The period chosen on the Founder Table carried to Costs (issue 18): a founder picks the last four weeks on the
Founder Table, opens Costs from the menu and sees the same four weeks; this week is marked partial; clearing goes
back to the last complete week. Screenshots of the Founder Table (its eight-week chart and sparklines) at 1440 and
390 px."""

import re
from datetime import timedelta

import pytest

from accounts.models import Organization
from ingest.periods import local_today
from tests.browser.conftest import DESKTOP, PHONE, log_in, no_sideways_scroll
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shown(page) -> tuple[str, str]:
    bar = page.locator("#period")
    return bar.get_attribute("data-start"), bar.get_attribute("data-end")


def test_the_period_chosen_on_the_founder_table_carried_to_costs(page, screenshot):
    demo = demo_org()
    org = Organization.objects.get(code=demo["org"])
    today = local_today(org.timezone)
    monday = today - timedelta(days=today.weekday())
    last_week = ((monday - timedelta(days=7)).isoformat(), monday.isoformat())
    four_weeks = ((monday - timedelta(days=28)).isoformat(), monday.isoformat())
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)

    assert shown(page) == last_week  # the default
    assert page.locator("#period-partial").count() == 0
    assert page.locator("#period-clear").count() == 0
    assert re.match(r"Founder Table · Week \d{4}-W\d\d · GPU FinOps", page.title())
    page.locator("#chart-trend .main-svg").first.wait_for()
    assert page.locator("#chart-trend .trace.bars").count() >= 3  # buckets, idle and unmeasured among them
    assert page.locator("svg.sparkline").count() == 12
    assert page.locator("svg.sparkline").first.get_attribute("data-points") == "8"

    page.set_viewport_size(DESKTOP)
    screenshot("period-founder-table-1440")
    page.locator("#spend-trend").screenshot(path="tests/screenshots/period-trend-1440.png")
    page.locator("#period").screenshot(path="tests/screenshots/period-control-1440.png")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # Plotly redraws at the new width
    no_sideways_scroll(page)
    screenshot("period-founder-table-390")
    page.locator("#period").screenshot(path="tests/screenshots/period-control-390.png")
    page.locator("#spend-trend").screenshot(path="tests/screenshots/period-trend-390.png")
    page.locator(".table-wrap:has(#metric-idle_gpu_hours)").screenshot(
        path="tests/screenshots/period-sparklines-390.png"
    )
    page.set_viewport_size(DESKTOP)

    page.locator("#preset-last-4-weeks").click()
    page.wait_for_url(re.compile(rf"start={four_weeks[0]}&end={four_weeks[1]}"))
    assert shown(page) == four_weeks
    assert page.locator("#preset-last-4-weeks").get_attribute("aria-current") == "true"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Costs").click()
    page.wait_for_url(re.compile(r"/costs/$"))  # no period in the address: the chosen one followed
    assert shown(page) == four_weeks
    assert page.title().startswith("Costs · ")
    assert page.locator("#preset-last-4-weeks").get_attribute("aria-current") == "true"
    assert page.locator("#period-clear").is_visible()

    page.locator("#preset-this-week-so-far").click()
    page.wait_for_url(re.compile(r"week=\d{4}-W\d\d"))
    assert page.locator("#period-partial").inner_text() == "partial: this week so far"
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # Plotly redraws at the new width
    no_sideways_scroll(page)
    screenshot("period-costs-partial-390")
    page.set_viewport_size(DESKTOP)

    page.locator("#period-clear").click()
    page.wait_for_url(re.compile(r"period=default"))
    assert shown(page) == last_week
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Founder Table").click()
    page.wait_for_url(re.compile(r"/o/[0-9a-f-]+/$"))
    assert shown(page) == last_week
    assert page.locator("#period-clear").count() == 0
    assert errors == []
