"""`python -m bench`: the benchmark against the Powertools way, then the monthly bill (bench/README.md)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.dynamodb_local import dynamodb_local
from bench.run import Options, compare


def main(options: Options, monthly_bill: bool = False) -> int:
    """The comparison and the cold start (or the storm), then, with `monthly_bill`, the bill, all
    against one DynamoDB Local."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, dynamodb_local() as endpoint:
        workdir = Path(tmp)
        if not options.only_storm:
            results["comparison"] = compare(options, workdir, endpoint)
            from bench.coldstart import run as cold_start

            results["cold_start"] = cold_start(
                options.cold_rounds, 3, levers=False, plain_http=options.plain_http, endpoint=endpoint
            )
        if options.storm or options.only_storm:
            from bench.storm_bench import storm_bench

            results["storm"] = storm_bench(endpoint, workdir, options.storm_events)
        if monthly_bill:
            from bench.bill import monthly_bill as print_bill

            print_bill(endpoint)
    if options.json_out is not None:
        options.json_out.write_text(json.dumps(results, indent=2, default=str))
    comparison = results.get("comparison")
    return 0 if comparison is None or all(ok for _, ok, _ in comparison["correctness"]) else 1


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="deliveries per run (default 2000)")
    parser.add_argument("--duplicates", type=float, default=0.10, help="share of redeliveries (default 0.10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--warmup-events", type=int, default=400, help="discarded warm-up run per handler")
    parser.add_argument("--memory-mb", type=int, default=256, help="Lambda memory size for the cost model")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, dest="json_out", help="also write every figure to this file")
    parser.add_argument("--storm", action="store_true", help="also run the full duplicate storm")
    parser.add_argument("--storm-only", action="store_true", dest="only_storm", help="run only the storm")
    parser.add_argument("--storm-events", type=int, default=10_000)
    parser.add_argument(
        "--cold-rounds", type=int, default=7, help="alternating rounds of the built assets' cold start"
    )
    parser.add_argument(
        "--plain-http", action="store_true", help="no TLS to the proxy (flatters the baseline's cold start)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.duplicates < 1 or args.events < 2 or args.rounds < 1:
        parser.error("need --events >= 2, --rounds >= 1 and 0 <= --duplicates < 1")
    return Options(**vars(args))


if __name__ == "__main__":
    options = parse(sys.argv[1:])
    sys.exit(main(options, monthly_bill=not options.only_storm))  # the bill: bench/bill.py
