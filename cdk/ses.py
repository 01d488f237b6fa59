"""Amazon SES as an event source: who may invoke the function, and (optionally) what sends to it.

* Inbound: a resource policy that lets `ses.amazonaws.com` invoke the function for one receipt
  rule only (SourceArn `...:receipt-rule-set/<set>:receipt-rule/<rule>`) and this account
  (SourceAccount). With `sesCreateRule`, the rule itself (AWS::SES::ReceiptRule) is created first
  in the named, existing rule set, after the permission (SES checks it when the rule is saved).
  aws_ses_actions.Lambda is not used: it grants SES the function for any rule of the account.
* Outbound: the configuration set's event destination for the events the collector counts
  (Send, Delivery, Bounce, Complaint, Reject, DeliveryDelay), through an SNS topic (encrypted with
  its own key, which SES may use only for this configuration set) or the default event bus (a rule
  that matches SES's email events of this configuration set). Either one invokes the function
  asynchronously, with the failure queue as its dead-letter queue: nothing is lost on the way.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.settings import SesSettings

# The sending events the collector records and counts (collector/metrics.py).
SENDING_EVENTS = (
    ses.EmailSendingEvent.SEND,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.DELIVERY_DELAY,
)
# Their EventBridge detail-types (SES on EventBridge, default bus).
DETAIL_TYPES = (
    "Email Sent",
    "Email Delivered",
    "Email Bounced",
    "Email Complaint Received",
    "Email Rejected",
    "Email Delivery Delayed",
)
EVENTBRIDGE_RETRIES = 2
EVENTBRIDGE_MAX_AGE = Duration.hours(6)


def receipt_rule_arn(stack: Stack, rule_set: str, rule_name: str) -> str:
    return stack.format_arn(
        service="ses",
        resource="receipt-rule-set",
        resource_name=f"{rule_set}:receipt-rule/{rule_name}",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def wire_ses(
    scope: Construct, *, function: lambda_.Function, failure_queue: sqs.IQueue, settings: SesSettings
) -> None:
    stack = Stack.of(scope)
    if settings.rule_set is not None and settings.rule_name is not None:
        rule_arn = receipt_rule_arn(stack, settings.rule_set, settings.rule_name)
        function.add_permission(
            "InvokeFromSesReceiptRule",
            principal=iam.ServicePrincipal("ses.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_account=Aws.ACCOUNT_ID,
            source_arn=rule_arn,
        )
        if settings.create_rule:
            _receipt_rule(scope, function, settings)
    if settings.configuration_set is not None:
        configuration_set = ses.ConfigurationSet.from_configuration_set_name(
            scope, "SesConfigurationSet", settings.configuration_set
        )
        if settings.destination == "sns":
            topic = _topic(scope, stack, settings.configuration_set)
            destination = ses.EventDestination.sns_topic(topic)
            topic.add_subscription(
                subscriptions.LambdaSubscription(function, dead_letter_queue=failure_queue)
            )
        else:
            bus = events.EventBus.from_event_bus_name(scope, "DefaultEventBus", "default")
            destination = ses.EventDestination.event_bus(bus)
            _eventbridge_rule(scope, function, failure_queue, settings.configuration_set)
        ses.ConfigurationSetEventDestination(
            scope,
            "SesEventDestination",
            configuration_set=configuration_set,
            destination=destination,
            events=list(SENDING_EVENTS),
            configuration_set_event_destination_name=f"{stack.stack_name}-collector"[:64],
        )


def _receipt_rule(scope: Construct, function: lambda_.Function, settings: SesSettings) -> ses.CfnReceiptRule:
    """First in the rule set (no `After`), so it sees every message before a rule can stop it."""
    assert settings.rule_set is not None and settings.rule_name is not None
    rule = ses.CfnReceiptRule(
        scope,
        "SesReceiptRule",
        rule_set_name=settings.rule_set,
        rule=ses.CfnReceiptRule.RuleProperty(
            name=settings.rule_name,
            enabled=True,
            scan_enabled=True,  # spam and virus verdicts in every event
            recipients=list(settings.recipients) or None,  # none: every verified domain
            actions=[
                ses.CfnReceiptRule.ActionProperty(
                    lambda_action=ses.CfnReceiptRule.LambdaActionProperty(
                        function_arn=function.function_arn,
                        invocation_type=settings.invocation_type,
                    )
                )
            ],
        ),
    )
    permission = function.node.find_child("InvokeFromSesReceiptRule")
    rule.node.add_dependency(permission)  # SES refuses a rule whose function it may not invoke
    return rule


def _topic(scope: Construct, stack: Stack, configuration_set: str) -> sns.Topic:
    source_arn = stack.format_arn(
        service="ses",
        resource="configuration-set",
        resource_name=configuration_set,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
    key = kms.Key(
        scope,
        "SesEventsKey",
        description="Encrypts the SES sending events on their way to the WorkMail collector",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,  # only in-flight events depend on it
        pending_window=Duration.days(7),
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowSesToPublishThisConfigurationSetsEvents",
            principals=[iam.ServicePrincipal("ses.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": source_arn},
            },
        )
    )
    return sns.Topic(
        scope,
        "SesEventsTopic",
        display_name="SES sending events for the WorkMail collector",
        master_key=key,
        enforce_ssl=True,
    )


def _eventbridge_rule(
    scope: Construct, function: lambda_.Function, failure_queue: sqs.IQueue, configuration_set: str
) -> events.Rule:
    return events.Rule(
        scope,
        "SesEventsRule",
        description="SES email sending events of one configuration set, to the WorkMail collector",
        event_pattern=events.EventPattern(
            source=["aws.ses"],
            detail_type=list(DETAIL_TYPES),
            detail={"mail": {"tags": {"ses:configuration-set": [configuration_set]}}},
        ),
        targets=[
            targets.LambdaFunction(
                function,
                dead_letter_queue=failure_queue,
                retry_attempts=EVENTBRIDGE_RETRIES,
                max_event_age=EVENTBRIDGE_MAX_AGE,
            )
        ],
    )
