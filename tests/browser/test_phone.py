"""On a 390 px phone no page of an organisation scrolls sideways: wide tables scroll inside their own box with the
first column kept in view, charts fit. The pages come from the URL patterns, so a page added later is checked too."""

import pytest

from accounts.models import Organization
from tests.browser.conftest import PHONE, SCREENSHOTS, WIDEST, log_in
from tests.demo import demo_org
from tests.org_pages import org_page_urls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = {
    "": "founder-table",
    "costs/": "costs",
    "settings/members/": "members",
    "gpus/": "gpus",
    "plans/": "plans",
    "build-vs-rent/": "build-vs-rent",
    "customers/": "customers",
    "thresholds/": "thresholds",
}


def test_no_org_page_scrolls_sideways_on_a_phone(browser, live_server):
    demo = demo_org()
    org = Organization.objects.get(code=demo["org"])
    urls = org_page_urls(org)
    assert len(urls) > 20 and any("/gpus/" in u and u.count("/") > 5 for u in urls)  # a host page and an upload page
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)
    SCREENSHOTS.mkdir(exist_ok=True)
    too_wide, visited = [], 0
    for url in urls:
        # A POST-only route (405) is not a page. Asked first: navigating to it leaves Chromium on its error page,
        # whose own navigation could interrupt the next one.
        if page.request.get(url).status == 405:
            continue
        response = page.goto(url)
        assert response.status == 200, url
        visited += 1
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide = page.evaluate(WIDEST)
            too_wide.append(f"{url}: {width} px ({wide})")
        name = SHOTS.get(url.split(f"/o/{org.code}/")[1])
        if name:
            page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"))
            charts = page.locator(".js-plotly-plot")
            for n in range(charts.count()):
                charts.nth(n).screenshot(path=str(SCREENSHOTS / f"phone-{name}-chart-{n}.png"))
    assert visited > 20
    assert too_wide == []
    assert errors == []
    context.close()


def test_wide_tables_keep_their_first_column_in_view(browser, live_server):
    demo = demo_org()
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    log_in(page, demo["login"], demo["password"])
    page.goto(f"/o/{demo['org']}/costs/")
    wrap = page.locator(".table-wrap").first
    wrap.evaluate("(e) => { e.scrollLeft = 10000; }")
    first = wrap.locator("tbody tr td:first-child").first
    box, frame = first.bounding_box(), wrap.bounding_box()
    assert box["x"] >= frame["x"] - 1  # sticky: still at the left edge after scrolling the table
    context.close()


def test_desktop_screenshots(browser, live_server):
    demo = demo_org()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, demo["login"], demo["password"])
    for path, name in SHOTS.items():
        page.goto(f"/o/{demo['org']}/{path}")
        page.wait_for_load_state("load")
        page.screenshot(path=str(SCREENSHOTS / f"desktop-{name}.png"))
    context.close()
