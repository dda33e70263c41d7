"""Rate limits: the client's address, counters in Django's cache, and the API's throttle per key.

A counter is one cache entry per (scope, who, window): a fixed window of the rate's period, counted with the
cache's atomic increment (Redis in production, local memory in the embedded default). Who is hashed, so no
e-mail address or token lands in the cache. Rates read `settings` at each call, so `override_settings` works.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
PERIOD_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def client_ip(request) -> str | None:
    """The client's address: the peer's, or behind `NUM_PROXIES` proxies the one the outermost proxy saw."""
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        # Each proxy appends the address it was called from; what a client sends itself sits to the left of those.
        hops = [hop.strip() for hop in forwarded.split(",")]
        return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR")


def rate_parse(rate: str) -> tuple[int, int]:
    """(requests, period in seconds) of a rate such as "600/min" or "5/hour"."""
    count, period = rate.split("/")
    return int(count), PERIOD_SECONDS[period[0]]


def rate_describe(rate: str) -> str:
    """ "600/min" as "600 per minute"."""
    count, period = rate_parse(rate)
    return f"{count} per {PERIOD_NAMES[period]}"


def _counter_key(scope: str, who: str, window: int) -> str:
    digest = hashlib.sha256(f"{scope}\0{who}".encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}:{window}"


def rate_limit_hit(scope: str, who: str, rate: str | None) -> int | None:
    """Counts one request of `who` in `scope`; the seconds until the window ends when it is over `rate`, else None."""
    if not rate:
        return None
    limit, period = rate_parse(rate)
    now = time.time()
    window = int(now // period)
    key = _counter_key(scope, who, window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window's first request
        count = 1 if cache.add(key, 1, timeout=period + 1) else cache.incr(key)
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * period - now))


def rate_limit_clear(scope: str, who: str, rate: str) -> None:
    """Forgets the current window's count of `who` in `scope`."""
    cache.delete(_counter_key(scope, who, int(time.time() // rate_parse(rate)[1])))


def password_reset_allowed(request, email: str) -> bool:
    """Counts a reset request from this address and for this e-mail; False past either limit (send nothing)."""
    by_address = rate_limit_hit("password-reset-ip", client_ip(request) or "", settings.PASSWORD_RESET_RATE_PER_IP)
    by_email = rate_limit_hit("password-reset-email", email.strip().lower(), settings.PASSWORD_RESET_RATE_PER_EMAIL)
    return by_address is None and by_email is None


def signup_wait(request) -> int | None:
    """Counts a sign-up attempt from this address; the seconds to wait when past the limit, else None."""
    return rate_limit_hit("signup-ip", client_ip(request) or "", settings.SIGNUP_RATE_PER_IP)


class ApiRateThrottle(BaseThrottle):
    """The API's rate limit: per API key or agent token, per user for session calls, per address otherwise.

    The scope is the view's `throttle_scope` (budget-check), else `agent` for agent tokens, else `read` or
    `write` by method; without a user, `anon`. Rates: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]. Past the limit it
    raises 429 itself, so the body names the limit and who it counts (DRF adds `Retry-After`).
    """

    def allow_request(self, request, view):
        scope, who, holder = self.scope_for(request, view)
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        wait = rate_limit_hit(f"api-{scope}", who, rate)
        if wait is None:
            return True
        raise exceptions.Throttled(
            wait=wait, detail=f"Too many requests for {holder}: the {scope} limit is {rate_describe(rate)}."
        )

    def scope_for(self, request, view) -> tuple[str, str, str]:
        """(scope, who is counted, how the message names them)."""
        from accounts.models import AgentToken, ApiKey  # DRF loads this class while accounts.models imports

        token, user = request.auth, request.user
        if isinstance(token, AgentToken):
            return "agent", f"agent:{token.code}", "this agent token"
        if isinstance(token, ApiKey):
            who, holder = f"key:{token.code}", "this API key"
        elif user is not None and user.is_authenticated:
            who, holder = f"user:{user.pk}", "your account"
        else:
            return "anon", f"ip:{client_ip(request)}", "your address"
        scope = getattr(view, "throttle_scope", None) or ("read" if request.method in SAFE_METHODS else "write")
        return scope, who, holder
