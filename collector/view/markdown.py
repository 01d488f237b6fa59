"""The little Markdown the dashboards' text widgets use (headings, paragraphs, lists, `code`,
**bold**, links), rendered to HTML with every character of the text escaped first."""

from __future__ import annotations

import html
import re

INLINE = (
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)"), r'<a href="\2">\1</a>'),
)


def inline(text: str) -> str:
    out = html.escape(text, quote=True)
    for pattern, replacement in INLINE:
        out = pattern.sub(replacement, out)
    return out


def to_html(markdown: str) -> str:
    blocks: list[str] = []
    items: list[str] = []
    for raw in markdown.splitlines():
        line = raw.strip()
        if line.startswith(("- ", "* ")):
            items.append(f"<li>{inline(line[2:])}</li>")
            continue
        if items:
            blocks.append(f"<ul>{''.join(items)}</ul>")
            items = []
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        if heading:
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif line:
            blocks.append(f"<p>{inline(line)}</p>")
    if items:
        blocks.append(f"<ul>{''.join(items)}</ul>")
    return "".join(blocks)
