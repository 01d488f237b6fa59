"""Runs inside the built asset: `python3.13 -I -S -B asset_probe.py SPEC_JSON`, nothing else on sys.path.

Started by the asset tests (tests/cdk/support.py `run_probe`), one fresh process per scenario (each
a cold start). Only the standard library is imported before the asset goes first on sys.path (and
a layer's `python/` after it: `paths`, the order Lambda gives /var/task and /opt/python), so every
module the code paths need must come from them: a trimmed-away model or test package shows up
here as the error the function would raise on Lambda. Prints one JSON document on stdout.

Scenarios:
* `handler`: the collector's Lambda entry point with the environment the test gives it (the
  template's).
* `clients`: one client per kept botocore service, each making one request.
* `entry`: another function's entry point (`module`: the index consumer's, the exporter's), handed
  `event` with no context.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import json
import sys
from typing import Any


class Context:
    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self.function_version = "1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def loaded_from_outside(roots: list[str]) -> list[str]:
    """Modules that came neither from the asset (and its layer) nor from the standard library."""
    allowed = (*roots, sys.base_prefix)
    outside = []
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if origin and not origin.startswith(allowed) and not origin.endswith("asset_probe.py"):
            outside.append(f"{name}: {origin}")
    return outside


def run_handler(spec: dict[str, Any]) -> dict[str, Any]:
    import collector.handler as entry

    captured = io.StringIO()
    stdout, sys.stdout = sys.stdout, captured
    try:
        response = entry.handler(spec["event"], Context(spec["request_id"]))
    finally:
        sys.stdout = stdout
    stored = None
    if entry._container is not None and entry._loop is not None:
        if spec.get("read_back"):
            store = entry._container.pipeline.store
            stored = entry._loop.run_until_complete(store.get(spec["event"]["invocationId"]))
        entry._loop.run_until_complete(entry._container.close())
    return {"response": response, "emf": captured.getvalue().splitlines(), "stored": stored}


async def run_clients(spec: dict[str, Any]) -> dict[str, Any]:
    from collector import aws

    answers: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        for service, (operation, params) in spec["calls"].items():
            client = await aws.open_client(service, stack)
            answer = await getattr(client, operation)(**params)
            body = answer.get("messageContent")
            if body is not None:
                answer["messageContent"] = (await body.read()).decode()
            answers[service] = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    return answers


def main() -> None:
    spec = json.loads(sys.argv[1])
    roots = [spec["asset"], *spec.get("paths", [])]
    sys.path[:0] = roots
    if spec["scenario"] == "handler":
        result = run_handler(spec)
    elif spec["scenario"] == "entry":
        result = {"answer": importlib.import_module(spec["module"]).handler(spec["event"], None)}
    else:
        result = {"answers": asyncio.run(run_clients(spec))}
    result["outside"] = loaded_from_outside(roots)
    result["executable"] = sys.executable
    result["version"] = list(sys.version_info[:2])
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
