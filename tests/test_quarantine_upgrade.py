"""A payload an older version quarantined, delivered again after the upgrade, stays one record.

Versions before the quarantine's own key space (`invalid:sha256:<hash>`) kept an INVALID record
under the key its payload claimed (the invocationId, `ses:<messageId>`, an SES sending event's
`ses:<messageId>:<type>:<digest>`) or under `sha256:<hash>` (a line that is not JSON hashed as its
bare text). The keys below are written out as those versions built them (commit 7d5e98a), not
taken from the code under test.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from collector.audit import invalid_item
from collector.events.detect import parse
from collector.jsonutil import content_hash
from collector.model import QUARANTINE_KEY_PREFIX, Invalid, Invocation, Status, Undecodable
from collector.pipeline import Pipeline
from collector.redaction import Redactor
from collector.store import COUNT_STATE, PENDING
from tests.conftest import Backend, run
from tests.emf import sum_metric
from tests.test_pipeline import with_pipeline

PUBLIC = "tests/data/public/ses/"
NOT_JSON = Undecodable(text="{not json", error="line 2: key must be a string")


def _public(name: str) -> Any:
    with open(PUBLIC + name, "rb") as handle:
        return orjson.loads(handle.read())


def _cases() -> list[tuple[str, object, str, str]]:
    """(name, payload, the key and fingerprint the older version stored it under)."""
    receipt = _public("aws-lambda-dotnet-testtool-v2-ses-email-receiving.json")
    del receipt["Records"][0]["ses"]["receipt"]["recipients"]
    receipt_id = receipt["Records"][0]["ses"]["mail"]["messageId"]
    bounce = _public("ses-dg-notification-bounce-without-dsn.json")
    del bounce["bounce"]
    bounce_key = f"ses:{bounce['mail']['messageId']}:Bounce:{content_hash(bounce)[:16]}"
    no_id = {"flowDirection": "INBOUND", "messageId": "m-1"}
    return [
        ("claimed invocationId", {"invocationId": "inv-1", "flowDirection": "INBOUND"}, "inv-1", ""),
        ("not JSON", NOT_JSON, "sha256:" + content_hash(NOT_JSON.text), content_hash(NOT_JSON.text)),
        ("not an object", [1, 2], "sha256:" + content_hash([1, 2]), ""),
        ("no invocationId", no_id, "sha256:" + content_hash(no_id), ""),
        ("SES receipt", receipt, "ses:" + receipt_id, ""),
        ("SES bounce", bounce, bounce_key, ""),
        ("unrecognised", {"hello": 1}, "sha256:" + content_hash({"hello": 1}), ""),
    ]


CASES = _cases()


def _legacy(payload: object, key: str, fingerprint: str, **extra: Any) -> dict[str, Any]:
    """The INVALID record the older version wrote for `payload`."""
    quarantined = parse(payload)
    assert isinstance(quarantined, Invalid)
    record = invalid_item(quarantined, Invocation("old-1", "1", datetime.now(UTC)), 0, Redactor(None))
    record.pop("claimedKey", None)  # older versions had no claimedKey
    return record | {"invocationId": key, "fingerprint": fingerprint or content_hash(payload)} | extra


async def _rows(p: Pipeline, payload: object, key: str) -> list[str]:
    """Which of the payload's old and new keys hold a record."""
    parsed = parse(payload)
    assert isinstance(parsed, Invalid)
    return [k for k in (key, parsed.dedupe_key) if await p.store.get(k) is not None]


@pytest.mark.parametrize("path", ["process", "replay"])
@pytest.mark.parametrize(("name", "payload", "key", "fingerprint"), CASES, ids=[c[0] for c in CASES])
def test_a_payload_quarantined_before_the_upgrade_is_not_counted_again(
    store_backend: Backend, path: str, name: str, payload: object, key: str, fingerprint: str
) -> None:
    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.store.put_once(_legacy(payload, key, fingerprint))
        deliver = p.process if path == "process" else p.replay
        outcome = await deliver(copy.deepcopy(payload), Invocation("new-1", "2", datetime.now(UTC)))
        assert outcome.status is Status.QUARANTINED_DUPLICATE, name
        assert outcome.dedupe_key == key  # where the payload is kept
        assert sum_metric(lines, "InvalidEvents") == 0
        assert await _rows(p, payload, key) == [key]  # no second copy under the new key

    run(with_pipeline(store_backend, body))


def test_an_older_replay_stopped_before_counting_is_counted_once(store_backend: Backend) -> None:
    """An older `replay` wrote the record PENDING and stopped: this version counts it, once."""
    _, payload, key, fingerprint = CASES[1]

    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.store.put_once(_legacy(payload, key, fingerprint, **{COUNT_STATE: PENDING}))
        first = await p.replay(payload, Invocation("new-1", "2", datetime.now(UTC)))
        again = await p.replay(payload, Invocation("new-2", "2", datetime.now(UTC)))
        assert (first.status, again.status) == (Status.QUARANTINED, Status.QUARANTINED_DUPLICATE)
        assert sum_metric(lines, "InvalidEvents") == 1
        assert await _rows(p, payload, key) == [key]

    run(with_pipeline(store_backend, body))


def test_another_payload_under_the_claimed_key_is_quarantined_on_its_own(store_backend: Backend) -> None:
    """The older record under the claimed key holds other content: this one is new, and counted."""
    payload = {"invocationId": "inv-1", "flowDirection": "OUTBOUND"}

    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.store.put_once(_legacy(CASES[0][1], "inv-1", ""))
        outcome = await p.process(payload, Invocation("new-1", "2", datetime.now(UTC)))
        assert outcome.status is Status.QUARANTINED and outcome.dedupe_key.startswith(QUARANTINE_KEY_PREFIX)
        assert sum_metric(lines, "InvalidEvents") == 1

    run(with_pipeline(store_backend, body))


def test_a_line_that_is_not_json_and_the_json_string_of_its_text_are_two_payloads(
    store_backend: Backend,
) -> None:
    async def body(p: Pipeline, lines: list[str]) -> None:
        broken = await p.process(NOT_JSON, Invocation("r-1", "2", datetime.now(UTC)))
        string = await p.process(NOT_JSON.text, Invocation("r-2", "2", datetime.now(UTC)))
        assert (broken.status, string.status) == (Status.QUARANTINED, Status.QUARANTINED)
        assert broken.dedupe_key != string.dedupe_key
        assert sum_metric(lines, "InvalidEvents") == 2

    run(with_pipeline(store_backend, body))
