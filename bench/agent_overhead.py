"""Benchmark: what the GPU host agent itself costs the host (CPU as % of one core, peak RSS).

    .venv/bin/python bench/agent_overhead.py [--seconds 60] [--interval 10] [--batch-seconds 60] \
        [--gpus 8] [--processes 16] [--mode http|dry-run]

Runs ingest/agent/finops_agent.py in a subprocess for N seconds at its default 10 s interval against the
fake NVML of the tests (tests/agent/fake_pynvml.py, put first on PYTHONPATH as `pynvml.py`), with real
labelled child processes for it to find in /proc. In `http` mode (the default) batches go to a local sink
on 127.0.0.1 that answers 201, through the real spool (write, fsync, rename) and urllib; in `dry-run`
mode they are printed to /dev/null. Reported:

- start-up: CPU seconds until the agent logs "started" (interpreter, imports, NVML init, first reads);
- steady state: CPU seconds from then to the end (all threads, from /proc/<pid>/task/*/schedstat),
  as % of one core over that wall time, and per tick;
- peak RSS: VmHWM from /proc/<pid>/status just before SIGTERM;
- total CPU from the child's rusage after it exits (includes start-up and the final flush).

The fake NVML answers in microseconds; real NVML calls cost more (a few hundred microseconds to a few
milliseconds each, more with many processes or MIG), so measure on a GPU host before quoting figures.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT = ROOT / "ingest" / "agent" / "finops_agent.py"
FAKE = ROOT / "tests" / "agent" / "fake_pynvml.py"


def cpu_seconds(pid):
    """On-CPU time of all live threads of `pid` (ns resolution where schedstat exists)."""
    total, found = 0, False
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            continue
    if found:
        return total / 1e9
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kib(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Sink:
    def __init__(self):
        self.batches = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                json.loads(body)
                sink.batches += 1
                sink.bytes += len(body)
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--batch-seconds", type=float, default=60.0)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--processes", type=int, default=16, help="labelled child processes spread over the GPUs")
    parser.add_argument("--mode", choices=("http", "dry-run"), default="http")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    shutil.copy(FAKE, work / "pynvml.py")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_")}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", f"import time; time.sleep({args.seconds + 60})"],
            env={
                **child_env,
                "FINOPS_CUSTOMER": f"customer-{i % 5}",
                "FINOPS_FEATURE": "bench",
                "FINOPS_JOB_ID": str(i),
            },
        )
        for i in range(args.processes)
    ]
    procs = [
        {"gpu": i % max(1, args.gpus), "pid": child.pid, "used": (i + 1) * 2**30, "sm": 10 + i % 80 if i % 3 else None}
        for i, child in enumerate(children)
    ]
    env = {**child_env, "PYTHONPATH": str(work), "FAKE_NVML_GPUS": str(args.gpus), "FAKE_NVML_PROCS": json.dumps(procs)}
    command = [sys.executable, str(AGENT), "--interval", str(args.interval), "--batch-seconds", str(args.batch_seconds)]
    sink = None
    if args.mode == "http":
        sink = Sink()
        command += ["--server", sink.url, "--token", "bench", "--spool-dir", str(work / "spool")]
    else:
        command += ["--dry-run"]
    log_path = work / "agent.log"
    try:
        with open(log_path, "w") as log, open(os.devnull, "w") as devnull:
            started_wall = time.monotonic()
            agent = subprocess.Popen(command, env=env, stdout=devnull, stderr=log)
            while "started" not in log_path.read_text():
                if agent.poll() is not None or time.monotonic() - started_wall > 30:
                    sys.exit(f"the agent did not start:\n{log_path.read_text()}")
                time.sleep(0.01)
            t0, cpu0 = time.monotonic(), cpu_seconds(agent.pid)
            startup_wall = t0 - started_wall
            time.sleep(args.seconds)
            t1, cpu1 = time.monotonic(), cpu_seconds(agent.pid)
            hwm, rss = status_kib(agent.pid, "VmHWM"), status_kib(agent.pid, "VmRSS")
            agent.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(agent.pid, 0)
            agent.returncode = os.waitstatus_to_exitcode(status)
    finally:
        for child in children:
            child.kill()
            child.wait()
        if sink:
            sink.stop()

    wall = t1 - t0
    steady = cpu1 - cpu0
    ticks = int(wall // args.interval) + 1
    total_cpu = usage.ru_utime + usage.ru_stime
    print(f"agent overhead, {args.mode} mode, fake NVML with {args.gpus} GPUs and {args.processes} processes")
    python = f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"
    print(f"  {python}; agent exit code {agent.returncode}")
    print(f"  interval {args.interval:g} s, batch {args.batch_seconds:g} s, measured {wall:.1f} s ({ticks} ticks)")
    print(f"  start-up:     {cpu0 * 1000:8.1f} ms CPU in {startup_wall * 1000:.0f} ms wall")
    print(f"  steady state: {steady * 1000:8.1f} ms CPU = {100 * steady / wall:.4f} % of one core, "
          f"{steady * 1000 / ticks:.2f} ms per tick")  # fmt: skip
    print(f"  total CPU:    {total_cpu * 1000:8.1f} ms (rusage, start-up and final flush included)")
    print(f"  peak RSS:     {hwm / 1024:8.1f} MiB (VmHWM; VmRSS at the end {rss / 1024:.1f} MiB)")
    if sink:
        per_batch = sink.bytes / sink.batches if sink.batches else 0
        print(f"  delivered:    {sink.batches} batches, {per_batch / 1024:.1f} KiB each")
    print(
        "  note: the fake NVML answers in microseconds; real NVML calls cost more and must be measured on a GPU host."
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
