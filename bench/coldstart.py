"""`python -m bench.coldstart`: the cold start of the packages that deploy, ours against Powertools'.

What Lambda runs is the asset `cdk/asset.py` builds, not the development virtual environment. Each
handler is packaged by the same recipe from its own hashed lock (bench/assets.py: x86_64 twins,
since this machine cannot run aarch64), copied, made read-only (a read-only bind mount when this
process may make one, else file modes) so no bytecode can be written, and run in a clean
`python3.13 -I -S` with only that copy on sys.path and the environment the synthesized template
sets (TEMPLATE_ENVIRONMENT; tests/cdk/test_bench_environment.py holds it to the template). The
handlers alternate, a fresh process each, against DynamoDB Local behind the counting TLS proxy.

Measured per process (bench/child.py): the handler module's import, the first invocation (event
loop, SDK session and client, first TLS handshake, one PutItem), and peak RSS (VmHWM).

`--levers` adds variants of our asset, each a patched copy recompiled the same way, to measure
what each change would gain (see bench/README.md, "Cold start of the asset: the levers").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.assets import RECIPES, build_local
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
from bench.variants import AIOBOTOCORE, Patch
from cdk.asset import Interpreter, compile_bytecode, find_runtime_python, paths_under

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "bench" / "child.py"
TABLE = "{audit table}"
# The function's environment in the synthesized template with the default settings
# (`cdk deploy -c organizationId=...`), the table's Ref replaced by the bench's own table.
TEMPLATE_ENVIRONMENT = {
    "COLLECTOR_STORE": "dynamodb",
    "COLLECTOR_TABLE_NAME": TABLE,
    "COLLECTOR_NAMESPACE": "WorkMailCollector",
    "COLLECTOR_SERVICE": "WorkMailCollector",
    "COLLECTOR_RETENTION_DAYS": "7",
    "COLLECTOR_REDACT": "false",
    "COLLECTOR_ENRICH": "false",
    "COLLECTOR_RULE_MODE": "async",
    "COLLECTOR_TIME_INDEX": "stream",
}

# --- levers: patches to the asset's collector/ (anchors must match exactly once) --------------------

# EMF written with orjson directly, and the two names checked without aws-embedded-metrics: any
# import of an aws_embedded_metrics submodule runs the package's __init__, which imports
# MetricsLogger -> environment_detector -> EC2Environment -> aiohttp.
EMF_IMPORTS = (
    "from aws_embedded_metrics.environment import Environment\n"
    "from aws_embedded_metrics.logger.metrics_context import MetricsContext\n"
    "from aws_embedded_metrics.logger.metrics_logger import MetricsLogger\n"
    "from aws_embedded_metrics.serializers import Serializer\n"
    "from aws_embedded_metrics.sinks import Sink\n"
)
EMF_WRITER = '''

class EmfWriter:
    """One EMF document per outcome, built with orjson: no aws-embedded-metrics import."""

    def __init__(self, namespace, service, write, features=frozenset()):
        self._namespace = namespace
        self._service = service
        self._write = write
        self.features = features
        self._catalog = catalog_for(features)

    async def emit(self, outcome, invocation, properties):
        body = {SERVICE: self._service, FLOW_DIRECTION: outcome.direction.value}
        body["invocationId"] = outcome.dedupe_key
        body["status"] = outcome.status.value
        if outcome.message_id is not None and len(outcome.message_id) <= MAX_MESSAGE_ID_CHARS:
            body["messageId"] = outcome.message_id
        body["requestId"] = invocation.request_id
        body.update(properties)
        metrics = []
        for spec in self._catalog:
            body[spec.name] = spec.value(outcome)
            metrics.append({"Name": spec.name, "Unit": spec.unit})
        body["_aws"] = {
            "Timestamp": int(invocation.received_at.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": self._namespace,
                    "Dimensions": [list(d) for d in DIMENSION_SETS],
                    "Metrics": metrics,
                }
            ],
        }
        self._write(orjson.dumps(body).decode().translate(LINE_BREAK_ESCAPES) + "\\n")
'''
CONFIG_CHECK_OLD = (
    "    from aws_embedded_metrics.exceptions import InvalidDimensionError, InvalidNamespaceError\n"
    "    from aws_embedded_metrics.validator import validate_dimension_set, validate_namespace\n"
)
CONFIG_CHECK_NEW = (
    "    class InvalidDimensionError(ValueError): ...\n"
    "    class InvalidNamespaceError(ValueError): ...\n\n"
    "    def validate_namespace(value):\n"
    "        import re\n"
    "        if not re.fullmatch(r'[a-zA-Z0-9._#:/-]{1,255}', value):\n"
    "            raise InvalidNamespaceError(value)\n\n"
    "    def validate_dimension_set(dimensions):\n"
    "        for key, value in dimensions.items():\n"
    "            if not key or not value or len(key) > 250 or len(value) > 1024 or not value.isascii():\n"
    "                raise InvalidDimensionError(key)\n"
)


def _emf_patches(metrics_text: str) -> list[Patch]:
    """Replace the writer's aws-embedded-metrics classes (everything after the serializer's escapes)."""
    start = metrics_text.index("\n\nclass OrjsonSerializer(")
    return [
        ("metrics.py", EMF_IMPORTS, ""),
        ("metrics.py", metrics_text[start:], EMF_WRITER),
        ("config.py", CONFIG_CHECK_OLD, CONFIG_CHECK_NEW),
    ]


# The container (clients included) built during Lambda's init phase, at import, instead of on the
# first invocation: AWS's advice for SDK clients. Asynchronous rule only (a sync rule's setup must
# stay inside its budget, which starts at the invocation).
INIT_CLIENTS: list[Patch] = [
    (
        "handler.py",
        "_imported_at = time.monotonic()\n",
        "_imported_at = time.monotonic()\n\n\n"
        "def _init() -> None:\n"
        "    global _settings\n"
        "    import os\n\n"
        "    mode = os.environ.get('COLLECTOR_RULE_MODE', 'async')\n"
        "    if os.environ.get('AWS_LAMBDA_FUNCTION_NAME') and mode == 'async':\n"
        "        _settings = Settings.from_env()\n"
        "        _event_loop().run_until_complete(_start(_settings))\n",
    ),
    (
        "handler.py",
        "def handler(event: Any, context: Any) -> dict[str, Any]:\n",
        "_init()\n\n\ndef handler(event: Any, context: Any) -> dict[str, Any]:\n",
    ),
]


# A synchronous botocore client behind the same awaitable calls (one event per invocation gains
# nothing from async): no aioboto3, aiobotocore or aiohttp on the Lambda path. A measurement of
# the stack, not a design: the calls block the loop, which only the CLI's concurrency would feel.
SYNC_BOTOCORE: list[Patch] = [
    (
        "aws.py",
        "    import aioboto3  # deferred: the heaviest import of the package,"
        " paid only by paths that need it\n\n"
        "    session = session or aioboto3.Session()\n"
        "    return await stack.enter_async_context(\n"
        "        session.client(service, config=config or client_config(), **kwargs)\n"
        "    )\n",
        "    import botocore.session\n\n"
        "    client = botocore.session.get_session().create_client(\n"
        "        service, config=config or client_config(), **kwargs\n"
        "    )\n"
        "    stack.callback(client.close)\n\n"
        "    class Awaitable:\n"
        "        def __getattr__(self, name):\n"
        "            method = getattr(client, name)\n\n"
        "            async def call(**arguments):\n"
        "                return method(**arguments)\n\n"
        "            return call\n\n"
        "    return Awaitable()\n",
    )
]


@dataclass(frozen=True)
class Variant:
    label: str
    handler: Handler
    bytecode: str | None = "unchecked-hash"  # compileall's invalidation mode; None: no bytecode
    patches: Callable[[Path], list[Patch]] = lambda _root: []


AS_DEPLOYED = Variant("workmail-collector asset", OURS)
BASELINE_ASSET = Variant("Powertools baseline asset", BASELINE)
LEVERS = (
    Variant("ours, no bytecode (the package as first shipped)", OURS, bytecode=None),
    Variant("ours, checked-hash bytecode", OURS, bytecode="checked-hash"),
    Variant(
        "ours, EMF without importing aws-embedded-metrics",
        OURS,
        patches=lambda root: _emf_patches((root / "collector" / "metrics.py").read_text()),
    ),
    Variant("ours, aiobotocore session instead of aioboto3", OURS, patches=lambda _root: AIOBOTOCORE),
    Variant("ours, clients created during init", OURS, patches=lambda _root: INIT_CLIENTS),
    Variant("ours, sync botocore client (no aiobotocore)", OURS, patches=lambda _root: SYNC_BOTOCORE),
    Variant(
        "ours, sync botocore + EMF without aws-embedded-metrics (no aiohttp)",
        OURS,
        patches=lambda root: [*_emf_patches((root / "collector" / "metrics.py").read_text()), *SYNC_BOTOCORE],
    ),
    Variant(
        "ours, all three code levers",
        OURS,
        patches=lambda root: [
            *_emf_patches((root / "collector" / "metrics.py").read_text()),
            *AIOBOTOCORE,
            *INIT_CLIENTS,
        ],
    ),
)


# --- preparing the read-only copies ---------------------------------------------------------------


def prepare(variant: Variant, workdir: Path, python: Interpreter) -> Path:
    """A copy of the variant's asset, patched and compiled like the build does, then read-only."""
    recipe = RECIPES[variant.handler.name]  # a handler's package is built by its recipe of that name
    source = build_local(recipe, bytecode=variant.bytecode is not None).directory
    copy = workdir / f"asset-{abs(hash(variant.label)) % 10**8}"
    shutil.copytree(source, copy)
    patches = variant.patches(copy)
    for file, old, new in patches:
        path = copy / "collector" / file
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(f"lever {variant.label!r}: the text to patch in collector/{file} is gone")
        path.write_text(text.replace(old, new))
    if variant.bytecode is not None and (patches or variant.bytecode != "unchecked-hash"):
        compile_bytecode(copy, python, mode=variant.bytecode)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return copy


def read_only_prefix(probe_dir: Path) -> tuple[list[str], str]:
    """How to run a child so its asset cannot be written: (command prefix, description)."""
    if os.geteuid() != 0:
        return [], "read-only file modes"
    mount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"'
    check = subprocess.run(
        ["unshare", "-m", "sh", "-c", f'{mount} && ! touch "$0/.write-probe" 2>/dev/null', str(probe_dir)],
        capture_output=True,
        check=False,
    )
    if check.returncode == 0:
        return ["unshare", "-m", "sh", "-c", f'{mount} && exec "$@"'], "a read-only bind mount"
    return [], "read-only file modes (root may still write; `python -B` keeps it from writing bytecode)"


# --- measuring -----------------------------------------------------------------------------------------


@dataclass
class Samples:
    variant: Variant
    import_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)  # import + first invocation, per round
    cpu_ms: list[float] = field(default_factory=list)
    first_rss_mb: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)

    def add(self, report: dict[str, Any]) -> None:
        self.import_ms.append(report["import_s"] * 1000)
        self.first_ms.append(report["first_invocation_s"] * 1000)
        self.cold_ms.append(self.import_ms[-1] + self.first_ms[-1])
        self.cpu_ms.append((report["import_cpu_s"] + report["first_invocation_cpu_s"]) * 1000)
        self.first_rss_mb.append(report["rss_after_first_kb"] / 1024)
        self.peak_rss_mb.append(report["peak_rss_kb"] / 1024)

    def median(self, name: str) -> float:
        values: list[float] = getattr(self, name)
        return statistics.median(values)


def asset_env(handler: Handler, target: Target, tables: dict[str, str], copy: Path) -> dict[str, str]:
    env = child_env(handler, target, tables)
    env.pop("PYTHONPATH")  # -I ignores it anyway
    env["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.13"
    env["LAMBDA_TASK_ROOT"] = str(copy)
    if handler is OURS:
        env.update({k: tables["audit"] if v == TABLE else v for k, v in TEMPLATE_ENVIRONMENT.items()})
    return env


def sample(
    variant: Variant,
    copy: Path,
    python: Interpreter,
    prefix: list[str],
    deliveries: Path,
    workdir: Path,
    target: Target,
) -> dict[str, Any]:
    tables = create_tables(variant.handler, dynamodb_client(target.endpoint))
    env = asset_env(variant.handler, target, tables, copy)
    flags = ["-B"] if not prefix and os.geteuid() == 0 else []
    command = [*prefix, str(copy), python.path, "-I", "-S", *flags, str(CHILD)] if prefix else None
    command = command or [python.path, "-I", "-S", *flags, str(CHILD)]
    report, _, _ = run_child(
        variant.handler,
        deliveries,
        workdir,
        target.control_port,
        env,
        cwd=Path(tempfile.gettempdir()),
        command=command,
        extra_spec={"path": [str(copy)]},
    )
    module_file = str(report["module_file"])
    if not module_file.startswith(str(copy)):
        raise SystemExit(f"{variant.label}: loaded {module_file}, not the asset in {copy}")
    return report


@contextmanager
def writable_afterwards(paths: list[Path]) -> Iterator[None]:
    try:
        yield
    finally:
        for root in paths:
            for path in [root, *root.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)


def measure(
    variants: list[Variant],
    rounds: int,
    events: int,
    plain_http: bool = False,
    log: Callable[..., None] = print,
    endpoint: str | None = None,
) -> tuple[dict[str, Samples], str, Interpreter]:
    """`endpoint`: a running DynamoDB Local to use (default: start one)."""
    python = find_runtime_python()
    if python is None:
        raise SystemExit("the asset cold start needs a Python 3.13 interpreter (see docs/deploy.md)")
    from bench.dynamodb_local import dynamodb_local

    samples = {v.label: Samples(v) for v in variants}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-coldstart-")))
        endpoint = endpoint or stack.enter_context(dynamodb_local())
        copies = {v.label: prepare(v, workdir, python) for v in variants}
        listings = {label: paths_under(copy) for label, copy in copies.items()}
        prefix, how = read_only_prefix(next(iter(copies.values())))
        deliveries = workdir / "deliveries.jsonl"
        deliveries.write_text("".join(json.dumps(d) + "\n" for d in build_deliveries(events, 0.0, seed=5)))
        restore = writable_afterwards(list(copies.values()))
        with restore, proxied(endpoint, workdir, 256, plain_http) as target:
            for n in range(rounds + 1):  # round 0 warms DynamoDB Local and the page cache; discarded
                order = variants if n % 2 else list(reversed(variants))
                for variant in order:
                    copy = copies[variant.label]
                    report = sample(variant, copy, python, prefix, deliveries, workdir, target)
                    if n:
                        samples[variant.label].add(report)
                log(f"# cold start round {n}{' (warm-up, discarded)' if n == 0 else ''} done", flush=True)
            for label, copy in copies.items():
                if paths_under(copy) != listings[label]:
                    raise SystemExit(f"{label}: a child wrote into its read-only asset copy")
    return samples, how, python


# --- reporting ------------------------------------------------------------------------------------------

ROWS = (
    ("cold start: import (ms)", "import_ms", ".0f"),
    ("cold start: first invocation (ms)", "first_ms", ".0f"),
    ("cold start: import + first invocation (ms)", "cold_ms", ".0f"),
    ("cold start CPU (ms)", "cpu_ms", ".0f"),
    ("RSS after the first invocation (MB)", "first_rss_mb", ".1f"),
    ("peak RSS (MB)", "peak_rss_mb", ".1f"),
)


def headline(ours: Samples, base: Samples) -> tuple[list[str], list[tuple[str, bool, str]]]:
    lines = [
        "| built asset, python3.13 -I -S, read-only | workmail-collector | Powertools baseline "
        "| ours / baseline |",
        "|---|---:|---:|---:|",
    ]
    for label, name, spec in ROWS:
        a, b = ours.median(name), base.median(name)
        lines.append(f"| {label} | {a:{spec}} | {b:{spec}} | {a / b:.2f} |")
    cold, cold_base = ours.median("cold_ms"), base.median("cold_ms")
    cpu, cpu_base = ours.median("cpu_ms"), base.median("cpu_ms")
    rss, rss_base = ours.median("peak_rss_mb"), base.median("peak_rss_mb")
    targets = [
        (
            "asset cold start no slower than the Powertools asset's",
            cold <= cold_base,
            f"{cold:.0f} vs {cold_base:.0f} ms, {cold / cold_base:.2f}x",
        ),
        (
            "asset cold start CPU no more than the Powertools asset's",
            cpu <= cpu_base,
            f"{cpu:.0f} vs {cpu_base:.0f} ms, {cpu / cpu_base:.2f}x",
        ),
        (
            "asset peak RSS no higher than the Powertools asset's",
            rss <= rss_base,
            f"{rss:.1f} vs {rss_base:.1f} MB, {rss / rss_base:.2f}x",
        ),
    ]
    return lines, targets


def paired(s: Samples, reference: Samples, name: str) -> float:
    """Median over rounds of the per-round difference: the rounds alternate, so a round's load
    (other work on the machine) weighs on both samples of the pair alike."""
    mine: list[float] = getattr(s, name)
    theirs: list[float] = getattr(reference, name)
    return statistics.median(a - b for a, b in zip(mine, theirs, strict=True))


def lever_table(samples: dict[str, Samples]) -> list[str]:
    reference = samples[AS_DEPLOYED.label]
    lines = [
        "| variant (asset, python3.13 -I -S) | import (ms) | first invocation (ms) | cold start (ms) "
        "| vs as deployed | cold start CPU (ms) | vs as deployed | peak RSS (MB) | vs as deployed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, s in samples.items():
        lines.append(
            f"| {label} | {s.median('import_ms'):.0f} | {s.median('first_ms'):.0f} "
            f"| {s.median('cold_ms'):.0f} "
            f"| {paired(s, reference, 'cold_ms'):+.0f} | {s.median('cpu_ms'):.0f} "
            f"| {paired(s, reference, 'cpu_ms'):+.0f} | {s.median('peak_rss_mb'):.1f} "
            f"| {paired(s, reference, 'peak_rss_mb'):+.1f} |"
        )
    return lines


def run(
    rounds: int, events: int, levers: bool, plain_http: bool = False, endpoint: str | None = None
) -> dict[str, Any]:
    """Measure and print; returns the figures (for `python -m bench --json`)."""
    variants = [AS_DEPLOYED, BASELINE_ASSET, *(LEVERS if levers else ())]
    samples, how, python = measure(variants, rounds, events, plain_http, endpoint=endpoint)
    ours, base = samples[AS_DEPLOYED.label], samples[BASELINE_ASSET.label]
    lines, targets = headline(ours, base)
    print(
        f"\n## Cold start of the built assets (x86_64 twins of the deployed lock and recipe; CPython "
        f"{python.version}; {how}; medians of {rounds} alternating rounds)\n"
    )
    print("\n".join(lines))
    print("\n## Targets (asset cold start)\n")
    for name, ok, detail in targets:
        print(f"- [{'x' if ok else ' '}] {name}: {'MET' if ok else 'MISSED'} ({detail})")
    if levers:
        print(
            "\n## Levers (each a patched copy of our asset, compiled the same way; medians; 'vs as"
            " deployed' is the median of the per-round differences)\n"
        )
        print("\n".join(lever_table(samples)))
    return {
        "python": python.version,
        "read_only": how,
        "figures": {label: {name: s.median(name) for _, name, _ in ROWS} for label, s in samples.items()},
        "targets": targets,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    parser.add_argument("--events", type=int, default=3, help="invocations per process (default 3)")
    parser.add_argument("--levers", action="store_true", help="also measure each lever's variant")
    parser.add_argument("--plain-http", action="store_true", help="no TLS between the SDKs and the proxy")
    args = parser.parse_args(argv)
    run(args.rounds, args.events, args.levers, args.plain_http)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
