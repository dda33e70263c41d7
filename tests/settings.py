"""Test settings: the real settings, with what only tests need layered on top.

PostgreSQL and Redis are used whenever `DATABASE_URL` / `REDIS_URL` are set (CI sets both);
tasks still run eagerly so a test sees their effect.
"""

import os
import re

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
# Under pytest-xdist each worker process (gw0, gw1, ...) has a database of its own (pytest-django) and takes a Redis
# database of its own, so a Celery worker one of them starts cannot take another's tasks.
if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("REDIS_URL"):
    _index = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw")) % 15 + 1
    os.environ["REDIS_URL"] = re.sub(r"(/\d*)?$", f"/{_index}", os.environ["REDIS_URL"].rstrip("/"), count=1)

from finops.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = REDIS_URL or "memory://"  # noqa: F405
STATIC_ROOT = None  # tests serve static files from the finders; nothing is collected
WHITENOISE_USE_FINDERS = True
# Each run of the suite counts in keys of its own (a worker process the tests start inherits the prefix), so
# rate-limit counters left in Redis by an earlier run within the hour cannot refuse this run's sign-ups or calls.
os.environ.setdefault("TEST_CACHE_KEY_PREFIX", f"test-{os.getpid()}-{os.urandom(4).hex()}")
CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": os.environ["TEST_CACHE_KEY_PREFIX"]}}  # noqa: F405
