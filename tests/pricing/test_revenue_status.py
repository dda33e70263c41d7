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
        self.assertContains(page, "43 customers")  # 34 paying, 4 trials, 5 on contracts
        self.assertNotContains(page, "Connect Stripe")  # a viewer gets no settings link


class PlanChangeRecomputeTests(BaseTestCase):
    def test_a_subscription_arriving_marks_its_days_for_recompute(self):
        from datetime import timedelta

        from django.utils import timezone

        from ingest.models import DirtyDay
        from pricing.services.stripe_objects import subscription_upsert

        started = timezone.now() - timedelta(days=3)
        obj = {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
               "created": int(started.timestamp()), "items": {"object": "list", "data": []}}  # fmt: skip
        subscription_upsert(org=self.org, obj=obj, state_at=timezone.now())
        days = set(DirtyDay.objects.filter(org=self.org).values_list("day", flat=True))
        self.assertEqual(days, {(started + timedelta(days=i)).date() for i in range(4)})
