#!/usr/bin/env python3
"""FinOps GPU host agent: samples every GPU and every GPU process through NVML and pushes batches.

One file, Python 3.8+, the standard library plus NVML's Python bindings (``pip install nvidia-ml-py``,
which provides ``import pynvml``). Linux only (it reads /proc).

    python3 finops_agent.py --server https://finops.example.com --token TOKEN
    python3 finops_agent.py --config /etc/finops-agent.json
    python3 finops_agent.py --once --dry-run            # print one batch as JSON and exit

Every ``--interval`` seconds (10) it samples each GPU (utilisation, memory, power, the energy counter,
temperature, clocks) and each process on it (pid, GPU memory, SM utilisation when NVML has samples,
name, user, start time, container id, command line and FinOps labels). Every ``--batch-seconds`` (60)
it closes one batch and POSTs it to ``<server>/api/v1/agent/samples/`` with ``Authorization: Bearer``.

The token names the host: no host name is needed. Each batch carries this machine's hostname (``--host``
overrides it), which the server records the first time; the same token on a second machine is refused.

Labels come from the environment of each process: FINOPS_CUSTOMER, FINOPS_FEATURE, FINOPS_JOB_ID,
FINOPS_PURPOSE, FINOPS_OWNER, FINOPS_ENV and FINOPS_LABEL (``--env-prefix`` changes FINOPS_), sent as
customer, feature, job_id, purpose, owner, env, label. No other variable is ever read into a batch.
An optional ``--labels-file`` (JSON, re-read when it changes) gives labels by pid, user or container:

    {"pids": {"1234": {"customer": "acme"}},
     "users": {"alice": {"purpose": "research"}},
     "cgroups": {"3f2a9c": {"customer": "beta"}, "/system.slice/trainer.service": {"purpose": "training"}}}

A ``cgroups`` key matches a container id by prefix, or, when it starts with "/", a cgroup path by
prefix. The file is the fallback: the labels found in a process's environment win key by key; for a
process whose environment cannot be read (another user's process, without CAP_SYS_PTRACE and
CAP_DAC_READ_SEARCH) the file is the only source. When several entries match, pid beats container
beats user.

Delivery: every closed batch is first written to the spool directory (atomically: temporary file,
fsync, rename), then the spool is sent oldest first, stopping at the first failure so that order is
kept. 2xx and 409 are delivered (the server is idempotent by batch_id), except a 409 whose JSON body
has ``"code": "host_conflict"`` (the token is in use on another machine): that one is logged as an error
at every attempt and the batches stay in the spool until an operator settles it; another 4xx (not 401,
408, 429) means the batch can never be accepted: the server's errors are logged once, the batch is set aside in
the spool's ``rejected/`` folder (the newest REJECTED_KEEP, 20, are kept for a look), counted, and the next batch
goes on; 401 means the token is wrong:
batches stay in the spool until it is fixed; anything else (5xx, 408, 429, network errors) is retried
with exponential backoff, and at the latest when the next batch is closed. The spool is capped
(``--spool-max-mb``, 50): when full the oldest batch is dropped and counted in ``dropped_batches``.
Spooled batches survive restarts and are sent first on the next start. SIGTERM/SIGINT finish the
current tick, close the partial batch, try once more to send, and exit 0.

Configuration file (``--config``): a JSON object with the long option names as keys (server, token,
interval, batch_seconds, host_name or host, env_prefix, labels_file, spool_dir, spool_max_mb, verbose);
the command line wins over it. The token may also come from the FINOPS_AGENT_TOKEN environment variable
(command line > environment > file). Prefer the file (mode 600) or the variable to ``--token``: a
command line is readable by every user of the host.

Run it on the host itself (or in a container with the host's pid namespace, e.g. hostPID): NVML
reports host pids, and /proc must show the same processes for names, users and labels to be right.

Exit codes: 0 done, 1 ``--once`` could not deliver (the batch stays spooled), 2 usage or
configuration error, or NVML unavailable (no driver, no library, pynvml not installed).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import http.client
import json
import logging
import os
import pwd
import random
import re
import secrets
import select
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

try:
    import pynvml
except ImportError:  # reported by main() with exit code 2
    pynvml = None

__version__ = "1.0.0"
AGENT_VERSION = __version__
API_PATH = "/api/v1/agent/samples/"
LABEL_KEYS = ("customer", "feature", "job_id", "purpose", "owner", "env", "label")
LABEL_MAX_CHARS = 200
CMDLINE_MAX_CHARS = 2048
HTTP_TIMEOUT_S = 10.0
DEFAULT_INTERVAL_S = 10.0
DEFAULT_BATCH_S = 60.0
DEFAULT_SPOOL_MAX_MB = 50.0
REJECTED_KEEP = 20  # batches the server refused, kept in <spool>/rejected/ for an operator to look at
EXIT_OK, EXIT_UNDELIVERED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("finops_agent")


# --------------------------------------------------------------------------------------------------
# small helpers


def iso_utc(epoch: float, millis: bool = True) -> str:
    """ISO 8601 in UTC with a Z: 2026-10-05T10:00:00.123Z (or whole seconds)."""
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    if not millis:
        return text + "Z"
    return f"{text}.{int(epoch * 1000) % 1000:03d}Z"


def _text(value) -> str:
    """pynvml returns str in recent versions, bytes in old ones."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _int_or_none(value):
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _pct(value):
    """A percentage the server accepts (0-100): NVML occasionally reports more than 100."""
    value = _int_or_none(value)
    if value is None:
        return None
    return max(0, min(100, value))


def _read(path: str, binary: bool = False):
    """A whole small file, or None when it is gone or unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return data if binary else data.decode("utf-8", "replace")


_SECRET_WORD = r"(?:token|secret|passw(?:or)?d|api[-_]?key|access[-_]?key|private[-_]?key|credential|auth)"
_SECRET_ASSIGNMENT = re.compile(r"^(-{0,2}[\w.-]*" + _SECRET_WORD + r"[\w.-]*=).+$", re.IGNORECASE)
_SECRET_FLAG = re.compile(r"^-{1,2}[\w.-]*" + _SECRET_WORD + r"[\w.-]*$", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@")


def redact_cmdline(args) -> str:
    """The command line as one string, with the values of secret-looking arguments replaced by ***."""
    out = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        match = _SECRET_ASSIGNMENT.match(arg)
        if match:
            out.append(match.group(1) + "***")
            continue
        if _SECRET_FLAG.match(arg):
            hide_next = True
        out.append(_URL_PASSWORD.sub(r"\1***@", arg))
    text = " ".join(out)
    return text[:CMDLINE_MAX_CHARS]


def clean_labels(raw) -> dict:
    """Only the known label keys, as non-empty strings."""
    labels = {}
    if not isinstance(raw, dict):
        return labels
    for key, value in raw.items():
        key = str(key).lower()
        if key in LABEL_KEYS and value is not None and str(value).strip():
            labels[key] = str(value).strip()[:LABEL_MAX_CHARS]
    return labels


# --------------------------------------------------------------------------------------------------
# processes: /proc and the labels file

_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


class ProcInfo:
    __slots__ = ("cgroup_paths", "cmdline", "container_id", "env_labels", "name", "start_ticks", "start_time", "user")

    def __init__(self):
        self.start_ticks = None
        self.name = ""
        self.user = ""
        self.start_time = None
        self.container_id = ""
        self.cgroup_paths = ()
        self.cmdline = ""
        self.env_labels = None  # None: the environment could not be read


class ProcReader:
    """What /proc says about a pid, read once per process (keyed by pid and start time)."""

    def __init__(self, env_prefix: str = "FINOPS_", root: str = "/proc"):
        self.root = root
        self.env_prefix = env_prefix.encode("utf-8")
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.boot_time = self._boot_time()
        self._cache = {}
        self._users = {}

    def _boot_time(self):
        text = _read(os.path.join(self.root, "stat")) or ""
        for line in text.splitlines():
            if line.startswith("btime "):
                return int(line.split()[1])
        return None

    def _start_ticks(self, pid: int):
        text = _read(f"{self.root}/{pid}/stat")
        if not text:
            return None
        # the name in parentheses may contain spaces and parentheses: split after the last ')'
        fields = text[text.rfind(")") + 2 :].split()
        try:
            return int(fields[19])  # field 22 of stat(5); fields[0] is field 3
        except (IndexError, ValueError):
            return None

    def _user(self, pid: int) -> str:
        try:
            uid = os.stat(f"{self.root}/{pid}").st_uid
        except OSError:
            return ""
        if uid not in self._users:
            try:
                self._users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self._users[uid] = str(uid)
        return self._users[uid]

    def read_environ(self, pid: int):
        """The raw environment block, or None when it cannot be read (permissions, gone)."""
        return _read(f"{self.root}/{pid}/environ", binary=True)

    def _env_labels(self, pid: int):
        data = self.read_environ(pid)
        if data is None:
            return None
        prefix = self.env_prefix
        labels = {}
        for entry in data.split(b"\0"):
            if not entry.startswith(prefix) or b"=" not in entry:
                continue
            key, _, value = entry[len(prefix) :].partition(b"=")
            key = key.decode("utf-8", "replace").lower()
            value = value.decode("utf-8", "replace").strip()
            if key in LABEL_KEYS and value:
                labels[key] = value[:LABEL_MAX_CHARS]
        return labels

    def info(self, pid: int, nvml_name=None) -> ProcInfo:
        ticks = self._start_ticks(pid)
        cached = self._cache.get(pid)
        if cached is not None and ticks is not None and cached.start_ticks == ticks:
            return cached
        info = ProcInfo()
        info.start_ticks = ticks
        if ticks is not None and self.boot_time is not None:
            info.start_time = iso_utc(self.boot_time + ticks / float(self.hz), millis=False)
        comm = _read(f"{self.root}/{pid}/comm")
        if comm:
            info.name = comm.strip()
        elif nvml_name is not None:
            info.name = os.path.basename(nvml_name())
        info.user = self._user(pid)
        cgroup = _read(f"{self.root}/{pid}/cgroup") or ""
        ids = _CONTAINER_ID.findall(cgroup)
        info.container_id = ids[-1] if ids else ""
        info.cgroup_paths = tuple(line.split(":", 2)[2] for line in cgroup.splitlines() if line.count(":") >= 2)
        raw = _read(f"{self.root}/{pid}/cmdline", binary=True)
        if raw:
            args = [part.decode("utf-8", "replace") for part in raw.rstrip(b"\0").split(b"\0")]
            info.cmdline = redact_cmdline(args)
        info.env_labels = self._env_labels(pid)
        if ticks is not None:  # a pid not visible in /proc (another pid namespace) is looked up again
            self._cache[pid] = info
        return info

    def prune(self, alive) -> None:
        for pid in [pid for pid in self._cache if pid not in alive]:
            del self._cache[pid]


class LabelsFile:
    """The optional labels file, re-read whenever its modification time or size changes."""

    def __init__(self, path):
        self.path = path
        self._stamp = None
        self.pids, self.users, self.cgroups = {}, {}, {}

    def refresh(self) -> None:
        if not self.path:
            return
        try:
            st = os.stat(self.path)
        except OSError:
            if self._stamp != "missing":
                log.warning("labels file %s cannot be read; no file labels until it can", self.path)
                self._stamp = "missing"
                self.pids, self.users, self.cgroups = {}, {}, {}
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            if not isinstance(data, dict):
                raise ValueError("the top level must be an object")
        except (OSError, ValueError) as exc:
            log.error("labels file %s is not valid JSON (%s); keeping the previous labels", self.path, exc)
            return

        def section(name):
            value = data.get(name) or {}
            return {str(k): clean_labels(v) for k, v in value.items()} if isinstance(value, dict) else {}

        self.pids, self.users, self.cgroups = section("pids"), section("users"), section("cgroups")
        log.info(
            "labels file %s: %d pids, %d users, %d cgroups",
            self.path,
            len(self.pids),
            len(self.users),
            len(self.cgroups),
        )

    def lookup(self, pid: int, info: ProcInfo) -> dict:
        labels = dict(self.users.get(info.user, {}))
        matches = []
        for key, value in self.cgroups.items():
            if key.startswith("/"):
                if any(path.startswith(key) for path in info.cgroup_paths):
                    matches.append((len(key), value))
            elif info.container_id and info.container_id.startswith(key.lower()):
                matches.append((len(key), value))
        for _, value in sorted(matches, key=lambda item: item[0]):  # the longest (most specific) last
            labels.update(value)
        labels.update(self.pids.get(str(pid), {}))
        return labels


# --------------------------------------------------------------------------------------------------
# NVML


class NvmlUnavailableError(Exception):
    """NVML cannot be used on this host: the agent exits with code 2."""


class Gpu:
    __slots__ = ("handle", "index", "last_util_ts", "memory_total", "mig_mode", "name", "unsupported", "uuid")

    def __init__(self, index, handle):
        self.index = index
        self.handle = handle
        self.uuid = f"GPU-unknown-{index}"
        self.name = ""
        self.memory_total = None
        self.mig_mode = None
        self.unsupported = set()
        self.last_util_ts = None

    def describe(self) -> dict:
        return {
            "uuid": self.uuid,
            "index": self.index,
            "name": self.name,
            "memory_total_bytes": self.memory_total,
            "mig_mode": self.mig_mode,
        }


class Sampler:
    """Reads NVML and /proc. Handles are opened once; a field NVML does not support is not asked again."""

    def __init__(self, nv, interval: float, env_prefix: str = "FINOPS_", labels_file=None, proc=None):
        self.nv = nv
        self.interval = interval
        self.proc = proc or ProcReader(env_prefix)
        self.labels = LabelsFile(labels_file)
        self.gpus = []
        self.host = {"driver_version": None, "nvml_version": None, "cuda_driver_version": None}
        self.error = getattr(nv, "NVMLError", Exception)
        self.permanent = tuple(
            getattr(nv, name) for name in ("NVMLError_NotSupported", "NVMLError_FunctionNotFound") if hasattr(nv, name)
        )
        self.not_found = getattr(nv, "NVMLError_NotFound", ())

    def open(self) -> None:
        nv = self.nv
        try:
            nv.nvmlInit()
        except self.error as exc:
            raise NvmlUnavailableError(_nvml_init_message(nv, exc)) from None
        except OSError as exc:  # some old bindings let the loader's error through
            raise NvmlUnavailableError(f"NVML could not be loaded: {exc}") from None
        self.host["driver_version"] = self._system("nvmlSystemGetDriverVersion", _text)
        self.host["nvml_version"] = self._system("nvmlSystemGetNVMLVersion", _text)
        self.host["cuda_driver_version"] = self._system("nvmlSystemGetCudaDriverVersion", _int_or_none)
        try:
            count = nv.nvmlDeviceGetCount()
        except self.error as exc:
            raise NvmlUnavailableError(f"NVML cannot count the GPUs: {exc}") from None
        for index in range(count):
            try:
                gpu = Gpu(index, nv.nvmlDeviceGetHandleByIndex(index))
            except self.error as exc:
                log.error("GPU %d cannot be opened (%s); it is left out", index, exc)
                continue
            uuid = self._call(gpu, "uuid", "nvmlDeviceGetUUID", gpu.handle)
            if uuid:
                gpu.uuid = _text(uuid)
            gpu.name = _text(self._call(gpu, "name", "nvmlDeviceGetName", gpu.handle) or "")
            memory = self._call(gpu, "memory", "nvmlDeviceGetMemoryInfo", gpu.handle)
            gpu.memory_total = _int_or_none(getattr(memory, "total", None))
            self.refresh_mig(gpu)
            self.gpus.append(gpu)
        if not self.gpus:
            log.warning("NVML reports no GPU on this host; batches will only say that the agent is alive")
        self.labels.refresh()

    def close(self) -> None:
        with contextlib.suppress(self.error):
            self.nv.nvmlShutdown()

    def refresh_mig(self, gpu: Gpu) -> None:
        mode = self._call(gpu, "mig", "nvmlDeviceGetMigMode", gpu.handle)
        gpu.mig_mode = _int_or_none(mode[0]) if isinstance(mode, (list, tuple)) and mode else None

    def _system(self, name, convert):
        fn = getattr(self.nv, name, None)
        if fn is None:
            return None
        try:
            return convert(fn())
        except self.error as exc:
            log.debug("%s: %s", name, exc)
            return None

    def _call(self, gpu: Gpu, key: str, name: str, *args):
        """One NVML call; None when it fails. NotSupported is remembered so it is not asked again."""
        if key in gpu.unsupported:
            return None
        fn = getattr(self.nv, name, None)
        if fn is None:  # bindings too old for this call
            gpu.unsupported.add(key)
            return None
        try:
            return fn(*args)
        except self.error as exc:
            if self.permanent and isinstance(exc, self.permanent):
                gpu.unsupported.add(key)
                log.debug("GPU %d: %s not supported; not asked again", gpu.index, name)
            else:
                log.debug("GPU %d: %s: %s", gpu.index, name, exc)
            return None

    def tick(self):
        """One sample per GPU and one entry per process per GPU, all with the same timestamp."""
        now = time.time()
        ts = iso_utc(now)
        self.labels.refresh()
        samples, processes, alive = [], [], set()
        for gpu in self.gpus:
            try:
                samples.append(self._sample(gpu, ts))
                processes.extend(self._processes(gpu, ts, now, alive))
            except Exception:  # one GPU's surprise must not stop the others or the agent
                log.exception("GPU %d: sampling failed", gpu.index)
        self.proc.prune(alive)
        return samples, processes

    def _sample(self, gpu: Gpu, ts: str) -> dict:
        handle = gpu.handle
        util = self._call(gpu, "utilization", "nvmlDeviceGetUtilizationRates", handle)
        memory = self._call(gpu, "memory", "nvmlDeviceGetMemoryInfo", handle)
        nv = self.nv
        return {
            "ts": ts,
            "gpu_uuid": gpu.uuid,
            "utilization_gpu_pct": _pct(getattr(util, "gpu", None)),
            "utilization_memory_pct": _pct(getattr(util, "memory", None)),
            "memory_used_bytes": _int_or_none(getattr(memory, "used", None)),
            "power_mw": _int_or_none(self._call(gpu, "power", "nvmlDeviceGetPowerUsage", handle)),
            "energy_mj": _int_or_none(self._call(gpu, "energy", "nvmlDeviceGetTotalEnergyConsumption", handle)),
            "temperature_c": _int_or_none(
                self._call(
                    gpu, "temperature", "nvmlDeviceGetTemperature", handle, getattr(nv, "NVML_TEMPERATURE_GPU", 0)
                )
            ),
            "sm_clock_mhz": _int_or_none(
                self._call(gpu, "sm_clock", "nvmlDeviceGetClockInfo", handle, getattr(nv, "NVML_CLOCK_SM", 1))
            ),
            "memory_clock_mhz": _int_or_none(
                self._call(gpu, "mem_clock", "nvmlDeviceGetClockInfo", handle, getattr(nv, "NVML_CLOCK_MEM", 2))
            ),
        }

    def _process_utilization(self, gpu: Gpu, now: float) -> dict:
        """pid -> mean SM % over the samples NVML took since the last call; {} when it has none."""
        if "process_utilization" in gpu.unsupported:
            return {}
        since = gpu.last_util_ts or int((now - max(self.interval, 1.0)) * 1_000_000)
        fn = getattr(self.nv, "nvmlDeviceGetProcessUtilization", None)
        if fn is None:
            gpu.unsupported.add("process_utilization")
            return {}
        try:
            samples = fn(gpu.handle, since)
        except self.error as exc:
            if self.not_found and isinstance(exc, self.not_found):
                return {}  # no process had samples since `since`: normal
            if self.permanent and isinstance(exc, self.permanent):
                gpu.unsupported.add("process_utilization")
            log.debug("GPU %d: nvmlDeviceGetProcessUtilization: %s", gpu.index, exc)
            return {}
        sums = {}
        newest = since
        for sample in samples or ():
            stamp = getattr(sample, "timeStamp", 0) or 0
            pid = getattr(sample, "pid", 0) or 0
            if stamp <= since or not pid:
                continue
            newest = max(newest, stamp)
            acc = sums.setdefault(pid, [0, 0])
            acc[0] += getattr(sample, "smUtil", 0) or 0
            acc[1] += 1
        gpu.last_util_ts = newest
        return {pid: _pct(round(total / count)) for pid, (total, count) in sums.items()}

    def _processes(self, gpu: Gpu, ts: str, now: float, alive: set) -> list:
        running = collections.OrderedDict()
        for key, name in (("compute", "nvmlDeviceGetComputeRunningProcesses"),
                          ("graphics", "nvmlDeviceGetGraphicsRunningProcesses")):  # fmt: skip
            for proc in self._call(gpu, key, name, gpu.handle) or ():
                pid = _int_or_none(getattr(proc, "pid", None))
                if pid is None:
                    continue
                used = _int_or_none(getattr(proc, "usedGpuMemory", None))
                if pid not in running or running[pid] is None:  # a pid in both lists is one process
                    running[pid] = used
        if not running:
            return []
        utilization = self._process_utilization(gpu, now)
        out = []
        for pid, used in running.items():
            alive.add(pid)
            info = self.proc.info(pid, nvml_name=self._nvml_process_name(pid))
            labels = self.labels.lookup(pid, info)
            if info.env_labels:
                labels.update(info.env_labels)
            out.append(
                {
                    "ts": ts,
                    "gpu_uuid": gpu.uuid,
                    "pid": pid,
                    "used_memory_bytes": used,
                    "sm_util_pct": utilization.get(pid),
                    "name": info.name,
                    "start_time": info.start_time,
                    "user": info.user,
                    "container_id": info.container_id,
                    "cmdline": info.cmdline,
                    "labels": labels,
                }
            )
        return out

    def _nvml_process_name(self, pid: int):
        def name():
            fn = getattr(self.nv, "nvmlSystemGetProcessName", None)
            if fn is None:
                return ""
            try:
                return _text(fn(pid))
            except self.error:
                return ""

        return name


def _nvml_init_message(nv, exc) -> str:
    def is_a(name):
        cls = getattr(nv, name, None)
        return isinstance(cls, type) and isinstance(exc, cls)

    if is_a("NVMLError_LibraryNotFound"):
        return "the NVML library (libnvidia-ml.so.1) was not found: is the NVIDIA driver installed on this host?"
    if is_a("NVMLError_DriverNotLoaded"):
        return "the NVIDIA driver is not loaded (NVML: Driver Not Loaded): is there a GPU, and is the driver up?"
    if is_a("NVMLError_NoPermission"):
        return "no permission to use the GPUs (NVML: Insufficient Permissions): check access to /dev/nvidia*"
    return f"NVML could not start: {exc}"


# --------------------------------------------------------------------------------------------------
# batches


class BatchBuilder:
    """Collects ticks into one batch; batch ids are <host>-<random id of this run>-<sequence>."""

    def __init__(self, host_name: str, interval: float, sampler: Sampler):
        self.host_name = host_name
        self.run_id = secrets.token_hex(4)
        self.interval_seconds = max(1, round(interval))
        self.sampler = sampler
        self.seq = 0
        self.ticks = 0
        self.samples, self.processes = [], []

    def add(self, samples, processes) -> None:
        self.ticks += 1
        self.samples.extend(samples)
        self.processes.extend(processes)

    def close(self, dropped_batches: int = 0) -> dict:
        self.seq += 1
        for gpu in self.sampler.gpus:
            self.sampler.refresh_mig(gpu)
        batch = {
            "batch_id": f"{self.host_name[:150]}-{self.run_id}-{self.seq}",
            "agent_version": AGENT_VERSION,
            "sent_at": iso_utc(time.time()),
            "interval_seconds": self.interval_seconds,
            "dropped_batches": dropped_batches,
            "host": {"name": self.host_name, **self.sampler.host},
            "gpus": [gpu.describe() for gpu in self.sampler.gpus],
            "samples": self.samples,
            "processes": self.processes,
        }
        self.samples, self.processes, self.ticks = [], [], 0
        return batch


def encode(batch: dict) -> bytes:
    return json.dumps(batch, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------------------------------
# spool


class SpoolBusyError(Exception):
    """Another agent holds this spool directory."""


class Spool:
    """A bounded directory of batches, oldest first by file name (000000000001.json, ...).

    Files are written atomically (temporary file, fsync, rename, fsync of the directory). When the
    directory cannot be written, batches are kept in memory under the same cap instead.
    """

    _NAME = re.compile(r"^\d{12}\.json$")

    def __init__(self, directory, max_bytes: int):
        self.directory = directory
        self.max_bytes = max(1, int(max_bytes))
        self.dropped = 0
        self.rejected = 0  # batches the server refused (4xx), set aside
        self._lock = threading.Lock()
        self._index = collections.OrderedDict()  # name -> size, oldest first
        self._memory = {}  # name -> body, for batches that could not be written
        self._next = 1
        self._lock_fd = None

    def open(self) -> None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd = os.open(os.path.join(self.directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.error("spool directory %s cannot be used (%s): batches are kept in memory only", self.directory, exc)
            self.directory = None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SpoolBusyError(f"another agent is using the spool directory {self.directory}") from None
        self._lock_fd = fd
        names = []
        for name in sorted(os.listdir(self.directory)):
            path = os.path.join(self.directory, name)
            if name.endswith(".tmp"):  # a crash while writing: the batch was never spooled
                with contextlib.suppress(OSError):
                    os.unlink(path)
            elif self._NAME.match(name):
                with contextlib.suppress(OSError):
                    self._index[name] = os.path.getsize(path)
                    names.append(name)
        if names:
            self._next = int(names[-1][:12]) + 1
            log.info("spool %s: %d batches from an earlier run will be sent first", self.directory, len(names))
        with self._lock:
            self._enforce_cap(keep=None)

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __len__(self) -> int:
        return len(self._index)

    def names(self) -> list:
        with self._lock:
            return list(self._index)

    def put(self, body: bytes) -> str:
        with self._lock:
            name = f"{self._next:012d}.json"
            self._next += 1
            if self.directory is None:
                self._memory[name] = body
            else:
                try:
                    self._write(name, body)
                except OSError as exc:
                    log.error("cannot write %s to the spool (%s): kept in memory", name, exc)
                    self._memory[name] = body
            self._index[name] = len(body)
            self._enforce_cap(keep=name)
            return name

    def _write(self, name: str, body: bytes) -> None:
        final = os.path.join(self.directory, name)
        tmp = final + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def read(self, name: str):
        if name in self._memory:
            return self._memory[name]
        if self.directory is None:
            return None
        return _read(os.path.join(self.directory, name), binary=True)

    def remove(self, name: str) -> None:
        with self._lock:
            self._remove(name)

    def set_aside(self, name: str) -> None:
        """Move a batch the server refused out of the way into rejected/, keeping the newest REJECTED_KEEP."""
        with self._lock:
            self.rejected += 1
            if self.directory is None or name in self._memory:
                self._remove(name)
                return
            self._index.pop(name, None)
            folder = os.path.join(self.directory, "rejected")
            try:
                os.makedirs(folder, mode=0o700, exist_ok=True)
                os.replace(os.path.join(self.directory, name), os.path.join(folder, name))
                kept = sorted(n for n in os.listdir(folder) if self._NAME.match(n))
                for old in kept[: max(0, len(kept) - REJECTED_KEEP)]:
                    os.unlink(os.path.join(folder, old))
            except OSError as exc:
                log.error("cannot move %s to %s (%s): it is deleted", name, folder, exc)
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.directory, name))

    def _remove(self, name: str) -> None:
        self._index.pop(name, None)
        if self._memory.pop(name, None) is None and self.directory is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.directory, name))

    def _enforce_cap(self, keep) -> None:
        total = sum(self._index.values())
        while total > self.max_bytes and len(self._index) > (1 if keep else 0):
            oldest = next(iter(self._index))
            if oldest == keep:
                break
            total -= self._index[oldest]
            self._remove(oldest)
            self.dropped += 1
            log.warning(
                "spool full (cap %.1f MiB): dropped the oldest batch %s (%d dropped since start)",
                self.max_bytes / 1048576.0,
                oldest,
                self.dropped,
            )


# --------------------------------------------------------------------------------------------------
# delivery

DELIVERED, REJECTED, UNAUTHORIZED, CONFLICT, RETRY = "delivered", "rejected", "unauthorized", "conflict", "retry"
ERROR_BODY_MAX_CHARS = 500


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would turn into a GET and lose the batch: report it instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Client:
    """POSTs one batch body; says what became of it."""

    def __init__(self, server: str, token: str, timeout: float = HTTP_TIMEOUT_S):
        server = server.rstrip("/")
        self.url = server + "/" if server.endswith(API_PATH.rstrip("/")) else server + API_PATH
        self.token = token
        self.timeout = timeout
        self.retry_after = None
        self._opener = urllib.request.build_opener(_NoRedirect)

    def post(self, body: bytes, batch_id: str = "") -> str:
        self.retry_after = None
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) at start-up
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "User-Agent": f"finops-agent/{AGENT_VERSION}",
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
            detail = _error_body(exc)
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            if retry_after and retry_after.strip().isdigit():
                self.retry_after = float(retry_after.strip())
            if code == 409:
                return _conflict(detail, batch_id)
            if code == 401:
                log.error(
                    "token rejected by the server (HTTP 401): batches are kept in the spool; "
                    "fix the token (--token, the config file or FINOPS_AGENT_TOKEN) and they will be sent"
                )
                return UNAUTHORIZED
            if 300 <= code < 400:
                log.error("the server redirected to %s: use that address in --server", exc.headers.get("Location"))
                return RETRY
            if 400 <= code < 500 and code not in (408, 429):
                log.error("server rejected batch %s with HTTP %d: %s; it can never succeed, so it is set aside in "
                          "the spool's rejected/ folder and the next batch goes on",
                          batch_id, code, detail[:ERROR_BODY_MAX_CHARS])  # fmt: skip
                return REJECTED
            log.warning("server answered HTTP %d for batch %s: %s", code, batch_id, detail[:ERROR_BODY_MAX_CHARS])
            return RETRY
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timeout, DNS, TLS
            reason = getattr(exc, "reason", exc)
            log.warning("cannot reach %s: %s", self.url, reason)
            return RETRY
        if 200 <= code < 300:
            return DELIVERED
        log.warning("unexpected HTTP %d for batch %s", code, batch_id)
        return RETRY


def _error_body(exc) -> str:
    try:
        return exc.read(8192).decode("utf-8", "replace").strip() or exc.reason
    except (OSError, http.client.HTTPException):
        return str(exc.reason)


def _conflict(detail: str, batch_id: str) -> str:
    """A 409 is a batch the server already has (delivered), unless it says another machine holds the token."""
    try:
        answer = json.loads(detail)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("code") != "host_conflict":
        return DELIVERED
    log.error(
        "the server refused batch %s (HTTP 409, host_conflict): %s. Nothing is sent from this machine until that "
        "is fixed; batches stay in the spool (oldest dropped when it is full)",
        batch_id,
        answer.get("detail") or "this token is in use on another machine",
    )
    return CONFLICT


class Sender:
    """Sends the spool oldest first, in a thread of its own so that sampling never waits on the network."""

    def __init__(self, client: Client, spool: Spool, batch_seconds: float, on_unauthorized=None):
        self.client = client
        self.spool = spool
        self.base = max(0.01, min(1.0, batch_seconds / 4.0))
        self.cap = max(self.base, min(300.0, batch_seconds * 5.0))
        self.on_unauthorized = on_unauthorized
        self.delivered = 0
        self.rejected = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread = None
        self._failing = False

    def drain(self) -> str:
        """One pass over the spool, oldest first; stops at the first batch that cannot be sent yet."""
        for name in self.spool.names():
            raw = self.spool.read(name)
            if raw is None:  # dropped from a full spool meanwhile
                self.spool.remove(name)
                continue
            try:
                batch = json.loads(raw.decode("utf-8"))
                batch["sent_at"] = iso_utc(time.time())
                body = encode(batch)
            except (ValueError, UnicodeDecodeError, TypeError):
                log.error("spooled batch %s is corrupt; it is dropped", name)
                self.spool.remove(name)
                continue
            outcome = self.client.post(body, batch.get("batch_id", name))
            if outcome == DELIVERED:
                self.spool.remove(name)
                self.delivered += 1
                log.debug("delivered %s (%s)", batch.get("batch_id"), name)
            elif outcome == REJECTED:
                self.spool.set_aside(name)
                self.rejected += 1
            else:
                if outcome == UNAUTHORIZED and self.on_unauthorized is not None:
                    self.on_unauthorized(self.client)
                return outcome
        return DELIVERED

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="finops-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Finish the current attempt, make one last pass, and stop (within `timeout` seconds)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = None  # None: wait for the next batch
        self._wake.set()  # batches left by an earlier run go first
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            stopping = self._stopping
            try:
                outcome = self.drain()
            except Exception:  # the sender thread must outlive any surprise
                log.exception("sending failed")
                outcome = RETRY
            if stopping:
                break
            if outcome == DELIVERED:
                if self._failing:
                    log.info("server reachable again; the spool is empty")
                self._failing = False
                delay = None
                continue
            if outcome in (UNAUTHORIZED, CONFLICT):  # only a person can fix these
                delay = self.cap
            else:
                delay = self.base if not self._failing else min(self.cap, (delay or self.base) * 2)
                if self.client.retry_after:
                    delay = min(self.cap, max(delay, self.client.retry_after))
            self._failing = True
            delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret
            log.info("%d batches spooled; next attempt in %.1f s", len(self.spool), delay)


# --------------------------------------------------------------------------------------------------
# the loop


class Stopper:
    """SIGTERM/SIGINT set a flag; the sleep between ticks wakes at once (a self-pipe, no polling)."""

    def __init__(self):
        self.requested = False
        self._read_fd, self._write_fd = os.pipe()
        for fd in (self._read_fd, self._write_fd):
            os.set_blocking(fd, False)
        self._saved = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        saved = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        self._saved = (saved, signal.set_wakeup_fd(self._write_fd))

    def _on_signal(self, signum, frame) -> None:
        if not self.requested:
            log.info("%s received: finishing the current tick and flushing", signal.Signals(signum).name)
        self.requested = True

    def request(self) -> None:
        self.requested = True
        with contextlib.suppress(OSError):
            os.write(self._write_fd, b"x")

    def sleep_until(self, deadline: float) -> bool:
        """Sleep until time.monotonic() reaches `deadline`; False when asked to stop."""
        while not self.requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            ready, _, _ = select.select([self._read_fd], [], [], remaining)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(self._read_fd, 512)
        return False

    def close(self) -> None:
        if self._saved is not None:
            saved, wakeup_fd = self._saved
            signal.set_wakeup_fd(wakeup_fd)
            for sig, handler in saved.items():
                signal.signal(sig, handler)
            self._saved = None
        os.close(self._read_fd)
        os.close(self._write_fd)


def run_loop(sampler: Sampler, builder: BatchBuilder, emit, stopper: Stopper, interval: float,
             batch_seconds: float, once: bool) -> None:  # fmt: skip
    """Tick every `interval` seconds, emit a batch every `batch_seconds`; flush a partial batch on stop."""
    single = once and (interval <= 0 or batch_seconds <= 0)
    start = time.monotonic()
    next_tick, deadline = start, start + batch_seconds
    while stopper.sleep_until(next_tick):
        builder.add(*sampler.tick())
        if single:
            break
        now = time.monotonic()
        next_tick += interval
        if next_tick <= now:  # late (a suspended VM, a slow NVML call): skip the missed ticks
            skipped = int((now - next_tick) // interval) + 1
            next_tick += skipped * interval
            log.debug("late by %.2f s: %d ticks skipped", now - next_tick + skipped * interval, skipped)
        if next_tick >= deadline - 1e-6:
            emit(builder)
            if once:
                return
            while deadline <= next_tick + 1e-6:
                deadline += batch_seconds
        if stopper.requested:
            break
    if builder.ticks:
        emit(builder)


# --------------------------------------------------------------------------------------------------
# configuration and main

CONFIG_KEYS = {
    "server": str,
    "token": str,
    "interval": float,
    "batch_seconds": float,
    "host_name": str,
    "env_prefix": str,
    "labels_file": str,
    "spool_dir": str,
    "spool_max_mb": float,
    "verbose": bool,
}


class ConfigError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="finops_agent.py",
        description="FinOps GPU host agent: samples GPUs and GPU processes through NVML and pushes batches.",
    )
    p.add_argument("--server", help="the FinOps server, e.g. https://finops.example.com")
    p.add_argument("--token", help="this host's agent token (prefer the config file or FINOPS_AGENT_TOKEN)")
    p.add_argument("--config", help="a JSON file with the same keys as the long options (the command line wins)")
    p.add_argument("--interval", type=float, help=f"seconds between samples (default {DEFAULT_INTERVAL_S:g})")
    p.add_argument("--batch-seconds", type=float, help=f"seconds per batch (default {DEFAULT_BATCH_S:g})")
    p.add_argument(
        "--once", action="store_true", help="sample one batch (one tick unless --batch-seconds is given), send it, exit"
    )
    p.add_argument("--dry-run", action="store_true", help="print batches as JSON to stdout instead of sending them")
    p.add_argument("--version", action="version", version=f"finops-agent {AGENT_VERSION}")
    p.add_argument("--host-name", "--host", dest="host_name",
                   help="this machine's name as reported to the server (default: its hostname); the token "
                   "names the host, this only tells one machine from another")  # fmt: skip
    p.add_argument("--env-prefix", help="prefix of the label variables in processes' environments (default FINOPS_)")
    p.add_argument("--labels-file", help="JSON labels by pid, user and cgroup, for processes without labels")
    p.add_argument("--spool-dir", help="where undelivered batches wait (default /var/lib/finops-agent as root, "
                   "else ~/.cache/finops-agent)")  # fmt: skip
    p.add_argument("--spool-max-mb", type=float, help=f"spool cap in MiB (default {DEFAULT_SPOOL_MAX_MB:g})")
    p.add_argument("-v", "--verbose", action="store_true", default=None, help="debug logging")
    return p


def load_config(path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"the config file {path} must hold a JSON object")
    config = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        key = "host_name" if key == "host" else key
        kind = CONFIG_KEYS.get(key)
        if kind is None:
            log.warning("config file %s: unknown key %r ignored", path, raw_key)
            continue
        if value is None:
            continue
        try:
            config[key] = kind(value) if kind is not bool else bool(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config file {path}: {raw_key} must be a {kind.__name__}") from None
    if config.get("token"):
        with contextlib.suppress(OSError):
            if os.stat(path).st_mode & 0o077:
                log.warning("config file %s holds a token and is readable by others: chmod 600 it", path)
    return config


def default_spool_dir() -> str:
    state = os.environ.get("STATE_DIRECTORY")  # systemd's StateDirectory=
    if state:
        return state.split(":")[0]
    if os.geteuid() == 0:
        return "/var/lib/finops-agent"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "finops-agent")


def resolve_options(args) -> argparse.Namespace:
    config = load_config(args.config) if args.config else {}
    opts = argparse.Namespace(once=args.once, dry_run=args.dry_run, config=args.config)
    defaults = {
        "interval": DEFAULT_INTERVAL_S,
        "batch_seconds": DEFAULT_BATCH_S,
        "env_prefix": "FINOPS_",
        "spool_max_mb": DEFAULT_SPOOL_MAX_MB,
        "verbose": False,
    }
    for key in CONFIG_KEYS:
        value = getattr(args, key, None)
        if value is None and key == "token":
            value = os.environ.get("FINOPS_AGENT_TOKEN") or None
        if value is None:
            value = config.get(key)
        if value is None:
            value = defaults.get(key)
        setattr(opts, key, value)
    opts.token_from_config = args.token is None and not os.environ.get("FINOPS_AGENT_TOKEN") and "token" in config
    if opts.once and args.batch_seconds is None and "batch_seconds" not in config:
        opts.batch_seconds = 0.0  # --once alone: one tick
    opts.host_name = opts.host_name or socket.gethostname()
    opts.spool_dir = os.path.expanduser(opts.spool_dir or default_spool_dir())
    if opts.interval < 0.01 and not opts.once:
        raise ConfigError("--interval must be at least 0.01 seconds")
    if opts.batch_seconds <= 0 and not opts.once:
        raise ConfigError("--batch-seconds must be positive")
    if opts.spool_max_mb <= 0:
        raise ConfigError("--spool-max-mb must be positive")
    if not opts.dry_run:
        if not opts.server:
            raise ConfigError("--server is required (or --dry-run)")
        if not re.match(r"^https?://[^/\s]+", opts.server):
            raise ConfigError(f"--server must be an http:// or https:// address, not {opts.server!r}")
        if not opts.token:
            raise ConfigError("a token is required: --token, the config file's token, or FINOPS_AGENT_TOKEN")
        if opts.server.startswith("http://") and not re.match(r"^http://(localhost|127\.|\[::1\])", opts.server):
            log.warning("the token is sent over plain http to %s: use https", opts.server)
    return opts


def setup_logging(verbose: bool) -> None:
    for handler in list(log.handlers):
        log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s finops-agent %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def _reload_token(config_path):
    def reload(client: Client) -> None:
        try:
            token = load_config(config_path).get("token")
        except ConfigError as exc:
            log.error("%s", exc)
            return
        if token and token != client.token:
            log.info("token reloaded from %s", config_path)
            client.token = token

    return reload


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(bool(args.verbose))
    try:
        opts = resolve_options(args)
    except ConfigError as exc:
        print(f"finops-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(bool(opts.verbose))
    if pynvml is None:
        print("finops-agent: the NVML Python bindings are not installed: pip install nvidia-ml-py", file=sys.stderr)
        return EXIT_USAGE
    sampler = Sampler(pynvml, opts.interval, opts.env_prefix, opts.labels_file)
    try:
        sampler.open()
    except NvmlUnavailableError as exc:
        print(f"finops-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(opts, sampler)
    finally:
        sampler.close()


def _run(opts, sampler: Sampler) -> int:
    builder = BatchBuilder(opts.host_name, opts.interval, sampler)
    spool = sender = stopper = None
    if opts.dry_run:

        def emit(builder):
            batch = builder.close()
            try:
                if opts.once:
                    sys.stdout.write(json.dumps(batch, indent=2) + "\n")
                else:
                    sys.stdout.write(json.dumps(batch, separators=(",", ":")) + "\n")
                sys.stdout.flush()
            except BrokenPipeError:
                stopper.request()

    else:
        spool = Spool(opts.spool_dir, int(opts.spool_max_mb * 1048576))
        try:
            spool.open()
        except SpoolBusyError as exc:
            print(f"finops-agent: {exc}", file=sys.stderr)
            return EXIT_USAGE
        client = Client(opts.server, opts.token)
        sender = Sender(client, spool, opts.batch_seconds or opts.interval or 1.0,
                        _reload_token(opts.config) if opts.token_from_config else None)  # fmt: skip

        def emit(builder):
            spool.put(encode(builder.close(spool.dropped)))
            if not opts.once:
                sender.wake()

    stopper = Stopper()
    try:
        stopper.install()  # before "started": a SIGTERM from then on flushes
        log.info(
            "agent %s started: %d GPUs, driver %s, sample every %gs, batch every %gs%s",
            AGENT_VERSION,
            len(sampler.gpus),
            sampler.host.get("driver_version"),
            opts.interval,
            opts.batch_seconds,
            " (dry run)" if opts.dry_run else f", server {sender.client.url}, spool {spool.directory}",
        )
        if sender is not None and not opts.once:
            sender.start()
        run_loop(sampler, builder, emit, stopper, opts.interval, opts.batch_seconds, opts.once)
        if sender is None:
            return EXIT_OK
        if opts.once:
            return _deliver_once(sender, stopper)
        sender.stop(timeout=sender.client.timeout * 2 + 5)
        if len(spool):
            log.warning("%d batches left in the spool %s; they are sent on the next start", len(spool),
                        spool.directory or "(memory: lost)")  # fmt: skip
        return EXIT_OK
    finally:
        stopper.close()
        if spool is not None:
            spool.close()


def _deliver_once(sender: Sender, stopper: Stopper) -> int:
    delay = sender.base
    for attempt in range(3):
        outcome = sender.drain()
        if outcome == DELIVERED:
            log.info("delivered %d batches", sender.delivered)
            return EXIT_OK if not sender.rejected else EXIT_UNDELIVERED
        if outcome == CONFLICT:
            break
        if attempt < 2 and not stopper.sleep_until(time.monotonic() + delay):
            break
        delay *= 2
    log.error("not delivered: %d batches stay in the spool for the next start", len(sender.spool))
    return EXIT_UNDELIVERED


if __name__ == "__main__":
    sys.exit(main())
