"""The Dask engine: the runner's stages as `dask.dataframe.map_partitions` over Parquet batches.

`diplolens run --engine dask [--scheduler ADDRESS] [--workers N]`: without an address, a
`LocalCluster` of N single-threaded worker processes (default: one per core).

The client ingests the inputs exactly as the local runner does (readers, quarantine, duplicate
removal across the whole archive, the accounts registry, `--pseudonymize`) and stages each
canonical batch as a Parquet file, `OUT/.parts/staging/posts-NNNNNN.parquet`. The enrichment is
`dask.dataframe.read_parquet` over the staged files, one partition per batch, then
`.map_partitions` of the local engine's stage code (`pipeline.runner.enrich_batch`; models load
once per worker process and stay cached). Each task writes its batch's numbered posts part
itself and returns one small row (part number, rows, seconds per stage), so enriched posts
never travel through the scheduler.

Everything archive-wide stays the local runner's: the client writes each batch's quarantine part
and checkpoint in part order and feeds the posts part, read back, to the same accumulators, so
account and actor metrics and the risk stage's archive pass (coordination, bursts, bots) are
computed across all partitions, not per partition. The tables are the local engine's, and
`--resume` works with either engine (a run stopped on one resumes on the other).

Partitions go to the cluster in waves of `PARTITIONS_PER_WORKER` per worker; the client ingests
and stages the next wave while the cluster runs the last, so memory and staging space stay a few
batches whatever the archive's size. A staged file is deleted once its part is written, the
staging folder when the run ends; a resumed run discards the staging of the interrupted one.

The workers need this version of diplolens and the output folder on a filesystem they share
with the client, mounted at the same path: they read the staged batches and write the parts
there. They need no access to the input files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import schema
from pipeline.errors import UserError
from pipeline.ingest import IngestBatch
from pipeline.outputs import RunParts, write_table
from pipeline.runner import StageContext, enrich_batch, without_carried

# Waves, not the whole archive staged before the cluster starts: the staging would be a second
# copy of the archive on disk, and the workers would idle until ingest ends.
PARTITIONS_PER_WORKER = 2  # per wave; the client stages the next wave while this one runs


class DaskEngine:
    """Enriches the runner's batches on a Dask cluster (`enrich_batches`); the runner does the
    rest, as with the local engine."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None, connect_timeout: str = "10s"):
        if workers is not None and workers < 1:
            raise UserError(f"--workers must be at least 1, got {workers}")
        if scheduler and workers is not None:
            raise UserError("--workers with --scheduler: the cluster's workers are the scheduler's; "
                            "give one or the other")
        self.scheduler = scheduler
        self.workers = workers
        self.connect_timeout = connect_timeout
        self.description = {"name": "dask", "scheduler": scheduler or "LocalCluster"}

    def enrich_batches(self, batches: Iterator[IngestBatch], context: StageContext, parts: RunParts,
                       first: int) -> Iterator[tuple[IngestBatch, pa.Table, dict[str, float], dict]]:
        """Each batch, numbered from `first`, with its enriched posts, seconds per stage and stage counts, in
        input order; its posts part is written (by a worker) when it is handed out, so the
        runner writes only the quarantine part and the checkpoint."""
        with ExitStack() as stack:
            client = self._connect(stack)
            workers = sum(client.nthreads().values())
            self.description.update(workers=workers, partitions=0, waves=0)
            wave_size = PARTITIONS_PER_WORKER * max(workers, 1)
            # The workers may run on other machines: they get absolute paths.
            parts = RunParts(parts.folder.parent.absolute())
            parts.staging.mkdir(exist_ok=True)
            numbered = enumerate(batches, first)
            running: deque[_Staged] = deque()  # in part order
            try:
                while wave := list(islice(numbered, wave_size)):
                    running.extend(self._submit(client, wave, parts, context))
                    while len(running) > wave_size:  # the last wave's, while the cluster runs this one
                        yield _finished(running.popleft(), parts)
                while running:
                    yield _finished(running.popleft(), parts)
            finally:
                client.cancel([staged.future for staged in running])
                shutil.rmtree(parts.staging, ignore_errors=True)

    def _submit(self, client, wave: list[tuple[int, IngestBatch]], parts: RunParts,
                context: StageContext) -> list[_Staged]:
        """Stage the wave's batches and start their enrichment, one partition per staged file."""
        import dask.dataframe as dd

        compression = context.config["outputs"]["compression"]
        staged = []
        for number, batch in wave:
            tick = time.perf_counter()
            write_table(schema.to_arrow(batch.posts, schema.POSTS), parts.staged(number), compression)
            # The posts are on disk now: the client keeps only what the counts need.
            staged.append(_Staged(number, replace(batch, posts=batch.posts.iloc[:0]), len(batch.posts),
                                  time.perf_counter() - tick))
        numbers = [s.number for s in staged]
        enriched = dd.read_parquet([str(parts.staged(n)) for n in numbers], split_row_groups=False).map_partitions(
            _enrich_partition, numbers, parts, context, meta=_result_meta(context))
        for s, future in zip(staged, client.compute(enriched.to_delayed()), strict=True):
            s.future = future
        self.description["partitions"] += len(staged)
        self.description["waves"] += 1
        return staged

    def _connect(self, stack: ExitStack):
        try:
            from dask.distributed import Client
        except ImportError:
            raise UserError("--engine dask needs Dask: pip install 'diplolens[dask]'")
        if self.scheduler:
            try:
                return stack.enter_context(Client(self.scheduler, timeout=self.connect_timeout))
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise UserError(f"cannot connect to the Dask scheduler at {self.scheduler!r}: {exc}")
        cluster = stack.enter_context(local_cluster(self.workers or os.cpu_count() or 1))
        return stack.enter_context(Client(cluster))


def local_cluster(workers: int, silence_logs: int = logging.CRITICAL):
    """The `LocalCluster` a run without `--scheduler` starts: `workers` single-threaded worker
    processes (errors reach the user as one line, not as the cluster's log)."""
    from dask.distributed import LocalCluster

    # One core per worker, as with the local engine's workers: Dask's nanny caps OpenMP at
    # one thread, but lingua's rayon pool would start one thread per core in every worker.
    threads = {"RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS", "1")}
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, env=threads,
                        dashboard_address=":0", silence_logs=silence_logs)


@dataclass
class _Staged:
    """A batch handed to the cluster: its part number, what the client keeps of it, the rows
    staged, the seconds staging took, and the future of its enrichment's result row."""

    number: int
    batch: IngestBatch
    rows: int
    seconds: float
    future: object = None


def _finished(staged: _Staged, parts: RunParts) -> tuple[IngestBatch, pa.Table, dict[str, float], dict]:
    """A staged batch, once its posts part is written (a worker's error is raised here), with
    that part read back, the seconds per stage and the stages' counts; its staged file is deleted."""
    result = staged.future.result().iloc[0]
    staged.future.release()
    # Guards the one-partition-per-staged-file assumption (read_parquet may split or merge files).
    if (result["part"], result["rows"]) != (staged.number, staged.rows):
        raise RuntimeError(f"the Dask partition of part {result['part']} ({result['rows']} rows) is not "
                           f"staged batch {staged.number} ({staged.rows} rows)")
    tick = time.perf_counter()
    parts.staged(staged.number).unlink()
    posts = parts.read("posts", staged.number)
    carried = _carried_path(parts, staged.number)
    if carried.is_file():  # the risk stage's signatures: the archive pass need not recompute them
        columns = pq.read_table(carried)
        for name in columns.column_names:
            posts = posts.append_column(name, columns[name])
        carried.unlink()
    timings = {name: float(result[name]) for name in result.index.drop(["part", "rows", "counts"])}
    timings["staging"] = staged.seconds + time.perf_counter() - tick  # what this engine adds
    return staged.batch, posts, timings, json.loads(result["counts"])


def _enrich_partition(posts: pd.DataFrame, numbers: list[int], parts: RunParts, context: StageContext,
                      partition_info: dict | None = None) -> pd.DataFrame:
    """On a worker: one staged batch (a partition of the wave) through the runner's stages into
    its numbered posts part; returns one row: the part number, the rows read and the seconds
    per stage, and the stages' counts (as JSON)."""
    number = numbers[partition_info["number"]]
    table, timings, counts = enrich_batch(_as_ingested(posts), context)
    tick = time.perf_counter()
    written = without_carried(table)
    write_table(written, parts.path("posts", number), context.config["outputs"]["compression"])
    if written.num_columns < table.num_columns:
        write_table(table.select([n for n in table.column_names if n not in written.column_names]),
                    _carried_path(parts, number), context.config["outputs"]["compression"])
    timings["write"] += time.perf_counter() - tick
    return pd.DataFrame([{"part": number, "rows": len(posts), "counts": json.dumps(counts), **timings}])


def _carried_path(parts: RunParts, number: int) -> Path:
    """The columns a batch carries to the archive pass but posts.parquet does not hold."""
    return parts.staging / f"carried-{number:06d}.parquet"


def _result_meta(context: StageContext) -> pd.DataFrame:
    seconds = [*context.config["stages"], "write"]  # enrich_batch's timings
    return pd.DataFrame({"part": pd.Series(dtype="int64"), "rows": pd.Series(dtype="int64"),
                         "counts": pd.Series(dtype=object),
                         **{name: pd.Series(dtype="float64") for name in seconds}})


def _as_ingested(posts: pd.DataFrame) -> pd.DataFrame:
    """A partition with the column types ingest gives the stages: text as Python strings and
    None, as the stages were written and tested against, not pandas' Arrow strings and <NA>."""
    text = [name for name, dtype in posts.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    posts = posts.reset_index(drop=True)
    posts[text] = posts[text].astype(object).where(posts[text].notna(), None)
    return posts
