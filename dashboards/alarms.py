"""Where alarms go (one encrypted SNS topic, with an optional e-mail subscription) and what every
alarm carries: a severity, what happened, the first thing to do, and its runbook heading.

CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed `aws/sns` key (its key
policy cannot be changed to admit cloudwatch.amazonaws.com), so the topic gets a small
customer-managed key whose policy lets CloudWatch, in this account only, use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


def alarm_topic(scope: Construct, construct_id: str, *, email: str | None) -> sns.Topic:
    key = kms.Key(
        scope,
        f"{construct_id}Key",
        description="Encrypts the WorkMail collector's alarm notifications",
        enable_key_rotation=True,
        # Only in-flight notifications depend on it; nothing to keep after the stack is gone.
        removal_policy=RemovalPolicy.DESTROY,
        pending_window=Duration.days(7),
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
    topic = sns.Topic(
        scope,
        construct_id,
        display_name="WorkMail collector alarms",
        master_key=key,
        enforce_ssl=True,
    )
    if email:
        subscription = topic.add_subscription(subscriptions.EmailSubscription(email))
        Validations.of(subscription).acknowledge(
            Acknowledgment(
                id="Serverless::Serverless-SNSRedrivePolicy",
                reason="An undeliverable alarm e-mail needs no replay: the alarm state stays in CloudWatch "
                "and on the operations dashboard; a notification DLQ would need alarms of its own.",
            )
        )
    return topic


class Severity(StrEnum):
    """How urgent an alarm is; part of its name and the first word of its description."""

    CRITICAL = "Critical"  # page now: events are at risk, or collection has stopped
    WARNING = "Warning"  # look today: degraded, nothing lost yet


RUNBOOK = "docs/deploy.md"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm as an on-call engineer reads it: what happened, what to do first, and why its
    evaluation (datapoints, missing data) is what it is."""

    name: str
    severity: Severity
    metric: cw.IMetric
    threshold: float
    what: str  # what happened, in one sentence
    first: str  # the first thing to do
    anchor: str  # the runbook heading in docs/deploy.md
    missing: cw.TreatMissingData  # what silence means for this metric
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD

    @property
    def description(self) -> str:
        return f"{self.severity.value}: {self.what} First: {self.first} Runbook: {RUNBOOK}#{self.anchor}"


def create_alarm(scope: Construct, spec: AlarmSpec, *, prefix: str, topic: sns.ITopic | None) -> cw.Alarm:
    """The alarm for `spec`; it notifies `topic` when one is given (critical alarms reach the
    on-call through the composite health alarm instead, so one incident pages once)."""
    alarm = cw.Alarm(
        scope,
        f"{spec.severity.value}{spec.name}",
        alarm_name=f"{prefix}-{spec.severity.value}-{spec.name}",
        alarm_description=spec.description,
        metric=spec.metric,
        threshold=spec.threshold,
        comparison_operator=spec.comparison,
        evaluation_periods=spec.evaluation_periods,
        datapoints_to_alarm=spec.datapoints_to_alarm,
        treat_missing_data=spec.missing,
    )
    if topic is not None:
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarm
