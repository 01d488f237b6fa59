"""The replay's count marker, one contract on every engine: SQLite, DynamoDB Local and moto's server.

`set_count_state` is a compare-and-set on one attribute: it moves a record from the state a replay
saw to the one it needs, and says whether the record is now in that state, so two replays can never
both claim one record, and an SDK retry of an applied update is not mistaken for a lost race.
"""

from __future__ import annotations

from typing import Any

from collector.store import COUNT_STATE, PENDING, AuditStore, Duplicate, Inserted, Query
from tests.conftest import Backend, run
from tests.test_store_contract import item, with_store


def test_a_pending_record_is_claimed_once_and_can_be_given_back(backend: Backend) -> None:
    async def body(store: AuditStore) -> None:
        assert isinstance(await store.put_once(item("p1", **{COUNT_STATE: PENDING})), Inserted)
        stored = await store.get("p1")
        assert stored is not None and stored[COUNT_STATE] == PENDING
        assert await store.set_count_state("p1", PENDING, "EMITTED:a") is True
        assert await store.set_count_state("p1", PENDING, "EMITTED:b") is False  # claimed already
        assert await store.set_count_state("p1", PENDING, "EMITTED:a") is True  # a retry of the winner
        assert (await store.get("p1") or {})[COUNT_STATE] == "EMITTED:a"
        assert await store.set_count_state("p1", "EMITTED:a", PENDING) is True  # given back
        again = await store.put_once(item("p1", **{COUNT_STATE: PENDING}))
        assert isinstance(again, Duplicate) and again.existing[COUNT_STATE] == PENDING
        listed = await store.query(Query(message_id="msg-p1"))
        assert [r[COUNT_STATE] for r in listed] == [PENDING]

    run(with_store(backend, body))


def test_records_without_the_marker_are_claimed_from_none(backend: Backend) -> None:
    """The Lambda's records carry no marker; a replay of its failure record claims from None."""

    async def body(store: AuditStore) -> None:
        record = item("lambda-1")
        await store.put_once(record)
        assert COUNT_STATE not in (await store.get("lambda-1") or {})
        assert await store.set_count_state("lambda-1", PENDING, "EMITTED:x") is False
        assert await store.set_count_state("lambda-1", None, "EMITTED:x") is True
        assert await store.set_count_state("lambda-1", None, "EMITTED:y") is False
        assert await store.set_count_state("lambda-1", "EMITTED:x", None) is True
        assert await store.get("lambda-1") == record  # back to exactly what the Lambda wrote

    run(with_store(backend, body))


def test_a_missing_record_is_never_created(backend: Backend) -> None:
    async def body(store: AuditStore) -> Any:
        assert await store.set_count_state("missing", None, "EMITTED:x") is False
        assert await store.set_count_state("missing", PENDING, None) is False
        assert await store.set_count_state("missing", None, None) is False
        assert await store.get("missing") is None

    run(with_store(backend, body))
