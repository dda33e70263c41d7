"""Revenue against cost, per customer and per plan, on a hand-computed scenario: two customers on a $300/month
plan, one cheap to serve and one who loses money."""

import json
from datetime import UTC, datetime
from decimal import Decimal as D

from pricing.models import (
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceLine,
    StripePrice,
    StripeSubscription,
    StripeSubscriptionItem,
)
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin

NOV1, DEC1 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
WEEK = "start=2026-11-02&end=2026-11-09"


def stripe_scenario(org):
    """Plan "pro" at 300 a month; acme and beta subscribe and paid November's invoice."""
    at = {"org": org, "state_at": NOV1, "stripe_created": datetime(2026, 10, 1, tzinfo=UTC)}
    pro = StripePrice.objects.create(stripe_id="price_pro", nickname="pro", unit_amount=D("300"), currency="usd",
                                     interval="month", **at)  # fmt: skip
    for name in ("acme", "beta"):
        customer = StripeCustomer.objects.create(stripe_id=f"cus_{name}", customer_id=name, **at)
        subscription = StripeSubscription.objects.create(
            stripe_id=f"sub_{name}", customer=customer, customer_stripe_id=customer.stripe_id, status="active", **at
        )
        StripeSubscriptionItem.objects.create(stripe_id=f"si_{name}", subscription=subscription, price=pro,
                                              price_stripe_id="price_pro", quantity=1, **at)  # fmt: skip
        invoice = StripeInvoice.objects.create(stripe_id=f"in_{name}", customer=customer, currency="usd",
                                               customer_stripe_id=customer.stripe_id, status="paid",
                                               paid_amount=D("300"), due_amount=D("300"), period_start=NOV1,
                                               period_end=DEC1, paid_at=NOV1, **at)  # fmt: skip
        StripeInvoiceLine.objects.create(stripe_id=f"il_{name}", invoice=invoice, price=pro, amount=D("300"),
                                         currency="usd", period_start=NOV1, period_end=DEC1, **at)  # fmt: skip


class RevenueScenario(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()
        stripe_scenario(self.org)
        events = [{"event_id": f"{c}-{i}", "timestamp": f"2026-11-0{3 + i}T10:00:00Z", "provider": "acme-llm",
                   "model": "m1", "customer": c, "cost": cost, "currency": "USD", "input_tokens": 1000,
                   "output_tokens": 0}
                  for c, cost in (("acme", "6.00"), ("beta", "50.00")) for i in range(2)]  # fmt: skip
        response = self.client.post("/api/v1/usage-events/", json.dumps(events), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.json()["accepted"], 4, response.content)


class RevenueEconomicsTests(RevenueScenario):
    def test_customers_get_revenue_margins_and_losers_to_the_cent(self):
        rows = {r["customer"]: r for r in self.api_get(f"/api/v1/economics/customers/?{WEEK}").json()}
        acme, beta = rows["acme"], rows["beta"]
        self.assertEqual((acme["plan"], acme["revenue"], acme["ai_cost"]), ("pro", "70.0000000000", "12.0000000000"))
        self.assertEqual(acme["gross_margin"], "0.8285714286")  # (70 - 12) / 70
        # fees: (300 x 2.9% + 0.30) x 7/30 = 2.100 a week
        self.assertEqual(acme["payment_fees"], "2.1000000000")
        self.assertEqual(acme["gross_margin_after_fees"], "0.7985714286")
        self.assertEqual((beta["loses_money"], beta["gross_margin"]), (True, "-0.4285714286"))

    def test_the_fee_model_is_the_organisations(self):
        from finops.services.settings import economics_settings_update

        economics_settings_update(org=self.org, thresholds={}, payment_fee_pct=D("1.5"), payment_fee_fixed_amount=D(0))
        rows = {r["customer"]: r for r in self.api_get(f"/api/v1/economics/customers/?{WEEK}").json()}
        self.assertEqual(rows["acme"]["payment_fees"], "1.0500000000")  # 300 x 1.5% x 7/30

    def test_the_plan_check_finds_the_loser_and_suggests_a_cap(self):
        [pro] = self.api_get(f"/api/v1/economics/plans/?{WEEK}").json()
        self.assertEqual((pro["plan"], pro["customers"], pro["losing_customers"]), ("pro", 2, ["beta"]))
        self.assertEqual((pro["cost_median"], pro["cost_p90"], pro["cost_max"]),
                         ("12.0000000000", "100.0000000000", "100.0000000000"))  # fmt: skip
        self.assertEqual(pro["margin"], "0.2000000000")  # (140 - 112) / 140
        price = D(300) * 7 * 12 / 365  # the week's share of a monthly price
        self.assertEqual(pro["price"], f"{price.quantize(D('1e-10')):f}")
        cap = pro["suggested_usage_cap"]
        self.assertEqual(cap["cost"], f"{(price * D('0.4')).quantize(D('1e-10')):f}")  # target margin 60%
        self.assertEqual(cap["tokens"], int(price * D("0.4") / (D(112) / 4000)))

    def test_the_founder_table_now_judges_heavy_users(self):
        rows = {r["key"]: r for r in self.api_get(f"/api/v1/founder-table/?{WEEK}").json()["rows"]}
        inference = rows["inference_request"]
        self.assertIs(inference["stop_sign"], True)
        offenders = {o["kind"]: o for o in inference["offenders"]}
        self.assertEqual((offenders["customer"]["id"], offenders["customer"]["amount"]),
                         ("beta", "30.0000000000"))  # 100 cost - 70 revenue  # fmt: skip
        self.assertEqual(offenders["plan"]["id"], "pro")  # p90 cost 100 above half the week's price

    def test_it_hides_other_orgs(self):
        self.assertEqual(self.api_get(f"/api/v1/economics/plans/?{WEEK}", key=self.charlie_key).json(), [])
        self.assertEqual(self.api_get(f"/api/v1/economics/customers/?{WEEK}", key=self.charlie_key).json(), [])


class RevenuePagesTests(RevenueScenario):
    def test_the_customers_page_shows_margins_and_who_loses_money(self):
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{self.org.code}/customers/?{WEEK}")
        html = page.content.decode()
        self.assertIn("beta", html)
        self.assertIn("loses money", html)
        self.assertIn("83%", html)  # acme's margin after AI

    def test_the_plans_page_checks_the_plan_with_a_histogram(self):
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{self.org.code}/plans/?{WEEK}")
        self.assertContains(page, 'id="plan-checks"')
        self.assertContains(page, "plan-figures")
        self.assertContains(page, "20%")  # the plan's margin after AI

    def test_the_pages_hide_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(f"/o/{self.org.code}/plans/").status_code, 404)
        self.assertEqual(self.client.get(f"/o/{self.org.code}/customers/").status_code, 404)
