"""`python -m bench`: the benchmark against the Powertools way, then the monthly bill (bench/README.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.run import Options, main


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
