"""Revenue recognised per day: pure Decimal arithmetic over what invoices actually collected.

An invoice's net revenue is what was paid, less refunds and credit notes after payment, less tax (tax is
owed to the state, not earned). It is shared over the invoice's lines in proportion to their amounts, and
each line's share is spread evenly over the days of its service period (the invoice's period when the
line has none, its payment day when neither has one), so a monthly invoice counts one thirtieth a day.
A period [start, end) gets the days that fall inside it. Payment fees follow a fee model (2.9% + 0.30 by
default), charged per paid invoice.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from finops.money import quantize_storage

ZERO = Decimal(0)
DEFAULT_FEE_RATE = Decimal("0.029")
DEFAULT_FEE_FIXED = Decimal("0.30")


@dataclass(frozen=True)
class InvoiceLine:
    amount: Decimal
    period_start: datetime | None
    period_end: datetime | None
    plan: str = ""


@dataclass(frozen=True)
class PaidInvoice:
    customer: str
    currency: str
    paid: Decimal
    lines: tuple  # InvoiceLine
    refunded: Decimal = ZERO
    credited: Decimal = ZERO
    tax: Decimal = ZERO
    period_start: datetime | None = None
    period_end: datetime | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True)
class Recognised:
    customer: str
    plan: str
    currency: str
    revenue: Decimal
    fees: Decimal


def net_revenue(invoice: PaidInvoice) -> Decimal:
    """What the invoice earned: paid, less refunds, credit notes and tax; never below zero."""
    return max(invoice.paid - invoice.refunded - invoice.credited - invoice.tax, ZERO)


def payment_fee(invoice: PaidInvoice, rate: Decimal = DEFAULT_FEE_RATE, fixed: Decimal = DEFAULT_FEE_FIXED) -> Decimal:
    """The payment processor's fee on what was paid (nothing on an invoice nobody paid)."""
    return invoice.paid * rate + fixed if invoice.paid > 0 else ZERO


def _span(start: datetime | None, end: datetime | None, fallback: datetime | None) -> tuple[date, date] | None:
    """(first day, last day) of a service period [start, end), else the single day of `start` or `fallback`."""
    if start and end and end > start:
        return start.date(), (end - timedelta(microseconds=1)).date()
    moment = start or fallback
    return (moment.date(), moment.date()) if moment else None


def recognise(
    invoices, start: date, end: date, *, fee_rate: Decimal = DEFAULT_FEE_RATE, fee_fixed: Decimal = DEFAULT_FEE_FIXED
) -> list[Recognised]:
    """Revenue and payment fees per (customer, plan, currency) recognised in [start, end), largest first."""
    totals: dict[tuple, list] = {}
    last = end - timedelta(days=1)
    for invoice in invoices:
        net, fee = net_revenue(invoice), payment_fee(invoice, fee_rate, fee_fixed)
        lines = [line for line in invoice.lines if line.amount > 0] or [InvoiceLine(Decimal(1), None, None)]
        whole = sum((line.amount for line in lines), ZERO)
        for line in lines:
            span = _span(line.period_start or invoice.period_start, line.period_end or invoice.period_end,
                         invoice.paid_at)  # fmt: skip
            if span is None:
                continue
            # The days of the span inside [start, end), counted, not listed.
            inside = (min(span[1], last) - max(span[0], start)).days + 1
            if inside <= 0:
                continue
            # One division per amount, so whole days and whole lines come out exact.
            scale = Decimal((span[1] - span[0]).days + 1) * whole
            entry = totals.setdefault((invoice.customer, line.plan, invoice.currency), [ZERO, ZERO])
            entry[0] += net * inside * line.amount / scale
            entry[1] += fee * inside * line.amount / scale
    rows = [Recognised(c, p, cur, quantize_storage(revenue), quantize_storage(fees))
            for (c, p, cur), (revenue, fees) in totals.items()]  # fmt: skip
    return sorted(rows, key=lambda r: (-r.revenue, r.customer, r.plan))
