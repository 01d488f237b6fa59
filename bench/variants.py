"""`python -m bench.variants`: what a small change in collector/ would gain, measured, not guessed.

Each variant is a scratch copy of collector/ with a few textual patches, put first on the child's
PYTHONPATH; collector/ itself is never touched. The variants run alternating, in fresh processes,
against the same DynamoDB Local behind the counting proxy, and report the cold start (import +
first invocation) and the handler CPU per warm invocation. A patch whose anchor text is gone fails
loudly: the collector changed, and the variant must be rewritten.

A second table times each SDK stack's imports in a bare interpreter: the part of the cold start
and of the RSS that comes with the stack itself, which no deferral inside collector/ can remove.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    BASELINE,
    OURS,
    Handler,
    Target,
    build_deliveries,
    child_env,
    create_tables,
    dynamodb_client,
    proxied,
    run_child,
)

ROOT = Path(__file__).resolve().parent.parent
Patch = tuple[str, str, str]  # file under collector/, exact old text, new text

NO_VALIDATION: list[Patch] = [
    (
        "aws.py",
        "        max_pool_connections=pool,\n",
        "        max_pool_connections=pool,\n        parameter_validation=False,\n",
    )
]
AIOBOTOCORE: list[Patch] = [
    (
        "aws.py",
        "    import aioboto3  # deferred: the heaviest import of the package,"
        " paid only by paths that need it\n\n"
        "    session = session or aioboto3.Session()\n"
        "    return await stack.enter_async_context(\n"
        "        session.client(service, config=config or client_config(), **kwargs)\n"
        "    )\n",
        "    if session is None:\n"
        "        from aiobotocore.session import get_session\n\n"
        "        creator = get_session().create_client(service, config=config or client_config(), **kwargs)\n"
        "    else:\n"
        "        creator = session.client(service, config=config or client_config(), **kwargs)\n"
        "    return await stack.enter_async_context(creator)\n",
    )
]
VARIANTS: dict[str, list[Patch]] = {
    "as is": [],
    "parameter_validation=False": NO_VALIDATION,
    "aiobotocore session instead of aioboto3": AIOBOTOCORE,
    "both": NO_VALIDATION + AIOBOTOCORE,
}


def make_variant(workdir: Path, name: str, patches: list[Patch]) -> Path:
    """A scratch copy of collector/ with `patches` applied; returns the directory to put on PYTHONPATH."""
    root = workdir / f"variant-{abs(hash(name)) % 10**8}"
    shutil.copytree(ROOT / "collector", root / "collector", ignore=shutil.ignore_patterns("__pycache__"))
    for file, old, new in patches:
        path = root / "collector" / file
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(
                f"variant {name!r}: the text to patch in collector/{file} is gone; rewrite the variant"
            )
        path.write_text(text.replace(old, new))
    return root


@dataclass
class Sample:
    cold_ms: float
    warm_cpu_ms: float
    peak_rss_mb: float


def sample(handler: Handler, root: Path, deliveries: Path, workdir: Path, target: Target) -> Sample:
    """One fresh process with `root`/collector first on sys.path (bench/ still comes from ROOT)."""
    env = child_env(handler, target, create_tables(handler, dynamodb_client(target.endpoint)))
    env["PYTHONPATH"] = f"{root}:{ROOT}"
    report, _, _ = run_child(handler, deliveries, workdir, target.control_port, env, cwd=root)
    assert str(report["module_file"]).startswith(str(root)), f"loaded {report['module_file']}, not {root}"
    return Sample(
        cold_ms=(report["import_s"] + report["first_invocation_s"]) * 1000,
        warm_cpu_ms=statistics.fmean(report["warm_cpu_s"]) * 1000,
        peak_rss_mb=report["peak_rss_kb"] / 1024,
    )


STACK_PROBE = """
import time
start = time.perf_counter()
{imports}
elapsed = time.perf_counter() - start
with open("/proc/self/status") as f:
    rss = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
print(elapsed * 1000, rss / 1024)
"""
STACKS: dict[str, str] = {
    "botocore (both handlers)": "import botocore.session, botocore.client",
    "+ boto3, Powertools Metrics and idempotency (the baseline's stack)": (
        "import botocore.session, botocore.client, boto3\n"
        "from aws_lambda_powertools import Metrics\n"
        "from aws_lambda_powertools.utilities.idempotency import idempotent"
    ),
    "+ asyncio, aiohttp, aiobotocore (ours without aioboto3)": (
        "import botocore.session, botocore.client, asyncio, aiohttp, aiobotocore.session"
    ),
    "+ aioboto3 and aws-embedded-metrics (ours as is)": (
        "import botocore.session, botocore.client, asyncio, aiohttp, aiobotocore.session, aioboto3,"
        " aws_embedded_metrics.logger.metrics_logger"
    ),
    "aiohttp's two import-time SSL contexts, alone": (
        "import ssl; ssl.create_default_context(); ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)"
    ),
}


def import_stacks(repeats: int = 9) -> None:
    """Import cost and RSS of each SDK stack in a bare interpreter: what no deferral can remove."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in STACKS}
    for _ in range(repeats):
        for name, imports in STACKS.items():
            out = subprocess.run(
                [sys.executable, "-c", STACK_PROBE.format(imports=imports)],
                capture_output=True,
                text=True,
                check=True,
                cwd=tempfile.gettempdir(),
            ).stdout.split()
            samples[name].append((float(out[0]), float(out[1])))
    print(f"\nImport stacks in a bare interpreter (medians of {repeats})\n")
    print("| imports | time (ms) | peak RSS (MB) |")
    print("|---|---:|---:|")
    for name, values in samples.items():
        ms = statistics.median(v[0] for v in values)
        mb = statistics.median(v[1] for v in values)
        print(f"| {name} | {ms:.0f} | {mb:.1f} |")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.variants", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--plain-http", action="store_true", help="no TLS between the SDKs and the proxy")
    args = parser.parse_args(argv)

    from bench.dynamodb_local import dynamodb_local

    with tempfile.TemporaryDirectory(prefix="bench-variants-") as tmp, dynamodb_local() as endpoint:
        workdir = Path(tmp)
        deliveries = build_deliveries(args.events, 0.1, seed=7)
        path = workdir / "deliveries.jsonl"
        path.write_text("".join(json.dumps(d) + "\n" for d in deliveries))
        paths = {name: make_variant(workdir, name, patches) for name, patches in VARIANTS.items()}
        paths["Powertools baseline"] = ROOT
        samples: dict[str, list[Sample]] = {name: [] for name in paths}
        with proxied(endpoint, workdir, 256, args.plain_http) as target:
            for n in range(args.rounds + 1):  # round 0 warms DynamoDB Local up and is discarded
                names = list(paths) if n % 2 else list(reversed(paths))
                for name in names:
                    handler = BASELINE if name == "Powertools baseline" else OURS
                    result = sample(handler, paths[name], path, workdir, target)
                    if n:
                        samples[name].append(result)
                print(f"# round {n} done" + (" (warm-up, discarded)" if n == 0 else ""), flush=True)
    reference = samples["as is"]
    cold0 = statistics.median(s.cold_ms for s in reference)
    cpu0 = statistics.median(s.warm_cpu_ms for s in reference)
    rss0 = statistics.median(s.peak_rss_mb for s in reference)
    print(f"\n{args.rounds} rounds x {args.events} invocations; medians over rounds\n")
    print("| variant | cold start (ms) | vs as is | warm CPU (ms) | vs as is | peak RSS (MB) | vs as is |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, values in samples.items():
        cold = statistics.median(s.cold_ms for s in values)
        cpu = statistics.median(s.warm_cpu_ms for s in values)
        rss = statistics.median(s.peak_rss_mb for s in values)
        print(
            f"| {name} | {cold:.0f} | {cold - cold0:+.0f} | {cpu:.3f} | {100 * (cpu / cpu0 - 1):+.0f}% "
            f"| {rss:.1f} | {rss - rss0:+.1f} |"
        )
    import_stacks()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
