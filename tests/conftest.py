"""Suite-wide hooks."""

import os
import shutil
import tempfile
import threading
import unittest

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import DEFAULT_DB_ALIAS, connections

# The longest modules first: under pytest-xdist (`make test` runs `-n auto --dist loadscope`) each module or test class
# goes whole to one worker in collection order, so a long one collected last would leave the other workers idle. The
# demo command's test comes before the browser tests: its build becomes the demo snapshot of the worker it lands on.
LONG_MODULES = (
    "tests/test_fuzz_api.py",
    "tests/accounts/test_commands.py",
    "tests/browser/",
    "tests/finops/test_identity.py",
    "tests/finops/test_customer_page.py",
    "tests/ingest/test_connectors_s3.py",
    "tests/finops/test_explore.py",
    "tests/finops/test_static_assets.py",
    "tests/finops/test_drilldown.py",
    "tests/pricing/test_formula.py",
)


def pytest_configure(config):
    from django.test.testcases import LiveServerThread

    LiveServerThread.server_class = ConnectionKeepingServer
    # xdist's loadscope sorts the scopes by their number of tests unless told not to, which would undo this order.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the run's own process: a folder its workers share (tests/demo.py)
        from tests.demo import SHARED_DIR

        os.environ[SHARED_DIR] = tempfile.mkdtemp(prefix="finops-tests-")


def pytest_unconfigure(config):
    from tests.demo import SHARED_DIR

    if not os.environ.get("PYTEST_XDIST_WORKER") and SHARED_DIR in os.environ:
        shutil.rmtree(os.environ.pop(SHARED_DIR), ignore_errors=True)


class ConnectionKeepingServer(ThreadedWSGIServer):
    """The live server, with each request thread handing its database connection on to the next request, as a
    gunicorn worker keeps its own for CONN_MAX_AGE (Django's closes it with the thread: a new PostgreSQL backend for
    every request, and the API fuzzing alone sends thousands). What it keeps is closed before the test databases are
    dropped (`django_db_setup` below: pytest-django stops the live server only after that)."""

    kept: list = []  # connections free for the next request, of every live server of the session
    lock = threading.Lock()

    def process_request_thread(self, request, client_address):
        with self.lock:
            kept = self.kept.pop() if self.kept else None
        if kept is not None:
            connections[DEFAULT_DB_ALIAS] = kept
        super().process_request_thread(request, client_address)

    def _close_connections(self):
        connection = connections[DEFAULT_DB_ALIAS]
        connection.close_if_unusable_or_obsolete()  # as request_finished does: on errors, after CONN_MAX_AGE
        if connection.connection is None or connection.in_atomic_block:
            connections.close_all()
            return
        if not connection.allow_thread_sharing:
            connection.inc_thread_sharing()
        with self.lock:
            self.kept.append(connection)

    @classmethod
    def close_kept(cls):
        with cls.lock:
            kept, cls.kept[:] = list(cls.kept), []
        for connection in kept:
            connection.close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    yield
    ConnectionKeepingServer.close_kept()


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid
        return next((n for n, prefix in enumerate(LONG_MODULES) if path.startswith(prefix)), len(LONG_MODULES))

    items.sort(key=rank)  # stable: the order within each group is kept


# pytest-xdist sends each subtest's parameters from the worker to the controller, and can send only plain values
# (a date or a Decimal fails the whole test): a subTest parameter is passed on as text unless it is plain already.
_sub_test = unittest.TestCase.subTest
PLAIN = (str, int, float, bool, type(None))


def _sub_test_of_plain_values(self, *args, **params):
    return _sub_test(self, *args, **{k: v if isinstance(v, PLAIN) else str(v) for k, v in params.items()})


unittest.TestCase.subTest = _sub_test_of_plain_values
