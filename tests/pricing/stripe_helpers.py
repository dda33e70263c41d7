"""A real localstripe server for the Stripe tests, and a scenario built there through the stripe library.

localstripe is started once per test session, on first use, on a free port (through `localstripe_shim.py`,
which fills in the few things it lacks: see that file), and stopped when the session ends. Without it the
tests skip, saying why; under CI they fail.
"""

import atexit
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import stripe

SHIM = Path(__file__).resolve().parent / "localstripe_shim.py"
KEY = "rk_test_finops_readonly_1234"
_server = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(base: str) -> bool:
    request = urllib.request.Request(base + "/v1/customers", headers={"Authorization": f"Bearer {KEY}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310 - our own local server
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"localstripe must run under CI: {reason}")
    raise unittest.SkipTest(f"localstripe could not start here: {reason}")


def localstripe_base() -> str:
    """The base URL of the session's localstripe, started on first use (stopped at exit)."""
    if "base" in _server:
        return _server["base"]
    if "error" in _server:
        _unavailable(_server["error"])
    try:
        import localstripe  # noqa: F401
    except ImportError:
        _server["error"] = "the localstripe package is not installed (pip install -r requirements-dev.txt)"
        _unavailable(_server["error"])
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, str(SHIM), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None and not _answers(base):
        time.sleep(0.1)
    if process.poll() is not None or not _answers(base):
        process.kill()
        stderr = (process.stderr.read() or b"").decode(errors="replace")[-500:]
        _server["error"] = f"it did not answer on {base} ({stderr.strip() or 'no output'})"
        _unavailable(_server["error"])
    _server.update(base=base, process=process)
    atexit.register(localstripe_stop)
    return base


def localstripe_stop():
    process = _server.pop("process", None)
    if process is not None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def localstripe_reset(base: str) -> stripe.StripeClient:
    """Empty the server's store; returns a client on it for building a scenario."""
    flush = urllib.request.Request(base + "/_config/data", method="DELETE")  # noqa: S310 - our own local server
    urllib.request.urlopen(flush, timeout=5).close()  # noqa: S310
    return stripe.StripeClient(KEY, base_addresses={"api": base})


def card(client: stripe.StripeClient) -> str:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
    return client.v1.tokens.create(params={"card": card}).id


def scenario_build(client: stripe.StripeClient) -> dict:
    """Two products, a USD plan and a zero-decimal JPY plan, three customers (two tied by metadata), a paid
    subscription for two seats, a trial, and a paid one-off invoice; returns the Stripe ids."""
    pro = client.v1.products.create(params={"name": "Pro"})
    starter = client.v1.products.create(params={"name": "Starter"})
    pro_plan = {"id": "pro-monthly", "product": pro.id, "amount": 4900, "currency": "usd", "interval": "month"}
    client.v1.plans.create(params={**pro_plan, "nickname": "Pro monthly"})
    jpy = {"id": "starter-jpy", "product": starter.id, "amount": 5000, "currency": "jpy", "interval": "month"}
    client.v1.plans.create(params={**jpy, "nickname": "Starter (JPY)"})
    acme = client.v1.customers.create(
        params={
            "email": "billing@acme.test",
            "name": "Acme",
            "metadata": {"customer_id": "acme"},
            "source": card(client),
        }
    )
    globex = client.v1.customers.create(
        params={
            "email": "ops@globex.test",
            "name": "Globex",
            "metadata": {"finops_customer": "globex"},
            "source": card(client),
        }
    )
    initech = client.v1.customers.create(params={"email": "it@initech.test", "name": "Initech"})
    paid = client.v1.subscriptions.create(
        params={"customer": acme.id, "items": [{"plan": "pro-monthly", "quantity": 2}]}
    )
    trial = client.v1.subscriptions.create(
        params={"customer": globex.id, "items": [{"plan": "starter-jpy"}], "trial_period_days": 14}
    )
    client.v1.invoice_items.create(
        params={"customer": acme.id, "amount": 1234, "currency": "usd", "description": "GPU burst pack"}
    )
    extra = client.v1.invoices.create(params={"customer": acme.id})
    client.v1.invoices.pay(extra.id)
    return {
        "acme": acme.id,
        "globex": globex.id,
        "initech": initech.id,
        "paid": paid.id,
        "trial": trial.id,
        "first_invoice": paid.latest_invoice,
        "extra_invoice": extra.id,
        "pro": pro.id,
    }
