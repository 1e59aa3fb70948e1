"""The Dask engine: the runner's stages, run on the workers of a Dask cluster.

`diplolens run --engine dask [--scheduler ADDRESS] [--workers N]`: without an address, a
`LocalCluster` of N single-threaded worker processes (default: one per core).

Only the enrichment moves: the client ingests the inputs (duplicate removal across the whole
archive, the accounts registry, `--pseudonymize`) exactly as the local runner does, submits
each batch's posts to the cluster (`pipeline.runner.enrich_batch`; models load once per worker
process and stay cached) and takes the enriched batches back in input order. Everything else
is the local runner's: numbered parts and checkpoints (so `--resume` works with either
engine), account metrics, the risk archive pass (coordination across all batches), the tables
and the manifest. So the outputs are the local engine's.

At most `IN_FLIGHT_PER_WORKER` batches per worker are submitted ahead of the one the client
waits for, so memory stays a few batches whatever the archive's size. Every worker must run
this version of diplolens; it needs no access to the input files.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from typing import Iterator

import pyarrow as pa

from pipeline.errors import UserError
from pipeline.ingest import IngestBatch

IN_FLIGHT_PER_WORKER = 2  # batches queued per worker while the client waits for the oldest


class DaskEngine:
    """Enriches the runner's batches on a Dask cluster: `enrich_batches` is the cluster's
    `pipeline.runner.enrich_batches`."""

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

    def enrich_batches(self, batches: Iterator[IngestBatch], context
                       ) -> Iterator[tuple[IngestBatch, pa.Table, dict[str, float], dict]]:
        """Each batch with its enriched posts, stage seconds and stage counts, in input order."""
        from pipeline.runner import enrich_batch, submitted_in_order

        with ExitStack() as stack:
            client = self._connect(stack)
            workers = sum(client.nthreads().values())
            self.description.update(workers=workers, tasks=0)
            shared = client.scatter(context, broadcast=True)

            def submit(batch: IngestBatch):
                self.description["tasks"] += 1
                # pure=False: equal posts in two batches are still two tasks.
                return client.submit(enrich_batch, batch.posts, shared, pure=False)

            for batch, future in submitted_in_order(batches, submit, IN_FLIGHT_PER_WORKER * workers):
                table, timings, counts = future.result()
                future.release()
                yield batch, table, timings, counts

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
