"""POST /api/v1/agent/samples/ as the agent sends it, and GET /api/v1/hosts/ reading it back."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.services import agent_token_create, api_key_create, token_revoke
from ingest.models import AgentBatch, GpuHost, GpuMinute, ProcessMinute
from tests.base import BaseTestCase

T0 = datetime(2026, 10, 5, 10, 0, 0, tzinfo=UTC)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def batch(batch_id="host-a-1", start=T0, ticks=6, util=(90, 0), host="gpu-box-1"):
    """Two GPUs sampled every 10 s; GPU 0 runs two labelled processes, GPU 1 idles."""
    samples, processes = [], []
    for i in range(ticks):
        ts = iso(start + timedelta(seconds=10 * i))
        for index, uuid in enumerate(("GPU-aaa", "GPU-bbb")):
            samples.append({"ts": ts, "gpu_uuid": uuid, "utilization_gpu_pct": util[index],
                            "utilization_memory_pct": 40, "memory_used_bytes": 20_000_000_000, "power_mw": 350_000,
                            "energy_mj": None, "temperature_c": 60, "sm_clock_mhz": 1980,
                            "memory_clock_mhz": 2619})  # fmt: skip
        processes.append({"ts": ts, "gpu_uuid": "GPU-aaa", "pid": 4242, "used_memory_bytes": 15_000_000_000,
                          "sm_util_pct": 60, "name": "python", "user": "ml", "container_id": "",
                          "labels": {"customer": "acme", "feature": "summarise", "purpose": "inference"}})  # fmt: skip
        processes.append({"ts": ts, "gpu_uuid": "GPU-aaa", "pid": 5151, "used_memory_bytes": 5_000_000_000,
                          "sm_util_pct": 30, "name": "python", "user": "ml",
                          "labels": {"job_id": "train-7"}})  # fmt: skip
    return {
        "batch_id": batch_id,
        "agent_version": "1.0.0",
        "sent_at": iso(start + timedelta(minutes=1)),
        "interval_seconds": 10,
        "dropped_batches": 0,
        "host": {"name": host, "driver_version": "550.54.15"},
        "gpus": [
            {"uuid": "GPU-aaa", "index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 85_899_345_920},
            {"uuid": "GPU-bbb", "index": 1, "name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 85_899_345_920},
        ],
        "samples": samples,
        "processes": processes,
    }


def post_batch(client, org, user, body, host_name="gpu-box-1"):
    """Send `body` as the agent of a new host token would."""
    _, raw = agent_token_create(org=org, host_name=host_name, created_by=user)
    return client.post(
        "/api/v1/agent/samples/", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )


class AgentTestCase(BaseTestCase):
    url = "/api/v1/agent/samples/"

    def setUp(self):
        self.token, self.raw = agent_token_create(org=self.org, host_name="gpu-box-1", created_by=self.alice)
        _, self.charlie_agent = agent_token_create(
            org=self.charlies_org, host_name="gpu-box-1", created_by=self.charlie
        )
        _, self.read_key = api_key_create(org=self.org, name="r", scope="read", created_by=self.alice)

    def post(self, body, raw=None):
        return self.client.post(
            self.url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw or self.raw}"
        )


class AgentSamplesApiTests(AgentTestCase):
    def test_it_stores_minutes_per_gpu_and_per_process(self):
        response = self.post(batch())
        self.assertEqual(response.status_code, 201, response.content)
        host = GpuHost.objects.get(org=self.org, name="gpu-box-1")
        self.assertEqual(host.last_seen_at, T0 + timedelta(seconds=50))
        busy = GpuMinute.objects.get(gpu__uuid="GPU-aaa")
        idle = GpuMinute.objects.get(gpu__uuid="GPU-bbb")
        self.assertEqual((busy.samples, busy.covered_seconds, busy.busy_seconds), (6, 60, 60))
        self.assertEqual((idle.covered_seconds, idle.busy_seconds), (60, 0))
        self.assertEqual(busy.energy_mj, 350_000 * 10 * 6)
        acme = ProcessMinute.objects.get(pid=4242)
        self.assertEqual((acme.customer, acme.feature, acme.purpose), ("acme", "summarise", "inference"))
        self.assertEqual(acme.gpu_seconds, Decimal("36.000"))  # 60 s at 60% SM utilisation
        self.assertEqual(ProcessMinute.objects.get(pid=5151).gpu_seconds, Decimal("18.000"))

    def test_it_splits_gpu_utilisation_by_memory_when_nvml_has_no_process_utilisation(self):
        body = batch(util=(80, 0))
        for entry in body["processes"]:
            entry["sm_util_pct"] = None
        self.assertEqual(self.post(body).status_code, 201)
        # 60 s at 80% GPU utilisation, split 15:5 GB by the processes' memory
        self.assertEqual(ProcessMinute.objects.get(pid=4242).gpu_seconds, Decimal("36.000"))
        self.assertEqual(ProcessMinute.objects.get(pid=5151).gpu_seconds, Decimal("12.000"))

    def test_it_ignores_a_replayed_batch(self):
        self.post(batch())
        response = self.post(batch())
        self.assertEqual((response.status_code, response.json()["status"]), (200, "duplicate"))
        self.assertEqual(GpuMinute.objects.get(gpu__uuid="GPU-aaa").samples, 6)
        self.assertEqual(AgentBatch.objects.count(), 1)

    def test_it_adds_up_a_minute_split_across_batches(self):
        self.post(batch("b1", start=T0, ticks=3))
        self.post(batch("b2", start=T0 + timedelta(seconds=30), ticks=3))
        minute = GpuMinute.objects.get(gpu__uuid="GPU-aaa")
        self.assertEqual((minute.samples, minute.covered_seconds), (6, 60))
        self.assertEqual(ProcessMinute.objects.get(pid=4242).gpu_seconds, Decimal("36.000"))

    def test_it_refuses_malformed_batches_with_field_errors(self):
        body = batch()
        del body["batch_id"]
        response = self.post(body)
        self.assertEqual(response.status_code, 400)
        self.assertIn("batch_id", response.json())
        body = batch()
        body["samples"][0]["utilization_gpu_pct"] = 170
        self.assertIn("samples", self.post(body).json())
        body = batch()
        body["samples"][0]["gpu_uuid"] = "GPU-zzz"
        self.assertIn("gpus", self.post(body).json())
        self.assertFalse(GpuMinute.objects.exists())

    def test_it_refuses_timestamps_from_the_far_future(self):
        body = batch(start=timezone.now() + timedelta(hours=1))
        response = self.post(body)
        self.assertEqual(response.status_code, 400)
        self.assertIn("future", json.dumps(response.json()))
        self.assertEqual(self.post(batch(start=timezone.now() - timedelta(minutes=2))).status_code, 201)

    def test_it_takes_the_host_from_the_token_whatever_the_hostname(self):
        response = self.post(batch(host="ip-10-0-3-17"))  # more in test_agent_hostname.py
        self.assertEqual(response.status_code, 201, response.content)
        host = GpuHost.objects.get(org=self.org)
        self.assertEqual((host.name, host.reported_hostname), ("gpu-box-1", "ip-10-0-3-17"))

    def test_it_refuses_revoked_and_wrong_kind_tokens(self):
        self.assertEqual(self.post(batch(), raw=self.read_key).status_code, 401)
        token_revoke(org=self.org, token=self.token)
        self.assertEqual(self.post(batch()).status_code, 401)
        self.assertFalse(GpuMinute.objects.exists())

    def test_it_hides_other_orgs(self):
        self.post(batch())
        self.post(batch(), raw=self.charlie_agent)
        self.assertEqual(GpuHost.objects.filter(name="gpu-box-1").count(), 2)
        self.assertEqual(GpuMinute.objects.filter(org=self.charlies_org).count(), 2)
        self.assertEqual(AgentBatch.objects.filter(org=self.org).count(), 1)


class HostListApiTests(AgentTestCase):
    def test_it_lists_hosts_with_gpus_and_busy_idle_seconds(self):
        self.post(batch())
        response = self.client.get(
            "/api/v1/hosts/?start=2026-10-05&end=2026-10-06", HTTP_AUTHORIZATION=f"Bearer {self.read_key}"
        )
        [host] = response.json()
        self.assertEqual(host["name"], "gpu-box-1")
        self.assertEqual([g["uuid"] for g in host["gpus"]], ["GPU-aaa", "GPU-bbb"])
        self.assertEqual((host["samples"], host["gpu_seconds_busy"], host["gpu_seconds_idle"]), (2, 60, 60))
        self.assertTrue(host["stale"], "its last sample is weeks old")

    def test_it_marks_a_reporting_host_fresh(self):
        self.post(batch(start=timezone.now() - timedelta(minutes=1)))
        host = self.client.get("/api/v1/hosts/", HTTP_AUTHORIZATION=f"Bearer {self.read_key}").json()[0]
        self.assertFalse(host["stale"])

    def test_it_hides_other_orgs_hosts(self):
        self.post(batch(), raw=self.charlie_agent)
        _, charlie_key = api_key_create(org=self.charlies_org, name="c", scope="read", created_by=self.charlie)
        mine = self.client.get("/api/v1/hosts/", HTTP_AUTHORIZATION=f"Bearer {self.read_key}").json()
        self.assertEqual(mine, [])
        theirs = self.client.get("/api/v1/hosts/", HTTP_AUTHORIZATION=f"Bearer {charlie_key}").json()
        self.assertEqual(len(theirs), 1)
        self.assertEqual(self.client.get("/api/v1/hosts/", HTTP_AUTHORIZATION=f"Bearer {self.raw}").status_code, 401)


class AgentDownloadTests(BaseTestCase):
    def test_it_serves_the_agent_and_its_unit_to_anyone(self):
        response = self.client.get("/agent/finops_agent.py")
        self.assertEqual(response.status_code, 200)
        self.assertIn(b"import pynvml", b"".join(response.streaming_content))
        self.assertEqual(self.client.get("/agent/finops-agent.service").status_code, 200)
        self.assertEqual(self.client.get("/agent/settings.py").status_code, 404)
        self.assertEqual(self.client.get("/agent/..%2Fmodels.py").status_code, 404)


class GpuHourTests(AgentTestCase):
    def test_it_derives_idle_zombie_and_unowned_hours_from_batches(self):
        from ingest.models import GpuHour

        body = batch("notebook-1", ticks=270, util=(0, 0))  # 45 minutes, both GPUs idle
        for entry in body["processes"]:
            entry.update(sm_util_pct=0, labels={}, pid=777)  # a forgotten notebook holding memory
        body["processes"] = [p for i, p in enumerate(body["processes"]) if i % 2 == 0]
        self.assertEqual(self.post(body).status_code, 201)
        hour = GpuHour.objects.get(gpu__uuid="GPU-aaa", hour=T0)
        self.assertEqual((hour.covered_seconds, hour.idle_seconds, hour.busy_seconds), (2700, 2700, 0))
        self.assertEqual(hour.zombie_seconds, 15 * 60)
        self.assertEqual(hour.unowned_seconds, 2700)
        self.assertEqual(hour.gpu_seconds_by_label, {"": "0.000"})  # a zombie at 0% used no GPU time
        self.assertEqual(GpuHour.objects.get(gpu__uuid="GPU-bbb", hour=T0).zombie_seconds, 0)
        url = "/api/v1/hosts/?start=2026-10-05&end=2026-10-06"
        [host] = self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {self.read_key}").json()
        self.assertEqual((host["gpu_seconds_zombie"], host["gpu_seconds_unowned"]), (900, 2 * 2700))

    def test_it_recomputes_an_hour_when_a_later_batch_fills_it(self):
        from ingest.models import GpuHour

        self.post(batch("b1", ticks=6))
        self.post(batch("b2", start=T0 + timedelta(minutes=1), ticks=6))
        hour = GpuHour.objects.get(gpu__uuid="GPU-aaa", hour=T0)
        self.assertEqual((hour.covered_seconds, hour.busy_seconds, hour.unowned_seconds), (120, 120, 0))
        labels = hour.gpu_seconds_by_label
        self.assertEqual(Decimal(labels["customer=acme;feature=summarise;purpose=inference"]), Decimal("72.000"))
        self.assertEqual(hour.energy_mj, 350_000 * 10 * 12)


def notebook_batches(host: str, *, hours: int, per_batch: int, interval: int = 1200) -> list[dict]:
    """A forgotten notebook holding memory at 0% on one GPU for `hours`, sampled every `interval` seconds, sent in
    batches of `per_batch` hours."""
    uuid = f"GPU-{host}"
    batches = []
    for first in range(0, hours, per_batch):
        samples, processes = [], []
        for tick in range(first * 3600 // interval, (first + per_batch) * 3600 // interval):
            ts = iso(T0 + timedelta(seconds=tick * interval))
            samples.append({"ts": ts, "gpu_uuid": uuid, "utilization_gpu_pct": 0, "memory_used_bytes": 10**10})
            processes.append({"ts": ts, "gpu_uuid": uuid, "pid": 777, "used_memory_bytes": 10**10, "sm_util_pct": 0})
        batches.append({
            "batch_id": f"{host}-{first}", "agent_version": "1.0.0", "interval_seconds": interval,
            "host": {"name": host},
            "gpus": [{"uuid": uuid, "index": 0, "name": "NVIDIA L4", "memory_total_bytes": 24 * 10**9}],
            "samples": samples, "processes": processes,
        })  # fmt: skip
    return batches


class ZombieAcrossBatchesTests(AgentTestCase):
    def test_a_zombie_run_counts_the_same_however_the_agent_batched_it(self):
        """An hour's zombie time must not depend on where a batch ended: the recompute of a later batch's hours looks
        back far enough (the limit plus one sampling interval) to see a run that began in an earlier batch."""
        from ingest.models import GpuHour

        zombie = {}
        for host, per_batch in (("one-batch", 4), ("hourly", 1)):
            _, raw = agent_token_create(org=self.org, host_name=host, created_by=self.alice)
            for body in notebook_batches(host, hours=4, per_batch=per_batch):
                self.assertEqual(self.post(body, raw=raw).status_code, 201)
            hours = GpuHour.objects.filter(gpu__uuid=f"GPU-{host}").order_by("hour")
            zombie[host] = [(h.hour, h.zombie_seconds) for h in hours]
        self.assertEqual(zombie["hourly"], zombie["one-batch"])
        self.assertEqual([seconds for _, seconds in zombie["one-batch"]][1:], [3600, 3600, 3600])


def with_counter(body, gpu_uuid, counters):
    """`body` with GPU `gpu_uuid`'s energy counter readings replaced, one per tick in order."""
    mine = [sample for sample in body["samples"] if sample["gpu_uuid"] == gpu_uuid]
    for sample, counter in zip(mine, counters, strict=True):
        sample["energy_mj"] = counter
    return body


class AgentEnergyTests(AgentTestCase):
    def energy(self, minute, uuid="GPU-aaa"):
        return GpuMinute.objects.get(gpu__uuid=uuid, minute=minute).energy_mj

    def test_it_takes_energy_from_counter_deltas_across_a_batch_boundary(self):
        # 3 kJ per 10 s by the counter where power says 3.5 kJ: the counter wins after the first reading
        first = [10**9 + 3_000_000 * i for i in range(6)]
        self.assertEqual(self.post(with_counter(batch("b1"), "GPU-aaa", first)).status_code, 201)
        self.assertEqual(self.energy(T0), 350_000 * 10 + 5 * 3_000_000)
        second = [first[-1] + 2_000_000 * (i + 1) for i in range(6)]
        self.post(with_counter(batch("b2", start=T0 + timedelta(minutes=1)), "GPU-aaa", second))
        self.assertEqual(self.energy(T0 + timedelta(minutes=1)), 6 * 2_000_000, "chained from the last batch")
        self.assertEqual(self.energy(T0 + timedelta(minutes=1), "GPU-bbb"), 6 * 350_000 * 10, "no counter: power")
        from ingest.models import Gpu, GpuHour

        gpu = Gpu.objects.get(uuid="GPU-aaa")
        self.assertEqual((gpu.energy_counter_mj, gpu.energy_counter_at), (second[-1], T0 + timedelta(seconds=110)))
        hour = GpuHour.objects.get(gpu=gpu, hour=T0)
        self.assertEqual(hour.energy_mj, 3_500_000 + 5 * 3_000_000 + 6 * 2_000_000)

    def test_it_falls_back_to_power_after_a_reset_or_a_long_gap(self):
        first = [10**9 + 3_000_000 * i for i in range(6)]
        self.post(with_counter(batch("b1"), "GPU-aaa", first))
        rebooted = [1_000 + 2_000_000 * i for i in range(6)]  # the driver reloaded: the counter starts over
        self.post(with_counter(batch("b2", start=T0 + timedelta(minutes=1)), "GPU-aaa", rebooted))
        self.assertEqual(self.energy(T0 + timedelta(minutes=1)), 350_000 * 10 + 5 * 2_000_000)
        later = [rebooted[-1] + 10**9 + 2_000_000 * i for i in range(6)]  # back after 9 minutes away
        self.post(with_counter(batch("b3", start=T0 + timedelta(minutes=11)), "GPU-aaa", later))
        self.assertEqual(self.energy(T0 + timedelta(minutes=11)), 350_000 * 10 + 5 * 2_000_000)

    def test_it_does_not_move_the_counter_on_a_replayed_batch(self):
        from ingest.models import Gpu

        counters = [10**9 + 3_000_000 * i for i in range(6)]
        self.post(with_counter(batch("b1"), "GPU-aaa", counters))
        self.post(with_counter(batch("b1"), "GPU-aaa", counters))
        self.assertEqual(self.energy(T0), 350_000 * 10 + 5 * 3_000_000)
        self.assertEqual(Gpu.objects.get(uuid="GPU-aaa").energy_counter_mj, counters[-1])
