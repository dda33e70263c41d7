"""The one period resolver: every read endpoint, page and the digest ask it which days to show (INTERFACES.md,
Periods).

A period is half-open, `[start, end)`, in whole days; its days are UTC days (`as_utc_bounds`), like every
rollup. Which week is "the last complete one", and whether a period is still running (`partial`), is decided
by the calendar of the organisation's time zone.

The forms a request may use, one at a time:

- `?week=YYYY-Www`: one ISO week, Monday to Sunday;
- `?month=YYYY-MM`: one calendar month;
- `?start=YYYY-MM-DD&end=YYYY-MM-DD`: any days, `end` excluded; `start` alone runs through today (so
  `?start=2026-11-01` is "since 1 November"); `end` alone is refused (from when?). A range that is exactly one
  ISO week or one calendar month is that week or month;
- none: the last complete ISO week in the organisation's time zone.
"""

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

# The accepted time window; another change will make these configurable.
EARLIEST_START = date(2000, 1, 1)
LATEST_END_AHEAD = timedelta(days=366)  # how far after today a period may end
MAX_YEARS = 10

PERIOD_PARAMETER_NAMES = ("start", "end", "week", "month")

WEEK = timedelta(days=7)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-[Ww](\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period that cannot be read or is outside what is accepted; the message is shown to the user."""


def as_utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Midnight UTC at both ends."""
    return datetime(start.year, start.month, start.day, tzinfo=UTC), datetime(end.year, end.month, end.day, tzinfo=UTC)


def week_label(day: date) -> str:
    """'2026-W45' for a day of that ISO week: what `?week=` reads."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def local_today(tz: str | None, now: datetime | None = None) -> date:
    """Today's date in the time zone `tz` (a zoneinfo name; an unknown or empty one is UTC)."""
    now = now or timezone.now()
    try:
        zone = zoneinfo.ZoneInfo(tz) if tz else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return now.astimezone(zone).date()


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28) + timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """Days `[start, end)`: `kind` is "week", "month" or "range"; `partial` when it includes `today` or later
    (`today` is the organisation's date when the period was resolved)."""

    start: date
    end: date
    kind: str
    today: date = field(compare=False, repr=False)

    @property
    def partial(self) -> bool:
        return self.end > self.today

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def label(self) -> str:
        """'2026-W48', '2026-11', or the first and last day joined by an en dash."""
        if self.kind == "week":
            return week_label(self.start)
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        return f"{self.start.isoformat()} – {self.last_day.isoformat()}"

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC moments, for reads of timestamped rows."""
        return as_utc_bounds(self.start, self.end)

    def query(self) -> dict:
        """The query parameters that ask for this period again."""
        if self.kind == "week":
            return {"week": self.label}
        if self.kind == "month":
            return {"month": self.label}
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    def as_dict(self) -> dict:
        """What every response states about its period."""
        return {"start": self.start, "end": self.end, "partial": self.partial}

    def headers(self) -> dict:
        """The same, as response headers (for endpoints whose body is a bare list)."""
        return {"X-Period-Start": self.start.isoformat(), "X-Period-End": self.end.isoformat(),
                "X-Period-Partial": "true" if self.partial else "false"}  # fmt: skip

    def previous(self) -> "Period":
        """The week or month before, or the range of the same length ending where this one starts."""
        if self.kind == "week":
            return period_for_days(self.start - WEEK, self.start, today=self.today)
        if self.kind == "month":
            first = (self.start - timedelta(days=1)).replace(day=1)
            return period_for_days(first, self.start, today=self.today)
        return period_for_days(self.start - (self.end - self.start), self.start, today=self.today)

    def next(self) -> "Period | None":
        """The week, month or same-length range after this one; None when it would start after today."""
        if self.end > self.today:
            return None
        if self.kind == "week":
            return period_for_days(self.end, self.end + WEEK, today=self.today)
        if self.kind == "month":
            return period_for_days(self.end, _month_after(self.end), today=self.today)
        return period_for_days(self.end, self.end + (self.end - self.start), today=self.today)


def period_for_days(start: date, end: date, *, today: date) -> Period:
    """The period [start, end), named a week or a month when it is exactly one (no checks)."""
    if start.weekday() == 0 and end - start == WEEK:
        kind = "week"
    elif start.day == 1 and end == _month_after(start):
        kind = "month"
    else:
        kind = "range"
    return Period(start=start, end=end, kind=kind, today=today)


def month_period(today: date) -> Period:
    """The calendar month of `today`, so far."""
    first = today.replace(day=1)
    return Period(start=first, end=_month_after(first), kind="month", today=today)


def default_period(*, today: date) -> Period:
    """The last complete ISO week on `today`'s calendar."""
    monday = today - timedelta(days=today.weekday())
    return Period(start=monday - WEEK, end=monday, kind="week", today=today)


def _date(name: str, text: str) -> date:
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise PeriodError(f"{name} must be a date like 2026-11-02, not “{text}”.") from exc


def _week(text: str) -> date:
    match = _WEEK.match(text)
    try:
        if not match:
            raise ValueError(text)
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        raise PeriodError(f"Give the week as YYYY-Www, e.g. 2026-W45, not “{text}”.") from exc


def _month(text: str) -> date:
    match = _MONTH.match(text)
    try:
        if not match:
            raise ValueError(text)
        return date(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        raise PeriodError(f"Give the month as YYYY-MM, e.g. 2026-11, not “{text}”.") from exc


def _in_window(day: date, *, today: date) -> date:
    """`day` when it lies in the accepted time window, checked before any arithmetic on it (a week of 9999 has no
    end), else PeriodError."""
    if day < EARLIEST_START:
        raise PeriodError(f"Periods start on {EARLIEST_START.isoformat()} or later.")
    latest = today + LATEST_END_AHEAD
    if day > latest:
        raise PeriodError(f"A period may end at most a year after today (on {latest.isoformat()} at the latest).")
    return day


def period_check(start: date, end: date, *, today: date) -> None:
    """Raise PeriodError unless [start, end) is a period we accept: end after start, at most ten years, inside
    the accepted time window."""
    if end <= start:
        raise PeriodError(f"end must be after start: the period is [start, end), so end is the day after the "
                          f"last day (start {start.isoformat()}, end {end.isoformat()}).")  # fmt: skip
    if end > _years_after(start, MAX_YEARS):
        raise PeriodError(f"A period may span at most {MAX_YEARS} years.")
    if start < EARLIEST_START:
        raise PeriodError(f"Periods start on {EARLIEST_START.isoformat()} or later.")
    latest = today + LATEST_END_AHEAD
    if end > latest:
        raise PeriodError(f"A period may end at most a year after today (on {latest.isoformat()} at the latest).")


def period_resolve(params, *, tz: str | None = "UTC", now: datetime | None = None, today: date | None = None) -> Period:
    """The period `params` (a QueryDict or a dict) asks for, in the time zone `tz` (the organisation's): `week`,
    `month`, or `start` and `end`; the last complete ISO week when none is given. `today` (else the date in `tz`
    at `now`, else now) decides the default and whether the period is partial. Raises PeriodError with a message
    for the user when the period is malformed, mixes forms or is out of range."""
    today = today or local_today(tz, now)
    given = {name: (params.get(name) or "").strip() for name in PERIOD_PARAMETER_NAMES}
    forms = [name for name in ("week", "month") if given[name]] + (["start and end"] if given["start"] or given["end"]
                                                                     else [])  # fmt: skip
    if len(forms) > 1:
        raise PeriodError(f"Give one period: {' or '.join(forms)}, not both.")
    if not forms:
        return default_period(today=today)
    if given["week"]:
        start = _in_window(_week(given["week"]), today=today)
        period = Period(start=start, end=start + WEEK, kind="week", today=today)
    elif given["month"]:
        start = _in_window(_month(given["month"]), today=today)
        period = Period(start=start, end=_month_after(start), kind="month", today=today)
    else:
        if not given["start"]:
            raise PeriodError("end needs a start: give start and end, or start alone for “since start”.")
        start = _date("start", given["start"])
        if given["end"]:
            end = _in_window(_date("end", given["end"]), today=today)
            _in_window(start, today=today)
        elif start > today:
            raise PeriodError(f"start {start.isoformat()} is after today: give an end as well.")
        else:
            end = today + timedelta(days=1)  # start alone: through today
            _in_window(start, today=today)
        period = period_for_days(start, end, today=today)
    period_check(period.start, period.end, today=today)
    return period


# Where a page keeps the period last chosen, so that it follows the user from page to page; `?period=default`
# forgets it. The API never reads it: its default stays the last complete week.
SESSION_KEY = "period"
CLEAR_PARAMETER = "period"
PAGE_PARAMETER_NAMES = (*PERIOD_PARAMETER_NAMES, CLEAR_PARAMETER)


def period_for_page(request, *, tz: str | None, now: datetime | None = None) -> tuple[Period, str | None]:
    """The period a page shows: the one the query asks for, or the default one and the message saying why the
    asked one was refused (the page then answers 400). Given the request (not only its query), the chosen period
    follows the user: a valid asked period is kept in the session, a page asked for none shows the kept one, and
    `?period=default` forgets it."""
    session = getattr(request, "session", None)
    params = request.GET if session is not None else request
    today = local_today(tz, now)
    asked = any((params.get(name) or "").strip() for name in PERIOD_PARAMETER_NAMES)
    if session is not None and not asked:
        if params.get(CLEAR_PARAMETER) == "default":
            session.pop(SESSION_KEY, None)
        elif session.get(SESSION_KEY):
            try:
                return period_resolve(session[SESSION_KEY], tz=tz, today=today), None
            except PeriodError:  # kept before the window moved: forget it quietly
                session.pop(SESSION_KEY, None)
    try:
        period = period_resolve(params, tz=tz, today=today)
    except PeriodError as exc:
        return default_period(today=today), str(exc)
    if session is not None and asked and session.get(SESSION_KEY) != period.query():
        session[SESSION_KEY] = period.query()
    return period, None


def period_presets(today: date) -> list[tuple[str, Period]]:
    """The shortcuts every period control offers, on `today`'s calendar (the organisation's): last week, this
    week so far, the last four complete weeks, last month, and this month so far."""
    last_week = default_period(today=today)
    this_month = month_period(today)
    return [
        ("Last week", last_week),
        ("This week so far", Period(start=last_week.end, end=last_week.end + WEEK, kind="week", today=today)),
        ("Last 4 weeks", period_for_days(last_week.end - 4 * WEEK, last_week.end, today=today)),
        ("Last month", this_month.previous()),
        ("Month to date", this_month),
    ]


def period_title(period: Period) -> str:
    """How a page names its period: 'Week 2026-W48', 'November 2026', or its first and last day."""
    if period.kind == "week":
        return f"Week {period.label}"
    if period.kind == "month":
        return f"{period.start:%B %Y}"
    first = f"{period.start.day} {period.start:%b}" + ("" if period.start.year == period.last_day.year
                                                        else f" {period.start.year}")  # fmt: skip
    return f"{first} – {period.last_day.day} {period.last_day:%b %Y}"


def period_progress(period: Period) -> str:
    """'' for a period that has ended; else 'this week so far', 'this month so far', 'so far' or 'not started'."""
    if not period.partial:
        return ""
    if period.start > period.today:
        return "not started yet"
    return {"week": "this week so far", "month": "this month so far"}.get(period.kind, "so far")
