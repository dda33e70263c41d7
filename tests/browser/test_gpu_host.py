"""A founder reads a GPU host's idle, zombie and unowned hours and sets its hourly rate, in Chromium."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import agent_token_create, org_create, user_get_or_create
from tests.browser.conftest import log_in
from tests.finops.test_gpu_host import zombie_batch
from tests.ingest.test_agent_api import batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-staple"


def agent_post(org, user, body):
    _, raw = agent_token_create(org=org, host_name="gpu-box-1", created_by=user)
    response = Client().post(
        "/api/v1/agent/samples/", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 201, response.content


def test_it_shows_the_hosts_hours_and_saves_its_settings(page, screenshot):
    alice, _ = user_get_or_create(email="alice@example.org", password=PASSWORD)
    org = org_create(name="Alice AI", owner=alice)
    start = (timezone.now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    agent_post(org, alice, zombie_batch(start))
    agent_post(org, alice, batch("busy-1", start=start + timedelta(minutes=50), ticks=60))

    log_in(page, alice.email, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="GPUs").click()
    # The agent reported in the last hours; the page shows the last complete week until asked for another period.
    page.get_by_text("Custom…").click()
    page.get_by_label("From").fill((timezone.now() - timedelta(days=1)).date().isoformat())
    page.get_by_label("until (excluded)").fill("")  # from yesterday, through today
    page.get_by_label("From").locator("xpath=ancestor::form").get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"/gpus/\?start="))
    screenshot("gpus")
    page.get_by_role("link", name="gpu-box-1").click()
    page.wait_for_url(re.compile(r"/gpus/[0-9a-f-]+/\?start="))
    hours = page.get_by_test_id("host-hours")
    assert re.sub(r"\s+", " ", hours.inner_text()).upper().startswith("BUSY GPU-HOURS 0.2 IDLE GPU-HOURS 1.7")
    assert page.locator("#chart-utilization .main-svg").first.is_visible()
    screenshot("gpu-host")

    page.get_by_role("link", name="Host settings").click()
    page.get_by_label("Owner").fill("ml-platform")
    page.get_by_label("Hourly rate").fill("-3")
    assert page.get_by_label("Hourly rate").evaluate("input => input.validity.rangeUnderflow")
    page.get_by_label("Hourly rate").fill("21.50")
    screenshot("gpu-host-settings")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/gpus/[0-9a-f-]+/$"))
    assert page.get_by_text("Settings of gpu-box-1 saved.").is_visible()
    assert page.get_by_text("owner ml-platform · $21.50 an hour").is_visible()
