"""The deployed trail's side of `audit list/query`: Athena in the trail's workgroup, on moto's
server over HTTP. moto answers every query with the rows a test gives it, so the rows are the
trail's own answer (DuckDB over the exported folder) written as Athena writes results (all text,
arrays as the JSON the query asks for, nulls absent); the store plus Athena then answer as the
store that kept every day."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from collector.cli import main
from collector.history import AthenaTrail, DuckDbTrail, HistoryStore, trail_sql
from collector.store import Query
from collector.store.sqlite import SqliteStore
from collector.trail.duck import connect
from tests.conftest import run
from tests.test_history import EDGE, SINCE, Split, build_split, comparable

WORKGROUP = "workmail-collector-trail"


def athena_text(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"VarCharValue": "true" if value else "false"}
    if isinstance(value, datetime):
        return {"VarCharValue": value.isoformat(sep=" ", timespec="milliseconds")}
    if isinstance(value, list):
        return {"VarCharValue": json.dumps(value)}
    return {"VarCharValue": str(value)}


def seed_results(endpoint: str, split: Split, query: Query) -> None:
    """What Athena would answer for the trail's part of `query`, queued at moto."""
    sql, parameters = trail_sql(query)
    con = connect(split.trail)
    try:
        cursor = con.execute(sql, parameters)
        names = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
    finally:
        con.close()
    result: dict[str, Any] = {
        "rows": [{"Data": [{"VarCharValue": n} for n in names]}]
        + [{"Data": [athena_text(v) for v in row]} for row in rows],
        "column_info": [{"Name": n, "Type": "varchar"} for n in names],
    }
    body = {"account_id": "123456789012", "region": "us-east-1", "results": [result]}
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Split:
    return build_split(tmp_path_factory.mktemp("history-athena"))


@pytest.fixture
def athena(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    client = boto3.client("athena", endpoint_url=moto_endpoint)
    if WORKGROUP not in [w["Name"] for w in client.list_work_groups()["WorkGroups"]]:
        client.create_work_group(
            Name=WORKGROUP, Configuration={"ResultConfiguration": {"OutputLocation": "s3://trail/results/"}}
        )
    return moto_endpoint


def test_the_hot_window_and_athena_answer_as_the_whole_store(athena: str, split: Split) -> None:
    import boto3

    query = Query(since=SINCE, until=EDGE.replace(hour=20), limit=40)

    async def body() -> None:
        full = SqliteStore(split.full, read_only=True)
        history = HistoryStore(SqliteStore(split.hot, read_only=True), AthenaTrail(WORKGROUP), EDGE)
        try:
            expected = await full.query(query)
            got = await history.query(query)
        finally:
            await full.close()
            await history.close()
        assert comparable(got) == comparable(expected)
        assert any(r["receivedAt"] < EDGE.isoformat() for r in got)  # the trail's part is in it
        trail_only = await DuckDbTrail(split.trail).query(query)
        assert trail_only  # the seeded rows are the trail's real answer

    hot = run(hot_part(split, query))
    seed_results(athena, split, replace(query, until=EDGE - timedelta(milliseconds=1), limit=40 - len(hot)))
    run(body())
    client = boto3.client("athena", endpoint_url=athena)
    (execution_id, *_) = client.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert "FROM workmail_collector.audit_trail WHERE day BETWEEN ? AND ?" in execution["Query"]
    assert "json_format(CAST(recipients AS JSON)) AS recipients" in execution["Query"]


async def hot_part(split: Split, query: Query) -> list[dict[str, Any]]:
    store = SqliteStore(split.hot, read_only=True)
    try:
        return await store.query(replace(query, since=EDGE))
    finally:
        await store.close()


def test_athena_and_trail_together_are_a_mistake(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    code = main(
        ["audit", "list", "--db", str(tmp_path / "x.sqlite3"), "--trail", str(tmp_path), "--athena", "wg"]
    )
    assert code == 2
    assert "--trail and --athena name two trails" in capsys.readouterr().err


def test_athena_database_names_the_stacks_glue_database(
    athena: str, split: Split, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second stack in the account and region has its own Glue database (`-c trailDatabase=...`):
    `--athena-database` makes the query name it instead of workmail_collector."""
    import boto3

    workgroup = "other-org-trail"
    client = boto3.client("athena", endpoint_url=athena)
    if workgroup not in [w["Name"] for w in client.list_work_groups()["WorkGroups"]]:
        client.create_work_group(
            Name=workgroup, Configuration={"ResultConfiguration": {"OutputLocation": "s3://other/results/"}}
        )
    args = ["audit", "list", "--db", str(split.hot), "--since", SINCE.isoformat(), "--hot-days", "1"]
    code = main([*args, "--athena", workgroup, "--athena-database", "other_org", "--json"])
    assert code == 0, capsys.readouterr().err
    (execution_id,) = client.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"]
    sql = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Query"]
    assert "FROM other_org.audit_trail WHERE day BETWEEN ? AND ?" in sql
    assert "workmail_collector" not in sql


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (
            ["--athena", "wg", "--athena-database", "Other-Org"],
            "--athena-database 'Other-Org': a Glue database",
        ),
        (["--athena", "wg", "--athena-database", "x" * 256], "at most 255"),
        (["--athena-database", "other_org"], "--athena-database names the database --athena WORKGROUP reads"),
    ],
)
def test_athena_database_refuses_what_is_no_database_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Any, extra: list[str], says: str
) -> None:
    code = main(["audit", "list", "--db", str(tmp_path / "x.sqlite3"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1
