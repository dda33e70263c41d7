"""GET /healthz: the database, the broker, Redis, the queues' depth and the oldest dirty day, no authentication.

"down" (503) when the database, the broker or Redis does not answer; "degraded" (200) when work piles up."""

import os
import socket
import unittest
import uuid
from datetime import date, timedelta
from unittest import mock

from django.db.utils import OperationalError
from django.test import override_settings
from django.utils import timezone

from finops.selectors.health import health_queue_names
from ingest.models import DirtyDay, QuarantinedDay
from tests.base import BaseTestCase

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = unittest.skipUnless(REDIS_URL, "needs a real Redis (REDIS_URL); CI sets it")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@override_settings(REDIS_URL="")
class HealthTests(BaseTestCase):
    def test_it_reports_everything_ok_when_embedded(self):
        response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {
            "status": "ok", "reasons": [], "database": "ok", "broker": "eager", "redis": "embedded", "queues": None,
            "oldest_dirty_day_age_seconds": None, "quarantined_days": 0, "last_rollup_at": None,
            "connectors": {"never": 0, "ok": 0, "failed": 0, "running": 0},
        })  # fmt: skip

    def test_it_reports_the_oldest_dirty_days_age_without_naming_its_org(self):
        DirtyDay.objects.create(org=self.org, day=date(2026, 1, 5), marked_at=timezone.now() - timedelta(hours=2))
        DirtyDay.objects.create(org=self.charlies_org, day=date(2026, 1, 6))
        response = self.client.get("/healthz")
        age = response.json()["oldest_dirty_day_age_seconds"]
        self.assertTrue(2 * 3600 <= age < 2 * 3600 + 60, age)
        # Embedded, a page recomputes its org's days when read: an old dirty day is no sign of trouble.
        self.assertEqual(response.json()["status"], "ok")
        for org in (self.org, self.charlies_org):
            self.assertNotContains(response, str(org.code))
            self.assertNotContains(response, org.name)

    def test_it_is_down_when_the_broker_does_not_answer(self):
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 503)
        body = response.json()
        self.assertEqual((body["status"], body["broker"], body["queues"]), ("down", "down", None))
        self.assertEqual(body["reasons"], ["broker unreachable"])

    def test_it_is_down_when_redis_does_not_answer(self):
        with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 503)
        self.assertEqual((response.json()["redis"], response.json()["reasons"]), ("down", ["redis unreachable"]))

    def test_it_answers_503_when_the_database_is_down(self):
        with mock.patch("finops.selectors.health.connection.cursor", side_effect=OperationalError("gone")):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 503)
        body = response.json()
        self.assertEqual(
            (body["status"], body["database"], body["reasons"]), ("down", "down", ["database unreachable"])
        )
        self.assertIsNone(body["oldest_dirty_day_age_seconds"])

    def test_it_needs_no_login(self):
        self.client.logout()
        self.assertEqual(self.client.get("/healthz").status_code, 200)

    def test_it_names_the_default_queue_and_every_routed_one(self):
        self.assertEqual(health_queue_names(), ["default", "ingest", "rollup", "email"])


@needs_redis
class RedisHealthTests(BaseTestCase):
    """Against the real Redis, under a key prefix of its own so no other queue (or worker) is touched."""

    def setUp(self):
        import redis

        self.prefix = f"healthz-test-{uuid.uuid4().hex}:"
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.addCleanup(lambda: [self.redis.delete(key) for key in self.redis.scan_iter(f"{self.prefix}*")])
        broker = override_settings(
            REDIS_URL=REDIS_URL,
            CELERY_TASK_ALWAYS_EAGER=False,
            CELERY_BROKER_URL=REDIS_URL,
            CELERY_BROKER_TRANSPORT_OPTIONS={"global_keyprefix": self.prefix},
        )
        broker.enable()
        self.addCleanup(broker.disable)

    def test_it_counts_each_queues_waiting_messages(self):
        self.redis.rpush(f"{self.prefix}ingest", "a", "b")
        self.redis.rpush(f"{self.prefix}ingest\x06\x163", "c")  # a message sent with priority 3
        self.redis.rpush(f"{self.prefix}email", "d")
        response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual((body["status"], body["broker"], body["redis"]), ("ok", "ok", "ok"))
        self.assertEqual(body["queues"], {"default": 0, "ingest": 3, "rollup": 0, "email": 1})

    def test_it_is_degraded_when_a_queue_is_deeper_than_the_limit(self):
        self.redis.rpush(f"{self.prefix}rollup", *range(3))
        with override_settings(HEALTH_QUEUE_DEPTH_LIMIT=2):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "degraded")
        self.assertEqual(response.json()["reasons"], ["queue rollup: 3 messages waiting (limit 2)"])

    def test_it_is_degraded_while_a_day_is_quarantined_without_naming_its_org(self):
        later = timezone.now() + timedelta(hours=1)
        for org, day in ((self.org, date(2026, 1, 5)), (self.charlies_org, date(2026, 1, 6))):
            QuarantinedDay.objects.create(org=org, day=day, error=f"boom in {org.name}", retry_after=later)
        response = self.client.get("/healthz")
        body = response.json()
        self.assertEqual((response.status_code, body["status"], body["quarantined_days"]), (200, "degraded", 2))
        self.assertEqual(len(body["reasons"]), 1)
        self.assertRegex(body["reasons"][0], r"^2 days quarantined: ")
        for org in (self.org, self.charlies_org):
            self.assertNotContains(response, str(org.code))
            self.assertNotContains(response, org.name)
        QuarantinedDay.objects.all().delete()
        self.assertEqual(self.client.get("/healthz").json()["status"], "ok")

    def test_it_is_degraded_when_a_dirty_day_waits_too_long(self):
        DirtyDay.objects.create(org=self.org, day=date(2026, 1, 5), marked_at=timezone.now() - timedelta(minutes=20))
        self.assertEqual(self.client.get("/healthz").json()["status"], "degraded")
        with override_settings(HEALTH_DIRTY_DAY_AGE_LIMIT_SECONDS=3600):
            self.assertEqual(self.client.get("/healthz").json()["status"], "ok")
        reasons = self.client.get("/healthz").json()["reasons"]
        self.assertEqual(len(reasons), 1)
        self.assertRegex(reasons[0], r"^a dirty day has waited 1[23]\d\d s for its rollup \(limit 900 s\)$")
