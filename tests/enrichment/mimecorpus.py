"""Test messages: built with the stdlib email package, plus hand-written raw MIME, plus a stdlib oracle.

Each `Case` carries the raw bytes and the summary fields a reader can check by eye. The oracle
re-derives structure with the stdlib's full (in-memory) parser, to cross-check the streaming one.
"""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from typing import Any

AUTH_PASS = (
    "mx.example.net; spf=pass (domain of example.com designates 192.0.2.1 as permitted sender)"
    " smtp.mailfrom=alice@example.com; dkim=pass header.i=@example.com header.s=s1;"
    " dmarc=pass (p=REJECT sp=REJECT) header.from=example.com"
)


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    expected: dict[str, Any]  # MessageSummary field -> value


def _base(subject: str | None = "Quarterly report", auth: str | None = AUTH_PASS) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Alice <alice@example.com>"
    message["To"] = "bob@example.org, carol@example.org"
    if subject is not None:
        message["Subject"] = subject
    message["Message-ID"] = "<20240501.1234@example.com>"
    message["Date"] = "Wed, 01 May 2024 10:00:00 +0000"
    if auth is not None:
        message["Authentication-Results"] = auth
    return message


def mixed_with_attachments() -> Case:
    message = _base()
    message.set_content("Hello Bob,\n\nthe report is attached.\n")
    message.add_alternative("<p>Hello Bob,</p><p>the report is attached.</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.7\n" + bytes(range(256)) * 40, maintype="application", subtype="pdf", filename="report.pdf"
    )
    message.add_attachment("a,b\n1,2\n", subtype="csv", filename="numbers.csv")
    message.add_attachment(
        b"\x89PNG\r\n\x1a\n" + b"\0" * 500,
        maintype="image",
        subtype="png",
        filename="chart.png",
        disposition="inline",
    )
    return Case(
        "mixed",
        message.as_bytes(policy=policy.SMTP),
        {
            "content_type": "multipart/mixed",
            "message_id_header": "<20240501.1234@example.com>",
            "subject": "Quarterly report",
            "part_count": 5,
            "attachment_count": 3,
            "attachment_types": ("application/pdf", "text/csv", "image/png"),
            "spf": "pass",
            "dkim": "pass",
            "dmarc": "pass",
            "is_bounce": False,
        },
    )


def nested() -> Case:
    """mixed[alternative[text, related[html, cid image]], zip, forwarded message with its own attachment]."""
    forwarded = _base(subject="Original", auth=None)
    forwarded.set_content("the original")
    forwarded.add_attachment(b"inner", maintype="application", subtype="octet-stream", filename="inner.bin")

    related = EmailMessage()
    related.set_content("<p>see <img src='cid:logo'></p>", subtype="html")
    related.add_related(b"GIF89a" + b"\0" * 100, maintype="image", subtype="gif", cid="<logo>")

    alternative = EmailMessage()
    alternative.set_content("see the logo")
    alternative.make_alternative()
    alternative.attach(related)

    message = _base(subject="Nested")
    message.make_mixed()
    message.attach(alternative)
    message.add_attachment(
        b"PK\x03\x04" + b"\0" * 300, maintype="application", subtype="zip", filename="bundle.zip"
    )
    message.add_attachment(forwarded)  # message/rfc822: one attachment, not descended into
    return Case(
        "nested",
        message.as_bytes(),
        {
            "content_type": "multipart/mixed",
            "subject": "Nested",
            "part_count": 5,  # text, html, gif, zip, message/rfc822
            "attachment_count": 2,
            "attachment_types": ("application/zip", "message/rfc822"),
        },
    )


def encoded_headers() -> Case:
    message = _base(subject="Grüße aus Köln — 東京 €", auth=None)
    message.set_content("Grüße\n", charset="utf-8")
    message.add_attachment(
        b"x" * 100, maintype="application", subtype="pdf", filename="Übersicht €.pdf"
    )  # RFC 2231 encoded filename
    raw = message.as_bytes(policy=policy.SMTP)
    assert b"=?utf-8?" in raw  # the subject really went out RFC 2047 encoded
    return Case(
        "encoded",
        raw,
        {
            "subject": "Grüße aus Köln — 東京 €",
            "part_count": 2,
            "attachment_count": 1,
            "attachment_types": ("application/pdf",),
            "spf": None,
            "dkim": None,
            "dmarc": None,
        },
    )


def no_subject() -> Case:
    message = _base(subject=None, auth=None)
    message.set_content("no subject here")
    return Case(
        "no-subject",
        message.as_bytes(),
        {
            "subject": None,
            "content_type": "text/plain",
            "part_count": 1,
            "attachment_count": 0,
            "attachment_types": (),
        },
    )


BOUNCE = b"""\
Return-Path: <>\r
Authentication-Results: mx.example.com; spf=none smtp.helo=mail.example.org; dkim=none; dmarc=none\r
From: Mail Delivery Subsystem <MAILER-DAEMON@example.org>\r
To: alice@example.com\r
Subject: Undelivered Mail Returned to Sender\r
Message-ID:\r
 <bounce.42@example.org>\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status;\r
\tboundary="=_dsn_boundary"\r
\r
This is a MIME-encapsulated message.\r
\r
--=_dsn_boundary\r
Content-Type: text/plain; charset=us-ascii\r
\r
Your message could not be delivered to bob@example.org.\r
-- \r
The mail system\r
--=_dsn_boundary\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mail.example.org\r
\r
Final-Recipient: rfc822; bob@example.org\r
Action: failed\r
Status: 5.1.1\r
--=_dsn_boundary\r
Content-Type: message/rfc822\r
Content-Description: Undelivered Message\r
\r
From: alice@example.com\r
Subject: Quarterly report\r
Content-Type: multipart/mixed; boundary="inner"\r
\r
--inner\r
Content-Type: application/pdf; name="report.pdf"\r
\r
JVBERi0xLjcK\r
--inner--\r
\r
--=_dsn_boundary--\r
"""


def bounce() -> Case:
    return Case(
        "bounce",
        BOUNCE,
        {
            "content_type": "multipart/report",
            "message_id_header": "<bounce.42@example.org>",
            "subject": "Undelivered Mail Returned to Sender",
            "part_count": 3,
            "attachment_count": 1,
            "attachment_types": ("message/rfc822",),
            "spf": "none",
            "dkim": "none",
            "dmarc": "none",
            "is_bounce": True,
        },
    )


def read_receipt() -> Case:
    raw = BOUNCE.replace(b"report-type=delivery-status", b"report-type=disposition-notification")
    return Case("mdn", raw, {"content_type": "multipart/report", "is_bounce": False})


# LF line ends; a quoted boundary with ':' and spaces; preamble; transport padding; a part
# without headers; a line that only looks like a delimiter; no closing delimiter, no final LF.
LF_QUOTED = b"""\
From: a@example.com
Subject: =?iso-8859-1?q?caf=E9?= =?utf-8?b?4pyT?=
Message-ID:    <lf@example.com>\x20\x20\x20
Content-Type: multipart/mixed;
  boundary="outer: b"

preamble --outer: b is not at the start of this line
--outer: b
Content-Type: text/plain

hello
--outer: bx
--not-the-boundary
--outer: b\x20\t\x20
Content-Type: application/octet-stream; name="blob.bin"
Content-Transfer-Encoding: base64

AAAA
--outer: b

implicit text/plain, no headers
--outer: b
Content-Disposition: inline

inline, but no filename
--outer: b
Content-Type: image/jpeg
Content-Disposition: inline; filename="photo.jpg"

/9j/"""


def lf_quoted() -> Case:
    return Case(
        "lf-quoted",
        LF_QUOTED,
        {
            "subject": "café✓",
            "message_id_header": "<lf@example.com>",
            "part_count": 5,
            "attachment_count": 2,
            "attachment_types": ("application/octet-stream", "image/jpeg"),
            "spf": None,
        },
    )


# An inner multipart whose closing delimiter is missing is closed by the outer delimiter; the
# epilogue holds what looks like a part; a digest's children default to message/rfc822.
UNCLOSED = b"""\
Subject: unclosed\r
Content-Type: multipart/mixed; boundary=A\r
\r
--A\r
Content-Type: multipart/alternative; boundary=B\r
\r
--B\r
Content-Type: text/plain\r
\r
x\r
--B\r
Content-Type: text/html\r
\r
<p>x</p>\r
--A\r
Content-Type: multipart/digest; boundary="D"\r
\r
--D\r
\r
From: one@example.com\r
Subject: first\r
\r
first\r
--D\r
Content-Type: text/plain\r
\r
not a message\r
--D--\r
--A\r
Content-Type: image/png\r
Content-Disposition: attachment; filename="a.png"\r
\r
iVBORw0KGgo=\r
--A--\r
epilogue\r
--A\r
Content-Type: application/pdf; name=x.pdf\r
\r
not counted: after the closing delimiter\r
"""


def unclosed() -> Case:
    return Case(
        "unclosed",
        UNCLOSED,
        {
            "subject": "unclosed",
            "part_count": 5,  # text, html, digest message, digest text, png
            "attachment_count": 2,
            "attachment_types": ("message/rfc822", "image/png"),
        },
    )


def headers_only() -> Case:
    raw = b"Subject: only headers\r\nMessage-ID: <h@example.com>\r\nAuthentication-Results: x; spf=fail"
    return Case("headers-only", raw, {"subject": "only headers", "part_count": 1, "spf": "fail"})


def all_cases() -> list[Case]:
    return [
        mixed_with_attachments(),
        nested(),
        encoded_headers(),
        no_subject(),
        bounce(),
        read_receipt(),
        lf_quoted(),
        unclosed(),
        headers_only(),
    ]


# -- a large message, produced lazily --------------------------------------------------------------

_LARGE_HEAD = (
    b"From: alice@example.com\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: big one\r\n"
    b"Message-ID: <big@example.com>\r\n"
    b"Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.com; dkim=pass\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="big-boundary"\r\n'
    b"\r\n"
    b"--big-boundary\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"A large attachment follows.\r\n"
    b"--big-boundary\r\n"
    b'Content-Type: application/pdf; name="huge.pdf"\r\n'
    b'Content-Disposition: attachment; filename="huge.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
)
_LARGE_TAIL = (
    b"--big-boundary\r\n"
    b'Content-Type: video/mp4; name="clip.mp4"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAAAIGZ0eXBpc29t\r\n"
    b"--big-boundary--\r\n"
)
_B64_LINE = b"JVBERi0xLjcKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k\r\n"


def large_message(min_bytes: int, piece: int = 64 * 1024) -> tuple[Callable[[], Iterator[bytes]], int]:
    """A multipart message of at least `min_bytes`, as a chunk factory and its exact length."""
    lines = -(-(min_bytes - len(_LARGE_HEAD) - len(_LARGE_TAIL)) // len(_B64_LINE))
    total = len(_LARGE_HEAD) + lines * len(_B64_LINE) + len(_LARGE_TAIL)
    per_piece = max(1, piece // len(_B64_LINE))

    def chunks() -> Iterator[bytes]:
        yield _LARGE_HEAD
        left = lines
        while left:
            n = min(per_piece, left)
            yield _B64_LINE * n
            left -= n
        yield _LARGE_TAIL

    return chunks, total


LARGE_EXPECTED: dict[str, Any] = {
    "subject": "big one",
    "message_id_header": "<big@example.com>",
    "part_count": 3,
    "attachment_count": 2,
    "attachment_types": ("application/pdf", "video/mp4"),
    "spf": "pass",
    "dkim": "pass",
    "dmarc": None,
}


# -- the stdlib oracle -----------------------------------------------------------------------------


def oracle(raw: bytes) -> dict[str, Any]:
    """Structure as the stdlib's in-memory parser sees it, under the summariser's documented rules."""
    message = email.message_from_bytes(raw, policy=policy.default)
    leaves: list[Message] = []

    def visit(part: Message) -> None:
        payload = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(payload, list):
            for sub in payload:
                assert isinstance(sub, Message)
                visit(sub)
        else:
            leaves.append(part)  # message/rfc822 included: not descended into

    visit(message)
    types = [p.get_content_type() for p in leaves if _oracle_is_attachment(p)]
    subject = message["subject"]
    return {
        "content_type": message.get_content_type(),
        "subject": None if subject is None else str(subject),
        "part_count": len(leaves),
        "attachment_count": len(types),
        "attachment_types": tuple(types),
    }


def _oracle_is_attachment(part: Message) -> bool:
    content_type = part.get_content_type()
    if content_type in ("message/rfc822", "message/global"):
        return True
    disposition = part.get_content_disposition()
    filename = part.get_filename()
    if disposition == "attachment":
        return True
    if disposition == "inline":
        return filename is not None
    return filename is not None and part.get_content_maintype() not in ("text", "multipart")
