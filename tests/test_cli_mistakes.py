"""User mistakes found past argument parsing (a time range, a number too large for a date or a
database, an endpoint, a path) end as one line on stderr and exit code 2, never an exception's name."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from collector.store.sqlite import SqliteStore
from tests.cli_support import cli, restore_environ  # noqa: F401  (the fixture)
from tests.conftest import run

EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception)\b")


pytestmark = pytest.mark.usefixtures("restore_environ")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """An audit database that exists, with nothing in it."""
    path = tmp_path / "audit.sqlite3"
    run(SqliteStore(path).close())
    return path


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ("audit", "list", "--since", "9999-12-31T23:59:59+00:00"),
            {},
            "--since 9999-12-31T23:59:59+00:00 is in the future",
        ),
        (
            ("audit", "query", "--since", "9999-01-01", "--until", "9999-12-31"),
            {},
            "--since 9999-01-01 is in the future",
        ),
        (("audit", "list", "--days", "1000000000"), {}, "argument --days: must be at most 3659"),
        (("audit", "list", "--limit", "99999999999999999999"), {}, "argument --limit: must be at most"),
        (("audit", "query", "--until", "0001-01-01"), {}, "--until 0001-01-01 leaves no room"),
        (("audit", "query", "--message-id", "m", "--until", "0001-01-03"), {}, "--until 0001-01-03"),
        (("audit", "list", "--until", "0001-01-05"), {}, "--until 0001-01-05 leaves no room"),
        (
            ("audit", "list", "--until", "9999-12-31T23:00:00-05:00"),
            {},
            "--until 9999-12-31T23:00:00-05:00 is outside the years 1 to 9999",
        ),
        (
            ("audit", "list", "--store", "dynamodb", "--since", "2000-01-01T00:00:00Z"),
            {},
            "the range spans more than 3660 days",
        ),
        (
            ("audit", "list"),
            {"COLLECTOR_SQLITE_PATH": "~no-such-user-here/x.sqlite3"},
            "COLLECTOR_SQLITE_PATH",
        ),
        (("reconcile", "--days", "100000000"), {}, "--days must be at least 1 and at most 455"),
        (
            ("reconcile", "--cloudwatch-endpoint-url", "notaurl"),
            {},
            "--cloudwatch-endpoint-url must be an endpoint URL",
        ),
        (("reconcile",), {"AWS_ENDPOINT_URL_CLOUDWATCH": "notaurl"}, "AWS_ENDPOINT_URL_CLOUDWATCH must be"),
        (("reconcile", "--min-coverage", "nan"), {}, "--min-coverage must be a percentage"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2(
    db: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLLECTOR_SQLITE_PATH", str(db))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = sorted(p.name for p in db.parent.iterdir())
    assert cli(*args) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and not EXCEPTION_NAME.search(err)
    assert sorted(p.name for p in db.parent.iterdir()) == before


def test_a_database_inside_a_file_is_the_paths_mistake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "ev.jsonl"
    assert cli("generate-event", "--jsonl") == 0
    events.write_text(capsys.readouterr().out)
    for db in (events / "x.sqlite3", events / "deeper" / "x.sqlite3"):
        assert cli("replay", str(events), "--db", str(db), "--quiet") == 2
        err = capsys.readouterr().err
        assert f"cannot create the folder {events}" in err and "--db or COLLECTOR_SQLITE_PATH" in err
        assert len(err.strip().splitlines()) == 1 and not EXCEPTION_NAME.search(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev.jsonl"]


def test_an_unreachable_cloudwatch_names_its_own_setting(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    assert cli("reconcile", "--db", str(db), "--cloudwatch-endpoint-url", url) == 1
    err = capsys.readouterr().err
    assert f"cannot reach {url}" in err
    assert "(--cloudwatch-endpoint-url or AWS_ENDPOINT_URL_CLOUDWATCH)" in err
    assert "DYNAMODB" not in err and len(err.strip().splitlines()) == 1
