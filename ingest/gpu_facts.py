"""Derived GPU facts per GPU and hour, from per-minute samples: pure arithmetic, no ORM.

- busy / idle: seconds sampled at or above / below the idle threshold (`IDLE_UTILIZATION_PCT`);
- zombie: idle seconds while a process holds GPU memory at ~0% SM utilisation, once that has lasted
  longer than a limit (`ZOMBIE_AFTER` by default): the forgotten notebook;
- unowned: seconds in which no process on the GPU carried a label and the host has no owner;
- GPU-seconds per label set, and energy in kWh (Decimal);
- energy per sample: the delta of the GPU's total energy counter since its previous reading, or
  power x interval where there is no usable delta (unsupported counter, reset, long gap).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

IDLE_UTILIZATION_PCT = 5
ZOMBIE_SM_PCT = 1
ZOMBIE_AFTER = timedelta(minutes=30)
STALE_AFTER = timedelta(minutes=5)  # five of the agent's default batches
MJ_PER_KWH = Decimal(3_600_000_000)
# A delta across a longer gap spans time no sample covered (agent or host down), and a counter that
# climbs faster than any GPU draws is a glitch: both fall back to power x interval.
MAX_COUNTER_GAP_INTERVALS = 3
MAX_GPU_POWER_MW = 3_000_000


def minutes_text(limit: timedelta) -> str:
    """A limit in whole minutes as pages word it: '1 minute', '30 minutes'."""
    minutes = int(limit.total_seconds() // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def gpu_limits_text() -> dict:
    """The idle, zombie and stale limits as the GPU pages quote them, read from the constants at each call."""
    return {
        "idle_below": f"{IDLE_UTILIZATION_PCT}%",
        "zombie_after": minutes_text(ZOMBIE_AFTER),
        "stale_after": minutes_text(STALE_AFTER),
    }


@dataclass(frozen=True)
class MinuteSample:
    minute: datetime
    covered_seconds: int
    busy_seconds: int
    energy_mj: int | None = None


@dataclass(frozen=True)
class CounterReading:
    at: datetime
    energy_mj: int  # NVML's total energy counter since the driver loaded


@dataclass(frozen=True)
class EnergySample:
    at: datetime
    counter_mj: int | None  # None where NVML does not support the counter, or the call failed
    power_mw: int | None


@dataclass(frozen=True)
class ProcessSample:
    minute: datetime
    pid: int
    gpu_seconds: Decimal
    memory_bytes: int | None
    sm_util_mean: float | None  # utilisation %, not money
    label_key: str  # "" when the process carried no label


@dataclass
class HourFacts:
    hour: datetime
    covered_seconds: int = 0
    busy_seconds: int = 0
    idle_seconds: int = 0
    zombie_seconds: int = 0
    unowned_seconds: int = 0
    energy_mj: int | None = None
    gpu_seconds_by_label: dict = field(default_factory=dict)

    @property
    def energy_kwh(self) -> Decimal | None:
        """Energy in kWh, divided once from the exact millijoule sum; None when no sample measured it."""
        return None if self.energy_mj is None else Decimal(self.energy_mj) / MJ_PER_KWH


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def sample_energies(
    samples: list[EnergySample], *, previous: CounterReading | None, interval_seconds: int
) -> tuple[list[int | None], CounterReading | None]:
    """Energy in mJ of each sample's interval, in the order given (None when neither counter nor power
    was read), and the newest counter reading to chain the next batch from."""
    max_gap = timedelta(seconds=interval_seconds * MAX_COUNTER_GAP_INTERVALS)
    energies: list[int | None] = [None] * len(samples)
    last = previous
    for position in sorted(range(len(samples)), key=lambda i: samples[i].at):
        sample = samples[position]
        energy = None
        if sample.counter_mj is not None and last is not None and last.at < sample.at <= last.at + max_gap:
            delta = sample.counter_mj - last.energy_mj
            seconds = (sample.at - last.at).total_seconds()
            if 0 <= delta <= MAX_GPU_POWER_MW * seconds:
                energy = delta
        if energy is None and sample.power_mw is not None:
            energy = sample.power_mw * interval_seconds  # mW x s = mJ
        energies[position] = energy
        if last is None or sample.at > last.at:
            # A sample without a reading breaks the chain: its interval was counted from power, and a
            # delta across it would count that energy twice.
            last = CounterReading(sample.at, sample.counter_mj) if sample.counter_mj is not None else None
    return energies, last


def zombie_minutes(
    processes: list[ProcessSample], *, after: timedelta = ZOMBIE_AFTER, max_gap: timedelta = timedelta(minutes=1)
) -> set[datetime]:
    """Minutes in which some process had held memory at ~0% SM utilisation for longer than `after`
    (samples further apart than `max_gap`, the sampling interval, break the run)."""
    held = defaultdict(list)
    for p in processes:
        if p.memory_bytes and (p.sm_util_mean is None or p.sm_util_mean <= ZOMBIE_SM_PCT):
            held[p.pid].append(p.minute)
    zombie = set()
    for minutes in held.values():
        minutes.sort()
        run_start = previous = None
        for minute in minutes:
            if previous is None or minute - previous > max_gap:
                run_start = minute
            if minute - run_start >= after:
                zombie.add(minute)
            previous = minute
    return zombie


def gpu_hour_facts(
    minutes: list[MinuteSample],
    processes: list[ProcessSample],
    *,
    host_owner: str = "",
    after: timedelta = ZOMBIE_AFTER,
    interval_seconds: int = 60,
) -> list[HourFacts]:
    """Per-hour facts of one GPU from its minutes and its processes' minutes, oldest hour first."""
    zombies = zombie_minutes(processes, after=after, max_gap=timedelta(seconds=max(60, interval_seconds)))
    labelled_minutes = {p.minute for p in processes if p.label_key}
    hours: dict[datetime, HourFacts] = {}
    for m in minutes:
        facts = hours.setdefault(_hour(m.minute), HourFacts(hour=_hour(m.minute)))
        idle = m.covered_seconds - m.busy_seconds
        facts.covered_seconds += m.covered_seconds
        facts.busy_seconds += m.busy_seconds
        facts.idle_seconds += idle
        if m.minute in zombies:
            facts.zombie_seconds += idle
        if not host_owner and m.minute not in labelled_minutes:
            facts.unowned_seconds += m.covered_seconds
        if m.energy_mj is not None:
            facts.energy_mj = (facts.energy_mj or 0) + m.energy_mj
    for p in processes:
        facts = hours.get(_hour(p.minute))
        if facts is not None:
            facts.gpu_seconds_by_label[p.label_key] = (
                facts.gpu_seconds_by_label.get(p.label_key, Decimal(0)) + p.gpu_seconds
            )
    return [hours[h] for h in sorted(hours)]


def label_key(labels: dict) -> str:
    """A stable text key for a label set: 'customer=acme;feature=summarise'; '' for none."""
    return ";".join(f"{k}={labels[k]}" for k in sorted(labels) if labels[k])


def seen_is_stale(last_seen_at: datetime | None, now: datetime) -> bool:
    """A host whose agent has sent nothing for `STALE_AFTER` (or never) is stale."""
    return last_seen_at is None or now - last_seen_at > STALE_AFTER
