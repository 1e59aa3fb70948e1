"""The canonical posts schema, declared once, and the checks run at stage boundaries.

Ingest produces `POSTS` columns; each stage declares the columns it adds (`Stage.adds`);
the output schema of a run is `POSTS` plus the additions of its configured stages, in order.
Declaring the whole schema up front (rather than taking it from the first batch) keeps
columns from shifting between batches when one input lacks a field.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from pipeline.errors import UserError

ACTOR_TYPES = ("mfa", "embassy", "head_of_state", "minister", "diplomat", "mission", "other")

POSTS = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        # "native" when the id came from the source, "derived" when it was missing or
        # mangled (e.g. 1.2e+18 after a spreadsheet) and replaced by a content hash.
        pa.field("post_id_origin", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string()),
        pa.field("account_handle", pa.string()),
        pa.field("actor", pa.string()),
        pa.field("actor_type", pa.string()),
        pa.field("country", pa.string()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("text", pa.string(), nullable=False),
        pa.field("lang_declared", pa.string()),
        pa.field("is_reply", pa.bool_(), nullable=False),
        pa.field("is_repost", pa.bool_(), nullable=False),
        pa.field("is_quote", pa.bool_(), nullable=False),
        pa.field("reply_to_id", pa.string()),
        pa.field("reply_to_handle", pa.string()),
        pa.field("repost_of_id", pa.string()),
        pa.field("quote_of_id", pa.string()),
        pa.field("media_type", pa.string()),
        pa.field("url", pa.string()),
        pa.field("likes", pa.int64()),
        pa.field("reposts", pa.int64()),
        pa.field("replies", pa.int64()),
        pa.field("quotes", pa.int64()),
        pa.field("views", pa.int64()),
        pa.field("followers", pa.int64()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
    ]
)

# Columns a reader may fill; the rest are set by ingest itself.
READER_FIELDS = tuple(
    name
    for name in POSTS.names
    if name not in ("post_id_origin", "actor", "actor_type", "country", "source_file", "source_row")
) + ("actor", "actor_type", "country")

COUNT_COLUMNS = ("likes", "reposts", "replies", "quotes", "views", "followers")

QUARANTINE = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
    ]
)


def output_schema(stage_names: list[str]) -> pa.Schema:
    """POSTS plus the columns added by the given stages, in run order."""
    from pipeline.registry import stages

    fields = list(POSTS)
    for name in stage_names:
        fields.extend(stages()[name].adds)
    return pa.schema(fields)


def check_columns(df: pd.DataFrame, schema: pa.Schema, where: str) -> None:
    """Fail loudly (internal error) when a stage did not produce the columns it declares."""
    missing = [name for name in schema.names if name not in df.columns]
    if missing:
        raise RuntimeError(f"after {where}: missing columns {missing}")
    for field in schema:
        if not field.nullable and df[field.name].isna().any():
            raise RuntimeError(f"after {where}: null values in non-nullable column {field.name!r}")


def to_arrow(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Convert a batch to Arrow with exactly `schema` (column order and types)."""
    if df.empty:  # its columns may have lost their types (float64 where lists belong)
        return schema.empty_table()
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas()


def check_actor_type(value: str) -> str:
    if value not in ACTOR_TYPES:
        raise UserError(f"actor_type {value!r} is not one of {', '.join(ACTOR_TYPES)}")
    return value
