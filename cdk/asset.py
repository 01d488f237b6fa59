"""The Lambda code asset: installed from a hash-checked lock, trimmed, compiled to 3.13 bytecode, cached.

Why not Docker bundling: CI and many laptops have no Docker. pip can install wheels for another
platform (`--platform ... --only-binary=:all:`), so compiled dependencies such as orjson match the
Lambda runtime (Python 3.13 on arm64) whatever machine runs `cdk synth`.

The recipe, in order:

1. `pip install --require-hashes --no-deps -r cdk/lambda-requirements.txt`: exactly the lock uv
   resolved for the runtime (`bash scripts/lock.sh`), every file checked against its hash. No
   resolution happens here: pip would evaluate markers for *this* interpreter, not the runtime's.
2. Copy the sources (`collector/`).
3. Trim what the function can never load: botocore's models of services not in `KEPT_SERVICES`,
   dependencies' own test packages that nothing else imports, Cython and C sources.
4. Compile every module with a Python 3.13 interpreter into unchecked hash-based `.pyc` files
   (PEP 552): `/var/task` is read-only, so without them every cold start compiles every module
   from source; timestamp-based files would depend on the mtimes in the zip. Without a 3.13
   interpreter on this machine the asset is built without bytecode and a warning says so.

The directory's name (and CDK asset hash) is a digest of everything that decides its contents:
this recipe's own source, the target platform, the lock, the sources and the compiling
interpreter's version. Any change in what ships changes the hash; an unchanged input reuses the
cached directory without fingerprinting tens of megabytes of botocore.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build"
CACHE_DIR = BUILD_DIR / "lambda-asset"
PYTHON_VERSION = "3.13"
IMPLEMENTATION = "cp"
PACKAGE = "collector"
LOCK = Path("cdk/lambda-requirements.txt")
PIP_TIMEOUT_SECONDS = 900
COMPILE_TIMEOUT_SECONDS = 300
# Where the function's code lives on Lambda: compiled code objects name their files there.
TASK_ROOT = "/var/task"
# botocore service models the function loads (each client reads its own service's model). Every
# other service's folder, some 20 MB, is dropped; botocore's top-level data (endpoints.json,
# partitions.json, _retry.json, sdk-default-configuration.json) is always kept. Add a service here
# when code in the asset creates a client for it: tests/cdk/test_asset.py checks every
# `open_client("...")` in collector/ against this list and runs each kept client from the asset.
# cloudwatch: the reconcile function's client; s3: the trail exporter's (about 270 KB of model).
KEPT_SERVICES = ("dynamodb", "sqs", "secretsmanager", "workmailmessageflow", "cloudwatch", "s3")
# Never imported: sources of compiled extensions, shipped by some wheels next to the .so files.
NEVER_LOADED_SUFFIXES = (".pyx", ".pxd", ".pxi", ".c", ".h")
TEST_PACKAGE_NAMES = ("tests", "test")
# Set to a Python 3.13 executable to choose the interpreter that compiles the bytecode.
PYTHON_OVERRIDE_VARIABLE = "COLLECTOR_ASSET_PYTHON"


class AssetBuildError(RuntimeError):
    """The asset could not be built; the message carries the failing tool's own output."""


@dataclass(frozen=True)
class Platform:
    """A target for pip's `--platform`: Lambda's, or this machine's for running the asset here."""

    name: str
    tags: tuple[str, ...]


# Lambda's python3.13 runtime is Amazon Linux 2023 (glibc 2.34): manylinux2014 (glibc 2.17) wheels and
# manylinux_2_28 wheels both run there. Listing both keeps working if a dependency drops 2014 wheels.
LAMBDA_PLATFORM = Platform("aarch64", ("manylinux2014_aarch64", "manylinux_2_28_aarch64"))
# The same lock and recipe for x86_64, so the asset as it deploys can be imported and run here
# (tests, bench): uv's lock carries the hashes of every platform's wheels of each pinned version.
LOCAL_PLATFORM = Platform("x86_64", ("manylinux2014_x86_64", "manylinux_2_28_x86_64"))
PLATFORMS = {p.name: p for p in (LAMBDA_PLATFORM, LOCAL_PLATFORM)}


@dataclass(frozen=True)
class Recipe:
    """What goes into one asset: a lock, source paths (copied to the same relative path), services."""

    name: str
    lock: Path
    sources: tuple[str, ...]
    kept_services: tuple[str, ...]
    input_name: str  # how the lock's `# via` comments name the requirements it was compiled from
    requirements_key: tuple[str, ...]  # where in pyproject.toml those requirements are


COLLECTOR = Recipe(
    name="lambda",
    lock=LOCK,
    sources=(PACKAGE,),
    kept_services=KEPT_SERVICES,
    input_name="workmail-collector (pyproject.toml)",
    requirements_key=("project", "dependencies"),
)


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # its release, e.g. 3.13.0: part of the cache key


@dataclass(frozen=True)
class Built:
    """What build_asset() returns besides the directory: enough to say how it was built."""

    directory: Path
    bytecode: str | None  # the compiling interpreter's version, or None without bytecode


# --- the lock ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]
    via: frozenset[str]


def read_lock(path: Path) -> dict[str, Pin]:
    """Parse a hashed requirements file as `uv pip compile --generate-hashes` writes it."""
    pins: dict[str, Pin] = {}
    entries: list[tuple[str, list[str]]] = []
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#"):
            if entries and logical == "":
                comment = line.lstrip("#").strip()
                if comment.startswith("via"):
                    comment = comment[3:].strip()
                if comment:
                    entries[-1][1].append(comment)
            continue
        if not line:
            continue
        logical += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            entries.append((logical.strip(), []))
            logical = ""
    for text, via in entries:
        parts = text.split()
        requirement = Requirement(parts[0])
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            raise AssetBuildError(f"{path}: {parts[0]!r} is not pinned with ==")
        hashes = tuple(p.split("=", 1)[1] for p in parts[1:] if p.startswith("--hash="))
        name = canonicalize_name(requirement.name)
        pins[name] = Pin(name, specifiers[0].version, hashes, frozenset(via))
    return pins


def declared_requirements(recipe: Recipe, root: Path = REPO_ROOT) -> tuple[str, ...]:
    """The requirements the recipe's lock is compiled from, exactly as pyproject.toml declares them."""
    with (root / "pyproject.toml").open("rb") as handle:
        data = tomllib.load(handle)
    for key in recipe.requirements_key:
        data = data[key]
    return tuple(data)


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> tuple[str, ...]:
    """The collector's runtime dependencies, exactly as pyproject.toml declares them."""
    return declared_requirements(COLLECTOR, pyproject.parent)


def lock_disagreements(recipe: Recipe, root: Path = REPO_ROOT) -> list[str]:
    """Why the lock does not match pyproject.toml (empty when it does).

    Each declared requirement must be pinned at a version it allows, every pin must carry hashes,
    and the pins the lock says came straight from pyproject.toml must be exactly the declared ones
    (a dependency removed from pyproject.toml leaves such a pin behind until the lock is refreshed).
    """
    pins = read_lock(root / recipe.lock)
    problems: list[str] = []
    declared = {
        canonicalize_name(Requirement(r).name): Requirement(r) for r in declared_requirements(recipe, root)
    }
    for name, requirement in declared.items():
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{requirement} is declared in pyproject.toml but not in {recipe.lock}")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(
                f"{recipe.lock} pins {name}=={pin.version}, outside pyproject.toml's {requirement}"
            )
    for pinned, pin in pins.items():
        if not pin.hashes:
            problems.append(f"{recipe.lock} has no hashes for {pinned}")
        if recipe.input_name in pin.via and pinned not in declared:
            problems.append(
                f"{recipe.lock} still pins {pinned} for pyproject.toml, which no longer declares it"
            )
    return problems


# --- the interpreter that compiles the bytecode --------------------------------------------------


# The compiler's output depends on the exact release (3.13.0, 3.13.7), not on how it was built.
PROBE = (
    "import platform, sys; print(sys.implementation.name, *sys.version_info[:2], platform.python_version())"
)


def _probe(executable: str) -> Interpreter | None:
    try:
        result = subprocess.run(
            [executable, "-I", "-S", "-c", PROBE], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = result.stdout.split(maxsplit=3)
    if result.returncode != 0 or len(fields) < 4:
        return None
    name, major, minor, version = fields
    if name != "cpython" or f"{major}.{minor}" != PYTHON_VERSION:
        return None
    return Interpreter(executable, version.strip())


def _pyenv_candidates() -> list[str]:
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        result = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False, timeout=30)
        roots.insert(0, result.stdout.strip())
    found: list[str] = []
    for root in filter(None, roots):
        versions = sorted(
            Path(root, "versions").glob(f"{PYTHON_VERSION}.*"), key=_version_order, reverse=True
        )
        found += [str(v / "bin" / f"python{PYTHON_VERSION}") for v in versions]
    return found


def _version_order(path: Path) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.]", path.name))


def _uv_candidates() -> list[str]:
    """uv's own discovery (its managed Pythons, then PATH); uv is installed with the cdk extra."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        return []
    try:
        result = subprocess.run(
            [uv, "python", "find", "--no-project", PYTHON_VERSION],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [result.stdout.strip()] if result.returncode == 0 and result.stdout.strip() else []


def find_runtime_python() -> Interpreter | None:
    """A CPython 3.13 on this machine: $COLLECTOR_ASSET_PYTHON, python3.13 on PATH, pyenv, uv."""
    override = os.environ.get(PYTHON_OVERRIDE_VARIABLE, "").strip()
    if override:
        interpreter = _probe(override)
        if interpreter is None:
            raise AssetBuildError(f"{PYTHON_OVERRIDE_VARIABLE}={override} is not a CPython {PYTHON_VERSION}")
        return interpreter
    candidates = [shutil.which(f"python{PYTHON_VERSION}") or "", *_pyenv_candidates()]
    for candidate in filter(None, candidates):
        if (interpreter := _probe(candidate)) is not None:
            return interpreter
    for candidate in _uv_candidates():
        if (interpreter := _probe(candidate)) is not None:
            return interpreter
    return None


NO_BYTECODE_WARNING = f"""
WARNING: no Python {PYTHON_VERSION} interpreter on this machine: the Lambda asset is built WITHOUT BYTECODE.
Lambda's /var/task is read-only, so every cold start will compile every module from source
(2.6 times the CPU time; see bench/README.md). Install one and build again, for example
    uv python install {PYTHON_VERSION}    (or pyenv install {PYTHON_VERSION}, or the OS package)
or point {PYTHON_OVERRIDE_VARIABLE} at a python{PYTHON_VERSION} executable. See docs/deploy.md.
"""


# --- the cache key ---------------------------------------------------------------------------------


def source_files(root: Path, sources: Iterable[str]) -> list[Path]:
    """Every file under the source paths, without bytecode (paths relative to `root` decide order)."""
    files: list[Path] = []
    for source in sources:
        base = root / source
        candidates = [base] if base.is_file() else base.rglob("*")
        files += [
            p
            for p in candidates
            if p.is_file()
            and "__pycache__" not in p.relative_to(root).parts
            and p.suffix not in (".pyc", ".pyo")
        ]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def recipe_source() -> bytes:
    """This module's own text: a change to how the asset is built is a change to every asset."""
    return Path(__file__).read_bytes()


def cache_key(
    root: Path,
    lock: bytes,
    *,
    recipe: Recipe = COLLECTOR,
    platform: Platform = LAMBDA_PLATFORM,
    bytecode: str | None = None,
    builder: bytes | None = None,
) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("builder", recipe_source() if builder is None else builder)
    add("recipe", json.dumps([recipe.name, recipe.sources, recipe.kept_services]).encode())
    add("target", f"{IMPLEMENTATION}{PYTHON_VERSION}:{','.join(platform.tags)}".encode())
    add("bytecode", (bytecode or "none").encode())
    add("lock", lock)
    for path in source_files(root, recipe.sources):
        add(path.relative_to(root).as_posix(), path.read_bytes())
    return digest.hexdigest()


# --- the build -------------------------------------------------------------------------------------


def pip_command(target: Path, lock: Path, platform: Platform = LAMBDA_PLATFORM) -> list[str]:
    platforms = [arg for tag in platform.tags for arg in ("--platform", tag)]
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
        "--require-hashes",  # every downloaded file must match a hash in the lock
        "--no-deps",  # the lock is the complete set, resolved by uv for the runtime's markers
        "--no-compile",  # bytecode is compiled below, by the runtime's Python version
        "--no-user",
        "--disable-pip-version-check",
        "--quiet",
        "--requirement",
        str(lock),
    ]


def _run(command: Sequence[str], what: str, timeout: float) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise AssetBuildError(f"{what} did not finish within {timeout:.0f} s (is PyPI reachable?)") from error
    if result.returncode != 0:
        raise AssetBuildError(f"{what} failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")


def trim(directory: Path, kept_services: Sequence[str]) -> list[str]:
    """Remove what the function can never load; returns the removed paths (relative)."""
    removed: list[str] = []
    data = directory / "botocore" / "data"
    if data.is_dir():
        for service in sorted(p for p in data.iterdir() if p.is_dir()):
            if service.name not in kept_services:
                shutil.rmtree(service)
                removed.append(service.relative_to(directory).as_posix())
    for package in _unreferenced_test_packages(directory):
        shutil.rmtree(package)
        removed.append(package.relative_to(directory).as_posix())
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in NEVER_LOADED_SUFFIXES:
            path.unlink()
            removed.append(path.relative_to(directory).as_posix())
    return removed


def _unreferenced_test_packages(directory: Path) -> list[Path]:
    """`<package>/tests` (or `test`) folders that no module outside them names: provably never loaded.

    A folder stays when any other module of the asset mentions its dotted name (`pkg.tests`, in an
    import or a string for importlib) or imports it relatively (`from . import tests`,
    `from .tests import ...`).
    """
    candidates = [
        p
        for top in directory.iterdir()
        if top.is_dir() and not top.name.endswith((".dist-info", ".data"))
        for p in top.rglob("*")
        if p.is_dir() and p.name in TEST_PACKAGE_NAMES
    ]
    if not candidates:
        return []
    others = [p for p in directory.rglob("*.py") if not any(c in p.parents for c in candidates)]
    texts = {p: p.read_text(encoding="utf-8", errors="replace") for p in others}
    unreferenced: list[Path] = []
    for candidate in candidates:
        dotted = ".".join(candidate.relative_to(directory).parts)
        parent = candidate.parent
        referenced = any(dotted in text for text in texts.values()) or any(
            _imports_relatively(text, candidate.name) for p, text in texts.items() if p.parent == parent
        )
        if not referenced:
            unreferenced.append(candidate)
    return unreferenced


def _imports_relatively(text: str, name: str) -> bool:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return True  # cannot tell: keep the folder
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 1
            and ((node.module or "").split(".")[0] == name or any(a.name == name for a in node.names))
        ):
            return True
    return False


def compile_bytecode(directory: Path, interpreter: Interpreter, mode: str = "unchecked-hash") -> None:
    """Unchecked hash-based .pyc files, compiled by the runtime's Python version.

    Unchecked: the interpreter trusts the .pyc without reading the source. Nothing can edit a
    deployed asset, so a check would only cost a read and a hash of every source at every cold
    start; the tests verify that each .pyc's recorded source hash matches its source instead.
    """
    _run(
        [
            interpreter.path,
            "-I",
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            mode,
            "-s",
            str(directory),
            "-p",
            TASK_ROOT,
            str(directory),
        ],
        f"compiling the asset with Python {interpreter.version}",
        COMPILE_TIMEOUT_SECONDS,
    )


def _populate(
    directory: Path, root: Path, recipe: Recipe, platform: Platform, python: Interpreter | None
) -> None:
    _run(
        pip_command(directory, root / recipe.lock, platform),
        f"pip installing {recipe.lock} for {IMPLEMENTATION}{PYTHON_VERSION} {'/'.join(platform.tags)}",
        PIP_TIMEOUT_SECONDS,
    )
    # Console scripts point at this machine's interpreter and are never run on Lambda.
    shutil.rmtree(directory / "bin", ignore_errors=True)
    for path in source_files(root, recipe.sources):
        destination = directory / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    trim(directory, recipe.kept_services)
    if python is not None:
        compile_bytecode(directory, python)
    # Lambda runs the code as another user: everything must be world-readable.
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def paths_under(directory: Path) -> list[str]:
    """Every path under `directory`, relative and sorted: what a build wrote, or a run changed."""
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


def build(
    root: Path = REPO_ROOT,
    cache_dir: Path | None = None,
    *,
    recipe: Recipe = COLLECTOR,
    platform: Platform = LAMBDA_PLATFORM,
    python: Interpreter | None = None,
    find_python: bool = True,
) -> Built:
    """Return the asset for the current inputs, building it only when it is not cached.

    Safe to call from concurrent processes: each builds in its own temporary directory and the
    first rename wins. `python` chooses the compiling interpreter (default: found on this machine;
    `find_python=False` and no `python` builds without bytecode).
    """
    problems = lock_disagreements(recipe, root)
    if problems:
        raise AssetBuildError(
            "the lock does not match pyproject.toml; refresh it with `bash scripts/lock.sh`:\n  "
            + "\n  ".join(problems)
        )
    if python is None and find_python:
        python = find_runtime_python()
        if python is None:
            print(NO_BYTECODE_WARNING, file=sys.stderr)
    bytecode = python.version if python is not None else None
    cache_dir = cache_dir or default_cache_dir(recipe, platform)
    key = cache_key(
        root,
        (root / recipe.lock).read_bytes(),
        recipe=recipe,
        platform=platform,
        bytecode=bytecode,
    )
    final = cache_dir / key
    manifest = cache_dir / f"{key}.files.json"
    if final.is_dir() and manifest.is_file() and _scrub(final, json.loads(manifest.read_text())):
        return Built(final, bytecode)
    shutil.rmtree(final, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    try:
        _populate(scratch, root, recipe, platform, python)
        listing = scratch.with_suffix(".files.json")
        listing.write_text(json.dumps(paths_under(scratch)))
        try:
            scratch.rename(final)
        except OSError:
            if not final.is_dir():
                raise
        else:
            listing.replace(manifest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.with_suffix(".files.json").unlink(missing_ok=True)
    _prune(cache_dir, keep=final)
    return Built(final, bytecode)


def build_asset(
    root: Path = REPO_ROOT, cache_dir: Path | None = None, platform: Platform = LAMBDA_PLATFORM
) -> Path:
    """The collector's asset directory (see `build`); what the CDK app deploys."""
    return build(root, cache_dir, platform=platform).directory


def default_cache_dir(recipe: Recipe, platform: Platform) -> Path:
    if recipe is COLLECTOR and platform is LAMBDA_PLATFORM:
        return CACHE_DIR
    return BUILD_DIR / f"{recipe.name}-asset-{platform.name}"


def _scrub(directory: Path, manifest: list[str]) -> bool:
    """Make the cached directory exactly what was built; False when something built is missing.

    The directory's name is its content hash. Anything importing from it with another interpreter
    (a test, the dev venv) may leave `__pycache__` files for that interpreter, useless on Lambda,
    which would otherwise be shipped under that hash.
    """
    expected = set(manifest)
    for path in sorted(directory.rglob("*"), reverse=True):  # children before their folders
        if path.relative_to(directory).as_posix() not in expected:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return all((directory / name).exists() for name in manifest)


def _prune(cache_dir: Path, keep: Path) -> None:
    """Drop assets built from older inputs, so build/ does not grow by 25 MB per edit."""
    for entry in cache_dir.iterdir():
        name = entry.name.removesuffix(".files.json")
        if name != keep.name and len(name) == 64 and not name.startswith("."):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def asset_hash(directory: Path) -> str:
    """The cache key doubles as the CDK asset hash: same inputs, same deployed code."""
    return os.path.basename(directory)


def build_command(
    prog: str, doc: str, build: Callable[[Platform], Path], help_: str, argv: Sequence[str] | None
) -> None:
    """A build module's command line: `--platform`, build (or reuse), print the folder; a build
    that fails is one line on stderr and exit 1."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=doc)
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default=LAMBDA_PLATFORM.name, help=help_)
    args = parser.parse_args(argv)
    try:
        print(build(PLATFORMS[args.platform]))
    except AssetBuildError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m cdk.asset [--platform x86_64]`: build (or reuse) an asset; print its folder."""
    build_command(
        "cdk.asset",
        main.__doc__ or "",
        lambda platform: build_asset(platform=platform),
        "aarch64: what deploys (default); x86_64: the same lock and recipe, to run it on this machine",
        argv,
    )


if __name__ == "__main__":
    main()
