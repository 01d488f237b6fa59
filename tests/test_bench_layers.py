"""The benchmark modules import one another without a cycle: the harness is a lower layer the reports
build on, so a report can change without the harness (or another report) loading it back."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench_imports(path: Path, modules: set[str]) -> set[str]:
    """The bench modules `path` imports anywhere in it (top level or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "bench" + (f".{base}" if base else "")
            # `from bench import prices` names a module; `from bench.run import x` names its module.
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name.removeprefix("bench.") for name in names if name.removeprefix("bench.") in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {path.stem for path in BENCH.glob("*.py")}
    return {path.stem: bench_imports(path, modules) - {path.stem} for path in BENCH.glob("*.py")}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            found = visit(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_the_bench_modules_import_one_another_without_a_cycle() -> None:
    graph = import_graph()
    assert {"harness", "run", "bill", "coldstart", "variants", "emitted"} <= graph.keys()
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_harness_imports_no_report() -> None:
    reports = {"run", "bill", "coldstart", "variants", "emitted", "lookup", "storm_bench", "__main__"}
    assert import_graph()["harness"].isdisjoint(reports)


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None
