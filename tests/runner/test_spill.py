"""Spilled archive-wide state (`pipeline.spill`): what goes to disk comes back whole, in the
promised order, with bounded buffers; the folder goes away when closed."""

import gc

import numpy as np
import pytest

from pipeline import spill
from pipeline.outputs import RunParts
from pipeline.spill import RecordBuckets, SortedRuns, SpilledStrings, WorkFolder

RECORD = np.dtype([("time", "<i8"), ("ref", "<i8"), ("payload", "<u4", (3,))])


def records(rng, count: int, start: int = 0) -> np.ndarray:
    out = np.empty(count, dtype=RECORD)
    out["time"] = rng.integers(0, 500, count)  # many ties, broken by ref
    out["ref"] = np.arange(start, start + count)
    out["payload"] = rng.integers(0, 2**32, (count, 3), dtype=np.uint32)
    return out


def test_sorted_runs_stream_back_every_record_in_key_order_through_many_small_runs(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    batches = [records(rng, int(rng.integers(0, 300)), start) for start in range(0, 20_000, 400)]
    # 1 KiB buffers and 5 runs merged at once: hundreds of runs, merged in rounds.
    monkeypatch.setattr(spill, "MAX_RUNS", 5)
    runs = SortedRuns(tmp_path, "t", RECORD, order=("time", "ref"), buffer_bytes=1024, merge_bytes=2048)
    for batch in batches:
        runs.append(batch)
        assert runs._pending_rows * RECORD.itemsize < 1024 + RECORD.itemsize * 300  # one batch over at most
    blocks = list(runs.merged())
    merged = np.concatenate(blocks)
    everything = np.concatenate(batches)
    expected = everything[np.lexsort((everything["ref"], everything["time"]))]
    assert merged.tobytes() == expected.tobytes()
    assert len(blocks) > 10 and len(list(tmp_path.glob("t-run*.bin"))) <= 5


def test_record_buckets_keep_arrival_order_within_a_bucket(tmp_path):
    rng = np.random.default_rng(1)
    buckets = RecordBuckets(tmp_path, "b", RECORD, buckets=8, buffer_bytes=4096)
    batches = [records(rng, 150, start) for start in range(0, 3000, 150)]
    for batch in batches:
        buckets.append(batch, batch["time"] % 8)
    everything = np.concatenate(batches)
    for number in range(8):
        assert buckets.read(number).tobytes() == everything[everything["time"] % 8 == number].tobytes()
    assert sum(len(found) for found in buckets) == len(everything) == buckets.rows


def test_spilled_strings_come_back_by_position(tmp_path):
    strings = SpilledStrings(tmp_path, "ids")
    values = ["1234", "", "did:plc:ab/app.bsky.feed.post/3k", "خبر", "🙂x"] * 3
    strings.extend(values[:7])
    strings.extend([])
    strings.extend(values[7:])
    assert strings.take(np.array([14, 0, 3, 1, 3])) == [values[14], values[0], values[3], values[1], values[3]]
    assert strings.take(np.array([], dtype=np.int64)) == []


def test_a_work_folder_is_removed_when_closed_or_forgotten(tmp_path):
    folder = WorkFolder(tmp_path)
    (folder.path / "x.bin").write_bytes(b"x")
    folder.close()
    assert not folder.path.exists()
    path = WorkFolder(tmp_path).path
    gc.collect()
    assert not path.exists()


def test_a_resume_removes_the_spilled_state_an_interrupted_run_left(tmp_path):
    parts = RunParts(tmp_path)
    parts.start()
    (parts.folder / "posts-000000.parquet").write_bytes(b"x")
    left = WorkFolder(parts.folder, prefix="coordination-")
    (left.path / "texts-run00001.bin").write_bytes(b"x")
    left._finalizer.detach()  # as after a kill: nothing removes it but the resume
    parts.keep_complete(1)
    assert sorted(p.name for p in parts.folder.iterdir()) == ["posts-000000.parquet"]


@pytest.mark.parametrize("count", [0, 1])
def test_empty_or_tiny_spills(tmp_path, count):
    rng = np.random.default_rng(2)
    runs = SortedRuns(tmp_path, "t", RECORD, order=("time", "ref"))
    runs.append(records(rng, count))
    assert sum(len(block) for block in runs.merged()) == count
    buckets = RecordBuckets(tmp_path, "b", RECORD, buckets=4)
    assert list(buckets) == [] and len(buckets.read(3)) == 0
