"""Embed: one multilingual e5 vector per post, read by every text head of the accurate profile.

The vectors stay in the batch (column `embedding`, one float32 array per post) and are not
written to posts.parquet (384 floats a post would outweigh everything else). In the fast
profile this stage does nothing and the heads read the text instead.
"""

from __future__ import annotations

import pandas as pd

from pipeline.models.encoder import ENCODER_NAME, encoder_dir, load_encoder
from pipeline.registry import register_stage

EMBEDDING = "embedding"


@register_stage("embed", adds=(), version=ENCODER_NAME)
def embed(posts: pd.DataFrame, context) -> pd.DataFrame:
    if context.profile != "accurate":
        return posts
    settings = context.config["embed"]
    encoder = load_encoder(str(encoder_dir(context.config)), settings["batch_size"], settings["max_tokens"],
                           settings["threads"])
    posts[EMBEDDING] = pd.Series(list(encoder.encode(posts["text_norm"].tolist())), index=posts.index, dtype=object)
    return posts
