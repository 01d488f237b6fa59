"""`audit purge-invalid`: the junk of a mistaken replay removed, never a record of a real message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from collector.clock import iso_millis, utc_now
from collector.sampling import generate_events
from tests.conftest import make_table
from tests.test_cli import cli

EVENTS = generate_events(count=3, seed=87)
_NOW = utc_now()
WIDE = ("--since", iso_millis(_NOW - timedelta(days=1)), "--until", iso_millis(_NOW + timedelta(days=1)))


@pytest.fixture(params=["sqlite", pytest.param("dynamodb-local", marks=pytest.mark.dynamodb)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    if request.param == "sqlite":
        return ("--db", str(tmp_path / "audit.sqlite3")), {}
    endpoint: str = request.getfixturevalue("dynamodb_local")
    return ("--store", "dynamodb", "--table", make_table(endpoint)), {"AWS_ENDPOINT_URL": endpoint}


def test_purge_removes_only_quarantined_records_of_the_range(
    store: tuple[tuple[str, ...], dict[str, str]], tmp_path: Path
) -> None:
    args, env = store
    junk = [{"name": f"package-{n}", "version": "1.0.0"} for n in range(4)]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"".join(orjson.dumps(v) + b"\n" for v in [*EVENTS, *junk]) + b"not json\n")
    replayed = cli("replay", str(path), "--emf-out", str(tmp_path / "emf.jsonl"), *args, env=env)
    assert replayed.returncode == 0 and "invalid 5" in replayed.stderr, replayed.stderr

    refused = cli("audit", "purge-invalid", *WIDE, *args, env=env)  # not a terminal, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr and "remove 5 " in refused.stderr

    elsewhere = ("--since", "2001-01-01T00:00:00Z", "--until", "2001-01-02T00:00:00Z")
    none = cli("audit", "purge-invalid", *elsewhere, "--yes", *args, env=env)
    assert none.returncode == 0 and "no quarantined records" in none.stderr

    purged = cli("audit", "purge-invalid", *WIDE, "--yes", *args, env=env)
    assert purged.returncode == 0 and "removed 5 quarantined records" in purged.stderr, purged.stderr
    listing = cli("audit", "list", "--json", *args, env=env)
    statuses = [orjson.loads(line)["status"] for line in listing.stdout.splitlines()]
    assert statuses == ["RECORDED"] * len(EVENTS)
    again = cli("audit", "purge-invalid", *WIDE, "--yes", *args, env=env)
    assert "no quarantined records" in again.stderr


def test_purge_on_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none" / "audit.sqlite3"
    result = cli("audit", "purge-invalid", *WIDE, "--yes", "--db", str(db))
    assert result.returncode == 2 and not db.parent.exists()
