"""One fresh "Lambda container": import a handler, invoke it N times, report what it cost.

Run by bench/harness.py (run_child) as `python -m bench.child SPEC.json`, one process per handler
per round, with stdout redirected to a file (the EMF documents); by bench/coldstart.py as
`python3.13 -I -S bench/child.py SPEC.json`, a built asset the only entry it adds to sys.path.
Until the handler module is imported only the standard library's json, os, resource, socket, sys
and time are loaded, all of which both handlers import anyway, so the import time measured is the
handler's own. The deliveries are held as text,
so the harness adds little to the peak RSS, and each is parsed before its invocation's clock starts.

Measured: import (wall and CPU), the first invocation (the rest of the cold start: SDK session,
client and event loop creation), every warm invocation's wall latency and CPU (time.process_time),
DynamoDB requests per invocation (read from the counting proxy between invocations, outside the
timed window), and peak RSS.

Peak RSS is the kernel's high-water mark for this process image (VmHWM in /proc/self/status).
On Linux `getrusage().ru_maxrss` survives fork and exec, so a child would report at least its
parent's RSS at the fork (the benchmark driver's, some 60 MB); ru_maxrss is the fallback off Linux.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import socket
import sys
import time
from typing import Any

MARKER = "# bench.child: importing the handler"


class FakeContext:
    """The attributes and method of Lambda's context object that both handlers touch."""

    def __init__(self, n: int, function_name: str) -> None:
        self.aws_request_id = f"{n:08d}-0000-4000-8000-000000000000"
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"))
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]bench"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class ProxyCounts:
    """Reads the counting proxy's totals over one kept-alive raw socket (no http.client import)."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port))
        self._buffer = b""

    def read(self) -> dict[str, int]:
        self._sock.sendall(b"GET /__proxy/counts HTTP/1.1\r\nHost: proxy\r\n\r\n")
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._sock.recv(65536)
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        while len(rest) < length:
            rest += self._sock.recv(65536)
        body, self._buffer = rest[:length], rest[length:]
        counts: dict[str, int] = json.loads(body)
        return counts


def peak_rss_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def main(spec_path: str) -> None:
    with open(spec_path) as f:
        spec: dict[str, Any] = json.load(f)
    with open(spec["deliveries"]) as f:
        deliveries = f.readlines()  # text: each delivery is parsed just before its invocation
    counts = ProxyCounts(spec["proxy_port"])
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    harness_rss_kb = peak_rss_kb()
    first_event = json.loads(deliveries[0])["event"]
    before = counts.read()
    print(MARKER, file=sys.stderr, flush=True)  # splits `-X importtime` output: harness | handler

    # An asset run (`python3.13 -I -S bench/child.py SPEC`): only the asset goes on sys.path.
    sys.path[:0] = spec.get("path", [])
    wall0, cpu0 = time.perf_counter(), time.process_time()
    module = importlib.import_module(spec["module"])
    handler = module.handler
    wall1, cpu1 = time.perf_counter(), time.process_time()
    handler(first_event, FakeContext(0, function_name))
    wall2, cpu2 = time.perf_counter(), time.process_time()
    after = counts.read()
    requests = [_delta(after, before)]
    rss_after_first_kb = peak_rss_kb()

    latencies: list[float] = []
    cpu: list[float] = []
    for n in range(1, len(deliveries)):
        event = json.loads(deliveries[n])["event"]
        context = FakeContext(n, function_name)
        before = after
        w, c = time.perf_counter(), time.process_time()
        handler(event, context)
        cpu.append(time.process_time() - c)
        latencies.append(time.perf_counter() - w)
        after = counts.read()
        requests.append(_delta(after, before))
    sys.stdout.flush()

    report = {
        "handler": spec["name"],
        "module_file": module.__file__,
        "import_s": wall1 - wall0,
        "import_cpu_s": cpu1 - cpu0,
        "first_invocation_s": wall2 - wall1,
        "first_invocation_cpu_s": cpu2 - cpu1,
        "warm_latency_s": latencies,
        "warm_cpu_s": cpu,
        "requests": requests,
        "harness_rss_kb": harness_rss_kb,
        "rss_after_first_kb": rss_after_first_kb,
        "peak_rss_kb": peak_rss_kb(),
    }
    with open(spec["report"], "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1])
