"""A founder walks the demo's summarise workflow through the guided pricing check, in Chromium."""

import re

import pytest

from tests.browser.conftest import log_in
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_walks_summarise_to_a_verdict_with_a_waterfall(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plans").click()
    page.get_by_role("link", name="Guided check").click()
    page.wait_for_url(re.compile(r"/plans/check/$"))
    page.get_by_label("Workflow (feature)").select_option("summarise")
    page.get_by_label("Plan").select_option("starter")
    page.get_by_label("Support per job (USD)").fill("0.02")
    page.get_by_role("button", name="Check").click()
    page.wait_for_url(re.compile(r"feature=summarise"))

    verdict = page.get_by_test_id("pricing-check-verdict").inner_text()
    assert re.search(r"Each completed summarise job costs \$\d+\.\d\d against \$\d+\.\d\d paid", verdict), verdict
    steps = page.get_by_test_id("pricing-check-steps").inner_text().lower()
    for step in ("model calls", "retries", "failed runs", "gpu time", "storage and egress", "logs", "support",
                 "payment fees", "margin per job"):  # fmt: skip
        assert step in steps
    page.locator("#chart-waterfall .main-svg").first.wait_for()
    assert page.locator("#chart-waterfall .waterfalllayer .point").count() >= 6
    screenshot("pricing-check")
    assert errors == []
