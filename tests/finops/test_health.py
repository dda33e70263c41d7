"""GET /healthz: database and broker state for load balancers, no authentication."""

import os
import socket
import unittest
from unittest import mock

from django.db.utils import OperationalError
from django.test import TestCase, override_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HealthTests(TestCase):
    def test_it_reports_the_database_and_an_eager_broker(self):
        response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"database": "ok", "broker": "eager", "last_rollup_at": None})

    @unittest.skipUnless(os.environ.get("REDIS_URL"), "needs a real Redis (REDIS_URL); CI sets it")
    def test_it_pings_a_real_redis_broker(self):
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=os.environ["REDIS_URL"]):
            self.assertEqual(self.client.get("/healthz").json()["broker"], "ok")

    def test_it_reports_a_broker_that_does_not_answer(self):
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["broker"], "down")

    def test_it_answers_503_when_the_database_is_down(self):
        with mock.patch("finops.selectors.health.connection.cursor", side_effect=OperationalError("gone")):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["database"], "down")
