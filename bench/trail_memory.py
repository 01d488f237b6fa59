"""Peak memory of exporting one part of N records (all in one hour): the streamed export against
the whole-period path it replaced, in fresh processes of the same run.

Seeds a SQLite store with N synthetic records in one UTC hour (bench/trail_queries.py's mix),
then, each in a fresh child, prints its peak RSS (VmHWM in /proc/self/status: interpreter,
pyarrow and the store included):
  idle     opens the store and imports the writer, reads nothing (the floor);
  whole    the old path: every record of the hour read with one `query`, then written at once
           (the records, sorted, in memory, then one Arrow table of them);
  streamed `export_part`: the store's `oldest_first` pages into row groups written as they fill.
Both write the same bytes (checked). Also prints the object's bytes per record (what /tmp holds)
and the streamed export's records per second.

Linux only. `python -m bench.trail_memory --records 200000` (~2 minutes on one core).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

DAY = date(2026, 1, 5)
HOUR = 10


def _peak_kb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def seed(db: Path, count: int) -> None:
    from bench.trail_queries import synthetic_records
    from collector.clock import iso_millis
    from collector.store.sqlite import SqliteStore

    async def go() -> None:
        store = SqliteStore(db)
        start = datetime(DAY.year, DAY.month, DAY.day, HOUR, tzinfo=UTC)
        store._db.execute("BEGIN")  # one transaction: seeding is not what is measured
        for n, item in enumerate(synthetic_records(DAY, count)):
            item["receivedAt"] = iso_millis(start + timedelta(milliseconds=3_600_000 * n // count))
            await store.put_once(item)
        store._db.execute("COMMIT")
        await store.close()

    asyncio.run(go())


def child(mode: str, db: Path, out: Path) -> None:
    from collector.store import Query
    from collector.store.sqlite import SqliteStore
    from collector.trail.export import FolderSink, export_part
    from collector.trail.layout import hour_start
    from collector.trail.writer import parquet_bytes

    async def go() -> float:
        store = SqliteStore(db, read_only=True)
        began = time.perf_counter()
        try:
            since = hour_start(DAY, HOUR)
            if mode == "whole":
                until = since + timedelta(hours=1, milliseconds=-1)
                records = await store.query(Query(since=since, until=until, limit=10**9, full=True))
                out.write_bytes(parquet_bytes(records))
            elif mode == "streamed":
                with tempfile.TemporaryDirectory() as scratch:
                    done = await export_part(store, FolderSink(out.parent), DAY, HOUR * 60, Path(scratch))
                (out.parent / done.key).rename(out)
        finally:
            await store.close()
        return time.perf_counter() - began

    seconds = asyncio.run(go())
    print(f"{_peak_kb()} {seconds:.3f}")


def measure(mode: str, db: Path, out: Path) -> tuple[int, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.trail_memory", "--child", mode, str(db), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    kb, seconds = result.stdout.split()
    return int(kb), float(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records in the hour")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "audit.sqlite3"
        seed(db, args.records)
        runs = {m: measure(m, db, Path(folder) / f"{m}.parquet") for m in ("idle", "whole", "streamed")}
        digests = {
            m: hashlib.sha256((Path(folder) / f"{m}.parquet").read_bytes()).hexdigest()
            for m in runs
            if m != "idle"
        }
        size = (Path(folder) / "streamed.parquet").stat().st_size
    idle, whole, streamed = (runs[m][0] / 1024 for m in ("idle", "whole", "streamed"))
    n = args.records
    print(f"one hour of {n} records, peak RSS of a fresh process (VmHWM):")
    above = "KB a record above idle"
    print(f"  idle (imports, store open)  {idle:8.0f} MB")
    print(f"  whole (old path)            {whole:8.0f} MB  {(whole - idle) * 1024 / n:6.2f} {above}")
    print(f"  streamed (export_part)      {streamed:8.0f} MB  {(streamed - idle) * 1024 / n:6.2f} {above}")
    print(f"  streamed / whole            {streamed / whole:8.2f}")
    print(f"  object: {size / n:.0f} bytes a record; streamed export {n / runs['streamed'][1]:.0f} records/s")
    same = digests["whole"] == digests["streamed"]
    print(f"  same bytes both ways: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
