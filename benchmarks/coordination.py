"""Coordination (`pipeline.risk.coordination`) on real data: co-reposts and near-duplicate texts.

- Co-repost on CooRTweet's `russian_coord_tweets` (35,125 real retweets of a pro-government
  mobilisation): edges, clusters and accounts at the defaults (60 s, at least 2 items), wall
  time and peak memory; and a comparison with CooRTweet's own algorithm, re-implemented here
  line by line from its R source (no R on the machine): `detect_groups` (all pairs of shares of
  one object within `time_window`, loops removed, `min_participation`) and
  `generate_coordinated_network` (edge weight = pairs of shares; threshold = a quantile).
- Near-duplicate texts on the world-leaders archive: posts/s of `update` + `finish` on the
  archive and on the archive repeated (each copy a day later, accounts renamed), which must
  stay flat if the work is linear in posts; peak memory and what is kept per post; what the
  defaults flag in these real posts.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

from benchmarks.harness import WORLD_LEADERS_FILE, data_file, print_table, save_results
from pipeline.normalize import normalize_text
from pipeline.risk.coordination import DEFAULTS, CoordinationDetector

NAME = "coordination"
COORTWEET_FILE = "coortweet_russian_coord_tweets/russian_coord_tweets.csv"
BATCH_SIZE = 5000  # the runner's default batch size
# CooRTweet's vignette: detect_groups(min_participation = 2, time_window = 600), then
# generate_coordinated_network(edge_weight = 0.99): "the threshold value corresponds to a
# minimum edge weight of 3" (vignettes/vignette.Rmd, nicolarighetti/CooRTweet).
VIGNETTE = {"time_window": 600, "min_participation": 2, "edge_weight_quantile": 0.99, "min_weight_above": 3}
MIB = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("coordination")
    group.add_argument("--near-duplicate-copies", type=int, default=4, metavar="N",
                       help="the world-leaders archive repeated N times for the near-duplicate scaling check "
                            "(default 4)")


def run(args: argparse.Namespace) -> None:
    retweets = load_retweets(data_file(args.data, COORTWEET_FILE))
    leaders = load_leaders(data_file(args.data, WORLD_LEADERS_FILE))
    print(f"\n== Coordination: co-reposts on {len(retweets):,} real retweets (CooRTweet russian_coord_tweets) ==")
    co_repost = measure_co_repost(retweets)
    comparison = compare_with_coortweet(retweets)
    print(f"\n== Coordination: near-duplicate texts on the world-leaders archive ({len(leaders):,} posts) ==")
    near = measure_near_duplicates(leaders, args.near_duplicate_copies)
    path = save_results(NAME, {"settings": DEFAULTS, "batch_size": BATCH_SIZE, "co_repost": co_repost,
                               "coortweet_comparison": comparison, "near_duplicate": near})
    print(f"figures: {path}")


def load_retweets(path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype={"timestamp_share": "float64"})
    return pd.DataFrame({
        "post_id": raw["content_id"], "platform": "twitter", "account_handle": raw["account_id"],
        "account_id": raw["account_id"], "created_at": pd.to_datetime(raw["timestamp_utc"], utc=True),
        "text_norm": "", "is_repost": True, "repost_of_id": raw["object_id"],
        "timestamp_share": raw["timestamp_share"],
    })


def load_leaders(path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
    return pd.DataFrame({
        "post_id": raw["id"], "platform": "twitter", "account_handle": raw["username"], "account_id": None,
        "created_at": pd.to_datetime(raw["date"], utc=True), "text_norm": raw["text"].map(normalize_text),
        "is_repost": False, "repost_of_id": None,
    })


def detect(posts: pd.DataFrame, settings: dict | None = None):
    """The detector fed batch by batch, as the runner would; returns the result and seconds
    spent in `update` and in `finish`."""
    detector = CoordinationDetector(settings)
    tick = time.perf_counter()
    for start in range(0, len(posts), BATCH_SIZE):
        detector.update(posts.iloc[start:start + BATCH_SIZE])
    updated = time.perf_counter()
    result = detector.finish()
    return result, updated - tick, time.perf_counter() - updated


def traced_memory(posts: pd.DataFrame) -> dict:
    """Peak memory allocated while detecting (tracemalloc sees numpy's arrays too), and the
    memory the detector holds after the last `update`, per post it kept."""
    tracemalloc.start()
    detector = CoordinationDetector()
    for start in range(0, len(posts), BATCH_SIZE):
        detector.update(posts.iloc[start:start + BATCH_SIZE])
    held = tracemalloc.get_traced_memory()[0]
    detector.finish()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    kept = detector._post_ids.count  # spilled to disk: what is held stays flat as posts grow
    return {"peak_mib": round(peak / MIB, 1), "held_after_updates_mib": round(held / MIB, 1),
            "posts_kept": kept, "bytes_per_kept_post": round(held / kept) if kept else None}


def clusters(edges: pd.DataFrame) -> dict:
    """Connected components of an edge list (account_a, account_b): count and size distribution."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    codes, names = pd.factorize(pd.concat([edges["account_a"], edges["account_b"]]))
    half = len(edges)
    graph = coo_matrix((np.ones(half), (codes[:half], codes[half:])), shape=(len(names), len(names)))
    sizes = np.bincount(connected_components(graph, directed=False)[1]) if len(names) else np.array([], int)
    distribution = pd.Series(sizes).value_counts().sort_index()
    return {"accounts": len(names), "clusters": len(sizes),
            "largest": int(sizes.max()) if len(sizes) else 0,
            "size_distribution": {int(size): int(count) for size, count in distribution.items()}}


# -- co-repost --------------------------------------------------------------------------------

def measure_co_repost(retweets: pd.DataFrame) -> dict:
    posts = retweets.drop(columns="timestamp_share")
    result, update_s, finish_s = detect(posts)
    memory = traced_memory(posts)
    edges = result.edges
    figures = {
        "posts": len(posts), "accounts_in_stream": int(posts["account_handle"].nunique()),
        "edges": len(edges),
        "edge_weights": {int(w): int(n) for w, n in edges["weight"].value_counts().sort_index().items()},
        **clusters(edges),
        "coordinated_posts": int(result.posts["coordinated"].sum()),
        "wall_seconds": round(update_s + finish_s, 3), "update_seconds": round(update_s, 3),
        "finish_seconds": round(finish_s, 3), "posts_per_second": round(len(posts) / (update_s + finish_s)),
        "memory": memory,
    }
    print(f"defaults (window {DEFAULTS['co_repost_window_seconds']} s, min_repetition {DEFAULTS['min_repetition']}): "
          f"{figures['edges']} co-repost edges, {figures['clusters']} clusters, {figures['accounts']} accounts "
          f"of {figures['accounts_in_stream']:,}, {figures['coordinated_posts']} coordinated posts")
    print(f"cluster sizes (size: clusters): {figures['size_distribution']}; edge weights: {figures['edge_weights']}")
    print(f"time {figures['wall_seconds']:.2f} s ({figures['posts_per_second']:,} posts/s), peak traced memory "
          f"{memory['peak_mib']} MiB, {memory['bytes_per_kept_post']} bytes held per repost")
    return figures


def coortweet_pairs(retweets: pd.DataFrame, time_window: float, min_participation: int) -> pd.DataFrame:
    """CooRTweet's `do_detect_groups` (R/detect_groups.R, R/calc_group_combinations.R), brute force."""
    x = retweets.rename(columns={"repost_of_id": "object_id", "account_handle": "account", "post_id": "content_id"})
    x = x[["object_id", "account", "content_id", "timestamp_share"]]
    x = x[x.groupby("account")["content_id"].transform("size") >= min_participation].reset_index(drop=True)
    x["row"] = np.arange(len(x))
    pairs = x.merge(x, on="object_id", suffixes=("", "_y"))
    pairs = pairs[pairs["row"] < pairs["row_y"]]
    pairs = pairs[(pairs["timestamp_share"] - pairs["timestamp_share_y"]).abs() <= time_window]
    pairs = pairs[(pairs["content_id"] != pairs["content_id_y"]) & (pairs["account"] != pairs["account_y"])]
    # filter_min_participation: accounts with enough shares among the coordinated ones.
    coordinated = pd.unique(pd.concat([pairs["content_id"], pairs["content_id_y"]]))
    shares = x[x["content_id"].isin(coordinated)]
    kept = shares[shares.groupby("account")["content_id"].transform("size") >= min_participation]["content_id"]
    return pairs[pairs["content_id"].isin(kept) | pairs["content_id_y"].isin(kept)]


def coortweet_edges(pairs: pd.DataFrame) -> pd.DataFrame:
    """`generate_coordinated_network`'s edge table: weight = pairs of shares per account pair."""
    low = np.minimum(pairs["account"], pairs["account_y"])
    high = np.maximum(pairs["account"], pairs["account_y"])
    edges = pd.DataFrame({"account_a": low, "account_b": high, "object_id": pairs["object_id"]})
    return edges.groupby(["account_a", "account_b"]).agg(weight=("object_id", "size"),
                                                         objects=("object_id", "nunique")).reset_index()


def compare_with_coortweet(retweets: pd.DataFrame) -> dict:
    window = DEFAULTS["co_repost_window_seconds"]
    posts = retweets.drop(columns="timestamp_share")
    ours_all = detect(posts, {"min_repetition": 1})[0].edges
    ours = detect(posts)[0].edges
    pairs_loose = coortweet_edges(coortweet_pairs(retweets, window, min_participation=1))
    reference = coortweet_edges(coortweet_pairs(retweets, window, min_participation=2))
    repeated = reference[reference["weight"] >= 2]

    def edge_set(edges):
        return set(zip(edges["account_a"], edges["account_b"]))

    same_pairing = edge_set(ours_all) == edge_set(pairs_loose) and \
        (ours_all.set_index(["account_a", "account_b"])["weight"].sort_index()
         .equals(pairs_loose.set_index(["account_a", "account_b"])["objects"].sort_index()))
    ours_set, ref_set = edge_set(ours), edge_set(repeated)
    only_reference = repeated[[pair not in ours_set for pair in zip(repeated["account_a"], repeated["account_b"])]]
    figures = {
        "time_window": window,
        "pairing_identical_to_detect_groups": bool(same_pairing),
        "reference_min_participation_2": {"edges_all_weights": len(reference),
                                           "edges_weight_at_least_2": len(repeated), **clusters(repeated)},
        "ours_min_repetition_2": {"edges": len(ours), **clusters(ours)},
        "common_edges": len(ours_set & ref_set),
        "only_reference": len(ref_set - ours_set),
        "only_reference_because_one_item_shared_twice": int((only_reference["objects"] < 2).sum()),
        "only_ours": len(ours_set - ref_set),
    }
    vignette_pairs = coortweet_pairs(retweets, VIGNETTE["time_window"], VIGNETTE["min_participation"])
    weights = coortweet_edges(vignette_pairs)["weight"]
    threshold = float(np.quantile(weights, VIGNETTE["edge_weight_quantile"]))  # R's default type 7
    above = int(weights[weights > threshold].min())
    figures["vignette"] = {**VIGNETTE, "edges": len(weights), "quantile_value": threshold,
                           "measured_min_weight_above": above, "reproduced": above == VIGNETTE["min_weight_above"]}

    reference_figures, ours_figures = figures["reference_min_participation_2"], figures["ours_min_repetition_2"]
    print(f"\nCompared with CooRTweet (its algorithm re-implemented from the R source), time_window {window} s:")
    print(f"  pairing step (all co-reposts, no thresholds) identical to detect_groups: {same_pairing}")
    print_table(["", "edges", "accounts", "clusters", "largest"], [
        ["CooRTweet, min_participation 2, weight >= 2", reference_figures["edges_weight_at_least_2"],
         reference_figures["accounts"], reference_figures["clusters"], reference_figures["largest"]],
        ["DiploLens, min_repetition 2", ours_figures["edges"], ours_figures["accounts"], ours_figures["clusters"],
         ours_figures["largest"]],
    ])
    print(f"  {figures['common_edges']} edges in common; {figures['only_reference']} only in CooRTweet's "
          f"({figures['only_reference_because_one_item_shared_twice']} of them over a single item shared more than "
          f"once: CooRTweet counts pairs of shares, DiploLens distinct items); {figures['only_ours']} only in ours")
    print(f"  vignette (time_window {VIGNETTE['time_window']}, min_participation {VIGNETTE['min_participation']}, "
          f"edge_weight {VIGNETTE['edge_weight_quantile']}): published minimum weight above the threshold "
          f"{VIGNETTE['min_weight_above']}, measured {above} -> {'reproduced' if above == 3 else 'NOT reproduced'}")
    return figures


# -- near-duplicate texts ---------------------------------------------------------------------

def repeated_archive(posts: pd.DataFrame, copies: int) -> pd.DataFrame:
    """The archive `copies` times, each copy a day later with its own ids and account names."""
    parts = [posts]
    for copy in range(1, copies):
        parts.append(posts.assign(post_id=posts["post_id"] + f"_copy{copy}",
                                  account_handle=posts["account_handle"] + f"_copy{copy}",
                                  created_at=posts["created_at"] + pd.Timedelta(days=copy)))
    return pd.concat(parts, ignore_index=True)


def measure_near_duplicates(leaders: pd.DataFrame, copies: int) -> dict:
    long_enough = int((leaders["text_norm"].str.len() >= DEFAULTS["min_chars"]).sum())
    runs = {}
    for label, posts in (("1x", leaders), (f"{copies}x", repeated_archive(leaders, copies))):
        result, update_s, finish_s = detect(posts)
        wall = update_s + finish_s
        runs[label] = {"posts": len(posts), "wall_seconds": round(wall, 2), "update_seconds": round(update_s, 2),
                       "finish_seconds": round(finish_s, 2), "posts_per_second": round(len(posts) / wall),
                       "flagged_posts": int(result.posts["coordinated"].sum()), "edges": len(result.edges)}
    memory = traced_memory(leaders)
    loose = {"min_accounts": 2, "window_seconds": 3600}
    pairs = detect(leaders, loose)[0]
    examples = pairs.edges[["account_a", "account_b", "weight"]].to_dict("records")
    ratio = round(runs[f"{copies}x"]["posts_per_second"] / runs["1x"]["posts_per_second"], 2)
    figures = {"posts": len(leaders), "long_enough_texts": long_enough, "runs": runs,
               "posts_per_second_ratio": ratio, "memory": memory,
               "loose_settings": loose, "loose_settings_edges": examples}
    print("posts/s = all posts / (update + finish); texts of at least "
          f"{DEFAULTS['min_chars']} characters: {long_enough:,} of {len(leaders):,}")
    print_table(["archive", "posts", "update s", "finish s", "posts/s", "flagged", "edges"],
                [[label, f"{r['posts']:,}", r["update_seconds"], r["finish_seconds"], f"{r['posts_per_second']:,}",
                  r["flagged_posts"], r["edges"]] for label, r in runs.items()])
    print(f"{copies}x / 1x posts/s = {ratio} (flat = linear in posts); peak traced memory {memory['peak_mib']} MiB, "
          f"{memory['bytes_per_kept_post']} bytes held per kept text")
    print(f"with min_accounts 2 and a 1-hour window: {len(examples)} account pairs "
          + ", ".join(f"{e['account_a']}-{e['account_b']} ({e['weight']})" for e in examples))
    return figures
