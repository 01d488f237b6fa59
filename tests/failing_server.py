"""A loopback HTTP endpoint that answers every DynamoDB request with one fault, and counts them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = {
    "throttle": (400, "com.amazonaws.dynamodb.v20120810#ThrottlingException", "Rate exceeded"),
    "server-error": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal error"),
    "unavailable": (503, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable", "Unavailable"),
}


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run `handler` on a free loopback port in a thread; yield its URL; stop it afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def failing_endpoint(fault: str, delay: float = 0.0) -> Iterator[tuple[str, list[int]]]:
    """Yield (endpoint URL, request counter); `fault="slow"` sleeps past the client's read timeout."""
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hits.append(1)
            if fault == "slow":
                time.sleep(delay)
                return
            status, error_type, message = FAULTS[fault]
            body = f'{{"__type":"{error_type}","message":"{message}"}}'.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve(Handler) as endpoint:
        yield endpoint, hits


@contextmanager
def response_dropping_proxy(upstream: str, drop_first: int = 1) -> Iterator[tuple[str, list[str]]]:
    """Forward to `upstream`, but for the first `drop_first` PutItem calls close the connection
    after the upstream applied the write: the client sees a lost response and retries."""
    import urllib.request

    targets: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            target = self.headers.get("X-Amz-Target", "")
            targets.append(target)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(upstream, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, payload, reply_headers = response.status, response.read(), response.headers
            except urllib.error.HTTPError as error:
                status, payload, reply_headers = error.code, error.read(), error.headers
            if target.endswith("PutItem") and sum(t.endswith("PutItem") for t in targets) <= drop_first:
                self.close_connection = True
                self.connection.close()  # applied upstream, response lost on the way back
                return
            self.send_response(status)
            for name in ("Content-Type", "x-amzn-RequestId", "x-amz-crc32"):
                if reply_headers.get(name):
                    self.send_header(name, reply_headers[name])
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    with serve(Handler) as endpoint:
        yield endpoint, targets
