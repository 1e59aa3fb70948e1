"""The embed stage: each distinct text embedded once per batch, vectors kept in the embedding
cache across batches and runs, the same vectors and tables with the cache on or off."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.normalize import normalize_text
from pipeline.runner import SAMPLE_POSTS, run

STAGES = ["normalize", "langid", "embed", "topics"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Normalised real posts of the sample archive (several languages), then a retweet-like
    repetition of a third of them, as an archive with retweets and copies has."""
    frame = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False)
    posts = [normalize_text(t) for t in frame.groupby("account_main_lang").head(6)["text"]]
    return posts + posts[::3]


@pytest.fixture(scope="module")
def encoder(converted_encoder):
    from pipeline.models.encoder import Encoder

    return Encoder(converted_encoder, batch_size=16)


class Counting:
    """The encoder, recording the texts it is asked to embed."""

    def __init__(self, encoder):
        self.encoder, self.dimension, self.seen = encoder, encoder.dimension, []

    def encode(self, texts):
        self.seen.extend(texts)
        return self.encoder.encode(texts)


def test_each_distinct_text_is_embedded_once(encoder, texts):
    from pipeline.embed import embed_texts

    counting = Counting(encoder)
    vectors, counts = embed_texts(counting, texts)
    distinct = set(texts)
    assert len(distinct) < len(texts)
    assert sorted(counting.seen) == sorted(distinct)
    assert counts == {"texts": len(texts), "distinct_texts": len(distinct), "cache_hits": 0,
                      "embedded": len(distinct)}
    assert vectors.shape == (len(texts), encoder.dimension)
    for i, text in enumerate(texts):
        first = texts.index(text)
        assert np.array_equal(vectors[i], vectors[first])
    in_order = list(dict.fromkeys(texts))
    assert np.allclose(vectors[[texts.index(t) for t in in_order]], encoder.encode(in_order), atol=1e-4)


def test_vectors_are_identical_with_the_cache_on_or_off(encoder, texts, tmp_path):
    from pipeline.embed import embed_texts
    from pipeline.models.embedding_cache import EmbeddingCache

    off, _ = embed_texts(encoder, texts)
    cache = EmbeddingCache(tmp_path / "vectors.sqlite", encoder.identity, encoder.dimension)
    cold, cold_counts = embed_texts(encoder, texts, cache)
    counting = Counting(encoder)
    warm, warm_counts = embed_texts(counting, texts, cache)
    assert np.array_equal(cold, off) and np.array_equal(warm, off)
    assert cold_counts["embedded"] == len(set(texts)) and cold_counts["cache_hits"] == 0
    assert warm_counts["embedded"] == 0 and warm_counts["cache_hits"] == len(set(texts))
    assert counting.seen == []


def test_only_new_texts_are_embedded(encoder, texts, tmp_path):
    from pipeline.embed import embed_texts
    from pipeline.models.embedding_cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "vectors.sqlite", encoder.identity, encoder.dimension)
    embed_texts(encoder, texts[:20], cache)
    counting = Counting(encoder)
    vectors, counts = embed_texts(counting, texts, cache)
    assert sorted(counting.seen) == sorted(set(texts) - set(texts[:20]))
    assert counts["cache_hits"] == len(set(texts[:20]))
    assert np.allclose(vectors, embed_texts(encoder, texts)[0], atol=1e-4)  # the same vectors, whichever batch


def test_a_corrupt_cache_does_not_change_the_vectors(encoder, texts, tmp_path, capsys):
    from pipeline.embed import embed_texts
    from pipeline.models.embedding_cache import EmbeddingCache

    path = tmp_path / "vectors.sqlite"
    path.write_bytes(bytes(range(256)) * 64)
    cache = EmbeddingCache(path, encoder.identity, encoder.dimension)
    vectors, counts = embed_texts(encoder, texts, cache)
    again, _ = embed_texts(encoder, texts, cache)
    assert np.array_equal(vectors, embed_texts(encoder, texts)[0]) and np.array_equal(again, vectors)
    assert counts["cache_hits"] == 0
    assert capsys.readouterr().err.count("warning: the embedding cache") == 1


@pytest.fixture(scope="module")
def sample_slice(tmp_path_factory) -> Path:
    """150 posts of the sample archive, and 30 of them again as retweets (own ids)."""
    frame = pd.read_csv(SAMPLE_POSTS, dtype=str, keep_default_na=False).iloc[::20].head(150)
    copies = frame.head(30).assign(id=lambda f: f["id"] + "0", username="a_retweeter", account="a_retweeter")
    path = tmp_path_factory.mktemp("slice") / "posts.csv"
    pd.concat([frame, copies]).to_csv(path, index=False)
    return path


def accurate(encoder_dir: Path, **settings):
    return load_config(overrides={"profile": "accurate", "stages": STAGES, "batch_size": 100,
                                  "models.encoder_dir": str(encoder_dir), **settings})


def test_a_rerun_embeds_nothing_and_writes_the_same_tables(sample_slice, converted_encoder, tmp_path):
    cache_dir = {"embed.cache_dir": str(tmp_path / "cache")}
    first = run([str(sample_slice)], tmp_path / "first", accurate(converted_encoder, **cache_dir), progress=False)
    second = run([str(sample_slice)], tmp_path / "second", accurate(converted_encoder, **cache_dir), progress=False)
    off = run([str(sample_slice)], tmp_path / "off", accurate(converted_encoder, **{"embed.cache": False}),
              progress=False)
    posts = first["counts"]["posts_written"]
    cold, warm = first["stage_counts"]["embed"], second["stage_counts"]["embed"]
    assert cold["texts"] == posts > 170
    # Batch 2's retweets of batch 1's posts are read from the cache, not embedded again.
    assert cold["embedded"] <= 150 and cold["cache_hits"] >= 25
    assert cold["embedded"] + cold["cache_hits"] == cold["distinct_texts"]  # distinct within each batch
    assert warm == {"texts": posts, "distinct_texts": cold["distinct_texts"], "cache_hits": cold["distinct_texts"],
                    "embedded": 0}
    assert off["stage_counts"]["embed"]["cache_hits"] == 0
    assert off["stage_counts"]["embed"]["embedded"] == cold["distinct_texts"]
    assert json.loads((tmp_path / "second" / "manifest.json").read_text("utf-8"))["stage_counts"] == \
        second["stage_counts"]
    reference = pq.read_table(tmp_path / "first" / "posts.parquet")
    assert pq.read_table(tmp_path / "second" / "posts.parquet").equals(reference)
    # Off: each batch embeds its own distinct texts, so a retweet in a later batch than its
    # original is embedded in another batch (float rounding in the last bits at most).
    without = pd.read_parquet(tmp_path / "off" / "posts.parquet")
    assert without["topics"].map(list).tolist() == reference.column("topics").to_pylist()
    scores = [dict(s) for s in reference.column("topic_scores").to_pylist()]
    assert all(dict(s) == pytest.approx(r, abs=1e-5) for s, r in zip(without["topic_scores"], scores))


def test_the_identity_known_before_loading_is_the_encoders(encoder, converted_encoder):
    from pipeline.models.encoder import encoder_identity

    assert encoder_identity(str(converted_encoder), "torch", 128) == (encoder.identity, encoder.dimension)
    assert encoder_identity(str(converted_encoder), "torch", 64)[0] != encoder.identity


def test_a_batch_found_whole_in_the_cache_loads_no_encoder(texts, converted_encoder, tmp_path, monkeypatch):
    import pipeline.embed
    from pipeline.runner import StageContext

    config = accurate(converted_encoder, **{"embed.cache_dir": str(tmp_path)})
    posts = pd.DataFrame({"text_norm": texts})
    first = pipeline.embed.embed(posts.copy(), StageContext(config, "accurate"))

    def no_encoder(*args):
        raise AssertionError("the encoder was loaded")

    monkeypatch.setattr(pipeline.embed, "load_encoder", no_encoder)
    context = StageContext(config, "accurate")
    again = pipeline.embed.embed(posts.copy(), context)
    assert context.counts["embed"]["embedded"] == 0
    assert all(np.array_equal(a, b) for a, b in zip(first["embedding"], again["embedding"]))


def test_an_unknown_backend_is_a_config_error():
    with pytest.raises(UserError, match="embed.backend"):
        load_config(overrides={"embed.backend": "tensorrt"})
