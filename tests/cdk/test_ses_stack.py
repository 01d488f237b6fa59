"""Deployments with SES as a source: both sources side by side (SNS destination, created receipt
rule) and SES alone (EventBridge destination, a rule the user made). Each synthesizes through the
CDK app with cdk-nag, passes cfn-lint, scopes every invoke permission to its source's ARN and this
account, and its dashboards show what the collector emits, WorkMail and SES side by side."""

from __future__ import annotations

from typing import Any

import pytest

from cdk.settings import SettingsError, StackSettings
from collector.config import Settings
from collector.metrics import CATALOG, METRIC_NAMES, custom_metrics, features_for
from collector.model import Source
from dashboards.catalog import CollectorMetrics
from tests.cdk import test_cfn_lint, test_dashboards, test_nag, test_stack
from tests.cdk.support import BOTH, ORG_ID, SES_ONLY, Synth

RULE_ARN_SUFFIX = {"both": ":receipt-rule-set/inbound-rules:receipt-rule/WorkMailCollector-collector"}
RULE_ARN_SUFFIX["ses-only"] = ":receipt-rule-set/inbound-rules:receipt-rule/collector"


def permissions(synth: Synth) -> dict[str, dict[str, Any]]:
    """Principal -> the permission's properties (one per principal) on the collector; the trail's
    exporter (on by default) has its own, for its hourly schedule."""
    found: dict[str, dict[str, Any]] = {}
    collector = synth.resources("AWS::Lambda::Permission").items()
    for props in (r["Properties"] for k, r in collector if not k.startswith("Trail")):
        principal = props["Principal"] if isinstance(props["Principal"], str) else "workmail"
        assert principal not in found, f"two permissions for {principal}"
        found[principal] = props
    return found


def rendered(value: Any) -> str:
    return test_dashboards.render(value)


# ------------------------------------------------------------------------------------ checks


def test_cdk_nag_finds_nothing_and_nothing_new_is_acknowledged(ses_synth: Synth) -> None:
    assert test_nag.unacknowledged(ses_synth.outdir / "validation-report.json") == []
    test_nag.test_no_unacknowledged_warnings_or_errors(ses_synth)
    # The trail's (on by default) are held to their reviewed list in test_trail_stack.py, the index
    # consumer's in test_index_consumer_stack.py.
    reviewed_elsewhere = ("Trail/", "IndexConsumer/")
    acknowledged = {p for p in test_nag.acknowledgments(ses_synth) if not p.startswith(reviewed_elsewhere)}
    assert acknowledged <= set(test_nag.ACKNOWLEDGED), acknowledged - set(test_nag.ACKNOWLEDGED)


def test_cfn_lint_is_clean(ses_synth: Synth) -> None:
    test_cfn_lint.test_template_is_cfn_lint_clean(ses_synth)


def test_the_functions_role_gains_nothing_for_ses(ses_synth: Synth) -> None:
    """SES, SNS and EventBridge invoke the function: its own role needs no new permission."""
    test_stack.test_least_privilege(ses_synth)


def test_ses_may_invoke_only_for_the_receipt_rule_and_this_account(ses_synth: Synth) -> None:
    variant = "both" if ses_synth.stack.settings.workmail else "ses-only"
    ses = permissions(ses_synth)["ses.amazonaws.com"]
    assert ses["Action"] == "lambda:InvokeFunction"
    assert ses["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert rendered(ses["SourceArn"]) == f"arn:TOKEN:ses:TOKEN:TOKEN{RULE_ARN_SUFFIX[variant]}"


def test_workmails_permission_only_with_workmail(both_synth: Synth, ses_only_synth: Synth) -> None:
    assert "workmail" in permissions(both_synth)
    assert "workmail" not in permissions(ses_only_synth)
    assert ses_only_synth.stack.settings.organization_id is None


def test_the_created_receipt_rule_comes_after_its_permission(both_synth: Synth) -> None:
    _, rule = both_synth.only("AWS::SES::ReceiptRule")
    (permission_id,) = [
        k
        for k, v in both_synth.resources("AWS::Lambda::Permission").items()
        if v["Properties"]["Principal"] == "ses.amazonaws.com"
    ]
    fn = both_synth.collector("AWS::Lambda::Function")[0]
    assert rule["DependsOn"] == [permission_id]
    assert rule["Properties"] == {
        "RuleSetName": "inbound-rules",  # an existing rule set; no After: first in it
        "Rule": {
            "Name": "WorkMailCollector-collector",
            "Enabled": True,
            "ScanEnabled": True,
            "Recipients": ["example.com", "example.org"],
            "Actions": [
                {
                    "LambdaAction": {
                        "FunctionArn": {"Fn::GetAtt": [fn, "Arn"]},
                        "InvocationType": "RequestResponse",
                    }
                }
            ],
        },
    }


def test_a_rule_the_user_made_is_not_created(ses_only_synth: Synth) -> None:
    ses_only_synth.template.resource_count_is("AWS::SES::ReceiptRule", 0)


def test_sns_destination_for_the_counted_events_only_this_configuration_set_may_publish(
    both_synth: Synth,
) -> None:
    _, destination = both_synth.only("AWS::SES::ConfigurationSetEventDestination")
    topics = [k for k in both_synth.resources("AWS::SNS::Topic") if k.startswith("SesEventsTopic")]
    assert len(topics) == 1
    props = destination["Properties"]
    assert props["ConfigurationSetName"] == "outbound"
    assert props["EventDestination"]["SnsDestination"] == {"TopicARN": {"Ref": topics[0]}}
    assert props["EventDestination"]["MatchingEventTypes"] == [
        "send",
        "delivery",
        "bounce",
        "complaint",
        "reject",
        "deliveryDelay",
    ]
    policies = [
        p["Properties"]
        for p in both_synth.resources("AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": topics[0]}]
    ]
    statements = policies[0]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "ses.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert rendered(allow["Condition"]["StringEquals"]["AWS:SourceArn"]).endswith(
        ":configuration-set/outbound"
    )
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    sns = permissions(both_synth)["sns.amazonaws.com"]
    assert sns["SourceArn"] == {"Ref": topics[0]}
    _, subscription = both_synth.only("AWS::SNS::Subscription")
    queue = both_synth.collector("AWS::SQS::Queue")[0]
    assert subscription["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [queue, "Arn"]}
    }


def test_the_sns_topics_key_is_usable_by_ses_for_this_configuration_set_only(both_synth: Synth) -> None:
    keys = [v for k, v in both_synth.resources("AWS::KMS::Key").items() if k.startswith("SesEventsKey")]
    (statement,) = [
        s
        for s in keys[0]["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "ses.amazonaws.com"}
    ]
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert rendered(statement["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(
        ":configuration-set/outbound"
    )


def test_eventbridge_destination_and_a_rule_for_this_configuration_set(ses_only_synth: Synth) -> None:
    _, destination = ses_only_synth.only("AWS::SES::ConfigurationSetEventDestination")
    bus = destination["Properties"]["EventDestination"]["EventBridgeDestination"]["EventBusArn"]
    assert rendered(bus) == "arn:TOKEN:events:TOKEN:TOKEN:event-bus/default"
    rule_id, rule = ses_only_synth.collector("AWS::Events::Rule")
    props = rule["Properties"]
    assert props["EventPattern"]["source"] == ["aws.ses"]
    assert props["EventPattern"]["detail"] == {"mail": {"tags": {"ses:configuration-set": ["outbound"]}}}
    assert "Email Delivered" in props["EventPattern"]["detail-type"]
    queue = ses_only_synth.collector("AWS::SQS::Queue")[0]
    (target,) = props["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 6 * 3600, "MaximumRetryAttempts": 2}
    assert permissions(ses_only_synth)["events.amazonaws.com"]["SourceArn"] == {
        "Fn::GetAtt": [rule_id, "Arn"]
    }


def test_the_collector_accepts_the_environment_it_is_given(ses_synth: Synth) -> None:
    test_stack.test_the_collector_accepts_the_environment_it_is_given(ses_synth)
    variables = test_stack.function(ses_synth)["Environment"]["Variables"]
    env = {k: v if isinstance(v, str) else "resolved" for k, v in variables.items()}
    assert Settings.from_env(env).sources == ses_synth.stack.settings.sources


# -------------------------------------------------------------------------------------- dashboards


def test_dashboards_name_only_emitted_metrics_and_show_every_one(ses_synth: Synth) -> None:
    test_dashboards.test_dashboards_and_alarms_name_only_metrics_the_collector_emits(ses_synth)
    test_dashboards.test_every_catalog_metric_is_on_a_dashboard(ses_synth)


def test_workmail_and_ses_side_by_side(both_synth: Synth) -> None:
    w = test_dashboards.widget(both_synth, "MailFlow", "Messages: WorkMail vs SES")
    labels = [
        row[0]["label"]
        for row in w["properties"]["metrics"]
        if isinstance(row[0], dict) and "expression" in row[0]
    ]
    assert labels == ["WorkMail", "SES"]
    sources = {m.dimensions["Source"] for m in test_dashboards.widget_metrics(w)}
    assert sources == {"WorkMail", "SES"}


def test_the_variants_cover_the_whole_catalog(
    default_synth: Synth, custom_synth: Synth, both_synth: Synth, ses_only_synth: Synth
) -> None:
    names = set()
    for synth in (default_synth, custom_synth, both_synth, ses_only_synth):
        names |= set(test_dashboards.emitted(synth))
    assert names == set(METRIC_NAMES)


def test_what_ses_adds_to_the_custom_metric_count() -> None:
    """The default deployment stays within the cost issue's budget of 12; SES's price is visible."""
    default = CollectorMetrics("N", "svc").catalog
    both = CollectorMetrics("N", "svc", features_for(False, (Source.WORKMAIL, Source.SES))).catalog
    assert custom_metrics(default) == 10
    # Per flow: SES is a second Source (receipts INBOUND, Sends OUTBOUND: UNKNOWN never written).
    assert custom_metrics(both, ("WorkMail", "SES")) - custom_metrics(default) == 4 + 8
    assert len(both) - len(default) == 8  # 5 sending metrics + SPF/DKIM/DMARC failures


# ---------------------------------------------------------------------------------------- settings


def settings(**context: Any) -> StackSettings:
    return StackSettings.from_context(context.get)


def test_ses_settings_read_as_documented() -> None:
    s = settings(**SES_ONLY)
    assert s.sources == (Source.SES,) and s.organization_id is None and not s.workmail
    assert (s.ses.rule_set, s.ses.rule_name, s.ses.create_rule) == ("inbound-rules", "collector", False)
    assert (s.ses.configuration_set, s.ses.destination, s.ses.invocation_type) == (
        "outbound",
        "eventbridge",
        "Event",
    )
    both = settings(**BOTH)
    assert both.sources == (Source.WORKMAIL, Source.SES) and both.ses.recipients == (
        "example.com",
        "example.org",
    )
    assert (
        both.ses.rule_name == "WorkMailCollector-collector" and both.ses.invocation_type == "RequestResponse"
    )
    assert settings(organizationId=ORG_ID).ses == settings(organizationId=ORG_ID, sesRuleSet="ignored").ses


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"sources": "ses"}, "give -c sesRuleSet"),
        ({"sources": "ses,exchange", "sesRuleSet": "r"}, "sources must name one or both of workmail, ses"),
        ({"sources": "workmail,ses", "sesRuleSet": "r"}, "organizationId is required"),
        ({"sources": "ses", "sesRuleSet": "bad name!"}, "sesRuleSet must be an SES name"),
        (
            {"sources": "ses", "sesConfigurationSet": "c", "sesCreateRule": "true"},
            "sesCreateRule needs sesRuleSet",
        ),
        (
            {"sources": "ses", "sesRuleSet": "r", "sesRecipients": "a.example"},
            "sesRecipients is the condition",
        ),
        ({"sources": "ses", "sesRuleSet": "r", "sesInvocationType": "Sync"}, "sesInvocationType must be"),
        (
            {"sources": "ses", "sesConfigurationSet": "c", "sesEventDestination": "sqs"},
            "must be sns or eventbridge",
        ),
        ({"sources": "ses", "sesRuleSet": "r", "enrichment": "true"}, "needs workmail in sources"),
    ],
)
def test_bad_ses_settings_name_their_key(context: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(**context)


def test_no_dashboard_or_alarm_reads_a_series_ses_never_writes(ses_synth: Synth) -> None:
    """SES writes INBOUND and OUTBOUND only, and no MessageBytes: a widget on any other series
    would query nothing (an SES UNKNOWN line, SES message sizes)."""
    namespace = ses_synth.stack.settings.namespace
    named = test_dashboards.dashboard_metrics(ses_synth)
    named += [
        m
        for alarm in ses_synth.resources("AWS::CloudWatch::Alarm").values()
        for m in test_dashboards.alarm_metrics(alarm)
    ]
    sources = tuple(s.value for s in ses_synth.stack.settings.sources)
    flows = {spec.name: set(spec.flows(sources)) for spec in CATALOG if spec.per_flow}
    read = {
        (m.name, m.dimensions["Source"], m.dimensions["FlowDirection"])
        for m in named
        if m.namespace == namespace and "FlowDirection" in m.dimensions
    }
    assert read, "no per-flow series on any dashboard"
    never = sorted(r for r in read if (r[1], r[2]) not in flows[r[0]])
    assert not never, f"series no source writes: {never}"
    assert ("Messages", "SES", "INBOUND") in read and ("Messages", "SES", "OUTBOUND") in read
