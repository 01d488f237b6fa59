"""A loopback proxy in front of moto's CloudWatch (query protocol) that loses PutMetricData answers:
`apply` forwards the request, so CloudWatch applies it, then closes the connection unanswered;
`swallow` closes it without forwarding; `pass` forwards and answers. Other actions always pass."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from tests.failing_server import serve


@dataclass
class LossyCloudWatch:
    url: str = ""
    mode: str = "apply"  # apply | swallow | pass
    puts: list[str] = field(default_factory=list)  # the mode each PutMetricData met


@contextmanager
def lossy_cloudwatch(upstream: str, mode: str = "apply") -> Iterator[LossyCloudWatch]:
    state = LossyCloudWatch(mode=mode)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
            mode = state.mode if action == "PutMetricData" else "pass"
            if action == "PutMetricData":
                state.puts.append(mode)
            if mode == "swallow":
                return self._drop()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(upstream + self.path, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, payload, reply = response.status, response.read(), response.headers
            except urllib.error.HTTPError as error:
                status, payload, reply = error.code, error.read(), error.headers
            if mode == "apply":
                return self._drop()  # applied upstream, the answer lost on the way back
            self.send_response(status)
            for name in ("Content-Type", "x-amzn-RequestId"):
                if reply.get(name):
                    self.send_header(name, reply[name])
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _drop(self) -> None:
            self.close_connection = True
            self.connection.close()

        def log_message(self, *args: object) -> None:
            pass

    with serve(Handler) as url:
        state.url = url
        yield state
