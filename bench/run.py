"""The comparison: ours vs the Powertools baseline, alternating, each round in fresh processes.

One DynamoDB Local, one counting proxy in front of it, fresh tables per handler per round. Each
round runs `bench.child` once per handler (ours first on even rounds, the baseline first on odd
ones), then checks correctness directly against DynamoDB Local (behind the proxy's back, so the
checks are not counted): audit items == unique events, EMF Messages sum == unique events, EMF
DuplicateInvocations sum == redeliveries. The harness it runs on is bench/harness.py.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cost import Cost, Workload, cost_table, item_size, per_million_messages, wru
from bench.harness import (
    BASELINE,
    OURS,
    Handler,
    Target,
    build_deliveries,
    child_env,
    create_tables,
    dynamodb_client,
    index_count,
    metric_sums,
    proxied,
    run_child,
    scan_items,
)

# --- one measured run ----------------------------------------------------------------------------


@dataclass
class Run:
    """One handler in one fresh process, with its checks."""

    handler: Handler
    report: dict[str, Any]
    emf_lines: list[str]
    emf_bytes: int
    metric_sums: Counter[str]
    audit_items: int
    audit_item_bytes: float
    audit_indexes: int
    idempotency_item_bytes: float = 0.0
    idempotency_inprogress_bytes: float = 0.0
    checks: dict[str, bool] = field(default_factory=dict)


def measure(
    handler: Handler, deliveries: list[dict[str, Any]], deliveries_path: Path, workdir: Path, target: Target
) -> Run:
    client = dynamodb_client(target.endpoint)
    tables = create_tables(handler, client)
    env = child_env(handler, target, tables)
    report, stdout, _ = run_child(handler, deliveries_path, workdir, target.control_port, env)
    lines = stdout.decode().splitlines()
    sums = metric_sums(lines)
    audit = scan_items(client, tables["audit"])
    unique = sum(d["first"] for d in deliveries)
    run = Run(
        handler=handler,
        report=report,
        emf_lines=lines,
        emf_bytes=len(stdout),
        metric_sums=sums,
        audit_items=len(audit),
        audit_item_bytes=statistics.fmean(item_size(i) for i in audit),
        audit_indexes=index_count(client, tables["audit"], audit[0]),
    )
    if "idempotency" in tables:
        records = scan_items(client, tables["idempotency"])
        run.idempotency_item_bytes = statistics.fmean(item_size(i) for i in records)
        run.idempotency_inprogress_bytes = statistics.fmean(
            item_size({k: v for k, v in i.items() if k != "data"}) for i in records
        )
    run.checks = {
        "one EMF document per invocation": len(lines) == len(deliveries),
        "audit items == unique events": run.audit_items == unique,
        "EMF Messages sum == unique events": sums["Messages"] == unique,
        "EMF DuplicateInvocations sum == redeliveries": sums["DuplicateInvocations"]
        == len(deliveries) - unique,
    }
    return run


# --- aggregation -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Figures:
    """One handler's figures over all rounds."""

    label: str
    requests_new: Counter[str]
    requests_duplicate: Counter[str]
    latency_median_ms: float
    latency_p99_ms: float
    cpu_mean_ms: float
    cpu_median_ms: float
    import_ms: float
    first_invocation_ms: float
    cold_ms: float
    cold_cpu_ms: float
    emf_bytes_per_invocation: float
    peak_rss_mb: float
    first_rss_mb: float
    harness_rss_mb: float
    billed_ms: float
    wru_new: float
    wru_duplicate: float
    audit_item_bytes: float
    audit_indexes: int
    idempotency_item_bytes: float
    checks: dict[str, bool]

    @property
    def requests_per_new(self) -> float:
        return sum(self.requests_new.values())

    @property
    def requests_per_duplicate(self) -> float:
        return sum(self.requests_duplicate.values())


def figures(runs: list[Run], deliveries: list[dict[str, Any]]) -> Figures:
    firsts = [d["first"] for d in deliveries]
    new: Counter[str] = Counter()
    duplicate: Counter[str] = Counter()
    for run in runs:
        for first, requests in zip(firsts, run.report["requests"], strict=True):
            (new if first else duplicate).update(requests)
    n_new = sum(firsts) * len(runs)
    n_duplicate = (len(firsts) - sum(firsts)) * len(runs)
    latencies = [x for r in runs for x in r.report["warm_latency_s"]]
    cpu = [x for r in runs for x in r.report["warm_cpu_s"]]
    cold = [r.report["import_s"] + r.report["first_invocation_s"] for r in runs]
    cold_cpu = [r.report["import_cpu_s"] + r.report["first_invocation_cpu_s"] for r in runs]

    # WRUs: audit put = item WRUs on the table and on every index it appears in; a failed condition
    # = the existing item's WRUs, table only; Powertools adds its in-progress put and the update.
    run = runs[0]
    audit_wru = wru(round(statistics.fmean(r.audit_item_bytes for r in runs))) * (1 + run.audit_indexes)
    if run.handler is OURS:
        wru_new = float(audit_wru)
        wru_duplicate = float(wru(round(statistics.fmean(r.audit_item_bytes for r in runs))))
    else:
        inprogress = wru(round(statistics.fmean(r.idempotency_inprogress_bytes for r in runs)))
        completed = wru(round(statistics.fmean(r.idempotency_item_bytes for r in runs)))
        wru_new = float(audit_wru + inprogress + completed)
        wru_duplicate = float(completed)
    checks: dict[str, bool] = {}
    for r in runs:
        for name, ok in r.checks.items():
            checks[name] = checks.get(name, True) and ok
    return Figures(
        label=run.handler.label,
        requests_new=Counter({k: v / n_new for k, v in new.items()}),
        requests_duplicate=Counter({k: v / n_duplicate for k, v in duplicate.items()})
        if n_duplicate
        else Counter(),
        latency_median_ms=statistics.median(latencies) * 1000,
        latency_p99_ms=percentile(latencies, 0.99) * 1000,
        cpu_mean_ms=statistics.fmean(cpu) * 1000,
        cpu_median_ms=statistics.median(cpu) * 1000,
        import_ms=statistics.median(r.report["import_s"] for r in runs) * 1000,
        first_invocation_ms=statistics.median(r.report["first_invocation_s"] for r in runs) * 1000,
        cold_ms=statistics.median(cold) * 1000,
        cold_cpu_ms=statistics.median(cold_cpu) * 1000,
        emf_bytes_per_invocation=sum(r.emf_bytes for r in runs) / (len(deliveries) * len(runs)),
        peak_rss_mb=statistics.median(r.report["peak_rss_kb"] for r in runs) / 1024,
        first_rss_mb=statistics.median(r.report["rss_after_first_kb"] for r in runs) / 1024,
        harness_rss_mb=statistics.median(r.report["harness_rss_kb"] for r in runs) / 1024,
        billed_ms=statistics.fmean(float(-(-x * 1000 // 1)) for x in latencies),
        wru_new=wru_new,
        wru_duplicate=wru_duplicate,
        audit_item_bytes=statistics.fmean(r.audit_item_bytes for r in runs),
        audit_indexes=run.audit_indexes,
        idempotency_item_bytes=statistics.fmean(r.idempotency_item_bytes for r in runs),
        checks=checks,
    )


def _requests_text(counts: Counter[str]) -> str:
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v:.2f}" for k, v in sorted(counts.items()))
    return f"{total:.2f} ({detail})" if detail else f"{total:.2f}"


# (row label, Figures attribute, format) for the numeric rows of the headline table
NUMERIC_ROWS: tuple[tuple[str, str, str], ...] = (
    ("warm latency median (ms)", "latency_median_ms", ".2f"),
    ("warm latency p99 (ms)", "latency_p99_ms", ".2f"),
    ("handler CPU per warm invocation, mean (ms)", "cpu_mean_ms", ".3f"),
    ("handler CPU per warm invocation, median (ms)", "cpu_median_ms", ".3f"),
    ("EMF bytes per invocation", "emf_bytes_per_invocation", ".0f"),
    ("peak RSS over the run, dev venv (MB)", "peak_rss_mb", ".1f"),
    ("the harness alone, before the import (MB)", "harness_rss_mb", ".1f"),
)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def report_table(ours: Figures, base: Figures) -> tuple[list[str], list[tuple[str, bool, str]]]:
    """The headline Markdown table, and the targets with whether each is met."""
    rows = [
        (
            "DynamoDB requests per new event",
            _requests_text(ours.requests_new),
            _requests_text(base.requests_new),
            _ratio(ours.requests_per_new, base.requests_per_new),
        ),
        (
            "DynamoDB requests per duplicate",
            _requests_text(ours.requests_duplicate),
            _requests_text(base.requests_duplicate),
            _ratio(ours.requests_per_duplicate, base.requests_per_duplicate),
        ),
    ]
    for label, name, spec in NUMERIC_ROWS:
        a, b = getattr(ours, name), getattr(base, name)
        rows.append((label, format(a, spec), format(b, spec), _ratio(a, b)))
    rows.append(
        (
            "DynamoDB WRU per new event / per duplicate",
            f"{ours.wru_new:g} / {ours.wru_duplicate:g}",
            f"{base.wru_new:g} / {base.wru_duplicate:g}",
            _ratio(ours.wru_new, base.wru_new),
        )
    )
    lines = [
        f"| | {ours.label} | {base.label} | ours / baseline |",
        "|---|---:|---:|---:|",
        *(f"| {label} | {a} | {b} | {r} |" for label, a, b, r in rows),
    ]
    cpu_ratio = ours.cpu_mean_ms / base.cpu_mean_ms
    targets = [
        ("1 request per new event", abs(ours.requests_per_new - 1) < 1e-9, f"{ours.requests_per_new:.2f}"),
        (
            "1 request per duplicate",
            abs(ours.requests_per_duplicate - 1) < 1e-9,
            f"{ours.requests_per_duplicate:.2f}",
        ),
        ("warm CPU per invocation <= 1/2 of the baseline's", cpu_ratio <= 0.5, f"{cpu_ratio:.2f}x"),
    ]  # the cold start and peak RSS targets are the built assets' (bench/coldstart.py)
    for figure in (ours, base):
        for name, ok in figure.checks.items():
            targets.append((f"{figure.label}: {name}", ok, "checked every round"))
    return lines, targets


# --- import profile ------------------------------------------------------------------------------


def import_profile(stderr: bytes, top: int = 10) -> list[tuple[str, float]]:
    """Self time per top-level package (ms) from `python -X importtime` output."""
    per_package: defaultdict[str, float] = defaultdict(float)
    for line in stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, self_us, _cumulative, name = (
            part.strip() for part in line.replace("import time:", "|", 1).split("|")
        )
        if not self_us.isdigit():
            continue
        per_package[name.split(".")[0]] += int(self_us) / 1000
    return sorted(per_package.items(), key=lambda kv: -kv[1])[:top]


# --- the comparison ------------------------------------------------------------------------------


@dataclass
class Options:
    events: int = 2000
    duplicates: float = 0.10
    rounds: int = 3
    warmup_events: int = 400
    memory_mb: int = 256
    seed: int = 1
    json_out: Path | None = None
    storm: bool = False
    storm_events: int = 10_000
    only_storm: bool = False
    plain_http: bool = False
    cold_rounds: int = 7


def compare(options: Options, workdir: Path, endpoint: str) -> dict[str, Any]:
    deliveries = build_deliveries(options.events, options.duplicates, options.seed)
    deliveries_path = workdir / "deliveries.jsonl"
    deliveries_path.write_text("".join(json.dumps(d) + "\n" for d in deliveries))
    unique = sum(d["first"] for d in deliveries)
    print(
        f"# {len(deliveries)} deliveries per run: {unique} unique events, {len(deliveries) - unique} "
        f"byte-identical redeliveries; {options.rounds} rounds, alternating, fresh process each",
        flush=True,
    )
    runs: dict[str, list[Run]] = {OURS.name: [], BASELINE.name: []}
    with proxied(endpoint, workdir, options.memory_mb, options.plain_http) as target:

        def once(handler: Handler, batch: list[dict[str, Any]], path: Path) -> Run:
            return measure(handler, batch, path, workdir, target)

        if options.warmup_events:
            warm = deliveries[: options.warmup_events]
            warm_path = workdir / "warmup.jsonl"
            warm_path.write_text("".join(json.dumps(d) + "\n" for d in warm))
            started = time.perf_counter()
            for handler in (OURS, BASELINE):
                once(handler, warm, warm_path)
            seconds = time.perf_counter() - started
            print(f"# warm-up of DynamoDB Local ({options.warmup_events} each, discarded): {seconds:.1f} s")
        for n in range(options.rounds):
            order = (OURS, BASELINE) if n % 2 == 0 else (BASELINE, OURS)
            for handler in order:
                started = time.perf_counter()
                run = once(handler, deliveries, deliveries_path)
                runs[handler.name].append(run)
                failed = [name for name, ok in run.checks.items() if not ok]
                print(
                    f"# round {n + 1}: {handler.label:<20} {time.perf_counter() - started:5.1f} s"
                    + (f"  CHECK FAILED: {failed}" if failed else "  checks ok"),
                    flush=True,
                )
        profiles = {}
        for handler in (OURS, BASELINE):
            profiles[handler.name] = profile_imports(handler, deliveries[:1], workdir, target)

    ours, base = figures(runs[OURS.name], deliveries), figures(runs[BASELINE.name], deliveries)
    table, targets = report_table(ours, base)
    print(
        "\n## Results, dev venv (medians over rounds; latency and CPU pooled over all warm invocations;"
        " the cold start of the built assets follows)\n"
    )
    print("\n".join(table))
    print("\n## Targets\n")
    for name, ok, detail in targets:
        print(f"- [{'x' if ok else ' '}] {name}: {'MET' if ok else 'MISSED'} ({detail})")
    print("\n## What dominates the cold start (python -X importtime, self time by top-level package, ms)\n")
    for handler in (OURS, BASELINE):
        total = sum(ms for _, ms in profiles[handler.name]["all"])
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in profiles[handler.name]["top"])
        print(f"- {handler.label} (all imports {total:.0f} ms under importtime): {top}")
    invocations_per_message = len(deliveries) / unique
    costs: list[Cost] = []
    for figure in (ours, base):
        wru_per_message = figure.wru_new + figure.wru_duplicate * (invocations_per_message - 1)
        costs.append(
            per_million_messages(
                Workload(
                    figure.label,
                    invocations_per_message,
                    figure.billed_ms,
                    wru_per_message,
                    figure.emf_bytes_per_invocation,
                ),
                options.memory_mb,
            )
        )
    print(
        f"\n## Cost per million messages ({invocations_per_message:.3f} invocations per message, "
        "measured billed duration)\n"
    )
    print("\n".join(cost_table(costs, options.memory_mb)))
    print(
        f"\nWRU basis (DynamoDB's item size rules): audit item {ours.audit_item_bytes:.0f} B (ours), "
        f"{base.audit_item_bytes:.0f} B (baseline), written to the table and {ours.audit_indexes} indexes; "
        f"Powertools' idempotency record {base.idempotency_item_bytes:.0f} B. A duplicate is one failed "
        "conditional PutItem: the existing item's WRUs, no index writes."
    )
    correctness = [(n, ok, d) for n, ok, d in targets if d == "checked every round"]
    return {
        "figures": {"ours": vars(ours), "baseline": vars(base)},
        "targets": targets,
        "correctness": correctness,
        "import_profile": profiles,
        "costs": [vars(c) | {"total": c.total} for c in costs],
    }


def profile_imports(
    handler: Handler, deliveries: list[dict[str, Any]], workdir: Path, target: Target
) -> dict[str, list[tuple[str, float]]]:
    """Run the cold path once more under `-X importtime` and attribute import time to packages."""
    tables = create_tables(handler, dynamodb_client(target.endpoint))
    path = workdir / f"profile-{handler.name}.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in deliveries))
    env = child_env(handler, target, tables)
    _, _, stderr = run_child(
        handler, path, workdir, target.control_port, env, python_flags=("-X", "importtime")
    )
    from bench.child import MARKER

    after_marker = stderr.split(MARKER.encode(), 1)[-1]
    return {"top": import_profile(after_marker, 8), "all": import_profile(after_marker, 10_000)}
