"""The Dask engine: the local runner's stage functions, run on the workers of a Dask cluster.

`diplolens run --engine dask [--scheduler ADDRESS] [--dask-workers N]`: without an address, a
`LocalCluster` of N single-threaded worker processes (default: one per core).

Work is split into partitions: a Parquet file into slices of `PARTITION_BATCHES` batches (only
the row groups of a slice are read), any other format one partition per file (its reader
streams from the start). A worker reads its partition, maps it to canonical posts batch by
batch exactly as the local ingest does, attaches the accounts registry and runs the configured
stages (`pipeline.runner.enrich`; models load once per worker process and stay cached). The
client takes the enriched batches back in input order and hands them to `pipeline.runner.run`,
which does everything archive-wide as it does for the local engine: duplicate removal (the
first occurrence in input order wins), account metrics, the risk archive pass (coordination
across all partitions), the tables and the manifest. So the outputs are the local engine's.

At most `IN_FLIGHT_PER_WORKER` partitions per worker are submitted ahead of the one the client
reads, so memory stays a few partitions whatever the archive's size. Every worker must be
able to read the input paths as the client names them, and run this version of diplolens.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict, deque
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Iterator

from pipeline.errors import UserError
from pipeline.ingest import AccountsRegistry, Deduplicator, IngestBatch, InputFile, canonical_batches, read_options
from pipeline.ingest.tabular import read_parquet_rows

PARTITION_BATCHES = 4  # batches per Parquet slice: enough work per task to hide its overhead
IN_FLIGHT_PER_WORKER = 2  # partitions queued per worker while the client reads the oldest


@dataclass(frozen=True)
class Partition:
    file: int  # position in the run's list of input files
    start: int = 0  # rows of a Parquet slice, 0-based, stop excluded; None: the whole file
    stop: int | None = None


def plan_partitions(files: list[InputFile], batch_size: int) -> list[Partition]:
    """Slices start at multiples of `batch_size`, so the batches are the local engine's."""
    import pyarrow.parquet as pq

    partitions = []
    for index, source in enumerate(files):
        if source.reader is None:
            continue
        if source.reader.name != "parquet":
            partitions.append(Partition(index))
            continue
        rows = pq.ParquetFile(source.path).metadata.num_rows
        step = PARTITION_BATCHES * batch_size
        partitions.extend(Partition(index, start, min(start + step, rows)) for start in range(0, max(rows, 1), step))
    return partitions


def enrich_partition(source: InputFile, partition: Partition, accounts: AccountsRegistry | None,
                     context) -> tuple[list[IngestBatch], dict[str, float]]:
    """On a worker: one partition's batches, canonical and through the stages (duplicates kept:
    only the client sees the whole input), and the seconds spent per stage."""
    from pipeline.runner import enrich

    timings: dict[str, float] = defaultdict(float)
    options = read_options(context.config)
    if partition.stop is None:
        records = source.reader.read(source.path, options, source.sample)
    else:
        records = read_parquet_rows(source.path, options, partition.start, partition.stop)
    batches = []
    canonical = canonical_batches(source, records, context.config, options)
    while True:
        tick = time.perf_counter()
        batch = next(canonical, None)
        if batch is not None and accounts is not None:
            batch.posts = accounts.attach(batch.posts)
        timings["ingest"] += time.perf_counter() - tick
        if batch is None:
            return batches, dict(timings)
        batch.posts = enrich(batch.posts, context, timings)
        batch.source = None  # the client puts back its own InputFile (counts are kept by identity)
        batches.append(batch)


class DaskEngine:
    """An engine for `pipeline.runner.run`: yields the enriched batches in input order."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None, connect_timeout: str = "10s"):
        if workers is not None and workers < 1:
            raise UserError(f"--dask-workers must be at least 1, not {workers}")
        self.scheduler = scheduler
        self.workers = workers
        self.connect_timeout = connect_timeout
        self.description = {"name": "dask", "scheduler": scheduler or "LocalCluster"}

    def __call__(self, files: list[InputFile], config: dict, accounts: AccountsRegistry | None, context,
                 timings: dict[str, float]) -> Iterator[IngestBatch]:
        partitions = plan_partitions(files, config["batch_size"])
        deduplicator = Deduplicator()
        with ExitStack() as stack:
            client = self._connect(stack)
            workers = sum(client.nthreads().values())
            self.description.update(workers=workers, partitions=len(partitions))
            shared = client.scatter(accounts, broadcast=True) if accounts is not None else None
            pending = deque()
            queue = iter(partitions)
            while True:
                while len(pending) < IN_FLIGHT_PER_WORKER * workers and (partition := next(queue, None)):
                    # pure=False: a slice named twice (a path given twice) is still read twice.
                    pending.append((partition, client.submit(enrich_partition, files[partition.file], partition,
                                                             shared, context, pure=False)))
                if not pending:
                    return
                partition, future = pending.popleft()
                batches, worker_seconds = future.result()
                future.release()
                for stage, seconds in worker_seconds.items():
                    timings[stage] += seconds
                for batch in batches:
                    tick = time.perf_counter()
                    batch.posts, batch.duplicates = deduplicator.drop_duplicates(batch.posts)
                    batch.source = files[partition.file]
                    timings["ingest"] += time.perf_counter() - tick
                    yield batch

    def _connect(self, stack: ExitStack):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UserError("--engine dask needs Dask: pip install 'diplolens[dask]'")
        if self.scheduler:
            try:
                return stack.enter_context(Client(self.scheduler, timeout=self.connect_timeout))
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise UserError(f"cannot connect to the Dask scheduler at {self.scheduler!r}: {exc}")
        cluster = stack.enter_context(LocalCluster(
            n_workers=self.workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
            dashboard_address=":0", silence_logs=logging.CRITICAL))  # errors reach the user as one line
        return stack.enter_context(Client(cluster))
