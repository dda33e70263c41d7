"""The three settings modes of INTERFACES.md, each loaded in a fresh interpreter with only its variables."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[2]
OURS = (
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "EMAIL_URL",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)
PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "debug": settings.DEBUG,
    "email": settings.EMAIL_BACKEND,
    "secure_cookies": settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE,
}))
"""
PRODUCTION = {
    "DATABASE_URL": "postgres://finops@db.internal:5432/finops",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "Zq8#fL2!vR9@kT4$wX7%bN1^mC6&hJ3*pD5(sG0)yA8-uE2+iO7=",
    "ALLOWED_HOSTS": "finops.example.com",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def python(args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in OURS}
    clean["DJANGO_SETTINGS_MODULE"] = "finops.settings"
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True)


def settings_with(**env) -> dict:
    result = python(["-c", "import django; django.setup()\n" + PROBE], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class SettingsModesTests(SimpleTestCase):
    def test_it_runs_embedded_with_no_environment(self):
        loaded = settings_with()
        self.assertEqual(loaded["engine"], "django.db.backends.sqlite3")
        self.assertTrue(loaded["eager"])
        self.assertTrue(loaded["debug"])
        self.assertEqual(loaded["email"], "django.core.mail.backends.console.EmailBackend")
        self.assertEqual(loaded["cache"], "django.core.cache.backends.locmem.LocMemCache")

    def test_it_uses_postgresql_with_eager_tasks_for_database_url_alone(self):
        loaded = settings_with(DATABASE_URL="postgres://u@127.0.0.1:5432/x", SECRET_KEY="k" * 60)
        self.assertEqual(loaded["engine"], "django.db.backends.postgresql")
        self.assertTrue(loaded["eager"])
        self.assertFalse(loaded["debug"])
        self.assertTrue(loaded["secure_cookies"])

    def test_it_uses_workers_and_redis_with_both(self):
        loaded = settings_with(**PRODUCTION)
        self.assertEqual(loaded["engine"], "django.db.backends.postgresql")
        self.assertFalse(loaded["eager"])
        self.assertEqual(loaded["broker"], PRODUCTION["REDIS_URL"])
        self.assertEqual(loaded["cache"], "django.core.cache.backends.redis.RedisCache")
        self.assertEqual(loaded["email"], "django.core.mail.backends.smtp.EmailBackend")

    def test_it_refuses_the_development_key_without_debug(self):
        result = python(["-c", "import django; django.setup()"], DATABASE_URL="postgres://u@127.0.0.1/x")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SECRET_KEY must be set", result.stderr)

    def test_it_passes_check_deploy_under_production_variables(self):
        result = python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("no issues", result.stdout)
