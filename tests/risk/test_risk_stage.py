"""Risk flags in a whole run: per-post flags and scores, account summaries, the edges table."""

import json

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.runner import SAMPLE_ACCOUNTS, SAMPLE_POSTS, run

FAST = {"profile": "fast"}


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory):
    """200 real posts of the sample archive, plus one real post copied by three other
    accounts within a minute (a copy-paste campaign)."""
    folder = tmp_path_factory.mktemp("campaign")
    posts = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).head(200)
    original = posts[posts["text"].str.len() > 120].iloc[0]
    copies = pd.DataFrame([{**original, "id": f"9{i}00000000000000001", "username": f"amplifier_{i}",
                            "date": pd.Timestamp(original["date"]) + pd.Timedelta(seconds=10 * (i + 1))}
                           for i in range(3)])
    path = folder / "posts.csv"
    pd.concat([posts, copies.astype(str)], ignore_index=True).to_csv(path, index=False)
    out = folder / "out"
    manifest = run([str(path)], out, load_config(overrides=FAST), SAMPLE_ACCOUNTS, progress=False)
    return out, manifest, original


def test_every_post_has_a_score_for_each_archive_flag(campaign_run):
    out, _, _ = campaign_run
    posts = pd.read_parquet(out / "posts.parquet")
    for flags, scores in zip(posts["risk_flags"], posts["risk_scores"]):
        scores = dict(scores)
        assert {"coordinated", "burst"} <= set(scores)
        assert all(0.0 <= s <= 1.0 for s in scores.values())
        assert set(flags) <= set(scores)


def test_copy_paste_campaign_is_flagged_with_a_readable_reason(campaign_run):
    out, _, original = campaign_run
    posts = pd.read_parquet(out / "posts.parquet")
    campaign = posts[posts["text"] == original["text"]]
    assert len(campaign) == 4
    assert all("coordinated" in flags for flags in campaign["risk_flags"])
    reason = dict(campaign.iloc[0]["risk_reasons"])["coordinated"]
    assert "near-duplicate of 3 posts by 3 other accounts" in reason
    others = posts[posts["text"] != original["text"]]
    assert not any("coordinated" in flags for flags in others["risk_flags"])


def test_edges_table_links_the_campaign_accounts(campaign_run):
    out, manifest, original = campaign_run
    edges = pd.read_parquet(out / "coordination_edges.parquet")
    accounts = set(edges["account_a"]) | set(edges["account_b"])
    assert accounts == {original["username"], "amplifier_0", "amplifier_1", "amplifier_2"}
    assert set(edges["kind"]) == {"near_duplicate"}
    assert manifest["outputs"]["coordination_edges.parquet"] == len(edges) == 6


def test_accounts_carry_bot_coordination_and_burst_summaries(campaign_run):
    out, _, _ = campaign_run
    accounts = pd.read_parquet(out / "accounts.parquet")
    assert accounts["bot_like_score"].between(0, 1).all()
    assert accounts["bot_like_reason"].map(lambda r: isinstance(r, str) and len(r) > 0).all()
    amplifier = accounts[accounts["account_handle"] == "amplifier_0"].iloc[0]
    assert amplifier["coordinated_posts"] == 1 and amplifier["cluster_size"] == 4
    assert (accounts["burst_periods"] >= 0).all()
    # The heads of government of the sample are not bots.
    official = accounts[accounts["actor"].notna()]
    assert not official["bot_like"].any()


def test_manifest_counts_still_balance_after_the_second_pass(campaign_run):
    out, manifest, _ = campaign_run
    counts = json.loads((out / "manifest.json").read_text("utf-8"))["counts"]
    assert counts["balanced"] and counts["posts_written"] == len(pd.read_parquet(out / "posts.parquet"))
    assert not list(out.glob("*.rewrite")) and not list(out.glob("*.partial"))


def test_links_to_listed_low_credibility_domains_are_flagged(tmp_path):
    posts = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).head(20)
    posts.loc[0, "text"] = "Read this before you vote: https://www.infowars.com/posts/the-truth-they-hide"
    posts.loc[1, "text"] = "Our statement on the summit: https://www.notinfowars.com/summit"
    path = tmp_path / "posts.csv"
    posts.to_csv(path, index=False)
    run([str(path)], tmp_path / "out", load_config(overrides=FAST), progress=False)
    written = pd.read_parquet(tmp_path / "out" / "posts.parquet").set_index("source_row")
    assert "low_credibility_link" in written.loc[1, "risk_flags"]
    assert dict(written.loc[1, "risk_reasons"])["low_credibility_link"].startswith("links to infowars.com")
    assert "low_credibility_link" not in written.loc[2, "risk_flags"]  # a look-alike domain


def test_text_heads_named_in_the_config_score_every_post(tmp_path):
    posts = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).head(30)
    path = tmp_path / "posts.csv"
    posts.to_csv(path, index=False)
    config = load_config(overrides={**FAST, "risk.text_flags.abusive.fast": "abusive-fast"})
    run([str(path)], tmp_path / "out", config, progress=False)
    written = pd.read_parquet(tmp_path / "out" / "posts.parquet")
    assert all("abusive" in dict(scores) for scores in written["risk_scores"])
    assert all("check_worthy" not in dict(scores) for scores in written["risk_scores"])  # off by default


def test_signatures_are_computed_by_the_stage_carried_to_the_archive_pass_and_not_written(tmp_path, monkeypatch):
    from pipeline.risk import coordination

    posts = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).head(600)
    path = tmp_path / "posts.csv"
    posts.to_csv(path, index=False)
    calls = []
    computed = coordination.signatures
    monkeypatch.setattr(coordination, "signatures", lambda texts, settings=None: calls.append(len(texts))
                        or computed(texts, settings))
    run([str(path)], tmp_path / "out", load_config(overrides={**FAST, "batch_size": 200}), progress=False)
    assert len(calls) == 3  # once per batch, in the stage: the archive pass read them from the batch
    written = pd.read_parquet(tmp_path / "out" / "posts.parquet")
    assert "minhash" not in written.columns and len(written) == 600
    assert not (tmp_path / "out" / ".parts").exists()
