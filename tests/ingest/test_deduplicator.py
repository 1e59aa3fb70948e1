"""Duplicate removal across a whole run (`Deduplicator`): the first of repeated (platform,
post_id) pairs is kept, within a batch and across batches; memory stays flat (the seen keys
are in an SQLite table on disk)."""

import tracemalloc

import numpy as np
import pandas as pd

from pipeline.ingest import Deduplicator


def batch(ids, platform="twitter", origin="native") -> pd.DataFrame:
    return pd.DataFrame({"platform": platform, "post_id": [str(i) for i in ids], "post_id_origin": origin,
                         "text": [f"post {i}" for i in ids]})


def test_the_first_of_repeated_ids_is_kept_within_and_across_batches(tmp_path):
    deduplicator = Deduplicator(tmp_path)
    kept, dropped = deduplicator.drop_duplicates(batch([1, 2, 1, 3, 2, 2]))
    assert kept["post_id"].tolist() == ["1", "2", "3"] and dropped == 3
    kept, dropped = deduplicator.drop_duplicates(batch([4, 3, 5, 4]))
    assert kept["post_id"].tolist() == ["4", "5"] and dropped == 2
    # The same id on another platform is another post; derived ids are never duplicates.
    kept, dropped = deduplicator.drop_duplicates(pd.concat([batch([1], "mastodon"), batch([9, 9], origin="derived")]))
    assert len(kept) == 3 and dropped == 0
    kept, dropped = deduplicator.drop_duplicates(batch([]))
    assert kept.empty and dropped == 0
    assert [path.name for path in tmp_path.iterdir()][0].startswith("duplicates-")
    deduplicator.close()
    assert not any(tmp_path.iterdir())


def test_memory_does_not_grow_with_the_ids_seen(tmp_path):
    deduplicator = Deduplicator(tmp_path)
    held = []
    tracemalloc.start()
    try:
        for start in range(0, 200_000, 5000):
            ids = np.arange(start, start + 5000)
            kept, dropped = deduplicator.drop_duplicates(batch(np.concatenate([ids, ids[:50] - 5000])))
            assert dropped == (50 if start else 0)  # the previous batch's first 50
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
        deduplicator.close()
    # A Python set would hold ~70 bytes a key: ~13 MB more at the end than after 20,000 keys.
    assert max(held[20:]) < max(held[:4]) + 512 * 1024, [round(h / 1024) for h in held]
