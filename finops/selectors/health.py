"""The health document of GET /healthz: cheap enough for a load balancer to ask every few seconds (two small
queries, one Redis round trip with a one-second timeout), detailed enough for an operator, and naming no
organisation."""

from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.utils import timezone

from finops.selectors.ledger import last_rollup_at
from ingest.models import DirtyDay, QuarantinedDay
from ingest.selectors import connector_status_counts

# Kombu's Redis transport keeps a queue as one list per priority step: `name`, then `name\x06\x163`, `...6`, `...9`.
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def health_status() -> dict:
    """Each dependency's state, the Celery queues' depth, the oldest dirty day's age, the quarantined days' count
    and the overall status: "down" (the database, the broker or Redis does not answer), "degraded" (work is piling
    up, or a day's rollup failed) or "ok", with the reasons for anything but ok."""
    database = _database_state()
    pings = {}  # REDIS_URL is usually the broker too: ask each server once
    broker, queues = "eager", None
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        broker, queues = _broker_state(settings.CELERY_BROKER_URL, pings)
    redis = _redis_state(settings.REDIS_URL, pings) if settings.REDIS_URL else "embedded"
    oldest, quarantined = _rollup_backlog() if database == "ok" else (None, None)
    age = None if oldest is None else max(0, int((timezone.now() - oldest).total_seconds()))
    body = {
        "status": "ok",
        "reasons": [],
        "database": database,
        "broker": broker,
        "redis": redis,
        "queues": queues,
        "oldest_dirty_day_age_seconds": age,
        "quarantined_days": quarantined,
        "last_rollup_at": last_rollup_at() if database == "ok" else None,
        # Connectors of every organisation by their last run: failed ones are the organisations' to fix (their
        # connector pages say how), so they do not degrade the service's status.
        "connectors": connector_status_counts() if database == "ok" else None,
    }
    down = [f"{name} unreachable" for name, state in (("database", database), ("broker", broker), ("redis", redis))
            if state == "down"]  # fmt: skip
    degraded = [
        f"queue {name}: {depth} messages waiting (limit {settings.HEALTH_QUEUE_DEPTH_LIMIT})"
        for name, depth in (queues or {}).items()
        if depth > settings.HEALTH_QUEUE_DEPTH_LIMIT
    ]
    # Embedded (eager tasks, no beat), a page recomputes its org's dirty days when it is read: an old one is normal.
    if age is not None and not settings.CELERY_TASK_ALWAYS_EAGER and age > settings.HEALTH_DIRTY_DAY_AGE_LIMIT_SECONDS:
        degraded.append(
            f"a dirty day has waited {age} s for its rollup (limit {settings.HEALTH_DIRTY_DAY_AGE_LIMIT_SECONDS} s)"
        )
    if quarantined:
        degraded.append(
            f"{quarantined} day{'s' if quarantined > 1 else ''} quarantined: a rollup failed and the day keeps its "
            "last rollup until its data is fixed (the organisation's Sources page names the day and the error)"
        )
    body["reasons"] = down + degraded
    body["status"] = "down" if down else "degraded" if degraded else "ok"
    return body


def health_queue_names() -> list[str]:
    """The default queue and every queue a task route names, in that order, each once."""
    routes = settings.CELERY_TASK_ROUTES or {}
    routes = routes if isinstance(routes, list | tuple) else [routes]
    names = [settings.CELERY_TASK_DEFAULT_QUEUE]
    for table in routes:
        for route in table.values() if isinstance(table, dict) else []:
            if isinstance(route, dict) and route.get("queue"):
                names.append(route["queue"])
    return list(dict.fromkeys(names))


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        return "down"


def _rollup_backlog():
    """When the day waiting longest for its rollup was marked (None when none waits) and how many days are
    quarantined, over every organisation."""
    oldest = DirtyDay.objects.aggregate(oldest=Min("marked_at"))["oldest"]
    return oldest, QuarantinedDay.objects.count()


def _redis_state(url: str, pings: dict) -> str:
    if url not in pings:
        pings[url] = _redis_client(url)
    return "down" if pings[url] is None else "ok"


def _broker_state(url: str, pings: dict) -> tuple[str, dict | None]:
    """The broker's state and, for a Redis broker that answers, each queue's waiting messages."""
    state = _redis_state(url, pings)
    client = pings[url]
    if client is None:
        return state, None
    import redis

    prefix = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("global_keyprefix", "")
    names = health_queue_names()
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                for step in KOMBU_PRIORITY_STEPS:
                    pipe.llen(f"{prefix}{name}{KOMBU_PRIORITY_SEPARATOR}{step}" if step else f"{prefix}{name}")
            lengths = pipe.execute()
    except redis.RedisError:
        pings[url] = None
        return "down", None
    steps = len(KOMBU_PRIORITY_STEPS)
    return state, {name: sum(lengths[i * steps : (i + 1) * steps]) for i, name in enumerate(names)}


def _redis_client(url: str):
    """A client of the Redis at `url` that answered a ping within a second, or None."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return client if client.ping() else None
    except (redis.RedisError, ValueError):
        return None
