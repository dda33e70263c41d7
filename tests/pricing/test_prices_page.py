"""The prices page: unpriced models with their counts, adding a price, the org's own prices."""

from datetime import UTC, date, datetime
from decimal import Decimal

from django.urls import reverse

from ingest.models import UsageEvent
from pricing.models import PriceOverride
from pricing.services.prices import price_override_create
from tests.base import BaseTestCase
from tests.pricing.helpers import usage_event

D = Decimal
FORM = {
    "provider": "openai",
    "model": "ft:gpt-4o:acme",
    "effective_from": "2026-03-01",
    "currency": "USD",
    "input_per_mtok": "3.75",
    "output_per_mtok": "15.00",
    "note": "fine-tune, list price",
}


MARCH = "?start=2026-02-01&end=2026-04-01"  # the calls below; the page shows the last complete week by default


class PricesPageTests(BaseTestCase):
    def url(self, org=None):
        return reverse("pricing-prices", kwargs={"org_code": (org or self.org).code})

    def setUp(self):
        march = datetime(2026, 3, 2, 9, tzinfo=UTC)
        usage_event(self.org, "ft-1", model="ft:gpt-4o:acme", at=march, input_tokens=1000, output_tokens=200)
        usage_event(
            self.org, "ft-2", model="ft:gpt-4o:acme", at=march, input_tokens=2000, output_tokens=0, request_count=4
        )
        usage_event(self.org, "old", model="ft:gpt-4o:acme", at=datetime(2026, 2, 1, tzinfo=UTC))
        usage_event(self.org, "llama", provider="self-hosted", model="llama-3.1-8b", at=march)
        usage_event(self.charlies_org, "charlie-1", model="charlies-secret-model", at=march)

    def test_it_lists_unpriced_models_with_their_counts(self):
        self.client.force_login(self.alice)
        response = self.client.get(self.url() + MARCH)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Model prices")
        self.assertContains(response, "7 calls are unpriced: they are counted, never shown as $0.00.")
        rows = response.context["unpriced"]
        self.assertEqual(
            rows,
            [
                {"provider": "openai", "model": "ft:gpt-4o:acme", "calls": 6, "events": 3},
                {"provider": "self-hosted", "model": "llama-3.1-8b", "calls": 1, "events": 1},
            ],
        )
        self.assertContains(response, "?provider=openai&amp;model=ft%3Agpt-4o%3Aacme#add-price")
        self.assertNotContains(response, "charlies-secret-model")

    def test_it_prefills_the_form_from_an_unpriced_row(self):
        self.client.force_login(self.alice)
        response = self.client.get(self.url() + "?provider=self-hosted&model=llama-3.1-8b")
        self.assertContains(response, 'value="llama-3.1-8b"')
        self.assertContains(response, 'value="self-hosted"')
        self.assertContains(response, 'value="USD"')

    def test_it_shows_the_page_to_a_viewer_without_the_form(self):
        self.client.force_login(self.bob)
        response = self.client.get(self.url() + MARCH)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "ft:gpt-4o:acme")
        self.assertNotContains(response, 'id="add-price"')
        self.assertNotContains(response, "#add-price")

    def test_it_says_so_when_every_call_has_a_price(self):
        UsageEvent.objects.for_org(self.org).delete()
        self.client.force_login(self.alice)
        response = self.client.get(self.url())
        self.assertContains(response, "Every call has a price")
        self.assertNotContains(response, "unpriced: they are counted")

    def test_it_adds_a_price_and_prices_those_calls(self):
        self.client.force_login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.url(), FORM)
        self.assertRedirects(response, self.url(), fetch_redirect_response=False)
        override = PriceOverride.objects.for_org(self.org).get()
        self.assertEqual((override.input_per_mtok, override.created_by), (D("3.75"), self.alice))
        costs = dict(UsageEvent.objects.for_org(self.org).values_list("event_id", "cost_amount"))
        self.assertEqual(costs["ft-1"], D("0.00675"))  # 1000 x 3.75 + 200 x 15
        self.assertEqual(costs["ft-2"], D("0.0075"))  # 2000 x 3.75
        self.assertIsNone(costs["old"])  # before the price's date: still unpriced
        self.assertIsNone(costs["llama"])
        response = self.client.get(self.url())
        self.assertContains(response, "Price saved for openai / ft:gpt-4o:acme from 1 Mar 2026")
        self.assertContains(response, "$3.75")
        self.assertContains(response, "fine-tune, list price")
        self.assertEqual(UsageEvent.objects.get(org=self.charlies_org).cost_source, "unpriced")
        self.assertContains(self.client.get(self.url() + MARCH), "2 calls are unpriced")

    def test_it_adds_a_gpu_hour_price_for_a_self_hosted_model(self):
        UsageEvent.objects.filter(event_id="llama").update(metadata={"gpu_seconds": 90})
        self.client.force_login(self.alice)
        form = {
            "provider": "Self-Hosted",
            "model": "llama-3.1-8b",
            "effective_from": "2026-01-01",
            "currency": "usd",
            "gpu_hour_amount": "2.40",
        }
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.url(), form)
        self.assertRedirects(response, self.url())
        self.assertEqual(UsageEvent.objects.get(event_id="llama").cost_amount, D("0.06"))  # 90 / 3600 x 2.40

    def test_it_refuses_a_price_without_any_amount(self):
        self.client.force_login(self.alice)
        form = {key: value for key, value in FORM.items() if not key.endswith("_mtok")}
        response = self.client.post(self.url(), form)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Give at least one price")
        self.assertFalse(PriceOverride.objects.exists())

    def test_it_refuses_negative_prices(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url(), {**FORM, "output_per_mtok": "-1"})
        self.assertEqual(response.status_code, 200)
        self.assertFalse(PriceOverride.objects.exists())

    def test_it_lists_the_orgs_own_prices_only(self):
        price_override_create(
            org=self.charlies_org,
            provider="openai",
            model="charlies-secret-model",
            effective_from=date(2026, 1, 1),
            currency="USD",
            input_per_mtok="0.075",
        )
        price_override_create(
            org=self.org,
            provider="openai",
            model="gpt-4o",
            effective_from=date(2026, 1, 1),
            currency="USD",
            input_per_mtok="0.075",
            output_per_mtok="10",
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url())
        self.assertContains(response, "$0.075")  # a unit price is shown in full, not rounded to the cent
        self.assertContains(response, "$10.00")
        self.assertNotContains(response, "charlies-secret-model")

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.post(self.url(), FORM).status_code, 404)
        self.assertFalse(PriceOverride.objects.exists())

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(self.url(), FORM).status_code, 403)
        self.assertFalse(PriceOverride.objects.exists())

    def test_it_sends_anonymous_visitors_to_login(self):
        response = self.client.get(self.url())
        self.assertRedirects(response, reverse("accounts-login") + "?next=" + self.url(), fetch_redirect_response=False)

    def test_it_returns_404_for_an_unknown_org(self):
        self.client.force_login(self.alice)
        url = reverse("pricing-prices", kwargs={"org_code": "00000000-0000-0000-0000-000000000000"})
        self.assertEqual(self.client.get(url).status_code, 404)
