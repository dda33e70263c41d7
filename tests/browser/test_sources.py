"""A founder uploads a bill on the Sources page in Chromium and reads the result."""

import re

import pytest

from tests.base import sample_path
from tests.browser.test_dashboard import log_in
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_uploads_a_bill_and_shows_where_it_went(page, screenshot):
    demo = demo_org()
    sample = sample_path("focus/focus-sample-data_focus_sample_1000.csv")
    log_in(page, demo["login"], demo["password"])
    page.wait_for_url(re.compile(r"/o/[0-9a-f-]+/$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    assert page.get_by_text("aws-focus-1.2.csv").is_visible()
    screenshot("sources")

    page.locator("input[type=file]").set_input_files(str(sample))
    assert page.locator("[data-filename]").inner_text() == sample.name
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/sources/uploads/[0-9a-f-]+/$"))
    assert page.get_by_text("Ledger lines", exact=True).is_visible()
    assert page.get_by_text("$20.52", exact=True).is_visible()
    screenshot("upload-done")
    uploaded = page.url

    page.get_by_role("link", name="Delete…").click()  # a wrong file: take it out again
    assert page.get_by_role("heading", name="Delete this upload?").is_visible()
    screenshot("upload-delete")
    page.get_by_role("button", name="Delete the upload and its rows").click()
    page.wait_for_url(re.compile(r"/sources/$"))
    assert page.get_by_role("link", name=sample.name).count() == 0  # gone from the uploads, named in the message
    screenshot("upload-deleted")
    assert page.goto(uploaded).status == 404

    page.goto(page.url.split("/sources/")[0] + "/sources/")
    page.locator("input[type=file]").set_input_files(
        files=[
            {"name": "broken.csv", "mimeType": "text/csv", "buffer": b"BilledCost,ChargePeriodStart\nabc,2026-10-01\n"}
        ]
    )
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/sources/uploads/[0-9a-f-]+/$"))
    assert page.get_by_text("nothing of it was loaded").is_visible()
    assert page.get_by_role("cell", name="BilledCost", exact=True).is_visible()
    screenshot("upload-rejected")


def test_it_uploads_a_usage_log_and_reads_the_token_spend(page, screenshot):
    demo = demo_org()
    log_in(page, demo["login"], demo["password"])
    page.wait_for_url(re.compile(r"/o/[0-9a-f-]+/$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    lines = b"\n".join(
        b'{"event_id": "ui-%d", "timestamp": "2026-10-05T10:00:00Z", "provider": "openai", "model": "gpt-4o-mini", '
        b'"customer": "acme", "input_tokens": 1000, "output_tokens": 100}' % i
        for i in range(3)
    )
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "calls.jsonl", "mimeType": "application/json", "buffer": lines}]
    )
    page.get_by_label("What is it?").select_option("usage")
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/sources/uploads/[0-9a-f-]+/$"))
    assert page.get_by_text("generic_events", exact=True).is_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Reconcile against bills →").click()
    assert page.get_by_role("heading", name=re.compile("Token spend")).is_visible()
    screenshot("reconciliation")
