"""A small HTTP/1.1 proxy on 127.0.0.1 that counts DynamoDB requests by `X-Amz-Target`.

Counting at the server side holds for any client (aioboto3, boto3, Powertools' own client), so the
request figures in the benchmark are not what a handler says it did but what reached DynamoDB.
An optional policy may intercept a request (used by tests/reliability/fault_proxy.py to inject
throttling, 5xx, slow and dropped responses, before or after the request reached DynamoDB). With
an SSL context the proxy speaks HTTPS to its clients, as DynamoDB's real endpoint does.

`GET /__proxy/counts` is answered by the proxy itself (never forwarded, never counted), on the
main port and on a plain-HTTP control port: a child process reads the running totals there
between invocations.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

CONTROL_PREFIX = b"/__proxy/"
HEAD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Request:
    """One parsed client request: what a policy needs to decide on it."""

    target: str
    head: bytes
    body: bytes


@dataclass(frozen=True)
class Intercept:
    """What to do instead of a plain pass-through.

    forward: send the request to DynamoDB first (so a write is applied before the fault).
    delay: hold the client this long (after forwarding, when forward is true).
    reply: answer with this (status, JSON body) instead of DynamoDB's answer.
    drop: close the connection without an answer (after the delay, if any).
    """

    name: str
    forward: bool = False
    delay: float = 0.0
    reply: tuple[int, bytes] | None = None
    drop: bool = False


Policy = Callable[[Request], Intercept | None]


class _Closed(Exception):
    """The peer closed the connection between requests."""


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes, dict[bytes, bytes]]:
    """One HTTP/1.1 message (request or response): raw head, raw body, lower-cased headers."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            raise _Closed from None
        raise
    except asyncio.LimitOverrunError:
        raise ValueError("HTTP head too large") from None
    headers: dict[bytes, bytes] = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            chunks.append(size_line + chunk)
            if size == 0:
                break
        body = b"".join(chunks)
    else:
        body = b""
    return head, body, headers


def _response(status: int, body: bytes, reason: str = "OK") -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/x-amz-json-1.0\r\n"
        f"Content-Length: {len(body)}\r\n"
        "x-amzn-RequestId: proxy\r\n\r\n"
    )
    return head.encode() + body


class CountingProxy:
    """Forwards each client connection over its own upstream connection and counts every request."""

    def __init__(
        self, upstream: str, policy: Policy | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.policy = policy
        self._tls = tls
        self.counts: Counter[str] = Counter()
        self.intercepted: Counter[str] = Counter()
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        return int(self._servers[0].sockets[0].getsockname()[1])

    @property
    def control_port(self) -> int:
        return int(self._servers[1].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    async def start(self) -> None:
        for tls in (self._tls, None):
            server = await asyncio.start_server(
                self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT, backlog=512, ssl=tls
            )
            self._servers.append(server)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                head, body, headers = await _read_message(reader)
                if head.split(b" ", 2)[1].startswith(CONTROL_PREFIX):
                    writer.write(_response(200, orjson.dumps(dict(self.counts))))
                    await writer.drain()
                    continue
                target = headers.get(b"x-amz-target", b"").decode().rpartition(".")[2] or "other"
                self.counts[target] += 1
                request = Request(target, head, body)
                intercept = self.policy(request) if self.policy is not None else None
                if intercept is not None:
                    self.intercepted[intercept.name] += 1
                answer: bytes | None = None
                if intercept is None or intercept.forward:
                    upstream, answer = await self._forward(upstream, head + body)
                if intercept is not None:
                    if intercept.delay:
                        await asyncio.sleep(intercept.delay)
                    if intercept.drop:
                        break
                    if intercept.reply is not None:
                        status, reply_body = intercept.reply
                        answer = _response(status, reply_body, "Error")
                assert answer is not None
                writer.write(answer)
                await writer.drain()
        except (_Closed, ConnectionError, asyncio.IncompleteReadError, ValueError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # the proxy is stopping: close quietly
        finally:
            self._tasks.discard(task)
            for w in (writer, upstream[1] if upstream else None):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()

    async def _forward(
        self, upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None, raw: bytes
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None, bytes]:
        """Send one request upstream; reconnect once if a kept-alive connection went away."""
        for attempt in range(2):
            if upstream is None:
                upstream = await asyncio.open_connection(*self._upstream, limit=HEAD_LIMIT)
            up_reader, up_writer = upstream
            try:
                up_writer.write(raw)
                await up_writer.drain()
                head, body, headers = await _read_message(up_reader)
            except (_Closed, ConnectionError, asyncio.IncompleteReadError):
                up_writer.close()
                upstream = None
                if attempt:
                    raise
                continue
            if headers.get(b"connection", b"").lower() == b"close":
                up_writer.close()
                upstream = None
            return upstream, head + body
        raise AssertionError("unreachable")


@contextlib.contextmanager
def running_proxy(
    upstream: str, policy: Policy | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[CountingProxy]:
    """Run a CountingProxy on its own event loop in a daemon thread for the duration of the block."""
    proxy = CountingProxy(upstream, policy, tls)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(proxy.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="counting-proxy", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the counting proxy did not start within 10 s")
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
