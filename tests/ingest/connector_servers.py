"""Real local servers for connector tests: moto's S3, STS and IAM in server mode, and a proxy that throttles.

`moto_endpoint()` starts one ThreadedMotoServer per test process (on a free port) and returns its URL;
`moto_reset()` empties it between tests and turns request signing checks off again. With `moto_auth(True)`
moto checks signatures and IAM policies like AWS: a wrong secret is refused, a user without s3:GetObject
is denied. The GCS and Azure tests can start their own servers the same way.
"""

import http.client
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

_moto = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def moto_endpoint() -> str:
    """The URL of this process's moto server, started on first use."""
    if "url" not in _moto:
        from moto.server import ThreadedMotoServer

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        _moto.update(server=server, url=f"http://127.0.0.1:{port}")
    return _moto["url"]


def _post(path: str, body: bytes = b"") -> None:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1
        moto_endpoint() + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        answer.read()


def moto_reset() -> None:
    """Forget every bucket, user and role, and stop checking credentials."""
    _post("/moto-api/reset")
    moto_auth(False)


def moto_auth(on: bool) -> None:
    """Check signatures and IAM policies on every request from now (on), or accept any credentials (off)."""
    _post("/moto-api/reset-auth", b"0" if on else b"inf")


def boto_client(service: str, **credentials):
    """A boto3 client of the moto server (test credentials unless given)."""
    import boto3

    credentials = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, region_name="us-east-1", endpoint_url=moto_endpoint(), **credentials)


# What a throttled storage answers, by status: S3's SlowDown (R2, MinIO and Cloud Storage's XML API send 429 the
# same way), and Blob Storage's ServerBusy, whose code the Azure SDK reads from the x-ms-error-code header.
THROTTLED_ANSWERS = {
    429: (b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>", {}),
    503: (
        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>The server is currently '
        b"unable to receive requests. Please retry your request.</Message></Error>",
        {"x-ms-error-code": "ServerBusy"},
    ),
}


class ThrottlingProxy:
    """An HTTP proxy in front of `target` that answers the first `throttled` requests with HTTP `status` (429 with
    S3's SlowDown code, as R2 or MinIO send; 503 ServerBusy, as Azure Blob Storage sends), with a Retry-After
    header when `retry_after` is given, then passes every request through unchanged: a rate-limit storm."""

    def __init__(self, target: str, throttled: int, status: int = 429, retry_after: str | None = None):
        self.target = urlparse(target)
        self.throttled = throttled
        self.status = status
        self.payload, self.answer_headers = THROTTLED_ANSWERS[status]
        if retry_after is not None:
            self.answer_headers = {**self.answer_headers, "Retry-After": retry_after}
        self.seen = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.seen += 1
                    throttle = proxy.seen <= proxy.throttled
                if throttle:
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/xml")
                    for name, value in proxy.answer_headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(proxy.payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(proxy.payload)
                    return
                upstream = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=30)
                upstream.request(self.command, self.path, body=body or None, headers=dict(self.headers))
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any  # noqa: N815 - http.server names them so

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
