"""A founder opens the 7-day onboarding on the demo's data in Chromium, reads what is done, and chooses the fix."""

import re

import pytest

from accounts.models import OnboardingState, Organization
from finops.selectors.onboarding import onboarding_day
from tests.browser.conftest import log_in
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_walks_the_first_week_on_the_demo(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)

    banner = page.locator("#onboarding-banner")
    # The demo is day 1 when built; a snapshot built before the org's midnight is day 2 after it.
    day = onboarding_day(org=Organization.objects.get(code=demo["org"]))
    assert day in (1, 2)
    assert re.match(rf"Day {day} of 7 — next step: \w", banner.inner_text())
    screenshot("founder-table-onboarding-banner", clip={"x": 0, "y": 0, "width": 1360, "height": 360})
    banner.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/onboarding/#step-\w+$"))
    assert page.get_by_role("heading", name="Your first week").is_visible()
    count = page.locator("#onboarding-count").inner_text()
    assert re.search(r"\d of 7 done", count)
    assert page.locator("ol.steps > li").count() == 7
    assert page.locator("ol.steps > li.today").count() == 1
    screenshot("onboarding")

    fix = page.get_by_label("The fix you commit to")
    first = fix.locator("option").first.get_attribute("value")
    fix.select_option(first)
    page.get_by_role("button", name="Choose this fix").click()
    page.wait_for_url(re.compile(r"/onboarding/#step-choose_fix$"))
    assert page.locator("#step-choose_fix").get_attribute("class") == "done"
    assert page.get_by_role("button", name="Change the fix").is_visible()
    screenshot("onboarding-fix-chosen")
    assert OnboardingState.objects.get(org__code=demo["org"]).chosen_fix == first

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    screenshot("onboarding-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []
