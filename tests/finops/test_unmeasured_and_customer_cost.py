"""A bill written elsewhere, driven as a user would: GPU instances named the way GPU clouds name them, some tagged to
a customer, some owned, some neither; no agent anywhere. GPU time nobody measured is `unmeasured`, never `idle`; a
customer's cost includes the bill lines tagged to them; every GPU resource is a listed GPU host; a person's mark on a
resource wins over its names; and the identity holds to the cent on every figure."""

import json
from datetime import date, timedelta
from decimal import Decimal as D

from django.urls import reverse
from django.utils import timezone

from finops.services.rollups import rollups_refresh
from ingest.models import DirtyDay, GpuHost
from ingest.services.agent import gpu_host_update
from tests.ingest.helpers import csv_bytes
from tests.ingest.test_agent_api import batch, post_batch
from tests.ingest.test_bill_uploads import UploadTestCase

WEEK = "2026-W45"  # Monday 2 November to Sunday 8 November 2026
COLUMNS = ("BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
           "ChargePeriodEnd", "ChargeCategory", "ChargeDescription", "ProviderName", "ServiceName", "ServiceCategory",
           "ResourceId", "ResourceName", "ResourceType", "SkuId", "BilledCost", "EffectiveCost", "Tags")  # fmt: skip


def line(resource, sku, cost, tags=None, *, day="2026-11-03", service="Compute", resource_type="Virtual Machine",
         description=""):  # fmt: skip
    first = date.fromisoformat(day)
    month = first.replace(day=1)
    return ["acct-1", "USD", f"{month}T00:00:00Z", f"{(month + timedelta(days=32)).replace(day=1)}T00:00:00Z",
            f"{first}T00:00:00Z", f"{first + timedelta(days=1)}T00:00:00Z", "Usage", description, "NeoCloud",
            service, "Compute", resource, resource, resource_type, sku, cost, cost, json.dumps(tags or {})]  # fmt: skip


BILL = [
    COLUMNS,
    line("node-a", "8xH100-SXM5-80GB", "2359.68", {"customer": "acme-corp"}),  # tagged: allocated, not measured
    line("node-b", "gpu_8x_h100_sxm5", "1000.00", {"owner": "maria"}),  # owned, unmeasured
    line("node-c", "H100_NVLINK_80GB", "500.00"),  # nobody's, unmeasured
    line("bucket-1", "standard-storage", "40.00", service="Object storage", resource_type="Bucket"),  # shared
    line("bucket-2", "standard-storage", "60.00", {"customer": "globex"}, service="Object storage"),
    line("db-1", "db.t4g.medium", "25.00", service="Managed database", resource_type="Database"),  # Graviton
]
BILLED = D("3984.68")
GPU_UNMEASURED = D("1500.00")


class UnmeasuredGpuTests(UploadTestCase):
    def setUp(self):
        super().setUp()
        body = self.upload("neocloud-focus.csv", csv_bytes(BILL))
        self.assertEqual(body["status"], "done", body["errors"])
        self.post_events([
            {"event_id": "e1", "timestamp": "2026-11-03T10:00:00Z", "provider": "openai", "model": "gpt-4o-mini",
             "customer": "acme-corp", "feature": "summarise", "input_tokens": 1000, "output_tokens": 200,
             "cost": "1.00", "currency": "USD"},
            {"event_id": "e2", "timestamp": "2026-11-04T10:00:00Z", "provider": "openai", "model": "gpt-4o-mini",
             "customer": "globex", "feature": "summarise", "input_tokens": 500, "output_tokens": 100,
             "cost": "0.50", "currency": "USD"},
        ])  # fmt: skip
        rollups_refresh(org=self.org)

    def get(self, path, **params):
        query = "&".join(f"{k}={v}" for k, v in {"week": WEEK, **params}.items())
        response = self.api_get(f"/api/v1/{path}?{query}")
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def test_gpu_time_no_agent_saw_is_unmeasured_not_idle_and_the_identity_holds(self):
        summary = self.get("ledger/summary/")
        self.assertEqual(D(summary["billed_total"]), BILLED + D("1.50"))
        self.assertEqual(D(summary["idle"]), 0, "no agent saw any GPU idle")
        self.assertEqual(D(summary["unmeasured"]), GPU_UNMEASURED)
        self.assertEqual(D(summary["unmeasured_owned"]), D("1000.00"))
        self.assertEqual(D(summary["unattributed"]), D("65.00"), "the untagged bucket and database")
        terms = sum(D(summary[k]) for k in ("allocated", "idle", "unmeasured", "unattributed"))
        self.assertEqual(terms.quantize(D("0.01")), D(summary["billed_total"]).quantize(D("0.01")))
        self.assertEqual(D(summary["by_bucket"]["unmeasured"]), GPU_UNMEASURED)
        self.assertEqual(D(summary["by_bucket"]["idle"]), 0)

    def test_every_gpu_resource_is_a_listed_host_and_the_lookalikes_are_not(self):
        hosts = {h["resource_id"]: h for h in self.get("hosts/")}
        self.assertEqual(set(hosts), {"node-a", "node-b", "node-c"})
        self.assertEqual({h["source"] for h in hosts.values()}, {"bill"})
        self.assertEqual(D(hosts["node-a"]["cost"]), D("2359.68"))
        self.assertEqual(D(hosts["node-a"]["unmeasured_cost"]), 0, "tagged to acme-corp: allocated, not unmeasured")
        self.assertEqual(D(hosts["node-b"]["unmeasured_cost"]), D("1000.00"))
        self.assertEqual(hosts["node-b"]["owner"], "maria")
        self.assertIsNone(hosts["node-c"]["code"])
        self.assertEqual(D(hosts["node-c"]["idle_cost"]), 0)

    def test_the_idle_gpu_row_asks_for_the_agent_and_fires_for_the_unowned_host(self):
        rows = {r["key"]: r for r in self.get("founder-table/")["rows"]}
        idle = rows["idle_gpu"]
        self.assertIs(idle["stop_sign"], True)
        reasons = {o["id"]: (D(o["amount"]), o["reason"]) for o in idle["offenders"]}
        self.assertEqual(reasons["node-b"], (D("1000.00"), "no agent reports on it: install the agent"))
        self.assertEqual(reasons["node-c"][0], D("500.00"))
        self.assertIn("no owner", reasons["node-c"][1])
        self.assertNotIn("node-a", reasons)
        self.assertEqual(D(idle["measured"]["unmeasured_cost"]), GPU_UNMEASURED)
        self.assertEqual(D(idle["measured"]["idle_cost"]), 0)

    def test_a_customers_cost_includes_the_bill_lines_tagged_to_them(self):
        customers = {c["customer"]: c for c in self.get("economics/customers/")}
        self.assertEqual(D(customers["acme-corp"]["ai_cost"]), D("2360.68"))
        self.assertEqual(D(customers["globex"]["ai_cost"]), D("60.50"))
        # the pool (1,500 unmeasured + 65 unattributed) shared by direct cost, to the last digit
        loaded = {c: D(row["fully_loaded_cost"]) for c, row in customers.items()}
        self.assertEqual(sum(loaded.values()), BILLED + D("1.50"), "no internal work: customers carry all of it")
        self.assertGreater(loaded["acme-corp"], D("2360.68"))
        self.assertEqual((loaded["acme-corp"] - D("2360.68")).quantize(D("0.01")),
                         (D("1565") * D("2360.68") / D("2421.18")).quantize(D("0.01")))  # fmt: skip

    def test_the_customers_page_shows_the_tagged_spend(self):
        self.client.force_login(self.bob)
        page = self.client.get(reverse("finops-customers", kwargs={"org_code": self.org.code}) + f"?week={WEEK}")
        self.assertContains(page, "acme-corp")
        self.assertContains(page, "2,360.68")

    def test_the_founder_table_and_costs_pages_show_unmeasured_apart_from_idle(self):
        self.client.force_login(self.bob)
        for name in ("finops-founder-table", "finops-costs"):
            page = self.client.get(reverse(name, kwargs={"org_code": self.org.code}) + f"?week={WEEK}")
            self.assertContains(page, "Unmeasured GPU time")
            self.assertContains(page, "1,500.00")

    def test_a_mark_wins_over_the_names_and_recomputes_the_days(self):
        response = self.client.post("/api/v1/hosts/", {"resource_id": "node-b", "is_gpu": False},
                                    content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json(), {"resource_id": "node-b", "is_gpu": False})
        self.assertTrue(DirtyDay.objects.filter(org=self.org).exists())
        rollups_refresh(org=self.org)
        self.assertEqual(D(self.get("ledger/summary/")["unmeasured"]), D("500.00"))
        self.assertNotIn("node-b", {h["resource_id"] for h in self.get("hosts/")})
        # and the other way: a resource whose names say nothing
        self.client.post("/api/v1/hosts/", {"resource_id": "db-1", "is_gpu": True}, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        rollups_refresh(org=self.org)
        self.assertEqual(D(self.get("ledger/summary/")["unmeasured"]), D("525.00"))
        self.assertIn("db-1", {h["resource_id"] for h in self.get("hosts/")})
        # forgetting the mark gives the names back their say
        self.client.post("/api/v1/hosts/", {"resource_id": "node-b", "is_gpu": None}, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        rollups_refresh(org=self.org)
        self.assertEqual(D(self.get("ledger/summary/")["unmeasured"]), D("1525.00"))

    def test_a_mark_whose_body_is_not_an_object_is_a_400(self):
        # Found by the fuzzer (tests/test_fuzz_api.py): a JSON body of `null` was a 500.
        for body in ("null", "[]", '"is_gpu"', "1"):
            with self.subTest(body):
                response = self.client.post("/api/v1/hosts/", body, content_type="application/json",
                                            HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
                self.assertEqual(response.status_code, 400, response.content)

    def test_the_marks_page_marks_a_resource(self):
        url = reverse("finops-gpu-resources", kwargs={"org_code": self.org.code})
        self.client.force_login(self.alice)
        response = self.client.post(url, {"resource_id": "node-c", "verdict": "no"})
        self.assertRedirects(response, url)
        self.assertContains(self.client.get(url), "node-c")
        rollups_refresh(org=self.org)
        self.assertEqual(D(self.get("ledger/summary/")["unmeasured"]), D("1000.00"))

    def test_an_agent_host_mapped_to_a_bill_resource_is_one_host_from_both(self):
        gpu_host_update(org=self.org, name="gpu-box-1", bill_resource_id="node-b")
        rollups_refresh(org=self.org)  # the host's settings mark its days dirty
        hosts = {h["name"]: h for h in self.get("hosts/")}
        self.assertNotIn("node-b", hosts)
        self.assertEqual(hosts["gpu-box-1"]["source"], "both")
        self.assertEqual(D(hosts["gpu-box-1"]["unmeasured_cost"]), D("1000.00"), "billed, but no agent hour")

    def test_a_gpu_line_with_no_resource_id_or_name_is_still_a_listed_host(self):
        nameless = [COLUMNS, line("", "8xH100-SXM5-80GB", "700.00", day="2026-11-05")]
        self.assertEqual(self.upload("nameless.csv", csv_bytes(nameless))["status"], "done")
        rollups_refresh(org=self.org)
        hosts = {h["name"]: h for h in self.get("hosts/")}
        self.assertEqual(D(hosts["(unnamed) NeoCloud 8xH100-SXM5-80GB"]["unmeasured_cost"]), D("700.00"))
        rows = {r["key"]: r for r in self.get("founder-table/")["rows"]}
        self.assertIn("(unnamed) NeoCloud 8xH100-SXM5-80GB", {o["id"] for o in rows["idle_gpu"]["offenders"]})

    def test_the_gpus_page_shows_a_big_bill_fifty_hosts_a_page_with_every_host_counted(self):
        fleet = [COLUMNS] + [line(f"fleet-{i:03d}", "8xH100-SXM5-80GB", f"{100 + i}.00", day="2026-11-05")
                             for i in range(60)]  # fmt: skip
        self.assertEqual(self.upload("fleet.csv", csv_bytes(fleet))["status"], "done")
        rollups_refresh(org=self.org)
        self.assertEqual(len(self.get("hosts/")), 60)  # the API lists every host (November delivered again)
        self.client.force_login(self.alice)
        url = reverse("finops-gpus", kwargs={"org_code": self.org.code})
        first = self.client.get(url, {"week": WEEK}).content.decode()
        self.assertEqual(first.count("<tr data-source="), 50)
        self.assertIn("Hosts 1–50 of 60, largest cost first", first)
        self.assertIn("fleet-059", first)  # the largest first
        self.assertIn(f"?week={WEEK}&amp;page=2", first)  # the next page keeps the period
        second = self.client.get(url, {"week": WEEK, "page": 2}).content.decode()
        self.assertEqual(second.count("<tr data-source="), 10)
        self.assertIn("fleet-000", second)  # the smallest last
        self.assertIn("Hosts 51–60 of 60", second)
        self.assertIn("of GPU time this period has no agent data", second)  # the callout sums every page

    def test_a_bill_resource_named_as_an_agent_host_is_that_host(self):
        gpu_host_update(org=self.org, name="node-c")  # its agent was installed, not yet linked by hand
        DirtyDay.objects.create(org=self.org, day="2026-11-03")  # a host made by hand marks no day: the next ingest
        rollups_refresh(org=self.org)
        hosts = {h["name"]: h for h in self.get("hosts/")}
        self.assertEqual(hosts["node-c"]["source"], "both")
        self.assertEqual(D(hosts["node-c"]["cost"]), D("500.00"))
        self.assertEqual([h["name"] for h in hosts.values()].count("node-c"), 1)

    def test_setting_a_hosts_owner_recomputes_its_days(self):
        gpu_host_update(org=self.org, name="gpu-box-1", bill_resource_id="node-c")
        rollups_refresh(org=self.org)
        self.assertEqual(D(self.get("ledger/summary/")["unmeasured_owned"]), D("1000.00"))
        gpu_host_update(org=self.org, name="gpu-box-1", owner="ml-platform")
        rollups_refresh(org=self.org)
        self.assertEqual(D(self.get("ledger/summary/")["unmeasured_owned"]), D("1500.00"))
        rows = {r["key"]: r for r in self.get("founder-table/")["rows"]}
        reasons = {o["id"]: o["reason"] for o in rows["idle_gpu"]["offenders"]}
        self.assertNotIn("no owner", reasons["gpu-box-1"])

    def test_a_bucket_rule_cannot_place_work_in_idle_or_unmeasured(self):
        from django.core.exceptions import ValidationError

        from finops.services.settings import bucket_rule_create

        url = reverse("finops-rules", kwargs={"org_code": self.org.code})
        self.client.force_login(self.alice)
        page = self.client.post(url, {"field": "service", "pattern": "*", "bucket": "unmeasured"})
        self.assertEqual(page.status_code, 200)
        self.assertIn("bucket", page.context["form"].errors)
        with self.assertRaises(ValidationError):
            bucket_rule_create(org=self.org, field="service", pattern="*", bucket="idle")

    def test_writing_marks_needs_write_access_and_other_orgs_see_nothing(self):
        self.client.force_login(self.bob)
        response = self.client.post(f"/api/v1/hosts/?org={self.org.code}", {"resource_id": "node-b", "is_gpu": False},
                                    content_type="application/json")  # fmt: skip
        self.assertEqual(response.status_code, 403)
        url = reverse("finops-gpu-resources", kwargs={"org_code": self.org.code})
        self.assertEqual(self.client.post(url, {"resource_id": "node-b", "verdict": "no"}).status_code, 403)
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(url).status_code, 404)
        self.assertEqual(self.client.get(f"/api/v1/hosts/?org={self.org.code}").status_code, 404)
        charlies = self.api_get(f"/api/v1/hosts/?week={WEEK}", key=self.charlie_key)
        self.assertEqual(charlies.json(), [])

    def test_a_bad_mark_is_a_field_error(self):
        response = self.client.post("/api/v1/hosts/", {"resource_id": "", "is_gpu": True},
                                    content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.status_code, 400)
        self.assertIn("resource_id", response.json())
        missing = self.client.post("/api/v1/hosts/", {"resource_id": "node-b"},
                                   HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(missing.status_code, 400)
        self.assertIn("is_gpu", missing.json())


class AgentAndBillHostTests(UploadTestCase):
    """An agent host and the bill resource its machine runs on: one host once linked; the list and the host page
    read the same facts."""

    def setUp(self):
        super().setUp()
        now = timezone.now()
        self.today = now.date()
        start = (now - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
        body = batch("recent-1", start=start, ticks=60)
        body["host"]["name"] = "ip-10-0-3-17"  # the machine's hostname, as the agent reports it
        self.assertEqual(post_batch(self.client, self.org, self.alice, body).status_code, 201)
        self.host = GpuHost.objects.get(org=self.org)
        self.recent = f"?start={(now - timedelta(days=2)).date().isoformat()}"
        day = (now - timedelta(days=2)).date().isoformat()  # a whole day before the agent's first hour
        rows = [COLUMNS, line("arn:aws:ec2:us-east-1:1:instance/ip-10-0-3-17", "p5.48xlarge", "98.32", day=day),
                line("i-0unrelated", "g5.xlarge", "1.01", day=day)]  # fmt: skip
        self.assertEqual(self.upload("today.csv", csv_bytes(rows))["status"], "done")
        rollups_refresh(org=self.org)

    def test_the_host_page_offers_the_bill_resource_named_like_its_machine(self):
        url = reverse("finops-gpu-host", kwargs={"org_code": self.org.code, "code": self.host.code})
        self.client.force_login(self.alice)
        page = self.client.get(url + self.recent)
        offered = [c["resource_id"] for c in page.context["link_candidates"]]
        self.assertEqual(offered, ["arn:aws:ec2:us-east-1:1:instance/ip-10-0-3-17"])
        edit = reverse("finops-gpu-host-edit", kwargs={"org_code": self.org.code, "code": self.host.code})
        self.assertContains(page, f"{edit}?bill_resource_id=arn%3Aaws%3Aec2%3Aus-east-1%3A1%3Ainstance/ip-10-0-3-17")
        form = self.client.get(f"{edit}?bill_resource_id=arn:aws:ec2:us-east-1:1:instance/ip-10-0-3-17")
        self.assertEqual(form.context["form"].initial["bill_resource_id"], offered[0])
        self.client.force_login(self.bob)  # a viewer cannot link, so is not offered to
        self.assertNotContains(self.client.get(url + self.recent), "link-candidates")

    def test_the_gpus_list_and_the_host_page_show_the_same_hours(self):
        self.client.force_login(self.bob)
        listed = {h["name"]: h for h in self.client.get(reverse("finops-gpus", kwargs={"org_code": self.org.code})
                                                        + self.recent).context["hosts"]}  # fmt: skip
        page = self.client.get(
            reverse("finops-gpu-host", kwargs={"org_code": self.org.code, "code": self.host.code}) + self.recent
        )
        for kind in ("busy", "idle", "zombie", "unowned"):
            self.assertEqual(listed["gpu-box-1"][f"{kind}_hours"], page.context["hours"][kind], kind)
        self.assertGreater(page.context["hours"]["busy"], 0)
        self.assertEqual(listed["ip-10-0-3-17"]["source"], "bill")
        self.assertEqual(listed["gpu-box-1"]["cost"], None, "no bill line or rate prices it yet: unknown, not 0")

    def test_once_linked_the_host_is_known_from_both(self):
        gpu_host_update(
            org=self.org, name="gpu-box-1", bill_resource_id="arn:aws:ec2:us-east-1:1:instance/ip-10-0-3-17"
        )
        rollups_refresh(org=self.org)
        hosts = {h["name"]: h for h in self.get_hosts()}
        self.assertNotIn("ip-10-0-3-17", hosts)
        self.assertEqual(hosts["gpu-box-1"]["source"], "both")
        self.assertEqual(D(hosts["gpu-box-1"]["cost"]), D("98.32"))
        self.assertEqual(hosts["gpu-box-1"]["reported_hostname"], "ip-10-0-3-17")
        # the billed day ended before the agent's first hour: none of it was measured
        self.assertEqual(D(hosts["gpu-box-1"]["unmeasured_cost"]), D("98.32"))

    def get_hosts(self):
        response = self.api_get(f"/api/v1/hosts/{self.recent}")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response["X-Period-End"], (self.today + timedelta(days=1)).isoformat())
        return response.json()
