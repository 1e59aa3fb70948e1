"""Throughput and peak memory of the real runner (ingest, normalize, langid, metrics, writing).

Two configurations: the world-leaders archive as shipped, and the same archive replicated
10x (real text; ids, timestamps and account names changed per copy so nothing collapses as
a duplicate). Every run is a fresh `python -m benchmarks.measure_run` process, so each peak
RSS is that run's own; the median over `--repeats` runs is reported.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.harness import WORLD_LEADERS_FILE, data_file, fail, percent, print_table, save_results

NAME = "throughput"
REPO_ROOT = Path(__file__).resolve().parents[1]
COPIES = 10
QUICK_ROWS = 10_000
DEFAULT_REPEATS = {"1x": 3, f"{COPIES}x": 1}
# The runner promises memory flat in archive size; allow 20% for allocator noise and the
# per-account state that does grow (10x the accounts).
FLAT_RATIO = 1.2
ID_STRIDE = 10**20  # above every tweet id, so copies never collide
COPY_SHIFT = timedelta(days=1)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # GetOldTweets3's, as in the archive
VARIED_COLUMNS = ("id", "date", "username", "account")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("throughput")
    group.add_argument("--repeats", type=int, metavar="N",
                       help="runs per configuration, median reported (default: 3 for the archive, "
                            f"1 for {COPIES}x; 1 each with --quick)")
    group.add_argument("--stages", default="normalize,langid", metavar="LIST",
                       help="stages to run, comma-separated, or 'default' for the shipped configuration "
                            "(default: normalize,langid, the foundation's ingest + normalize + langid figure)")
    group.add_argument("--profile", choices=("auto", "accurate", "fast"), default="auto",
                       help="model profile of the runs (default: auto, as `diplolens run`)")
    group.add_argument("--workers", type=int, default=1, metavar="N",
                       help="processes that run the stages (`diplolens run --workers N`; default: 1)")
    group.add_argument("--sizes", default=f"1x,{COPIES}x", metavar="LIST",
                       help=f"archive sizes to run, comma-separated (default: 1x,{COPIES}x; the memory-flatness "
                            f"check needs both)")
    group.add_argument("--quick", action="store_true",
                       help=f"smoke check on a {QUICK_ROWS:,}-row slice of the archive (and that slice {COPIES}x); "
                            f"figures go to {NAME}-quick.json")


def run(args: argparse.Namespace) -> None:
    if args.repeats is not None and args.repeats < 1:
        fail("--repeats must be at least 1")
    if args.workers < 1:
        fail("--workers must be at least 1")
    sizes = args.sizes.split(",")
    if not sizes or not set(sizes) <= set(DEFAULT_REPEATS):
        fail(f"--sizes: expected a comma-separated subset of {', '.join(DEFAULT_REPEATS)}, got {args.sizes!r}")
    source = data_file(args.data, WORLD_LEADERS_FILE)
    repeats = {label: args.repeats or (1 if args.quick else default) for label, default in DEFAULT_REPEATS.items()}
    archive = f"quick: {QUICK_ROWS:,}-row slice" if args.quick else "world-leaders archive"
    settings = {"stages": args.stages, "profile": args.profile, "workers": args.workers}
    print(f"\n== Throughput and peak memory of pipeline.runner.run ({archive}; stages: {args.stages}; "
          f"profile: {args.profile}; workers: {args.workers}) ==")
    with tempfile.TemporaryDirectory(prefix="diplolens-bench-") as scratch:
        scratch = Path(scratch)
        base = write_slice(source, scratch / "slice.csv", QUICK_ROWS) if args.quick else source
        paths = {"1x": base}
        if f"{COPIES}x" in sizes:
            paths[f"{COPIES}x"] = write_replicated(base, scratch / f"replicated_{COPIES}x.csv", COPIES)
        configurations = {label: measure_configuration(label, paths[label], repeats[label], scratch, settings)
                          for label in sizes}

    figures = {"quick": args.quick, **settings, "input": str(source), "configurations": configurations}
    print_summary(configurations)
    if len(configurations) == 2:
        one, many = configurations["1x"]["median"], configurations[f"{COPIES}x"]["median"]
        memory_ratio = round(many["peak_rss_mib"] / one["peak_rss_mib"], 2)
        speed_ratio = round(many["posts_per_second"] / one["posts_per_second"], 2)
        figures.update({"peak_rss_ratio_10x_to_1x": memory_ratio, "peak_rss_flat": memory_ratio <= FLAT_RATIO,
                        "flat_threshold": FLAT_RATIO, "posts_per_second_ratio_10x_to_1x": speed_ratio})
        verdict = "flat" if figures["peak_rss_flat"] else "NOT flat"
        print(f"peak memory is {verdict}: {COPIES}x / 1x peak RSS = {memory_ratio} (flat means <= {FLAT_RATIO}); "
              f"{COPIES}x / 1x posts/s = {speed_ratio}")
    name = NAME + ("-quick" if args.quick else "") + (f"-workers{args.workers}" if args.workers > 1 else "")
    path = save_results(name, figures)
    print(f"figures: {path}")


def write_slice(source: Path, target: Path, rows: int) -> Path:
    """`rows` rows spread evenly over the archive: a small one with the full one's mix of accounts."""
    with open(source, newline="", encoding="utf-8") as handle:
        total = sum(1 for _ in csv.DictReader(handle))
    picks = {k * total // rows for k in range(min(rows, total))}
    with open(source, newline="", encoding="utf-8") as inp, open(target, "w", newline="", encoding="utf-8") as out:
        reader = csv.DictReader(inp)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(row for i, row in enumerate(reader) if i in picks)
    return target


def write_replicated(source: Path, target: Path, copies: int) -> Path:
    """`copies` copies of the archive, each with its own ids, timestamps and account names."""
    with open(target, "w", newline="", encoding="utf-8") as out:
        writer = None
        for copy in range(copies):
            # Read again per copy: memory stays one row, whatever the archive's size.
            with open(source, newline="", encoding="utf-8") as inp:
                reader = csv.DictReader(inp)
                missing = [name for name in VARIED_COLUMNS if name not in reader.fieldnames]
                if missing:
                    fail(f"{source}: no {', '.join(missing)} column to vary per copy")
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
                    writer.writeheader()
                for row in reader:
                    writer.writerow(varied_copy(row, copy) if copy else row)
    return target


def varied_copy(row: dict, copy: int) -> dict:
    row["id"] = str(int(row["id"]) + copy * ID_STRIDE)
    if row["date"]:
        row["date"] = (datetime.strptime(row["date"], DATE_FORMAT) + copy * COPY_SHIFT).strftime(DATE_FORMAT)
    row["username"] = f"{row['username']}_copy{copy}"
    row["account"] = f"{row['account']}_copy{copy}"
    return row


def measure_configuration(label: str, path: Path, repeats: int, scratch: Path, settings: dict) -> dict:
    runs = []
    for attempt in range(1, repeats + 1):
        out_dir = scratch / f"out_{label}_{attempt}"
        runs.append(measure_in_fresh_process(path, out_dir, settings))
        shutil.rmtree(out_dir, ignore_errors=True)  # the 10x tables are large; only the figures matter
        last = runs[-1]
        print(f"  {label} run {attempt}/{repeats}: {last['rows_read']:,} rows in {last['wall_seconds']:.1f} s = "
              f"{last['posts_per_second']:,.0f} posts/s, peak RSS {last['peak_rss_mib']:,.0f} MiB", flush=True)
    stages = runs[0]["stage_seconds"].keys()
    median = {
        "posts_per_second": statistics.median(r["posts_per_second"] for r in runs),
        "wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
        "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
        "stage_seconds": {stage: statistics.median(r["stage_seconds"][stage] for r in runs) for stage in stages},
    }
    return {"input_rows": runs[0]["rows_read"], "accounts": runs[0]["accounts"], "repeats": repeats,
            "median": median, "runs": runs}


def measure_in_fresh_process(path: Path, out_dir: Path, settings: dict) -> dict:
    """settings: stages, profile, workers and, optionally, engine (default local)."""
    completed = subprocess.run([sys.executable, "-m", "benchmarks.measure_run", str(path), str(out_dir),
                                settings["stages"], settings["profile"], str(settings["workers"]),
                                settings.get("engine", "local")],
                               cwd=REPO_ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        detail = (completed.stderr.strip().splitlines() or ["no error output"])[-1]
        fail(f"pipeline run on {path.name} failed (exit {completed.returncode}): {detail}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def print_summary(configurations: dict) -> None:
    rows = []
    for label, figures in configurations.items():
        runs, median = figures["runs"], figures["median"]
        rates = [r["posts_per_second"] for r in runs]
        rows.append([label, f"{figures['input_rows']:,}", figures["accounts"], figures["repeats"],
                     f"{median['posts_per_second']:,.0f}", f"{min(rates):,.0f}-{max(rates):,.0f}",
                     f"{median['wall_seconds']:.1f}", f"{median['peak_rss_mib']:,.0f}"])
    print("medians (posts/s = rows read / wall time of runner.run, model loading included):")
    print_table(["config", "rows", "accounts", "runs", "posts/s", "range", "wall s", "peak RSS MiB"], rows)
    stages = list(next(iter(configurations.values()))["median"]["stage_seconds"])
    print("manifest stage timings, median seconds (share of the run's total):")
    medians = [figures["median"]["stage_seconds"] for figures in configurations.values()]
    print_table(["stage"] + list(configurations),
                [[stage] + [stage_cell(seconds, stage) for seconds in medians] for stage in stages])


def stage_cell(seconds: dict, stage: str) -> str:
    if stage == "total":
        return f"{seconds[stage]:.1f}"
    return f"{seconds[stage]:.1f} ({percent(seconds[stage] / seconds['total']).strip()})"
