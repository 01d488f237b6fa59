"""`generate-event` makes events one at a time: any count in flat memory, and `| head` stops it."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable

import orjson
import pytest

from collector.sampling import generate_events, iter_events
from collector.sampling_ses import generate_ses_events, iter_ses_events
from tests.conftest import ROOT
from tests.test_cli import SCRIPT


def test_events_are_made_one_at_a_time() -> None:
    first = list(itertools.islice(iter_events(count=10**12, seed=5), 3))
    assert first == generate_events(count=3, seed=5)
    assert len({e["invocationId"] for e in first}) == 3


@pytest.mark.parametrize(
    ("options", "first"),
    [([], lambda: generate_events(seed=1)[0]), (["--source", "ses"], lambda: generate_ses_events(seed=1)[0])],
    ids=["workmail", "ses"],
)
def test_a_reader_that_stops_early_ends_generation_quietly(
    options: list[str], first: Callable[[], object]
) -> None:
    with subprocess.Popen(
        [str(SCRIPT), "generate-event", *options, "-n", str(10**9), "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        process.stdout.close()
        assert process.wait(timeout=60) == 0
        assert process.stderr.read() == b""
    assert orjson.loads(line) == first()


def test_ses_events_are_made_one_at_a_time_too() -> None:
    """SES's generator streamed too (it built the whole list: 875 MB for 200,000 events)."""
    first = list(itertools.islice(iter_ses_events(count=10**12, event="delivery", via="sns", seed=5), 3))
    assert first == generate_ses_events(count=3, event="delivery", via="sns", seed=5)
    with pytest.raises(ValueError, match="via applies to sending events only"):
        iter_ses_events(via="sns")  # a mistake raises at the call, before any event is asked for
