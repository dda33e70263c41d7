"""The Stripe settings page: owners and members only, secrets never shown again, customer mapping."""

from django.urls import reverse

from accounts.vault import secret_decrypt
from pricing.models import StripeConnection, StripeCustomer
from tests.base import BaseTestCase

KEY = "rk_live_abcdefghijklmnopWXYZ"
WHSEC = "whsec_0123456789abcdefQRST"


class StripeSettingsPageTests(BaseTestCase):
    def url(self, org=None):
        return reverse("pricing-stripe", args=[(org or self.org).code])

    def test_it_stores_the_key_and_secret_encrypted_and_shows_only_their_last_four(self):
        self.client.force_login(self.alice)
        response = self.client.post(
            self.url(), {"action": "save", "api_key": KEY, "webhook_secret": WHSEC}, follow=True
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "WXYZ")
        self.assertContains(response, "QRST")
        self.assertNotContains(response, KEY)
        self.assertNotContains(response, WHSEC)
        self.assertContains(response, reverse("pricing-stripe-webhook", args=[self.org.code]))
        connection = StripeConnection.objects.for_org(self.org).get()
        self.assertNotIn(KEY, connection.api_key_encrypted)
        self.assertEqual(secret_decrypt(connection.api_key_encrypted), KEY)
        self.assertEqual(secret_decrypt(connection.webhook_secret_encrypted), WHSEC)

    def test_a_blank_field_keeps_the_stored_secret(self):
        self.client.force_login(self.alice)
        self.client.post(self.url(), {"action": "save", "api_key": KEY, "webhook_secret": WHSEC})
        self.client.post(self.url(), {"action": "save", "api_key": "", "webhook_secret": "whsec_new_secret_9999"})
        connection = StripeConnection.objects.for_org(self.org).get()
        self.assertEqual(secret_decrypt(connection.api_key_encrypted), KEY)
        self.assertEqual(connection.webhook_secret_last4, "9999")

    def test_it_refuses_something_that_is_not_a_stripe_key(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url(), {"action": "save", "api_key": "pk_live_publishable"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "starts with rk_")
        self.assertFalse(StripeConnection.objects.for_org(self.org).exists())

    def test_a_member_can_map_a_stripe_customer_to_ours(self):
        customer = StripeCustomer.objects.create(
            org=self.org,
            stripe_id="cus_1",
            metadata_customer_id="acme",
            customer_id="acme",
            state_at="2026-11-01T00:00Z",
        )
        self.client.force_login(self.alice)
        self.client.post(self.url(), {"action": "map", "code": customer.code, "customer_id": "acme-corp"})
        customer.refresh_from_db()
        self.assertEqual((customer.mapped_customer_id, customer.customer_id), ("acme-corp", "acme-corp"))
        self.client.post(self.url(), {"action": "map", "code": customer.code, "customer_id": ""})
        customer.refresh_from_db()
        self.assertEqual(customer.customer_id, "acme")

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url()).status_code, 403)
        response = self.client.post(self.url(), {"action": "save", "api_key": KEY})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(StripeConnection.objects.for_org(self.org).exists())
        self.assertEqual(self.client.post(self.url(), {"action": "sync"}).status_code, 403)

    def test_it_hides_other_orgs(self):
        customer = StripeCustomer.objects.create(
            org=self.org, stripe_id="cus_1", customer_id="acme", state_at="2026-11-01T00:00Z"
        )
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.post(self.url(), {"action": "save", "api_key": KEY}).status_code, 404)
        self.assertFalse(StripeConnection.objects.for_org(self.org).exists())
        # Alice's customer cannot be remapped through Charlie's own page either.
        self.client.post(self.url(self.charlies_org), {"action": "map", "code": customer.code, "customer_id": "x"})
        customer.refresh_from_db()
        self.assertEqual(customer.customer_id, "acme")

    def test_the_settings_tabs_link_it_for_writers_only(self):
        self.client.force_login(self.alice)
        self.assertContains(self.client.get(reverse("accounts-api-keys", args=[self.org.code])), self.url())
        self.client.force_login(self.bob)
        self.assertNotContains(self.client.get(reverse("accounts-org-settings", args=[self.org.code])), self.url())
