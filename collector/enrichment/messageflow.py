"""Read a message through the WorkMail message-flow API and summarise it, within a deadline.

`GetRawMessageContent` (GET /messages/{messageId}) streams the raw MIME message. The reader
feeds it chunk by chunk into `MimeSummarizer`, so memory stays flat whatever the message size.

Failure semantics: `summarize` never raises for anything the service or the network can do
(CancelledError still propagates). Every outcome is an `EnrichmentResult`, so the caller always
writes its audit record:

| what happened | status |
|---|---|
| 200 and the whole body read | OK |
| ResourceNotFoundException / 404: gone, or past the API's retention window | NOT_FOUND |
| AccessDeniedException / 401 / 403, bad or missing credentials | ACCESS_DENIED |
| the deadline passed, mid-request, mid-body, or before a retry could start | TIMEOUT |
| throttling, 5xx, connection or socket-read failures, a short body | retried, then TIMEOUT or ERROR |
| anything else (validation, MessageFrozen/MessageRejected/InvalidContentLocation, bugs) | ERROR |

The service model lists only ResourceNotFoundException for GetRawMessageContent; MessageFrozen,
MessageRejected and InvalidContentLocation belong to PutRawMessageContent and, should one ever
come back on a read, are not retryable, hence ERROR with the code as the reason.

Retries are this module's, not the SDK's (the client runs in standard mode with one attempt):
the SDK's backoff does not know the caller's deadline, and it never retries a failure that
happens while the body is streaming, which is where a 20 MB message spends its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from collector import aws
from collector.enrichment.mime import MessageSummary, MimeSummarizer

log = logging.getLogger("workmail_collector")

SERVICE = "workmailmessageflow"
CHUNK_SIZE = 64 * 1024
MESSAGE_ID = re.compile(r"[a-z0-9\-]{1,120}")  # the service model's messageIdType

NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationTokenException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)
# botocore's standard retry mode: its throttling and transient codes.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalServerException",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
REASON_CHARS = 300


class EnrichmentStatus(StrEnum):
    OK = "OK"
    NOT_FOUND = "NOT_FOUND"
    ACCESS_DENIED = "ACCESS_DENIED"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"


@dataclass(frozen=True)
class EnrichmentResult:
    """The outcome of one `summarize` call: a summary only when the status is OK."""

    status: EnrichmentStatus
    summary: MessageSummary | None = None
    reason: str = ""
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.status is EnrichmentStatus.OK


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff, bounded by attempts and, above all, by the deadline."""

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 1.0
    min_attempt_seconds: float = 0.05  # do not start an attempt with less time than this left

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def client_config() -> Any:
    """Short connect/read timeouts; the SDK makes one attempt, `summarize` owns the retries."""
    return aws.client_config(total_attempts=1, pool=16)


class MessageFlowReader:
    """Owns one message-flow client for the life of the container; `open` enters it, `close` leaves it."""

    def __init__(
        self,
        client: Any,
        exit_stack: contextlib.AsyncExitStack,
        retry: RetryPolicy | None = None,
        chunk_size: int = CHUNK_SIZE,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._exit_stack = exit_stack
        self._retry = retry or RetryPolicy()
        self._chunk_size = chunk_size
        self._rng = rng or random.Random()

    @classmethod
    async def open(
        cls,
        session: Any = None,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        config: Any = None,
        retry: RetryPolicy | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> MessageFlowReader:
        stack = contextlib.AsyncExitStack()
        kwargs: dict[str, Any] = {}
        if endpoint_url is not None:
            kwargs["endpoint_url"] = endpoint_url
        if region_name is not None:
            kwargs["region_name"] = region_name
        client = await aws.open_client(SERVICE, stack, session, config or client_config(), **kwargs)
        return cls(client, stack, retry=retry, chunk_size=chunk_size)

    async def close(self) -> None:
        await self._exit_stack.aclose()

    async def __aenter__(self) -> MessageFlowReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def summarize(self, message_id: str, deadline: float) -> EnrichmentResult:
        """Fetch and summarise one message; `deadline` is a `time.monotonic()` instant."""
        if not isinstance(message_id, str) or MESSAGE_ID.fullmatch(message_id) is None:
            reason = "invalid messageId for the message-flow API"
            return EnrichmentResult(EnrichmentStatus.ERROR, reason=reason)
        policy = self._retry
        attempt = 0
        last = ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining < policy.min_attempt_seconds:
                reason = f"deadline reached after {attempt} attempts" + (f"; last: {last}" if last else "")
                return EnrichmentResult(EnrichmentStatus.TIMEOUT, reason=_short(reason), attempts=attempt)
            attempt += 1
            timeout = asyncio.timeout(remaining)
            try:
                async with timeout:
                    summary = await self._fetch(message_id)
                return EnrichmentResult(EnrichmentStatus.OK, summary=summary, attempts=attempt)
            except TimeoutError as error:
                # asyncio.TimeoutError is TimeoutError, and so is the SDK's socket read timeout:
                # only the expired deadline is final.
                if timeout.expired():
                    reason = f"deadline reached during attempt {attempt}"
                    reason += f"; last: {last}" if last else ""
                    return EnrichmentResult(EnrichmentStatus.TIMEOUT, reason=_short(reason), attempts=attempt)
                last = _describe(error)
            except Exception as error:
                verdict = _classify(error)
                if verdict is None:
                    last = _describe(error)
                else:
                    status, reason = verdict
                    return EnrichmentResult(status, reason=_short(reason), attempts=attempt)
            log.debug("message-flow attempt %d for %s failed: %s", attempt, message_id, last)
            if attempt >= policy.max_attempts:
                return EnrichmentResult(
                    EnrichmentStatus.ERROR,
                    reason=_short(f"gave up after {attempt} attempts: {last}"),
                    attempts=attempt,
                )
            delay = policy.delay(attempt, self._rng)
            if time.monotonic() + delay + policy.min_attempt_seconds > deadline:
                reason = f"deadline leaves no time to retry after {attempt} attempts; last: {last}"
                return EnrichmentResult(EnrichmentStatus.TIMEOUT, reason=_short(reason), attempts=attempt)
            await asyncio.sleep(delay)

    async def _fetch(self, message_id: str) -> MessageSummary:
        response = await self._client.get_raw_message_content(messageId=message_id)
        body = response["messageContent"]
        summarizer = MimeSummarizer()
        # Leaving the context releases the connection, or closes it when the body is unread.
        async with body:
            while chunk := await body.read(self._chunk_size):
                summarizer.feed(chunk)
        return summarizer.finish()


def _classify(error: BaseException) -> tuple[EnrichmentStatus, str] | None:
    """The final status and reason for an error, or None when another attempt may succeed."""
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        CredentialRetrievalError,
        HTTPClientError,
        IncompleteReadError,
        NoCredentialsError,
        PartialCredentialsError,
        SSLError,
    )

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in NOT_FOUND_CODES or status == 404:
            return EnrichmentStatus.NOT_FOUND, _describe(error)
        if code in ACCESS_DENIED_CODES or status in (401, 403):
            return EnrichmentStatus.ACCESS_DENIED, _describe(error)
        if code in TRANSIENT_CODES or status in TRANSIENT_STATUS:
            return None
        return EnrichmentStatus.ERROR, _describe(error)
    if isinstance(error, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return EnrichmentStatus.ACCESS_DENIED, _describe(error)
    if isinstance(error, SSLError):
        return EnrichmentStatus.ERROR, _describe(error)
    if isinstance(error, HTTPClientError | ConnectionError | IncompleteReadError | OSError):
        return None
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiobotocore depends on it
        return EnrichmentStatus.ERROR, _describe(error)
    if isinstance(error, aiohttp.ClientError):
        return None
    return EnrichmentStatus.ERROR, _describe(error)


def _describe(error: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code") or "ClientError"
        message = details.get("Message") or ""
        return _short(f"{code}: {message}" if message else str(code))
    text = str(error)
    return _short(f"{type(error).__name__}: {text}" if text else type(error).__name__)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"
