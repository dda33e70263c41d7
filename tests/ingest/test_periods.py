"""The one period resolver: every form, the default in the organisation's time zone, partial, each refusal."""

from datetime import UTC, date, datetime

from django.http import QueryDict
from django.test import SimpleTestCase

from ingest.periods import (
    EARLIEST_START,
    Period,
    PeriodError,
    period_for_page,
    period_progress,
    period_resolve,
    period_title,
)

FRIDAY = date(2026, 12, 4)  # week 2026-W49; the last complete week is 2026-W48, 23 to 29 November


def resolve(query: str = "", today: date = FRIDAY, **kwargs) -> Period:
    return period_resolve(QueryDict(query), today=today, **kwargs)


class DefaultPeriodTests(SimpleTestCase):
    def test_it_is_the_last_complete_iso_week(self):
        period = resolve()
        self.assertEqual((period.start, period.end, period.kind), (date(2026, 11, 23), date(2026, 11, 30), "week"))
        self.assertEqual((period.label, period.partial, period.last_day), ("2026-W48", False, date(2026, 11, 29)))

    def test_on_a_monday_it_is_the_week_that_just_ended(self):
        self.assertEqual(resolve(today=date(2026, 11, 30)).label, "2026-W48")
        self.assertEqual(resolve(today=date(2026, 11, 29)).label, "2026-W47")  # Sunday: W48 is still running

    def test_it_follows_the_orgs_time_zone_around_the_week_boundary(self):
        sunday_utc = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)  # Monday 02:00 in Tokyo, Sunday 09:00 in Los Angeles
        self.assertEqual(period_resolve({}, tz="Asia/Tokyo", now=sunday_utc).label, "2026-W48")
        self.assertEqual(period_resolve({}, tz="UTC", now=sunday_utc).label, "2026-W47")
        monday_utc = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # still Sunday 20:00 in Los Angeles
        self.assertEqual(period_resolve({}, tz="America/Los_Angeles", now=monday_utc).label, "2026-W47")
        self.assertEqual(period_resolve({}, tz="UTC", now=monday_utc).label, "2026-W48")

    def test_an_unknown_time_zone_is_utc(self):
        sunday_utc = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
        self.assertEqual(period_resolve({}, tz="Mars/Olympus", now=sunday_utc).label, "2026-W47")

    def test_empty_parameters_are_absent(self):
        self.assertEqual(resolve("week=&month=&start=&end="), resolve())


class FormTests(SimpleTestCase):
    def test_a_week(self):
        period = resolve("week=2026-W45")
        self.assertEqual((period.start, period.end, period.kind, period.label),
                         (date(2026, 11, 2), date(2026, 11, 9), "week", "2026-W45"))  # fmt: skip
        self.assertEqual(resolve("week=2026-w45"), period)
        self.assertEqual(resolve("week=2026-W53").start, date(2026, 12, 28))  # 2026 has 53 ISO weeks
        self.assertEqual(resolve("week=2021-W01").start, date(2021, 1, 4))

    def test_a_month(self):
        period = resolve("month=2026-02")
        self.assertEqual((period.start, period.end, period.kind, period.label),
                         (date(2026, 2, 1), date(2026, 3, 1), "month", "2026-02"))  # fmt: skip
        self.assertEqual(resolve("month=2026-12").end, date(2027, 1, 1))

    def test_a_range(self):
        period = resolve("start=2026-11-02&end=2026-11-30")
        self.assertEqual((period.start, period.end, period.kind), (date(2026, 11, 2), date(2026, 11, 30), "range"))
        self.assertEqual(period.label, "2026-11-02 – 2026-11-29")
        self.assertEqual(period.days, 28)

    def test_a_range_of_one_week_or_one_month_is_that_week_or_month(self):
        self.assertEqual(resolve("start=2026-11-02&end=2026-11-09"), resolve("week=2026-W45"))
        self.assertEqual(resolve("start=2026-10-01&end=2026-11-01"), resolve("month=2026-10"))

    def test_start_alone_runs_through_today(self):
        period = resolve("start=2026-11-15")
        self.assertEqual((period.start, period.end, period.partial), (date(2026, 11, 15), date(2026, 12, 5), True))

    def test_its_utc_bounds(self):
        self.assertEqual(resolve("week=2026-W45").bounds(),
                         (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)))  # fmt: skip

    def test_it_asks_for_itself_again(self):
        for query in ("week=2026-W45", "month=2026-10", "start=2026-11-02&end=2026-11-30"):
            with self.subTest(query=query):
                period = resolve(query)
                self.assertEqual(resolve("&".join(f"{k}={v}" for k, v in period.query().items())), period)


class PartialTests(SimpleTestCase):
    def test_a_period_including_today_is_partial(self):
        self.assertTrue(resolve("week=2026-W49").partial)
        self.assertTrue(resolve("month=2026-12").partial)
        self.assertTrue(resolve("start=2026-12-04&end=2026-12-05").partial)
        self.assertTrue(resolve("week=2026-W51").partial)  # not started yet

    def test_a_period_ending_yesterday_is_not(self):
        self.assertFalse(resolve("start=2026-11-01&end=2026-12-04").partial)
        self.assertFalse(resolve("month=2026-11").partial)

    def test_the_page_says_how_far_it_is(self):
        self.assertEqual(period_progress(resolve("week=2026-W49")), "this week so far")
        self.assertEqual(period_progress(resolve("month=2026-12")), "this month so far")
        self.assertEqual(period_progress(resolve("start=2026-11-15")), "so far")
        self.assertEqual(period_progress(resolve("week=2026-W51")), "not started yet")
        self.assertEqual(period_progress(resolve()), "")

    def test_the_page_names_it(self):
        self.assertEqual(period_title(resolve()), "Week 2026-W48")
        self.assertEqual(period_title(resolve("month=2026-11")), "November 2026")
        self.assertEqual(period_title(resolve("start=2026-11-02&end=2026-11-30")), "2 Nov – 29 Nov 2026")
        self.assertEqual(period_title(resolve("start=2025-12-29&end=2026-01-13")), "29 Dec 2025 – 12 Jan 2026")


class NavigationTests(SimpleTestCase):
    def test_previous_is_the_same_length_before(self):
        self.assertEqual(resolve("week=2026-W45").previous(), resolve("week=2026-W44"))
        self.assertEqual(resolve("month=2026-03").previous(), resolve("month=2026-02"))
        self.assertEqual(resolve("month=2026-01").previous(), resolve("month=2025-12"))
        self.assertEqual(resolve("start=2026-11-10&end=2026-11-13").previous(),
                         resolve("start=2026-11-07&end=2026-11-10"))  # fmt: skip

    def test_next_stops_at_the_running_period(self):
        self.assertEqual(resolve().next(), resolve("week=2026-W49"))  # last week's next is this week, so far
        self.assertIsNone(resolve("week=2026-W49").next())
        self.assertEqual(resolve("month=2026-10").next(), resolve("month=2026-11"))
        self.assertIsNone(resolve("month=2026-12").next())


class RefusalTests(SimpleTestCase):
    def refused(self, query, message, today=FRIDAY):
        with self.assertRaisesMessage(PeriodError, message):
            resolve(query, today=today)

    def test_mixed_forms(self):
        self.refused("week=2026-W45&month=2026-11", "Give one period: week or month, not both.")
        self.refused("week=2026-W45&start=2026-11-02", "Give one period: week or start and end, not both.")
        self.refused("month=2026-11&end=2026-11-09", "Give one period: month or start and end, not both.")

    def test_malformed_values(self):
        self.refused("start=yesterday&end=2026-11-09", "start must be a date like 2026-11-02, not “yesterday”.")
        self.refused("start=2026-11-02&end=2026-11-9", "end must be a date like 2026-11-02")
        self.refused("start=2026-02-30&end=2026-03-09", "start must be a date like 2026-11-02")
        self.refused("week=45", "Give the week as YYYY-Www, e.g. 2026-W45, not “45”.")
        self.refused("week=2025-W53", "Give the week as YYYY-Www")  # 2025 has 52 ISO weeks
        self.refused("week=2026-45", "Give the week as YYYY-Www")
        self.refused("month=2026-13", "Give the month as YYYY-MM, e.g. 2026-11, not “2026-13”.")
        self.refused("month=2026-1", "Give the month as YYYY-MM")

    def test_end_not_after_start(self):
        self.refused("start=2026-11-09&end=2026-11-02", "end must be after start")
        self.refused("start=2026-11-09&end=2026-11-09", "end must be after start")

    def test_end_without_start_and_start_in_the_future(self):
        self.refused("end=2026-11-09", "end needs a start")
        self.refused("start=2026-12-10", "start 2026-12-10 is after today: give an end as well.")

    def test_at_most_ten_years(self):
        self.assertEqual(resolve("start=2010-01-01&end=2020-01-01").days, 3652)
        self.refused("start=2010-01-01&end=2020-01-02", "A period may span at most 10 years.")
        self.refused("start=2012-02-29", "A period may span at most 10 years.")

    def test_inside_the_accepted_window(self):
        self.assertEqual(resolve(f"start={EARLIEST_START}&end=2000-02-01").start, date(2000, 1, 1))
        self.refused("start=1999-12-31&end=2000-02-01", "Periods start on 2000-01-01 or later.")
        self.refused("week=1999-W52", "Periods start on 2000-01-01 or later.")
        self.assertEqual(resolve("month=2027-11").end, date(2027, 12, 1))
        self.refused("month=2027-12", "A period may end at most a year after today (on 2027-12-05 at the latest)")
        self.refused("start=2026-01-01&end=2030-01-01", "at most a year after today")


class PageTests(SimpleTestCase):
    def test_a_refused_period_gives_the_default_and_the_reason(self):
        sunday_utc = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
        period, error = period_for_page(QueryDict("week=soon"), tz="Asia/Tokyo", now=sunday_utc)
        self.assertEqual((period.label, error), ("2026-W48", "Give the week as YYYY-Www, e.g. 2026-W45, not “soon”."))
        period, error = period_for_page(QueryDict("month=2026-10"), tz="Asia/Tokyo", now=sunday_utc)
        self.assertEqual((period.label, error), ("2026-10", None))
