"""The customer page, as a founder reads it: one customer's cost, revenue and margin for the period (the same
figures as the economics API), the models and features they used, and twelve weeks of trend."""

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, quote, urlsplit

from django.urls import reverse

from finops.models import CustomerRollup, Rollup
from tests.base import BaseTestCase, DemoTestCase


class CustomerPageTests(DemoTestCase):
    def api(self, path, **params):
        response = self.client.get(path, params, HTTP_AUTHORIZATION=f"Bearer {self.demo['api_key']}")
        self.assertEqual(response.status_code, 200, response.content[:300])
        return response

    def page_url(self, customer, org=None):
        return reverse("finops-customer", kwargs={"org_code": (org or self.demo_org).code, "customer": customer})

    def economics(self, **params) -> dict:
        return {r["customer"]: r for r in self.api("/api/v1/economics/customers/", **params).json()}

    def test_it_shows_the_same_figures_as_the_economics_api(self):
        rows = self.economics()
        self.assertGreater(len(rows), 2)
        self.client.force_login(self.bob)
        for customer, expected in rows.items():
            with self.subTest(customer=customer):
                page = self.client.get(self.page_url(customer))
                self.assertEqual(page.status_code, 200)
                row = page.context["row"]
                self.assertEqual(row["ai_cost"], Decimal(expected["ai_cost"]))
                self.assertEqual(row["fully_loaded_cost"], Decimal(expected["fully_loaded_cost"]))
                revenue = None if expected["revenue"] is None else Decimal(expected["revenue"])
                self.assertEqual(row["revenue"], revenue)
                self.assertEqual(row["completed_jobs"], expected["completed_jobs"])
                self.assertContains(page, f'id="customer-name">{customer}<')

    def test_a_month_reads_the_same_period_as_the_api(self):
        month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")  # last month: demo data
        rows = self.economics(month=month)
        customer, expected = next(iter(rows.items()))
        self.client.force_login(self.bob)
        page = self.client.get(self.page_url(customer), {"month": month})
        self.assertEqual(page.context["period"].label, month)
        self.assertEqual(page.context["row"]["ai_cost"], Decimal(expected["ai_cost"]))

    def test_the_trend_has_twelve_weeks_ending_with_the_periods_week(self):
        rows = self.economics()
        response = self.api("/api/v1/economics/customers/")
        last_monday = response["X-Period-Start"]
        self.client.force_login(self.bob)
        checked = 0
        for customer, expected in rows.items():
            page = self.client.get(self.page_url(customer))
            trend = page.context["trend"]
            self.assertEqual(len(trend), 12)
            self.assertEqual([w["week"] for w in trend], sorted(w["week"] for w in trend))
            last = trend[-1]
            self.assertEqual(last["week"].isoformat(), last_monday)
            self.assertEqual(last["ai_cost"], Decimal(expected["ai_cost"]))
            self.assertEqual(last["fully_loaded_cost"], Decimal(expected["fully_loaded_cost"]))
            revenue = None if expected["revenue"] is None else Decimal(expected["revenue"])
            self.assertEqual(last["revenue"], revenue)
            self.assertEqual(last["completed_jobs"], expected["completed_jobs"])
            checked += 1
        self.assertGreater(checked, 2)

    def test_an_earlier_week_of_the_trend_is_that_weeks_figure(self):
        self.client.force_login(self.bob)
        customer = next(iter(self.economics()))
        trend = self.client.get(self.page_url(customer)).context["trend"]
        week = trend[-2]["week"]
        rows = self.economics(week=f"{week.isocalendar().year}-W{week.isocalendar().week:02d}")
        self.assertEqual(trend[-2]["ai_cost"], Decimal(rows[customer]["ai_cost"]) if customer in rows else 0)

    def test_it_draws_one_csp_safe_chart(self):
        self.client.force_login(self.bob)
        customer = next(iter(self.economics()))
        page = self.client.get(self.page_url(customer))
        self.assertContains(page, 'id="customer-trend-figures"')
        self.assertContains(page, "js/figures.js")
        self.assertNotContains(page, "<script>")  # no inline script: data only through json_script
        self.assertIn("trend", page.context["figures"])
        # each week's cost bar opens the customer's cost of that week in the explorer
        bars = [t for t in page.context["figures"]["trend"]["data"] if "customdata" in t]
        self.assertTrue(bars)
        last = page.context["trend"][-1]["week"]
        for bar in bars:
            query = parse_qs(urlsplit(bar["customdata"][-1]).query)
            expected = ([last.isoformat()], [(last + timedelta(days=7)).isoformat()], [customer])
            self.assertEqual((query["start"], query["end"], query["customer"]), expected)

    def test_it_lists_models_and_features_with_explorer_links(self):
        self.client.force_login(self.bob)
        for customer in self.economics():  # the first customer with model calls
            page = self.client.get(self.page_url(customer))
            models = [m for m in page.context["usage"]["models"] if m["model"]]
            if models:
                break
        self.assertTrue(models)
        self.assertTrue(page.context["usage"]["features"])
        period = page.context["period"]
        self.assertContains(
            page, f"/o/{self.demo_org.code}/explore/?source=api_calls&amp;model={quote(models[0]['model'], safe='')}"
        )
        self.assertContains(page, f"start={period.start.isoformat()}&amp;end={period.end.isoformat()}")

    def test_an_unknown_customer_is_404(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.page_url("nobody-at-all")).status_code, 404)

    def test_it_hides_other_orgs(self):
        customer = next(iter(self.economics()))
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.page_url(customer)).status_code, 404)
        # nor is another tenant's customer found under charlie's own org
        self.assertEqual(self.client.get(self.page_url(customer, org=self.charlies_org)).status_code, 404)

    def test_the_customers_table_links_each_customer(self):
        self.client.force_login(self.bob)
        page = self.client.get(reverse("finops-customers", kwargs={"org_code": self.demo_org.code}))
        for customer in self.economics():
            self.assertContains(page, f'href="{self.page_url(customer)}')


class CustomersTableTests(DemoTestCase):
    def setUp(self):
        self.client.force_login(self.bob)

    def get(self, **params):
        page = self.client.get(reverse("finops-customers", kwargs={"org_code": self.demo_org.code}), params)
        self.assertEqual(page.status_code, 200)
        return page

    def test_a_column_header_sorts_and_the_url_holds_the_sort(self):
        page = self.get()
        self.assertContains(page, 'href="?sort=-cost" id="sort-cost"')
        costs = [r["ai_cost"] for r in self.get(sort="-cost").context["rows"]]
        self.assertEqual(costs, sorted(costs, reverse=True))
        page = self.get(sort="-cost")
        self.assertContains(page, 'aria-sort="descending"')
        self.assertContains(page, 'href="?sort=cost" id="sort-cost"')  # a second click: smallest first
        costs = [r["ai_cost"] for r in self.get(sort="cost").context["rows"]]
        self.assertEqual(costs, sorted(costs))
        names = [r["customer"] for r in self.get(sort="customer").context["rows"]]
        self.assertEqual(names, sorted(names, key=str.casefold))

    def test_undefined_values_sort_last_either_way(self):
        for sort in ("cost_per_job", "-cost_per_job"):
            values = [r["cost_per_completed_job"] for r in self.get(sort=sort).context["rows"]]
            known = [v for v in values if v is not None]
            self.assertEqual(values[: len(known)], sorted(known, reverse=sort.startswith("-")))

    def test_the_sort_keeps_the_period_and_the_search(self):
        page = self.get(week="2026-W45", q="pro", sort="-revenue")
        self.assertContains(page, 'href="?week=2026-W45&amp;q=pro&amp;sort=revenue" id="sort-revenue"')
        self.assertContains(page, '<input type="hidden" name="sort" value="-revenue">')
        self.assertEqual(page.context["period"].label, "2026-W45")

    def test_the_search_filters_by_customer_or_plan(self):
        rows = self.get().context["rows"]
        customer = rows[0]["customer"]
        found = self.get(q=customer[:4].upper()).context["rows"]
        self.assertIn(customer, [r["customer"] for r in found])
        self.assertTrue(all(customer[:4].casefold() in (r["customer"] + (r["plan"] or "")).casefold() for r in found))
        plan = next(r["plan"] for r in rows if r["plan"])
        found = self.get(q=plan).context["rows"]
        self.assertEqual({r["customer"] for r in found} >= {r["customer"] for r in rows if r["plan"] == plan}, True)
        page = self.get(q="no-such-customer-or-plan")
        self.assertEqual(page.context["rows"], [])
        self.assertContains(page, "No customer or plan matches")

    def test_an_unknown_sort_is_the_default_order(self):
        self.assertEqual(self.get(sort="<script>").context["rows"], self.get().context["rows"])


class UnpricedModelTests(BaseTestCase):
    def test_a_model_whose_calls_are_all_unpriced_shows_unpriced_not_zero(self):
        CustomerRollup.objects.create(org=self.org, day=date(2026, 11, 2), kind="allocated", currency="USD",
                                      cost_amount=Decimal(0), customer="acme", calls=2, unpriced_calls=2)  # fmt: skip
        Rollup.objects.create(org=self.org, day=date(2026, 11, 2), kind="allocated", currency="USD",
                              cost_amount=Decimal(0), customer="acme", calls=2, unpriced_calls=2, source="api_calls",
                              bucket="inference", label="customer_value", provider="x", model="mystery-1")  # fmt: skip
        self.client.force_login(self.bob)
        url = reverse("finops-customer", kwargs={"org_code": self.org.code, "customer": "acme"})
        page = self.client.get(url, {"week": "2026-W45"})
        html = page.content.decode()
        row = html[html.index(">mystery-1</a>") :].split("</tr>")[0]
        self.assertIn(">unpriced<", row)
        self.assertNotIn("$0.00", row)
