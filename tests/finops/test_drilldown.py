"""Drill-down from the Founder Table to the explorer, on the demo, for the default week and for one month: every
card, offender, money metric and trend bar links to the explorer over the same period, and where a link claims the
figure (`data-total`), GET explore/ with the link's query totals it to the cent."""

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from django.test import SimpleTestCase

from accounts.models import Organization
from finops.drilldown import MYSTERY_ORIGINS, drilldown
from finops.selectors.explore import explore_query
from finops.selectors.trends import weekly_bucket_spend
from tests.base import BaseTestCase
from tests.demo import demo_org

CENT = Decimal("0.01")
CARDS = ("billed", "allocated", "idle", "unmeasured", "unattributed")


class DrillLinks(HTMLParser):
    """Every explorer link of a page (`a.drill`): its attributes, and the id of the element around it."""

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "drill" in (attrs.get("class") or "").split():
            self.links.append({**attrs, "inside": [i for i in self.ids if i]})
        if tag in ("div", "tr"):
            self.ids.append(attrs.get("id", ""))

    def handle_endtag(self, tag):
        if tag in ("div", "tr") and self.ids:
            self.ids.pop()


def cents(amount) -> Decimal:
    return Decimal(amount or 0).quantize(CENT)


class DrilldownPageTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.demo = demo_org()
        cls.demo_org = Organization.objects.get(code=cls.demo["org"])

    def setUp(self):
        self.client.login(email=self.demo["login"], password=self.demo["password"])

    def page(self, **params):
        response = self.client.get(f"/o/{self.demo['org']}/", params)
        self.assertEqual(response.status_code, 200)
        parser = DrillLinks()
        parser.feed(response.content.decode())
        return response, parser.links

    def explore(self, href: str) -> dict:
        url = urlsplit(href)
        self.assertEqual(url.path, f"/o/{self.demo['org']}/explore/")
        response = self.client.get(f"/api/v1/explore/?{url.query}", HTTP_AUTHORIZATION=f"Bearer {self.demo['api_key']}")
        self.assertEqual(response.status_code, 200, response.content[:300])
        return response.json()

    def check_page(self, **params):
        response, links = self.page(**params)
        period = response.context["period"]
        claimed = 0
        for link in links:
            query = parse_qs(urlsplit(link["href"]).query)
            if not link["data-drill"].startswith("trend"):
                self.assertEqual((query["start"], query["end"]), ([period.start.isoformat()], [period.end.isoformat()]))
            body = self.explore(link["href"])
            if "data-total" in link:
                claimed += 1
                self.assertEqual(cents(body["total"]), cents(link["data-total"]), link)
        # every card, every offender shown, every money metric that is a cost slice
        by_kind = {}
        for link in links:
            by_kind.setdefault(link["data-drill"].split(":")[0], []).append(link)
        cards = {link["data-drill"].split(":")[1]: link for link in by_kind["card"]}
        self.assertEqual(set(cards), set(CARDS))
        self.assertTrue(all("data-total" in link for link in cards.values()))
        summary = response.context["summary"]
        self.assertEqual(Decimal(cards["billed"]["data-total"]), summary["billed_total"])
        self.assertEqual(Decimal(cards["idle"]["data-total"]), summary["idle"])
        shown = sum(min(len(row["offenders"]), 5) for row in response.context["rows"])
        self.assertGreater(shown, 10)
        self.assertEqual(len(by_kind["offender"]), shown)
        metrics = [m for m in response.context["metrics"] if drilldown("metric", m["key"])]
        self.assertEqual(len(by_kind.get("metric", [])), len(metrics))
        self.check_trend(response)
        return response, links, claimed

    def check_trend(self, response):
        period = response.context["period"]
        trend = weekly_bucket_spend(org=self.demo_org, last_day=min(period.last_day, period.today))
        bars = 0
        for trace in response.context["trend_figures"]["trend"]["data"]:
            self.assertEqual(len(trace["customdata"]), len(trace["x"]))
            for monday, href in zip(trace["x"], trace["customdata"], strict=True):
                query = parse_qs(urlsplit(href).query)
                bucket = "" if query["bucket"] == ["(none)"] else query["bucket"][0]
                week = trend["weeks"].index(next(w for w in trend["weeks"] if w.isoformat() == monday))
                self.assertEqual(query["start"], [monday])
                self.assertEqual(cents(self.explore(href)["total"]), cents(trend["buckets"][bucket][week]), href)
                bars += 1
        self.assertGreater(bars, 8 * 4)

    def test_every_figure_of_the_default_week_links_to_its_cost(self):
        response, links, claimed = self.check_page()
        self.assertTrue(response.context["weekly"])
        self.assertGreater(claimed, 8)
        drills = {link["data-drill"] for link in links}
        self.assertIn("metric:gpu_spend_by_feature", drills)
        self.assertIn("offender:host:idle", drills)
        self.assertIn("offender:host:unmeasured", drills)

    def test_every_figure_of_a_month_links_to_its_cost(self):
        today = self.page()[0].context["period"].today
        month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        response, _, claimed = self.check_page(month=month)
        self.assertEqual(response.context["period"].kind, "month")
        self.assertGreater(claimed, 8)

    def test_an_idle_host_opens_on_its_idle_cost(self):
        response, links = self.page()
        rows = {row["key"]: row for row in response.context["rows"]}
        idle = next(o for o in rows["idle_gpu"]["offenders"] if o["measure"] == "idle")
        link = next(lk for lk in links if lk["data-drill"] == "offender:host:idle" and idle["id"] in lk["href"])
        query = parse_qs(urlsplit(link["href"]).query)
        self.assertEqual((query["source"], query["host"]), (["idle"], [idle["id"]]))
        self.assertEqual(Decimal(link["data-total"]), idle["amount"])
        self.assertEqual(Decimal(self.explore(link["href"])["total"]), idle["amount"])

    def test_links_that_do_not_claim_the_figure_open_the_cost_it_concerns(self):
        response, links = self.page()
        rows = {row["key"]: row for row in response.context["rows"]}
        customer = next(o for o in rows["inference_request"]["offenders"] if o["kind"] == "customer")
        link = next(lk for lk in links if lk["data-drill"] == "offender:customer" and customer["id"] in lk["href"])
        self.assertNotIn("data-total", link)  # cost above revenue is not a sum of cost
        self.assertEqual(parse_qs(urlsplit(link["href"]).query)["customer"], [customer["id"]])
        zombie = [lk for lk in links if lk["data-drill"] == "offender:host:zombie"]
        self.assertTrue(zombie)
        self.assertTrue(all("data-total" not in lk and "source" not in lk["href"] for lk in zombie))

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(f"/o/{self.demo['org']}/").status_code, 404)


class CostsDrilldownTests(DrilldownPageTests):
    """The Costs page: every card, every row of its breakdowns and every bar of its daily chart opens the explorer
    on the cost it shows, and the explorer totals each to the cent."""

    def test_every_figure_of_the_costs_page_links_to_its_cost(self):
        url = f"/o/{self.demo['org']}/costs/"
        for params in ({}, {"period": "last_4_weeks"}):
            response = self.client.get(url, params)
            self.assertEqual(response.status_code, 200)
            parser = DrillLinks()
            parser.feed(response.content.decode())
            period, summary = response.context["period"], response.context["summary"]
            kinds = {}
            for link in parser.links:
                kinds.setdefault(link["data-drill"].split(":")[0], []).append(link)
                query = parse_qs(urlsplit(link["href"]).query)
                self.assertEqual((query["start"], query["end"]), ([period.start.isoformat()], [period.end.isoformat()]))
                self.assertIn("data-total", link)
                self.assertEqual(cents(self.explore(link["href"])["total"]), cents(link["data-total"]), link)
            self.assertEqual(len(kinds["card"]), len(CARDS))
            breakdown = response.context["breakdown"]
            rows = (len(summary["by_bucket"]) + len(summary["by_label"]) + len(summary["by_source"])
                    + sum(len(breakdown[f"by_{d}"]) for d in ("provider", "feature", "owner")))  # fmt: skip
            self.assertEqual(len(kinds["slice"]), rows)
            self.check_daily_bars(response)

    def check_daily_bars(self, response):
        bars = 0
        daily = response.context["breakdown"]["daily"]
        for trace in response.context["figures"]["daily"]["data"]:
            kind = trace["name"].lower()
            for day, href in zip(daily, trace["customdata"], strict=True):
                query = parse_qs(urlsplit(href).query)
                self.assertEqual(
                    (query["start"], query["end"]), ([day.isoformat()], [(day + timedelta(1)).isoformat()])
                )
                self.assertEqual(cents(self.explore(href)["total"]), cents(daily[day][kind]), href)
                bars += 1
        self.assertGreaterEqual(bars, 4 * 7)

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(f"/o/{self.demo['org']}/costs/").status_code, 404)


class DrilldownTests(SimpleTestCase):
    def test_the_cards_are_the_explorers_sources(self):
        self.assertEqual(drilldown("card", "billed").filters, {})
        self.assertEqual(drilldown("card", "allocated").filters, {"source": ("bill_line", "api_call", "gpu_time")})
        self.assertTrue(all(drilldown("card", name).equal for name in CARDS))

    def test_every_filter_is_one_the_explorer_reads(self):
        shown = [("card", name, "", "") for name in CARDS]
        shown += [("offender", kind, "x", measure) for kind in ("host", "customer", "plan", "feature", "run", "release",
                  "commitment") for measure in ("", "idle", "unmeasured", "unowned_idle", "zombie")]  # fmt: skip
        shown += [("offender", "bucket", "unattributed", ""), ("metric", "gpu_spend_by_feature", "", ""),
                  ("trend", "", "", ""), ("trend", "idle", "", "")]  # fmt: skip
        for what, key, ident, measure in shown:
            drill = drilldown(what, key, ident=ident, measure=measure)
            explore_query({name: ",".join(values) for name, values in drill.filters.items()})  # no ExploreError

    def test_the_mystery_bucket_is_its_rollup_sources(self):
        drill = drilldown("offender", "bucket", ident="unattributed")
        self.assertEqual((drill.filters, drill.equal), ({"origin": MYSTERY_ORIGINS}, True))

    def test_a_figure_with_no_cost_behind_it_has_no_link(self):
        self.assertIsNone(drilldown("metric", "inference_calls_per_user"))
        self.assertIsNone(drilldown("metric", "cost_per_completed_job"))
