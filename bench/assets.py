"""Both handlers packaged the way Lambda runs them: the same recipe as cdk/asset.py, for this machine.

The cold-start bench cannot run aarch64 code, so it builds x86_64 twins of the same locks with the
same recipe (hash-checked install, trim, Python 3.13 bytecode): what differs from the deployed
asset is only the machine code in the compiled extensions.
"""

from __future__ import annotations

from pathlib import Path

from cdk.asset import BUILD_DIR, COLLECTOR, LOCAL_PLATFORM, Built, Recipe, build

# The Powertools baseline: its own lock (the bench extra, botocore shared with the collector's lock)
# and the handler module at bench/baseline_handler.py, so it imports as `bench.baseline_handler`.
BASELINE = Recipe(
    name="baseline",
    lock=Path("bench/baseline-requirements.txt"),
    sources=("bench/__init__.py", "bench/baseline_handler.py"),
    kept_services=("dynamodb",),
    input_name="-r bench/baseline-requirements.in",
    requirements_key=("project", "optional-dependencies", "bench"),
)
RECIPES = {"ours": COLLECTOR, "baseline": BASELINE}


def build_local(recipe: Recipe, bytecode: bool = True) -> Built:
    """The x86_64 twin of `recipe`'s asset, cached under build/ like the deployed one."""
    if bytecode:
        return build(recipe=recipe, platform=LOCAL_PLATFORM)
    cache = BUILD_DIR / f"{recipe.name}-asset-{LOCAL_PLATFORM.name}-no-bytecode"
    return build(cache_dir=cache, recipe=recipe, platform=LOCAL_PLATFORM, find_python=False)
