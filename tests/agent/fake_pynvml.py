"""A fake `pynvml`: the NVML boundary only, for the agent's tests and its overhead bench.

Two GPUs by default (FAKE_NVML_GPUS changes the count):
- GPU 0, an "H100", supports everything, MIG mode 0;
- GPU 1 (and every odd one), an "A10G", has no energy counter and no MIG (NVMLError_NotSupported).

Processes come from FAKE_NVML_PROCS, a JSON list of
    {"gpu": 0, "pid": 1234, "used": 1073741824, "sm": 37, "type": "compute"}
where "sm" null means NVML has no per-process sample for it (a GPU with no samples at all raises
NVMLError_NotFound from nvmlDeviceGetProcessUtilization, as real NVML does), and "type" is compute
(default) or graphics. FAKE_NVML_INIT_ERROR=LibraryNotFound|DriverNotLoaded makes nvmlInit fail.

In-process tests may set `FAIL[(gpu index, function name)] = "GpuIsLost"` to make one call fail,
and read `CALLS[function name]`, the number of calls so far.
"""
# ruff: noqa: N801, N802, N803, N818

import collections
import json
import os
import time

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999

NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    value = NVML_ERROR_UNKNOWN

    def __init__(self, value=None):
        super().__init__()
        if value is not None:
            self.value = value

    def __str__(self):
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


class NVMLError_Uninitialized(NVMLError):
    value = NVML_ERROR_UNINITIALIZED


class NVMLError_NotSupported(NVMLError):
    value = NVML_ERROR_NOT_SUPPORTED


class NVMLError_NoPermission(NVMLError):
    value = NVML_ERROR_NO_PERMISSION


class NVMLError_NotFound(NVMLError):
    value = NVML_ERROR_NOT_FOUND


class NVMLError_DriverNotLoaded(NVMLError):
    value = NVML_ERROR_DRIVER_NOT_LOADED


class NVMLError_LibraryNotFound(NVMLError):
    value = NVML_ERROR_LIBRARY_NOT_FOUND


class NVMLError_FunctionNotFound(NVMLError):
    value = NVML_ERROR_FUNCTION_NOT_FOUND


class NVMLError_GpuIsLost(NVMLError):
    value = NVML_ERROR_GPU_IS_LOST


class NVMLError_Unknown(NVMLError):
    value = NVML_ERROR_UNKNOWN


CALLS = collections.Counter()
FAIL = {}
_state = {"initialised": False, "t0": time.time()}


class _Handle:
    def __init__(self, index):
        self.index = index


class _Struct:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def _count(name, handle=None):
    CALLS[name] += 1
    if not _state["initialised"]:
        raise NVMLError_Uninitialized()
    if handle is not None:
        failure = FAIL.get((handle.index, name))
        if failure:
            raise globals()["NVMLError_" + failure]()


def _gpu_count():
    return int(os.environ.get("FAKE_NVML_GPUS", "2"))


def _a10g(handle):
    return handle.index % 2 == 1


def _processes(handle, kind):
    raw = os.environ.get("FAKE_NVML_PROCS") or "[]"
    if _state.get("procs_raw") != raw:  # parsed once per value: the bench measures the agent, not the fake
        _state["procs_raw"], _state["procs"] = raw, json.loads(raw)
    entries = _state["procs"]
    return [e for e in entries if e.get("gpu", 0) == handle.index and e.get("type", "compute") == kind]


def nvmlInit():
    CALLS["nvmlInit"] += 1
    error = os.environ.get("FAKE_NVML_INIT_ERROR")
    if error:
        raise globals()["NVMLError_" + error]()
    _state["initialised"] = True


def nvmlShutdown():
    _count("nvmlShutdown")
    _state["initialised"] = False


def nvmlSystemGetDriverVersion():
    _count("nvmlSystemGetDriverVersion")
    return "550.54.15"


def nvmlSystemGetNVMLVersion():
    _count("nvmlSystemGetNVMLVersion")
    return "12.550.54.15"


def nvmlSystemGetCudaDriverVersion():
    _count("nvmlSystemGetCudaDriverVersion")
    return 12040


def nvmlSystemGetProcessName(pid):
    _count("nvmlSystemGetProcessName")
    return "/usr/bin/python3"


def nvmlDeviceGetCount():
    _count("nvmlDeviceGetCount")
    return _gpu_count()


def nvmlDeviceGetHandleByIndex(index):
    _count("nvmlDeviceGetHandleByIndex")
    if not 0 <= index < _gpu_count():
        raise NVMLError(2)
    return _Handle(index)


def nvmlDeviceGetUUID(handle):
    _count("nvmlDeviceGetUUID", handle)
    return f"GPU-fake{handle.index:04d}-0000-4000-8000-00000000000{handle.index % 10}"


def nvmlDeviceGetName(handle):
    _count("nvmlDeviceGetName", handle)
    return "NVIDIA A10G" if _a10g(handle) else "NVIDIA H100 80GB HBM3"


def nvmlDeviceGetMemoryInfo(handle, version=None):
    _count("nvmlDeviceGetMemoryInfo", handle)
    total = 24 * 1024**3 if _a10g(handle) else 80 * 1024**3
    used = sum(p.get("used") or 0 for kind in ("compute", "graphics") for p in _processes(handle, kind))
    return _Struct(total=total, used=used + 500 * 1024**2, free=total - used)


def nvmlDeviceGetUtilizationRates(handle):
    _count("nvmlDeviceGetUtilizationRates", handle)
    busy = bool(_processes(handle, "compute"))
    return _Struct(gpu=87 if busy else 0, memory=41 if busy else 0)


def nvmlDeviceGetPowerUsage(handle):
    _count("nvmlDeviceGetPowerUsage", handle)
    return 61_000 if _a10g(handle) else 350_250


def nvmlDeviceGetTotalEnergyConsumption(handle):
    _count("nvmlDeviceGetTotalEnergyConsumption", handle)
    if _a10g(handle):
        raise NVMLError_NotSupported()
    return 9_000_000_000 + int((time.time() - _state["t0"]) * 350_250)


def nvmlDeviceGetTemperature(handle, sensor):
    _count("nvmlDeviceGetTemperature", handle)
    return 44 if _a10g(handle) else 61


def nvmlDeviceGetClockInfo(handle, clock_type):
    _count("nvmlDeviceGetClockInfo", handle)
    if clock_type == NVML_CLOCK_SM:
        return 1710 if _a10g(handle) else 1980
    return 6251 if _a10g(handle) else 2619


def nvmlDeviceGetMigMode(handle):
    _count("nvmlDeviceGetMigMode", handle)
    if _a10g(handle):
        raise NVMLError_NotSupported()
    return [0, 0]


def _running(handle, kind, name):
    _count(name, handle)
    return [_Struct(pid=p["pid"], usedGpuMemory=p.get("used")) for p in _processes(handle, kind)]


def nvmlDeviceGetComputeRunningProcesses(handle):
    return _running(handle, "compute", "nvmlDeviceGetComputeRunningProcesses")


def nvmlDeviceGetGraphicsRunningProcesses(handle):
    return _running(handle, "graphics", "nvmlDeviceGetGraphicsRunningProcesses")


def nvmlDeviceGetProcessUtilization(handle, timeStamp):
    _count("nvmlDeviceGetProcessUtilization", handle)
    now = int(time.time() * 1_000_000)
    samples = [
        _Struct(pid=p["pid"], timeStamp=now, smUtil=p["sm"], memUtil=p["sm"] // 2, encUtil=0, decUtil=0)
        for kind in ("compute", "graphics")
        for p in _processes(handle, kind)
        if p.get("sm") is not None and now > timeStamp
    ]
    if not samples:
        raise NVMLError_NotFound()
    return samples
