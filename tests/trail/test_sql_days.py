"""`sql` takes a named query's days as YYYY-MM-DD only: another form `date.fromisoformat` reads (an
ISO week date, a basic date) would match no partition and print nothing, silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli import main


@pytest.mark.parametrize(
    "day",
    [
        "2026-W49-1",
        "2026W491",
        "20261206",
        "2026-12-6",
        "2026-12-06 ",
        "2026-12-06\n",
        "\uff12\uff10\uff12\uff16-12-06",
    ],
)
def test_a_day_in_another_iso_form_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], day: str
) -> None:
    assert main(["sql", "--trail", str(tmp_path), "daily_volume", "2026-12-01", day]) == 2
    err = capsys.readouterr().err
    assert "last_day must be a day written YYYY-MM-DD" in err and len(err.strip().splitlines()) == 1, err
