"""Valid WorkMail event summaries, shaped like `sam local generate-event workmail email`."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

SUBJECTS = (
    "Hello From Amazon WorkMail!",
    "Quarterly report",
    "Re: lunch on Friday?",
    "Grüße aus München",
    "会議の議事録",
    "Invoice #4711",
)


def generate_events(
    *,
    count: int = 1,
    direction: str = "INBOUND",
    recipients: int = 2,
    truncated: bool = False,
    layout: str = "envelope",
    id_length: int = 32,
    seed: int | None = None,
    summary_version: str = "2019-07-28",
) -> list[dict[str, Any]]:
    """`iter_events` as a list, for callers that index or add lists (tests, benchmarks)."""
    return list(
        iter_events(
            count=count,
            direction=direction,
            recipients=recipients,
            truncated=truncated,
            layout=layout,
            id_length=id_length,
            seed=seed,
            summary_version=summary_version,
        )
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
