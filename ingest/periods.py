"""Half-open [start, end) periods from query parameters, in UTC (INTERFACES.md)."""

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone


class PeriodError(ValueError):
    pass


def parse_period(start_text: str | None, end_text: str | None) -> tuple[date, date]:
    """The [start, end) dates asked for; the current calendar month when neither is given."""
    today = timezone.now().date()
    try:
        start = date.fromisoformat(start_text) if start_text else today.replace(day=1)
        month_after = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = date.fromisoformat(end_text) if end_text else month_after
    except ValueError as exc:
        raise PeriodError("start and end must be dates like 2026-11-02") from exc
    if end <= start:
        raise PeriodError("end must be after start (the period is [start, end))")
    if (end - start).days > 3660:
        raise PeriodError("the period may span at most ten years")
    return start, end


def as_utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Midnight UTC at both ends."""
    return datetime(start.year, start.month, start.day, tzinfo=UTC), datetime(end.year, end.month, end.day, tzinfo=UTC)


def parse_month(text: str | None) -> tuple[date, date]:
    """[first day, first day of next month) for 'YYYY-MM'; the current month when absent."""
    try:
        start = date.fromisoformat(f"{text}-01") if text else timezone.now().date().replace(day=1)
    except ValueError as exc:
        raise PeriodError("month must look like 2026-11") from exc
    return start, (start + timedelta(days=32)).replace(day=1)


def week_label(monday: date) -> str:
    """'2026-W45' for a day of that ISO week: what `parse_week` reads."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str | None) -> date:
    """The Monday of an ISO week 'YYYY-Www'; this week's Monday when absent."""
    if not text:
        today = date.today()
        return today - timedelta(days=today.weekday())
    try:
        year, week = text.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError as exc:
        raise PeriodError("Give the week as YYYY-Www, e.g. 2026-W45.") from exc
