"""What every connector asks of a remote address: may this server call it, and how long it asks us to wait."""

import email.utils
import ipaddress
import time
from datetime import UTC
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

from django.conf import settings

from ingest.connectors.base import ConnectorError


def endpoint_problem(url: str) -> ConnectorError | None:
    """Why this server should not call `url`, or None: not http(s), or (unless CONNECTOR_PRIVATE_ENDPOINTS) a
    loopback, private or link-local address or localhost, which would let a member probe the server's own network
    (a cloud's metadata service, the database). A name that resolves to such an address is not caught here."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return ConnectorError(
            f"{url!r} is not an endpoint URL.", "Enter it whole, e.g. https://<account>.r2.cloudflarestorage.com"
        )
    if settings.CONNECTOR_PRIVATE_ENDPOINTS:
        return None
    host = parsed.hostname.lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        internal = host == "localhost" or host.endswith((".localhost", ".internal"))
    else:
        internal = not address.is_global
    if internal:
        return ConnectorError(
            f"The endpoint {parsed.hostname} is on a private network.",
            "Use the storage's public endpoint; a self-hosted server's operator can allow private ones with "
            "CONNECTOR_PRIVATE_ENDPOINTS=true.",
        )
    return None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait (never negative): a number of seconds or an HTTP date; None when absent or
    unreadable (the caller backs off on its own)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(Decimal(value)))
    except (InvalidOperation, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
