"""Destructive buttons ask first (data-confirm), and a new API key copies to the clipboard, in Chromium."""

import pytest

from accounts.models import ApiKey
from tests.browser.conftest import log_in
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_asks_before_revoking_and_copies_a_new_key(browser, live_server):
    demo = demo_org()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)
    page.goto(f"/o/{demo['org']}/settings/api-keys/")
    page.get_by_label("Name").fill("to revoke")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-secret").inner_text().strip()
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    questions = []
    row = page.get_by_role("row").filter(has_text="to revoke")
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_timeout(300)
    assert questions == ["Revoke the key to revoke? Anything using it is refused from now on."]
    assert ApiKey.objects.get(name="to revoke").revoked_at is None  # dismissed: nothing posted

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    row.get_by_text("revoked").wait_for()
    assert ApiKey.objects.get(name="to revoke").revoked_at is not None
    assert errors == []
    context.close()
