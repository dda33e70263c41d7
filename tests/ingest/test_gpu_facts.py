"""Idle, zombie and unowned GPU time on constructed timelines."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.test import SimpleTestCase

from ingest.gpu_facts import MinuteSample, ProcessSample, gpu_hour_facts, label_key, zombie_minutes

T0 = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)


def minutes(count, busy, start=T0, energy=None):
    return [MinuteSample(start + timedelta(minutes=i), 60, 60 if busy else 0, energy) for i in range(count)]


def process(count, *, pid=1, memory=10**9, sm=0.0, label="", start=T0, gpu_seconds=Decimal(60)):
    return [ProcessSample(start + timedelta(minutes=i), pid, gpu_seconds, memory, sm, label) for i in range(count)]


class GpuFactsTests(SimpleTestCase):
    def test_it_splits_busy_and_idle_seconds_by_hour(self):
        timeline = minutes(90, busy=True) + minutes(30, busy=False, start=T0 + timedelta(minutes=90))
        first, second = gpu_hour_facts(timeline, [], host_owner="ops")
        self.assertEqual((first.busy_seconds, first.idle_seconds), (3600, 0))
        self.assertEqual((second.busy_seconds, second.idle_seconds), (1800, 1800))

    def test_it_calls_a_process_a_zombie_only_after_the_limit(self):
        notebook = process(45, sm=0.0, label="owner=li")
        zombies = zombie_minutes(notebook)
        self.assertEqual(min(zombies), T0 + timedelta(minutes=30))
        self.assertEqual(len(zombies), 15)
        [facts] = gpu_hour_facts(minutes(45, busy=False), notebook)
        self.assertEqual((facts.idle_seconds, facts.zombie_seconds), (2700, 900))

    def test_it_does_not_call_a_working_or_memoryless_process_a_zombie(self):
        self.assertEqual(zombie_minutes(process(60, sm=55.0)), set())
        self.assertEqual(zombie_minutes(process(60, memory=0)), set())
        gap = process(20) + process(20, start=T0 + timedelta(minutes=25))  # a restart breaks the run
        self.assertEqual(zombie_minutes(gap), set())

    def test_it_counts_unowned_time_without_labels_or_host_owner(self):
        labelled = process(10, sm=80.0, label="customer=acme")
        [facts] = gpu_hour_facts(minutes(60, busy=True), labelled)
        self.assertEqual(facts.unowned_seconds, 50 * 60)
        [owned] = gpu_hour_facts(minutes(60, busy=True), labelled, host_owner="ops@demo")
        self.assertEqual(owned.unowned_seconds, 0)

    def test_it_sums_gpu_seconds_per_label_set_and_energy_in_kwh(self):
        work = process(30, sm=70.0, label=label_key({"customer": "acme", "feature": "chat"}), gpu_seconds=Decimal(40))
        work += process(30, pid=2, sm=35.0, label="", gpu_seconds=Decimal(20))
        [facts] = gpu_hour_facts(minutes(60, busy=True, energy=21_000_000), work)
        self.assertEqual(facts.gpu_seconds_by_label, {"customer=acme;feature=chat": Decimal(1200), "": Decimal(600)})
        self.assertEqual(facts.energy_kwh, Decimal(60 * 21_000_000) / Decimal(3_600_000_000))
        self.assertEqual(label_key({}), "")
