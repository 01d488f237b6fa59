"""A streaming MIME summariser: the shape of a message without ever holding the message.

WorkMail messages can be tens of megabytes and a Lambda container has a fixed memory size, so
the raw message is read as a stream of chunks and only these are kept at any time:

* the header block being collected (the top-level one or one body part's), capped at
  `MAX_HEADER_BLOCK` bytes; header blocks are parsed with the standard library
  (`BytesHeaderParser`, `policy.default`) so RFC 2047 / RFC 2231 decoding is the stdlib's;
* a stack of open multipart boundaries (at most `MAX_DEPTH` deep);
* the start of the current line, and only when it can matter (header lines, and body lines
  that begin with ``-`` and so might be a boundary delimiter).

Everything else is counted and dropped. The structure rules, decided here and relied on by tests:

* A *part* is a leaf entity: a non-multipart body (or a multipart without a usable boundary).
  `part_count` counts leaves, so a plain single-part message has `part_count == 1`; multipart
  containers are not counted.
* ``message/rfc822`` and ``message/global`` parts (forwarded messages, the returned message in a
  bounce) are leaves and always attachments; they are not descended into, so their inner parts
  and attachments are not counted.
* An attachment is a leaf part with ``Content-Disposition: attachment``; or ``inline`` with a
  filename; or, with no (or an unrecognised) disposition, a non-``text/*`` leaf with a filename
  or a ``name`` parameter. `attachment_types` lists their content types in message order
  (duplicates kept; at most `MAX_ATTACHMENT_TYPES`, while `attachment_count` stays exact).
* Children of ``multipart/digest`` default to ``message/rfc822`` (RFC 2046 5.1.5), as in the stdlib.
* A delimiter of an enclosing multipart closes every inner multipart still open (a missing close
  delimiter), as the stdlib's feed parser does. A missing final boundary just leaves the
  structure open at the end of the stream. Preamble and epilogue are skipped.
* Lines end with LF or CRLF (a lone CR is not a line end). A header block ends at a blank line or
  at the first line that cannot be a header line, like the stdlib's feed parser.
* Authentication verdicts come from the first (topmost) ``Authentication-Results`` header only:
  it is the one the receiving server added, the ones below it can be forged by the sender.
  ``spf`` and ``dmarc`` take their first result in it; ``dkim`` is ``pass`` if any DKIM signature
  passed, else the first DKIM result. Results outside `VERDICTS` are ignored (``hardfail`` is
  read as ``fail``).
* `is_bounce` is true for a top-level ``multipart/report`` whose ``report-type`` is
  ``delivery-status`` or ``global-delivery-status`` (RFC 3464 / RFC 6533); read receipts
  (``disposition-notification``) are not bounces.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from enum import Enum
from typing import Any

from collector.jsonutil import clean_text

MAX_HEADER_BLOCK = 256 * 1024  # bytes of one header block kept for parsing; the rest is dropped
MAX_DELIMITER_LINE = 4096  # a body line longer than this is never taken for a boundary delimiter
MAX_DEPTH = 32  # multiparts nested deeper are treated as opaque leaves
MAX_ATTACHMENT_TYPES = 100
MAX_SUBJECT_CHARS = 2048  # bounds the audit item; WorkMail's own event cuts the subject at 256
MAX_MESSAGE_ID_CHARS = 998  # RFC 5322 line limit

VERDICTS = frozenset({"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"})
_VERDICT_ALIASES = {"hardfail": "fail"}
_BOUNCE_REPORT_TYPES = frozenset({"delivery-status", "global-delivery-status"})
_ENCAPSULATED = frozenset({"message/rfc822", "message/global"})

# The stdlib feed parser's test for "this line can belong to a header block".
_HEADER_LINE = re.compile(rb"^(From |[\041-\071\073-\176]*:|[\t ])")
_RESULT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\s*/\s*[0-9]+)?\s*=\s*([A-Za-z0-9_-]+)")
_DASH = 0x2D
_LF = 0x0A


@dataclass(frozen=True)
class MessageSummary:
    """What the enrichment step records about one raw message."""

    size_bytes: int
    content_type: str
    message_id_header: str | None
    subject: str | None
    part_count: int
    attachment_count: int
    attachment_types: tuple[str, ...]
    spf: str | None
    dkim: str | None
    dmarc: str | None
    is_bounce: bool
    headers_truncated: bool = False  # some header block passed MAX_HEADER_BLOCK and was cut

    def to_item(self) -> dict[str, Any]:
        """Plain JSON types with the audit record's camelCase names."""
        return {
            "sizeBytes": self.size_bytes,
            "contentType": self.content_type,
            "messageIdHeader": self.message_id_header,
            "subject": self.subject,
            "partCount": self.part_count,
            "attachmentCount": self.attachment_count,
            "attachmentTypes": list(self.attachment_types),
            "spf": self.spf,
            "dkim": self.dkim,
            "dmarc": self.dmarc,
            "isBounce": self.is_bounce,
            "headersTruncated": self.headers_truncated,
        }


class _Mode(Enum):
    HEADERS = 1  # collecting a header block
    BODY = 2  # inside a body, preamble or epilogue: only delimiter lines matter
    DONE = 3  # nothing left that can change the summary: bytes are only counted


@dataclass
class _Frame:
    boundary: bytes
    digest: bool


class MimeSummarizer:
    """Incremental summariser: `feed` chunks of any size in order, then `finish` once."""

    def __init__(self) -> None:
        self._size = 0
        self._mode = _Mode.HEADERS
        self._top = True  # the header block being collected is the message's own
        self._default_type = "text/plain"
        self._frames: list[_Frame] = []
        # The line being collected (None when at a line start or skipping the rest of a line).
        self._line: bytearray | None = None
        self._line_cap = 0
        self._line_over = False
        self._skipping = False
        self._block: list[bytes] = []
        self._block_size = 0
        self._block_over = False
        self._finished = False
        # Results.
        self._content_type = "text/plain"
        self._message_id: str | None = None
        self._subject: str | None = None
        self._parts = 0
        self._attachments = 0
        self._attachment_types: list[str] = []
        self._auth: dict[str, str | None] = {"spf": None, "dkim": None, "dmarc": None}
        self._bounce = False
        self._headers_truncated = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if isinstance(chunk, memoryview):
            chunk = chunk.tobytes()
        n = len(chunk)
        if n == 0:
            return
        self._size += n
        pos = 0
        while pos < n and self._mode is not _Mode.DONE:
            if self._skipping:
                nl = chunk.find(b"\n", pos)
                if nl < 0:
                    return
                pos = nl + 1
                self._skipping = False
            elif self._line is not None:
                nl = chunk.find(b"\n", pos)
                end = n if nl < 0 else nl + 1
                room = self._line_cap - len(self._line)
                if end - pos > room:
                    self._line_over = True
                if room > 0:
                    self._line += chunk[pos : min(end, pos + room)]
                pos = end
                if nl < 0:
                    return
                line, over = bytes(self._line), self._line_over
                self._line, self._line_over = None, False
                self._on_line(line, over)
            elif self._mode is _Mode.BODY and chunk[pos] != _DASH:
                # Fast path: a line that does not start with "-" cannot be a delimiter, so jump to
                # the next line that does. Base64 bodies never contain one.
                nxt = chunk.find(b"\n-", pos)
                if nxt >= 0:
                    pos = nxt + 1
                    continue
                # No such line in the rest of this chunk; if it ends mid-line, that line is
                # uninteresting too (it does not start with "-"), so skip to its end.
                self._skipping = chunk[n - 1] != _LF
                return
            else:
                self._line = bytearray()
                self._line_cap = MAX_HEADER_BLOCK if self._mode is _Mode.HEADERS else MAX_DELIMITER_LINE

    def finish(self) -> MessageSummary:
        """Close the stream: a last line without a line end still counts, an open header block is parsed."""
        if not self._finished:
            self._finished = True
            if self._line is not None and self._mode is not _Mode.DONE:
                line, over = bytes(self._line), self._line_over
                self._line = None
                self._on_line(line, over)
            if self._mode is _Mode.HEADERS:
                self._end_headers()
        return MessageSummary(
            size_bytes=self._size,
            content_type=self._content_type,
            message_id_header=self._message_id,
            subject=self._subject,
            part_count=self._parts,
            attachment_count=self._attachments,
            attachment_types=tuple(self._attachment_types),
            spf=self._auth["spf"],
            dkim=self._auth["dkim"],
            dmarc=self._auth["dmarc"],
            is_bounce=self._bounce,
            headers_truncated=self._headers_truncated,
        )

    # -- line handling -------------------------------------------------------------------------

    def _on_line(self, line: bytes, over: bool) -> None:
        if self._mode is _Mode.HEADERS:
            if not over and self._frames and self._match_delimiter(line) is not None:
                # A delimiter wins over header syntax (a boundary may contain ':'): this part
                # had headers only.
                self._end_headers()
            elif line in (b"\n", b"\r\n"):
                self._end_headers()
                return
            elif _HEADER_LINE.match(line):
                self._add_header_line(line, over)
                return
            else:
                # Not a header line: the block ended without a blank line and this line is body.
                if not self._end_headers():
                    return
        if not over and line[:1] == b"-":
            self._on_delimiter(line)

    def _add_header_line(self, line: bytes, over: bool) -> None:
        if self._block_over:
            return
        if over or self._block_size + len(line) > MAX_HEADER_BLOCK:
            # Keep whole header lines only; later lines of the block are dropped too, so a
            # continuation line never attaches to the wrong header.
            self._block_over = True
            return
        self._block.append(line)
        self._block_size += len(line)

    def _match_delimiter(self, line: bytes) -> tuple[int, bool] | None:
        """(index of the innermost open multipart whose delimiter this line is, is it the closing one)."""
        if not line.startswith(b"--"):
            return None
        content = line.rstrip(b"\r\n")
        for index in range(len(self._frames) - 1, -1, -1):
            boundary = self._frames[index].boundary
            if not content.startswith(boundary, 2):
                continue
            rest = content[2 + len(boundary) :]
            closing = rest.startswith(b"--")
            if closing:
                rest = rest[2:]
            if not rest.strip(b" \t"):
                return index, closing
        return None

    def _on_delimiter(self, line: bytes) -> None:
        match = self._match_delimiter(line)
        if match is None:
            return
        index, closing = match
        del self._frames[index + 1 :]  # inner multiparts left open are closed by this delimiter
        if closing:
            self._frames.pop()
            self._mode = _Mode.BODY if self._frames else _Mode.DONE
        else:
            self._start_headers(digest=self._frames[index].digest)

    def _start_headers(self, digest: bool) -> None:
        self._mode = _Mode.HEADERS
        self._top = False
        self._default_type = "message/rfc822" if digest else "text/plain"
        self._block = []
        self._block_size = 0
        self._block_over = False

    def _end_headers(self) -> bool:
        """Parse the collected block; True when delimiter lines still matter after it."""
        message = BytesHeaderParser(policy=policy.default).parsebytes(b"".join(self._block))
        self._block = []
        if self._block_over:
            self._headers_truncated = True
        if self._default_type != "text/plain":
            message.set_default_type(self._default_type)
        content_type = _safe(message.get_content_type, self._default_type)
        if self._top:
            assert isinstance(message, EmailMessage)
            self._read_top_headers(message, content_type)
        boundary = _boundary(message) if content_type.startswith("multipart/") else None
        if boundary is not None and len(self._frames) < MAX_DEPTH:
            self._frames.append(_Frame(boundary, content_type == "multipart/digest"))
            self._mode = _Mode.BODY
            return True
        self._parts += 1
        if _is_attachment(message, content_type):
            self._attachments += 1
            if len(self._attachment_types) < MAX_ATTACHMENT_TYPES:
                self._attachment_types.append(content_type)
        # A leaf: only an enclosing multipart's delimiter can matter from here on.
        self._mode = _Mode.BODY if self._frames else _Mode.DONE
        return bool(self._frames)

    def _read_top_headers(self, message: EmailMessage, content_type: str) -> None:
        self._content_type = content_type
        self._message_id = _header_text(message, "Message-ID", MAX_MESSAGE_ID_CHARS, strip=True)
        self._subject = _header_text(message, "Subject", MAX_SUBJECT_CHARS, strip=False)
        self._auth = parse_authentication_results(_first_header(message, "Authentication-Results"))
        if content_type == "multipart/report":
            report_type = _safe(lambda: message.get_param("report-type"), None)
            self._bounce = isinstance(report_type, str) and report_type.lower() in _BOUNCE_REPORT_TYPES


# -- header helpers -------------------------------------------------------------------------------


def _safe(getter: Any, default: Any) -> Any:
    """The stdlib's structured header parsing can raise on hostile input; a summary never does."""
    try:
        return getter()
    except Exception:
        return default


def _first_header(message: Message, name: str) -> str | None:
    def get() -> str | None:
        values = message.get_all(name)
        return None if not values else str(values[0])

    value: str | None = _safe(get, None)
    return value


def _header_text(message: Message, name: str, limit: int, strip: bool) -> str | None:
    value = _first_header(message, name)
    if value is None:
        return None
    value = clean_text(value.strip() if strip else value)
    return value[:limit]


def _boundary(message: Message) -> bytes | None:
    boundary = _safe(message.get_boundary, None)
    if not isinstance(boundary, str) or not boundary:
        return None
    try:
        return boundary.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None


def _is_attachment(message: Message, content_type: str) -> bool:
    if content_type in _ENCAPSULATED:
        return True
    disposition = _safe(message.get_content_disposition, None)
    if disposition == "attachment":
        return True
    filename = _safe(message.get_filename, None)
    if disposition == "inline":
        return filename is not None
    # get_filename falls back to the Content-Type "name" parameter.
    return filename is not None and content_type.partition("/")[0] not in ("text", "multipart")


def _split_resinfo(value: str) -> list[str]:
    """Split an Authentication-Results value on ';', dropping comments and honouring quoted strings."""
    segments: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                current.append(char)
            continue
        if char == "\\" and (quoted or depth):
            escaped = True
            continue
        if quoted:
            if char == '"':
                quoted = False
            current.append(char)
        elif depth:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
        elif char == "(":
            depth = 1
            current.append(" ")
        elif char == '"':
            quoted = True
            current.append(char)
        elif char == ";":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return segments


def parse_authentication_results(value: str | None) -> dict[str, str | None]:
    """spf, dkim and dmarc verdicts from one Authentication-Results header value (RFC 8601)."""
    found: dict[str, list[str]] = {"spf": [], "dkim": [], "dmarc": []}
    if value:
        segments = _split_resinfo(value)
        # The first segment is the authserv-id (and an optional version); a sender that forgot
        # the ';' after it may still have a result there.
        head = segments[0].split(None, 1)
        resinfos = ([head[1]] if len(head) > 1 else []) + segments[1:]
        for resinfo in resinfos:
            match = _RESULT.match(resinfo)
            if match is None:
                continue
            method, result = match.group(1).lower(), match.group(2).lower()
            result = _VERDICT_ALIASES.get(result, result)
            if method in found and result in VERDICTS:
                found[method].append(result)
    dkim = found["dkim"]
    return {
        "spf": found["spf"][0] if found["spf"] else None,
        "dkim": ("pass" if "pass" in dkim else dkim[0]) if dkim else None,
        "dmarc": found["dmarc"][0] if found["dmarc"] else None,
    }


# -- entry points ---------------------------------------------------------------------------------


async def summarize_stream(chunks: AsyncIterable[bytes]) -> MessageSummary:
    """Summarise a raw message arriving as an async stream of byte chunks of any size."""
    summarizer = MimeSummarizer()
    async for chunk in chunks:
        summarizer.feed(chunk)
    return summarizer.finish()


def summarize_chunks(chunks: Iterable[bytes]) -> MessageSummary:
    """The same for a synchronous iterable (files, tests, the CLI)."""
    summarizer = MimeSummarizer()
    for chunk in chunks:
        summarizer.feed(chunk)
    return summarizer.finish()


def summarize_bytes(raw: bytes) -> MessageSummary:
    return summarize_chunks((raw,))
