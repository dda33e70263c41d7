"""The build-versus-rent page (/o/<org>/build-vs-rent/): rate card, measured utilisation, options, chart."""

import json
from datetime import date, timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from finops.models import GpuRate
from finops.selectors.build_rent import gpu_name_matches, gpu_rate_card, gpu_type_utilisation
from finops.services.build_rent import gpu_rate_save
from tests.base import BaseTestCase
from tests.ingest.test_agent_api import batch, post_batch

RATE_POST = {"gpu_type": "H100 SXM", "match_name": "H100", "on_demand_hourly_amount": "2.50",
             "reserved_1y_hourly_amount": "2.00", "reserved_3y_hourly_amount": "", "spot_hourly_amount": "1.20",
             "purchase_amount": "30000", "power_watts": "1100", "currency": "usd", "source": "Quote from Acme GPUs",
             "as_of": "2026-11-01"}  # fmt: skip


def agent_hour(client, org, user, start):
    """An hour of two H100s: GPU 0 busy (90%) for the whole hour, GPU 1 idle, so 50% busy."""
    response = post_batch(client, org, user, batch("h100-1", start=start, ticks=360, util=(90, 0)))
    assert response.status_code == 201, response.content


class BuildVsRentPageTests(BaseTestCase):
    def setUp(self):
        self.url = reverse("finops-build-vs-rent", kwargs={"org_code": self.org.code})

    def test_it_compares_the_options_at_the_measured_utilisation(self):
        start = (timezone.now() - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        agent_hour(self.client, self.org, self.alice, start)
        self.client.force_login(self.bob)
        page = self.client.get(self.url)
        self.assertEqual(page.status_code, 200)
        self.assertEqual(page.context["rate"].gpu_type, "H100 SXM")
        self.assertEqual(page.context["measured_pct"], Decimal("50.0"))
        self.assertTrue(page.context["uses_measured"])
        self.assertEqual(page.context["measured"]["gpus"], 2)
        self.assertEqual(page.context["measured"]["hosts"], ["gpu-box-1"])
        self.assertContains(page, "50.0% busy over the last 30 days on 2 H100 GPUs (gpu-box-1)")
        result = page.context["result"]
        # the 2 GPUs measured x 730 h x 50% = 730 used GPU-hours; on-demand at the list price 2.99
        self.assertEqual(page.context["form"]["gpu_count"].value(), "2")
        self.assertEqual(result.used_gpu_hours_per_month, Decimal(730))
        on_demand = result.rent[0]
        self.assertEqual(on_demand.monthly_amount, Decimal("2.99") * 730)
        self.assertContains(page, "$2,182.70")
        self.assertEqual(page.context["form"]["staff_amount"].value(), "500")
        self.assertEqual([o.key for o in result.options], ["on_demand", "reserved_1y", "reserved_3y", "spot", "buy"])
        figure = json.loads(page.context["figures"] and json.dumps(page.context["figures"]))["cumulative"]
        self.assertEqual([t["name"] for t in figure["data"]][:5], [o.label for o in result.options])
        self.assertEqual(len(figure["data"][0]["x"]), 37)
        self.assertContains(page, 'id="build-rent-figures"')
        self.assertContains(page, "build_vs_rent.js")

    def test_it_falls_back_to_the_entered_utilisation_without_agent_data(self):
        self.client.force_login(self.alice)
        page = self.client.get(self.url, {"gpu_type": "L4"})
        self.assertIsNone(page.context["measured"])
        self.assertEqual(page.context["form"]["utilisation_pct"].value(), "50")
        self.assertContains(page, "No agent reports L4 GPUs over the last 30 days")
        filled = {**page.context["form"].data, "utilisation_pct": "80", "gpu_count": "2", "months": "24"}
        page = self.client.get(self.url, filled)
        self.assertEqual(page.context["result"].used_gpu_hours_per_month, Decimal(2 * 730) * Decimal("0.8"))
        self.assertEqual(len(page.context["result"].buy.cumulative), 25)

    def test_it_says_when_the_entered_value_replaces_the_measured_one(self):
        start = (timezone.now() - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        agent_hour(self.client, self.org, self.alice, start)
        self.client.force_login(self.alice)
        data = {**self.client.get(self.url).context["form"].data, "utilisation_pct": "90"}
        page = self.client.get(self.url, data)
        self.assertFalse(page.context["uses_measured"])
        self.assertContains(page, "uses the utilisation entered; the agent measured 50.0%")
        self.assertEqual(page.context["result"].used_gpu_hours_per_month, Decimal(2 * 730) * Decimal("0.9"))

    def test_it_refills_the_inputs_when_another_gpu_type_is_chosen(self):
        self.client.force_login(self.alice)
        data = {**self.client.get(self.url).context["form"].data, "gpu_type": "L40S", "gpu_count": "4", "months": "60"}
        page = self.client.get(self.url, data)
        form = page.context["form"]
        self.assertEqual((form["on_demand"].value(), form["gpu_count"].value()), ("1.861", "8"))
        self.assertEqual((form["months"].value(), form["staff_amount"].value()), ("60", "2000"))
        self.assertEqual(form["filled_for"].value(), "L40S")

    def test_it_shows_errors_and_no_result_for_bad_inputs(self):
        self.client.force_login(self.alice)
        data = {**self.client.get(self.url).context["form"].data, "utilisation_pct": "140", "lifetime_months": "0"}
        page = self.client.get(self.url, data)
        self.assertIsNone(page.context["result"])
        self.assertIn("utilisation_pct", page.context["form"].errors)
        self.assertIn("lifetime_months", page.context["form"].errors)

    def test_it_says_the_prices_are_list_prices_to_overwrite(self):
        self.client.force_login(self.alice)
        page = self.client.get(self.url)
        self.assertContains(page, "public list prices")
        self.assertContains(page, "Overwrite them with your own quotes")
        self.assertContains(page, "as of 1 Jun 2025")

    def test_it_saves_the_rate_card_for_writers(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url, RATE_POST)
        self.assertRedirects(response, self.url + "?gpu_type=H100+SXM", fetch_redirect_response=False)
        rate = GpuRate.objects.get(org=self.org)
        self.assertEqual((rate.on_demand_hourly_amount, rate.reserved_3y_hourly_amount, rate.currency, rate.as_of),
                         (Decimal("2.50"), None, "USD", date(2026, 11, 1)))  # fmt: skip
        page = self.client.get(response.url)
        self.assertContains(page, "Rate card saved for H100 SXM.")
        self.assertEqual(page.context["form"]["on_demand"].value(), "2.5")
        self.assertEqual([o.key for o in page.context["result"].rent], ["on_demand", "reserved_1y", "spot"])
        self.assertContains(page, "Quote from Acme GPUs")

    def test_it_rejects_a_bad_rate_card(self):
        self.client.force_login(self.alice)
        page = self.client.post(self.url, {**RATE_POST, "purchase_amount": "-1", "currency": "DOLLAR"})
        self.assertEqual(page.status_code, 200)
        self.assertIn("purchase_amount", page.context["rate_form"].errors)
        self.assertIn("currency", page.context["rate_form"].errors)
        self.assertFalse(GpuRate.objects.exists())

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)
        self.assertEqual(self.client.post(self.url, RATE_POST).status_code, 404)
        self.assertFalse(GpuRate.objects.exists())

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        page = self.client.get(self.url)
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, "Save the rate card")
        self.assertEqual(self.client.post(self.url, RATE_POST).status_code, 403)
        self.assertFalse(GpuRate.objects.exists())

    def test_it_is_linked_from_the_sidebar(self):
        self.client.force_login(self.alice)
        page = self.client.get(reverse("finops-founder-table", kwargs={"org_code": self.org.code}))
        self.assertContains(page, f'href="{self.url}"')


class RateCardAndUtilisationTests(BaseTestCase):
    def test_it_prefills_the_card_with_list_prices_until_saved(self):
        card = gpu_rate_card(org=self.org)
        self.assertEqual([r.gpu_type for r in card], ["H100 SXM", "A100 80GB", "L40S", "L4"])
        self.assertTrue(all(r.pk is None and r.source and r.as_of for r in card))
        gpu_rate_save(org=self.org, gpu_type="L4", match_name="L4", purchase_amount=Decimal(3000), power_watts=120,
                      currency="eur")  # fmt: skip
        gpu_rate_save(org=self.org, gpu_type="B200", match_name="B200", purchase_amount=Decimal(50000),
                      power_watts=1500, currency="USD")  # fmt: skip
        card = gpu_rate_card(org=self.org)
        self.assertEqual([r.gpu_type for r in card], ["H100 SXM", "A100 80GB", "L40S", "L4", "B200"])
        self.assertEqual((card[3].currency, card[3].on_demand_hourly_amount), ("EUR", None))
        self.assertIsNotNone(card[3].pk)
        self.assertEqual([r.gpu_type for r in gpu_rate_card(org=self.charlies_org)][3], "L4")
        self.assertIsNone(gpu_rate_card(org=self.charlies_org)[3].pk)

    def test_it_matches_gpu_names_by_whole_word(self):
        self.assertTrue(gpu_name_matches("NVIDIA H100 80GB HBM3", "H100"))
        self.assertTrue(gpu_name_matches("NVIDIA A100-SXM4-40GB", "a100"))
        self.assertTrue(gpu_name_matches("NVIDIA L4", "L4"))
        self.assertFalse(gpu_name_matches("NVIDIA L40S", "L4"))
        self.assertTrue(gpu_name_matches("NVIDIA L40S", "L40S"))
        self.assertFalse(gpu_name_matches("NVIDIA H100", ""))

    def test_it_measures_only_the_orgs_gpus_of_the_type_in_the_window(self):
        now = timezone.now()
        start = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        agent_hour(self.client, self.org, self.alice, start)
        window = {"start": now - timedelta(days=30), "end": now}
        measured = gpu_type_utilisation(org=self.org, match_name="H100", **window)
        self.assertEqual((measured["utilisation"], measured["busy_hours"], measured["covered_hours"]),
                         (Decimal("0.5"), Decimal(1), Decimal(2)))  # fmt: skip
        self.assertIsNone(gpu_type_utilisation(org=self.org, match_name="A100", **window))
        self.assertIsNone(gpu_type_utilisation(org=self.charlies_org, match_name="H100", **window))
        later = {"start": now - timedelta(hours=1), "end": now}
        self.assertIsNone(gpu_type_utilisation(org=self.org, match_name="H100", **later))


class DemoBuildVsRentTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        from tests.demo import demo_org

        cls.demo = demo_org()

    def test_it_measures_the_demo_hosts_per_gpu_type(self):
        self.client.login(email=self.demo["login"], password=self.demo["password"])
        url = reverse("finops-build-vs-rent", kwargs={"org_code": self.demo["org"]})
        seen = {}
        for gpu_type in ("H100 SXM", "A100 80GB", "L40S", "L4"):
            page = self.client.get(url, {"gpu_type": gpu_type})
            measured = page.context["measured"]
            seen[gpu_type] = measured and (measured["gpus"], measured["hosts"])
            self.assertIsNotNone(page.context["result"], gpu_type)
            self.assertContains(page, 'id="build-rent-figures"')
            if measured:
                self.assertTrue(page.context["uses_measured"])
                self.assertTrue(0 < measured["utilisation"] < 1)
        self.assertEqual(seen, {"H100 SXM": (8, ["train-h100-01"]), "A100 80GB": (2, ["infer-a100-01"]),
                                "L40S": None, "L4": (1, ["dev-l4-01"])})  # fmt: skip
