"""With REDIS_URL, tasks leave the web process: a real worker on a real Redis sends the invitation e-mail."""

import os
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_prerun
from django.core import mail
from django.test import TransactionTestCase

from accounts.services import invitation_create, org_bootstrap
from finops.celery import app


class RealWorkerTests(TransactionTestCase):
    def setUp(self):
        if not os.environ.get("REDIS_URL"):
            if os.environ.get("CI"):
                pytest.fail("CI must provide REDIS_URL")
            pytest.skip("needs a real Redis (REDIS_URL)")
        self.eager = app.conf.task_always_eager
        app.conf.task_always_eager = False
        app.conf.broker_url = os.environ["REDIS_URL"]

    def tearDown(self):
        app.conf.task_always_eager = self.eager

    def test_it_sends_the_invitation_from_a_worker_on_the_email_queue(self):
        org, owner, _ = org_bootstrap(name="Worker AI", owner_email="owner@example.org")
        deliveries = []

        def record(task=None, **kwargs):
            deliveries.append((task.name, task.request.is_eager, task.request.delivery_info.get("routing_key")))

        task_prerun.connect(record, weak=False)
        self.addCleanup(task_prerun.disconnect, record)
        with start_worker(app, queues=["email"], perform_ping_check=False, shutdown_timeout=10):
            invitation_create(org=org, email="guest@example.org", role="viewer", invited_by=owner)
            deadline = time.monotonic() + 15
            while not mail.outbox and time.monotonic() < deadline:
                time.sleep(0.1)
        self.assertEqual([m.to for m in mail.outbox], [["guest@example.org"]])
        self.assertEqual(deliveries, [("accounts.tasks.send_invitation_email", False, "email")])
