"""docs/trail.md lists every column with its Glue type and every named query with its parameters."""

from __future__ import annotations

from collector.trail.queries import NAMED_QUERIES
from collector.trail.schema import COLUMNS
from tests.conftest import ROOT


def test_the_guide_lists_every_column_and_named_query() -> None:
    text = (ROOT / "docs" / "trail.md").read_text()
    missing = [c.name for c in COLUMNS if f"| `{c.name}` | `{c.glue_type}` | `{c.attribute}` |" not in text]
    missing += [
        q.name for q in NAMED_QUERIES.values() if f"| `{q.name}` | {' '.join(q.parameters)} |" not in text
    ]
    assert missing == []
