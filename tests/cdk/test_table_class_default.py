"""The audit table's default class follows how long it keeps records, not whether the trail is on.

Standard-IA stores for 40% of Standard's price and charges 25% more per request: over a short hot
window writes outweigh storage and Standard wins; kept longer than about two months (docs/deploy.md,
`tableClass`), storage wins. `-c retentionDays=400` with the trail on must not leave a year in the
dearer class; an explicit `tableClass` still decides.
"""

from __future__ import annotations

import pytest

from cdk.settings import StackSettings
from tests.cdk.support import ORG_ID


def table_class(**context: str) -> str:
    return StackSettings.from_context({"organizationId": ORG_ID, **context}.get).table_class


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, "standard"),  # the 7-day hot window
        ({"retentionDays": "30"}, "standard"),
        ({"retentionDays": "60"}, "standard"),
        ({"retentionDays": "61"}, "infrequent-access"),
        ({"retentionDays": "365"}, "infrequent-access"),
        ({"retentionDays": "400"}, "infrequent-access"),
        ({"retentionDays": "0"}, "infrequent-access"),  # kept for good
        ({"trail": "false"}, "infrequent-access"),  # the year in the table
        ({"trail": "false", "retentionDays": "30"}, "standard"),
    ],
)
def test_the_default_class_follows_the_retention(context: dict[str, str], expected: str) -> None:
    assert table_class(**context) == expected


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"retentionDays": "400", "tableClass": "standard"}, "standard"),
        ({"retentionDays": "0", "tableClass": "standard"}, "standard"),
        ({"tableClass": "infrequent-access"}, "infrequent-access"),
        ({"trail": "false", "retentionDays": "14", "tableClass": "ia"}, "infrequent-access"),
    ],
)
def test_an_explicit_class_still_wins(context: dict[str, str], expected: str) -> None:
    assert table_class(**context) == expected
