"""Money in one place: the column type, the one rounding mode, minor units, display.

Amounts are `Decimal` with 10 decimal places in storage; sums are taken exact and
rounded half-even to the currency's minor unit only for display. Never float.
"""

from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from django.db import models

MAX_DIGITS = 20
DECIMAL_PLACES = 10
STORAGE_QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)
ROUNDING = ROUND_HALF_EVEN
WIDE = Context(prec=60)

# ISO 4217 currencies whose minor unit is not 2 (Stripe's list of zero- and three-decimal currencies).
ZERO_DECIMAL_CURRENCIES = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
# The average month: 12 months a 365-day year. Monthly prices, commitments and support costs are pro-rated by it.
MONTH_DAYS = Decimal(365) / 12

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "CHF": "CHF "}


def MoneyField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    """The one column type for money; pair it with a `currency` column."""
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


def to_decimal(value) -> Decimal:
    """Parse a money value from text or int; floats are refused so no binary error sneaks in."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a string or Decimal")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc


def prorate_monthly(monthly: Decimal, days) -> Decimal:
    """A monthly amount over `days` days (12 months a 365-day year): the one pro-rating of monthly figures."""
    return monthly * 12 * Decimal(days) / 365


def minor_unit_exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has (USD 2, JPY 0, KWD 3)."""
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def quantize_storage(amount: Decimal) -> Decimal:
    """Round to the stored precision (10 places), half-even. In a context wide enough for any amount: the default 28
    digits raised InvalidOperation from 10^18 on (absurd, but a formula of 2^63 tokens gets there); whether an amount
    fits a column is its writer's question, not the rounding's."""
    return amount.quantize(STORAGE_QUANTUM, rounding=ROUNDING, context=WIDE)


def round_to_minor(amount: Decimal, currency: str) -> Decimal:
    """Round half-even to the currency's minor unit: the one rounding for display and cents."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit_exponent(currency)), rounding=ROUNDING)


def from_minor_units(minor: int, currency: str) -> Decimal:
    """Stripe-style integer minor units (cents, or yen for JPY) to a Decimal amount."""
    return Decimal(int(minor)).scaleb(-minor_unit_exponent(currency))


def to_minor_units(amount: Decimal, currency: str) -> int:
    """A Decimal amount to integer minor units, rounded half-even."""
    return int(round_to_minor(amount, currency).scaleb(minor_unit_exponent(currency)))


def as_json(amount: Decimal | None) -> str | None:
    """JSON money: a decimal string at storage precision, or None for unknown (never 0)."""
    return None if amount is None else f"{quantize_storage(amount):f}"


def format_money(amount: Decimal | int | str | None, currency: str) -> str:
    """The one display of an amount a person reads, in `currency` (ISO 4217): rounded half-even to the currency's
    minor unit, with thousands separators, the symbol before it (or the code after it when the currency has no
    symbol here) and the minus sign in front: `$1,234.50`, `-€3.50`, `¥3,417`, `1,234.568 KWD`, `5.00 SEK`.
    Unknown (None) is an em dash, never 0; an amount that rounds to zero carries no sign. Floats are refused."""
    if amount is None:
        return "—"
    code = (currency or "").strip().upper()
    if not code:
        raise ValueError("an amount is shown with its currency")
    rounded = round_to_minor(to_decimal(amount), code)
    sign = "-" if rounded < 0 else ""
    text = f"{abs(rounded):,.{minor_unit_exponent(code)}f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {code}"
