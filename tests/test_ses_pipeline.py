"""SES through the pipeline on every store: each public sample recorded once with its verdicts, its
redeliveries and second rules counted as duplicates, sending events counted as the catalog says,
WorkMail and SES side by side in one audit trail and one EMF stream."""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector.config import Settings
from collector.metrics import SES, EmfWriter, catalog_for, features_for, metric_values
from collector.model import Invocation, Source, Status
from collector.pipeline import Pipeline
from collector.sampling import generate_events
from tests.conftest import Backend, run
from tests.emf import sum_metric, validate_document
from tests.public_samples import (
    RECEIPT_SAMPLES,
    RECEIVED_NOTIFICATIONS,
    SENDING_SAMPLES,
    eventbridge,
    load,
    record_of,
    sns,
)
from tests.public_samples import SES as SES_DIR

SES_ON = features_for(False, (Source.WORKMAIL, Source.SES))
VERDICT_ATTRIBUTES = {
    "spfVerdict": "spf",
    "dkimVerdict": "dkim",
    "dmarcVerdict": "dmarc",
    "spamVerdict": "spam",
    "virusVerdict": "virus",
}


def invocation(n: int = 0) -> Invocation:
    return Invocation(f"req-{n}", "3", datetime.now(UTC))


async def with_pipeline(
    backend: Backend,
    body: Callable[[Pipeline, list[str]], Awaitable[Any]],
    features: frozenset[str] = SES_ON,
    **settings: Any,
) -> Any:
    lines: list[str] = []
    config = dataclasses.replace(backend.settings, **settings)
    store = await dataclasses.replace(backend, settings=config).open()
    pipeline = Pipeline(store, EmfWriter(config.namespace, "svc", lines.append, features), config)
    try:
        return await body(pipeline, lines)
    finally:
        await store.close()


def fresh(tmp_path: Path, name: str) -> Backend:
    return Backend("sqlite", Settings(store="sqlite", sqlite_path=tmp_path / f"{name}.sqlite3"))


@pytest.mark.parametrize("path", RECEIPT_SAMPLES + RECEIVED_NOTIFICATIONS, ids=lambda p: p.name)
def test_each_public_receipt_sample_is_recorded_once_inbound_with_its_verdicts(
    path: Path, tmp_path: Path
) -> None:
    raw = load(path)
    record = record_of(raw)
    receipt = record["receipt"]

    async def body(p: Pipeline, lines: list[str]) -> None:
        first = await p.process(raw, invocation(1))
        again = await p.process(copy.deepcopy(raw), invocation(2))  # Lambda's or SES's retry
        assert (first.status, again.status) == (Status.RECORDED, Status.DUPLICATE)
        assert first.source is Source.SES and first.direction.value == "INBOUND"
        stored = await p.store.get(f"ses:{record['mail']['messageId']}")
        assert stored is not None
        assert (stored["status"], stored["source"], stored["eventType"], stored["direction"]) == (
            "RECORDED",
            "SES",
            "Received",
            "INBOUND",
        )
        assert stored["recipientCount"] == len(receipt["recipients"])
        for attribute, short in VERDICT_ATTRIBUTES.items():
            assert stored.get(attribute) == receipt.get(f"{short}Verdict", {}).get("status"), attribute
        assert stored.get("dmarcPolicy") == receipt.get("dmarcPolicy")
        assert stored["headersTruncated"] is record["mail"]["headersTruncated"]
        assert "truncated" not in stored  # WorkMail's fact, not SES's
        documents = [validate_document(line) for line in lines]
        assert documents[0]["Source"] == "SES" and documents[0]["eventType"] == "Received"
        assert sum_metric(lines, "Messages", Source="SES", FlowDirection="INBOUND") == 1
        assert sum_metric(lines, "Recipients") == len(receipt["recipients"])
        assert sum_metric(lines, "DuplicateInvocations") == 1
        for name in ("SpfFailures", "DkimFailures", "DmarcFailures"):
            assert sum_metric(lines, name) == 0  # every public sample passes

    run(with_pipeline(fresh(tmp_path, path.stem), body))


def test_all_public_receipt_samples_in_one_store(backend: Backend) -> None:
    """Samples that share a message id are the same message (duplicate) when their `mail` is the
    same, and a conflict when it is not: the keys are SES's message ids, as in production."""
    paths = RECEIPT_SAMPLES + RECEIVED_NOTIFICATIONS

    async def body(p: Pipeline, lines: list[str]) -> None:
        first_mail: dict[str, Any] = {}
        for n, path in enumerate(paths):
            raw = load(path)
            mail = record_of(raw)["mail"]
            known = first_mail.setdefault(mail["messageId"], mail)
            expected = (
                Status.RECORDED if known is mail else Status.DUPLICATE if known == mail else Status.CONFLICT
            )
            assert (await p.process(raw, invocation(n))).status is expected, path.name
        assert sum_metric(lines, "Messages") == len(first_mail)
        assert sum_metric(lines, "Messages", Source="SES", FlowDirection="INBOUND") == len(first_mail)
        assert sum_metric(lines, "Conflicts") > 0  # the public fixtures reuse ids with other content

    run(with_pipeline(backend, body))


def test_the_same_message_from_a_second_rule_is_a_duplicate(backend: Backend) -> None:
    """The public .NET pair (a Lambda action and an S3 action of one message), then a second rule
    with other recipients: one message, one record, the rest duplicates."""
    lambda_action = load(SES_DIR / "aws-lambda-dotnet-simple-email-event-lambda.json")
    s3_action = load(SES_DIR / "aws-lambda-dotnet-simple-email-event-s3.json")
    other_rule = copy.deepcopy(lambda_action)
    other_rule["Records"][0]["ses"]["receipt"]["recipients"] = ["someone-else@amazon.com"]

    async def body(p: Pipeline, lines: list[str]) -> None:
        statuses = [
            (await p.process(e, invocation(i))).status
            for i, e in enumerate([lambda_action, s3_action, other_rule])
        ]
        assert statuses == [Status.RECORDED, Status.DUPLICATE, Status.DUPLICATE]
        assert sum_metric(lines, "Messages") == 1 and sum_metric(lines, "Conflicts") == 0
        assert sum_metric(lines, "DuplicateInvocations") == 2

    run(with_pipeline(backend, body))


def sending_totals(lines: list[str]) -> dict[str, float]:
    names = [spec.name for spec in catalog_for(SES_ON)]
    return {name: sum_metric(lines, name) for name in names if sum_metric(lines, name)}


def test_public_sending_samples_are_recorded_and_counted_as_the_catalog_says(backend: Backend) -> None:
    async def body(p: Pipeline, lines: list[str]) -> None:
        statuses: Counter[str] = Counter()
        expected: Counter[str] = Counter()
        for n, path in enumerate(SENDING_SAMPLES):
            outcome = await p.process(load(path), invocation(n))
            statuses[outcome.status.value] += 1
            expected.update({k: v for k, v in metric_values(outcome, SES_ON).items() if v})
            stored = await p.store.get(outcome.dedupe_key)
            assert stored is not None and stored["source"] == "SES" and stored["direction"] == "OUTBOUND"
            assert stored["eventType"] == outcome.event_type
        assert statuses == {"RECORDED": len(SENDING_SAMPLES)}
        totals = sending_totals(lines)
        assert totals == dict(expected)
        # One Send: the only message among them, OUTBOUND under Source SES.
        assert (
            totals["Messages"] == 1
            and sum_metric(lines, "Messages", Source="SES", FlowDirection="OUTBOUND") == 1
        )
        # Deliveries: 1 (event publishing) + 1 (notification) + 1 (the SNS-wrapped notification).
        assert totals["SesDeliveries"] == 3
        assert totals["SesBounces"] == 1 + 1 + 2  # one, one with DSN, two without
        assert totals["SesComplaints"] == 3 and totals["SesRejects"] == 1 and totals["SesDeliveryDelays"] == 1

    run(with_pipeline(backend, body))


@pytest.mark.parametrize(
    ("sample", "detail_type", "metric"),
    [
        ("ses-dg-eventpublishing-sns-send.json", "Email Sent", "Messages"),
        ("ses-dg-eventpublishing-sns-delivery.json", "Email Delivered", "SesDeliveries"),
        ("ses-dg-eventpublishing-sns-bounce.json", "Email Bounced", "SesBounces"),
        ("ses-dg-eventpublishing-sns-complaint.json", "Email Complaint Received", "SesComplaints"),
        ("ses-dg-eventpublishing-sns-reject.json", "Email Rejected", "SesRejects"),
        ("ses-dg-eventpublishing-sns-deliverydelay.json", "Email Delivery Delayed", "SesDeliveryDelays"),
    ],
)
def test_sns_and_eventbridge_redeliveries_count_once(
    sample: str, detail_type: str, metric: str, sqlite_backend: Backend
) -> None:
    record = load(SES_DIR / sample)
    deliveries = [
        sns(record),
        sns(record),
        eventbridge(record, detail_type),
        eventbridge(record, detail_type, "2"),
    ]

    async def body(p: Pipeline, lines: list[str]) -> None:
        statuses = [(await p.process(d, invocation(i))).status for i, d in enumerate(deliveries)]
        assert statuses == [Status.RECORDED] + [Status.DUPLICATE] * 3
        assert sum_metric(lines, metric) == 1
        assert sum_metric(lines, "DuplicateInvocations") == 3

    run(with_pipeline(sqlite_backend, body))


def test_workmail_and_ses_side_by_side_in_one_trail_and_one_stream(backend: Backend) -> None:
    workmail = generate_events(count=3, seed=40) + generate_events(count=2, direction="OUTBOUND", seed=41)
    ses_in = load(SES_DIR / "sam-cli-ses-email-receiving.template.json")
    ses_out = load(SES_DIR / "ses-dg-eventpublishing-sns-send.json")
    delivery = load(SES_DIR / "ses-dg-eventpublishing-sns-delivery.json")

    async def body(p: Pipeline, lines: list[str]) -> None:
        for n, event in enumerate([*workmail, ses_in, ses_out, delivery, ses_in]):
            await p.process(event, invocation(n))
        by = {
            (s, d): sum_metric(lines, "Messages", Source=s, FlowDirection=d)
            for s in ("WorkMail", "SES")
            for d in ("INBOUND", "OUTBOUND")
        }
        assert by == {
            ("WorkMail", "INBOUND"): 3,
            ("WorkMail", "OUTBOUND"): 2,
            ("SES", "INBOUND"): 1,
            ("SES", "OUTBOUND"): 1,
        }
        assert sum_metric(lines, "SesDeliveries") == 1 and sum_metric(lines, "DuplicateInvocations") == 1
        assert {validate_document(line)["Source"] for line in lines} == {"WorkMail", "SES"}
        stored = await p.store.get(workmail[0]["invocationId"])
        assert stored is not None and stored["source"] == "WorkMail" and "eventType" not in stored

    run(with_pipeline(backend, body))


def failing_receipt() -> dict[str, Any]:
    raw: dict[str, Any] = load(SES_DIR / "aws-lambda-go-ses-lambda-event.json")
    receipt = raw["Records"][0]["ses"]["receipt"]
    receipt["spfVerdict"]["status"] = "FAIL"
    receipt["dkimVerdict"]["status"] = "FAIL"
    receipt["dmarcVerdict"]["status"] = "FAIL"
    return raw


def test_ses_verdicts_feed_the_authentication_failure_metrics_with_no_message_read(
    sqlite_backend: Backend,
) -> None:
    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.process(failing_receipt(), invocation(1))
        await p.process(failing_receipt(), invocation(2))  # a duplicate counts nothing
        for name in ("SpfFailures", "DkimFailures", "DmarcFailures"):
            assert sum_metric(lines, name) == 1, name
        stored = await p.store.get("ses:6n4thuhcbhpfiuf25gshf70rss364fuejrvmqko1")
        assert stored is not None and stored["spfVerdict"] == "FAIL" and stored["dmarcPolicy"] == "reject"
        assert "enrichment" not in stored

    run(with_pipeline(sqlite_backend, body))


def test_without_ses_in_the_sources_its_optional_metrics_stay_off(sqlite_backend: Backend) -> None:
    """Detection accepts SES anyway (nothing that arrives is lost); only the optional metrics wait."""

    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.process(failing_receipt(), invocation(1))
        await p.process(load(SES_DIR / "ses-dg-eventpublishing-sns-delivery.json"), invocation(2))
        assert sum_metric(lines, "Messages", Source="SES") == 1
        names = {
            m["Name"]
            for line in lines
            for d in validate_document(line)["_aws"]["CloudWatchMetrics"]
            for m in d["Metrics"]
        }
        assert names == {"Messages", "Recipients"}

    run(with_pipeline(sqlite_backend, body, features=features_for(False)))


def test_quarantined_ses_and_unknown_payloads_keep_their_raw_content(sqlite_backend: Backend) -> None:
    broken = load(SES_DIR / "aws-lambda-go-ses-lambda-event.json")
    broken["Records"][0]["ses"]["receipt"]["recipients"] = "not-a-list"
    mail_manager = {
        "ruleSetArn": "arn:aws:ses:us-east-1:123456789012:mailmanager-rule-set/rs-1",
        "message": {},
    }

    async def body(p: Pipeline, lines: list[str]) -> None:
        first = await p.process(broken, invocation(1))
        second = await p.process(mail_manager, invocation(2))
        assert first.status is second.status is Status.QUARANTINED
        stored = await p.store.get(first.dedupe_key)
        assert stored is not None and stored["source"] == "SES" and "receipt.recipients" in stored["reason"]
        kept = await p.store.get(second.dedupe_key)
        assert kept is not None and "Mail Manager" in kept["reason"]
        assert kept["raw"] and '"mailmanager-rule-set/rs-1"' not in kept["reason"]
        assert sum_metric(lines, "InvalidEvents") == 2
        assert [validate_document(line)["Source"] for line in lines] == ["SES", "SES"]

    run(with_pipeline(sqlite_backend, body))


def test_redaction_hashes_ses_addresses_and_keeps_ids_and_verdicts(sqlite_backend: Backend) -> None:
    raw = load(SES_DIR / "sam-cli-ses-email-receiving.template.json")

    async def body(p: Pipeline, lines: list[str]) -> None:
        outcome = await p.process(raw, invocation(1))
        stored = await p.store.get(outcome.dedupe_key)
        assert stored is not None
        assert stored["messageId"] == "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
        assert all(
            v.startswith("hmac:")
            for v in [stored["sender"], stored["mailFrom"], stored["subject"], *stored["recipients"]]
        )
        assert stored["spfVerdict"] == "PASS"
        assert "janedoe@example.com" not in str(stored) and "johndoe@example.com" not in str(stored)

    run(with_pipeline(sqlite_backend, body, redact=True, redaction_key=b"an-hmac-key-of-sufficient-length"))


def test_the_ses_feature_is_switched_on_by_the_sources() -> None:
    assert SES in features_for(False, (Source.SES,)) and SES not in features_for(True)
