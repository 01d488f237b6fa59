"""What one stream record means to the time index (collector/store/pages.py), case by case: the
cases a reader could otherwise get wrong, each found while the format was built."""

from __future__ import annotations

from typing import Any

from collector.store.pages import build_pages, changes_of, expand, latest

RECORD: dict[str, Any] = {
    "invocationId": "k1",
    "receivedDay": "2026-11-20",
    "receivedAt": "2026-11-20T10:00:30.000Z",
    "status": "RECORDED",
}
SEQUENCE = 4421584500000000017450439091  # as AWS numbers stream records: beyond 64 bits


def listed(*changes: Any) -> list[dict[str, Any]]:
    pages = build_pages(c for group in changes for c in group)
    return latest(e for p in pages for e in expand(p))


def test_a_record_that_leaves_its_own_index_item_gets_an_entry() -> None:
    """Written in record mode (its own dayShard item), replaced in stream mode with nothing the
    index holds changed: without an entry no index would list it any more."""
    before = {**RECORD, "dayShard": "2026-11-20#1"}
    assert changes_of("MODIFY", RECORD, before, (1, SEQUENCE))
    assert not changes_of("MODIFY", before, RECORD, (1, SEQUENCE))  # a backfill gives it one: listed
    assert not changes_of("MODIFY", RECORD, RECORD, (1, SEQUENCE))  # a replay's count state


def test_a_move_within_a_minute_keeps_the_record_and_one_across_minutes_leaves_a_tombstone() -> None:
    earlier = {**RECORD, "receivedAt": "2026-11-20T10:00:10.000Z", "status": "INVALID"}
    inserted = changes_of("INSERT", RECORD, None, (1, SEQUENCE))
    within = changes_of("MODIFY", earlier, RECORD, (2, SEQUENCE + 1))
    assert [c.gone for c in within] == [False]
    assert [(e["receivedAt"], e["status"]) for e in listed(inserted, within)] == [
        ("2026-11-20T10:00:10.000Z", "INVALID")
    ]
    later = {**RECORD, "receivedAt": "2026-11-21T09:00:00.000Z", "receivedDay": "2026-11-21"}
    across = changes_of("MODIFY", later, RECORD, (3, SEQUENCE + 2))
    assert [c.gone for c in across] == [True, False]
    assert [e["receivedAt"] for e in listed(inserted, across)] == ["2026-11-21T09:00:00.000Z"]


def test_versions_keep_the_whole_sequence_number() -> None:
    """Two changes in one second differ only in their sequence numbers' last digits."""
    first = changes_of("INSERT", RECORD, None, (5, SEQUENCE * 10**12))
    second = changes_of("MODIFY", {**RECORD, "status": "INVALID"}, RECORD, (5, SEQUENCE * 10**12 + 1))
    assert [e["status"] for e in listed(second, first)] == ["INVALID"]


def test_deletions_by_ttl_are_not_paged_and_by_hand_are() -> None:
    assert not changes_of("REMOVE", None, RECORD, (1, 1), by_ttl=True)
    gone = changes_of("REMOVE", None, RECORD, (2, 2))
    assert listed(changes_of("INSERT", RECORD, None, (1, 1)), gone) == []


def test_a_records_own_index_item_wins_over_a_stale_entry() -> None:
    """The index keeps a record's own item in step with it; an entry may be stale (its change's
    batch failed and the repair gave the record its own item)."""
    stale = changes_of("INSERT", {**RECORD, "status": "INVALID"}, None, (1, SEQUENCE))
    own = {**RECORD, "status": "DELIVERED"}  # as the time index lists it: no version
    pages = build_pages(stale)
    entries = [e for p in pages for e in expand(p)]
    assert [e["status"] for e in latest([*entries, own])] == ["DELIVERED"]
    assert [e["status"] for e in latest([own, *entries])] == ["DELIVERED"]
    tombstone = [e for p in build_pages(changes_of("REMOVE", None, RECORD, (2, SEQUENCE))) for e in expand(p)]
    assert [e["status"] for e in latest([own, *tombstone])] == ["DELIVERED"]


def test_expired_entries_are_not_listed_whichever_page_ttl_deletes_first() -> None:
    """A move's tombstone and the entry it hides expire together; TTL may delete the tombstone's page
    first. Past their expiry neither is listed, so the hidden entry cannot come back."""
    old = {**RECORD, "status": "INVALID", "expiresAt": 1000}
    new = {**RECORD, "receivedAt": "2026-11-20T10:07:00.000Z", "expiresAt": 5000}
    inserted = changes_of("INSERT", old, None, (1, 1))
    moved = changes_of("MODIFY", new, old, (2, 2))
    hidden_only = [e for p in build_pages(inserted) for e in expand(p)]  # its tombstone's page is gone
    assert [e["status"] for e in latest(hidden_only, now=999)] == ["INVALID"]  # not expired yet: listed
    assert latest(hidden_only, now=1000) == []
    everything = [e for p in build_pages([*inserted, *moved]) for e in expand(p)]
    assert [e["receivedAt"] for e in latest(everything, now=1500)] == ["2026-11-20T10:07:00.000Z"]
