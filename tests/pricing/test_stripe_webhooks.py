"""Stripe webhooks, signed with the stripe library's own scheme (HMAC-SHA256 over f"{timestamp}.{payload}").

No server is needed: Stripe posts to us. The payloads use the current API's shapes (invoice.parent,
line.pricing.price_details, total_taxes), which localstripe does not speak.
"""

import json
import time
from decimal import Decimal

import stripe
from django.test import Client
from django.urls import reverse

from pricing.models import StripeCustomer, StripeEvent, StripeInvoice, StripeSubscription
from pricing.services.stripe_sync import stripe_connection_save
from tests.base import BaseTestCase

SECRET_A = "whsec_alice_0123456789abcdef"
SECRET_B = "whsec_charlie_fedcba9876543210"
T0 = 1_790_000_000


def subscription(status="active", *, quantity=1, price_id="price_pro"):
    return {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "created": T0,
        "currency": "usd",
        "trial_start": None,
        "trial_end": None,
        "cancel_at_period_end": False,
        "canceled_at": T0 + 500 if status == "canceled" else None,
        "metadata": {},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "created": T0,
                    "quantity": quantity,
                    "current_period_start": T0,
                    "current_period_end": T0 + 30 * 86400,
                    "price": {
                        "id": price_id,
                        "object": "price",
                        "created": T0,
                        "currency": "usd",
                        "unit_amount": 4900,
                        "unit_amount_decimal": "4900",
                        "nickname": "Pro",
                        "product": "prod_1",
                        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
                        "active": True,
                    },
                }
            ],
        },
    }


def invoice(status="paid", *, amount_paid=10890):
    return {
        "id": "in_1",
        "object": "invoice",
        "customer": "cus_1",
        "created": T0,
        "currency": "usd",
        "status": status,
        "amount_due": 10890,
        "amount_paid": amount_paid,
        "amount_remaining": 10890 - amount_paid,
        "subtotal": 9800,
        "total": 10890,
        "total_taxes": [{"amount": 1580, "tax_behavior": "exclusive"}],
        "total_discount_amounts": [{"amount": 490, "discount": "di_1"}],
        "pre_payment_credit_notes_amount": 0,
        "post_payment_credit_notes_amount": 0,
        "period_start": T0,
        "period_end": T0 + 30 * 86400,
        "status_transitions": {"paid_at": T0 + 60 if status == "paid" else None},
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}},
        "lines": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": "il_1",
                    "object": "line_item",
                    "amount": 9800,
                    "currency": "usd",
                    "description": "2 x Pro",
                    "quantity": 2,
                    "period": {"start": T0, "end": T0 + 30 * 86400},
                    "pricing": {"type": "price_details", "price_details": {"price": "price_pro", "product": "prod_1"}},
                    "parent": {
                        "type": "subscription_item_details",
                        "subscription_item_details": {"subscription": "sub_1", "proration": False},
                    },
                }
            ],
        },
    }


def event(event_id, event_type, obj, *, created=T0 + 100):
    return {"id": event_id, "object": "event", "type": event_type, "created": created, "data": {"object": obj}}


class StripeWebhookTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        stripe_connection_save(org=cls.org, webhook_secret=SECRET_A)
        stripe_connection_save(org=cls.charlies_org, webhook_secret=SECRET_B)

    def post(self, payload, *, secret=SECRET_A, org=None, timestamp=None, header=True):
        body = payload if isinstance(payload, str) else json.dumps(payload)
        headers = {}
        if header:
            signature = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
            headers["HTTP_STRIPE_SIGNATURE"] = signature
        url = reverse("pricing-stripe-webhook", args=[(org or self.org).code])
        return self.client.post(url, body, content_type="application/json", **headers)

    def snapshot(self):
        return (
            list(StripeEvent.objects.for_org(self.org).values_list("stripe_id", "applied")),
            list(StripeSubscription.objects.for_org(self.org).values_list("stripe_id", "status", "state_at")),
            list(StripeInvoice.objects.for_org(self.org).values_list("stripe_id", "status", "paid_amount")),
        )

    def test_it_applies_a_signed_subscription_update(self):
        response = self.post(event("evt_1", "customer.subscription.updated", subscription(quantity=3)))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"id": "evt_1", "duplicate": False, "applied": True})
        sub = StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_1")
        self.assertEqual(sub.status, "active")
        item = sub.items.get()
        self.assertEqual((item.quantity, item.price.unit_amount, item.price.plan_name), (3, Decimal("49.00"), "Pro"))
        self.assertEqual(int(sub.current_period_end.timestamp()), T0 + 30 * 86400)

    def test_it_applies_a_paid_invoice_to_the_cent(self):
        self.post(
            event(
                "evt_c",
                "customer.created",
                {
                    "id": "cus_1",
                    "object": "customer",
                    "email": "a@acme.test",
                    "metadata": {"customer_id": "acme"},
                    "created": T0,
                },
            )
        )
        self.post(event("evt_s", "customer.subscription.created", subscription()))
        response = self.post(event("evt_i", "invoice.paid", invoice()))
        self.assertEqual(response.status_code, 200)
        paid = StripeInvoice.objects.for_org(self.org).get(stripe_id="in_1")
        self.assertEqual(
            (paid.paid_amount, paid.total_amount, paid.subtotal_amount, paid.tax_amount, paid.discount_amount),
            (Decimal("108.90"), Decimal("108.90"), Decimal("98.00"), Decimal("15.80"), Decimal("4.90")),
        )
        self.assertEqual((paid.remaining_amount, paid.credit_note_amount), (Decimal("0"), Decimal("0")))
        self.assertIsNone(paid.refunded_amount)  # not exposed on the invoice: unknown, not 0
        self.assertEqual(paid.customer.customer_id, "acme")
        self.assertEqual(paid.subscription.stripe_id, "sub_1")
        line = paid.lines.get()
        self.assertEqual((line.amount, line.quantity, line.price.stripe_id), (Decimal("98.00"), 2, "price_pro"))
        self.assertEqual(line.subscription_stripe_id, "sub_1")

    def test_it_updates_the_customer_and_keeps_a_users_mapping(self):
        customer = {
            "id": "cus_1",
            "object": "customer",
            "email": "a@acme.test",
            "created": T0,
            "metadata": {"finops_customer": "acme"},
        }
        self.post(event("evt_1", "customer.created", customer))
        StripeCustomer.objects.for_org(self.org).filter(stripe_id="cus_1").update(
            mapped_customer_id="acme-corp", customer_id="acme-corp"
        )
        self.post(event("evt_2", "customer.updated", {**customer, "email": "billing@acme.test"}, created=T0 + 200))
        stored = StripeCustomer.objects.for_org(self.org).get(stripe_id="cus_1")
        self.assertEqual(
            (stored.email, stored.customer_id, stored.metadata_customer_id), ("billing@acme.test", "acme-corp", "acme")
        )

    def test_it_rejects_an_unsigned_event(self):
        response = self.post(event("evt_1", "customer.subscription.updated", subscription()), header=False)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.snapshot(), ([], [], []))

    def test_it_rejects_a_forged_signature(self):
        response = self.post(event("evt_1", "invoice.paid", invoice()), secret="whsec_guessed")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.snapshot(), ([], [], []))

    def test_it_rejects_a_tampered_body(self):
        body = json.dumps(event("evt_1", "invoice.paid", invoice()))
        signature = stripe.WebhookSignature.generate_signature_header(body, SECRET_A)
        tampered = body.replace("10890", "99999")
        url = reverse("pricing-stripe-webhook", args=[self.org.code])
        response = self.client.post(url, tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.snapshot(), ([], [], []))

    def test_it_rejects_a_stale_timestamp(self):
        stale = int(time.time()) - 301  # outside the library's 300-second tolerance
        response = self.post(event("evt_1", "invoice.paid", invoice()), timestamp=stale)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.snapshot(), ([], [], []))

    def test_it_cannot_be_driven_with_another_orgs_secret(self):
        response = self.post(event("evt_1", "invoice.paid", invoice()), secret=SECRET_B)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.snapshot(), ([], [], []))
        self.assertEqual(
            self.post(event("evt_1", "invoice.paid", invoice()), secret=SECRET_B, org=self.charlies_org).status_code,
            200,
        )
        self.assertFalse(StripeInvoice.objects.for_org(self.org).exists())
        self.assertTrue(StripeInvoice.objects.for_org(self.charlies_org).filter(stripe_id="in_1").exists())

    def test_it_rejects_an_unknown_org_like_a_bad_signature(self):
        url = reverse("pricing-stripe-webhook", args=["00000000-0000-4000-8000-000000000000"])
        body = json.dumps(event("evt_1", "invoice.paid", invoice()))
        signature = stripe.WebhookSignature.generate_signature_header(body, SECRET_A)
        response = self.client.post(url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
        self.assertEqual(response.status_code, 400)

    def test_it_ignores_a_replay(self):
        self.post(event("evt_1", "invoice.updated", invoice("open", amount_paid=0)))
        before = self.snapshot()
        # The same event id again, even with other content and a fresh signature, changes nothing.
        response = self.post(event("evt_1", "invoice.updated", invoice("paid"), created=T0 + 900))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.json()["duplicate"])
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(StripeInvoice.objects.for_org(self.org).get().paid_amount, Decimal("0"))

    def test_it_keeps_the_newer_state_when_events_arrive_out_of_order(self):
        canceled = event("evt_2", "customer.subscription.deleted", subscription("canceled"), created=T0 + 500)
        older = event("evt_1", "customer.subscription.updated", subscription("active", quantity=5), created=T0 + 100)
        self.post(canceled)
        response = self.post(older)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(response.json()["applied"])
        sub = StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_1")
        self.assertEqual((sub.status, sub.items.get().quantity), ("canceled", 1))
        self.assertEqual(int(sub.state_at.timestamp()), T0 + 500)
        self.assertEqual(
            dict(StripeEvent.objects.for_org(self.org).values_list("stripe_id", "applied")),
            {"evt_1": False, "evt_2": True},
        )

    def test_a_paid_invoice_is_not_undone_by_a_late_open_update(self):
        self.post(event("evt_2", "invoice.paid", invoice("paid"), created=T0 + 300))
        self.post(event("evt_1", "invoice.updated", invoice("open", amount_paid=0), created=T0 + 200))
        paid = StripeInvoice.objects.for_org(self.org).get()
        self.assertEqual((paid.status, paid.paid_amount), ("paid", Decimal("108.90")))

    def test_a_first_page_of_lines_does_not_drop_the_others(self):
        full = invoice()
        second = {**full["lines"]["data"][0], "id": "il_2", "amount": 1090, "description": "tax line"}
        full["lines"]["data"].append(second)
        self.post(event("evt_1", "invoice.paid", full))
        page = invoice()
        page["lines"]["has_more"] = True
        self.post(event("evt_2", "invoice.updated", page, created=T0 + 200))
        lines = StripeInvoice.objects.for_org(self.org).get().lines.order_by("stripe_id")
        self.assertEqual([line.stripe_id for line in lines], ["il_1", "il_2"])

    def test_it_needs_no_session_or_csrf_but_only_post(self):
        self.client = Client(enforce_csrf_checks=True)
        self.assertEqual(self.post(event("evt_1", "invoice.paid", invoice())).status_code, 200)
        url = reverse("pricing-stripe-webhook", args=[self.org.code])
        self.assertEqual(self.client.get(url).status_code, 405)
