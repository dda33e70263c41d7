"""The thresholds page takes and shows shares as percentages (25 is stored as 0.25, exactly), refuses values out of
their unit's range, and the Founder Table page shows each row's thresholds with the organisation's values."""

from decimal import Decimal as D

from finops.economics.rules import DEFAULT_THRESHOLDS
from finops.forms import EconomicsSettingsForm, threshold_form_data
from finops.models import EconomicsSettings
from tests.base import BaseTestCase

SETTINGS = {"shared_cost_key": "requests", "api_gap_key": "none", "electricity_price_amount": "0.2", "pue": "1.4",
            "target_margin_pct": "55", "trial_plan": "trial", "payment_fee_pct": "2.9",
            "payment_fee_fixed_amount": "0.30"}  # fmt: skip


class ThresholdPercentageTests(BaseTestCase):
    def post(self, **typed):
        self.client.force_login(self.alice)
        data = SETTINGS | threshold_form_data(DEFAULT_THRESHOLDS) | {f"t_{k}": v for k, v in typed.items()}
        return self.client.post(f"/o/{self.org.code}/thresholds/", data)

    def saved(self) -> dict:
        return EconomicsSettings.objects.get(org=self.org).thresholds

    def test_it_stores_a_typed_percentage_as_an_exact_share(self):
        self.assertEqual(self.post(idle_share_of_paid_hours="35").status_code, 302)
        self.assertEqual(self.saved(), {"idle_share_of_paid_hours": "0.35"})
        self.assertEqual(self.post(idle_share_of_paid_hours="12.5").status_code, 302)
        self.assertEqual(D(self.saved()["idle_share_of_paid_hours"]), D("0.125"))
        self.assertEqual(self.saved(), {"idle_share_of_paid_hours": "0.125"})

    def test_it_stores_25_as_0_25_which_is_the_default(self):
        self.assertEqual(self.post(idle_share_of_paid_hours="25", trial_cap="10").status_code, 302)
        self.assertEqual(self.saved(), {"trial_cap": "10"})  # 25% is the default 0.25: nothing stored for it

    def test_it_refuses_a_share_above_100_or_below_0(self):
        for typed in ("250", "100.01", "-1"):
            with self.subTest(typed=typed):
                response = self.post(idle_share_of_paid_hours=typed)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "Enter a percentage from 0 to 100 (25 means 25%).")
        self.assertFalse(EconomicsSettings.objects.filter(org=self.org).exists())

    def test_it_refuses_negative_money_hours_and_days(self):
        for key in ("trial_cap", "zombie_hours", "evaluation_lookback_days"):
            with self.subTest(key=key):
                response = self.post(**{key: "-0.5"})
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "Enter a number of 0 or more.")
        self.assertFalse(EconomicsSettings.objects.filter(org=self.org).exists())

    def test_it_accepts_100_and_0(self):
        self.assertEqual(self.post(idle_share_of_paid_hours="100", premium_call_share="0").status_code, 302)
        self.assertEqual(self.saved(), {"idle_share_of_paid_hours": "1", "premium_call_share": "0"})

    def test_it_shows_a_stored_share_as_a_percentage(self):
        settings = EconomicsSettings(org=self.org, thresholds={"trial_share_of_paid_revenue": "0.1",
                                                               "mystery_share_of_billed": "0.125"})  # fmt: skip
        form = EconomicsSettingsForm(instance=settings)
        self.assertEqual(str(form["t_trial_share_of_paid_revenue"].value()), "10")
        self.assertEqual(str(form["t_mystery_share_of_billed"].value()), "12.5")
        self.assertEqual(str(form["t_trial_cap"].value()), "25")  # money as it is
        self.assertIn("(%)", form.fields["t_trial_share_of_paid_revenue"].label)
        self.assertEqual(form.fields["t_trial_cap"].help_text, "In USD, 0 or more")

    def test_it_keeps_existing_stored_values_when_saved_unchanged(self):
        stored = {"trial_share_of_paid_revenue": "0.15", "idle_share_of_paid_hours": "0.3", "trial_cap": "40",
                  "commitment_min_utilisation": "0.55"}  # fmt: skip
        EconomicsSettings.objects.create(org=self.org, thresholds=stored)
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{self.org.code}/thresholds/")
        self.assertContains(page, 'name="t_trial_share_of_paid_revenue" value="15"')
        self.assertContains(page, 'name="t_commitment_min_utilisation" value="55"')
        form = page.context["form"]
        data = SETTINGS | {name: form[name].value() for name in form.fields if name.startswith("t_")}
        self.assertEqual(self.client.post(f"/o/{self.org.code}/thresholds/", data).status_code, 302)
        self.assertEqual(self.saved(), stored)

    def test_the_founder_table_shows_each_rows_thresholds_in_their_units(self):
        EconomicsSettings.objects.create(org=self.org, thresholds={"idle_share_of_paid_hours": "0.3"})
        self.client.force_login(self.bob)
        response = self.client.get(f"/o/{self.org.code}/")
        self.assertContains(response, "a host idle more than this share of its paid hours: <strong>30%</strong>")
        self.assertContains(response, "a zombie process lasting longer than this many hours: <strong>2.0 h</strong>")
        self.assertContains(response, "<strong>$25.00</strong>")  # the trial cap, in the org's currency
        api = self.client.get(f"/api/v1/founder-table/?org={self.org.code}").json()
        self.assertNotIn("thresholds", str(api["rows"][0].keys()))  # the API's rows are unchanged
