"""The guided pricing check page on data sent through the APIs: Stripe's pro plan (300 a month, acme and beta),
summarise jobs as usage events with reported costs, and a FOCUS bill with storage tagged to summarise and
egress shared by everyone.

On 3 Nov 2026: acme's job a1 fails once (0.50) then completes (1.00), a2 completes on gpt-4o-mini (0.10);
beta's b1 completes (2.00), b2 fails twice (0.40, 0.60); acme makes one chat call (1.00). Storage 0.90 is
tagged to summarise; 7.00 of data transfer is untagged."""

import json
from datetime import date
from decimal import Decimal as D

from finops.selectors.guided_check import workflow_costs
from finops.services.rollups import rollups_refresh_when_embedded
from tests.base import BaseTestCase
from tests.finops.test_revenue_economics import WEEK, stripe_scenario
from tests.finops.test_worked_example import FOCUS_HEADER
from tests.ingest.helpers import ApiClientMixin, csv_bytes
from tests.test_pages import OrgPageTestsMixin

URL = "/o/{}/plans/check/"
JOBS = [  # (event, customer, feature, job, attempt, status, model, cost)
    ("a1-1", "acme", "summarise", "a1", 1, "error", "gpt-4o", "0.50"),
    ("a1-2", "acme", "summarise", "a1", 2, "ok", "gpt-4o", "1.00"),
    ("a2-1", "acme", "summarise", "a2", 1, "ok", "gpt-4o-mini", "0.10"),
    ("b1-1", "beta", "summarise", "b1", 1, "ok", "gpt-4o", "2.00"),
    ("b2-1", "beta", "summarise", "b2", 1, "error", "gpt-4o", "0.40"),
    ("b2-2", "beta", "summarise", "b2", 2, "error", "gpt-4o", "0.60"),
    ("c1-1", "acme", "chat", "", None, "ok", "gpt-4o", "1.00"),
]


def focus_line(resource, service, category, cost, tags):
    return ["acct", "AWS", "USD", "2026-11-01T00:00:00Z", "2026-11-03T10:00:00Z", "2026-11-03T11:00:00Z", "Usage",
            cost, cost, resource, "sku", json.dumps(tags), service, category]  # fmt: skip


class GuidedCheckScenario(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()
        stripe_scenario(self.org)
        events = [{"event_id": e, "timestamp": f"2026-11-03T10:{i:02d}:00Z", "provider": "openai", "model": model,
                   "customer": customer, "feature": feature, "status": status, "cost": cost, "currency": "USD",
                   "input_tokens": 1000, "output_tokens": 0, **({"job_id": job, "attempt": attempt} if job else {})}
                  for i, (e, customer, feature, job, attempt, status, model, cost) in enumerate(JOBS)]  # fmt: skip
        response = self.client.post("/api/v1/usage-events/", json.dumps(events), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.json()["accepted"], 7, response.content)
        bill = csv_bytes([
            [*FOCUS_HEADER, "ServiceName", "ServiceCategory"],
            focus_line("bucket-summaries", "Object storage", "Storage", "0.90", {"feature": "summarise"}),
            focus_line("nat-1", "Data transfer", "Networking", "7.00", {"team": "platform"}),
        ])  # fmt: skip
        self.assertEqual(self.api_upload("focus.csv", bill).status_code, 201)


class GuidedCheckPageTests(GuidedCheckScenario):
    def test_the_selector_reads_the_workflow(self):
        rollups_refresh_when_embedded(org=self.org)
        costs = workflow_costs(org=self.org, feature="summarise", plan="pro", start=date(2026, 11, 2),
                               end=date(2026, 11, 9))  # fmt: skip
        self.assertEqual((costs.completed_jobs, costs.failed_jobs, costs.customers), (3, 1, 2))
        self.assertEqual((costs.model_calls, costs.retries, costs.failed_runs), (D("3.10"), D("0.50"), D("1.00")))
        self.assertEqual((costs.calls, costs.feature_calls, costs.all_calls), (6, 6, 7))
        self.assertEqual((costs.storage_tagged, costs.storage_shared), (D("0.90"), D("7.00")))
        self.assertEqual((costs.logs_tagged, costs.logs_shared), (None, None))
        self.assertEqual((costs.priced_customers, costs.priced_jobs), (2, 3))
        self.assertEqual(costs.price_total.quantize(D("0.0001")), D("138.0822"))  # 2 x 300 x 7 x 12 / 365

    def test_it_walks_summarise_to_a_verdict_to_the_cent(self):
        self.client.force_login(self.alice)
        page = self.client.get(URL.format(self.org.code) + f"?{WEEK}&feature=summarise&plan=pro&support_per_job=0.25")
        self.assertEqual(page.status_code, 200)
        html = page.content.decode()
        steps = html.split('data-testid="pricing-check-steps"')[1].split("</table>")[0]
        # per completed job: calls 3.10/3, retries 0.50/3, failed 1.00/3, storage (0.90 + 7.00 x 6/7) / 3
        for amount in ("$1.03", "$0.17", "$0.33", "$2.30", "$0.25", "$1.38", "$46.03"):
            self.assertIn(amount, steps)
        self.assertIn("no logging service on the bills", steps)
        # 11.50/3 + 0.25 + fees (46.0274 x 2.9% + 0.30 / (1.5 jobs x 365/84)) = 5.4642 against 46.0274
        self.assertContains(page, "Each completed summarise job costs $5.46 against $46.03 paid: a margin of 88%")
        self.assertContains(page, "$40.56")
        self.assertContains(page, "pricing-check-figures")

    def test_a_viewer_can_try_numbers(self):
        self.client.force_login(self.bob)
        page = self.client.get(URL.format(self.org.code) + f"?{WEEK}&feature=summarise&plan=pro&jobs_per_month=2")
        self.assertEqual(page.status_code, 200)
        self.assertContains(page, "the jobs a customer gets a month (entered)")
        self.assertContains(page, "$150.00 paid")  # 300 a month over 2 jobs

    def test_it_rejects_both_support_figures(self):
        self.client.force_login(self.alice)
        query = f"?{WEEK}&feature=summarise&support_per_job=1&support_per_month=10"
        page = self.client.get(URL.format(self.org.code) + query)
        self.assertContains(page, "Enter support per job or per month, not both.")
        self.assertNotContains(page, "pricing-check-verdict")

    def test_it_hides_other_orgs_workflows(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(URL.format(self.org.code) + f"?{WEEK}").status_code, 404)
        own = self.client.get(URL.format(self.charlies_org.code) + f"?{WEEK}&feature=summarise")
        self.assertContains(own, "No customer jobs in the period")
        self.assertNotContains(own, "summarise")

    def test_the_plans_page_links_to_it(self):
        self.client.force_login(self.alice)
        self.assertContains(self.client.get(f"/o/{self.org.code}/plans/?{WEEK}"), URL.format(self.org.code))


class GuidedCheckEmptyPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-pricing-check"
    heading = "No customer jobs in the period"
