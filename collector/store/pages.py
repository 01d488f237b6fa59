"""Index pages: the time index written in bulk from the table's stream, not once per record.

A record written by the collector in stream mode (COLLECTOR_TIME_INDEX=stream, the stack's default)
carries no `dayShard`, so it does not appear in the time index and costs one write unit, not two.
The index consumer (collector/index_handler.py) reads the table's stream and writes, for each
(dayShard, minute of receivedAt) a batch touches, page items: one table item holding many entries,
compressed, that the time index lists like a record (its `dayShard`, and its minute as receivedAt).
An entry is what the index holds of one record (the key, receivedAt and TIME_INDEX_ATTRIBUTES), or
a tombstone for a record deleted by hand (purge-invalid); TTL deletions are not paged, as the
per-record index does not list them once gone either.

Why pages are correct to read:
- A page holds one minute of one shard, so a reader that has passed a minute in the index's order
  has every entry of it (pages of a minute sort before, or descending after, its records, see
  MINUTE); readers sort and dedupe within a minute.
- A stream record may reach the consumer more than once (retries, bisected batches): a page's key
  is the hash of its content, so a retried batch rewrites the same pages, and a regrouped one
  writes entries twice, which readers dedupe by record key, the latest version winning.
- A record changed after its insert (replace_invalid) gets a newer entry; its version is the stream
  record's (ApproximateCreationDateTime, SequenceNumber): a key's changes share one stream shard, in
  order.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from collector.model import Item
from collector.store.schema import AUDIT_TABLE, SHARD_ATTRIBUTE, TIME_INDEX_ATTRIBUTES, day_shard

PAGE_PREFIX = "page#"
ENTRIES = "entries"  # the page's compressed entries (Binary)
ENTRY_COUNT = "entryCount"
# An entry's [ApproximateCreationDateTime in ms, SequenceNumber as a decimal string]: DynamoDB's
# sequence numbers run to 40 digits, beyond the 64-bit integers of a page's JSON.
VERSION = "_version"
GONE = "_gone"  # a tombstone: the record was deleted
# The minute a page covers, as its time-index sort key: "YYYY-MM-DDTHH:MM" sorts just before every
# receivedAt of that minute ("YYYY-MM-DDTHH:MM:SS.mmmZ") and after every earlier one.
MINUTE = 16
# A page stays well under DynamoDB's 400 KB item limit; write units follow its size (1 KB each).
MAX_PAGE_BYTES = 256 * 1024
MAX_PAGE_ENTRIES = 5000
COMPRESSION_LEVEL = 6
KEY = AUDIT_TABLE.partition_key


def is_page(item: Mapping[str, Any]) -> bool:
    key = item.get(KEY)
    return isinstance(key, str) and key.startswith(PAGE_PREFIX)


def minute_of(received_at: str) -> str:
    return received_at[:MINUTE]


@dataclass(frozen=True)
class Change:
    """What one stream record means to the time index: an entry to add, or a tombstone."""

    key: str
    day: str  # the record's receivedDay
    received_at: str
    attributes: Mapping[str, Any]  # the TIME_INDEX_ATTRIBUTES the record has
    version: tuple[int, int]
    gone: bool = False
    expires_at: int | None = None

    def entry(self) -> dict[str, Any]:
        stamp = [self.version[0], str(self.version[1])]
        entry: dict[str, Any] = {KEY: self.key, "receivedAt": self.received_at, VERSION: stamp}
        if self.gone:
            entry[GONE] = True
        else:
            entry.update(self.attributes)
        if self.expires_at is not None:
            entry[AUDIT_TABLE.ttl_attribute] = self.expires_at
        return entry


def _indexed(image: Mapping[str, Any] | None) -> tuple[str, str, str, dict[str, Any]] | None:
    """(key, receivedDay, receivedAt, index attributes) of a record image; None for anything else
    (a page, a marker, an item with no receivedAt)."""
    if not image or is_page(image):
        return None
    key, day, at = image.get(KEY), image.get("receivedDay"), image.get("receivedAt")
    if not (isinstance(key, str) and isinstance(day, str) and isinstance(at, str)):
        return None
    return key, day, at, {a: image[a] for a in TIME_INDEX_ATTRIBUTES if image.get(a) is not None}


def _expiry(image: Mapping[str, Any]) -> int | None:
    value = image.get(AUDIT_TABLE.ttl_attribute)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def changes_of(
    event_name: str,
    new_image: Mapping[str, Any] | None,
    old_image: Mapping[str, Any] | None,
    version: tuple[int, int],
    *,
    by_ttl: bool = False,
) -> list[Change]:
    """The index changes one stream record makes (images decoded): none when the index would not
    change (an item that is not a record, a MODIFY that leaves receivedAt, the index attributes
    and the record's own index item as they were, a deletion by TTL); a tombstone at the old
    place as well when a MODIFY moves the record to another minute, so its old minute no longer
    lists it (within one minute the new entry replaces the old one there: a tombstone of the same
    version would hide it)."""
    old = _indexed(old_image)
    if event_name == "REMOVE":
        if old is None or by_ttl:
            return []
        key, day, at, _ = old
        return [Change(key, day, at, {}, version, gone=True, expires_at=_expiry(old_image or {}))]
    new = _indexed(new_image)
    if new is None:
        return []
    key, day, at, attributes = new
    entry = Change(key, day, at, attributes, version, expires_at=_expiry(new_image or {}))
    if event_name != "MODIFY" or old is None:
        return [entry]
    # A record that loses its own index item (`dayShard`: written in record mode, replaced in stream
    # mode) is listed only by its entry from now on, even if nothing the index holds changed.
    left_index = bool((old_image or {}).get(SHARD_ATTRIBUTE)) and not (new_image or {}).get(SHARD_ATTRIBUTE)
    if old[1:] == new[1:] and _expiry(old_image or {}) == _expiry(new_image or {}) and not left_index:
        return []
    if day_shard(old[1], key) == day_shard(day, key) and minute_of(old[2]) == minute_of(at):
        return [entry]
    moved = Change(old[0], old[1], old[2], {}, version, gone=True, expires_at=_expiry(old_image or {}))
    return [moved, entry]


def _pack(entries: list[dict[str, Any]]) -> bytes:
    return zlib.compress(orjson.dumps(entries), COMPRESSION_LEVEL)


def _chunks(entries: list[dict[str, Any]]) -> Iterator[tuple[list[dict[str, Any]], bytes]]:
    """Entries split so that each page's compressed payload fits MAX_PAGE_BYTES."""
    for start in range(0, len(entries), MAX_PAGE_ENTRIES):
        pending = [entries[start : start + MAX_PAGE_ENTRIES]]
        while pending:
            chunk = pending.pop(0)
            payload = _pack(chunk)
            if len(payload) <= MAX_PAGE_BYTES or len(chunk) == 1:
                yield chunk, payload
            else:
                half = len(chunk) // 2
                pending[:0] = [chunk[:half], chunk[half:]]


def build_pages(changes: Iterable[Change]) -> list[Item]:
    """Page items for a batch of changes, one or more per (dayShard, minute), each keyed by the
    hash of its content so that writing the same batch again writes the same items."""
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        place = (day_shard(change.day, change.key), minute_of(change.received_at))
        groups.setdefault(place, []).append(change)
    pages: list[Item] = []
    for (shard, minute), group in sorted(groups.items()):
        ordered = sorted(group, key=lambda c: (c.received_at, c.key, c.version))
        for chunk, payload in _chunks([c.entry() for c in ordered]):
            digest = hashlib.sha256(payload).hexdigest()[:32]
            page: Item = {
                KEY: f"{PAGE_PREFIX}{shard}#{minute}#{digest}",
                SHARD_ATTRIBUTE: shard,
                "receivedAt": minute,
                ENTRIES: payload,
                ENTRY_COUNT: len(chunk),
            }
            expiries = [e.get(AUDIT_TABLE.ttl_attribute) for e in chunk]
            if all(isinstance(e, int) for e in expiries):
                page[AUDIT_TABLE.ttl_attribute] = max(int(e) for e in expiries if isinstance(e, int))
            pages.append(page)
    return pages


def expand(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A page's entries as the index would list them (the shard's day as receivedDay), versions and
    tombstones kept for `latest`."""
    payload = page[ENTRIES]
    day = str(page[SHARD_ATTRIBUTE]).split("#", 1)[0]
    entries: list[dict[str, Any]] = orjson.loads(zlib.decompress(bytes(payload)))
    for entry in entries:
        entry["receivedDay"] = day
    return entries


def latest(items: Iterable[Mapping[str, Any]], now: float | None = None) -> list[dict[str, Any]]:
    """One item per record key; tombstoned keys are dropped. The order is the input's, at each
    key's first place.

    A record's own index item (it has no version) wins over any page entry for its key: the index
    keeps it in step with the record, while an entry may be stale (a change whose batch failed and
    was repaired, a CLI write in record mode). Otherwise the newest version wins. With `now`
    (seconds since the epoch), page entries whose record expired by then are left out, tombstones
    too: a tombstone and the entry it hides expire together, but TTL deletes their pages in any
    order, and a hidden entry must not come back in between."""
    best: dict[str, dict[str, Any]] = {}
    for item in items:
        if now is not None and VERSION in item and _expired(item, now):
            continue
        key = str(item[KEY])
        seen = best.get(key)
        if seen is None or _rank(item) >= _rank(seen):
            best[key] = dict(item)
    kept = (item for item in best.values() if not item.get(GONE))
    return [{k: v for k, v in item.items() if k not in (VERSION, GONE)} for item in kept]


def _expired(entry: Mapping[str, Any], now: float) -> bool:
    expires = entry.get(AUDIT_TABLE.ttl_attribute)
    return isinstance(expires, int | float) and not isinstance(expires, bool) and expires <= now


def _rank(item: Mapping[str, Any]) -> tuple[bool, tuple[int, int]]:
    """Own index items first, then page entries by version."""
    return VERSION not in item, _version(item)


def _version(item: Mapping[str, Any]) -> tuple[int, int]:
    version = item.get(VERSION)
    if isinstance(version, list | tuple) and len(version) == 2:
        return int(version[0]), int(version[1])
    return (-1, -1)
