"""Valid WorkMail event summaries, shaped like `sam local generate-event workmail email`."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

SUBJECTS = (
    "Hello From Amazon WorkMail!",
    "Quarterly report",
    "Re: lunch on Friday?",
    "Grüße aus München",
    "会議の議事録",
    "Invoice #4711",
)


def iter_events(
    *,
    count: int = 1,
    direction: str = "INBOUND",
    recipients: int = 2,
    truncated: bool = False,
    layout: str = "envelope",
    id_length: int = 32,
    seed: int | None = None,
    summary_version: str = "2019-07-28",
) -> Iterator[dict[str, Any]]:
    """`count` events with unique invocationIds (hex, 32 or 40 characters as WorkMail sends), one at
    a time: `generate-event -n 300000` writes them as they are made, in flat memory."""
    rng = random.Random(seed)
    for _ in range(count):
        sender = f"user{rng.randrange(1000)}@example.com"
        addresses = [{"address": f"recipient{i + 1}@example.org"} for i in range(recipients)]
        if direction == "OUTBOUND":
            sender = f"user{rng.randrange(1000)}@example.org"
            addresses = [{"address": f"contact{i + 1}@example.com"} for i in range(recipients)]
        message_id = "-".join(f"{rng.getrandbits(bits):0{bits // 4}x}" for bits in (32, 16, 16, 16, 48))
        envelope = {"mailFrom": {"address": sender}, "recipients": addresses}
        event: dict[str, Any] = {"summaryVersion": summary_version}
        if layout == "envelope":
            event["envelope"] = envelope
        else:
            event.update(envelope)
        event.update(
            sender={"address": sender},
            subject=rng.choice(SUBJECTS),
            messageId=message_id,
            invocationId=f"{rng.getrandbits(id_length * 4):0{id_length}x}",
            flowDirection=direction,
            truncated=truncated,
        )
        yield event


def listed(generate: Callable[P, Iterator[T]]) -> Callable[P, list[T]]:
    """A generator of events as a function returning the list, with the same typed arguments."""

    def as_list(*args: P.args, **kwargs: P.kwargs) -> list[T]:
        return list(generate(*args, **kwargs))

    return as_list


# `iter_events` as a list, for callers that index or add lists (tests, benchmarks).
generate_events = listed(iter_events)
