"""What one row may hold, in one place: every way in (usage events on the API and in files, bill lines of every
format and both columnar paths, agent samples) checks its values here before anything is stored.

Why bounds at all: a value the column can hold can still break the reads. A usage event dated 0001-01-01 (Go's
zero time) is stored, and then every read that steps a day back from it overflows; two costs of 6e9 each fit a
cost column (`finops.money`: 20 digits, 10 decimal places, so |x| < 1e10) but their day's sum does not. So:

- **Time window**: a moment (a charge, a call, a sample) lies in [INGEST_EARLIEST, now + INGEST_FUTURE_DAYS] (by
  default 2000-01-01 to 30 days from now); the end of a period (a billing period, a contract) may lie up to
  END_YEARS_AHEAD years after that, since contracts and invoices name their end in advance.
- **Money**: a bill line's amounts |x| < MAX_BILL_AMOUNT (1e8: a day's rollup, < 1e10, then needs over a hundred
  lines at the cap to overflow, where a real bill's largest lines are a few per cent of that); a usage event's
  cost 0 <= x < MAX_USAGE_COST (1e6 per call or per provider bucket: ten thousand of them in a day still fit).
- **Quantities**: |x| < MAX_QUANTITY (1e15; the column holds 1e20).
- **Counts**: tokens 0 <= n <= MAX_TOKENS (1e11 per event or provider bucket: the 64-bit sums of ninety million
  such events fit, and at the highest price a form takes, 1e4 per 1M tokens, one call costs under 1e9);
  `attempt`, `latency_ms`, `request_count` and every other 32-bit column < 2**31.
- **Text**: no NUL character (PostgreSQL text cannot hold it) and no lone surrogate (not UTF-8); no longer than its
  column, except the labels (CUT_TO_COLUMN) that the usage and commitment writers cut to it.
"""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone

MAX_BILL_AMOUNT = Decimal("1e8")
MAX_USAGE_COST = Decimal("1e6")
MAX_QUANTITY = Decimal("1e15")
MAX_TOKENS = 10**11
MAX_INT32 = 2**31 - 1
MAX_BIGINT = 2**63 - 1
END_YEARS_AHEAD = 10
MAX_MESSAGE = 500  # characters of one stored error message


class LimitError(ValueError):
    """A value outside what we store; the message is for the user (the caller adds the row and column)."""


def earliest() -> datetime:
    """The first accepted moment (INGEST_EARLIEST, midnight UTC)."""
    first = settings.INGEST_EARLIEST
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


def latest(now: datetime | None = None) -> datetime:
    """The last accepted moment: INGEST_FUTURE_DAYS after now."""
    return (now or timezone.now()) + timedelta(days=settings.INGEST_FUTURE_DAYS)


def latest_end(now: datetime | None = None) -> datetime:
    """The last accepted end of a period (a billing period, a contract)."""
    return latest(now) + timedelta(days=366 * END_YEARS_AHEAD)


_window = [None, None, None, None]  # when it was worked out (Unix seconds), earliest, latest, latest end


@receiver(setting_changed)
def _window_forget(**kwargs):
    _window[0] = None


def _bounds(end: bool) -> tuple[datetime, datetime]:
    """(earliest, latest) for this minute: worked out once a minute, since every cell of a file asks."""
    now = timezone.now()
    stamp = now.timestamp()
    if _window[0] is None or not _window[0] <= stamp < _window[0] + 60:
        _window[1:] = [earliest(), latest(now), latest_end(now)]
        _window[0] = stamp
    return _window[1], _window[3 if end else 2]


def moment_check(value: datetime, *, end: bool = False) -> datetime:
    """`value` (aware) when it lies in the window (to the minute), else LimitError saying which window."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    first, last = _bounds(end)
    if value < first or value > last:
        raise LimitError(
            f"{value.isoformat()} is outside the accepted time window ({earliest().date().isoformat()} to "
            f"{last.date().isoformat()}); check the value (a zero date such as 0001-01-01 is a missing one)"
        )
    return value


def day_check(value: date, *, end: bool = False) -> date:
    """A date in the window, else LimitError."""
    moment_check(datetime(value.year, value.month, value.day, tzinfo=UTC), end=end)
    return value


def decimal_check(value: Decimal, limit: Decimal, *, negative: bool = True) -> Decimal:
    """A finite decimal with |value| < limit (and >= 0 unless `negative`), else LimitError."""
    if not value.is_finite():
        raise LimitError("must be a finite number")
    if (abs(value) if negative else value) >= limit:
        raise LimitError(f"must be {'between -' + f'{limit:,.0f} and ' if negative else 'below '}{limit:,.0f}")
    if not negative and value < 0:
        raise LimitError("must not be negative")
    return value


def count_check(value: int, limit: int = MAX_INT32, minimum: int = 0) -> int:
    """A whole number in [minimum, limit], else LimitError."""
    if value < minimum or value > limit:
        raise LimitError(f"must be a whole number from {minimum:,} to {limit:,}")
    return value


def text_check(value: str, max_length: int = 0) -> str:
    """Text PostgreSQL can store (no NUL, valid UTF-8) of at most max_length characters (0: any), else LimitError."""
    if "\x00" in value:
        raise LimitError("contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise LimitError("contains a character that is not valid Unicode (a lone surrogate)") from None
    if max_length and len(value) > max_length:
        raise LimitError(f"is longer than {max_length} characters")
    return value


def json_check(value) -> None:
    """A JSON value (metadata, tags) PostgreSQL's jsonb can store: no NUL, valid UTF-8, finite numbers."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    except (ValueError, TypeError, RecursionError):
        raise LimitError("is not plain JSON (nested too deep, or NaN or Infinity in it)") from None
    if "\\u0000" in text:
        raise LimitError("contains a NUL character")
    text_check(text)


def message_cap(message: str) -> str:
    """An error message short enough to store and show."""
    message = str(message)
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


# Per normalised row field: how it is checked. Moments use the strict window, ends the wide one.
# (A commitment's periods are all "ends": a contract lists its future periods.)
MOMENTS = ("occurred_at", "charge_period_start", "billing_period_start")
BILL_AMOUNTS = ("billed_cost_amount", "effective_cost_amount", "list_cost_amount")
QUANTITIES = ("pricing_quantity", "consumed_quantity", "quantity")
TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens")
INT32 = ("attempt", "latency_ms", "request_count")


# Labels (names and attribution a source passes on as it found them) longer than their column are cut to it by the
# ledger's writer, once for every source: a model name of 300 characters still names the model. Every other text
# column refuses a longer value here: a key (event_id) cut could merge two events, a code (currency) cut is wrong.
CUT_TO_COLUMN = {
    "usage": ("provider", "model", "route", "customer", "feature", "environment", "job_id", "error_type"),
    "commitment": ("provider", "contract_id", "commitment_id", "commitment_type", "unit"),
}


def _lengths(kind: str) -> dict:
    from ingest.models import ContractCommitment, CostLine, UsageEvent

    model = {"usage": UsageEvent, "commitment": ContractCommitment}.get(kind, CostLine)
    return {f.name: f.max_length for f in model._meta.get_fields() if getattr(f, "max_length", None)}


@cache
def column_lengths(kind: str) -> dict:
    """max_length of each character column of the ledger a row of `kind` goes to that refuses longer text."""
    cut = CUT_TO_COLUMN.get(kind, ())
    return {name: length for name, length in _lengths(kind).items() if name not in cut}


@cache
def cut_lengths(kind: str) -> tuple[tuple[str, int], ...]:
    """(field, max_length) of each label of a `kind` row that its writer cuts to the column."""
    lengths = _lengths(kind)
    return tuple((name, lengths[name]) for name in CUT_TO_COLUMN[kind])


def cut_to_columns(row: dict, lengths: tuple[tuple[str, int], ...]) -> dict:
    """The row with each label longer than its column (`cut_lengths`) cut to it; most fit, so a len() comes first."""
    for name, length in lengths:
        if len(row[name]) > length:
            row[name] = row[name][:length]
    return row


def _plain_text(value: str, max_length: int) -> bool:
    """True for text that needs no closer look: ASCII without NUL, within max_length (0: any)."""
    return value.isascii() and "\x00" not in value and not (max_length and len(value) > max_length)


def row_problem(row: dict, kind: str) -> tuple[str, str] | None:
    """(field, message) for the first value of a normalised row (kind "bill", "usage" or "commitment") that is
    outside the limits, else None: the net every importer casts after a source's parse."""
    lengths = column_lengths(kind)
    first, last = _bounds(False)
    last_end = _bounds(True)[1]
    texts = [value for value in row.values() if value.__class__ is str]
    plain = _plain_text("".join(texts), 0)  # one look at all the text of the row, the usual case
    for field, value in row.items():
        if value is None:
            continue
        try:
            kind_of = value.__class__
            if kind_of is str:
                max_length = lengths.get(field, 0)
                if (not plain or max_length) and not _plain_text(value, max_length):
                    text_check(value, max_length)
            elif kind_of is bool:
                continue
            elif isinstance(value, datetime):
                if not first <= value <= (last if field in MOMENTS else last_end):
                    moment_check(value, end=field not in MOMENTS)
            elif kind_of is Decimal:
                if field == "cost_amount" and kind == "usage":
                    decimal_check(value, MAX_USAGE_COST, negative=False)
                elif field in QUANTITIES:
                    decimal_check(value, MAX_QUANTITY)
                else:
                    decimal_check(value, MAX_BILL_AMOUNT)
            elif isinstance(value, int):
                if field in TOKENS:
                    count_check(value, MAX_TOKENS)
                elif field in INT32:
                    count_check(value, MAX_INT32, minimum=-MAX_INT32)
                else:
                    count_check(value, MAX_BIGINT, minimum=-MAX_BIGINT)
            elif kind_of is dict and all(
                k.__class__ is str and v.__class__ is str and _plain_text(k, 0) and _plain_text(v, 0)
                for k, v in value.items()
            ):
                continue  # flat tags of plain text: nothing jsonb could refuse
            elif isinstance(value, dict | list):
                json_check(value)
        except LimitError as exc:
            return field, f"{field} {exc}"
    return None
