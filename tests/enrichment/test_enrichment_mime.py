"""The streaming summariser: fixtures, hand-written MIME, the stdlib as oracle, chunking, memory."""

from __future__ import annotations

import asyncio
import itertools
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.enrichment.mime import (
    MAX_HEADER_BLOCK,
    MessageSummary,
    MimeSummarizer,
    parse_authentication_results,
    summarize_bytes,
    summarize_chunks,
    summarize_stream,
)
from tests.enrichment.mimecorpus import LARGE_EXPECTED, Case, all_cases, large_message, oracle

CASES = all_cases()


def check(summary: MessageSummary, case: Case) -> None:
    fields = asdict(summary)
    assert {k: fields[k] for k in case.expected} == case.expected
    assert summary.size_bytes == len(case.raw)


def split(raw: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({0, len(raw), *cuts})
    return [raw[a:b] for a, b in itertools.pairwise(points)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fixture_summary(case: Case) -> None:
    check(summarize_bytes(case.raw), case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_agrees_with_the_stdlib_parser(case: Case) -> None:
    fields = asdict(summarize_bytes(case.raw))
    expected = oracle(case.raw)
    assert {k: fields[k] for k in expected} == expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_byte_at_a_time(case: Case) -> None:
    summary = summarize_chunks(case.raw[i : i + 1] for i in range(len(case.raw)))
    assert summary == summarize_bytes(case.raw)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_crlf_and_lf_agree(case: Case) -> None:
    """Same message, other line ends: only the size differs."""
    lf = case.raw.replace(b"\r\n", b"\n")
    crlf = lf.replace(b"\n", b"\r\n")
    a, b = summarize_bytes(lf), summarize_bytes(crlf)
    assert (a.size_bytes, b.size_bytes) == (len(lf), len(crlf))
    assert asdict(a) | {"size_bytes": 0} == asdict(b) | {"size_bytes": 0}


def test_async_stream_entry_point() -> None:
    case = CASES[0]

    async def chunks() -> AsyncIterator[bytes]:
        for piece in split(case.raw, range(0, len(case.raw), 777)):
            yield piece

    check(asyncio.run(summarize_stream(chunks())), case)


def test_empty_message() -> None:
    summary = summarize_bytes(b"")
    assert (summary.size_bytes, summary.part_count, summary.subject, summary.content_type) == (
        0,
        1,
        None,
        "text/plain",
    )


def test_raw_utf8_subject_and_message_id_whitespace() -> None:
    raw = "Subject: Grüße, naïve café\r\nMessage-ID: \t <x@y>  \r\n\r\nbody\r\n".encode()
    summary = summarize_bytes(raw)
    assert summary.subject == "Grüße, naïve café"
    assert summary.message_id_header == "<x@y>"


def test_folded_encoded_subject_across_a_chunk_boundary() -> None:
    raw = (
        b"Subject: =?UTF-8?Q?Ein_sehr_langer_Betreff_mit_Umlauten_=C3=A4=C3=B6=C3=BC?=\r\n"
        b" =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\n\r\nx"
    )
    expected = "Ein sehr langer Betreff mit Umlauten äöü\u30c6\u30b9\u30c8"
    for cut in range(len(raw)):
        assert summarize_chunks([raw[:cut], raw[cut:]]).subject == expected


def test_oversized_header_block_is_cut_and_flagged() -> None:
    filler = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 990) for i in range(400))
    assert len(filler) > MAX_HEADER_BLOCK
    raw = (
        b"Subject: early\r\n" + filler + b"Message-ID: <late@x>\r\n"
        b"Content-Type: multipart/mixed; boundary=z\r\n\r\n"
        b"--z\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\nJVBE\r\n--z--\r\n"
    )
    summary = summarize_bytes(raw)
    assert summary.headers_truncated
    assert summary.subject == "early"
    assert summary.message_id_header is None  # past the cap: dropped, never half-parsed
    assert summary.content_type == "text/plain"
    assert summary.size_bytes == len(raw)


def test_long_body_line_starting_with_dash_is_not_a_delimiter() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n"
        + b"--q"
        + b" " * 10_000
        + b"\r\n"  # padding longer than any delimiter line we keep
        + b"--q\r\nContent-Type: image/gif; name=a.gif\r\n\r\nR0lG\r\n--q--\r\n"
    )
    summary = summarize_bytes(raw)
    assert (summary.part_count, summary.attachment_types) == (2, ("image/gif",))


def test_deep_nesting_is_bounded() -> None:
    depth = 40
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth)
    )
    raw = b"Subject: deep\r\n" + head + b"Content-Type: image/png; name=p.png\r\n\r\nx\r\n"
    summary = summarize_bytes(raw)
    assert summary.part_count == 1  # the multipart at MAX_DEPTH is an opaque leaf
    assert summary.size_bytes == len(raw)


def test_feed_after_finish_is_refused() -> None:
    summarizer = MimeSummarizer()
    summarizer.feed(b"Subject: x\r\n\r\n")
    first = summarizer.finish()
    assert summarizer.finish() == first
    with pytest.raises(RuntimeError):
        summarizer.feed(b"more")


def test_summary_item_is_plain_json() -> None:
    item = summarize_bytes(CASES[0].raw).to_item()
    assert item["attachmentTypes"] == ["application/pdf", "text/csv", "image/png"]
    assert item["sizeBytes"] == len(CASES[0].raw)
    assert item["isBounce"] is False


# -- Authentication-Results -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (None, None, None)),
        ("mx.example.com; none", (None, None, None)),
        (
            "mx.example.com 1; SPF=Pass smtp.mailfrom=a.com; DKIM=Fail; DMARC=PermError",
            ("pass", "fail", "permerror"),
        ),
        ("mx; dkim=fail header.d=a; dkim=pass header.d=b; dkim=neutral", (None, "pass", None)),
        ("mx; dkim=temperror header.d=a; dkim=fail header.d=b", (None, "temperror", None)),
        ("mx; spf=softfail; spf=pass", ("softfail", None, None)),
        ("mx; spf=hardfail smtp.mailfrom=x", ("fail", None, None)),
        ("mx; dkim=policy header.d=a; dmarc=bestguesspass", (None, None, None)),
        # comments and quoted strings may hold ';' and fake results
        (
            'mx (dkim=pass; spf=pass); spf=fail (dmarc=pass; x) smtp.mailfrom="a;dkim=pass"; dmarc=fail',
            ("fail", None, "fail"),
        ),
        ("mx; dkim/1=pass header.d=a", (None, "pass", None)),
        ("mx spf=neutral", ("neutral", None, None)),  # a missing ';' after the authserv-id
        ("mx; spf = none", ("none", None, None)),
    ],
)
def test_authentication_results(value: str | None, expected: tuple[str | None, ...]) -> None:
    verdicts = parse_authentication_results(value)
    assert (verdicts["spf"], verdicts["dkim"], verdicts["dmarc"]) == expected


def test_only_the_topmost_authentication_results_header_counts() -> None:
    raw = (
        b"Authentication-Results: receiver.example; spf=fail smtp.mailfrom=a.com; dkim=none\r\n"
        b"Received: from somewhere\r\n"
        b"Authentication-Results: forged.example; spf=pass; dkim=pass; dmarc=pass\r\n"
        b"Subject: s\r\n\r\nbody"
    )
    summary = summarize_bytes(raw)
    assert (summary.spf, summary.dkim, summary.dmarc) == ("fail", "none", None)


def test_authentication_results_in_a_body_part_are_ignored() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
        b"Authentication-Results: part.example; spf=pass\r\n\r\nx\r\n--z--\r\n"
    )
    assert summarize_bytes(raw).spf is None


# -- chunking invariance and random structures ---------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_chunking_invariance(data: st.DataObject) -> None:
    case = data.draw(st.sampled_from(CASES), label="case")
    raw = case.raw
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=40), label="cuts")
    chunks = split(raw, cuts)
    if data.draw(st.booleans(), label="empty chunks"):
        chunks = [c for piece in chunks for c in (piece, b"")]
    assert summarize_chunks(chunks) == summarize_bytes(raw)


_SUBJECTS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60
)
_DISPOSITIONS = st.sampled_from([None, "attachment", "inline"])
_LEAVES = st.one_of(
    st.tuples(
        st.just("text"),
        st.sampled_from(["plain", "html", "csv"]),
        _DISPOSITIONS,
        st.sampled_from([None, "notes.txt"]),
    ),
    st.tuples(
        st.sampled_from(["application", "image", "audio"]),
        st.sampled_from(["pdf", "png", "x-thing"]),
        _DISPOSITIONS,
        st.sampled_from([None, "f.bin", "Ünï €.dat"]),
    ),
    st.tuples(st.just("message"), st.just("rfc822"), _DISPOSITIONS, st.none()),
)
_TREES = st.recursive(
    _LEAVES,
    lambda children: st.tuples(
        st.just("multipart"),
        st.sampled_from(["mixed", "alternative", "related"]),
        st.lists(children, min_size=1, max_size=4),
    ),
    max_leaves=12,
)


def _build(node: Any) -> EmailMessage:
    part = EmailMessage()
    if node[0] == "multipart":
        part["Content-Type"] = f"multipart/{node[1]}"
        for child in node[2]:
            part.attach(_build(child))
        return part
    maintype, subtype, disposition, filename = node
    kwargs: dict[str, Any] = {}
    if disposition is not None:
        kwargs["disposition"] = disposition
    if filename is not None:
        kwargs["filename"] = filename
    if maintype == "text":
        part.set_content("some text\n-- \nsig\n", subtype=subtype, **kwargs)
    elif maintype == "message":
        inner = EmailMessage()
        inner["Subject"] = "inner"
        inner.set_content("inner body")
        inner.add_attachment(b"x", maintype="application", subtype="pdf", filename="inner.pdf")
        part.set_content(inner, **kwargs)
    else:
        part.set_content(b"\0\1\2" * 50, maintype=maintype, subtype=subtype, **kwargs)
    return part


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=_TREES, subject=st.one_of(st.none(), _SUBJECTS), smtp=st.booleans(), data=st.data())
def test_random_structures_match_the_stdlib(
    tree: Any, subject: str | None, smtp: bool, data: st.DataObject
) -> None:
    message = _build(tree)
    if subject is not None:
        message["Subject"] = subject
    raw = message.as_bytes(policy=policy.SMTP if smtp else policy.default)
    summary = summarize_bytes(raw)
    fields = asdict(summary)
    expected = oracle(raw)
    assert {k: fields[k] for k in expected} == expected
    assert summary.size_bytes == len(raw)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=20), label="cuts")
    assert summarize_chunks(split(raw, cuts)) == summary


# -- memory ---------------------------------------------------------------------------------------


def test_memory_stays_flat_on_a_large_message() -> None:
    chunks, total = large_message(48 * 1024 * 1024)
    tracemalloc.start()
    try:
        summary = summarize_chunks(chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.size_bytes == total
    assert {k: asdict(summary)[k] for k in LARGE_EXPECTED} == LARGE_EXPECTED
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"


def test_memory_stays_flat_on_one_endless_line() -> None:
    """No line end at all (a broken client): nothing accumulates, in a header block or a body."""
    piece = b"x" * 65536

    def chunks(prefix: bytes) -> Iterable[bytes]:
        yield prefix
        for _ in range(200):
            yield piece

    for prefix in (b"X-Long: ", b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n-"):
        tracemalloc.start()
        try:
            summary = summarize_chunks(chunks(prefix))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert summary.size_bytes == len(prefix) + 200 * len(piece)
        assert peak < 2 * MAX_HEADER_BLOCK + 512 * 1024, f"peak {peak} bytes"
