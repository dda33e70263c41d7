"""Playwright driving Debian's Chromium against the live test server."""

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
# The first elements reaching past the screen's edge (not inside a table's or a chart's own box), to name in a failure.
WIDEST = """() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > innerWidth + 2 && !e.closest('.table-wrap, .js-plotly-plot'))
    .slice(0, 3).map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    # test itself (setting up data) are plain synchronous code between browser steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(name: str, **options):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, **options)

    return take


def log_in(page, email, password, *, errors=None):
    """Log in through the login page and land on the Founder Table; page errors go to `errors` when given."""
    page.goto("/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/o/[0-9a-f-]+/$"))
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(str(error)))


def amount(text: str) -> Decimal:
    """An amount as a page writes it ("$1,234.50", "-€3.00") as a Decimal."""
    return Decimal(re.sub(r"[^0-9.\-]", "", text))


def no_sideways_scroll(page) -> None:
    """The page is no wider than its viewport; a failure names the elements that reach past it."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} scrolls sideways: {width}px ({page.evaluate(WIDEST)})"
