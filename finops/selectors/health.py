from django.conf import settings
from django.db import connection

from finops.selectors.rollups import last_rollup_at


def health_status() -> tuple[dict, bool]:
    """The health document of INTERFACES.md and whether the database answered."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        database = "down"
    broker = "eager" if settings.CELERY_TASK_ALWAYS_EAGER else _redis_ping(settings.CELERY_BROKER_URL)
    last = last_rollup_at() if database == "ok" else None
    return {"database": database, "broker": broker, "last_rollup_at": last}, database == "ok"


def _redis_ping(url: str) -> str:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return "ok" if client.ping() else "down"
    except redis.RedisError:
        return "down"
