"""The synchronous Run Lambda response model and WorkMail's documented limits."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from collector.model import Direction
from collector.response import (
    MAX_ACTIONS,
    MAX_OUTBOUND_RECIPIENTS,
    MAX_RESPONSE_BYTES,
    PASS_THROUGH,
    Action,
    ActionType,
    SyncResponse,
    pass_through,
)


def test_pass_through_is_default_for_everyone() -> None:
    assert pass_through() == {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}
    assert orjson.loads(PASS_THROUGH.to_json()) == pass_through()


def test_pass_through_returns_a_fresh_dict() -> None:
    first = pass_through()
    first["actions"].append("mutated")
    assert (
        pass_through()
        == PASS_THROUGH.to_dict()
        == {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}
    )


def test_seed_examples_round_trip() -> None:
    bounce: dict[str, Any] = {
        "actions": [
            {
                "action": {
                    "type": "BOUNCE",
                    "parameters": {"bounceMessage": "Email in breach of company policy."},
                },
                "allRecipients": True,
            }
        ]
    }
    mixed: dict[str, Any] = {
        "actions": [
            {"action": {"type": "DEFAULT"}, "allRecipients": True},
            {"action": {"type": "DROP"}, "recipients": ["drop-recipient@example.com"]},
        ]
    }
    for document in (bounce, mixed):
        response = SyncResponse.from_dict(document)
        assert response.to_dict() == document
        assert orjson.loads(response.to_json()) == document


def test_builders() -> None:
    response = SyncResponse(
        (Action.bounce("no", ["a@x.com"]), Action.drop(["b@x.com"]), Action.default()),
        Direction.OUTBOUND,
    )
    assert response.to_dict()["actions"] == [
        {"action": {"type": "BOUNCE", "parameters": {"bounceMessage": "no"}}, "recipients": ["a@x.com"]},
        {"action": {"type": "DROP"}, "recipients": ["b@x.com"]},
        {"action": {"type": "DEFAULT"}, "allRecipients": True},
    ]
    assert Action.bounce().to_dict() == {"action": {"type": "BOUNCE"}, "allRecipients": True}
    assert Action("DROP", all_recipients=True).type is ActionType.DROP  # type: ignore[arg-type]


def test_at_least_one_action() -> None:
    with pytest.raises(ValueError, match="at least 1 action"):
        SyncResponse(())


def test_at_most_ten_actions() -> None:
    actions = tuple(Action.drop([f"r{i}@x.com"]) for i in range(MAX_ACTIONS))
    assert len(SyncResponse(actions).actions) == MAX_ACTIONS
    with pytest.raises(ValueError, match=f"at most {MAX_ACTIONS} actions, got 11"):
        SyncResponse((*actions, Action.default()))


def test_outbound_recipient_limit() -> None:
    recipients = [f"user{i}@example.com" for i in range(MAX_OUTBOUND_RECIPIENTS)]
    assert SyncResponse((Action.drop(recipients),), Direction.OUTBOUND)
    # The same address in two actions or in another case is one recipient.
    SyncResponse((Action.drop(recipients), Action.bounce(None, [recipients[0].upper()])), Direction.OUTBOUND)
    too_many = [*recipients, "one-more@example.com"]
    with pytest.raises(ValueError, match="at most 500 recipients, got 501"):
        SyncResponse((Action.drop(too_many),), Direction.OUTBOUND)
    with pytest.raises(ValueError, match="at most 500 recipients"):
        SyncResponse((Action.drop(too_many),))  # unknown direction: held to the limit
    assert SyncResponse((Action.drop(too_many),), Direction.INBOUND)


def test_response_size_limit() -> None:
    def response_with(message_chars: int) -> SyncResponse:
        return SyncResponse((Action.bounce("m" * message_chars),), Direction.INBOUND)

    overhead = len(response_with(0).to_json())
    exact = response_with(MAX_RESPONSE_BYTES - overhead)
    assert len(exact.to_json()) == MAX_RESPONSE_BYTES
    with pytest.raises(ValueError, match=f"WorkMail allows {MAX_RESPONSE_BYTES}"):
        response_with(MAX_RESPONSE_BYTES - overhead + 1)


def test_size_counts_utf8_bytes_not_characters() -> None:
    overhead = len(SyncResponse((Action.bounce(""),)).to_json())
    chars = (MAX_RESPONSE_BYTES - overhead) // 3
    assert SyncResponse((Action.bounce("€" * chars),))
    with pytest.raises(ValueError, match="bytes of JSON"):
        SyncResponse((Action.bounce("€" * (chars + 1)),))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Action(ActionType.DROP), "either to all recipients or to a non-empty"),
        (lambda: Action(ActionType.DROP, ("a@x",), all_recipients=True), "either to all recipients"),
        (lambda: Action(ActionType.DROP, ("",)), "non-empty strings"),
        (lambda: Action(ActionType.DROP, "a@x.com"), "not one string"),  # type: ignore[arg-type]
        (lambda: Action(ActionType.DROP, all_recipients=True, bounce_message="x"), "only BOUNCE"),
        (lambda: Action("REDIRECT", all_recipients=True), "BOUNCE, DROP, DEFAULT"),  # type: ignore[arg-type]
        (lambda: Action(ActionType.BOUNCE, all_recipients=1), "must be a bool"),  # type: ignore[arg-type]
        (lambda: SyncResponse(({"action": {"type": "DEFAULT"}},)), "must be Action values"),  # type: ignore[arg-type]
        (lambda: SyncResponse.from_dict({"actions": {}}), "'actions' list"),
        (lambda: SyncResponse.from_dict({"actions": [{"type": "DROP"}]}), "'action' object"),
        (
            lambda: SyncResponse.from_dict({"actions": [{"action": {"type": "DROP"}, "recipients": "a@x"}]}),
            "list of addresses",
        ),
        (lambda: SyncResponse.from_dict({"actions": [{"action": {"type": "DROP"}}]}), "either to all"),
    ],
)
def test_invalid_actions_are_refused(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
