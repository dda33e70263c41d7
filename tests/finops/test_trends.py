"""The Founder Table's last eight weeks (issue 18): spend by ISO week and bucket in one read, each week's total the
ledger's billed total; and a sparkline per weekly metric."""

import re
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.urls import reverse

from accounts.models import Organization
from finops.selectors.ledger import ledger_summary
from finops.selectors.trends import trend_mondays, weekly_bucket_spend
from finops.services.rollups import rollups_refresh
from finops.templatetags.trend_tags import sparkline, sparkline_points
from ingest.periods import local_today
from tests.base import BaseTestCase
from tests.demo import demo_org
from tests.finops.test_batched_reads import work

CENT = Decimal("0.01")


def cents(amount) -> Decimal:
    return (amount or Decimal(0)).quantize(CENT)


class BucketTrendTests(BaseTestCase):
    def test_it_sums_each_week_by_bucket_in_one_query(self):
        work(self.org, date(2026, 11, 2), "10.5", bucket="inference")
        work(self.org, date(2026, 11, 8), "2", bucket="inference")  # Sunday: the same ISO week
        work(self.org, date(2026, 11, 9), "3", bucket="idle", kind="idle")
        work(self.org, date(2026, 9, 20), "4", bucket="training")  # before the eight weeks
        work(self.org, date(2026, 11, 10), "5", bucket="inference", currency="EUR")  # not the org's currency
        cache.clear()
        with self.assertNumQueries(1):
            trend = weekly_bucket_spend.__wrapped__(org=self.org, last_day=date(2026, 11, 11))
        self.assertEqual(trend["weeks"], [date(2026, 9, 21) + timedelta(weeks=n) for n in range(8)])
        self.assertEqual(trend["buckets"]["inference"][-2:], [Decimal("12.5"), 0])
        self.assertEqual(trend["buckets"]["idle"][-1], Decimal(3))
        self.assertEqual(trend["totals"], [0, 0, 0, 0, 0, 0, Decimal("12.5"), Decimal(3)])
        self.assertLessEqual({"idle", "unmeasured", "inference", "research"}, set(trend["buckets"]))

    def test_the_founder_table_draws_it(self):
        work(self.org, date(2026, 11, 2), "10.5", bucket="inference")
        work(self.org, date(2026, 11, 3), "1", bucket="unmeasured", kind="unmeasured")
        self.client.force_login(self.bob)
        page = self.client.get(reverse("finops-founder-table", kwargs={"org_code": self.org.code}) + "?week=2026-W45")
        self.assertContains(page, 'id="chart-trend"')
        self.assertContains(page, "js/figures.js")
        figure = page.context["trend_figures"]["trend"]
        names = [trace["name"] for trace in figure["data"]]
        self.assertEqual(names[-2:], ["Idle", "Unmeasured GPU time"])  # apart, on top
        self.assertIn("pattern", figure["data"][-1]["marker"])
        inference = next(t for t in figure["data"] if t["name"] == "Inference")
        self.assertEqual(len(inference["x"]), 8)
        self.assertEqual((inference["x"][-1], inference["y"][-1]), ("2026-11-02", 10.5))

    def test_an_org_without_costs_says_so(self):
        self.client.force_login(self.bob)
        page = self.client.get(reverse("finops-founder-table", kwargs={"org_code": self.org.code}))
        self.assertContains(page, "No costs in these eight weeks yet.")
        self.assertNotContains(page, 'id="chart-trend"')


class DemoTrendTests(BaseTestCase):
    def test_each_weeks_total_is_the_ledgers_billed_total_to_the_cent(self):
        org = Organization.objects.get(code=demo_org()["org"])
        rollups_refresh(org=org)
        last_day = local_today(org.timezone) - timedelta(days=7)
        trend = weekly_bucket_spend(org=org, last_day=last_day)
        self.assertEqual(trend["weeks"], trend_mondays(last_day))
        self.assertGreater(sum(1 for total in trend["totals"] if total), 3, "the demo has costs in these weeks")
        for n, monday in enumerate(trend["weeks"]):
            with self.subTest(week=monday):
                summary = ledger_summary(org=org, start=monday, end=monday + timedelta(weeks=1))
                self.assertEqual(cents(trend["totals"][n]), cents(summary["billed_total"]))
                for bucket, amount in summary["by_bucket"].items():
                    self.assertEqual(cents(trend["buckets"][bucket][n]), cents(amount), bucket)


class SparklineTests(BaseTestCase):
    def test_it_draws_one_point_per_week_with_gaps_for_undefined(self):
        svg = sparkline([1.0, 2.0, None, 4.0, 4.0, 0.0, 3.0, 2.5])
        self.assertIn('data-points="8"', svg)
        self.assertEqual(svg.count("<polyline"), 2)  # split at the undefined week
        points = re.findall(r'<polyline points="([^"]*)"', svg)
        self.assertEqual(sum(len(p.split()) for p in points), 7)
        self.assertEqual(sparkline_points([5, 5])[0][1], sparkline_points([5, 5])[1][1])  # flat in the middle
        self.assertEqual(sparkline([None] * 8).count("<polyline"), 0)

    def test_the_founder_table_shows_a_sparkline_of_8_points_per_metric(self):
        for week in range(8):
            work(self.org, date(2026, 9, 14) + timedelta(weeks=week), f"{week + 1}", bucket="inference")
        self.client.force_login(self.bob)
        page = self.client.get(reverse("finops-founder-table", kwargs={"org_code": self.org.code}) + "?week=2026-W45")
        body = page.content.decode()
        rows = re.findall(r'<tr id="metric-([a-z_]+)">(.*?)</tr>', body, re.S)
        self.assertEqual(len(rows), 12)
        for key, row in rows:
            with self.subTest(metric=key):
                self.assertIn('data-points="8"', row)
        metrics = {m["key"]: m for m in page.context["metrics"]}
        for m in metrics.values():
            self.assertEqual(len(m["trend"]), 8)
        spend = metrics["gpu_spend_by_feature"]
        self.assertEqual(spend["trend"], [float(n) for n in range(1, 9)])  # W38 to W45, the last the table's value
        points = re.findall(r'<polyline points="([^"]*)"', dict(rows)["gpu_spend_by_feature"])
        self.assertEqual(len(points[0].split()), 8)

    def test_a_month_has_no_sparklines(self):
        self.client.force_login(self.bob)
        page = self.client.get(reverse("finops-founder-table", kwargs={"org_code": self.org.code}) + "?month=2026-10")
        self.assertNotContains(page, 'class="sparkline"')
