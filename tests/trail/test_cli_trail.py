"""`export` and `sql` from the command line: the round trip, the output formats, and every user
mistake in one line with exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from collector.cli import main
from tests.trail.trail import FIRST, LAST, seeded

Capture = pytest.CaptureFixture[str]


def _trail(tmp_path: Path, capsys: Capture) -> Path:
    s = seeded(tmp_path)
    out = tmp_path / "trail"
    assert (
        main(["export", "--db", str(s.path), "--out", str(out), "--since", str(FIRST), "--until", str(LAST)])
        == 0
    )
    said = capsys.readouterr()
    assert said.out.count("records") == 4 and "exported" in said.err  # one file a day
    return out


def test_export_then_sql_in_each_format(tmp_path: Path, capsys: Capture) -> None:
    out = _trail(tmp_path, capsys)
    days = [str(FIRST), str(LAST)]
    assert main(["sql", "--trail", str(out), "daily_volume", *days]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["day", "source", "direction", "messages", "events", "invalid", "recipients"]
    assert main(["sql", "--trail", str(out), "daily_volume", *days, "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(table) - 1 and {r["day"] for r in rows} == {
        str(FIRST),
        "2026-11-29",
        "2026-11-30",
        "2026-12-01",
    }
    assert main(["sql", "--trail", str(out), "message_trace", *days, "x", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("day,received_at,invocation_id,")
    query = "SELECT count(*) AS n FROM workmail_collector.audit_trail WHERE status = ? AND day >= ?"
    assert (
        main(["sql", "--trail", str(out), "--query", query, "INVALID", str(FIRST), "--format", "json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == {"n": 3}
    assert main(["sql", "--list"]) == 0
    assert "daily_volume first_day last_day" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["sql", "--trail", "{out}", "nope"], "no named query 'nope'; known: "),
        (["sql", "--trail", "{out}", "daily_volume", "2026-01-01"], "daily_volume takes 2 parameters"),
        (["sql", "--trail", "{out}", "daily_volume", "2026-01-01", "2026-13-01"], "last_day must be a day"),
        (["sql", "--trail", "{out}/missing", "daily_volume", "2026-01-01", "2026-01-02"], "no trail at "),
        (["sql", "daily_volume", "2026-01-01", "2026-01-02"], "give --trail DIR"),
        (["sql", "--trail", "{out}"], "give a named query"),
        (["sql", "--trail", "{out}", "--query", "SELEC 1"], "DuckDB: Parser Error"),
        (
            ["export", "--db", "{db}", "--out", "{out}", "--since", "2026-12-02", "--until", "2026-12-01"],
            "is after",
        ),
        (["export", "--db", "{db}", "--out", "{out}", "--since", "yesterday"], "--since must be a day"),
        (["export", "--db", "{db}", "--out", "{db}"], "is a file, not a folder"),
        (["export", "--db", "{out}/none.sqlite3", "--out", "{out}"], "no audit database at"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, capsys: Capture, argv: list[str], says: str
) -> None:
    db = tmp_path / "audit.sqlite3"
    db.write_bytes(b"")
    out = tmp_path / "trail"
    out.mkdir()
    assert main([a.format(out=out, db=db) for a in argv]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("module", "argv"),
    [
        ("duckdb", ["sql", "--trail", "{out}", "--query", "SELECT 1"]),
        ("pyarrow", ["export", "--out", "{out}"]),
    ],
)
def test_without_the_trail_extra_says_which_to_install(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, module: str, argv: list[str]
) -> None:
    for name in [
        m
        for m in sys.modules
        if m == module or m.startswith(f"{module}.") or m.startswith("collector.trail.")
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # import fails as when it is not installed
    monkeypatch.setenv("COLLECTOR_SQLITE_PATH", str(tmp_path / "a.sqlite3"))
    assert main([a.format(out=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert f"needs {module}" in err and "workmail-collector[trail]" in err, err


def test_every_option_says_what_it_does() -> None:
    import argparse

    from collector.cli import parser

    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("export", "sql"):
        sub = commands.choices[name]
        undocumented = [a.dest for a in sub._actions if not a.help and "--help" not in a.option_strings]
        assert undocumented == [], (name, undocumented)
