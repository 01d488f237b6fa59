"""The synthesized template: every resource and property the deployment relies on."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from cdk.index_consumer import HANDLER as INDEX_HANDLER
from collector.config import Settings
from collector.store.schema import AUDIT_TABLE
from tests.cdk.support import CUSTOM_CONTEXT, ORG_ID, Synth


def ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def arn_of(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def function(synth: Synth) -> dict[str, Any]:
    props: dict[str, Any] = synth.collector("AWS::Lambda::Function")[1]["Properties"]
    return props


def role_statements(synth: Synth) -> list[dict[str, Any]]:
    """Every statement that grants the function's role anything, wherever CDK put it."""
    role_ref = function(synth)["Role"]["Fn::GetAtt"][0]
    role = synth.json["Resources"][role_ref]["Properties"]
    assert "ManagedPolicyArns" not in role, "no AWS managed policies: they grant more than the function needs"
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if ref(role_ref) in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def grants(synth: Synth) -> set[tuple[str, str]]:
    """(action, resource logical ID) pairs; fails on anything that is not a plain resource reference."""
    pairs = set()
    for statement in role_statements(synth):
        assert statement["Effect"] == "Allow"
        assert not {"Condition", "NotAction", "NotResource"} & set(statement), statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        for action in actions:
            assert "*" not in action, action
            for resource in resources:
                assert isinstance(resource, dict), f"{action} on a literal resource {resource!r}"
                if "Fn::Join" in resource:  # an ARN built from parts: the message-flow grant
                    parts = resource["Fn::Join"][1]
                    pairs.add((action, "".join(p if isinstance(p, str) else "" for p in parts)))
                    continue
                logical_id = resource["Ref"] if "Ref" in resource else resource["Fn::GetAtt"][0]
                pairs.add((action, logical_id))
    return pairs


def test_function_runtime_shape(any_synth: Synth) -> None:
    props = function(any_synth)
    log_group = any_synth.collector("AWS::Logs::LogGroup")[0]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "collector.handler.handler"
    assert props["MemorySize"] == 256
    assert props["Timeout"] == 30
    level = any_synth.stack.settings.system_log_level  # WARN by default; INFO in the custom stack
    assert props["LoggingConfig"] == {
        "LogFormat": "JSON",
        "LogGroup": ref(log_group),
        "SystemLogLevel": level,
    }
    assert "TracingConfig" not in props


def handlers(synth: Synth) -> list[str]:
    return sorted(f["Properties"]["Handler"] for f in synth.resources("AWS::Lambda::Function").values())


def test_the_collector_and_the_read_only_trace_widget_and_no_helper_lambdas(any_synth: Synth) -> None:
    """The trace widget's function and the trail's exporter are on by default (`-c traceWidget=false`
    and `-c trail=false`, as in the custom stack, leave the collector and its index consumer);
    nothing else runs code, no log-retention helper."""
    widget = ["collector.trace_widget.handler"] if any_synth.stack.settings.trace_widget else []
    trail = ["collector.trail_handler.handler"] if any_synth.stack.settings.trail.enabled else []
    assert handlers(any_synth) == ["collector.handler.handler", INDEX_HANDLER, *widget, *trail]
    assert not any_synth.resources("Custom::LogRetention")


def test_the_trace_widget_and_the_trail_are_on_by_default_and_off_on_request(
    default_synth: Synth, custom_synth: Synth
) -> None:
    assert handlers(default_synth) == [
        "collector.handler.handler",
        INDEX_HANDLER,
        "collector.trace_widget.handler",
        "collector.trail_handler.handler",
    ]
    assert handlers(custom_synth) == ["collector.handler.handler", INDEX_HANDLER]


def test_every_function_logs_lambdas_own_lines_at_warn_unless_told(
    default_synth: Synth, custom_synth: Synth, reconcile_synth: Synth
) -> None:
    """WARN drops platform.start and platform.report (docs/deploy.md, "Lambda's own log lines");
    `-c lambdaSystemLogLevel=info` (the custom stack) brings them back, on every function."""
    assert set(levels_of(default_synth).values()) == {"WARN"}
    assert set(levels_of(custom_synth).values()) == {"INFO"}
    every = levels_of(reconcile_synth)  # collector, index consumer, reconcile, trace widget, trail exporter
    assert len(every) == 5 and set(every.values()) == {"WARN"}, every


def levels_of(synth: Synth) -> dict[str, str]:
    functions = synth.resources("AWS::Lambda::Function").values()
    return {f["Properties"]["Handler"]: f["Properties"]["LoggingConfig"]["SystemLogLevel"] for f in functions}


def test_default_settings(default_synth: Synth) -> None:
    props = function(default_synth)
    table = default_synth.only("AWS::DynamoDB::Table")[0]
    assert props["ReservedConcurrentExecutions"] == 10
    assert props["Environment"]["Variables"] == {
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": ref(table),
        "COLLECTOR_NAMESPACE": "WorkMailCollector",
        "COLLECTOR_SERVICE": "WorkMailCollector",
        "COLLECTOR_RETENTION_DAYS": "7",  # the hot window: the trail in S3 keeps the year
        "COLLECTOR_REDACT": "false",
        "COLLECTOR_ENRICH": "false",
        "COLLECTOR_RULE_MODE": "async",
        "COLLECTOR_TIME_INDEX": "stream",  # the index consumer pages each record
    }
    default_synth.template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})
    default_synth.template.resource_count_is("AWS::SecretsManager::Secret", 0)
    assert default_synth.stack.stack_name == "WorkMailCollector"
    assert default_synth.stack.settings.organization_id == ORG_ID


def test_custom_settings(custom_synth: Synth) -> None:
    props = function(custom_synth)
    table = custom_synth.only("AWS::DynamoDB::Table")[0]
    secret = custom_synth.only("AWS::SecretsManager::Secret")[0]
    queue = custom_synth.collector("AWS::SQS::Queue")[0]  # the index consumer has its own
    assert "ReservedConcurrentExecutions" not in props
    assert props["Environment"]["Variables"] == {
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": ref(table),
        "COLLECTOR_NAMESPACE": "Acme/WorkMail",
        "COLLECTOR_SERVICE": "MailCollectorProd",
        "COLLECTOR_RETENTION_DAYS": "30",
        "COLLECTOR_REDACT": "true",
        "COLLECTOR_ENRICH": "true",
        "COLLECTOR_REDACTION_KEY_SECRET_ARN": ref(secret),
        "COLLECTOR_RULE_MODE": "sync",
        "COLLECTOR_FAILURE_QUEUE_URL": ref(queue),
        "COLLECTOR_TIME_INDEX": "stream",
    }
    custom_synth.template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 365})
    assert custom_synth.stack.stack_name == CUSTOM_CONTEXT["stackName"]
    assert custom_synth.stack.settings.organization_id == CUSTOM_CONTEXT["organizationId"].lower()


def test_redaction_key_is_a_generated_retained_secret_never_a_plain_value(custom_synth: Synth) -> None:
    logical_id, secret = custom_synth.only("AWS::SecretsManager::Secret")
    generator = secret["Properties"]["GenerateSecretString"]
    assert generator["PasswordLength"] >= 32 and generator["ExcludePunctuation"] is True
    assert "SecretString" not in secret["Properties"]
    assert secret["DeletionPolicy"] == "Retain" and secret["UpdateReplacePolicy"] == "Retain"
    variables = function(custom_synth)["Environment"]["Variables"]
    assert "COLLECTOR_REDACTION_KEY" not in variables
    assert "resolve:secretsmanager" not in str(custom_synth.json)
    assert ("secretsmanager:GetSecretValue", logical_id) in grants(custom_synth)


# What CloudFormation resolves the stack's references to, in the shapes the services give them.
RESOLVED = {
    "COLLECTOR_TABLE_NAME": "WorkMailCollector-AuditTable1A2B3C4D-1Q2W3E4R5T6Y",
    "COLLECTOR_FAILURE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/WorkMailCollector-Failures",
    "COLLECTOR_REDACTION_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:Key-AbCdEf",
}


def test_the_collector_accepts_the_environment_it_is_given(any_synth: Synth) -> None:
    """Run the stack's environment through the collector's own validation, as a cold start would."""
    variables = function(any_synth)["Environment"]["Variables"]
    env = {k: v if isinstance(v, str) else RESOLVED[k] for k, v in variables.items()}
    settings = Settings.from_env({**env, "AWS_LAMBDA_FUNCTION_NAME": "the-function-name"})
    stack_settings = any_synth.stack.settings
    assert settings.store == "dynamodb"
    assert settings.table_name == RESOLVED["COLLECTOR_TABLE_NAME"]
    assert settings.namespace == stack_settings.namespace
    assert settings.service == any_synth.stack.stack_name
    assert settings.retention_days == stack_settings.retention_days
    assert settings.redact is stack_settings.redact
    assert settings.enrich is stack_settings.enrichment
    assert settings.rule_mode == stack_settings.rule_mode
    if stack_settings.rule_mode == "sync":
        assert settings.failure_queue_url == RESOLVED["COLLECTOR_FAILURE_QUEUE_URL"]
    if stack_settings.redact:
        assert settings.redaction_secret_arn == RESOLVED["COLLECTOR_REDACTION_KEY_SECRET_ARN"]
        assert settings.redaction_key is None  # read from Secrets Manager at cold start, never configured


def test_enrichment_may_read_this_organizations_messages_only(custom_synth: Synth) -> None:
    statements = [
        s for s in role_statements(custom_synth) if s["Action"] == "workmailmessageflow:GetRawMessageContent"
    ]
    assert statements == [
        {
            "Action": "workmailmessageflow:GetRawMessageContent",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":workmailmessageflow:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        f":message/{custom_synth.stack.settings.organization_id}/*",
                    ],
                ]
            },
            "Sid": "ReadMessagesOfThisOrganization",
        }
    ]


def test_asynchronous_invocation_config(any_synth: Synth) -> None:
    fn = any_synth.collector("AWS::Lambda::Function")[0]
    queue = any_synth.collector("AWS::SQS::Queue")[0]
    assert any_synth.collector("AWS::Lambda::EventInvokeConfig")  # the trail's exporter has its own
    any_synth.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": ref(fn),
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 6 * 3600,
            "DestinationConfig": {"OnFailure": {"Destination": arn_of(queue)}},
        },
    )


def test_failure_queue(any_synth: Synth) -> None:
    queue_id, queue = any_synth.collector("AWS::SQS::Queue")
    assert queue["Properties"] == {"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True}
    any_synth.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [ref(queue_id)],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_audit_table_follows_the_collectors_schema(any_synth: Synth) -> None:
    _, table = any_synth.only("AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": AUDIT_TABLE.partition_key, "KeyType": "HASH"}]
    expected_attributes = AUDIT_TABLE.attribute_definitions()
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(expected_attributes, key=str)
    expected_indexes = AUDIT_TABLE.create_table_request("unused")["GlobalSecondaryIndexes"]
    assert sorted(props["GlobalSecondaryIndexes"], key=str) == sorted(expected_indexes, key=str)
    # One index, holding only what the readers need: the cost of a record is not paid twice over.
    assert [i["Projection"]["ProjectionType"] for i in props["GlobalSecondaryIndexes"]] == ["INCLUDE"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": AUDIT_TABLE.ttl_attribute, "Enabled": True}


def test_audit_table_is_hardened_and_retained(any_synth: Synth) -> None:
    _, table = any_synth.only("AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert "TableName" not in props, "the name is generated by CloudFormation and passed to the function"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_workmail_may_invoke_only_for_this_organization(any_synth: Synth) -> None:
    fn = any_synth.collector("AWS::Lambda::Function")[0]
    _, permission = any_synth.collector("AWS::Lambda::Permission")  # the trail's is its schedule's
    organization = any_synth.stack.settings.organization_id
    assert permission["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": arn_of(fn),
        "Principal": {"Fn::Join": ["", ["workmail.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
        "SourceAccount": {"Ref": "AWS::AccountId"},
        "SourceArn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":workmail:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    f":organization/{organization}",
                ],
            ]
        },
    }


def test_least_privilege(any_synth: Synth) -> None:
    resources = any_synth.json["Resources"]
    log_group = any_synth.collector("AWS::Logs::LogGroup")[0]
    table = any_synth.only("AWS::DynamoDB::Table")[0]
    queue = any_synth.collector("AWS::SQS::Queue")[0]
    expected = {
        ("logs:CreateLogStream", log_group),
        ("logs:PutLogEvents", log_group),
        ("dynamodb:PutItem", table),
        ("dynamodb:GetItem", table),  # an invalid payload's record from before the upgrade
        ("sqs:SendMessage", queue),
    }
    secrets = [k for k, v in resources.items() if v["Type"] == "AWS::SecretsManager::Secret"]
    expected |= {("secretsmanager:GetSecretValue", s) for s in secrets}
    if any_synth.stack.settings.enrichment:
        organization = any_synth.stack.settings.organization_id
        expected.add(
            (
                "workmailmessageflow:GetRawMessageContent",
                f"arn::workmailmessageflow:::message/{organization}/*",
            )
        )
    assert grants(any_synth) == expected
    # The table grant is the table ARN itself, not its indexes: the Lambda path calls PutItem (and
    # GetItem on the invalid path) by key.
    assert all(r["Type"] != "AWS::IAM::ManagedPolicy" for r in resources.values())


def test_outputs(any_synth: Synth) -> None:
    outputs = any_synth.json["Outputs"]
    fn = any_synth.collector("AWS::Lambda::Function")[0]
    table = any_synth.only("AWS::DynamoDB::Table")[0]
    queue = any_synth.collector("AWS::SQS::Queue")[0]
    assert outputs["FunctionArn"]["Value"] == arn_of(fn)
    assert outputs["TableName"]["Value"] == ref(table)
    assert outputs["FailureQueueUrl"]["Value"] == ref(queue)
    dashboards = set(any_synth.resources("AWS::CloudWatch::Dashboard"))
    linked = set()
    for name in ("MailFlowDashboardUrl", "OperationsDashboardUrl"):
        parts = outputs[name]["Value"]["Fn::Join"][1]
        assert parts[0] == "https://" and "#dashboards:name=" in parts
        linked |= {p["Ref"] for p in parts if isinstance(p, dict) and p.get("Ref") in dashboards}
    assert linked == dashboards
    assert ("RedactionKeySecretArn" in outputs) is any_synth.stack.settings.redact
