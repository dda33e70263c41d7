"""One period, one meaning: every read endpoint, every page that shows money or usage, and the weekly digest take
their period from the one resolver (INTERFACES.md, Periods): the same forms, the same default (the last complete
ISO week in the organisation's time zone), the same 400 for a bad period, and each says which period it shows."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from unittest import mock

from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.services import org_create, org_update
from finops.models import CustomerRollup, Digest
from finops.services.digests import digest_week
from finops.tasks import send_digest_org
from ingest.periods import PeriodError, week_label
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin
from tests.pricing.helpers import usage_event

BODY_ENDPOINTS = [
    "/api/v1/ledger/summary/",
    "/api/v1/founder-table/",
    "/api/v1/metrics/weekly/",
    "/api/v1/anomalies/",
    "/api/v1/usage/summary/",
    "/api/v1/reconciliation/",
    "/api/v1/explore/",
    "/api/v1/explore/lines/",
]
LIST_ENDPOINTS = ["/api/v1/economics/customers/", "/api/v1/economics/plans/"]  # bare lists: the period in headers
WEEKLY_ENDPOINTS = ["/api/v1/metrics/weekly/", "/api/v1/anomalies/"]
FORECAST = "/api/v1/forecast/"
PAGES = [
    "finops-founder-table",
    "finops-costs",
    "finops-explore",
    "finops-customers",
    "finops-customer",
    "finops-usage",
    "finops-plans",
    "finops-pricing-check",
    "ingest-reconciliation",
    "pricing-prices",
]
PAGE_KWARGS = {"finops-customer": {"customer": "acme"}}  # pages of one thing: the one PeriodPageTests makes
BAD_PERIODS = [
    ("start=2026-11-09&end=2026-11-02", "end must be after start"),
    ("week=2026-W45&month=2026-11", "Give one period: week or month, not both."),
    ("start=1999-01-01&end=1999-02-01", "Periods start on 2000-01-01 or later."),
    ("week=soon", "Give the week as YYYY-Www"),
    ("start=2000-01-01&end=2026-01-01", "A period may span at most 10 years."),
]
# Sunday 17:00 in UTC is already Monday 02:00 in Tokyo: there, week 2026-W48 has ended; in UTC it has not.
SUNDAY_UTC = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)


def this_monday() -> date:
    today = timezone.now().date()
    return today - timedelta(days=today.weekday())


def last_week() -> tuple[str, str]:
    """[start, end) of the last complete ISO week in UTC, as ISO dates."""
    return (this_monday() - timedelta(days=7)).isoformat(), this_monday().isoformat()


class PeriodApiTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def test_the_default_is_the_last_complete_iso_week_and_each_response_says_so(self):
        start, end = last_week()
        for url in BODY_ENDPOINTS + LIST_ENDPOINTS:
            with self.subTest(url=url):
                response = self.api_get(url)
                self.assertEqual(response.status_code, 200, response.content)
                self.assertEqual((response["X-Period-Start"], response["X-Period-End"], response["X-Period-Partial"]),
                                 (start, end, "false"))  # fmt: skip
                body = response.json()
                if url in LIST_ENDPOINTS:
                    self.assertIsInstance(body, list)  # the shape clients rely on is unchanged
                else:
                    self.assertEqual((body["start"], body["end"], body["partial"]), (start, end, False))

    def test_a_bad_period_is_400_with_the_reason(self):
        for url in BODY_ENDPOINTS + LIST_ENDPOINTS + [FORECAST]:
            for query, message in BAD_PERIODS:
                with self.subTest(url=url, query=query):
                    response = self.api_get(f"{url}?{query}")
                    self.assertEqual(response.status_code, 400)
                    self.assertEqual(list(response.json()), ["period"])
                    self.assertIn(message, response.json()["period"][0])

    def test_every_form_is_stated_back(self):
        monday = this_monday()
        forms = [
            ("month=2026-10", ("2026-10-01", "2026-11-01", False)),
            ("start=2026-10-05&end=2026-10-08", ("2026-10-05", "2026-10-08", False)),
            (f"start={monday - timedelta(days=3)}", (str(monday - timedelta(days=3)),
                                                     str(timezone.now().date() + timedelta(days=1)), True)),
            (f"week={week_label(monday)}", (str(monday), str(monday + timedelta(days=7)), True)),
        ]  # fmt: skip
        for url in sorted(set(BODY_ENDPOINTS) - set(WEEKLY_ENDPOINTS)):
            for query, (start, end, partial) in forms:
                with self.subTest(url=url, query=query):
                    body = self.api_get(f"{url}?{query}").json()
                    self.assertEqual((body["start"], body["end"], body["partial"]), (start, end, partial))
        for url in LIST_ENDPOINTS:
            response = self.api_get(f"{url}?week={week_label(monday)}")
            self.assertEqual((response["X-Period-Start"], response["X-Period-Partial"]), (str(monday), "true"))

    def test_weekly_endpoints_take_one_week_in_any_form(self):
        for url in WEEKLY_ENDPOINTS:
            with self.subTest(url=url):
                body = self.api_get(f"{url}?start=2026-11-02&end=2026-11-09").json()
                self.assertEqual((body["week"], body["start"], body["end"]), ("2026-W45", "2026-11-02", "2026-11-09"))
                response = self.api_get(f"{url}?month=2026-10")
                self.assertEqual(response.status_code, 400)
                self.assertIn("This is weekly", response.json()["period"][0])

    def test_the_forecast_is_this_month_by_default_or_the_month_asked(self):
        today = timezone.now().date()
        body = self.api_get(FORECAST).json()
        self.assertEqual((body["month"], body["start"], body["partial"]), (f"{today:%Y-%m}", f"{today:%Y-%m-01}", True))
        body = self.api_get(f"{FORECAST}?month=2026-10").json()
        self.assertEqual((body["month"], body["start"], body["end"], body["partial"]),
                         ("2026-10", "2026-10-01", "2026-11-01", False))  # fmt: skip
        self.assertEqual(body["days_left"], 1)  # as it stood on the month's last day
        response = self.api_get(f"{FORECAST}?week=2026-W45")
        self.assertEqual(response.status_code, 400)
        self.assertIn("This is monthly", response.json()["period"][0])

    def test_reconciliation_names_its_month(self):
        self.assertEqual(self.api_get("/api/v1/reconciliation/?month=2026-10").json()["month"], "2026-10")
        self.assertIsNone(self.api_get("/api/v1/reconciliation/").json()["month"])  # the default is a week

    def test_the_default_follows_the_orgs_time_zone(self):
        org_update(org=self.org, name=self.org.name, currency="USD", timezone_name="Asia/Tokyo")
        with mock.patch("django.utils.timezone.now", return_value=SUNDAY_UTC):
            tokyo = self.api_get("/api/v1/founder-table/").json()
            utc = self.api_get("/api/v1/founder-table/", key=self.charlie_key).json()
        self.assertEqual((tokyo["start"], tokyo["end"], tokyo["partial"]), ("2026-11-23", "2026-11-30", False))
        self.assertEqual((utc["start"], utc["end"]), ("2026-11-16", "2026-11-23"))

    def test_usage_summary_counts_only_the_period(self):
        monday = this_monday() - timedelta(days=7)
        events = [{"event_id": f"e{i}", "timestamp": f"{day}T10:00:00Z", "provider": "openai", "model": "gpt-4o",
                   "cost": "1.00", "currency": "USD"}
                  for i, day in enumerate([monday + timedelta(days=1), monday - timedelta(days=20)])]  # fmt: skip
        response = self.client.post("/api/v1/usage-events/", json.dumps(events), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.json()["accepted"], 2)
        self.assertEqual(self.api_get("/api/v1/usage/summary/").json()["calls"], 1)
        self.assertEqual(self.api_get(f"/api/v1/usage/summary/?start={monday - timedelta(days=21)}").json()["calls"], 2)

    def test_the_schema_documents_one_set_of_period_parameters(self):
        schema = self.client.get("/api/schema/", {"format": "json"}).json()
        for url in BODY_ENDPOINTS + LIST_ENDPOINTS + [FORECAST]:
            with self.subTest(url=url):
                operation = schema["paths"][url]["get"]
                self.assertEqual({p["name"] for p in operation["parameters"]} & {"start", "end", "week", "month"},
                                 {"start", "end", "week", "month"})  # fmt: skip
        for url in LIST_ENDPOINTS:
            self.assertIn("X-Period-Start", schema["paths"][url]["get"]["description"])


class PeriodPageTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        CustomerRollup.objects.create(org=cls.org, day=date(2026, 11, 2), kind="allocated", currency="USD",
                                      cost_amount=Decimal(1), customer="acme")  # fmt: skip

    def url(self, name, query=""):
        kwargs = {"org_code": self.org.code, **PAGE_KWARGS.get(name, {})}
        return reverse(name, kwargs=kwargs) + (f"?{query}" if query else "")

    def test_the_default_is_the_last_complete_iso_week(self):
        start, end = last_week()
        self.client.force_login(self.bob)
        for name in PAGES:
            with self.subTest(page=name):
                page = self.client.get(self.url(name))
                self.assertEqual(page.status_code, 200)
                period = page.context["period"]
                self.assertEqual((period.start.isoformat(), period.end.isoformat()), (start, end))
                self.assertContains(page, f'data-start="{start}" data-end="{end}" data-partial="false"')
                self.assertContains(page, f"Week {week_label(period.start)}")
                self.assertNotContains(page, 'id="period-error"')

    def test_a_bad_period_shows_the_reason_and_the_default_with_400(self):
        start, _ = last_week()
        self.client.force_login(self.alice)
        for name in PAGES:
            for query, message in BAD_PERIODS:
                with self.subTest(page=name, query=query):
                    page = self.client.get(self.url(name, query))
                    self.assertContains(page, 'id="period-error"', status_code=400)
                    self.assertContains(page, message, status_code=400)
                    self.assertEqual(page.context["period"].start.isoformat(), start)

    def test_a_running_period_says_so(self):
        self.client.force_login(self.alice)
        for name in PAGES:
            with self.subTest(page=name):
                page = self.client.get(self.url(name, f"week={week_label(this_monday())}"))
                self.assertContains(page, "this week so far")
                self.assertContains(page, 'data-partial="true"')
                self.assertNotContains(page, 'rel="next"')

    def test_it_hides_other_orgs_whatever_the_period(self):
        self.client.force_login(self.charlie)
        for name in PAGES:
            with self.subTest(page=name):
                self.assertEqual(self.client.get(self.url(name, "week=soon")).status_code, 404)

    def test_the_founder_table_steps_week_by_week(self):
        self.client.force_login(self.alice)
        page = self.client.get(self.url("finops-founder-table", "week=2026-W45"))
        self.assertContains(page, "Week 2026-W45")
        self.assertContains(page, 'href="?week=2026-W44" rel="prev"')
        self.assertContains(page, 'href="?week=2026-W46" rel="next"')
        self.assertContains(page, "The twelve weekly metrics")
        last = self.client.get(self.url("finops-founder-table", "period=default"))  # W45 would follow otherwise
        self.assertContains(last, f'href="?week={week_label(this_monday())}" rel="next"')  # on to this week so far

    def test_the_founder_table_of_a_month_leaves_the_weekly_parts_out(self):
        self.client.force_login(self.alice)
        page = self.client.get(self.url("finops-founder-table", "month=2026-10"))
        self.assertContains(page, "October 2026")
        self.assertContains(page, "No costs in this month yet")
        self.assertContains(page, "pick one week to see them")
        self.assertContains(page, 'href="?month=2026-09" rel="prev"')
        self.assertEqual(page.content.decode().count('<tr id="row-'), 10)

    def test_links_keep_the_pages_other_parameters(self):
        self.client.force_login(self.alice)
        page = self.client.get(self.url("finops-customers", "week=2026-W45&sort=cost"))
        self.assertContains(page, 'href="?sort=cost&amp;week=2026-W44" rel="prev"')
        self.assertContains(page, '<input type="hidden" name="sort" value="cost">')

    def test_the_prices_page_counts_the_periods_unpriced_calls(self):
        monday = this_monday() - timedelta(days=7)
        usage_event(self.org, "last-week", model="mystery-1", at=datetime.combine(monday, datetime.min.time(), UTC))
        usage_event(self.org, "long-ago", model="mystery-2", at=datetime(2026, 3, 2, 9, tzinfo=UTC))
        self.client.force_login(self.alice)
        page = self.client.get(self.url("pricing-prices"))
        self.assertContains(page, "1 call is unpriced")
        self.assertContains(page, "mystery-1")
        self.assertNotContains(page, "mystery-2")
        page = self.client.get(self.url("pricing-prices", "month=2026-03"))
        self.assertContains(page, "mystery-2")
        self.assertNotContains(page, "mystery-1")

    def test_the_default_follows_the_orgs_time_zone(self):
        org_update(org=self.org, name=self.org.name, currency="USD", timezone_name="Asia/Tokyo")
        self.client.force_login(self.alice)
        with mock.patch("django.utils.timezone.now", return_value=SUNDAY_UTC):
            page = self.client.get(self.url("finops-costs"))
        self.assertEqual(page.context["period"].label, "2026-W48")


class DigestPeriodTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.tokyo = org_create(name="Tokyo KK", owner=cls.charlie, timezone_name="Asia/Tokyo")
        cls.la = org_create(name="LA Inc", owner=cls.charlie, timezone_name="America/Los_Angeles")

    def test_the_week_is_the_last_complete_one_in_the_orgs_time_zone(self):
        monday_tokyo = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 10:00 in Tokyo, Sunday 17:00 in LA
        self.assertEqual(digest_week(org=self.tokyo, now=monday_tokyo), date(2026, 11, 23))
        self.assertEqual(digest_week(org=self.la, now=monday_tokyo), date(2026, 11, 16))
        self.assertEqual(digest_week(org=self.org, now=monday_tokyo), date(2026, 11, 23))
        self.assertEqual(digest_week(org=self.la, week="2026-W45", now=monday_tokyo), date(2026, 11, 2))

    def test_a_week_not_ended_in_utc_waits(self):
        with self.assertRaisesMessage(PeriodError, "Week 2026-W48 has not ended yet (Asia/Tokyo and UTC)"):
            digest_week(org=self.tokyo, now=SUNDAY_UTC)  # Monday 02:00 in Tokyo: UTC's Sunday is not over
        with self.assertRaisesMessage(PeriodError, "YYYY-Www"):
            digest_week(org=self.tokyo, week="2026-48", now=SUNDAY_UTC)

    def test_send_digests_reports_each_orgs_last_week(self):
        out = StringIO()
        with mock.patch("django.utils.timezone.now", return_value=SUNDAY_UTC):
            call_command("send_digests", stdout=out)
        self.assertIn("Tokyo KK", out.getvalue())
        self.assertIn("skipped. Week 2026-W48 has not ended yet", out.getvalue())
        weeks = dict(Digest.objects.values_list("org__name", "week").distinct())
        self.assertEqual(weeks, {"Alice AI": date(2026, 11, 16), "Charlie Labs": date(2026, 11, 16),
                                 "LA Inc": date(2026, 11, 16)})  # fmt: skip
        with mock.patch("django.utils.timezone.now", return_value=SUNDAY_UTC + timedelta(hours=8)):
            call_command("send_digests", "--org", str(self.tokyo.code), stdout=out)
        self.assertEqual(Digest.objects.get(org=self.tokyo).week, date(2026, 11, 23))
        self.assertIn("Tokyo KK, week 2026-W48", mail.outbox[-1].subject)

    def test_the_task_reads_its_week_through_the_resolver(self):
        self.assertEqual(send_digest_org.delay(self.tokyo.pk, "2026-W45").get(), 1)
        self.assertEqual(Digest.objects.get(org=self.tokyo).week, date(2026, 11, 2))


# Years outside the window, and values whose arithmetic leaves the calendar (a week of 9999 has no end): each is a
# PeriodError, never a 500 (issue 16).
OUT_OF_RANGE = [
    "week=9999-W52",
    "month=9999-12",
    "month=0001-01",
    "week=0001-W01",
    "start=9999-12-31",
    "start=9999-12-01&end=9999-12-31",
    "start=0001-01-01",
    "start=0001-01-01&end=0001-01-08",
    "start=2000-01-01&end=9999-12-31",
]
DATE_PAGES = [  # every organisation page without a code in its URL; those with a period answer 400
    "finops-founder-table", "finops-thresholds", "finops-rules", "finops-decisions", "finops-commitments",
    "finops-budgets", "finops-costs", "finops-explore", "finops-customers", "finops-usage", "finops-plans",
    "finops-pricing-check",
    "finops-build-vs-rent", "finops-gpus", "finops-gpu-resources", "finops-onboarding", "ingest-sources",
    "ingest-reconciliation", "pricing-prices",
]  # fmt: skip
PERIOD_PAGES = {*PAGES, "finops-gpus"}


def period_api_reads(client) -> list[str]:
    """Every GET of the API schema that documents the period parameters."""
    schema = client.get("/api/schema/", {"format": "json"}).json()
    return sorted(path for path, operations in schema["paths"].items()
                  if "week" in {p["name"] for p in operations.get("get", {}).get("parameters", [])})  # fmt: skip


class OutOfRangePeriodTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def test_every_api_read_answers_400_for_a_period_outside_the_window(self):
        urls = period_api_reads(self.client)
        self.assertGreaterEqual(len(urls), 10)
        for url in [*urls, "/api/v1/budgets/", "/api/v1/budget-check/?estimate=1"]:
            for query in OUT_OF_RANGE:
                with self.subTest(url=url, query=query):
                    response = self.api_get(f"{url}{'&' if '?' in url else '?'}{query}")
                    self.assertLess(response.status_code, 500, response.content[:300])
                    if url in urls:
                        self.assertEqual(response.status_code, 400)
                        self.assertEqual(list(response.json()), ["period"])

    def test_every_page_shows_the_default_period_with_the_reason(self):
        self.client.force_login(self.alice)
        for name in DATE_PAGES:
            for query in OUT_OF_RANGE:
                with self.subTest(page=name, query=query):
                    page = self.client.get(reverse(name, kwargs={"org_code": self.org.code}) + f"?{query}")
                    self.assertLess(page.status_code, 500)
                    if name in PERIOD_PAGES:
                        self.assertContains(page, 'id="period-error"', status_code=400)
                        start, _ = last_week()
                        self.assertEqual(page.context["period"].start.isoformat(), start)
