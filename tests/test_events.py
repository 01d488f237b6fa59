"""The WorkMail adapter: both layouts, every field edge in the seed, and the invalid cases."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from collector.events.workmail import SYNTHETIC_KEY_PREFIX, normalize_address, parse
from collector.model import QUARANTINE_KEY_PREFIX, Direction, Invalid, MailEvent, Undecodable
from collector.sampling import generate_events

REAL = {
    "summaryVersion": "2019-07-28",
    "envelope": {
        "mailFrom": {"address": "from@domain.test"},
        "recipients": [{"address": "recipient1@domain.test"}, {"address": "recipient2@domain.test"}],
    },
    "sender": {"address": "sender@domain.test"},
    "subject": "Hello From Amazon WorkMail!",
    "messageId": "00000000-0000-0000-0000-000000000000",
    "invocationId": "0000000000000000000000000000000000000000",
    "flowDirection": "OUTBOUND",
    "truncated": False,
}


def event(**changes: Any) -> dict[str, Any]:
    e = copy.deepcopy(REAL)
    e.update(changes)
    return e


def valid(raw: object) -> MailEvent:
    parsed = parse(raw)
    assert isinstance(parsed, MailEvent), getattr(parsed, "reason", parsed)
    return parsed


def test_real_envelope_layout() -> None:
    e = valid(REAL)
    assert e.layout == "envelope"
    assert e.mail_from == "from@domain.test"
    assert e.recipients == ("recipient1@domain.test", "recipient2@domain.test")
    assert e.sender == "sender@domain.test"
    assert e.direction is Direction.OUTBOUND
    assert e.dedupe_key == REAL["invocationId"] and not e.key_synthesized
    assert e.summary_version == "2019-07-28" and e.truncated is False


def test_flat_layout_from_the_seed_document() -> None:
    flat: dict[str, Any] = {k: v for k, v in REAL.items() if k != "envelope"}
    flat.update(copy.deepcopy(REAL["envelope"]))  # type: ignore[call-overload]
    e = valid(flat)
    assert e.layout == "flat"
    assert e.recipients == valid(REAL).recipients
    assert e.mail_from == "from@domain.test"


@pytest.mark.parametrize("length", [32, 40])
def test_invocation_id_lengths_seen_in_public_samples(length: int) -> None:
    key = "a" * length
    assert valid(event(invocationId=key)).dedupe_key == key


def test_unknown_fields_and_other_summary_versions_are_kept() -> None:
    raw = event(summaryVersion="2031-01-01", futureField={"x": 1})
    raw["envelope"]["newEnvelopeField"] = "kept"
    e = valid(raw)
    assert e.summary_version == "2031-01-01"
    assert e.extra == {"futureField": {"x": 1}, "envelope.newEnvelopeField": "kept"}


@pytest.mark.parametrize("value", [None, "SIDEWAYS", "", 7])
def test_missing_or_unexpected_direction_is_unknown_not_dropped(value: object) -> None:
    raw = event()
    if value is None:
        del raw["flowDirection"]
    else:
        raw["flowDirection"] = value
    e = valid(raw)
    assert e.direction is Direction.UNKNOWN
    assert e.raw_direction == (None if value is None else str(value))


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (True, "true"),
        ({"a": ["b"]}, '{"a":["b"]}'),
        ([[[[["\ud800"]]]]], '[[[[["\\ud800"]]]]]'),
        ("x" * 300, "x" * 100),
    ],
)
def test_an_unexpected_direction_is_kept_as_json_text(value: object, kept: str) -> None:
    assert valid(event(flowDirection=value)).raw_direction == kept


def test_a_direction_nested_past_the_recursion_limit_is_kept_not_raised() -> None:
    value: Any = "deep"
    for _ in range(5000):
        value = [value]
    e = valid(event(flowDirection=value))
    assert e.direction is Direction.UNKNOWN and e.raw_direction == "[" * 100


def test_missing_invocation_id_gets_a_stable_flagged_key() -> None:
    raw = event()
    del raw["invocationId"]
    first = valid(raw)
    reordered = dict(reversed(list(raw.items())))
    assert first.key_synthesized
    assert first.dedupe_key.startswith(SYNTHETIC_KEY_PREFIX)
    assert valid(reordered).dedupe_key == first.dedupe_key  # canonical: key order does not matter
    assert valid(event(subject="other", invocationId=None)).dedupe_key != first.dedupe_key


def test_domain_compared_case_insensitively_local_part_kept() -> None:
    assert normalize_address(" Alice.Smith@Example.COM ") == "Alice.Smith@example.com"
    raw = event()
    raw["envelope"]["recipients"] = [{"address": "Bob@EXAMPLE.org"}]
    assert valid(raw).recipients == ("Bob@example.org",)


def test_subject_at_the_256_character_cut_and_unicode() -> None:
    subject = ("Grüße 会議 🚀 " * 40)[:256]
    assert valid(event(subject=subject)).subject == subject


def test_truncated_event_with_500_plus_recipients() -> None:
    raw = generate_events(recipients=750, truncated=True, seed=5)[0]
    e = valid(raw)
    assert e.truncated and len(e.recipients) == 750


def test_empty_recipients_and_null_subject_and_sender_are_valid() -> None:
    raw = event(subject=None, sender=None)
    raw["envelope"]["recipients"] = []
    e = valid(raw)
    assert e.recipients == () and e.subject is None and e.sender is None


def test_lone_surrogates_are_replaced_not_fatal() -> None:
    e = valid(event(subject="broken \ud800 text"))
    assert e.subject == "broken \ufffd text"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("messageId"), "messageId is missing"),
        (lambda e: e.update(messageId=42), "messageId must be a non-empty string"),
        (lambda e: e.update(invocationId=12345), "invocationId must be a string"),
        (lambda e: e.update(truncated="false"), "truncated must be a boolean"),
        (lambda e: e.update(subject=["a"]), "subject must be a string"),
        (lambda e: e.update(envelope="x"), "envelope must be an object"),
        (lambda e: e["envelope"].pop("recipients"), "envelope.recipients is missing"),
        (lambda e: e["envelope"].update(recipients={"address": "a@b"}), "envelope.recipients must be a list"),
        (lambda e: e["envelope"].update(recipients=[{"addr": "a@b"}]), "envelope.recipients[0].address"),
        (lambda e: e["envelope"].update(recipients=["a@b"]), "envelope.recipients[0] must be an object"),
        (lambda e: e["envelope"].pop("mailFrom"), "envelope.mailFrom is missing"),
        (lambda e: e.update(sender={"address": None}), "sender.address must be a string"),
    ],
)
def test_invalid_payloads_get_a_clear_reason(mutate: Any, reason: str) -> None:
    raw = event()
    mutate(raw)
    parsed = parse(raw)
    assert isinstance(parsed, Invalid)
    assert reason in parsed.reason
    assert parsed.raw is raw


@pytest.mark.parametrize("raw", [None, [], "text", 3.5, True])
def test_non_objects_are_invalid_with_a_stable_key(raw: object) -> None:
    first, second = parse(raw), parse(copy.deepcopy(raw))
    assert isinstance(first, Invalid) and isinstance(second, Invalid)
    assert "must be a JSON object" in first.reason
    assert first.dedupe_key == second.dedupe_key


def test_undecodable_text_is_invalid() -> None:
    parsed = parse(Undecodable(text='{"a": ', error="unexpected end"))
    assert isinstance(parsed, Invalid) and "not valid JSON" in parsed.reason
    assert parsed.raw == '{"a": '


def test_invalid_keeps_invocation_id_and_direction_when_present() -> None:
    parsed = parse(event(truncated="yes"))
    assert isinstance(parsed, Invalid)
    assert parsed.claimed_key == REAL["invocationId"]  # kept beside it, never its key
    assert parsed.dedupe_key == QUARANTINE_KEY_PREFIX + parsed.fingerprint
    assert parsed.direction is Direction.OUTBOUND


def test_null_truncated_means_nothing_was_cut() -> None:
    assert valid(event(truncated=None)).truncated is False


def test_top_level_fields_beside_an_envelope_are_kept_not_dropped() -> None:
    raw = event(mailFrom={"address": "other@example.com"}, recipients=[])
    e = valid(raw)
    assert e.mail_from == "from@domain.test"  # the envelope wins
    assert e.extra == {"mailFrom": {"address": "other@example.com"}, "recipients": []}


def test_invalid_event_keeps_the_key_it_claimed_beside_its_own() -> None:
    parsed = parse(event(invocationId="sha256:looks-synthetic-but-is-not", truncated="x"))
    assert isinstance(parsed, Invalid) and parsed.key_synthesized
    assert parsed.claimed_key == "sha256:looks-synthetic-but-is-not"
