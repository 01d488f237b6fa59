"""Replay's input, as properties: any stream of JSON values reads as the events it holds.

Hypothesis joins real events in every layout a writer uses (JSON Lines, pretty-printed, one-line
and pretty arrays: what `jq -c`, `jq .`, `cat a.json b.json` write), with byte-order marks where
files were joined, damaged values among them (a byte that is not UTF-8, a control character, lost
quotes, a cut line, an array item whose closing bracket was lost), and the collector's own EMF
documents; the stream is read in pieces of any size. Every good value comes out once, in order;
every damaged one is one Undecodable holding its text whole; no byte is reported read twice; EMF
documents are skipped and counted by origin. And a folder holds exactly its .json and .jsonl files
outside hidden, environment and package metadata folders and folders packages were installed
into; a named file is taken when it holds JSON and refused when it is Markdown.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.cli.inputs import read_events
from collector.cli.jsonstream import read_values
from collector.clock import utc_now
from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Direction, Invocation, Outcome, Status, Undecodable
from collector.progress import Progress
from tests.reliability.test_fuzz import BASES, FUZZ

EVENTS = [dict(event, subject="Hello") for event in BASES]  # "Hello": where damage goes
BOM = b"\xef\xbb\xbf"
DAMAGE = (b'"H\xe9llo"', b'"Hel\x01lo"', b"Hello")  # not UTF-8, a control character, lost quotes


@dataclass(frozen=True)
class Segment:
    """Bytes of the input, and what reading them gives: events, or ("bad", text) for a region."""

    data: bytes
    expected: tuple[Any, ...]


def shown(data: bytes) -> tuple[str, str]:
    return ("bad", data.decode("utf-8", "backslashreplace"))


def layout(events: list[dict[str, Any]], how: str) -> bytes:
    if how == "line":
        return b"\n".join(orjson.dumps(e) for e in events)
    if how == "pretty":
        return b"\n".join(json.dumps(e, indent=2).encode() for e in events)
    if how == "array":
        return orjson.dumps(events)
    return json.dumps(events, indent=2).encode()


@st.composite
def good(draw: st.DrawFn) -> Segment:
    events = draw(st.lists(st.sampled_from(EVENTS), min_size=1, max_size=3))
    how = draw(st.sampled_from(["line", "pretty", "array", "pretty-array"]))
    return Segment(layout(events, how), tuple(events))


@st.composite
def damaged(draw: st.DrawFn) -> Segment:
    """One damaged event, alone (compact or pretty) or as an item of an array among good ones."""
    event = draw(st.sampled_from(EVENTS))
    how = draw(st.sampled_from(["line", "pretty", "array", "pretty-array", "cut", "unclosed"]))
    if how == "unclosed":  # a pretty-printed array item whose closing `}` line was lost
        return unclosed_item(draw, event)
    if how == "cut":  # a line a crashed writer left: any prefix of an event is no JSON
        whole = orjson.dumps(event)
        cut = whole[: draw(st.integers(1, len(whole) - 1))]
        return Segment(cut, (shown(cut),))
    damage = draw(st.sampled_from(DAMAGE))
    if how in ("line", "pretty"):
        bad = layout([event], how).replace(b'"Hello"', damage)
        return Segment(bad, (shown(bad),))
    before = draw(st.lists(st.sampled_from(EVENTS), max_size=2))
    after = draw(st.lists(st.sampled_from(EVENTS), max_size=2))
    marked = dict(event, subject="\u2603 damaged here")  # where the damaged item is in the text
    text = layout([*before, marked, *after], how)
    item = layout([marked], "array" if how == "array" else "pretty-array")
    item = item[1:-1].strip(b"\n") if how == "array" else item[2:-2]
    bad_item = item.replace(json.dumps("\u2603 damaged here").encode(), damage)
    bad_item = bad_item.replace(orjson.dumps("\u2603 damaged here"), damage)
    text = text.replace(item, bad_item, 1)
    # A first item that is bad keeps the array's `[` with it: nothing of the input is dropped.
    region = text[: text.index(bad_item) + len(bad_item)] if not before else bad_item
    return Segment(text, (*before, shown(region.strip()), *after))


def unclosed_item(draw: st.DrawFn, event: dict[str, Any]) -> Segment:
    """Its brackets never close, so its region ends where the next item (or the `]`) starts: the
    items after it are still items, and the `]` still closes the array."""
    before = draw(st.lists(st.sampled_from(EVENTS), max_size=2))
    after = draw(st.lists(st.sampled_from(EVENTS), max_size=2))
    lines = json.dumps([*before, event, *after], indent=2).encode().split(b"\n")
    item_ends = [n for n, line in enumerate(lines) if line in (b"  },", b"  }")]
    lost = item_ends[len(before)]
    start = item_ends[len(before) - 1] + 1 if before else 0  # a first item keeps the `[`
    region = b"\n".join(lines[start:lost]).strip()
    return Segment(b"\n".join(lines[:lost] + lines[lost + 1 :]), (*before, shown(region), *after))


separators = st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\n \n", b"\n" + BOM, b"\r\n" + BOM])


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[Any]]:
    segments = draw(st.lists(st.one_of(good(), good(), damaged()), min_size=1, max_size=6))
    data = draw(st.sampled_from([b"", BOM]))
    expected: list[Any] = []
    for n, segment in enumerate(segments):
        data += (draw(separators) if n else b"") + segment.data
        expected += segment.expected
    return data + draw(st.sampled_from([b"", b"\n"])), expected


class Trickle(io.BytesIO):
    """A pipe that hands over at most `size` bytes per read: values cross every chunk boundary."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size = size

    def read1(self, size: int | None = -1) -> bytes:
        return super().read1(min(self.size, size if size is not None and size > 0 else self.size))


def normal(value: Any) -> Any:
    return shown(value.text.encode("utf-8", "surrogateescape")) if isinstance(value, Undecodable) else value


@settings(FUZZ, max_examples=300)
@given(streams(), st.integers(min_value=1, max_value=300))
def test_a_stream_of_values_reads_as_its_events_and_damage_as_whole_regions(
    stream: tuple[bytes, list[Any]], piece: int
) -> None:
    data, expected = stream
    advanced: list[int] = []
    read = [normal(v) for v in read_values(Trickle(data, piece), "input", advanced.append)]
    assert read == expected
    assert sum(advanced) == len(data)


def emf_document(event: dict[str, Any], namespace: str) -> bytes:
    lines: list[str] = []
    writer = EmfWriter(namespace, "replay", lines.append)
    outcome = Outcome(Status.RECORDED, event["invocationId"], Direction.INBOUND, recipient_count=1)
    document = writer.document(outcome, Invocation("r", "1", utc_now()))
    return orjson.dumps(document)


@settings(FUZZ, max_examples=60)
@given(st.lists(st.tuples(st.sampled_from(EVENTS), st.booleans()), min_size=1, max_size=8))
def test_the_collectors_own_emf_documents_are_skipped_and_counted(
    mix: list[tuple[dict[str, Any], bool]],
) -> None:
    namespace = Settings().namespace
    data = b"\n".join(emf_document(e, namespace) if emf else orjson.dumps(e) for e, emf in mix)
    skipped: Counter[str] = Counter()
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    progress = Progress(io.StringIO(), enabled=False)
    events = [value for value, _ in read_events(["-"], progress, stdin, namespace, skipped)]
    assert events == [e for e, emf in mix if not emf]
    assert skipped == +Counter({"stdin": sum(emf for _, emf in mix)})


NAMES = st.sampled_from(["a", "b", "day", "events", "env", "lib", "x.y"])
ENVIRONMENTS = ("node_modules", "__pycache__", "site-packages")
METADATA = ("x.egg-info", "y-1.0.dist-info")  # skipped themselves, never the folders beside them
SKIPPED = st.sampled_from([".git", ".venv", ".cache", *ENVIRONMENTS, *METADATA])


@st.composite
def trees(draw: st.DrawFn) -> list[tuple[tuple[str, ...], str, bool]]:
    """Files as (folders, name, replayed?): JSON files anywhere, some under hidden or environment
    folders (or a virtualenv of any name), some with other suffixes or hidden themselves."""
    files = []
    for _ in range(draw(st.integers(1, 8))):
        folders = tuple(draw(st.lists(st.one_of(NAMES, SKIPPED), max_size=3)))
        name = draw(NAMES) + draw(st.sampled_from([".json", ".jsonl", ".md", ".txt", ".json.bak"]))
        if draw(st.integers(0, 4)) == 0:
            name = "." + name  # a hidden file
        hidden = any(f.startswith(".") or f in ENVIRONMENTS or f in METADATA for f in folders)
        replayed = not hidden and not name.startswith(".") and Path(name).suffix in (".json", ".jsonl")
        files.append((folders, name, replayed))
    return files


@settings(FUZZ, max_examples=60)
@given(trees(), st.booleans(), st.booleans())
def test_a_folder_replays_its_json_files_outside_hidden_and_environment_folders(
    files: list[tuple[tuple[str, ...], str, bool]], with_venv: bool, with_asset: bool
) -> None:
    from collector.cli.inputs import _files

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "checkout"
        venv = root / "myenv"
        expected = set()
        for folders, name, replayed in files:
            folder = root.joinpath(*folders)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(orjson.dumps(EVENTS[0]))
            if replayed:
                expected.add(folder / name)
        if with_venv:  # a virtualenv under any name: its pyvenv.cfg says what it is
            (venv / "lib").mkdir(parents=True, exist_ok=True)
            (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
            (venv / "lib" / "package.json").write_text("{}")
        if with_asset:  # pip install --target: a *.dist-info beside its package
            asset = root / "build" / "asset"
            (asset / "pkg-1.0.dist-info").mkdir(parents=True)
            (asset / "pkg").mkdir()
            (asset / "pkg" / "__init__.py").write_text("")
            (asset / "pkg" / "data.json").write_text("{}")
        found = _files([str(root)])
        assert set(found) == expected and found == sorted(found)


MARKDOWN_STARTS = st.sampled_from(
    ["[![CI](https://x/badge.svg)](https://x)", "[link](x)", "[ ] todo", "[TOC]", "{% raw %}"]
)


@settings(FUZZ, max_examples=60)
@given(streams(), MARKDOWN_STARTS, st.text(max_size=200))
def test_a_named_file_is_taken_when_it_is_json_and_refused_when_it_is_markdown(
    stream: tuple[bytes, list[Any]], markdown: str, rest: str
) -> None:
    """Any stream of values, damaged first or not, is taken; Markdown opening with `[` or `{` (a
    badge, a link, a task, a Jekyll tag) is refused before anything is recorded."""
    from collector.cli.inputs import _holds_json

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "input"
        path.write_bytes(stream[0])
        assert _holds_json(path)
        path.write_text(markdown + rest, encoding="utf-8", errors="surrogateescape")
        assert not _holds_json(path)
