"""The guided pricing check's arithmetic on a hand-computed workflow, without a database.

summarise on the pro plan over 28 days: 4 customers completed 100 jobs (5 failed), paying 10.00 each for the
period. Calls 20.00 first attempts, 3.00 retries, 2.00 failed jobs; GPU 10.00. Storage: 6.00 tagged to the
feature (the plan made 400 of its 500 calls) and 40.00 shared (400 of the org's 2000 calls). No logging."""

from dataclasses import replace
from decimal import Decimal as D

from django.test import SimpleTestCase

from finops.economics.guided_check import FounderInputs, WorkflowCosts, cheaper_route, guided_check, service_kind

CENT = D("0.01")

WORKFLOW = WorkflowCosts(
    feature="summarise", plan="pro", currency="USD", days=28, completed_jobs=100, failed_jobs=5, customers=4,
    model_calls=D("20.00"), retries=D("3.00"), failed_runs=D("2.00"), gpu=D("10.00"),
    storage_tagged=D("6.00"), storage_shared=D("40.00"), logs_tagged=None, logs_shared=None, other_tagged=D(0),
    calls=400, feature_calls=500, all_calls=2000, price_total=D("40.00"), priced_customers=4, priced_jobs=100,
    models=(("gpt-4o", D("19.50"), 1000), ("gpt-4o-mini", D("0.50"), 2000), ("self-hosted", D(0), 500)),
)  # fmt: skip


def cents(value):
    return None if value is None else value.quantize(CENT)


def steps(check):
    return {s.key: s for s in check.steps}


class GuidedCheckTests(SimpleTestCase):
    def test_it_walks_one_completed_job_to_the_cent(self):
        check = guided_check(WORKFLOW, FounderInputs(support_per_job=D("0.05")))
        s = steps(check)
        self.assertEqual(
            {k: cents(v.per_job) for k, v in s.items()},
            {"model_calls": D("0.20"), "retries": D("0.03"), "failed_runs": D("0.02"), "gpu": D("0.10"),
             # (6.00 x 400/500 + 40.00 x 400/2000) / 100 = (4.80 + 8.00) / 100
             "storage": D("0.13"), "logs": None, "support": D("0.05"),
             # 0.40 x 2.9% + 0.30 / (25 jobs a customer in 28 days x (365/12)/28) = 0.0116 + 0.0110466
             "payment_fees": D("0.02")},
        )  # fmt: skip
        self.assertEqual(s["storage"].per_job, D("0.128"))
        self.assertEqual(cents(s["payment_fees"].per_job * 10000), D("226.47"))
        self.assertEqual(check.price_per_job, D("0.40"))  # 40.00 for the period over 100 jobs
        self.assertEqual(cents(check.cost_per_job), D("0.55"))  # 0.5506466
        self.assertEqual(cents(check.margin_per_job), D("-0.15"))
        self.assertEqual(s["model_calls"].share, D("0.5"))  # 0.20 of 0.40
        self.assertIsNone(s["logs"].share)
        self.assertEqual(check.status, "loses")
        self.assertEqual(
            check.verdict,
            "Each completed summarise job costs $0.55 against $0.40 paid: raise the price, cap usage, "
            "or route to gpt-4o-mini.",
        )

    def test_it_spreads_monthly_support_and_prices_by_the_jobs_a_customer_gets(self):
        inputs = FounderInputs(support_per_month=D("36.50"), jobs_per_month=D(20))
        s = steps(guided_check(WORKFLOW, inputs))
        # 36.50 a month x 28 days / (365/12 days) over 100 jobs = 0.336
        self.assertEqual(s["support"].per_job, D("0.336"))
        check = guided_check(WORKFLOW, inputs)
        # 10.00 for 28 days is 10.863095 a month, over 20 jobs
        self.assertEqual(cents(check.price_per_job), D("0.54"))
        self.assertEqual(cents(check.price_per_job * 1000), D("543.15"))
        # 0.5431548 x 2.9% + 0.30 / 20 = 0.0157515 + 0.015
        self.assertEqual(cents(s["payment_fees"].per_job * 1000), D("30.75"))

    def test_it_calls_a_healthy_margin_healthy(self):
        check = guided_check(WORKFLOW, FounderInputs(support_per_job=D(0), price_per_job=D("2.00")))
        self.assertEqual(check.status, "healthy")
        self.assertIn("against $2.00 paid: a margin of 7", check.verdict)
        self.assertNotIn("Support is not entered", check.verdict)

    def test_it_names_the_largest_step_below_the_target(self):
        workflow = replace(WORKFLOW, retries=D("60.00"))
        check = guided_check(workflow, FounderInputs(price_per_job=D("1.50")))
        self.assertEqual(check.status, "below_target")
        self.assertIn("below the 60% target: raise the price, cap usage, or cut retries and failed runs.",
                      check.verdict)  # fmt: skip
        self.assertIn("Support is not entered", check.verdict)

    def test_unknown_stays_unknown(self):
        check = guided_check(replace(WORKFLOW, price_total=None), FounderInputs())
        self.assertIsNone(check.price_per_job)
        self.assertIsNone(check.margin_per_job)
        self.assertIsNone(steps(check)["payment_fees"].per_job)
        self.assertIsNone(steps(check)["support"].per_job)
        self.assertTrue(all(s.share is None for s in check.steps))
        self.assertEqual(check.status, "unknown")
        self.assertIn("the price paid per job is unknown", check.verdict)

    def test_no_completed_jobs_is_nothing_to_check(self):
        check = guided_check(replace(WORKFLOW, completed_jobs=0, priced_jobs=0), FounderInputs(support_per_job=D(1)))
        self.assertIsNone(check.cost_per_job)
        self.assertTrue(all(s.per_job is None for s in check.steps))
        self.assertIn("No completed summarise jobs", check.verdict)

    def test_without_a_plan_the_tagged_storage_is_the_workflows_own(self):
        check = guided_check(replace(WORKFLOW, plan=""), FounderInputs())
        self.assertEqual(steps(check)["storage"].per_job, D("0.14"))  # (6.00 + 8.00) / 100

    def test_it_finds_the_cheaper_route_and_the_service_kinds(self):
        self.assertEqual(cheaper_route(WORKFLOW.models), ("gpt-4o", "gpt-4o-mini"))
        self.assertEqual(cheaper_route((("gpt-4o-mini", D(1), 10),)), ("gpt-4o-mini", None))
        self.assertEqual(service_kind("Storage", "Object storage"), "storage")
        self.assertEqual(service_kind("Networking", "Data transfer"), "storage")
        self.assertEqual(service_kind("Management and Governance", "Logging"), "logs")
        self.assertEqual(service_kind("Management and Governance", "Amazon CloudWatch"), "logs")
        self.assertIsNone(service_kind("Databases", "Managed database"))
        self.assertIsNone(service_kind("Compute", "Amazon Elastic Kubernetes Service"))
