"""The command line as a user runs it: the installed `workmail-collector` script in a subprocess."""

from __future__ import annotations

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
    assert listing.stdout.splitlines()[0].split()[:3] == ["receivedAt", "invocationId", "status"]
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
    assert "byMessageId" in created.stdout and "bySender" in created.stdout and "byDay" in created.stdout
    replayed = cli("replay", "samples/", "--store", "dynamodb", "--table", "cli-audit", env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert "recorded 65" in replayed.stderr
    listing = cli(
        "audit", "list", "--store", "dynamodb", "--table", "cli-audit", "--json", "--limit", "500", env=env
    )
    assert len(listing.stdout.splitlines()) == 67
    exists = cli("table", "create", "--table", "cli-audit", env=env)
    assert (
        exists.returncode == 1
        and "ResourceInUseException" in exists.stderr
        and "Traceback" not in exists.stderr
    )


@pytest.mark.parametrize(
    ("args", "env", "message", "code"),
    [
        (("replay", "no/such/file.json"), {}, "no such file or folder: no/such/file.json", 2),
        (("replay", "samples/"), {"COLLECTOR_RETENTION_DAYS": "soon"}, "COLLECTOR_RETENTION_DAYS", 2),
        (("audit", "get", "nope"), {}, "no audit record with invocationId nope", 2),
        (("audit", "query"), {}, "needs --message-id, --sender, --since or --until", 2),
        (("audit", "list", "--since", "yesterday"), {}, "not an ISO 8601 time", 2),
        (("generate-event", "-n", "0"), {}, "--count must be at least 1", 2),
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
    local_env: dict[str, str], args: tuple[str, ...], env: dict[str, str], message: str, code: int
) -> None:
    result = cli(*args, env={**local_env, **env})
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_replay_against_an_unreachable_store_stops_and_says_how_to_retry(local_env: dict[str, str]) -> None:
    from bench.dynamodb_local import free_port

    env = {**local_env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    result = cli("replay", "samples/workmail-flat-layout.json", "--store", "dynamodb", env=env)
    assert result.returncode == 1
    assert "store error: EndpointConnectionError" in result.stderr and "stopping" in result.stderr
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
