"""Embed: one multilingual e5 vector per post, read by every text head of the accurate profile.

The vectors stay in the batch (column `embedding`, one float32 array per post) and are not
written to posts.parquet (384 floats a post would outweigh everything else). In the fast
profile this stage does nothing and the heads read the text instead.

Each distinct normalised text of a batch is embedded once (retweets and copies repeat
texts), and with `embed.cache` its vector is kept in the embedding cache
(`pipeline.models.embedding_cache`), so that a later batch or run with the same text reads it
instead of embedding it again. The manifest counts them (`stage_counts.embed`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.models.embedding_cache import EmbeddingCache, cache_file, open_cache
from pipeline.models.encoder import ENCODER_NAME, encoder_dir, encoder_identity, load_encoder
from pipeline.registry import register_stage

EMBEDDING = "embedding"


@register_stage("embed", adds=(), version=ENCODER_NAME)
def embed(posts: pd.DataFrame, context) -> pd.DataFrame:
    if context.profile != "accurate":
        return posts
    settings = context.config["embed"]
    encoder = _RunEncoder(str(encoder_dir(context.config)), settings)
    cache = (open_cache(str(cache_file(settings["cache_dir"])), encoder.identity, encoder.dimension)
             if settings["cache"] else None)
    vectors, counts = embed_texts(encoder, posts["text_norm"].tolist(), cache)
    posts[EMBEDDING] = pd.Series(list(vectors), index=posts.index, dtype=object)
    context.count("embed", **counts)
    return posts


class _RunEncoder:
    """The run's encoder, loaded (once per process) only when a text must be embedded: a batch
    whose vectors are all in the cache needs none."""

    def __init__(self, path: str, settings: dict):
        self.path, self.settings = path, settings
        self.identity, self.dimension = encoder_identity(path, settings["backend"], settings["max_tokens"])

    def encode(self, texts: list[str]) -> np.ndarray:
        s = self.settings
        return load_encoder(self.path, s["batch_size"], s["max_tokens"], s["threads"], s["backend"]).encode(texts)


def embed_texts(encoder, texts: list[str], cache: EmbeddingCache | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """The vector of each text, embedding each distinct text once, and only when the cache
    (if any) lacks it; with the counts: texts, distinct texts, cache hits, texts embedded.
    `encoder`: an `Encoder`, or anything with its `dimension` and `encode(texts)`."""
    distinct = list(dict.fromkeys(texts))
    vectors = np.zeros((len(distinct), encoder.dimension), np.float32)
    missing = list(range(len(distinct)))
    if cache is not None and distinct:
        keys = cache.keys(distinct)
        found = cache.get(keys)
        missing = []
        for i, key in enumerate(keys):
            if key in found:
                vectors[i] = found[key]
            else:
                missing.append(i)
    if missing:
        vectors[missing] = encoder.encode([distinct[i] for i in missing])
        if cache is not None:
            cache.put([keys[i] for i in missing], vectors[missing])
    position = {text: i for i, text in enumerate(distinct)}
    counts = {"texts": len(texts), "distinct_texts": len(distinct),
              "cache_hits": len(distinct) - len(missing), "embedded": len(missing)}
    return vectors[[position[text] for text in texts]], counts
