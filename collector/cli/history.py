"""`audit list` and `audit query` over the hot window and the trail: `--trail DIR` (offline) or
`--athena WORKGROUP` (deployed, in `--athena-database NAME`), and `--hot-days N`."""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.cli.common import UserError, at_least
from collector.clock import utc_now
from collector.history import (
    GLUE_DATABASE_NAME,
    HOT_DAYS,
    AthenaTrail,
    DuckDbTrail,
    HistoryStore,
    TrailReader,
    hot_window_start,
)
from collector.store import AuditStore

MAX_HOT_DAYS = 36500


def add_trail_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trail",
        help="an exported trail folder (workmail-collector export --out DIR): days before the hot "
        "window are read from it, with DuckDB; the store answers for the hot window",
    )
    p.add_argument(
        "--athena",
        metavar="WORKGROUP",
        help="the deployed trail: days before the hot window are read with Athena in this workgroup "
        "(the trail's, which keeps the results and caps the bytes a query scans)",
    )
    p.add_argument(
        "--athena-database",
        metavar="NAME",
        help="with --athena: the stack's Glue database, its trailDatabase (default workmail_collector)",
    )
    p.add_argument(
        "--hot-days",
        type=at_least(1, most=MAX_HOT_DAYS),
        default=HOT_DAYS,
        help=f"with --trail or --athena: the days the store answers for, today included (default {HOT_DAYS})",
    )


def check_trail(args: argparse.Namespace) -> None:
    """Before any I/O: the folder exists, and DuckDB and pyarrow are installed."""
    trail = getattr(args, "trail", None)
    if trail is not None and getattr(args, "athena", None) is not None:
        raise UserError("--trail and --athena name two trails: give one")
    database = getattr(args, "athena_database", None)
    if database is not None:
        if getattr(args, "athena", None) is None:
            raise UserError("--athena-database names the database --athena WORKGROUP reads: give both")
        if not GLUE_DATABASE_NAME.fullmatch(database):
            raise UserError(
                f"--athena-database {database!r}: a Glue database name is lowercase letters, digits "
                "and '_', at most 255 (the stack's trailDatabase)"
            )
    if trail is None:
        return
    if not Path(trail).is_dir():
        raise UserError(f"--trail {trail}: no such folder")
    try:
        import collector.trail.duck  # noqa: F401
    except ImportError as error:
        from collector.cli.trail_extra import missing_extra

        raise (missing_extra(error, "--trail") or error) from None


def with_trail(store: AuditStore, args: argparse.Namespace) -> AuditStore:
    """The store itself, or with --trail the store for the hot window and the trail before it."""
    folder, workgroup = getattr(args, "trail", None), getattr(args, "athena", None)
    trail: TrailReader
    if folder is not None:
        trail = DuckDbTrail(Path(folder))
    elif workgroup is not None:
        trail = AthenaTrail(workgroup, database=getattr(args, "athena_database", None))
    else:
        return store
    return HistoryStore(store, trail, hot_window_start(utc_now(), args.hot_days))
