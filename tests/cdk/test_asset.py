"""The Lambda asset: built for the runtime (cp313, arm64), holding the collector and its runtime deps only."""

from __future__ import annotations

import ast
import hashlib
import shutil
import stat
import subprocess
import sys
import time
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cdk.asset import PACKAGE, build_asset, cache_key, runtime_requirements
from tests.cdk.support import ROOT

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
)


def dist_infos(asset: Path) -> dict[str, Path]:
    return {
        canonicalize_name(p.name.removesuffix(".dist-info").rsplit("-", 1)[0]): p
        for p in asset.glob("*.dist-info")
    }


def wheel_tags(dist_info: Path) -> list[str]:
    message = Parser().parsestr((dist_info / "WHEEL").read_text())
    return message.get_all("Tag") or []


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF shared object"
    return int.from_bytes(header[18:20], "little")


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
        dist_info = installed[canonicalize_name(requirement.name)]
        version = Parser().parsestr((dist_info / "METADATA").read_text())["Version"]
        assert requirement.specifier.contains(version), (requirement, version)


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
    assert not [p for p in asset_dir.rglob("__pycache__")]
    assert not [p for p in asset_dir.rglob("*.pyc")]
    installed = set(dist_infos(asset_dir))
    for name in DEV_ONLY:
        assert canonicalize_name(name) not in installed, name
        assert name not in top, name


def test_files_are_readable_by_the_lambda_user(asset_dir: Path) -> None:
    for path in asset_dir.rglob("*"):
        mode = path.stat().st_mode
        assert mode & stat.S_IROTH, path
        if path.is_dir():
            assert mode & stat.S_IXOTH, path


def test_a_second_build_reuses_the_cache_without_stray_bytecode(asset_dir: Path) -> None:
    stray = asset_dir / PACKAGE / "__pycache__"
    stray.mkdir(exist_ok=True)
    (stray / "handler.cpython-311.pyc").write_bytes(b"not for Lambda")
    started = time.monotonic()
    assert build_asset() == asset_dir
    assert time.monotonic() - started < 2
    assert not stray.exists()


def test_the_cache_key_follows_sources_and_dependencies(tmp_path: Path) -> None:
    shutil.copytree(ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    requirements = runtime_requirements(ROOT / "pyproject.toml")
    key = cache_key(tmp_path, requirements)
    assert key == cache_key(ROOT, requirements)
    assert cache_key(tmp_path, (*requirements, "extra-package")) != key
    handler = tmp_path / PACKAGE / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    assert cache_key(tmp_path, requirements) != key
    assert len(key) == len(hashlib.sha256().hexdigest())
