"""What an organization pays per month for a deployed collector, every line of the bill, before and after.

`python -m bench.bill` (also printed by `python -m bench`, i.e. `bash scripts/bench.sh`):

1. measures, in this run, what the collector emits and stores for each kind of delivery
   (bench/emitted.py: the real pipeline against DynamoDB Local), its CPU per warm invocation and a
   cold start in a fresh process;
2. synthesizes the stack (bench/template.py) and counts what it bills by itself: alarm metrics,
   dashboards, keys, secrets, the table's indexes, the function's memory and system log level;
3. prices a month for three organizations (bench/traffic.py: sizes, the mix of deliveries, the
   hours mail flows) with the list prices of bench/prices.py.

"before" is the reference design of commit 5a284cb (bench/template.py's BEFORE; three ALL-projection
indexes; every metric, zeros included, under [Service] and [Service, FlowDirection] in every
document), applied to the same measured items and outcomes; "after" is this version.

Model assumptions beyond the traffic (each printed with the bill):
* Lambda duration: the measured handler CPU scaled to the function's share of a vCPU (one full
  vCPU at 1,769 MB, Lambda Developer Guide) plus one DynamoDB round trip (and one message-flow
  read with enrichment) spent waiting; INIT is billed like duration since 2025-08-01.
* Cold starts: an invocation finds no warm container after an idle gap of 10 minutes, and each
  busy container is replaced every 2 hours (observed behaviour, not documented).
* Custom metrics: billed per metric-hour with data (the CloudWatch pricing page's rule: charges
  are prorated by the hour and metered only when a metric is sent; its verbatim sentence could not
  be retrieved, so the un-prorated upper bound is printed too).
* Storage: steady state at the retention setting; the archived log size is the gzip size of the
  measured log lines.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench import prices
from bench.billing import (
    CONTAINER_HOURS,
    DASHBOARDS,
    DYNAMODB_ROUND_TRIP_MS,
    IDLE_MINUTES,
    KEYED_LOOKUPS_PER_MONTH,
    LINES,
    LOOKUP_DAYS,
    MESSAGE_FLOW_READ_MS,
    RETENTION_DAYS,
    TIME_INDEX_KEYS,
    VCPU_MB,
    Bill,
    Design,
    Inputs,
    emf_bytes,
    index_item,
    month,
    series,
    stored_bytes,
    write_units,
)
from bench.cost import item_size, wru
from bench.emitted import DEFAULT, ENRICHMENT, VARIANTS, Variant
from bench.template import TemplateFacts
from bench.traffic import (
    ORGANIZATIONS,
    Mix,
    Organization,
    peak_hour_share,
)
from collector.metrics import features_for
from collector.store.schema import DAY_SHARDS, SHARD_ATTRIBUTE

# --- printing ----------------------------------------------------------------------------------------


def money(value: float) -> str:
    if value == 0:
        return "0"
    if value < 0.005:
        return "<0.01"
    return f"{value:,.2f}"


def bill_table(bills: list[Bill]) -> list[str]:
    """One column per (organization, design), one row per line of the bill."""
    head = "| USD per month | " + " | ".join(f"{b.organization.name} {b.design.name}" for b in bills) + " |"
    rows = [head, "|---|" + "---:|" * len(bills)]
    for line in LINES:
        rows.append(f"| {line} | " + " | ".join(money(b.lines[line]) for b in bills) + " |")
    rows.append("| **total, no free tier** | " + " | ".join(f"**{money(b.total)}**" for b in bills) + " |")
    rows.append(
        "| total if the account's CloudWatch free tier is unused | "
        + " | ".join(money(b.total - b.free_tier) for b in bills)
        + " |"
    )
    rows.append(
        "| custom metrics without proration (upper bound) | "
        + " | ".join(money(b.details["metric_series"] * prices.CUSTOM_METRICS.usd) for b in bills)
        + " |"
    )
    return rows


def dominant(bill: Bill, count: int = 2) -> str:
    ranked = sorted(bill.lines.items(), key=lambda kv: -kv[1])[:count]
    return ", ".join(f"{name} {value / bill.total:.0%}" for name, value in ranked)


@dataclass
class Report:
    bills: dict[tuple[str, str, str], Bill]  # (variant, organization, design)
    inputs: dict[str, Inputs]
    designs: tuple[Design, Design]
    mix: Mix

    def bill(self, variant: Variant, organization: Organization, design: Design) -> Bill:
        return self.bills[(variant.name, organization.name, design.name)]


def build(inputs: dict[str, Inputs], designs: Callable[[Variant], tuple[Design, Design]], mix: Mix) -> Report:
    bills = {}
    pair: tuple[Design, Design] | None = None
    for variant in VARIANTS:
        if variant.name not in inputs:
            continue
        pair = designs(variant)
        for organization in ORGANIZATIONS:
            for design in pair:
                bills[(variant.name, organization.name, design.name)] = month(
                    design, inputs[variant.name], organization, mix
                )
    assert pair is not None
    return Report(bills, inputs, pair, mix)


def targets(report: Report) -> list[tuple[str, bool, str]]:
    before, after = report.designs
    small, medium = ORGANIZATIONS[0], ORGANIZATIONS[1]
    default = report.inputs[DEFAULT.name]
    out = []
    small_bill = report.bill(DEFAULT, small, after)
    dashboards = small_bill.lines[DASHBOARDS]
    out.append(
        (
            "1,000/day, default: at most $5 a month, with its dashboards among the account's 3 free ones",
            small_bill.total - dashboards <= 5.0,
            f"${small_bill.total - dashboards:.2f}, no other free tier; ${small_bill.total:.2f} if the "
            f"account's free dashboards are used up (${dashboards:.2f} of it for the dashboards); "
            f"${small_bill.total - small_bill.free_tier:.2f} with all of CloudWatch's free tier",
        )
    )
    b, a = report.bill(DEFAULT, medium, before), report.bill(DEFAULT, medium, after)
    out.append(
        (
            "100,000/day, default: at most half of before",
            a.total <= b.total / 2,
            f"${a.total:.2f} vs ${b.total:.2f} ({a.total / b.total:.2f}x)",
        )
    )
    distinct = set().union(*(e.series for e in default.measurement.kinds.values()))
    out.append(
        (
            "custom metrics, default, all three directions: at most 12",
            len(distinct) <= 12,
            f"{len(distinct)} (before: 24)",
        )
    )
    if ENRICHMENT.name in report.inputs:
        enriched = set().union(*(e.series for e in report.inputs[ENRICHMENT.name].measurement.kinds.values()))
        out.append(
            (
                "custom metrics with enrichment: at most 26 (12/24 of 52)",
                len(enriched) <= 26,
                f"{len(enriched)} (before: 52)",
            )
        )
    inbound = default.kind("inbound").item or {}
    stream = after.facts.stream
    units: float = write_units(inbound, after.facts.indexes, stream)
    table, indexes = stored_bytes(inbound, after.facts.indexes, stream)
    ratio = (table + indexes) / table
    unit_detail = f"{units}"
    byte_detail = (
        f"{ratio:.2f}x ({table + indexes} B stored in all for {table} B in the table; DynamoDB's "
        "100 B per item and per index item included)"
    )
    if stream:  # the pages' share of a record: their write units and bytes per entry, at each size
        shares = []
        for organization in ORGANIZATIONS:
            consumer = report.bill(DEFAULT, organization, after).consumer
            assert consumer is not None
            entries = max(consumer.total("entries"), 1.0)
            page_units = (consumer.total("table_units") + consumer.total("index_units")) / entries
            page_bytes = (consumer.total("table_bytes") + consumer.total("index_bytes")) / entries
            shares.append((organization, page_units, page_bytes))
        units += max(u for _, u, _ in shares)
        ratio = max((table + indexes + b) / table for _, _, b in shares)
        record_units = write_units(inbound, after.facts.indexes, stream)
        unit_detail = (
            f"{units:.2f} at most ({record_units} for the record, and the "
            "pages' share of a record: " + ", ".join(f"{u:.2f} at {o.name}" for o, u, _ in shares) + ")"
        )
        byte_detail = (
            f"{ratio:.2f}x at most ({table} B in the table for the record, and the pages' bytes a record, "
            "table and index: " + ", ".join(f"{b:,.0f} B at {o.name}" for o, _, b in shares) + ")"
        )
    out.append(
        (
            "write units per new event: at most 2",
            units <= 2,
            f"{unit_detail} (before: {write_units(inbound, before.facts.indexes)})",
        )
    )
    out.append(("stored bytes per message: at most 1.5x the base item's", ratio <= 1.5, byte_detail))
    return out


def inputs_table(report: Report) -> list[str]:
    """The measured figures each bill is built from, per variant and design."""
    before, after = report.designs
    rows = [
        "| measured (this run) | "
        + " | ".join(f"{v} {d.name}" for v in report.inputs for d in (before, after))
        + " |",
        "|---|" + "---:|" * (2 * len(report.inputs)),
    ]

    def cell(fn: Callable[[Inputs, Design], str]) -> str:
        return " | ".join(fn(report.inputs[v], d) for v in report.inputs for d in (before, after))

    def emf(kind: str) -> Callable[[Inputs, Design], str]:
        return lambda i, d: str(emf_bytes(d, i.kind(kind), features_for(i.variant.enrich)))

    def custom(i: Inputs, d: Design) -> str:
        features = features_for(i.variant.enrich)
        return str(len(set().union(*(series(d, e, features) for e in i.measurement.kinds.values()))))

    rows.append("| EMF bytes, new inbound message | " + cell(emf("inbound")) + " |")
    rows.append("| EMF bytes, redelivery | " + cell(emf("duplicate")) + " |")
    rows.append("| custom metrics, every kind seen | " + cell(custom) + " |")
    rows.append(
        "| audit item (B, DynamoDB's size rule) | "
        + cell(lambda i, d: str(item_size(i.kind("inbound").item or {})))
        + " |"
    )
    rows.append(
        "| write units per new message | "
        + cell(lambda i, d: str(write_units(i.kind("inbound").item or {}, d.facts.indexes, d.facts.stream)))
        + " |"
    )
    rows.append(
        "| bytes stored per message (table + indexes) | "
        + cell(
            lambda i, d: str(sum(stored_bytes(i.kind("inbound").item or {}, d.facts.indexes, d.facts.stream)))
        )
        + " |"
    )
    rows.append(
        "| handler CPU per warm invocation (ms, here) | "
        + cell(lambda i, d: f"{i.measurement.warm_cpu_ms:.2f}")
        + " |"
    )
    rows.append("| cold start CPU (ms, here) | " + cell(lambda i, d: f"{i.cold_cpu_ms:.0f}") + " |")
    rows.append(
        "| table class (template) | "
        + cell(lambda i, d: d.facts.table_class.replace("_", " ").lower())
        + " |"
    )
    rows.append(
        "| alarm metrics / dashboards / KMS keys (template) | "
        + cell(lambda i, d: f"{d.facts.alarm_metrics} / {d.facts.dashboards} / {d.facts.kms_keys}")
        + " |"
    )
    return rows


PARTITION_WRITE_UNITS_PER_SECOND = 1000  # DynamoDB's limit per partition (a GSI partition included)
# An on-demand table's default quota (AWS's "Quotas in Amazon DynamoDB": 40,000 write request units
# a second per table, raised on request): with no hot index partition, the next ceiling.
TABLE_WRITE_UNITS_PER_SECOND = 40_000


def hot_partition(report: Report) -> list[str]:
    """The time index takes a UTC day's new records under DAY_SHARDS partition keys (the day and a
    shard from the record key's CRC-32), each with a rising sort key (so splitting a partition does
    not spread new writes): the busiest shard's write rate at the peak hour against the 1,000 write
    units a second one partition accepts. Keys hash evenly, so a shard takes 1/DAY_SHARDS of the
    rate, give or take the second-by-second unevenness of random arrivals (kept below the limit by
    three standard deviations of a Poisson count for the margin figure)."""
    after = report.designs[1]
    inbound = report.inputs[DEFAULT.name].kind("inbound").item or {}
    time_index = next(i for i in after.facts.indexes if i.partition_key in TIME_INDEX_KEYS)
    shards = DAY_SHARDS if time_index.partition_key == SHARD_ATTRIBUTE else 1
    units = wru(item_size(index_item(inbound, time_index) or {}))
    share = peak_hour_share()  # of a week's mail, in its busiest hour
    limit = PARTITION_WRITE_UNITS_PER_SECOND
    out = [""]
    if after.facts.stream:  # the index's partitions take the consumer's page items, not the records
        for organization in ORGANIZATIONS:
            consumer = report.bill(DEFAULT, organization, after).consumer
            assert consumer is not None
            hour = consumer.busiest()
            per_second = hour.batches * hour.batch.index_units / 3600 / shards
            out.append(
                f"- time index partition ({shards} a day), {organization.name}: {per_second:,.2f} write "
                f"units/s of page index items in the peak hour ({per_second / limit:.2%} of one "
                f"partition's {limit:,}); the records themselves go to the table only"
            )
        # The records and the pages' own items go to the table under hashed keys: its quota is next.
        record_units = wru(item_size({k: v for k, v in inbound.items() if k != SHARD_ATTRIBUTE}))
        largest = ORGANIZATIONS[-1]
        consumer = report.bill(DEFAULT, largest, after).consumer
        assert consumer is not None
        hour = consumer.busiest()
        peak_messages = largest.messages_per_day * 7 * share / 3600
        table_per_second = peak_messages * record_units + hour.batches * hour.batch.table_units / 3600
        table_limit = TABLE_WRITE_UNITS_PER_SECOND
        ceiling = largest.messages_per_day * table_limit / table_per_second
        out.append(
            f"- the table, {largest.name}: {table_per_second:,.0f} write units/s in the peak hour (records "
            f"and page items, {table_per_second / table_limit:.1%} of an on-demand table's default quota "
            f"of {table_limit:,}); the peak hour reaches that quota at about {ceiling / 1e9:,.1f} billion "
            "messages a day (fewer page units a record at that size: a lower bound), and AWS raises it "
            "on request"
        )
        return out
    for organization in ORGANIZATIONS:
        per_second = organization.messages_per_day * 7 * share / 3600 * units / shards
        out.append(
            f"- time index partition ({shards} a day), {organization.name}: {per_second:,.1f} write units/s "
            f"in the peak hour ({per_second / limit:.0%} of one partition's {limit:,})"
        )
    ceiling = shards * limit * 3600 / (7 * share * units)
    # the rate r per shard whose busiest seconds (r + 3 sqrt(r) write units) stay within the limit
    steady = ((-3 + math.sqrt(9 + 4 * limit)) / 2) ** 2
    margin = shards * steady * 3600 / (7 * share * units)
    out.append(
        f"- the peak hour reaches the limit of its {shards} partitions at {ceiling / 1e6:,.0f} million "
        f"messages a day ({margin / 1e6:,.0f} million with a 3-sigma margin for busy seconds)"
    )
    return out


def assumptions(report: Report) -> list[str]:
    mix = report.mix
    return [
        f"- Organizations: {', '.join(f'{o.messages_per_day:,}' for o in ORGANIZATIONS)} new messages a day "
        f"(weekly average; {mix.inbound_share:.0%} inbound). Deliveries per message: {mix.redeliveries:.0%} "
        f"byte-identical redeliveries, conflicts and invalid payloads {mix.conflicts:.3%} each; "
        f"unexpected directions {mix.unknown:.3%}; truncated summaries {mix.truncated:.1%}. With enrichment: "
        f"{mix.attachments:.0%} with attachments, {mix.auth_failures:.0%} failing SPF/DKIM/DMARC, "
        f"{mix.not_found:.1%} not found by the message-flow API.",
        "- When mail flows, weight of an hour: weekdays 08-18 10 (20x a weekday night's 0.5), 06-08 and "
        "18-22 3; weekends 08-20 1.5, other weekend hours 0.3 (bench/traffic.py); a metric is billed for "
        "each hour it gets a data point.",
        f"- Lambda: measured CPU x {VCPU_MB}/memory MB (a share of one vCPU) + {DYNAMODB_ROUND_TRIP_MS:g} ms "
        f"DynamoDB round trip (+ {MESSAGE_FLOW_READ_MS:g} ms message-flow read with enrichment), rounded up "
        f"to the ms; cold start after {IDLE_MINUTES:g} idle minutes and every {CONTAINER_HOURS:g} h per busy "
        f"container; INIT billed (since {prices.LAMBDA_INIT_BILLED_SINCE}).",
        f"- Retention: audit records {RETENTION_DAYS} days, logs as the template says; "
        f"{KEYED_LOOKUPS_PER_MONTH} keyed {LOOKUP_DAYS}-day lookups a month. No free tier in the totals "
        "(the conservative figure for an account whose other workloads use it); one line shows it.",
    ]


def print_report(report: Report) -> None:
    before, after = report.designs
    print("\n## Monthly bill with the whole year in DynamoDB, `trail=false` (bench/bill.py)\n")
    print("The default deployment keeps the year in S3 instead: its bill is the last section.\n")
    print("\n".join(assumptions(report)))
    for variant in VARIANTS:
        if variant.name not in report.inputs:
            continue
        print(f"\n### {variant.name} deployment, trail=false\n")
        bills = [report.bill(variant, o, d) for o in ORGANIZATIONS for d in (before, after)]
        print("\n".join(bill_table(bills)))
        if variant is DEFAULT:
            print()
            for organization in ORGANIZATIONS:
                bill = report.bill(variant, organization, after)
                print(f"- {organization.name}, after: {dominant(bill)} of ${bill.total:,.2f}")
    print("\n### Measured inputs\n")
    print("\n".join(inputs_table(report)))
    print("\n".join(hot_partition(report)))
    print("\n### Cost targets\n")
    for name, ok, detail in targets(report):
        print(f"- [{'x' if ok else ' '}] {name}: {'MET' if ok else 'MISSED'} ({detail})")
    print(f"\n### Prices (us-east-1, read {prices.PRICES_AS_OF})\n")
    print("\n".join(prices.price_table()))


def designs_for(
    synthesize: Callable[[dict[str, Any]], TemplateFacts],
) -> Callable[[Variant], tuple[Design, Design]]:
    from bench.template import before

    def pair(variant: Variant) -> tuple[Design, Design]:
        # The whole year in DynamoDB (`trail=false`): the design the targets above were set against.
        context = {
            "enrichment": str(variant.enrich).lower(),
            "redact": str(variant.redact).lower(),
            "trail": "false",
        }
        return (
            Design("before", before(variant.redact), legacy_emf=True),
            Design("after", synthesize(context), legacy_emf=False),
        )

    return pair


def measure_all(endpoint: str, variants: tuple[Variant, ...] = VARIANTS) -> dict[str, Inputs]:
    from bench.emitted import cold_start_cpu_ms, create_table, measure

    cold = cold_start_cpu_ms(endpoint, create_table(endpoint))
    return {v.name: Inputs(measure(v, endpoint), cold) for v in variants}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bill", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON line: the default deployment's monthly totals"
    )
    parser.add_argument(
        "--time-index",
        choices=TIME_INDEX_MODES,
        default="template",
        help="how the synthesized stacks index time: as their template says (the collector's "
        "COLLECTOR_TIME_INDEX), or forced to per-record entries or pages from the table's stream",
    )
    args = parser.parse_args(argv)
    from bench.dynamodb_local import dynamodb_local

    with dynamodb_local() as endpoint:
        monthly_bill(endpoint, json_totals=args.json, time_index=args.time_index)
    return 0  # targets are reported, not enforced: the exit status is for correctness checks


DEFAULT_CONTEXT: dict[str, Any] = {}
TIME_INDEX_MODES = ("template", "record", "stream")


def with_time_index(facts: TemplateFacts, time_index: str) -> TemplateFacts:
    """The template's facts, the time index's mode forced unless `time_index` is "template"."""
    return facts if time_index == "template" else replace(facts, time_index=time_index)


def monthly_bill(endpoint: str, json_totals: bool = False, time_index: str = "template") -> None:
    """Measure against the running DynamoDB Local at `endpoint`, then print the bill (and the trail's,
    bench/trail_cost.py)."""
    from bench import trail_cost
    from bench.template import facts, synthesized

    def synthesize(context: dict[str, Any]) -> TemplateFacts:
        return with_time_index(facts(synthesized(context)), time_index)

    inputs = measure_all(endpoint)
    report = build(inputs, designs_for(synthesize), Mix())
    print_report(report)
    # The default deployment: `cdk deploy` with no context but the organization's ID.
    default = Design("default", synthesize(DEFAULT_CONTEXT), legacy_emf=False)
    now = [report.bill(DEFAULT, o, report.designs[1]) for o in ORGANIZATIONS]
    if default.facts.trail:
        bills, writer = trail_cost.bills(default, inputs[DEFAULT.name], report.mix)
        print("\n".join(trail_cost.report(now, bills, writer)))
    else:
        bills = [month(default, inputs[DEFAULT.name], o, report.mix) for o in ORGANIZATIONS]
        print("\n## The default deployment keeps no trail in S3: its bill is the main one's\n")
    if json_totals:
        print(json.dumps(trail_cost.as_json(bills)))


if __name__ == "__main__":
    sys.exit(main())
