"""The LLM usage page, as a founder reads it: the period's calls, tokens and cost (the same totals as the usage
summary API), by model, provider, feature and customer, unpriced calls shown as unpriced, links into the explorer."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from django.urls import reverse
from django.utils import timezone

from ingest.models import UsageEvent
from tests.base import BaseTestCase, DemoTestCase
from tests.pricing.helpers import usage_event


def last_monday() -> datetime:
    today = timezone.now().date()
    monday = today - timedelta(days=today.weekday() + 7)
    return datetime.combine(monday, datetime.min.time(), UTC)


class DemoUsagePageTests(DemoTestCase):
    def setUp(self):
        self.client.force_login(self.bob)

    def summary(self, **params) -> dict:
        response = self.client.get("/api/v1/usage/summary/", params,
                                   HTTP_AUTHORIZATION=f"Bearer {self.demo['api_key']}")  # fmt: skip
        self.assertEqual(response.status_code, 200)
        return response.json()

    def page(self, **params):
        page = self.client.get(reverse("finops-usage", kwargs={"org_code": self.demo_org.code}), params)
        self.assertEqual(page.status_code, 200)
        return page

    def test_its_totals_are_the_usage_summary(self):
        month = (timezone.now().date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        for params in ({}, {"month": month}):
            with self.subTest(**params):
                expected, page = self.summary(**params), self.page(**params)
                self.assertGreater(expected["calls"], 0)
                shown = page.context["summary"]
                for key in ("calls", "priced_calls", "unpriced_calls", "input_tokens", "output_tokens", "retries"):
                    self.assertEqual(shown[key], expected[key], key)
                self.assertEqual(shown["cost"], Decimal(expected["cost"]))
                self.assertContains(page, f'id="total-calls">{expected["calls"]:,}<')
                usage = page.context["usage"]
                for dimension in ("model", "provider", "feature", "customer"):  # every table adds up to the totals
                    rows = usage[dimension]
                    self.assertEqual(sum(r["calls"] for r in rows), expected["calls"], dimension)
                    self.assertEqual(sum(r["input_tokens"] for r in rows), expected["input_tokens"], dimension)
                    self.assertEqual(sum(r["cost"] or 0 for r in rows), Decimal(expected["cost"]), dimension)
                    self.assertEqual(sum(r["unpriced_calls"] for r in rows), expected["unpriced_calls"], dimension)
                self.assertEqual(sum(d["calls"] for d in usage["daily"]), expected["calls"])

    def test_the_trend_has_a_point_for_each_day_of_the_period(self):
        page = self.page()
        period = page.context["period"]
        days = [d["day"] for d in page.context["usage"]["daily"]]
        self.assertEqual(days, [period.start + timedelta(days=n) for n in range(7)])
        figure = page.context["figures"]["daily"]
        self.assertEqual(len(figure["data"][0]["x"]), 7)
        self.assertContains(page, 'id="usage-figures"')
        self.assertContains(page, "js/figures.js")
        # each day's cost bar opens that day's model calls in the explorer
        links = figure["data"][0]["customdata"]
        self.assertEqual(len(links), 7)
        first = parse_qs(urlsplit(links[0]).query)
        self.assertEqual((first["start"], first["end"], first["source"]),
                         ([days[0].isoformat()], [days[1].isoformat()], ["api_call"]))  # fmt: skip

    def test_each_model_links_to_its_calls_in_the_explorer(self):
        page = self.page()
        period = page.context["period"]
        model = page.context["usage"]["model"][0]["model"]
        self.assertContains(page, f"/o/{self.demo_org.code}/explore/?source=api_calls&amp;model={model}&amp;"
                                  f"start={period.start.isoformat()}&amp;end={period.end.isoformat()}")  # fmt: skip


class UsagePageTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        at = last_monday() + timedelta(hours=9)
        usage_event(cls.org, "p1", model="gpt-4o", at=at, customer="acme", feature="chat", cost_amount=Decimal("0.5"),
                    currency="USD", cost_source=UsageEvent.CostSource.CATALOGUE, cached_input_tokens=300)  # fmt: skip
        usage_event(cls.org, "p2", model="gpt-4o", at=at, customer="acme", feature="chat", status="error",
                    job_id="j1", attempt=1)  # fmt: skip
        reported = UsageEvent.CostSource.REPORTED
        usage_event(cls.org, "p3", model="gpt-4o", at=at, customer="acme", feature="chat", job_id="j1", attempt=2,
                    cost_amount=Decimal("0.25"), currency="USD", cost_source=reported)  # fmt: skip
        usage_event(cls.org, "u1", provider="acme-llm", model="mystery-1", at=at, customer="beta", feature="search")
        usage_event(cls.charlies_org, "c1", model="charlies-secret-model", at=at)

    def page(self, user=None, **params):
        self.client.force_login(user or self.bob)
        return self.client.get(reverse("finops-usage", kwargs={"org_code": self.org.code}), params)

    def test_an_unpriced_model_is_listed_as_unpriced_never_as_zero(self):
        page = self.page()
        self.assertEqual(page.status_code, 200)
        rows = {r["model"]: r for r in page.context["usage"]["model"]}
        self.assertIsNone(rows["mystery-1"]["cost"])
        self.assertEqual(rows["mystery-1"]["unpriced_calls"], 1)
        html = page.content.decode()
        row = html[html.index(">mystery-1</a>") :].split("</tr>")[0]
        self.assertIn(">unpriced<", row)
        self.assertNotIn("$0.00", row)
        self.assertContains(page, 'id="unpriced-models"')
        self.assertEqual(rows["gpt-4o"]["cost"], Decimal("0.75"))  # priced calls of a model with an unpriced one

    def test_it_counts_tokens_errors_and_retries_by_dimension(self):
        usage = self.page().context["usage"]
        acme = next(r for r in usage["customer"] if r["customer"] == "acme")
        self.assertEqual((acme["calls"], acme["errors"], acme["retries"]), (3, 1, 1))
        self.assertEqual((acme["input_tokens"], acme["cached_input_tokens"], acme["output_tokens"]), (3000, 300, 600))
        self.assertEqual(usage["totals"]["errors"], 1)
        self.assertEqual([r["provider"] for r in usage["provider"]], ["openai", "acme-llm"])  # priced first
        self.assertEqual({r["feature"] for r in usage["feature"]}, {"chat", "search"})

    def test_it_reads_only_the_period(self):
        self.assertEqual(self.page(week="2026-W01").context["summary"]["calls"], 0)
        self.assertContains(self.page(week="2026-W01"), "No model calls in this period")

    def test_it_hides_other_orgs(self):
        self.assertEqual(self.page(user=self.charlie).status_code, 404)
        self.assertNotContains(self.page(), "charlies-secret-model")

    def test_the_nav_links_to_it(self):
        self.assertContains(self.page(), f'href="{reverse("finops-usage", kwargs={"org_code": self.org.code})}"')
