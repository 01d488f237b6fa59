"""The command line in-process, as a shell would run it once: for tests of its exit codes and lines."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from collector.cli import main


def cli(*args: str) -> int:
    """`workmail-collector ARGS` in-process: the exit code, argparse's own exit included."""
    try:
        return main(list(args))
    except SystemExit as done:
        return int(done.code or 0)


@pytest.fixture
def restore_environ() -> Iterator[None]:
    """Commands set endpoint variables for the SDK (as a shell's one run would): undo them."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
