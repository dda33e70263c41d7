"""One period control on every page that shows money (issue 18): the presets, each a link the one resolver reads
back to the expected days in the organisation's time zone; the chosen period follows the user from page to page
(pages only: the API's default stays the last complete week) and names the page; a period still running is marked
partial; and one link forgets the choice."""

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from unittest import mock

from django.http import QueryDict
from django.urls import reverse

from accounts.services import org_update
from finops.models import CustomerRollup
from ingest.periods import local_today, period_resolve, week_label
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin
from tests.test_periods_everywhere import PAGE_KWARGS, PERIOD_PAGES

MONEY_PAGES = sorted(PERIOD_PAGES)
PRESET = re.compile(r'<a class="preset[^"]*" href="([^"]+)" id="preset-([a-z0-9-]+)"')
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
# Sunday 17:00 in UTC is Monday 1 December 02:00 in Tokyo: a new week and a new month there, not yet in UTC.
SUNDAY_UTC = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def expected_presets(today: date) -> dict[str, tuple[date, date]]:
    """[start, end) of each preset, worked out on `today`'s calendar without the resolver."""
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)
    last_first = (first - timedelta(days=1)).replace(day=1)
    return {
        "last-week": (monday - timedelta(days=7), monday),
        "this-week-so-far": (monday, monday + timedelta(days=7)),
        "last-4-weeks": (monday - timedelta(days=28), monday),
        "last-month": (last_first, first),
        "month-to-date": (first, next_first),
    }


class PeriodControlTests(ApiClientMixin, BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        CustomerRollup.objects.create(org=cls.org, day=date(2026, 11, 2), kind="allocated", currency="USD",
                                      cost_amount=1, customer="acme")  # fmt: skip

    def setUp(self):
        self.client.force_login(self.alice)

    def url(self, name, query=""):
        kwargs = {"org_code": self.org.code, **PAGE_KWARGS.get(name, {})}
        return reverse(name, kwargs=kwargs) + (f"?{query}" if query else "")

    def presets(self, page) -> dict[str, tuple[date, date]]:
        """{preset id: [start, end)} as the resolver reads each preset link of the page."""
        found = {}
        for href, name in PRESET.findall(page.content.decode()):
            period = period_resolve(QueryDict(unescape(href).lstrip("?")), tz=self.org.timezone)
            found[name] = (period.start, period.end)
        return found

    def test_it_shows_the_presets_on_every_money_page(self):
        expected = expected_presets(local_today(self.org.timezone))
        for name in MONEY_PAGES:
            with self.subTest(page=name):
                page = self.client.get(self.url(name, "period=default"))
                self.assertEqual(page.status_code, 200)
                self.assertContains(page, 'id="period-presets"')
                self.assertContains(page, 'id="period-range"')  # custom start and end
                self.assertEqual(self.presets(page), expected)
                self.assertContains(page, 'class="preset current" href=', count=1)  # the default is last week

    def test_it_computes_the_presets_in_the_orgs_time_zone(self):
        org_update(org=self.org, name=self.org.name, currency="USD", timezone_name="Asia/Tokyo")
        with mock.patch("django.utils.timezone.now", return_value=SUNDAY_UTC):
            page = self.client.get(self.url("finops-costs"))
            presets = self.presets(page)
        self.assertEqual(presets["last-week"], (date(2026, 11, 23), date(2026, 11, 30)))
        self.assertEqual(presets["this-week-so-far"], (date(2026, 11, 30), date(2026, 12, 7)))
        self.assertEqual(presets["last-4-weeks"], (date(2026, 11, 2), date(2026, 11, 30)))
        self.assertEqual(presets["last-month"], (date(2026, 11, 1), date(2026, 12, 1)))
        self.assertEqual(presets["month-to-date"], (date(2026, 12, 1), date(2027, 1, 1)))

    def test_the_period_chosen_on_one_page_follows_to_the_others(self):
        chosen = self.client.get(self.url("finops-founder-table", "start=2026-11-02&end=2026-11-30"))
        self.assertEqual(chosen.status_code, 200)
        for name in MONEY_PAGES:
            with self.subTest(page=name):
                page = self.client.get(self.url(name))
                period = page.context["period"]
                self.assertEqual((period.start, period.end), (date(2026, 11, 2), date(2026, 11, 30)))
                self.assertContains(page, 'data-start="2026-11-02" data-end="2026-11-30"')
                self.assertContains(page, 'class="preset current" href="?start=2026-11-02&amp;end=2026-11-30"')
                self.assertContains(page, 'id="period-clear"')

    def test_the_page_title_names_the_period(self):
        page = self.client.get(self.url("finops-costs", "month=2026-10"))
        self.assertEqual(TITLE.search(page.content.decode())[1], "Costs · October 2026 · GPU FinOps")
        self.assertContains(page, "<strong>October 2026</strong>")  # beside the h1, in the period bar
        page = self.client.get(self.url("finops-customers"))  # carried
        self.assertEqual(TITLE.search(page.content.decode())[1], "Customers · October 2026 · GPU FinOps")
        budgets = self.client.get(self.url("finops-budgets"))  # no period of the resolver's: no period in the title
        self.assertNotIn("October", TITLE.search(budgets.content.decode())[1])

    def test_this_week_is_marked_partial(self):
        this_week = week_label(local_today(self.org.timezone))
        for name in MONEY_PAGES:
            with self.subTest(page=name):
                page = self.client.get(self.url(name, f"week={this_week}"))
                self.assertContains(page, 'id="period-partial"')
                self.assertContains(page, "partial: this week so far")
        last_week = self.client.get(self.url("finops-costs", "period=default"))
        self.assertNotContains(last_week, 'id="period-partial"')

    def test_clearing_goes_back_to_the_default(self):
        default = expected_presets(local_today(self.org.timezone))["last-week"]
        self.client.get(self.url("finops-costs", "month=2026-10"))
        cleared = self.client.get(self.url("finops-plans", "period=default"))
        self.assertEqual((cleared.context["period"].start, cleared.context["period"].end), default)
        self.assertNotContains(cleared, 'id="period-clear"')  # nothing chosen any more
        later = self.client.get(self.url("finops-costs"))
        self.assertEqual((later.context["period"].start, later.context["period"].end), default)

    def test_the_clear_link_keeps_the_pages_other_parameters(self):
        page = self.client.get(self.url("finops-customers", "week=2026-W45&sort=cost"))
        self.assertContains(page, 'href="?sort=cost&amp;period=default" id="period-clear"')
        self.assertContains(page, 'href="?sort=cost&amp;week=2026-W44" rel="prev"')

    def test_a_refused_period_is_not_kept(self):
        self.client.get(self.url("finops-costs", "month=2026-10"))
        refused = self.client.get(self.url("finops-costs", "week=soon"))
        self.assertEqual(refused.status_code, 400)
        page = self.client.get(self.url("finops-costs"))
        self.assertEqual(page.context["period"].label, "2026-10")

    def test_the_apis_default_stays_the_last_complete_week(self):
        self.make_keys()
        self.client.get(self.url("finops-founder-table", "month=2026-10"))
        start, end = expected_presets(local_today(self.org.timezone))["last-week"]
        body = self.api_get("/api/v1/founder-table/").json()
        self.assertEqual((body["start"], body["end"]), (start.isoformat(), end.isoformat()))

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        for name in MONEY_PAGES:
            with self.subTest(page=name):
                self.assertEqual(self.client.get(self.url(name, "month=2026-10")).status_code, 404)
