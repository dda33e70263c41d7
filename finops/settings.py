"""One settings module; every deploy difference comes from the environment.

No environment at all is the embedded default: SQLite, Celery tasks run eagerly
in-process, e-mail printed to the console, DEBUG on. `DATABASE_URL` switches to
PostgreSQL (DEBUG off unless asked for); adding `REDIS_URL` sends tasks to real
workers and uses Redis as the cache. The variables are listed in `.env.example`.
"""

import importlib.util
import os
import re
from datetime import date, timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from finops.storage_url import default_storage_config

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")

DEBUG = env.bool("DEBUG", default=not DATABASE_URL)
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "accounts",
    "ingest",
    "pricing",
    "finops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "finops.urls"
WSGI_APPLICATION = "finops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_org",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url_config(DATABASE_URL)
    if DATABASE_URL
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if DATABASE_URL else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # The Founder Table groups a week of rollup rows in one query: with room to hash (instead of sorting on disk)
    # and no JIT start-up, it takes less than half the time. Both are per-session settings of our own connections.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = env.str(
        "DATABASE_SESSION_OPTIONS", default="-c work_mem=32MB -c jit=off"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts-login"
LOGIN_REDIRECT_URL = "finops-home"
LOGOUT_REDIRECT_URL = "accounts-login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
INVITATION_LIFETIME_DAYS = env.int("INVITATION_LIFETIME_DAYS", default=7)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# plotly.js comes from the plotly package itself (no CDN), served as static/plotly/plotly.min.js.
PLOTLY_JS_DIR = Path(importlib.util.find_spec("plotly").origin).parent / "package_data"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "finops.static_finders.PlotlyFinder",
]
STORAGES = {
    # Uploads: the local disk (MEDIA_ROOT), or an S3-compatible bucket with STORAGE_URL (finops/storage_url.py).
    "default": default_storage_config(env.str("STORAGE_URL", default=""), os.environ),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# collectstatic writes each file under its content-hashed name, gzip and Brotli copies beside it, and keeps only those:
# pages link the hashed names, which whitenoise serves compressed and cacheable for years (a new build, a new name).
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Days an upload's source file is kept once its import has finished; then it is deleted (its rows, their source row
# numbers and the upload's totals stay). 0 keeps files for ever.
SOURCE_FILE_RETENTION_DAYS = env.int("SOURCE_FILE_RETENTION_DAYS", default=400)
if SOURCE_FILE_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("SOURCE_FILE_RETENTION_DAYS must be 0 (keep for ever) or a number of days.")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="GPU FinOps <finops@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# How long an allowed budget check holds its estimate on the budgets, unless released sooner.
BUDGET_RESERVATION_MINUTES = env.int("BUDGET_RESERVATION_MINUTES", default=60)

# Production safety: everything below is on whenever DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every response (django-csp): scripts only from our own static files (the pages have no
# inline script, no on* handler; figures travel as json_script data), nothing framed, no plugins, forms post home.
# Styles also allow 'unsafe-inline': plotly.js inserts <style> elements when it loads (its own and maplibre's rules)
# and sets style attributes while it draws, and the templates use style attributes; with img-src and font-src
# limited to this origin, injected CSS has nowhere to send what it reads.
INSTALLED_APPS += ["csp"]
MIDDLEWARE += ["csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # drf-spectacular's, declaring the 4xx responses every endpoint gives (accounts/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "accounts.openapi.AutoSchema",
    # Too-deep JSON is a 400 like any malformed body (accounts/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "accounts.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # A lone surrogate echoed from a request is sent escaped, not a 500 (accounts/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["accounts.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GPU FinOps Founder Table API",
    "DESCRIPTION": "Per-tenant API: push usage events and agent samples, upload bills, "
    "read every number the dashboard shows. Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Sign-in lockout (django-axes, attempts kept in the database) and rate limits (counters in the cache).
# AxesMiddleware comes last: it turns a lockout into the login page saying when to try again.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = ["accounts.lockout.LoginLockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "accounts.lockout.LoginAttemptHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: the account, or the address
AXES_RESET_ON_SUCCESS = True  # only the account's own failures (accounts.lockout.LoginAttemptHandler)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the time the page names stays true
AXES_USERNAME_CALLABLE = "accounts.lockout.login_username"
AXES_CLIENT_IP_CALLABLE = "accounts.throttles.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password"]
# Proxies in front of the app that append to X-Forwarded-For (a load balancer: 1). 0: the peer's address counts.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)


def _rate(name, default):
    """A rate limit from the environment, "<count>/<second|minute|hour|day>"; empty switches it off."""
    value = env.str(name, default=default).strip()
    if value and not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name} must look like 600/min or 5/hour, not {value!r}.")
    return value or None


PASSWORD_RESET_RATE_PER_EMAIL = _rate("PASSWORD_RESET_RATE_PER_EMAIL", "5/hour")
PASSWORD_RESET_RATE_PER_IP = _rate("PASSWORD_RESET_RATE_PER_IP", "20/hour")
SIGNUP_RATE_PER_IP = _rate("SIGNUP_RATE_PER_IP", "10/hour")
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["accounts.throttles.ApiRateThrottle"]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "read": _rate("API_RATE_READ", "1200/min"),  # per API key, or per user for session calls
    "write": _rate("API_RATE_WRITE", "300/min"),
    "budget-check": _rate("API_RATE_BUDGET_CHECK", "6000/min"),  # checks and releases, per key
    "agent": _rate("API_RATE_AGENT", "120/min"),  # per agent token: a batch a minute, and a backlog after an outage
    "anon": _rate("API_RATE_ANON", "60/min"),  # per address: no token, or a wrong one
}

# Celery: eager in-process without REDIS_URL, real workers with it.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=15 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=20 * 60)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "ingest.tasks.*": {"queue": "ingest"},
    "finops.tasks.rollup_*": {"queue": "rollup"},
    "*.tasks.send_*": {"queue": "email"},
}
CELERY_BEAT_SCHEDULE = {
    "finops-rollup-dirty": {
        "task": "finops.tasks.rollup_dirty",
        "schedule": 60,
    },
    "pricing-stripe-sync": {
        "task": "pricing.tasks.stripe_sync_all",
        "schedule": env.int("STRIPE_SYNC_INTERVAL_SECONDS", default=60 * 60),
    },
    "finops-budget-reservations-purge": {
        "task": "finops.tasks.budget_reservations_purge",
        "schedule": 60 * 60,
    },
    "finops-digests-due": {  # on the hour: the digest goes out at 08:00 each organisation's Monday
        "task": "finops.tasks.digests_due",
        "schedule": crontab(minute=0),
    },
    "accounts-invitations-purge": {
        "task": "accounts.tasks.invitations_purge",
        "schedule": 60 * 60 * 24,
    },
    "ingest-connectors-due": {  # each connector runs daily at its hour (UTC); this hands out the due ones
        "task": "ingest.tasks.connectors_due",
        "schedule": 15 * 60,
    },
    "ingest-upload-files-expire": {  # daily: source files past SOURCE_FILE_RETENTION_DAYS
        "task": "ingest.tasks.upload_files_expire",
        "schedule": crontab(minute=30, hour=3),
    },
}
CELERY_TIMEZONE = "UTC"
# Connectors may call endpoints on loopback or private addresses (a self-hosted MinIO beside the server): off by
# default, so a member cannot point a connector at the server's own network.
CONNECTOR_PRIVATE_ENDPOINTS = env.bool("CONNECTOR_PRIVATE_ENDPOINTS", default=False)
# GET /healthz answers "degraded" (still 200) past either limit: a queue holding more messages than this, or a
# dirty day waiting longer than this for its rollup (the beat fans the rollups out every minute).
HEALTH_QUEUE_DEPTH_LIMIT = env.int("HEALTH_QUEUE_DEPTH_LIMIT", default=1000)
HEALTH_DIRTY_DAY_AGE_LIMIT_SECONDS = env.int("HEALTH_DIRTY_DAY_AGE_LIMIT_SECONDS", default=15 * 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Stripe: a restricted read-only key and webhook secret for single-tenant installs (orgs store their own),
# and an alternative API base so tests can point the official client at a local Stripe-shaped server.
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")

# Ingest limits: an upload above these is refused with a clear error naming the limit (and the row where known).
# They keep one hostile file from taking the worker every tenant shares (ingest/readers.py): sizes are counted
# while the file streams, so a refusal comes as soon as the limit is passed, never after reading the file whole.
INGEST_MAX_UPLOAD_BYTES = env.int("INGEST_MAX_UPLOAD_BYTES", default=2 * 2**30)
# Decompressed bytes of a gzip or zip upload, and the ratio of decompressed to compressed bytes (checked once
# INGEST_RATIO_CHECK_BYTES have come out; a zip member's declared sizes are checked before reading).
INGEST_MAX_DECOMPRESSED_BYTES = env.int("INGEST_MAX_DECOMPRESSED_BYTES", default=2 * 2**30)
INGEST_MAX_COMPRESSION_RATIO = env.int("INGEST_MAX_COMPRESSION_RATIO", default=100)
INGEST_RATIO_CHECK_BYTES = env.int("INGEST_RATIO_CHECK_BYTES", default=16 * 2**20)
# One row: a CSV record (all its lines), a JSON line, an item of a JSON document's array. One CSV value.
INGEST_MAX_ROW_BYTES = env.int("INGEST_MAX_ROW_BYTES", default=2**20)
INGEST_MAX_FIELD_BYTES = env.int("INGEST_MAX_FIELD_BYTES", default=256 * 2**10)
INGEST_MAX_ROWS = env.int("INGEST_MAX_ROWS", default=20_000_000)
INGEST_MAX_JSON_DEPTH = env.int("INGEST_MAX_JSON_DEPTH", default=64)
if not (
    2**10 <= INGEST_MAX_FIELD_BYTES <= INGEST_MAX_ROW_BYTES <= 2**30
    and INGEST_MAX_ROWS >= 1
    and 2 <= INGEST_MAX_JSON_DEPTH <= 500
    and INGEST_MAX_COMPRESSION_RATIO >= 2
):
    raise ImproperlyConfigured(
        "Ingest limits: need 1 KiB <= INGEST_MAX_FIELD_BYTES <= INGEST_MAX_ROW_BYTES <= 1 GiB, INGEST_MAX_ROWS >= 1, "
        "INGEST_MAX_JSON_DEPTH 2 to 500, INGEST_MAX_COMPRESSION_RATIO >= 2."
    )
INGEST_MAX_ERRORS = 100

# The time window every ingested moment must lie in (ingest/limits.py): from INGEST_EARLIEST (an ISO date) to
# INGEST_FUTURE_DAYS after now. A row outside it is refused with its row and column.
try:
    INGEST_EARLIEST = date.fromisoformat(env.str("INGEST_EARLIEST", default="2000-01-01"))
except ValueError as _exc:
    raise ImproperlyConfigured("INGEST_EARLIEST must be an ISO date such as 2000-01-01.") from _exc
INGEST_FUTURE_DAYS = env.int("INGEST_FUTURE_DAYS", default=30)
if not 1900 <= INGEST_EARLIEST.year <= 2100 or not 0 <= INGEST_FUTURE_DAYS <= 3660:
    raise ImproperlyConfigured("INGEST_EARLIEST must be a date from 1900 to 2100, INGEST_FUTURE_DAYS 0 to 3660.")
# Prices usage events without a reported cost. It lives in the pricing app, above ingest, so ingest
# reaches it through this setting instead of an import.
USAGE_PRICER = "pricing.services.repricing.usage_price"
# Prices the columnar usage path's Arrow tables before the COPY, so the ledger receives final rows.
USAGE_TABLE_PRICER = "pricing.arrow_pricing.usage_table_pricer"
# Imports kind=revenue uploads (Stripe dashboard exports) into the pricing app's Stripe mirrors.
REVENUE_IMPORTER = "pricing.services.stripe_csv.revenue_file_import"
# Deletes the Stripe objects a revenue upload last wrote when the upload is deleted (ingest.services.deletions).
REVENUE_DELETER = "pricing.services.stripe_csv.revenue_upload_delete"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20
