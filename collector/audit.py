"""The audit record: what an auditor asks for, shaped as one store item.

Attribute names are the DynamoDB attribute names and the SQLite JSON keys alike:

| attribute | meaning |
|---|---|
| invocationId | dedupe key: WorkMail's invocationId, an SES key (below), or `sha256:<content hash>` |
| | INVALID records: always `invalid:sha256:<content hash>`, never the key their payload claims |
| claimedKey | INVALID records: the key their payload's ids name (invocationId, `ses:<messageId>`) |
| status | RECORDED or INVALID |
| source | the mail service the event came from: WorkMail or SES (absent: no adapter recognised it) |
| messageId | WorkMail message id (for the message-flow API), or SES's `mail.messageId` |
| eventType | SES only: Received, Send, Delivery, Bounce, Complaint, Reject, DeliveryDelay, Open, Click, ... |
| direction | INBOUND, OUTBOUND or UNKNOWN; rawDirection keeps an unexpected value as sent |
| sender, mailFrom, recipients | addresses, domain lower-cased; HMACs when redacted |
| recipientCount | number of recipients in the event (before any trimming for size) |
| subject | as sent (WorkMail cuts it at 256 characters); an HMAC when redacted |
| truncated | WorkMail only: payload passed 128 KB and the recipient list was cut |
| headersTruncated | SES: the header list passed 10 KB and was cut (enrichment: a MIME header block was) |
| spfVerdict ... virusVerdict | SES receipts: SES's verdicts as sent (PASS, FAIL, GRAY, ...) |
| dmarcPolicy | SES receipts that failed DMARC: none, quarantine or reject |
| summaryVersion, layout, extra | event format, `envelope` or `flat`, unknown fields (JSON) |
| receivedAt, receivedDay | UTC time of the first delivery (ISO 8601, ms) and its day (time index key) |
| requestId, functionVersion | the Lambda invocation that recorded it |
| expiresAt | epoch seconds for DynamoDB TTL (absent when retention is 0) |
| fingerprint | SHA-256 of the canonical payload: tells a true redelivery from a conflict |
| keySynthesized, redacted | flags |
| attemptId | random per processing attempt: lets a retried PutItem recognise its own earlier write |
| reason, raw, rawBytes, rawTruncated | for INVALID records: why, and the payload as it arrived |
| enrichment, enrichmentReason | with enrichment on: OK, NOT_FOUND, ACCESS_DENIED, TIMEOUT or ERROR, and why |
| sizeBytes, contentType, partCount | the raw message's exact size, top-level type and leaf part count |
| attachmentCount, attachmentTypes | attachments and their MIME types |
| messageIdHeader | the Message-ID header (an HMAC when redacted) |
| spf, dkim, dmarc, isBounce | verdicts from the topmost Authentication-Results; a delivery-status report |

SES records (source SES) use the same attributes: keys `ses:<messageId>` for a receipt (every rule
and retry of one received message), `ses:<messageId>:Send`, and `ses:<messageId>:<type>:<hash of
the report>` for the other sending events; recipients are the envelope recipients the receipt rule
matched, `mail.destination` for a Send, or those a report names; `summaryVersion` is the Lambda
record's eventVersion; `layout` the path it came by (`receipt-lambda`, `receipt-sns`, `event-sns`,
`event-eventbridge`, `notification-sns`, ...); `extra` the rest of the SES event as JSON, with the
raw header list and an SNS notification's message content left out (`omitted` counts them).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from collector.clock import iso_millis
from collector.jsonutil import dumps
from collector.model import Invalid, Invocation, Item, MailEvent, Source
from collector.redaction import Redactor

if TYPE_CHECKING:
    from collector.enrichment import EnrichmentResult


# DynamoDB's item limit is 400 KB; keep a margin for attribute names and type overhead.
ITEM_BUDGET_BYTES = 380_000
# DynamoDB refuses empty strings and values over 2,048 bytes as index keys; stay well inside.
MAX_INDEX_KEY_BYTES = 1024
MAX_MEDIA_TYPE_CHARS = 255  # RFC 6838 caps type and subtype at 127 characters each
# Index keys of the tables deployed before the time index (bySender, byMessageId), which keep them
# until their migration (docs/deploy.md); DynamoDB refuses empty or over-long key values there.
INDEX_KEYS = ("messageId", "sender")
RAW_BUDGET_BYTES = 300_000
CONTENT_FIELDS = (
    "messageId",
    "direction",
    "rawDirection",
    "sender",
    "mailFrom",
    "recipients",
    "recipientCount",
    "subject",
    "truncated",
    "summaryVersion",
    "layout",
    "extra",
    "status",
    "reason",
    "source",
    "eventType",
)
VERDICT_FIELDS = {
    "spf": "spfVerdict",
    "dkim": "dkimVerdict",
    "dmarc": "dmarcVerdict",
    "spam": "spamVerdict",
    "virus": "virusVerdict",
    "dmarcPolicy": "dmarcPolicy",
}


def _common(key: str, invocation: Invocation, retention_days: int, redactor: Redactor) -> Item:
    received = invocation.received_at
    item: Item = {
        "invocationId": key,
        "receivedAt": iso_millis(received),
        "receivedDay": received.strftime("%Y-%m-%d"),
        "requestId": invocation.request_id,
        "functionVersion": invocation.function_version,
        "redacted": redactor.enabled,
    }
    if retention_days > 0:
        item["expiresAt"] = int((received + timedelta(days=retention_days)).timestamp())
    return item


def record_item(event: MailEvent, invocation: Invocation, retention_days: int, redactor: Redactor) -> Item:
    item = _common(event.dedupe_key, invocation, retention_days, redactor)
    item.update(
        status="RECORDED",
        source=event.source.value,
        messageId=event.message_id,
        direction=event.direction.value,
        recipients=[redactor.value(r) for r in event.recipients],
        recipientCount=len(event.recipients),
        layout=event.layout,
        fingerprint=event.fingerprint,
        keySynthesized=event.key_synthesized,
    )
    optional = {
        "rawDirection": redactor.optional(event.raw_direction)
        if event.raw_direction != event.direction.value
        else None,
        "sender": redactor.optional(event.sender),
        "mailFrom": redactor.optional(event.mail_from),
        "subject": redactor.optional(event.subject),
        "summaryVersion": event.summary_version,
        "extra": dumps(redactor.tree(event.extra)).decode() if event.extra else None,
        # WorkMail's own flag; an SES event has no such fact (its header cut is headersTruncated).
        "truncated": event.truncated if event.source is Source.WORKMAIL else None,
        "eventType": None if event.event_type is None else event.event_type.value,
        "headersTruncated": event.headers_truncated,
    }
    optional.update({VERDICT_FIELDS[k]: v[:100] for k, v in event.verdicts.items() if k in VERDICT_FIELDS})
    item.update({k: v for k, v in optional.items() if v is not None})
    return _indexable(item)


ENRICHMENT_FIELDS = (
    "sizeBytes",
    "contentType",
    "partCount",
    "attachmentCount",
    "attachmentTypes",
    "messageIdHeader",
    "spf",
    "dkim",
    "dmarc",
    "isBounce",
    "headersTruncated",
)


def enrichment_fields(result: EnrichmentResult, redactor: Redactor) -> Item:
    """The message-flow read as audit attributes; the decoded subject stays out (the event has it)."""
    fields: Item = {"enrichment": result.status.value}
    if result.reason:
        fields["enrichmentReason"] = result.reason
    if result.summary is not None:
        summary = result.summary.to_item()
        summary["messageIdHeader"] = redactor.optional(summary.get("messageIdHeader"))
        # Content types come from the sender's headers: bound them, whatever the message claims.
        summary["contentType"] = _short(summary.get("contentType"))
        summary["attachmentTypes"] = [_short(t) for t in summary.get("attachmentTypes") or []]
        fields.update({k: summary[k] for k in ENRICHMENT_FIELDS if summary.get(k) is not None})
    return fields


def _short(text: str | None, limit: int = MAX_MEDIA_TYPE_CHARS) -> str | None:
    return None if text is None else text[:limit]


def invalid_item(invalid: Invalid, invocation: Invocation, retention_days: int, redactor: Redactor) -> Item:
    item = _common(invalid.dedupe_key, invocation, retention_days, redactor)
    raw = redactor.tree(invalid.raw) if not isinstance(invalid.raw, str) else redactor.value(invalid.raw)
    raw_bytes = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else dumps(raw)
    kept = _cut_utf8(raw_bytes, RAW_BUDGET_BYTES)
    item.update(
        status="INVALID",
        direction=invalid.direction.value,
        reason=invalid.reason[:1000],
        raw=kept,
        rawBytes=len(raw_bytes),
        rawTruncated=len(kept.encode("utf-8", "surrogatepass")) < len(raw_bytes),
        fingerprint=invalid.fingerprint,
        keySynthesized=invalid.key_synthesized,
    )
    if invalid.source is not None:
        item["source"] = invalid.source.value
    if invalid.claimed_key is not None:
        item["claimedKey"] = invalid.claimed_key
    return item


def differing_fields(stored: Item, incoming: Item) -> tuple[str, ...]:
    """Names (never values) of content fields that differ between two deliveries of one key."""
    return tuple(f for f in CONTENT_FIELDS if stored.get(f) != incoming.get(f))


def item_size(item: Item) -> int:
    """An item's size by DynamoDB's own rule (AWS, "DynamoDB item sizes and formats"): the UTF-8
    bytes of each attribute name plus its value's. Not the JSON text: escapes (a NUL is 6
    characters of JSON, 1 byte to DynamoDB) would make a payload that fits look 6 times its size.
    Attributes that are None are never written (see the stores)."""
    return sum(_utf8(name) + _value_size(value) for name, value in item.items() if value is not None)


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _value_size(value: object) -> int:
    """A string: its UTF-8 bytes; a number: 1 byte per 2 significant digits (leading and trailing
    zeros trimmed), plus 1; null and Boolean: 1; a list or map: 3, plus 1 per element, plus the
    elements (a map's element: its name and value)."""
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float):
        return _number_size(value)
    if isinstance(value, list | tuple):
        return 3 + sum(1 + _value_size(v) for v in value)
    if isinstance(value, dict):
        return 3 + sum(1 + _utf8(str(k)) + _value_size(v) for k, v in value.items())
    return len(dumps(value))


def _number_size(value: float) -> int:
    """DynamoDB keeps a number as base-100 digits (pairs of decimal digits aligned on the decimal
    point, leading and trailing zero pairs trimmed) and one byte of exponent, plus one byte when
    it is negative; zero is the exponent byte alone. AWS documents it as "approximately 1 byte per
    two significant digits, plus 1"; this is the count DynamoDB Local enforces at the 400 KB limit
    (1.5 is 3 bytes, -1 is 3, 12345 is 4, 120000 is 2)."""
    number = Decimal(repr(value))  # exact: no context, so no rounding past 28 digits
    if not number.is_finite() or number.is_zero():
        return 1 if number.is_zero() else len(repr(value))
    sign, digits, exponent = number.as_tuple()
    text = "".join(map(str, digits))
    assert isinstance(exponent, int)
    if exponent % 2:
        text += "0"
    text = text.zfill(len(text) + len(text) % 2)
    pairs = [text[i : i + 2] for i in range(0, len(text), 2)]
    return len(_trimmed(pairs)) + 1 + sign


def _trimmed(pairs: list[str]) -> list[str]:
    start, end = 0, len(pairs)
    while start < end and pairs[start] == "00":
        start += 1
    while end > start and pairs[end - 1] == "00":
        end -= 1
    return pairs[start:end]


def _cut_utf8(data: bytes, limit: int) -> str:
    return data[:limit].decode("utf-8", "ignore")


def _indexable(item: Item) -> Item:
    """A value DynamoDB cannot index (empty, or past the key size limit) moves to `<name>Unindexed`:
    the record is still written, it is only absent from that index."""
    for name in INDEX_KEYS:
        value = item.get(name)
        if isinstance(value, str) and (not value.strip() or len(value.encode()) > MAX_INDEX_KEY_BYTES):
            item[f"{name}Unindexed"] = item.pop(name)
    return item


def fit(item: Item) -> Item:
    """Trim unbounded fields, longest first, so any record (RECORDED or INVALID) fits one DynamoDB
    item; flag what was trimmed."""
    if item_size(item) <= ITEM_BUDGET_BYTES:
        return item
    trimmed: list[str] = []
    longest_first = sorted((k for k, v in item.items() if isinstance(v, str)), key=lambda k: -len(item[k]))
    for name in longest_first:
        if item_size(item | {"trimmedFields": trimmed}) <= ITEM_BUDGET_BYTES or len(item[name]) <= 4096:
            break
        item[name] = _cut_utf8(item[name].encode("utf-8", "surrogatepass"), 4096)
        trimmed.append(name)
        if name == "raw":
            item["rawTruncated"] = True
    recipients: list[str] = item.get("recipients") or []
    if recipients and item_size(item | {"trimmedFields": trimmed}) > ITEM_BUDGET_BYTES:
        trimmed.append("recipients")
        # What the item costs without the list's elements (the list's own 3 bytes stay), and then
        # as many recipients, first first, as fit: each costs 1 byte plus its UTF-8 bytes.
        room = ITEM_BUDGET_BYTES - item_size(item | {"recipients": [], "trimmedFields": trimmed})
        keep = 0
        for recipient in recipients:
            room -= 1 + _utf8(recipient)
            if room < 0:
                break
            keep += 1
        item["recipients"] = recipients[:keep]
    item["trimmedFields"] = trimmed
    return item
