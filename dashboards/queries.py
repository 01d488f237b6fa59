"""Saved CloudWatch Logs Insights queries for the audit questions people actually ask.

They read the function's log group, which holds two kinds of lines (Lambda's JSON log format):
application records ({"level", "message", "invocationId", "requestId", ...}) such as
"invalid event quarantined: ..." and "conflicting redelivery: ...", and one EMF document per
invocation with the properties invocationId, status and requestId (plus sender, mailFrom and subject
only when COLLECTOR_LOG_PII is on). `@message like` matches both formats, JSON or text. Lambda's
own lines (`platform.*`) are there only for failures at the stack's system log level, WARN; no
query reads `platform.report`.

The audit table stays the system of record (its time index byReceivedDay, `workmail-collector
audit query`); these queries answer "what did the function do, and when".
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_logs as logs
from constructs import Construct

PLACEHOLDER_MESSAGE_ID = "REPLACE-WITH-MESSAGE-ID"
PLACEHOLDER_SENDER = "REPLACE-WITH-SENDER-ADDRESS"


@dataclass(frozen=True)
class SavedQuery:
    construct_id: str
    name: str
    query: logs.QueryString


def saved_queries() -> tuple[SavedQuery, ...]:
    return (
        SavedQuery(
            "ByMessageId",
            "by-message-id",
            logs.QueryString(
                fields=["@timestamp", "status", "invocationId", "requestId", "messageId", "message"],
                filter_statements=[
                    f'messageId = "{PLACEHOLDER_MESSAGE_ID}" or @message like "{PLACEHOLDER_MESSAGE_ID}"',
                ],
                sort="@timestamp desc",
                limit=200,
            ),
        ),
        SavedQuery(
            "BySender",
            "by-sender",
            logs.QueryString(
                fields=["@timestamp", "status", "invocationId", "requestId", "sender", "mailFrom", "subject"],
                filter_statements=[
                    f'sender = "{PLACEHOLDER_SENDER}" or mailFrom = "{PLACEHOLDER_SENDER}"',
                ],
                sort="@timestamp desc",
                limit=200,
            ),
        ),
        SavedQuery(
            "InvalidEvents",
            "invalid-events",
            logs.QueryString(
                fields=["@timestamp", "invocationId", "requestId", "message"],
                filter_statements=["@message like /invalid event quarantined/"],
                sort="@timestamp desc",
                limit=200,
            ),
        ),
        SavedQuery(
            "Conflicts",
            "conflicting-redeliveries",
            logs.QueryString(
                fields=["@timestamp", "invocationId", "requestId", "message"],
                filter_statements=["@message like /conflicting redelivery/"],
                sort="@timestamp desc",
                limit=200,
            ),
        ),
        SavedQuery(
            "OutcomesByStatus",
            "outcomes-by-status",
            logs.QueryString(
                filter_statements=["ispresent(status) and ispresent(invocationId)"],
                stats_statements=["count(*) as invocations by status, bin(1h)"],
            ),
        ),
        SavedQuery(
            "FailedInvocations",
            "failed-invocations",
            logs.QueryString(
                fields=[
                    "@timestamp",
                    # The collector's lines carry requestId; Lambda's platform lines, record.requestId.
                    "coalesce(requestId, record.requestId) as request",
                    "errorType",
                    "errorMessage",
                    "message",
                    "type",
                    "record.status",
                    "record.errorType",
                ],
                # Lambda's own line for a failed invocation or initialization (a timeout among
                # them): the system log level WARN keeps it (docs/deploy.md, "Lambda's own log lines").
                filter_statements=[
                    'ispresent(errorType) or level = "ERROR" or @message like /Task timed out/'
                    ' or (ispresent(record.status) and record.status != "success")'
                ],
                sort="@timestamp desc",
                limit=200,
            ),
        ),
    )


def audit_queries(scope: Construct, *, log_group: logs.ILogGroup, folder: str) -> list[logs.QueryDefinition]:
    """One QueryDefinition per saved query, filed under `folder/` in the Logs Insights console."""
    return [
        logs.QueryDefinition(
            scope,
            f"Query{saved.construct_id}",
            query_definition_name=f"{folder}/{saved.name}",
            query_string=saved.query,
            log_groups=[log_group],
        )
        for saved in saved_queries()
    ]
