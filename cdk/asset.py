"""The Lambda code asset, built without Docker and cached.

Why not Docker bundling: CI and many laptops have no Docker. pip can install wheels for another
platform (`--platform ... --only-binary=:all:`), so compiled dependencies such as orjson match the
Lambda runtime (Python 3.13 on arm64) whatever machine runs `cdk synth`.

The directory is keyed on everything that changes its contents (the runtime dependencies read from
pyproject.toml, the collector's sources, the target platform), so repeated synths
reuse it and CDK gets a stable asset hash without fingerprinting tens of megabytes of botocore.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / "build" / "lambda-asset"
PYTHON_VERSION = "3.13"
IMPLEMENTATION = "cp"
# Lambda's python3.13 runtime is Amazon Linux 2023 (glibc 2.34): manylinux2014 (glibc 2.17) wheels and
# manylinux_2_28 wheels both run there. Listing both keeps working if a dependency drops 2014 wheels.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
PACKAGE = "collector"
PIP_TIMEOUT_SECONDS = 900
# Bump when the build steps below change in a way the inputs do not capture.
BUILD_RECIPE = "3"
SKIP_PARTS = frozenset({"__pycache__"})
SKIP_SUFFIXES = (".pyc", ".pyo")


class AssetBuildError(RuntimeError):
    """pip could not produce the Lambda dependencies; the message carries pip's own output."""


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> tuple[str, ...]:
    """The collector's runtime dependencies, exactly as pyproject.toml declares them."""
    with pyproject.open("rb") as handle:
        data = tomllib.load(handle)
    return tuple(data["project"]["dependencies"])


def _package_files(root: Path) -> list[Path]:
    base = root / PACKAGE
    return sorted(
        p
        for p in base.rglob("*")
        if p.is_file()
        and not SKIP_PARTS.intersection(p.relative_to(root).parts)
        and not p.name.endswith(SKIP_SUFFIXES)
    )


def cache_key(root: Path, requirements: Sequence[str]) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("recipe", BUILD_RECIPE.encode())
    add("target", f"{IMPLEMENTATION}{PYTHON_VERSION}:{','.join(PLATFORMS)}".encode())
    add("requirements", "\n".join(requirements).encode())
    for path in _package_files(root):
        add(path.relative_to(root).as_posix(), path.read_bytes())
    return digest.hexdigest()


def pip_command(target: Path, requirements: Iterable[str]) -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        *platforms,
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        IMPLEMENTATION,
        "--target",
        str(target),
        "--no-compile",  # .pyc files would be for this interpreter, not the runtime's 3.13
        "--no-user",
        "--disable-pip-version-check",
        "--quiet",
        *requirements,
    ]


def _populate(directory: Path, root: Path, requirements: Sequence[str]) -> None:
    try:
        result = subprocess.run(
            pip_command(directory, requirements),
            capture_output=True,
            text=True,
            check=False,
            timeout=PIP_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        message = f"pip did not finish within {PIP_TIMEOUT_SECONDS} s (is PyPI reachable?)"
        raise AssetBuildError(message) from error
    if result.returncode != 0:
        raise AssetBuildError(
            f"pip could not install the Lambda dependencies for {IMPLEMENTATION}{PYTHON_VERSION} "
            f"{'/'.join(PLATFORMS)}:\n{result.stdout}\n{result.stderr}"
        )
    # Console scripts point at this machine's interpreter and are never run on Lambda.
    shutil.rmtree(directory / "bin", ignore_errors=True)
    for path in _package_files(root):
        destination = directory / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    # Lambda runs the code as another user: everything must be world-readable.
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def build_asset(root: Path = REPO_ROOT, cache_dir: Path = CACHE_DIR) -> Path:
    """Return the asset directory for the current sources, building it only when it is not cached.

    Safe to call from concurrent processes: each builds in its own temporary directory and the
    first rename wins.
    """
    requirements = runtime_requirements(root / "pyproject.toml")
    key = cache_key(root, requirements)
    final = cache_dir / key
    if final.is_dir():
        _scrub(final)
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    try:
        _populate(scratch, root, requirements)
        try:
            scratch.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    _prune(cache_dir, keep=final)
    return final


def _scrub(directory: Path) -> None:
    """Drop bytecode that anything importing from the cached directory may have left behind.

    The directory's name is its content hash; stray `__pycache__` folders (for this machine's
    interpreter, useless on Lambda) would otherwise be shipped under that hash.
    """
    for cache in list(directory.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


def _prune(cache_dir: Path, keep: Path) -> None:
    """Drop assets built from older sources, so build/ does not grow by 40 MB per edit."""
    for entry in cache_dir.iterdir():
        if entry != keep and entry.is_dir() and len(entry.name) == 64 and not entry.name.startswith("."):
            shutil.rmtree(entry, ignore_errors=True)


def asset_hash(directory: Path) -> str:
    """The cache key doubles as the CDK asset hash: same inputs, same deployed code."""
    return os.path.basename(directory)


if __name__ == "__main__":
    # `python -m cdk.asset`: build (or reuse) the asset ahead of tests and synth; prints its folder.
    print(build_asset())
