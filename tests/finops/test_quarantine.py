"""A day whose rollup fails is quarantined: the other days recompute, every read answers from what exists, the day is
shown on the Sources page and in /healthz, and deleting the bad data clears it (issue 16)."""

import unittest
from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

from django.db import connection
from django.test import override_settings
from django.utils import timezone

from finops.models import RollupDay
from finops.services import rollups
from finops.services.rollups import QUARANTINE_RETRY_FIRST, rollups_refresh
from ingest.models import CostLine, DirtyDay, QuarantinedDay, Upload
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin
from tests.ingest.test_bill_uploads import focus_rows

DAY1, DAY2, DAY3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
PERIOD = "?start=2026-10-01&end=2026-10-04"
real_recompute = rollups.rollup_day_recompute


def failing(bad_day):
    """rollup_day_recompute, raising for `bad_day` after writing its rows (which the rollback must undo)."""

    def recompute(*, org, day, **kwargs):
        if day == bad_day:
            real_recompute(org=org, day=day, **kwargs)
            raise ValueError(f"cannot roll up {day}")
        return real_recompute(org=org, day=day, **kwargs)

    return mock.patch.object(rollups, "rollup_day_recompute", side_effect=recompute)


@override_settings(REDIS_URL="")
class QuarantineTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()
        self.client.force_login(self.alice)
        response = self.api_upload("oct.csv", focus_rows(["10", "20", "30"]))
        self.upload = Upload.objects.get(code=response.json()["id"])
        self.assertEqual(self.upload.status, "done", self.upload.errors)

    def summary(self):
        response = self.api_get(f"/api/v1/ledger/summary/{PERIOD}")
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def test_it_quarantines_the_failing_day_and_recomputes_the_others(self):
        with failing(DAY2), self.assertLogs("finops.services.rollups", "ERROR") as logs:
            done = rollups_refresh(org=self.org)
        self.assertEqual(done, [DAY1, DAY3])
        self.assertIn(str(DAY2), logs.output[0])
        record = QuarantinedDay.objects.get(org=self.org)
        self.assertEqual((record.day, record.attempts), (DAY2, 1))
        self.assertIn("ValueError: cannot roll up 2026-10-02", record.error)
        self.assertFalse(DirtyDay.objects.filter(org=self.org).exists())  # the quarantine holds the day now
        self.assertEqual(set(RollupDay.objects.filter(org=self.org).values_list("day", flat=True)), {DAY1, DAY3})
        # Reads answer from what exists: the two good days, the identity intact.
        body = self.summary()
        self.assertEqual(Decimal(body["billed_total"]), Decimal("40"))
        parts = sum(Decimal(body[k]) for k in ("allocated", "idle", "unmeasured", "unattributed"))
        self.assertEqual(parts, Decimal(body["billed_total"]))
        self.assertEqual(self.api_get(f"/api/v1/founder-table/{PERIOD}").status_code, 200)
        page = self.client.get(f"/o/{self.org.code}/{PERIOD}")
        self.assertEqual(page.status_code, 200)
        # Not retried at every tick (or read) while nothing changed.
        with failing(DAY2) as recompute:
            self.assertEqual(rollups_refresh(org=self.org), [])
        recompute.assert_not_called()

    def test_a_failed_day_keeps_its_earlier_rollup(self):
        rollups_refresh(org=self.org)
        self.assertEqual(Decimal(self.summary()["billed_total"]), Decimal("60"))
        computed = RollupDay.objects.get(org=self.org, day=DAY2).computed_at
        DirtyDay.objects.create(org=self.org, day=DAY2)
        with failing(DAY2), self.assertLogs("finops.services.rollups", "ERROR"):
            self.assertEqual(rollups_refresh(org=self.org), [])
        self.assertEqual(RollupDay.objects.get(org=self.org, day=DAY2).computed_at, computed)
        self.assertEqual(Decimal(self.summary()["billed_total"]), Decimal("60"))

    def test_it_retries_with_a_growing_backoff_and_clears_on_success(self):
        with failing(DAY2), self.assertLogs("finops.services.rollups", "ERROR"):
            rollups_refresh(org=self.org)
            QuarantinedDay.objects.update(retry_after=timezone.now() - timedelta(seconds=1))
            self.assertEqual(rollups_refresh(org=self.org), [])
        record = QuarantinedDay.objects.get(org=self.org)
        self.assertEqual(record.attempts, 2)
        self.assertGreater(record.retry_after - record.last_failed_at, QUARANTINE_RETRY_FIRST)
        self.assertLess(record.first_failed_at, record.last_failed_at)
        # Marked dirty again (its data changed): tried at once, and cleared when it succeeds.
        DirtyDay.objects.create(org=self.org, day=DAY2)
        self.assertEqual(rollups_refresh(org=self.org), [DAY2])
        self.assertFalse(QuarantinedDay.objects.exists())
        self.assertEqual(Decimal(self.summary()["billed_total"]), Decimal("60"))

    def test_the_beat_fans_out_to_an_org_with_a_quarantined_day_due(self):
        from finops.tasks import rollup_dirty

        DirtyDay.objects.all().delete()
        later = timezone.now() + timedelta(hours=1)
        QuarantinedDay.objects.create(org=self.org, day=DAY2, error="x", retry_after=later)
        with mock.patch("finops.tasks.rollup_org.delay") as delay:
            self.assertEqual(rollup_dirty(), 0)
            QuarantinedDay.objects.update(retry_after=timezone.now() - timedelta(seconds=1))
            self.assertEqual(rollup_dirty(), 1)
        delay.assert_called_once_with(self.org.pk)

    @unittest.skipUnless(connection.vendor == "postgresql", "SQLite keeps decimals as floats: nothing overflows")
    def test_an_overflowing_ledger_row_is_quarantined_shown_and_cleared_by_deleting_its_upload(self):
        """A real failure, not a mock: two bill lines of 6e9 overflow the day's rollup (numeric(20, 10))."""
        rollups_refresh(org=self.org)
        line = CostLine.objects.get(org=self.org, charge_period_start__date=DAY2)
        for _ in range(2):
            line.pk, line.billed_cost_amount, line.effective_cost_amount = None, Decimal("6e9"), Decimal("6e9")
            line.save()
        DirtyDay.objects.create(org=self.org, day=DAY2)
        DirtyDay.objects.create(org=self.org, day=DAY3)
        with self.assertLogs("finops.services.rollups", "ERROR"):
            self.assertEqual(rollups_refresh(org=self.org), [DAY3])
        record = QuarantinedDay.objects.get(org=self.org)
        self.assertEqual(record.day, DAY2)
        self.assertNotIn("current transaction is aborted", record.error)
        self.assertEqual(self.api_get(f"/api/v1/founder-table/{PERIOD}").status_code, 200)
        self.assertEqual(self.client.get(f"/o/{self.org.code}/{PERIOD}").status_code, 200)

        health = self.client.get("/healthz")
        self.assertEqual(health.status_code, 200)
        self.assertEqual((health.json()["status"], health.json()["quarantined_days"]), ("degraded", 1))
        self.assertIn("quarantined", health.json()["reasons"][0])
        self.assertNotContains(health, str(self.org.code))

        page = self.client.get(f"/o/{self.org.code}/sources/")
        self.assertContains(page, "2 Oct 2026")
        self.assertContains(page, record.error[:40])
        self.assertContains(page, f"/o/{self.org.code}/sources/uploads/{self.upload.code}/delete/")
        self.client.force_login(self.bob)  # a viewer sees the day, not the delete link
        page = self.client.get(f"/o/{self.org.code}/sources/")
        self.assertContains(page, "2 Oct 2026")
        self.assertNotContains(page, f"/uploads/{self.upload.code}/delete/")
        self.client.force_login(self.charlie)
        self.assertNotContains(self.client.get(f"/o/{self.charlies_org.code}/sources/"), "could not be rolled up")

        response = self.client.delete(
            f"/api/v1/uploads/{self.upload.code}/", HTTP_AUTHORIZATION=f"Bearer {self.write_key}"
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(rollups_refresh(org=self.org), [DAY1, DAY2, DAY3])
        self.assertFalse(QuarantinedDay.objects.exists())
        self.assertEqual(self.client.get("/healthz").json()["status"], "ok")
        self.assertFalse(Decimal(self.summary()["billed_total"] or 0))  # nothing left: null (no data) or 0
