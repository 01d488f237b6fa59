"""Keys: nothing a user feeds or types loses, hides or doubles an event.

* A quarantined payload never takes a valid event's key, whatever the order of arrival: the
  collector's own EMF lines (they carry `invocationId`) replayed beside the events, and any broken
  copy of a valid event, on the Lambda path and through `replay`.
* A key part that is blank (an SES `mail.messageId` of spaces, a WorkMail `invocationId` of tabs)
  quarantines the payload instead of recording it under a blank key.
* An event with up to 100,000 recipients, each up to 100,000 characters, is trimmed by DynamoDB's
  own item-size rule and accepted by DynamoDB Local.
* A forged `eventType` or `detail-type` (an address, say) reaches no key, log line or metric, and
  no reason: reasons name the field, never its value.

The handler, its checks and the payload strategies are test_fuzz's (one harness).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collector.audit import ITEM_BUDGET_BYTES, invalid_item, item_size
from collector.events.detect import parse
from collector.events.fields import bounded_key
from collector.jsonutil import content_hash
from collector.model import QUARANTINE_KEY_PREFIX, Invalid, Invocation, MailEvent, Status, Undecodable
from collector.pipeline import Pipeline
from collector.redaction import Redactor
from collector.sampling import generate_events
from collector.sampling_ses import generate_ses_events
from tests.conftest import Backend, run
from tests.emf import sum_metric
from tests.reliability.test_fuzz import (
    BASES,
    FUZZ,
    SES_BASES,
    Container,
    Line,
    lambda_container,
    mutate,
    mutations,
    on_dynamodb_local,
    replay_file,
    serialized,
    ses_mutations,
)
from tests.reliability.test_fuzz import container as container  # the fixture
from tests.test_pipeline import with_pipeline

DYNAMODB_ITEM_LIMIT = 400 * 1024
SES_ENV = {"COLLECTOR_SOURCES": "workmail,ses"}
REDACTING = {"COLLECTOR_REDACT": "true", "COLLECTOR_REDACTION_KEY": "a-key-of-enough-length-for-tests"}


def valid(raw: Any) -> MailEvent:
    parsed = parse(raw)
    assert isinstance(parsed, MailEvent), parsed
    return parsed


VALID = [e for e in [*BASES, *SES_BASES] if isinstance(parse(e), MailEvent)]


def emf_line_of(container: Container, raw: Any) -> dict[str, Any]:
    """The EMF document the collector wrote for `raw`, read back as a payload (as `replay` would)."""
    before = len(container.stdout.getvalue())
    container.invoke(raw)
    document: dict[str, Any] = orjson.loads(container.stdout.getvalue()[before:].splitlines()[0])
    return document


# --- 1. a quarantined payload never takes a valid event's key ------------------------------------


def test_the_collectors_own_emf_line_before_its_event_does_not_hide_the_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's own run: `replay emf.jsonl events.jsonl` recorded nothing."""
    events = generate_events(count=3, seed=1)
    with lambda_container(monkeypatch, {"COLLECTOR_SQLITE_PATH": str(tmp_path / "a.sqlite3")}) as first:
        emf = [emf_line_of(first, e) for e in events]
    assert all(line["invocationId"] == e["invocationId"] for line, e in zip(emf, events, strict=True))
    data = b"\n".join(serialized(p, "orjson").data for p in [*emf, *events])
    # replay knows its own EMF documents and skips them; the events are recorded and counted.
    documents = replay_file(data, ["--db", str(tmp_path / "b.sqlite3")])
    assert [d["status"] for d in documents] == ["RECORDED"] * 3
    assert sum(d.get("Messages", 0) for d in documents) == 3
    assert sum(d.get("Conflicts", 0) or d.get("InvalidEvents", 0) for d in documents) == 0
    # The Lambda path skips nothing: there the EMF lines are quarantined, each under its own key,
    # and the events that arrive after them are still recorded.
    with lambda_container(monkeypatch, {"COLLECTOR_SQLITE_PATH": str(tmp_path / "c.sqlite3")}) as lam:
        assert [lam.invoke(p) for p in [*emf, *events]] == ["QUARANTINED"] * 3 + ["RECORDED"] * 3


def test_a_broken_copy_before_or_after_the_event_is_kept_beside_it(container: Container) -> None:
    raw = generate_events(seed=35)[0]
    broken = {k: v for k, v in raw.items() if k != "messageId"}
    assert container.invoke(broken) == "QUARANTINED"
    assert container.invoke(raw) == "RECORDED"
    other = generate_events(seed=36)[0]
    assert container.invoke(other) == "RECORDED"
    assert container.invoke({k: v for k, v in other.items() if k != "envelope"}) == "QUARANTINED"
    stored = container.get(raw["invocationId"])
    assert stored is not None and stored["status"] == "RECORDED"
    quarantined = parse(broken)
    assert isinstance(quarantined, Invalid)
    kept = container.get(quarantined.dedupe_key)
    assert kept is not None and kept["status"] == "INVALID"
    assert kept["claimedKey"] == raw["invocationId"]  # findable by the id it carried


def test_no_valid_event_can_claim_the_quarantines_key_space(container: Container) -> None:
    broken = {k: v for k, v in generate_events(seed=37)[0].items() if k != "messageId"}
    quarantined = parse(broken)
    assert isinstance(quarantined, Invalid) and quarantined.dedupe_key.startswith(QUARANTINE_KEY_PREFIX)
    forged = dict(generate_events(seed=38)[0], invocationId=quarantined.dedupe_key)
    assert container.invoke(forged) == "QUARANTINED"
    assert container.invoke(broken) == "QUARANTINED"
    assert "invocationId" in str(parse(forged).reason)  # type: ignore[union-attr]


RUNS = itertools.count()


def renamed(value: Any, run: int) -> Any:
    """`value` with its ids made this run's own (the invocationId, or every `mail.messageId`, also
    inside an SNS message's text), so one warm container sees each drawn event for the first time."""
    if isinstance(value, list):
        return [renamed(v, run) for v in value]
    if not isinstance(value, dict):
        return value
    found = {k: renamed(v, run) for k, v in value.items()}
    if isinstance(found.get("Message"), str) and found["Message"].startswith("{"):
        found["Message"] = orjson.dumps(renamed(orjson.loads(found["Message"]), run)).decode()
    mail = found.get("mail")
    if isinstance(mail, dict) and isinstance(mail.get("messageId"), str):
        mail["messageId"] += f"-{run}"
    if isinstance(found.get("invocationId"), str):
        found["invocationId"] += f"-{run}"
    elif "envelope" in found or "recipients" in found:
        found["run"] = run  # keyed by its content hash
    return found


def legacy_quarantine(broken: dict[str, Any]) -> dict[str, Any]:
    """The record an older version wrote for `broken`: INVALID, under the key the payload claimed."""
    quarantined = parse(broken)
    assert isinstance(quarantined, Invalid) and quarantined.claimed_key is not None
    record = invalid_item(quarantined, Invocation("old-1", "1", datetime.now(UTC)), 0, Redactor(None))
    return record | {"invocationId": quarantined.claimed_key}


@pytest.mark.parametrize("path", ["process", "replay"])
def test_an_older_versions_quarantine_under_the_events_key_is_moved_aside(
    store_backend: Backend, path: str
) -> None:
    """Recorded before this version: the event's broken copy, INVALID under the event's key. The
    event is recorded and counted in its place; the old record moves to the quarantine's keys."""
    raw = generate_events(seed=42)[0]
    old = legacy_quarantine({k: v for k, v in raw.items() if k != "envelope"})

    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.store.put_once(old)
        deliver = p.process if path == "process" else p.replay
        outcome = await deliver(raw, Invocation("new-1", "2", datetime.now(UTC)))
        again = await deliver(copy.deepcopy(raw), Invocation("new-2", "2", datetime.now(UTC)))
        assert (outcome.status, again.status) == (Status.RECORDED, Status.DUPLICATE)
        assert sum_metric(lines, "Messages") == 1 and sum_metric(lines, "Conflicts") == 0
        stored = await p.store.get(raw["invocationId"])
        assert stored is not None and stored["status"] == "RECORDED"
        moved = await p.store.get(QUARANTINE_KEY_PREFIX + old["fingerprint"])
        assert moved is not None and moved["status"] == "INVALID" and moved["raw"] == old["raw"]
        assert moved["claimedKey"] == raw["invocationId"] and moved["receivedAt"] == old["receivedAt"]

    run(with_pipeline(store_backend, body))


def ordered_pairs(draw: st.DrawFn, bases: list[Any], changes: st.SearchStrategy[Any]) -> list[Any]:
    event = renamed(draw(st.sampled_from(bases)), next(RUNS))
    broken = mutate(event, draw(st.lists(changes, min_size=1, max_size=3)))
    copy, original = parse(broken), parse(event)
    if isinstance(copy, MailEvent) and copy.dedupe_key != original.dedupe_key:
        # Still valid under an id the mutation drew: make it this run's own too, or an id drawn again
        # by a later example (shrinking redraws them) meets this one's record in the warm container.
        broken = renamed(broken, next(RUNS))
    return draw(st.permutations([event, broken]))


@st.composite
def event_and_broken_copy(draw: st.DrawFn) -> list[Any]:
    """A valid event and a mutated copy of it (often invalid, often still carrying its ids)."""
    if draw(st.booleans()):
        return ordered_pairs(draw, [e for e in VALID if e in BASES], mutations)
    return ordered_pairs(draw, [e for e in VALID if e not in BASES], ses_mutations)


def check_pair(statuses: list[str], pair: list[Any]) -> None:
    """Whatever arrives first, a valid event is recorded unless a valid payload took its key first."""
    parsed = [parse(p) for p in pair]
    for i, item in enumerate(parsed):
        if isinstance(item, Invalid):
            assert statuses[i] in ("QUARANTINED", "QUARANTINED_DUPLICATE"), statuses
            assert item.dedupe_key.startswith(QUARANTINE_KEY_PREFIX)
        elif not (i == 1 and isinstance(parsed[0], MailEvent) and parsed[0].dedupe_key == item.dedupe_key):
            assert statuses[i] == "RECORDED", (statuses, [type(p).__name__ for p in parsed])


def test_property_an_invalid_payload_never_stands_in_a_valid_events_way_on_the_lambda_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")} | SES_ENV
    with lambda_container(monkeypatch, env) as started:

        @settings(FUZZ, max_examples=150)
        @given(event_and_broken_copy())
        def property_holds(pair: list[Any]) -> None:
            check_pair([started.invoke(p) for p in pair], pair)

        property_holds()


@pytest.mark.dynamodb
def test_property_an_invalid_payload_never_stands_in_a_valid_events_way_on_dynamodb_local(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = on_dynamodb_local(dynamodb_local, monkeypatch) | SES_ENV
    with lambda_container(monkeypatch, env) as started:

        @settings(FUZZ, max_examples=40)
        @given(event_and_broken_copy())
        def property_holds(pair: list[Any]) -> None:
            check_pair([started.invoke(p) for p in pair], pair)

        property_holds()


def replay_pairs(store_args: Callable[[], list[str]], examples: int) -> None:
    """`replay` of a file holding an event and its broken copy, in the drawn order."""

    @settings(FUZZ, max_examples=examples)
    @given(event_and_broken_copy())
    def property_holds(pair: list[Any]) -> None:
        lines: list[Line] = [serialized(p, "ascii") for p in pair]
        documents = replay_file(b"\n".join(line.data for line in lines), store_args())
        check_pair([d["status"] for d in documents], pair)

    property_holds()


def test_property_through_replay_the_order_of_lines_does_not_matter(tmp_path: Path) -> None:
    runs = itertools.count()
    replay_pairs(lambda: ["--db", str(tmp_path / f"r{next(runs)}.sqlite3")], 40)


@pytest.mark.dynamodb
def test_property_through_replay_on_dynamodb_local(audit_table: str) -> None:
    replay_pairs(lambda: ["--store", "dynamodb", "--table", audit_table], 10)  # each draw's ids are new


# --- 2. blank key parts -------------------------------------------------------------------------

BLANKS = ["", " ", "   ", "\t", "\u00a0", "\u2003 \n"]
spaces = st.sampled_from(" \t\r\n\u00a0\u2003\u3000")
blanks = st.sampled_from(BLANKS) | st.text(spaces, min_size=1, max_size=20)


def with_message_id(raw: dict[str, Any], message_id: str) -> dict[str, Any]:
    """An SES event (any wrapper) whose `mail.messageId` is `message_id`."""
    event = copy.deepcopy(raw)
    holder = event["Records"][0]["ses"] if "Records" in event else event.get("detail", event)
    holder["mail"]["messageId"] = message_id
    return event


def ses_samples() -> Iterator[dict[str, Any]]:
    yield from generate_ses_events(count=1, seed=81)
    for kind, via in (("send", "none"), ("delivery", "eventbridge"), ("bounce", "none")):
        yield from generate_ses_events(event=kind, via=via, seed=82)


SES_SAMPLES = list(ses_samples())


@pytest.mark.parametrize("blank", BLANKS)
def test_an_ses_message_id_that_is_blank_quarantines_the_event(blank: str) -> None:
    """On SQLite, later distinct messages became conflicts of one blank key; on DynamoDB the write
    failed on every retry."""
    for raw in SES_SAMPLES:
        parsed = parse(with_message_id(raw, blank))
        assert isinstance(parsed, Invalid), (blank, parsed)
        assert "mail.messageId" in parsed.reason


def test_distinct_messages_with_blank_ids_are_each_kept(container: Container) -> None:
    for raw in SES_SAMPLES:
        assert container.invoke(with_message_id(raw, "   ")) == "QUARANTINED"


@pytest.mark.parametrize("blank", BLANKS)
def test_a_workmail_invocation_id_that_is_blank_quarantines_the_event(blank: str) -> None:
    parsed = parse(dict(generate_events(seed=39)[0], invocationId=blank))
    assert isinstance(parsed, Invalid) and "invocationId" in parsed.reason


@pytest.mark.parametrize("borrowed", ["ses:{ses}", "ses:{ses}:Send", "reconcile:2026-12-01", "a:b"])
def test_an_id_can_never_be_one_of_the_keys_the_collector_builds(container: Container, borrowed: str) -> None:
    """A WorkMail invocationId `ses:<id>` took an SES receipt's key; a receipt's messageId
    `<id>:Send` would take the key of that message's Send; `reconcile:...` a ledger item's."""
    receipt = SES_SAMPLES[0]
    key = valid(receipt).dedupe_key
    forged = dict(generate_events(seed=43)[0], invocationId=borrowed.format(ses=key.removeprefix("ses:")))
    assert container.invoke(forged) == "QUARANTINED"
    assert container.invoke(with_message_id(receipt, key.removeprefix("ses:") + ":Send")) == "QUARANTINED"
    assert container.invoke(receipt) == "RECORDED"


def run_blank_keys(started: Container, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(st.sampled_from(SES_SAMPLES + generate_events(count=2, seed=40)), blanks)
    def property_holds(raw: dict[str, Any], blank: str) -> None:
        event = with_message_id(raw, blank) if "invocationId" not in raw else dict(raw, invocationId=blank)
        assert started.invoke(event) in ("QUARANTINED", "QUARANTINED_DUPLICATE")

    property_holds()


def test_property_blank_key_parts_are_quarantined_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")} | SES_ENV
    with lambda_container(monkeypatch, env) as started:
        run_blank_keys(started, 100)


@pytest.mark.dynamodb
def test_property_blank_key_parts_are_quarantined_on_dynamodb_local(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with lambda_container(monkeypatch, on_dynamodb_local(dynamodb_local, monkeypatch) | SES_ENV) as started:
        run_blank_keys(started, 30)


# --- 5. item size by DynamoDB's rule ------------------------------------------------------------

# Recipients times characters per recipient: up to 100,000 of each, but not 10 GB at once.
MAX_RECIPIENT_BYTES = 4_000_000


def with_recipients(count: int, length: int) -> dict[str, Any]:
    event = generate_events(seed=41)[0]
    event["envelope"]["recipients"] = [
        {"address": f"{n}@".ljust(length - len("example.org"), "r") + "example.org"} for n in range(count)
    ]
    return event


@st.composite
def recipient_lists(draw: st.DrawFn) -> tuple[int, int]:
    count = draw(st.integers(min_value=0, max_value=100_000))
    longest = max(20, min(100_000, MAX_RECIPIENT_BYTES // max(count, 1)))
    return count, draw(st.integers(min_value=20, max_value=longest))


def test_item_size_follows_dynamodbs_rule() -> None:
    """AWS, "DynamoDB item sizes and formats": names + values; a list or map costs 3 bytes plus 1
    per element plus the elements; a number 1 byte per 2 significant digits plus 1; null and
    Boolean 1."""
    assert item_size({"a": "xyz"}) == 4
    assert item_size({"a": ["xy", "z"]}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"m": {"ab": "c"}}) == 1 + 3 + (1 + 2 + 1)
    assert item_size({"n": 12345}) == 1 + 3 + 1
    assert item_size({"n": 1200}) == 1 + 1 + 1  # trailing zeros are not significant
    # Base-100 digits aligned on the decimal point, as DynamoDB Local counts them; a sign costs 1.
    assert [item_size({"n": n}) - 1 for n in (0, 1.5, 0.05, -1, 120000, 10**37 + 1)] == [1, 3, 2, 3, 2, 20]
    assert item_size({"b": True, "z": None}) == 2  # a None is never written


names = st.text(st.sampled_from("abcé会"), min_size=1, max_size=8)
leaves = (
    st.text(max_size=20)
    | st.booleans()
    | st.integers(min_value=-(10**37), max_value=10**37)
    | st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).filter(lambda f: f == 0 or abs(f) > 1e-9)
)
attribute_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(names, inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.dynamodb
def test_property_item_size_is_dynamodbs_own_count(audit_table: str) -> None:
    """At exactly 400 KB by item_size DynamoDB Local takes the item; one byte more, it refuses it."""
    from collector.store.dynamodb import DynamoDbStore

    keys = itertools.count()

    async def accepted(item: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        store = await DynamoDbStore.open(audit_table)
        try:
            await store.put_once(item)
            return True
        except ClientError as error:
            assert "size" in str(error)
            return False
        finally:
            await store.close()

    @settings(FUZZ, max_examples=8)  # two 400 KB writes each
    @given(st.dictionaries(names.filter(lambda n: n not in ("pad", "invocationId")), attribute_values))
    def property_holds(attributes: dict[str, Any]) -> None:
        for target, fits in ((DYNAMODB_ITEM_LIMIT, True), (DYNAMODB_ITEM_LIMIT + 1, False)):
            item = {"invocationId": f"k{next(keys):08d}", "pad": "", **attributes}
            item["pad"] = "x" * (target - item_size(item))
            assert item_size(item) == target
            assert asyncio.run(accepted(item)) is fits, (target, attributes)

    property_holds()


def test_forty_thousand_recipients_fit_one_item(container: Container) -> None:
    """DynamoDB refused the trimmed item (about 415 KB by its rule) and replay stopped there."""
    assert container.invoke(with_recipients(40_000, 30)) == "RECORDED"
    stored = container.get(with_recipients(1, 30)["invocationId"])
    assert stored is not None and stored["recipientCount"] == 40_000
    assert item_size(stored) <= ITEM_BUDGET_BYTES and "recipients" in stored["trimmedFields"]


@pytest.mark.dynamodb
def test_property_recipient_lists_fit_dynamodb_local(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with lambda_container(monkeypatch, on_dynamodb_local(dynamodb_local, monkeypatch)) as started:
        seen = itertools.count()

        @settings(FUZZ, max_examples=60)  # about 20 s
        @given(recipient_lists())
        @example((100_000, 40))  # the extremes, whatever the draw: most recipients, ...
        @example((40, 100_000))  # ... longest recipients
        @example((40_000, 30))  # the event
        def property_holds(shape: tuple[int, int]) -> None:
            count, length = shape
            event = dict(with_recipients(count, length), invocationId=f"size-{next(seen)}")
            assert started.invoke(event) == "RECORDED"
            stored = started.get(event["invocationId"])
            assert stored is not None and stored["recipientCount"] == count
            assert item_size(stored) <= ITEM_BUDGET_BYTES < DYNAMODB_ITEM_LIMIT
            kept = stored["recipients"]
            assert kept == [r["address"] for r in event["envelope"]["recipients"][: len(kept)]]

        property_holds()


# --- 8. forged type fields reach no key, log, metric or reason ------------------------------------

emails = st.emails().filter(lambda a: len(a) >= 8)


def forged_type(raw: dict[str, Any], value: str) -> dict[str, Any]:
    event = copy.deepcopy(raw)
    if "detail-type" in event:
        event["detail-type"] = value
        event["detail"].pop("eventType", None)
    else:
        event["eventType"] = value
    return event


FORGEABLE = [e for e in SES_SAMPLES if "detail-type" in e or ("eventType" in e and "Records" not in e)]


def check_forgery(started: Container, raw: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    address = raw.get("detail-type") or raw["eventType"]
    before = len(started.stdout.getvalue())
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="workmail_collector"):
        status = started.invoke(raw)
    assert status in ("QUARANTINED", "QUARANTINED_DUPLICATE")
    emf = started.stdout.getvalue()[before:]
    assert address not in emf and address not in caplog.text
    quarantined = parse(raw)
    assert isinstance(quarantined, Invalid)
    stored = started.get(quarantined.dedupe_key)
    assert stored is not None
    for name in ("invocationId", "claimedKey", "reason"):
        assert address not in str(stored.get(name, "")), name


def run_forgeries(started: Container, caplog: pytest.LogCaptureFixture, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(st.sampled_from(FORGEABLE), emails)
    def property_holds(raw: dict[str, Any], address: str) -> None:
        check_forgery(started, forged_type(raw, address), caplog)

    property_holds()


def test_a_forged_event_type_reaches_no_key_log_or_reason(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    for raw in FORGEABLE:
        check_forgery(container, forged_type(raw, "jane.doe@example.com"), caplog)


@pytest.mark.parametrize("redact", [False, True])
def test_property_forged_types_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, redact: bool
) -> None:
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")} | SES_ENV | (REDACTING if redact else {})
    with lambda_container(monkeypatch, env) as started:
        run_forgeries(started, caplog, 60)


@pytest.mark.dynamodb
def test_property_forged_types_on_dynamodb_local(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = on_dynamodb_local(dynamodb_local, monkeypatch) | SES_ENV | REDACTING
    with lambda_container(monkeypatch, env) as started:
        run_forgeries(started, caplog, 20)


# --- 6. across the upgrade to the quarantine's own key space ------------------------------------


def not_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return True
    return False


@settings(FUZZ, max_examples=300)
@given(st.text(max_size=40).filter(not_json))
def test_property_a_line_that_is_not_json_never_shares_a_key_with_its_text_as_a_json_string(
    text: str,
) -> None:
    """`{not json` (a broken line) and `"{not json"` (a JSON string) are two payloads, two keys."""
    broken, string = parse(Undecodable(text=text, error="x")), parse(text)
    assert isinstance(broken, Invalid) and isinstance(string, Invalid)
    assert broken.dedupe_key != string.dedupe_key and broken.fingerprint != string.fingerprint


@st.composite
def quarantined_before(draw: st.DrawFn) -> tuple[Any, str]:
    """A broken WorkMail event, and the key an older version quarantined it under: the invocationId
    it carried (stripped), else `sha256:` and its content hash."""
    broken = mutate(renamed(draw(st.sampled_from(BASES)), next(RUNS)), draw(st.lists(mutations, max_size=3)))
    invocation_id = broken.get("invocationId")
    if draw(st.booleans()):
        broken.pop("messageId", None)  # invalid for sure
    if isinstance(invocation_id, str) and invocation_id.strip():
        return broken, bounded_key(invocation_id.strip())[0]
    return broken, "sha256:" + content_hash(broken)


def run_redeliveries_across_the_upgrade(backend: Backend, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(quarantined_before(), st.sampled_from(["process", "replay"]))
    def property_holds(drawn: tuple[Any, str], path: str) -> None:
        broken, old_key = drawn
        parsed = parse(broken)
        if not isinstance(parsed, Invalid):
            return

        async def body(p: Pipeline, lines: list[str]) -> None:
            record = invalid_item(parsed, Invocation("old-1", "1", datetime.now(UTC)), 0, Redactor(None))
            await p.store.put_once(record | {"invocationId": old_key})
            deliver = p.process if path == "process" else p.replay
            outcome = await deliver(copy.deepcopy(broken), Invocation("new-1", "2", datetime.now(UTC)))
            assert outcome.status is Status.QUARANTINED_DUPLICATE and outcome.dedupe_key == old_key
            assert sum_metric(lines, "InvalidEvents") == 0
            assert await p.store.get(parsed.dedupe_key) is None  # no second copy

        run(with_pipeline(backend, body))

    property_holds()


def test_property_a_payload_quarantined_before_the_upgrade_is_counted_once_on_sqlite(
    sqlite_backend: Backend,
) -> None:
    run_redeliveries_across_the_upgrade(sqlite_backend, 60)


@pytest.mark.dynamodb
def test_property_a_payload_quarantined_before_the_upgrade_is_counted_once_on_dynamodb_local(
    dynamodb_backend: Backend,
) -> None:
    run_redeliveries_across_the_upgrade(dynamodb_backend, 20)
