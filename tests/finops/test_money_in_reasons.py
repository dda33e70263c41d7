"""Amounts a person reads are written in the organisation's currency: a yen organisation's Founder Table says
"AI cost ¥3,417 above revenue ¥443" (no decimals), a dinar one shows three decimals, in the API and on the page."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal as D

from accounts.services import api_key_create, org_create
from finops.economics.facts import PeriodFacts
from finops.economics.rules import founder_table
from pricing.models import (
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceLine,
    StripePrice,
    StripeSubscription,
    StripeSubscriptionItem,
)
from tests.base import BaseTestCase

NOV1, DEC1 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
PERIOD = "start=2026-11-02&end=2026-11-09"  # ISO week 2026-W45: 7 of November's 30 days
TWO_DECIMALS = re.compile(r"\d\.\d\d(?!\d)")  # "34.17": a float-style amount


def subscribe(org, customer_id: str, monthly: str):
    """`customer_id` on plan "pro" at `monthly` a month in the org's currency, November's invoice paid."""
    currency = org.currency.lower()
    at = {"org": org, "state_at": NOV1, "stripe_created": datetime(2026, 10, 1, tzinfo=UTC)}
    pro = StripePrice.objects.create(stripe_id="price_pro", nickname="pro", unit_amount=D(monthly),
                                     currency=currency, interval="month", **at)  # fmt: skip
    customer = StripeCustomer.objects.create(stripe_id=f"cus_{customer_id}", customer_id=customer_id, **at)
    subscription = StripeSubscription.objects.create(
        stripe_id=f"sub_{customer_id}", customer=customer, customer_stripe_id=customer.stripe_id, status="active", **at
    )
    StripeSubscriptionItem.objects.create(stripe_id=f"si_{customer_id}", subscription=subscription, price=pro,
                                          price_stripe_id="price_pro", quantity=1, **at)  # fmt: skip
    invoice = StripeInvoice.objects.create(stripe_id=f"in_{customer_id}", customer=customer, currency=currency,
                                           customer_stripe_id=customer.stripe_id, status="paid",
                                           paid_amount=D(monthly), due_amount=D(monthly), period_start=NOV1,
                                           period_end=DEC1, paid_at=NOV1, **at)  # fmt: skip
    StripeInvoiceLine.objects.create(stripe_id=f"il_{customer_id}", invoice=invoice, price=pro, amount=D(monthly),
                                     currency=currency, period_start=NOV1, period_end=DEC1, **at)  # fmt: skip


class MoneyInReasonsTests(BaseTestCase):
    def org_with_a_loser(self, currency: str, monthly: str, costs: list[str]):
        """An org of alice in `currency` whose customer acme pays `monthly` a month and costs `costs` this week."""
        org = org_create(name=f"Alice {currency}", owner=self.alice, currency=currency)
        _, write_key = api_key_create(org=org, name="w", scope="write", created_by=self.alice)
        _, self.read_key = api_key_create(org=org, name="r", scope="read", created_by=self.alice)
        subscribe(org, "acme", monthly)
        events = [{"event_id": f"acme-{i}", "timestamp": f"2026-11-0{3 + i}T10:00:00Z", "provider": "acme-llm",
                   "model": "m1", "customer": "acme", "cost": cost, "currency": currency, "input_tokens": 1000,
                   "output_tokens": 0} for i, cost in enumerate(costs)]  # fmt: skip
        response = self.client.post("/api/v1/usage-events/", json.dumps(events), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {write_key}")  # fmt: skip
        self.assertEqual(response.json()["accepted"], len(events), response.content)
        return org

    def founder_rows(self) -> dict:
        response = self.client.get(f"/api/v1/founder-table/?{PERIOD}", HTTP_AUTHORIZATION=f"Bearer {self.read_key}")
        self.assertEqual(response.status_code, 200, response.content)
        return {r["key"]: r for r in response.json()["rows"]}

    def assert_no_float_style_amounts(self, rows: dict):
        for row in rows.values():
            for o in row["offenders"]:
                self.assertIsNone(TWO_DECIMALS.search(o["reason"]), o["reason"])

    def test_a_yen_organisation_reads_whole_yen_in_the_api_and_on_the_page(self):
        # ¥1,900 a month: ¥443.33 recognised this week; two calls of ¥1,708.50 cost ¥3,417.
        org = self.org_with_a_loser("JPY", "1900", ["1708.50", "1708.50"])
        rows = self.founder_rows()
        inference = rows["inference_request"]
        self.assertIs(inference["stop_sign"], True)
        reasons = {o["kind"]: o["reason"] for o in inference["offenders"]}
        self.assertEqual(reasons["customer"], "AI cost ¥3,417 above revenue ¥443")
        # The week's price: 1,900 x 12 / 365 x 7 = 437.26.
        self.assertEqual(reasons["plan"], "p90 cost per customer ¥3,417 against price ¥437")
        self.assert_no_float_style_amounts(rows)

        self.client.force_login(self.alice)
        html = self.client.get(f"/o/{org.code}/?week=2026-W45").content.decode()
        self.assertIn("AI cost ¥3,417 above revenue ¥443", html)
        self.assertIn("¥2,974", html)  # the offender's cost at stake: 3,417 - 443.33
        reasons_on_page = re.findall(r'<div class="muted small">([^<]*)</div></div>', html)
        self.assertIn("AI cost ¥3,417 above revenue ¥443", reasons_on_page)
        for reason in reasons_on_page:
            self.assertIsNone(TWO_DECIMALS.search(reason), reason)

    def test_a_dinar_organisation_reads_three_decimals(self):
        # 1.900 KWD a month: 0.44333 recognised this week; one call of 12.3456 KWD.
        org = self.org_with_a_loser("KWD", "1.900", ["12.3456"])
        rows = self.founder_rows()
        reasons = {o["kind"]: o["reason"] for o in rows["inference_request"]["offenders"]}
        self.assertEqual(reasons["customer"], "AI cost 12.346 KWD above revenue 0.443 KWD")
        self.assert_no_float_style_amounts(rows)
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{org.code}/?week=2026-W45")
        self.assertContains(page, "AI cost 12.346 KWD above revenue 0.443 KWD")


class ReasonsOfEveryRuleInTheCurrencyTests(BaseTestCase):
    """Each rule that names an amount in its reason writes it with the formatter, in the facts' currency."""

    def reasons(self, currency: str, **fields) -> list[str]:
        facts = PeriodFacts(currency=currency, **fields)
        return [o["reason"] for row in founder_table(facts) for o in row.offenders]

    def test_every_amount_in_a_reason_is_money_in_the_currency(self):
        fields = {
            "customer_cost": (("acme", "pro", D("3417.4")), ("t1", "trial", D("40"))),
            "revenue": {"acme": D("443.333")},
            "plan_prices": {"pro": D("437.26"), "basic": D("10.5"), "max": D("1000")},
            "plan_premium": (("basic", 8, 10, D("50")),),
            "promised": (("gpu pool for acme", D("1234.5"), D("999.5")),),
        }
        self.assertEqual(
            sorted(self.reasons("JPY", **fields)),
            sorted([
                "AI cost ¥3,417 above revenue ¥443",
                "p90 cost per customer ¥3,417 against price ¥437",
                "trial account above the cap of ¥25",
                "80% of calls on premium models at price ¥10, below the median plan",  # 10.5 -> 10, half-even
                "promised capacity costs ¥1,234 against ¥1,000 of revenue",
            ]),
        )  # fmt: skip
        kwd = self.reasons("KWD", **fields)
        self.assertIn("AI cost 3,417.400 KWD above revenue 443.333 KWD", kwd)
        self.assertIn("trial account above the cap of 25.000 KWD", kwd)
        usd = self.reasons("USD", **fields)
        self.assertIn("AI cost $3,417.40 above revenue $443.33", usd)
        self.assertIn("promised capacity costs $1,234.50 against $999.50 of revenue", usd)
