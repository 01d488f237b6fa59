"""The index consumer in the stack (cdk/index_consumer.py): the table's stream, the function, its
event source mapping and filters, its permissions, its failures (into the collector's failure queue,
under its critical alarm), and the trail's late markers.

The default stack has the trail (late markers on), the custom one turns it off: the consumer is in
both, since the time index needs it in every deployment.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

import pytest

from cdk.index_consumer import BATCH_SIZE, FILTERS, HANDLER, MAX_RECORD_AGE, RETRY_ATTEMPTS
from collector.store.dynamodb import encode_item
from collector.store.pages import PAGE_PREFIX, build_pages, changes_of
from collector.store.schema import AUDIT_TABLE
from collector.trail.late import LATE_PREFIX
from tests.cdk.support import INDEX_ID, ROOT, Synth
from tests.cdk.test_nag import acknowledgments


def consumer(synth: Synth, kind: str) -> tuple[str, dict[str, Any]]:
    found = {k: v for k, v in synth.resources(kind).items() if k.startswith(INDEX_ID)}
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def table_id(synth: Synth) -> str:
    return synth.only("AWS::DynamoDB::Table")[0]


def failure_queue_id(synth: Synth) -> str:
    """The collector's failure queue: the only queue outside the trail's construct."""
    return synth.collector("AWS::SQS::Queue")[0]


def bucket_id(synth: Synth) -> str:
    (bucket,) = synth.resources("AWS::S3::Bucket")
    return bucket


def test_the_table_streams_old_and_new_images(any_synth: Synth) -> None:
    _, table = any_synth.only("AWS::DynamoDB::Table")
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_consumer_runs_like_the_other_functions(any_synth: Synth) -> None:
    settings = any_synth.stack.settings
    _, function = consumer(any_synth, "AWS::Lambda::Function")
    props = function["Properties"]
    collector = any_synth.collector("AWS::Lambda::Function")[1]["Properties"]
    assert props["Handler"] == HANDLER
    assert (props["Runtime"], props["Architectures"], props["Code"]) == (
        collector["Runtime"],
        collector["Architectures"],
        collector["Code"],  # the collector's asset: one upload
    )
    assert props["MemorySize"] == 256
    log_group, logs = consumer(any_synth, "AWS::Logs::LogGroup")
    assert props["LoggingConfig"] == {
        "LogFormat": "JSON",
        "LogGroup": {"Ref": log_group},
        "SystemLogLevel": settings.system_log_level,
    }
    assert logs["Properties"]["RetentionInDays"] == settings.log_retention_days
    variables = props["Environment"]["Variables"]
    expected = {"COLLECTOR_STORE": "dynamodb", "COLLECTOR_TABLE_NAME": {"Ref": table_id(any_synth)}}
    if settings.trail.enabled:
        expected["COLLECTOR_TRAIL_BUCKET"] = {"Ref": bucket_id(any_synth)}
    assert variables == expected


def test_the_mapping_reads_the_stream_from_its_start_in_big_batches(any_synth: Synth) -> None:
    mapping_id, mapping = consumer(any_synth, "AWS::Lambda::EventSourceMapping")
    function_id, _ = consumer(any_synth, "AWS::Lambda::Function")
    queue_id = failure_queue_id(any_synth)
    props = mapping["Properties"]
    assert props == {
        "EventSourceArn": {"Fn::GetAtt": [table_id(any_synth), "StreamArn"]},
        "FunctionName": {"Ref": function_id},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": BATCH_SIZE,
        "MaximumBatchingWindowInSeconds": 60,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": RETRY_ATTEMPTS,
        "MaximumRecordAgeInSeconds": 3600,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps(f, separators=(",", ":"))} for f in FILTERS]},
    }
    assert (BATCH_SIZE, RETRY_ATTEMPTS, MAX_RECORD_AGE.to_seconds()) == (10_000, 10, 3600)
    # Lambda checks the role's permissions when it creates the mapping: the policy exists by then.
    role_id, _ = consumer(any_synth, "AWS::IAM::Role")
    policy_id, _ = consumer(any_synth, "AWS::IAM::Policy")
    assert {role_id, policy_id} <= set(mapping["DependsOn"])
    # ... and the collector writes records without their index entry only once the mapping exists.
    collector_id = any_synth.collector("AWS::Lambda::Function")[0]
    collector = any_synth.json["Resources"][collector_id]
    assert mapping_id in collector["DependsOn"]
    assert collector["Properties"]["Environment"]["Variables"]["COLLECTOR_TIME_INDEX"] == "stream"


def statements(synth: Synth, prefix: str) -> list[dict[str, Any]]:
    (policy,) = [v for k, v in synth.resources("AWS::IAM::Policy").items() if k.startswith(prefix)]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_the_consumer_reads_its_stream_and_writes_page_items_only(any_synth: Synth) -> None:
    table = table_id(any_synth)
    log_group, _ = consumer(any_synth, "AWS::Logs::LogGroup")
    queue = failure_queue_id(any_synth)
    expected = [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
        },
        {
            "Sid": "ReadTheTableStream",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table, "StreamArn"]},
        },
        {
            "Sid": "WriteIndexPagesOnly",
            "Action": ["dynamodb:BatchWriteItem", "dynamodb:PutItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table, "Arn"]},
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{PAGE_PREFIX}*"]}},
        },
        {
            "Sid": "SendFailedBatchesToTheQueue",
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [queue, "Arn"]},
        },
    ]
    if any_synth.stack.settings.trail.enabled:
        bucket = {"Fn::GetAtt": [bucket_id(any_synth), "Arn"]}
        expected.insert(
            3,
            {
                "Sid": "MarkDaysPagedLate",
                "Action": "s3:PutObject",
                "Effect": "Allow",
                "Resource": {"Fn::Join": ["", [bucket, f"/{LATE_PREFIX}*"]]},
            },
        )
    assert statements(any_synth, f"{INDEX_ID}Role") == expected


def test_the_exporter_clears_the_markers_it_lists(default_synth: Synth) -> None:
    bucket_id_ = bucket_id(default_synth)
    bucket = {"Fn::GetAtt": [bucket_id_, "Arn"]}
    by_sid = {s.get("Sid"): s for s in statements(default_synth, "TrailRole")}
    assert by_sid["KeepLateMarkers"] == {  # cleared once answered; one left where a run stops
        "Sid": "KeepLateMarkers",
        "Action": ["s3:DeleteObject", "s3:PutObject"],
        "Effect": "Allow",
        "Resource": {"Fn::Join": ["", [bucket, f"/{LATE_PREFIX}*"]]},
    }
    # Listing `late/` needs ListBucket on the bucket, which the exporter has for its day folders.
    assert by_sid["TellMissingDays"]["Resource"] == bucket and "Condition" not in by_sid["TellMissingDays"]
    rules = {
        r["Id"]: r
        for r in default_synth.json["Resources"][bucket_id_]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    # The bucket is versioned: a cleared marker leaves a hidden version and a delete marker.
    assert rules["RemoveClearedLateMarkers"] == {
        "Id": "RemoveClearedLateMarkers",
        "Prefix": LATE_PREFIX,
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        "ExpiredObjectDeleteMarker": True,
        "Status": "Enabled",
    }


def test_the_consumers_nag_acknowledgments_are_the_reviewed_ones(any_synth: Synth) -> None:
    found = {
        path: set(rules) for path, rules in acknowledgments(any_synth).items() if path.startswith(INDEX_ID)
    }
    expected = {
        f"{INDEX_ID}/Function": {
            "AwsSolutions::AwsSolutions-L1",
            "Serverless::Serverless-LambdaLatestVersion",
            "Serverless::Serverless-LambdaDLQ",
            "Serverless::Serverless-LambdaTracing",
        },
    }
    if any_synth.stack.settings.trail.enabled:
        finding = f"AwsSolutions-IAM5[Resource::<{bucket_id(any_synth)}.Arn>/{LATE_PREFIX}*]"
        expected[f"{INDEX_ID}/Role"] = {f"AwsSolutions::{finding}"}
    assert found == expected


def test_no_queue_or_alarm_of_its_own(any_synth: Synth) -> None:
    """Its failures and its lag (MAX_RECORD_AGE) reach the collector's failure queue, whose
    FailureQueueNotEmpty is critical: no alarm metric of its own to pay for."""
    for kind in ("AWS::SQS::Queue", "AWS::CloudWatch::Alarm"):
        assert not [k for k in any_synth.resources(kind) if k.startswith(INDEX_ID)], kind
    queue = failure_queue_id(any_synth)
    (watching,) = [
        r["Properties"]
        for r in any_synth.resources("AWS::CloudWatch::Alarm").values()
        if queue in json.dumps(r["Properties"].get("Metrics", ""))
    ]
    assert watching["AlarmName"].endswith("-Critical-FailureQueueNotEmpty")
    assert "index consumer" in watching["AlarmDescription"]


def test_the_runbook_has_the_consumers_section_and_its_failures() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for heading in ("### The index consumer", "#### Index consumer failures"):
        assert heading in guide, heading
    assert "IndexConsumerFailed" not in guide and "IndexConsumerBehind" not in guide
    assert "workmail-collector table backfill-shards" in guide.split("#### Index consumer failures")[1]


# --- the filters, on real stream records -------------------------------------------------------------


def lambda_json(record: dict[str, Any]) -> dict[str, Any]:
    """A stream record as Lambda hands it over (and filters it): JSON, binary values in base64."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        if isinstance(value, datetime):
            return value.timestamp()
        return value

    return dict(plain(record))


@pytest.mark.dynamodb
def test_the_filters_pass_records_and_never_pages(dynamodb_local: str) -> None:
    """Records written, changed and deleted on DynamoDB Local, read from its stream, matched by moto's
    implementation of the event patterns Lambda's filters use: a page item, or an item that is not
    a record (a checkpoint, a ledger entry), never reaches the consumer."""
    import boto3
    from moto.events.models import EventPattern

    options: dict[str, Any] = {"endpoint_url": dynamodb_local, "region_name": "us-east-1"}
    client = boto3.client("dynamodb", **options)
    name = f"stream-{uuid.uuid4().hex[:12]}"
    stream = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    client.create_table(**{**AUDIT_TABLE.create_table_request(name), **stream})
    record = {
        "invocationId": "rec-1",
        "status": "INVALID",
        "receivedAt": "2026-11-20T10:00:00.000Z",
        "receivedDay": "2026-11-20",
        "expiresAt": 4102444800,
    }
    (page,) = build_pages(changes_of("INSERT", record, None, (1, 1)))
    checkpoint = {"invocationId": "migration:backfill-shards", "position": "rec-0"}
    for item in (record, page, checkpoint, {**record, "status": "RECORDED"}):
        client.put_item(TableName=name, Item=encode_item(item))
    for key in (record["invocationId"], page["invocationId"], checkpoint["invocationId"]):
        client.delete_item(TableName=name, Key={"invocationId": {"S": key}})

    streams = boto3.client("dynamodbstreams", **options)
    arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    events = [lambda_json(r) for r in records]
    assert len(events) == 7
    patterns = [EventPattern.load(json.dumps(f)) for f in FILTERS]
    passed = [
        (e["eventName"], e["dynamodb"]["Keys"]["invocationId"]["S"])
        for e in events
        if any(p.matches_event(e) for p in patterns)  # type: ignore[arg-type]
    ]
    assert passed == [("INSERT", "rec-1"), ("MODIFY", "rec-1"), ("REMOVE", "rec-1")]
    assert str(page["invocationId"]).startswith(PAGE_PREFIX)

    # The same deletion made by TTL (its stream record names DynamoDB's service principal) is
    # filtered out; by hand (no userIdentity) it passes, as would another principal's.
    (by_hand,) = [
        e
        for e in events
        if e["eventName"] == "REMOVE" and e["dynamodb"].get("OldImage", {}).get("receivedDay")
    ]
    assert "userIdentity" not in by_hand
    by_ttl = {**by_hand, "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}}
    by_other = {**by_hand, "userIdentity": {"type": "Service", "principalId": "example.amazonaws.com"}}
    matched = [any(p.matches_event(e) for p in patterns) for e in (by_hand, by_ttl, by_other)]  # type: ignore[arg-type]
    assert matched == [True, False, True]


def test_the_filter_semantics_match_the_aws_documentation() -> None:
    """`exists` on the attribute's type key (a leaf), as Lambda's DynamoDB filtering guide requires;
    TTL's deletions (userIdentity.principalId "dynamodb.amazonaws.com") kept out by two filters, as
    `exists: false` matches an absent leaf only and `anything-but` a present one only."""
    assert FILTERS == (
        {"dynamodb": {"NewImage": {"receivedDay": {"S": [{"exists": True}]}}}},
        {
            "dynamodb": {"OldImage": {"receivedDay": {"S": [{"exists": True}]}}},
            "userIdentity": {"principalId": [{"exists": False}]},
        },
        {
            "dynamodb": {"OldImage": {"receivedDay": {"S": [{"exists": True}]}}},
            "userIdentity": {"principalId": [{"anything-but": ["dynamodb.amazonaws.com"]}]},
        },
    )
    # No filter names eventName: a DynamoDB mapping filters on the `dynamodb` key (Lambda's guide).
    assert all(set(f) <= {"dynamodb", "userIdentity"} for f in FILTERS)
