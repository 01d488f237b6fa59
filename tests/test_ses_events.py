"""SES adapters and source detection, on every public sample found and on the edges they disagree on."""

from __future__ import annotations

import copy
import logging
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.events.detect import parse, shape_of, source_of
from collector.events.workmail import normalize_address
from collector.model import (
    QUARANTINE_KEY_PREFIX,
    Direction,
    EventType,
    Invalid,
    MailEvent,
    Source,
    Undecodable,
)
from collector.response import answer, pass_through, ses_continue
from tests.public_samples import (
    RECEIPT_SAMPLES,
    RECEIVED_NOTIFICATIONS,
    SENDING_SAMPLES,
    SES,
    WORKMAIL,
    WORKMAIL_SAMPLES,
    eventbridge,
    load,
    record_of,
    sns,
)

VERDICTS = {"spfVerdict": "spf", "dkimVerdict": "dkim", "dmarcVerdict": "dmarc", "spamVerdict": "spam"}
VERDICTS |= {"virusVerdict": "virus"}


def valid(raw: object) -> MailEvent:
    parsed = parse(raw)
    assert isinstance(parsed, MailEvent), getattr(parsed, "reason", parsed)
    return parsed


def invalid(raw: object) -> Invalid:
    parsed = parse(raw)
    assert isinstance(parsed, Invalid), parsed
    return parsed


def first_address(values: list[str]) -> str:
    return normalize_address(next(a for _, a in getaddresses(values) if a))


# ------------------------------------------------------------------------- receipt rules (inbound)


@pytest.mark.parametrize("path", RECEIPT_SAMPLES + RECEIVED_NOTIFICATIONS, ids=lambda p: p.name)
def test_every_public_receipt_sample_is_one_inbound_ses_message(path: Path) -> None:
    raw = load(path)
    record = record_of(raw)
    mail, receipt = record["mail"], record["receipt"]
    e = valid(raw)
    assert (e.source, e.event_type, e.direction, e.is_message) == (
        Source.SES,
        EventType.RECEIVED,
        Direction.INBOUND,
        True,
    )
    assert e.dedupe_key == f"ses:{mail['messageId']}" and not e.key_synthesized
    assert e.message_id == mail["messageId"]
    assert e.recipients == tuple(normalize_address(r) for r in receipt["recipients"])
    assert e.mail_from == first_address([mail["source"]])
    common = mail.get("commonHeaders", {})
    assert e.sender == (first_address(common["from"]) if "from" in common else None)
    assert e.subject == common.get("subject")
    expected = {short: receipt[name]["status"] for name, short in VERDICTS.items() if name in receipt}
    if "dmarcPolicy" in receipt:
        expected["dmarcPolicy"] = receipt["dmarcPolicy"]
    assert e.verdicts == expected
    assert e.headers_truncated is mail.get("headersTruncated")
    assert e.truncated is False  # WorkMail's fact; SES's header cut is headers_truncated
    assert "headers" not in e.extra["mail"] and e.extra["omitted"]["mail.headers"] == len(mail["headers"])
    assert e.extra["mail"]["destination"] == mail["destination"]
    assert e.fingerprint == parse(copy.deepcopy(raw)).fingerprint


def test_the_public_samples_disagree_on_optional_fields_and_all_parse() -> None:
    """The reason for tolerance, shown on the samples themselves."""
    receipts = [record_of(load(p))["receipt"] for p in RECEIPT_SAMPLES]
    assert any("dmarcVerdict" not in r for r in receipts) and any("dmarcVerdict" in r for r in receipts)
    assert any("dmarcPolicy" not in r for r in receipts) and any("dmarcPolicy" in r for r in receipts)
    layouts = {valid(load(p)).layout for p in RECEIPT_SAMPLES + RECEIVED_NOTIFICATIONS}
    assert layouts == {"receipt-lambda", "receipt-notification"}


def test_envelope_recipients_are_the_receipts_not_the_header_destination() -> None:
    raw = load(SES / "ses-dg-receipt-lambda-action-event.REPAIRED.json")
    mail = raw["Records"][0]["ses"]["mail"]
    mail["destination"] = ["recipient@example.com", "cc-outside@elsewhere.example"]
    raw["Records"][0]["ses"]["receipt"]["recipients"] = ["Recipient@EXAMPLE.com", "bcc@example.com"]
    e = valid(raw)
    assert e.recipients == ("Recipient@example.com", "bcc@example.com")
    assert e.extra["mail"]["destination"] == mail["destination"]


@pytest.mark.parametrize(
    "remove",
    [
        ("receipt", "dmarcVerdict"),
        ("receipt", "dmarcPolicy"),
        ("receipt", "spamVerdict"),
        ("receipt", "virusVerdict"),
        ("receipt", "spfVerdict"),
        ("receipt", "dkimVerdict"),
        ("mail", "commonHeaders"),
        ("commonHeaders", "messageId"),
        ("commonHeaders", "from"),
        ("commonHeaders", "subject"),
        ("mail", "headersTruncated"),
        ("mail", "headers"),
        ("mail", "source"),
        ("mail", "destination"),
    ],
)
def test_fields_public_models_call_optional_may_be_absent(remove: tuple[str, str]) -> None:
    raw = load(SES / "aws-lambda-go-ses-lambda-event.json")
    record = raw["Records"][0]["ses"]
    holders = {
        "receipt": record["receipt"],
        "mail": record["mail"],
        "commonHeaders": record["mail"]["commonHeaders"],
    }
    del holders[remove[0]][remove[1]]
    e = valid(raw)
    assert e.dedupe_key == "ses:6n4thuhcbhpfiuf25gshf70rss364fuejrvmqko1"
    if remove == ("commonHeaders", "from") or remove == ("mail", "commonHeaders"):
        assert e.sender is None
    if remove[1] == "dmarcVerdict":
        assert "dmarc" not in e.verdicts and e.verdicts["dmarcPolicy"] == "reject"
    if remove == ("mail", "source"):
        assert e.mail_from is None


def test_display_names_and_null_values() -> None:
    raw = load(SES / "sam-cli-ses-email-receiving.template.json")
    mail = raw["Records"][0]["ses"]["mail"]
    mail["commonHeaders"].update({"from": ['"Doe, Jane" <Jane.Doe@Example.COM>', "x@y.z"], "subject": None})
    mail["source"] = ""  # a null reverse-path: a bounce arriving at SES
    e = valid(raw)
    assert e.sender == "Jane.Doe@example.com" and e.subject is None and e.mail_from == ""


HOSTILE_FROM = [
    "(" * 600 + "x" + ")" * 600 + " Eve <eve@example.com>",  # RecursionError in 3.11 and 3.13
    "(" * 5000 + " <eve@example.com>",  # unbalanced: RecursionError in 3.11
    "@" * 100_000,
]


@pytest.mark.parametrize("header", HOSTILE_FROM, ids=["nested-comments", "unbalanced", "at-run"])
def test_a_from_header_the_address_parser_cannot_read_is_kept_as_sent(header: str) -> None:
    """The sender writes commonHeaders.from; one the stdlib parser fails on is still a message."""
    receipt = load(SES / "sam-cli-ses-email-receiving.template.json")
    receipt["Records"][0]["ses"]["mail"]["commonHeaders"]["from"] = [header]
    sending = load(SES / "ses-dg-eventpublishing-sns-send.json")
    sending["mail"]["commonHeaders"]["from"] = [header]
    for raw in (receipt, sending):
        e = valid(raw)
        assert e.sender is not None and e.source is Source.SES


def test_an_adapter_that_fails_unforeseen_quarantines_the_payload_raw(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Invalid means quarantined whatever goes wrong: an adapter's defect never loses the event."""
    from collector.events import detect, ses

    def broken(_: object, record: dict[str, Any], *__: object) -> MailEvent:
        raise LookupError(f"an error that quotes the input: {record['mail']['source']}")

    monkeypatch.setattr(ses, "parse_receipt", broken)
    raw = load(SES / "sam-cli-ses-email-receiving.template.json")
    raw["Records"][0]["ses"]["mail"]["source"] = "alice.secret@example.com"
    with caplog.at_level(logging.ERROR):
        bad = invalid(raw)
    assert bad.raw == raw and bad.source is Source.SES
    assert "LookupError in its receipt adapter" in bad.reason
    assert bad.dedupe_key == QUARANTINE_KEY_PREFIX + bad.fingerprint
    # The message quotes the input: neither the record's reason nor the log repeats it (redaction).
    assert "alice.secret" not in bad.reason and "alice.secret" not in caplog.text
    assert "LookupError" in caplog.text and "broken" in caplog.text  # where it failed, for the fix
    assert detect.parse(copy.deepcopy(raw)).dedupe_key == bad.dedupe_key  # a retry: the same key


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r["receipt"].pop("recipients"), "receipt.recipients is missing"),
        (lambda r: r["receipt"].update(recipients="a@b.c"), "receipt.recipients must be a list"),
        (lambda r: r["receipt"].update(recipients=[7]), "receipt.recipients[0] must be a string"),
        (lambda r: r.pop("receipt"), "receipt is missing"),
        (lambda r: r["receipt"].update(spfVerdict="PASS"), "receipt.spfVerdict must be an object"),
        (lambda r: r["receipt"].update(dmarcPolicy=1), "receipt.dmarcPolicy must be a string"),
        (lambda r: r["mail"].update(headersTruncated="no"), "mail.headersTruncated must be a boolean"),
        (
            lambda r: r["mail"]["commonHeaders"].update(subject=["x"]),
            "commonHeaders.subject must be a string",
        ),
        (lambda r: r["mail"].update(commonHeaders=[]), "mail.commonHeaders must be an object"),
    ],
)
def test_wrong_types_are_quarantined_under_their_own_key(mutate: Any, reason: str) -> None:
    raw = load(SES / "aws-lambda-go-ses-lambda-event.json")
    mutate(raw["Records"][0]["ses"])
    parsed = invalid(raw)
    assert reason in parsed.reason and parsed.reason.startswith("SES receipt event")
    assert parsed.source is Source.SES and parsed.direction is Direction.INBOUND
    assert parsed.dedupe_key == QUARANTINE_KEY_PREFIX + parsed.fingerprint  # never the message's
    assert parsed.claimed_key == "ses:6n4thuhcbhpfiuf25gshf70rss364fuejrvmqko1"
    assert parsed.raw is raw


@pytest.mark.parametrize("message_id", [None, "", 42])
def test_without_a_message_id_the_key_is_the_content_hash(message_id: object) -> None:
    raw = load(SES / "aws-lambda-go-ses-lambda-event.json")
    raw["Records"][0]["ses"]["mail"]["messageId"] = message_id
    parsed = invalid(raw)
    assert parsed.dedupe_key == QUARANTINE_KEY_PREFIX + parsed.fingerprint and parsed.key_synthesized
    assert parsed.claimed_key is None
    assert "mail.messageId" in parsed.reason


def test_an_over_long_message_id_gets_a_stable_synthesized_key() -> None:
    raw = load(SES / "aws-lambda-go-ses-lambda-event.json")
    raw["Records"][0]["ses"]["mail"]["messageId"] = "m" * 5000
    first, again = valid(raw), valid(copy.deepcopy(raw))
    assert first.key_synthesized and first.dedupe_key.startswith("sha256:")
    assert first.dedupe_key == again.dedupe_key


def test_one_message_from_two_rules_is_one_key_and_one_fingerprint() -> None:
    """The public .NET pair: the same message seen by a Lambda action and an S3 action."""
    lambda_action = valid(load(SES / "aws-lambda-dotnet-simple-email-event-lambda.json"))
    s3_action = valid(load(SES / "aws-lambda-dotnet-simple-email-event-s3.json"))
    assert lambda_action.extra["receipt"]["action"]["type"] == "Lambda"
    assert s3_action.extra["receipt"]["action"]["type"] == "S3"
    assert (lambda_action.dedupe_key, lambda_action.fingerprint) == (
        s3_action.dedupe_key,
        s3_action.fingerprint,
    )


def test_a_second_rule_with_other_recipients_is_still_the_same_message() -> None:
    raw = load(SES / "sam-cli-ses-email-receiving.template.json")
    second = copy.deepcopy(raw)
    receipt = second["Records"][0]["ses"]["receipt"]
    receipt["recipients"] = ["other@example.com"]
    receipt["action"]["functionArn"] += "-second-rule"
    del receipt["spamVerdict"]  # that rule does not scan
    assert (valid(raw).dedupe_key, valid(raw).fingerprint) == (
        valid(second).dedupe_key,
        valid(second).fingerprint,
    )


def test_the_sns_action_and_the_lambda_action_of_one_message_are_one_message() -> None:
    notification = load(SES / "ses-dg-receiving-notification-sns-action.json")
    wrapped = sns(notification)
    via_sns, bare = valid(wrapped), valid(notification)
    assert via_sns.layout == "receipt-sns" and bare.layout == "receipt-notification"
    assert via_sns.dedupe_key == bare.dedupe_key == "ses:d6iitobk75ur44p8kdnnp7g2n800"
    assert via_sns.fingerprint == bare.fingerprint
    assert via_sns.extra["omitted"]["content"] == len(notification["content"])
    assert "content" not in via_sns.extra  # the whole message: left out, its size noted
    assert via_sns.extra["sns"]["MessageId"] == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    lambda_action = {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": notification}]}
    assert valid(lambda_action).fingerprint == bare.fingerprint


def test_verdicts_that_fail_are_authentication_failures_of_inbound_mail() -> None:
    raw = load(SES / "aws-lambda-go-ses-lambda-event.json")
    receipt = raw["Records"][0]["ses"]["receipt"]
    receipt["spfVerdict"]["status"] = "FAIL"
    receipt["dmarcVerdict"]["status"] = "FAIL"
    receipt["dkimVerdict"]["status"] = "GRAY"
    assert valid(raw).auth_failures == {"spf", "dmarc"}


# ------------------------------------------------------------------------ sending events (outbound)

TYPE_OF = {
    "send": EventType.SEND,
    "delivery": EventType.DELIVERY,
    "bounce": EventType.BOUNCE,
    "complaint": EventType.COMPLAINT,
    "reject": EventType.REJECT,
    "deliverydelay": EventType.DELIVERY_DELAY,
    "open": EventType.OPEN,
    "click": EventType.CLICK,
    "rendering-failure": EventType.RENDERING_FAILURE,
    "subscription": EventType.SUBSCRIPTION,
}


def expected_type(path: Path) -> EventType:
    name = path.name.removesuffix(".json")
    for suffix, kind in sorted(TYPE_OF.items(), key=lambda item: -len(item[0])):
        if suffix in name:
            return kind
    raise AssertionError(path.name)


def reported(record: dict[str, Any], kind: EventType) -> tuple[str, ...]:
    if kind is EventType.DELIVERY:
        return tuple(record["delivery"]["recipients"])
    listed = {
        EventType.BOUNCE: ("bounce", "bouncedRecipients"),
        EventType.COMPLAINT: ("complaint", "complainedRecipients"),
        EventType.DELIVERY_DELAY: ("deliveryDelay", "delayedRecipients"),
    }
    if kind in listed:
        report, field = listed[kind]
        return tuple(r["emailAddress"] for r in record[report][field])
    return tuple(record["mail"]["destination"])


def inner(raw: dict[str, Any]) -> dict[str, Any]:
    if "Records" in raw:
        found: dict[str, Any] = orjson.loads(raw["Records"][0]["Sns"]["Message"])
        return found
    return raw


@pytest.mark.parametrize("path", SENDING_SAMPLES, ids=lambda p: p.name)
def test_every_public_sending_sample_is_recorded_outbound_with_its_type(path: Path) -> None:
    raw = load(path)
    record = inner(raw)
    kind = expected_type(path)
    e = valid(raw)
    assert (e.source, e.event_type, e.direction) == (Source.SES, kind, Direction.OUTBOUND)
    assert e.is_message is (kind is EventType.SEND)
    assert e.message_id == record["mail"]["messageId"]
    assert e.recipients == reported(record, kind)
    assert e.mail_from == first_address([record["mail"]["source"]])
    prefix = f"ses:{record['mail']['messageId']}:{kind.value}"
    assert e.dedupe_key == prefix if kind is EventType.SEND else e.dedupe_key.startswith(prefix + ":")
    family = "event" if "eventType" in record else "notification"
    assert e.layout == (f"{family}-sns" if "Records" in raw else family)
    assert "headers" not in e.extra["mail"]


def test_sending_event_types_the_samples_cover() -> None:
    kinds = {valid(load(p)).event_type for p in SENDING_SAMPLES}
    assert kinds == set(EventType) - {EventType.RECEIVED}


@pytest.mark.parametrize(
    ("sample", "detail_type"),
    [
        ("ses-dg-eventpublishing-sns-send.json", "Email Sent"),
        ("ses-dg-eventpublishing-sns-delivery.json", "Email Delivered"),
        ("ses-dg-eventpublishing-sns-bounce.json", "Email Bounced"),
        ("ses-dg-eventpublishing-sns-complaint.json", "Email Complaint Received"),
        ("ses-dg-eventpublishing-sns-reject.json", "Email Rejected"),
        ("ses-dg-eventpublishing-sns-deliverydelay.json", "Email Delivery Delayed"),
    ],
)
def test_eventbridge_sns_and_bare_records_of_one_event_are_one_event(sample: str, detail_type: str) -> None:
    record = load(SES / sample)
    shapes = [record, sns(record), eventbridge(record, detail_type), eventbridge(record, detail_type, "2")]
    events = [valid(s) for s in shapes]
    assert [e.layout for e in events] == ["event", "event-sns", "event-eventbridge", "event-eventbridge"]
    assert len({(e.dedupe_key, e.fingerprint) for e in events}) == 1
    assert events[2].extra["eventbridge"]["detail-type"] == detail_type


def test_an_sns_message_from_a_subscriptions_dead_letter_queue_is_the_same_event() -> None:
    """SNS puts the message itself, not Lambda's envelope, in a subscription's dead-letter queue."""
    wrapped = sns(load(SES / "ses-dg-eventpublishing-sns-bounce.json"))
    dead_lettered = wrapped["Records"][0]["Sns"]
    assert (valid(dead_lettered).dedupe_key, valid(dead_lettered).layout) == (
        valid(wrapped).dedupe_key,
        "event-sns",
    )
    assert answer(dead_lettered) == ses_continue()


def test_eventbridge_detail_without_its_own_type_uses_the_detail_type() -> None:
    record = load(SES / "ses-dg-eventpublishing-sns-delivery.json")
    del record["eventType"]
    assert valid(eventbridge(record, "Email Delivered")).event_type is EventType.DELIVERY


def test_eventbridge_ses_events_that_are_not_about_mail_are_quarantined_as_ses() -> None:
    parsed = invalid(eventbridge({"status": "DISABLED"}, "Sending Status Disabled"))
    assert parsed.source is Source.SES and "detail-type names no email sending event" in parsed.reason
    assert "Sending Status Disabled" not in parsed.reason  # the field, never its value


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.update(eventType="Teleported"), "eventType is not an SES event type"),
        (lambda r: r.pop("delivery"), "delivery is missing"),
        (lambda r: r["delivery"].pop("recipients"), "delivery.recipients is missing"),
        (lambda r: r["delivery"].update(recipients=[{"emailAddress": "a@b.c"}]), "must be a string"),
        (lambda r: r["mail"].update(destination="a@b.c"), "mail.destination must be a list"),
    ],
)
def test_sending_events_with_wrong_types_are_quarantined(mutate: Any, reason: str) -> None:
    raw = load(SES / "ses-dg-eventpublishing-sns-delivery.json")
    mutate(raw)
    parsed = invalid(raw)
    assert reason in parsed.reason and parsed.source is Source.SES and "Teleported" not in parsed.reason
    assert parsed.dedupe_key == QUARANTINE_KEY_PREFIX + parsed.fingerprint
    assert str(parsed.claimed_key).startswith("ses:EXAMPLE7c191be45-")


def test_bounce_recipients_come_from_the_report() -> None:
    raw = load(SES / "ses-dg-notification-bounce-without-dsn.json")
    e = valid(raw)
    assert e.recipients == ("jane@example.com", "richard@example.com")
    assert e.extra["bounce"]["bounceType"] == raw["bounce"]["bounceType"]


def test_two_deliveries_of_one_message_are_two_events() -> None:
    first = load(SES / "ses-dg-eventpublishing-sns-delivery.json")
    second = copy.deepcopy(first)
    second["delivery"]["recipients"] = ["other@example.com"]
    assert valid(first).dedupe_key != valid(second).dedupe_key
    send = load(SES / "ses-dg-eventpublishing-sns-send.json")
    assert valid(send).dedupe_key == f"ses:{send['mail']['messageId']}:Send"


# ---------------------------------------------------------------------------- detection and answers


@pytest.mark.parametrize("path", WORKMAIL_SAMPLES, ids=lambda p: p.name)
def test_public_workmail_samples_are_still_workmail(path: Path) -> None:
    e = valid(load(path))
    assert e.source is Source.WORKMAIL and e.event_type is None and e.is_message
    assert answer(load(path)) == pass_through()


def test_the_sam_workmail_template_is_rendered_with_sams_defaults() -> None:
    e = valid(load(WORKMAIL / "sam-cli-workmail-email.template.json"))
    assert (e.mail_from, e.sender, e.direction) == (
        "from@example.com",
        "sender@example.com",
        Direction.INBOUND,
    )


def test_ses_events_are_answered_continue_and_everything_else_passes_through() -> None:
    for path in RECEIPT_SAMPLES + RECEIVED_NOTIFICATIONS + SENDING_SAMPLES:
        assert answer(load(path)) == {"disposition": "CONTINUE"} == ses_continue(), path.name
    others: list[object] = [{"garbage": True}, [], "text", None, Undecodable("{", "broken")]
    for raw in others:
        assert answer(raw) == pass_through()
    first = ses_continue()
    first["disposition"] = "STOP_RULE_SET"
    assert ses_continue() == {"disposition": "CONTINUE"}  # a fresh dict every time


MAIL_MANAGER_LOOKALIKES = [
    {
        "ruleSetArn": "arn:aws:ses:us-east-1:123456789012:mailmanager-rule-set/rs-0123456789abcdef",
        "envelope": None,
        "messageId": "0100018c-example",
    },
    {"ingressPointId": "inp-0123456789abcdef", "mailFrom": "a@example.com", "recipients": ["b@example.org"]},
    {"metadata": {"source": "arn:aws:ses:eu-west-1:123456789012:mailmanager-ingress-point/inp-1"}},
]


@pytest.mark.parametrize("raw", MAIL_MANAGER_LOOKALIKES[1:])
def test_payloads_naming_mail_manager_are_quarantined_as_mail_manager(raw: dict[str, Any]) -> None:
    parsed = invalid(raw)
    assert "Mail Manager" in parsed.reason and "does not document" in parsed.reason
    assert parsed.source is Source.SES and parsed.raw is raw
    assert parsed.dedupe_key == QUARANTINE_KEY_PREFIX + parsed.fingerprint


def test_a_workmail_field_beside_mail_manager_names_is_still_workmail() -> None:
    """`envelope` is WorkMail's own; such a payload keeps WorkMail's reasons."""
    parsed = invalid(MAIL_MANAGER_LOOKALIKES[0])
    assert parsed.source is Source.WORKMAIL


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"garbage": True},
        {"Records": []},
        {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "hi"}}]},
    ],
)
def test_unrecognised_payloads_are_quarantined_with_a_reason_naming_mail_manager(raw: dict[str, Any]) -> None:
    parsed = invalid(raw)
    assert parsed.source is None and shape_of(raw).adapter == "unknown" and source_of(raw) is None
    assert "no adapter recognises" in parsed.reason and "Mail Manager" in parsed.reason


def test_more_than_one_record_per_invocation_is_quarantined() -> None:
    raw = load(SES / "aws-lambda-go-ses-lambda-event.json")
    raw["Records"].append(copy.deepcopy(raw["Records"][0]))
    parsed = invalid(raw)
    assert "2 records in one invocation" in parsed.reason and parsed.source is Source.SES


def test_non_objects_keep_the_workmail_adapters_reasons() -> None:
    assert "must be a JSON object" in invalid(["a"]).reason
    assert "not valid JSON" in invalid(Undecodable("{", "broken")).reason


@pytest.mark.parametrize("folder", [SES, WORKMAIL], ids=lambda p: p.name)
def test_every_public_sample_names_its_origin_and_license(folder: Path) -> None:
    listed = (folder / "SOURCES.md").read_text()
    for path in folder.iterdir():
        if path.name == "SOURCES.md":
            continue
        stem = path.name.split(".")[0]
        named = path.name in listed or stem in listed
        aws_samples = path.name.startswith("aws-samples-workmail-lambda-templates-") and "<app>" in listed
        families = ("ses-dg-eventpublishing-sns-", "ses-dg-notification-")  # listed as `<family>-{a,b,...}`
        dg_family = any(
            stem.startswith(f) and f"{stem.removeprefix(f)}," in listed.replace("}", ",") for f in families
        )
        assert named or aws_samples or dg_family, f"{path.name} is not in {folder.name}/SOURCES.md"
