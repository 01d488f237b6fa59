"""The Lambda asset: built from the hashed lock for the runtime (cp313, arm64), trimmed, compiled to 3.13."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.assets import BASELINE
from cdk.asset import (
    COLLECTOR,
    KEPT_SERVICES,
    LAMBDA_PLATFORM,
    LOCAL_PLATFORM,
    NEVER_LOADED_SUFFIXES,
    PACKAGE,
    AssetBuildError,
    Interpreter,
    Recipe,
    build,
    build_asset,
    cache_key,
    find_runtime_python,
    lock_disagreements,
    read_lock,
    runtime_requirements,
)
from collector.sampling import generate_events
from tests.cdk.support import LAMBDA_ENV, ROOT, run_probe

EM_AARCH64 = 183
DEV_ONLY = (
    "pytest",
    "hypothesis",
    "moto",
    "mypy",
    "ruff",
    "jsonschema",
    "aws_cdk",
    "constructs",
    "jsii",
    "cdk_nag",
    "cdk_monitoring_constructs",
    "cfnlint",
    "aws_lambda_powertools",
    "pip",
    "setuptools",
    "uv",
    "packaging",
)
# Lambda's python3.13 on arm64, as environment markers see it.
TARGET_MARKERS = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "extra": "",
}
BOTOCORE_DATA_FILES = ("endpoints.json", "partitions.json", "_retry.json", "sdk-default-configuration.json")


@pytest.fixture(scope="module")
def python313() -> Interpreter:
    interpreter = find_runtime_python()
    assert interpreter is not None, "no Python 3.13 here: the asset would ship without bytecode"
    return interpreter


@pytest.fixture(scope="module")
def local_asset() -> Path:
    """The x86_64 twin (same lock and recipe), built by scripts/test.sh, so it can run here."""
    return build_asset(platform=LOCAL_PLATFORM)


def dist_infos(asset: Path) -> dict[str, Path]:
    return {
        canonicalize_name(p.name.removesuffix(".dist-info").rsplit("-", 1)[0]): p
        for p in asset.glob("*.dist-info")
    }


def metadata(dist_info: Path) -> Any:
    return Parser().parsestr((dist_info / "METADATA").read_text())


def wheel_tags(dist_info: Path) -> list[str]:
    message = Parser().parsestr((dist_info / "WHEEL").read_text())
    return message.get_all("Tag") or []


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF shared object"
    return int.from_bytes(header[18:20], "little")


# --- the lock ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", [COLLECTOR, BASELINE], ids=["collector", "baseline"])
def test_the_lock_agrees_with_pyproject(recipe: Recipe) -> None:
    assert lock_disagreements(recipe) == [], "run `bash scripts/lock.sh`"
    pins = read_lock(ROOT / recipe.lock)
    assert all(pin.hashes for pin in pins.values())


def _copy_project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "cdk").mkdir()
    shutil.copy(ROOT / COLLECTOR.lock, tmp_path / COLLECTOR.lock)
    shutil.copytree(ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('    "orjson>=3.10,<4",\n', '    "orjson>=3.10,<4",\n    "requests>=2",\n', "requests"),
        ('"orjson>=3.10,<4"', '"orjson>=3.10,<3.11"', "outside pyproject.toml's orjson"),
        ('    "orjson>=3.10,<4",\n', "", "no longer declares it"),
    ],
    ids=["added", "narrowed", "removed"],
)
def test_the_build_refuses_a_lock_that_disagrees_with_pyproject(
    tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    root = _copy_project(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    assert old in text
    pyproject.write_text(text.replace(old, new))
    problems = lock_disagreements(COLLECTOR, root)
    assert any(complaint in p for p in problems), problems
    with pytest.raises(AssetBuildError, match=r"bash scripts/lock\.sh"):
        build(root, tmp_path / "cache", find_python=False)


def test_a_pin_without_hashes_disagrees(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    lock = root / COLLECTOR.lock
    lines = [line for line in lock.read_text().splitlines() if "--hash=" not in line]
    lock.write_text("\n".join(line.removesuffix(" \\") for line in lines) + "\n")
    problems = lock_disagreements(COLLECTOR, root)
    assert any("no hashes for orjson" in p for p in problems), problems


def test_the_asset_holds_exactly_the_lock_and_nothing_is_missing(asset_dir: Path) -> None:
    pins = read_lock(ROOT / COLLECTOR.lock)
    installed = dist_infos(asset_dir)
    assert set(installed) == set(pins)
    for name, dist_info in installed.items():
        meta = metadata(dist_info)
        assert meta["Version"] == pins[name].version, name
        # The lock is the complete set for the runtime: every requirement that applies on
        # python3.13 / linux / aarch64 is installed at a version it allows.
        for text in meta.get_all("Requires-Dist") or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(TARGET_MARKERS):
                continue
            needed = canonicalize_name(requirement.name)
            assert needed in installed, f"{name} needs {requirement}"
            version = metadata(installed[needed])["Version"]
            assert requirement.specifier.contains(version, prereleases=True), (name, requirement, version)


def test_markers_are_the_runtimes_not_this_interpreters() -> None:
    """pip resolving on this machine's Python installed typing_extensions, which aiohttp only
    needs before 3.13; the lock, resolved for 3.13, leaves it out (and the build installs --no-deps)."""
    marker = Marker('python_version < "3.13"')
    assert not marker.evaluate(TARGET_MARKERS)
    assert "typing-extensions" not in read_lock(ROOT / COLLECTOR.lock)


def test_orjson_is_the_cp313_aarch64_build(asset_dir: Path) -> None:
    orjson = dist_infos(asset_dir)["orjson"]
    tags = wheel_tags(orjson)
    assert tags, "orjson's WHEEL file lists no tags"
    assert all(t.startswith("cp313-cp313-manylinux") and t.endswith("_aarch64") for t in tags), tags
    (shared,) = (asset_dir / "orjson").glob("*.so")
    assert shared.name.endswith(".cpython-313-aarch64-linux-gnu.so")
    assert elf_machine(shared) == EM_AARCH64


def test_every_compiled_file_is_for_the_lambda_platform(asset_dir: Path) -> None:
    shared_objects = list(asset_dir.rglob("*.so"))
    assert shared_objects, "expected compiled extensions (orjson, aiohttp, ...)"
    for path in shared_objects:
        assert elf_machine(path) == EM_AARCH64, path
        assert "x86_64" not in path.name and "cpython-311" not in path.name, path
    for name, dist_info in dist_infos(asset_dir).items():
        for tag in wheel_tags(dist_info):
            _python, abi, platform = tag.split("-")
            assert platform == "any" or platform.endswith("_aarch64"), (name, tag)
            assert abi in ("none", "abi3", "cp313"), (name, tag)


def test_runtime_dependencies_come_from_pyproject_and_are_installed(asset_dir: Path) -> None:
    requirements = [Requirement(r) for r in runtime_requirements(ROOT / "pyproject.toml")]
    assert {canonicalize_name(r.name) for r in requirements} >= {"aioboto3", "aws-embedded-metrics", "orjson"}
    installed = dist_infos(asset_dir)
    for requirement in requirements:
        version = metadata(installed[canonicalize_name(requirement.name)])["Version"]
        assert requirement.specifier.contains(version), (requirement, version)


# --- what the asset holds ----------------------------------------------------------------------------


def test_handler_sits_at_the_asset_root(asset_dir: Path) -> None:
    handler = asset_dir / PACKAGE / "handler.py"
    tree = ast.parse(handler.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert [a.arg for a in functions["handler"].args.args] == ["event", "context"]
    # Lambda imports `collector.handler` with the asset root on sys.path; resolve it the same way
    # (without executing it: the compiled dependencies are for arm64 / 3.13).
    probe = (
        "import importlib.util, sys; sys.path[:0] = [sys.argv[1]]; "
        "print(importlib.util.find_spec('collector.handler').origin)"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-B", "-c", probe, str(asset_dir)], capture_output=True, text=True, check=True
    )
    assert Path(result.stdout.strip()) == handler


def test_collector_sources_are_copied_verbatim(asset_dir: Path) -> None:
    package = ROOT / PACKAGE
    sources = sorted(p.relative_to(ROOT) for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    assert sources
    for relative in sources:
        assert (asset_dir / relative).read_bytes() == (ROOT / relative).read_bytes(), relative


def test_nothing_but_runtime_code(asset_dir: Path) -> None:
    top = {p.name for p in asset_dir.iterdir()}
    for unwanted in (
        "tests",
        "cdk",
        "dashboards",
        "docs",
        "bin",
        "node_modules",
        "samples",
        "cdk.json",
        "pyproject.toml",
    ):
        assert unwanted not in top, unwanted
    installed = set(dist_infos(asset_dir))
    for name in DEV_ONLY:
        assert canonicalize_name(name) not in installed, name
        assert name not in top, name


BYTECODE_CHECK = """
import importlib.util, json, sys
from pathlib import Path
root = Path(sys.argv[1])
report = {"modules": 0, "missing": [], "stale": [], "not_unchecked": [], "orphans": []}
for source in sorted(root.rglob("*.py")):
    report["modules"] += 1
    cached = Path(importlib.util.cache_from_source(str(source)))
    if not cached.exists():
        report["missing"].append(str(source.relative_to(root)))
        continue
    data = cached.read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    if data[:4] != importlib.util.MAGIC_NUMBER or flags != 0b01:
        report["not_unchecked"].append(str(cached.relative_to(root)))
    elif data[8:16] != importlib.util.source_hash(source.read_bytes()):
        report["stale"].append(str(source.relative_to(root)))
for cached in root.rglob("*.pyc"):
    tag = f".{sys.implementation.cache_tag}.pyc"
    if cached.parent.name != "__pycache__" or not cached.name.endswith(tag):
        report["orphans"].append(str(cached.relative_to(root)))
    elif not (cached.parent.parent / (cached.name.split(".")[0] + ".py")).exists():
        report["orphans"].append(str(cached.relative_to(root)))
print(json.dumps(report))
"""


@pytest.mark.parametrize("platform", ["aarch64", "x86_64"])
def test_every_module_has_unchecked_bytecode_of_the_runtime_version_matching_its_source(
    asset_dir: Path, local_asset: Path, python313: Interpreter, platform: str
) -> None:
    """Unchecked hash-based .pyc (PEP 552) never look at the source at import; here, once, at build
    time, each one's recorded source hash is checked against its source with 3.13's own function."""
    root = asset_dir if platform == "aarch64" else local_asset
    result = subprocess.run(
        [python313.path, "-I", "-S", "-c", BYTECODE_CHECK, str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["modules"] > 300
    assert report["missing"] == []
    assert report["stale"] == []
    assert report["not_unchecked"] == []
    assert report["orphans"] == []


def test_what_can_never_be_loaded_is_trimmed(asset_dir: Path) -> None:
    data = asset_dir / "botocore" / "data"
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == sorted(KEPT_SERVICES)
    for name in BOTOCORE_DATA_FILES:
        assert (data / name).is_file(), name
    for service in KEPT_SERVICES:
        assert list((data / service).rglob("service-2.json*")), service
        assert list((data / service).rglob("endpoint-rule-set-1.json*")), service
    assert not [p for p in asset_dir.rglob("*") if p.is_dir() and p.name in ("tests", "test")]
    assert not [p for p in asset_dir.rglob("*") if p.suffix in NEVER_LOADED_SUFFIXES]
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    # 1.5 MB before s3's model (about 260 KB) joined for the trail exporter.
    assert size < 1_800_000, f"botocore/data holds {size} bytes"


def _services_in_code(root: Path) -> set[str]:
    """Every literal service name passed to `open_client(...)` in the package (names resolved to
    module-level string constants of the same module)."""
    services: set[str] = set()
    for path in (root / PACKAGE).rglob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name != "open_client":
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                services.add(first.value)
            elif isinstance(first, ast.Name) and first.id in constants:
                services.add(constants[first.id])
            elif not (path.name == "aws.py" and isinstance(first, ast.Name) and first.id == "service"):
                raise AssertionError(f"{path}: open_client({ast.unparse(first)}) names no known service")
    return services


def test_every_service_the_collector_creates_a_client_for_is_kept() -> None:
    used = _services_in_code(ROOT)
    assert used >= {"dynamodb", "sqs", "secretsmanager", "workmailmessageflow"}
    assert used <= set(KEPT_SERVICES), f"add {sorted(used - set(KEPT_SERVICES))} to KEPT_SERVICES"


def test_the_x86_64_twin_holds_the_same_files(asset_dir: Path, local_asset: Path) -> None:
    """So running the twin here runs what deploys (only the compiled extensions' machine code differs)."""

    def names(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix().replace("x86_64", "aarch64") for p in root.rglob("*")}

    assert names(asset_dir) == names(local_asset)


def test_files_are_readable_by_the_lambda_user(asset_dir: Path) -> None:
    for path in asset_dir.rglob("*"):
        mode = path.stat().st_mode
        assert mode & stat.S_IROTH, path
        if path.is_dir():
            assert mode & stat.S_IXOTH, path


def test_a_second_build_reuses_the_cache_and_drops_what_others_wrote_into_it(asset_dir: Path) -> None:
    built = sorted(p for p in asset_dir.rglob("*.pyc"))
    stray = asset_dir / PACKAGE / "__pycache__" / "handler.cpython-311.pyc"
    stray.write_bytes(b"not for Lambda")
    extra = asset_dir / "orjson" / "__pycache__" / "stray.cpython-313.pyc"
    extra.parent.mkdir(exist_ok=True)
    extra.write_bytes(b"not built")
    started = time.monotonic()
    assert build_asset() == asset_dir
    assert time.monotonic() - started < 5
    assert not stray.exists() and not extra.exists()
    assert sorted(p for p in asset_dir.rglob("*.pyc")) == built


# --- the hash ------------------------------------------------------------------------------------------


def test_the_hash_follows_the_lock_the_recipe_the_sources_and_the_compiler(tmp_path: Path) -> None:
    shutil.copytree(ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    lock = (ROOT / COLLECTOR.lock).read_bytes()
    key = cache_key(tmp_path, lock, bytecode="3.13.0")
    assert key == cache_key(ROOT, lock, bytecode="3.13.0")
    assert len(key) == len(hashlib.sha256().hexdigest())
    changed_lock = lock.replace(b"orjson==3.", b"orjson==9.", 1)
    assert changed_lock != lock
    others = {
        "lock": cache_key(tmp_path, changed_lock, bytecode="3.13.0"),
        "a hash in the lock": cache_key(
            tmp_path, lock.replace(b"sha256:", b"sha256:0", 1), bytecode="3.13.0"
        ),
        "recipe": cache_key(tmp_path, lock, bytecode="3.13.0", builder=b"# another recipe"),
        "compiler": cache_key(tmp_path, lock, bytecode="3.13.7"),
        "no bytecode": cache_key(tmp_path, lock, bytecode=None),
        "platform": cache_key(tmp_path, lock, bytecode="3.13.0", platform=LOCAL_PLATFORM),
    }
    handler = tmp_path / PACKAGE / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    others["sources"] = cache_key(tmp_path, lock, bytecode="3.13.0")
    assert key not in others.values()
    assert len(set(others.values())) == len(others)


def test_the_deployed_hash_is_the_built_directory(asset_dir: Path, python313: Interpreter) -> None:
    lock = (ROOT / COLLECTOR.lock).read_bytes()
    assert asset_dir.name == cache_key(ROOT, lock, platform=LAMBDA_PLATFORM, bytecode=python313.version)


# --- it runs ---------------------------------------------------------------------------------------


@pytest.fixture
def flow_server() -> Iterator[Any]:
    from tests.enrichment.flowserver import MessageFlowServer

    with MessageFlowServer() as server:
        yield server


def probe_env(moto: str, flow: str, **collector: str) -> dict[str, str]:
    """Lambda's variables and the collector's, as the synthesized template sets them."""
    return {
        **LAMBDA_ENV,
        "AWS_ENDPOINT_URL": moto,
        "AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW": flow,
        "AWS_LAMBDA_FUNCTION_NAME": "WorkMailCollector-Function",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_NAMESPACE": "WorkMailCollector",
        "COLLECTOR_SERVICE": "WorkMailCollector",
        "COLLECTOR_RETENTION_DAYS": "365",
        "COLLECTOR_REDACT": "true",
        "COLLECTOR_ENRICH": "true",
        **collector,
    }


MIME = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\nContent-Type: text/plain\r\n\r\nhi\r\n"


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_the_trimmed_asset_runs_every_code_path_of_the_function(
    local_asset: Path, python313: Interpreter, moto_endpoint: str, flow_server: Any, mode: str
) -> None:
    """Python 3.13 -I -S with only the asset on sys.path, as Lambda runs it: DynamoDB store,
    redaction key from Secrets Manager, enrichment from the message-flow API, EMF; in sync mode a
    store that never answers, so the event goes to the SQS failure queue."""
    import boto3

    from tests.conftest import make_table
    from tests.enrichment.flowserver import message_reply
    from tests.failing_server import failing_endpoint

    secret = boto3.client("secretsmanager", endpoint_url=moto_endpoint).create_secret(
        Name=f"key-{uuid.uuid4().hex[:8]}", SecretString="r" * 40
    )["ARN"]
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    queue = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    event = generate_events(seed=31)[0]
    flow_server.add(event["messageId"], message_reply(MIME))
    env = probe_env(
        moto_endpoint,
        flow_server.url,
        COLLECTOR_TABLE_NAME=make_table(moto_endpoint),
        COLLECTOR_REDACTION_KEY_SECRET_ARN=secret,
        COLLECTOR_RULE_MODE=mode,
    )
    spec = {"asset": str(local_asset), "scenario": "handler", "event": event, "request_id": f"probe-{mode}"}
    if mode == "async":
        report = run_probe(python313, {**spec, "read_back": True}, env)
        stored = report["stored"]
        assert stored["status"] == "RECORDED" and stored["enrichment"] == "OK"
        assert stored["sender"].startswith("hmac:")
        (document,) = (json.loads(line) for line in report["emf"])
        assert document["Messages"] == 1
    else:
        env["COLLECTOR_SYNC_BUDGET_SECONDS"] = "8"  # room for a cold start on a loaded machine
        env["COLLECTOR_FAILURE_QUEUE_URL"] = queue
        with failing_endpoint("slow", delay=30.0) as (never, hits):
            env["AWS_ENDPOINT_URL_DYNAMODB"] = never
            report = run_probe(python313, spec, env)
            assert hits
        assert report["response"]["actions"][0]["action"]["type"] == "DEFAULT"
        (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        record = json.loads(message["Body"])
        assert record["requestPayload"] == event
        assert record["requestContext"]["condition"] == "BudgetExceeded"


def test_every_kept_service_has_a_working_client_in_the_asset(
    local_asset: Path, python313: Interpreter, moto_endpoint: str, flow_server: Any
) -> None:
    from tests.enrichment.flowserver import message_reply

    flow_server.add("m-1", message_reply(MIME))
    calls = {
        "dynamodb": ("list_tables", {}),
        "sqs": ("list_queues", {}),
        "secretsmanager": ("list_secrets", {}),
        "workmailmessageflow": ("get_raw_message_content", {"messageId": "m-1"}),
        "cloudwatch": ("list_metrics", {}),
        "s3": ("list_buckets", {}),
    }
    assert set(calls) == set(KEPT_SERVICES), "give each kept service one request here"
    spec = {"asset": str(local_asset), "scenario": "clients", "calls": calls}
    report = run_probe(python313, spec, probe_env(moto_endpoint, flow_server.url))
    assert set(report["answers"]) == set(KEPT_SERVICES)
    assert report["answers"]["workmailmessageflow"]["messageContent"] == MIME.decode()
