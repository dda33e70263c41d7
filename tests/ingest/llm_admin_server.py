"""A small local HTTP server that answers as OpenAI's organisation Usage/Costs API or Anthropic's Admin API do.

`serve(scenario)` runs a ThreadingHTTPServer on a free port of 127.0.0.1 in a thread and yields its base URL.
The scenario holds what the provider knows (results per UTC day, per report) and how it misbehaves: a page
size that forces the cursor, a number of 429s to answer first (with a Retry-After of our choosing), a status
for every request (401), or a malformed body (not JSON, a page without data) for one report or all. It
answers the documented shapes: pages `{"data": [bucket, ...], "has_more", "next_page"}` with an opaque cursor;
OpenAI buckets `{"object": "bucket", "start_time", "end_time", "results"}` in Unix seconds, Anthropic buckets
`{"starting_at", "ending_at", "results"}` in RFC 3339; errors `{"error": {"message", "type"}}`. It checks the
query as the providers document it (bucket_width=1d, limit 1 to 31, known group_by fields, the key header and
anthropic-version) and records every request (header names in lower case).
"""

import base64
import copy
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OPENAI_PATHS = {"/v1/organization/usage/completions": "usage", "/v1/organization/costs": "costs"}
ANTHROPIC_PATHS = {"/v1/organizations/usage_report/messages": "usage", "/v1/organizations/cost_report": "costs"}
OPENAI_GROUPS = {
    "usage": {"project_id", "user_id", "api_key_id", "model", "batch", "service_tier"},
    "costs": {"project_id", "line_item"},
}
ANTHROPIC_GROUPS = {
    "usage": {"api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo", "speed"},
    "costs": {"workspace_id", "description"},
}


@dataclass
class Scenario:
    provider: str  # "openai" or "anthropic"
    key: str
    usage: dict[date, list[dict]] = field(default_factory=dict)
    costs: dict[date, list[dict]] = field(default_factory=dict)
    page_size: int = 31  # the most buckets a page holds, whatever limit asks: below 31, a month takes pages
    throttle: int = 0  # answer this many 429s before anything else
    retry_after: str | None = "0"
    status: int | None = None  # answer every request with this status
    malformed: str | None = None  # "not_json" or "no_data"
    malformed_report: str | None = None  # only this report ("usage" or "costs") is malformed; None: both
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, name: str) -> dict[date, list[dict]]:
        return self.usage if name == "usage" else self.costs

    def answered(self, report: str | None = None) -> list[dict]:
        """The requests answered with data (200), of one report or all."""
        return [r for r in self.requests if r["status"] == 200 and report in (None, r["report"])]


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _cursor(day: date) -> str:
    return "page_" + base64.b64encode(day.isoformat().encode()).decode()


def _uncursor(value: str) -> date:
    return date.fromisoformat(base64.b64decode(value.removeprefix("page_")).decode())


def _number(value):
    if isinstance(value, Decimal):
        return float(value)  # a JSON number with the same digits (up to 15 significant ones, as the tests use)
    raise TypeError(type(value).__name__)


class _Handler(BaseHTTPRequestHandler):
    scenario: Scenario

    def log_message(self, format, *args):  # quiet
        pass

    def _send(self, status: int, body, headers=()) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, default=_number).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/html")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str, headers=()) -> None:
        if self.scenario.provider == "anthropic":
            self._send(status, {"type": "error", "error": {"type": kind, "message": message}}, headers)
        else:
            self._send(status, {"error": {"message": message, "type": kind, "param": None, "code": None}}, headers)

    def do_GET(self):
        s = self.scenario
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        paths = ANTHROPIC_PATHS if s.provider == "anthropic" else OPENAI_PATHS
        report = paths.get(url.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        record = {"path": url.path, "report": report, "query": query, "headers": headers}
        with s.lock:
            s.requests.append(record)
            status = self._answer(s, report, query)
        record["status"] = status

    def _answer(self, s: Scenario, report: str | None, query: dict) -> int:
        if report is None:
            self._error(404, "not_found_error", f"No route {urlsplit(self.path).path}")
            return 404
        if not self._authorised(s):
            return 401
        if s.status is not None:
            self._error(s.status, "permission_error", "This key may not read the organisation's usage.")
            return s.status
        if s.throttle > 0:
            s.throttle -= 1
            headers = [("Retry-After", s.retry_after)] if s.retry_after is not None else []
            self._error(429, "rate_limit_error", "Rate limit reached for requests", headers)
            return 429
        if s.malformed and s.malformed_report in (None, report):
            if s.malformed == "not_json":
                self._send(200, b"<html><body>502 Bad Gateway</body></html>")
            else:
                self._send(200, {"object": "page", "has_more": False, "next_page": None})
            return 200
        problem = self._bad_query(s, report, query)
        if problem:
            self._error(400, "invalid_request_error", problem)
            return 400
        self._send(200, self._page(s, report, query))
        return 200

    def _authorised(self, s: Scenario) -> bool:
        if s.provider == "anthropic":
            if self.headers.get("anthropic-version") != "2023-06-01":
                self._error(400, "invalid_request_error", "anthropic-version: header is required")
                return False
            if self.headers.get("x-api-key") != s.key:
                self._error(401, "authentication_error", "invalid x-api-key")
                return False
            return True
        if self.headers.get("Authorization") != f"Bearer {s.key}":
            self._error(401, "invalid_request_error", "Incorrect API key provided: sk-admin-****. You can find …")
            return False
        return True

    def _bad_query(self, s: Scenario, report: str, query: dict) -> str:
        if query.get("bucket_width", ["1d"]) != ["1d"]:
            return "bucket_width must be 1d"
        try:
            limit = int(query.get("limit", ["7"])[0])
        except ValueError:
            return "limit must be a number"
        if not 1 <= limit <= 31:
            return "limit must be between 1 and 31"
        groups = query.get("group_by[]" if s.provider == "anthropic" else "group_by", [])
        known = (ANTHROPIC_GROUPS if s.provider == "anthropic" else OPENAI_GROUPS)[report]
        unknown = [g for g in groups if g not in known]
        if unknown:
            return f"Invalid group_by: {unknown[0]}"
        start_key = "starting_at" if s.provider == "anthropic" else "start_time"
        if start_key not in query:
            return f"{start_key} is required"
        return ""

    def _page(self, s: Scenario, report: str, query: dict) -> dict:
        anthropic = s.provider == "anthropic"
        if anthropic:
            first = datetime.fromisoformat(query["starting_at"][0]).astimezone(UTC).date()  # snapped to the day
            end = query.get("ending_at")
            last = datetime.fromisoformat(end[0]).astimezone(UTC).date() if end else None
        else:
            first = datetime.fromtimestamp(int(query["start_time"][0]), UTC).date()
            end = query.get("end_time")
            last = datetime.fromtimestamp(int(end[0]), UTC).date() if end else None
        last = last or datetime.now(UTC).date() + timedelta(days=1)  # up to now: today's bucket included
        if "page" in query:
            first = _uncursor(query["page"][0])
        size = min(int(query.get("limit", ["7"])[0]), s.page_size)
        days = [first + timedelta(days=n) for n in range((last - first).days)]
        shown, rest = days[:size], days[size:]
        data = [self._bucket(anthropic, day, copy.deepcopy(s.report(report).get(day, []))) for day in shown]
        page = {"data": data, "has_more": bool(rest), "next_page": _cursor(rest[0]) if rest else None}
        return page if anthropic else {"object": "page", **page}

    @staticmethod
    def _bucket(anthropic: bool, day: date, results: list[dict]) -> dict:
        start, end = _day_start(day), _day_start(day + timedelta(days=1))
        if anthropic:
            iso = "%Y-%m-%dT%H:%M:%SZ"
            return {"starting_at": start.strftime(iso), "ending_at": end.strftime(iso), "results": results}
        return {
            "object": "bucket",
            "start_time": int(start.timestamp()),
            "end_time": int(end.timestamp()),
            "results": results,
        }


def serve(scenario: Scenario):
    """Yield the base URL of a server answering `scenario` (a generator: for a fixture or `with contextlib`)."""
    handler = type("Handler", (_Handler,), {"scenario": scenario})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
