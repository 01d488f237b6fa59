"""The demo's dashboard pages in a real browser (Debian's Chromium, headless, driven by Playwright),
checked as a person would: every widget title, totals equal to the replay's sums, series where the
collector emits data, alarm states, AWS widgets saying where their data is, no script error and no
network request."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from collector.view.definitions import load
from tests.emf import sum_metric
from tests.view.conftest import Demo

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AWS_TEXT = "Data from AWS: shown in CloudWatch after a deploy."


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the system (scripts/test.sh installs Debian's `chromium`); Playwright
    starts it with a fresh profile of its own and downloads nothing."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: scripts/test.sh installs it"
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        yield launched
        launched.close()


@dataclass
class Opened:
    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_page(browser: Browser, path: Path) -> Opened:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    opened = Opened(page)
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on(
        "console", lambda message: opened.errors.append(message.text) if message.type == "error" else None
    )
    page.goto(path.as_uri())
    return opened


def widget(page: Page, title: str) -> Any:
    return page.locator(
        "section.widget", has=page.locator(":scope > h2", has_text=re.compile(f"^{re.escape(title)}$"))
    )


def values(page: Page, title: str) -> dict[str, str]:
    """A single-value widget as read: label -> the number shown."""
    box = widget(page, title)
    labels = box.locator(".sv .label").all_inner_texts()
    shown = box.locator(".sv .value").all_inner_texts()
    return dict(zip(labels, shown, strict=True))


def titles_defined(name: str) -> list[str]:
    definitions = load(frozenset({"WorkMail"}), "WorkMailCollector", "workmail-collector")
    body = next(d["body"] for d in definitions.dashboards if str(d["name"]).endswith(name))
    return [w["properties"]["title"] for w in body["widgets"] if w["type"] != "text"]


@pytest.mark.parametrize("name", ["MailFlow", "Operations"])
def test_every_widget_shows_its_title_offline(browser: Browser, demo: Demo, name: str) -> None:
    path = demo.page(f"-{name}.html")
    assert path.stat().st_size < 1_000_000
    opened = open_page(browser, path)
    shown = opened.page.locator("section.widget > h2").all_inner_texts()
    assert shown == titles_defined(name)
    for title in shown:
        assert widget(opened.page, title).is_visible()
    assert opened.requests == [path.as_uri()], "the page asked the network for something"
    assert opened.errors == []
    opened.page.close()


def test_totals_equal_the_replays_sums(browser: Browser, demo: Demo) -> None:
    lines = demo.emf.read_text().splitlines()
    page = open_page(browser, demo.page("-MailFlow.html")).page
    totals = values(page, "Totals for the selected time range")
    # replay's own summary: recorded by direction, and its EMF metric sums
    assert "recorded by direction: INBOUND 44, OUTBOUND 21, UNKNOWN 0" in demo.replay_summary
    assert "Messages 65, Recipients 245, TruncatedMessages 2, DuplicateInvocations 5, Conflicts 0" in (
        demo.replay_summary
    )
    assert (totals["Messages inbound"], totals["Messages outbound"]) == ("44", "21")
    inbound = sum_metric(lines, "Recipients", FlowDirection="INBOUND")
    outbound = sum_metric(lines, "Recipients", FlowDirection="OUTBOUND")
    assert inbound + outbound == 245
    assert (totals["Recipients inbound"], totals["Recipients outbound"]) == (f"{inbound:g}", f"{outbound:g}")
    assert (totals["TruncatedMessages"], totals["DuplicateInvocations"], totals["InvalidEvents"]) == (
        "2",
        "5",
        "2",
    )
    # the collector writes no zeros: CloudWatch has no datapoint to show, and neither does the page
    assert totals["Conflicts"] == totals["Messages unknown"] == "—"
    coverage = values(page, "WorkMail vs collector, selected time range")
    assert coverage["Collector: inbound messages"] == "44"
    assert coverage["WorkMail: messages received"] == coverage["Inbound coverage (%)"] == "—"
    page.close()


def test_series_show_data_where_the_collector_emits_it(browser: Browser, demo: Demo) -> None:
    page = open_page(browser, demo.page("-MailFlow.html")).page
    graph = widget(page, "Messages: inbound vs outbound")
    drawn = {g.get_attribute("data-series"): g for g in graph.locator("g[data-series]").all()}
    assert set(drawn) == {"Inbound", "Outbound"}
    assert float(drawn["Inbound"].get_attribute("data-sum") or 0) == 44
    assert drawn["Inbound"].locator("circle").first.is_visible()
    assert "Unknown (no data)" in graph.locator(".legend").inner_text()
    rate = widget(page, "Truncation rate (% of messages)").locator("g[data-series]")
    assert rate.get_attribute("data-series") == "Truncated messages (%)"
    assert float(rate.get_attribute("data-sum") or 0) == pytest.approx(100 * 2 / 65)
    page.close()


def test_aws_widgets_say_where_their_data_is(browser: Browser, demo: Demo) -> None:
    page = open_page(browser, demo.page("-Operations.html")).page
    for title in ("Invocations and errors", "Events in the failure queue", "PutItem latency (ms)"):
        box = widget(page, title)
        assert AWS_TEXT in box.inner_text() and box.locator("svg").count() == 0
    reported = widget(page, "Invalid events (quarantined) and conflicts")
    assert reported.locator("g[data-series='InvalidEvents']").count() == 1
    page.close()


def test_alarms_are_evaluated_over_the_same_series(browser: Browser, demo: Demo) -> None:
    page = open_page(browser, demo.page("-MailFlow.html")).page
    tiles = widget(page, "Collector health (CollectorHealth pages for every critical alarm)").locator(
        ".alarm"
    )
    states = {t.get_attribute("data-alarm"): t.inner_text() for t in tiles.all()}
    # two invalid events: the warning (threshold 1, one period) fires; the others read AWS's data
    assert states.pop("WorkMailCollector-Warning-InvalidEvents").endswith("ALARM")
    assert states and all(text.endswith("in AWS") for text in states.values())
    page.close()


def test_the_replay_emf_is_what_the_pages_read(demo: Demo) -> None:
    documents = [orjson.loads(line) for line in demo.emf.read_text().splitlines()]
    assert len(documents) == 72
