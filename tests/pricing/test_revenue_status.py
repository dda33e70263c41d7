"""The Sources page's Stripe card says whether revenue is connected."""

from finops.services.demo import demo_revenue_import
from tests.base import BaseTestCase


class RevenueStatusCardTests(BaseTestCase):
    def test_a_new_org_is_invited_to_connect_stripe(self):
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{self.org.code}/sources/")
        self.assertContains(page, "Connect Stripe")
        self.assertContains(page, "not connected")

    def test_it_counts_invoices_once_revenue_arrived(self):
        demo_revenue_import(org=self.org)  # signed webhooks, as the demo loads them
        self.client.force_login(self.bob)
        page = self.client.get(f"/o/{self.org.code}/sources/")
        self.assertContains(page, "38 customers")
        self.assertNotContains(page, "Connect Stripe")  # a viewer gets no settings link
