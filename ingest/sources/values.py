"""Cell parsers shared by every source: nulls, amounts, timestamps, tags.

Each raises `CellError(column, message)` with a message a founder understands; the importer
turns it into a `{row, column, message}` error. Parsers of repeated text (timestamps, tag
strings) are cached: a bill repeats the same hour and the same tag set thousands of times.
"""

import ast
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ingest import limits

NULL_SENTINELS = frozenset({"", "null", "none", "nan", "n/a", "na", "nil", "-", "<null>", "(null)", "undefined"})
ATTRIBUTION_KEYS = ("customer", "feature", "environment", "owner", "purpose", "shutoff")
# Tag keys (after normalisation) that carry each attribution key, most specific first.
ATTRIBUTION_SYNONYMS = {
    "customer": ("customer", "customer_id", "customerid", "tenant", "tenant_id", "client", "account_customer"),
    "feature": ("feature", "project", "product", "app", "application", "service", "workload"),
    "environment": ("environment", "env", "stage", "tier"),
    "owner": ("owner", "team", "owner_email", "owneremail", "created_by", "createdby", "contact"),
    "purpose": ("purpose", "spend_bucket", "workload_type", "usage_type"),
    "shutoff": ("shutoff", "shut_off", "shutdown", "shutoff_at", "expires", "expiry", "ttl"),
}
_LONGEST_SENTINEL = max(len(s) for s in NULL_SENTINELS)
_EXACT_NULLS = frozenset({"", "NULL", "null", "None", "N/A", "NaN", "nan"})
_AMOUNT_DECORATION = re.compile(r"^[\s$€£¥]*|[\s$€£¥]*$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_TAG_KEY_SEPARATORS = re.compile(r"[\s\-./:\\]+")


class CellError(Exception):
    """A cell that cannot be read: the column and a plain-language reason."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


def is_null(value) -> bool:
    """True for a missing cell: None, empty, or a sentinel such as NULL, null, N/A, NaN."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in NULL_SENTINELS
    if isinstance(value, float):
        return value != value  # NaN from Parquet
    return False


def text(record, column: str) -> str:
    """A text cell, stripped; '' for nulls. Text the database cannot store (a NUL character, a lone surrogate) is
    a CellError."""
    value = record.get(column)
    if value.__class__ is str:  # the hot path: CSV cells
        if value in _EXACT_NULLS:
            return ""
        value = value.strip()
        if len(value) <= _LONGEST_SENTINEL and value.lower() in NULL_SENTINELS:
            return ""
    elif value is None or is_null(value):
        return ""
    else:
        value = str(value).strip()
    if "\x00" in value or not value.isascii():
        _storable(column, value)
    return value


def _storable(column: str, value: str) -> None:
    try:
        limits.text_check(value)
    except limits.LimitError as exc:
        raise CellError(column, f"{column} {exc}") from None


def first_text(record, *columns: str) -> str:
    """The first non-null text among `columns` (sources rename columns across versions)."""
    for column in columns:
        value = text(record, column)
        if value:
            return value
    return ""


@lru_cache(maxsize=65536)
def _parse_amount_text(raw: str) -> Decimal | None:
    value = raw.strip()
    if value.lower() in NULL_SENTINELS:
        return None
    negative = value.startswith("(") and value.endswith(")")
    if negative:
        value = value[1:-1]
    value = _AMOUNT_DECORATION.sub("", value)
    if _THOUSANDS.match(value):
        value = value.replace(",", "")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(raw) from None
    if not amount.is_finite():
        raise ValueError(raw)
    return -amount if negative else amount


def decimal(record, column: str, *, required: bool = False, limit: Decimal = limits.MAX_BILL_AMOUNT) -> Decimal | None:
    """An amount or quantity as Decimal; None when null (unknown is never 0) unless `required`.

    Accepts plain numbers, scientific notation, spreadsheet money ("$10,000.00 ") and
    accounting negatives ("(1.00)"). Floats from Parquet go through their shortest text form.
    A value whose size reaches `limit` (by default a bill amount's, `ingest.limits`) is a CellError.
    """
    value = record.get(column)
    if value.__class__ is str and value and value not in _EXACT_NULLS:
        try:  # the hot path: a plain number in a CSV cell
            amount = Decimal(value)
            if amount.is_finite():
                return _bounded(column, amount, limit)
        except InvalidOperation:
            pass
    if isinstance(value, Decimal):
        return _bounded(column, value, limit)
    if isinstance(value, int) and not isinstance(value, bool):
        return _bounded(column, Decimal(value), limit)
    if isinstance(value, float):
        if value != value:
            value = None
        else:
            return _bounded(column, Decimal(repr(value)), limit)
    if value is None:
        if required:
            raise CellError(column, f"{column} is empty; a number is required")
        return None
    try:
        amount = _parse_amount_text(str(value))
    except ValueError:
        raise CellError(column, f"{column} is not a number: {str(value)[:40]!r}") from None
    if amount is None and required:
        raise CellError(column, f"{column} is empty; a number is required")
    return amount if amount is None else _bounded(column, amount, limit)


def _bounded(column: str, amount: Decimal, limit: Decimal) -> Decimal:
    if -limit < amount < limit:
        return amount
    try:
        limits.decimal_check(amount, limit)
    except limits.LimitError as exc:
        raise CellError(column, f"{column} {exc}") from None
    return amount


_DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d")


@lru_cache(maxsize=65536)
def parse_timestamp_text(raw: str) -> datetime | None:
    """Timestamp text in the dialects bills use, as an aware UTC datetime; None for nulls.

    ISO 8601 with or without 'T', fractions, 'Z' or an offset ("2023-11-13T10:00Z",
    "2020-11-09 23:00:00+00:00", "2024-09-18 22:00:00"), a trailing "UTC", date-only
    ISO, and US month/day dates ("09/21/2023", "5/1/25"). Naive values are UTC.
    """
    value = raw.strip()
    if value.lower() in NULL_SENTINELS:
        return None
    try:
        return _parse_timestamp(value)
    except (ValueError, OverflowError):  # year 1 with a time zone east of UTC overflows
        raise ValueError(raw) from None


def _parse_timestamp(value: str) -> datetime:
    raw = value
    if value.endswith(" UTC"):
        value = value[:-4]
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _hour_overflow(value)
        for fmt in () if parsed else _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValueError(raw) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_HOUR_OVERFLOW = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?([+-]\d{2}:\d{2})?$")


def _hour_overflow(value: str) -> datetime | None:
    """'2023-02-01T30:00:00Z' as 30 hours after midnight (ISO allows 24:00; spreadsheets roll over)."""
    match = _HOUR_OVERFLOW.match(value)
    if not match or int(match.group(2)) < 24:
        return None
    day = datetime.fromisoformat(match.group(1) + "T00:00:00" + (match.group(5) or ""))
    seconds = int(match.group(2)) * 3600 + int(match.group(3)) * 60 + int(match.group(4) or 0)
    return day + timedelta(seconds=seconds)


def timestamp(record, column: str, *, required: bool = False, end: bool = False) -> datetime | None:
    """A timestamp cell as aware UTC datetime (text in any supported dialect, or a native value), inside the
    accepted time window (`ingest.limits`; `end`: the end of a period, which may lie further ahead)."""
    parsed = _timestamp(record, column, required)
    if parsed is not None:
        try:
            limits.moment_check(parsed, end=end)
        except limits.LimitError as exc:
            raise CellError(column, f"{column} {exc}") from None
    return parsed


def _timestamp(record, column: str, required: bool) -> datetime | None:
    value = record.get(column)
    try:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if isinstance(value, date):
            return datetime.combine(value, time.min, tzinfo=UTC)
    except OverflowError:
        raise CellError(column, f"{column} is outside the dates we can read: {str(value)[:40]!r}") from None
    parsed = None
    if value is not None:
        try:
            parsed = parse_timestamp_text(str(value))
        except ValueError:
            raise CellError(
                column, f"{column} is not a date or time we can read: {str(value)[:40]!r} (use ISO 8601)"
            ) from None
    if parsed is None and required:
        raise CellError(column, f"{column} is empty; a date is required")
    return parsed


def normalise_tag_key(key: str) -> str:
    """One spelling per tag key: lower case, separators to '_', the CUR 'user:' prefix dropped."""
    key = str(key).strip()
    for prefix in ("user:", "resourceTags/user:", "resourceTags/", "tags/"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return _TAG_KEY_SEPARATORS.sub("_", key).strip("_").lower()


def normalise_tags(pairs) -> dict:
    """A dict of normalised keys to text values from a mapping or (key, value) pairs; nulls dropped."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    tags = {}
    for key, value in items:
        if key is None or is_null(value) or not str(key).strip():
            continue
        tags[normalise_tag_key(key)] = str(value).strip() if not isinstance(value, str) else value.strip()
    return tags


@lru_cache(maxsize=16384)
def tags_items(raw: str) -> tuple:
    """Normalised (key, value) pairs from tag text in any supported encoding; ValueError if unreadable."""
    value = raw.strip()
    if value.lower() in NULL_SENTINELS or value in ("{}", "[]"):
        return ()
    if len(value) > 65536:
        raise ValueError(raw[:60])
    parsed = None
    for loader in (json.loads, ast.literal_eval):
        try:
            parsed = loader(value)
            break
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
    if parsed is None and not value.startswith(("{", "[")):
        # Azure's JSON-ish form without braces: "key1": "v1","key2": "v2"
        try:
            parsed = json.loads("{" + value + "}")
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        return tuple(normalise_tags(parsed).items())
    if isinstance(parsed, list):
        # Google Cloud labels: [{"key": "env", "value": "prod"}, ...]
        pairs = [(item.get("key"), item.get("value")) for item in parsed if isinstance(item, dict)]
        return tuple(normalise_tags(pairs).items())
    raise ValueError(raw)


def tags(record, column: str) -> dict:
    """Tags from one cell: JSON object (FOCUS), Python-repr or JSON key/value list (Google Cloud),
    Azure's JSON-ish string, or a native map from Parquet. Returns a new dict of normalised keys."""
    value = record.get(column)
    if value is None:
        return {}
    if isinstance(value, dict):
        return normalise_tags(value)
    if isinstance(value, list):
        pairs = [(i.get("key"), i.get("value")) if isinstance(i, dict) else tuple(i) for i in value]
        return normalise_tags(pairs)
    try:
        return dict(tags_items(str(value)))
    except ValueError:
        raise CellError(column, f"{column} is not a tag list we can read: {str(value)[:60]!r}") from None


def attribution(tag_map: dict) -> dict:
    """The attribution keys (customer, feature, environment, owner, purpose, shutoff) found in tags."""
    found = {}
    for key, synonyms in ATTRIBUTION_SYNONYMS.items():
        # Not a column's cut: bill lines store text of any length and keep a tag's first 200 characters as theirs.
        found[key] = next((tag_map[s][:200] for s in synonyms if tag_map.get(s)), "")
    return found


CHARGE_CATEGORIES = {
    "usage": "usage",
    "purchase": "purchase",
    "tax": "tax",
    "credit": "credit",
    "adjustment": "adjustment",
    "refund": "credit",
}


def charge_category(value: str, column: str = "ChargeCategory") -> str:
    """FOCUS charge category in lower case; an unknown value is an error, empty means usage."""
    if not value:
        return "usage"
    found = CHARGE_CATEGORIES.get(value.strip().lower())
    if found is None:
        raise CellError(column, f"{column} {value!r} is not one of Usage, Purchase, Tax, Credit, Adjustment")
    return found
