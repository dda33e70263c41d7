"""create_org, create_agent_token and demo, through call_command as a script would run them."""

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import CommandError, call_command
from django.db.models import Max, Min, Sum
from django.test import TestCase

from accounts.models import AgentToken, Membership, Organization
from finops.demo_usage import plan_of
from finops.services.demo import DEMO_ORG_NAME
from ingest.models import CostLine, Upload, UsageEvent
from tests.demo import demo_org_built


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class CreateOrgCommandTests(TestCase):
    def test_it_prints_the_json_of_interfaces_md_and_the_key_works(self):
        body = json.loads(run("create_org", "Acme AI", "--owner", "founder@acme.test", "--json"))
        self.assertEqual(set(body), {"org", "owner", "api_key"})
        org = Organization.objects.get(code=body["org"])
        self.assertEqual((org.name, body["owner"]), ("Acme AI", "founder@acme.test"))
        self.assertEqual(Membership.objects.get(org=org).role, "owner")
        response = self.client.get("/api/v1/", HTTP_AUTHORIZATION=f"Bearer {body['api_key']}")
        self.assertEqual(response.json()["org"]["code"], body["org"])
        self.assertEqual(response.json()["auth"]["scope"], "write")

    def test_it_reuses_an_existing_owner_and_sets_a_password_for_a_new_one(self):
        run("create_org", "One", "--owner", "f@acme.test", "--password", "a-long-pass-phrase", "--json")
        run("create_org", "Two", "--owner", "F@acme.test", "--json")
        self.assertEqual(Membership.objects.filter(user__email="f@acme.test").count(), 2)
        self.assertTrue(self.client.login(email="f@acme.test", password="a-long-pass-phrase"))

    def test_it_prints_a_summary_without_json(self):
        self.assertIn("Created Acme AI", run("create_org", "Acme AI", "--owner", "x@acme.test"))


class CreateAgentTokenCommandTests(TestCase):
    def test_it_prints_host_and_token(self):
        org = json.loads(run("create_org", "Acme AI", "--owner", "f@acme.test", "--json"))["org"]
        body = json.loads(run("create_agent_token", "--org", org, "--host", "gpu-01", "--json"))
        self.assertEqual(body["host"], "gpu-01")
        self.assertTrue(
            AgentToken.objects.filter(org__code=org, host_name="gpu-01", prefix=body["token"][:11]).exists()
        )

    def test_it_fails_for_an_unknown_org(self):
        with self.assertRaises(CommandError):
            run("create_agent_token", "--org", "00000000-0000-0000-0000-000000000000", "--host", "x")
        with self.assertRaises(CommandError):
            run("create_agent_token", "--org", "nope", "--host", "x")


class DemoDataTests(TestCase):
    """The demo's data, loaded once for the class (the demo takes a few seconds)."""

    @classmethod
    def setUpTestData(cls):
        cls.body = demo_org_built(lambda: json.loads(run("demo", "--json")))  # the command, always

    def test_it_creates_the_demo_org_and_a_working_login(self):
        body = self.body
        self.assertEqual(set(body), {"org", "login", "password", "api_key"})
        org = Organization.objects.get(code=body["org"])
        self.assertEqual(org.name, DEMO_ORG_NAME)
        self.assertEqual(sorted(org.memberships.values_list("role", flat=True)), ["member", "owner", "viewer"])
        self.assertTrue(self.client.login(email=body["login"], password=body["password"]))
        page = self.client.get(f"/o/{body['org']}/")
        self.assertContains(page, "Founder Table")
        api = self.client.get("/api/v1/", HTTP_AUTHORIZATION=f"Bearer {body['api_key']}")
        self.assertEqual(api.json()["org"]["name"], DEMO_ORG_NAME)

    def test_it_loads_six_weeks_of_bills_through_the_real_upload_path(self):
        body = self.body
        uploads = Upload.objects.filter(org__code=body["org"], kind="bill").exclude(format__endswith="_costs")
        self.assertEqual(sorted(uploads.values_list("format", "status")), [("focus", "done"), ("mapped_csv", "done")])
        lines = CostLine.objects.filter(org__code=body["org"])
        self.assertEqual(set(lines.values_list("provider", flat=True)), {"AWS", "Lambda", "OpenAI", "Anthropic"})
        self.assertTrue(lines.filter(gpu_type__contains="H100").exists())
        self.assertTrue(lines.exclude(customer="").exists())
        self.assertTrue(lines.filter(customer="", owner="").exists(), "some lines must stay untagged")
        days = lines.aggregate(first=Min("charge_period_start"), last=Max("charge_period_start"))
        self.assertGreaterEqual((days["last"] - days["first"]).days, 40)
        for upload in uploads:
            total = lines.filter(upload=upload).aggregate(total=Sum("billed_cost_amount"))["total"]
            self.assertEqual(
                str(total.quantize(Decimal("0.01"))), str(Decimal(upload.totals["USD"]).quantize(Decimal("0.01")))
            )

    def test_its_founder_table_has_live_figures_red_and_green_rows(self):
        rows = {row["key"]: row for row in self.founder_table_last_week()}
        self.assertEqual(len(rows), 10)
        self.assertTrue(all(row["measured"] for row in rows.values()), "every row has figures")
        red = {key for key, row in rows.items() if row["stop_sign"] is True}
        green = {key for key, row in rows.items() if row["stop_sign"] is False}
        # A zombie notebook and an unwatched p5, a trial account, the all-premium feature, the untagged cluster.
        self.assertLessEqual({"idle_gpu", "free_trial", "model_route", "shared_cluster", "training_run"}, red)
        # With Stripe revenue: the heavy starter customers lose money, and the cheapest plan rides premium routes.
        self.assertLessEqual({"inference_request", "customer_tier"}, red)
        losers = {o["id"] for o in rows["inference_request"]["offenders"] if o["kind"] == "customer"}
        # acme-corp's dedicated H100s (its tagged bill lines) cost more than its contract pays; the heavy starter
        # customers lose money, and a light one close to break-even may too, depending on the hour the demo is built
        self.assertLessEqual({"cust-003", "cust-006", "acme-corp"}, losers)
        plans = {o["id"]: o for o in rows["inference_request"]["offenders"] if o["kind"] == "plan"}
        self.assertIn("starter", plans)
        self.assertEqual({c for c in losers if c != "acme-corp" and plan_of(c) != "starter"}, set())
        # starter rides premium models; acme-corp's dedicated contract earns less than its GPUs cost
        self.assertLessEqual({"starter", "dedicated"}, {o["id"] for o in rows["customer_tier"]["offenders"]})
        self.assertGreaterEqual(len(green), 3)
        idle_reasons = " ".join(o["reason"] for o in rows["idle_gpu"]["offenders"])
        self.assertIn("zombie", idle_reasons)
        self.assertEqual(rows["free_trial"]["offenders"][0]["name"], "trial-nova")
        self.assertEqual(rows["model_route"]["offenders"][0]["id"], "summarise")

    def test_its_identity_holds_to_the_cent(self):
        monday = date.today() - timedelta(days=date.today().weekday())
        url = f"/api/v1/ledger/summary/?start={monday - timedelta(days=42)}&end={monday + timedelta(days=7)}"
        body = self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {self.body['api_key']}").json()
        parts = sum(Decimal(body[k]) for k in ("allocated", "idle", "unmeasured", "unattributed"))
        self.assertEqual(Decimal(body["billed_total"]).quantize(Decimal("0.01")), parts.quantize(Decimal("0.01")))
        self.assertGreater(Decimal(body["allocated"]), 0)

    def test_it_loads_revenue_through_signed_stripe_webhooks(self):
        from pricing.models import StripeEvent, StripeInvoice, StripeSubscription

        org = Organization.objects.get(code=self.body["org"])
        self.assertGreater(StripeEvent.objects.filter(org=org, applied=True).count(), 100)
        self.assertGreaterEqual(StripeInvoice.objects.filter(org=org, status="paid").count(), 34)
        trials = StripeSubscription.objects.filter(org=org, status="trialing")
        self.assertEqual(sorted(trials.values_list("customer__customer_id", flat=True)),
                         ["trial-kite", "trial-lumen", "trial-nova", "trial-orbit"])  # fmt: skip

    def founder_table_last_week(self):
        monday = date.today() - timedelta(days=date.today().weekday()) - timedelta(days=7)
        url = f"/api/v1/founder-table/?start={monday}&end={monday + timedelta(days=7)}"
        return self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {self.body['api_key']}").json()["rows"]

    def test_it_recreates_rather_than_duplicates(self):
        summary = run("demo")
        self.assertIn("Log in as", summary)
        self.assertEqual(Organization.objects.filter(name=DEMO_ORG_NAME).count(), 1)
        self.assertFalse(Organization.objects.filter(code=self.body["org"]).exists())
        password = summary.split("with password ")[1].split()[0]
        self.assertTrue(self.client.login(email=self.body["login"], password=password))

    def test_it_loads_model_calls_through_the_file_and_live_paths(self):
        body = self.body
        events = UsageEvent.objects.filter(org__code=body["org"])
        self.assertGreater(events.filter(upload__isnull=False).count(), 5000)
        self.assertGreater(events.filter(upload__isnull=True).count(), 100, "the newest days come in live")
        self.assertGreaterEqual(events.exclude(customer="").values("customer").distinct().count(), 30)
        self.assertEqual(
            set(events.values_list("feature", flat=True)), {"chat", "summarise", "agent-workflow", "batch-enrichment"}
        )
        self.assertTrue(events.filter(purpose="evaluation").exists())
        self.assertTrue(events.filter(attempt__gt=1).exists())
        self.assertTrue(events.filter(cost_source="unpriced").exists(), "an unknown model stays unpriced")
        self.assertTrue(events.filter(metadata__plan="trial").exists())
        self.assertEqual(set(events.values_list("route", flat=True)), {"premium", "cheap"})

    def test_it_loads_three_gpu_hosts_with_a_zombie_and_idle_nights(self):
        from ingest.models import GpuHost, GpuHour

        body = self.body
        hosts = {h.name: h for h in GpuHost.objects.filter(org__code=body["org"])}
        self.assertEqual(set(hosts), {"train-h100-01", "infer-a100-01", "dev-l4-01"})
        self.assertEqual(hosts["train-h100-01"].gpus.count(), 8)
        facts = GpuHour.objects.filter(org__code=body["org"])
        dev = facts.filter(gpu__host=hosts["dev-l4-01"]).aggregate(zombie=Sum("zombie_seconds"))
        train = facts.filter(gpu__host=hosts["train-h100-01"]).aggregate(
            idle=Sum("idle_seconds"), busy=Sum("busy_seconds")
        )
        self.assertGreater(dev["zombie"], 0, "the forgotten notebook")
        self.assertGreater(train["idle"], 0, "idle nights and weekends")
        self.assertGreater(train["busy"], 0)
