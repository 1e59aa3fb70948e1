"""The benchmark suite's command line: every benchmark registers its options without clashes."""

import subprocess
import sys

from benchmarks.__main__ import BENCHMARKS, build_parser
from benchmarks.scale import growth, run_key, speedups


def test_the_benchmark_command_parses_and_lists_every_benchmark():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in BENCHMARKS:
        assert name in done.stdout
    args = build_parser().parse_args(["scale", "--scale-sizes", "100k,1m", "--scale-workers", "1,2", "--profile", "fast"])
    assert (args.scale_sizes, args.scale_workers, args.profile) == ("100k,1m", "1,2", "fast")


def scale_result(engine, workers, size, rows, seconds, rss):
    return {"engine": engine, "workers": workers, "size": size, "stages": "default", "profile": "fast",
            "median": {"rows_read": rows, "wall_seconds": seconds, "posts_per_second": rows / seconds,
                       "peak_rss_mib": rss, "cpu_seconds": None}}


def test_scale_growth_calls_cost_linear_and_memory_flat_from_the_figures():
    runs = [scale_result("local", 1, "100k", 100_000, 50, 800), scale_result("local", 1, "1m", 1_000_000, 520, 900),
            scale_result("local", 2, "100k", 100_000, 30, 900), scale_result("local", 2, "1m", 1_000_000, 600, 1500)]
    results = {run_key(r["engine"], r["workers"], r["size"], r["stages"], r["profile"]): r for r in runs}
    one, two = growth(results)
    assert (one["linear"], one["memory_flat"]) == (True, True)
    assert (two["linear"], two["memory_flat"]) == (False, False)
    (speedup,) = [s for s in speedups(results) if s["size"] == "100k"]
    assert speedup["speedup"] == round(50 / 30, 2)


def test_every_replicated_copy_repeats_posts_that_the_copy_before_holds():
    import pandas as pd

    from benchmarks.scale import DUPLICATE_EVERY, replicated_copy

    archive = pd.read_csv("corpora/sample/world_leaders_sample.csv", dtype=str, keep_default_na=False)
    copies = [replicated_copy(archive, copy) for copy in range(4)]
    for before, copy in zip(copies, copies[1:]):
        repeated = copy["id"].isin(before["id"])
        assert repeated.sum() == len(range(0, len(archive) - 1, DUPLICATE_EVERY))
        # A repeat is the earlier post itself: same id, account and time.
        merged = copy[repeated].merge(before, on="id", suffixes=("", "_before"))
        assert (merged["account"] == merged["account_before"]).all()
        assert (merged["date"] == merged["date_before"]).all()


def test_encoder_benchmark_scores_the_shipped_topic_heads_on_gold_posts(converted_encoder):
    from benchmarks.encoder import gold_dev_posts, gold_figures
    from pipeline.models.encoder import Encoder

    gold = gold_dev_posts().head(40)
    encoder = Encoder(converted_encoder)
    figures = gold_figures({"torch-fp32": encoder, "same-again": encoder}, gold, resamples=20)
    assert 0 < figures["torch-fp32"]["micro_f1"] <= 1
    assert figures["same-again"]["label_sets_equal"] == 1.0
    assert figures["same-again"]["f1_difference_95ci"] == {"micro_f1": [0.0, 0.0], "macro_f1": [0.0, 0.0]}
