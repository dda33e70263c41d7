"""From the red Idle GPU stop sign to the bill lines of the offending host in two clicks, with the same total: the
offender's amount opens the explorer filtered to that host's idle cost, its row opens the source rows behind it."""

import re
from datetime import date
from decimal import Decimal

import pytest

from tests.browser.conftest import DESKTOP, amount, log_in
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_from_the_idle_gpu_stop_sign_to_the_hosts_bill_lines_in_two_clicks(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)
    page.set_viewport_size(DESKTOP)
    row = page.locator("#row-idle_gpu")
    assert row.locator(".sign.stop").count() == 1
    assert row.locator("a.drill[data-drill='offender:host:idle']").count() >= 2
    # the host billed by its cloud (the others are priced by the GPU rate card: their source rows are GPU-hours)
    link = row.locator("a.drill[data-drill='offender:host:idle'][href*='host=infer-a100-01']")
    figure = Decimal(link.get_attribute("data-total")).quantize(Decimal("0.01"))
    assert amount(link.inner_text()) == figure
    host = re.search(r"host=([^&]+)", link.get_attribute("href")).group(1)
    page.locator("#chart-trend .main-svg").first.wait_for()
    screenshot("drilldown-founder-1440")

    link.click()  # click 1: the explorer on that host's idle cost, same period
    page.wait_for_url(re.compile(r"/explore/\?.*host=" + re.escape(host)))
    assert amount(page.locator("#explore-total").inner_text()) == figure
    chips = page.locator(".explore-filters .chip")
    assert {chips.nth(i).get_attribute("data-filter") for i in range(chips.count())} == {"source", "host"}

    page.locator("#explore-groups tbody tr.clickable").first.locator("td").first.click()  # click 2: its source rows
    page.wait_for_url(re.compile(r"show=lines"))
    assert amount(page.locator("#explore-total").inner_text()) == figure
    assert page.locator("#explore-lines tbody tr[data-kind='bill_line']").count() > 0
    screenshot("drilldown-lines-1440")
    assert errors == []


def test_a_trend_bar_opens_the_explorer_on_its_week_and_bucket(page):
    demo = demo_org()
    log_in(page, demo["login"], demo["password"])
    page.set_viewport_size(DESKTOP)
    page.locator("#chart-trend .main-svg").first.wait_for()
    page.locator("#chart-trend").scroll_into_view_if_needed()  # a mouse click lands inside the viewport only
    bars = page.locator("#chart-trend .trace.bars .point path")
    box = max((bars.nth(i).bounding_box() for i in range(bars.count())), key=lambda b: b["height"])  # the tallest
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"/explore/\?start=\d{4}-\d\d-\d\d&end=\d{4}-\d\d-\d\d&bucket="))
    assert page.locator(".explore-filters .chip[data-filter='bucket']").count() == 1


def test_a_costs_card_and_a_day_bar_open_the_explorer_on_the_same_total(page):
    demo = demo_org()
    log_in(page, demo["login"], demo["password"])
    page.set_viewport_size(DESKTOP)
    page.goto(page.url.rstrip("/") + "/costs/")
    card = page.locator("#card-idle a.drill")
    figure = Decimal(card.get_attribute("data-total")).quantize(Decimal("0.01"))
    card.click()
    page.wait_for_url(re.compile(r"/explore/\?.*source=idle"))
    assert amount(page.locator("#explore-total").inner_text()) == figure
    page.go_back()
    page.locator("#chart-daily .main-svg").first.wait_for()
    page.locator("#chart-daily").scroll_into_view_if_needed()
    bars = page.locator("#chart-daily .trace.bars .point path")
    box = max((bars.nth(i).bounding_box() for i in range(bars.count())), key=lambda b: b["height"])  # the tallest
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"/explore/\?start=(\d{4}-\d\d-\d\d)&end=\d{4}-\d\d-\d\d&source="))
    start, end = re.search(r"start=([\d-]+)&end=([\d-]+)", page.url).groups()
    assert (date.fromisoformat(end) - date.fromisoformat(start)).days == 1  # one day's bar
