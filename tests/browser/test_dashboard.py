"""A founder logs in, sees the Founder Table, switches organisation and creates an API key, in Chromium."""

import re

import pytest

from accounts.services import org_create, user_get_or_create
from finops.economics.rows import ROWS
from tests.browser.conftest import SCREENSHOTS, log_in
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_walks_a_founder_through_the_shell(page, screenshot):
    demo = demo_org()
    owner, _ = user_get_or_create(email=demo["login"])
    second = org_create(name="Side Project Labs", owner=owner)

    page.goto("/")
    screenshot("login")
    log_in(page, demo["login"], demo["password"])
    page.wait_for_url(re.compile(r"/o/[0-9a-f-]+/$"))
    assert page.get_by_role("heading", name="Founder Table").is_visible()
    assert page.locator("tr[id^=row-]").count() == len(ROWS)
    screenshot("founder-table")

    page.locator(".switcher summary").click()
    page.locator(".switcher .menu").get_by_text("Side Project Labs").click()
    page.wait_for_url(f"**/o/{second.code}/")
    assert page.locator(".switcher summary").inner_text().strip() == "Side Project Labs"

    page.goto(f"/o/{demo['org']}/")
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("warehouse export")
    page.get_by_label("Scope").select_option("write")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-secret").inner_text().strip()
    assert secret.startswith("fk_")
    screenshot("api-key-created")

    response = page.request.get("/api/v1/", headers={"Authorization": f"Bearer {secret}"})
    assert response.status == 200
    assert response.json()["org"]["name"] == "Demo AI"

    page.reload()
    assert secret not in page.content()


def test_it_fits_a_phone_screen(browser, live_server):
    demo = demo_org()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, demo["login"], demo["password"])
    page.wait_for_url(re.compile(r"/o/[0-9a-f-]+/$"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert page.get_by_role("link", name="GPUs").is_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "phone.png"), full_page=True)
    context.close()
    # The wide Founder Table scrolls inside its own box; the page itself does not scroll sideways.
    assert width <= 390
