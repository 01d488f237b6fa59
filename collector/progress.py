"""A one-line progress bar on a terminal, for replays of large inputs; silent everywhere else."""

from __future__ import annotations

import time
from typing import TextIO

MIN_BYTES_FOR_BAR = 256 * 1024
REDRAW_SECONDS = 0.1


class Progress:
    def __init__(self, stream: TextIO, *, enabled: bool, width: int = 30) -> None:
        self._stream = stream
        self._enabled = enabled
        self._width = width
        self._total = 0
        self._done = 0
        self._events = 0
        self._drawn_at = 0.0
        self._visible = False

    def start(self, total_bytes: int | None) -> None:
        """`None`: the size is unknown (a pipe); the bar then counts events only."""
        self._total = total_bytes or 0
        if total_bytes is not None and total_bytes < MIN_BYTES_FOR_BAR:
            self._enabled = False

    def advance(self, nbytes: int) -> None:
        self._done = min(self._total, self._done + nbytes) if self._total else self._done + nbytes

    def count(self) -> None:
        self._events += 1
        now = time.monotonic()
        if self._enabled and now - self._drawn_at >= REDRAW_SECONDS:
            self._drawn_at = now
            self._draw()

    def _draw(self) -> None:
        if self._total:
            share = self._done / self._total
            filled = int(share * self._width)
            bar = "#" * filled + "-" * (self._width - filled)
            line = f"\r[{bar}] {share:6.1%}  {self._events} events"
        else:
            line = f"\r{self._events} events"
        self._stream.write(line)
        self._stream.flush()
        self._visible = True

    def close(self) -> None:
        if self._visible:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()
