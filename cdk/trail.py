"""The long-term audit trail (on unless `-c trail=false`): S3 bucket, Glue table, Athena workgroup
and named queries, and the scheduled exporter that copies the hot DynamoDB window into the bucket.

The Glue table keeps the plain name of collector/trail/schema.py; the database is the stack's
`trailDatabase` (workmail_collector by default, the name the SQL files and DuckDB's view use): a
Glue database name is one per account and region, so a second stack there names its own, and its
named queries are the files with `workmail_collector.audit_trail` rewritten to name it.
Partition projection on `day` (no crawler, no MSCK REPAIR): Athena computes
`s3://<bucket>/trail/day=YYYY-MM-DD/` itself.

The exporter runs the collector's own code asset (its package does not grow) with pyarrow in a
layer of its own, built from a hash-checked lock like the asset (cdk/trail_layer.py), or a layer
version given with `-c trailPyarrowLayerArn=...` (docs/deploy.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

from aws_cdk import AssetHashType, Aws, CfnElement, Duration, RemovalPolicy, Stack, SymlinkFollowMode
from aws_cdk import aws_athena as athena
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.destinations import SendOnlyQueueDestination
from cdk.functions import own_logs_and_role, stack_function
from cdk.nag import acknowledge
from cdk.settings import TrailSettings, export_reach_days
from cdk.table import time_index_arns
from collector.trail.late import LATE_PREFIX
from collector.trail.queries import NAMED_QUERIES
from collector.trail.s3 import TRAIL_PREFIX
from collector.trail.schema import COLUMNS, PARTITION, QUALIFIED_TABLE, TABLE
from dashboards.alarms import AlarmSpec, Severity, create_alarm

HANDLER = "collector.trail_handler.handler"
RESULTS_PREFIX = "athena-results/"
# Every hour at minute 20: a UTC day over for 20 minutes (its stragglers, async retries and clock
# skew, have landed) is exported once, in parts, and settled for good; a run with nothing to write
# only LISTs its window's days, which also catches up what a missed or failed run left behind
# (collector/trail_handler.py).
SCHEDULE = events.Schedule.cron(minute="20")
TIMEOUT = Duration.minutes(15)
RESULTS_KEPT = Duration.days(30)
# Re-exports replace a part's object; the replaced versions stay this long (without Object Lock).
NONCURRENT_KEPT = Duration.days(30)
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


class Trail(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: TrailSettings,
        table: dynamodb.ITable,
        code: lambda_.Code,
        runtime: lambda_.Runtime,
        log_retention: logs.RetentionDays,
        environment: dict[str, str],
        system_log_level: lambda_.SystemLogLevel = lambda_.SystemLogLevel.WARN,
        hot_days: int = 0,  # the table's retentionDays (0: forever), for the alarm's deadline
        layer_dir: Path | None = None,
        legacy_indexes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.layer_dir = layer_dir
        self.system_log_level = system_log_level
        self.bucket = self._bucket(settings)
        self.location = f"s3://{self.bucket.bucket_name}/{TRAIL_PREFIX}"
        self.database, self.table = self._catalog(settings)
        self.workgroup = self._workgroup(settings)
        self.named_queries = self._named_queries(settings.database)
        self.failures = self._failure_queue()
        self.function = self._exporter(
            settings, table, code, runtime, log_retention, environment, legacy_indexes
        )
        self.alarm_spec = export_failed(self.failures, hot_days=hot_days, export_days=settings.export_days)
        self.alarm: cw.Alarm | None = None

    def alarms_on(self, topic: sns.ITopic) -> list[cw.IAlarm]:
        """TrailExportFailed, notifying `topic`: made once the stack's alarm topic exists, but in
        this construct, so its logical ID stays where it was."""
        self.alarm = create_alarm(self, self.alarm_spec, prefix=Stack.of(self).stack_name, topic=topic)
        return [self.alarm]

    # --- storage -----------------------------------------------------------------------------------

    def _bucket(self, settings: TrailSettings) -> s3.Bucket:
        rules = [
            # The bucket is versioned: expiring a result only adds a delete marker, so the version it
            # hides must expire too, and the marker left alone afterwards is removed by the next rule.
            s3.LifecycleRule(
                id="ExpireQueryResults",
                prefix=RESULTS_PREFIX,
                expiration=RESULTS_KEPT,
                noncurrent_version_expiration=Duration.days(1),
                enabled=True,
            ),
            s3.LifecycleRule(
                id="RemoveQueryResultMarkers",
                prefix=RESULTS_PREFIX,
                expired_object_delete_marker=True,
                enabled=True,
            ),
            s3.LifecycleRule(
                id="ExpireReplacedExports",
                prefix=TRAIL_PREFIX,
                noncurrent_version_expiration=NONCURRENT_KEPT,
                expired_object_delete_marker=True,  # a replaced object, deleted, leaves a marker
                abort_incomplete_multipart_upload_after=Duration.days(1),
                enabled=True,
            ),
            # A late marker (collector/trail/late.py) is deleted once its day is exported again: the
            # version it hides and the delete marker left alone go too.
            s3.LifecycleRule(
                id="RemoveClearedLateMarkers",
                prefix=LATE_PREFIX,
                noncurrent_version_expiration=Duration.days(1),
                expired_object_delete_marker=True,
                enabled=True,
            ),
        ]
        if settings.cold_after_days:
            rules.append(
                s3.LifecycleRule(
                    id="ColderStorage",
                    prefix=TRAIL_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass(settings.cold_storage_class),
                            transition_after=Duration.days(settings.cold_after_days),
                        )
                    ],
                    enabled=True,
                )
            )
        bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Object Lock can only be switched on when the bucket is created; each exported object
            # then carries its own retention (collector/trail/s3.py), query results none.
            object_lock_enabled=settings.object_lock_days > 0 or None,
            lifecycle_rules=rules,
            # The trail outlives the stack: `cdk destroy` leaves the bucket and every object in it.
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "Server access logs would need a second bucket of their own; object-level reads and "
            "writes of the trail are audited with CloudTrail data events instead (docs/deploy.md).",
        )
        return bucket

    def _catalog(self, settings: TrailSettings) -> tuple[glue.CfnDatabase, glue.CfnTable]:
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=settings.database, description="WorkMail collector: the audit trail in S3"
            ),
        )
        template = f"{self.location}{PARTITION}=${{{PARTITION}}}/"
        table = glue.CfnTable(
            self,
            "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=settings.database,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE,
                description="One row per audit record, one Parquet object per UTC day (day=YYYY-MM-DD/)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    "projection.enabled": "true",
                    f"projection.{PARTITION}.type": "date",
                    f"projection.{PARTITION}.format": "yyyy-MM-dd",
                    f"projection.{PARTITION}.range": f"{settings.start_day},NOW",
                    f"projection.{PARTITION}.interval": "1",
                    f"projection.{PARTITION}.interval.unit": "DAYS",
                    "storage.location.template": template,
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name=PARTITION, type="string")],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[
                        glue.CfnTable.ColumnProperty(name=c.name, type=c.glue_type, comment=c.comment or None)
                        for c in COLUMNS
                    ],
                    location=self.location,
                    input_format=PARQUET_INPUT,
                    output_format=PARQUET_OUTPUT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
                ),
            ),
        )
        table.node.add_dependency(database)
        return database, table

    def _workgroup(self, settings: TrailSettings) -> athena.CfnWorkGroup:
        return athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{Stack.of(self).stack_name}-trail",
            description="WorkMail collector audit trail: encrypted results, a cap on bytes scanned",
            state="ENABLED",
            recursive_delete_option=True,  # saved query history only; the results stay in the bucket
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=settings.scan_limit_gb * 1024**3,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                    expected_bucket_owner=Aws.ACCOUNT_ID,
                ),
            ),
        )

    def _named_queries(self, database: str) -> list[athena.CfnNamedQuery]:
        out = []
        for name, query in NAMED_QUERIES.items():
            named = athena.CfnNamedQuery(
                self,
                f"Query-{name}",
                name=name,
                description=query.description[:1024],
                database=database,
                query_string=in_database(query.sql, database),
                work_group=self.workgroup.ref,
            )
            named.node.add_dependency(self.workgroup)
            out.append(named)
        return out

    # --- the exporter ------------------------------------------------------------------------------

    def _failure_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "ExportFailures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is the exporter's on-failure destination, i.e. the dead-letter queue itself: "
            "it keeps the failed run's request and error for the TrailExportFailed runbook.",
        )
        acknowledge(
            queue,
            "Serverless-SQSRedrivePolicy",
            "Dead-letter queue of last resort for a scheduled export: nothing consumes it, the "
            "TrailExportFailed alarm fires on any message and the next run re-exports the same days.",
        )
        return queue

    def _exporter(
        self,
        settings: TrailSettings,
        table: dynamodb.ITable,
        code: lambda_.Code,
        runtime: lambda_.Runtime,
        log_retention: logs.RetentionDays,
        environment: dict[str, str],
        legacy_indexes: tuple[str, ...],
    ) -> lambda_.Function:
        log_group, role = own_logs_and_role(
            self,
            retention=log_retention,
            description="WorkMail collector trail export: read the time index and records, write the trail",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheTimeIndex",
                actions=["dynamodb:Query"],
                resources=time_index_arns(table, legacy_indexes),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWholeRecords", actions=["dynamodb:BatchGetItem"], resources=[table.table_arn]
            )
        )
        objects = self.bucket.arn_for_objects(f"{TRAIL_PREFIX}*")
        # GetObject: HEAD, to skip rewriting an unchanged hour; DeleteObject: a stale object in a
        # day's folder (a delete marker; a locked version stays).
        writes = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
        if settings.object_lock_days:
            writes.append("s3:PutObjectRetention")
        role.add_to_policy(iam.PolicyStatement(sid="WriteTheTrail", actions=writes, resources=[objects]))
        # A day's folder is listed for when each hour was written and for stale objects; without
        # ListBucket a HEAD of an hour not exported yet would also answer 403 instead of 404. Each run
        # also lists the late markers (`late/`) of days paged after their export.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TellMissingDays", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]
            )
        )
        # A marked day, once exported again, loses the markers listed before its export began; a
        # run out of time leaves one where it stopped (collector/trail_handler.py).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="KeepLateMarkers",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[self.bucket.arn_for_objects(f"{LATE_PREFIX}*")],
            )
        )
        bucket_id = Stack.of(self).get_logical_id(cast(CfnElement, self.bucket.node.default_child))
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{TRAIL_PREFIX}*]",
            "A day's parts under the trail prefix, named by their day and minutes: the prefix is the "
            "narrowest ARN that admits every part and nothing else in the bucket.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{LATE_PREFIX}*]",
            "Late markers are named by their day and the index page that made them: the marker "
            "prefix is the narrowest ARN; the exporter deletes those it answered and leaves one "
            "where it stops.",
        )
        env = {
            **environment,
            "COLLECTOR_TRAIL_BUCKET": self.bucket.bucket_name,
            "COLLECTOR_TRAIL_EXPORT_DAYS": str(settings.export_days),
        }
        if settings.object_lock_days:
            env["COLLECTOR_TRAIL_LOCK_DAYS"] = str(settings.object_lock_days)
            env["COLLECTOR_TRAIL_LOCK_MODE"] = settings.object_lock_mode
        function = stack_function(
            self,
            description="Exports the last days of the WorkMail collector's audit table to the S3 trail",
            runtime=runtime,
            handler=HANDLER,
            code=code,
            layers=[self._layer(settings, runtime)],
            memory_mb=settings.export_memory_mb,
            timeout=TIMEOUT,
            role=role,
            system_log_level=self.system_log_level,
            log_group=log_group,
            environment=env,
        )
        function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=SendOnlyQueueDestination(self.failures, sid="SendFailedRunsToTheQueue"),
        )
        rule = events.Rule(
            self,
            "Hourly",
            description="Export the UTC days that are over to the S3 trail, in parts",
            schedule=SCHEDULE,
            targets=[targets.LambdaFunction(function)],
        )
        self._acknowledge(function, rule)
        return function

    def _layer(self, settings: TrailSettings, runtime: lambda_.Runtime) -> lambda_.ILayerVersion:
        if settings.pyarrow_layer_arn:
            return lambda_.LayerVersion.from_layer_version_arn(self, "Pyarrow", settings.pyarrow_layer_arn)
        if self.layer_dir is None:
            from cdk.trail_layer import build_layer

            self.layer_dir = build_layer()
        return lambda_.LayerVersion(
            self,
            "Pyarrow",
            description="pyarrow for the WorkMail collector's trail exporter (cdk/trail_layer.py)",
            code=lambda_.Code.from_asset(
                str(self.layer_dir),
                asset_hash=self.layer_dir.name,
                asset_hash_type=AssetHashType.CUSTOM,
                follow_symlinks=SymlinkFollowMode.ALWAYS,
            ),
            compatible_runtimes=[runtime],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            # A new build is a new version; the function moves to it, the old one goes.
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _acknowledge(self, function: lambda_.Function, rule: events.Rule) -> None:
        for finding in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                function,
                finding,
                "Same asset and runtime as the collector (cp313 wheels, cdk/asset.py), and the "
                "pyarrow layer holds cp313 arm64 wheels too: runtime, wheels and layer move together.",
            )
        acknowledge(
            function,
            "Serverless-LambdaDLQ",
            "A failed run goes to the on-failure destination (EventInvokeConfig, the ExportFailures "
            "queue) with its error and attempt count; a DeadLetterConfig would duplicate it.",
        )
        acknowledge(
            function,
            "Serverless-LambdaTracing",
            "One hourly batch job: its log holds the run's report, and X-Ray would add xray:Put* on "
            "Resource '*' to a role kept to one table and one bucket prefix.",
        )
        acknowledge(
            rule,
            "Serverless-EventBusDLQ",
            "The target gets an empty hourly tick: a failed run is retried by Lambda and lands in the "
            "ExportFailures queue; a missed tick is covered by the next run's lateness margin.",
        )


# The files' qualified table name, whole: not inside a longer name (`x_workmail_collector...`,
# `...audit_trail_2`) or a quoted one.
_FILES_TABLE = re.compile(rf"(?<![\w.\"`]){re.escape(QUALIFIED_TABLE)}(?![\w\"`])")


def in_database(sql: str, database: str) -> str:
    """A named query's SQL naming `database`'s table: each `workmail_collector.audit_trail` of the
    file (the name DuckDB's view keeps, collector/trail/duck.py) becomes `<database>.audit_trail`."""
    return _FILES_TABLE.sub(lambda _: f"{database}.{TABLE}", sql)


def export_failed(queue: sqs.IQueue, *, hot_days: int, export_days: int) -> AlarmSpec:
    """The alarm gives the deadline: records expire `hot_days` after they arrive (TTL) and the
    scheduled runs re-read only the `reach` days before today (export_reach_days: trailExportDays=1
    reaches as far as 2), so a day they no longer reach has about `hot_days - reach - 1` days left
    for a re-export by hand (the settings refuse fewer than one)."""
    spare = hot_days - export_reach_days(export_days) - 1
    left = (
        "the table keeps them for good (retentionDays=0)"
        if hot_days == 0
        else f"the table keeps them {hot_days} days (retentionDays) and the scheduled runs re-read "
        f"the last {export_days} (trailExportDays): days the runs no longer reach must be re-exported "
        f"by hand within about {_more_days(spare)}, before TTL may expire them"
    )
    return AlarmSpec(
        name="TrailExportFailed",
        severity=Severity.WARNING,
        metric=queue.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=Duration.minutes(5), label="Failed export runs"
        ),
        threshold=1,
        what=f"A scheduled trail export failed all three attempts: recent days may be missing from "
        f"the S3 trail; {left}.",
        first="Read the newest message in the ExportFailures queue and the exporter's log, fix the "
        "cause, then re-run the export and purge the queue.",
        anchor="warning-trailexportfailed",
        missing=cw.TreatMissingData.NOT_BREACHING,
    )


def _more_days(count: int) -> str:
    return f"{count} more day" if count == 1 else f"{count} more days"
