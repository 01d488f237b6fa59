"""The index consumer: the audit table's stream, read by Lambda and written back as index pages.

In every deployment (the time index needs it whether or not the trail is on): the collector writes
each record once, without `dayShard` (COLLECTOR_TIME_INDEX=stream), and this function pages the
records of each stream batch into the time index (collector/store/pages.py). An event source
mapping on the table's stream invokes it with batches of records only (filter criteria: page items
have no receivedDay, so the consumer never sees its own writes, and TTL's deletions, which change
nothing in the index, do not reach it either); a batch that keeps failing is
bisected down to the failing records, and a record left unread for MAX_RECORD_AGE is given up too.
With the trail on it also leaves late markers in the trail bucket (collector/trail/late.py).

No queue or alarm of its own: a batch it gives up on is described (shard, sequence numbers, arrival
times) in the collector's failure queue, whose FailureQueueNotEmpty is critical. Those records are in
the table but nothing lists or exports them until `table backfill-shards` repairs them (a person
must act, as for an event in that queue), and the `replay` that reads the queue names the repair
(docs/deploy.md, "Index consumer failures"). A consumer that falls behind without failing reaches
MAX_RECORD_AGE and takes the same path, so lag needs no alarm of its own either.
"""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.destinations import SendOnlyQueueOnFailure
from cdk.functions import own_logs_and_role, stack_function
from cdk.nag import acknowledge
from collector.store.pages import PAGE_PREFIX
from collector.trail.late import LATE_PREFIX

HANDLER = "collector.index_handler.handler"
MEMORY_MB = 256
# A batch is decoded, paged and written in seconds; the margin covers BatchWriteItem's backoff on
# unprocessed items, and a stuck call is cut well before MAX_RECORD_AGE.
TIMEOUT = Duration.minutes(2)
# Fewer, fuller pages: up to 10,000 records (Lambda also cuts a batch at 6 MB), gathered for up to a
# minute, so a page holds a minute of a shard, not a few records of it.
BATCH_SIZE = 10_000
BATCH_WINDOW = Duration.seconds(60)
# A failing batch is halved on each error until the failing records are alone; they then go to the
# failure queue after this many retries.
RETRY_ATTEMPTS = 10
# A record still unread an hour after it was written is given up to the failure queue: a consumer
# that is throttled or stuck is then a critical alarm within the hour, and never reaches the
# stream's 24-hour retention, past which records would leave the stream without a trace. A batch
# takes seconds; an hour of backlog means something is wrong. (Late pages of an exported day are
# re-exported through late markers, so lag under the hour costs the trail nothing.)
MAX_RECORD_AGE = Duration.hours(1)
RECEIVED_DAY = "receivedDay"  # every record has it; page items never do


def _has_received_day(image: str) -> dict[str, Any]:
    # `exists` matches leaf nodes only: the attribute's type key, not the attribute itself.
    return {"dynamodb": {image: {RECEIVED_DAY: {"S": lambda_.FilterRule.exists()}}}}


# A deletion by TTL names DynamoDB's own service principal (a deletion by hand has no userIdentity):
# it changes nothing in the index (collector/store/pages.py), so it need not invoke the consumer.
# DynamoDB's guide filters on exactly this to archive TTL deletions ("DynamoDB Streams and Time to
# Live").
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def _deleted(by: list[Any]) -> dict[str, Any]:
    return {**_has_received_day("OldImage"), "userIdentity": {"principalId": by}}


# Lambda's filter criteria (ORed; a record that matches several is sent once): a record's new image
# (INSERT, MODIFY), or its old image outside TTL (REMOVE by hand; a MODIFY matches the first
# anyway); never a page. No filter names `eventName`: Lambda's guide says a DynamoDB mapping filters
# on the `dynamodb` key, and a filter that matched nothing would leave every record unindexed without
# an error. `exists: false` and `anything-but` match only where a leaf is absent or present
# respectively, hence two filters for "no userIdentity, or another principal's".
FILTERS: tuple[dict[str, Any], ...] = (
    _has_received_day("NewImage"),
    _deleted(lambda_.FilterRule.not_exists()),
    _deleted(lambda_.FilterRule.not_equals(TTL_PRINCIPAL)),
)


class IndexConsumer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.Table,
        code: lambda_.Code,
        runtime: lambda_.Runtime,
        log_retention: logs.RetentionDays,
        failure_queue: sqs.IQueue,  # the collector's: a batch given up on waits there for the repair
        system_log_level: lambda_.SystemLogLevel = lambda_.SystemLogLevel.WARN,
        trail_bucket: s3.IBucket | None = None,  # with the trail on: where late markers go
    ) -> None:
        super().__init__(scope, construct_id)
        stream_arn = table.table_stream_arn
        if stream_arn is None:
            raise ValueError("the audit table has no stream for the index consumer to read")
        self.log_group, self.role = own_logs_and_role(
            self,
            retention=log_retention,
            description="WorkMail collector index consumer: read the table's stream, write index pages",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheTableStream",
                # What Lambda's event source mapping calls with the function's role, on this stream
                # only (aws_dynamodb's grantStreamRead would add ListStreams on Resource '*').
                actions=[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                resources=[stream_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteIndexPagesOnly",
                # Page items only: IAM checks every item's key against the page prefix, so the
                # consumer can never overwrite a record.
                actions=["dynamodb:PutItem", "dynamodb:BatchWriteItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{PAGE_PREFIX}*"]}},
            )
        )
        environment = {"COLLECTOR_STORE": "dynamodb", "COLLECTOR_TABLE_NAME": table.table_name}
        if trail_bucket is not None:
            environment["COLLECTOR_TRAIL_BUCKET"] = trail_bucket.bucket_name
            self._allow_late_markers(trail_bucket)

        self.function = stack_function(
            self,
            description="Writes the WorkMail collector's time index as pages, from the audit table's stream",
            runtime=runtime,
            handler=HANDLER,
            code=code,
            memory_mb=MEMORY_MB,
            timeout=TIMEOUT,
            role=self.role,
            system_log_level=system_log_level,
            log_group=self.log_group,
            environment=environment,
        )
        self.mapping = lambda_.EventSourceMapping(
            self,
            "Stream",
            target=self.function,
            event_source_arn=stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=BATCH_SIZE,
            max_batching_window=BATCH_WINDOW,
            bisect_batch_on_error=True,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            on_failure=SendOnlyQueueOnFailure(failure_queue),
            filters=[lambda_.FilterCriteria.filter(f) for f in FILTERS],
        )
        # Lambda checks the role's stream and queue permissions when it creates the mapping.
        self.mapping.node.add_dependency(self.role)
        self._acknowledge()

    def _allow_late_markers(self, bucket: s3.IBucket) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="MarkDaysPagedLate",
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{LATE_PREFIX}*")],
            )
        )
        bucket_id = Stack.of(self).get_logical_id(cast(CfnElement, bucket.node.default_child))
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{LATE_PREFIX}*]",
            "Late markers are empty objects named by their day and page key, known only per batch: "
            "the marker prefix is the narrowest ARN, outside the trail's own prefix.",
        )

    def _acknowledge(self) -> None:
        for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                self.function,
                rule,
                "Same asset and runtime as the collector: its compiled wheels are built for cp313 "
                "(cdk/asset.py); runtime and wheels must move together.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked only by its stream's event source mapping, whose on-failure destination (the "
            "collector's failure queue) receives each failed batch; a DeadLetterConfig applies to "
            "async calls.",
        )
        acknowledge(
            self.function,
            "Serverless-LambdaTracing",
            "A batch job on the table's stream: its failures and lag reach the failure queue's alarm, "
            "and X-Ray would add xray:Put* on Resource '*' to a role kept to one stream and page items.",
        )
