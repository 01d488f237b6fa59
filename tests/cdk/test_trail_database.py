"""`-c trailDatabase=...`: a second stack in an account and region gets a Glue database of its own.

A Glue database name is one per account and region: with a fixed name the second stack's deploy
failed (and left its retained bucket behind). The named queries' files keep
`workmail_collector.audit_trail` (DuckDB's view reads them as they are); the stack's NamedQuery
resources name the stack's own database instead.
"""

from __future__ import annotations

import re

import pytest

from cdk.settings import SettingsError, StackSettings
from cdk.trail import in_database
from collector.trail.queries import NAMED_QUERIES
from collector.trail.schema import DATABASE, QUALIFIED_TABLE
from tests.cdk.support import ORG_ID, Synth

OTHER = "other_org"  # tests/cdk/conftest.py RECONCILE_CONTEXT's trailDatabase


def named_queries(synth: Synth) -> dict[str, dict[str, str]]:
    return {
        q["Properties"]["Name"]: q["Properties"] for q in synth.resources("AWS::Athena::NamedQuery").values()
    }


def test_every_named_query_names_the_stacks_database(reconcile_synth: Synth) -> None:
    found = named_queries(reconcile_synth)
    assert set(found) == set(NAMED_QUERIES)
    for name, props in found.items():
        sql = props["QueryString"]
        assert props["Database"] == OTHER, name
        assert f"{OTHER}.audit_trail" in sql and DATABASE not in sql, name
        assert sql.count(f"{OTHER}.audit_trail") == NAMED_QUERIES[name].sql.count(QUALIFIED_TABLE), name
    (database,) = reconcile_synth.resources("AWS::Glue::Database").values()
    assert database["Properties"]["DatabaseInput"]["Name"] == OTHER
    (table,) = reconcile_synth.resources("AWS::Glue::Table").values()
    assert table["Properties"]["DatabaseName"] == OTHER
    assert reconcile_synth.json["Outputs"]["TrailDatabase"]["Value"] == OTHER


def test_the_default_database_keeps_the_files_sql(default_synth: Synth) -> None:
    for name, props in named_queries(default_synth).items():
        assert (props["Database"], props["QueryString"]) == (DATABASE, NAMED_QUERIES[name].sql)
    (database,) = default_synth.resources("AWS::Glue::Database").values()
    assert database["Properties"]["DatabaseInput"]["Name"] == DATABASE


def test_only_the_qualified_name_itself_is_rewritten() -> None:
    sql = (
        "SELECT * FROM workmail_collector.audit_trail a JOIN workmail_collector.audit_trail b\n"
        "-- not x_workmail_collector.audit_trail, workmail_collector.audit_trail_2, workmail_collector.t"
    )
    got = in_database(sql, "org_b")
    assert got == (
        "SELECT * FROM org_b.audit_trail a JOIN org_b.audit_trail b\n"
        "-- not x_workmail_collector.audit_trail, workmail_collector.audit_trail_2, workmail_collector.t"
    )
    assert in_database(sql, DATABASE) == sql


def settings(**context: str) -> StackSettings:
    return StackSettings.from_context({"organizationId": ORG_ID, **context}.get)


def test_the_setting_defaults_to_workmail_collector_and_takes_a_glue_name() -> None:
    assert settings().trail.database == DATABASE
    assert settings(trailDatabase="org_2").trail.database == "org_2"
    assert settings(trailDatabase="a" * 255).trail.database == "a" * 255


@pytest.mark.parametrize("name", ["Other_Org", "other-org", "other.org", "", "a" * 256, "org b", "ö"])
def test_other_names_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(SettingsError, match=re.escape("context value trailDatabase must be")) as error:
        settings(trailDatabase=name)
    assert "\n" not in str(error.value)


def test_a_stack_without_the_trail_refuses_it() -> None:
    with pytest.raises(SettingsError, match="trailDatabase is a setting of the trail in S3"):
        settings(trail="false", trailDatabase="org_2")
