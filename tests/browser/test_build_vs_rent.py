"""A founder compares renting H100s with buying them at the utilisation the agent measured, in Chromium."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import org_create, user_get_or_create
from tests.browser.conftest import log_in
from tests.browser.test_gpu_host import agent_post
from tests.ingest.test_agent_api import batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-staple"


def test_it_compares_renting_and_buying_and_redraws_the_chart(page, screenshot):
    alice, _ = user_get_or_create(email="alice@example.org", password=PASSWORD)
    org = org_create(name="Alice AI", owner=alice)
    start = (timezone.now() - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    agent_post(org, alice, batch("h100-1", start=start, ticks=360, util=(90, 0)))

    log_in(page, alice.email, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Build vs rent").click()
    page.wait_for_url(re.compile(r"/build-vs-rent/$"))
    assert page.get_by_label("Utilisation %").input_value() == "50"
    assert "measured 50.0% busy" in page.get_by_test_id("utilisation-source").inner_text()
    assert page.locator("#chart-cumulative .main-svg").first.is_visible()
    assert page.locator("#chart-cumulative .scatterlayer .trace").count() >= 5
    screenshot("build-vs-rent")

    page.get_by_label("Utilisation %").fill("95")
    assert page.get_by_label("GPUs", exact=True).input_value() == "2"
    page.get_by_label("GPUs", exact=True).fill("16")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"utilisation_pct=95"))
    assert "entered" in page.get_by_test_id("utilisation-source").inner_text()
    table = page.get_by_test_id("build-rent-table").inner_text()
    assert "Rent on-demand" in table and "Buy" in table
    assert page.locator("#chart-cumulative .main-svg").first.is_visible()
    assert "16 × H100 SXM" in page.locator(".page-head").inner_text()
    screenshot("build-vs-rent-entered")

    page.get_by_label("GPU type").select_option("L4")
    page.wait_for_url(re.compile(r"gpu_type=L4"))
    assert page.get_by_label("On-demand", exact=True).input_value() == "0.7068"
    assert "No agent reports L4 GPUs" in page.get_by_test_id("utilisation-source").inner_text()
