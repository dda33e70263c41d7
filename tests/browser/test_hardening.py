"""Issue 16 in Chromium: every page works under the Content-Security-Policy, and a hostile GPU name is drawn as text."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import agent_token_create, org_create, user_get_or_create
from ingest.models import GpuHost
from tests.browser.conftest import log_in
from tests.demo import demo_org
from tests.ingest.test_agent_api import batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-staple"
HOSTILE = '<a href="https://evil.example/login">Session expired</a>'
# The document reports each violation as it happens, whoever caused it (markup, plotly.js, our scripts).
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (event) => console.error(
  "CSP violation: " + event.violatedDirective + " by " + (event.sourceFile || event.blockedURI) + ":" + event.lineNumber
));"""
# The pages of an organisation, and the chart each draws once plotly.js has run.
PAGES = {
    "": None,
    "onboarding/": None,
    "costs/": "#chart-daily",
    "customers/": None,
    "plans/": "#chart-costs",
    "plans/check/?feature=summarise&plan=starter": "#chart-waterfall",
    "build-vs-rent/": None,
    "gpus/": None,
    "gpus/resources/": None,
    "budgets/": None,
    "thresholds/": None,
    "rules/": None,
    "decisions/": None,
    "commitments/": None,
    "sources/": None,
    "sources/reconciliation/": None,
    "prices/": None,
    "settings/": None,
    "settings/notifications/": None,
    "settings/members/": None,
    "settings/api-keys/": None,
    "settings/agent-tokens/": None,
    "settings/stripe/": None,
}


def listen(page) -> list[str]:
    """Console errors and uncaught exceptions of `page` from now on, CSP violations among them."""
    problems = []
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return problems


def test_it_shows_every_page_of_the_demo_without_a_csp_violation(page):
    demo = demo_org()
    problems = listen(page)
    page.goto("/")
    response = page.request.get("/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    log_in(page, demo["login"], demo["password"])
    for path, chart in PAGES.items():
        response = page.goto(f"/o/{demo['org']}/{path}")
        assert response.status == 200, path
        if chart:
            page.locator(f"{chart} .main-svg").first.wait_for()
    host = GpuHost.objects.filter(org__code=demo["org"]).first()
    week_ago = (timezone.now() - timedelta(days=7)).date().isoformat()
    page.goto(f"/o/{demo['org']}/gpus/{host.code}/?start={week_ago}")
    page.locator("#chart-utilization .main-svg").first.wait_for()
    page.locator("#chart-utilization .main-svg").first.hover()  # hover labels draw text too
    page.goto(f"/o/{demo['org']}/settings/api-keys/")
    page.get_by_label("Name").fill("warehouse export")
    page.get_by_role("button", name="Create key").click()
    assert page.get_by_test_id("new-secret").inner_text().startswith("fk_")
    assert problems == []


def test_it_draws_a_hostile_gpu_name_as_text(page):
    alice, _ = user_get_or_create(email="alice@example.org", password=PASSWORD)
    org = org_create(name="Alice AI", owner=alice)
    start = (timezone.now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    body = batch("hostile-1", start=start, ticks=30)
    body["gpus"][0]["name"] = HOSTILE
    _, raw = agent_token_create(org=org, host_name="gpu-box-1", created_by=alice)
    response = Client().post(
        "/api/v1/agent/samples/", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 201, response.content
    host = GpuHost.objects.get(org=org)
    problems = listen(page)

    log_in(page, alice.email, PASSWORD)
    page.goto(f"/o/{org.code}/gpus/{host.code}/?start={(timezone.now() - timedelta(days=1)).date().isoformat()}")
    page.wait_for_url(re.compile(r"/gpus/[0-9a-f-]+/\?start="))
    chart = page.locator("#chart-utilization")
    chart.locator(".main-svg").first.wait_for()
    links = chart.locator("a").evaluate_all(
        "links => links.map(a => a.getAttribute('href') || a.getAttribute('xlink:href') || '')"
    )
    assert not [href for href in links if "evil.example" in href], links
    legend = chart.locator(".legendtext").all_text_contents()
    assert f"#0 {HOSTILE}" in legend, legend
    assert problems == []
