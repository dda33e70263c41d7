"""Sign-in lockout through django-axes: after `AXES_FAILURE_LIMIT` failures the account, and separately the
address, may not sign in for `AXES_COOLOFF_TIME`. The settings name the pieces below."""

import math
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from axes.conf import settings
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils import timezone

from accounts.forms import LoginForm


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses to authenticate while the account or the address is locked out (it never signs anyone in).

    `authenticate()` without a request (the test client's `login()`, a shell) has no address to judge and is left
    to the next backend, where axes' own backend would raise; every sign-in over HTTP passes its request."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginAttemptHandler(AxesDatabaseHandler):
    """axes' database handler, except that a successful sign-in clears only that account's failures: clearing the
    address's as well would let anyone with an account wipe the count between guesses at someone else's."""

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def login_username(request, credentials=None) -> str | None:
    """The e-mail a sign-in names, as stored (lower case), so that Alice@ and alice@ count as one account."""
    raw = (credentials or {}).get("username")
    if raw is None and request is not None and request.method == "POST":
        raw = request.POST.get("username")
    return raw.strip().lower() if raw else None


def lockout_ends(request, credentials=None):
    """When the lockout that refused this request ends: the cool-off after the latest failure it counts."""
    now = timezone.now()
    latest = None
    for attempts in AxesProxyHandler.get_implementation().get_user_attempts(request, credentials):
        totals = attempts.aggregate(failures=Sum("failures_since_start"), latest=Max("attempt_time"))
        if (totals["failures"] or 0) >= settings.AXES_FAILURE_LIMIT:
            latest = max(latest or totals["latest"], totals["latest"])
    return (latest or now) + (settings.AXES_COOLOFF_TIME or timedelta(0))


def lockout_response(request, original_response=None, credentials=None):
    """The login page again (429), saying when to try again, instead of a bare error page."""
    ends = max(lockout_ends(request, credentials), timezone.now())
    seconds = math.ceil((ends - timezone.now()).total_seconds())
    minutes = max(1, math.ceil(seconds / 60))
    message = (
        f"Too many failed log-in attempts for this account or from your network. Try again in {minutes} "
        f"minute{'s' if minutes != 1 else ''} (after {ends:%H:%M} UTC), or reset your password."
    )
    form = LoginForm(request, initial={"username": login_username(request, credentials) or ""})
    context = {"form": form, "lockout": message, "next": request.POST.get("next", "")}
    response = render(request, "accounts/login.html", context, status=429)
    response["Retry-After"] = str(max(1, seconds))
    return response
