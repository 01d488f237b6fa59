"""`workmail-collector dashboard`: the stack's dashboards as offline HTML pages over EMF documents."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from collector.cli.common import Parser, UserError
from collector.config import DEFAULT_NAMESPACE, parse_sources
from collector.view import ViewError, duration_seconds, render


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    p = commands.add_parser(
        "dashboard",
        help="render the stack's dashboards as HTML pages over EMF documents (no AWS account needed)",
        description="One self-contained HTML page per dashboard the stack deploys, over the metrics "
        "in the EMF documents (e.g. replay --emf-out), aggregated as CloudWatch would. Widgets of AWS "
        "metrics keep their place and say their data shows after a deploy.",
    )
    p.add_argument("--emf", nargs="+", required=True, metavar="FILE", help="EMF documents, one per line")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the pages (created if missing)")
    p.add_argument(
        "--sources",
        help="the deployment's sources: workmail, ses or workmail,ses (COLLECTOR_SOURCES, default workmail)",
    )
    p.add_argument(
        "--namespace", help=f"the metric namespace (COLLECTOR_NAMESPACE, default {DEFAULT_NAMESPACE})"
    )
    p.add_argument("--service", help="the Service dimension's value (default: the one in the documents)")
    p.add_argument(
        "--range",
        help="the time range ending at the newest datapoint, ISO 8601 such as PT3H "
        "(default: each dashboard's own)",
    )


def dashboard(args: argparse.Namespace) -> int:
    sources = parse_sources(args.sources or os.environ.get("COLLECTOR_SOURCES", "workmail"), "--sources")
    namespace = args.namespace or os.environ.get("COLLECTOR_NAMESPACE", DEFAULT_NAMESPACE)
    try:
        rendered = render(
            [Path(p) for p in args.emf],
            Path(args.out),
            sources=frozenset(s.value for s in sources),
            namespace=namespace,
            service=args.service,
            range_seconds=duration_seconds(args.range) if args.range else None,
        )
    except ViewError as error:
        raise UserError(str(error)) from None
    for path in rendered.pages:
        print(path)
    return 0
