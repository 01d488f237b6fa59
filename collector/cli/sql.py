"""`sql`: a named query, or any SQL, over an exported trail with DuckDB, offline (docs/trail.md).

The same named queries the stack installs in Athena; the table is `workmail_collector.audit_trail`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.cli.common import Parser, UserError, print_table
from collector.cli.trail_extra import missing_extra
from collector.clock import iso_millis, parse_day
from collector.jsonutil import dumps
from collector.trail.queries import NAMED_QUERIES, NamedQuery

if TYPE_CHECKING:
    from collector.trail.duck import Result

FORMATS = ("table", "csv", "json")


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    p = commands.add_parser(
        "sql",
        help="run a named query (or any SQL) on an exported trail with DuckDB",
        description="Run a named query with its parameters, or --query SQL, on the Parquet files"
        " `export` wrote; the table is workmail_collector.audit_trail. --list shows the named queries.",
    )
    p.add_argument("name", nargs="?", help="a named query (see --list)")
    p.add_argument("params", nargs="*", help="its parameters, in order (days as YYYY-MM-DD)")
    p.add_argument("--trail", help="the folder `export --out` wrote")
    p.add_argument("--query", help="SQL to run instead of a named query; ? takes the parameters")
    p.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv or json (lines)")
    p.add_argument("--list", action="store_true", help="list the named queries and their parameters")


def _list() -> int:
    for query in NAMED_QUERIES.values():
        print(f"{query.name} {' '.join(query.parameters)}")
        print(f"    {query.description}")
    return 0


def _check_days(query: NamedQuery, params: Sequence[str]) -> None:
    """Exactly YYYY-MM-DD: another form `date.fromisoformat` reads (an ISO week date such as
    2026-W49-1, a basic date) would match no day partition and print nothing."""
    for name, value in zip(query.parameters, params, strict=True):
        if name.endswith("_day"):
            try:
                parse_day(value)
            except ValueError:
                raise UserError(
                    f"{query.name}: {name} must be a day written YYYY-MM-DD, got {value!r}"
                ) from None


def _statement(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The SQL to run and its parameters, every mistake refused before any file is read."""
    positional = ([args.name] if args.name is not None else []) + list(args.params)
    if args.query is not None:
        return args.query, positional
    if args.name is None:
        raise UserError("give a named query (see sql --list) or --query SQL")
    query = NAMED_QUERIES.get(args.name)
    if query is None:
        raise UserError(f"no named query {args.name!r}; known: {', '.join(NAMED_QUERIES)}")
    params = list(args.params)
    if len(params) != len(query.parameters):
        raise UserError(
            f"{query.name} takes {len(query.parameters)} parameters ({' '.join(query.parameters)}),"
            f" got {len(params)}"
        )
    _check_days(query, params)
    return query.sql, params


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_millis(value.replace(tzinfo=UTC) if value.tzinfo is None else value)
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return str(value)


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return _text(value) if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)  # DECIMAL and the like


def _print(result: Result, form: str) -> None:
    if form == "json":
        for values in result.rows:
            record = {c: _json(v) for c, v in zip(result.columns, values, strict=True)}
            sys.stdout.write(dumps(record).decode() + "\n")
        return
    rows = [[_text(v) for v in values] for values in result.rows]
    if form == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(rows)
        return
    if rows:
        print_table(result.columns, rows)
    else:
        print("  ".join(result.columns))
        print("(no rows)", file=sys.stderr)


def sql(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    statement, params = _statement(args)
    if args.trail is None:
        raise UserError("give --trail DIR, the folder `export --out DIR` wrote")
    trail = Path(args.trail)
    if not trail.is_dir():
        raise UserError(f"no trail at {trail}: write one with `workmail-collector export --out {trail}`")
    try:
        import duckdb

        from collector.trail import duck
    except ImportError as error:
        raise missing_extra(error, "sql") or error from None
    try:
        connection = duck.connect(trail)
        result = duck.run(connection, statement, params)
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"DuckDB: {first}") from None
    _print(result, args.format)
    return 0
