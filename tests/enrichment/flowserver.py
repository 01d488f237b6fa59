"""A local stand-in for the WorkMail message-flow API (moto has none).

The server speaks the REST shape botocore's rest-json protocol expects for GetRawMessageContent:
`GET /messages/{messageId}` answers 200 with the raw MIME bytes as the payload, streamed in
chunks; errors are JSON with the code in `x-amzn-ErrorType` (`Code:namespace`, as AWS sends
it) or in the body, which is exactly where botocore's RestJSONParser looks for it.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.workmailmessageflow/"
_PATH = re.compile(r"^/messages/([^/?]+)$")

Body = bytes | Callable[[], Iterable[bytes]]


@dataclass
class Reply:
    """One scripted answer. A callable body is produced lazily, so a 20 MB message is never held."""

    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None  # Content-Length; defaults to len(body) for bytes
    delay: float = 0.0  # seconds before the status line
    stall_after: int | None = None  # after this many body bytes, stall for `stall` seconds
    stall: float = 0.0
    cut_after: int | None = None  # after this many body bytes, drop the connection
    chunk_size: int = 16 * 1024


def message_reply(raw: Body, length: int | None = None, **kwargs: object) -> Reply:
    if length is None:
        assert isinstance(raw, bytes), "a streamed body needs its length"
        length = len(raw)
    headers = {"Content-Type": "application/octet-stream"}
    return Reply(200, raw, headers, length, **kwargs)  # type: ignore[arg-type]


def error_reply(status: int, code: str | None, message: str = "", where: str = "header") -> Reply:
    """An AWS JSON error. where: 'header' (x-amzn-ErrorType), 'type' (__type in the body), 'none'."""
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
    document: dict[str, str] = {"message": message} if message else {}
    if code is not None and where == "header":
        headers["x-amzn-ErrorType"] = f"{code}:{ERROR_NAMESPACE}"
    elif code is not None and where == "type":
        document = {"__type": f"com.amazonaws.workmailmessageflow#{code}", "Message": message}
    return Reply(status, json.dumps(document).encode(), headers)


@dataclass
class Seen:
    method: str
    path: str
    message_id: str | None
    authorization: str


class MessageFlowServer:
    """Scripted replies per message id, served in order; the last one repeats. Unknown ids get 404."""

    def __init__(self) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self.requests: list[Seen] = []
        self.stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, message_id: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[message_id] = list(replies)

    def requests_for(self, message_id: str) -> list[Seen]:
        return [r for r in self.requests if r.message_id == message_id]

    def next_reply(self, message_id: str | None) -> Reply:
        with self._lock:
            script = self._scripts.get(message_id or "")
            if not script:
                return error_reply(404, "ResourceNotFoundException", "Message not found.")
            return script.pop(0) if len(script) > 1 else script[0]

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MessageFlowServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _chunks(body: Body, size: int) -> Iterator[bytes]:
    if isinstance(body, bytes):
        for start in range(0, len(body), size):
            yield body[start : start + size]
    else:
        yield from body()


def _handler_for(server: MessageFlowServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

        def log_message(self, format: str, *args: object) -> None:
            pass

        def handle(self) -> None:
            # The client gave up (its deadline) or the test closed the connection.
            with contextlib.suppress(ConnectionError, TimeoutError):
                super().handle()

        def do_GET(self) -> None:
            match = _PATH.match(self.path)
            message_id = match.group(1) if match else None
            server.requests.append(Seen("GET", self.path, message_id, self.headers.get("Authorization", "")))
            if message_id is None:
                reply = error_reply(400, "ValidationException", "bad path")
            else:
                reply = server.next_reply(message_id)
            if reply.delay and server.stop.wait(reply.delay):
                return
            length = reply.length
            if length is None:
                assert isinstance(reply.body, bytes)
                length = len(reply.body)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            sent = 0
            for piece in _chunks(reply.body, reply.chunk_size):
                chunk = piece
                if reply.cut_after is not None and sent + len(chunk) >= reply.cut_after:
                    self.wfile.write(chunk[: reply.cut_after - sent])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if reply.stall_after is not None and sent + len(chunk) >= reply.stall_after:
                    self.wfile.write(chunk[: reply.stall_after - sent])
                    self.wfile.flush()
                    server.stop.wait(reply.stall)
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                sent += len(chunk)

    return Handler
