"""How DiploLens scales: the world-leaders archive replicated to 100 k, 1 M and 10 M posts.

Each size is a Parquet file of copies of the real archive (text kept; ids, timestamps and
account names varied per copy, as in the throughput benchmark), written copy by copy so the
generation itself holds one copy in memory. One percent of each copy's rows repeat the previous
copy's post (same id, account and time): duplicates far apart in the input, as overlapping
exports of a collection give. Every run is a fresh `python -m benchmarks.measure_run` process
(local engine, or the Dask engine on a LocalCluster of N worker processes).

Reported per run: wall seconds, posts/s, CPU seconds, peak RSS (the Dask engine's: the
client's plus each worker's), and per stage seconds and posts/s (for Dask, seconds summed over
the workers); per engine, how time and memory grow from one size to the next against the size
ratio (cost per post from CPU time when measured, which other load on the machine barely moves).
Results merge into benchmarks/results/scale.json, keyed by engine, workers and size, so sizes
and engines may be measured in separate invocations.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.harness import RESULTS_DIR, WORLD_LEADERS_FILE, data_file, fail, print_table, save_results
from benchmarks.throughput import COPY_SHIFT, DATE_FORMAT, FLAT_RATIO, ID_STRIDE, measure_in_fresh_process
from pipeline.config import default_config

NAME = "scale"
SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
DUPLICATE_EVERY = 100  # every 100th row of a copy repeats a post of the previous copy
GENERATION = "v2"  # in the archives' file names: v1's repeats matched existing posts in copy 1 only
ROW_GROUP = 10_000
# Cost per post within this share of the smaller size's: linear.
LINEAR_TOLERANCE = 0.2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scale (also reads --stages, --profile and --repeats)")
    group.add_argument("--scale-sizes", default=",".join(SIZES), metavar="LIST",
                       help=f"archive sizes, comma-separated, of {', '.join(SIZES)} (default: all)")
    group.add_argument("--engine", choices=("local", "dask"), default="local", help="engine (default: local)")
    group.add_argument("--scale-workers", default="1", metavar="LIST",
                       help="worker processes, comma-separated to compare, e.g. 1,2: `diplolens run --workers N` "
                            "for the local engine, a LocalCluster of N for Dask (default: 1)")
    group.add_argument("--stage-costs", action="store_true",
                       help="also run the default stages' prefixes (normalize; normalize,langid; ...) at each size "
                            "with one worker, to attribute time and peak memory to each stage")
    group.add_argument("--scratch", type=Path, default=Path("/tmp/diplolens-scale"), metavar="DIR",
                       help="where the replicated archives are written and kept (default: /tmp/diplolens-scale)")


def run(args: argparse.Namespace) -> None:
    sizes = [label.strip().lower() for label in args.scale_sizes.split(",")]
    unknown = [label for label in sizes if label not in SIZES]
    if unknown:
        fail(f"--scale-sizes: unknown size {', '.join(unknown)} (known: {', '.join(SIZES)})")
    try:
        workers = [int(w) for w in args.scale_workers.split(",")]
    except ValueError:
        fail(f"--scale-workers: expected numbers, e.g. 1,2, not {args.scale_workers!r}")
    if min(workers) < 1:
        fail("--scale-workers: at least 1 worker")
    repeats = args.repeats or 1
    source = data_file(args.data, WORLD_LEADERS_FILE)
    args.scratch.mkdir(parents=True, exist_ok=True)
    print(f"\n== Scale: the world-leaders archive replicated (engine {args.engine}; stages: {args.stages}; "
          f"profile: {args.profile}) ==")
    results, stage_costs = previous_results()
    for label in sizes:
        archive = replicated_archive(source, args.scratch, label)
        for count in workers:
            key = run_key(args.engine, count, label, args.stages, args.profile)
            runs = []
            for attempt in range(1, repeats + 1):
                out_dir = args.scratch / f"out_{key.replace('/', '_')}"
                runs.append(measure_in_fresh_process(archive, out_dir, {
                    "stages": args.stages, "profile": args.profile, "workers": count, "engine": args.engine}))
                shutil.rmtree(out_dir, ignore_errors=True)  # gigabytes at 10 M; only the figures matter
                last = runs[-1]
                print(f"  {key} run {attempt}/{repeats}: {last['rows_read']:,} rows in {last['wall_seconds']:.0f} s = "
                      f"{last['posts_per_second']:,.0f} posts/s, peak RSS {last['peak_rss_mib']:,.0f} MiB", flush=True)
            results[key] = {"engine": args.engine, "workers": count, "size": label, "stages": args.stages,
                            "profile": args.profile,
                            "repeats": repeats, "median": median_of(runs), "runs": runs}
            save(results, stage_costs)  # after every size: a 10 M run that is stopped keeps the smaller ones
        if args.stage_costs:
            stage_costs[label] = measure_stage_costs(archive, args.scratch, args.profile)
            save(results, stage_costs)
    print_summary(results)
    for label, costs in stage_costs.items():
        print(f"what each stage adds at {label} (runs of the default stages' prefixes, one worker, {args.profile}):")
        print_table(["stage", "wall s added", "stage posts/s", "peak RSS MiB added"],
                    [[c["stage"], f"{c['wall_seconds_added']:,.1f}", f"{c['stage_posts_per_second']:,.0f}",
                      f"{c['peak_rss_mib_added']:,.0f}"] for c in costs])
    print(f"figures: {RESULTS_DIR / (NAME + '.json')}")


def save(results: dict, stage_costs: dict) -> None:
    save_results(NAME, {"runs": results, "growth": growth(results), "speedup": speedups(results),
                        "stage_costs": stage_costs})


def run_key(engine: str, workers: int, size: str, stages: str, profile: str) -> str:
    return f"{engine}-{workers}/{size}/{stages}/{profile}"


def previous_results() -> tuple[dict, dict]:
    path = RESULTS_DIR / f"{NAME}.json"
    if not path.is_file():
        return {}, {}
    saved = json.loads(path.read_text("utf-8"))
    return saved["runs"], saved.get("stage_costs", {})


def measure_stage_costs(archive: Path, scratch: Path, profile: str) -> list[dict]:
    """Runs of normalize, then normalize+langid, ... (each a fresh process): what each stage
    adds to wall time and peak RSS. Ingest, writing and the archive-wide pass are in every run
    and so in the first row."""
    stages = default_config()["stages"]
    costs, previous = [], {"wall_seconds": 0.0, "peak_rss_mib": 0.0}
    for count in range(1, len(stages) + 1):
        out_dir = scratch / "out_stage_costs"
        figures = measure_in_fresh_process(archive, out_dir, {
            "stages": ",".join(stages[:count]), "profile": profile, "workers": 1, "engine": "local"})
        shutil.rmtree(out_dir, ignore_errors=True)
        stage = stages[count - 1]
        seconds = figures["stage_seconds"].get(stage) or 0.0
        costs.append({"stage": stage, "wall_seconds_added": round(figures["wall_seconds"] - previous["wall_seconds"], 2),
                      "stage_seconds": seconds,
                      "stage_posts_per_second": round(figures["rows_read"] / seconds) if seconds else None,
                      "peak_rss_mib_added": round(figures["peak_rss_mib"] - previous["peak_rss_mib"], 1),
                      "run": {k: figures[k] for k in ("wall_seconds", "posts_per_second", "peak_rss_mib")}})
        print(f"  stages {','.join(stages[:count])}: {figures['wall_seconds']:.0f} s, "
              f"peak RSS {figures['peak_rss_mib']:,.0f} MiB", flush=True)
        previous = figures
    return costs


# -- the replicated archives ------------------------------------------------------------------

def replicated_archive(source: Path, scratch: Path, label: str) -> Path:
    """SIZES[label] rows of copies of the archive as Parquet; kept and reused across invocations."""
    rows = SIZES[label]
    target = scratch / f"world_leaders_{label}-{GENERATION}.parquet"
    if target.is_file() and pq.read_metadata(target).num_rows == rows:
        return target
    archive = pd.read_csv(source, dtype=str, keep_default_na=False)
    schema = pa.schema([(name, pa.string()) for name in archive.columns])
    partial = target.with_name(target.name + ".partial")
    written, copy = 0, 0
    with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        while written < rows:
            frame = replicated_copy(archive, copy).iloc[: rows - written]
            writer.write_table(pa.Table.from_pandas(frame, schema, preserve_index=False), row_group_size=ROW_GROUP)
            written += len(frame)
            copy += 1
    partial.replace(target)
    print(f"  wrote {target} ({rows:,} rows, {copy} copies)", flush=True)
    return target


def replicated_copy(archive: pd.DataFrame, copy: int) -> pd.DataFrame:
    """Copy number `copy`, every `DUPLICATE_EVERY`th row replaced by the next row of the copy
    before: a row that copy holds as its own (its every 100th rows are repeats themselves)."""
    frame = varied(archive, copy)
    if copy:
        targets = np.arange(0, len(archive) - 1, DUPLICATE_EVERY)
        frame.iloc[targets] = varied(archive.iloc[targets + 1], copy - 1).to_numpy()
    return frame


def varied(archive: pd.DataFrame, copy: int) -> pd.DataFrame:
    """Copy number `copy` of the archive: its own ids, timestamps and account names (0: as is)."""
    if not copy:
        return archive.copy()
    dates = pd.to_datetime(archive["date"], format=DATE_FORMAT) + copy * COPY_SHIFT
    return archive.assign(
        id=[str(int(i) + copy * ID_STRIDE) for i in archive["id"]],
        date=dates.dt.strftime(DATE_FORMAT),
        username=archive["username"] + f"_copy{copy}",
        account=archive["account"] + f"_copy{copy}",
    )


# -- figures ----------------------------------------------------------------------------------

def median_of(runs: list[dict]) -> dict:
    stages = runs[0]["stage_seconds"].keys()
    return {
        "rows_read": runs[0]["rows_read"],
        "posts_written": runs[0]["posts_written"],
        "wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
        "posts_per_second": statistics.median(r["posts_per_second"] for r in runs),
        "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
        "cpu_seconds": statistics.median(r.get("cpu_seconds") or 0 for r in runs) or None,
        "stage_seconds": {stage: statistics.median(r["stage_seconds"][stage] for r in runs) for stage in stages},
    }


def growth(results: dict) -> list[dict]:
    """Per setup (engine, workers, stages, profile), each size against the next smaller one measured."""
    rows = []
    for setup in sorted({_setup(r) for r in results.values()}):
        measured = sorted((r for r in results.values() if _setup(r) == setup), key=lambda r: SIZES[r["size"]])
        for small, large in zip(measured, measured[1:]):
            a, b = small["median"], large["median"]
            size_ratio = b["rows_read"] / a["rows_read"]
            time_ratio = b["wall_seconds"] / a["wall_seconds"]
            memory_ratio = b["peak_rss_mib"] / a["peak_rss_mib"]
            # CPU time when both runs have it: wall time also measures the machine's other load.
            cpu = a.get("cpu_seconds") and b.get("cpu_seconds") and b["cpu_seconds"] / a["cpu_seconds"]
            cost_ratio = (cpu or time_ratio) / size_ratio
            rows.append({"setup": setup, "from": small["size"], "to": large["size"],
                         "size_ratio": round(size_ratio, 2), "time_ratio": round(time_ratio, 2),
                         "cpu_ratio": round(cpu, 2) if cpu else None,
                         "cost_per_post_ratio": round(cost_ratio, 2), "cost_from": "cpu" if cpu else "wall",
                         "linear": abs(cost_ratio - 1) <= LINEAR_TOLERANCE,
                         "peak_rss_ratio": round(memory_ratio, 2), "memory_flat": memory_ratio <= FLAT_RATIO})
    return rows


def speedups(results: dict) -> list[dict]:
    """Posts/s with N workers against one worker, same engine, size, stages and profile."""
    rows = []
    for r in results.values():
        one = results.get(run_key(r["engine"], 1, r["size"], r["stages"], r["profile"]))
        if one and r["workers"] != 1:
            rows.append({"engine": r["engine"], "size": r["size"], "stages": r["stages"], "profile": r["profile"],
                         "workers": r["workers"],
                         "speedup": round(r["median"]["posts_per_second"] / one["median"]["posts_per_second"], 2)})
    return rows


def _setup(result: dict) -> str:
    """What a run measured, but its size: engine, workers, stages, profile."""
    return f"{result['engine']}-{result['workers']} {result['stages']} {result['profile']}"


def print_summary(results: dict) -> None:
    ordered = sorted(results.items(), key=lambda item: (_setup(item[1]), SIZES[item[1]["size"]]))
    print("medians (whole run = runner.run, model loading included; dask stage seconds summed over workers):")
    print_table(["run", "posts", "wall s", "posts/s", "peak RSS MiB"],
                [[key, f"{r['median']['rows_read']:,}", f"{r['median']['wall_seconds']:,.0f}",
                  f"{r['median']['posts_per_second']:,.0f}", f"{r['median']['peak_rss_mib']:,.0f}"]
                 for key, r in ordered])
    print("posts/s per stage (posts read / seconds in the stage):")
    stages = sorted({stage for _, r in ordered for stage in r["median"]["stage_seconds"]} - {"total"})
    print_table(["run"] + stages,
                [[key] + [_rate(r["median"], stage) for stage in stages] for key, r in ordered])
    table = growth(results)
    if table:
        print(f"growth (linear: cost per post within {LINEAR_TOLERANCE:.0%}; flat memory: peak RSS ratio <= {FLAT_RATIO}):")
        print_table(["setup", "sizes", "size x", "time x", "CPU x", "cost/post x", "linear", "RSS x", "flat"],
                    [[g["setup"], f"{g['from']}->{g['to']}", g["size_ratio"], g["time_ratio"], g.get("cpu_ratio") or "-",
                      f"{g['cost_per_post_ratio']} ({g.get('cost_from', 'wall')})", g["linear"], g["peak_rss_ratio"],
                      g["memory_flat"]] for g in table])
    for s in speedups(results):
        print(f"{s['engine']} speedup at {s['size']} ({s['stages']}, {s['profile']}): {s['workers']} workers = "
              f"{s['speedup']}x one worker")


def _rate(median: dict, stage: str) -> str:
    seconds = median["stage_seconds"].get(stage)
    # A stage with no work in this profile (embed in the fast one) takes microseconds: no rate.
    return f"{median['rows_read'] / seconds:,.0f}" if seconds and seconds >= 0.1 else "-"
