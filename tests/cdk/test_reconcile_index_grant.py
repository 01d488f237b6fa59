"""The reconcile function's Query grant follows the time index the reader may use: the sharded one,
and while a migration keeps it, the unsharded one (collector/store/dynamodb.py falls back to it
until the sharded index is ACTIVE)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from cdk.reconcile import ScheduledReconcile
from cdk.settings import StackSettings
from cdk.table import audit_table
from collector.store.schema import AUDIT_TABLE, TIME_INDEX, UNSHARDED_TIME_INDEX
from tests.cdk.support import ORG_ID


def query_resources(context: dict[str, str]) -> list[Any]:
    settings = StackSettings.from_context({"organizationId": ORG_ID, "reconcile": "true", **context}.get)
    stack = Stack(App(), "Grant")
    spec = AUDIT_TABLE.with_legacy(settings.legacy_indexes, current=settings.sharded_index)
    table = audit_table(stack, "AuditTable", spec)
    ScheduledReconcile(
        stack,
        "Reconcile",
        settings=settings,
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        table=table,
        service="svc",
        log_retention=logs.RetentionDays.ONE_WEEK,
        runtime=lambda_.Runtime.PYTHON_3_13,
    )
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (query,) = [s for s in statements if s["Action"] == "dynamodb:Query"]
    resources = query["Resource"]
    return resources if isinstance(resources, list) else [resources]


def index_names(resources: list[Any]) -> list[str]:
    return [str(r["Fn::Join"][1][1]).removeprefix("/index/") for r in resources]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, [TIME_INDEX.name]),
        ({"legacyIndexes": "byReceivedDay"}, [TIME_INDEX.name, UNSHARDED_TIME_INDEX.name]),
        (
            {"legacyIndexes": "byReceivedDay", "shardedIndex": "false"},
            [TIME_INDEX.name, UNSHARDED_TIME_INDEX.name],
        ),
        ({"legacyIndexes": "byMessageId,bySender,byDay"}, [TIME_INDEX.name]),
    ],
)
def test_the_reconcile_role_may_query_the_indexes_its_reader_may_use(
    context: dict[str, str], expected: list[str]
) -> None:
    assert index_names(query_resources(context)) == expected


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [((), [TIME_INDEX.name]), (("byReceivedDay",), [TIME_INDEX.name, UNSHARDED_TIME_INDEX.name])],
)
def test_the_trace_widget_role_may_query_the_indexes_its_reader_may_use(
    legacy: tuple[str, ...], expected: list[str]
) -> None:
    """The trace widget reads through the same store: during the migration, the unsharded index too."""
    from aws_cdk import aws_cloudwatch as cw

    from cdk.trace import TraceWidget

    stack = Stack(App(), "TraceGrant")
    table = audit_table(stack, "AuditTable", AUDIT_TABLE.with_legacy(legacy))
    TraceWidget(
        stack,
        "Trace",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        table=table,
        redaction_key=None,
        dashboard=cw.Dashboard(stack, "Board"),
        log_retention=logs.RetentionDays.ONE_WEEK,
        runtime=lambda_.Runtime.PYTHON_3_13,
        legacy_indexes=legacy,
    )
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (query,) = [s for s in statements if s["Action"] == "dynamodb:Query"]
    resources = query["Resource"]
    assert index_names(resources if isinstance(resources, list) else [resources]) == expected
