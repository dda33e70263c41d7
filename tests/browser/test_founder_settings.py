"""A founder tunes the Founder Table in Chromium: a threshold, a bucket rule, a release and a learning question."""

import pytest

from accounts.services import org_create, user_get_or_create
from finops.models import BucketRule, EconomicsSettings, LearningQuestion, Release
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-staple"


def test_it_saves_a_threshold_a_rule_a_release_and_a_question(page, screenshot):
    alice, _ = user_get_or_create(email="alice@example.org", password=PASSWORD)
    org = org_create(name="Alice AI", owner=alice)
    log_in(page, alice.email, PASSWORD)

    page.get_by_role("link", name="Thresholds").click()
    page.get_by_label("Free trial: one trial account spending more than this in the period").fill("10")
    screenshot("thresholds")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Saved.").is_visible()
    assert EconomicsSettings.objects.get(org=org).thresholds == {"trial_cap": "10"}

    page.get_by_role("link", name="Back to the Founder Table").click()
    page.get_by_role("link", name="Bucket rules").click()
    page.get_by_label("When").select_option("purpose")
    page.get_by_label("matches").fill("eval*")
    page.get_by_label("the cost lands in").select_option("evaluation")
    page.get_by_role("button", name="Add the rule").click()
    assert page.get_by_role("cell", name="eval*").is_visible()
    screenshot("bucket-rules")
    assert BucketRule.objects.get(org=org).bucket == "evaluation"

    page.goto(f"/o/{org.code}/decisions/")
    page.get_by_label("Name").fill("v2.5")
    page.get_by_label("Released at (UTC)").fill("2026-11-24T17:00")
    page.get_by_role("button", name="Record the release").click()
    assert page.get_by_role("cell", name="v2.5").is_visible()
    page.goto(f"/o/{org.code}/decisions/?run=train-run-1124")  # the link on a training-run offender
    page.get_by_label("Learning question").fill("Does the v3 data mix cut refusals?")
    page.get_by_role("button", name="Record the question").click()
    screenshot("decisions")
    assert Release.objects.get(org=org).name == "v2.5"
    assert LearningQuestion.objects.get(org=org).run == "train-run-1124"
