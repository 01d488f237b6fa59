"""Stream batches as the index consumer meets them (collector/index_handler.py), without I/O.

* However a stream's records are delivered (whole, again, bisected into consecutive chunks, a
  chunk redelivered), the pages written list, minute by minute with the latest entry of each
  key, exactly the table's records as they end up: inserts, changes, moves to another minute,
  deletions by hand gone, deletions by TTL left to expire with their page.
* Any JSON an event source could hand over, and any damaged record image, is paged or refused
  with StreamEventError, never another exception.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.index_handler import TTL_IDENTITY, StreamEventError, changes_of_event
from collector.store import pages
from collector.store.dynamodb import encode_item
from collector.store.schema import AUDIT_TABLE, TIME_INDEX_ATTRIBUTES
from tests.reliability.test_fuzz import FUZZ

KEY = AUDIT_TABLE.partition_key
DAYS = ("2026-11-20", "2026-11-21")


def record(key: str, day: str, minute: int, second: int, status: str) -> dict[str, Any]:
    return {
        KEY: key,
        "receivedDay": day,
        "receivedAt": f"{day}T10:{minute:02d}:{second:02d}.000Z",
        "status": status,
        "source": "workmail",
        "direction": "INBOUND",
        "messageId": f"<{key}@example.com>",
        "recipientCount": 1,
        "recipients": ["r@example.com"],
        "expiresAt": 1_800_000_000,
    }


def entry_of(item: dict[str, Any]) -> dict[str, Any]:
    kept = (KEY, "receivedAt", "receivedDay", "expiresAt", *TIME_INDEX_ATTRIBUTES)
    return {k: v for k, v in item.items() if k in kept}


# One operation on key n: put (an insert, or a change: maybe to another minute or day), a
# deletion by hand, or a deletion by TTL.
operations = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.sampled_from(("put", "put", "put", "delete", "ttl")),
        st.sampled_from(DAYS),
        st.integers(0, 2),
        st.integers(0, 59),
        st.sampled_from(("RECORDED", "INVALID")),
    ),
    min_size=1,
    max_size=40,
)


def stream(ops: list[tuple[int, str, str, int, int, str]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The stream records the operations make on a table, in Lambda's JSON, and what the time
    index should list at the end."""
    table: dict[str, dict[str, Any]] = {}
    listed: dict[str, dict[str, Any]] = {}
    expired: set[str] = set()
    out: list[dict[str, Any]] = []
    for sequence, (n, op, day, minute, second, status) in enumerate(ops, start=1):
        key = f"k{n}"
        old = table.get(key)
        if key in expired:
            continue  # expired by TTL: its entry stays listed until its page expires
        ddb: dict[str, Any] = {
            "ApproximateCreationDateTime": 1_700_000_000 + sequence // 3,
            "SequenceNumber": str(4421584500000000017450439091 + sequence),  # as AWS numbers them
            "Keys": {KEY: {"S": key}},
        }
        if op == "put":
            new = record(key, day, minute, second, status)
            ddb["NewImage"] = encode_item(new)
            name = "INSERT" if old is None else "MODIFY"
            table[key] = listed[key] = new
        elif old is None:
            continue  # nothing to delete: no stream record
        else:
            name = "REMOVE"
            del table[key]
            if op == "ttl":
                expired.add(key)
            if op == "delete":
                del listed[key]
        if old is not None:
            ddb["OldImage"] = encode_item(old)
        entry: dict[str, Any] = {"eventName": name, "dynamodb": ddb}
        if op == "ttl":
            entry["userIdentity"] = dict(TTL_IDENTITY)
        out.append(orjson.loads(orjson.dumps(entry)))
    return out, {k: entry_of(v) for k, v in listed.items()}


def listing(written: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    minutes: dict[str, list[dict[str, Any]]] = {}
    for page in written:
        minutes.setdefault(str(page["dayShard"]) + str(page["receivedAt"]), []).extend(pages.expand(page))
    found: dict[str, dict[str, Any]] = {}
    for entries in minutes.values():
        for entry in pages.latest(entries):
            assert entry[KEY] not in found, f"{entry[KEY]} listed twice"
            found[str(entry[KEY])] = entry
    return found


def paged(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    _count, changes = changes_of_event({"Records": copy.deepcopy(records)})
    return pages.build_pages(changes)


@settings(FUZZ, max_examples=200)
@given(operations, st.lists(st.integers(0, 40), max_size=4), st.integers(0, 3))
def test_any_delivery_of_a_stream_lists_the_table_as_it_ends(
    ops: list[tuple[int, str, str, int, int, str]], cuts: list[int], again: int
) -> None:
    records, expected = stream(ops)
    whole = paged(records)
    assert listing(whole) == expected
    bounds = sorted({0, len(records), *(min(c, len(records)) for c in cuts)})
    chunks = [records[a:b] for a, b in itertools.pairwise(bounds)]
    written = [*whole, *(p for chunk in chunks for p in paged(chunk))]
    if chunks:
        written += paged(chunks[again % len(chunks)])  # one chunk delivered once more
    assert listing(written) == expected
    assert {p[KEY] for p in paged(records)} == {p[KEY] for p in whole}  # a retry rewrites its pages


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
attributes = st.one_of(
    st.builds(lambda v: {"S": v}, st.text(max_size=30)),
    st.builds(
        lambda v: {"N": v},
        st.sampled_from(["1", "-2.5", "1e3", "abc", "", "1e125", "9" * 38, "-1e-130", "nan", "Infinity"]),
    ),
    st.builds(lambda v: {"B": v}, st.sampled_from(["AAEqQQ==", "not base64!", ""])),
    st.builds(lambda v: {"SS": v}, st.lists(st.text(max_size=4), max_size=2)),
    st.builds(lambda v: {"NULL": v}, st.booleans()),
    st.builds(lambda v: {"S": "x", "N": v}, st.just("1")),
    json_values,
)


@settings(FUZZ, max_examples=300)
@given(
    st.lists(st.sampled_from((KEY, "receivedDay", "receivedAt", "status", "expiresAt", "sender"))),
    st.lists(attributes, min_size=1, max_size=6),
    st.sampled_from(("INSERT", "MODIFY", "REMOVE", "", None, 3)),
    json_values,
)
def test_a_damaged_record_or_any_json_is_paged_or_refused(
    damaged: list[str], values: list[Any], name: Any, junk: Any
) -> None:
    image = encode_item(record("k1", DAYS[0], 1, 2, "RECORDED"))
    for n, attribute in enumerate(damaged):
        image[attribute] = values[n % len(values)]
    sample = {
        "eventName": name,
        "dynamodb": {
            "ApproximateCreationDateTime": 1_700_000_000.5,
            "SequenceNumber": "12",
            "Keys": {KEY: image.get(KEY)},
            "NewImage": image,
            "OldImage": junk,
        },
    }
    for event in ({"Records": [sample]}, {"Records": [junk]}, junk, {"Records": junk}):
        try:
            _count, changes = changes_of_event(orjson.loads(orjson.dumps(event)))
        except StreamEventError:
            continue
        pages.build_pages(changes)


@pytest.mark.parametrize("event", [{"Records": []}, {"Records": [], "other": 1}])
def test_an_empty_batch_pages_nothing(event: dict[str, Any]) -> None:
    assert changes_of_event(event) == (0, [])
