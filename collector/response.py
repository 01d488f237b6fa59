"""The synchronous answer per source: WorkMail's Run Lambda response (typed, its limits checked
where it is built) and SES's receipt-rule disposition, chosen by the same detector as the adapters.

An SES receipt rule that invokes the function with RequestResponse reads `disposition`: CONTINUE
lets the mail flow on (anything invalid is treated as CONTINUE); STOP_RULE and STOP_RULE_SET stop
it. The collector answers CONTINUE to every SES event (SNS and EventBridge ignore the answer), and
the pass-through to WorkMail events and to payloads no adapter recognises, as it always has: it
never stops or changes mail. Mail Manager documents no response contract; docs/migrating.md says
to invoke the function with EVENT and ActionFailurePolicy CONTINUE until it does.

WorkMail ignores the result of an asynchronous invocation; a synchronous rule needs a response
of this shape, and one that breaks a limit is treated as a failed invocation (the rule's
fallback action applies). Checking the limits on construction turns that silent fallback into
a ValueError at the line that built the response:

* at least 1 and at most `MAX_ACTIONS` actions;
* the JSON at most `MAX_RESPONSE_BYTES` (the documented 256 KB, read conservatively as 256,000);
* at most `MAX_OUTBOUND_RECIPIENTS` distinct recipients, unless the flow is known to be INBOUND
  (the documented limit is for outbound rules; an unknown direction is held to it too).

Each action applies to `all_recipients` or to a non-empty `recipients` list, never both nor
neither, and only BOUNCE carries parameters (`bounceMessage`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from collector.events.detect import source_of
from collector.model import Direction, Source

MAX_ACTIONS = 10
MAX_RESPONSE_BYTES = 256 * 1000
MAX_OUTBOUND_RECIPIENTS = 500


class ActionType(StrEnum):
    BOUNCE = "BOUNCE"
    DROP = "DROP"
    DEFAULT = "DEFAULT"


@dataclass(frozen=True)
class Action:
    """One entry of `actions`: what to do, and for whom."""

    type: ActionType
    recipients: tuple[str, ...] = ()
    all_recipients: bool = False
    bounce_message: str | None = None

    def __post_init__(self) -> None:
        try:
            kind = ActionType(self.type)
        except ValueError:
            allowed = ", ".join(t.value for t in ActionType)
            raise ValueError(f"action type must be one of {allowed}, not {self.type!r}") from None
        object.__setattr__(self, "type", kind)
        if isinstance(self.recipients, str):
            raise ValueError("recipients must be a list of addresses, not one string")
        recipients = tuple(self.recipients)
        object.__setattr__(self, "recipients", recipients)
        if not isinstance(self.all_recipients, bool):
            raise ValueError("all_recipients must be a bool")
        if self.all_recipients == bool(recipients):
            raise ValueError("an action applies either to all recipients or to a non-empty recipient list")
        for recipient in recipients:
            if not isinstance(recipient, str) or not recipient.strip():
                raise ValueError(f"recipients must be non-empty strings, not {recipient!r}")
        if self.bounce_message is not None:
            if kind is not ActionType.BOUNCE:
                raise ValueError(f"only BOUNCE takes a bounce message, not {kind.value}")
            if not isinstance(self.bounce_message, str):
                raise ValueError("bounce_message must be a string")

    @classmethod
    def default(cls, recipients: Iterable[str] | None = None) -> Action:
        return cls._for(ActionType.DEFAULT, recipients)

    @classmethod
    def drop(cls, recipients: Iterable[str] | None = None) -> Action:
        return cls._for(ActionType.DROP, recipients)

    @classmethod
    def bounce(cls, message: str | None = None, recipients: Iterable[str] | None = None) -> Action:
        if recipients is None:
            return cls(ActionType.BOUNCE, all_recipients=True, bounce_message=message)
        return cls(ActionType.BOUNCE, recipients=tuple(recipients), bounce_message=message)

    @classmethod
    def _for(cls, kind: ActionType, recipients: Iterable[str] | None) -> Action:
        if recipients is None:
            return cls(kind, all_recipients=True)
        return cls(kind, recipients=tuple(recipients))

    def to_dict(self) -> dict[str, Any]:
        action: dict[str, Any] = {"type": self.type.value}
        if self.bounce_message is not None:
            action["parameters"] = {"bounceMessage": self.bounce_message}
        out: dict[str, Any] = {"action": action}
        if self.all_recipients:
            out["allRecipients"] = True
        else:
            out["recipients"] = list(self.recipients)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Action:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("action"), Mapping):
            raise ValueError("each action needs an 'action' object")
        action = raw["action"]
        parameters = action.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            raise ValueError("action parameters must be an object")
        recipients = raw.get("recipients") or ()
        if not isinstance(recipients, list | tuple):
            raise ValueError("recipients must be a list of addresses")
        return cls(
            type=action.get("type"),  # checked by __post_init__
            recipients=tuple(recipients),
            all_recipients=raw.get("allRecipients", False),
            bounce_message=parameters.get("bounceMessage"),
        )


@dataclass(frozen=True)
class SyncResponse:
    """The whole response; invalid combinations raise ValueError on construction."""

    actions: tuple[Action, ...]
    direction: Direction = Direction.UNKNOWN
    _json: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        actions = tuple(self.actions)
        object.__setattr__(self, "actions", actions)
        if not actions:
            raise ValueError("a response needs at least 1 action")
        if len(actions) > MAX_ACTIONS:
            raise ValueError(f"a response allows at most {MAX_ACTIONS} actions, got {len(actions)}")
        for action in actions:
            if not isinstance(action, Action):
                raise ValueError(f"actions must be Action values, not {type(action).__name__}")
        if self.direction is not Direction.INBOUND:
            distinct = {r.strip().lower() for a in actions for r in a.recipients}
            if len(distinct) > MAX_OUTBOUND_RECIPIENTS:
                raise ValueError(
                    f"an outbound response allows at most {MAX_OUTBOUND_RECIPIENTS} recipients, "
                    f"got {len(distinct)}"
                )
        encoded = orjson.dumps(self.to_dict())
        if len(encoded) > MAX_RESPONSE_BYTES:
            raise ValueError(
                f"the response is {len(encoded)} bytes of JSON; WorkMail allows {MAX_RESPONSE_BYTES}"
            )
        object.__setattr__(self, "_json", encoded)

    def to_dict(self) -> dict[str, Any]:
        """A fresh dict, ready to return from the handler."""
        return {"actions": [action.to_dict() for action in self.actions]}

    def to_json(self) -> bytes:
        return self._json

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], direction: Direction = Direction.UNKNOWN) -> SyncResponse:
        """Validate a response built elsewhere (a plain dict) against the same limits."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("actions"), list):
            raise ValueError("a response is an object with an 'actions' list")
        return cls(tuple(Action.from_dict(a) for a in raw["actions"]), direction)


PASS_THROUGH = SyncResponse((Action.default(),))


def pass_through() -> dict[str, Any]:
    """DEFAULT for all recipients: the mail flows on unchanged. A fresh dict on every call."""
    return PASS_THROUGH.to_dict()


SES_CONTINUE = "CONTINUE"


def ses_continue() -> dict[str, str]:
    """An SES receipt rule's disposition that lets the mail flow on. A fresh dict on every call."""
    return {"disposition": SES_CONTINUE}


def answer(raw: object) -> dict[str, Any]:
    """The answer for this payload's source, from its shape alone, so the handler can answer even
    when recording failed; any surprise in detection falls back to the pass-through."""
    try:
        source = source_of(raw)
    except Exception:  # detection never raises by design; the answer must not depend on it
        source = None
    return ses_continue() if source is Source.SES else pass_through()
