"""The named queries: one `.sql` file each under queries/, run unchanged by Athena and DuckDB.

Each file starts with two comment lines, `-- <description>` and `-- parameters: <name> ...`; the
SQL names the table `workmail_collector.audit_trail` and takes its parameters as positional `?`
(Athena's execution parameters, DuckDB's prepared parameters), in the order the second line
lists them. Queries that scan a range take `first_day last_day` ('YYYY-MM-DD', inclusive) first,
compared with the `day` partition so both engines read only those days.

Written for both dialects: no approx_*, regexp_*, date_format, element_at or from_iso8601_*; a
recipient is matched with `contains(recipients, ?)`, which Trino and DuckDB both define for arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).with_name("queries")
PARAMETERS_PREFIX = "-- parameters:"


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str  # the whole file, comments included (Athena's NamedQuery QueryString)
    parameters: tuple[str, ...]


class QueryFileError(ValueError):
    """A query file that breaks the two-comment-line convention (a defect of this package)."""


def parse(name: str, text: str) -> NamedQuery:
    lines = text.splitlines()
    if len(lines) < 3 or not lines[0].startswith("-- ") or not lines[1].startswith(PARAMETERS_PREFIX):
        raise QueryFileError(f"{name}.sql must start with '-- <description>' and '{PARAMETERS_PREFIX} ...'")
    parameters = tuple(lines[1][len(PARAMETERS_PREFIX) :].split())
    body = "\n".join(lines[2:])
    if body.count("?") != len(parameters):
        raise QueryFileError(f"{name}.sql has {body.count('?')} '?' for {len(parameters)} parameters")
    return NamedQuery(name, lines[0][3:].strip(), text, parameters)


def _load() -> dict[str, NamedQuery]:
    return {p.stem: parse(p.stem, p.read_text(encoding="utf-8")) for p in sorted(FOLDER.glob("*.sql"))}


NAMED_QUERIES: dict[str, NamedQuery] = _load()
