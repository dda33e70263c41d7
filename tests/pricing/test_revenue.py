"""Revenue recognised per day from what invoices collected (pricing/revenue.py), by hand-computed cases."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

from django.test import SimpleTestCase

from pricing.revenue import InvoiceLine, PaidInvoice, net_revenue, payment_fee, recognise

NOV1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)


def monthly(customer="acme", paid="300", plan="pro", **fields):
    line = InvoiceLine(D(paid), NOV1, DEC1, plan)
    return PaidInvoice(customer, "USD", D(paid), (line,), **fields)


class RecogniseTests(SimpleTestCase):
    def test_a_monthly_invoice_counts_a_thirtieth_a_day(self):
        [row] = recognise([monthly()], date(2026, 11, 2), date(2026, 11, 9))
        self.assertEqual((row.customer, row.plan, row.revenue), ("acme", "pro", D("70")))  # 7 of 30 days

    def test_the_whole_month_is_the_whole_invoice_and_fees_follow(self):
        [row] = recognise([monthly()], date(2026, 11, 1), date(2026, 12, 1))
        self.assertEqual(row.revenue, D("300"))
        self.assertEqual(row.fees, D("300") * D("0.029") + D("0.30"))

    def test_refunds_credit_notes_and_tax_are_not_revenue(self):
        invoice = monthly(paid="360", refunded=D("20"), credited=D("10"), tax=D("30"))
        self.assertEqual(net_revenue(invoice), D("300"))
        [row] = recognise([invoice], date(2026, 11, 1), date(2026, 12, 1))
        self.assertEqual(row.revenue, D("300"))

    def test_lines_share_the_net_by_amount_each_over_its_own_period(self):
        seat = InvoiceLine(D("200"), NOV1, DEC1, "pro")
        overage = InvoiceLine(D("100"), datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC), "usage")
        invoice = PaidInvoice("acme", "USD", D("300"), (seat, overage))
        rows = {r.plan: r.revenue for r in recognise([invoice], date(2026, 11, 10), date(2026, 11, 11))}
        self.assertEqual(rows, {"usage": D("100"), "pro": D("6.6666666667")})

    def test_nothing_paid_nothing_recognised_and_no_fee(self):
        invoice = monthly(paid="0")
        self.assertEqual(payment_fee(invoice), D(0))
        self.assertEqual(sum(r.revenue for r in recognise([invoice], date(2026, 11, 1), date(2026, 12, 1))), D(0))

    def test_an_invoice_without_periods_counts_on_its_payment_day(self):
        line = InvoiceLine(D("50"), None, None, "setup")
        invoice = PaidInvoice("acme", "USD", D("50"), (line,), paid_at=datetime(2026, 11, 5, 12, tzinfo=UTC))
        self.assertEqual(recognise([invoice], date(2026, 11, 6), date(2026, 11, 7)), [])
        self.assertEqual(recognise([invoice], date(2026, 11, 5), date(2026, 11, 6))[0].revenue, D("50"))
