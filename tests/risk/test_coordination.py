"""Coordinated posting: near-duplicate texts on real world leaders' posts (copies given to other
accounts by the test), co-retweets on a real coordinated retweet stream (fixtures/SOURCE.md)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import UserError
from pipeline.normalize import normalize_text
from pipeline.risk.coordination import (ACCOUNT_COLUMNS, EDGE_COLUMNS, POST_COLUMNS, CoordinationDetector,
                                        evidence_by_post, flag_posts)

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample" / "world_leaders_sample.csv"

# A real post (BorisJohnson, 2016-07-19 17:41:03 UTC) and eight copies with small edits.
ORIGINAL_ID = "755457435721236480"
EDITS = [
    lambda text: text + " #StandWithSyria",
    lambda text: text.replace("&", "and"),
    lambda text: "Agree: " + text,
    lambda text: text.replace("violence", "the violence"),
    lambda text: text + " 🙏",
    lambda text: text.lower(),
    lambda text: text.replace("Just hosted", "UK hosted"),
    lambda text: text.replace("#UN talks", "#UN peace talks"),
]


def _posts(post_id, account, created_at, text="", repost_of_id=None, platform="twitter") -> pd.DataFrame:
    frame = pd.DataFrame({"post_id": post_id, "platform": platform, "account_handle": account,
                          "account_id": None, "created_at": pd.to_datetime(created_at, utc=True), "text": text,
                          "repost_of_id": repost_of_id})
    frame["text_norm"] = frame["text"].map(normalize_text)
    frame["is_repost"] = frame["repost_of_id"].notna()
    return frame


def leader_posts() -> pd.DataFrame:
    raw = pd.read_csv(SAMPLE, dtype={"id": str}, keep_default_na=False)
    return _posts(raw["id"], raw["username"], raw["date"], raw["text"])


def copies(original: pd.Series, accounts: list[str], seconds_apart: float) -> pd.DataFrame:
    """The original's text, edited, posted by `accounts` one after another."""
    return _posts(post_id=[f"copy-{i}" for i in range(len(accounts))], account=accounts,
                  created_at=[original["created_at"] + pd.Timedelta(seconds=seconds_apart * (i + 1))
                              for i in range(len(accounts))],
                  text=[EDITS[i % len(EDITS)](original["text"]) for i in range(len(accounts))])


def coortweet_posts() -> pd.DataFrame:
    raw = pd.read_csv(FIXTURES / "russian_coord_tweets_sample.csv", dtype=str)
    return _posts(raw["content_id"], raw["account_id"], raw["timestamp_utc"], repost_of_id=raw["object_id"])


def detect(posts: pd.DataFrame, settings: dict | None = None, batches: int = 1):
    detector = CoordinationDetector(settings)
    for batch in np.array_split(np.arange(len(posts)), batches):
        detector.update(posts.iloc[batch])
    return detector.finish()


def handle(prefix: str) -> str:
    """The full (sha256-obscured) account id in the CooRTweet fixture that starts with `prefix`."""
    accounts = coortweet_posts()["account_handle"].unique()
    (match,) = [account for account in accounts if account.startswith(prefix)]
    return match


@pytest.fixture(scope="module")
def leaders():
    return leader_posts()


@pytest.fixture(scope="module")
def original(leaders):
    return leaders.set_index("post_id").loc[ORIGINAL_ID]


# -- near-duplicate text ----------------------------------------------------------------------

def test_unrelated_real_posts_are_not_flagged(leaders):
    result = detect(leaders)
    assert result.posts.empty and result.edges.empty and result.accounts.empty
    assert list(result.posts.columns) == POST_COLUMNS
    assert list(result.accounts.columns) == ACCOUNT_COLUMNS
    assert list(result.edges.columns) == EDGE_COLUMNS


def test_copy_paste_campaign_across_accounts_within_the_window_is_flagged_with_counts(leaders, original):
    campaign = copies(original, [f"amplifier_{i}" for i in range(1, 9)], seconds_apart=20)
    result = detect(pd.concat([leaders, campaign], ignore_index=True))
    flagged = result.posts.set_index("post_id")
    assert set(flagged.index) == {ORIGINAL_ID, *campaign["post_id"]}
    assert flagged["coordinated"].all()
    reason = flagged.loc[ORIGINAL_ID, "coordinated_reason"]
    assert reason == "near-duplicate of 8 posts by 8 other accounts within 300 s"
    assert flagged.loc[ORIGINAL_ID, "coordinated_score"] == pytest.approx(1 - 2**-8)


def test_campaign_links_every_pair_of_its_accounts_into_one_cluster(original):
    accounts = ["BorisJohnson"] + [f"amplifier_{i}" for i in range(1, 9)]
    result = detect(pd.concat([original.to_frame().T.reset_index(names="post_id"),
                               copies(original, accounts[1:], seconds_apart=20)], ignore_index=True))
    assert len(result.edges) == 9 * 8 // 2
    assert set(result.edges["kind"]) == {"near_duplicate"}
    assert (result.edges["weight"] == 1).all()
    assert (result.edges["account_a"] < result.edges["account_b"]).all()
    assert sorted(result.accounts["account_handle"]) == sorted(accounts)
    assert (result.accounts["cluster_id"] == 1).all() and (result.accounts["cluster_size"] == 9).all()
    assert (result.accounts["near_duplicate_partners"] == 8).all()
    assert (result.accounts["coordinated_posts"] == 1).all()
    first = original["created_at"]
    edge = result.edges.set_index(["account_a", "account_b"]).loc[("BorisJohnson", "amplifier_8")]
    assert edge["first_at"] == first and edge["last_at"] == first + pd.Timedelta(seconds=160)


def test_same_text_repeated_by_one_account_is_not_coordination(leaders, original):
    repeats = copies(original, ["BorisJohnson"] * 6, seconds_apart=10)
    result = detect(pd.concat([leaders, repeats], ignore_index=True))
    assert result.posts.empty and result.edges.empty


def test_copies_spread_beyond_the_window_are_not_flagged(leaders, original):
    # Each copy 301 s after the previous one: every pair is just outside the 300 s window.
    late = copies(original, [f"amplifier_{i}" for i in range(1, 9)], seconds_apart=301)
    result = detect(pd.concat([leaders, late], ignore_index=True))
    assert result.posts.empty and result.edges.empty


def test_two_accounts_are_below_min_accounts_until_it_is_lowered(original):
    pair = pd.concat([original.to_frame().T.reset_index(names="post_id"),
                      copies(original, ["amplifier_1"], seconds_apart=30)], ignore_index=True)
    assert detect(pair).posts.empty
    result = detect(pair, {"min_accounts": 2})
    assert result.posts["coordinated"].tolist() == [True, True]
    reason = "near-duplicate of 1 post by 1 other account within 300 s"
    assert result.posts["coordinated_reason"].tolist() == [reason] * 2


def test_reposts_carrying_the_same_text_are_not_near_duplicates(original):
    reposts = copies(original, [f"amplifier_{i}" for i in range(1, 9)], seconds_apart=5)
    reposts["repost_of_id"] = ORIGINAL_ID
    reposts["is_repost"] = True
    result = detect(reposts)
    # Eight accounts reposting one item once: no repetition, so no co-repost edge either.
    assert result.posts.empty and result.edges.empty


def test_copies_on_another_platform_are_not_partners(original):
    campaign = copies(original, [f"amplifier_{i}" for i in range(1, 9)], seconds_apart=5)
    campaign["platform"] = ["twitter", "mastodon"] * 4
    result = detect(campaign)
    assert set(result.edges["platform"]) == {"twitter", "mastodon"}
    assert (result.posts["coordinated_reason"].str.contains("by 3 other accounts")).all()


# -- co-repost (real co-retweets) -------------------------------------------------------------

def test_real_co_retweet_pair_matches_the_hand_check():
    # 89818e6f… and 712b8d78… retweeted 8aa90b79… at 16:53:04 and 16:53:29 (25 s apart) and
    # 769e7964… at 16:54:19 and 16:54:56 (37 s) on 2021-02-16; 712b8d78…'s retweet of
    # 13641db6… at 16:53:51 has no partner.
    result = detect(coortweet_posts())
    a, b = handle("712b8d78"), handle("89818e6f")
    edge = result.edges.set_index(["account_a", "account_b"]).loc[(a, b)]
    assert edge["kind"] == "co_repost" and edge["weight"] == 2
    assert edge["first_at"] == pd.Timestamp("2021-02-16 16:53:04", tz="UTC")
    assert edge["last_at"] == pd.Timestamp("2021-02-16 16:54:56", tz="UTC")
    flagged = set(result.posts["post_id"])
    assert {"e4a5d1bd62a6d41c175773b54fb5aeee", "7605bb0b69a78740364c3b4590dcfac6",
            "2a97dbdb4ee49592e8e8373984fd5fba", "cb147c7290d5a3b428d0bcc4d69414d1"} <= flagged
    assert "22669c07ecf053fdc2558cfe6267fee1" not in flagged
    row = result.posts.set_index("post_id").loc["7605bb0b69a78740364c3b4590dcfac6"]
    assert row["coordinated_score"] == 0.5
    assert row["coordinated_reason"] == ("same item reposted within 60 s by 1 account, each a repeated "
                                         "co-reposter with this one (up to 2 shared items)")


def test_real_co_retweet_groups_become_edges_and_clusters():
    result = detect(coortweet_posts())
    edges = {(a[:8], b[:8]): weight for a, b, weight in result.edges[["account_a", "account_b", "weight"]].to_numpy()}
    # The co-retweet edges (60 s, at least 2 items) of these accounts in the full 35,125-row
    # stream, by a brute-force pairing of all its rows.
    assert edges == {("50026c8c", "8a272e2e"): 2, ("79b71a36", "8a272e2e"): 2, ("8a272e2e", "d75467c2"): 2,
                     ("572f3f02", "7d7981de"): 2, ("572f3f02", "f3e2f918"): 2, ("712b8d78", "89818e6f"): 2,
                     ("270ccc61", "45ad0e18"): 2}
    clusters = result.accounts.assign(prefix=result.accounts["account_handle"].str[:8])
    clusters = clusters.groupby("cluster_id").agg(size=("cluster_size", "first"), accounts=("prefix", sorted))
    assert clusters.to_dict("index") == {
        1: {"size": 4, "accounts": ["50026c8c", "79b71a36", "8a272e2e", "d75467c2"]},
        2: {"size": 3, "accounts": ["572f3f02", "7d7981de", "f3e2f918"]},
        3: {"size": 2, "accounts": ["270ccc61", "45ad0e18"]},
        4: {"size": 2, "accounts": ["712b8d78", "89818e6f"]},
    }
    hub = result.accounts.set_index("account_handle").loc[handle("8a272e2e")]
    assert hub["co_repost_partners"] == 3 and hub["near_duplicate_partners"] == 0


def test_an_account_retweeting_an_item_twice_is_not_coordinated_with_itself():
    posts = coortweet_posts()
    account = handle("5c10a1e2")
    own = posts[posts["account_handle"] == account].sort_values("created_at")
    gaps = own.groupby("repost_of_id")["created_at"].diff()
    assert (gaps <= pd.Timedelta(seconds=60)).sum() == 4  # real repeats within the window
    result = detect(posts)
    assert account not in set(result.edges["account_a"]) | set(result.edges["account_b"])
    assert not posts[posts["account_handle"] == account]["post_id"].isin(result.posts["post_id"]).any()


def test_a_single_co_retweet_is_chance_not_an_edge():
    posts = coortweet_posts()
    once = detect(posts, {"min_repetition": 1}).edges
    assert (once["weight"] == 1).any()
    assert len(detect(posts).edges) == (once["weight"] >= 2).sum()


def test_a_post_sharing_several_items_has_one_row():
    # The full stream has such rows: one content_id with two object_ids.
    posts = coortweet_posts()
    extra = posts[posts["post_id"] == "7605bb0b69a78740364c3b4590dcfac6"].assign(repost_of_id="another item")
    result = detect(pd.concat([posts, extra], ignore_index=True))
    assert not result.posts["post_id"].duplicated().any()
    pd.testing.assert_frame_equal(result.posts, detect(posts).posts)


def test_results_do_not_depend_on_batch_splitting_or_order(leaders, original):
    campaign = copies(original, [f"amplifier_{i}" for i in range(1, 9)], seconds_apart=20)
    posts = pd.concat([leaders, campaign, coortweet_posts()], ignore_index=True)
    whole = detect(posts)
    shuffled = detect(posts.sample(frac=1, random_state=7), batches=9)
    for name in ("posts", "accounts", "edges"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(shuffled, name))
    assert len(whole.posts) > 9 and len(whole.edges) > 7


def test_clusters_join_accounts_linked_by_either_kind(original):
    posts = coortweet_posts()
    hub = handle("8a272e2e")
    accounts = [hub, "amplifier_1", "amplifier_2"]
    campaign = copies(original, accounts, seconds_apart=20)
    result = detect(pd.concat([posts, campaign], ignore_index=True))
    row = result.accounts.set_index("account_handle").loc[hub]
    assert row["cluster_size"] == 4 + 2 and row["near_duplicate_partners"] == 2 and row["co_repost_partners"] == 3


# -- mapping and settings ---------------------------------------------------------------------

def test_flag_posts_gives_each_post_its_score_and_reason(original):
    campaign = copies(original, [f"amplifier_{i}" for i in range(1, 4)], seconds_apart=20)
    batch = pd.concat([campaign, leader_posts().head(5)], ignore_index=True).set_index(pd.Index(range(100, 108)))
    flags = flag_posts(batch, evidence_by_post(detect(batch).posts))
    assert flags.index.equals(batch.index)
    assert flags["coordinated"].tolist() == [True] * 3 + [False] * 5
    assert flags["coordinated_score"].iloc[3:].eq(0).all() and flags["coordinated_reason"].iloc[3:].eq("").all()


def test_raising_the_score_threshold_keeps_the_evidence_but_flags_only_stronger_posts():
    default = detect(coortweet_posts()).posts
    strict = detect(coortweet_posts(), {"score_threshold": 0.75}).posts
    evidence = ["post_id", "coordinated_score", "coordinated_reason"]
    pd.testing.assert_frame_equal(strict[evidence], default[evidence])
    assert 0 < strict["coordinated"].sum() < default["coordinated"].sum()
    # Two partners or more score 0.75 or more: items the star-shaped group's hub retweeted
    # together with several of its partners.
    assert not strict.loc[strict["coordinated"], "coordinated_reason"].str.contains("by 1 account").any()


def test_unknown_setting_is_a_user_error():
    with pytest.raises(UserError, match="unknown coordination setting windw"):
        CoordinationDetector({"windw": 60})


def test_missing_columns_are_named():
    with pytest.raises(RuntimeError, match="text_norm"):
        CoordinationDetector().update(coortweet_posts().drop(columns="text_norm"))


# -- batches, spilled state and signatures ----------------------------------------------------

def campaigns_and_co_retweets(leaders: pd.DataFrame) -> pd.DataFrame:
    """The real leaders' posts, real co-retweets, and copies of twelve real posts by other
    accounts, some within the window and some beyond it."""
    originals = leaders[leaders["text_norm"].str.len() > 100].sample(12, random_state=3)
    campaigns = [copies(row, [f"amplifier_{n}_{i}" for i in range(n % 4 + 2)], seconds_apart=40 + 60 * (n % 5))
                 .assign(post_id=lambda frame, n=n: f"copy{n}-" + frame["post_id"])
                 for n, (_, row) in enumerate(originals.iterrows())]
    return pd.concat([leaders, *campaigns, coortweet_posts()], ignore_index=True)


def test_many_small_batches_through_many_spilled_runs_give_the_one_batch_result(leaders, monkeypatch):
    from pipeline import spill
    from pipeline.risk import coordination

    posts = campaigns_and_co_retweets(leaders)
    settings = {"min_accounts": 2, "window_seconds": 600}
    whole = detect(posts, settings)
    # Tiny buffers and windows processed a few texts at a time: dozens of sorted runs merged in
    # rounds, reposts flushed to their buckets many times, chunks that cut through windows.
    monkeypatch.setattr(spill, "BUFFER_BYTES", 64 * 1024)
    monkeypatch.setattr(spill, "MERGE_BYTES", 32 * 1024)
    monkeypatch.setattr(spill, "MAX_RUNS", 8)
    monkeypatch.setattr(coordination, "_CHUNK", 7)
    batched = detect(posts.sample(frac=1, random_state=5), settings, batches=97)
    for name in ("posts", "accounts", "edges"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(batched, name))
    assert len(whole.posts) > 40 and set(whole.edges["kind"]) == {"near_duplicate", "co_repost"}


def test_near_duplicate_edges_are_those_of_one_lsh_index_over_all_posts(leaders):
    """The sliding window (and the rows it lets skip the index) finds exactly the pairs that
    datasketch's index over the whole archive at once gives, filtered by window, account and
    similarity: the detector before the window streamed from disk."""
    from datasketch import LeanMinHash, MinHashLSH

    from pipeline.risk.coordination import DEFAULTS, signatures

    posts = campaigns_and_co_retweets(leaders)
    texts = posts[posts["repost_of_id"].isna() & (posts["text_norm"].str.len() >= DEFAULTS["min_chars"])]
    texts = texts.reset_index(drop=True)
    window = pd.Timedelta(seconds=600)
    found = signatures(texts["text_norm"])
    index = MinHashLSH(threshold=DEFAULTS["jaccard_threshold"], num_perm=DEFAULTS["num_perm"], weights=(0.1, 0.9))
    for row, signature in enumerate(found):
        index.insert(row, LeanMinHash(seed=1, hashvalues=signature, scheme="affine32"))
    pairs = []
    for row, signature in enumerate(found):
        for other in index.query(LeanMinHash(seed=1, hashvalues=signature, scheme="affine32")):
            a, b = texts.iloc[row], texts.iloc[other]
            if (row < other and a["account_handle"] != b["account_handle"]
                    and abs(a["created_at"] - b["created_at"]) <= window
                    and (found[row] == found[other]).mean() >= DEFAULTS["jaccard_threshold"]):
                low, high = sorted([a["account_handle"], b["account_handle"]])
                pairs.append((low, high, min(a["created_at"], b["created_at"]), max(a["created_at"], b["created_at"])))
    expected = pd.DataFrame(pairs, columns=["account_a", "account_b", "first", "last"]).groupby(
        ["account_a", "account_b"]).agg(weight=("first", "size"), first_at=("first", "min"), last_at=("last", "max"))
    edges = detect(posts, {"min_accounts": 2, "window_seconds": 600}).edges
    edges = edges[edges["kind"] == "near_duplicate"].set_index(["account_a", "account_b"])
    assert len(expected) > 20
    pd.testing.assert_frame_equal(edges[["weight", "first_at", "last_at"]], expected, check_dtype=False)


def test_memory_held_between_batches_does_not_grow_with_the_posts_fed(leaders, monkeypatch):
    import tracemalloc

    from pipeline import spill

    monkeypatch.setattr(spill, "BUFFER_BYTES", 64 * 1024)
    posts = campaigns_and_co_retweets(leaders.head(1500))
    detector = CoordinationDetector()
    held = []
    tracemalloc.start()
    try:
        for copy in range(12):  # the same accounts, new posts a day later each time
            detector.update(posts.assign(post_id=posts["post_id"] + f"-{copy}",
                                         created_at=posts["created_at"] + pd.Timedelta(days=copy)))
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    texts = detector._texts.rows
    assert texts > 12 * 1000 and detector._reposts.rows > 12 * 400
    # The last six copies hold no more than the first six did (buffers fill and empty):
    # ~0.5 KB per text kept in memory would be ~5 MB more.
    assert max(held[6:]) < max(held[:6]) + 256 * 1024, [round(h / 1024) for h in held]
    assert detector._texts._pending_rows <= detector._texts._buffer_rows
    assert detector._reposts._pending_rows <= detector._reposts._buffer_rows
    result = detector.finish()
    assert len(result.posts) and not detector._folder.path.exists()


def test_signatures_are_datasketchs_hash_for_hash(leaders):
    import zlib

    from datasketch import MinHash

    from pipeline.risk.coordination import _shingles, signatures

    texts = list(leaders["text_norm"].head(400)) + [
        "", "ab", "İstanbul'da ŞEHİR Straße ẞ", "خبر عاجل من الرئاسة", "台湾の首相が発表しました",
        "🙂🙃 ok 👍🏽👍🏽", "a" * 5, "x" * 4000]
    for shingle, size in (("char", 5), ("char", 3), ("word", 2)):
        settings = {"shingle": shingle, "shingle_size": size, "num_perm": 64}
        expected = np.array([m.hashvalues for m in MinHash.generator(
            (_shingles(text, shingle, size) for text in texts), num_perm=64, seed=1, hashfunc=zlib.crc32,
            scheme="affine32")])
        np.testing.assert_array_equal(signatures(texts, settings), expected)


def test_the_minhash_column_of_the_risk_stage_is_read_instead_of_recomputed(leaders, original, monkeypatch):
    from pipeline.risk import CARRIED_COLUMNS
    from pipeline.risk import coordination
    from pipeline.risk.coordination import MINHASH, minhash_column

    posts = pd.concat([leaders.head(300), copies(original, ["a1", "a2", "a3"], seconds_apart=20),
                       coortweet_posts().head(50)], ignore_index=True)
    assert MINHASH in CARRIED_COLUMNS
    column = minhash_column(posts)
    assert column.index.equals(posts.index)
    assert column[posts["repost_of_id"].notna()].isna().all()  # reposts: no text of their own
    assert column[posts["text_norm"].str.len() < 40].isna().all()
    expected = detect(posts)

    def not_again(*args, **kwargs):
        raise AssertionError("signatures recomputed")

    monkeypatch.setattr(coordination, "signatures", not_again)
    given = detect(posts.assign(**{MINHASH: column}))
    for name in ("posts", "accounts", "edges"):
        pd.testing.assert_frame_equal(getattr(given, name), getattr(expected, name))
    assert len(expected.posts) == 4
