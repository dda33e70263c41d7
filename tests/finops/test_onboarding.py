"""The 7-day onboarding wizard as a founder meets it: a fresh organisation at 0 of 7, then a real bill uploaded on
the Sources page, model calls posted to the API, Stripe exports, a GPU agent, a budget and the one fix, each
ticking its step with a measured line; the Founder Table's banner until it is all done; and the tenancy door."""

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import OnboardingState
from accounts.services import agent_token_create
from finops.economics.rows import ROWS
from finops.models import Budget
from finops.selectors.onboarding import onboarding_banner, onboarding_day, onboarding_progress
from finops.services.rollups import rollups_refresh
from tests.base import BaseTestCase, sample_path
from tests.ingest.helpers import ApiClientMixin, as_upload
from tests.ingest.test_agent_api import batch

STRIPE_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "stripe"
FOCUS_SAMPLE = "focus/focus-sample-data_focus_sample_1000.csv"


class OnboardingTestCase(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()
        self.posted = 0

    def wizard_url(self, org=None):
        return reverse("finops-onboarding", kwargs={"org_code": (org or self.org).code})

    def fix_url(self, org=None):
        return reverse("finops-onboarding-fix", kwargs={"org_code": (org or self.org).code})

    def home_url(self):
        return reverse("finops-founder-table", kwargs={"org_code": self.org.code})

    def wizard(self) -> str:
        self.client.force_login(self.alice)
        response = self.client.get(self.wizard_url())
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def steps(self) -> dict:
        """{step key: (done, evidence)} as the wizard shows them."""
        html = self.wizard()
        found = {}
        for key, classes, evidence in re.findall(
            r'<li id="step-(\w+)" class="([^"]*)">.*?data-testid="evidence-\1">([^<]*)</div>', html, re.S
        ):
            found[key] = ("done" in classes.split(), evidence.replace("&#x27;", "'"))
        self.assertEqual(len(found), 7, html)
        return found

    def done(self) -> set:
        return {key for key, (done, _) in self.steps().items() if done}

    def upload_sample_bill(self):
        self.client.force_login(self.alice)
        path = sample_path(FOCUS_SAMPLE)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("ingest-sources", kwargs={"org_code": self.org.code}),
                {"file": as_upload(path.name, path.read_bytes()), "kind": "bill"},
            )
        self.assertEqual(response.status_code, 302)

    def post_calls(self, day: date, customer: str, calls: int = 5, **extra):
        body = [
            {"event_id": f"e{self.posted + i}", "timestamp": f"{day}T{10 + i % 8:02d}:00:00Z", "provider": "openai",
             "model": "gpt-4o", "customer": customer, "input_tokens": 200_000, "output_tokens": 1_000, **extra}
            for i in range(calls)
        ]  # fmt: skip
        self.posted += calls
        self.post_events(body)

    def upload_stripe_exports(self):
        for name in ("customers.csv", "subscriptions.csv", "invoice_line_items.csv"):
            response = self.api_upload(name, (STRIPE_FIXTURES / name).read_bytes(), kind="revenue")
            self.assertEqual(response.status_code, 201, response.content)

    def post_agent_batch(self, day: date):
        _, raw = agent_token_create(org=self.org, host_name="gpu-box-1", created_by=self.alice)
        body = batch(start=datetime(day.year, day.month, day.day, 10, tzinfo=UTC))
        response = self.client.post("/api/v1/agent/samples/", json.dumps(body), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {raw}")  # fmt: skip
        self.assertEqual(response.status_code, 201, response.content)

    def choose(self, fix: str, user=None):
        self.client.force_login(user or self.alice)
        return self.client.post(self.fix_url(), {"fix": fix})

    def created_days_ago(self, days: int):
        self.org.created_at = timezone.now() - timedelta(days=days)
        self.org.save(update_fields=["created_at"])


class OnboardingWizardTests(OnboardingTestCase):
    def test_it_starts_a_fresh_org_at_day_one_with_nothing_done(self):
        html = self.wizard()
        self.assertIn("0 of 7 done", html)
        self.assertIn("Day 1 of 7", html)
        self.assertIn('<li id="step-name_spend" class="today">', html)
        steps = self.steps()
        self.assertEqual({key for key, (done, _) in steps.items() if done}, set())
        self.assertEqual(steps["name_spend"][1], "No cloud bill or LLM usage yet.")
        self.assertEqual(steps["add_ownership"][1], "No costs yet to give an owner.")
        self.assertEqual(steps["find_idle"][1], "No GPU agent has reported yet.")
        self.assertEqual(steps["choose_fix"][1], "Not chosen yet.")
        self.assertIn(reverse("pricing-stripe", kwargs={"org_code": self.org.code}), html)  # step 5: connect

    def test_it_ticks_each_step_as_the_data_comes_in(self):
        today = date.today()
        days = [today - timedelta(days=offset) for offset in (6, 5, 4, 3)]

        # A real FOCUS bill on the Sources page: a well-tagged one, nearly all of its cost names an owner or a feature.
        self.upload_sample_bill()
        steps = self.steps()
        self.assertEqual(self.done(), {"name_spend", "add_ownership"})
        self.assertEqual(steps["name_spend"][1], "4 bills imported; no LLM usage yet.")
        bill_week = "the 7 days to 30 Sep 2024"
        self.assertEqual(steps["add_ownership"][1], f"97% of the cost of {bill_week} has an owner or a feature.")
        # the sample's g5.4xlarge (A10G) and g3.4xlarge (M60) lines: no agent watches them
        self.assertEqual(steps["find_idle"][1],
                         f"No agent reports yet; $6.79 of billed GPU time in {bill_week} is unwatched.")  # fmt: skip

        # Model calls of this week for a customer, with no feature: the newest days count now, and nobody owns them.
        for day in days:
            self.post_calls(day, "acme", calls=1)
        steps = self.steps()
        self.assertEqual(self.done(), {"name_spend"})
        window = f"the 7 days to {days[-1].day} {days[-1]:%b %Y}"
        self.assertEqual(steps["name_spend"][1], "4 bills and 4 model calls imported.")
        self.assertEqual(steps["add_ownership"][1],
                         f"0% of the cost of {window} has an owner or a feature — 90% needed.")  # fmt: skip

        # Ten times as many calls, each with its feature: past the bar again.
        for day in days:
            self.post_calls(day, "acme", feature="chat")
            self.post_calls(day, "initech", feature="search")
        steps = self.steps()
        self.assertEqual(self.done(), {"name_spend", "add_ownership"})
        self.assertEqual(steps["name_spend"][1], "4 bills and 44 model calls imported.")
        self.assertEqual(steps["add_ownership"][1], f"90% of the cost of {window} has an owner or a feature.")
        customers = f"2 customers carry $22.44 of cost in {window}"
        self.assertEqual(steps["connect_customers"][1], f"{customers}; 0% of it is on a known plan — 90% needed.")

        # Stripe's dashboard exports: revenue is known, and acme and initech turn out to be on Pro and Starter.
        self.upload_stripe_exports()
        steps = self.steps()
        self.assertEqual(self.done(), {"name_spend", "add_ownership", "connect_customers", "review_pricing"})
        self.assertEqual(steps["connect_customers"][1], f"{customers}; 100% of it is on a known plan.")
        self.assertEqual(steps["review_pricing"][1], "Stripe: 3 prices and 4 invoices.")

        # The GPU agent on one box.
        self.post_agent_batch(days[0])
        steps = self.steps()
        self.assertIn("find_idle", self.done())
        self.assertTrue(steps["find_idle"][1].startswith("1 GPU host (2 GPUs) reporting; $"), steps["find_idle"])

        # A cap on trials, then the one fix.
        Budget.objects.create(org=self.org, scope=Budget.Scope.TRIAL, period=Budget.Period.MONTH,
                              amount=Decimal("50"), currency="USD")  # fmt: skip
        self.assertEqual(self.steps()["add_caps"][1], "1 budget: trial accounts per month.")
        self.assertNotIn("choose_fix", self.done())
        response = self.choose("free_trial")
        self.assertRedirects(response, self.wizard_url() + "#step-choose_fix")
        html = self.wizard()
        self.assertIn("7 of 7 done", html)
        self.assertIn("All seven steps are done", html)
        self.assertIn("Chosen: Free trial — cap trial workloads by cost.", html)
        self.assertIn("Chosen by alice@example.org", html)
        self.assertIn("Change the fix", html)

    def test_it_lets_the_fix_change_and_refuses_an_unknown_one(self):
        self.choose("idle_gpu")
        self.assertEqual(self.steps()["choose_fix"], (True, "Chosen: Idle GPU — shut-off rules and owner alerts."))
        self.assertRegex(self.wizard(), r'<option value="idle_gpu" selected>')
        self.choose("model_route")
        self.assertEqual(OnboardingState.objects.get(org=self.org).chosen_fix, "model_route")
        response = self.choose("rewrite_everything")
        self.assertRedirects(response, self.wizard_url() + "#step-choose_fix", fetch_redirect_response=False)
        self.assertContains(self.client.get(self.wizard_url()), "Choose one of the Founder Table rows.")
        self.assertEqual(OnboardingState.objects.get(org=self.org).chosen_fix, "model_route")
        self.assertEqual(OnboardingState.objects.count(), 1)

    def test_it_offers_every_founder_table_row_as_the_fix(self):
        html = self.wizard()
        self.assertEqual(html.count("<option value="), len(ROWS))
        self.assertIn("Idle GPU: shut-off rules and owner alerts", html)

    def test_it_requires_write(self):
        response = self.choose("idle_gpu", user=self.bob)
        self.assertEqual(response.status_code, 403)
        self.assertFalse(OnboardingState.objects.exists())
        self.client.force_login(self.bob)
        page = self.client.get(self.wizard_url())
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, "<select")  # a viewer sees the checklist, not the form

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.wizard_url()).status_code, 404)
        self.assertEqual(self.client.post(self.fix_url(), {"fix": "idle_gpu"}).status_code, 404)
        self.assertFalse(OnboardingState.objects.exists())
        self.choose("idle_gpu")  # alice's choice is not charlie's
        self.client.force_login(self.charlie)
        page = self.client.get(self.wizard_url(self.charlies_org)).content.decode()
        self.assertIn("0 of 7 done", page)
        self.assertIn("Not chosen yet.", page)

    def test_it_counts_days_in_the_orgs_time_zone(self):
        # 23:30 UTC on 1 December is already 2 December in Auckland (UTC+13 in summer).
        self.org.created_at = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
        self.org.timezone = "Pacific/Auckland"
        self.assertEqual(onboarding_day(org=self.org, today=date(2026, 12, 2)), 1)
        self.assertEqual(onboarding_day(org=self.org, today=date(2026, 12, 4)), 3)
        self.org.timezone = "UTC"
        self.assertEqual(onboarding_day(org=self.org, today=date(2026, 12, 4)), 4)
        progress = onboarding_progress(org=self.org, today=date(2026, 12, 4))
        self.assertEqual([s.key for s in progress.steps if s.today], ["find_idle"])
        self.assertEqual(onboarding_day(org=self.org, today=date(2026, 12, 20)), 20)

    def test_it_stays_a_checklist_after_the_first_week(self):
        self.created_days_ago(11)
        html = self.wizard()
        self.assertIn("Day 12: the first week is over", html)
        self.assertNotIn('class="today"', html)
        self.assertIn("0 of 7 done", html)


class OnboardingBannerTests(OnboardingTestCase):
    def banner(self) -> str | None:
        self.client.force_login(self.alice)
        html = self.client.get(self.home_url()).content.decode()
        found = re.search(r'<div class="callout" id="onboarding-banner">(.*?)</div>', html, re.S)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else None

    def test_it_shows_the_day_and_the_next_step_on_the_founder_table(self):
        self.assertTrue(self.banner().startswith("Day 1 of 7 — next step: Name the spend"), self.banner())
        self.assertContains(self.client.get(self.home_url()), self.wizard_url() + "#step-name_spend")
        self.post_calls(date.today() - timedelta(days=2), "acme")  # calls without a feature: nobody owns them
        self.created_days_ago(2)
        self.assertTrue(self.banner().startswith("Day 3 of 7 — next step: Add ownership"), self.banner())
        self.created_days_ago(9)
        self.assertTrue(self.banner().startswith("Day 10 of onboarding — next step: Add ownership"), self.banner())

    def test_it_goes_away_after_day_fourteen(self):
        self.created_days_ago(14)
        self.assertIsNone(self.banner())
        with CaptureQueriesContext(connection) as queries:
            self.assertIsNone(onboarding_banner(org=self.org))
        self.assertEqual(len(queries), 0)

    def test_it_goes_away_when_every_step_is_done(self):
        OnboardingState.objects.create(org=self.org, chosen_fix="idle_gpu")
        self.assertTrue(self.banner().startswith("Day 1 of 7 — next step: Name the spend"))
        day = date.today() - timedelta(days=3)
        self.upload_stripe_exports()
        self.post_calls(day, "acme", feature="chat")
        self.post_agent_batch(day)
        self.assertTrue(self.banner().startswith("Day 1 of 7 — next step: Add caps"), self.banner())
        Budget.objects.create(org=self.org, scope=Budget.Scope.ORG, period=Budget.Period.MONTH,
                              amount=Decimal("500"), currency="USD")  # fmt: skip
        self.assertIsNone(self.banner())
        self.assertTrue(onboarding_progress(org=self.org).complete)

    def test_it_reads_little(self):
        with CaptureQueriesContext(connection) as queries:
            onboarding_banner(org=self.org)
        self.assertEqual(len(queries), 1)  # nothing connected: the flags say step 1 is next
        self.post_calls(date.today() - timedelta(days=1), "acme")
        rollups_refresh(org=self.org)
        with CaptureQueriesContext(connection) as queries:
            banner = onboarding_banner(org=self.org)
        self.assertEqual(banner["step"].key, "add_ownership")
        self.assertEqual(len(queries), 3)  # the flags, the newest rollup day, the window's sums
