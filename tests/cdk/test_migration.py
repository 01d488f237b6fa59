"""The documented migrations to the sharded time index, over synthesized tables: from the three old
indexes, and from the unsharded time index.

CloudFormation adds or deletes at most one global secondary index per stack update and fails an
update that does more. Each walk starts from the table an old version really deployed (synthesized
at commit 5a284cb or d897ff8, kept in tests/data) and follows the `cdk deploy` lines of
docs/deploy.md; the shard backfill, which only writes items, sits between deploys 1 and 2.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from cdk.settings import SettingsError, StackSettings
from cdk.table import audit_table
from collector.store.schema import (
    AUDIT_TABLE,
    ORIGINAL_INDEXES,
    TIME_INDEX,
    UNSHARDED_TIME_INDEX,
    TableSpec,
)
from tests.cdk.support import ORG_ID, ROOT, Synth, synthesize

DOCS = ROOT / "docs" / "deploy.md"
SECTION = "## Migrating a table that has the three old indexes"
SHARDING = "## Migrating to the sharded time index"
OLD = json.loads((ROOT / "tests" / "data" / "audit-table-5a284cb.json").read_text())
UNSHARDED = json.loads((ROOT / "tests" / "data" / "audit-table-d897ff8.json").read_text())
BACKFILL = "workmail-collector table backfill-shards"
Resource = dict[str, Any]


def migration_section(section: str = SECTION) -> str:
    text = DOCS.read_text()
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    return text[start : end if end != -1 else len(text)]


def documented_deploys(section: str = SECTION) -> list[dict[str, str]]:
    """The context (-c key=value) of each `npx cdk deploy` line of the migration, in order."""
    deploys = []
    for line in migration_section(section).splitlines():
        if not line.startswith("npx cdk deploy"):
            continue
        words = shlex.split(line.split("#", 1)[0])
        pairs = [words[i + 1] for i, word in enumerate(words) if word == "-c"]
        context = dict(pair.split("=", 1) for pair in pairs)
        context["organizationId"] = ORG_ID  # the docs write $ORG
        deploys.append(context)
    return deploys


def table_of(spec: TableSpec, kind: str = "infrequent-access") -> tuple[str, Resource]:
    """The table resource the stack synthesizes for `spec` (same construct path: same logical ID)."""
    stack = Stack(App(), "Migration")
    audit_table(stack, "AuditTable", spec, kind)
    resources = Template.from_stack(stack).to_json()["Resources"]
    ((logical_id, resource),) = [(k, v) for k, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table"]
    return logical_id, resource


def indexes(resource: Resource) -> dict[str, Resource]:
    return {i["IndexName"]: i for i in resource["Properties"].get("GlobalSecondaryIndexes", [])}


def gsi_changes(before: Resource, after: Resource) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) index names between two versions of the table."""
    old, new = indexes(before), indexes(after)
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(name for name in set(old) & set(new) if old[name] != new[name])
    return added, removed, changed


MIGRATING = ("GlobalSecondaryIndexes", "AttributeDefinitions", "TableClass")


def streamed(resource: Resource) -> Resource:
    """An old version's table as this version deploys it: the stream the index consumer reads is
    added on the first deploy of this version, whatever the indexes (docs/deploy.md, Update)."""
    stream = {"StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}}
    return {**resource, "Properties": {**resource["Properties"], **stream}}


def unchanged_part(resource: Resource) -> Resource:
    """Everything the migration must leave alone: all but the indexes, their key attributes, the class."""
    properties = {k: v for k, v in resource["Properties"].items() if k not in MIGRATING}
    return {**resource, "Properties": properties}


def table_class(resource: Resource) -> str:
    return str(resource["Properties"].get("TableClass", "STANDARD"))


def table_for(context: dict[str, str]) -> tuple[str, Resource]:
    settings = StackSettings.from_context(context.get)
    spec = AUDIT_TABLE.with_legacy(settings.legacy_indexes, current=settings.sharded_index)
    return table_of(spec, settings.table_class)


def test_the_legacy_indexes_are_the_old_versions_tables_exactly() -> None:
    for indexes, kind, old in (
        (ORIGINAL_INDEXES, "standard", OLD),
        ((UNSHARDED_TIME_INDEX,), "infrequent-access", UNSHARDED),
    ):
        logical_id, resource = table_of(
            TableSpec(AUDIT_TABLE.partition_key, AUDIT_TABLE.ttl_attribute, indexes), kind
        )
        assert logical_id == old["logicalId"]
        assert resource == streamed(old["resource"])


@pytest.mark.parametrize(("section", "old", "count"), [(SECTION, OLD, 6), (SHARDING, UNSHARDED, 3)])
def test_each_documented_deploy_changes_one_thing_on_the_table(
    section: str, old: dict[str, Any], count: int
) -> None:
    """Deploy 1 (shardedIndex=false) leaves the table's indexes as they were (it adds the stream, as
    the first deploy of this version does to any table); each later one adds or removes one
    index, or changes the class; no index that stays is touched."""
    deploys = documented_deploys(section)
    assert len(deploys) == count, deploys
    assert deploys[0].get("shardedIndex") == "false"
    assert all("shardedIndex" not in context for context in deploys[1:])
    previous: Resource = old["resource"]
    for step, context in enumerate(deploys, start=1):
        logical_id, resource = table_for(context)
        assert logical_id == old["logicalId"], f"deploy {step} would replace the table"
        added, removed, changed = gsi_changes(previous, resource)
        reclassed = table_class(previous) != table_class(resource)
        changes = len(added) + len(removed) + reclassed
        assert changes == (0 if step == 1 else 1), f"deploy {step}: +{added} -{removed} {reclassed}"
        assert changed == [], f"deploy {step} changes {changed}"
        assert unchanged_part(resource) == unchanged_part(streamed(old["resource"])), f"deploy {step}"
        if step == 1:
            assert resource == streamed(old["resource"]), "deploy 1 adds the stream, no index"
        previous = resource
    # The trail stays out until the indexes are done (docs/deploy.md, then "Turning the trail on").
    assert deploys[-1] == {"organizationId": ORG_ID, "trail": "false"}, "the last deploy is a plain one"
    assert previous == table_of(AUDIT_TABLE)[1], "the last deploy ends at the current table"


@pytest.mark.parametrize("section", [SECTION, SHARDING])
def test_the_shard_backfill_runs_between_deploy_1_and_the_deploy_that_adds_the_index(section: str) -> None:
    """The sharded index is complete when it is built only if every record has its shard by then."""
    lines = [
        line
        for line in migration_section(section).splitlines()
        if line.startswith(("npx cdk deploy", BACKFILL))
    ]
    assert lines[1].startswith(BACKFILL), lines
    assert "-c shardedIndex=false" in lines[0] and "shardedIndex" not in lines[2]


def test_deploying_this_version_straight_onto_an_old_table_is_an_update_cloudformation_fails() -> None:
    added, removed, _ = gsi_changes(OLD["resource"], table_of(AUDIT_TABLE)[1])
    assert added == [TIME_INDEX.name]
    assert len(removed) == len(ORIGINAL_INDEXES)
    added, removed, _ = gsi_changes(UNSHARDED["resource"], table_of(AUDIT_TABLE)[1])
    assert (added, removed) == ([TIME_INDEX.name], [UNSHARDED_TIME_INDEX.name])  # a replacement: refused


@pytest.fixture(scope="module")
def first_step_synth(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The whole app for deploy 1 of the migration: cdk-nag included, as `cdk deploy` runs it."""
    context = documented_deploys()[0]
    return synthesize(context, tmp_path_factory.mktemp("cdk-migration"), asset_dir)


def test_the_stack_keeps_the_legacy_indexes_its_setting_lists(
    first_step_synth: Synth, default_synth: Synth
) -> None:
    assert first_step_synth.only("AWS::DynamoDB::Table") == table_for(documented_deploys()[0])
    assert default_synth.only("AWS::DynamoDB::Table") == table_of(AUDIT_TABLE, "standard")  # the hot window


@pytest.mark.parametrize(
    ("section", "old"),
    [(SECTION, ORIGINAL_INDEXES), (SHARDING, (UNSHARDED_TIME_INDEX,))],
)
def test_the_documented_cli_migration_creates_the_index_table_create_would(
    section: str, old: tuple[Any, ...]
) -> None:
    """The `aws dynamodb update-table` for tables made by an older `table create`, after the backfill."""
    text = migration_section(section)
    created = re.search(r"--global-secondary-index-updates '(\[\{\"Create\".*?\])'", text)
    assert created is not None
    assert text.rindex(BACKFILL, 0, created.start()) > text.rindex("TABLE=my-audit", 0, created.start())
    (update,) = json.loads(created.group(1))
    (expected,) = AUDIT_TABLE.create_table_request("unused")["GlobalSecondaryIndexes"]
    assert update["Create"] == expected
    definitions = re.search(r"--attribute-definitions (.*) \\\n", text[: created.start()])
    assert definitions is not None
    named = {part.split(",")[0].removeprefix("AttributeName=") for part in definitions.group(1).split()}
    assert named == {TIME_INDEX.partition_key, TIME_INDEX.sort_key}
    deleted = re.findall(r'"Delete":\{"IndexName":"(\w+)"\}', text)
    assert set(deleted) == {i.name for i in old} | {TIME_INDEX.name}  # + the rollback clean-up


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("standard", "standard"),
        ("STANDARD_INFREQUENT_ACCESS", "infrequent-access"),
        ("IA", "infrequent-access"),
    ],
)
def test_table_class_setting(value: str, expected: str) -> None:
    assert (
        StackSettings.from_context({"organizationId": ORG_ID, "tableClass": value}.get).table_class
        == expected
    )
    # Standard for the default's 7-day hot window, Standard-IA for the year the table keeps without the trail.
    assert StackSettings.from_context({"organizationId": ORG_ID}.get).table_class == "standard"
    no_trail = {"organizationId": ORG_ID, "trail": "false"}
    assert StackSettings.from_context(no_trail.get).table_class == "infrequent-access"


def test_table_class_setting_refuses_other_classes() -> None:
    with pytest.raises(SettingsError, match="tableClass must be infrequent-access or standard"):
        StackSettings.from_context({"organizationId": ORG_ID, "tableClass": "glacier"}.get)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("byDay,bySender", ("bySender", "byDay")),
        (" byMessageId , byDay ", ("byMessageId", "byDay")),
        (["byDay", "byDay"], ("byDay",)),
        ("none", ()),
        ("", ()),
    ],
)
def test_legacy_indexes_setting_lists_old_indexes_in_the_old_order(
    value: Any, expected: tuple[str, ...]
) -> None:
    settings = StackSettings.from_context({"organizationId": ORG_ID, "legacyIndexes": value}.get)
    assert settings.legacy_indexes == expected


def test_legacy_indexes_setting_refuses_an_index_the_old_table_never_had() -> None:
    with pytest.raises(SettingsError, match="legacyIndexes names indexes this table never had: byDayShard"):
        StackSettings.from_context({"organizationId": ORG_ID, "legacyIndexes": "byDayShard"}.get)


def test_sharded_index_setting_is_only_for_a_migrations_first_deploy() -> None:
    assert StackSettings.from_context({"organizationId": ORG_ID}.get).sharded_index
    with pytest.raises(SettingsError, match="shardedIndex=false is for the first deploy of a migration"):
        StackSettings.from_context({"organizationId": ORG_ID, "shardedIndex": "false"}.get)
    first = StackSettings.from_context(
        {"organizationId": ORG_ID, "shardedIndex": "false", "legacyIndexes": "byReceivedDay"}.get
    )
    assert not first.sharded_index and first.legacy_indexes == ("byReceivedDay",)
