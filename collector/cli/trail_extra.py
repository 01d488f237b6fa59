"""The one message for a command that needs the optional `trail` extra when it is not installed."""

from __future__ import annotations

from collector.cli.common import UserError

TRAIL_MODULES = ("pyarrow", "duckdb")


def missing_extra(error: ImportError, command: str) -> UserError | None:
    """A UserError naming the extra when `error` is pyarrow or duckdb missing; None otherwise."""
    name = (error.name or "").split(".")[0]
    if name not in TRAIL_MODULES:
        return None
    return UserError(
        f"{command} needs {name}, from the optional extra `trail`: pip install 'workmail-collector[trail]'"
        " (or `pip install -e '.[trail]'` in a checkout)"
    )
