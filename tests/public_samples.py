"""The public SES and WorkMail samples under tests/data/public, loaded as a replay would see them.

SAM CLI's templates are rendered the way `sam local generate-event` renders them: each
`{{{tag}}}` (a triple mustache, substituted unescaped) gets the default from SAM's event mapping,
whose tag names use hyphens where the template uses underscores. A tag without a default fails
the test instead of staying in the event.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import orjson

PUBLIC = Path(__file__).parent / "data" / "public"
SES = PUBLIC / "ses"
WORKMAIL = PUBLIC / "workmail"
SAM_MAPPING = SES / "sam-cli-event-mapping.ses-workmail.EXTRACT.json"
TAG = re.compile(r"\{\{\{\s*([A-Za-z0-9_]+)\s*\}\}\}")


def sam_defaults(service: str, event: str) -> dict[str, str]:
    mapping = json.loads(SAM_MAPPING.read_text())
    tags = mapping[service][event]["tags"]
    return {name.replace("-", "_"): str(spec["default"]) for name, spec in tags.items()}


def render_sam(text: str, defaults: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        if match[1] not in defaults:
            raise KeyError(f"SAM template tag {match[1]!r} has no default in the event mapping")
        return defaults[match[1]]

    return TAG.sub(value, text)


@cache
def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8-sig")  # the .NET samples start with a byte-order mark
    if path.name.startswith("sam-cli-") and path.name.endswith(".template.json"):
        mapping = json.loads(SAM_MAPPING.read_text())
        for service, events in mapping.items():
            for event in events:
                if path.name == f"sam-cli-{service}-{event}.template.json":
                    text = render_sam(text, sam_defaults(service, event))
        assert not TAG.search(text), f"{path.name}: unrendered SAM tags"
    return json.loads(text)


def load(path: Path) -> Any:
    """A fresh copy each time: a test may change it."""
    return copy.deepcopy(_load(path))


def samples(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(".EXTRACT.json"))


def is_receipt(path: Path) -> bool:
    value = _load(path)
    records = value.get("Records") if isinstance(value, dict) else None
    return isinstance(records, list) and bool(records) and records[0].get("eventSource") == "aws:ses"


RECEIPT_SAMPLES = [p for p in samples(SES) if is_receipt(p)]
RECEIVED_NOTIFICATIONS = [p for p in samples(SES) if _load(p).get("notificationType") == "Received"]
SENDING_SAMPLES = [p for p in samples(SES) if p not in RECEIPT_SAMPLES and p not in RECEIVED_NOTIFICATIONS]
WORKMAIL_SAMPLES = samples(WORKMAIL)


def record_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The `mail` + `receipt` object of a receipt sample, whichever shape it has."""
    found: dict[str, Any] = raw["Records"][0]["ses"] if "Records" in raw else raw
    return found


def sns(message: dict[str, Any], message_id: str = "95df01b4-ee98-5cb9-9903-4c221d41eb5e") -> dict[str, Any]:
    """An SNS-to-Lambda envelope, shaped like the public lambda-local sample's, around one message."""
    envelope: dict[str, Any] = load(
        SES / "lambda-local-ses-delivery-notification-over-sns.CONVERTED-from-js.json"
    )
    envelope["Records"][0]["Sns"]["Message"] = orjson.dumps(message).decode()
    envelope["Records"][0]["Sns"]["MessageId"] = message_id
    return envelope


def eventbridge(detail: dict[str, Any], detail_type: str, event_id: str = "1") -> dict[str, Any]:
    """An EventBridge event around an event-publishing record. Built here: no public AWS sample of
    an SES email event on EventBridge exists (tests/data/public/ses/SOURCES.md)."""
    return {
        "version": "0",
        "id": f"00000000-0000-0000-0000-00000000000{event_id}",
        "detail-type": detail_type,
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2026-11-30T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/ConfigSet"],
        "detail": detail,
    }
