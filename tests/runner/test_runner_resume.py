"""Crash safety and --resume on the embedded sample archive: a run stopped at any point (an
error, Ctrl-C, kill -9) resumes from its last complete part into the same tables, byte for
byte, as a run that was never stopped; --workers changes nothing in them either."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.outputs import RunParts
from pipeline.registry import Stage, stages
from pipeline.runner import REPO_ROOT, SAMPLE_ACCOUNTS, SAMPLE_POSTS, run

# 16 batches of the sample's 3,004 rows, so a run leaves many parts to resume from.
SETTINGS = {"profile": "fast", "batch_size": 200, "metrics": {"period": "year"}}
# What differs between two runs that made the same tables: when and how they ran.
RUN_HISTORY = {"started_at", "finished_at", "command", "workers", "resumed_after_batches", "timings_seconds",
               "posts_per_second", "stage_counts"}


def config(**changes):
    return load_config(overrides={"profile": "fast", "batch_size": 200, "metrics.period": "year", **changes})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: the tables every stopped-and-resumed run must reproduce."""
    out = tmp_path_factory.mktemp("reference")
    run([], out, config(), progress=False)
    return out


def assert_same_run(out: Path, reference: Path) -> None:
    expected = json.loads((reference / "manifest.json").read_text("utf-8"))
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["status"] == "complete"
    assert {k: v for k, v in manifest.items() if k not in RUN_HISTORY} == \
        {k: v for k, v in expected.items() if k not in RUN_HISTORY}
    assert len(expected["outputs"]) >= 8
    for name in expected["outputs"]:
        if name.endswith(".parquet"):
            assert pq.read_table(out / name).equals(pq.read_table(reference / name)), name
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert not (out / ".parts").exists()
    assert not list(out.rglob("*.partial"))


def failing_at(batch: int, error: BaseException, monkeypatch) -> None:
    """Make the topics stage raise `error` on the `batch`-th batch (counting from 1)."""
    original = stages()["topics"]
    calls = []

    def topics(posts, context):
        calls.append(1)
        if len(calls) == batch:
            raise error
        return original.run(posts, context)

    monkeypatch.setitem(stages(), "topics", Stage("topics", topics, original.adds, original.version))


def test_resume_after_a_failure_at_batch_k_writes_identical_tables(tmp_path, monkeypatch, reference):
    failing_at(6, RuntimeError("injected failure"), monkeypatch)
    with pytest.raises(RuntimeError):
        run([], tmp_path, config(), progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    assert manifest["status"] == "failed" and "injected failure" in manifest["error"]
    assert manifest["complete_batches"] == 5
    assert not (tmp_path / "posts.parquet").exists()  # nothing under a final name looks complete
    assert RunParts(tmp_path).checkpoint()["batches"] == 5
    monkeypatch.undo()

    resumed = run([], tmp_path, config(), progress=False, resume=True)
    assert resumed["resumed_after_batches"] == 5
    assert_same_run(tmp_path, reference)


def test_ctrl_c_marks_the_run_interrupted_and_resume_completes_it(tmp_path, monkeypatch, reference):
    failing_at(11, KeyboardInterrupt(), monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run([], tmp_path, config(), progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    assert manifest["status"] == "interrupted" and manifest["complete_batches"] == 10
    monkeypatch.undo()
    run([], tmp_path, config(), progress=False, resume=True)
    assert_same_run(tmp_path, reference)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A run on a copy of the sample stopped after three batches."""
    folder = tmp_path_factory.mktemp("interrupted")
    shutil.copy(SAMPLE_POSTS, folder / "posts.csv")
    with pytest.MonkeyPatch.context() as monkeypatch:
        failing_at(4, KeyboardInterrupt(), monkeypatch)
        with pytest.raises(KeyboardInterrupt):
            run([str(folder / "posts.csv")], folder / "out", config(), SAMPLE_ACCOUNTS, progress=False)
    return folder


def test_resume_refuses_another_config_or_changed_inputs_and_keeps_the_parts(tmp_path, interrupted):
    shutil.copytree(interrupted, tmp_path, dirs_exist_ok=True)
    posts, out = tmp_path / "posts.csv", tmp_path / "out"
    with pytest.raises(UserError, match="configuration"):
        run([str(posts)], out, config(batch_size=300), SAMPLE_ACCOUNTS, progress=False, resume=True)
    with posts.open("a", encoding="utf-8") as handle:
        handle.write('"1","2019-01-01 00:00:00","x","x","one more post"\n')
    with pytest.raises(UserError, match="inputs differ"):
        run([str(posts)], out, config(), SAMPLE_ACCOUNTS, progress=False, resume=True)
    assert RunParts(out).checkpoint()["batches"] == 3
    assert len(list((out / ".parts").glob("posts-*.parquet"))) == 3


def test_resume_in_a_file_of_duplicates_still_drops_them_all(tmp_path, monkeypatch):
    """The stopped run read the first copy; the resumed one must still know its ids."""
    rows = SAMPLE_POSTS.read_text("utf-8").splitlines(keepends=True)
    head = tmp_path / "head.csv"
    head.write_text("".join(rows[:601]), encoding="utf-8")
    small = config(batch_size=100)
    run([str(head), str(head)], tmp_path / "reference", small, SAMPLE_ACCOUNTS, progress=False)
    failing_at(10, RuntimeError("injected failure"), monkeypatch)
    with pytest.raises(RuntimeError):
        run([str(head), str(head)], tmp_path / "out", small, SAMPLE_ACCOUNTS, progress=False)
    monkeypatch.undo()
    manifest = run([str(head), str(head)], tmp_path / "out", small, SAMPLE_ACCOUNTS, progress=False, resume=True)
    assert manifest["inputs"][1]["posts_written"] == 0
    assert manifest["inputs"][1]["duplicates"] == manifest["inputs"][0]["posts_written"]
    assert_same_run(tmp_path / "out", tmp_path / "reference")


def test_resume_with_no_checkpoint_says_so_and_starts_afresh(tmp_path, reference, capsys):
    run([], tmp_path, config(), progress=False, resume=True)
    assert "nothing to resume" in capsys.readouterr().err
    assert_same_run(tmp_path, reference)


def test_a_resume_discards_parts_written_after_the_last_checkpoint_and_staged_batches(tmp_path):
    parts = RunParts(tmp_path)
    parts.start()
    for name in ("posts-000000.parquet", "posts-000001.parquet", "quarantine-000001.parquet",
                 "posts-000002.parquet.partial", "checkpoint.json"):
        (parts.folder / name).write_bytes(b"x")
    parts.staging.mkdir()
    for number in (0, 1):  # left by a Dask run killed mid-wave; the resumed run stages them again
        parts.staged(number).write_bytes(b"x")
    parts.keep_complete(1)
    assert sorted(p.name for p in parts.folder.iterdir()) == ["checkpoint.json", "posts-000000.parquet"]


def test_two_workers_write_the_same_tables_as_one(tmp_path, reference):
    manifest = run([], tmp_path, config(), progress=False, workers=2)
    assert manifest["workers"] == 2
    assert_same_run(tmp_path, reference)


def test_a_run_killed_while_removing_its_parts_resumes_to_identical_tables(tmp_path, monkeypatch, reference):
    import pipeline.outputs

    remove_folder = shutil.rmtree

    def killed_midway(folder, ignore_errors=False):
        parts = sorted(Path(folder).glob("posts-*.parquet"))
        if not parts:  # the empty work folder of the run's start
            return remove_folder(folder, ignore_errors=ignore_errors)
        parts[0].unlink()  # the kill lands after the first deleted part (found by the 20-kill run)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.outputs.shutil, "rmtree", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        run([], tmp_path, config(), progress=False)
    monkeypatch.undo()
    assert RunParts(tmp_path).checkpoint() is None  # no promise of the parts already gone

    run([], tmp_path, config(), progress=False, resume=True)
    assert_same_run(tmp_path, reference)


def test_workers_below_one_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="--workers"):
        run([], tmp_path, config(), progress=False, workers=0)


# --- kill -9 of a real `python -m pipeline run` process ---

def cli(out: Path, config_file: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "run", "--out", str(out), "--config", str(config_file), "--quiet",
            *extra]


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "resume.yaml"
    path.write_text(yaml.safe_dump(SETTINGS), encoding="utf-8")
    return path


def kill_and_resume(out: Path, config_file: Path, reference: Path, kill_when, resume_with_cli: bool = True) -> str:
    """Start a run, SIGKILL it when `kill_when(started)` says so, check what it left, resume
    it, compare with the reference; returns where the run was when killed."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(cli(out, config_file), cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    started = time.monotonic()
    while process.poll() is None and not kill_when(out, started):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    where = killed_at(out)
    # Whatever the moment, every file under a final name is whole, and no manifest vouches for
    # tables of a run that did not finish.
    for path in out.rglob("*.parquet"):
        pq.read_metadata(path)
    if where not in ("before the manifest", "after the run"):
        assert json.loads((out / "manifest.json").read_text("utf-8"))["status"] == "running"
    if resume_with_cli:
        resumed = subprocess.run(cli(out, config_file, "--resume"), cwd=REPO_ROOT, env=env, capture_output=True,
                                 text=True)
        assert resumed.returncode == 0, resumed.stderr
    else:  # the same code path, without another interpreter start and model loading
        run([], out, load_config(config_file), progress=False, resume=True)
    assert_same_run(out, reference)
    return where


def killed_at(out: Path) -> str:
    if not (out / "manifest.json").exists():
        return "before the manifest"
    if json.loads((out / "manifest.json").read_text("utf-8"))["status"] == "complete":
        return "after the run"
    checkpoint = RunParts(out).checkpoint()
    if checkpoint is None:
        return "before the first part"
    return f"after {checkpoint['batches']} batches" + (" (finishing)" if checkpoint["batches"] == 16 else "")


def after_batches(target: int, rng: random.Random):
    """Kill once `target` batches are complete, then a random fraction of a batch later."""
    delay = rng.uniform(0, 0.4)

    def ready(out: Path, started: float) -> bool:
        checkpoint = RunParts(out).checkpoint()  # whole or absent: it is replaced atomically
        if checkpoint is None or checkpoint["batches"] < target:
            return False
        time.sleep(delay)
        return True

    return ready


def test_kill_9_during_a_real_run_then_resume_writes_identical_tables(tmp_path, config_file, reference):
    rng = random.Random(int(os.environ.get("DIPLOLENS_KILL_SEED", "7")))
    for attempt, target in enumerate(rng.sample(range(1, 16), 2)):
        kill_and_resume(tmp_path / f"out{attempt}", config_file, reference, after_batches(target, rng),
                        resume_with_cli=attempt == 0)


@pytest.mark.slow
def test_twenty_kills_at_random_moments_each_resume_to_identical_tables(tmp_path, config_file, reference):
    """Kill moments uniform over the whole duration of an uninterrupted CLI run (start-up,
    batches, the final assembly, or after it finished)."""
    seed = int(os.environ.get("DIPLOLENS_KILL_SEED", str(time.time_ns() % 10**6)))
    rng = random.Random(seed)
    tick = time.monotonic()
    subprocess.run(cli(tmp_path / "timed", config_file), cwd=REPO_ROOT, check=True, capture_output=True)
    duration = time.monotonic() - tick
    moments = []
    for attempt in range(20):
        delay = rng.uniform(0, duration)
        where = kill_and_resume(tmp_path / f"out{attempt}", config_file, reference,
                                lambda out, started: time.monotonic() - started >= delay)
        moments.append(where)
        print(f"kill {attempt + 1}/20 at {delay:.1f}s of {duration:.1f}s (seed {seed}): {where}; resumed: identical",
              flush=True)
    assert len(moments) == 20
