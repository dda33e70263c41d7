"""Demo GPU hosts: a week of agent batches for an owned 8xH100 training box, a 2xA100 cloud inference
box and a 1xL4 dev box with a forgotten notebook. Batches are built exactly as the agent sends them."""

import random
from datetime import UTC, datetime, timedelta

HOSTS = {
    "train-h100-01": {"gpus": ("NVIDIA H100 80GB HBM3",) * 8, "memory": 85_899_345_920, "power": 690_000},
    "infer-a100-01": {"gpus": ("NVIDIA A100-SXM4-40GB",) * 2, "memory": 42_949_672_960, "power": 390_000},
    "dev-l4-01": {"gpus": ("NVIDIA L4",), "memory": 24_146_608_128, "power": 72_000},
}
INTERVAL = 1200  # one sample every twenty minutes keeps the demo quick; the agent's default is 10 s
HOURS_PER_BATCH = 24  # as an agent sends its spool after an outage: fewer, larger batches keep the demo quick


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _workload(host: str, moment: datetime, rng) -> tuple[int, dict | None, int]:
    """(GPU utilisation %, labels of the process running, SM %) for a host at a moment; labels None = no process."""
    hour, weekday = moment.hour, moment.weekday()
    if host.startswith("train-"):
        if weekday < 5 and 8 <= hour < 23:
            run = f"train-run-{moment:%m%d}"
            return rng.randint(88, 99), {"purpose": "training", "job_id": run, "owner": "maria@demo-ai.example"}, 95
        if weekday == 4 and hour >= 23:
            return (
                rng.randint(60, 80),
                {"purpose": "evaluation", "job_id": "eval-v2.4", "owner": "li@demo-ai.example"},
                70,
            )
        return 0, None, 0  # idle nights and weekends: the owned box burns money doing nothing
    if host.startswith("infer-"):
        busy = 9 <= hour < 21
        customer = f"cust-{rng.randint(1, 34):03d}"
        feature = rng.choice(("chat", "summarise", "agent-workflow"))
        labels = {"customer": customer, "feature": feature, "purpose": "inference", "env": "prod"}
        return (rng.randint(55, 85) if busy else rng.randint(3, 12)), labels, (60 if busy else 4)
    # dev box: a notebook left holding memory at 0%, with a little real work on weekday afternoons
    if weekday < 5 and 14 <= hour < 16:
        return rng.randint(30, 70), {"owner": "sam@demo-ai.example", "purpose": "research"}, 50
    return 0, {}, 0


def demo_gpu_batches(*, start: datetime, days: int, seed: int = 9, hosts: dict | None = None, interval: int = INTERVAL):
    """Yield (host name, batch dict) for every HOURS_PER_BATCH hours of `days` days from `start`, as an agent sends.

    `hosts` (default HOSTS) may name more machines: a name starting with train- or infer- works like those two,
    any other like the dev box; the benchmarks sample every minute (`interval` 60)."""
    rng = random.Random(seed)
    for host, spec in (hosts or HOSTS).items():
        gpus = [
            {"uuid": f"GPU-{host}-{i}", "index": i, "name": name, "memory_total_bytes": spec["memory"]}
            for i, name in enumerate(spec["gpus"])
        ]
        for first_hour in range(0, days * 24, HOURS_PER_BATCH):
            samples, processes = [], []
            for hour in range(first_hour, min(first_hour + HOURS_PER_BATCH, days * 24)):
                begin = start + timedelta(hours=hour)
                for tick in range(3600 // interval):
                    moment = begin + timedelta(seconds=tick * interval)
                    for gpu in gpus:
                        util, labels, sm = _workload(host, moment, rng)
                        samples.append({"ts": _iso(moment), "gpu_uuid": gpu["uuid"], "utilization_gpu_pct": util,
                                        "memory_used_bytes": spec["memory"] // (2 if labels is not None else 50),
                                        "power_mw": spec["power"] * max(util, 12) // 100})  # fmt: skip
                        if labels is not None:
                            processes.append({"ts": _iso(moment), "gpu_uuid": gpu["uuid"],
                                              "pid": 4000 + gpu["index"], "used_memory_bytes": spec["memory"] // 2,
                                              "sm_util_pct": sm, "name": "python", "user": "ml",
                                              "labels": labels})  # fmt: skip
            yield (
                host,
                {
                    "batch_id": f"{host}-demo-{first_hour}",
                    "agent_version": "1.0.0",
                    "interval_seconds": interval,
                    "host": {"name": host, "driver_version": "550.54.15"},
                    "gpus": gpus,
                    "samples": samples,
                    "processes": processes,
                },
            )


def demo_start(now: datetime, days: int) -> datetime:
    """The start of the hour `days` days before `now`, so the last demo hour has just ended."""
    return datetime(now.year, now.month, now.day, now.hour, tzinfo=UTC) - timedelta(days=days)
