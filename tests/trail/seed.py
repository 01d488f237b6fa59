"""A store seeded through the real pipeline with every kind of record, spread over four UTC days:
the public WorkMail and SES samples, generated WorkMail events (both directions, truncated), SES
receipts and sending events (sends, deliveries, bounces, complaints), redeliveries of some, and
payloads that are INVALID."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Invocation
from collector.pipeline import Pipeline
from collector.sampling import iter_events
from collector.sampling_ses import iter_ses_events
from collector.store import AuditStore
from tests.public_samples import RECEIPT_SAMPLES, SENDING_SAMPLES, WORKMAIL_SAMPLES, load

FIRST_DAY = datetime(2026, 11, 28, tzinfo=UTC)
DAYS = 4


def events() -> list[object]:
    """The events, in the order they arrive; each arrives once more later (a redelivery) when its
    position is a multiple of 5."""
    out: list[object] = [load(p) for p in (*WORKMAIL_SAMPLES, *RECEIPT_SAMPLES, *SENDING_SAMPLES)]
    out += list(iter_events(count=6, direction="INBOUND", recipients=3, seed=1))
    out += list(iter_events(count=4, direction="OUTBOUND", recipients=2, seed=2))
    out += list(iter_events(count=2, recipients=5, truncated=True, seed=3))
    out += list(iter_ses_events(count=3, event="receipt", verdict="FAIL", seed=4))
    for kind in ("send", "delivery", "bounce", "complaint"):
        out += list(iter_ses_events(count=3, event=kind, recipients=2, via="sns", seed=5))
    out += [{"invocationId": "not-a-real-event", "flowDirection": "INBOUND"}, {"hello": "world"}, [1, 2]]
    return out


def arrival(n: int) -> datetime:
    """Event n's arrival: spread over the days, at a distinct millisecond."""
    return FIRST_DAY + timedelta(days=n % DAYS, minutes=n, milliseconds=n)


async def seed(store: AuditStore, settings: Settings, extra: list[Any] | None = None) -> int:
    """Run the events through the pipeline into the store; returns the number of deliveries."""
    pipeline = Pipeline(store, EmfWriter(settings.namespace, "trail-test", lambda _line: None), settings)
    deliveries = events() + (extra or [])
    for n, raw in enumerate(deliveries):
        await pipeline.process(raw, Invocation(f"req-{n}", "1", arrival(n)))
    for n in range(0, len(deliveries), 5):  # redeliveries, a day later
        again = copy.deepcopy(deliveries[n])
        await pipeline.process(again, Invocation(f"again-{n}", "1", arrival(n) + timedelta(days=1)))
    return len(deliveries)
