"""A day is written YYYY-MM-DD, exactly, everywhere one is typed: `date.fromisoformat` alone also
reads an ISO week date and a basic date, which name no partition, ledger key or day meant."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from collector.cli import main
from collector.clock import parse_day
from collector.config import ConfigError
from collector.reconcile_handler import run

NOT_DAYS = [
    "2026-W10-1",
    "2026W101",
    "20260310",
    "2026-03-1",
    "2026-3-10",
    " 2026-03-10",
    "2026-02-30",
    "2026-13-01",
]


def test_a_day_is_read_as_written() -> None:
    assert parse_day("2026-03-10") == date(2026, 3, 10)


@pytest.mark.parametrize("text", NOT_DAYS)
def test_other_forms_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_day(text)


@pytest.mark.parametrize("text", ["2026-W10-1", "20260310"])
def test_the_scheduled_reconcile_refuses_another_form_of_day(text: str) -> None:
    with pytest.raises(ConfigError, match="event day must be YYYY-MM-DD"):
        asyncio.run(run({"day": text}, {}, datetime(2026, 3, 12, tzinfo=UTC)))


@pytest.mark.parametrize("command", ["reconcile", "export"])
@pytest.mark.parametrize("text", ["2026-W10-1", "20260310"])
def test_the_commands_refuse_another_form_of_day(
    command: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--out", str(tmp_path / "out")] if command == "export" else []
    code = main([command, "--since", text, "--db", str(tmp_path / "none.sqlite3"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--since must be a day, YYYY-MM-DD" in err[0], err
