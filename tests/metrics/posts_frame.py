"""Enriched posts as the metrics read them, built from a few hand-copied rows of the archive."""

import pandas as pd


def posts_frame(rows: list[dict]) -> pd.DataFrame:
    """The rows with the columns the accumulators need; counts as nullable integers (a missing
    count is unknown, not zero), reposts and quotes off unless a row says otherwise."""
    frame = pd.DataFrame(rows)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    for name in ("likes", "reposts", "replies", "quotes", "views", "followers"):
        frame[name] = frame.get(name, pd.Series([None] * len(frame))).astype("Int64")
    for name in ("account_id", "actor_type", "country"):
        frame[name] = frame.get(name, None)
    frame["is_repost"] = frame.get("is_repost", False)
    frame["is_quote"] = False
    return frame
