"""A replay abandoned while its counting claim is on the wire still counts the event once later.

The claim (countState PENDING -> EMITTED) is a request the store may apply after the caller gave up
on it, as a server does with a request already sent. Seen at random under load in
tests/reliability/test_interrupted_replay.py (a double SIGHUP against DynamoDB Local): a give-back
sent at once reached the store before the claim, failed its condition, and the claim then landed,
leaving the event claimed with no EMF line: never counted. Here the order is forced.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Invocation
from collector.pipeline import Pipeline
from collector.sampling import generate_events
from collector.store import COUNT_STATE, PENDING
from collector.store.sqlite import SqliteStore
from tests.conftest import run


class ClaimOnTheWire(SqliteStore):
    """SQLite whose count-state writes land after they are sent, whatever the caller does: the first
    one slowly (a busy connection), the later ones at once (fresh connections)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.on_the_wire: set[asyncio.Task[bool]] = set()
        self.sent = asyncio.Event()

    async def set_count_state(self, key: str, expected: str | None, new: str | None) -> bool:
        delay = 0.0 if self.sent.is_set() else 0.1

        async def lands() -> bool:
            await asyncio.sleep(delay)
            return await SqliteStore.set_count_state(self, key, expected, new)

        request = asyncio.ensure_future(lands())
        self.on_the_wire.add(request)
        self.sent.set()
        return await asyncio.shield(request)  # the caller may stop waiting; the request still lands


def test_a_replay_cancelled_during_its_claim_leaves_the_event_to_be_counted(tmp_path: Path) -> None:
    async def body() -> tuple[str | None, list[str], list[str]]:
        store = ClaimOnTheWire(tmp_path / "audit.sqlite3")
        first: list[str] = []
        pipeline = Pipeline(store, EmfWriter("NS", "svc", first.append), Settings(store="sqlite"))
        (event,) = generate_events(count=1, seed=7)
        invocation = Invocation("replay-1", "$LOCAL", datetime.now(UTC))
        task = asyncio.ensure_future(pipeline.replay(event, invocation))
        await store.sent.wait()  # the claim is on the wire: abandon the replay now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.gather(*store.on_the_wire)  # everything sent has landed
        item = await SqliteStore.get(store, str(event["invocationId"]))
        assert item is not None
        state = item.get(COUNT_STATE)
        # The next replay of the same input counts it, once.
        again: list[str] = []
        replayed = Pipeline(store, EmfWriter("NS", "svc", again.append), Settings(store="sqlite"))
        await replayed.replay(event, Invocation("replay-2", "$LOCAL", datetime.now(UTC)))
        await store.close()
        return state, first, again

    state, first, again = run(body())
    assert state == PENDING
    assert first == []
    assert len(again) == 1 and '"Messages":1' in again[0]
