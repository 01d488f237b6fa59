"""The command line as a user runs it: the installed `workmail-collector` script in a subprocess."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import ROOT
from tests.emf import sum_metric, validate_document

SCRIPT = Path(sys.executable).parent / "workmail-collector"


def cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=full_env, input=stdin, timeout=120, cwd=ROOT
    )


@pytest.fixture
def local_env(tmp_path: Path) -> dict[str, str]:
    return {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}


def test_replay_bundled_samples_then_read_the_trail(local_env: dict[str, str], tmp_path: Path) -> None:
    result = cli("replay", "samples/", env=local_env)
    assert result.returncode == 0, result.stderr
    emf = result.stdout.splitlines()
    for line in emf:
        validate_document(line)
    assert "processed 72: recorded 65, duplicates 5 (conflicts 0), invalid 2, failed 0" in result.stderr
    assert "recorded by direction: INBOUND 44, OUTBOUND 21, UNKNOWN 0" in result.stderr
    assert sum_metric(emf, "Messages") == 65 and sum_metric(emf, "InvalidEvents") == 2
    assert "Traceback" not in result.stderr

    again = cli("replay", "samples/", "--emf-out", str(tmp_path / "emf.jsonl"), env=local_env)
    assert "recorded 0, duplicates 72" in again.stderr and again.stdout == ""
    assert len((tmp_path / "emf.jsonl").read_text().splitlines()) == 72

    listing = cli("audit", "list", "--limit", "100", env=local_env)
    assert listing.returncode == 0
    assert listing.stdout.splitlines()[0].split()[:5] == [
        "receivedAt",
        "invocationId",
        "source",
        "eventType",
        "status",
    ]
    assert len(listing.stdout.splitlines()) == 1 + 67  # header + 65 recorded + 2 invalid

    record = cli("audit", "get", "0000000000000000000000000000000000000000", "--json", env=local_env)
    item = orjson.loads(record.stdout)
    assert item["direction"] == "OUTBOUND" and item["sender"] == "sender@domain.test"

    by_sender = cli("audit", "query", "--sender", "alerts@PARTNER.example", "--json", env=local_env)
    assert [orjson.loads(x)["messageId"] for x in by_sender.stdout.splitlines()] == [
        "5c1e0a51-37f4-4c2b-9a7e-2f0d1b7c9e11"
    ]
    by_message = cli("audit", "query", "--message-id", item["messageId"], "--json", env=local_env)
    assert len(by_message.stdout.splitlines()) == 1


def test_generate_event_pipes_into_replay_from_stdin(local_env: dict[str, str]) -> None:
    generated = cli(
        "generate-event",
        "-n",
        "25",
        "--direction",
        "OUTBOUND",
        "--recipients",
        "4",
        "--truncated",
        "--id-length",
        "40",
        "--seed",
        "1",
    )
    events = [orjson.loads(line) for line in generated.stdout.splitlines()]
    assert len(events) == 25 and len({e["invocationId"] for e in events}) == 25
    assert all(len(e["invocationId"]) == 40 and e["truncated"] for e in events)
    result = cli("replay", "-", env=local_env, stdin=generated.stdout)
    assert "recorded 25" in result.stderr
    assert sum_metric(result.stdout.splitlines(), "TruncatedMessages", FlowDirection="OUTBOUND") == 25
    assert sum_metric(result.stdout.splitlines(), "Recipients") == 100

    single = cli("generate-event", "--layout", "flat")
    assert "recipients" in orjson.loads(single.stdout)


def test_table_create_and_replay_on_dynamodb_local(dynamodb_local: str, tmp_path: Path) -> None:
    env = {"AWS_ENDPOINT_URL": dynamodb_local}
    created = cli("table", "create", "--table", "cli-audit", env=env)
    assert created.returncode == 0, created.stderr
    assert "byDayShard" in created.stdout
    replayed = cli("replay", "samples/", "--store", "dynamodb", "--table", "cli-audit", env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert "recorded 65" in replayed.stderr
    listing = cli(
        "audit", "list", "--store", "dynamodb", "--table", "cli-audit", "--json", "--limit", "500", env=env
    )
    assert len(listing.stdout.splitlines()) == 67
    exists = cli("table", "create", "--table", "cli-audit", env=env)
    assert exists.returncode == 2
    assert (
        exists.stderr
        == f"workmail-collector: table cli-audit already exists at {dynamodb_local}: nothing to create\n"
    )
    for command in (("audit", "list"), ("replay", "samples/")):
        missing = cli(*command, "--store", "dynamodb", "--table", "no-such-table", env=env)
        assert missing.returncode == 2, missing.stderr
        assert missing.stderr.startswith(
            f"workmail-collector: table no-such-table does not exist at {dynamodb_local}"
        )
        assert (
            "table create --table no-such-table" in missing.stderr and len(missing.stderr.splitlines()) == 1
        )


@pytest.mark.parametrize(
    ("args", "env", "message", "code"),
    [
        (("replay", "no/such/file.json"), {}, "no such file or folder: no/such/file.json", 2),
        (("replay", "samples/"), {"COLLECTOR_RETENTION_DAYS": "soon"}, "COLLECTOR_RETENTION_DAYS", 2),
        (("audit", "get", "nope"), {}, "no audit record with invocationId nope", 2),
        (("audit", "query"), {}, "needs --message-id, --sender, --since or --until", 2),
        (("audit", "list", "--since", "yesterday"), {}, "not an ISO 8601 time", 2),
        (("generate-event", "-n", "0"), {}, "argument -n/--count: must be at least 1, got 0", 2),
        (("generate-event", "--recipients", "-1"), {}, "argument --recipients: must be at least 0", 2),
        (("audit", "list", "--limit", "-1"), {}, "argument --limit: must be at least 1, got -1", 2),
        (
            ("audit", "query", "--since", "2026-11-01", "--limit", "0"),
            {},
            "argument --limit: must be at least 1",
            2,
        ),
        (("audit", "list", "--days", "-3"), {}, "argument --days: must be at least 1, got -3", 2),
        (("replay", "samples/", "--concurrency", "0"), {}, "argument --concurrency: must be at least 1", 2),
        (
            ("replay", "samples/", "--store", "local"),
            {},
            "invalid choice: 'local' (choose from 'sqlite', 'dynamodb')",
            2,
        ),
        (("table", "create", "--db", "x.sqlite3"), {}, "unrecognized arguments: --db x.sqlite3", 2),
        (("table", "create", "--store", "sqlite"), {}, "unrecognized arguments: --store sqlite", 2),
        (("audit", "list", "--table", "my audit table!"), {}, "--table must be a DynamoDB table name", 2),
        (("audit", "list"), {"COLLECTOR_TABLE_NAME": "my audit table!"}, "COLLECTOR_TABLE_NAME must be", 2),
        (
            ("audit", "list"),
            {"COLLECTOR_FAILURE_QUEUE_URL": "not a url"},
            "COLLECTOR_FAILURE_QUEUE_URL must be",
            2,
        ),
        (
            ("table", "create", "--endpoint-url", "localhost:8000"),
            {},
            "--endpoint-url must be an endpoint URL",
            2,
        ),
        (
            ("audit", "list", "--db", "{tmp}/typo/x.sqlite3"),
            {},
            "no audit database at {tmp}/typo/x.sqlite3",
            2,
        ),
        (("replay", "tests/__init__.py"), {}, "no events in tests/__init__.py", 2),  # an empty file
        (("replay", "docs"), {}, "no events in docs (folders are searched for *.json and *.jsonl files)", 2),
        (("replay", "-"), {}, "no events in -", 2),
        (
            ("audit", "query", "--since", "2026-11-02T00:00:00Z", "--until", "2026-11-01T00:00:00Z"),
            {},
            "--since is after --until",
            2,
        ),
        (("replay", "samples/", "--emf-out", "no/such/dir/emf.jsonl"), {}, "cannot write --emf-out", 2),
    ],
)
def test_user_mistakes_are_one_line_and_non_zero(
    local_env: dict[str, str],
    tmp_path: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    message: str,
    code: int,
) -> None:
    args = tuple(a.replace("{tmp}", str(tmp_path)) for a in args)
    message = message.replace("{tmp}", str(tmp_path))
    if args[0] == "audit":  # an audit database that exists, with nothing in it
        from collector.store.sqlite import SqliteStore
        from tests.conftest import run

        run(SqliteStore(local_env["COLLECTOR_SQLITE_PATH"]).close())
    result = cli(*args, env={**local_env, **env}, stdin="")
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "typo").exists()  # a read command creates nothing


def test_replay_against_an_unreachable_store_stops_and_says_how_to_retry(local_env: dict[str, str]) -> None:
    from bench.dynamodb_local import free_port

    env = {**local_env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    result = cli("replay", "samples/workmail-flat-layout.json", "--store", "dynamodb", env=env)
    assert result.returncode == 1
    assert "store error: cannot reach http://127.0.0.1:" in result.stderr and "stopping" in result.stderr
    assert "replay the same input again" in result.stderr
    assert "Traceback" not in result.stderr


def test_audit_query_by_sender_hashes_with_the_key_from_secrets_manager(
    moto_endpoint: str, tmp_path: Path
) -> None:
    import boto3

    arn = boto3.client("secretsmanager", endpoint_url=moto_endpoint).create_secret(
        Name=f"key-{tmp_path.name}", SecretString="k" * 40
    )["ARN"]
    env = {
        "COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3"),
        "COLLECTOR_REDACT": "true",
        "COLLECTOR_REDACTION_KEY_SECRET_ARN": arn,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
    }
    assert cli("replay", "samples/workmail-flat-layout.json", env=env).returncode == 0
    found = cli("audit", "query", "--sender", "alerts@partner.example", "--json", env=env)
    assert found.returncode == 0, found.stderr
    assert [orjson.loads(x)["messageId"] for x in found.stdout.splitlines()] == [
        "5c1e0a51-37f4-4c2b-9a7e-2f0d1b7c9e11"
    ]


def test_replay_of_an_empty_folder_is_a_mistake_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "store").mkdir()  # an explicit --db needs its folder
    db = tmp_path / "store" / "audit.sqlite3"
    result = cli("replay", str(tmp_path / "empty"), "--emf-out", str(tmp_path / "emf.jsonl"), "--db", str(db))
    assert result.returncode == 2 and "no events in" in result.stderr
    assert not db.exists() and not (tmp_path / "emf.jsonl").exists()


def test_no_region_names_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    for args in (("table", "create", "--table", "audit"), ("audit", "list", "--store", "dynamodb")):
        result = subprocess.run(
            [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
        )
        assert result.returncode == 2
        assert result.stderr == (
            "workmail-collector: no AWS region: set AWS_DEFAULT_REGION (or a region in your AWS profile)\n"
        )


def test_audit_list_says_when_it_shows_only_the_newest(local_env: dict[str, str]) -> None:
    assert cli("replay", "samples/", env=local_env).returncode == 0
    listing = cli("audit", "list", env=local_env)
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 1 + 50
    assert "showing the newest 50 records; more match: raise --limit" in listing.stderr
    everything = cli("audit", "list", "--limit", "67", env=local_env)
    assert len(everything.stdout.splitlines()) == 1 + 67 and everything.stderr == ""


def test_a_reader_that_stops_reading_ends_the_command_quietly(local_env: dict[str, str]) -> None:
    """`| head`: no BrokenPipeError traceback, exit 0 for commands that only print."""
    assert cli("replay", "samples/", env=local_env).returncode == 0
    for command in ("audit list --json --limit 100", "generate-event -n 5000"):
        result = subprocess.run(
            f"'{SCRIPT}' {command} | head -n 1; echo \"exit ${{PIPESTATUS[0]}}\" >&2",
            shell=True,
            executable="/bin/bash",
            capture_output=True,
            text=True,
            env={**os.environ, **local_env},
            timeout=120,
            cwd=ROOT,
        )
        assert len(result.stdout.splitlines()) == 1
        assert result.stderr.strip() == "exit 0", result.stderr


def test_every_option_says_what_it_does() -> None:
    from collector.cli import parser

    root = parser()
    for command in (
        ("replay",),
        ("generate-event",),
        ("audit", "list"),
        ("audit", "query"),
        ("audit", "get"),
        ("table", "create"),
    ):
        sub = root
        for name in command:
            action = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction))
            sub = action.choices[name]
        undocumented = [
            a.option_strings
            for a in sub._actions
            if a.option_strings and not a.help and "--help" not in a.option_strings
        ]
        assert undocumented == [], (command, undocumented)
