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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
