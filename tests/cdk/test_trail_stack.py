"""The trail in S3 (on unless `-c trail=false`): bucket, Glue table, Athena workgroup, named
queries, exporter.

One synthesis, with every trail option changed (Object Lock, a colder class, the scan cap, the
start day), serves every test here; cdk-nag runs in it and cfn-lint reads its template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match
from cfnlint.api import lint  # type: ignore[import-untyped]
from cfnlint.config import ManualArgs  # type: ignore[import-untyped]

from cdk.settings import SettingsError, StackSettings
from cdk.trail import HANDLER, RESULTS_PREFIX
from cdk.trail_layer import TRAIL_LAYER
from collector.store.schema import TIME_INDEX
from collector.trail.queries import NAMED_QUERIES
from collector.trail.s3 import TRAIL_PREFIX
from collector.trail.schema import COLUMNS, DATABASE, PARTITION, TABLE
from tests.cdk.support import ORG_ID, Synth, synthesize
from tests.cdk.test_cfn_lint import IGNORED, WORKMAIL_REGIONS
from tests.cdk.test_nag import acknowledgments, unacknowledged

TRAIL_CONTEXT = {
    "organizationId": ORG_ID,
    "trail": "true",
    "trailObjectLockDays": "2555",
    "trailObjectLockMode": "compliance",
    "trailColdAfterDays": "90",
    "trailColdStorageClass": "glacier-ir",
    "trailScanLimitGb": "20",
    "trailStartDay": "2024-06-01",
    "trailExportMemoryMb": "4096",
}


@pytest.fixture(scope="module")
def trail_synth(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(TRAIL_CONTEXT, tmp_path_factory.mktemp("cdk-trail"), asset_dir)


def only(synth: Synth, kind: str, prefix: str = "Trail") -> dict[str, Any]:
    found = {k: v for k, v in synth.resources(kind).items() if k.startswith(prefix)}
    assert len(found) == 1, sorted(found)
    return dict(next(iter(found.values()))["Properties"])


def ref(synth: Synth, kind: str, prefix: str = "Trail") -> str:
    (key,) = [k for k in synth.resources(kind) if k.startswith(prefix)]
    return key


def test_the_bucket_is_versioned_encrypted_private_tls_only_retained_and_locked(trail_synth: Synth) -> None:
    bucket_id = ref(trail_synth, "AWS::S3::Bucket")
    bucket = trail_synth.json["Resources"][bucket_id]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    # Enabled at creation; the retention is set per exported object, so query results stay deletable.
    assert props["ObjectLockEnabled"] is True and "ObjectLockConfiguration" not in props
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["ColderStorage"]["Prefix"] == TRAIL_PREFIX
    assert rules["ColderStorage"]["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}]
    assert rules["ExpireQueryResults"]["Prefix"] == RESULTS_PREFIX
    # Versioned: an expired result's hidden version and its delete marker go too, as do the markers
    # that stale hours' deletions leave under the trail.
    assert rules["ExpireQueryResults"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert rules["RemoveQueryResultMarkers"]["ExpiredObjectDeleteMarker"] is True
    assert rules["ExpireReplacedExports"]["ExpiredObjectDeleteMarker"] is True
    statements = only(trail_synth, "AWS::S3::BucketPolicy")["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_glue_table_projects_days_over_the_trail_prefix_with_the_schema_names(trail_synth: Synth) -> None:
    assert only(trail_synth, "AWS::Glue::Database")["DatabaseInput"]["Name"] == DATABASE
    table = only(trail_synth, "AWS::Glue::Table")
    assert table["DatabaseName"] == DATABASE
    data = table["TableInput"]
    assert data["Name"] == TABLE and data["PartitionKeys"] == [{"Name": PARTITION, "Type": "string"}]
    params = data["Parameters"]
    assert params["projection.enabled"] == "true"
    assert (params[f"projection.{PARTITION}.type"], params[f"projection.{PARTITION}.format"]) == (
        "date",
        "yyyy-MM-dd",
    )
    assert params[f"projection.{PARTITION}.range"] == "2024-06-01,NOW"
    bucket = {"Ref": ref(trail_synth, "AWS::S3::Bucket")}
    assert params["storage.location.template"] == {
        "Fn::Join": ["", ["s3://", bucket, f"/{TRAIL_PREFIX}{PARTITION}=${{{PARTITION}}}/"]]
    }
    storage = data["StorageDescriptor"]
    assert storage["Location"] == {"Fn::Join": ["", ["s3://", bucket, f"/{TRAIL_PREFIX}"]]}
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == [(c.name, c.glue_type) for c in COLUMNS]
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert not trail_synth.resources("AWS::Glue::Crawler")


def test_workgroup_enforces_encrypted_results_a_scan_cap_and_engine_3(trail_synth: Synth) -> None:
    group = only(trail_synth, "AWS::Athena::WorkGroup")
    config = group["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 20 * 1024**3
    assert config["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    bucket = {"Ref": ref(trail_synth, "AWS::S3::Bucket")}
    assert result["OutputLocation"] == {"Fn::Join": ["", ["s3://", bucket, f"/{RESULTS_PREFIX}"]]}


def test_every_named_query_is_in_the_stack_with_its_file_sql(trail_synth: Synth) -> None:
    group = ref(trail_synth, "AWS::Athena::WorkGroup")
    found = {
        q["Properties"]["Name"]: q["Properties"]
        for q in trail_synth.resources("AWS::Athena::NamedQuery").values()
    }
    assert set(found) == set(NAMED_QUERIES) and len(found) >= 5
    for name, query in NAMED_QUERIES.items():
        assert found[name]["QueryString"] == query.sql
        assert found[name]["Database"] == DATABASE
        assert found[name]["WorkGroup"] == {"Ref": group}


def statements(synth: Synth) -> list[dict[str, Any]]:
    policy = only(synth, "AWS::IAM::Policy", "TrailRole")
    return list(policy["PolicyDocument"]["Statement"])


def test_the_exporter_reads_the_index_and_records_and_writes_only_the_trail_prefix(
    trail_synth: Synth,
) -> None:
    table = {"Fn::GetAtt": [ref(trail_synth, "AWS::DynamoDB::Table", "AuditTable"), "Arn"]}
    bucket_arn = {"Fn::GetAtt": [ref(trail_synth, "AWS::S3::Bucket"), "Arn"]}
    by_sid = {s.get("Sid"): s for s in statements(trail_synth)}
    assert by_sid["ReadTheTimeIndex"]["Action"] == "dynamodb:Query"
    assert by_sid["ReadTheTimeIndex"]["Resource"] == {"Fn::Join": ["", [table, f"/index/{TIME_INDEX.name}"]]}
    assert by_sid["ReadWholeRecords"]["Action"] == "dynamodb:BatchGetItem"
    assert by_sid["ReadWholeRecords"]["Resource"] == table
    assert set(by_sid["WriteTheTrail"]["Action"]) == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:PutObjectRetention",
    }
    assert by_sid["WriteTheTrail"]["Resource"] == {"Fn::Join": ["", [bucket_arn, f"/{TRAIL_PREFIX}*"]]}
    assert by_sid["TellMissingDays"] == {
        "Sid": "TellMissingDays",
        "Action": "s3:ListBucket",
        "Effect": "Allow",
        "Resource": bucket_arn,
    }
    actions = {
        a
        for s in statements(trail_synth)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete"))}
    # Objects only: no bucket settings, policies, or deletion of a version (which a lock forbids anyway).
    assert {a for a in actions if a.startswith("s3:")} == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:PutObjectRetention",
        "s3:ListBucket",
    }


def test_the_exporter_runs_hourly_with_retries_a_failure_queue_and_an_alarm(trail_synth: Synth) -> None:
    function = only(trail_synth, "AWS::Lambda::Function")
    assert function["Handler"] == HANDLER and function["Architectures"] == ["arm64"]
    assert (function["MemorySize"], function["Timeout"]) == (4096, 900)
    env = function["Environment"]["Variables"]
    assert env["COLLECTOR_TRAIL_LOCK_DAYS"] == "2555" and env["COLLECTOR_TRAIL_LOCK_MODE"] == "COMPLIANCE"
    assert env["COLLECTOR_TRAIL_EXPORT_DAYS"] == "3"
    # The table's retention, not the CLI's 365: a late-marked day it no longer holds is not read again.
    assert env["COLLECTOR_RETENTION_DAYS"] == str(trail_synth.stack.settings.retention_days)
    assert env["COLLECTOR_TABLE_NAME"] == {"Ref": ref(trail_synth, "AWS::DynamoDB::Table", "AuditTable")}
    (layer,) = function["Layers"]
    assert layer == {"Ref": ref(trail_synth, "AWS::Lambda::LayerVersion")}
    version = only(trail_synth, "AWS::Lambda::LayerVersion")
    assert (version["CompatibleRuntimes"], version["CompatibleArchitectures"]) == (["python3.13"], ["arm64"])
    assert only(trail_synth, "AWS::Events::Rule")["ScheduleExpression"] == "cron(20 * * * ? *)"
    invoke = only(trail_synth, "AWS::Lambda::EventInvokeConfig")
    queue = ref(trail_synth, "AWS::SQS::Queue")
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    alarm = only(trail_synth, "AWS::CloudWatch::Alarm")
    assert alarm["AlarmName"].endswith("-Warning-TrailExportFailed")
    (metric,) = alarm["Metrics"]
    assert metric["MetricStat"]["Metric"] == {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
    }
    assert (alarm["Threshold"], alarm["TreatMissingData"]) == (1, "notBreaching")
    assert "Runbook: docs/deploy.md#warning-trailexportfailed" in alarm["AlarmDescription"]
    anchor = "#### Warning: TrailExportFailed"
    assert anchor in (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()


def test_the_hot_window_and_table_class_follow_the_trail(trail_synth: Synth) -> None:
    settings = trail_synth.stack.settings
    assert (settings.retention_days, settings.table_class) == (7, "standard")
    table = only(trail_synth, "AWS::DynamoDB::Table", "AuditTable")
    assert "TableClass" not in table and table["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }


def test_nag_and_cfn_lint_are_clean_with_reviewed_acknowledgments(trail_synth: Synth) -> None:
    assert unacknowledged(trail_synth.outdir / "validation-report.json") == []
    annotations = Annotations.from_stack(trail_synth.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []
    trail = {
        path: set(rules) for path, rules in acknowledgments(trail_synth).items() if path.startswith("Trail/")
    }
    assert trail == {
        "Trail/Bucket": {"AwsSolutions::AwsSolutions-S1"},
        "Trail/ExportFailures": {
            "AwsSolutions::AwsSolutions-SQS3",
            "Serverless::Serverless-SQSRedrivePolicy",
        },
        "Trail/Role": {
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{ref(trail_synth, 'AWS::S3::Bucket')}.Arn>/trail/*]",
            # Clearing the late markers of a day exported again (test_index_consumer_stack.py).
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{ref(trail_synth, 'AWS::S3::Bucket')}.Arn>/late/*]",
        },
        "Trail/Function": {
            "AwsSolutions::AwsSolutions-L1",
            "Serverless::Serverless-LambdaLatestVersion",
            "Serverless::Serverless-LambdaDLQ",
            "Serverless::Serverless-LambdaTracing",
        },
        "Trail/Hourly": {"Serverless::Serverless-EventBusDLQ"},
    }
    matches = lint(
        trail_synth.template_path().read_text(),
        config=ManualArgs(regions=WORKMAIL_REGIONS, include_checks=["I"], ignore_checks=sorted(IGNORED)),
    )
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


# --- settings, without synthesis ---------------------------------------------------------------------


def settings(**context: str) -> StackSettings:
    return StackSettings.from_context({"organizationId": ORG_ID, **context}.get)


def test_the_trail_is_on_by_default_and_off_keeps_the_year_in_the_table() -> None:
    plain = settings()
    assert plain.trail.enabled
    assert (plain.retention_days, plain.table_class, plain.trail.export_days) == (7, "standard", 3)
    off = settings(trail="false")
    assert not off.trail.enabled
    assert (off.retention_days, off.table_class) == (365, "infrequent-access")
    on = settings(retentionDays="45", tableClass="infrequent-access")
    assert (on.retention_days, on.table_class, on.trail.export_days) == (45, "infrequent-access", 3)


def test_the_alarm_gives_the_days_left_to_re_export_before_ttl(trail_synth: Synth) -> None:
    """docs/deploy.md, "Warning: TrailExportFailed": 7 days in the table, 3 looked back by each run."""
    description = only(trail_synth, "AWS::CloudWatch::Alarm")["AlarmDescription"]
    assert "keeps them 7 days (retentionDays)" in description
    assert "re-read the last 3 (trailExportDays)" in description
    assert "within about 4 more days, before TTL may expire them" in description


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"trail": "false", "trailObjectLockDays": "30"},
            "trailObjectLockDays is a setting of the trail in S3, which trail=false turns off",
        ),
        ({"trail": "true", "trailObjectLockMode": "COMPLIANCE"}, "needs trailObjectLockDays"),
        (
            {"trail": "true", "trailObjectLockDays": "7", "trailObjectLockMode": "strict"},
            "GOVERNANCE or COMPLIANCE",
        ),
        ({"trail": "true", "trailColdStorageClass": "DEEP_ARCHIVE"}, "one Athena reads directly"),
        ({"trail": "true", "trailScanLimitGb": "0"}, "trailScanLimitGb must be between 1"),
        ({"trail": "true", "trailStartDay": "June 2024"}, "YYYY-MM-DD"),
        ({"trail": "true", "trailExportDays": "15"}, "trailExportDays must be between 1"),
        ({"trail": "true", "trailExportMemoryMb": "20000"}, "trailExportMemoryMb must be between 512"),
        ({"trail": "true", "retentionDays": "3"}, "must be longer than trailExportDays"),
        ({"trail": "true", "trailPyarrowLayerArn": "pyarrow"}, "Lambda layer version ARN"),
    ],
)
def test_trail_settings_say_what_is_wrong(context: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(**context)


@pytest.fixture(scope="module")
def no_trail_synth(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """A stack deployed with `-c trail=false` (or by a version before the trail was the default)."""
    return synthesize(
        {"organizationId": ORG_ID, "trail": "false"}, tmp_path_factory.mktemp("no-trail"), asset_dir
    )


def test_turning_the_trail_on_keeps_the_table_and_changes_only_its_class_and_hot_window(
    no_trail_synth: Synth, trail_synth: Synth
) -> None:
    """docs/deploy.md, "Turning the trail on for a table that already holds a year": same table."""
    assert not no_trail_synth.resources("AWS::S3::Bucket") and not no_trail_synth.stack.trail
    before_id = ref(no_trail_synth, "AWS::DynamoDB::Table", "AuditTable")
    after_id = ref(trail_synth, "AWS::DynamoDB::Table", "AuditTable")
    assert before_id == after_id
    before = no_trail_synth.json["Resources"][before_id]
    after = trail_synth.json["Resources"][after_id]
    assert (after["DeletionPolicy"], after["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert before["Properties"].pop("TableClass") == "STANDARD_INFREQUENT_ACCESS"
    assert before["Properties"] == after["Properties"]  # keys, index, TTL, PITR: an in-place update

    def retention(synth: Synth) -> str:
        function = only(synth, "AWS::Lambda::Function", "Function")
        return str(function["Environment"]["Variables"]["COLLECTOR_RETENTION_DAYS"])

    assert (retention(no_trail_synth), retention(trail_synth)) == ("365", "7")
    outputs = trail_synth.json["Outputs"]
    assert {"TrailBucketName", "TrailWorkGroup", "TrailExportFunctionName"} <= set(outputs)


def test_the_trace_widget_points_to_the_trail_only_when_there_is_one(
    no_trail_synth: Synth, trail_synth: Synth
) -> None:
    """collector/trace_widget.py sends the viewer to the S3 trail for older days only with COLLECTOR_TRAIL."""
    from cdk.trace import HANDLER as TRACE_HANDLER

    def variables(synth: Synth) -> dict[str, Any]:
        (function,) = (
            r["Properties"]
            for r in synth.resources("AWS::Lambda::Function").values()
            if r["Properties"]["Handler"] == TRACE_HANDLER
        )
        return dict(function["Environment"]["Variables"])

    assert variables(trail_synth)["COLLECTOR_TRAIL"] == "1"
    assert "COLLECTOR_TRAIL" not in variables(no_trail_synth)
    assert variables(no_trail_synth)["COLLECTOR_RETENTION_DAYS"] == "365"


def test_the_layer_serves_the_locked_pyarrow_the_local_export_uses(trail_synth: Synth) -> None:
    """The same pyarrow as the `trail` extra here: Lambda's objects are a local export's bytes."""
    import pyarrow

    from cdk.asset import read_lock

    assert trail_synth.stack.trail is not None and trail_synth.stack.trail.layer_dir is not None
    packages = trail_synth.stack.trail.layer_dir / "python"
    (pin,) = read_lock(Path(__file__).resolve().parents[2] / TRAIL_LAYER.lock).values()
    assert (pin.name, pin.version) == ("pyarrow", pyarrow.__version__)
    assert (packages / f"pyarrow-{pin.version}.dist-info").is_dir()
    assert list((packages / "pyarrow").glob("lib.cpython-313-aarch64-linux-gnu.so"))


def test_the_layer_lock_agrees_with_pyproject() -> None:
    from cdk.asset import lock_disagreements

    assert lock_disagreements(TRAIL_LAYER) == [], "run `bash scripts/lock.sh`"


def test_a_layer_arn_replaces_the_built_layer(asset_dir: Path, tmp_path: Path) -> None:
    from cdk.app import build_app

    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:my-pyarrow:7"
    context = {**TRAIL_CONTEXT, "trailPyarrowLayerArn": arn, "trailObjectLockDays": "0"}
    del context["trailObjectLockMode"]
    app, stack = build_app(context, outdir=str(tmp_path), asset_dir=asset_dir)
    functions = [
        r["Properties"]
        for r in app.synth().get_stack_by_name(stack.stack_name).template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == HANDLER
    ]
    assert [f["Layers"] for f in functions] == [[arn]]


@pytest.mark.parametrize(
    ("hot_days", "export_days", "says"),
    [
        (7, 3, "within about 4 more days"),
        (4, 3, "within about 1 more day,"),
        (0, 3, "the table keeps them for good (retentionDays=0)"),
    ],
)
def test_the_alarms_deadline_follows_the_settings(hot_days: int, export_days: int, says: str) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs

    from cdk.trail import export_failed

    queue = sqs.Queue(Stack(App(), "Bare"), "Failures")
    assert says in export_failed(queue, hot_days=hot_days, export_days=export_days).what
