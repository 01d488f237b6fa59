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
    # The retention only sets the TTL attribute each record carries; a cold start does not depend
    # on it, and the bench's 365 is the table's retention with trail=false.
    assert variables.pop("COLLECTOR_RETENTION_DAYS") == "7"
    assert expected.pop("COLLECTOR_RETENTION_DAYS") in ("7", "365")
    assert variables == expected
