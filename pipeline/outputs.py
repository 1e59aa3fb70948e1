"""Outputs: the tables of a run, written so that a half-written file never looks complete.

Each table streams into `NAME.parquet.partial` and is renamed to `NAME.parquet` only when
closed; `manifest.json` is written last, so its presence (with `"status": "complete"`)
says the run finished.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schema import to_arrow

PARTIAL_SUFFIX = ".partial"


class TableWriter:
    """Append batches (one row group each) to a Parquet file with a fixed schema."""

    def __init__(self, path: Path, schema: pa.Schema, compression: str = "zstd"):
        self.path = path
        self.partial = path.with_name(path.name + PARTIAL_SUFFIX)
        self.schema = schema
        self.rows = 0
        self._writer = pq.ParquetWriter(self.partial, schema, compression=compression)

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame):
            self._writer.write_table(to_arrow(frame, self.schema))
            self.rows += len(frame)

    def close(self) -> None:
        self._writer.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        self._writer.close()
        self.partial.unlink(missing_ok=True)


def rewrite_table(path: Path, schema: pa.Schema, transform, compression: str = "zstd") -> int:
    """Pass a written table through `transform(batch) -> batch`, one row group at a time
    (memory stays that of one batch), replacing the file only when the pass is complete."""
    source = pq.ParquetFile(path)
    rewritten = path.with_name(path.name + ".rewrite")
    writer = TableWriter(rewritten, schema, compression)
    try:
        for group in range(source.num_row_groups):
            writer.write(transform(source.read_row_group(group).to_pandas(maps_as_pydicts="strict")))
    except BaseException:
        writer.abort()
        raise
    writer.close()
    os.replace(rewritten, path)
    return writer.rows


def write_table(frame: pd.DataFrame, path: Path, compression: str = "zstd") -> None:
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    frame.to_parquet(partial, index=False, compression=compression)
    os.replace(partial, path)


def write_json(data: dict, path: Path) -> None:
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(partial, path)
