"""What the OpenAI and Anthropic admin connectors share: their report APIs read month by month.

Both providers answer an admin key with pages of daily buckets (`{"data": [bucket, ...], "has_more",
"next_page"}`) for a usage report and a cost report. A connector pulls, per report, one file per calendar
month from the month `lookback_days` ago to this one: the whole month each time, so the cost report's file
replaces its billing period whole (ingest/services/bills.py) and the usage report's file its span
(ingest/services/usage.py), and a day the provider restated within the lookback is read again and replaces
the old numbers. A file's version is the hash of its buckets: an unchanged month is not imported again. The
reports name no organisation, so an organisation id set on the connector is written into every result: the cost
lines' account and the usage rows' replacement scope, so two organisations of one provider stay apart.

The client (`ReportClient`) follows the cursor to the last page (at most MAX_PAGES), waits out 429 and 5xx
answers (Retry-After in seconds or as an HTTP date, else exponential backoff with jitter) within a wait budget,
and turns every other failure into a ConnectorError that says what to do. Only the standard library: the
request is one GET with a header.
"""

import hashlib
import json
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, ClassVar

from django.conf import settings

from ingest.connectors.base import ConnectorError, ConnectorSource, Field, RemoteFile
from ingest.connectors.remote import endpoint_problem, retry_after_seconds

MAX_PAGES = 50  # per report and month: a month of daily buckets is one page unless the grouping is huge
MAX_TRIES = 8  # per request, 429s and 5xx included
RETRIED = {429: "rate limited", 500: "server error", 502: "bad gateway", 503: "unavailable", 504: "timeout"}
RETRIED[529] = "overloaded"
BACKOFF_FIRST, BACKOFF_MOST = 1.0, 20.0  # seconds: the first wait without Retry-After, and the longest
TIMEOUT = 60
MAX_BODY = 32 << 20
DEFAULT_LOOKBACK_DAYS, MOST_LOOKBACK_DAYS = 35, 400
DEFAULT_WAIT_BUDGET, MOST_WAIT_BUDGET = 60, 600
USER_AGENT = "gpu-finops-connector/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error here: the admin key is not sent to wherever the answer points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def dumps_exact(value) -> bytes:
    """JSON of a value parsed with parse_float=Decimal, each Decimal written back as the number it was read as."""
    marker = f"\x00{uuid.uuid4().hex}:"

    def decimal(item):
        if isinstance(item, Decimal):
            return marker + str(item)
        raise TypeError(f"{type(item).__name__} is not JSON")

    text = json.dumps(value, default=decimal, ensure_ascii=False, separators=(",", ":"))
    escaped = json.dumps(marker)[1:-1]  # the marker as it reads inside a JSON string
    return re.sub(f'"{re.escape(escaped)}([^"]*)"', r"\1", text).encode()


def canonical_hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


class ReportClient:
    """GETs JSON from one provider's API with one set of headers, within one wait budget for all its requests."""

    def __init__(self, *, provider: str, base_url: str, headers: Mapping[str, str], key_fix: str, wait_budget: float):
        self.provider, self.base_url, self.key_fix = provider, base_url.rstrip("/"), key_fix
        self.headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **headers}
        self.wait_budget, self.waited = wait_budget, 0.0
        self.requests = 0
        self._opener = urllib.request.build_opener(_NoRedirect)

    def get(self, path: str, params: list[tuple[str, str]]) -> dict:
        """The JSON object the API answers GET path?params with (numbers with a fraction as Decimal)."""
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        tries = 0
        while True:
            tries += 1
            self.requests += 1
            request = urllib.request.Request(url, headers=self.headers, method="GET")  # noqa: S310 - scheme checked
            try:
                with self._opener.open(request, timeout=TIMEOUT) as response:
                    body = response.read(MAX_BODY + 1)
            except urllib.error.HTTPError as exc:
                with exc:
                    status, headers, body = exc.code, exc.headers, exc.read(64 << 10)
                if status in RETRIED:
                    self._wait(status, headers.get("Retry-After"), tries, path)
                    continue
                raise self._refused(status, body, path) from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise ConnectorError(
                    f"Could not reach {self.provider} at {self.base_url}: {reason}.",
                    "Check the base URL (leave it empty for the provider's own) and that this server can reach it; "
                    "then run again.",
                ) from None
            return self._json(body, path)

    def _wait(self, status: int, retry_after: str | None, tries: int, path: str) -> None:
        wait = retry_after_seconds(retry_after)
        if wait is None:
            first = min(BACKOFF_FIRST, self.wait_budget / 20)  # a short budget backs off in short steps
            wait = min(BACKOFF_MOST, first * 2 ** (tries - 1)) * random.uniform(0.5, 1.0)  # noqa: S311
        if tries >= MAX_TRIES or self.waited + wait > self.wait_budget:
            raise ConnectorError(
                f"{self.provider} kept answering {status} ({RETRIED[status]}) to GET {path}: {tries} tries, "
                f"{self.waited:.0f} s waited; nothing was imported.",
                f"Try again later (Run now, or wait for the next daily run). {self.provider}'s rate limits are per "
                "organisation: if other tools read its usage too, run this connector at another hour.",
            )
        self.waited += wait
        time.sleep(wait)

    def _refused(self, status: int, body: bytes, path: str) -> ConnectorError:
        said = _api_message(body)
        said = f": {said}" if said else ""
        if status in (401, 403):
            return ConnectorError(f"{self.provider} refused the admin key (HTTP {status}{said}).", self.key_fix)
        if status == 404:
            return ConnectorError(
                f"{self.provider} has no {path} at {self.base_url} (HTTP 404{said}).",
                "Leave the base URL empty to use the provider's own API, or correct it.",
            )
        if 300 <= status < 400:
            return ConnectorError(
                f"{self.provider} answered GET {path} with a redirect (HTTP {status}); the key is not sent on.",
                "Set the base URL to the address the API answers at (leave it empty for the provider's own).",
            )
        return ConnectorError(
            f"{self.provider} refused GET {path} (HTTP {status}{said}).",
            "Check the connector's settings (project ids, lookback); if they are right, try again later.",
        )

    def _json(self, body: bytes, path: str) -> dict:
        if len(body) > MAX_BODY:
            raise ConnectorError(
                f"{self.provider}'s answer to GET {path} is over {MAX_BODY >> 20} MiB.",
                "Group the report by fewer fields or shorten the lookback.",
            )
        try:
            value = json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            shown = body[:60].decode("utf-8", "replace").strip()
            raise ConnectorError(
                f"{self.provider} answered GET {path} with something that is not JSON ({shown!r}…); nothing was "
                "imported.",
                "This is usually a proxy or an outage page: check the base URL, then run again later.",
            ) from None
        if not isinstance(value, dict):
            raise self.malformed(path, f"a JSON {type(value).__name__} instead of an object")
        return value

    def malformed(self, path: str, what: str) -> ConnectorError:
        return ConnectorError(
            f"{self.provider} answered GET {path} with {what}; nothing was imported.",
            f"Run again later; if it persists, {self.provider}'s API has changed shape: tell us, with this message.",
        )


def _api_message(body: bytes) -> str:
    """The error message of an API's error body ({"error": {"message"}}), at most 200 characters."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return ""
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or "").strip()[:200]


@dataclass(frozen=True)
class Report:
    """One report endpoint: how its files are named and imported, and how its query is spelled."""

    name: str  # "usage" or "costs": the first part of the file's key
    title: str  # "completions usage"
    path: str
    kind: str  # Upload.Kind: "usage" or "bill"
    source: str  # the ingest source that parses it (requested_format)
    group_by: tuple[str, ...]


_ORGANIZATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(moment: datetime) -> datetime:
    return month_start(month_start(moment) + timedelta(days=32))


class AdminReportSource(ConnectorSource):
    """A provider's admin API, read as its usage report and its cost report per calendar month."""

    pulls = "usage"  # and bills: RemoteFile.kind says which
    provider: ClassVar[str]
    default_base_url: ClassVar[str]
    reports: ClassVar[tuple[Report, ...]]
    start_key: ClassVar[str]  # a bucket's start: "start_time" or "starting_at"
    key_prefix: ClassVar[str]  # what an admin key starts with
    key_fix: ClassVar[str]  # what to do when the key is refused

    common_fields = (
        Field(
            "organization_id",
            "Organisation id (optional)",
            "Set it when you connect more than one organisation of this provider here (its org-… or organisation id):"
            " each one's costs and usage then stay apart. Empty, the lines' account is the provider's name, as for an "
            "uploaded report.",
            required=False,
        ),
        Field(
            "lookback_days",
            "Days to read again",
            f"Each run reads the calendar months that hold the last this many days (default {DEFAULT_LOOKBACK_DAYS}),"
            " so a day the provider restates is replaced. Set it higher once to load older months.",
            required=False,
            default=str(DEFAULT_LOOKBACK_DAYS),
        ),
        Field(
            "base_url",
            "Base URL",
            "Leave empty for the provider's own API; set it only for a proxy that forwards to it.",
            required=False,
        ),
        Field(
            "wait_budget_seconds",
            "Longest wait when rate limited (seconds)",
            f"How long a run may wait in all for the API's rate limits before it stops (default "
            f"{DEFAULT_WAIT_BUDGET}).",
            required=False,
            default=str(DEFAULT_WAIT_BUDGET),
        ),
    )

    def __init__(self, config, secrets, **context):
        super().__init__(config, secrets, **context)
        self._bodies: dict[str, bytes] = {}
        self._client: ReportClient | None = None

    # -- settings ---------------------------------------------------------------------------------------------

    def _setting_number(self, name: str, default: int, most: int, what: str) -> Decimal:
        raw = str(self.config.get(name) or "").strip() or str(default)
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal(-1)
        if not value.is_finite() or value < 0 or value > most:
            raise ConnectorError(f"{what} must be a number from 0 to {most}, not {raw[:20]!r}.", "Edit the connector.")
        return value

    def lookback_days(self) -> int:
        days = self._setting_number("lookback_days", DEFAULT_LOOKBACK_DAYS, MOST_LOOKBACK_DAYS, "Days to read again")
        if days != days.to_integral_value() or days < 1:
            raise ConnectorError(
                f"Days to read again must be a whole number from 1 to {MOST_LOOKBACK_DAYS}.", "Edit the connector."
            )
        return int(days)

    def base_url(self) -> str:
        url = str(self.config.get("base_url") or "").strip() or self.default_base_url
        parts = urllib.parse.urlsplit(url)
        # The admin key travels in a header: over https only, except to a private endpoint an operator allowed.
        schemes = ("https", "http") if settings.CONNECTOR_PRIVATE_ENDPOINTS else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise ConnectorError(
                f"The base URL {url[:100]!r} is not an https:// address.",
                f"Leave it empty to use {self.default_base_url}, or give the https:// address of your proxy.",
            )
        if parts.query or parts.fragment:
            raise ConnectorError("The base URL must not carry a query or fragment.", "Edit the connector.")
        problem = endpoint_problem(url)  # not the server's own network (a metadata service, the database)
        if problem is not None:
            raise problem
        return url.rstrip("/")

    def admin_key(self) -> str:
        key = str(self.secrets.get("admin_key") or "").strip()
        if not key:
            raise ConnectorError(f"No {self.provider} admin key is saved.", self.key_fix)
        return key

    def wait_budget(self) -> float:
        what = "Longest wait when rate limited"
        return float(self._setting_number("wait_budget_seconds", DEFAULT_WAIT_BUDGET, MOST_WAIT_BUDGET, what))

    def organization_id(self) -> str:
        value = str(self.config.get("organization_id") or "").strip()
        if value and not _ORGANIZATION.fullmatch(value):
            raise ConnectorError(
                f"{value[:60]!r} is not an organisation id: letters, digits and - _ . : only, at most 100.",
                "Edit the connector: copy the id from the provider's organisation settings, or leave it empty.",
            )
        return value

    def clean(self) -> None:
        """The settings, checked before anything is saved or requested."""
        self.organization_id()
        self.lookback_days()
        self.base_url()
        self.wait_budget()

    def client(self) -> ReportClient:
        if self._client is None:
            budget = self.wait_budget()
            key = self.admin_key()
            fix = self.key_fix
            if not key.startswith(self.key_prefix):
                fix = f"This key does not start with {self.key_prefix}, so it is not an admin key. {fix}"
            self._client = ReportClient(
                provider=self.provider,
                base_url=self.base_url(),
                headers=self.auth_headers(key),
                key_fix=fix,
                wait_budget=budget,
            )
        return self._client

    # -- what each provider spells its own way ----------------------------------------------------------------

    def auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def query(self, report: Report, start: datetime, end: datetime | None, limit: int) -> list[tuple[str, str]]:
        """The query of one report over [start, end) (end None: up to now), without the page cursor."""
        raise NotImplementedError

    def bucket_start(self, value) -> datetime:
        """A bucket's start as an aware datetime; ValueError or TypeError when unreadable."""
        raise NotImplementedError

    # -- the plug-in ------------------------------------------------------------------------------------------

    def check(self) -> str:
        yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        client = self.client()
        for report in self.reports:
            self._pages(report, yesterday, None, limit=2, label="yesterday and today")
        titles = " and ".join(report.title for report in self.reports)
        return f"{self.provider} accepted the admin key: the organisation's {titles} are readable at {client.base_url}."

    def windows(self, now: datetime) -> list[tuple[datetime, datetime | None]]:
        """The calendar months to read, oldest first: (start, end), end None for the month under way."""
        month, current = month_start(now - timedelta(days=self.lookback_days())), month_start(now)
        windows = []
        while month <= current:
            windows.append((month, None if month == current else next_month(month)))
            month = next_month(month)
        return windows

    def list_files(self) -> list[RemoteFile]:
        """Every report of every month in the lookback that has results, all read before any is imported (an
        error on any page fails the listing, so a run imports all of them or none)."""
        files = []
        self.lookback_days()  # a bad setting is named before any request
        for start, end in self.windows(datetime.now(UTC)):
            for report in self.reports:
                month = f"{start:%Y-%m}"
                pages, buckets = self._pages(report, start, end, limit=31, label=month)
                if not any(bucket["results"] for bucket in buckets):
                    continue  # nothing to import, and an empty report is not a file the importers recognise
                key = f"{report.name}/{month}"
                body = dumps_exact(pages)
                self._bodies[key] = body
                files.append(
                    RemoteFile(
                        key=key,
                        version=canonical_hash(buckets),
                        kind=report.kind,
                        name=f"{self.kind}-{report.name}-{month}.json",
                        size=len(body),
                        requested_format=report.source,
                    )
                )
        return files

    def fetch(self, remote: RemoteFile, into: IO[bytes]) -> None:
        body = self._bodies.get(remote.key)
        if body is None:  # a fresh instance: read the month again
            name, _, month = remote.key.partition("/")
            report = next((r for r in self.reports if r.name == name), None)
            try:
                start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
            except ValueError:
                start = None
            if report is None or start is None:
                raise ConnectorError(f"{remote.key!r} is not a report month of this connector.", "Run it again.")
            end = None if start == month_start(datetime.now(UTC)) else next_month(start)
            body = dumps_exact(self._pages(report, start, end, limit=31, label=month)[0])
        into.write(body)

    def _pages(self, report: Report, start: datetime, end: datetime | None, *, limit: int, label: str):
        """(pages, buckets) of one report over [start, end): every page, each bucket checked and those outside
        the window dropped (another month's file holds them)."""
        client, cursor, seen, organization = self.client(), None, set(), self.organization_id()
        pages, buckets = [], []
        where = f"GET {report.path} ({label})"
        while True:
            if len(pages) >= MAX_PAGES:
                raise ConnectorError(
                    f"{self.provider}'s {report.title} for {label} ran past {MAX_PAGES} pages; nothing was imported.",
                    "Shorten the lookback; if it persists, tell us: the report is grouped too finely to page through.",
                )
            params = self.query(report, start, end, limit)
            if cursor is not None:
                params.append(("page", cursor))
            page = client.get(report.path, params)
            data = page.get("data")
            if not isinstance(data, list):
                raise client.malformed(where, f"a page without a data list (page {len(pages) + 1})")
            kept = []
            for item in data:
                moment, bucket = self._bucket(client, where, item)
                if start <= moment and (end is None or moment < end):
                    for result in bucket["results"] if organization else ():
                        result["organization_id"] = organization  # the importers' account and replacement scope
                    kept.append(bucket)
            page = {**page, "data": kept}
            pages.append(page)
            buckets.extend(kept)
            if page.get("has_more") is not True:
                return pages, buckets
            cursor = page.get("next_page")
            if not isinstance(cursor, str) or not cursor:
                raise client.malformed(where, "has_more true but no next_page cursor")
            if cursor in seen:
                raise client.malformed(where, "the same next_page cursor twice (the pages would never end)")
            seen.add(cursor)

    def _bucket(self, client: ReportClient, where: str, bucket) -> tuple[datetime, dict]:
        if not isinstance(bucket, dict):
            raise client.malformed(where, "a bucket that is not a JSON object")
        try:
            start = self.bucket_start(bucket.get(self.start_key))
        except (TypeError, ValueError, OverflowError, OSError):
            raise client.malformed(where, f"a bucket without a readable {self.start_key}") from None
        results = bucket.get("results", bucket.get("result"))
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise client.malformed(where, f"a bucket ({self.start_key} {bucket.get(self.start_key)}) without a "
                                          "list of results")  # fmt: skip
        if "results" not in bucket:
            bucket = {**bucket, "results": results}
        return start, bucket


def listed(config: Mapping, name: str, pattern: Callable[[str], bool], what: str) -> list[str]:
    """A setting that lists ids, separated by commas or spaces; ConnectorError naming the first that is not one."""
    values = [v for v in re.split(r"[\s,]+", str(config.get(name) or "")) if v]
    bad = next((v for v in values if not pattern(v)), None)
    if bad is not None:
        raise ConnectorError(f"{bad[:60]!r} is not {what}.", "Edit the connector: list ids separated by commas.")
    return values
