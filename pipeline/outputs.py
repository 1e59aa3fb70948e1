"""Outputs: the tables of a run, written so that a half-written file never looks complete.

Every file is written to `NAME.partial` in the same folder, flushed to disk and renamed to
`NAME` only when complete (a rename within a folder is atomic), so a killed run or a power
loss leaves either the whole file or none under its final name. `manifest.json` is written
when a run starts (`"status": "running"`) and again when it ends (`"complete"`, or
`"interrupted"` / `"failed"`): only `"complete"` vouches for the tables.

While a run is in progress, posts and quarantined rows go to numbered parts in
`OUT/.parts/`, with a checkpoint that says which parts are complete (`RunParts`); the final
tables are assembled from them at the end, and a run interrupted at any point resumes from
its last complete part. The Dask engine stages its workers' input batches in
`OUT/.parts/staging/`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schema import to_arrow

PARTIAL_SUFFIX = ".partial"
# Rows per row group of the assembled tables (the parts are coalesced up to it). A Parquet
# writer keeps every row group's metadata until it closes the file (about 2 kB per column
# chunk of posts): one row group per 5,000-post part held 200 MiB more at 10 M posts than at
# 1 M. 25,000 rows keep that to about 40 MiB at 10 M posts while as much waits in memory.
ROW_GROUP_ROWS = 25_000
PARTS_FOLDER = ".parts"
CHECKPOINT = "checkpoint.json"
STAGING_FOLDER = "staging"


def streamed_parquet(path: Path) -> pq.ParquetFile:
    """A Parquet file to read batch by batch (`iter_batches`) in memory that stays flat: with
    pyarrow's default `pre_buffer`, the reader keeps every range it has pre-buffered until it is
    closed, about 110 MB per million posts read (measured on the 10 M scale archive)."""
    return pq.ParquetFile(path, pre_buffer=False)


class TableWriter:
    """Append batches (one row group each, up to 1,048,576 rows) to a Parquet file with a fixed schema."""

    def __init__(self, path: Path, schema: pa.Schema, compression: str = "zstd"):
        self.path = path
        self.partial = path.with_name(path.name + PARTIAL_SUFFIX)
        self.schema = schema
        self.rows = 0
        self._writer = pq.ParquetWriter(self.partial, schema, compression=compression)

    def write(self, batch: pd.DataFrame | pa.Table) -> None:
        if len(batch):
            self._writer.write_table(to_arrow(batch, self.schema) if isinstance(batch, pd.DataFrame) else batch)
            self.rows += len(batch)

    def close(self) -> None:
        self._writer.close()
        _commit(self.partial, self.path)

    def abort(self) -> None:
        self._writer.close()
        self.partial.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame | pa.Table, path: Path, compression: str = "zstd") -> None:
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    if isinstance(frame, pa.Table):
        pq.write_table(frame, partial, compression=compression)
    else:
        frame.to_parquet(partial, index=False, compression=compression)
    _commit(partial, path)


def write_json(data: dict, path: Path) -> None:
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    _commit(partial, path)


def _commit(partial: Path, path: Path) -> None:
    """Rename a fully written file into place, durably: its bytes reach the disk before the
    rename, and the rename before we go on (else a power loss can leave an empty file)."""
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class RunParts:
    """The work folder of a run in progress (`OUT/.parts`): one posts part and one quarantine
    part per ingest batch, numbered from 0, and `checkpoint.json`, rewritten after each batch,
    which says how many batches are complete. A part numbered at or above that count is debris
    of an interrupted write and is never read. `staging/` holds the ingested batches the Dask
    engine hands its workers, each until its posts part is written."""

    def __init__(self, out: Path):
        self.folder = out / PARTS_FOLDER

    def path(self, table: str, number: int) -> Path:
        return self.folder / f"{table}-{number:06d}.parquet"

    @property
    def staging(self) -> Path:
        return self.folder / STAGING_FOLDER

    def staged(self, number: int) -> Path:
        """Where the Dask engine stages batch `number`'s ingested posts for its workers."""
        return self.staging / f"posts-{number:06d}.parquet"

    def checkpoint(self) -> dict | None:
        path = self.folder / CHECKPOINT
        return json.loads(path.read_text("utf-8")) if path.is_file() else None

    def start(self) -> None:
        """An empty work folder: parts of an earlier run are discarded."""
        self.remove()
        self.folder.mkdir(parents=True)

    def keep_complete(self, batches: int) -> None:
        """Remove what an interrupted run wrote after its last checkpoint, and the batches it
        staged (the resumed run ingests, and stages, them again)."""
        shutil.rmtree(self.staging, ignore_errors=True)
        for path in self.folder.iterdir():
            if path.name == CHECKPOINT:
                continue
            if path.is_dir():  # spilled archive-wide state (pipeline.spill): rebuilt by the replay
                shutil.rmtree(path, ignore_errors=True)
                continue
            number = path.name.partition(".")[0].rpartition("-")[2]
            if path.name.endswith(PARTIAL_SUFFIX) or not number.isdigit() or int(number) >= batches:
                path.unlink()

    def write(self, number: int, tables: dict[str, pa.Table], checkpoint: dict, compression: str) -> None:
        """Batch `number`'s parts, then the checkpoint that counts them as complete."""
        for name, table in tables.items():
            write_table(table, self.path(name, number), compression)
        write_json(checkpoint, self.folder / CHECKPOINT)

    def read(self, table: str, number: int) -> pa.Table:
        return pq.read_table(self.path(table, number))

    def assemble(self, table: str, batches: int, path: Path, schema: pa.Schema, compression: str,
                 transform=None) -> int:
        """The first `batches` parts of `table`, in order, into one file at `path` (consecutive
        parts coalesced into row groups of at least `ROW_GROUP_ROWS` rows), each passed through
        `transform(part) -> part` (Arrow tables) when given; at most one row group's parts in
        memory at a time. Returns the rows written."""
        writer = TableWriter(path, schema, compression)
        pending, rows = [], 0
        try:
            for number in range(batches):
                part = self.read(table, number)
                if part.num_rows:
                    pending.append(transform(part) if transform else part)
                    rows += part.num_rows
                if rows >= ROW_GROUP_ROWS or number == batches - 1:
                    if pending:
                        writer.write(pa.concat_tables(pending))
                    pending, rows = [], 0
        except BaseException:
            writer.abort()
            raise
        writer.close()
        return writer.rows

    def remove(self) -> None:
        # The checkpoint goes first: a removal cut short by a kill must not leave a checkpoint
        # that promises parts already deleted (a resume then starts afresh instead).
        (self.folder / CHECKPOINT).unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)
