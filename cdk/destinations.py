"""The on-failure destination every function of the stack uses: an SQS queue, send-only (for an
asynchronous invocation, and for an event source mapping's failed batches)."""

from __future__ import annotations

import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct


@jsii.implements(lambda_.IDestination)
class SendOnlyQueueDestination:
    """An SQS on-failure destination that grants sqs:SendMessage and nothing else.

    aws_lambda_destinations.SqsDestination grants `grantSendMessages` (also GetQueueAttributes and
    GetQueueUrl); Lambda only ever calls SendMessage with the function's role. `sid` names the
    statement in the function's role policy.
    """

    def __init__(self, queue: sqs.IQueue, sid: str = "SendFailedEventsToTheFailureQueue") -> None:
        self._queue = queue
        self._sid = sid

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        fn.add_to_role_policy(
            iam.PolicyStatement(sid=self._sid, actions=["sqs:SendMessage"], resources=[self._queue.queue_arn])
        )
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)


@jsii.implements(lambda_.IEventSourceDlq)
class SendOnlyQueueOnFailure:
    """The same, for an event source mapping (a stream's failed batch): aws_lambda_event_sources.SqsDlq
    grants `grantSendMessages` too; Lambda sends the batch's description with the function's role."""

    def __init__(self, queue: sqs.IQueue, sid: str = "SendFailedBatchesToTheQueue") -> None:
        self._queue = queue
        self._sid = sid

    def bind(
        self, target: lambda_.IEventSourceMapping, target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        target_handler.add_to_role_policy(
            iam.PolicyStatement(sid=self._sid, actions=["sqs:SendMessage"], resources=[self._queue.queue_arn])
        )
        return lambda_.DlqDestinationConfig(destination=self._queue.queue_arn)
