"""What `replay` takes from its paths: any readable path (FIFOs, /dev/stdin), in folders only JSON
files outside hidden and environment folders, and never a named file that is no JSON at all."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path

import orjson

from collector.sampling import generate_events
from tests.emf import sum_metric
from tests.test_cli import SCRIPT, cli

EVENTS = generate_events(count=3, seed=85)


def jsonl(events: Sequence[object]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def recorded(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        return int(connection.execute("select count(*) from audit").fetchone()[0])


def test_a_fifo_is_read_like_a_file(tmp_path: Path) -> None:
    """`replay <(cmd)` hands replay a pipe's path; it was "no such file or folder"."""
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    data = tmp_path / "events.jsonl"
    data.write_bytes(jsonl(EVENTS))
    writer = subprocess.Popen(["bash", "-c", f"cat '{data}' > '{fifo}'"])
    try:
        result = cli("replay", str(fifo), "--db", str(tmp_path / "audit.sqlite3"))
    finally:
        with contextlib.suppress(OSError):  # never left waiting for a reader
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert sum_metric(result.stdout.splitlines(), "Messages") == len(EVENTS)


def test_dev_stdin_as_a_path_reads_stdin(tmp_path: Path) -> None:
    db = str(tmp_path / "audit.sqlite3")
    result = cli("replay", "/dev/stdin", "--db", db, stdin=jsonl(EVENTS).decode())
    assert result.returncode == 0, result.stderr
    assert sum_metric(result.stdout.splitlines(), "Messages") == len(EVENTS)


def test_process_substitution(tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_bytes(jsonl(EVENTS))
    result = subprocess.run(
        ["bash", "-c", f"'{SCRIPT}' replay <(cat '{data}') --db '{tmp_path / 'audit.sqlite3'}'"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sum_metric(result.stdout.splitlines(), "Messages") == len(EVENTS)


def test_a_folder_replays_json_files_outside_hidden_and_environment_folders(tmp_path: Path) -> None:
    """`replay .` in a checkout read .venv/ and node_modules/ (6,309 payloads of junk)."""
    checkout = tmp_path / "checkout"
    (checkout / "events").mkdir(parents=True)
    (checkout / "events" / "day.jsonl").write_bytes(jsonl(EVENTS[:2]))
    (checkout / "one.json").write_bytes(orjson.dumps(EVENTS[2]))
    (checkout / "README.md").write_text("# not events\n")
    for junk in (".venv/lib/site-packages/pkg", "node_modules/pkg", ".git/objects", "env/lib", "__pycache__"):
        (checkout / junk).mkdir(parents=True)
        (checkout / junk / "package.json").write_text('{"name": "pkg"}')
    (checkout / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    asset = checkout / "build" / "asset"  # pip install --target: a Lambda asset
    (asset / "boto3-1.0.dist-info").mkdir(parents=True)
    (asset / "boto3" / "data").mkdir(parents=True)
    (asset / "boto3" / "data" / "resources-1.json").write_text('{"service": {}}')
    (checkout / ".hidden.json").write_text('{"name": "hidden"}')
    db = tmp_path / "audit.sqlite3"
    result = cli("replay", str(checkout), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "processed 3: recorded 3" in result.stderr
    assert recorded(db) == 3


def test_a_named_file_that_is_no_json_at_all_is_refused_and_nothing_is_recorded(tmp_path: Path) -> None:
    """`replay README.md` stored 538 junk records."""
    events = tmp_path / "events.jsonl"
    events.write_bytes(jsonl(EVENTS))
    readme = tmp_path / "README.md"
    readme.write_text("# workmail-collector\n\nSome text, [a link](x) and {braces}.\n" * 50)
    db = tmp_path / "audit.sqlite3"
    result = cli("replay", str(events), str(readme), "--db", str(db))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and str(readme) in result.stderr and "not JSON" in result.stderr
    assert recorded(db) == 0 and result.stdout == ""


def test_this_repositorys_readme_is_refused(tmp_path: Path) -> None:
    """Its numbers (`300 MB`) and quoted words are JSON values, but it starts with text: no events."""
    db = tmp_path / "audit.sqlite3"
    result = cli("replay", "README.md", "--db", str(db))
    assert result.returncode == 2 and "README.md is not JSON" in result.stderr, result.stderr
    assert recorded(db) == 0


def test_a_readme_opening_with_a_badge_is_refused(tmp_path: Path) -> None:
    """`[![CI](...)](...)` starts with `[`: it was taken for a damaged array and quarantined."""
    readme = tmp_path / "README.md"
    readme.write_text("[![CI](https://x/badge.svg)](https://x)\n\n# workmail-collector\n\nText.\n")
    db = tmp_path / "audit.sqlite3"
    result = cli("replay", str(readme), "--db", str(db))
    assert result.returncode == 2 and "README.md is not JSON" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and recorded(db) == 0 and result.stdout == ""


def test_a_checkout_after_pip_install_e_replays_its_events(tmp_path: Path) -> None:
    """`pip install -e .` leaves x.egg-info/ beside the user's folders: `replay .` found nothing."""
    checkout = tmp_path / "checkout"
    (checkout / "mypkg.egg-info").mkdir(parents=True)
    (checkout / "mypkg.egg-info" / "PKG-INFO").write_text("Name: mypkg\n")
    (checkout / "mypkg").mkdir()
    (checkout / "mypkg" / "__init__.py").write_text("")
    (checkout / "events").mkdir()
    (checkout / "events" / "day.jsonl").write_bytes(jsonl(EVENTS))
    db = tmp_path / "audit.sqlite3"
    result = cli("replay", str(checkout), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert f"processed {len(EVENTS)}: recorded {len(EVENTS)}" in result.stderr and recorded(db) == len(EVENTS)


def test_metadata_folders_are_skipped_and_an_install_target_only_when_not_named(tmp_path: Path) -> None:
    """*.dist-info and *.egg-info hold no events; a folder packages were installed into (a
    *.dist-info beside its package) is skipped, unless it is the folder the user named."""
    from collector.cli.inputs import _files

    checkout = tmp_path / "checkout"
    for metadata in ("x.egg-info", "y-1.0.dist-info"):
        (checkout / metadata).mkdir(parents=True)
        (checkout / metadata / "meta.json").write_text("{}")
    (checkout / "events.json").write_bytes(orjson.dumps(EVENTS[0]))
    asset = checkout / "build" / "asset"
    (asset / "boto3-1.0.dist-info").mkdir(parents=True)
    (asset / "botocore" / "data").mkdir(parents=True)
    (asset / "botocore" / "__init__.py").write_text("")
    (asset / "botocore" / "data" / "endpoints.json").write_text("{}")
    assert _files([str(checkout)]) == [checkout / "events.json"]
    assert _files([str(asset)]) == [asset / "botocore" / "data" / "endpoints.json"]
