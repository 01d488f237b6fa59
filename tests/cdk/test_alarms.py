"""Every synthesized alarm, replayed over synthetic series with its own configuration.

Each alarm's metric math, threshold, datapoints to alarm and missing-data rule are read from the
template (tests/cdk/alarm_eval.py evaluates them as the CloudWatch User Guide documents) and fed
the situations an on-call engineer cares about: a quiet night, a blip that Lambda's retries
absorb, a broken email-flow rule, a real outage. Each scenario names the period in which the
alarm must first fire, or that it never fires. A new alarm without scenarios fails the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.cdk.alarm_eval import (
    AlarmConfig,
    MetricRef,
    Series,
    State,
    composite_state,
    evaluate,
    first_alarm,
)
from tests.cdk.support import ROOT, Synth

NEVER = None
DEPLOY_GUIDE = ROOT / "docs" / "deploy.md"
# Retryable conditions: Lambda retries an event that errored or was throttled, DynamoDB calls are
# retried by the SDK, so one datapoint of them is a blip, never a page.
RETRYABLE = {
    ("AWS/Lambda", "Errors"),
    ("AWS/Lambda", "Throttles"),
    ("AWS/Lambda", "AsyncEventAge"),
    ("AWS/DynamoDB", "SystemErrors"),
    ("AWS/DynamoDB", "WriteThrottleEvents"),
    ("AWS/DynamoDB", "ReadThrottleEvents"),
}


@pytest.fixture(scope="module", params=["default", "custom", "reconcile", "both", "ses_only"])
def every_synth(request: pytest.FixtureRequest) -> Synth:
    """Every variant: WorkMail alone (default, custom), the reconcile on, WorkMail with SES, SES alone."""
    synth: Synth = request.getfixturevalue(f"{request.param}_synth")
    return synth


def alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    """Alarm name without the stack prefix and severity (e.g. `ErrorsSustained`) -> properties."""
    out = {}
    for resource in synth.resources("AWS::CloudWatch::Alarm").values():
        props = resource["Properties"]
        out[props["AlarmName"].split("-")[-1]] = props
    return out


def steady(value: float, periods: int, start: int = 0) -> Series:
    return {t: value for t in range(start, periods)}


@dataclass(frozen=True)
class Scenario:
    name: str
    data: dict[str, Series]  # metric name (or name@Source) -> one datapoint per period
    fires_at: int | None  # the first period in ALARM, or NEVER
    periods: int = 24
    initial: State = State.OK
    final: State | None = None  # the state after the last period, when it matters
    extra: dict[str, Any] = field(default_factory=dict)

    def provider(self, ref: MetricRef) -> Series:
        source = ref.dims().get("Source")
        key = f"{ref.name}@{source}" if source and source != "WorkMail" else ref.name
        return self.data.get(key, {})


INVOCATIONS = steady(40, 24)
DAY_TRAFFIC = 20  # WorkMail inbound messages per 15 minutes in a 20-person organization's busy hour
SCENARIOS: dict[str, list[Scenario]] = {
    "ErrorsSustained": [
        Scenario("quiet night: no invocations, no datapoints", {}, NEVER),
        Scenario(
            "blip: one event fails, its retries 1 and 2 minutes later straddle two periods",
            {"Invocations": INVOCATIONS, "Errors": {5: 2, 6: 1}},
            NEVER,
        ),
        Scenario(
            "steady 5% errors that retries absorb",
            {"Invocations": INVOCATIONS, "Errors": steady(2, 24)},
            NEVER,
        ),
        Scenario(
            "outage: every invocation fails from period 10",
            {"Invocations": INVOCATIONS, "Errors": steady(40, 24, 10)},
            12,
        ),
    ],
    "ThrottlesSustained": [
        Scenario("quiet night", {}, NEVER),
        Scenario("a burst throttled once", {"Throttles": {4: 7}}, NEVER),
        Scenario("two periods of throttling", {"Throttles": {4: 7, 5: 3}}, NEVER),
        Scenario("concurrency exhausted from period 8", {"Throttles": steady(12, 24, 8)}, 10),
    ],
    "EventBacklog": [
        Scenario("quiet night", {}, NEVER),
        Scenario(
            "retries of one failed event wait 3 minutes",
            {"AsyncEventAge": {**steady(200, 24), 6: 180_000, 7: 120_000}},
            NEVER,
        ),
        Scenario(
            "a backlog builds from period 6: the oldest event waits 20 minutes, then longer",
            {"AsyncEventAge": {**steady(200, 6), **{t: 1_200_000 + 300_000 * (t - 6) for t in range(6, 24)}}},
            8,
        ),
    ],
    "FailureQueueNotEmpty": [
        Scenario(
            "idle queue: zeros, then SQS stops publishing",
            {"ApproximateNumberOfMessagesVisible": steady(0, 6)},
            NEVER,
            final=State.OK,
        ),
        Scenario(
            "an event arrives and sits unread while the queue goes quiet",
            {"ApproximateNumberOfMessagesVisible": {**steady(0, 5), 5: 1, 6: 1, 7: 1}},
            5,
            periods=40,
            final=State.ALARM,
        ),
        Scenario(
            "replayed and deleted: the queue reports zero again",
            {"ApproximateNumberOfMessagesVisible": {5: 1, 6: 1, 30: 0}},
            5,
            periods=40,
            final=State.OK,
        ),
    ],
    "EventsDropped": [
        Scenario("quiet night", {}, NEVER),
        Scenario("one event given up after its retries", {"AsyncEventsDropped": {7: 1}}, 7, final=State.OK),
    ],
    "FailureDestinationUnreachable": [
        Scenario("quiet night", {}, NEVER),
        Scenario("one failed event could not be queued", {"DestinationDeliveryFailures": {4: 1}}, 4),
    ],
    "InvalidEvents": [
        Scenario("quiet night: the collector writes no zeros", {}, NEVER),
        Scenario("one unparseable event (never retried)", {"InvalidEvents": {9: 1}}, 9),
    ],
    "InboundCoverageLow": [
        Scenario(
            "quiet night in a 20-person organization: a few messages, one seen late",
            {
                "OrganizationEmailReceived": {0: 3, 1: 1, 4: 2, 7: 4, 9: 1},
                "Messages": {0: 2, 1: 1, 4: 2, 7: 3, 10: 1},
            },
            NEVER,
            periods=16,
        ),
        Scenario("a weekend: WorkMail publishes nothing", {}, NEVER, periods=16),
        Scenario(
            "busy day, the collector sees every message",
            {"OrganizationEmailReceived": steady(DAY_TRAFFIC, 16), "Messages": steady(DAY_TRAFFIC, 16)},
            NEVER,
            periods=16,
        ),
        Scenario(
            "busy day, one message per period lands in the next one",
            {"OrganizationEmailReceived": steady(12, 16), "Messages": steady(11, 16)},
            NEVER,
            periods=16,
        ),
        Scenario(
            "a large organization: the newest period is judged while the collector's metrics trail",
            {"OrganizationEmailReceived": steady(400, 16), "Messages": {**steady(400, 16), 9: 250}},
            NEVER,
            periods=16,
        ),
        Scenario(
            "busy day, SES events of a migration do not count as WorkMail's",
            {
                "OrganizationEmailReceived": steady(DAY_TRAFFIC, 16),
                "Messages": steady(DAY_TRAFFIC // 2, 16),
                "Messages@SES": steady(DAY_TRAFFIC * 2, 16),
            },
            1,
            periods=16,
        ),
        Scenario(
            "the rule is deleted at period 6: the collector falls silent",
            {"OrganizationEmailReceived": steady(DAY_TRAFFIC, 16), "Messages": steady(DAY_TRAFFIC, 6)},
            7,
            periods=16,
        ),
        Scenario(
            "the rule is deleted 2 minutes before period 6 ends: the alarm fires two periods later",
            {
                "OrganizationEmailReceived": steady(DAY_TRAFFIC, 16),
                "Messages": {**steady(DAY_TRAFFIC, 6), 6: 17},
            },
            8,
            periods=16,
        ),
    ],
    "ReconcileDifferences": [
        Scenario("clean days", {"ReconcileDifferences": steady(0, 5)}, NEVER, periods=5),
        Scenario(
            "a difference on day 2 stands until a clean run on day 4 (no run on day 3)",
            {"ReconcileDifferences": {0: 0, 1: 0, 2: 3, 4: 0}},
            2,
            periods=5,
            final=State.OK,
            extra={"state_on_day_3": State.ALARM},
        ),
    ],
    "ReconcileFailed": [
        Scenario("a run that succeeds after a retry", {}, NEVER),
        Scenario("all three attempts fail", {"AsyncEventsDropped": {2: 1}}, 2),
    ],
    "TrailExportFailed": [
        Scenario(
            "every export succeeds: the queue reports zeros, then SQS stops publishing",
            {"ApproximateNumberOfMessagesVisible": steady(0, 6)},
            NEVER,
        ),
        Scenario(
            "a run fails all three attempts: its message waits in the queue",
            {"ApproximateNumberOfMessagesVisible": {**steady(0, 5), 5: 1, 6: 1, 7: 1}},
            5,
        ),
    ],
}


def coverage_scenarios(props: dict[str, Any]) -> list[Scenario]:
    """The coverage scenarios assume the default policy (80%, 5 messages); adapt to the synth's."""
    expression = next(m["Expression"] for m in props["Metrics"] if "Expression" in m)
    threshold, minimum = _policy(expression)
    if (threshold, minimum) == (80, 5):
        return SCENARIOS["InboundCoverageLow"]
    # The reconcile variant: 70% and 8 messages. A scoped rule at 75% passes there, not at 80%.
    assert (threshold, minimum) == (70, 8)
    scoped = {"OrganizationEmailReceived": steady(20, 8), "Messages": steady(15, 8)}
    return [
        Scenario("a rule scoped to 75% of senders", scoped, NEVER, periods=8),
        Scenario(
            "9 messages in each of two periods, none seen",
            {"OrganizationEmailReceived": {3: 9, 4: 9}},
            4,
            periods=8,
        ),
        Scenario(
            "9 messages in one period, none seen", {"OrganizationEmailReceived": {3: 9}}, NEVER, periods=8
        ),
        Scenario(
            "6 messages in each of two periods, none seen: below the minimum",
            {"OrganizationEmailReceived": {3: 6, 4: 6}},
            NEVER,
            periods=8,
        ),
    ]


def _policy(expression: str) -> tuple[int, int]:
    match = re.search(r">= (\d+) AND 100 \* FILL\(collector, 0\) < (\d+) \*", expression)
    assert match, expression
    return int(match.group(2)), int(match.group(1))


def scenarios_for(name: str, props: dict[str, Any]) -> list[Scenario]:
    return coverage_scenarios(props) if name == "InboundCoverageLow" else SCENARIOS[name]


def test_every_alarm_has_scenarios(every_synth: Synth) -> None:
    found = set(alarms(every_synth))
    assert found <= set(SCENARIOS), f"alarms without scenarios: {sorted(found - set(SCENARIOS))}"
    optional = {
        "ReconcileDifferences",
        "ReconcileFailed",
        "InboundCoverageLow",
        "TrailExportFailed",
        "ThrottlesSustained",
    }
    expected = set(SCENARIOS) - optional
    if every_synth.stack.settings.synchronous:  # a throttle fails back to a synchronous caller
        expected.add("ThrottlesSustained")
    if every_synth.stack.settings.reconcile:
        expected |= {"ReconcileDifferences", "ReconcileFailed"}
    if every_synth.stack.settings.trail.enabled:  # on by default
        expected.add("TrailExportFailed")
    if every_synth.stack.settings.workmail:  # WorkMail's own count to check coverage against
        expected.add("InboundCoverageLow")
    assert found == expected


@pytest.mark.parametrize("fill_absent", [True, False], ids=["fill-absent", "fill-present-only"])
def test_alarms_fire_exactly_where_they_should(every_synth: Synth, fill_absent: bool) -> None:
    for name, props in alarms(every_synth).items():
        config = AlarmConfig.from_properties(props)
        for scenario in scenarios_for(name, props):
            states = evaluate(
                config, scenario.provider, scenario.periods, initial=scenario.initial, fill_absent=fill_absent
            )
            where = f"{name}: {scenario.name}: {[s.value[0] for s in states]}"
            assert first_alarm(states) == scenario.fires_at, where
            if scenario.final is not None:
                assert states[-1] is scenario.final, where
            if "state_on_day_3" in scenario.extra:
                assert states[3] is scenario.extra["state_on_day_3"], where


def metric_names(props: dict[str, Any]) -> set[tuple[str, str]]:
    if "MetricName" in props:
        return {(props["Namespace"], props["MetricName"])}
    return {
        (m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
        for m in props["Metrics"]
        if "MetricStat" in m
    }


def test_no_alarm_fires_on_one_datapoint_of_a_retryable_error(every_synth: Synth) -> None:
    for name, props in alarms(every_synth).items():
        if metric_names(props) & RETRYABLE:
            assert props["DatapointsToAlarm"] >= 2, name
            assert props["EvaluationPeriods"] >= props["DatapointsToAlarm"], name


def test_every_alarm_chooses_what_silence_means(every_synth: Synth) -> None:
    for name, props in alarms(every_synth).items():
        assert props.get("TreatMissingData") in {"notBreaching", "ignore", "breaching"}, name


def test_coverage_reads_workmail_and_the_workmail_source_only(every_synth: Synth) -> None:
    if not every_synth.stack.settings.workmail:
        assert "InboundCoverageLow" not in alarms(every_synth)
        return
    props = alarms(every_synth)["InboundCoverageLow"]
    settings = every_synth.stack.settings
    stats = {m["Id"]: m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m}
    workmail = stats["workmail"]["Metric"]
    assert workmail["Namespace"] == "AWS/WorkMail"
    assert workmail["MetricName"] == "OrganizationEmailReceived"
    assert workmail["Dimensions"] == [
        {"Name": settings.workmail_metric_dimension, "Value": settings.organization_id}
    ]
    collector = stats["collector"]["Metric"]
    dims = {d["Name"]: d["Value"] for d in collector["Dimensions"]}
    assert (collector["MetricName"], dims["Source"], dims["FlowDirection"]) == (
        "Messages",
        "WorkMail",
        "INBOUND",
    )
    assert {s["Period"] for s in stats.values()} == {900}
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (2, 2)
    assert _policy(next(m["Expression"] for m in props["Metrics"] if "Expression" in m)) == (
        settings.coverage_threshold,
        settings.coverage_min_messages,
    )


# --------------------------------------------------------------------------------- descriptions

DESCRIPTION = re.compile(
    r"^(Critical|Warning): (?P<what>.{20,}?) First: (?P<first>.{15,}?) "
    r"Runbook: docs/deploy\.md#(?P<anchor>[a-z0-9-]+)$"
)


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def test_every_alarm_says_what_happened_and_what_to_do_first(every_synth: Synth) -> None:
    documented = anchors(DEPLOY_GUIDE)
    described = [r["Properties"] for r in every_synth.resources("AWS::CloudWatch::Alarm").values()]
    described += [r["Properties"] for r in every_synth.resources("AWS::CloudWatch::CompositeAlarm").values()]
    for props in described:
        match = DESCRIPTION.match(props.get("AlarmDescription", ""))
        assert match, f"{props['AlarmName']}: {props.get('AlarmDescription')!r}"
        assert match.group("anchor") in documented, (
            f"{props['AlarmName']}: no runbook heading {match.group('anchor')}"
        )
        severity = match.group(1)
        assert f"-{severity}-" in props["AlarmName"] or props["AlarmName"].endswith("-CollectorHealth")


# ------------------------------------------------------------------------------ composite, actions


def rendered_rule(value: Any) -> str:
    if isinstance(value, str):
        return value
    _, parts = value["Fn::Join"]
    return "".join(p if isinstance(p, str) else p["Fn::GetAtt"][0] for p in parts)


def test_the_composite_pages_for_critical_alarms_only(every_synth: Synth) -> None:
    (composite_id, composite), *others = every_synth.resources("AWS::CloudWatch::CompositeAlarm").items()
    assert not others
    props = composite["Properties"]
    (topic,) = [
        k for k in every_synth.resources("AWS::SNS::Topic") if k.startswith("ObservabilityAlarmTopic")
    ]
    assert props["AlarmActions"] == [{"Ref": topic}] and props["OKActions"] == [{"Ref": topic}]
    children = every_synth.resources("AWS::CloudWatch::Alarm")
    critical = {k for k, r in children.items() if "-Critical-" in r["Properties"]["AlarmName"]}
    warning = set(children) - critical
    assert critical and warning
    rule = rendered_rule(props["AlarmRule"])
    quiet = dict.fromkeys(children, State.OK)
    assert composite_state(rule, quiet) is State.OK
    for child in critical:
        assert composite_state(rule, {**quiet, child: State.ALARM}) is State.ALARM, child
        assert "AlarmActions" not in children[child]["Properties"], (
            "critical alarms page through the composite"
        )
    for child in warning:
        assert composite_state(rule, {**quiet, child: State.ALARM}) is State.OK, child
        assert children[child]["Properties"]["AlarmActions"] == [{"Ref": topic}]
    assert composite_id
