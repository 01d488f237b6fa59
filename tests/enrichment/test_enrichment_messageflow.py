"""MessageFlowReader against a local HTTP server speaking the message-flow REST shape.

The real aioboto3 client signs and sends every request and botocore parses every answer, so
these tests cover the SDK's error-code parsing as well as this package's mapping of it.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from dataclasses import asdict
from typing import Any

import aioboto3
import pytest
from botocore.exceptions import ClientError

from collector.audit import enrichment_fields
from collector.enrichment import (
    EnrichmentResult,
    EnrichmentStatus,
    MessageFlowReader,
    RetryPolicy,
)
from collector.enrichment.messageflow import client_config
from collector.redaction import Redactor
from tests.enrichment.flowserver import MessageFlowServer, Reply, error_reply, message_reply
from tests.enrichment.mimecorpus import LARGE_EXPECTED, all_cases, large_message, mixed_with_attachments

MESSAGE_ID = "4e87856b-f02f-39d5-a029-9e39ace5b6f1"
FAST = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05)


async def _summarize(
    server: MessageFlowServer | None,
    message_id: str = MESSAGE_ID,
    seconds: float = 10.0,
    retry: RetryPolicy = FAST,
    **open_kwargs: Any,
) -> EnrichmentResult:
    if server is not None:
        open_kwargs.setdefault("endpoint_url", server.url)
    reader = await MessageFlowReader.open(retry=retry, **open_kwargs)
    try:
        return await reader.summarize(message_id, time.monotonic() + seconds)
    finally:
        await reader.close()


def summarize(server: MessageFlowServer, message_id: str = MESSAGE_ID, **kwargs: Any) -> EnrichmentResult:
    return asyncio.run(_summarize(server, message_id, **kwargs))


def test_every_fixture_through_the_api(flow_server: MessageFlowServer) -> None:
    cases = all_cases()
    for index, case in enumerate(cases):
        flow_server.add(f"case-{index}", message_reply(case.raw, chunk_size=1000))

    async def go() -> list[EnrichmentResult]:
        async with await MessageFlowReader.open(endpoint_url=flow_server.url, retry=FAST) as reader:
            deadline = time.monotonic() + 30
            return [await reader.summarize(f"case-{i}", deadline) for i in range(len(cases))]

    for case, result in zip(cases, asyncio.run(go()), strict=True):
        assert result.status is EnrichmentStatus.OK, result.reason
        assert result.summary is not None and result.attempts == 1
        assert result.summary.size_bytes == len(case.raw)
        fields = asdict(result.summary)
        assert {k: fields[k] for k in case.expected} == case.expected


def test_requests_are_signed_gets_of_the_message_path(flow_server: MessageFlowServer) -> None:
    flow_server.add(MESSAGE_ID, message_reply(mixed_with_attachments().raw))
    assert summarize(flow_server).ok
    (seen,) = flow_server.requests
    assert (seen.method, seen.path) == ("GET", f"/messages/{MESSAGE_ID}")
    assert seen.authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLETESTING/")
    assert "/us-east-1/workmailmessageflow/aws4_request" in seen.authorization


def test_service_specific_endpoint_variable(
    flow_server: MessageFlowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW", flow_server.url)
    flow_server.add(MESSAGE_ID, message_reply(mixed_with_attachments().raw))
    assert summarize(flow_server, endpoint_url=None).ok


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (error_reply(404, "ResourceNotFoundException", "Message not found."), "ResourceNotFoundException"),
        (error_reply(404, "ResourceNotFoundException", "gone", where="type"), "ResourceNotFoundException"),
        (error_reply(403, "AccessDeniedException", "User is not authorized"), "AccessDeniedException"),
        (error_reply(403, None, "Forbidden"), "403"),
        (error_reply(503, "ServiceUnavailableException", "busy"), "ServiceUnavailableException"),
    ],
)
def test_fake_errors_parse_as_the_sdk_expects(
    flow_server: MessageFlowServer, reply: Reply, code: str
) -> None:
    """The fake speaks rest-json errors: botocore reads the code from x-amzn-ErrorType or __type."""
    flow_server.add(MESSAGE_ID, reply)

    async def go() -> dict[str, Any]:
        session = aioboto3.Session()
        async with session.client(
            "workmailmessageflow", endpoint_url=flow_server.url, config=client_config()
        ) as client:
            with pytest.raises(ClientError) as caught:
                await client.get_raw_message_content(messageId=MESSAGE_ID)
            if code == "ResourceNotFoundException":
                assert isinstance(caught.value, client.exceptions.ResourceNotFoundException)
            response: dict[str, Any] = caught.value.response
            return response

    response = asyncio.run(go())
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == reply.status


@pytest.mark.parametrize(
    ("reply", "status", "reason"),
    [
        (
            error_reply(404, "ResourceNotFoundException", "Message not found."),
            EnrichmentStatus.NOT_FOUND,
            "ResourceNotFoundException",
        ),
        (error_reply(404, None), EnrichmentStatus.NOT_FOUND, "404"),
        (
            error_reply(403, "AccessDeniedException", "not authorized to perform GetRawMessageContent"),
            EnrichmentStatus.ACCESS_DENIED,
            "AccessDeniedException: not authorized",
        ),
        (error_reply(403, None, "Forbidden"), EnrichmentStatus.ACCESS_DENIED, "403"),
        (
            error_reply(400, "UnrecognizedClientException", "bad token", where="type"),
            EnrichmentStatus.ACCESS_DENIED,
            "UnrecognizedClientException",
        ),
        (error_reply(400, "ValidationException", "messageId"), EnrichmentStatus.ERROR, "ValidationException"),
        (error_reply(400, "MessageFrozen", "frozen"), EnrichmentStatus.ERROR, "MessageFrozen"),
    ],
)
def test_final_errors_are_mapped_without_retrying(
    flow_server: MessageFlowServer, reply: Reply, status: EnrichmentStatus, reason: str
) -> None:
    flow_server.add(MESSAGE_ID, reply)
    result = summarize(flow_server)
    assert (result.status, result.summary, result.attempts) == (status, None, 1)
    assert reason in result.reason
    assert len(flow_server.requests_for(MESSAGE_ID)) == 1


def test_unknown_message_is_not_found(flow_server: MessageFlowServer) -> None:
    result = summarize(flow_server, "0123-never-seen")
    assert result.status is EnrichmentStatus.NOT_FOUND


def test_transient_errors_then_success_within_the_deadline(flow_server: MessageFlowServer) -> None:
    case = mixed_with_attachments()
    flow_server.add(
        MESSAGE_ID,
        error_reply(503, "ServiceUnavailableException", "busy"),
        error_reply(429, "ThrottlingException", "Rate exceeded"),
        error_reply(500, None, "Internal failure"),
        message_reply(case.raw),
    )
    result = summarize(flow_server)
    assert result.status is EnrichmentStatus.OK, result.reason
    assert result.attempts == 4
    assert result.summary is not None and result.summary.size_bytes == len(case.raw)
    assert len(flow_server.requests_for(MESSAGE_ID)) == 4


def test_body_cut_mid_stream_is_retried(flow_server: MessageFlowServer) -> None:
    case = mixed_with_attachments()
    flow_server.add(
        MESSAGE_ID,
        message_reply(case.raw, cut_after=len(case.raw) // 2, chunk_size=256),
        message_reply(case.raw),
    )
    result = summarize(flow_server)
    assert (result.status, result.attempts) == (EnrichmentStatus.OK, 2), result.reason
    assert result.summary is not None and result.summary.size_bytes == len(case.raw)


def test_transient_errors_beyond_the_deadline_time_out(flow_server: MessageFlowServer) -> None:
    flow_server.add(MESSAGE_ID, error_reply(503, "ServiceUnavailableException", "still busy"))
    patient = RetryPolicy(max_attempts=1000, base_delay=0.02, max_delay=0.1)
    result = summarize(flow_server, seconds=1.0, retry=patient)
    assert result.status is EnrichmentStatus.TIMEOUT
    assert result.attempts >= 2
    assert "ServiceUnavailableException" in result.reason


def test_attempts_exhausted_before_the_deadline_is_an_error(flow_server: MessageFlowServer) -> None:
    flow_server.add(MESSAGE_ID, error_reply(500, "InternalServerException", "boom"))
    result = summarize(flow_server, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02))
    assert (result.status, result.attempts) == (EnrichmentStatus.ERROR, 3)
    assert "gave up after 3 attempts: InternalServerException" in result.reason


def test_slow_response_times_out_at_the_deadline(flow_server: MessageFlowServer) -> None:
    flow_server.add(MESSAGE_ID, Reply(200, b"Subject: late\r\n\r\n", delay=30))
    result = summarize(flow_server, seconds=0.5)
    assert (result.status, result.attempts) == (EnrichmentStatus.TIMEOUT, 1)
    assert "deadline reached during attempt 1" in result.reason


def test_stalled_body_times_out_at_the_deadline(flow_server: MessageFlowServer) -> None:
    case = mixed_with_attachments()
    flow_server.add(MESSAGE_ID, message_reply(case.raw, stall_after=len(case.raw) // 2, stall=30))
    result = summarize(flow_server, seconds=0.5)
    assert result.status is EnrichmentStatus.TIMEOUT
    assert result.summary is None


def test_socket_read_timeout_is_transient_not_final(flow_server: MessageFlowServer) -> None:
    """The SDK's read timeout (a TimeoutError too) is retried; only the deadline is final."""
    from botocore.config import Config

    case = mixed_with_attachments()
    flow_server.add(MESSAGE_ID, message_reply(case.raw, stall_after=100, stall=30), message_reply(case.raw))
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=1, read_timeout=0.3
    )
    result = summarize(flow_server, seconds=20, config=config)
    assert (result.status, result.attempts) == (EnrichmentStatus.OK, 2), result.reason


def test_deadline_already_passed_makes_no_request(flow_server: MessageFlowServer) -> None:
    flow_server.add(MESSAGE_ID, message_reply(b"Subject: x\r\n\r\n"))
    result = summarize(flow_server, seconds=-1)
    assert (result.status, result.attempts) == (EnrichmentStatus.TIMEOUT, 0)
    assert flow_server.requests == []


@pytest.mark.parametrize("message_id", ["", "UPPER-case", "a/b", "x" * 121])
def test_invalid_message_id_makes_no_request(flow_server: MessageFlowServer, message_id: str) -> None:
    result = summarize(flow_server, message_id)
    assert result.status is EnrichmentStatus.ERROR
    assert flow_server.requests == []


def test_connection_refused_is_retried_then_an_error(aws_env: None) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = asyncio.run(
        _summarize(
            None,
            endpoint_url=f"http://127.0.0.1:{port}",
            retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
        )
    )
    assert (result.status, result.attempts) == (EnrichmentStatus.ERROR, 2)
    assert "EndpointConnectionError" in result.reason


def test_missing_credentials_is_access_denied(
    flow_server: MessageFlowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    result = summarize(flow_server)
    assert result.status is EnrichmentStatus.ACCESS_DENIED
    assert "NoCredentialsError" in result.reason
    assert flow_server.requests == []


def test_result_as_audit_fields(flow_server: MessageFlowServer) -> None:
    case = mixed_with_attachments()
    flow_server.add(MESSAGE_ID, message_reply(case.raw))
    item = enrichment_fields(summarize(flow_server), Redactor(None))
    assert item["enrichment"] == "OK" and "enrichmentReason" not in item
    assert item["sizeBytes"] == len(case.raw)
    gone = EnrichmentResult(EnrichmentStatus.NOT_FOUND, reason="gone", attempts=1)
    assert enrichment_fields(gone, Redactor(None)) == {"enrichment": "NOT_FOUND", "enrichmentReason": "gone"}


def test_large_message_streams_with_flat_memory(flow_server: MessageFlowServer) -> None:
    chunks, total = large_message(21 * 1024 * 1024)
    assert total > 20 * 1024 * 1024
    flow_server.add("warm-up", message_reply(mixed_with_attachments().raw))
    flow_server.add("large", message_reply(chunks, length=total, chunk_size=64 * 1024))

    async def go() -> tuple[EnrichmentResult, int]:
        async with await MessageFlowReader.open(endpoint_url=flow_server.url, retry=FAST) as reader:
            # The first call loads the SDK's lazy parts (endpoint rules, signer); measure the second.
            assert (await reader.summarize("warm-up", time.monotonic() + 30)).ok
            tracemalloc.start()
            try:
                result = await reader.summarize("large", time.monotonic() + 60)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            return result, peak

    result, peak = asyncio.run(go())
    assert result.status is EnrichmentStatus.OK, result.reason
    assert result.summary is not None and result.summary.size_bytes == total
    fields = asdict(result.summary)
    assert {k: fields[k] for k in LARGE_EXPECTED} == LARGE_EXPECTED
    print(f"tracemalloc peak while streaming {total} bytes: {peak} bytes")
    assert peak < 5 * 1024 * 1024, f"peak {peak} bytes"
