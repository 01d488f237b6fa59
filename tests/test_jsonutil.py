"""One JSON reading for every input path (the Lambda runtime's), and writing that never raises."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import deepjson
from collector.jsonutil import JSONDecodeError, ascii_json, canonical, dumps, loads

# What the Lambda Python runtime hands the handler: the standard library's json.loads.
TRICKY = [
    '"\\ud83d"',  # a lone surrogate escape (json.dumps writes these for a lone surrogate)
    '{"subject": "a\\udc00b", "x": "\\ud83d\\ude00"}',
    "123456789012345678901234567890",
    "[-99999999999999999999999, 18446744073709551615, 18446744073709551616, -9223372036854775809]",
    '{"n": 1234567890123456789, "m": 9223372036854775807}',
    '{"id": "0123456789012345678901234"}',  # a long digit run inside a string
    "[NaN, Infinity, -Infinity, 1e400, -0, -0.0, 0.1, 1.7976931348623157e308]",
    '{"a": 1, "a": 2}',
    '["\u2028\u2029\u0085"]',
    "[" * 990 + "1" + "]" * 990,
    "[" * 1000 + "12345678901234567890" + "]" * 1000,
]


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, NaN included (NaN != NaN, but its JSON text is the same)."""
    return ascii_json(a, sort_keys=True) == ascii_json(b, sort_keys=True)


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_loads_gives_what_the_lambda_runtime_gives(text: str) -> None:
    try:
        expected = json.loads(text)
    except RecursionError:  # deeper than this Python's reader goes here: orjson's answer is exact
        expected = None
    for data in (text, text.encode("utf-8", "surrogatepass")):
        value = loads(data)
        if expected is not None:
            assert same(value, expected), data
    assert loads("[12345678901234567890123456789, 12345678901234567890123456788]") == [
        12345678901234567890123456789,
        12345678901234567890123456788,
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"\xff{}",
        b"\x00" * 80_000,
        b"[" * 100_000,
        b'{"a": "\xe9"}',
        b"",
        b"\xef\xbb\xbf{}",
        "[" * 5000 + "]" * 4999,
        "[" * 5000 + "1,]" + "]" * 4999,
        "[" * 5000 + "]" * 5000 + " x",
        b"1" * 5000,
        "[" * 5000 + "1" * 5000 + "]" * 5000,
    ],
    ids=[
        "not-utf8",
        "nul-run",
        "deep",
        "latin-1",
        "empty",
        "bom",
        "deep-unclosed",
        "deep-trailing-comma",
        "deep-extra-data",
        "5000-digit-int",
        "deep-5000-digit-int",
    ],
)
def test_loads_refuses_with_one_error_type(data: bytes | str) -> None:
    with pytest.raises(JSONDecodeError):
        loads(data)


@pytest.mark.parametrize("depth", [995, 1025, 50_000])
def test_loads_reads_any_depth(depth: int) -> None:
    """The Lambda runtime (Python 3.13) reads about 10,000 levels; replay reads them all, on any Python."""
    value = loads(
        ("[" * depth + '{"n": 123456789012345678901234567890, "s": "\\ud800"}' + "]" * depth).encode()
    )
    for _ in range(depth):
        value = value[0]
    assert value == {"n": 123456789012345678901234567890, "s": "\ud800"}


def nested(depth: int, leaf: Any = "x") -> Any:
    return functools.reduce(lambda inner, n: [inner] if n % 2 else {"k": inner, "a": 1}, range(depth), leaf)


@pytest.mark.parametrize("depth", [200, 256, 985, 1023, 1100, 5000, 50_000])
def test_writing_never_raises_at_any_depth(depth: int) -> None:
    value = nested(depth, "\ud800")
    text = ascii_json(value, sort_keys=True)
    assert canonical(value) == text.encode() and dumps(value) == ascii_json(value).encode()
    opens = ["[" if n % 2 else '{"a":1,"k":' for n in range(depth)]
    closes = ["]" if n % 2 else "}" for n in range(depth)]
    assert text == "".join(reversed(opens)) + '"\\ud800"' + "".join(closes)


def test_canonical_form_tells_integers_apart_past_64_bits() -> None:
    a, b = 123456789012345678901234567890, 123456789012345678901234567891
    assert canonical({"n": a}) != canonical({"n": b})
    assert canonical(loads(f'{{"n": {a}}}')) != canonical(loads(f'{{"n": {b}}}'))


def test_writing_a_self_referencing_value_does_not_raise() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert ascii_json(loop) == '"[[...]]"' and canonical(loop)


surrogates = st.characters(categories=["Cs"])
text = st.text(st.one_of(st.characters(), surrogates), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats()
    | text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)
EXAMPLES = settings(derandomize=True, database=None, max_examples=300, deadline=None)


@EXAMPLES
@given(values, st.booleans(), st.booleans())
def test_the_iterative_form_is_the_standard_librarys_text(value: Any, sort_keys: bool, ascii: bool) -> None:
    expected = json.dumps(value, sort_keys=sort_keys, ensure_ascii=ascii, separators=(",", ":"))
    assert deepjson.dumps(value, sort_keys=sort_keys, ensure_ascii=ascii) == expected
    written = json.dumps(value, ensure_ascii=ascii, indent=[None, 1][sort_keys])
    assert same(deepjson.raw_decode(written + " tail", 0), (json.loads(written), len(written)))


@EXAMPLES
@given(values, st.booleans())
def test_loads_agrees_with_the_standard_library_on_any_json_text(value: Any, ascii: bool) -> None:
    written = json.dumps(value, ensure_ascii=ascii)
    assert same(loads(written), json.loads(written))
    if ascii:
        assert same(loads(written.encode()), json.loads(written))


@EXAMPLES
@given(st.text(st.sampled_from('{}[],:"\\ 0123456789.eE+-tfnrulsaNIyi\u2028\x00\ud800'), max_size=40))
def test_loads_accepts_and_refuses_what_the_standard_library_does(written: str) -> None:
    try:
        expected = json.loads(written)
    except json.JSONDecodeError:
        with pytest.raises(JSONDecodeError):
            loads(written)
        with pytest.raises(json.JSONDecodeError):
            deep_loads(written)
    else:
        assert same(loads(written), expected) and same(deep_loads(written), expected)


def deep_loads(text: str) -> Any:
    """json.loads, from the iterative decoder."""
    value, end = deepjson.raw_decode(text, len(text) - len(text.lstrip(" \t\r\n")))
    if text[end:].strip(" \t\r\n"):
        raise json.JSONDecodeError("Extra data", text, end)
    return value
