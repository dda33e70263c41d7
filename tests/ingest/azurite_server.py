"""Azurite, Microsoft's local Azure Storage emulator, as a real Blob Storage server for the connector tests.

`azurite()` starts one `azurite-blob` process on a free port of 127.0.0.1 with its data in a temporary folder
and stops it when the module (or session) using it ends. The account is Azurite's well-known development
account (`devstoreaccount1`, public key below), reached path-style: http://127.0.0.1:<port>/devstoreaccount1.
Without node or Azurite (installed by `make test` under tests/servers/azurite) the tests are skipped with the
reason, except under CI, where they fail: CI must run them.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCOUNT = "devstoreaccount1"
# Azurite's published development key (the same in every Azurite install), not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
BINARY = Path(__file__).resolve().parent.parent / "servers" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
START_SECONDS = 30


@dataclass
class Azurite:
    account_url: str
    account_name: str = ACCOUNT
    account_key: str = ACCOUNT_KEY

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(account_url=self.account_url, credential=self.account_key)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run the Azure connector tests: run `make test`, which installs Azurite)")
    pytest.skip(reason)


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azurite-blob exited with status {process.returncode} before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"azurite-blob did not answer on port {port} within {START_SECONDS} s")


def azurite():
    """Generator for a fixture: a running Azurite (an `Azurite`), stopped and its data removed afterwards."""
    if not shutil.which("node"):
        _unavailable("node is not installed, so Azurite (the local Azure Blob Storage server) cannot run")
    if not BINARY.exists():
        _unavailable(f"Azurite is not installed at {BINARY} (run `make test` or `npm ci` in tests/servers/azurite)")
    location = tempfile.mkdtemp(prefix="azurite-")
    port = _free_port()
    command = [str(BINARY), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", location,
               "--silent", "--skipApiVersionCheck", "--loose"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(port, process)
        yield Azurite(account_url=f"http://127.0.0.1:{port}/{ACCOUNT}")
    finally:
        # Its graceful stop waits for the clients' keep-alive connections; its data is thrown away anyway.
        process.kill()
        process.wait()
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(location, ignore_errors=True)
