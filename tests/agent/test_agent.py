"""The GPU host agent (ingest/agent/finops_agent.py) against a fake NVML, real child processes and a local server.

The fake `pynvml` (fake_pynvml.py) is the only stand-in: /proc, the children's environments, the spool
directory, HTTP and signals are all real. The agent runs either as a subprocess (with the fake first on
PYTHONPATH as `pynvml.py`) or in-process (the fake installed in sys.modules, the agent loaded from its path).
"""

import ast
import calendar
import importlib.util
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.agent import fake_pynvml

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "ingest" / "agent" / "finops_agent.py"
FAKE = Path(__file__).with_name("fake_pynvml.py")
GIB = 1024**3
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FAST = ["--interval", "0.05", "--batch-seconds", "0.2"]
BATCH_KEYS = {"batch_id", "agent_version", "sent_at", "interval_seconds", "dropped_batches", "host", "gpus", "samples",
              "processes"}  # fmt: skip
SAMPLE_KEYS = {"ts", "gpu_uuid", "utilization_gpu_pct", "utilization_memory_pct", "memory_used_bytes", "power_mw",
               "energy_mj", "temperature_c", "sm_clock_mhz", "memory_clock_mhz"}  # fmt: skip
PROCESS_KEYS = {"ts", "gpu_uuid", "pid", "used_memory_bytes", "sm_util_pct", "name", "start_time", "user",
                "container_id", "cmdline", "labels"}  # fmt: skip
ME = pwd.getpwuid(os.getuid()).pw_name


# ------------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture
def children():
    """Two real processes: one labelled through its environment, one not."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_")}
    code = ["-c", "import time; time.sleep(30)"]
    labelled = subprocess.Popen(
        [sys.executable, *code],
        env={**clean, "FINOPS_CUSTOMER": "acme", "FINOPS_FEATURE": "summarise", "FINOPS_TOKEN": "never-a-label"},
    )
    plain = subprocess.Popen([sys.executable, *code], env=clean)
    yield labelled.pid, plain.pid
    for child in (labelled, plain):
        child.kill()
        child.wait()


def procs_json(labelled, plain):
    return json.dumps(
        [
            {"gpu": 0, "pid": labelled, "used": 2 * GIB, "sm": 37},  # NVML has samples for it
            {"gpu": 0, "pid": plain, "used": 1 * GIB, "sm": None},  # running, but no sample
            {"gpu": 1, "pid": labelled, "used": 3 * GIB, "sm": None},  # GPU 1 has none at all: NotFound
        ]
    )


@pytest.fixture
def agent_env(tmp_path, children):
    """Environment for the agent as a subprocess: the fake first on PYTHONPATH as pynvml.py."""
    fake_dir = tmp_path / "fake"
    fake_dir.mkdir()
    shutil.copy(FAKE, fake_dir / "pynvml.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINOPS_", "FAKE_NVML_"))}
    env.update(PYTHONPATH=str(fake_dir), PYTHONDONTWRITEBYTECODE="1", FAKE_NVML_PROCS=procs_json(*children))
    return env


@pytest.fixture
def agent(monkeypatch, children):
    """The agent module, loaded from its path with the fake installed as pynvml."""
    fake_pynvml.CALLS.clear()
    fake_pynvml.FAIL.clear()
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml)
    monkeypatch.setenv("FAKE_NVML_PROCS", procs_json(*children))
    for name in [k for k in os.environ if k.startswith("FINOPS_")]:
        monkeypatch.delenv(name)
    spec = importlib.util.spec_from_file_location("finops_agent_under_test", AGENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    if fake_pynvml._state["initialised"]:
        fake_pynvml.nvmlShutdown()
    logger = logging.getLogger("finops_agent")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True


def run_agent(env, *args, timeout=20):
    return subprocess.run(
        [sys.executable, str(AGENT), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


class Agent:
    """The agent as a long-running subprocess, its stderr in a file."""

    def __init__(self, env, tmp_path, *args):
        self.log_path = tmp_path / f"agent-{time.monotonic_ns()}.log"
        self.log_file = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(AGENT), *args], env=env, stdout=subprocess.DEVNULL, stderr=self.log_file
        )

    @property
    def log(self):
        return self.log_path.read_text()

    def wait_started(self):
        wait_for(lambda: "started" in self.log, what="the agent to start", log=self)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log_file.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


@pytest.fixture
def agents():
    started = []
    yield lambda *a: started.append(Agent(*a)) or started[-1]
    for agent in started:
        agent.kill()


def wait_for(predicate, timeout=10.0, what="a condition", log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}" + (f"\nagent log:\n{log.log}" if log else ""))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """A local stand-in for the server: records every POST; answers from `script` (a status, or a status and a
    JSON body), then 201 (200 for a replay)."""

    def __init__(self):
        self.requests = []
        self.script = []
        self.default = 201
        self.token = None  # when set, any other bearer token gets a 401
        self.lock = threading.Lock()
        self.httpd = None
        self.port = free_port()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with recorder.lock:
                    seen = {r["body"]["batch_id"] for r in recorder.requests if r["status"] < 300}
                    status = recorder.script.pop(0) if recorder.script else recorder.default
                    status, reply = status if isinstance(status, tuple) else (status, {"status": "ok"})
                    if recorder.token and self.headers["Authorization"] != f"Bearer {recorder.token}":
                        status = 401
                    if status == 201 and body["batch_id"] in seen:
                        status = 200
                    recorder.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "status": status, "body": body}
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(reply).encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def delivered(self):
        with self.lock:
            return [r["body"] for r in self.requests if 200 <= r["status"] < 300]


@pytest.fixture
def server():
    recorder = Recorder()
    yield recorder
    recorder.stop()


def seq(batch):
    return int(batch["batch_id"].rsplit("-", 1)[1])


def run_id(batch):
    return batch["batch_id"].rsplit("-", 2)[1]


def spooled(directory):
    return sorted(p.name for p in Path(directory).glob("*.json"))


def check_batch(batch):
    assert set(batch) == BATCH_KEYS
    assert ISO_MS.match(batch["sent_at"])
    assert set(batch["host"]) == {"name", "driver_version", "nvml_version", "cuda_driver_version"}
    uuids = {gpu["uuid"] for gpu in batch["gpus"]}
    for sample in batch["samples"]:
        assert set(sample) == SAMPLE_KEYS and sample["gpu_uuid"] in uuids and ISO_MS.match(sample["ts"])
    for process in batch["processes"]:
        assert set(process) == PROCESS_KEYS and process["gpu_uuid"] in uuids
    ticks = {sample["ts"] for sample in batch["samples"]}
    assert len(batch["samples"]) == len(batch["gpus"]) * len(ticks), "one sample per GPU per tick"


# ------------------------------------------------------------------------------------------------
# sampling and the batch


def test_it_prints_one_batch_with_both_gpus_processes_and_labels_on_once_dry_run(agent_env, children):
    labelled, plain = children
    done = run_agent(agent_env, "--once", "--dry-run", "--host-name", "gpu-box-1")
    assert done.returncode == 0, done.stderr
    batch = json.loads(done.stdout)
    check_batch(batch)
    assert re.fullmatch(r"gpu-box-1-[0-9a-f]{8}-1", batch["batch_id"])
    assert (batch["agent_version"], batch["interval_seconds"], batch["dropped_batches"]) == ("1.0.0", 10, 0)
    assert batch["host"] == {"name": "gpu-box-1", "driver_version": "550.54.15", "nvml_version": "12.550.54.15",
                             "cuda_driver_version": 12040}  # fmt: skip
    h100, a10g = batch["gpus"]
    assert (h100["index"], h100["name"], h100["memory_total_bytes"], h100["mig_mode"]) == (
        0, "NVIDIA H100 80GB HBM3", 80 * GIB, 0)  # fmt: skip
    assert (a10g["index"], a10g["name"], a10g["mig_mode"]) == (1, "NVIDIA A10G", None)
    assert len(batch["samples"]) == 2, "--once alone takes one tick"
    by_key = {(p["gpu_uuid"], p["pid"]): p for p in batch["processes"]}
    assert set(by_key) == {(h100["uuid"], labelled), (h100["uuid"], plain), (a10g["uuid"], labelled)}
    mine = by_key[(h100["uuid"], labelled)]
    assert mine["labels"] == {"customer": "acme", "feature": "summarise"}, "FINOPS_TOKEN is not a label"
    assert (mine["used_memory_bytes"], mine["sm_util_pct"], mine["user"]) == (2 * GIB, 37, ME)
    assert mine["name"].startswith("python") and "time.sleep(30)" in mine["cmdline"]
    assert ISO_S.match(mine["start_time"])
    started = calendar.timegm(time.strptime(mine["start_time"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(started - time.time()) < 60
    assert isinstance(mine["container_id"], str)
    assert by_key[(h100["uuid"], plain)]["labels"] == {}
    assert by_key[(h100["uuid"], plain)]["sm_util_pct"] is None, "no NVML sample for it"
    assert by_key[(a10g["uuid"], labelled)]["sm_util_pct"] is None, "NotFound on GPU 1"
    assert by_key[(a10g["uuid"], labelled)]["labels"] == {"customer": "acme", "feature": "summarise"}


def test_it_runs_in_process_with_the_fake_nvml_installed(agent, children, capsys):
    assert agent.main(["--once", "--dry-run", "--host-name", "box"]) == 0
    batch = json.loads(capsys.readouterr().out)
    check_batch(batch)
    assert len(batch["gpus"]) == 2 and len(batch["processes"]) == 3
    labelled = [p for p in batch["processes"] if p["pid"] == children[0]]
    assert [p["labels"] for p in labelled] == [{"customer": "acme", "feature": "summarise"}] * 2


def test_it_collects_ticks_for_once_with_batch_seconds(agent_env):
    done = run_agent(agent_env, "--once", "--dry-run", "--interval", "0.05", "--batch-seconds", "0.25")
    batch = json.loads(done.stdout)
    check_batch(batch)
    assert len({s["ts"] for s in batch["samples"]}) == 5
    assert batch["interval_seconds"] == 1, "the server takes whole seconds, at least 1"


def test_it_prints_one_json_line_per_batch_in_dry_run_mode(agent_env, tmp_path):
    out = tmp_path / "out.jsonl"
    with open(out, "w") as stdout:
        proc = subprocess.Popen([sys.executable, str(AGENT), "--dry-run", *FAST], env=agent_env, stdout=stdout,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_for(lambda: out.read_text().count("\n") >= 3, what="three batches")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
    batches = [json.loads(line) for line in out.read_text().splitlines()]
    assert [seq(b) for b in batches] == list(range(1, len(batches) + 1))
    for batch in batches:
        check_batch(batch)


def test_it_leaves_unsupported_and_failing_fields_null_and_reuses_handles(agent):
    fake_pynvml.FAIL[(0, "nvmlDeviceGetTemperature")] = "GpuIsLost"
    fake_pynvml.FAIL[(1, "nvmlDeviceGetPowerUsage")] = "Unknown"
    sampler = agent.Sampler(fake_pynvml, interval=0.05)
    sampler.open()
    ticks = [sampler.tick() for _ in range(3)]
    for samples, _ in ticks:
        h100, a10g = samples
        assert h100["energy_mj"] > 0 and a10g["energy_mj"] is None, "NotSupported is null"
        assert h100["temperature_c"] is None and a10g["temperature_c"] == 44, "any NVMLError is null"
        assert h100["power_mw"] == 350_250 and a10g["power_mw"] is None
    assert [g.describe()["mig_mode"] for g in sampler.gpus] == [0, None]
    calls = fake_pynvml.CALLS
    assert calls["nvmlDeviceGetHandleByIndex"] == 2, "handles are opened once"
    assert calls["nvmlDeviceGetTotalEnergyConsumption"] == 3 + 1, "NotSupported is not asked again"
    assert calls["nvmlDeviceGetTemperature"] == 6, "a transient error is asked again next tick"
    assert calls["nvmlDeviceGetProcessUtilization"] == 6


def test_it_survives_nvml_errors_on_process_queries(agent, children):
    fake_pynvml.FAIL[(0, "nvmlDeviceGetComputeRunningProcesses")] = "NoPermission"
    fake_pynvml.FAIL[(1, "nvmlDeviceGetProcessUtilization")] = "NotSupported"
    sampler = agent.Sampler(fake_pynvml, interval=0.05)
    sampler.open()
    samples, processes = sampler.tick()
    assert len(samples) == 2
    assert [(p["gpu_uuid"][-1], p["pid"], p["sm_util_pct"]) for p in processes] == [("1", children[0], None)]


def test_it_falls_back_to_the_labels_file_when_environ_cannot_be_read(agent, children, tmp_path, monkeypatch):
    labelled, plain = children
    labels_file = tmp_path / "labels.json"
    labels_file.write_text(json.dumps({
        "pids": {str(labelled): {"customer": "from-file", "purpose": "inference"},
                 str(plain): {"customer": "globex", "job_id": "j-9", "password": "not-a-label"}},
        "users": {ME: {"owner": "ml-team"}},
    }))  # fmt: skip
    sampler = agent.Sampler(fake_pynvml, interval=0.05, labels_file=str(labels_file))
    sampler.open()

    def labels():
        return {p["pid"]: p["labels"] for p in sampler.tick()[1] if p["gpu_uuid"].endswith("0")}

    readable = labels()
    assert readable[labelled] == {"customer": "acme", "feature": "summarise", "purpose": "inference",
                                  "owner": "ml-team"}, "the environment wins key by key"  # fmt: skip
    assert readable[plain] == {"customer": "globex", "job_id": "j-9", "owner": "ml-team"}

    monkeypatch.setattr(agent.ProcReader, "read_environ", lambda self, pid: None)  # another user's process
    sampler.proc._cache.clear()
    assert labels()[labelled] == {"customer": "from-file", "purpose": "inference", "owner": "ml-team"}

    labels_file.write_text(json.dumps({"users": {ME: {"customer": "initech"}}}))
    os.utime(labels_file, ns=(time.time_ns() + 10**9,) * 2)
    assert labels() == {labelled: {"customer": "initech"}, plain: {"customer": "initech"}}, "re-read when it changes"


def test_it_matches_labels_file_cgroups_by_container_id_prefix_or_path(agent):
    labels = agent.LabelsFile(None)
    labels.cgroups = {"3f2a": {"customer": "short"}, "3f2a9c": {"customer": "long"},
                      "/system.slice/trainer.service": {"purpose": "training"}}  # fmt: skip
    labels.users = {"alice": {"owner": "alice", "customer": "user-level"}}
    info = agent.ProcInfo()
    info.user, info.container_id = "alice", "3f2a9c" + "0" * 58
    assert labels.lookup(1, info) == {"owner": "alice", "customer": "long"}
    info.container_id, info.cgroup_paths = "", ("/system.slice/trainer.service",)
    assert labels.lookup(1, info) == {"owner": "alice", "customer": "user-level", "purpose": "training"}


def test_it_reads_container_ids_from_cgroup_files(agent, tmp_path):
    cid = "a" * 64
    proc = tmp_path / "proc"
    (proc / "77").mkdir(parents=True)
    (proc / "stat").write_text("cpu 1 2 3\nbtime 1700000000\n")
    (proc / "77" / "stat").write_text("77 (py (x) y) S " + " ".join(["0"] * 18) + " 4200 0 0\n")
    (proc / "77" / "cgroup").write_text(f"0::/system.slice/docker-{cid}.scope\n")
    (proc / "77" / "comm").write_text("trainer\n")
    (proc / "77" / "cmdline").write_bytes(b"python\0train.py\0--api-key\0sk-123\0--db=postgres://u:pw@h/db\0")
    (proc / "77" / "environ").write_bytes(b"PATH=/bin\0ACME_CUSTOMER=acme\0ACME_JOB_ID=j1\0ACME_SECRET=x\0")
    reader = agent.ProcReader(env_prefix="ACME_", root=str(proc))
    info = reader.info(77)
    assert (info.container_id, info.name, info.env_labels) == (cid, "trainer", {"customer": "acme", "job_id": "j1"})
    assert info.start_time == agent.iso_utc(1700000000 + 4200 / reader.hz, millis=False)
    assert info.cmdline == "python train.py --api-key *** --db=postgres://u:***@h/db"


def test_it_redacts_secrets_in_command_lines(agent):
    redact = agent.redact_cmdline
    assert redact(["python", "serve.py", "--token", "abc", "--port", "80"]) == "python serve.py --token *** --port 80"
    assert redact(["app", "--hf-token=hf_x", "OPENAI_API_KEY=sk-1", "--password", "p"]) == (
        "app --hf-token=*** OPENAI_API_KEY=*** --password ***"
    )
    assert redact(["curl", "https://user:pw@example.com/x"]) == "curl https://user:***@example.com/x"
    assert redact(["train.py", "--epochs", "3"]) == "train.py --epochs 3"


def test_it_produces_batches_the_server_accepts(agent, capsys):
    from ingest.serializers import AgentBatchInput

    assert agent.main(["--once", "--dry-run", "--interval", "0.05", "--batch-seconds", "0.15"]) == 0
    batch = json.loads(capsys.readouterr().out)
    serializer = AgentBatchInput(data=batch)
    assert serializer.is_valid(), serializer.errors
    assert len(serializer.validated_data["processes"]) == 3 * 3


# ------------------------------------------------------------------------------------------------
# delivery and the spool


def test_it_delivers_batches_in_order_with_the_bearer_token(agent_env, tmp_path, server, agents):
    server.start()
    spool = tmp_path / "spool"
    running = agents(agent_env, tmp_path, "--server", server.url, "--token", "t0k3n", "--spool-dir", str(spool), *FAST)
    wait_for(lambda: len(server.delivered()) >= 3, what="three batches", log=running)
    assert running.stop() == 0, running.log
    first = server.requests[0]
    assert first["path"] == "/api/v1/agent/samples/"
    assert first["headers"]["Authorization"] == "Bearer t0k3n"
    assert first["headers"]["Content-Type"] == "application/json"
    delivered = server.delivered()
    assert [seq(b) for b in delivered] == list(range(1, len(delivered) + 1))
    for batch in delivered:
        check_batch(batch)
    assert spooled(spool) == [], "delivered batches leave the spool"


def test_it_spools_while_the_server_is_down_and_then_delivers_each_batch_once_in_order(
    agent_env, tmp_path, server, agents
):
    spool = tmp_path / "spool"
    running = agents(agent_env, tmp_path, "--server", server.url, "--token", "t", "--spool-dir", str(spool), *FAST)
    wait_for(lambda: len(spooled(spool)) >= 4, what="batches in the spool", log=running)
    assert "cannot reach" in running.log
    for name in spooled(spool):
        json.loads((spool / name).read_text())  # whole batches only, never half a file
    server.start()
    wait_for(lambda: len(server.delivered()) >= 7, what="the spool to drain", log=running)
    assert running.stop() == 0, running.log
    delivered = server.delivered()
    assert [seq(b) for b in delivered] == list(range(1, len(delivered) + 1)), "all, once, in order"
    assert spooled(spool) == []


def test_it_sends_the_spool_of_a_previous_run_first_after_a_restart(agent_env, tmp_path, server, agents):
    spool = tmp_path / "spool"
    args = ["--server", server.url, "--token", "t", "--spool-dir", str(spool)]
    first = agents(agent_env, tmp_path, *args, *FAST)
    wait_for(lambda: len(spooled(spool)) >= 2, what="batches in the spool", log=first)
    assert first.stop() == 0, first.log
    left = spooled(spool)
    assert "left in the spool" in first.log
    (spool / "999999999999.json.tmp").write_text('{"half": ')  # a crash mid-write leaves at most this

    server.start()
    done = run_agent(agent_env, "--once", *args)
    assert done.returncode == 0, done.stderr
    delivered = server.delivered()
    assert len(delivered) == len(left) + 1
    old, new = delivered[:-1], delivered[-1]
    assert [seq(b) for b in old] == list(range(1, len(left) + 1)) and len({run_id(b) for b in old}) == 1
    assert run_id(new) != run_id(old[0]) and seq(new) == 1, "a new run numbers its batches under a new id"
    assert list(spool.iterdir()) == [spool / ".lock"]


def test_it_retries_server_errors_with_backoff(agent_env, tmp_path, server, agents):
    server.script = [500, 502, 503, 429]
    server.start()
    spool = tmp_path / "spool"
    running = agents(agent_env, tmp_path, "--server", server.url, "--token", "t", "--spool-dir", str(spool), *FAST)
    wait_for(lambda: len(server.delivered()) >= 3, what="deliveries after the errors", log=running)
    assert running.stop() == 0, running.log
    attempts = [(r["status"], seq(r["body"])) for r in server.requests]
    assert attempts[:5] == [(500, 1), (502, 1), (503, 1), (429, 1), (201, 1)]
    delivered = server.delivered()
    assert [seq(b) for b in delivered] == list(range(1, len(delivered) + 1))


def test_it_drops_a_batch_the_server_rejects_with_400_and_takes_409_as_delivered(agent_env, tmp_path, server, agents):
    server.script = [400, 409]
    server.start()
    spool = tmp_path / "spool"
    running = agents(agent_env, tmp_path, "--server", server.url, "--token", "t", "--spool-dir", str(spool), *FAST)
    wait_for(lambda: len(server.delivered()) >= 3, what="deliveries after the 400", log=running)
    assert running.stop() == 0, running.log
    sent = [seq(r["body"]) for r in server.requests]
    assert sent.count(1) == 1, "a 400 is never retried"
    assert sent.count(2) == 1, "a 409 is a batch the server already has"
    assert [seq(b) for b in server.delivered()][:3] == [3, 4, 5]
    assert "rejected batch" in running.log and "HTTP 400" in running.log
    assert [json.loads(f.read_text())["batch_id"].rsplit("-", 1)[1] for f in (spool / "rejected").iterdir()] == ["1"]


def test_it_sets_a_refused_batch_aside_and_the_later_ones_flow(agent_env, tmp_path, server, agents):
    server.script = [(400, {"samples": [{"power_mw": ["Ensure this value is less than or equal to 1000000000."]}]})]
    server.start()
    spool = tmp_path / "spool"
    running = agents(agent_env, tmp_path, "--server", server.url, "--token", "t", "--spool-dir", str(spool), *FAST)
    wait_for(lambda: len(server.delivered()) >= 2, what="deliveries after the 400", log=running)
    assert running.stop() == 0, running.log
    assert [seq(r["body"]) for r in server.requests].count(1) == 1, "a 400 is set aside, never retried"
    assert running.log.count("power_mw") == 1, "the server's errors are logged once"
    assert [f.name for f in (spool / "rejected").iterdir()] == ["000000000001.json"]


def test_it_keeps_only_the_newest_refused_batches(agent, tmp_path):
    spool = agent.Spool(str(tmp_path / "spool"), max_bytes=10**6)
    spool.open()
    names = [spool.put(json.dumps({"n": i}).encode()) for i in range(agent.REJECTED_KEEP + 5)]
    for name in names:
        spool.set_aside(name)
    kept = sorted(f.name for f in (tmp_path / "spool" / "rejected").iterdir())
    assert kept == names[5:] and spool.rejected == len(names) and spool.names() == []
    spool.close()


CONFLICT = (
    409,
    {"code": "host_conflict", "detail": "the token of host 'gpu-a100-01' is in use on machine 'ip-10-0-3-17'; "
     "'ip-10-0-9-4' cannot use it too", "host": "gpu-a100-01", "recorded_hostname": "ip-10-0-3-17",
     "reported_hostname": "ip-10-0-9-4"},
)  # fmt: skip


def test_it_needs_only_the_server_and_the_token_and_reports_the_machines_hostname(agent_env, tmp_path, server,
                                                                                  agents):  # fmt: skip
    from ingest.serializers import AgentBatchInput

    server.start()
    env = {**agent_env, "STATE_DIRECTORY": str(tmp_path / "state")}  # the default spool, kept out of the home
    running = agents(env, tmp_path, "--server", server.url, "--token", "t0k3n", *FAST)
    wait_for(lambda: len(server.delivered()) >= 2, what="two batches", log=running)
    assert running.stop() == 0, running.log
    for batch in server.delivered():
        assert batch["host"]["name"] == socket.gethostname()
        assert batch["batch_id"].startswith(socket.gethostname()[:150] + "-")
        serializer = AgentBatchInput(data=batch)
        assert serializer.is_valid(), serializer.errors
    assert spooled(tmp_path / "state") == []


def test_it_keeps_a_batch_refused_for_a_host_conflict_and_says_so_at_every_attempt(agent_env, tmp_path, server,
                                                                                   agents):  # fmt: skip
    server.script = [CONFLICT, CONFLICT]
    server.start()
    spool = tmp_path / "spool"
    args = ["--server", server.url, "--token", "t", "--host", "ip-10-0-9-4", "--spool-dir", str(spool), *FAST]
    running = agents(agent_env, tmp_path, *args)
    wait_for(lambda: len(server.delivered()) >= 3, what="deliveries once the conflict is settled", log=running)
    assert running.stop() == 0, running.log
    assert [(r["status"], seq(r["body"])) for r in server.requests][:3] == [(409, 1), (409, 1), (201, 1)]
    assert {r["body"]["host"]["name"] for r in server.requests} == {"ip-10-0-9-4"}
    delivered = server.delivered()
    assert [seq(b) for b in delivered] == list(range(1, len(delivered) + 1)), "nothing was dropped"
    errors = [line for line in running.log.splitlines() if " ERROR " in line and "host_conflict" in line]
    assert len(errors) == 2, running.log
    assert "'ip-10-0-3-17'" in errors[0] and "'ip-10-0-9-4'" in errors[0]


def test_it_exits_1_on_a_host_conflict_with_once_and_keeps_the_batch(agent_env, tmp_path, server):
    server.default = CONFLICT
    server.start()
    spool = tmp_path / "spool"
    done = run_agent(agent_env, "--once", "--server", server.url, "--token", "t", "--spool-dir", str(spool))
    assert done.returncode == 1, done.stderr
    assert len(server.requests) == 1, "retrying cannot help: only a person can settle it"
    assert "host_conflict" in done.stderr and "stay in the spool" in done.stderr
    assert len(spooled(spool)) == 1


def test_it_keeps_spooling_while_the_token_is_rejected(agent_env, tmp_path, server, agents):
    server.default = 401
    server.start()
    spool = tmp_path / "spool"
    running = agents(agent_env, tmp_path, "--server", server.url, "--token", "old", "--spool-dir", str(spool), *FAST)
    wait_for(lambda: len(spooled(spool)) >= 3, what="batches in the spool", log=running)
    assert "token rejected" in running.log
    server.default = 201  # the operator fixed the token on the server side
    wait_for(lambda: len(server.delivered()) >= 4, what="the spool to drain", log=running)
    assert running.stop() == 0, running.log
    delivered = server.delivered()
    assert [seq(b) for b in delivered] == list(range(1, len(delivered) + 1)), "nothing was dropped"


def test_it_reloads_the_token_from_the_config_file_after_a_401(agent_env, tmp_path, server, agents):
    server.token = "right"
    server.start()
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"server": server.url, "token": "wrong", "spool_dir": str(tmp_path / "spool")}))
    config.chmod(0o600)
    running = agents(agent_env, tmp_path, "--config", str(config), *FAST)
    wait_for(lambda: "token rejected" in running.log, what="a 401", log=running)
    config.write_text(json.dumps({"server": server.url, "token": "right", "spool_dir": str(tmp_path / "spool")}))
    wait_for(lambda: len(server.delivered()) >= 2, what="deliveries with the new token", log=running)
    assert running.stop() == 0
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer right"
    assert seq(server.delivered()[0]) == 1


def test_it_drops_the_oldest_spooled_batch_when_the_spool_is_full_and_counts_it(agent, tmp_path):
    spool = agent.Spool(str(tmp_path / "spool"), max_bytes=250)
    spool.open()
    for i in range(1, 6):
        spool.put(json.dumps({"n": i}).encode().ljust(100))
    assert spool.names() == ["000000000004.json", "000000000005.json"] and spool.dropped == 3
    assert json.loads(spool.read("000000000004.json")) == {"n": 4}
    with pytest.raises(agent.SpoolBusyError):
        agent.Spool(str(tmp_path / "spool"), max_bytes=250).open()
    spool.close()
    (tmp_path / "spool" / "000000000006.json.tmp").write_bytes(b'{"n": 6')
    again = agent.Spool(str(tmp_path / "spool"), max_bytes=250)
    again.open()
    assert again.names() == ["000000000004.json", "000000000005.json"], "a leftover .tmp is not a batch"
    assert again.put(b"{}") == "000000000006.json" and not (tmp_path / "spool" / "000000000006.json.tmp").exists()
    again.close()


def test_it_reports_batches_dropped_from_a_full_spool(agent_env, tmp_path, server, agents):
    spool = tmp_path / "spool"
    args = ["--server", server.url, "--token", "t", "--spool-dir", str(spool), "--spool-max-mb", "0.02", *FAST]
    running = agents(agent_env, tmp_path, *args)
    wait_for(lambda: "spool full" in running.log and "(3 dropped" in running.log, what="drops", log=running)
    server.start()
    # A batch carries the drop count of the moment it was closed: wait for one closed after the drops.
    wait_for(lambda: any(b["dropped_batches"] >= 3 for b in server.delivered()), what="deliveries", log=running)
    assert running.stop() == 0
    delivered = server.delivered()
    assert seq(delivered[0]) > 1, "the oldest batches were dropped"
    assert [seq(b) for b in delivered] == sorted({seq(b) for b in delivered})


def test_it_flushes_a_partial_batch_on_sigterm(agent_env, tmp_path, server, agents):
    server.start()
    spool = tmp_path / "spool"
    args = ["--server", server.url, "--token", "t", "--spool-dir", str(spool), "--interval", "0.05"]
    running = agents(agent_env, tmp_path, *args, "--batch-seconds", "60")
    running.wait_started()
    time.sleep(0.4)
    assert server.delivered() == []
    started = time.monotonic()
    assert running.stop() == 0, running.log
    assert time.monotonic() - started < 5
    [batch] = server.delivered()
    check_batch(batch)
    assert len({s["ts"] for s in batch["samples"]}) >= 3
    assert "SIGTERM received" in running.log


def test_it_flushes_on_sigint_into_the_spool_when_the_server_is_down(agent_env, tmp_path, server, agents):
    spool = tmp_path / "spool"
    args = ["--server", server.url, "--token", "t", "--spool-dir", str(spool), "--interval", "0.05"]
    running = agents(agent_env, tmp_path, *args, "--batch-seconds", "60")
    running.wait_started()
    time.sleep(0.2)
    assert running.stop(signal.SIGINT) == 0, running.log
    [name] = spooled(spool)
    check_batch(json.loads((spool / name).read_text()))


# ------------------------------------------------------------------------------------------------
# the command line


@pytest.mark.parametrize(("error", "message"), [("LibraryNotFound", "not found"), ("DriverNotLoaded", "not loaded")])
def test_it_exits_2_with_a_message_without_nvml(agent_env, error, message):
    done = run_agent({**agent_env, "FAKE_NVML_INIT_ERROR": error}, "--once", "--dry-run")
    assert done.returncode == 2
    assert done.stderr.startswith("finops-agent: ") and message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_it_exits_2_with_a_message_when_pynvml_is_missing(agent_env, tmp_path, agent, monkeypatch, capsys):
    missing = tmp_path / "missing"
    missing.mkdir()
    (missing / "pynvml.py").write_text("raise ImportError(\"No module named 'pynvml'\")\n")
    done = run_agent({**agent_env, "PYTHONPATH": str(missing)}, "--once", "--dry-run")
    assert done.returncode == 2 and "pip install nvidia-ml-py" in done.stderr and "Traceback" not in done.stderr
    monkeypatch.setattr(agent, "pynvml", None)
    assert agent.main(["--once", "--dry-run"]) == 2
    assert "pip install nvidia-ml-py" in capsys.readouterr().err


def test_it_prints_its_version(agent_env, agent, capsys):
    done = run_agent(agent_env, "--version")
    assert (done.returncode, done.stdout.strip()) == (0, "finops-agent 1.0.0")
    with pytest.raises(SystemExit) as exit_:
        agent.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == "finops-agent 1.0.0"


def test_it_reads_the_config_file_and_the_command_line_wins(agent, tmp_path, monkeypatch, capsys):
    agent.setup_logging(verbose=False)
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"server": "https://finops.example.com", "token": "from-file", "interval": 5,
                                  "batch-seconds": 30, "host_name": "from-file", "colour": "blue"}))  # fmt: skip
    config.chmod(0o644)
    args = agent.build_parser().parse_args(["--config", str(config), "--host-name", "from-cli", "--interval", "2"])
    opts = agent.resolve_options(args)
    assert (opts.server, opts.token, opts.interval, opts.batch_seconds, opts.host_name) == (
        "https://finops.example.com", "from-file", 2.0, 30.0, "from-cli")  # fmt: skip
    assert opts.token_from_config and opts.env_prefix == "FINOPS_" and opts.spool_max_mb == 50
    monkeypatch.setenv("FINOPS_AGENT_TOKEN", "from-env")
    assert agent.resolve_options(args).token == "from-env"
    err = capsys.readouterr().err
    assert "unknown key 'colour'" in err and "readable by others" in err

    assert agent.main(["--once"]) == 2, "no server"
    assert "--server is required" in capsys.readouterr().err
    assert agent.main(["--server", "ftp://x", "--token", "t"]) == 2
    config.write_text('{"interval": "often"}')
    assert agent.main(["--config", str(config), "--dry-run"]) == 2
    assert "interval must be a float" in capsys.readouterr().err


def test_it_takes_the_machines_name_from_host_in_the_config_file_or_the_command_line(agent, tmp_path):
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"server": "https://finops.example.com", "token": "t", "host": "from-file"}))
    config.chmod(0o600)
    parse = agent.build_parser().parse_args
    assert agent.resolve_options(parse(["--config", str(config)])).host_name == "from-file"
    assert agent.resolve_options(parse(["--config", str(config), "--host", "from-cli"])).host_name == "from-cli"
    config.write_text(json.dumps({"server": "https://finops.example.com", "token": "t"}))
    assert agent.resolve_options(parse(["--config", str(config)])).host_name == socket.gethostname()


def test_it_imports_only_the_standard_library_and_pynvml_and_parses_as_python_3_8():
    source = AGENT.read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"pynvml"}
    assert not re.search(r"^\s*(import|from)\s+(django|rest_framework|ingest|finops|accounts|pricing)\b", source, re.M)
    for name in ("removeprefix", "removesuffix", "zoneinfo", "datetime.UTC", "functools.cache("):
        assert name not in source, f"{name} needs a newer Python than 3.8"
