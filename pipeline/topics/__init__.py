"""Topics: the issue categories each post is about (multi-label, the study's taxonomy).

The model of the run's profile (`models.topics`, else the shipped default) scores every
label; `topics` lists the labels at or above their threshold and `topic_scores` holds every
label's score, rescaled so that 0.5 is the label's threshold (comparable across labels).
Training data, mappings and the taxonomy file: `pipeline.topics.corpus`, `corpora/`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.models import load, score_posts, topic_model_name
from pipeline.registry import register_stage


@register_stage(
    "topics",
    adds=(
        pa.field("topics", pa.list_(pa.string())),
        pa.field("topic_scores", pa.map_(pa.string(), pa.float32())),
    ),
)
def topics(posts: pd.DataFrame, context) -> pd.DataFrame:
    model = load(topic_model_name(context.config, context.profile))
    scores = score_posts(model, posts)
    labels = list(model.classes_)
    posts["topics"] = pd.Series([[labels[j] for j in np.flatnonzero(row >= 0.5)] for row in scores],
                                index=posts.index, dtype=object)
    posts["topic_scores"] = pd.Series([list(zip(labels, row.round(4).tolist())) for row in scores],
                                      index=posts.index, dtype=object)
    return posts
