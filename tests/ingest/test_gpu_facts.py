"""Idle, zombie and unowned GPU time on constructed timelines."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.test import SimpleTestCase

from ingest.gpu_facts import (
    CounterReading,
    EnergySample,
    MinuteSample,
    ProcessSample,
    gpu_hour_facts,
    label_key,
    sample_energies,
    zombie_minutes,
)

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


def readings(*counters, start=T0, every=10, power=300_000):
    """Samples `every` seconds apart with these energy counter values (None: counter unsupported)."""
    return [EnergySample(start + timedelta(seconds=every * i), c, power) for i, c in enumerate(counters)]


class SampleEnergyTests(SimpleTestCase):
    def test_it_takes_counter_deltas_and_falls_back_to_power_for_the_first_reading(self):
        energies, last = sample_energies(readings(1_000_000, 4_000_000, 7_500_000), previous=None, interval_seconds=10)
        self.assertEqual(energies, [300_000 * 10, 3_000_000, 3_500_000])
        self.assertEqual(last, CounterReading(T0 + timedelta(seconds=20), 7_500_000))

    def test_it_chains_from_the_previous_batch_reading(self):
        previous = CounterReading(T0 - timedelta(seconds=10), 900_000)
        energies, _ = sample_energies(readings(4_000_000, 7_000_000), previous=previous, interval_seconds=10)
        self.assertEqual(energies, [3_100_000, 3_000_000])

    def test_it_falls_back_to_power_after_a_counter_reset(self):
        energies, last = sample_energies(
            readings(50_000_000, 53_200_000, 1_000, 2_501_000), previous=None, interval_seconds=10
        )
        # the reset sample takes power x interval; the chain restarts from its reading
        self.assertEqual(energies, [3_000_000, 3_200_000, 3_000_000, 2_500_000])
        self.assertEqual(last.energy_mj, 2_501_000)

    def test_it_falls_back_to_power_across_a_gap_of_more_than_three_intervals(self):
        previous = CounterReading(T0 - timedelta(seconds=40), 1_000_000)
        energies, _ = sample_energies(readings(99_000_000), previous=previous, interval_seconds=10)
        self.assertEqual(energies, [300_000 * 10])
        previous = CounterReading(T0 - timedelta(seconds=30), 1_000_000)
        energies, _ = sample_energies(readings(10_000_000), previous=previous, interval_seconds=10)
        self.assertEqual(energies, [9_000_000], "a late tick or two still has a true delta")

    def test_it_uses_power_where_the_counter_is_unsupported_and_never_counts_a_gap_twice(self):
        energies, last = sample_energies(
            readings(1_000_000, None, 7_000_000, 9_500_000), previous=None, interval_seconds=10
        )
        self.assertEqual(energies, [3_000_000, 3_000_000, 3_000_000, 2_500_000])
        self.assertEqual(last.energy_mj, 9_500_000)
        energies, last = sample_energies(readings(None, None, power=61_000), previous=None, interval_seconds=10)
        self.assertEqual((energies, last), ([610_000, 610_000], None))
        energies, _ = sample_energies(readings(None, power=None), previous=None, interval_seconds=10)
        self.assertEqual(energies, [None])

    def test_it_refuses_a_jump_no_gpu_can_draw_and_a_stale_reading(self):
        energies, _ = sample_energies(readings(0, 10**12), previous=None, interval_seconds=10)
        self.assertEqual(energies, [3_000_000, 3_000_000])
        previous = CounterReading(T0 + timedelta(minutes=5), 80_000_000)
        energies, last = sample_energies(readings(1_000_000), previous=previous, interval_seconds=10)
        self.assertEqual((energies, last), ([3_000_000], previous), "an older sample keeps the newer reading")

    def test_it_answers_in_the_order_given(self):
        ordered = readings(1_000_000, 4_000_000, 6_000_000)
        energies, _ = sample_energies(ordered[::-1], previous=None, interval_seconds=10)
        self.assertEqual(energies, [2_000_000, 3_000_000, 3_000_000])
