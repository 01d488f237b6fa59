"""Valid SES events for trying the collector out, shaped like the public samples.

Receipts follow `sam local generate-event ses email-receiving` (the Lambda action's record);
sending events follow the SES Developer Guide's event-publishing examples, bare or wrapped the
way SNS or EventBridge hands them to Lambda. Each generated message has its own SES message id.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.jsonutil import dumps
from collector.sampling import SUBJECTS, listed

RECEIPT = "receipt"
SENDING_EVENTS = {  # CLI name -> (eventType, EventBridge detail-type)
    "send": ("Send", "Email Sent"),
    "delivery": ("Delivery", "Email Delivered"),
    "bounce": ("Bounce", "Email Bounced"),
    "complaint": ("Complaint", "Email Complaint Received"),
    "reject": ("Reject", "Email Rejected"),
    "delivery-delay": ("DeliveryDelay", "Email Delivery Delayed"),
}
SES_EVENTS = (RECEIPT, *SENDING_EVENTS)
WRAPPERS = ("none", "sns", "eventbridge")
ACCOUNT = "123456789012"
REGION = "us-east-1"
EPOCH = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _receipt_id(rng: random.Random) -> str:
    """SES's inbound message ids are 40 lower-case letters and digits (the S3 object key)."""
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=40))


def _sending_id(rng: random.Random, at: datetime) -> str:
    return f"{int(at.timestamp() * 1000):016x}-{uuid.UUID(int=rng.getrandbits(128))}-000000"


def _mail(rng: random.Random, message_id: str, sender: str, to: list[str], at: datetime) -> dict[str, Any]:
    subject = rng.choice(SUBJECTS)
    return {
        "timestamp": _iso(at),
        "source": sender,
        "messageId": message_id,
        "destination": to,
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": sender},
            {"name": "To", "value": ", ".join(to)},
            {"name": "Subject", "value": subject},
        ],
        "commonHeaders": {
            "from": [sender],
            "to": to,
            "messageId": f"<{message_id}@example.com>",
            "subject": subject,
        },
    }


def receipt_event(rng: random.Random, recipients: int, at: datetime, verdict: str = "PASS") -> dict[str, Any]:
    """One receipt rule Lambda action record (inbound)."""
    message_id = _receipt_id(rng)
    sender = f"user{rng.randrange(1000)}@example.com"
    to = [f"recipient{i + 1}@example.org" for i in range(recipients)]
    receipt: dict[str, Any] = {
        "timestamp": _iso(at + timedelta(milliseconds=300)),
        "processingTimeMillis": rng.randrange(100, 900),
        "recipients": to,
        **{
            name: {"status": verdict} for name in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict")
        },
        "dmarcVerdict": {"status": verdict},
        "action": {
            "type": "Lambda",
            "invocationType": "Event",
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:workmail-collector",
        },
    }
    if verdict == "FAIL":
        receipt["dmarcPolicy"] = "reject"  # sent only when DMARC fails
    mail = _mail(rng, message_id, sender, to, at)
    return {
        "Records": [
            {"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail": mail, "receipt": receipt}}
        ]
    }


def _report(kind: str, to: list[str], at: datetime) -> dict[str, Any]:
    when = _iso(at + timedelta(seconds=2))
    if kind == "Delivery":
        return {
            "timestamp": when,
            "processingTimeMillis": 546,
            "recipients": to,
            "smtpResponse": "250 2.6.0 OK",
        }
    if kind == "Bounce":
        listed = [{"emailAddress": r, "action": "failed", "status": "5.1.1"} for r in to]
        return {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": listed,
            "timestamp": when,
        }
    if kind == "Complaint":
        listed = [{"emailAddress": r} for r in to]
        return {"complainedRecipients": listed, "timestamp": when, "complaintFeedbackType": "abuse"}
    if kind == "Reject":
        return {"reason": "Bad content"}
    if kind == "DeliveryDelay":
        listed = [{"emailAddress": r, "status": "4.4.1"} for r in to]
        return {"timestamp": when, "delayType": "TransientCommunicationFailure", "delayedRecipients": listed}
    return {}  # Send: "always empty"


REPORT_NAMES = {"Send": "send", "Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint"}
REPORT_NAMES |= {"Reject": "reject", "DeliveryDelay": "deliveryDelay"}


def sending_event(rng: random.Random, event: str, recipients: int, at: datetime) -> dict[str, Any]:
    """One event-publishing record (a configuration set's event destination)."""
    kind = SENDING_EVENTS[event][0]
    sender = f"user{rng.randrange(1000)}@example.org"
    to = [f"contact{i + 1}@example.com" for i in range(recipients)]
    mail = _mail(rng, _sending_id(rng, at), sender, to, at)
    mail["tags"] = {"ses:configuration-set": ["workmail-collector"], "ses:from-domain": ["example.org"]}
    return {"eventType": kind, "mail": mail, REPORT_NAMES[kind]: _report(kind, to, at)}


def wrap(
    record: dict[str, Any], via: str, detail_type: str, rng: random.Random, at: datetime
) -> dict[str, Any]:
    """The record as SNS or EventBridge hands it to Lambda."""
    if via == "sns":
        topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:ses-events"
        return {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{topic}:{uuid.UUID(int=rng.getrandbits(128))}",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": str(uuid.UUID(int=rng.getrandbits(128))),
                        "TopicArn": topic,
                        "Subject": None,
                        "Message": dumps(record).decode(),
                        "Timestamp": _iso(at),
                        "MessageAttributes": {},
                    },
                }
            ]
        }
    if via == "eventbridge":
        return {
            "version": "0",
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "detail-type": detail_type,
            "source": "aws.ses",
            "account": ACCOUNT,
            "time": _iso(at).replace(".000Z", "Z"),
            "region": REGION,
            "resources": [f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/workmail-collector"],
            "detail": record,
        }
    return record


def iter_ses_events(
    *,
    count: int = 1,
    event: str = RECEIPT,
    recipients: int = 2,
    via: str = "none",
    verdict: str = "PASS",
    seed: int | None = None,
) -> Iterator[dict[str, Any]]:
    """`count` events about as many messages: receipts (inbound) or one kind of sending event, one
    at a time (`generate-event --source ses -n 300000` in flat memory). The arguments are checked
    here, before the first event, so a mistake raises at the call, not at the first `next`."""
    if event not in SES_EVENTS:
        raise ValueError(f"event must be one of {', '.join(SES_EVENTS)}, not {event!r}")
    if via not in WRAPPERS or (event == RECEIPT and via != "none"):
        raise ValueError("via applies to sending events only: none, sns or eventbridge")
    return _ses_events(count, event, recipients, via, verdict, random.Random(seed))


# `iter_ses_events` as a list, for callers that index or add lists (tests).
generate_ses_events = listed(iter_ses_events)


def _ses_events(
    count: int, event: str, recipients: int, via: str, verdict: str, rng: random.Random
) -> Iterator[dict[str, Any]]:
    for n in range(count):
        at = EPOCH + timedelta(seconds=n)
        if event == RECEIPT:
            yield receipt_event(rng, recipients, at, verdict)
        else:
            record = sending_event(rng, event, recipients, at)
            yield wrap(record, via, SENDING_EVENTS[event][1], rng, at)
