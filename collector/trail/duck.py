"""SQL over an exported trail, offline: DuckDB with the view `workmail_collector.audit_trail`.

The view reads every `day=YYYY-MM-DD/*.parquet` under the folder with Hive partitioning, `day`
kept as VARCHAR (DuckDB would make it a DATE; Glue's partition is a string), so the named
queries compare it with text parameters as Athena does. A folder with no files yet gives an
empty view with the table's columns, so every query still runs (and returns no rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from collector.trail.queries import NAMED_QUERIES
from collector.trail.schema import COLUMNS, DATABASE, PARTITION, QUALIFIED_TABLE

DUCK_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "boolean": "BOOLEAN", "timestamp": "TIMESTAMP"}


@dataclass(frozen=True)
class Result:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def duck_type(glue_type: str) -> str:
    if glue_type.startswith("array<") and glue_type.endswith(">"):
        return DUCK_TYPES[glue_type[6:-1]] + "[]"
    return DUCK_TYPES[glue_type]


def files(trail: Path) -> list[Path]:
    """The trail's Parquet objects, in a fixed order."""
    return sorted(trail.glob(f"{PARTITION}=*/*.parquet"))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(trail: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose `workmail_collector.audit_trail` is the folder's files."""
    con = duckdb.connect(":memory:")
    con.execute(f"CREATE SCHEMA {DATABASE}")
    found = files(trail)
    if found:
        # An explicit list, not a glob: the folder's own name may hold glob characters.
        listing = ", ".join(_literal(str(p)) for p in found)
        source = (
            f"SELECT * FROM read_parquet([{listing}], hive_partitioning = true,"
            f" hive_types = {{'{PARTITION}': 'VARCHAR'}})"
        )
    else:
        typed = ", ".join(f"CAST(NULL AS {duck_type(c.glue_type)}) AS {c.name}" for c in COLUMNS)
        source = f"SELECT {typed}, CAST(NULL AS VARCHAR) AS {PARTITION} WHERE false"
    con.execute(f"CREATE VIEW {QUALIFIED_TABLE} AS {source}")
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[object] = ()) -> Result:
    cursor = con.execute(sql, list(parameters)) if parameters else con.execute(sql)
    columns = tuple(d[0] for d in cursor.description or ())
    return Result(columns, cursor.fetchall())


def run_named(con: duckdb.DuckDBPyConnection, name: str, parameters: Sequence[object]) -> Result:
    query = NAMED_QUERIES[name]
    if len(parameters) != len(query.parameters):
        raise ValueError(f"{name} takes {len(query.parameters)} parameters, not {len(parameters)}")
    return run(con, query.sql, parameters)
