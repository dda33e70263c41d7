"""A founder follows a losing customer from the Plans page to the customer's page, then to the calls of the model
that costs the most, and reads the LLM usage page: on a desktop and on a phone, in Chromium."""

import re

import pytest

from tests.browser.conftest import DESKTOP, PHONE, log_in, no_sideways_scroll
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def both_sizes(page, screenshot, name: str, chart: str) -> None:
    """Screenshots at 1440 and 390 px wide, the chart drawn at each; no sideways scroll on the phone."""
    page.set_viewport_size(DESKTOP)
    page.locator(f"{chart} .main-svg").first.wait_for()
    screenshot(f"{name}-1440")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # Plotly redraws at the new width
    no_sideways_scroll(page)
    screenshot(f"{name}-390")
    page.set_viewport_size(DESKTOP)


def test_a_losing_customer_from_the_plans_page_to_its_costliest_model(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plans").click()
    plans = page.url
    losers = page.locator("#plan-checks a.badge.stop")
    assert losers.count() >= 2
    for n in range(losers.count()):  # the first loser whose cost includes model calls (others lose on GPUs alone)
        loser = page.locator("#plan-checks a.badge.stop").nth(n)
        name = loser.inner_text()
        loser.click()
        page.wait_for_url(re.compile(r"/customers/.+/"))
        assert page.locator("#customer-name").inner_text() == name
        assert page.get_by_text("loses money").first.is_visible()
        assert page.locator("#customer-trend tbody tr").count() == 12
        if page.locator("#customer-models tbody a").count():
            break
        page.goto(plans)
    both_sizes(page, screenshot, "customer", "#chart-trend")
    assert errors == []

    costliest = page.locator("#customer-models tbody a").first
    model = costliest.inner_text()
    cost = costliest.locator("xpath=ancestor::tr").locator("td").nth(2).inner_text()
    costliest.click()
    page.wait_for_url(re.compile(r"/explore/\?source=api_calls&model="))
    assert f"model={model}" in page.url
    assert re.search(r"start=\d{4}-\d\d-\d\d&end=\d{4}-\d\d-\d\d", page.url)
    # The explorer opens on that customer's calls of that model: the same cost the customer page showed.
    assert page.locator("#explore-total").inner_text() == cost.split("\n")[0].strip()


def test_the_customers_table_sorts_searches_and_opens_a_customer(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()

    page.locator("#sort-cost").click()
    page.wait_for_url(re.compile(r"sort=-cost"))
    cells = page.locator("#customer-economics tbody tr td:nth-child(4)").all_inner_texts()
    amounts = [float(re.sub(r"[^0-9.\-]", "", c) or 0) for c in cells]
    assert amounts == sorted(amounts, reverse=True)
    assert page.locator("th[aria-sort=descending]").inner_text().lower().startswith("direct cost")

    first = page.locator("#customer-economics tbody tr td:first-child a").first.inner_text()
    page.get_by_role("searchbox").fill(first)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q="))
    assert "sort=-cost" in page.url  # the search keeps the sort
    assert first in page.locator("#customer-economics tbody").inner_text()
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    screenshot("customers-search-390")
    page.set_viewport_size(DESKTOP)

    page.locator("#customer-economics tbody tr td:first-child a").first.click()
    page.wait_for_url(re.compile(r"/customers/.+/"))
    page.locator("#chart-trend .main-svg").first.wait_for()
    assert errors == []


def test_the_usage_page_on_a_desktop_and_a_phone(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="LLM usage").click()
    assert page.locator("#usage-by-model tbody tr").count() >= 2
    both_sizes(page, screenshot, "usage", "#chart-daily")
    href = page.locator("#usage-by-model tbody a").first.get_attribute("href")
    assert re.search(r"/explore/\?source=api_calls&model=[^&]+&start=[\d-]+&end=[\d-]+$", href)
    assert errors == []
