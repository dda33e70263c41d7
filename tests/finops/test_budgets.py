"""Budgets and the budget check, driven through the API and the page with spend posted as usage events."""

import json
import threading
from datetime import date, timedelta
from decimal import Decimal as D

from django.core import mail
from django.db import connections
from django.test import SimpleTestCase, TransactionTestCase, skipUnlessDBFeature
from django.utils import timezone

from accounts.services import org_create, user_get_or_create
from finops.economics.budgets import BudgetState, budget_verdict, period_bounds, target_error
from finops.models import Budget, BudgetAlert, BudgetHold, BudgetReservation
from finops.services.budgets import (
    budget_check,
    budget_reservation_release,
    budget_reservations_purge,
    budget_save,
)
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin


class BudgetArithmeticTests(SimpleTestCase):
    def test_it_bounds_each_period(self):
        self.assertEqual(period_bounds("day", date(2026, 12, 31)), (date(2026, 12, 31), date(2027, 1, 1)))
        self.assertEqual(period_bounds("week", date(2026, 12, 3)), (date(2026, 11, 30), date(2026, 12, 7)))
        self.assertEqual(period_bounds("week", date(2026, 11, 30)), (date(2026, 11, 30), date(2026, 12, 7)))
        self.assertEqual(period_bounds("month", date(2026, 12, 31)), (date(2026, 12, 1), date(2027, 1, 1)))
        self.assertEqual(period_bounds("month", date(2027, 2, 1)), (date(2027, 2, 1), date(2027, 3, 1)))
        with self.assertRaises(ValueError):
            period_bounds("year", date(2026, 1, 1))

    def test_a_job_must_fit_every_budget_and_the_tightest_decides(self):
        loose = BudgetState("the organisation per month", D(1000), D(100), D(0), D("0.8"))
        tight = BudgetState("customer acme per day", D(10), D(6), D(1), D("0.8"))
        allowed = budget_verdict([loose, tight], D("2.5"))
        self.assertEqual((allowed.allow, allowed.remaining, allowed.tightest), (True, D("0.5"), tight))
        self.assertIn("customer acme per day", allowed.reason)
        refused = budget_verdict([loose, tight], D("3.01"))
        self.assertEqual((refused.allow, refused.remaining), (False, D(3)))
        self.assertIn("Over budget: customer acme per day has 3 left of 10 (spent 6, reserved 1)", refused.reason)
        exact = budget_verdict([tight], D(3))
        self.assertEqual((exact.allow, exact.remaining), (True, D(0)))
        nothing = budget_verdict([], D(99))
        self.assertEqual((nothing.allow, nothing.remaining), (True, None))
        with self.assertRaises(ValueError):
            budget_verdict([tight], D(-1))

    def test_a_state_says_ok_alert_or_over(self):
        self.assertEqual(BudgetState("b", D(10), D(7), D(0), D("0.8")).status, "ok")
        self.assertEqual(BudgetState("b", D(10), D(7), D(1), D("0.8")).status, "alert")
        self.assertEqual(BudgetState("b", D(10), D(9), D(1), D("0.8")).status, "over")

    def test_a_target_fits_its_scope(self):
        self.assertIsNone(target_error("customer", "acme"))
        self.assertIsNone(target_error("trial", ""))
        self.assertIn("Name the plan", target_error("plan", ""))
        self.assertIn("no target", target_error("org", "acme"))


class SpendMixin(ApiClientMixin):
    """Today's spend posted through the usage API with reported costs, one call per (customer, cost)."""

    def post_spend(self, *calls, key=None):
        now = timezone.now()
        stamp = now.replace(hour=0, minute=0, second=1, microsecond=0)
        body = [
            {"event_id": f"e-{self.id()}-{i}-{customer}-{cost}", "timestamp": stamp.isoformat(), "provider": "openai",
             "model": "gpt-4o", "customer": customer, "feature": feature, "cost": cost, "currency": "USD",
             "metadata": {"plan": plan} if plan else {}}
            for i, (customer, feature, plan, cost) in enumerate(calls)
        ]  # fmt: skip
        self.post_events(body, key=key)

    def api_post(self, url, body, key=None):
        return self.client.post(url, json.dumps(body), content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {key or self.write_key}")  # fmt: skip

    def api_delete(self, url, key=None):
        return self.client.delete(url, HTTP_AUTHORIZATION=f"Bearer {key or self.write_key}")

    def check(self, customer="acme", feature="chat", cost="1.00", key=None):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.api_post("/api/v1/budget-check/", {"customer": customer, "feature": feature,
                                                               "estimated_cost": cost}, key=key)  # fmt: skip
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()


class BudgetApiTests(SpendMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def test_it_creates_lists_and_updates_a_budget_with_what_is_spent(self):
        self.post_spend(("acme", "chat", "pro", "3.50"), ("acme", "search", "pro", "3.50"), ("zeta", "chat", "", "9"))
        response = self.api_post("/api/v1/budgets/", {"scope": "customer", "target": "acme", "period": "day",
                                                      "amount": "10", "alert_at": "0.9"})  # fmt: skip
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        today = timezone.now().date()
        self.assertEqual(
            {k: body[k] for k in ("scope", "target", "period", "amount", "currency", "alert_at", "spent", "reserved",
                                  "remaining", "status", "period_start", "period_end")},
            {"scope": "customer", "target": "acme", "period": "day", "amount": "10.0000000000", "currency": "USD",
             "alert_at": "0.900", "spent": "7.0000000000", "reserved": "0.0000000000", "remaining": "3.0000000000",
             "status": "ok", "period_start": str(today), "period_end": str(today + timedelta(days=1))},
        )  # fmt: skip
        again = self.api_post("/api/v1/budgets/", {"scope": "customer", "target": "acme", "period": "day",
                                                   "amount": "7.5"})  # fmt: skip
        self.assertEqual(again.status_code, 200)
        self.assertEqual((again.json()["id"], again.json()["remaining"]), (body["id"], "0.5000000000"))
        self.assertEqual(again.json()["status"], "alert")
        org_wide = self.api_post("/api/v1/budgets/", {"scope": "org", "period": "month", "amount": "100"}).json()
        self.assertEqual(org_wide["spent"], "16.0000000000")
        feature = self.api_post("/api/v1/budgets/", {"scope": "feature", "target": "chat", "period": "week",
                                                     "amount": "100"}).json()  # fmt: skip
        self.assertEqual(feature["spent"], "12.5000000000")
        listed = self.api_get("/api/v1/budgets/").json()
        spent = sorted((b["scope"], b["spent"]) for b in listed)
        self.assertEqual(spent, [("customer", "7.0000000000"), ("feature", "12.5000000000"), ("org", "16.0000000000")])
        self.assertEqual(self.api_get(f"/api/v1/budgets/{body['id']}/").json()["amount"], "7.5000000000")
        self.assertEqual(self.api_delete(f"/api/v1/budgets/{body['id']}/").status_code, 204)
        self.assertEqual(len(self.api_get("/api/v1/budgets/").json()), 2)

    def test_it_rejects_a_bad_budget_field_by_field(self):
        cases = [
            ({"scope": "customer", "period": "day", "amount": "10"}, "target"),
            ({"scope": "org", "target": "acme", "period": "day", "amount": "10"}, "target"),
            ({"scope": "galaxy", "period": "day", "amount": "10"}, "scope"),
            ({"scope": "org", "period": "year", "amount": "10"}, "period"),
            ({"scope": "org", "period": "day", "amount": "0"}, "amount"),
            ({"scope": "org", "period": "day", "amount": "ten"}, "amount"),
            ({"scope": "org", "period": "day", "amount": "10", "alert_at": "1.5"}, "alert_at"),
            ({"scope": "org", "period": "day", "amount": "10", "currency": "EUR"}, "currency"),
        ]
        for body, field in cases:
            with self.subTest(field=field, body=body):
                response = self.api_post("/api/v1/budgets/", body)
                self.assertEqual(response.status_code, 400)
                self.assertIn(field, response.json())
        self.assertFalse(Budget.objects.exists())

    def test_a_check_holds_its_estimate_until_released(self):
        self.post_spend(("acme", "chat", "", "7"))
        budget = self.api_post("/api/v1/budgets/", {"scope": "customer", "target": "acme", "period": "day",
                                                    "amount": "10"}).json()  # fmt: skip
        first = self.check(cost="2")
        self.assertEqual((first["allow"], first["remaining"], first["currency"]), (True, "1.0000000000", "USD"))
        self.assertIn("customer acme per day", first["reason"])
        self.assertIsNotNone(first["reservation"])
        held = self.api_get(f"/api/v1/budgets/{budget['id']}/").json()
        self.assertEqual((held["reserved"], held["remaining"]), ("2.0000000000", "1.0000000000"))
        second = self.check(cost="2")
        self.assertEqual((second["allow"], second["remaining"], second["reservation"]), (False, "1.0000000000", None))
        self.assertIn("Over budget: customer acme per day has $1.00 left of $10.00", second["reason"])
        self.assertEqual(BudgetReservation.objects.count(), 1)  # a refused check holds nothing
        self.assertEqual(self.api_delete(f"/api/v1/budget-check/{first['reservation']}/").status_code, 204)
        self.assertEqual(self.api_delete(f"/api/v1/budget-check/{first['reservation']}/").status_code, 404)
        self.assertTrue(self.check(cost="2")["allow"])
        self.assertTrue(self.check(customer="zeta", cost="500")["allow"])  # acme's budget is not zeta's
        free = self.check(cost="0")
        self.assertEqual((free["allow"], free["reservation"]), (True, None))  # a job that costs nothing holds nothing

    def test_plan_and_trial_budgets_follow_the_customers_plan(self):
        self.post_spend(("s1", "chat", "starter", "30"), ("s2", "chat", "starter", "15"),
                        ("p1", "chat", "pro", "80"), ("t1", "chat", "trial", "4"))  # fmt: skip
        starter = self.api_post("/api/v1/budgets/", {"scope": "plan", "target": "starter", "period": "month",
                                                     "amount": "50"}).json()  # fmt: skip
        self.assertEqual(starter["spent"], "45.0000000000")
        trial = self.api_post("/api/v1/budgets/", {"scope": "trial", "period": "week", "amount": "5"}).json()
        self.assertEqual(trial["spent"], "4.0000000000")
        self.assertFalse(self.check(customer="s2", cost="6")["allow"])
        self.assertTrue(self.check(customer="s2", cost="5")["allow"])
        self.assertTrue(self.check(customer="p1", cost="100")["allow"])  # pro has no budget
        refused = self.check(customer="t1", cost="1.5")
        self.assertFalse(refused["allow"])
        self.assertIn("trial accounts per week", refused["reason"])
        self.assertTrue(self.check(customer="someone-new", cost="100")["allow"])  # no plan known: plan budgets skip

    def test_with_no_budget_a_check_allows_and_says_so(self):
        body = self.check(cost="1000")
        self.assertEqual((body["allow"], body["remaining"], body["reservation"]), (True, None, None))
        self.assertIn("No budget applies", body["reason"])

    def test_a_bad_check_is_refused_with_its_field(self):
        for body, field in [({"customer": "acme"}, "estimated_cost"), ({"estimated_cost": "-1"}, "estimated_cost"),
                            ({"estimated_cost": "1", "currency": "EUR"}, "currency")]:  # fmt: skip
            response = self.api_post("/api/v1/budget-check/", body)
            self.assertEqual(response.status_code, 400)
            self.assertIn(field, response.json())

    def test_an_alert_goes_to_the_writers_once_per_period(self):
        self.post_spend(("acme", "chat", "", "7"))
        with self.captureOnCommitCallbacks(execute=True):
            self.api_post("/api/v1/budgets/", {"scope": "customer", "target": "acme", "period": "day", "amount": "10"})
        self.assertEqual(len(mail.outbox), 0)  # 70% is under the 80% alert
        self.check(cost="1.5")  # 85% spent or held
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["alice@example.org"])  # bob only views
        self.assertIn("customer acme per day has reached 85% of its budget", mail.outbox[0].subject)
        self.assertIn("Reserved:  $1.50", mail.outbox[0].body)
        self.assertIn(f"/o/{self.org.code}/budgets/", mail.outbox[0].body)
        self.check(cost="0.5")
        self.post_spend(("acme", "chat", "", "5"))  # the recompute finds it over: the period's alert already went
        self.api_get("/api/v1/budgets/")
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(BudgetAlert.objects.get().spent_amount, D("8.5"))

    def test_expired_holds_stop_counting_and_are_purged(self):
        budget_save(org=self.org, scope="org", target="", period="day", amount=D(10), currency="USD",
                                alert_at=D("0.8"))  # fmt: skip
        now = timezone.now()
        self.assertTrue(
            budget_check(org=self.org, customer="", feature="", estimated_cost=D(10), now=now).verdict.allow
        )
        self.assertFalse(
            budget_check(org=self.org, customer="", feature="", estimated_cost=D(1), now=now).verdict.allow
        )
        later = now + timedelta(minutes=61)
        self.assertTrue(
            budget_check(org=self.org, customer="", feature="", estimated_cost=D(1), now=later).verdict.allow
        )
        self.assertEqual(budget_reservations_purge(now=later), 1)
        self.assertEqual(list(BudgetReservation.objects.values_list("amount", flat=True)), [D(1)])

    def test_the_openapi_schema_documents_them(self):
        paths = self.client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
        self.assertEqual(set(paths["/api/v1/budgets/"]), {"get", "post"})
        self.assertEqual(set(paths["/api/v1/budget-check/"]), {"post"})
        self.assertEqual(set(paths["/api/v1/budget-check/{code}/"]), {"delete"})

    def test_holds_are_summed_per_minute_of_expiry(self):
        budget, _ = budget_save(org=self.org, scope="org", target="", period="day", amount=D(100), currency="USD",
                                alert_at=D(1))  # fmt: skip
        now = timezone.now().replace(second=10)
        checks = [budget_check(org=self.org, customer="", feature="", estimated_cost=D(cost), now=now + timedelta(
            seconds=offset)) for cost, offset in (("1.5", 0), ("2.25", 30), ("4", 70))]  # fmt: skip
        holds = sorted(BudgetHold.objects.filter(budget=budget).values_list("amount", flat=True))
        self.assertEqual(holds, [D("3.75"), D(4)])  # two minutes of expiry, three checks
        self.assertEqual(budget_reservation_release(org=self.org, code=checks[0].reservation), 1)
        self.assertEqual(budget_reservation_release(org=self.org, code=checks[0].reservation), 0)
        state = budget_check(
            org=self.org, customer="", feature="", estimated_cost=D(0), now=now + timedelta(seconds=80)
        )
        self.assertEqual(state.verdict.remaining, D(100) - D("2.25") - D(4))

    def test_it_requires_write(self):
        for url, body in [("/api/v1/budgets/", {"scope": "org", "period": "day", "amount": "1"}),
                          ("/api/v1/budget-check/", {"estimated_cost": "1"})]:  # fmt: skip
            self.assertEqual(self.api_post(url, body, key=self.read_key).status_code, 403)
        self.assertFalse(Budget.objects.exists())

    def test_it_hides_other_orgs(self):
        self.post_spend(("acme", "chat", "", "7"))
        mine = self.api_post("/api/v1/budgets/", {"scope": "org", "period": "day", "amount": "10"}).json()
        held = self.check(customer="acme", cost="1")
        charlie = {"HTTP_AUTHORIZATION": f"Bearer {self.charlie_key}"}
        self.assertEqual(self.client.get("/api/v1/budgets/", **charlie).json(), [])
        self.assertEqual(self.client.get(f"/api/v1/budgets/{mine['id']}/", **charlie).status_code, 404)
        self.assertEqual(self.client.delete(f"/api/v1/budgets/{mine['id']}/", **charlie).status_code, 404)
        self.assertEqual(self.client.delete(f"/api/v1/budget-check/{held['reservation']}/", **charlie).status_code, 404)
        self.assertEqual(self.client.get(f"/api/v1/budgets/?org={self.org.code}", **charlie).status_code, 404)
        theirs = self.api_post("/api/v1/budgets/", {"scope": "org", "period": "day", "amount": "10"},
                               key=self.charlie_key).json()  # fmt: skip
        self.assertEqual(theirs["spent"], "0.0000000000")  # alice's spend is not charlie's
        self.assertTrue(self.check(cost="10", key=self.charlie_key)["allow"])
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(f"/api/v1/budgets/?org={self.org.code}").status_code, 404)
        self.assertEqual(Budget.objects.get(code=mine["id"]).org, self.org)


class BudgetPageTests(SpendMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def url(self):
        return f"/o/{self.org.code}/budgets/"

    def test_a_writer_adds_changes_and_removes_a_budget(self):
        self.post_spend(("acme", "chat", "starter", "12"))
        self.client.force_login(self.alice)
        empty = self.client.get(self.url())
        self.assertContains(empty, "No budgets yet")
        self.assertContains(empty, '<option value="acme" label="customer">', html=False)  # targets to pick from
        form = {"scope": "customer", "target": " acme ", "period": "day", "amount": "10", "alert_pct": "80"}
        page = self.client.post(self.url(), form, follow=True)
        self.assertEqual(page.redirect_chain, [(self.url(), 302)])
        budget = Budget.objects.get(org=self.org)
        self.assertEqual((budget.target, budget.amount, budget.alert_at, budget.currency),
                         ("acme", D(10), D("0.8"), "USD"))  # fmt: skip
        self.assertContains(page, "Budget added: customer acme per day.")
        self.assertContains(page, "over by $2.00")
        self.client.post(self.url(), form | {"amount": "20"})
        self.assertEqual(Budget.objects.get(org=self.org).amount, D(20))
        self.assertContains(self.client.get(self.url()), "$8.00")
        self.client.post(f"{self.url()}{budget.code}/delete/")
        self.assertFalse(Budget.objects.exists())

    def test_the_form_explains_a_missing_target(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url(), {"scope": "plan", "target": "", "period": "month", "amount": "5",
                                                 "alert_pct": "80"})  # fmt: skip
        self.assertContains(response, "Name the plan this budget is for.")
        self.assertFalse(Budget.objects.exists())

    def test_a_suggested_cap_prefills_the_form(self):
        self.client.force_login(self.alice)
        page = self.client.get(self.url() + "?scope=plan&target=starter&period=month&amount=42.50")
        self.assertContains(page, 'value="starter"')
        self.assertContains(page, 'value="42.50"')

    def test_it_requires_write(self):
        budget, _ = budget_save(org=self.org, scope="org", target="", period="day", amount=D(10), currency="USD",
                                alert_at=D("0.8"))  # fmt: skip
        self.client.force_login(self.bob)
        page = self.client.get(self.url())
        self.assertContains(page, "The whole organisation")
        self.assertNotContains(page, "Save the budget")
        self.assertEqual(self.client.post(self.url(), {"scope": "org", "period": "day", "amount": "1",
                                                       "alert_pct": "80"}).status_code, 403)  # fmt: skip
        self.assertEqual(self.client.post(f"{self.url()}{budget.code}/delete/").status_code, 403)
        self.assertTrue(Budget.objects.filter(pk=budget.pk).exists())

    def test_it_hides_other_orgs(self):
        budget, _ = budget_save(org=self.org, scope="org", target="", period="day", amount=D(10), currency="USD",
                                alert_at=D("0.8"))  # fmt: skip
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.post(f"{self.url()}{budget.code}/delete/").status_code, 404)
        theirs = f"/o/{self.charlies_org.code}/budgets/"
        self.assertEqual(self.client.post(f"{theirs}{budget.code}/delete/").status_code, 404)
        self.assertTrue(Budget.objects.filter(pk=budget.pk).exists())


@skipUnlessDBFeature("has_select_for_update")
class BudgetCheckConcurrencyTests(TransactionTestCase):
    """Twenty checks racing for a $10 budget from their own database connections: exactly ten $1 jobs fit."""

    def test_concurrent_checks_never_spend_the_same_money_twice(self):
        owner, _ = user_get_or_create(email="race@example.org", password="correct-horse-battery-staple")
        org = org_create(name="Race AI", owner=owner)
        budget_save(org=org, scope="customer", target="acme", period="day", amount=D(10), currency="USD",
                    alert_at=D(1))  # fmt: skip
        barrier, results = threading.Barrier(20), []

        def one_check():
            try:
                barrier.wait(timeout=30)
                check = budget_check(org=org, customer="acme", feature="", estimated_cost=D(1))
                results.append(check.verdict.allow)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=one_check) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(sorted(results), [False] * 10 + [True] * 10)
        self.assertEqual(BudgetReservation.objects.filter(org=org).count(), 10)
