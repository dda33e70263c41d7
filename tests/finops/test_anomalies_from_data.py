"""Anomalies from data posted through the usage API: a customer's spend spike and a feature's jump in tokens per
request against their own four-week baseline, and a recompute of a baseline day reads them afresh."""

from datetime import date, timedelta

from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin

MONDAY = date(2026, 11, 2)
WEEK = "2026-W45"


class AnomaliesFromDataTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()
        self.posted = 0

    def post_calls(self, day: date, calls: int, input_tokens: int):
        body = [
            {"event_id": f"e{self.posted + i}", "timestamp": f"{day}T{10 + i % 8:02d}:00:00Z", "provider": "openai",
             "model": "gpt-4o", "feature": "chat", "customer": "acme", "input_tokens": input_tokens,
             "output_tokens": 100}
            for i in range(calls)
        ]  # fmt: skip
        self.posted += calls
        self.post_events(body)

    def anomalies(self) -> set:
        body = self.api_get(f"/api/v1/anomalies/?week={WEEK}").json()
        return {(a["kind"], a["subject"]) for a in body["anomalies"]}

    def test_a_spike_against_the_baseline_fires_and_a_recomputed_baseline_quiets_it(self):
        for offset in range(28):  # $0.25 a day: one call of 100,000 input tokens on gpt-4o
            self.post_calls(MONDAY - timedelta(days=28 - offset), 1, 100_000)
        for offset in range(7):  # $20 a day: four calls of 2,000,000 input tokens
            self.post_calls(MONDAY + timedelta(days=offset), 4, 2_000_000)
        found = self.anomalies()
        self.assertIn(("spend_spike", "customer acme"), found)
        self.assertIn(("spend_spike", "feature chat"), found)
        self.assertIn(("spend_spike", "model gpt-4o"), found)
        self.assertIn(("tokens_per_request_jump", "feature chat"), found)
        self.assertEqual(self.anomalies(), found)  # asked again (from the cache): the same answer

        for offset in range(28):  # late data lifts every baseline day to the week's level
            self.post_calls(MONDAY - timedelta(days=28 - offset), 4, 2_000_000)
        self.assertEqual(self.anomalies(), set())

    def test_a_steady_series_has_no_anomaly(self):
        for offset in range(35):
            self.post_calls(MONDAY - timedelta(days=28 - offset), 2, 100_000)
        self.assertEqual(self.anomalies(), set())
