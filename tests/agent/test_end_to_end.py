"""The real agent file, as a subprocess on the fake NVML, against the real app on a live test server.

The server is the Django app in a thread of this process on a fixed port, so it can be stopped (the
agent sees connection refused and spools to disk) and started again on the same address. While the
agent runs, the test watches only its spool and its log; the database is read once both have stopped.
"""

import re
import signal
import socket

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import WSGIRequestHandler
from django.db import connections
from django.db.models import Sum
from django.test.testcases import LiveServerThread

from accounts.models import Organization
from accounts.services import agent_token_create, org_create, user_get_or_create
from ingest.models import AgentBatch, Gpu, GpuHost, GpuMinute, ProcessMinute
from ingest.services.agent import gpu_host_update
from tests.agent import test_agent as agent_tests
from tests.agent.test_agent import free_port, run_agent, spooled, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

children = agent_tests.children
agent_env = agent_tests.agent_env
agents = agent_tests.agents
HOST = "gpu-box-1"
DELIVERED = re.compile(r"delivered (\S+) \(")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ReusableLiveServerThread(LiveServerThread):
    def _create_server(self, connections_override=None):
        # Django binds without SO_REUSEADDR; a restart on the same port would then trip over the
        # TIME_WAIT sockets of the connections it just served.
        return self.server_class(
            (self.host, self.port),
            _QuietHandler,
            allow_reuse_address=True,
            connections_override=connections_override,
        )


class AppServer:
    """The app served on one fixed port, stopped and started like a real server."""

    def __init__(self):
        self.port = free_port()
        self.thread = None
        # An in-memory SQLite test database lives in this connection: the server thread must share it.
        self.shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        for conn in self.shared.values():
            conn.inc_thread_sharing()
        self.thread = _ReusableLiveServerThread(
            "127.0.0.1", StaticFilesHandler, connections_override=self.shared, port=self.port
        )
        self.thread.daemon = True
        self.thread.start()
        self.thread.is_ready.wait()
        if self.thread.error:
            raise self.thread.error
        return self

    def stop(self):
        if self.thread is not None:
            self.thread.terminate()
            for conn in self.shared.values():
                conn.dec_thread_sharing()
            self.thread = None


@pytest.fixture
def app_server():
    server = AppServer()
    yield server
    server.stop()


@pytest.fixture
def token():
    owner, _ = user_get_or_create(email="alice@example.org", password="correct-horse-battery-staple")
    org = org_create(name="Alice AI", owner=owner)
    _, raw = agent_token_create(org=org, host_name=HOST, created_by=owner)
    return raw


def test_it_lands_samples_with_once(agent_env, app_server, token, tmp_path, children):
    app_server.start()
    args = ["--once", "--server", app_server.url, "--token", token, "--host-name", HOST]
    result = run_agent(agent_env, *args, "--spool-dir", str(tmp_path / "spool"))
    assert result.returncode == 0, result.stderr
    app_server.stop()
    org = Organization.objects.get(name="Alice AI")
    assert AgentBatch.objects.for_org(org).count() == 1
    minutes = GpuMinute.objects.for_org(org).select_related("gpu").order_by("gpu__index")
    assert [(m.gpu.name, m.samples) for m in minutes] == [("NVIDIA H100 80GB HBM3", 1), ("NVIDIA A10G", 1)]
    # one tick: no earlier reading to take a delta from, so power x interval; the A10G has no counter
    assert [m.energy_mj for m in minutes] == [350_250 * 10, 61_000 * 10]
    h100, a10g = Gpu.objects.for_org(org).order_by("index")
    assert h100.energy_counter_mj > 9_000_000_000 and a10g.energy_counter_mj is None
    labelled = ProcessMinute.objects.for_org(org).get(pid=children[0], gpu=h100)
    assert (labelled.customer, labelled.feature) == ("acme", "summarise")
    assert spooled(tmp_path / "spool") == []


def test_it_delivers_every_batch_exactly_once_across_a_server_outage(agent_env, app_server, token, tmp_path, agents):
    spool = tmp_path / "spool"
    app_server.start()
    args = ["--server", app_server.url, "--token", token, "--host-name", HOST, "--spool-dir", str(spool)]
    running = agents(agent_env, tmp_path, *args, "--interval", "0.1", "--batch-seconds", "0.4", "--verbose")

    def delivered():
        return DELIVERED.findall(running.log)

    wait_for(lambda: len(delivered()) >= 2, what="two batches delivered", log=running)
    app_server.stop()
    wait_for(lambda: len(spooled(spool)) >= 3, what="three batches spooled while the server is down", log=running)
    assert "cannot reach" in running.log
    app_server.start()
    wait_for(lambda: "server reachable again" in running.log, timeout=15, what="the spool to drain", log=running)
    assert running.stop(signal.SIGTERM) == 0, running.log  # flushes the partial batch and sends it
    app_server.stop()

    assert spooled(spool) == [], "nothing left behind"
    assert "dropped" not in running.log
    sent = delivered()
    produced = max(int(batch_id.rsplit("-", 1)[1]) for batch_id in sent)
    org = Organization.objects.get(name="Alice AI")
    stored = list(AgentBatch.objects.for_org(org).values_list("batch_id", flat=True))
    assert sorted(int(b.rsplit("-", 1)[1]) for b in stored) == list(range(1, produced + 1)), "each batch, once"
    assert set(stored) == set(sent)
    assert produced >= 6
    totals = AgentBatch.objects.for_org(org).aggregate(samples=Sum("samples"))
    assert GpuMinute.objects.for_org(org).aggregate(samples=Sum("samples")) == totals, "no sample counted twice"


def test_it_runs_with_only_the_server_and_the_token_on_a_machine_named_otherwise(agent_env, app_server, tmp_path):
    """The documented install on a cloud VM: the token names the host, the hostname is whatever the VM has."""
    owner, _ = user_get_or_create(email="alice@example.org", password="correct-horse-battery-staple")
    org = org_create(name="Alice AI", owner=owner)
    _, token = agent_token_create(org=org, host_name="gpu-a100-01", created_by=owner)
    assert socket.gethostname() != "gpu-a100-01"
    env = {**agent_env, "STATE_DIRECTORY": str(tmp_path / "state")}  # the default spool, kept out of the home
    app_server.start()
    first = run_agent(env, "--once", "--server", app_server.url, "--token", token)
    assert first.returncode == 0, first.stderr

    # the token copied to a second machine: refused, loudly, and its batch kept
    other = {**agent_env, "STATE_DIRECTORY": str(tmp_path / "other")}
    copied = run_agent(other, "--once", "--server", app_server.url, "--token", token, "--host", "ip-10-0-9-4")
    assert copied.returncode == 1
    assert "host_conflict" in copied.stderr and "ip-10-0-9-4" in copied.stderr
    assert socket.gethostname() in copied.stderr, copied.stderr
    assert len(spooled(tmp_path / "other")) == 1
    app_server.stop()

    [host] = GpuHost.objects.for_org(org)
    assert (host.name, host.reported_hostname) == ("gpu-a100-01", socket.gethostname())
    assert AgentBatch.objects.for_org(org).count() == 1
    assert GpuMinute.objects.for_org(org).count() == 2
    assert spooled(tmp_path / "state") == []

    # it was a replacement after all: forget the old machine, and the kept batch goes through
    gpu_host_update(org=org, name="gpu-a100-01", forget_machine=True)
    app_server.start()
    replaced = run_agent(other, "--once", "--server", app_server.url, "--token", token, "--host", "ip-10-0-9-4")
    assert replaced.returncode == 0, replaced.stderr
    app_server.stop()
    host.refresh_from_db()
    assert host.reported_hostname == "ip-10-0-9-4"
    assert AgentBatch.objects.for_org(org).count() == 3, "the kept batch and the new one"
    assert spooled(tmp_path / "other") == []
