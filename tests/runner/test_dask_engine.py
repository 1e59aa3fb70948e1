"""The Dask engine gives the local engine's outputs, table for table, on a real subset of the
sample archive written to Parquet and split over many batches, each staged as a Parquet file and
enriched as one partition on different workers; with duplicates and a near-duplicate campaign
whose posts fall in different batches; resumed (from either engine), pseudonymized."""

import json
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import schema
from pipeline.config import load_config
from pipeline.ingest import AccountsRegistry, ingest_batches, plan_inputs
from pipeline.outputs import RunParts, write_table
from pipeline.registry import Stage, stages
from pipeline.runner import SAMPLE_ACCOUNTS, SAMPLE_POSTS, run

distributed = pytest.importorskip("dask.distributed")
from pipeline.dask_engine import PARTITIONS_PER_WORKER, DaskEngine  # noqa: E402

BATCH_SIZE = 40
ROWS = 480
TABLES = ["posts", "quarantine", "accounts", "actors", "index_sensitivity", "accounts_by_period",
          "actors_by_period", "coordination_edges"]


def campaign(sample: pd.DataFrame) -> pd.DataFrame:
    """Three accounts post one long real text, lightly edited, within four minutes: a
    near-duplicate campaign (min_accounts 3) the engines must find across batches."""
    original = sample[sample["text"].str.len() > 120].iloc[0]
    rows = []
    for k, account in enumerate(sample["username"].drop_duplicates().iloc[:3]):
        row = original.copy()
        row["id"], row["username"], row["account"] = f"9{k}0000000000000000", account, account
        row["date"] = f"2019-06-01 12:0{2 * k}:00"
        row["text"] = original["text"] + ("" if k == 0 else f" #{k}")
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Two Parquet files of real sample posts (strings, as the CSV holds them): the second
    repeats posts of the first (duplicates across files and batches), one campaign post sits
    in each of three batches far apart, and one row has no text (quarantine)."""
    folder = tmp_path_factory.mktemp("dask-archive")
    sample = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).iloc[::6].head(ROWS)
    posts = campaign(sample)
    first = pd.concat([sample.iloc[:150], posts.iloc[[0]], sample.iloc[150:300], posts.iloc[[1]],
                       sample.iloc[300:]], ignore_index=True)
    first.loc[7, "text"] = ""
    second = pd.concat([sample.iloc[290:330], posts.iloc[[2]], sample.iloc[:5]], ignore_index=True)
    paths = [folder / "part-1.parquet", folder / "part-2.parquet"]
    for frame, path in zip((first, second), paths):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=70)
    return [str(p) for p in paths]


@pytest.fixture(scope="module")
def config():
    return load_config(overrides={"batch_size": BATCH_SIZE, "profile": "fast", "metrics.period": "year"})


@pytest.fixture(scope="module")
def cluster():
    # Threads keep start-up fast; process workers are the LocalCluster the CLI starts.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def both_runs(archive, config, cluster, tmp_path_factory):
    local = tmp_path_factory.mktemp("local")
    run(archive, local, config, SAMPLE_ACCOUNTS, progress=False)
    on_dask = tmp_path_factory.mktemp("dask")
    run(archive, on_dask, config, SAMPLE_ACCOUNTS, progress=False, engine=DaskEngine(cluster.scheduler_address))
    return local, on_dask


def assert_same_tables(out, reference):
    for table in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{table}.parquet"),
                                      pd.read_parquet(reference / f"{table}.parquet"))


def read_manifest(out):
    return json.loads((out / "manifest.json").read_text("utf-8"))


def staged_post_ids(folder) -> dict[str, list[str]]:
    """The post ids of each batch staged in `folder` now (a file may go while it is read)."""
    ids = {}
    for path in folder.glob("posts-*.parquet"):
        try:
            ids[path.name] = pq.read_table(path, columns=["post_id"])["post_id"].to_pylist()
        except FileNotFoundError:
            pass
    return ids


def wait_until_idle(cluster):
    """Until no worker runs a task: a failed run's tasks that were running when it stopped finish
    on a cluster it did not start."""
    while any(worker.state.executing_count for worker in cluster.workers.values()):
        time.sleep(0.05)


def test_the_archive_spans_more_batches_than_two_waves(archive):
    rows = sum(pq.read_metadata(path).num_rows for path in archive)
    assert rows > 2 * PARTITIONS_PER_WORKER * 2 * BATCH_SIZE


@pytest.mark.parametrize("table", TABLES)
def test_every_table_is_the_local_engines(both_runs, table):
    local, on_dask = both_runs
    expected = pd.read_parquet(local / f"{table}.parquet")
    assert len(expected) or table == "quarantine"
    pd.testing.assert_frame_equal(pd.read_parquet(on_dask / f"{table}.parquet"), expected)


def test_duplicates_across_partitions_are_dropped_once_and_counted(both_runs):
    local, on_dask = both_runs
    counts = read_manifest(on_dask)["counts"]
    assert counts == read_manifest(local)["counts"]
    assert counts["duplicates"] == 45 and counts["quarantined"] == 1 and counts["balanced"]
    assert [entry["duplicates"] for entry in read_manifest(on_dask)["inputs"]] == [0, 45]


def test_the_campaign_across_partitions_is_coordinated(both_runs):
    _, on_dask = both_runs
    posts = pd.read_parquet(on_dask / "posts.parquet", columns=["post_id", "risk_flags"])
    flagged = posts[posts["risk_flags"].map(lambda flags: "coordinated" in flags)]
    assert {"900000000000000000", "910000000000000000", "920000000000000000"} <= set(flagged["post_id"])


def test_the_manifest_names_the_engine(both_runs):
    _, on_dask = both_runs
    engine = read_manifest(on_dask)["engine"]
    assert engine == {"name": "dask", "scheduler": engine["scheduler"], "workers": 2, "partitions": 15, "waves": 4}


def test_the_stages_enrich_each_batch_as_read_from_its_staged_parquet_file(archive, config, cluster, tmp_path,
                                                                           monkeypatch):
    """Each partition the stages get is one staged batch of the run, at most two waves are staged
    at a time, and the staging is gone when the run completes."""
    original = stages()["normalize"]
    seen = []

    def normalize(posts, context):
        staged = staged_post_ids(RunParts(tmp_path).staging)
        seen.append(([name for name, ids in staged.items() if ids == posts["post_id"].tolist()], len(staged)))
        return original.run(posts, context)

    monkeypatch.setitem(stages(), "normalize", Stage("normalize", normalize, original.adds, original.version))
    manifest = run(archive, tmp_path, config, SAMPLE_ACCOUNTS, progress=False,
                   engine=DaskEngine(cluster.scheduler_address))
    assert len(seen) == manifest["engine"]["partitions"] == 15
    assert all(matches for matches, _ in seen)
    assert max(staged for _, staged in seen) <= 2 * PARTITIONS_PER_WORKER * 2
    assert not (tmp_path / ".parts").exists()


def test_a_staged_batch_reaches_the_stages_as_ingest_gave_it(archive, config, tmp_path):
    import dask.dataframe as dd

    from pipeline.dask_engine import _as_ingested

    batch = next(ingest_batches(plan_inputs(archive, "auto"), config, AccountsRegistry.from_csv(SAMPLE_ACCOUNTS)))
    write_table(schema.to_arrow(batch.posts, schema.POSTS), tmp_path / "staged.parquet")
    partition = dd.read_parquet([str(tmp_path / "staged.parquet")], split_row_groups=False).compute(scheduler="sync")
    posts = _as_ingested(partition)
    pd.testing.assert_frame_equal(posts, batch.posts, check_like=True, check_dtype=False)
    text = [name for name, dtype in batch.posts.dtypes.items() if dtype == object]
    assert (posts[text].dtypes == object).all() and posts["account_id"].map(lambda v: v is None).all()


def test_an_unreachable_scheduler_is_a_user_error(archive, config, tmp_path):
    from pipeline.errors import UserError

    with pytest.raises(UserError, match="cannot connect to the Dask scheduler"):
        run(archive, tmp_path, config, engine=DaskEngine("tcp://127.0.0.1:1", connect_timeout="1s"))


def test_a_bad_scheduler_address_is_one_line_and_exit_2(archive, tmp_path, capsys):
    from pipeline.cli import main

    code = main(["run", *archive, "--out", str(tmp_path), "--engine", "dask", "--scheduler", "nowhere:xyz"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert error.startswith("diplolens: error: cannot connect to the Dask scheduler at 'nowhere:xyz'")


def fail_topics_at_batch(number: int, monkeypatch) -> None:
    """The topics stage raises on its `number`-th batch (undone by `monkeypatch.undo()`)."""
    original = stages()["topics"]
    calls = []

    def topics(posts, context):
        calls.append(1)
        if len(calls) == number:
            raise RuntimeError("injected failure")
        return original.run(posts, context)

    monkeypatch.setitem(stages(), "topics", Stage("topics", topics, original.adds, original.version))


def test_a_local_run_stopped_at_batch_6_resumes_on_dask_to_the_same_tables(archive, config, cluster, both_runs,
                                                                           tmp_path, monkeypatch):
    fail_topics_at_batch(6, monkeypatch)
    with pytest.raises(RuntimeError):
        run(archive, tmp_path, config, SAMPLE_ACCOUNTS, progress=False)
    monkeypatch.undo()
    resumed = run(archive, tmp_path, config, SAMPLE_ACCOUNTS, progress=False, resume=True,
                  engine=DaskEngine(cluster.scheduler_address))
    assert resumed["resumed_after_batches"] == 5 and resumed["engine"]["partitions"] == 10
    assert resumed["counts"] == read_manifest(both_runs[0])["counts"]
    assert_same_tables(tmp_path, both_runs[0])


def test_a_dask_run_stopped_midway_resumes_locally_to_the_same_tables(archive, config, cluster, both_runs,
                                                                      tmp_path, monkeypatch):
    fail_topics_at_batch(6, monkeypatch)
    with pytest.raises(RuntimeError, match="injected failure"):
        run(archive, tmp_path, config, SAMPLE_ACCOUNTS, progress=False, engine=DaskEngine(cluster.scheduler_address))
    wait_until_idle(cluster)
    monkeypatch.undo()
    stopped = read_manifest(tmp_path)
    assert stopped["status"] == "failed" and 0 < stopped["complete_batches"] < 15
    parts = RunParts(tmp_path)
    parts.staging.mkdir()
    parts.staged(stopped["complete_batches"]).write_bytes(b"left by a kill -9")

    resumed = run(archive, tmp_path, config, SAMPLE_ACCOUNTS, progress=False, resume=True)
    assert resumed["resumed_after_batches"] == stopped["complete_batches"]
    assert resumed["counts"] == read_manifest(both_runs[0])["counts"]
    assert_same_tables(tmp_path, both_runs[0])
    assert not (tmp_path / ".parts").exists()


def test_pseudonymized_on_dask_is_pseudonymized_locally(archive, config, cluster, tmp_path):
    salt_file = tmp_path / "salt"
    salt_file.write_text("a test salt of enough length for the pseudonymizer\n", encoding="utf-8")
    hidden = {**config, "privacy": {**config["privacy"], "pseudonymize": True, "salt_file": str(salt_file)}}
    run(archive, tmp_path / "local", hidden, SAMPLE_ACCOUNTS, progress=False)
    run(archive, tmp_path / "dask", hidden, SAMPLE_ACCOUNTS, progress=False,
        engine=DaskEngine(cluster.scheduler_address))
    assert_same_tables(tmp_path / "dask", tmp_path / "local")
    assert read_manifest(tmp_path / "dask")["pseudonymized"]


def test_the_cli_takes_workers_for_the_local_cluster_and_refuses_them_with_a_scheduler(archive, tmp_path, capsys):
    from pipeline.cli import main

    code = main(["run", *archive, "--out", str(tmp_path), "--engine", "dask", "--scheduler", "tcp://x:1",
                 "--workers", "2"])
    assert code == 2 and "--workers with --scheduler" in capsys.readouterr().err
    code = main(["run", *archive, "--out", str(tmp_path), "--scheduler", "tcp://x:1"])
    assert code == 2 and "--scheduler needs --engine dask" in capsys.readouterr().err


@pytest.mark.parametrize(("set_by_user", "seen_by_worker"), [(None, "1"), ("2", "2")])
def test_the_local_clusters_workers_run_lingua_on_one_thread_unless_the_user_says_otherwise(
        monkeypatch, set_by_user, seen_by_worker):
    import os

    from pipeline.dask_engine import local_cluster

    if set_by_user is None:
        monkeypatch.delenv("RAYON_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("RAYON_NUM_THREADS", set_by_user)
    with local_cluster(1) as cluster, distributed.Client(cluster) as client:
        assert client.submit(os.getenv, "RAYON_NUM_THREADS").result() == seen_by_worker
