"""Read commands leave a SQLite audit database exactly as they found it: the database file, its
write-ahead log and its index keep their names, bytes and times, whatever state a writer left."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from collector.cli import main
from collector.store import StoreNotFound
from collector.store import sqlite as sqlite_module
from collector.store.sqlite import SqliteStore
from tests.conftest import ROOT, run

# A writer in its own process: writes records, then closes the store, or dies before any checkpoint
# (os._exit skips every close), leaving its -wal and -shm as a crash or a kill -9 would.
WRITER = """
import asyncio, os, sys
from collector.store.sqlite import SqliteStore

async def write() -> None:
    store = SqliteStore(sys.argv[1])
    for key in sys.argv[3:]:
        await store.put_once({
            "invocationId": key, "messageId": "m-" + key, "status": "RECORDED",
            "receivedAt": "2020-01-01T10:00:00.000Z", "receivedDay": "2020-01-01",
        })
    if sys.argv[2] == "crash":
        os._exit(0)
    await store.close()

asyncio.run(write())
"""

RANGE = ("--since", "2020-01-01T00:00:00Z", "--until", "2020-01-02T00:00:00Z")


def write(path: Path, how: str, *keys: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", WRITER, str(path), how, *keys], check=True, env=env, timeout=60)


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file's size, modification time and content hash, by name."""
    return {
        p.name: (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.iterdir())
    }


def read_everything(db: Path, capsys: pytest.CaptureFixture[str]) -> set[str]:
    """The invocationIds each read command shows: `audit list`, `audit query` and `audit get`."""
    seen: set[str] = set()
    assert main(["audit", "list", "--db", str(db), "--json", *RANGE]) == 0
    seen |= {orjson.loads(line)["invocationId"] for line in capsys.readouterr().out.splitlines()}
    for key in ("committed", "in-the-log"):
        assert main(["audit", "query", "--db", str(db), "--json", "--message-id", f"m-{key}", *RANGE]) == 0
        seen |= {orjson.loads(line)["invocationId"] for line in capsys.readouterr().out.splitlines()}
        if main(["audit", "get", "--db", str(db), "--json", key]) == 0:
            seen.add(orjson.loads(capsys.readouterr().out)["invocationId"])
    return seen


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "db"
    home.mkdir()
    yield home


def test_reads_after_a_writer_died_see_its_log_and_change_no_file(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = folder / "crash.sqlite"
    write(db, "close", "committed")
    write(db, "crash", "in-the-log")
    assert {p.name for p in folder.iterdir()} == {"crash.sqlite", "crash.sqlite-wal", "crash.sqlite-shm"}
    before = snapshot(folder)

    assert read_everything(db, capsys) == {"committed", "in-the-log"}
    assert snapshot(folder) == before  # no checkpoint into the database, -wal and -shm untouched


def test_reads_of_a_closed_database_leave_no_log_behind(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = folder / "closed.sqlite"
    write(db, "close", "committed", "in-the-log")
    before = snapshot(folder)
    assert list(before) == ["closed.sqlite"]

    assert read_everything(db, capsys) == {"committed", "in-the-log"}
    assert snapshot(folder) == before


def test_reads_see_what_a_running_writer_committed(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = folder / "live.sqlite"
    write(db, "close", "committed")
    writer = SqliteStore(db)  # open for the whole test, like a replay in progress
    try:
        run(
            writer.put_once(
                {
                    "invocationId": "in-the-log",
                    "messageId": "m-in-the-log",
                    "receivedAt": "2020-01-01T11:00:00.000Z",
                    "receivedDay": "2020-01-01",
                }
            )
        )
        assert read_everything(db, capsys) == {"committed", "in-the-log"}
    finally:
        run(writer.close())


def test_a_log_without_its_index_is_refused_and_left_alone(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = folder / "copied.sqlite"
    write(db, "crash", "in-the-log")
    (folder / "copied.sqlite-shm").unlink()  # as when only the database and its -wal were copied
    before = snapshot(folder)

    assert main(["audit", "list", "--db", str(db), *RANGE]) == 2
    err = capsys.readouterr().err
    assert "copied.sqlite-wal" in err and "wal_checkpoint" in err and len(err.strip().splitlines()) == 1
    assert snapshot(folder) == before


def test_a_log_gone_between_the_look_and_the_read_is_read_again_without_it(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer closes (removing its log) right after the reader saw the log: the read-only open
    then finds no log, fails and leaves an empty one; the reader opens again as for a closed file,
    which removes that empty log again."""
    db = folder / "race.sqlite"
    write(db, "close", "committed")
    before = snapshot(folder)
    connect = sqlite_module._connect_unchanged
    calls: list[Path] = []

    def seen_a_log_first(path: Path) -> tuple[sqlite3.Connection, bool]:
        calls.append(path)
        if len(calls) == 1:
            uri = f"file:{path.resolve()}?mode=ro&readonly_shm=1"
            return sqlite3.connect(uri, uri=True, timeout=30), False
        return connect(path)

    monkeypatch.setattr(sqlite_module, "_connect_unchanged", seen_a_log_first)
    assert main(["audit", "list", "--db", str(db), "--json", *RANGE]) == 0
    listed = [orjson.loads(line)["invocationId"] for line in capsys.readouterr().out.splitlines()]
    assert listed == ["committed"]
    assert len(calls) == 2
    assert snapshot(folder) == before


def test_an_empty_file_is_no_audit_database_and_keeps_a_log_beside_it(folder: Path) -> None:
    """SQLite deletes the -wal of an empty database file when it opens it."""
    db = folder / "empty.sqlite"
    db.touch()
    (folder / "empty.sqlite-wal").write_bytes(b"\0" * 64)
    before = snapshot(folder)
    with pytest.raises(StoreNotFound, match="no audit table"):
        SqliteStore(db, read_only=True)
    assert snapshot(folder) == before
