"""The embedding cache on its own (no encoder): keys, round trips, concurrent writers, and a
damaged or unusable file that must never stop a run."""

import multiprocessing
import sqlite3

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.models.embedding_cache import EmbeddingCache, cache_file, cache_summary
from pipeline.runner import SAMPLE_POSTS

IDENTITY = "multilingual-e5-small|torch|torch==2.13.0|0123abcd|max_tokens=128|prefix='query: '"
DIMENSION = 384


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real posts of the embedded sample archive, in several languages and scripts."""
    frame = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False)
    return frame.groupby("account_main_lang").head(20)["text"].tolist()


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_vectors_come_back_bit_for_bit(tmp_path, texts):
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", IDENTITY, DIMENSION)
    keys = cache.keys(texts)
    assert len(set(keys)) == len(set(texts)) and all(len(key) == 16 for key in keys)
    vectors = unit_vectors(len(texts))
    cache.put(keys[:50], vectors[:50])
    found = cache.get(keys)
    assert sorted(found) == sorted(keys[:50])
    assert all(np.array_equal(found[key], vector) for key, vector in zip(keys, vectors[:50]))
    cache.close()
    reopened = EmbeddingCache(tmp_path / "vectors.sqlite", IDENTITY, DIMENSION)
    assert np.array_equal(reopened.get(keys[:1])[keys[0]], vectors[0])


def test_another_encoder_or_truncation_never_reads_these_vectors(tmp_path, texts):
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", IDENTITY, DIMENSION)
    cache.put(cache.keys(texts), unit_vectors(len(texts)))
    for other in (IDENTITY.replace("torch|torch==2.13.0", "onnx|onnxruntime==1.31.1"),
                  IDENTITY.replace("max_tokens=128", "max_tokens=64"), IDENTITY.replace("0123abcd", "0123abce")):
        stranger = EmbeddingCache(tmp_path / "vectors.sqlite", other, DIMENSION)
        assert stranger.get(stranger.keys(texts)) == {}


def _write_share(path: str, texts: list[str], seed: int) -> None:
    cache = EmbeddingCache(path, IDENTITY, DIMENSION)
    for start in range(0, len(texts), 10):  # many small transactions, interleaved with the other writer
        part = texts[start:start + 10]
        cache.put(cache.keys(part), unit_vectors(len(part), seed + start))
    assert cache.usable


def test_processes_writing_at_once_all_land(tmp_path, texts):
    path = str(tmp_path / "vectors.sqlite")
    halves = [texts[0::2], texts[1::2]]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_share, args=(path, half, 100 * i)) for i, half in enumerate(halves)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    cache = EmbeddingCache(path, IDENTITY, DIMENSION)
    assert len(cache.get(cache.keys(texts))) == len(set(texts))
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_corrupt_file_is_reported_once_and_ignored(tmp_path, texts, capsys):
    path = tmp_path / "vectors.sqlite"
    path.write_bytes(b"not a database, a disk error " * 200)
    cache = EmbeddingCache(path, IDENTITY, DIMENSION)
    keys = cache.keys(texts)
    assert cache.get(keys) == {}
    cache.put(keys, unit_vectors(len(keys)))
    assert cache.get(keys) == {}
    assert not cache.usable
    err = capsys.readouterr().err
    assert err.count("warning: the embedding cache") == 1 and str(path) in err and "--clear" in err


def test_a_folder_that_cannot_be_created_is_no_error(tmp_path, texts, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cache = EmbeddingCache(blocker / "cache" / "vectors.sqlite", IDENTITY, DIMENSION)
    cache.put(cache.keys(texts[:3]), unit_vectors(3))
    assert cache.get(cache.keys(texts[:3])) == {}
    assert capsys.readouterr().err.count("warning") == 1


def test_a_damaged_row_is_a_miss_and_is_replaced(tmp_path, texts):
    path = tmp_path / "vectors.sqlite"
    cache = EmbeddingCache(path, IDENTITY, DIMENSION)
    keys = cache.keys(texts[:2])
    cache.put(keys, unit_vectors(2))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE vectors SET vector = ? WHERE key = ?", (b"\x00" * 10, keys[0]))
    assert list(cache.get(keys)) == [keys[1]]
    fresh = unit_vectors(1, seed=7)
    cache.put(keys[:1], fresh)
    assert np.array_equal(cache.get(keys[:1])[keys[0]], fresh[0])


def test_cache_command_shows_and_clears_the_cache(tmp_path, texts, capsys):
    path = cache_file(str(tmp_path))
    cache = EmbeddingCache(path, IDENTITY, DIMENSION)
    cache.put(cache.keys(texts[:5]), unit_vectors(5))
    cache.close()
    assert cache_summary(path)["vectors"] == 5
    assert main(["models", "cache", "--dir", str(tmp_path)]) == 0
    assert "5 vectors" in capsys.readouterr().out
    assert main(["models", "cache", "--dir", str(tmp_path), "--clear"]) == 0
    assert not path.exists() and cache_summary(path)["vectors"] == 0
