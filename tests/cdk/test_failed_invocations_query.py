"""The saved query `failed-invocations` names the request of both kinds of line it finds.

The collector's own records carry `requestId` at the top level; Lambda's platform lines (a
timeout, a crashed runtime: `platform.runtimeDone` and the like, kept at the WARN system log level)
carry it inside `record`. Logs Insights' `coalesce` returns the first field present (CloudWatch
Logs, query syntax, general functions), so one column shows the request for either.
"""

from __future__ import annotations

from tests.cdk.support import Synth


def test_failed_invocations_shows_the_request_of_collector_and_platform_lines(default_synth: Synth) -> None:
    (query,) = (
        q["Properties"]["QueryString"]
        for q in default_synth.resources("AWS::Logs::QueryDefinition").values()
        if q["Properties"]["Name"].endswith("/failed-invocations")
    )
    fields = next(line for line in query.splitlines() if line.startswith("fields "))
    assert fields.startswith("fields @timestamp, coalesce(requestId, record.requestId) as request, ")
    assert ", requestId," not in fields  # the bare top-level field alone misses platform lines
