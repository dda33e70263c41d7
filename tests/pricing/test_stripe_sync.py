"""The Stripe sync against a real localstripe server: rows and money to the cent, idempotent, incremental.

Gaps of localstripe filled server-side by tests/pricing/localstripe_shim.py (nothing is mocked in the client):
`created[...]` filters on lists, `GET /v1/prices` (answered with the plans in price shape), restricted
`rk_` keys. localstripe speaks the older API shape (invoice.subscription, line.plan, tax), so the
current shape's fields are covered by the webhook tests' payloads.
"""

import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from accounts.vault import secret_decrypt
from pricing.models import (
    StripeConnection,
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceLine,
    StripePrice,
    StripeProduct,
    StripeSubscription,
    StripeSubscriptionItem,
)
from pricing.services.stripe_sync import StripeSyncError, stripe_connection_save, stripe_sync_run
from pricing.tasks import stripe_sync_all
from tests.base import BaseTestCase
from tests.pricing.stripe_helpers import KEY, localstripe_base, localstripe_reset, scenario_build

MIRRORS = (
    StripeProduct,
    StripePrice,
    StripeCustomer,
    StripeSubscription,
    StripeSubscriptionItem,
    StripeInvoice,
    StripeInvoiceLine,
)


class StripeSyncTests(BaseTestCase):
    def setUp(self):
        self.base = localstripe_base()
        self.client_stripe = localstripe_reset(self.base)
        self.ids = scenario_build(self.client_stripe)
        self.settings_override = override_settings(STRIPE_API_BASE=self.base)
        self.settings_override.enable()
        self.addCleanup(self.settings_override.disable)

    def sync(self, **kwargs):
        return stripe_sync_run(org=self.org, api_key=KEY, **kwargs)

    def counts(self, org=None):
        return {model.__name__: model.objects.for_org(org or self.org).count() for model in MIRRORS}

    def test_it_stores_products_plans_and_prices_with_exact_amounts(self):
        self.sync()
        pro = StripePrice.objects.for_org(self.org).get(stripe_id="pro-monthly")
        self.assertEqual(pro.unit_amount, Decimal("49.00"))
        self.assertEqual((pro.currency, pro.interval, pro.interval_count), ("USD", "month", 1))
        self.assertEqual(pro.nickname, "Pro monthly")
        self.assertEqual(pro.product.name, "Pro")
        self.assertEqual(pro.plan_name, "Pro monthly")
        self.assertEqual(pro.kind, StripePrice.Kind.PLAN)
        jpy = StripePrice.objects.for_org(self.org).get(stripe_id="starter-jpy")
        self.assertEqual((jpy.unit_amount, jpy.currency), (Decimal("5000"), "JPY"))  # zero-decimal: not 50.00
        self.assertEqual(StripeProduct.objects.for_org(self.org).count(), 2)

    def test_it_ties_customers_to_ours_by_metadata(self):
        self.sync()
        by_email = {c.email: c for c in StripeCustomer.objects.for_org(self.org)}
        self.assertEqual(by_email["billing@acme.test"].customer_id, "acme")
        self.assertEqual(by_email["ops@globex.test"].customer_id, "globex")
        self.assertEqual(by_email["it@initech.test"].customer_id, "")
        self.assertEqual(by_email["billing@acme.test"].name, "Acme")

    def test_it_stores_subscriptions_with_items_and_trials(self):
        self.sync()
        paid = StripeSubscription.objects.for_org(self.org).get(stripe_id=self.ids["paid"])
        self.assertEqual(paid.status, "active")
        self.assertEqual(paid.customer.customer_id, "acme")
        self.assertIsNone(paid.trial_end)
        self.assertIsNotNone(paid.current_period_start)
        item = StripeSubscriptionItem.objects.for_org(self.org).get(subscription=paid)
        self.assertEqual((item.price.stripe_id, item.quantity), ("pro-monthly", 2))
        trial = StripeSubscription.objects.for_org(self.org).get(stripe_id=self.ids["trial"])
        self.assertEqual(trial.status, "trialing")
        self.assertEqual(trial.trial_end - trial.trial_start, timedelta(days=14))
        self.assertEqual(trial.customer.customer_id, "globex")

    def test_it_stores_invoices_and_what_was_paid_to_the_cent(self):
        self.sync()
        first = StripeInvoice.objects.for_org(self.org).get(stripe_id=self.ids["first_invoice"])
        self.assertEqual(first.status, "paid")
        self.assertEqual((first.due_amount, first.paid_amount, first.total_amount), (Decimal("98.00"),) * 3)
        self.assertEqual((first.tax_amount, first.discount_amount, first.currency), (Decimal("0"), Decimal("0"), "USD"))
        self.assertEqual(first.subscription.stripe_id, self.ids["paid"])
        self.assertEqual(first.customer.customer_id, "acme")
        self.assertIsNotNone(first.paid_at)
        self.assertIsNotNone(first.period_start)
        line = StripeInvoiceLine.objects.for_org(self.org).get(invoice=first)
        self.assertEqual((line.amount, line.quantity, line.price.stripe_id), (Decimal("98.00"), 2, "pro-monthly"))
        self.assertEqual(line.period_end - line.period_start, first.period_end - first.period_start)
        extra = StripeInvoice.objects.for_org(self.org).get(stripe_id=self.ids["extra_invoice"])
        stripe_says = self.client_stripe.v1.invoices.retrieve(self.ids["extra_invoice"])
        self.assertEqual(extra.paid_amount, Decimal(stripe_says.amount_paid) / 100)
        burst = StripeInvoiceLine.objects.for_org(self.org).get(invoice=extra, description="GPU burst pack")
        self.assertEqual((burst.amount, burst.price), (Decimal("12.34"), None))
        self.assertEqual(extra.paid_amount, sum(line.amount for line in extra.lines.all()))

    def test_it_changes_nothing_when_run_twice(self):
        first = self.sync()
        counts = self.counts()
        amounts = list(StripeInvoice.objects.for_org(self.org).values_list("stripe_id", "paid_amount"))
        second = self.sync()
        self.assertEqual(self.counts(), counts)
        self.assertEqual(list(StripeInvoice.objects.for_org(self.org).values_list("stripe_id", "paid_amount")), amounts)
        self.assertEqual(second.seen["customers"], first.seen["customers"])  # same second: gte reads it again
        self.assertEqual(counts["StripeCustomer"], 3)
        self.assertEqual(counts["StripeSubscription"], 2)

    def created_since(self, cursor: int) -> int:
        """How many of the server's customers were created at or after the cursor's second."""
        customers = self.client_stripe.v1.customers.list(params={"limit": 100}).data
        return sum(1 for customer in customers if customer.created >= cursor)

    def test_it_picks_up_a_new_customer_incrementally(self):
        self.sync()
        cursor = StripeConnection.objects.for_org(self.org).get().cursors["customers"]
        time.sleep(1.1)  # Stripe's `created` has second resolution
        self.client_stripe.v1.customers.create(params={"email": "new@hooli.test", "metadata": {"customer_id": "hooli"}})
        # created[gte]: the customers of the cursor's own second are read again, with the new one
        self.assertEqual(self.sync().seen["customers"], self.created_since(cursor))
        self.assertGreaterEqual(self.created_since(cursor), 2)
        self.assertTrue(StripeCustomer.objects.for_org(self.org).filter(customer_id="hooli").exists())
        self.assertGreater(StripeConnection.objects.for_org(self.org).get().cursors["customers"], cursor)
        time.sleep(1.1)
        self.client_stripe.v1.customers.create(params={"email": "x@pied.test", "metadata": {"customer_id": "pied"}})
        second_cursor = StripeConnection.objects.for_org(self.org).get().cursors["customers"]
        result = self.sync()
        self.assertEqual(result.seen["customers"], self.created_since(second_cursor))  # only from the cursor on
        self.assertLess(result.seen["customers"], 5)
        self.assertEqual(StripeCustomer.objects.for_org(self.org).count(), 5)
        self.assertEqual(self.sync(full=True).seen["customers"], 5)

    def test_it_keeps_each_org_to_its_own_rows(self):
        self.sync()
        self.assertEqual(set(self.counts(self.charlies_org).values()), {0})

    def test_the_command_stores_the_key_then_syncs(self):
        out = StringIO()
        call_command("stripe_sync", "--org", str(self.org.code), "--api-key", KEY, stdout=out)
        self.assertIn("3 customers", out.getvalue())
        self.assertEqual(len(out.getvalue().strip().splitlines()), 1)
        connection = StripeConnection.objects.for_org(self.org).get()
        self.assertEqual(connection.api_key_last4, KEY[-4:])
        self.assertNotIn(KEY, connection.api_key_encrypted)
        self.assertEqual(secret_decrypt(connection.api_key_encrypted), KEY)
        self.assertEqual(StripeCustomer.objects.for_org(self.org).count(), 3)

    def test_the_command_fails_without_a_key(self):
        with self.assertRaisesMessage(CommandError, "No Stripe key"):
            call_command("stripe_sync", "--org", str(self.org.code), stdout=StringIO())

    def test_it_reports_a_key_stripe_refuses_and_keeps_the_rows(self):
        stripe_sync_run(org=self.org, api_key=KEY)
        counts = self.counts()
        with self.assertRaisesMessage(StripeSyncError, "Stripe refused the sync"):
            stripe_sync_run(org=self.org, api_key="not-a-key")
        self.assertEqual(self.counts(), counts)
        self.assertIn("Stripe refused", StripeConnection.objects.for_org(self.org).get().last_error)

    def test_the_periodic_task_fans_out_to_connected_orgs(self):
        stripe_connection_save(org=self.org, api_key=KEY)
        self.assertEqual(stripe_sync_all.delay().get(), 1)
        self.assertEqual(StripeCustomer.objects.for_org(self.org).count(), 3)
        self.assertEqual(StripeCustomer.objects.for_org(self.charlies_org).count(), 0)

    def test_sync_now_on_the_settings_page_runs_the_sync(self):
        stripe_connection_save(org=self.org, api_key=KEY)
        self.client.force_login(self.alice)
        url = reverse("pricing-stripe", args=[self.org.code])
        response = self.client.post(url, {"action": "sync"}, follow=True)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "3 customers")
        self.assertNotContains(response, KEY)
        self.assertEqual(StripeSubscription.objects.for_org(self.org).count(), 2)
