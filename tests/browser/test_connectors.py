"""A founder connects a source in Chromium: from Sources to Connectors, the AWS form (with the organisation's own
external ID for the role), the connector's page, and deleting it after the page asks."""

import re

import pytest

from ingest.models import Connector
from tests.browser.conftest import DESKTOP, PHONE, log_in, no_sideways_scroll
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_connects_an_aws_export_and_deletes_it(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)
    page.set_viewport_size(DESKTOP)
    page.goto(f"/o/{demo['org']}/sources/")
    page.get_by_role("link", name=re.compile("Connectors")).first.click()
    page.wait_for_url(re.compile(r"/connectors/$"))
    cards = page.locator(".grid .card h2")
    labels = [cards.nth(i).inner_text() for i in range(cards.count())]
    assert "AWS Data Exports (S3)" in labels and len(labels) >= 6, labels
    screenshot("connectors-1440")

    card = page.locator(".grid .card").filter(has_text="AWS Data Exports (S3)")
    card.get_by_role("link", name="Connect").click()
    page.get_by_role("heading", name="Connect AWS Data Exports (S3)").wait_for()
    assert f"finops-{demo['org']}" in page.locator("#external-id").inner_text()
    page.get_by_label("Name").fill("AWS production")
    page.get_by_label("Bucket").fill("acme-billing")
    page.get_by_label("Prefix").fill("exports")
    page.get_by_label("Access key ID").fill("AKIAEXAMPLEEXAMPLE12")
    page.get_by_label("Secret access key").fill("not-a-real-secret-but-long-enough-1234")
    screenshot("connector-form-1440")
    page.get_by_role("button", name="Save connector").click()
    page.wait_for_url(re.compile(r"/connectors/[0-9a-f-]+/$"))
    assert page.get_by_role("heading", name="AWS production").is_visible()
    assert "not-a-real-secret" not in page.content()  # a secret is never shown again
    screenshot("connector-1440")

    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    screenshot("connector-390")
    page.set_viewport_size(DESKTOP)

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r"/connectors/$"))
    assert questions and questions[0].startswith("Delete the connector AWS production?")
    assert not Connector.objects.filter(name="AWS production").exists()
    assert errors == []
