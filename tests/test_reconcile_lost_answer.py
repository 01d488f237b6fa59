"""`reconcile --fix` when PutMetricData's answer is lost: CloudWatch applies every request it gets,
so a correction is sent once (no SDK retry), an unknown outcome keeps its ledger claim, and a later
run writes it again only when the sum it reads back, once CloudWatch would show the point, still
lacks it. Against moto's CloudWatch over HTTP, behind a proxy that loses answers (tests/lost_answer.py)."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from collector.aws import client_config, open_client
from collector.cli import main
from collector.reconcile import Outcome, daily_sums, reconcile, visible_after
from collector.store import AuditStore
from tests.conftest import Backend, run
from tests.lost_answer import lossy_cloudwatch
from tests.test_reconcile import DAY, NOW, Names, metric, options, planted, publish, record
from tests.test_store_contract import with_store


@pytest.fixture
def names() -> Names:
    tag = uuid.uuid4().hex
    return Names(f"Lost{tag[:10]}", f"svc-{tag[:10]}", f"m-{tag}")


@contextlib.asynccontextmanager
async def clients(moto: str, writer_url: str) -> AsyncIterator[tuple[Any, Any]]:
    """moto's CloudWatch to read and publish, and the one-try correction client through `writer_url`."""
    async with contextlib.AsyncExitStack() as stack:
        reader = await open_client("cloudwatch", stack, endpoint_url=moto)
        writer = await open_client(
            "cloudwatch", stack, config=client_config(total_attempts=1), endpoint_url=writer_url
        )
        yield reader, writer


async def inbound_sum(client: Any, names: Names) -> float:
    sums = await daily_sums(client, {"m": metric(names, "Messages", "INBOUND")}, DAY, DAY)
    return sums["m"].get(DAY, 0.0)


def test_a_lost_answer_is_applied_once_and_not_written_again(
    sqlite_backend: Backend,
    moto_endpoint: str,
    names: Names,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command as a person runs it: its correction client must not retry."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", moto_endpoint)

    async def seed(store: AuditStore) -> None:
        lines = await record(store, names, DAY)
        async with contextlib.AsyncExitStack() as stack:
            await publish(await open_client("cloudwatch", stack), planted(lines))  # four differences

    run(with_store(sqlite_backend, seed))
    common = ["reconcile", "--db", str(sqlite_backend.settings.sqlite_path), "--namespace", names.namespace]
    common += ["--service", names.service, "--since", DAY.isoformat(), "--until", DAY.isoformat(), "--fix"]
    with lossy_cloudwatch(moto_endpoint, mode="apply") as lossy:
        assert main([*common, "--cloudwatch-endpoint-url", lossy.url]) == 3
        out = capsys.readouterr().out
        assert (
            out.count("outcome unknown: sent at") == 4
            and "with no clear answer (ConnectionClosedError)" in out
        )
        assert lossy.puts == ["apply"] * 4, "each correction sent once, never retried"

        lossy.mode = "pass"
        assert main([*common, "--cloudwatch-endpoint-url", lossy.url]) == 0
        assert "OK: the metrics equal the audit trail" in capsys.readouterr().out
        assert len(lossy.puts) == 4, "the next run reads the sums back: nothing to write"

    async def check(store: AuditStore) -> None:
        async with contextlib.AsyncExitStack() as stack:
            moto = await open_client("cloudwatch", stack, endpoint_url=moto_endpoint)
            assert await inbound_sum(moto, names) == 5.0, "applied once"

    run(with_store(sqlite_backend, check))


def test_an_unknown_outcome_is_read_back_before_it_is_written_again(
    store_backend: Backend, moto_endpoint: str, names: Names
) -> None:
    async def body(store: AuditStore) -> None:
        with lossy_cloudwatch(moto_endpoint, mode="swallow") as lossy:
            async with clients(moto_endpoint, lossy.url) as (client, writer):
                lines = await record(store, names, DAY)
                await publish(client, lines[1:])  # the first inbound count is lost: two differences
                first = await reconcile(store, client, options(names, fix=True), NOW, writer)
                assert [c.outcome for c in first.corrections] == [Outcome.UNKNOWN] * 2
                assert not first.ok and len(lossy.puts) == 2

                # Before CloudWatch would show it, the same counts prove nothing: not sent again.
                soon = NOW + timedelta(hours=1)
                lossy.mode = "pass"
                second = await reconcile(store, client, options(names, fix=True), soon, writer)
                assert [c.outcome for c in second.corrections] == [Outcome.UNKNOWN] * 2
                assert (
                    "no clear answer (no answer recorded); not sent again before"
                    in second.corrections[0].note
                )
                assert len(lossy.puts) == 2

                # Once it would show, the unchanged sum says it never landed: written, once.
                later = NOW + visible_after(DAY, NOW) + timedelta(minutes=1)
                third = await reconcile(store, client, options(names, fix=True), later, writer)
                assert [c.outcome for c in third.corrections] == [Outcome.WRITTEN] * 2
                assert len(lossy.puts) == 4 and await inbound_sum(client, names) == 5.0
                fourth = await reconcile(store, client, options(names, fix=True), later, writer)
                assert fourth.ok and fourth.corrections == () and len(lossy.puts) == 4

    run(with_store(store_backend, body))


def test_a_refused_connection_releases_the_claim_at_once(
    sqlite_backend: Backend, moto_endpoint: str, names: Names
) -> None:
    """Nothing reached CloudWatch, so nothing can land later: the next run writes straight away."""
    from botocore.exceptions import EndpointConnectionError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"  # bound, not listening: refused

        async def body(store: AuditStore) -> None:
            async with clients(moto_endpoint, closed) as (client, unreachable):
                lines = await record(store, names, DAY)
                await publish(client, lines[1:])
                with pytest.raises(EndpointConnectionError):
                    await reconcile(store, client, options(names, fix=True), NOW, unreachable)
            with lossy_cloudwatch(moto_endpoint, mode="pass") as lossy:
                async with clients(moto_endpoint, lossy.url) as (client, writer):
                    retried = await reconcile(store, client, options(names, fix=True), NOW, writer)
                    assert [c.outcome for c in retried.corrections] == [Outcome.WRITTEN] * 2
                    assert await inbound_sum(client, names) == 5.0

        run(with_store(sqlite_backend, body))
