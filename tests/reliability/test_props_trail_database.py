"""Properties of `trailDatabase`: every name the setting accepts is one the named queries can name,
and every name it refuses is refused in one line (the input class that broke: a second stack's
database name)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdk.settings import SettingsError, StackSettings
from cdk.trail import in_database
from collector.history import GLUE_DATABASE_NAME
from collector.trail.queries import NAMED_QUERIES
from collector.trail.schema import QUALIFIED_TABLE
from tests.cdk.support import ORG_ID

NAMES = st.from_regex(GLUE_DATABASE_NAME, fullmatch=True)
TABLES = re.compile(r"(?<![\w.])([a-z0-9_]+)\.audit_trail\b")  # each qualified name's database


def read(name: str) -> StackSettings:
    return StackSettings.from_context({"organizationId": ORG_ID, "trailDatabase": name}.get)


@settings(max_examples=100, deadline=None)
@given(NAMES)
def test_an_accepted_name_is_named_by_every_query_once_per_occurrence(name: str) -> None:
    assert read(name).trail.database == name
    for query in NAMED_QUERIES.values():
        databases = TABLES.findall(in_database(query.sql, name))
        assert databases == [name] * query.sql.count(QUALIFIED_TABLE) and databases


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300).filter(lambda t: not GLUE_DATABASE_NAME.fullmatch(t.strip())))
def test_any_other_name_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(SettingsError) as error:
        read(name)
    assert "\n" not in str(error.value)
