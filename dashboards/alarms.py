"""Where alarms go: one encrypted SNS topic, with an optional e-mail subscription.

CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed `aws/sns` key (its key
policy cannot be changed to admit cloudwatch.amazonaws.com), so the topic gets a small
customer-managed key whose policy lets CloudWatch, in this account only, use it.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Validations
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
