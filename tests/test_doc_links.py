"""Every relative link in the README and the docs leads somewhere: a file that exists, and for
`page.md#anchor` a heading of that page. The README sends readers to docs/ for most facts, so a
link that breaks when a page or heading moves hides them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.conftest import ROOT

PAGES = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")])
# A CommonMark parser with tables: links inside code spans and fenced blocks are not links.
MARKDOWN = MarkdownIt("commonmark").enable("table")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _tokens(text: str) -> Iterator[Token]:
    for token in MARKDOWN.parse(text):
        yield token
        yield from token.children or ()


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    found: set[str] = set()
    seen: Counter[str] = Counter()
    tokens = MARKDOWN.parse(page.read_text())
    for opening, inline in pairwise(tokens):
        if opening.type != "heading_open":
            continue
        text = "".join(
            child.content for child in inline.children or () if child.type in ("text", "code_inline")
        )
        base = slug(text)
        found.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def broken_links(page: Path) -> list[str]:
    """Each relative link of `page` whose file or heading does not exist, as written."""
    broken = []
    for token in _tokens(page.read_text()):
        href = token.attrGet("href") if token.type == "link_open" else token.attrGet("src")
        if not isinstance(href, str) or re.match(r"^[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
            continue  # not a link, or an absolute URL (https:, mailto:)
        path, _, anchor = href.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{href}: no such file")
        elif anchor and (target.suffix != ".md" or anchor not in anchors(target)):
            broken.append(f"{href}: no heading with that anchor in {path or page.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_checker_finds_a_missing_page_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text(
        "# Other\n\n## Reconcile: metrics against the `audit` trail\n\n## Other\n"
    )
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#reconcile-metrics-against-the-audit-trail) [repeat](other.md#other-1)"
        " [web](https://example.com/x.md) [gone](gone.md) [no heading](other.md#nowhere)"
        " [self](#page) `[in code](gone.md)`\n\n# Page\n\n```\n[in a block](gone.md)\n```\n"
    )
    assert broken_links(page) == [
        "gone.md: no such file",
        "other.md#nowhere: no heading with that anchor in other.md",
    ]
