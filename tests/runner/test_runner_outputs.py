"""A whole run on the embedded sample archive: the five output files and their contract."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.runner import SAMPLE_POSTS, run

OUTPUT_FILES = {"posts.parquet", "accounts.parquet", "actors.parquet", "quarantine.parquet", "manifest.json",
                "index_sensitivity.parquet", "accounts_by_period.parquet", "actors_by_period.parquet"}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample-run")
    manifest = run([], out, load_config(overrides={"batch_size": 700, "metrics.period": "year"}), progress=False)
    return out, manifest


def test_sample_run_writes_the_output_files(sample_run):
    out, _ = sample_run
    assert OUTPUT_FILES <= {p.name for p in out.iterdir()}
    assert not list(out.glob("*.partial"))


def test_manifest_counts_balance_and_match_the_tables(sample_run):
    out, manifest = sample_run
    counts = manifest["counts"]
    assert counts["rows_read"] == counts["posts_written"] + counts["quarantined"] + counts["duplicates"]
    assert counts["balanced"] is True
    assert counts["rows_read"] == sum(1 for _ in pd.read_csv(SAMPLE_POSTS, dtype=str).itertuples())
    assert pq.read_metadata(out / "posts.parquet").num_rows == counts["posts_written"]
    assert pq.read_metadata(out / "quarantine.parquet").num_rows == counts["quarantined"]
    on_disk = json.loads((out / "manifest.json").read_text("utf-8"))
    assert on_disk["status"] == "complete"
    assert on_disk["inputs"][0]["format"] == "csv"
    assert len(on_disk["inputs"][0]["sha256"]) == 64
    assert on_disk["config"]["stages"] == ["normalize", "langid", "embed", "topics", "risk"]
    assert {"ingest", "normalize", "langid", "metrics", "write", "total"} <= set(on_disk["timings_seconds"])
    assert on_disk["versions"]["stages"]["langid"].startswith("lingua")


def test_posts_carry_the_canonical_schema_and_the_stage_columns(sample_run):
    out, _ = sample_run
    posts = pd.read_parquet(out / "posts.parquet")
    for column in ("post_id", "platform", "account_handle", "actor", "actor_type", "created_at", "text",
                   "likes", "reposts", "replies", "source_file", "source_row", "text_norm", "urls",
                   "hashtags", "mentions", "emojis", "lang", "lang_confidence", "script", "lang_mixed"):
        assert column in posts.columns
    assert str(posts["created_at"].dt.tz) == "UTC"
    assert pd.api.types.is_integer_dtype(posts["likes"])
    assert posts["platform"].eq("twitter").all()
    assert posts["actor"].notna().all()  # every sample account is in the sample registry
    assert set(posts["lang"]) >= {"en", "fr", "es", "pt", "ar", "hi"}


def test_parts_are_coalesced_into_row_groups_in_input_order(tmp_path, monkeypatch):
    import pipeline.outputs

    # A writer keeps each row group's metadata until it closes: few large row groups, not one per batch.
    monkeypatch.setattr(pipeline.outputs, "ROW_GROUP_ROWS", 1_500)
    run([], tmp_path, load_config(overrides={"batch_size": 700, "stages": ["normalize"]}), progress=False)
    posts = pq.ParquetFile(tmp_path / "posts.parquet")
    sizes = [posts.metadata.row_group(i).num_rows for i in range(posts.metadata.num_row_groups)]
    assert sizes[:-1] and all(size >= 1_500 for size in sizes[:-1]) and sum(sizes) == posts.metadata.num_rows
    rows = posts.read(columns=["source_row"]).column("source_row").to_pylist()
    assert rows == sorted(rows)


def test_arabic_text_survives_the_round_trip_unchanged(sample_run):
    out, _ = sample_run
    posts = pd.read_parquet(out / "posts.parquet")
    source = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False)
    arabic = posts[posts["account_handle"] == "KingSalman"].iloc[0]
    original = source.loc[source["id"] == arabic["post_id"], "text"].iloc[0]
    assert arabic["text"] == original
    assert arabic["script"] == "Arab"


def test_accounts_and_actors_cover_all_sixteen_accounts(sample_run):
    out, _ = sample_run
    accounts = pd.read_parquet(out / "accounts.parquet")
    actors = pd.read_parquet(out / "actors.parquet")
    assert len(accounts) == 16
    assert accounts["posts"].sum() == pq.read_metadata(out / "posts.parquet").num_rows
    assert len(actors) == 12  # two accounts each for Canada, Australia, Argentina and South Africa
    assert set(actors.loc[actors["actor"] == "Canada", "languages"].iloc[0]) == {"en", "fr"}


def test_empty_texts_of_the_sample_are_quarantined_with_raw_content(sample_run):
    out, _ = sample_run
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    assert (quarantine["reason"] == "missing text").all()
    assert quarantine["raw"].str.len().gt(0).all()
    assert quarantine["source_row"].gt(0).all()


def test_duplicates_across_files_are_dropped_and_counted(tmp_path):
    manifest = run([str(SAMPLE_POSTS), str(SAMPLE_POSTS)], tmp_path, load_config(), progress=False)
    counts = manifest["counts"]
    single = counts["rows_read"] // 2
    assert counts["duplicates"] == single - manifest["inputs"][0]["quarantined"]
    assert counts["balanced"] is True


def test_a_failed_run_leaves_no_table_that_looks_complete(tmp_path, monkeypatch):
    from pipeline.registry import Stage, stages

    def broken(posts, context):
        raise RuntimeError("stage failure")

    original = stages()["normalize"]
    monkeypatch.setitem(stages(), "normalize", Stage("normalize", broken, original.adds, original.version))
    with pytest.raises(RuntimeError):
        run([], tmp_path, load_config(), progress=False)
    assert json.loads((tmp_path / "manifest.json").read_text("utf-8"))["status"] == "failed"
    assert not (tmp_path / "posts.parquet").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_period_tables_add_up_to_the_whole_and_actors_are_ranked(sample_run):
    out, manifest = sample_run
    accounts = pd.read_parquet(out / "accounts.parquet")
    by_year = pd.read_parquet(out / "accounts_by_period.parquet")
    assert by_year.groupby("account_handle")["posts"].sum().to_dict() == accounts.set_index("account_handle")["posts"].to_dict()
    assert set(by_year["period"]) <= {"2015", "2016", "2017", "2018", "2019", "2020"}
    assert accounts["activity_trend"].notna().any()
    assert accounts["risk_checked_posts"].eq(accounts["posts"]).all()  # every post went through risk
    actors = pd.read_parquet(out / "actors.parquet")
    assert sorted(actors["rank"]) == list(range(1, len(actors) + 1))
    sensitivity = pd.read_parquet(out / "index_sensitivity.parquet")
    assert len(sensitivity) == len(actors) * 4 * 2
    assert manifest["outputs"]["actors_by_period.parquet"] == len(pd.read_parquet(out / "actors_by_period.parquet"))
