"""GET founder-table, metrics/weekly, anomalies and forecast: shapes, tenancy and bad input."""

import json
from datetime import date, timedelta
from decimal import Decimal as D

from django.test import SimpleTestCase

from finops.economics.anomalies import detect_anomalies, month_end_forecast
from finops.economics.rows import ROWS
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin

MONDAY = date(2026, 11, 2)


class EconomicsApiTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def test_the_founder_table_has_every_row_undecided_without_data(self):
        body = self.api_get("/api/v1/founder-table/?start=2026-11-02&end=2026-11-09").json()
        self.assertEqual(len(body["rows"]), len(ROWS))
        self.assertEqual(body["rows"][0]["key"], "training_run")
        self.assertEqual(body["rows"][8]["stop_sign"], None)  # shared cluster: no bill, nothing to judge

    def test_weekly_metrics_are_the_twelve_in_order(self):
        body = self.api_get("/api/v1/metrics/weekly/?week=2026-W45").json()
        self.assertEqual((body["week"], body["start"]), ("2026-W45", "2026-11-02"))
        self.assertEqual(len(body["metrics"]), 12)
        margin = body["metrics"][-1]
        self.assertEqual(
            (margin["key"], margin["value"], margin["change"]), ("gross_margin_after_ai_compute", None, None)
        )

    def test_bad_weeks_and_periods_are_400(self):
        self.assertEqual(self.api_get("/api/v1/metrics/weekly/?week=45").status_code, 400)
        self.assertEqual(self.api_get("/api/v1/anomalies/?week=2026-45").status_code, 400)
        self.assertEqual(self.api_get("/api/v1/founder-table/?start=2026-11-09&end=2026-11-02").status_code, 400)

    def test_anomalies_and_forecast_answer_empty_for_a_new_org(self):
        self.assertEqual(self.api_get("/api/v1/anomalies/?week=2026-W45").json()["anomalies"], [])
        forecast = self.api_get("/api/v1/forecast/").json()
        self.assertEqual((forecast["currency"], forecast["month_to_date"]), ("USD", "0.0000000000"))

    def test_it_hides_other_orgs(self):
        for url in ("/api/v1/founder-table/", "/api/v1/metrics/weekly/", "/api/v1/anomalies/", "/api/v1/forecast/"):
            with self.subTest(url=url):
                self.assertEqual(self.api_get(f"{url}?org={self.org.code}", key=self.charlie_key).status_code, 404)
                self.assertEqual(self.client.get(url).status_code, 401)


class AnomalyMethodTests(SimpleTestCase):
    def steady(self, value, days=28, start=MONDAY - timedelta(days=28)):
        return {start + timedelta(days=i): D(value) for i in range(days)}

    def test_a_spend_spike_against_its_own_baseline(self):
        points = self.steady("10") | {MONDAY + timedelta(days=i): D("40") for i in range(7)}
        [found] = detect_anomalies({("spend_spike", "customer acme"): points}, {}, {}, MONDAY, currency="USD")
        self.assertEqual((found.kind, found.value, found.baseline), ("spend_spike", D("40"), D("10")))
        self.assertEqual(found.reason, "$40.00 a day against a usual $10.00")

    def test_idle_hours_with_no_agent_data_before_are_no_baseline(self):
        # an agent installed last week: the 28 days before hold no readings, which is not "zero idle hours"
        fresh = {MONDAY + timedelta(days=i): D("12") for i in range(7)}
        self.assertEqual(detect_anomalies({("idle_hours_jump", "host gpu-1"): fresh}, {}, {}, MONDAY, currency="USD"),
                         [])  # fmt: skip
        # measured on 10 of those days at 2 h: the week's 12 h a day is a jump
        measured = fresh | {MONDAY - timedelta(days=i): D("2") for i in range(1, 11)}
        [found] = detect_anomalies({("idle_hours_jump", "host gpu-1"): measured}, {}, {}, MONDAY, currency="USD")
        self.assertEqual((found.value, found.baseline), (D("12"), D("2")))

    def test_reasons_show_money_in_the_orgs_currency_and_other_figures_in_their_unit(self):
        spend = self.steady("1000.4") | {MONDAY + timedelta(days=i): D("3417.5") for i in range(7)}
        idle = self.steady("2") | {MONDAY + timedelta(days=i): D("9.25") for i in range(7)}
        daily = {("spend_spike", "customer acme"): spend, ("idle_hours_jump", "host gpu-1"): idle}
        ratios = {("retry_rate_jump", "all jobs"): [D("0.1")] * 4 + [D("0.3")],
                  ("tokens_per_request_jump", "feature chat"): [D(1000)] * 4 + [D(1500)]}  # fmt: skip
        reasons = {a.kind: a.reason for a in detect_anomalies(daily, ratios, {}, MONDAY, currency="JPY")}
        self.assertEqual(reasons["spend_spike"], "¥3,418 a day against a usual ¥1,000")  # half-even: 3417.5 -> 3418
        self.assertEqual(reasons["idle_hours_jump"], "9.2 GPU-hours a day against a usual 2.0")
        self.assertEqual(reasons["tokens_per_request_jump"], "1,500 tokens a request against a usual 1,000")
        self.assertEqual(reasons["retry_rate_jump"], "0.30 retries per job against a usual 0.10")
        [kwd] = detect_anomalies({("spend_spike", "feature chat"): spend}, {}, {}, MONDAY, currency="KWD")
        self.assertEqual(kwd.reason, "3,417.500 KWD a day against a usual 1,000.400 KWD")

    def test_a_noisy_series_and_pennies_do_not_alarm(self):
        noisy = {MONDAY - timedelta(days=28 - i): D(5 + 10 * (i % 2)) for i in range(28)}
        noisy |= {MONDAY + timedelta(days=i): D("14") for i in range(7)}
        pennies = self.steady("0.01") | {MONDAY + timedelta(days=i): D("0.50") for i in range(7)}
        daily = {("spend_spike", "feature chat"): noisy, ("spend_spike", "customer tiny"): pennies}
        self.assertEqual(detect_anomalies(daily, {}, {}, MONDAY, currency="USD"), [])

    def test_ratio_jumps_and_a_model_mix_shift(self):
        ratios = {("retry_rate_jump", "all jobs"): [D("0.1"), D("0.1"), None, D("0.1"), D("0.3")],
                  ("tokens_per_request_jump", "feature chat"): [D(1000)] * 4 + [D(1100)]}  # fmt: skip
        mixes = {"summarise": [D("0.5")] * 4 + [D("0.95")]}
        found = detect_anomalies({}, ratios, mixes, MONDAY, currency="USD")
        self.assertEqual([(a.kind, a.subject) for a in found],
                         [("model_mix_shift", "summarise"), ("retry_rate_jump", "all jobs")])  # fmt: skip

    def test_the_forecast_projects_the_run_rate_with_a_band(self):
        today = date(2026, 11, 21)
        daily = {date(2026, 11, d): D("100") for d in range(1, 21)}
        forecast = month_end_forecast(daily, today)
        self.assertEqual((forecast.month_to_date, forecast.run_rate_per_day), (D("2000"), D("100")))
        self.assertEqual((forecast.forecast, forecast.days_left), (D("3000"), 10))
        self.assertEqual((forecast.low, forecast.high), (D("3000"), D("3000")))  # a flat series has no spread


class EvaluationRuleFromDataTests(ApiClientMixin, BaseTestCase):
    """A model newly used in production for a feature, with and without evaluation calls first."""

    def setUp(self):
        self.make_keys()

    def post_calls(self, *events):
        body = [{"event_id": f"e{i}", "provider": "openai", "input_tokens": 1000, "output_tokens": 100,
                 "customer": "acme", **event} for i, event in enumerate(events)]  # fmt: skip
        response = self.client.post("/api/v1/usage-events/", json.dumps(body), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.json()["accepted"], len(events), response.content)

    def evaluation_row(self):
        rows = self.api_get("/api/v1/founder-table/?start=2026-11-02&end=2026-11-09").json()["rows"]
        return next(r for r in rows if r["key"] == "evaluation_run")

    def test_a_new_production_model_without_evaluation_fires(self):
        self.post_calls({"timestamp": "2026-11-03T10:00:00Z", "model": "gpt-4o", "feature": "chat",
                         "environment": "prod"})  # fmt: skip
        row = self.evaluation_row()
        self.assertIs(row["stop_sign"], True)
        self.assertEqual(row["offenders"][0]["name"], "chat on gpt-4o")

    def test_evaluation_calls_before_first_use_keep_it_quiet(self):
        self.post_calls({"timestamp": "2026-11-02T09:00:00Z", "model": "gpt-4o", "feature": "chat",
                         "environment": "staging", "purpose": "evaluation", "customer": ""},
                        {"timestamp": "2026-11-03T10:00:00Z", "model": "gpt-4o", "feature": "chat",
                         "environment": "prod"})  # fmt: skip
        self.assertIs(self.evaluation_row()["stop_sign"], False)

    def test_a_model_already_in_production_the_weeks_before_is_not_new(self):
        self.post_calls({"timestamp": "2026-10-20T10:00:00Z", "model": "gpt-4o", "feature": "chat",
                         "environment": "prod"},
                        {"timestamp": "2026-11-03T10:00:00Z", "model": "gpt-4o", "feature": "chat",
                         "environment": "prod"})  # fmt: skip
        self.assertIs(self.evaluation_row()["stop_sign"], False)
