"""`python -m bench.replay_memory`: replay's whole-process peak memory against the size of its input.

Writes JSON Lines and a pretty-printed JSON array of generated events to a scratch folder, replays
each in a fresh process onto a scratch SQLite store, and has that process report its own kernel
high-water mark (VmHWM in /proc/self/status) as it exits: the whole process, interpreter and SDKs
included. A 1 MB JSON Lines input replayed in the same run is the baseline: memory that is flat in
the input's size keeps every ratio near 1.

Linux only (/proc). Options: --jsonl-mb 300, --array-mb 100, --recipients 200 (bytes per event, so
a few hundred MB replays in minutes, not hours), --dir (keep the inputs there).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bench.dynamodb_local import ROOT
from collector.jsonutil import dumps
from collector.sampling import iter_events

MB = 1_000_000


@dataclass(frozen=True)
class Result:
    name: str
    input_bytes: int
    events: int
    peak_rss_kb: int
    seconds: float


def events(recipients: int, seed: int) -> Iterator[bytes]:
    """Compact JSON of generated events, without end (the caller stops at the size it wants)."""
    for event in iter_events(count=10**12, recipients=recipients, seed=seed):
        yield dumps(event)


def write_jsonl(out: BinaryIO, size: int, recipients: int) -> int:
    written = count = 0
    for line in events(recipients, seed=1):
        if written >= size:
            return count
        out.write(line + b"\n")
        written += len(line) + 1
        count += 1
    return count


def write_array(out: BinaryIO, size: int, recipients: int) -> int:
    """A pretty-printed array, as `jq .` or `json.dump(indent=2)` writes one."""
    out.write(b"[\n")
    written = count = 0
    for line in events(recipients, seed=2):
        if written >= size:
            break
        item = (b",\n" if count else b"") + json.dumps(json.loads(line), indent=2).encode()
        out.write(item)
        written += len(item)
        count += 1
    out.write(b"\n]\n")
    return count


def replay(path: Path, store: Path) -> tuple[int, float]:
    """Peak RSS (kB) of one fresh replay process, and its wall time."""
    env = {**os.environ, "COLLECTOR_SQLITE_PATH": str(store)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.replay_memory", "--child", str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"replay of {path} failed:\n{done.stderr}")
    return int(done.stdout.strip().splitlines()[-1]), elapsed


def child(path: str) -> int:
    """Replay `path` in this process, then print this process's VmHWM in kB."""
    from collector.cli import main

    code = main(["replay", path, "--emf-out", os.devnull, "--quiet"])
    status = Path("/proc/self/status").read_text()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    print(peak)
    return code


def measure(folder: Path, jsonl_mb: int, array_mb: int, recipients: int) -> list[Result]:
    inputs = [
        ("JSON Lines, baseline", "small.jsonl", write_jsonl, 1 * MB),
        ("JSON Lines", "large.jsonl", write_jsonl, jsonl_mb * MB),
        ("pretty-printed JSON array", "large.json", write_array, array_mb * MB),
    ]
    results = []
    for name, file_name, writer, size in inputs:
        if size <= 0:
            continue
        path = folder / file_name
        with path.open("wb") as out:
            count = writer(out, size, recipients)
        store = folder / f"{file_name}.sqlite3"
        peak, seconds = replay(path, store)
        results.append(Result(name, path.stat().st_size, count, peak, seconds))
        store.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
    return results


def table(results: list[Result]) -> str:
    baseline = results[0].peak_rss_kb
    rows = [
        "| input | size (MB) | events | peak RSS (MB) | peak RSS / baseline's | replay (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows.append(
            f"| {r.name} | {r.input_bytes / MB:.1f} | {r.events:,} | {r.peak_rss_kb / 1024:.1f}"
            f" | {r.peak_rss_kb / baseline:.2f} | {r.seconds:.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_memory", description=__doc__)
    parser.add_argument("--jsonl-mb", type=int, default=300, help="size of the JSON Lines input")
    parser.add_argument("--array-mb", type=int, default=100, help="size of the JSON array input (0: none)")
    parser.add_argument("--recipients", type=int, default=200, help="recipients per event")
    parser.add_argument("--dir", type=Path, help="write the inputs here (default: a scratch folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        results = measure(args.dir, args.jsonl_mb, args.array_mb, args.recipients)
    else:
        with tempfile.TemporaryDirectory(prefix="replay-memory-") as scratch:
            results = measure(Path(scratch), args.jsonl_mb, args.array_mb, args.recipients)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
