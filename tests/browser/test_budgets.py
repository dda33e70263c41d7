"""A founder caps the trial accounts in Chromium, then sees the cap fill up as trial usage arrives."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client

from accounts.services import api_key_create, org_create, user_get_or_create
from finops.models import Budget
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-staple"


def test_a_trial_cap_is_set_and_fills_up(page, screenshot):
    alice, _ = user_get_or_create(email="alice@example.org", password=PASSWORD)
    org = org_create(name="Alice AI", owner=alice)
    log_in(page, alice.email, PASSWORD)
    page.get_by_role("link", name="Budgets").click()
    assert page.get_by_text("No budgets yet").is_visible()
    page.get_by_label("Scope").select_option("trial")
    page.get_by_label("Period").select_option("day")
    page.get_by_label("Amount").fill("5")
    page.get_by_role("button", name="Save the budget").click()
    assert page.get_by_text("Budget added: trial accounts per day.").is_visible()
    budget = Budget.objects.get(org=org)
    assert (budget.scope, budget.period, budget.amount) == ("trial", "day", Decimal(5))

    _, key = api_key_create(org=org, name="w", scope="write", created_by=alice)
    now = datetime.now(UTC).replace(hour=0, minute=0, second=1, microsecond=0)
    events = [{"event_id": "t1", "timestamp": now.isoformat(), "provider": "openai", "model": "gpt-4o",
               "customer": "trial-kite", "cost": "4.40", "currency": "USD", "metadata": {"plan": "trial"}}]  # fmt: skip
    posted = Client().post("/api/v1/usage-events/", json.dumps(events), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
    assert posted.json()["accepted"] == 1
    page.reload()
    row = page.get_by_role("row", name="All trial accounts together")
    assert "$4.40" in row.inner_text() and "88%" in row.inner_text()
    screenshot("budgets")
    page.on("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Remove").click()
    assert page.get_by_text("Budget removed: trial accounts per day.").is_visible()
    assert not Budget.objects.filter(org=org).exists()
