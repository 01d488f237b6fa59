"""Property: whatever JSON CloudWatch (or anyone who may invoke the function) sends as the event,
the trace widget answers with HTML and never raises, and that HTML holds no active element but the
form and our own `<cwdb-action>` calls to the widget's ARN. Runs on SQLite, derandomized."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.trace_widget import DOCS, handler
from tests.trace_support import ARN, OWN_TAGS, Elements

CONTEXT = SimpleNamespace(invoked_function_arn=ARN)
FORM_TAGS = frozenset({"form", "select", "option", "input"})
PROPS = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["message_id", "sender", "recipient", "m-1", "a@example.com", "50", "1e9"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def _shaped(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An event with the widget's own keys, each holding any JSON: reaches every reader."""
    keys = ["key", "value", "token", "limit", "start", "end", "zoom", "all", "timeRange", "params", "forms"]
    return st.recursive(
        st.dictionaries(st.sampled_from(keys), values, max_size=4),
        lambda inner: st.dictionaries(st.sampled_from(keys), inner | values, max_size=4),
        max_leaves=10,
    ).map(lambda d: {"widgetContext": d, **{k: v for k, v in d.items() if k in ("key", "value", "token")}})


@pytest.fixture(scope="module")
def sqlite_env() -> Iterator[None]:
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLLECTOR_STORE", "sqlite")
        patch.setenv("COLLECTOR_SQLITE_PATH", os.path.join(folder, "audit.sqlite3"))
        patch.delenv("COLLECTOR_REDACT", raising=False)
        yield


@PROPS
@given(event=JSON | _shaped(JSON))
def test_any_json_event_gets_inert_html(sqlite_env: None, event: Any) -> None:
    markup = handler(event, CONTEXT)
    assert isinstance(markup, str) and markup
    if markup == DOCS:
        return
    found = Elements(markup)
    assert found.tags() <= OWN_TAGS | FORM_TAGS
    assert all(a.attrs == {"action": "call", "endpoint": ARN, "display": "widget"} for a in found.actions())
