"""Event sources: each turns a raw payload into a MailEvent or an Invalid, and nothing else."""

from __future__ import annotations

from typing import Protocol

from collector.model import Invalid, MailEvent


class EventSource(Protocol):
    """The seam a new source (SES receipt rules, SES Mail Manager) plugs into."""

    def __call__(self, raw: object) -> MailEvent | Invalid: ...
