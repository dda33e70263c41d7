"""Celery wiring: time limits, one queue per kind of work, the beat schedule naming real tasks."""

from django.conf import settings
from django.test import SimpleTestCase

from finops.celery import app


class CeleryConfigTests(SimpleTestCase):
    def route(self, name):
        return app.amqp.router.route({}, name)["queue"].name

    def test_it_routes_work_to_separate_queues(self):
        self.assertEqual(self.route("accounts.tasks.send_invitation_email"), "email")
        self.assertEqual(self.route("ingest.tasks.upload_import"), "ingest")
        self.assertEqual(self.route("finops.tasks.rollup_days"), "rollup")
        self.assertEqual(self.route("accounts.tasks.invitations_purge"), "default")

    def test_it_limits_task_time_and_acks_late(self):
        self.assertLess(app.conf.task_soft_time_limit, app.conf.task_time_limit)
        self.assertTrue(app.conf.task_acks_late)

    def test_it_schedules_only_registered_tasks(self):
        app.loader.import_default_modules()
        for entry in settings.CELERY_BEAT_SCHEDULE.values():
            self.assertIn(entry["task"], app.tasks)
