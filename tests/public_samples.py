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
