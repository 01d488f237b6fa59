"""Plain values that travel through the pipeline. No I/O lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

Item = dict[str, Any]  # one audit record as stored: plain JSON types, DynamoDB attribute names
# The key space of quarantined (INVALID) records; no valid event's key may begin with it.
QUARANTINE_KEY_PREFIX = "invalid:sha256:"


class Direction(StrEnum):
    """Flow direction as WorkMail reports it; anything else is kept as UNKNOWN, never dropped."""

    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"
    UNKNOWN = "UNKNOWN"


class Source(StrEnum):
    """The mail service an event came from; also the value of the EMF `Source` dimension."""

    WORKMAIL = "WorkMail"
    SES = "SES"


class EventType(StrEnum):
    """What an SES event reports (WorkMail events have none: each one is a message).

    Only RECEIVED (an SES receipt) and SEND (a message SES accepted for sending) are messages;
    the others are facts about a message already counted, recorded with their own metrics."""

    RECEIVED = "Received"
    SEND = "Send"
    DELIVERY = "Delivery"
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    REJECT = "Reject"
    DELIVERY_DELAY = "DeliveryDelay"
    OPEN = "Open"
    CLICK = "Click"
    RENDERING_FAILURE = "RenderingFailure"
    SUBSCRIPTION = "Subscription"

    @property
    def is_message(self) -> bool:
        return self in (EventType.RECEIVED, EventType.SEND)


class Status(StrEnum):
    """What happened to one delivery of an event."""

    RECORDED = "RECORDED"  # first delivery of a valid event: stored and counted
    DUPLICATE = "DUPLICATE"  # redelivery with the same content: counted as a duplicate only
    CONFLICT = "CONFLICT"  # same key, different content: kept as first stored, flagged
    QUARANTINED = "QUARANTINED"  # first delivery of an invalid event: stored with its reason
    QUARANTINED_DUPLICATE = "QUARANTINED_DUPLICATE"  # redelivery of an already quarantined event


@dataclass(frozen=True)
class Undecodable:
    """Input that never became JSON (a broken line in a replay file); kept so it can be quarantined."""

    text: str
    error: str


@dataclass(frozen=True)
class MailEvent:
    """One valid email-flow event, normalised but not yet redacted."""

    dedupe_key: str
    key_synthesized: bool
    fingerprint: str
    message_id: str
    direction: Direction
    raw_direction: str | None
    mail_from: str | None
    sender: str | None
    recipients: tuple[str, ...]
    subject: str | None
    truncated: bool
    summary_version: str | None
    layout: str
    extra: dict[str, Any] = field(default_factory=dict)
    source: Source = Source.WORKMAIL
    event_type: EventType | None = None  # None: a WorkMail event (always a message)
    # SES verdicts as sent (spf, dkim, dmarc, spam, virus: PASS, FAIL, GRAY, ...; dmarcPolicy).
    verdicts: dict[str, str] = field(default_factory=dict)
    headers_truncated: bool | None = None  # SES: the header list passed 10 KB and was cut

    @property
    def is_message(self) -> bool:
        """Counted in Messages: a WorkMail event, an SES receipt or an SES Send."""
        return self.event_type is None or self.event_type.is_message

    @property
    def auth_failures(self) -> frozenset[str]:
        """Of "spf", "dkim", "dmarc": the checks the mail service itself says an inbound message failed."""
        if self.direction is not Direction.INBOUND:
            return frozenset()
        return frozenset(c for c in ("spf", "dkim", "dmarc") if self.verdicts.get(c, "").upper() == "FAIL")


@dataclass(frozen=True)
class Invalid:
    """An event that can never succeed on retry, with the reason and the payload as it arrived.

    Its key is its own: the quarantine's prefix and the hash of the payload, never the key the
    payload claims. A broken copy of a valid event (or anything else that carries its id, such as
    the collector's own EMF line) then never takes that event's key, in whatever order they come;
    the key it claimed is kept beside it (`claimedKey`) to find it by."""

    fingerprint: str  # the content hash of the payload as it arrived
    reason: str
    raw: object
    direction: Direction = Direction.UNKNOWN
    source: Source | None = None  # None: no adapter recognised the payload
    claimed_key: str | None = None  # the dedupe key the payload's own ids would give it, if usable
    # Where versions before the quarantine's own key space stored this payload (the key it claimed,
    # or `sha256:<hash>`), and the fingerprint they gave it when it differs from today's (a line
    # that is not JSON): a redelivery across an upgrade finds its earlier record there.
    legacy_keys: tuple[str, ...] = ()
    legacy_fingerprint: str | None = None

    @property
    def dedupe_key(self) -> str:
        return QUARANTINE_KEY_PREFIX + self.fingerprint

    @property
    def key_synthesized(self) -> bool:
        return True

    @property
    def old_fingerprint(self) -> str:
        """The fingerprint an older version stored under one of `legacy_keys`."""
        return self.legacy_fingerprint or self.fingerprint


@dataclass(frozen=True)
class Invocation:
    """Who delivered the event and when: the Lambda context, or the CLI standing in for it."""

    request_id: str
    function_version: str
    received_at: datetime


@dataclass(frozen=True)
class Enrichment:
    """What a message-flow read added, as far as the metrics need it (the audit item keeps the rest)."""

    ok: bool
    size_bytes: int = 0
    attachments: int = 0
    auth_failures: frozenset[str] = frozenset()  # of "spf", "dkim", "dmarc"


@dataclass(frozen=True)
class Outcome:
    """The pipeline's verdict for one delivery; metrics are derived from it and nothing else."""

    status: Status
    dedupe_key: str
    direction: Direction
    recipient_count: int = 0
    truncated: bool = False
    key_synthesized: bool = False
    differing_fields: tuple[str, ...] = ()
    enrichment: Enrichment | None = None
    message_id: str | None = None
    source: Source | None = None
    event_type: EventType | None = None
    auth_failures: frozenset[str] = frozenset()  # of "spf", "dkim", "dmarc", for counted messages

    @property
    def first(self) -> bool:
        """The first delivery of a valid event (a message or an SES sending event)."""
        return self.status is Status.RECORDED

    @property
    def counted(self) -> bool:
        """True only for the one delivery that makes an event count as a message."""
        return self.first and (self.event_type is None or self.event_type.is_message)
