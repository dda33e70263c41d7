"""The revenue read builds plain rows and reads only the invoices that can reach the period, and still recognises
exactly what the model-instance read of every invoice in the look-back did: the old read and the old day-by-day
recognition are kept here as the oracle, over a few hundred generated invoices (random service periods, partial
days, prorations, refunds, credit notes, tax, currencies, customers mapped or not, plans named three ways)."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from finops.money import quantize_storage
from pricing.models import StripeCustomer, StripeInvoice, StripeInvoiceLine, StripePrice, StripeProduct
from pricing.revenue import (
    DEFAULT_FEE_FIXED,
    DEFAULT_FEE_RATE,
    ZERO,
    InvoiceLine,
    PaidInvoice,
    Recognised,
    net_revenue,
    payment_fee,
    recognise,
)
from pricing.selectors import (
    PAID_LOOKBACK,
    _midnight,
    paid_invoices,
    plan_name,
    recognised_revenue,
    stripe_customer_key,
)
from tests.base import BaseTestCase

# --- the oracle: the read and the recognition as they were before plain rows -----------------------------------


def old_paid_invoices(*, org, start: date, end: date) -> list[PaidInvoice]:
    invoices = (
        StripeInvoice.objects.for_org(org)
        .filter(
            paid_amount__gt=0, stripe_created__lt=_midnight(end), stripe_created__gte=_midnight(start) - PAID_LOOKBACK
        )
        .select_related("customer")
        .prefetch_related("lines__price__product")
    )
    return [
        PaidInvoice(
            customer=stripe_customer_key(invoice.customer, invoice.customer_stripe_id),
            currency=invoice.currency.upper(),
            paid=invoice.paid_amount,
            refunded=invoice.refunded_amount or ZERO,
            credited=invoice.credit_note_amount or ZERO,
            tax=invoice.tax_amount or ZERO,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            paid_at=invoice.paid_at or invoice.stripe_created,
            lines=tuple(
                InvoiceLine(line.amount, line.period_start, line.period_end, plan_name(line.price))
                for line in invoice.lines.all()
            ),
        )
        for invoice in invoices
    ]


def _old_days(start, end, fallback) -> list[date]:
    if start and end and end > start:
        first, last = start.date(), (end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    moment = start or fallback
    return [moment.date()] if moment else []


def old_recognise(invoices, start: date, end: date, *, fee_rate=DEFAULT_FEE_RATE, fee_fixed=DEFAULT_FEE_FIXED):
    totals: dict[tuple, list] = {}
    for invoice in invoices:
        net, fee = net_revenue(invoice), payment_fee(invoice, fee_rate, fee_fixed)
        lines = [line for line in invoice.lines if line.amount > 0] or [InvoiceLine(D(1), None, None)]
        whole = sum((line.amount for line in lines), ZERO)
        for line in lines:
            days = _old_days(line.period_start or invoice.period_start, line.period_end or invoice.period_end,
                             invoice.paid_at)  # fmt: skip
            inside = sum(1 for day in days if start <= day < end)
            if not inside:
                continue
            scale = D(len(days)) * whole
            entry = totals.setdefault((invoice.customer, line.plan, invoice.currency), [ZERO, ZERO])
            entry[0] += net * inside * line.amount / scale
            entry[1] += fee * inside * line.amount / scale
    rows = [Recognised(c, p, cur, quantize_storage(revenue), quantize_storage(fees))
            for (c, p, cur), (revenue, fees) in totals.items()]  # fmt: skip
    return sorted(rows, key=lambda r: (-r.revenue, r.customer, r.plan))


# --- a generated tenant -------------------------------------------------------------------------------------------

FIRST = datetime(2025, 6, 1, tzinfo=UTC)  # invoices from here, more than PAID_LOOKBACK before the last windows
SPAN_DAYS = 600


def _moment(rng, base=FIRST, days=SPAN_DAYS) -> datetime:
    """A random moment, most at midnight (as Stripe's periods), some at any second."""
    moment = base + timedelta(days=rng.randrange(days))
    return moment if rng.random() < 0.7 else moment + timedelta(seconds=rng.randrange(86400))


def _money(rng, low=1, high=2000) -> D:
    return D(rng.randrange(low * 100, high * 100)) / 100


def generate(org, *, invoices=360, seed=20261204):
    rng = random.Random(seed)
    at = {"org": org, "state_at": FIRST, "stripe_created": FIRST}
    products = [StripeProduct.objects.create(stripe_id=f"prod_{i}", name=name, **at)
                for i, name in enumerate(("Pro", "Team", ""))]  # fmt: skip
    prices = [
        StripePrice.objects.create(stripe_id=f"price_{i}", nickname=rng.choice(("", "", f"plan-{i}")),
                                   product=rng.choice((*products, None)), currency="usd", **at)
        for i in range(8)
    ]  # fmt: skip
    customers = [
        StripeCustomer.objects.create(stripe_id=f"cus_{i}", customer_id=rng.choice(("", f"customer-{i}")), **at)
        for i in range(40)
    ]  # fmt: skip
    for n in range(invoices):
        created = _moment(rng)
        start = created if rng.random() < 0.8 else None
        length = rng.choice((1, 7, 28, 30, 31, 90, 365, 0, -3))
        end = (start or created) + timedelta(days=length) if rng.random() < 0.85 else None
        customer = rng.choice((*customers, None))
        paid = _money(rng) if rng.random() < 0.9 else ZERO
        invoice = StripeInvoice.objects.create(
            stripe_id=f"in_{n:04d}", customer=customer, customer_stripe_id=rng.choice(("", f"cus_x{n % 7}"))
            if customer is None else customer.stripe_id, currency=rng.choice(("usd", "USD", "eur", "jpy")),
            status="paid", paid_amount=paid, due_amount=paid,
            refunded_amount=rng.choice((None, ZERO, paid / 3, paid)), credit_note_amount=rng.choice((None, D("5"))),
            tax_amount=rng.choice((None, paid / 11)), period_start=start, period_end=end,
            paid_at=rng.choice((None, created, created + timedelta(days=rng.randrange(40)))),
            org=org, state_at=created, stripe_created=rng.choice((created, created, None)) if n % 50 else None,
        )  # fmt: skip
        for k in range(rng.choice((0, 1, 1, 1, 2, 3))):
            line_start = rng.choice((None, start, _moment(rng, created - timedelta(days=30), 60)))
            line_end = rng.choice((None, end, (line_start or created) + timedelta(days=rng.randrange(-2, 60))))
            StripeInvoiceLine.objects.create(
                stripe_id=f"il_{n:04d}_{k}", invoice=invoice, price=rng.choice((*prices, None)),
                amount=rng.choice((_money(rng), _money(rng), -_money(rng, high=300), ZERO)), currency="usd",
                period_start=line_start, period_end=line_end, proration=rng.random() < 0.2,
                org=org, state_at=created, stripe_created=created,
            )  # fmt: skip


def windows(rng) -> list[tuple[date, date]]:
    """Weeks, months, quarters and random spans over the tenant's history and past it, and an empty one."""
    result = [(date(2026, 11, 2), date(2026, 11, 9)), (date(2026, 11, 1), date(2026, 12, 1)),
              (date(2026, 1, 1), date(2026, 4, 1)), (date(2027, 3, 1), date(2027, 4, 1)),
              (date(2025, 1, 1), date(2025, 7, 1)), (date(2026, 5, 5), date(2026, 5, 5))]  # fmt: skip
    for _ in range(30):
        start = date(2025, 5, 1) + timedelta(days=rng.randrange(SPAN_DAYS + 120))
        result.append((start, start + timedelta(days=rng.choice((1, 7, 14, 30, 91, 200)))))
    return result


class RevenueReadTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        generate(cls.org)
        generate(cls.charlies_org, invoices=40, seed=7)  # another tenant's invoices never count

    def test_recognition_is_the_old_reads_to_the_cent_in_every_window(self):
        rng = random.Random(45)
        seen = 0
        for start, end in windows(rng):
            for fee_rate, fee_fixed in ((DEFAULT_FEE_RATE, DEFAULT_FEE_FIXED), (D("0.014"), D("0.25"))):
                with self.subTest(start=str(start), end=str(end), fee=str(fee_rate)):
                    expected = old_recognise(old_paid_invoices(org=self.org, start=start, end=end), start, end,
                                             fee_rate=fee_rate, fee_fixed=fee_fixed)  # fmt: skip
                    got = recognised_revenue(org=self.org, start=start, end=end, fee_rate=fee_rate,
                                             fee_fixed=fee_fixed)  # fmt: skip
                    self.assertEqual(got, expected)
                    seen += len(got)
        self.assertGreater(seen, 500)  # the windows do recognise revenue, in several currencies and plans

    def test_the_new_day_count_is_the_old_day_list_on_the_same_invoices(self):
        invoices = old_paid_invoices(org=self.org, start=date(2026, 6, 1), end=date(2027, 6, 1))
        self.assertGreater(len(invoices), 200)
        for start, end in windows(random.Random(3)):
            with self.subTest(start=str(start), end=str(end)):
                self.assertEqual(recognise(invoices, start, end), old_recognise(invoices, start, end))

    def test_only_invoices_that_can_reach_the_period_are_read_each_as_before(self):
        start, end = date(2026, 11, 2), date(2026, 11, 9)
        old = old_paid_invoices(org=self.org, start=start, end=end)
        with self.assertNumQueries(2):
            new = paid_invoices(org=self.org, start=start, end=end)
        self.assertLess(len(new), len(old) / 3)
        self.assertTrue(set(new) <= set(old))  # the same inputs, field for field, lines in the same order
        left_out = [invoice for invoice in old if invoice not in set(new)]
        self.assertEqual(old_recognise(left_out, start, end), [])

    def test_nothing_read_for_a_tenant_without_invoices_in_reach(self):
        with self.assertNumQueries(1):
            self.assertEqual(paid_invoices(org=self.org, start=date(2030, 1, 1), end=date(2030, 2, 1)), [])
