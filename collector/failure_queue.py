"""Where a synchronous invocation puts an event it could not record in time.

WorkMail waits at most 15 s for a synchronous rule's answer, and mail must not wait on the
collector. When the budget runs out (or the store fails), the handler answers DEFAULT at once and
keeps the event here: the same SQS queue that receives Lambda's asynchronous on-failure records,
in the same record shape (`requestContext`, `requestPayload`), so `workmail-collector replay`
reads both kinds alike.
"""

from __future__ import annotations

import contextlib
from typing import Any

from collector import aws
from collector.clock import iso_millis
from collector.jsonutil import sqs_json
from collector.model import Invocation

SQS_MESSAGE_LIMIT = 256 * 1024


def failure_record(raw: object, invocation: Invocation, condition: str, reason: str) -> dict[str, Any]:
    """Shaped like a Lambda on-failure destination record, so one replay path reads both."""
    return {
        "version": "1.0",
        "timestamp": iso_millis(invocation.received_at),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": invocation.function_version,
            "condition": condition,
            "approximateInvokeCount": 1,
        },
        "requestPayload": raw,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": reason[:1000]},
    }


class FailureQueue:
    def __init__(self, client: Any, url: str, stack: contextlib.AsyncExitStack) -> None:
        self._client = client
        self._url = url
        self._stack = stack

    @classmethod
    async def open(cls, url: str, session: Any = None) -> FailureQueue:
        stack = contextlib.AsyncExitStack()
        return cls(
            await aws.open_client("sqs", stack, session, aws.client_config(total_attempts=2)), url, stack
        )

    async def put(self, raw: object, invocation: Invocation, condition: str, reason: str) -> None:
        """Raises when even this fails: then the invocation errors and WorkMail retries it."""
        # UTF-8 with only what SQS refuses escaped (U+FFFE, U+FFFF, lone surrogates): replay reads
        # it back as the Lambda runtime does (lone surrogates, big ints exact).
        body = sqs_json(failure_record(raw, invocation, condition, reason))
        size = len(body.encode())
        if size > SQS_MESSAGE_LIMIT:
            raise ValueError(f"event too large for the failure queue ({size} bytes)")
        await self._client.send_message(QueueUrl=self._url, MessageBody=body)

    async def close(self) -> None:
        await self._stack.aclose()
