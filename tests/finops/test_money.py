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

    def test_it_shows_each_currency_with_its_symbol_or_code_and_its_minor_unit(self):
        cases = [
            ("1234.5", "USD", "$1,234.50"),
            ("0.125", "USD", "$0.12"),  # half-even: to the even cent
            ("0.135", "USD", "$0.14"),
            ("1234567.891", "EUR", "€1,234,567.89"),
            ("0.005", "eur", "€0.00"),  # the code in any case
            ("3417", "JPY", "¥3,417"),  # no decimals
            ("3417.5", "JPY", "¥3,418"),  # half-even to the yen
            ("3416.5", "JPY", "¥3,416"),
            ("443.3333333333", "JPY", "¥443"),
            ("1234.5675", "KWD", "1,234.568 KWD"),  # three decimals, no symbol here: the code after it
            ("1234.5665", "KWD", "1,234.566 KWD"),
            ("0.0005", "KWD", "0.000 KWD"),
            ("5", "SEK", "5.00 SEK"),
            ("1000000", "GBP", "£1,000,000.00"),
        ]
        for amount, currency, shown in cases:
            with self.subTest(amount=amount, currency=currency):
                self.assertEqual(money.format_money(Decimal(amount), currency), shown)

    def test_it_puts_the_minus_before_the_symbol_and_never_shows_a_negative_zero(self):
        self.assertEqual(money.format_money(Decimal("-1234.5"), "USD"), "-$1,234.50")
        self.assertEqual(money.format_money(Decimal("-3.5"), "EUR"), "-€3.50")
        self.assertEqual(money.format_money(Decimal("-3417.5"), "JPY"), "-¥3,418")
        self.assertEqual(money.format_money(Decimal("-1.0005"), "KWD"), "-1.000 KWD")
        self.assertEqual(money.format_money(Decimal("-12"), "SEK"), "-12.00 SEK")
        self.assertEqual(money.format_money(Decimal("-0.004"), "USD"), "$0.00")
        self.assertEqual(money.format_money(Decimal("-0.4"), "JPY"), "¥0")

    def test_it_takes_whole_numbers_and_text_but_never_floats_or_no_currency(self):
        self.assertEqual(money.format_money(5, "USD"), "$5.00")
        self.assertEqual(money.format_money("1999.5", "JPY"), "¥2,000")
        self.assertEqual(money.format_money(None, "JPY"), "—")
        self.assertEqual(money.format_money(None, "KWD"), "—")
        with self.assertRaises(TypeError):
            money.format_money(0.1, "USD")
        with self.assertRaises(ValueError):
            money.format_money(Decimal(1), "")

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
