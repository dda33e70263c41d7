"""A founder explores the demo's cost in Chromium: groups it by GPU host, clicks a host's row and reaches the bill
lines behind it, whose total is the row's; the back button returns to the groups; on a desktop and on a phone."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.browser.conftest import DESKTOP, PHONE, amount, log_in, no_sideways_scroll
from tests.demo import demo_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_founder_groups_by_host_and_reaches_the_bill_lines(page, screenshot):
    demo = demo_org()
    errors = []
    log_in(page, demo["login"], demo["password"], errors=errors)
    page.set_viewport_size(DESKTOP)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Explorer").click()
    page.wait_for_url(re.compile(r"/explore/"))
    page.locator("#chart-explore .main-svg").first.wait_for()

    page.locator("#group-by-1").select_option("host")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"group_by=host"))
    page.locator("#chart-explore .main-svg").first.wait_for()
    rows = page.locator("#explore-groups tbody tr")
    assert rows.count() > 3
    listed = sum(amount(rows.nth(i).locator("td").nth(1).inner_text()) for i in range(rows.count()))
    assert abs(listed - amount(page.locator("#groups-total").inner_text())) <= Decimal("0.01") * rows.count()
    screenshot("explore-1440")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # Plotly redraws at the new width
    no_sideways_scroll(page)
    screenshot("explore-390")
    page.set_viewport_size(DESKTOP)

    groups_url = page.url
    row = page.locator("#explore-groups tbody tr", has_text="aws-gpu-0000")
    row_total = amount(row.locator("td").nth(1).inner_text())
    row.locator("td").nth(2).click()  # anywhere on the row
    page.wait_for_url(re.compile(r"host=aws-gpu-0000.*show=lines|show=lines.*host=aws-gpu-0000"))
    assert amount(page.locator("#explore-total").inner_text()) == row_total
    lines = page.locator("#explore-lines tbody tr[data-kind='bill_line']")
    assert lines.count() > 0
    upload = lines.first.locator("td.upload a")
    assert re.search(r"/sources/uploads/[0-9a-f-]+/", upload.get_attribute("href"))
    screenshot("explore-lines-1440")
    page.set_viewport_size(PHONE)
    screenshot("explore-lines-390")
    page.set_viewport_size(DESKTOP)

    page.go_back()
    page.wait_for_url(groups_url)
    assert page.locator("#explore-groups tbody tr", has_text="aws-gpu-0000").count() == 1

    page.locator("#chart-explore .main-svg").first.wait_for()
    box = page.locator("#chart-explore .trace.bars .point path").first.bounding_box()  # the largest host, day one
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # Plotly's drag layer takes clicks
    page.wait_for_url(re.compile(r"host=aws-gpu-0000"))
    assert [c.inner_text() for c in page.locator("#explore-groups tbody tr td:first-child").all()] == ["aws-gpu-0000"]
    assert errors == []


def test_the_bill_lines_of_a_host_add_up_to_its_row(page):
    """Over a month (every line of the host starts and ends in it), the lines' amounts are the row's cost."""
    demo = demo_org()
    log_in(page, demo["login"], demo["password"])
    today = timezone.now().date()
    start, end = today - timedelta(days=28), today + timedelta(days=1)
    org_url = re.sub(r"/$", "", page.url)
    page.goto(f"{org_url}/explore/?start={start}&end={end}&group_by=host&source=bill_line")
    row = page.locator("#explore-groups tbody tr", has_text="aws-gpu-0000")
    row_total = amount(row.locator("td").nth(1).inner_text())
    row.locator("td").first.locator("a").click()
    page.wait_for_url(re.compile(r"show=lines"))
    total, count = Decimal(0), 0
    while True:
        cells = page.locator("#explore-lines tbody td.amount")
        count += cells.count()
        total += sum((amount(cells.nth(i).inner_text()) for i in range(cells.count())), Decimal(0))
        following = page.locator("#lines-next")
        if not following.count():
            break
        following.click()
        page.wait_for_load_state()
    assert count > 100
    assert abs(total - row_total) <= Decimal("0.005") * count  # each line is shown rounded to the cent
