"""`trace --trail DIR`: the exported trail searched with the store, through the trail's own named
queries on DuckDB; a record in both shown once, paging over both shows every record once."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest

from collector.cli import main
from collector.config import Settings
from collector.store.sqlite import SqliteStore
from collector.trail.export import FolderSink, export
from tests.conftest import Backend, run
from tests.trace_support import HOSTILE_SUBJECT, Elements, now, record, workmail_event


def _export(db: Path, out: Path, days: int) -> None:
    async def go() -> None:
        store = SqliteStore(db, read_only=True)
        try:
            await export(store, FolderSink(out), (now() - timedelta(days=days)).date(), now().date())
        finally:
            await store.close()

    run(go())


def _trace(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["trace", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_trail_and_the_store_answer_together_each_record_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = (
        Backend(n, Settings(store="sqlite", sqlite_path=tmp_path / f"{n}.sqlite3")) for n in ("old", "new")
    )
    ago = now() - timedelta(days=100)
    run(
        record(
            old,
            [
                (workmail_event(n, sender="s@example.com", subject=HOSTILE_SUBJECT), ago + timedelta(hours=n))
                for n in range(3)
            ],
        )
    )
    run(
        record(
            new,
            [
                (workmail_event(10 + n, sender="s@example.com"), now() - timedelta(minutes=n + 1))
                for n in range(2)
            ],
        )
    )
    trail = tmp_path / "trail"
    _export(old.settings.sqlite_path, trail, 120)
    _export(new.settings.sqlite_path, trail, 1)  # the store's records are in the trail too

    db = ["--db", str(new.settings.sqlite_path), "--trail", str(trail)]
    keys: list[str] = []
    token: list[str] = []
    for _ in range(5):
        code, out, err = _trace(
            ["--sender", "s@example.com", "--format", "csv", "--limit", "2", *db, *token], capsys
        )
        assert code == 0
        keys += [row["invocationId"] for row in csv.DictReader(io.StringIO(out))]
        if "--page-token" not in err:
            break
        token = ["--page-token", err.rsplit("--page-token ", 1)[1].strip(" )\n")]
    assert sorted(keys) == sorted(f"{n:032x}" for n in (0, 1, 2, 10, 11))

    code, out, _ = _trace(["--message-id", "msg-0001", "--html", *db], capsys)
    found = Elements(out)
    assert code == 0 and "script" not in found.tags() and '<script>alert("x")</script>' in found.shown()
    code, out, _ = _trace(["--recipient", "one@example.com", *db], capsys)
    assert code == 0 and "5 records" in out
    code, out, _ = _trace(["--sender", "s@example.com", "--db", str(new.settings.sqlite_path)], capsys)
    assert code == 0 and "2 records" in out  # without the trail: the store's only


def test_a_trail_that_is_no_folder_is_the_users_mistake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _trace(
        ["--sender", "s@example.com", "--db", str(tmp_path / "x.sqlite3"), "--trail", str(tmp_path / "none")],
        capsys,
    )
    assert code == 2 and out == "" and "is not a folder" in err and err.count("\n") == 1
