"""The trail exporter's Lambda layer: pyarrow, from its own hash-checked lock, by cdk/asset.py's recipe.

The collector's asset does not grow: the exporter runs the same asset with this layer. The layer
pins the pyarrow the `trail` extra installs for `workmail-collector export` (the lock is compiled
by scripts/lock.sh), so the objects the exporter writes in Lambda are byte for byte the ones a
local export of the same records writes, zstd included. AWS's managed "AWS SDK for pandas" layer
was the other choice; its pyarrow is built without zstd and at another version.

Lambda puts `/opt/python` on the path, so the built packages are served under `python/`: a small
folder holding a link to the cached build, which the CDK asset follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cdk.asset import (
    BUILD_DIR,
    LAMBDA_PLATFORM,
    REPO_ROOT,
    Platform,
    Recipe,
    build,
    build_command,
)

TRAIL_LAYER = Recipe(
    name="trail-layer",
    lock=Path("cdk/trail-layer-requirements.txt"),
    sources=(),
    kept_services=(),
    input_name="-r cdk/trail-layer-requirements.in",
    requirements_key=("project", "optional-dependencies", "trail-exporter"),
)
LAYER_DIR = BUILD_DIR / "trail-layer"


def build_layer(root: Path = REPO_ROOT, platform: Platform = LAMBDA_PLATFORM) -> Path:
    """The layer's folder (`python/` -> the cached build); its name is the build's content key.
    The x86_64 twin (same lock and recipe) is for running the exporter on this machine."""
    built = build(root, recipe=TRAIL_LAYER, platform=platform).directory
    home = (
        LAYER_DIR if platform is LAMBDA_PLATFORM else LAYER_DIR.with_name(f"{LAYER_DIR.name}-{platform.name}")
    )
    folder = home / built.name
    link = folder / "python"
    if not link.is_symlink() or link.resolve() != built.resolve():
        folder.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(built, target_is_directory=True)
    for stale in home.iterdir():
        if stale != folder and stale.is_dir():
            (stale / "python").unlink(missing_ok=True)
            stale.rmdir()
    return folder


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m cdk.trail_layer`: build (or reuse) the exporter's layer; print its folder."""
    build_command(
        "cdk.trail_layer",
        main.__doc__ or "",
        lambda platform: build_layer(platform=platform),
        "aarch64: what deploys (default); x86_64: the same lock, to run the exporter here",
        argv,
    )


if __name__ == "__main__":
    main()
