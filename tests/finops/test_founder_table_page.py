"""The Founder Table and thresholds pages, as alice (owner), bob (viewer) and charlie (another org) see them."""

from datetime import date, timedelta

from finops.models import EconomicsSettings
from tests.base import BaseTestCase
from tests.demo import demo_org


class FounderTablePageTests(BaseTestCase):
    def test_it_shows_an_empty_week_without_numbers(self):
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{self.org.code}/")
        self.assertContains(page, "No costs in this week yet")
        self.assertEqual(page.content.decode().count('<tr id="row-'), 10)

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(f"/o/{self.org.code}/").status_code, 404)
        self.assertEqual(self.client.get(f"/o/{self.org.code}/thresholds/").status_code, 404)

    def test_a_bad_week_says_so_and_shows_last_week(self):
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{self.org.code}/?week=soon")
        self.assertContains(page, "Give the week as YYYY-Www", status_code=400)
        today = date.today()
        self.assertEqual(page.context["period"].start, today - timedelta(days=today.weekday() + 7))
        self.assertEqual(page.content.decode().count('<tr id="row-'), 10)


class DemoFounderTablePageTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.demo = demo_org()

    def test_it_shows_the_demo_weeks_figures_and_stop_signs(self):
        self.client.login(email=self.demo["login"], password=self.demo["password"])
        page = self.client.get(f"/o/{self.demo['org']}/")
        html = page.content.decode()
        self.assertIn("trial-nova", html)
        self.assertGreaterEqual(html.count('class="sign stop"'), 4)
        self.assertGreaterEqual(html.count('class="sign ok"'), 3)
        self.assertIn("Cost per completed customer job", html)
        self.assertIn('id="premium-audit"', html)  # summarise on gpt-4o against gpt-4o-mini
        self.assertIn("gpt-4o-mini", html)
        monday = date.today() - timedelta(days=date.today().weekday()) - timedelta(days=14)
        year, week, _ = monday.isocalendar()
        older = self.client.get(f"/o/{self.demo['org']}/?week={year}-W{week:02d}")
        self.assertContains(older, f"Week {year}-W{week:02d}")


class ThresholdsPageTests(BaseTestCase):
    def form(self, **overrides):
        data = {"shared_cost_key": "requests", "api_gap_key": "none", "electricity_price_amount": "0.2",
                "pue": "1.4", "target_margin_pct": "55", "trial_plan": "trial", "payment_fee_pct": "2.9",
                "payment_fee_fixed_amount": "0.30",
                "deferrable_features_text": "batch, nightly"}  # fmt: skip
        from finops.economics.rules import DEFAULT_THRESHOLDS
        from finops.forms import threshold_form_data

        data.update(threshold_form_data(DEFAULT_THRESHOLDS))
        data.update(overrides)
        return data

    def test_it_saves_changed_thresholds_and_keys(self):
        self.client.force_login(self.alice)
        response = self.client.post(f"/o/{self.org.code}/thresholds/", self.form(t_trial_cap="10"))
        self.assertEqual(response.status_code, 302)
        saved = EconomicsSettings.objects.get(org=self.org)
        self.assertEqual(saved.thresholds, {"trial_cap": "10"})
        self.assertEqual((saved.shared_cost_key, saved.deferrable_features), ("requests", ["batch", "nightly"]))

    def test_it_saves_blend_weights_and_keys_per_cost_group(self):
        self.client.force_login(self.alice)
        data = self.form(shared_cost_key="blend", blend_text="gpu_hours=0.5, tokens=0.5",
                         group_keys_text="*Storage*=tokens, EKS*=none")  # fmt: skip
        self.assertEqual(self.client.post(f"/o/{self.org.code}/thresholds/", data).status_code, 302)
        saved = EconomicsSettings.objects.get(org=self.org)
        self.assertEqual(saved.blend_weights, {"gpu_hours": "0.5", "tokens": "0.5"})
        self.assertEqual(saved.group_keys, {"*Storage*": "tokens", "EKS*": "none"})

    def test_it_records_exchange_rates_from_today(self):
        from finops.models import ExchangeRate

        self.client.force_login(self.alice)
        self.client.post(f"/o/{self.org.code}/thresholds/", self.form(rates_text="eur=1.08"))
        rate = ExchangeRate.objects.get(org=self.org)
        self.assertEqual((rate.currency, str(rate.rate), rate.effective_from), ("EUR", "1.0800000000", date.today()))
        self.assertContains(self.client.get(f"/o/{self.org.code}/thresholds/"), "EUR=1.0800000000")
        self.client.post(f"/o/{self.org.code}/thresholds/", self.form(rates_text="EUR=1.08"))
        self.assertEqual(ExchangeRate.objects.count(), 1)  # unchanged: nothing new recorded

    def test_it_explains_bad_weights_and_keys(self):
        self.client.force_login(self.alice)
        for field, text, message in (("blend_text", "gpu_hours", "is not name=value"),
                                     ("blend_text", "karma=1", "blend gpu_hours"),
                                     ("group_keys_text", "S3=vibes", "the key is one of"),
                                     ("rates_text", "EURO=1.1", "three letters"),
                                     ("rates_text", "EUR=-1", "above zero")):  # fmt: skip
            with self.subTest(text=text):
                response = self.client.post(f"/o/{self.org.code}/thresholds/", self.form(**{field: text}))
                self.assertContains(response, message)
        self.assertFalse(EconomicsSettings.objects.filter(org=self.org).exists())

    def test_it_rejects_a_negative_threshold(self):
        self.client.force_login(self.alice)
        response = self.client.post(f"/o/{self.org.code}/thresholds/", self.form(t_trial_cap="-1"))
        self.assertEqual(response.status_code, 200)
        self.assertFalse(EconomicsSettings.objects.filter(org=self.org).exists())

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(f"/o/{self.org.code}/thresholds/").status_code, 200)
        self.assertEqual(self.client.post(f"/o/{self.org.code}/thresholds/", self.form()).status_code, 403)
