"""The Founder Table rules (finops/economics/rows, judged by finops/economics/rules.py) over hand-built
PeriodFacts: each one made to fire, with its offenders and their dollar impact largest first, and each one kept
quiet; plus the thresholds and the twelve weekly metrics (finops/economics/metrics.py)."""

from decimal import Decimal as D

from django.test import SimpleTestCase

from finops.economics.facts import HostFacts, PeriodFacts, RouteFacts, RunFacts
from finops.economics.metrics import METRIC_KEYS, weekly_metrics
from finops.economics.rules import DEFAULT_THRESHOLDS, founder_table, thresholds_with_defaults


def facts(**fields) -> PeriodFacts:
    return PeriodFacts(currency="USD", **fields)


def row(period: PeriodFacts, key: str, thresholds=None):
    [result] = [r for r in founder_table(period, thresholds) if r.key == key]
    return result


def impacts(result) -> list[tuple]:
    return [(o["id"], o["amount"]) for o in result.offenders]


def host(name="gpu-1", paid="100", idle="10", unowned="0", zombie=0, agent=True, unmeasured="0",
         unowned_unmeasured="0") -> HostFacts:  # fmt: skip
    return HostFacts(name, D(paid), D(idle), D(unowned), paid_gpu_seconds=D(36000), idle_gpu_seconds=D(3600),
                     zombie_seconds=zombie, agent=agent, unmeasured_cost=D(unmeasured),
                     unowned_unmeasured_cost=D(unowned_unmeasured))  # fmt: skip


class FounderTableTests(SimpleTestCase):
    def test_it_returns_every_row_in_order(self):
        keys = [r.key for r in founder_table(facts())]
        self.assertEqual(
            keys,
            ["training_run", "inference_request", "idle_gpu", "batch_job", "model_route", "evaluation_run",
             "free_trial", "customer_tier", "shared_cluster", "provider_commitment"],
        )  # fmt: skip


class TrainingRunTests(SimpleTestCase):
    def test_it_fires_for_runs_above_the_limit_without_a_learning_question(self):
        runs = (
            RunFacts("run-a", "training", D("80"), D(7200), approved=False),
            RunFacts("run-b", "research", D("120"), D(3600), approved=False),
            RunFacts("run-c", "training", D("500"), D(3600), approved=True),
            RunFacts("run-d", "training", D("10"), D(3600), approved=False),
            RunFacts("job-e", "inference", D("900"), D(3600), approved=False),
        )
        result = row(facts(runs=runs), "training_run")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("run-b", D("120")), ("run-a", D("80"))])
        self.assertEqual(result.measured["runs"], 4)
        self.assertEqual(result.measured["spend"], D("710"))
        self.assertEqual(result.measured["without_question"], 2)

    def test_it_stays_quiet_for_approved_or_small_runs(self):
        runs = (
            RunFacts("run-c", "training", D("500"), D(3600), approved=True),
            RunFacts("run-d", "training", D("50"), D(3600), approved=False),
        )
        result = row(facts(runs=runs), "training_run")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.offenders, [])


class InferenceRequestTests(SimpleTestCase):
    customer_cost = (("acme", "pro", D("30")), ("beta", "pro", D("40")), ("zeta", "pro", D("10")))

    def test_it_fires_for_customers_costing_more_than_their_revenue(self):
        revenue = {"acme": D("20"), "beta": D("15"), "zeta": D("100")}
        result = row(facts(customer_cost=self.customer_cost, revenue=revenue), "inference_request")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("beta", D("25")), ("acme", D("10"))])

    def test_it_fires_for_a_plan_whose_p90_cost_passes_half_its_price(self):
        revenue = {"acme": D("100"), "beta": D("100"), "zeta": D("100")}
        period = facts(customer_cost=self.customer_cost, revenue=revenue, plan_prices={"pro": D("60")})
        result = row(period, "inference_request")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("pro", D("10"))])  # p90 40 against 50% of 60

    def test_it_stays_quiet_when_revenue_covers_cost(self):
        revenue = {"acme": D("100"), "beta": D("100"), "zeta": D("100")}
        period = facts(customer_cost=self.customer_cost, revenue=revenue, plan_prices={"pro": D("80")})
        result = row(period, "inference_request")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.offenders, [])

    def test_it_neither_fires_nor_passes_without_revenue(self):
        period = facts(customer_cost=self.customer_cost, completed_jobs=4, job_cost=D("10"))
        result = row(period, "inference_request")
        self.assertIsNone(result.stop_sign)
        self.assertIn("Stripe", result.note)
        self.assertEqual(result.measured["cost_per_completed_job"], D("2.5"))


class IdleGpuTests(SimpleTestCase):
    def test_it_fires_for_a_host_idle_beyond_its_share_of_measured_paid_time(self):
        hosts = (host("gpu-1", idle="30"), host("gpu-3", idle="25"))
        result = row(facts(hosts=hosts), "idle_gpu")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("gpu-1", D("30"))])
        self.assertEqual(result.offenders[0]["reason"], "idle 30% of measured paid time")

    def test_an_owned_host_without_agent_is_listed_to_install_the_agent_but_is_not_idle(self):
        # 80 of gpu-2's 100 were never measured: not idle, and its 20 measured are half idle
        hosts = (host("gpu-1", idle="25"), host("gpu-2", idle="5", unmeasured="80", agent=False))
        result = row(facts(hosts=hosts), "idle_gpu")
        self.assertIs(result.stop_sign, False, "an owned host nobody measured is not a stop sign on its own")
        self.assertEqual(impacts(result), [("gpu-2", D("80"))])
        self.assertEqual(result.offenders[0]["reason"], "no agent reports on it: install the agent")
        self.assertEqual(result.measured["unmeasured_cost"], D("80"))
        self.assertEqual(result.measured["idle_cost"], D("30"))
        self.assertIn("finops_agent.py", result.note)

    def test_measured_idle_share_leaves_out_the_unmeasured_time(self):
        # 20 measured paid, 10 of them idle: 50% idle although only 10% of the whole bill
        result = row(facts(hosts=(host("gpu-1", idle="10", unmeasured="80"),)), "idle_gpu")
        self.assertIs(result.stop_sign, True)
        self.assertIn("idle 50% of measured paid time", [o["reason"] for o in result.offenders])

    def test_it_fires_for_an_unowned_running_gpu_measured_or_not(self):
        unmeasured = row(facts(hosts=(host(idle="0", unmeasured="60", unowned_unmeasured="60", agent=False),)),
                         "idle_gpu")  # fmt: skip
        self.assertIs(unmeasured.stop_sign, True)
        self.assertEqual(impacts(unmeasured), [("gpu-1", D("60"))])
        self.assertIn("no owner", unmeasured.offenders[0]["reason"])

    def test_unmeasured_time_is_not_money_at_stake(self):
        from finops.founder_table import row_impact

        hosts = (host("gpu-1", idle="50", unowned="50"), host("gpu-2", paid="80000", idle="0", unmeasured="80000"))
        result = row(facts(hosts=hosts), "idle_gpu")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(row_impact(vars(result)), D("50"), "80,000 nobody measured is not a leak")
        self.assertEqual([o["at_stake"] for o in result.offenders], [False, True])

    def test_a_host_whose_agent_was_silent_is_told_to_check_it_not_to_install_it(self):
        result = row(facts(hosts=(host(idle="5", unmeasured="40", agent=True),)), "idle_gpu")
        self.assertEqual(
            result.offenders[0]["reason"], "its agent was silent for part of the billed time: check the agent"
        )
        self.assertEqual(result.measured["hosts_without_agent"], 0)
        self.assertNotIn("finops_agent.py", result.note)

    def test_zombie_cost_is_a_share_of_the_measured_paid_time_only(self):
        zombie = row(facts(hosts=(host(paid="10000", idle="0", unmeasured="9000", zombie=3 * 3600),)), "idle_gpu")
        # 1,000 measured over 36,000 GPU-seconds, 10,800 of them zombie
        self.assertIn(("gpu-1", D("300")), impacts(zombie))

    def test_it_is_unknown_when_no_agent_measured_any_host(self):
        result = row(facts(hosts=(host(paid="50", idle="0", unmeasured="50", agent=False),)), "idle_gpu")
        self.assertIsNone(result.stop_sign)
        self.assertEqual(impacts(result), [("gpu-1", D("50"))])

    def test_it_fires_for_paid_time_nobody_owns(self):
        result = row(facts(hosts=(host(idle="20", unowned="5"),)), "idle_gpu")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("gpu-1", D("5"))])
        self.assertEqual(result.offenders[0]["reason"], "idle GPU time with no owner")

    def test_it_fires_for_a_zombie_past_two_hours(self):
        result = row(facts(hosts=(host(zombie=3 * 3600),)), "idle_gpu")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("gpu-1", D("30"))])  # 100 paid over 36,000 GPU-seconds, 10,800 of them
        self.assertIn("zombie process for 3.0 h", result.offenders[0]["reason"])

    def test_it_stays_quiet_for_owned_hosts_busy_enough(self):
        result = row(facts(hosts=(host(idle="25", zombie=2 * 3600), host("gpu-2", idle="0"))), "idle_gpu")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.measured["idle_cost"], D("25"))
        self.assertEqual(result.measured["paid_cost"], D("200"))

    def test_it_says_so_without_hosts(self):
        result = row(facts(), "idle_gpu")
        self.assertIsNone(result.stop_sign)
        self.assertIn("agent", result.note)


class BatchJobTests(SimpleTestCase):
    def test_it_fires_for_deferrable_work_at_real_time_prices(self):
        period = facts(deferrable_realtime_cost=D("150"),
                       deferrable_by_feature=(("embed", D("40")), ("reports", D("110")), ("idle", D("0"))))  # fmt: skip
        result = row(period, "batch_job")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("reports", D("110")), ("embed", D("40"))])
        self.assertEqual(result.measured["batch_discount_at_stake"], D("75"))

    def test_it_stays_quiet_up_to_the_limit(self):
        result = row(
            facts(deferrable_realtime_cost=D("100"), deferrable_by_feature=(("embed", D("100")),)), "batch_job"
        )
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.offenders, [])


class ModelRouteTests(SimpleTestCase):
    @staticmethod
    def routes(premium_calls: int, feature="chat", scale=1):
        cheap_calls = 100 - premium_calls
        return (
            RouteFacts(feature, "big-model", premium_calls, D(premium_calls) * scale, premium_calls * 1000),
            RouteFacts(feature, "mini", cheap_calls, D("0.05") * cheap_calls, cheap_calls * 1000),
        )  # fmt: skip

    def test_it_fires_when_a_feature_sends_nearly_every_call_to_its_premium_model(self):
        result = row(facts(routes=self.routes(95) + self.routes(99, "search", scale=2)), "model_route")
        self.assertIs(result.stop_sign, True)
        # chat: 95 calls at 1.00 against mini at 0.05 a call: saves 95 - 4.75; search: 198 - 4.95
        self.assertEqual(impacts(result), [("search", D("193.05")), ("chat", D("90.25"))])
        self.assertIn("95% of calls on big-model", result.offenders[1]["reason"])

    def test_it_stays_quiet_when_the_mix_is_balanced(self):
        result = row(facts(routes=self.routes(80)), "model_route")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.measured["audit"][0]["premium_model"], "big-model")

    def test_it_stays_quiet_when_the_cheap_route_saves_little(self):
        routes = (RouteFacts("chat", "big", 95, D("95"), 95000), RouteFacts("chat", "small", 5, D("4.9"), 5000))
        self.assertIs(row(facts(routes=routes), "model_route").stop_sign, False)

    def test_it_says_so_when_no_feature_uses_two_models(self):
        result = row(facts(routes=(RouteFacts("chat", "big", 10, D("1"), 100),)), "model_route")
        self.assertIsNone(result.stop_sign)
        self.assertTrue(result.note)


class EvaluationRunTests(SimpleTestCase):
    def test_it_fires_for_a_release_with_no_evaluation_before_it(self):
        result = row(facts(releases=(("v1.2", D("0")), ("v1.3", D("12")))), "evaluation_run")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("v1.2", D("0"))])

    def test_it_fires_for_a_model_used_in_production_without_evaluation_calls(self):
        period = facts(unevaluated_models=(("chat", "gpt-x", D("3")), ("search", "claude-y", D("7"))))
        result = row(period, "evaluation_run")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("search", D("7")), ("chat", D("3"))])
        self.assertEqual(result.offenders[0]["name"], "search on claude-y")

    def test_it_stays_quiet_when_releases_were_evaluated(self):
        result = row(facts(releases=(("v1.3", D("12")),), evaluation_cost=D("12")), "evaluation_run")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.measured, {"evaluation_spend": D("12"), "releases": 1})


class FreeTrialTests(SimpleTestCase):
    customer_cost = (("t1", "trial", D("6")), ("t2", "trial", D("7")), ("paying", "pro", D("50")))

    def test_it_fires_when_trial_spend_passes_its_share_of_paid_revenue(self):
        result = row(facts(customer_cost=self.customer_cost, revenue={"paying": D("100")}), "free_trial")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("trial", D("13"))])
        self.assertEqual(result.offenders[0]["name"], "all trial accounts")

    def test_it_fires_for_one_trial_account_above_the_cap(self):
        costs = (*self.customer_cost, ("t3", "trial", D("40")))
        result = row(facts(customer_cost=costs, revenue={"paying": D("1000")}), "free_trial")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("t3", D("40"))])

    def test_it_fires_for_a_trial_account_above_the_cap_even_without_revenue(self):
        result = row(facts(customer_cost=(("t3", "trial", D("40")),)), "free_trial")
        self.assertIs(result.stop_sign, True)

    def test_it_stays_quiet_when_trials_are_small(self):
        result = row(facts(customer_cost=self.customer_cost, revenue={"paying": D("1000")}), "free_trial")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.measured, {"trial_accounts": 2, "trial_spend": D("13")})

    def test_it_neither_fires_nor_passes_without_revenue(self):
        result = row(facts(customer_cost=self.customer_cost), "free_trial")
        self.assertIsNone(result.stop_sign)
        self.assertIn("Stripe", result.note)


class CustomerTierTests(SimpleTestCase):
    prices = {"starter": D("10"), "pro": D("50"), "team": D("100")}

    def test_it_fires_for_a_cheap_plan_on_premium_models(self):
        plan_premium = (("starter", 40, 100, D("22")), ("pro", 90, 100, D("300")), ("team", 10, 100, D("5")))
        result = row(facts(plan_premium=plan_premium, plan_prices=self.prices), "customer_tier")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("starter", D("22"))])

    def test_it_stays_quiet_when_cheap_plans_use_cheap_models(self):
        plan_premium = (("starter", 30, 100, D("12")), ("pro", 90, 100, D("300")))
        result = row(facts(plan_premium=plan_premium, plan_prices=self.prices), "customer_tier")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.measured["premium_share_by_plan"]["starter"], D("0.3"))

    def test_it_fires_for_a_plan_whose_median_margin_is_below_the_target(self):
        # pro: margins 50%, 70%, 90% (median 70%); starter: 20% and 40% (median 20%, nearest rank)
        customer_cost = (("p1", "pro", D("25")), ("p2", "pro", D("15")), ("p3", "pro", D("5")),
                         ("s1", "starter", D("8")), ("s2", "starter", D("6")))  # fmt: skip
        revenue = {"p1": D("50"), "p2": D("50"), "p3": D("50"), "s1": D("10"), "s2": D("10")}
        period = facts(plan_prices=self.prices, customer_cost=customer_cost, revenue=revenue, target_margin=D("0.6"))
        result = row(period, "customer_tier")
        self.assertIs(result.stop_sign, True)
        # starter may cost 40% of its 20 of revenue, 8; it costs 14: 6 at stake
        self.assertEqual(impacts(result), [("starter", D("6"))])
        self.assertEqual(result.offenders[0]["reason"], "median margin 20% below the 60% target")
        self.assertEqual(result.measured["median_margin_by_plan"], {"pro": D("0.7"), "starter": D("0.2")})
        lenient = row(facts(plan_prices=self.prices, customer_cost=customer_cost, revenue=revenue,
                            target_margin=D("0.1")), "customer_tier")  # fmt: skip
        self.assertIs(lenient.stop_sign, False)

    def test_paying_customers_who_cost_nothing_count_in_the_median_margin(self):
        revenue = {f"p{i}": D("100") for i in range(5)}
        period = facts(plan_prices=self.prices, customer_cost=(("p0", "pro", D("80")),), revenue=revenue,
                       target_margin=D("0.6"), revenue_plans={f"p{i}": "pro" for i in range(1, 5)})  # fmt: skip
        result = row(period, "customer_tier")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.measured["median_margin_by_plan"], {"pro": D("1")})

    def test_one_plan_failing_both_halves_is_one_offender_with_both_reasons(self):
        period = facts(plan_prices=self.prices, plan_premium=(("starter", 40, 100, D("22")),),
                       customer_cost=(("s1", "starter", D("9")),), revenue={"s1": D("10")},
                       target_margin=D("0.6"))  # fmt: skip
        result = row(period, "customer_tier")
        self.assertEqual(impacts(result), [("starter", D("22"))])
        self.assertIn("premium models", result.offenders[0]["reason"])
        self.assertIn("median margin 10% below the 60% target", result.offenders[0]["reason"])

    def test_it_neither_fires_nor_passes_without_plan_prices(self):
        result = row(facts(plan_premium=(("starter", 90, 100, D("22")),)), "customer_tier")
        self.assertIsNone(result.stop_sign)
        self.assertIn("Stripe", result.note)


class SharedClusterTests(SimpleTestCase):
    def test_it_fires_when_the_mystery_bucket_passes_its_share_of_the_bill(self):
        result = row(facts(billed_total=D("100"), unattributed=D("8"), untagged_allocated=D("5")), "shared_cluster")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("unattributed", D("13"))])

    def test_it_stays_quiet_up_to_the_share(self):
        result = row(facts(billed_total=D("100"), unattributed=D("6"), untagged_allocated=D("4")), "shared_cluster")
        self.assertIs(result.stop_sign, False)
        self.assertEqual(result.measured["share_of_bill"], D("0.1"))

    def test_it_says_nothing_without_a_bill(self):
        self.assertIsNone(row(facts(), "shared_cluster").stop_sign)


class ProviderCommitmentTests(SimpleTestCase):
    def test_it_fires_for_commitments_used_below_the_minimum(self):
        commitments = (("ri-1", D("50"), D("50")), ("sp-2", D("10"), D("90")), ("ri-3", D("90"), D("10")))
        result = row(facts(commitments=commitments), "provider_commitment")
        self.assertIs(result.stop_sign, True)
        self.assertEqual(impacts(result), [("sp-2", D("90")), ("ri-1", D("50"))])
        self.assertEqual(result.measured["utilisation"], D("0.5"))

    def test_it_stays_quiet_for_well_used_commitments(self):
        result = row(facts(commitments=(("ri-1", D("60"), D("40")),)), "provider_commitment")
        self.assertIs(result.stop_sign, False)

    def test_it_says_so_without_commitments(self):
        result = row(facts(), "provider_commitment")
        self.assertIsNone(result.stop_sign)
        self.assertTrue(result.note)


class ThresholdTests(SimpleTestCase):
    def test_it_applies_an_orgs_overrides_and_ignores_unknown_keys(self):
        merged = thresholds_with_defaults({"training_run_min_cost": "200", "no_such_threshold": "1"})
        self.assertEqual(merged["training_run_min_cost"], D("200"))
        self.assertEqual(merged["trial_cap"], D("25"))
        self.assertNotIn("no_such_threshold", merged)
        self.assertEqual(DEFAULT_THRESHOLDS["training_run_min_cost"], D("50"))
        self.assertEqual(thresholds_with_defaults(None), DEFAULT_THRESHOLDS)

    def test_an_override_changes_the_outcome(self):
        period = facts(runs=(RunFacts("run-a", "training", D("80"), D(3600), approved=False),),
                       billed_total=D("100"), unattributed=D("13"))  # fmt: skip
        self.assertIs(row(period, "training_run").stop_sign, True)
        self.assertIs(row(period, "training_run", {"training_run_min_cost": "100"}).stop_sign, False)
        self.assertIs(row(period, "shared_cluster").stop_sign, True)
        self.assertIs(row(period, "shared_cluster", {"mystery_share_of_billed": "0.2"}).stop_sign, False)
        quiet = facts(hosts=(host(idle="20"),))
        self.assertIs(row(quiet, "idle_gpu").stop_sign, False)
        self.assertIs(row(quiet, "idle_gpu", {"idle_share_of_paid_hours": "0.1"}).stop_sign, True)


class WeeklyMetricsTests(SimpleTestCase):
    def metrics(self, this_week, last_week) -> dict:
        rows = weekly_metrics(this_week, last_week)
        self.assertEqual([r["key"] for r in rows], list(METRIC_KEYS))
        return {r["key"]: r for r in rows}

    def test_it_gives_value_previous_and_relative_change(self):
        now = facts(failed_job_cost=D("30"), completed_jobs=4, failed_jobs=1, job_attempts=7, job_cost=D("10"),
                    hosts=(host(),), evaluation_cost=D("9"), releases=(("v1", D("9")), ("v2", D("0"))))  # fmt: skip
        before = facts(failed_job_cost=D("20"), completed_jobs=2, job_attempts=2, job_cost=D("10"))
        m = self.metrics(now, before)
        self.assertEqual((m["failed_job_cost"]["value"], m["failed_job_cost"]["previous"]), (D("30"), D("20")))
        self.assertEqual(m["failed_job_cost"]["change"], D("0.5"))
        self.assertEqual(m["cost_per_completed_job"]["value"], D("2.5"))
        self.assertEqual(m["cost_per_completed_job"]["change"], D("-0.5"))
        self.assertEqual(m["retries_per_completed_job"]["value"], D("0.5"))  # (7 attempts - 5 jobs) / 4
        self.assertEqual(m["retries_per_completed_job"]["previous"], D(0))
        self.assertIsNone(m["retries_per_completed_job"]["change"])  # previous is 0
        self.assertEqual(m["idle_gpu_hours"]["value"], D(1))
        self.assertIsNone(m["idle_gpu_hours"]["change"])
        self.assertEqual(m["evaluation_spend_per_release"]["value"], D("4.5"))
        self.assertIsNone(m["evaluation_spend_per_release"]["previous"])
        self.assertIsNone(m["evaluation_spend_per_release"]["change"])
        self.assertIsNone(m["gross_margin_after_ai_compute"]["value"])  # no revenue

    def test_it_groups_spend_by_customer_as_top_ten_and_other(self):
        costs = (*((f"c{n:02d}", "pro", D(n)) for n in range(1, 13)), ("c12", "team", D(1)))
        m = self.metrics(facts(customer_cost=costs), facts(customer_cost=(("c01", "pro", D("39.5")),)))
        by_customer = m["gpu_spend_by_customer"]
        self.assertEqual(list(by_customer["value"]), [f"c{n:02d}" for n in range(12, 2, -1)] + ["other"])
        self.assertEqual(by_customer["value"]["c12"], D(13))
        self.assertEqual(by_customer["value"]["other"], D(3))  # c01 and c02
        self.assertEqual(by_customer["previous"], {"c01": D("39.5")})
        self.assertEqual(by_customer["change"], D(1))  # totals: 79 against 39.5
        self.assertEqual(m["inference_calls_per_user"]["value"], D(0))

    def test_gross_margin_counts_cost_no_customer_could_carry(self):
        # no customer has direct cost: the 900 of idle and unmeasured cost is unplaced, yet it is the margin's
        now = facts(revenue={"acme": D("1000")}, customers_fully_loaded=D("900"))
        self.assertEqual(self.metrics(now, facts())["gross_margin_after_ai_compute"]["value"], D("0.1"))

    def test_it_keeps_training_spend_only_before_paid_proof(self):
        unpaid = facts(training_research_cost=D("70"))
        paid = facts(training_research_cost=D("70"), revenue={"acme": D("10")}, billed_total=D("9"),
                     customers_fully_loaded=D("4"))  # fmt: skip
        m = self.metrics(unpaid, paid)
        self.assertEqual(m["training_spend_before_paid_proof"]["value"], D("70"))
        self.assertEqual(m["training_spend_before_paid_proof"]["previous"], D(0))
        self.assertEqual(m["gross_margin_after_ai_compute"]["previous"], D("0.6"))
