"""Amazon SES sending events (outbound) -> MailEvent | Invalid.

Two public shapes, one per way SES reports on mail it sends:

* event publishing (a configuration set's event destination, via SNS or EventBridge):
  `{"eventType": "Send" | "Delivery" | "Bounce" | ..., "mail": {...}, "<subobject>": {...}}`;
* identity feedback notifications (via SNS): `{"notificationType": "Bounce" | "Complaint" |
  "Delivery", "mail": {...}, "<subobject>": {...}}`.

A Send is the message: counted in Messages as OUTBOUND, its recipients `mail.destination`. Every
other type is a fact about a message already counted: recorded with its own event type, its
recipients those the report names (`delivery.recipients`, `bounce.bouncedRecipients`, ...; SES
may report one recipient per event or several), and counted in its own metric.

Dedupe key: `ses:<mail.messageId>:Send` for a Send (one per message), and
`ses:<mail.messageId>:<type>:<16 hex of the report's hash>` for the others (a message can have
several deliveries, bounces or opens, each its own report). The fingerprint is the SES record
without its wrapper, so an SNS redelivery, an EventBridge retry, or the same record through both,
counts once. Event publishing and identity notifications word the same delivery differently:
subscribe the collector to one of them, not both (docs/migrating.md).
"""

from __future__ import annotations

from typing import Any

from collector.events.fields import (
    SYNTHETIC_KEY_PREFIX,
    Reject,
    addresses,
    bounded_key,
    listed_addresses,
    obj,
    without,
)
from collector.events.ses import KEY_PREFIX, claimed_key, message_id_of, read_mail
from collector.jsonutil import content_hash
from collector.model import Direction, EventType, Invalid, MailEvent, Source

# The name SES gives each type, and the object that holds its report.
TYPES: dict[str, tuple[EventType, str]] = {
    "Send": (EventType.SEND, "send"),
    "Delivery": (EventType.DELIVERY, "delivery"),
    "Bounce": (EventType.BOUNCE, "bounce"),
    "Complaint": (EventType.COMPLAINT, "complaint"),
    "Reject": (EventType.REJECT, "reject"),
    "DeliveryDelay": (EventType.DELIVERY_DELAY, "deliveryDelay"),
    "Open": (EventType.OPEN, "open"),
    "Click": (EventType.CLICK, "click"),
    "Rendering Failure": (EventType.RENDERING_FAILURE, "failure"),
    "RenderingFailure": (EventType.RENDERING_FAILURE, "failure"),
    "Subscription": (EventType.SUBSCRIPTION, "subscription"),
}
# EventBridge names each type in `detail-type`; used when `detail` does not say it itself.
DETAIL_TYPES = {
    "Email Sent": "Send",
    "Email Delivered": "Delivery",
    "Email Bounced": "Bounce",
    "Email Complaint Received": "Complaint",
    "Email Rejected": "Reject",
    "Email Delivery Delayed": "DeliveryDelay",
    "Email Opened": "Open",
    "Email Clicked": "Click",
    "Email Rendering Failed": "Rendering Failure",
    "Email Subscribed": "Subscription",
}
# Where each report lists the recipients it is about; absent: the message's own recipients.
REPORTED_RECIPIENTS = {
    EventType.DELIVERY: ("recipients", None),
    EventType.BOUNCE: ("bouncedRecipients", "emailAddress"),
    EventType.COMPLAINT: ("complainedRecipients", "emailAddress"),
    EventType.DELIVERY_DELAY: ("delayedRecipients", "emailAddress"),
}
DIGEST_CHARS = 16


def type_name(record: dict[str, Any]) -> str | None:
    """`eventType` (event publishing) or `notificationType` (notifications), as sent."""
    found = _type_field(record)
    return None if found is None else record[found]


def _type_field(record: dict[str, Any]) -> str | None:
    names = ("eventType", "notificationType")
    return next((name for name in names if isinstance(record.get(name), str)), None)


def _recipients(
    kind: EventType, report: dict[str, Any], name: str, destination: tuple[str, ...]
) -> tuple[str, ...]:
    if kind not in REPORTED_RECIPIENTS:
        return destination
    listed, field = REPORTED_RECIPIENTS[kind]
    where = f"{name}.{listed}"
    if field is None:
        return addresses(report.get(listed), where)
    return listed_addresses(report.get(listed), where, field)


def parse_sending(
    raw: object,
    record: dict[str, Any],
    layout: str,
    context: dict[str, Any] | None = None,
    declared: str | None = None,
) -> MailEvent | Invalid:
    """`record` is the SES record; `raw` the payload as it arrived (kept if invalid); `declared` the
    type a wrapper names when the record does not (EventBridge's detail-type)."""
    name = type_name(record) or declared or ""
    kind, report_name = TYPES.get(name, (None, ""))
    try:
        if kind is None:
            # The field, never its value: a forged type (an address, say) must not reach the
            # reason, which is logged and stored in clear even with redaction on.
            field = _type_field(record) or "detail-type"
            raise Reject(f"{field} is not an SES event type the collector knows")
        mail = read_mail(record.get("mail"))
        report = obj(record.get(report_name), report_name, required=kind not in (EventType.SEND,)) or {}
        recipients = _recipients(kind, report, report_name, mail.destination)
    except Reject as reject:
        fingerprint, message_id = content_hash(raw), message_id_of(record)
        # Older versions keyed it by its type as named and a digest of the record, or by its hash.
        legacy = f"{KEY_PREFIX}{message_id}:{name}:{content_hash(record)[:DIGEST_CHARS]}"
        return Invalid(
            fingerprint=fingerprint,
            reason=f"SES sending event: {reject}",
            raw=raw,
            direction=Direction.OUTBOUND,
            source=Source.SES,
            claimed_key=claimed_key(message_id, *([kind.value] if kind else [])),
            legacy_keys=(bounded_key(legacy)[0] if message_id else SYNTHETIC_KEY_PREFIX + fingerprint,),
        )
    key = f"{KEY_PREFIX}{mail.message_id}:{kind.value}"
    if kind is not EventType.SEND:
        key += ":" + content_hash(report)[:DIGEST_CHARS]
    dedupe_key, synthesized = bounded_key(key)
    extra: dict[str, Any] = {
        "mail": without(mail.kept, "destination") if kind is EventType.SEND else mail.kept,
        **({report_name: report} if report else {}),
        **(context or {}),
        **without(record, "mail", report_name, "eventType", "notificationType"),
    }
    if mail.omitted:
        extra["omitted"] = mail.omitted
    return MailEvent(
        dedupe_key=dedupe_key,
        key_synthesized=synthesized,
        fingerprint=content_hash(record),
        message_id=mail.message_id,
        direction=Direction.OUTBOUND,
        raw_direction=None,
        mail_from=mail.mail_from,
        sender=mail.sender,
        recipients=recipients,
        subject=mail.subject,
        truncated=False,
        summary_version=None,
        layout=layout,
        extra=extra,
        source=Source.SES,
        event_type=kind,
        headers_truncated=mail.headers_truncated,
    )
