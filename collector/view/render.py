"""EMF files -> one HTML page per dashboard the stack deploys (the face of collector/view)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.metrics import SERVICE
from collector.view.definitions import load
from collector.view.emf import Extracted
from collector.view.page import PageInfo, page
from collector.view.widgets import Scope, alarm_views

DURATION = re.compile(r"-?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


class ViewError(ValueError):
    """A user mistake: no EMF file, no metrics of the namespace, an unwritable folder, a bad range."""


@dataclass(frozen=True)
class Rendered:
    pages: list[Path]
    documents: int
    skipped: int


def duration_seconds(text: str) -> int:
    """An ISO 8601 duration as a dashboard's `start` writes it (-P7D, -PT3H), in seconds."""
    match = DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        raise ViewError(f"{text!r} is not an ISO 8601 duration such as P7D or PT3H")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds


def read(paths: Sequence[Path]) -> Extracted:
    extracted = Extracted()
    if not paths:
        raise ViewError("give at least one EMF file (--emf FILE)")
    for path in paths:
        try:
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    extracted.add_line(line)
        except OSError as error:
            raise ViewError(f"cannot read {path}: {error.strerror or error}") from None
    return extracted


def render(
    paths: Sequence[Path],
    out: Path,
    *,
    sources: frozenset[str],
    namespace: str,
    service: str | None = None,
    range_seconds: int | None = None,
) -> Rendered:
    """Writes `<dashboard name>.html` into `out` for every dashboard of the sources setting."""
    extracted = read(paths)
    if namespace not in extracted.namespaces():
        found = ", ".join(sorted(extracted.namespaces())) or "none"
        raise ViewError(
            f"no metrics of namespace {namespace} in {len(paths)} file(s) "
            f"({extracted.documents} EMF documents; namespaces found: {found})"
        )
    services = extracted.dimension_values(namespace, SERVICE)
    if service is None:
        if len(services) != 1:
            raise ViewError(
                f"the EMF documents name several services ({', '.join(sorted(services))}): "
                "pick one with --service"
            )
        service = services.pop()
    try:
        definitions = load(sources, namespace, service)
    except KeyError as error:
        raise ViewError(str(error.args[0])) from None
    newest = extracted.newest()
    assert newest is not None  # the namespace has metrics, so datapoints
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ViewError(f"cannot create {out}: {error.strerror or error}") from None
    pages = []
    for dashboard in definitions.dashboards:
        body = dashboard["body"]
        seconds = range_seconds or duration_seconds(str(body.get("start", "-PT3H")))
        scope = Scope(extracted, namespace, end=math.floor(newest) + 1, seconds=seconds)
        info = PageInfo(
            dashboard=str(dashboard["name"]),
            sources=", ".join(sorted(sources)),
            documents=extracted.documents,
            skipped=extracted.skipped,
            files=[p.name for p in paths],
        )
        path = out / f"{dashboard['name']}.html"
        try:
            path.write_text(page(body, scope, alarm_views(definitions.alarms, scope), info), encoding="utf-8")
        except OSError as error:
            raise ViewError(f"cannot write {path}: {error.strerror or error}") from None
        pages.append(path)
    return Rendered(pages, extracted.documents, extracted.skipped)
