"""A founder reads the plans' pricing checks and the customers' margins on the demo, in Chromium."""

import pytest

from tests.browser.conftest import log_in
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_shows_plan_checks_with_a_histogram_and_customer_margins(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plans").click()
    # starter, pro, enterprise, acme-corp's dedicated contract; the trial apart
    assert page.locator("#plan-checks tbody tr").count() == 4
    page.locator("#chart-costs .main-svg").first.wait_for()
    assert page.get_by_text("cust-003").first.is_visible()
    screenshot("plans")
    assert errors == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.locator("#customer-economics tbody tr").first.wait_for()  # count() does not wait for the new page
    assert page.locator("#customer-economics tbody tr").count() >= 34
    assert page.locator("tr.loses").count() >= 2
    screenshot("customers")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Costs").click()
    page.locator("#chart-daily .main-svg").first.wait_for()
    assert page.locator("#by-bucket tr").count() == 8
    screenshot("costs")
    assert errors == []
