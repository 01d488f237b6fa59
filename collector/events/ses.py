"""Amazon SES receipt-rule events (inbound) -> MailEvent | Invalid.

Two deliveries carry the same `mail` and `receipt` objects ("exactly the same format", SES
Developer Guide): a receipt rule's Lambda action,
`{"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail", "receipt"}}]}`,
and its SNS action, `{"notificationType": "Received", "mail", "receipt", "content"}` (wrapped
by SNS; collector.events.detect unwraps it). Neither has an invocation id.

* Envelope recipients are `receipt.recipients` (the RCPT TO addresses the rule matched), not
  `mail.destination` (the To and Cc headers, kept in `extra`). `mailFrom` is `mail.source`;
  sender and subject come from `mail.commonHeaders`, either of which may be absent.
* The verdicts (spf, dkim, dmarc, spam, virus) and `dmarcPolicy` (sent only when DMARC fails)
  are kept as SES sends them (PASS, FAIL, GRAY, PROCESSING_FAILED, DISABLED); any may be absent.
* `headersTruncated` (the header list passed 10 KB) is its own fact, never WorkMail's truncated.
* Dedupe key: `ses:<mail.messageId>`, the id SES gives each received message. Lambda's retries,
  SES's own retries of a failed action, several rules of the rule set invoking the function for
  the same message, and the SNS action's notification of it all carry that id and the same
  `mail` object: they are one message. So the fingerprint is the `mail` object alone; the
  `receipt` differs between rules (recipients matched, action, scanning) and only the first
  delivery's is recorded. One rule with no recipient condition, first in the rule set, sees every
  envelope recipient on the account's verified domains (docs/migrating.md).
* Not stored: `mail.headers` (up to 10 KB of raw headers; commonHeaders is kept) and the SNS
  notification's `content` (the whole message): `extra.omitted` says how much was left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.events.fields import (
    SYNTHETIC_KEY_PREFIX,
    Reject,
    addresses,
    bounded_key,
    flag,
    header_address,
    key_part,
    obj,
    text,
    without,
)
from collector.jsonutil import content_hash
from collector.model import Direction, EventType, Invalid, MailEvent, Source

KEY_PREFIX = "ses:"
VERDICTS = {
    "spfVerdict": "spf",
    "dkimVerdict": "dkim",
    "dmarcVerdict": "dmarc",
    "spamVerdict": "spam",
    "virusVerdict": "virus",
}
LAMBDA_LAYOUT = "receipt-lambda"  # the receipt rule's Lambda action
SNS_LAYOUT = "receipt-sns"  # the receipt rule's SNS action, delivered by SNS
NOTIFICATION_LAYOUT = "receipt-notification"  # the same notification, unwrapped (a replayed file)


@dataclass(frozen=True)
class Mail:
    """What every SES event's `mail` object says about the message."""

    message_id: str
    mail_from: str | None
    sender: str | None
    subject: str | None
    destination: tuple[str, ...]
    headers_truncated: bool | None
    kept: dict[str, Any] = field(default_factory=dict)  # for `extra`: the rest, headers left out
    omitted: dict[str, int] = field(default_factory=dict)


def read_mail(value: object, where: str = "mail") -> Mail:
    mail = obj(value, where)
    assert mail is not None
    message_id = key_part(mail.get("messageId"), f"{where}.messageId")
    # The envelope MAIL FROM; SES's sending events may give it with a display name.
    source = header_address(mail.get("source"), f"{where}.source")
    common = obj(mail.get("commonHeaders"), f"{where}.commonHeaders", required=False) or {}
    headers = mail.get("headers")
    omitted = {"mail.headers": len(headers)} if isinstance(headers, list) and headers else {}
    return Mail(
        message_id=message_id,
        mail_from=source,
        sender=header_address(common.get("from"), f"{where}.commonHeaders.from"),
        subject=text(common.get("subject"), f"{where}.commonHeaders.subject"),
        destination=addresses(mail.get("destination"), f"{where}.destination", required=False),
        headers_truncated=flag(mail.get("headersTruncated"), f"{where}.headersTruncated"),
        kept=without(mail, "headers", "messageId", "source", "headersTruncated"),
        omitted=omitted,
    )


def message_id_of(record: object) -> str | None:
    """`mail.messageId` when it can be read, for the key an otherwise invalid event claims."""
    mail = record.get("mail") if isinstance(record, dict) else None
    value = mail.get("messageId") if isinstance(mail, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def claimed_key(message_id: str | None, *parts: str) -> str | None:
    """The key an invalid SES event's own ids name (kept beside it as `claimedKey`), if any."""
    return None if message_id is None else bounded_key(":".join((KEY_PREFIX + message_id, *parts)))[0]


def _verdicts(receipt: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, short in VERDICTS.items():
        verdict = obj(receipt.get(name), f"receipt.{name}", required=False)
        if verdict is not None:
            status = text(verdict.get("status"), f"receipt.{name}.status")
            if status is not None:
                found[short] = status
    policy = text(receipt.get("dmarcPolicy"), "receipt.dmarcPolicy")
    if policy is not None:
        found["dmarcPolicy"] = policy
    return found


def parse_receipt(
    raw: object, record: dict[str, Any], layout: str, context: dict[str, Any] | None = None
) -> MailEvent | Invalid:
    """`record` holds `mail` and `receipt`; `raw` is the payload as it arrived (kept if invalid);
    `context` holds what a wrapper adds (the Lambda record's version, SNS ids) for `extra`."""
    try:
        mail = read_mail(record.get("mail"))
        receipt = obj(record.get("receipt"), "receipt")
        assert receipt is not None
        recipients = addresses(receipt.get("recipients"), "receipt.recipients")
        verdicts = _verdicts(receipt)
    except Reject as reject:
        fingerprint, claimed = content_hash(raw), claimed_key(message_id_of(record))
        return Invalid(
            fingerprint=fingerprint,
            reason=f"SES receipt event: {reject}",
            raw=raw,
            direction=Direction.INBOUND,
            source=Source.SES,
            claimed_key=claimed,
            legacy_keys=(claimed or SYNTHETIC_KEY_PREFIX + fingerprint,),  # as older versions keyed it
        )
    key, synthesized = bounded_key(KEY_PREFIX + mail.message_id)
    context = dict(context or {})
    version = context.pop("eventVersion", None)
    extra: dict[str, Any] = {
        "mail": mail.kept,
        "receipt": without(receipt, "recipients", "dmarcPolicy", *VERDICTS),
        **context,
        **without(record, "mail", "receipt", "content", "notificationType"),
    }
    omitted = dict(mail.omitted)
    if isinstance(record.get("content"), str):
        omitted["content"] = len(record["content"])
    if omitted:
        extra["omitted"] = omitted
    return MailEvent(
        dedupe_key=key,
        key_synthesized=synthesized,
        fingerprint=content_hash(record.get("mail")),
        message_id=mail.message_id,
        direction=Direction.INBOUND,
        raw_direction=None,
        mail_from=mail.mail_from,
        sender=mail.sender,
        recipients=recipients,
        subject=mail.subject,
        truncated=False,
        summary_version=version if isinstance(version, str) else None,
        layout=layout,
        extra=extra,
        source=Source.SES,
        event_type=EventType.RECEIVED,
        verdicts=verdicts,
        headers_truncated=mail.headers_truncated,
    )
