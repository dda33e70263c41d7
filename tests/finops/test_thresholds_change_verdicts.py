"""Every stop-sign threshold is read, and changing it changes its row's verdict.

For each threshold of DEFAULT_THRESHOLDS there is a scenario: facts whose row's verdict is on one side of the
default, and a new value of that one threshold that puts it on the other side. A threshold added later without a
scenario fails `test_every_threshold_has_a_scenario`. Most scenarios are hand-built `PeriodFacts` given to the
pure rules; the evaluation lookback is applied where the period's facts are read, so it (and the batch limit,
once more) is driven as a user: data through the API and the decisions page, the threshold saved on the
thresholds page as alice, the verdict read from GET /api/v1/founder-table/ and the Founder Table page."""

import re
from dataclasses import dataclass, field
from decimal import Decimal as D

from django.db import transaction
from django.test import SimpleTestCase

from finops.economics.facts import HostFacts, PeriodFacts, RouteFacts, RunFacts
from finops.economics.rows import ROWS
from finops.economics.rules import DEFAULT_THRESHOLDS, THRESHOLD_HELP, founder_table
from finops.forms import EconomicsSettingsForm
from finops.models import EconomicsSettings
from finops.selectors.inputs import economics_settings_for
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin

ROW_TITLES = {row.key: row.title for row in ROWS}


@dataclass(frozen=True)
class Scenario:
    row: str  # the Founder Table row the threshold decides
    before: bool  # the row's stop sign under the default thresholds
    changed: str  # the threshold's new value (as typed on the thresholds page), which flips the stop sign
    facts: dict | None = None  # PeriodFacts fields, for the pure rules
    data: str = ""  # else (or also) the ThroughThePagesTests method that records the data as a user would
    notes: list = field(default_factory=list)


def host(paid="100", idle="10", zombie_seconds=0) -> HostFacts:
    return HostFacts("gpu-1", D(paid), D(idle), D(0), paid_gpu_seconds=D(36000),
                     idle_gpu_seconds=D(36000) * D(idle) / D(paid), zombie_seconds=zombie_seconds)  # fmt: skip


# A feature sending 95% of its calls to a model ten times dearer per token: the cheap route would save 89.5%.
ROUTES = (RouteFacts("chat", "big-model", 95, D("95"), 95000), RouteFacts("chat", "small-model", 5, D("0.5"), 5000))

SCENARIOS = {
    # A training run of 80 without a learning question: above the default 50, not above 100.
    "training_run_min_cost": Scenario(
        "training_run", True, "100", {"runs": (RunFacts("run-a", "training", D("80"), D(3600), approved=False),)}
    ),
    # Each customer pays more than they cost; the plan's p90 cost 40 is below half its price 100, above 30% of it.
    "plan_p90_cost_share_of_price": Scenario(
        "inference_request",
        False,
        "0.3",
        {
            "customer_cost": (("a", "pro", D("30")), ("b", "pro", D("40")), ("c", "pro", D("40"))),
            "revenue": {"a": D("100"), "b": D("100"), "c": D("100")},
            "plan_prices": {"pro": D("100")},
        },
    ),
    # A host idle 30% of its paid time: above the default 25%, not above 35%.
    "idle_share_of_paid_hours": Scenario("idle_gpu", True, "0.35", {"hosts": (host(idle="30"),)}),
    # A zombie of 3 hours on an otherwise busy host: longer than the default 2 hours, not than 4.
    "zombie_hours": Scenario("idle_gpu", True, "4", {"hosts": (host(idle="10", zombie_seconds=3 * 3600),)}),
    # Deferrable work paid 150 at real-time prices: above the default 100, not above 200.
    "batch_realtime_cost": Scenario(
        "batch_job",
        True,
        "200",
        {"deferrable_realtime_cost": D("150"), "deferrable_by_feature": (("enrich", D("150")),)},
        data="batch_work_at_real_time_prices",
    ),
    # 95% of calls on the premium model (above 90%, not above 96%), saving 89.5% (above 20%, not above 90%).
    "premium_call_share": Scenario("model_route", True, "0.96", {"routes": ROUTES}),
    "premium_saving_share": Scenario("model_route", True, "0.9", {"routes": ROUTES}),
    # A release with evaluation spend 3 days before it: inside the default 7 days, outside 2.
    "evaluation_lookback_days": Scenario("evaluation_run", False, "2", data="release_evaluated_three_days_before"),
    # Trial spend 15 against paid revenue 100: above the default 10%, not above 20%; the account is under the cap.
    "trial_share_of_paid_revenue": Scenario(
        "free_trial",
        True,
        "0.2",
        {"customer_cost": (("t1", "trial", D("15")),), "revenue": {"acme": D("100")}},
    ),
    # One trial account spending 30 (3% of paid revenue): above the default cap 25, not above 40.
    "trial_cap": Scenario(
        "free_trial",
        True,
        "40",
        {"customer_cost": (("t1", "trial", D("30")),), "revenue": {"acme": D("1000")}},
    ),
    # The below-median plan sends 40% of its calls to premium models: above the default 30%, not above 50%.
    "premium_share_low_price_plan": Scenario(
        "customer_tier",
        True,
        "0.5",
        {
            "plan_prices": {"basic": D("10"), "pro": D("50"), "max": D("100")},
            "plan_premium": (("basic", 40, 100, D("20")),),
        },
    ),
    # 15% of the bill has no owner: above the default 10%, not above 20%.
    "mystery_share_of_billed": Scenario(
        "shared_cluster", True, "0.2", {"billed_total": D("100"), "allocated": D("85"), "unattributed": D("15")}
    ),
    # A commitment used 50%: below the default 60%, not below 40%.
    "commitment_min_utilisation": Scenario(
        "provider_commitment", True, "0.4", {"commitments": (("c1", D("50"), D("50")),)}
    ),
}


def verdict(facts: dict, row: str, thresholds: dict | None = None):
    [result] = [r for r in founder_table(PeriodFacts(currency="USD", **facts), thresholds) if r.key == row]
    return result.stop_sign


class EveryThresholdHasAScenarioTests(SimpleTestCase):
    def test_every_threshold_has_a_scenario(self):
        self.assertEqual(set(SCENARIOS), set(DEFAULT_THRESHOLDS), "each threshold needs a scenario that it flips")
        for key, scenario in SCENARIOS.items():
            with self.subTest(threshold=key):
                self.assertTrue(scenario.facts is not None or scenario.data, "pure facts, the pages, or both")
                self.assertTrue(THRESHOLD_HELP[key].startswith(ROW_TITLES[scenario.row] + ":"), THRESHOLD_HELP[key])
                self.assertNotEqual(D(scenario.changed), DEFAULT_THRESHOLDS[key])

    def test_every_row_has_a_threshold_that_changes_its_verdict(self):
        self.assertEqual({s.row for s in SCENARIOS.values()}, set(ROW_TITLES))


class ThresholdsChangeVerdictsTests(SimpleTestCase):
    """The pure rules: the same facts, one threshold changed, the verdict flips."""

    def test_each_threshold_flips_its_rows_verdict(self):
        for key, scenario in SCENARIOS.items():
            if scenario.facts is None:
                continue
            with self.subTest(threshold=key, row=scenario.row):
                self.assertIs(verdict(scenario.facts, scenario.row), scenario.before)
                self.assertIs(verdict(scenario.facts, scenario.row, {key: scenario.changed}), not scenario.before)

    def test_the_other_thresholds_leave_the_verdict_alone(self):
        for key, scenario in SCENARIOS.items():
            if scenario.facts is None:
                continue
            for other in DEFAULT_THRESHOLDS.keys() - {key}:
                if SCENARIOS[other].row == scenario.row and SCENARIOS[other].facts == scenario.facts:
                    continue  # two thresholds of one clause judge the same facts
                with self.subTest(threshold=key, other=other):
                    self.assertIs(verdict(scenario.facts, scenario.row, {other: SCENARIOS[other].changed}),
                                  scenario.before)  # fmt: skip


class ThroughThePagesTests(ApiClientMixin, BaseTestCase):
    """As alice: record the data, read the verdict, save the one threshold on the thresholds page, read it again."""

    PERIOD = "start=2026-11-02&end=2026-11-09"

    def setUp(self):
        self.make_keys()
        self.client.force_login(self.alice)

    def release_evaluated_three_days_before(self):
        self.post_events([{"event_id": "eval-1", "timestamp": "2026-11-02T10:00:00Z", "provider": "acme-llm",
                           "model": "m1", "feature": "chat", "environment": "staging", "purpose": "evaluation",
                           "cost": "1.00", "currency": "USD", "input_tokens": 1000, "output_tokens": 0}])  # fmt: skip
        release = {"release": "1", "release-name": "v2", "release-released_at": "2026-11-05T12:00"}
        response = self.client.post(f"/o/{self.org.code}/decisions/", release)
        self.assertEqual(response.status_code, 302)

    def batch_work_at_real_time_prices(self):
        self.post_events([{"event_id": "batch-1", "timestamp": "2026-11-03T10:00:00Z", "provider": "acme-llm",
                           "model": "m1", "feature": "enrich", "cost": "150.00", "currency": "USD",
                           "input_tokens": 1000, "output_tokens": 0}])  # fmt: skip
        data = self.thresholds_form() | {"deferrable_features_text": "enrich"}  # work that could wait for batch
        self.assertEqual(self.client.post(f"/o/{self.org.code}/thresholds/", data).status_code, 302)

    def thresholds_save(self, **changed):
        response = self.client.post(f"/o/{self.org.code}/thresholds/", self.thresholds_form(**changed))
        self.assertEqual(response.status_code, 302, response.content.decode()[-2000:])

    def thresholds_form(self, **changed) -> dict:
        """The thresholds page's form as it stands (every field at its current value), with `changed` typed in."""
        form = EconomicsSettingsForm(instance=economics_settings_for(org=self.org))
        data = {name: "" if form[name].value() is None else form[name].value() for name in form.fields}
        data.update({f"t_{key}": value for key, value in changed.items()})
        return data

    def api_verdict(self, row: str):
        response = self.api_get(f"/api/v1/founder-table/?{self.PERIOD}")
        self.assertEqual(response.status_code, 200, response.content)
        return next(r for r in response.json()["rows"] if r["key"] == row)["stop_sign"]

    def page_verdict(self, row: str):
        html = self.client.get(f"/o/{self.org.code}/?week=2026-W45").content.decode()
        cell = re.search(rf'<tr id="row-{row}">.*?</td>', html, re.S).group(0)
        return True if 'class="sign stop"' in cell else False if 'class="sign ok"' in cell else None

    def test_a_threshold_saved_on_the_page_changes_the_stop_sign(self):
        driven = {key: s for key, s in SCENARIOS.items() if s.data}
        self.assertIn("evaluation_lookback_days", driven)
        for key, scenario in driven.items():
            with self.subTest(threshold=key, row=scenario.row), transaction.atomic():
                getattr(self, scenario.data)()
                self.assertIs(self.api_verdict(scenario.row), scenario.before)
                self.assertIs(self.page_verdict(scenario.row), scenario.before)
                self.thresholds_save(**{key: scenario.changed})
                saved = EconomicsSettings.objects.get(org=self.org)
                self.assertEqual(saved.thresholds, {key: scenario.changed})
                self.assertIs(self.api_verdict(scenario.row), not scenario.before)
                self.assertIs(self.page_verdict(scenario.row), not scenario.before)
                transaction.set_rollback(True)  # the next scenario starts from no data and the defaults

    def test_the_evaluation_lookback_counts_a_part_of_a_day_as_a_whole_one(self):
        self.release_evaluated_three_days_before()  # spend on 2 November, the release on the 5th
        for days, fires in (("2.5", False), ("2", True), ("3", False)):
            with self.subTest(days=days):
                self.thresholds_save(evaluation_lookback_days=days)
                self.assertIs(self.api_verdict("evaluation_run"), fires)
