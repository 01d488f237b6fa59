"""Flags that were silently ignored or did more than asked: each is one line on stderr and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import cli, restore_environ  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("restore_environ")


@pytest.fixture
def events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "events.jsonl"
    assert cli("generate-event", "-n", "2", "--seed", "1") == 0
    path.write_text(capsys.readouterr().out)
    return path


# ------------------------------------------------------------------------------------ --db's folder


def test_an_explicit_db_in_a_missing_folder_is_refused_not_created(
    tmp_path: Path, events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "ouptut" / "audit.sqlite3"
    assert cli("replay", str(events), "--db", str(typo), "--quiet") == 2
    err = capsys.readouterr().err
    assert f"the folder {typo.parent} does not exist" in err and len(err.strip().splitlines()) == 1
    assert not typo.parent.exists()


def test_an_explicit_db_in_an_existing_folder_is_created(
    tmp_path: Path, events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.sqlite3"
    assert cli("replay", str(events), "--db", str(db), "--quiet") == 0
    assert db.is_file()


def test_the_default_database_folder_is_still_made(
    tmp_path: Path, events: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COLLECTOR_SQLITE_PATH", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert cli("replay", str(events), "--quiet") == 0
    assert (tmp_path / "data" / "workmail-collector" / "audit.sqlite3").is_file()


# ------------------------------------------------------------------- generate-event's source flags


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--ses-event", "bounce"], "--ses-event"),
        (["--via", "sns"], "--via"),
        (["--verdict", "FAIL"], "--verdict"),
        (["--source", "workmail", "--verdict", "PASS"], "--verdict"),
        (["--source", "ses", "--layout", "flat"], "--layout"),
        (["--source", "ses", "--layout", "envelope"], "--layout"),
        (["--source", "ses", "--truncated"], "--truncated"),
        (["--source", "ses", "--direction", "OUTBOUND"], "--direction"),
        (["--source", "ses", "--id-length", "40"], "--id-length"),
        (["--source", "ses", "--ses-event", "delivery", "--verdict", "FAIL"], "--verdict"),
    ],
)
def test_a_flag_of_the_other_source_is_refused(
    args: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("generate-event", *args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and flag in captured.err and len(captured.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--direction", "OUTBOUND", "--layout", "flat", "--truncated", "--id-length", "40"],
        ["--source", "ses"],
        ["--source", "ses", "--verdict", "GRAY"],
        ["--source", "ses", "--ses-event", "bounce", "--via", "eventbridge"],
        ["--source", "ses", "--recipients", "3", "-n", "2", "--seed", "4"],
    ],
)
def test_flags_of_the_chosen_source_are_taken(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("generate-event", *args) == 0
    assert capsys.readouterr().out.strip()


def test_the_help_mentions_ses(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["generate-event", "--help"]):
        assert cli(*args) == 0
        out = capsys.readouterr().out
        assert "SES" in out.split("positional arguments")[0].split("options:")[0], out
