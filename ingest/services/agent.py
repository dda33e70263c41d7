"""The server side of the GPU host agent: one batch in, per-GPU and per-process minutes out.

A batch is idempotent by (host, batch_id); its samples are summed into one row per GPU per minute
and one row per process per GPU per minute, added to what earlier batches put in the same minute.
"""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.read_cache import quiet
from ingest.gpu_facts import (
    IDLE_UTILIZATION_PCT,
    ZOMBIE_AFTER,
    CounterReading,
    EnergySample,
    MinuteSample,
    ProcessSample,
    gpu_hour_facts,
    label_key,
    sample_energies,
    seen_is_stale,
)
from ingest.models import AgentBatch, Gpu, GpuHost, GpuHour, GpuMinute, ProcessMinute
from ingest.services.days import dirty_days_mark
from ingest.services.gpu_marks import resource_days_mark


def _minute(moment):
    return moment.replace(second=0, microsecond=0)


class HostConflictError(Exception):
    """A second machine sends with a token whose host already runs on another one (a copied token)."""

    code = "host_conflict"

    def __init__(self, *, host: str, recorded: str, reported: str):
        self.host, self.recorded, self.reported = host, recorded, reported
        super().__init__(
            f"the token of host {host!r} is in use on machine {recorded!r}; {reported!r} cannot use it too. "
            f"Give {reported!r} a token of its own, or, if it replaces {recorded!r}, tick "
            "'Forget the recorded machine' in the host's settings."
        )


class GpuOfAnotherHostError(Exception):
    """A batch lists a GPU that another host of the organisation reports: a token never moves GPUs."""

    def __init__(self, *, index: int, uuid: str, other_host: str):
        self.index, self.uuid, self.other_host = index, uuid, other_host
        super().__init__(f"GPU {uuid} belongs to host {other_host!r}; this token cannot report it")


def _machine_claim(host, reported: str) -> None:
    """Record the first machine that reports for `host`; refuse a different one (hostnames ignore case)."""
    if not reported:
        return
    if not host.reported_hostname:
        host.reported_hostname = reported
    elif host.reported_hostname.lower() != reported.lower():
        raise HostConflictError(host=host.name, recorded=host.reported_hostname, reported=reported)


def _gpus_check(org, host, reported) -> None:
    """Refuse the batch when one of its GPUs is already on another host of the organisation."""
    elsewhere = dict(
        Gpu.objects.for_org(org)
        .filter(uuid__in=[g["uuid"] for g in reported])
        .exclude(host=host)
        .values_list("uuid", "host__name")
    )
    for index, item in enumerate(reported):
        if item["uuid"] in elsewhere:
            raise GpuOfAnotherHostError(index=index, uuid=item["uuid"], other_host=elsewhere[item["uuid"]])


@transaction.atomic
def agent_batch_ingest(*, org, host_name: str, batch: dict) -> dict:
    """Store a validated batch; {"status": "duplicate"} when this host already sent this batch_id.

    The token names the host (`host_name`); the hostname in the batch names the machine. The first machine is
    recorded; another one raises HostConflictError, a GPU of another host GpuOfAnotherHostError, and then
    nothing of the batch is written."""
    with quiet():  # the host's last-seen time and counters: the economics see agent data through a recompute
        host, _ = GpuHost.objects.get_or_create(org=org, name=host_name)
        host = GpuHost.objects.for_org(org).select_for_update().get(pk=host.pk)  # one batch of a host at a time
        if AgentBatch.objects.for_org(org).filter(host=host, batch_id=batch["batch_id"]).exists():
            return {"status": "duplicate", "batch_id": batch["batch_id"]}
        _machine_claim(host, str((batch.get("host") or {}).get("name") or "").strip()[:255])
        _gpus_check(org, host, batch["gpus"])
        interval = batch["interval_seconds"]
        host.interval_seconds = interval
        gpus = _gpus_upsert(org, host, batch["gpus"])
        minutes = _gpu_minutes(org, gpus, batch["samples"], interval)
        utilization = {(s["gpu_uuid"], s["ts"]): s.get("utilization_gpu_pct") for s in batch["samples"]}
        processes = _process_minutes(org, gpus, batch["processes"], interval, utilization)
        moments = [s["ts"] for s in batch["samples"]] + [p["ts"] for p in batch["processes"]]
        AgentBatch.objects.create(
            org=org,
            host=host,
            batch_id=batch["batch_id"],
            samples=len(batch["samples"]),
            processes=len(batch["processes"]),
            first_at=min(moments) if moments else None,
            last_at=max(moments) if moments else None,
        )
        newest = max(moments) if moments else None
        if newest and (host.last_seen_at is None or newest > host.last_seen_at):
            host.last_seen_at = newest
        host.interval_seconds = interval
        host.driver_version = (batch.get("host") or {}).get("driver_version") or host.driver_version
        host.agent_version = batch.get("agent_version") or host.agent_version
        host.save()
        dirty_days_mark(org=org, days={m.date() for m in moments})
        gpu_hours_recompute(org=org, host=host, gpus=list(gpus.values()), moments=moments)
        return {
            "status": "accepted",
            "batch_id": batch["batch_id"],
            "gpu_minutes": minutes,
            "process_minutes": processes,
        }


def _gpus_upsert(org, host, reported) -> dict:
    known = {gpu.uuid: gpu for gpu in Gpu.objects.for_org(org).filter(uuid__in=[g["uuid"] for g in reported])}
    for item in reported:
        gpu = known.get(item["uuid"]) or Gpu(org=org, uuid=item["uuid"])
        gpu.host, gpu.index, gpu.name = host, item["index"], item.get("name") or gpu.name
        gpu.memory_total_bytes = item.get("memory_total_bytes") or gpu.memory_total_bytes
        gpu.mig_mode = item.get("mig_mode")
        gpu.save()
        known[gpu.uuid] = gpu
    return known


def _sample_energies(gpus, samples, interval) -> list:
    """Energy (mJ) of each sample, chained from the counter reading each Gpu row kept from the last batch."""
    energies = [None] * len(samples)
    positions = defaultdict(list)
    for position, sample in enumerate(samples):
        positions[sample["gpu_uuid"]].append(position)
    for uuid, mine in positions.items():
        gpu = gpus[uuid]
        previous = None
        if gpu.energy_counter_mj is not None and gpu.energy_counter_at is not None:
            previous = CounterReading(gpu.energy_counter_at, gpu.energy_counter_mj)
        readings = [EnergySample(s["ts"], s.get("energy_mj"), s.get("power_mw")) for s in (samples[p] for p in mine)]
        found, last = sample_energies(readings, previous=previous, interval_seconds=interval)
        for position, energy in zip(mine, found, strict=True):
            energies[position] = energy
        if last != previous:
            gpu.energy_counter_mj, gpu.energy_counter_at = (last.energy_mj, last.at) if last else (None, None)
            gpu.save(update_fields=["energy_counter_mj", "energy_counter_at"])
    return energies


def _gpu_minutes(org, gpus, samples, interval) -> int:
    totals = defaultdict(lambda: defaultdict(int))
    memory, energy = {}, {}
    for sample, sample_energy in zip(samples, _sample_energies(gpus, samples, interval), strict=True):
        key = (gpus[sample["gpu_uuid"]].pk, _minute(sample["ts"]))
        row = totals[key]
        row["samples"] += 1
        row["covered_seconds"] += interval
        utilization = sample.get("utilization_gpu_pct")
        if utilization is not None:
            row["utilization_gpu_sum"] += utilization
            row["busy_seconds"] += interval if utilization >= IDLE_UTILIZATION_PCT else 0
        if sample.get("power_mw") is not None:
            row["power_mw_sum"] += sample["power_mw"]
            row["power_samples"] += 1
        if sample_energy is not None:
            energy[key] = energy.get(key, 0) + sample_energy
        if sample.get("memory_used_bytes") is not None:
            memory[key] = max(memory.get(key, 0), sample["memory_used_bytes"])
    existing = {
        (m.gpu_id, m.minute): m
        for m in GpuMinute.objects.for_org(org)
        .select_for_update()
        .filter(gpu_id__in={k[0] for k in totals}, minute__in={k[1] for k in totals})
    }
    new, changed = [], []
    for key, row in totals.items():
        minute = existing.get(key) or GpuMinute(org=org, gpu_id=key[0], minute=key[1])
        for field in ("samples", "covered_seconds", "busy_seconds", "utilization_gpu_sum", "power_samples"):
            setattr(minute, field, getattr(minute, field) + row[field])
        if row["power_samples"]:
            minute.power_mw_sum = (minute.power_mw_sum or 0) + row["power_mw_sum"]
        if key in energy:
            minute.energy_mj = (minute.energy_mj or 0) + energy[key]
        if key in memory:
            minute.memory_used_max_bytes = max(minute.memory_used_max_bytes or 0, memory[key])
        (changed if minute.pk else new).append(minute)
    GpuMinute.objects.bulk_create(new)
    fields = ["samples", "covered_seconds", "busy_seconds", "utilization_gpu_sum", "power_samples", "power_mw_sum",
              "energy_mj", "memory_used_max_bytes"]  # fmt: skip
    GpuMinute.objects.bulk_update(changed, fields)
    return len(totals)


def _shares(entries, interval, gpu_utilization) -> list[Decimal]:
    """GPU-seconds of each process on one GPU at one tick: `interval x busy share` (ECONOMICS.md).

    The busy share is the process's own SM utilisation when NVML reports it for every process on the
    GPU; else the GPU's utilisation split across the processes in proportion to their GPU memory
    (evenly when memory is unknown). With no utilisation at all, the whole interval is split evenly.
    """
    seconds = Decimal(interval)
    utils = [e.get("sm_util_pct") for e in entries]
    if all(u is not None for u in utils):
        total = sum(utils)
        scale = Decimal(100) if total <= 100 else Decimal(total)  # more than 100% in sum: one GPU's worth
        return [seconds * u / scale for u in utils]
    memory = [e.get("used_memory_bytes") or 0 for e in entries]
    weights = memory if sum(memory) > 0 else [1] * len(entries)
    busy = seconds if gpu_utilization is None else seconds * min(gpu_utilization, 100) / 100
    return [busy * w / sum(weights) for w in weights]


def _process_minutes(org, gpus, processes, interval, utilization) -> int:
    ticks = defaultdict(list)
    for entry in processes:
        ticks[(entry["gpu_uuid"], entry["ts"])].append(entry)
    rows = {}
    for (gpu_uuid, moment), entries in ticks.items():
        shares = _shares(entries, interval, utilization.get((gpu_uuid, moment)))
        for entry, share in zip(entries, shares, strict=True):
            key = (gpus[gpu_uuid].pk, _minute(moment), entry["pid"])
            row = rows.setdefault(
                key, {"samples": 0, "gpu_seconds": Decimal(0), "memory": None, "sm": [], "entry": entry}
            )
            row["samples"] += 1
            row["gpu_seconds"] += share
            if entry.get("used_memory_bytes") is not None:
                row["memory"] = max(row["memory"] or 0, entry["used_memory_bytes"])
            if entry.get("sm_util_pct") is not None:
                row["sm"].append(entry["sm_util_pct"])
    existing = {
        (p.gpu_id, p.minute, p.pid): p
        for p in ProcessMinute.objects.for_org(org)
        .select_for_update()
        .filter(gpu_id__in={k[0] for k in rows}, minute__in={k[1] for k in rows})
    }
    new, changed = [], []
    for key, row in rows.items():
        process = existing.get(key) or _process_row(org, key, row["entry"])
        process.samples += row["samples"]
        process.gpu_seconds += row["gpu_seconds"].quantize(Decimal("0.001"))
        if row["memory"] is not None:
            process.memory_max_bytes = max(process.memory_max_bytes or 0, row["memory"])
        process.sm_util_sum += sum(row["sm"])
        process.sm_util_samples += len(row["sm"])
        (changed if process.pk else new).append(process)
    ProcessMinute.objects.bulk_create(new)
    ProcessMinute.objects.bulk_update(
        changed, ["samples", "gpu_seconds", "memory_max_bytes", "sm_util_sum", "sm_util_samples"]
    )
    return len(rows)


def _process_row(org, key, entry) -> ProcessMinute:
    labels = {k: str(v)[:200] for k, v in (entry.get("labels") or {}).items() if v not in (None, "")}
    return ProcessMinute(
        org=org,
        gpu_id=key[0],
        minute=key[1],
        pid=key[2],
        process_name=(entry.get("name") or "")[:255],
        user=(entry.get("user") or "")[:100],
        container_id=(entry.get("container_id") or "")[:100],
        labels=labels,
        customer=labels.get("customer", "")[:200],
        feature=labels.get("feature", "")[:200],
        job_id=labels.get("job_id", "")[:200],
        purpose=labels.get("purpose", "")[:50],
        owner=labels.get("owner", "")[:200],
        environment=labels.get("env", "")[:100],
    )


def host_is_stale(host, now=None) -> bool:
    """A host that has sent nothing for five minutes (five of the agent's default batches) is stale."""
    return seen_is_stale(host.last_seen_at, now or timezone.now())


def gpu_hours_recompute(*, org, host, gpus, moments) -> None:
    """Recompute the derived hourly facts of `gpus` for the hours `moments` fall in, with enough of the time before
    to see a zombie run that started earlier: the limit plus one sampling interval, so a sample at or before the
    limit is always read, however the agent cut its batches."""
    if not moments:
        return
    hours = {m.replace(minute=0, second=0, microsecond=0) for m in moments}
    lookback = ZOMBIE_AFTER + timedelta(seconds=max(60, host.interval_seconds or 60))
    since, until = min(hours) - lookback, max(hours) + timedelta(hours=1)
    window = {"gpu__in": gpus, "minute__gte": since, "minute__lt": until}
    minutes, processes = defaultdict(list), defaultdict(list)
    for m in GpuMinute.objects.for_org(org).filter(**window):
        minutes[m.gpu_id].append(MinuteSample(m.minute, m.covered_seconds, m.busy_seconds, m.energy_mj))
    for p in ProcessMinute.objects.for_org(org).filter(**window):
        mean_sm = p.sm_util_sum / p.sm_util_samples if p.sm_util_samples else None
        processes[p.gpu_id].append(
            ProcessSample(p.minute, p.pid, p.gpu_seconds, p.memory_max_bytes, mean_sm, label_key(p.labels))
        )
    rows = [
        GpuHour(
            org=org,
            gpu_id=gpu.pk,
            hour=facts.hour,
            covered_seconds=facts.covered_seconds,
            busy_seconds=facts.busy_seconds,
            idle_seconds=facts.idle_seconds,
            zombie_seconds=facts.zombie_seconds,
            unowned_seconds=facts.unowned_seconds,
            energy_mj=facts.energy_mj,
            gpu_seconds_by_label={k: str(v) for k, v in facts.gpu_seconds_by_label.items()},
        )
        for gpu in gpus
        for facts in gpu_hour_facts(
            minutes[gpu.pk], processes[gpu.pk], host_owner=host.owner, interval_seconds=host.interval_seconds
        )
        if facts.hour in hours
    ]
    GpuHour.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["gpu", "hour"],
        update_fields=[
            "covered_seconds",
            "busy_seconds",
            "idle_seconds",
            "zombie_seconds",
            "unowned_seconds",
            "energy_mj",
            "gpu_seconds_by_label",
        ],
    )


HOST_FIELDS = ("owner", "provider", "instance_type", "bill_resource_id", "hourly_rate_amount", "currency")
COSTING_FIELDS = ("owner", "hourly_rate_amount", "currency")  # settings that change the host's rolled-up cost


@transaction.atomic
def gpu_host_update(*, org, name: str, forget_machine: bool = False, **fields) -> GpuHost:
    """The host `name` (created if the agent has not reported yet) with its owner, provider, instance type,
    bill resource id or hourly rate set; `forget_machine` clears the recorded machine, so that the next
    machine to report with the host's token (a replacement) is recorded instead."""
    unknown = set(fields) - set(HOST_FIELDS)
    if unknown:
        raise ValueError(f"not host settings: {sorted(unknown)}")
    GpuHost.objects.get_or_create(org=org, name=name)
    host = GpuHost.objects.for_org(org).select_for_update().get(name=name)
    remapped = "bill_resource_id" in fields and fields["bill_resource_id"] != host.bill_resource_id
    if remapped:  # the bill lines of both resources change hosts: their days are recomputed
        for resource in {host.bill_resource_id, fields["bill_resource_id"]} - {""}:
            resource_days_mark(org=org, resource_id=resource)
    if any(key in fields and fields[key] != getattr(host, key) for key in COSTING_FIELDS):
        # who owns its idle and unmeasured time, and what its hours cost, change every day it has
        if host.bill_resource_id:
            resource_days_mark(org=org, resource_id=host.bill_resource_id)
        hours = GpuHour.objects.for_org(org).filter(gpu__host=host).dates("hour", "day")
        dirty_days_mark(org=org, days=list(hours))
    for key, value in fields.items():
        setattr(host, key, value)
    if forget_machine:
        host.reported_hostname = ""
    host.save(update_fields=[*fields, *(["reported_hostname"] if forget_machine else [])])
    return host
