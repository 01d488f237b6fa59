"""Fuzzing the Lambda handler with mutated real events and arbitrary JSON.

For every payload the handler returns the pass-through answer, writes exactly one EMF document
that validates against the EMF specification, and leaves the payload findable: recorded (the
stored fingerprint is this payload's), quarantined (the stored raw payload is this one), or a
counted redelivery of a stored key. Nothing raises on a healthy store. The SQLite store carries
most examples (fast); a smaller run on DynamoDB Local catches what only DynamoDB rejects (empty
or oversized key attributes, item size, invalid UTF-8).

Input hazards get their own classes, for both paths a payload reaches the pipeline by (the Lambda
handler, and `replay` reading JSON Lines): a byte-order mark, raw U+2028/U+2029/U+0085 inside
strings, lone-surrogate escapes, integers past 64 bits, NUL runs, nesting to 1,100 levels, payloads
up to 400 KB, and bytes that are not UTF-8.

Hypothesis runs derandomized (the same examples on every run) with bounded example counts.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import io
import itertools
import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import collector.handler as handler_module
from collector import deepjson
from collector.events.detect import parse
from collector.events.workmail import KNOWN_FIELDS
from collector.events.workmail import parse as parse_workmail
from collector.jsonutil import ascii_json, canonical, content_hash, dumps, loads
from collector.model import MailEvent, Undecodable
from collector.sampling import generate_events
from collector.sampling_ses import generate_ses_events
from collector.store import AuditStore
from tests.conftest import ROOT, make_table
from tests.emf import validate_document
from tests.public_samples import RECEIPT_SAMPLES, RECEIVED_NOTIFICATIONS, SENDING_SAMPLES, load

PASS_THROUGH = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}
SES_CONTINUE = {"disposition": "CONTINUE"}
HUGE = 200_000  # bytes of UTF-8: one field near the size of a whole WorkMail payload
DEEP = 200  # levels of nesting
MANY_RECIPIENTS = 10_000

# --- the handler in one warm container ----------------------------------------------------------


@dataclass
class Container:
    """One Lambda container running the real handler; `invoke` checks the contract for one payload."""

    stdout: io.StringIO
    invocations: int = 0

    def get(self, key: str) -> Any:
        loop, container = handler_module._loop, handler_module._container
        assert loop is not None and container is not None
        return loop.run_until_complete(container.pipeline.store.get(key))

    def invoke(self, raw: Any) -> str:
        """Invoke the handler with `raw`, check every property, return the outcome's status."""
        self.invocations += 1
        before = len(self.stdout.getvalue())
        context = SimpleNamespace(aws_request_id=f"fuzz-{self.invocations}", function_version="1")
        with redirect_stdout(self.stdout):  # the cold start binds the EMF stream to it
            response = handler_module.handler(raw, context)
        written = self.stdout.getvalue()[before:].splitlines()
        assert len(written) == 1, f"expected one EMF document, got {len(written)}"
        document = validate_document(written[0])
        # Mail always flows on: WorkMail's pass-through, or SES's CONTINUE for what came from SES.
        assert response == (SES_CONTINUE if document.get("Source") == "SES" else PASS_THROUGH)
        status, key = document["status"], document["invocationId"]
        stored = self.get(key)
        assert stored is not None, f"{status} but nothing stored under {key!r}"
        expected = {"RECORDED": "Messages", "QUARANTINED": "InvalidEvents", "CONFLICT": "Conflicts"}
        if document.get("eventType") not in (None, "Received", "Send"):
            expected["RECORDED"] = "an SES fact about a message (a Delivery, a Bounce): not a message"
        for metric in ("Messages", "InvalidEvents", "Conflicts"):
            assert document.get(metric, 0) == int(expected.get(status) == metric), (status, metric)
        assert document.get("DuplicateInvocations", 0) == int(status not in ("RECORDED", "QUARANTINED"))
        # An SES message's fingerprint is its `mail` object (two rules' receipts of one message are
        # one message); WorkMail's is the whole payload.
        fingerprint = parse(raw).fingerprint if document.get("Source") == "SES" else content_hash(raw)
        if stored["fingerprint"] != fingerprint:
            # Only a conflict may differ from the stored record: it is counted and logged as one.
            assert status == "CONFLICT", (
                f"a payload that differs from the record stored under {key!r} was classified {status}: "
                "it is neither stored nor counted as a conflict"
            )
        elif stored["status"] == "RECORDED":
            assert status in ("RECORDED", "DUPLICATE"), status
            assert_recorded_keeps(raw, stored)
        else:
            assert status in ("QUARANTINED", "QUARANTINED_DUPLICATE"), status
            assert_quarantine_keeps(raw, stored)
        return str(status)


def assert_recorded_keeps(raw: dict[str, Any], stored: dict[str, Any]) -> None:
    assert stored["status"] == "RECORDED"
    if stored.get("source") == "SES":
        assert isinstance(stored["recipientCount"], int) and stored["recipientCount"] >= 0
        return  # the SES adapters' own tests check the fields (tests/test_ses_events.py)
    source = raw["envelope"] if isinstance(raw.get("envelope"), dict) else raw
    assert stored["recipientCount"] == len(source["recipients"])
    unknown = {k for k in raw if k not in KNOWN_FIELDS}
    if unknown and "extra" not in stored.get("trimmedFields", []):
        assert unknown <= set(loads(stored["extra"])), "unknown fields were dropped"


def assert_quarantine_keeps(raw: Any, stored: dict[str, Any]) -> None:
    assert stored["status"] == "INVALID" and stored["reason"]
    if stored["redacted"]:
        return  # the kept payload is the redacted tree, by design
    if isinstance(raw, str):  # kept as text; lone surrogates cannot be stored and count as cut
        assert stored["rawBytes"] == len(raw.encode("utf-8", "surrogatepass"))
        if not stored["rawTruncated"]:
            assert stored["raw"] == raw, "the quarantined payload is not the one received"
    else:
        assert stored["rawBytes"] == len(dumps(raw))
        if not stored["rawTruncated"]:  # canonical forms: == would recurse once per level of nesting
            kept = canonical(loads(stored["raw"]))
            assert kept == canonical(raw), "the quarantined payload is not the one received"


@contextmanager
def lambda_container(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[Container]:
    """A cold start with `env`, its stdout (the EMF documents) captured; closed at the end."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stdout = io.StringIO()
    monkeypatch.setattr(handler_module, "_loop", None)
    monkeypatch.setattr(handler_module, "_container", None)
    try:
        yield Container(stdout)
    finally:
        loop, container = handler_module._loop, handler_module._container
        if loop is not None and container is not None:
            loop.run_until_complete(container.close())
            loop.close()


def on_dynamodb_local(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The Lambda environment of a container whose store is a fresh table in DynamoDB Local."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return {"AWS_LAMBDA_FUNCTION_NAME": "fuzz", "COLLECTOR_TABLE_NAME": make_table(endpoint)}


@pytest.fixture(params=["sqlite", pytest.param("dynamodb-local", marks=pytest.mark.dynamodb)])
def container(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Container]:
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}
    if request.param == "dynamodb-local":
        env |= on_dynamodb_local(request.getfixturevalue("dynamodb_local"), monkeypatch)
    with lambda_container(monkeypatch, env) as started:
        yield started


# --- payloads ---------------------------------------------------------------------------------------


def real_events() -> list[dict[str, Any]]:
    """Both layouts, both directions, truncated ones, and the bundled samples (valid JSON objects)."""
    events = [
        *generate_events(count=2, seed=61),
        *generate_events(direction="OUTBOUND", recipients=5, seed=62),
        *generate_events(layout="flat", truncated=True, id_length=40, seed=63),
        *generate_events(recipients=0, summary_version="2018-10-10", seed=64),
    ]
    for path in sorted((ROOT / "samples").glob("*.json")):
        events.append(json.loads(path.read_text()))
    for line in (ROOT / "samples" / "mail-flow-day.jsonl").read_text().splitlines()[:8]:
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue  # Lambda only ever delivers parsed JSON
        if isinstance(value, dict):
            events.append(value)
    return events


BASES = real_events()
Path_ = tuple[str | int, ...]
PATHS: list[Path_] = [
    ("invocationId",),
    ("messageId",),
    ("flowDirection",),
    ("truncated",),
    ("subject",),
    ("summaryVersion",),
    ("sender",),
    ("sender", "address"),
    ("envelope",),
    ("envelope", "mailFrom"),
    ("envelope", "mailFrom", "address"),
    ("envelope", "recipients"),
    ("envelope", "recipients", 0),
    ("envelope", "recipients", 0, "address"),
    ("mailFrom", "address"),
    ("recipients",),
    ("recipients", 0, "address"),
]

surrogates = st.characters(categories=["Cs"])
text = st.text(st.one_of(st.characters(), surrogates), max_size=30)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def nested(depth: int, leaf: Any = "bottom") -> Any:
    return functools.reduce(lambda inner, n: [inner] if n % 2 else {"k": inner}, range(depth), leaf)


def huge(unit: str) -> str:
    """About HUGE bytes of UTF-8 (lone surrogates counted as the 3 bytes they would take)."""
    return unit * (HUGE // len(unit.encode("utf-8", "surrogatepass")))


special = st.one_of(
    st.builds(huge, st.sampled_from(["x", "é", "会", "\ud800", "a\udc00"])),
    st.just(nested(DEEP)),
    st.just(""),
    st.just("   "),
    st.builds(lambda s: s + "\ud800", text),
)


def set_path(event: dict[str, Any], path: Path_, value: Any) -> None:
    node: Any = event
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = value
        return
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value


def drop_path(event: dict[str, Any], path: Path_) -> None:
    node: Any = event
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)
    elif isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
        del node[path[-1]]


def many_recipients(event: dict[str, Any]) -> None:
    holder: dict[str, Any] = event["envelope"] if isinstance(event.get("envelope"), dict) else event
    holder["recipients"] = [{"address": f"recipient{n}@example.org"} for n in range(MANY_RECIPIENTS)]


Mutation = Callable[[dict[str, Any]], None]
paths = st.sampled_from(PATHS)
mutations: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(lambda p: functools.partial(drop_path, path=p), paths),
    st.builds(lambda p, v: functools.partial(set_path, path=p, value=v), paths, json_values),
    st.builds(lambda p, v: functools.partial(set_path, path=p, value=v), paths, text),
    st.builds(lambda p, v: functools.partial(set_path, path=p, value=v), paths, special),
    st.builds(lambda k, v: functools.partial(set_path, path=(k,), value=v), text, json_values),
    st.just(many_recipients),
)


def mutate(base: dict[str, Any], changes: list[Mutation]) -> dict[str, Any]:
    event = copy.deepcopy(base)
    for change in changes:
        change(event)
    return event


mutated_events = st.builds(mutate, st.sampled_from(BASES), st.lists(mutations, min_size=1, max_size=3))
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


# --- tests -------------------------------------------------------------------------------------------


def test_every_real_event_is_kept_once_and_its_redelivery_is_a_duplicate(container: Container) -> None:
    for event in BASES:
        assert container.invoke(event) in ("RECORDED", "QUARANTINED")
        assert container.invoke(copy.deepcopy(event)) in ("DUPLICATE", "QUARANTINED_DUPLICATE")


def replaced(base: int, *changes: tuple[Path_, Any]) -> dict[str, Any]:
    """BASES[base] with the value at each path replaced."""
    return mutate(BASES[base], [functools.partial(set_path, path=p, value=v) for p, v in changes])


SURROGATE_FIELDS = [p for p in PATHS if p[-1] in ("subject", "address")]
HEAVY: dict[str, Callable[[], Any]] = {
    "200 KB subject": lambda: replaced(0, (("subject",), huge("é"))),
    "200 KB unknown field": lambda: replaced(1, (("note",), huge("x"))),
    "200 KB mailFrom and summaryVersion": lambda: replaced(
        2, (("envelope", "mailFrom", "address"), huge("m")), (("summaryVersion",), huge("v"))
    ),
    "200-level nesting in a field": lambda: replaced(3, (("x",), nested(DEEP))),
    "200-level nesting as the payload": lambda: nested(DEEP),
    "200-level nesting as messageId": lambda: replaced(0, (("messageId",), nested(DEEP))),
    "10,000 recipients": lambda: mutate(BASES[1], [many_recipients]),
    "10,000 recipients, flat layout": lambda: mutate(BASES[4], [many_recipients]),
    "lone surrogates everywhere": lambda: replaced(0, *((p, "a\ud800b\udfff") for p in SURROGATE_FIELDS)),
    "lone surrogate invocationId": lambda: replaced(1, (("invocationId",), "\udc80")),
    "empty invocationId": lambda: replaced(2, (("invocationId",), "")),
}

DYNAMODB_LIMITS: dict[str, Callable[[], Any]] = {
    "empty sender address (bySender index key)": lambda: replaced(0, (("sender", "address"), "")),
    "blank sender address": lambda: replaced(1, (("sender", "address"), "  ")),
    "3 KB sender address": lambda: replaced(2, (("sender", "address"), "s" * 3000 + "@example.com")),
    "3 KB messageId (byMessageId index key)": lambda: replaced(0, (("messageId",), "m" * 3000)),
    "3 KB invocationId (table key)": lambda: replaced(1, (("invocationId",), "i" * 3000)),
    "3 KB invocationId of an invalid event": lambda: {"invocationId": "j" * 3000, "messageId": 7},
    "210 KB mailFrom and summaryVersion (item over 400 KB)": lambda: replaced(
        2, (("envelope", "mailFrom", "address"), "m" * 210_000), (("summaryVersion",), "v" * 210_000)
    ),
}


def test_an_invalid_payload_under_a_recorded_key_is_kept_beside_it(container: Container) -> None:
    """An invalid payload never contests a valid event's key: it is quarantined under its own (the
    hash of its content), and counted in InvalidEvents; the key it carried is kept as claimedKey."""
    event = copy.deepcopy(BASES[0])
    assert container.invoke(event) == "RECORDED"
    del event["messageId"]
    assert container.invoke(event) == "QUARANTINED"


@pytest.mark.parametrize("case", sorted(HEAVY))
def test_heavy_payloads(container: Container, case: str) -> None:
    container.invoke(HEAVY[case]())


@pytest.mark.parametrize("case", sorted(DYNAMODB_LIMITS))
def test_values_past_dynamodb_limits_are_still_recorded_or_quarantined(
    container: Container, case: str
) -> None:
    """Legal JSON that DynamoDB refuses as is: empty strings and values over 2,048 bytes in key
    attributes (table and index keys), and items over 400 KB. A ValidationException can never
    succeed on retry, so raising would send the event through 3 futile attempts to the failure
    destination instead of recording or quarantining it."""
    status = container.invoke(DYNAMODB_LIMITS[case]())
    assert status in ("RECORDED", "QUARANTINED")


def fuzz(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], payloads: st.SearchStrategy[Any], examples: int
) -> None:
    """Every generated payload through one warm container: the property is in `invoke`'s checks."""
    with lambda_container(monkeypatch, env) as started:

        @settings(FUZZ, max_examples=examples)
        @given(payloads)
        def property_holds(payload: Any) -> None:
            started.invoke(payload)

        property_holds()


def test_fuzz_mutated_real_events_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fuzz(monkeypatch, {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}, mutated_events, 1000)


def test_fuzz_arbitrary_json_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payloads = json_values | st.dictionaries(st.sampled_from(sorted(KNOWN_FIELDS)) | text, json_values)
    fuzz(monkeypatch, {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}, payloads, 500)


def test_fuzz_with_redaction_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3"),
        "COLLECTOR_REDACT": "true",
        "COLLECTOR_REDACTION_KEY": "a-fuzzing-key-of-enough-length",
    }
    fuzz(monkeypatch, env, mutated_events, 200)


@pytest.mark.dynamodb
def test_fuzz_mutated_real_events_on_dynamodb_local(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = on_dynamodb_local(dynamodb_local, monkeypatch)
    fuzz(monkeypatch, env, mutated_events, 200)


# --- input hazards: the Lambda path and the replay path ---------------------------------------------

NUL_RUN = 80_000  # what a crashed writer leaves
DEEPEST = 1100  # past orjson's 1,024 levels and the standard library's ~1,000 on Python 3.11
LARGEST = 400_000  # bytes: past DynamoDB's item budget once escaped


def sized(size: int, unit: str) -> str:
    return unit * (size // len(unit.encode("utf-8", "surrogatepass")))


hazard_text = st.text(
    st.sampled_from(
        ["a", "é", "😀", "\u2028", "\u2029", "\u0085", "\ufeff", "\x00", "\ud83d", "\udc00", '"']
    ),
    max_size=30,
)
big_integers = st.integers(min_value=2**63, max_value=2**200) | st.integers(
    min_value=-(2**200), max_value=-(2**63) - 1
)
hazards = st.one_of(
    hazard_text,
    big_integers,
    st.integers(min_value=1, max_value=NUL_RUN).map(lambda n: "\x00" * n),
    st.integers(min_value=DEEP, max_value=DEEPEST).map(nested),
    st.builds(
        sized, st.integers(min_value=100_000, max_value=LARGEST), st.sampled_from(["x", "é", '"', "\x01"])
    ),
    st.builds(lambda: [""] * (249_000 // 3)),  # a 249 KB payload that is not an object
)
hazard_mutations: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(lambda p, v: functools.partial(set_path, path=p, value=v), paths, hazards),
    st.builds(lambda k, v: functools.partial(set_path, path=(k,), value=v), hazard_text, hazards),
)
hazard_events = st.builds(
    mutate, st.sampled_from(BASES), st.lists(hazard_mutations, min_size=1, max_size=2)
) | st.sampled_from(BASES).map(copy.deepcopy)
hazard_payloads = hazard_events | hazards


# --- SES: receipts and sending events, as Lambda receives them ---------------------------------------


def ses_events() -> list[dict[str, Any]]:
    """Every public SES sample (receipts, notifications, event publishing), and generated receipts
    and sending events bare, through SNS and through EventBridge."""
    events = [load(path) for path in (*RECEIPT_SAMPLES, *RECEIVED_NOTIFICATIONS, *SENDING_SAMPLES)]
    events += generate_ses_events(count=2, seed=71) + generate_ses_events(verdict="FAIL", seed=72)
    for event, via in (
        ("send", "none"),
        ("delivery", "sns"),
        ("bounce", "eventbridge"),
        ("complaint", "none"),
    ):
        events += generate_ses_events(event=event, via=via, recipients=3, seed=73)
    return events


SES_BASES = ses_events()
RECEIPT = ("Records", 0, "ses")
SES_PATHS: list[Path_] = [
    *(
        (*prefix, *path)
        for prefix in (RECEIPT, (), ("detail",))
        for path in [
            ("mail",),
            ("mail", "messageId"),
            ("mail", "source"),
            ("mail", "timestamp"),
            ("mail", "destination"),
            ("mail", "destination", 0),
            ("mail", "headersTruncated"),
            ("mail", "headers"),
            ("mail", "commonHeaders"),
            ("mail", "commonHeaders", "from"),
            ("mail", "commonHeaders", "from", 0),
            ("mail", "commonHeaders", "subject"),
            ("mail", "commonHeaders", "messageId"),
            ("receipt",),
            ("receipt", "recipients"),
            ("receipt", "recipients", 0),
            ("receipt", "spfVerdict"),
            ("receipt", "dmarcVerdict", "status"),
            ("receipt", "dmarcPolicy"),
            ("eventType",),
            ("notificationType",),
            ("bounce", "bouncedRecipients"),
            ("bounce", "bouncedRecipients", 0, "emailAddress"),
            ("delivery", "recipients"),
            ("complaint", "complainedRecipients", 0),
        ]
    ),
    ("Records",),
    ("Records", 0, "eventSource"),
    ("detail-type",),
    ("source",),
]
# What a sender can put in an address header: the standard library's parser recurses on comments.
hostile_headers = st.one_of(
    st.integers(min_value=300, max_value=3000).map(lambda n: "(" * n + "x" + ")" * n + " <e@example.com>"),
    st.integers(min_value=300, max_value=20_000).map(lambda n: "(" * n),
    st.integers(min_value=1, max_value=50_000).map(lambda n: "@" * n),
    st.integers(min_value=1, max_value=20_000).map(lambda n: '"' * n + "<a@b.c>"),
)
ses_paths = st.sampled_from(SES_PATHS)
ses_values = json_values | text | special | hazards | hostile_headers | hostile_headers.map(lambda h: [h])
ADDRESS_PATHS = [p for p in SES_PATHS if p[-2:] in (("from", 0), ("source",), ("recipients", 0))]
ADDRESS_PATHS += [(*p[:-1],) for p in ADDRESS_PATHS if p[-2:] == ("from", 0)]  # from as a string
ses_mutations: st.SearchStrategy[Mutation] = st.one_of(
    st.builds(lambda p: functools.partial(drop_path, path=p), ses_paths),
    st.builds(lambda p, v: functools.partial(set_path, path=p, value=v), ses_paths, ses_values),
    st.builds(
        lambda p, v: functools.partial(set_path, path=p, value=v),
        st.sampled_from(ADDRESS_PATHS),
        hostile_headers,
    ),
)
mutated_ses_events = st.builds(
    mutate, st.sampled_from(SES_BASES), st.lists(ses_mutations, min_size=1, max_size=3)
) | st.sampled_from(SES_BASES).map(copy.deepcopy)


def test_fuzz_mutated_ses_events_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3"), "COLLECTOR_SOURCES": "workmail,ses"}
    fuzz(monkeypatch, env, mutated_ses_events, 400)


@pytest.mark.dynamodb
def test_fuzz_mutated_ses_events_on_dynamodb_local(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = on_dynamodb_local(dynamodb_local, monkeypatch) | {"COLLECTOR_SOURCES": "workmail,ses"}
    fuzz(monkeypatch, env, mutated_ses_events, 100)


def test_fuzz_input_hazards_through_the_handler_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fuzz(monkeypatch, {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}, hazard_payloads, 250)


@pytest.mark.dynamodb
def test_fuzz_input_hazards_through_the_handler_on_dynamodb_local(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = on_dynamodb_local(dynamodb_local, monkeypatch)
    fuzz(monkeypatch, env, hazard_payloads, 100)


@dataclass(frozen=True)
class Line:
    """One JSON Lines line as written (no line ending), and the payload it was written from."""

    data: bytes
    payload: Any = None
    written_from_payload: bool = False


def serialized(payload: Any, how: str) -> Line:
    """How real writers put a payload on one line: orjson (raw U+2028 and friends), json.dumps with
    ASCII escapes (what the failure queue writes), or raw text with lone surrogates encoded as
    such (a writer that is not UTF-8 clean: the bytes are not UTF-8)."""
    if how == "orjson":
        try:
            return Line(orjson.dumps(payload), payload, True)
        except (orjson.JSONEncodeError, TypeError):
            how = "ascii"  # orjson refuses lone surrogates, big ints and deep nesting
    if how == "ascii":
        return Line(ascii_json(payload).encode(), payload, True)
    return Line(deepjson.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass"), payload, True)


garbage = st.one_of(
    st.integers(min_value=1, max_value=NUL_RUN).map(lambda n: Line(b"\x00" * n)),
    st.binary(min_size=1, max_size=60).map(lambda b: Line(b.replace(b"\n", b"?").replace(b"\r", b"?"))),
    st.builds(
        lambda e, cut: Line(orjson.dumps(e)[: 1 + cut % 200]), st.sampled_from(BASES), st.integers(0, 10_000)
    ),
    st.builds(  # a byte that is not UTF-8 inside a string
        lambda e: Line(orjson.dumps(e).replace(b'"messageId":"', b'"messageId":"\xe9', 1)),
        st.sampled_from(BASES),
    ),
)
written_payloads = st.builds(serialized, hazard_payloads, st.sampled_from(["orjson", "ascii", "raw"]))


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[bytes, list[Line]]:
    """A JSON Lines file whose first line is an event, then hazards,
    garbage and redeliveries; a BOM or not, \\n or \\r\\n, blank lines between."""
    lines = [serialized(copy.deepcopy(draw(st.sampled_from(BASES))), "orjson")]
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        kind = draw(st.sampled_from(["payload", "payload", "garbage", "again", "again-escaped"]))
        if kind == "payload":
            lines.append(draw(written_payloads))
        elif kind == "garbage":
            line = draw(garbage)
            # Garbage is a line of its own: it starts no array (whose items are events) and
            # continues no broken value from the line before (indented, or closing a bracket);
            # tests/reliability/test_props_input.py covers values and regions across lines.
            if line.data.strip(b" \t\r\n") and line.data[:1] not in (b"[", b"]", b"}", b" ", b"\t"):
                lines.append(line)
        else:
            earlier = draw(st.sampled_from(lines))
            again = earlier
            if kind == "again-escaped" and earlier.written_from_payload:
                again = serialized(earlier.payload, "ascii")
            lines.append(again)
    data = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    for line in lines:
        data += line.data + draw(st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\n \n"]))
    return data, lines


def expected(line: Line) -> Any:
    """What the line holds, read by the Lambda runtime's reader (the standard library); an
    Undecodable when it is no JSON."""
    # Space and byte-order marks before a value are no part of it; no line ends in \r (the reader
    # would cut it).
    text = re.sub(rb"^(?:[ \t]|\xef\xbb\xbf)*", b"", line.data).decode("utf-8", "backslashreplace")
    try:
        decoded = line.data.decode("utf-8")
    except UnicodeDecodeError:
        return Undecodable(text, "not UTF-8")
    if line.written_from_payload:
        return line.payload  # written from it: the standard library may not reach its depth
    try:
        return json.loads(decoded)
    except ValueError:
        return Undecodable(text, "not JSON")


def events_of(lines: list[Line]) -> list[Any]:
    """What replay reads from the lines: each line's value, an array's items one by one."""
    return [item for line in lines for item in _items(expected(line))]


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def oracle(lines: list[Line]) -> tuple[Counter[str], dict[str, tuple[str, str]]]:
    """Statuses in order (concurrency 1), and per key the first record's status and fingerprint."""
    statuses: Counter[str] = Counter()
    first: dict[str, tuple[str, str]] = {}
    for event in events_of(lines):
        parsed = parse_workmail(event)
        status = "RECORDED" if isinstance(parsed, MailEvent) else "INVALID"
        if parsed.dedupe_key not in first:
            first[parsed.dedupe_key] = (status, parsed.fingerprint)
            statuses["RECORDED" if status == "RECORDED" else "QUARANTINED"] += 1
        elif first[parsed.dedupe_key][1] != parsed.fingerprint:
            statuses["CONFLICT"] += 1
        else:
            statuses[
                "DUPLICATE" if first[parsed.dedupe_key][0] == "RECORDED" else "QUARANTINED_DUPLICATE"
            ] += 1
    return statuses, first


def replay_file(data: bytes, store_args: list[str]) -> list[dict[str, Any]]:
    """`workmail-collector replay` in this process, one event at a time; its EMF documents."""
    from collector.cli import main

    with tempfile.TemporaryDirectory() as scratch:
        path, emf = Path(scratch) / "events.jsonl", Path(scratch) / "emf.jsonl"
        path.write_bytes(data)
        with redirect_stderr(io.StringIO()) as errors:
            code = main(["replay", str(path), "--emf-out", str(emf), "--concurrency", "1", *store_args])
        assert code == 0, errors.getvalue()
        return [validate_document(line) for line in emf.read_text().splitlines()]


def check_replay(
    data: bytes, lines: list[Line], store_args: list[str], stored: Callable[[list[str]], dict[str, Any]]
) -> None:
    documents = replay_file(data, store_args)
    statuses, first = oracle(lines)
    assert len(documents) == len(events_of(lines)), "every event is processed exactly once"
    assert Counter(d["status"] for d in documents) == statuses
    assert sum(d.get("Messages", 0) for d in documents) == statuses["RECORDED"]
    assert sum(d.get("InvalidEvents", 0) for d in documents) == statuses["QUARANTINED"]
    assert sum(d.get("Conflicts", 0) for d in documents) == statuses["CONFLICT"]
    records = stored(list(first))
    for key, (status, fingerprint) in first.items():
        record = records[key]
        assert record is not None, f"nothing stored under {key!r}"
        assert (record["status"], record["fingerprint"]) == (status, fingerprint)


async def read_records(store: AuditStore, keys: list[str]) -> dict[str, Any]:
    try:
        return {key: await store.get(key) for key in keys}
    finally:
        await store.close()


def test_fuzz_replay_of_json_lines_with_input_hazards_on_sqlite(tmp_path: Path) -> None:
    """Every line recorded or quarantined exactly once, counted as the Lambda path would count it."""
    from collector.store.sqlite import SqliteStore

    runs = itertools.count()

    @settings(FUZZ, max_examples=150)
    @given(jsonl_files())
    def property_holds(file: tuple[bytes, list[Line]]) -> None:
        db = tmp_path / f"audit-{next(runs)}.sqlite3"
        check_replay(
            file[0], file[1], ["--db", str(db)], lambda keys: asyncio.run(read_records(SqliteStore(db), keys))
        )

    property_holds()


@pytest.mark.dynamodb
def test_fuzz_replay_of_json_lines_with_input_hazards_on_dynamodb_local(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collector.store.dynamodb import DynamoDbStore

    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)

    @settings(FUZZ, max_examples=15)  # a table and two SDK clients per example: seconds each
    @given(jsonl_files())
    def property_holds(file: tuple[bytes, list[Line]]) -> None:
        table = make_table(dynamodb_local)

        async def records(keys: list[str]) -> dict[str, Any]:
            return await read_records(await DynamoDbStore.open(table), keys)

        arguments = ["--store", "dynamodb", "--table", table]
        check_replay(file[0], file[1], arguments, lambda keys: asyncio.run(records(keys)))

    property_holds()


def test_integers_past_64_bits_tell_a_conflict_from_a_redelivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = dict(BASES[0], count=123456789012345678901234567890)
    other = dict(base, count=123456789012345678901234567891)
    with lambda_container(monkeypatch, {"COLLECTOR_SQLITE_PATH": str(tmp_path / "lambda.sqlite3")}) as c:
        assert [c.invoke(base), c.invoke(copy.deepcopy(base)), c.invoke(other)] == [
            "RECORDED",
            "DUPLICATE",
            "CONFLICT",
        ]
    lines = [Line(json.dumps(p).encode(), p, True) for p in (base, base, other)]
    data = b"\n".join(line.data for line in lines)
    documents = replay_file(data, ["--db", str(tmp_path / "replay.sqlite3")])
    assert [d["status"] for d in documents] == ["RECORDED", "DUPLICATE", "CONFLICT"]
