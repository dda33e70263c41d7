"""finops/money.py: exact amounts, one rounding mode, minor units, display."""

from decimal import Decimal

from django.test import SimpleTestCase

from finops import money


class MoneyTests(SimpleTestCase):
    def test_it_rounds_half_even_to_the_cent_only_for_display(self):
        self.assertEqual(money.round_to_minor(Decimal("0.125"), "USD"), Decimal("0.12"))
        self.assertEqual(money.round_to_minor(Decimal("0.135"), "USD"), Decimal("0.14"))
        self.assertEqual(money.format_money(Decimal("1234567.005"), "USD"), "$1,234,567.00")
        self.assertEqual(money.format_money(Decimal("-3.5"), "EUR"), "-€3.50")
        self.assertEqual(money.format_money(Decimal("5"), "SEK"), "5.00 SEK")

    def test_it_shows_unknown_as_a_dash_not_zero(self):
        self.assertEqual(money.format_money(None, "USD"), "—")
        self.assertIsNone(money.as_json(None))
        self.assertEqual(money.as_json(Decimal("12.34")), "12.3400000000")
        self.assertEqual(money.as_json(Decimal("0")), "0.0000000000")
        self.assertEqual(money.as_json(Decimal("-1E-10")), "-0.0000000001")

    def test_it_converts_minor_units_per_currency(self):
        self.assertEqual(money.from_minor_units(1999, "usd"), Decimal("19.99"))
        self.assertEqual(money.from_minor_units(1999, "JPY"), Decimal("1999"))
        self.assertEqual(money.from_minor_units(1999, "KWD"), Decimal("1.999"))
        self.assertEqual(money.to_minor_units(Decimal("19.995"), "USD"), 2000)
        self.assertEqual(money.to_minor_units(Decimal("1999"), "JPY"), 1999)

    def test_it_refuses_floats(self):
        with self.assertRaises(TypeError):
            money.to_decimal(0.1)
        self.assertEqual(money.to_decimal(" 0.10 "), Decimal("0.10"))
        with self.assertRaises(ValueError):
            money.to_decimal("ten dollars")

    def test_it_keeps_sums_exact_before_rounding(self):
        parts = [Decimal("0.3333333333")] * 3
        self.assertEqual(sum(parts), Decimal("0.9999999999"))
        self.assertEqual(money.round_to_minor(sum(parts), "USD"), Decimal("1.00"))
