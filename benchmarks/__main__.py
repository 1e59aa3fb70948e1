"""`python -m benchmarks [NAME ...] [options]`: run the named benchmarks, or all of them."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import bots, coordination, encoder, langid_accuracy, scale, throughput
from benchmarks.harness import DEFAULT_DATA_DIR, fail

# Run in this order when no name is given: the quick one first.
BENCHMARKS = {module.NAME: module for module in (langid_accuracy, bots, coordination, encoder, throughput, scale)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure DiploLens: language-ID accuracy, bot-likeness, encoder backends, pipeline throughput and "
                    "scaling. Figures are printed "
                    "and written to benchmarks/results/<name>.json.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, metavar="DIR",
                        help=f"shared data folder (default: {DEFAULT_DATA_DIR})")
    for module in BENCHMARKS.values():
        module.add_arguments(parser)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        fail(f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    if not args.data.is_dir():
        fail(f"data folder not found: {args.data} (give it with --data DIR)")
    for name in args.names or list(BENCHMARKS):
        BENCHMARKS[name].run(args)


if __name__ == "__main__":
    main()
