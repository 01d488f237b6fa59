"""One dashboard -> one self-contained HTML page: the dashboard's grid, and each widget drawn as
inline SVG on the server side (no JavaScript, nothing fetched, nothing to vendor).

The grid is CloudWatch's: 24 columns, each widget at its x, y, width and height. Colours are the
console's default palette, in row order. A line is drawn between datapoints of consecutive periods
and a lone datapoint as a dot, as the console does; each dot carries its value as a tooltip.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collector.view.alarms import State
from collector.view.markdown import to_html
from collector.view.widgets import AlarmView, Line, Scope, compute, parse_rows, single_value

COLUMN = 52  # px per grid column: 24 columns make a 1248 px dashboard
ROW = 42  # px per grid row
TITLE = 26
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
# Nothing may load: no script, image, font or frame; only the page's own style element.
POLICY = "default-src 'none'; style-src 'unsafe-inline'"
AWS_NOTE = "Data from AWS: shown in CloudWatch after a deploy."
STATE_COLOURS = {State.OK: "#1d8102", State.ALARM: "#d13212", State.INSUFFICIENT_DATA: "#687078"}

CSS = """
body{margin:0;background:#f2f3f3;color:#16191f;font:13px/1.35 "Amazon Ember",Helvetica,Arial,sans-serif}
header{padding:12px 16px;background:#232f3e;color:#fff}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:2px 0;color:#d5dbdb}
main{display:grid;grid-template-columns:repeat(24,%(col)spx);grid-auto-rows:%(row)spx;padding:8px}
.widget{margin:4px;background:#fff;border:1px solid #d5dbdb;border-radius:2px;overflow:hidden;
 display:flex;flex-direction:column}
.widget h2{flex-shrink:0;margin:0;padding:6px 10px 0;font-size:14px;font-weight:700;height:%(title)spx;
 box-sizing:border-box;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.text{padding:4px 12px;overflow:auto}.text h1{font-size:18px;margin:4px 0}
.text h2{font-size:15px;margin:4px 0;padding:0;height:auto}.text p{margin:4px 0}
code{background:#f2f3f3;padding:0 3px}
.aws{flex:1;display:flex;align-items:center;justify-content:center;color:#545b64;text-align:center;
 padding:8px;border-top:1px dashed #d5dbdb}
.legend{display:flex;flex-wrap:wrap;gap:2px 12px;padding:0 10px 4px;font-size:12px}
.legend span.key{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
.legend .off{color:#687078;font-style:italic}
.values{display:grid;grid-template-columns:repeat(auto-fill,minmax(108px,1fr));padding:4px 10px;gap:6px 8px}
.sv{overflow-wrap:anywhere}.sv .label{font-size:11px;color:#545b64}
.sv .value{font-size:28px;font-weight:300;line-height:1.2}.sv .note{font-size:11px;color:#687078}
.alarms{display:grid;grid-template-columns:repeat(auto-fill,minmax(390px,1fr));gap:2px 8px;padding:4px 10px;
 overflow:auto}
.alarm{border-left:6px solid;padding:0 8px;background:#fafafa;font-size:12px;line-height:17px;
 white-space:nowrap}
.alarm .state{font-weight:700;margin-left:6px}.alarm.unknown{border-left-style:dashed;color:#545b64}
.alarms-note{padding:0 10px 4px;font-size:11px;color:#545b64}
svg text{font-size:11px;fill:#545b64}
"""


@dataclass(frozen=True)
class PageInfo:
    dashboard: str
    sources: str
    documents: int
    skipped: int
    files: Sequence[str]


def page(body: Mapping[str, Any], scope: Scope, alarms: Mapping[str, AlarmView], info: PageInfo) -> str:
    widgets = "".join(_widget(w, scope, alarms) for w in body.get("widgets", []))
    start, end = _when(scope.start), _when(scope.end)
    skipped = f"; {info.skipped} lines without a metric left out" if info.skipped else ""
    css = CSS % {"col": COLUMN, "row": ROW, "title": TITLE}
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(info.dashboard)}</title>"
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f"<style>{css}</style></head><body>"
        f"<header><h1>{_e(info.dashboard)}</h1>"
        f"<p>{start} to {end} UTC ({_span(scope.seconds)}), ending with the newest datapoint. "
        f"Sources: {_e(info.sources)}.</p>"
        f"<p>Rendered offline from {info.documents} EMF documents ({_e(', '.join(info.files))}){skipped}. "
        f"Widgets of AWS metrics keep their place: their data shows in CloudWatch after a deploy.</p>"
        f"</header><main>{widgets}</main></body></html>\n"
    )


def _widget(widget: Mapping[str, Any], scope: Scope, alarms: Mapping[str, AlarmView]) -> str:
    props: Mapping[str, Any] = widget.get("properties", {})
    kind = str(widget.get("type"))
    x, y = int(widget.get("x", 0)), int(widget.get("y", 0))
    width, height = int(widget.get("width", 6)), int(widget.get("height", 6))
    title = str(props.get("title", ""))
    style = f"grid-column:{x + 1}/span {width};grid-row:{y + 1}/span {height}"
    if kind == "text":
        inner, view = f'<div class="text">{to_html(str(props.get("markdown", "")))}</div>', "text"
        title = ""
    elif kind == "alarm":
        inner, view = _alarms(props, alarms), "alarm"
    elif kind == "metric":
        lines = parse_rows(props)
        view = str(props.get("view", "timeSeries"))
        whole = view == "singleValue" and bool(props.get("setPeriodToTimeRange"))
        compute(lines, scope, whole)
        shown = [line for line in lines if line.visible]
        if shown and all(line.aws for line in shown):
            namespaces = sorted({ln.metric.namespace for ln in lines if ln.metric and ln.aws})
            inner = _aws(f"{', '.join(namespaces)}. {AWS_NOTE}")
        elif view == "singleValue":
            inner = _single_values(shown, bool(props.get("singleValueFullPrecision")))
        else:
            inner = _graph(props, shown, scope, width * COLUMN - 10, height * ROW - 10 - TITLE)
    else:  # log (Logs Insights), custom, explorer...: only AWS has what they show
        inner, view = _aws(f"A {kind} widget. {AWS_NOTE}"), kind
    heading = f"<h2>{_e(title)}</h2>" if title else ""
    return (
        f'<section class="widget" data-kind="{_e(kind)}" data-view="{_e(view)}" '
        f'data-title="{_e(title)}" style="{style}">{heading}{inner}</section>'
    )


def _aws(text: str) -> str:
    return f'<div class="aws" data-aws="true">{_e(text)}</div>'


def _alarms(props: Mapping[str, Any], alarms: Mapping[str, AlarmView]) -> str:
    tiles: list[str] = []
    notes: dict[str, None] = {}
    for arn in props.get("alarms", []):
        view = alarms.get(str(arn))
        if view is None:
            continue
        if view.state is None:
            notes.setdefault(view.note, None)
            tiles.append(
                f'<div class="alarm unknown" data-alarm="{_e(view.name)}" data-state="" '
                f'title="{_e(view.note)}" style="border-color:#aab7b8">{_e(view.name)}'
                '<span class="state">in AWS</span></div>'
            )
            continue
        colour = STATE_COLOURS[view.state]
        since = (
            f" since {_when(view.since)} UTC" if view.since is not None and view.state is State.ALARM else ""
        )
        tiles.append(
            f'<div class="alarm" data-alarm="{_e(view.name)}" data-state="{view.state.value}" '
            f'title="{_e(since.strip())}" style="border-color:{colour}">{_e(view.name)}'
            f'<span class="state" style="color:{colour}">{view.state.value}</span></div>'
        )
    said = "".join(f'<div class="alarms-note">{_e(note)}</div>' for note in sorted(notes) if note)
    return f'<div class="alarms">{"".join(tiles)}</div>{said}'


def _single_values(lines: Sequence[Line], full: bool) -> str:
    items = []
    for line in lines:
        value = single_value(line)
        if line.aws:
            shown, note = "—", "from AWS after a deploy"
        elif line.error:
            shown, note = "—", f"not computed here: {line.error}"
        elif value is None:
            shown, note = "—", "no data in the range"
        else:
            shown, note = _number(value, full), (line.unit or "")
        data_value = "" if value is None or line.aws or line.error else repr(value)
        items.append(
            f'<div class="sv" data-label="{_e(line.label)}" data-value="{data_value}">'
            f'<div class="label">{_e(line.label)}</div><div class="value">{_e(shown)}</div>'
            f'<div class="note">{_e(note)}</div></div>'
        )
    return f'<div class="values">{"".join(items)}</div>'


# ------------------------------------------------------------------------------------ time series


def _graph(props: Mapping[str, Any], lines: Sequence[Line], scope: Scope, width: int, height: int) -> str:
    legend, rows, row_width = [], 1, 0
    for number, line in enumerate(lines):
        colour = PALETTE[number % len(PALETTE)]
        if line.aws:
            note = " (from AWS after a deploy)"
        elif line.error:
            note = f" (not computed here: {line.error})"
        elif not line.has_data:
            note = " (no data)"
        else:
            note = ""
        text = line.label + note
        item_width = 22 + 7 * len(text)
        if row_width + item_width > width - 20 and row_width:
            rows, row_width = rows + 1, 0
        row_width += item_width
        css = ' class="off"' if note else ""
        legend.append(f'<span{css}><span class="key" style="background:{colour}"></span>{_e(text)}</span>')
    plot_height = max(60, height - rows * 17 - 6)
    svg = _svg(props, lines, scope, width, plot_height)
    return f'{svg}<div class="legend">{"".join(legend)}</div>'


def _axis_range(axis: Mapping[str, Any], values: list[float]) -> tuple[float, float]:
    low = float(axis["min"]) if "min" in axis else min([0.0, *values])
    high = float(axis["max"]) if "max" in axis else max([low, *values])
    if high <= low:
        high = low + 1
    if "max" not in axis:
        step = _nice((high - low) / 4)
        high = low + math.ceil((high - low) / step) * step
    return low, high


def _nice(step: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(step))
    return next(float(m * magnitude) for m in (1, 2, 2.5, 5, 10) if m * magnitude >= step)


def _svg(props: Mapping[str, Any], lines: Sequence[Line], scope: Scope, width: int, height: int) -> str:
    axes: Mapping[str, Any] = props.get("yAxis", {})
    right_lines = [ln for ln in lines if ln.right and ln.has_data]
    left_pad, right_pad, top, bottom = 46, 46 if right_lines else 10, 6, 18
    plot_w, plot_h = width - left_pad - right_pad, height - top - bottom
    left_values = [v for ln in lines if not ln.right for v in ln.values.values()]
    left_axis: Mapping[str, Any] = axes.get("left", {})
    annotations = props.get("annotations", {}).get("horizontal", [])
    left_values += [float(a["value"]) for a in annotations if "value" in a]
    scales = {False: _axis_range(left_axis, left_values)}
    scales[True] = _axis_range(axes.get("right", {}), [v for ln in right_lines for v in ln.values.values()])

    def x(t: float) -> float:
        return left_pad + (t - scope.start) / scope.seconds * plot_w

    def y(v: float, right: bool) -> float:
        low, high = scales[right]
        return top + plot_h - (v - low) / (high - low) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<defs><clipPath id="c{id(props)}"><rect x="{left_pad - 4}" y="{top - 4}" '
        f'width="{plot_w + 8}" height="{plot_h + 8}"/></clipPath></defs>',
    ]
    unit = _unit(lines) if left_axis.get("showUnits", True) else None
    for right in (False, True) if right_lines else (False,):
        low, high = scales[right]
        step = _nice((high - low) / 4)
        for i in range(math.floor((high - low) / step + 1e-9) + 1):
            value = low + i * step
            py = y(value, right)
            if not right:
                out.append(f'<line x1="{left_pad}" x2="{left_pad + plot_w}" y1="{py:.1f}" y2="{py:.1f}" ')
                out.append('stroke="#eaeded"/>')
            tx, anchor = (left_pad - 4, "end") if not right else (left_pad + plot_w + 4, "start")
            out.append(
                f'<text x="{tx}" y="{py + 4:.1f}" text-anchor="{anchor}">{_e(_number(value, False))}</text>'
            )
    if unit:
        out.append(f'<text x="4" y="{top + 8}">{_e(unit)}</text>')
    for t, label in _time_ticks(scope):
        px = x(t)
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#f2f3f3"/>')
        out.append(f'<text x="{px:.1f}" y="{height - 4}" text-anchor="middle">{_e(label)}</text>')
    for annotation in annotations:
        py = y(float(annotation["value"]), False)
        out.append(
            f'<line x1="{left_pad}" x2="{left_pad + plot_w}" y1="{py:.1f}" y2="{py:.1f}" '
            f'stroke="#d13212" stroke-dasharray="4 3"/>'
            f'<text x="{left_pad + plot_w - 2}" y="{py - 3:.1f}" text-anchor="end">'
            f"{_e(str(annotation.get('label', '')))}</text>"
        )
    for number, line in enumerate(lines):
        if line.has_data:
            out.append(
                _series(
                    line, PALETTE[number % len(PALETTE)], x, lambda v, r=line.right: y(v, r), f"c{id(props)}"
                )
            )
    out.append("</svg>")
    return "".join(out)


def _series(line: Line, colour: str, x: Any, y: Any, clip: str) -> str:
    """Polylines through consecutive periods (equal runs kept by their ends), dots for lone points."""
    keys = sorted(line.values)
    runs: list[list[int]] = []
    for k in keys:
        if runs and runs[-1][-1] == k - 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    parts = []
    total = math.fsum(line.values.values())
    for run in runs:
        if len(run) == 1:
            k = run[0]
            v = line.values[k]
            parts.append(
                f'<circle cx="{x(k * line.period):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{_e(line.label)}: {_e(_number(v, True))} "
                f"at {_when(k * line.period)} UTC</title></circle>"
            )
            continue
        kept = [
            k
            for i, k in enumerate(run)
            if i in (0, len(run) - 1)
            or not line.values[run[i - 1]] == line.values[k] == line.values[run[i + 1]]
        ]
        points = " ".join(f"{x(k * line.period):.1f},{y(line.values[k]):.1f}" for k in kept)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    return (
        f'<g clip-path="url(#{clip})" data-series="{_e(line.label)}" data-points="{len(keys)}" '
        f'data-sum="{total!r}">{"".join(parts)}</g>'
    )


def _time_ticks(scope: Scope) -> list[tuple[float, str]]:
    steps = (300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
    step = next((s for s in steps if scope.seconds / s <= 8), steps[-1])
    first = math.ceil(scope.start / step) * step
    ticks = []
    for t in range(int(first), int(scope.end) + 1, step):
        moment = datetime.fromtimestamp(t, UTC)
        label = (
            moment.strftime("%m-%d")
            if step >= 86400 or (moment.hour, moment.minute) == (0, 0)
            else moment.strftime("%H:%M")
        )
        ticks.append((float(t), label))
    return ticks


def _unit(lines: Sequence[Line]) -> str | None:
    units = {line.unit for line in lines if line.has_data and not line.right}
    return units.pop() if len(units) == 1 else None


def _number(value: float, full: bool) -> str:
    if full or abs(value) < 1000:
        if value == int(value):
            return str(int(value))
        return f"{value:.{2 if full or abs(value) >= 1 else 3}f}".rstrip("0").rstrip(".")
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def _span(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days > 1 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
