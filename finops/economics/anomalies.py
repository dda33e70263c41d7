"""Anomalies against each series' own recent baseline, and the month-end forecast from the run rate.

Method (documented in docs/architecture.md): for a daily series, the baseline is the 28 days before the
week; the week's daily mean is an anomaly when it is above the baseline's median by more than three robust
standard deviations (1.4826 x the median absolute deviation), by at least half the median, and by at least
a floor in absolute terms (so pennies never alarm). Ratios (tokens per request, retry rate) and the model
mix are compared week against the mean of the four weeks before, with fixed relative / share jumps.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import median

from finops.money import format_money

ZERO = Decimal(0)
MAD_SCALE = Decimal("1.4826")
BASELINE_DAYS = 28


@dataclass(frozen=True)
class Anomaly:
    kind: str  # spend_spike, tokens_per_request_jump, retry_rate_jump, model_mix_shift, idle_hours_jump
    subject: str  # the customer, feature, model or host the series is about ("" for org-wide)
    value: Decimal
    baseline: Decimal
    reason: str


def _daily_values(points: dict, start: date, days: int) -> list[Decimal]:
    return [points.get(start + timedelta(days=i), ZERO) for i in range(days)]


MIN_KNOWN_DAYS = 7  # a series measured on fewer baseline days has no baseline to judge against


def spike(
    points: dict, week_start: date, *, floor: Decimal, measured_only: bool = False
) -> tuple[Decimal, Decimal] | None:
    """(week's daily mean, baseline median) when the week spikes above its own baseline, else None. With
    `measured_only`, a day missing from `points` is unknown, not zero (no agent reported): the baseline and the week
    are the days measured, and a baseline of fewer than MIN_KNOWN_DAYS days judges nothing."""
    if measured_only:
        baseline = [v for d, v in points.items() if week_start - timedelta(days=BASELINE_DAYS) <= d < week_start]
        week = [v for d, v in points.items() if week_start <= d < week_start + timedelta(days=7)]
        if len(baseline) < MIN_KNOWN_DAYS or not week:
            return None
    else:
        baseline = _daily_values(points, week_start - timedelta(days=BASELINE_DAYS), BASELINE_DAYS)
        week = _daily_values(points, week_start, 7)
    centre = median(baseline)
    spread = MAD_SCALE * median([abs(v - centre) for v in baseline])
    mean = sum(week, ZERO) / len(week)
    if mean - centre > max(3 * spread, centre / 2, floor):
        return mean, centre
    return None


def detect_anomalies(
    daily: dict, ratios: dict, mixes: dict, week_start: date, *, currency: str, spend_floor: Decimal = Decimal(5)
) -> list[Anomaly]:
    """Anomalies of one week.

    `daily`: {(kind, subject): {day: value}} for spend (kind spend_spike) and idle GPU-hours (idle_hours_jump);
    `ratios`: {(kind, subject): [week-4, ..., week-1, this week]} for tokens per request and retry rate;
    `mixes`: {feature: [premium share week-4 .. week-1, this week]}.
    Each reason shows its figures in their unit: spend in `currency` (the organisation's), idle in GPU-hours,
    tokens per request, retries per job, premium shares in percent.
    """
    found = []
    for (kind, subject), points in sorted(daily.items()):
        floor = spend_floor if kind == "spend_spike" else Decimal(1)
        # Spend on a day with no rows was nothing; idle hours on a day no agent reported are not known.
        hit = spike(points, week_start, floor=floor, measured_only=kind == "idle_hours_jump")
        if hit:
            mean, centre = hit
            found.append(Anomaly(kind, subject, mean, centre, _daily_reason(kind, mean, centre, currency)))
    for (kind, subject), weeks in sorted(ratios.items()):
        *before, now = weeks
        known = [w for w in before if w is not None]
        if now is None or not known:
            continue
        usual = sum(known, ZERO) / len(known)
        jump = Decimal("0.3") if kind == "tokens_per_request_jump" else Decimal("0.5")
        if usual > 0 and (now - usual) / usual > jump:
            found.append(Anomaly(kind, subject, now, usual, _ratio_reason(kind, now, usual)))
    for feature, weeks in sorted(mixes.items()):
        *before, now = weeks
        known = [w for w in before if w is not None]
        if now is None or not known:
            continue
        usual = sum(known, ZERO) / len(known)
        if abs(now - usual) > Decimal("0.2"):
            found.append(Anomaly("model_mix_shift", feature, now, usual,
                                 f"premium share {now:.0%} against a usual {usual:.0%}"))  # fmt: skip
    return sorted(found, key=lambda a: (a.kind, -(a.value - a.baseline)))


def _daily_reason(kind: str, mean: Decimal, centre: Decimal, currency: str) -> str:
    if kind == "spend_spike":
        return f"{format_money(mean, currency)} a day against a usual {format_money(centre, currency)}"
    return f"{mean:,.1f} GPU-hours a day against a usual {centre:,.1f}"  # idle_hours_jump


def _ratio_reason(kind: str, now: Decimal, usual: Decimal) -> str:
    if kind == "tokens_per_request_jump":
        return f"{now:,.0f} tokens a request against a usual {usual:,.0f}"
    return f"{now:,.2f} retries per job against a usual {usual:,.2f}"  # retry_rate_jump


@dataclass(frozen=True)
class Forecast:
    month_to_date: Decimal
    run_rate_per_day: Decimal
    forecast: Decimal
    low: Decimal
    high: Decimal
    days_left: int


def month_end_forecast(daily_cost: dict, today: date) -> Forecast:
    """Month-to-date cost plus the last seven full days' mean per day for the days left, with a band of two
    standard deviations of the last fourteen days' daily cost, scaled by the square root of the days left."""
    first = today.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    to_date = sum((v for d, v in daily_cost.items() if first <= d < today), ZERO)
    last_seven = _daily_values(daily_cost, today - timedelta(days=7), 7)
    rate = sum(last_seven, ZERO) / 7
    recent = _daily_values(daily_cost, today - timedelta(days=14), 14)
    mean = sum(recent, ZERO) / 14
    deviation = (sum(((v - mean) ** 2 for v in recent), ZERO) / 13).sqrt()
    left = (next_month - today).days
    expected = to_date + rate * left
    band = 2 * deviation * Decimal(left).sqrt()
    return Forecast(to_date, rate, expected, max(expected - band, to_date), expected + band, left)
