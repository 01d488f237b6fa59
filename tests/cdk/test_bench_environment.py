"""The cold-start bench runs the asset with the environment the synthesized template sets."""

from __future__ import annotations

from bench.coldstart import TABLE, TEMPLATE_ENVIRONMENT
from tests.cdk.support import Synth


def test_the_bench_uses_the_templates_environment(default_synth: Synth) -> None:
    _, function = default_synth.collector("AWS::Lambda::Function")
    variables = dict(function["Properties"]["Environment"]["Variables"])
    table_id, _ = default_synth.only("AWS::DynamoDB::Table")
    assert variables.pop("COLLECTOR_TABLE_NAME") == {"Ref": table_id}
    expected = dict(TEMPLATE_ENVIRONMENT)
    assert expected.pop("COLLECTOR_TABLE_NAME") == TABLE
    assert variables == expected
