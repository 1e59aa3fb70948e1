"""The local runner: stream input files through the configured stages into the output tables.

Batches flow ingest -> stages (in config order, in this process or in `workers` processes)
-> numbered parts in OUT/.parts, with the schema checked at every stage boundary and a
checkpoint after every batch; per-account metrics and the risk stage's archive-wide evidence
accumulate alongside. At the end the parts are assembled into posts.parquet and
quarantine.parquet and the metrics tables are written. Memory depends on the batch size and
the number of accounts, not on the archive size; a run interrupted at any point resumes
from its last complete part (`resume=True`) with the same tables as an uninterrupted one.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import multiprocessing
import os
import platform
import signal
import sys
import time
from collections import defaultdict, deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pipeline import __version__, schema
from pipeline.dictionary import declared_table, write_data_dictionary
from pipeline.errors import UserError
from pipeline.ingest import AccountsRegistry, IngestBatch, InputFile, ingest_batches, plan_inputs, sha256_of
from pipeline.metrics import (AccountMetrics, activity_trends, actor_table, check_index_settings, check_period,
                              composite_index, rank_sensitivity, with_specialization)
from pipeline.models import load, resolve_profile, topic_model_name
from pipeline.outputs import RunParts, write_json, write_table
from pipeline.registry import stages
from pipeline.risk import CARRIED_COLUMNS, RISK_COLUMNS, RiskAccumulator
from pipeline.schema import to_arrow

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "corpora" / "sample"
SAMPLE_POSTS = SAMPLE_DIR / "world_leaders_sample.csv"
SAMPLE_ACCOUNTS = SAMPLE_DIR / "accounts.csv"


@dataclass
class StageContext:
    """What a stage may read besides its batch: the run's configuration and the model
    profile it resolved to (`accurate` or `fast`); and where it counts what it did
    (`count`), summed over the batches into the manifest's `stage_counts`."""

    config: dict
    profile: str = "fast"
    counts: dict = field(default_factory=dict)

    def count(self, stage: str, **numbers: int) -> None:
        add_counts(self.counts, {stage: numbers})


def add_counts(totals: dict, counts: dict) -> None:
    """Add stage counts (`{stage: {name: number}}`) into `totals`."""
    for stage, numbers in counts.items():
        into = totals.setdefault(stage, {})
        for name, number in numbers.items():
            into[name] = into.get(name, 0) + number


def run(inputs: list[str], out_dir: str | Path, config: dict, accounts_path: str | Path | None = None,
        progress: bool | None = None, command: list[str] | None = None, resume: bool = False,
        workers: int = 1, engine=None) -> dict:
    """Run the pipeline; returns the manifest (also written to OUT/manifest.json).

    `resume`: continue the interrupted run in `out_dir` from its last complete part (same
    inputs and configuration), or start afresh when it has none. `workers`: processes that run
    the stages (1: this one); the tables are the same for any number. `engine`: None (this
    machine), or a `pipeline.dask_engine.DaskEngine` that runs the stages on a Dask cluster
    instead (ingest, duplicates, checkpoints, resume and the archive-wide metrics stay here);
    same tables.
    """
    started = time.perf_counter()
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    return_freed_memory()
    if not inputs:
        if not SAMPLE_POSTS.is_file():
            raise UserError(f"the embedded sample archive is missing ({SAMPLE_POSTS}); give INPUT files")
        inputs = [str(SAMPLE_POSTS)]
        accounts_path = accounts_path or SAMPLE_ACCOUNTS
    files = plan_inputs(inputs, config["ingest"]["format"])
    accounts = AccountsRegistry.from_csv(accounts_path) if accounts_path else None
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror or exc}")
    context = StageContext(config, resolve_profile(config))
    models_used = _models_used(config, context.profile)  # a missing model stops the run before any work
    check_period(config["metrics"]["period"])
    check_index_settings(config["index"])
    pseudonymizer = _pseudonymizer(config, accounts, out)

    manifest = _started_manifest(files, accounts_path, config, context.profile, command, workers)
    # In the fingerprint too: parts pseudonymized with another salt must not be resumed into.
    manifest["pseudonymized"] = {"salt_fingerprint": pseudonymizer.fingerprint} if pseudonymizer else False
    fingerprint = _fingerprint(manifest)
    parts = RunParts(out)
    checkpoint = _resume_point(parts, fingerprint, out) if resume else None
    if checkpoint is None:
        _discard_earlier_outputs(out)
        parts.start()
    else:
        parts.keep_complete(checkpoint["batches"])
        manifest["resumed_after_batches"] = checkpoint["batches"]
    counts = RunCounts.from_checkpoint(checkpoint, len(files))
    write_json(manifest, out / "manifest.json")

    timings: dict[str, float] = defaultdict(float)
    stage_counts: dict[str, dict] = {}
    try:
        with _progress_display(progress, files) as display:
            accumulators = process_batches(files, config, accounts, context, parts, counts, fingerprint,
                                           workers, display, timings, pseudonymizer, engine, stage_counts)
        outputs, accounts_table = finish_run(out, parts, counts.batches, accumulators, config, timings)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        manifest.update(status="interrupted" if interrupted else "failed", stopped_at=_now(),
                        complete_batches=counts.batches)
        if not interrupted:
            manifest["error"] = f"{type(exc).__name__}: {exc}"
        write_json(manifest, out / "manifest.json")
        raise

    totals = counts.totals()
    elapsed = time.perf_counter() - started
    for entry, file_counts in zip(manifest["inputs"], counts.of_read_files(files)):
        entry.update(file_counts)
    manifest.update(
        status="complete",
        finished_at=_now(),
        counts=totals,
        outputs=outputs,
        warnings=_warnings(counts.mangled_ids, accounts_table, files),
        models=models_used,
        engine=engine.description if engine is not None else {"name": "local"},
        timings_seconds={**{k: round(v, 3) for k, v in timings.items()}, "total": round(elapsed, 3)},
        stage_counts=stage_counts,
        posts_per_second=round(totals["rows_read"] / elapsed, 1) if elapsed else None,
    )
    write_json(manifest, out / "manifest.json")
    parts.remove()
    return manifest


def process_batches(files: list[InputFile], config: dict, accounts: AccountsRegistry | None,
                    context: StageContext, parts: RunParts, counts: "RunCounts", fingerprint: dict,
                    workers: int, display, timings: dict, pseudonymizer=None, engine=None,
                    stage_counts: dict | None = None) -> "Accumulators":
    """Stream every batch through the stages into numbered parts, checkpointing after each;
    returns the accumulators the final tables are computed from. What the stages count
    (`StageContext.count`) is summed into `stage_counts` over the batches enriched here.

    The batches `counts` already holds (a resumed run) are ingested again, since duplicate
    detection spans the whole archive, but not enriched: their complete parts are replayed
    through the accumulators instead. With an `engine` (Dask), it enriches the batches instead
    of `enrich_batches` and writes their posts parts."""
    accumulators = Accumulators(config, parts.folder)
    batches = _timed(ingest_batches(files, config, accounts, parts.folder), timings, "ingest")
    if pseudonymizer is not None:
        # Before any stage, so no table, part or error log ever holds the original handles.
        batches = (replace(batch, posts=pseudonymizer.posts(batch.posts),
                           quarantine=pseudonymizer.quarantine(batch.quarantine)) for batch in batches)
    file_index = {id(f): i for i, f in enumerate(files)}
    replayed = RunCounts.from_checkpoint(None, len(files))
    tick = time.perf_counter()
    for number in range(counts.batches):
        batch = next(batches, None)
        if batch is None:
            break
        posts = parts.read("posts", number)
        replayed.add(file_index[id(batch.source)], batch, posts.num_rows)
        accumulators.update(posts.to_pandas(maps_as_pydicts="strict"), timings)
        display.advance(batch, posts.num_rows)
    if replayed != counts:
        raise UserError(f"cannot resume in {parts.folder.parent}: the inputs read differently than in the "
                        f"interrupted run; run without --resume to start afresh")
    if counts.batches:
        timings["resume_replay"] = time.perf_counter() - tick

    compression = config["outputs"]["compression"]
    # closing: a failure here stops the worker processes now, not when the traceback is freed.
    if engine is not None:
        enriched = engine.enrich_batches(batches, context, parts, counts.batches)
    else:
        enriched = enrich_batches(batches, context, workers)
    stage_counts = {} if stage_counts is None else stage_counts
    with closing(enriched):
        for batch, posts, stage_timings, batch_counts in enriched:
            for name, seconds in stage_timings.items():
                timings[name] += seconds
            add_counts(stage_counts, batch_counts)
            tick = time.perf_counter()
            number = counts.batches
            counts.add(file_index[id(batch.source)], batch, posts.num_rows)
            tables = {"quarantine": to_arrow(batch.quarantine, schema.QUARANTINE)}
            if engine is None:  # the Dask engine's workers write the posts parts themselves
                tables["posts"] = without_carried(posts)
            parts.write(number, tables, {**fingerprint, **counts.checkpoint()}, compression)
            timings["write"] += time.perf_counter() - tick
            # The accumulators read the posts as the parts hold them (plus the carried columns,
            # which they can compute themselves), so a resumed run, which replays the parts,
            # accumulates exactly the same values.
            accumulators.update(posts.to_pandas(maps_as_pydicts="strict"), timings)
            display.advance(batch, posts.num_rows)
    return accumulators


def enrich_batch(posts: pd.DataFrame, context: StageContext) -> tuple[pa.Table, dict[str, float], dict]:
    """One ingested batch through the configured stages, with the schema checked at every stage
    boundary; returns it as rows of posts.parquet (plus the risk stage's `CARRIED_COLUMNS`, not
    written), the seconds each stage took and what the stages counted."""
    stage_names = context.config["stages"]
    context = replace(context, counts={})  # this batch's counts only
    timings = {}
    schema.check_columns(posts, schema.POSTS, "ingest")
    for i, name in enumerate(stage_names):
        tick = time.perf_counter()
        posts = stages()[name].run(posts, context)
        timings[name] = time.perf_counter() - tick
        schema.check_columns(posts, schema.output_schema(stage_names[: i + 1]), name)
    tick = time.perf_counter()
    table = to_arrow(posts, schema.output_schema(stage_names)).replace_schema_metadata(None)
    for name, kind in CARRIED_COLUMNS.items():
        if name in posts.columns:
            table = table.append_column(name, pa.array(posts[name].to_numpy(dtype=object), type=kind))
    timings["write"] = time.perf_counter() - tick
    return table, timings, context.counts


def without_carried(posts: pa.Table) -> pa.Table:
    """The enriched posts as posts.parquet holds them: without the risk stage's carried columns."""
    return posts.drop_columns([name for name in CARRIED_COLUMNS if name in posts.column_names])


def enrich_batches(batches: Iterator[IngestBatch], context: StageContext,
                   workers: int = 1) -> Iterator[tuple[IngestBatch, pa.Table, dict[str, float], dict]]:
    """Each batch with its enriched posts, stage seconds and counts (`enrich_batch`), in input order. With several
    workers, the stages run in that many processes, each loading the models once; at most two
    batches per worker are in flight, so memory stays that of a few batches."""
    if workers == 1:
        for batch in batches:
            yield batch, *enrich_batch(batch.posts, context)
        return
    # spawn, not fork: a forked copy of a process that already runs threads (lingua's, torch's)
    # can deadlock, and this process loads no model for the workers to share anyway.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(context, workers))
    try:
        for batch, future in submitted_in_order(batches, lambda batch: pool.submit(_enrich_in_worker, batch.posts),
                                                2 * workers):
            yield batch, *future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def submitted_in_order(batches: Iterator[IngestBatch], submit, limit: int) -> Iterator[tuple[IngestBatch, object]]:
    """Each batch with its future (`submit(batch)`), in input order, keeping at most `limit`
    submitted ahead of the one handed out, so memory stays that of a few batches. Futures not
    handed out are cancelled when the caller stops early."""
    in_flight: deque = deque()
    try:
        for batch in batches:
            in_flight.append((batch, submit(batch)))
            if len(in_flight) >= limit:
                yield in_flight.popleft()
        while in_flight:
            yield in_flight.popleft()
    finally:
        for _, future in in_flight:
            future.cancel()


_WORKER_CONTEXT: StageContext | None = None


def _start_worker(context: StageContext, workers: int) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context
    # Ctrl-C is for the main process: it stops the pool and marks the manifest interrupted.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # lingua (rayon) and torch (OpenMP) use every core by default: share the cores out.
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for variable in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(variable, threads)


def _enrich_in_worker(posts: pd.DataFrame) -> tuple[pa.Table, dict[str, float], dict]:
    return enrich_batch(posts, _WORKER_CONTEXT)


# What the archive pass reads of each post to flag it and count the flags per account and period.
ARCHIVE_FLAG_INPUTS = ["platform", "post_id", "account_handle", "account_id", "created_at", *RISK_COLUMNS]


def finish_run(out: Path, parts: RunParts, batches: int, accumulators: "Accumulators", config: dict,
               timings: dict) -> tuple[dict[str, int], pd.DataFrame]:
    """The final tables from the complete parts and the accumulators: posts.parquet (assembled
    from the parts in the same pass that adds the risk stage's archive-wide flags),
    quarantine.parquet, coordination_edges and the metrics tables. Returns each file's row
    count, and the accounts table."""
    compression = config["outputs"]["compression"]
    posts_schema = schema.output_schema(config["stages"])
    metrics, by_period, risk = accumulators.metrics, accumulators.by_period, accumulators.risk
    tick = time.perf_counter()
    outputs = {}
    flag_and_count = None
    if risk is not None:
        outcome = risk.finish()
        risk_schema = pa.schema([posts_schema.field(name) for name in RISK_COLUMNS])

        def flag_and_count(part: pa.Table) -> pa.Table:
            # Only the columns the flags read and write go through pandas: text, topics and
            # the rest are copied as Arrow (this pass runs alone, after the stages, on every post).
            flagged = outcome.apply_to_posts(part.select(ARCHIVE_FLAG_INPUTS).to_pandas(maps_as_pydicts="strict"))
            for accumulator in filter(None, (metrics, by_period)):
                accumulator.count_risk_flags(flagged)
            written = to_arrow(flagged, risk_schema)
            for name in RISK_COLUMNS:
                part = part.set_column(part.schema.get_field_index(name), posts_schema.field(name), written[name])
            return part

    outputs["posts.parquet"] = parts.assemble("posts", batches, out / "posts.parquet", posts_schema,
                                              compression, flag_and_count)
    outputs["quarantine.parquet"] = parts.assemble("quarantine", batches, out / "quarantine.parquet",
                                                   schema.QUARANTINE, compression)
    timings["write"] += time.perf_counter() - tick
    tick = time.perf_counter()
    if risk is not None:
        accounts_table = outcome.apply_to_accounts(metrics.account_table())
        write_table(outcome.edges, out / "coordination_edges.parquet", compression)
        outputs["coordination_edges.parquet"] = len(outcome.edges)
        timings["risk_archive"] += time.perf_counter() - tick
        tick = time.perf_counter()
    else:
        accounts_table = metrics.account_table()
    outputs.update(_write_metrics(accounts_table, by_period, config, out, compression))
    timings["metrics"] += time.perf_counter() - tick
    outputs["data_dictionary.md"] = write_data_dictionary(out, list(outputs), config)  # its count: columns described
    return outputs, accounts_table


class Accumulators:
    """What the final tables are computed from, gathered batch by batch: per-account metrics
    (overall and per period) and the risk stage's archive-wide evidence. They read only the
    enriched posts, so a resumed run rebuilds them by replaying the complete parts."""

    def __init__(self, config: dict, work_dir: Path | None = None):
        settings = config["metrics"]
        period = check_period(settings["period"])
        self.metrics = AccountMetrics(settings["min_language_share"])
        # The same measures per calendar period: state keyed by (account, period).
        self.by_period = AccountMetrics(settings["min_language_share"], period) if period else None
        # The risk evidence spills its per-post records under `work_dir` (the run's parts folder).
        self.risk = RiskAccumulator(config["risk"], work_dir) if "risk" in config["stages"] else None

    def update(self, posts: pd.DataFrame, timings: dict) -> None:
        tick = time.perf_counter()
        self.metrics.update(posts)
        if self.by_period is not None:
            self.by_period.update(posts)
        timings["metrics"] += time.perf_counter() - tick
        if self.risk is not None:
            tick = time.perf_counter()
            self.risk.update(posts)
            timings["risk_archive"] += time.perf_counter() - tick


COUNTED = ("rows_read", "posts_written", "quarantined", "duplicates")


@dataclass
class RunCounts:
    """Batches done and rows counted per input file (by position in the planned file list: a
    path may be given twice); saved in every checkpoint."""

    batches: int
    per_file: list[dict]
    mangled_ids: int = 0

    @classmethod
    def from_checkpoint(cls, checkpoint: dict | None, files: int) -> "RunCounts":
        if checkpoint is None:
            return cls(0, [dict.fromkeys(COUNTED, 0) for _ in range(files)])
        return cls(checkpoint["batches"], checkpoint["per_file"], checkpoint["mangled_ids"])

    def add(self, file: int, batch: IngestBatch, written: int) -> None:
        entry = self.per_file[file]
        entry["rows_read"] += batch.rows_read
        entry["posts_written"] += written
        entry["quarantined"] += len(batch.quarantine)
        entry["duplicates"] += batch.duplicates
        self.mangled_ids += batch.mangled_ids
        self.batches += 1

    def checkpoint(self) -> dict:
        return {"batches": self.batches, "per_file": self.per_file, "mangled_ids": self.mangled_ids}

    def totals(self) -> dict:
        totals = {key: sum(entry[key] for entry in self.per_file) for key in COUNTED}
        totals["balanced"] = totals["rows_read"] == totals["posts_written"] + totals["quarantined"] + totals["duplicates"]
        return totals

    def of_read_files(self, files: list[InputFile]) -> list[dict]:
        return [entry for entry, f in zip(self.per_file, files) if f.reader is not None]


def _started_manifest(files: list[InputFile], accounts_path, config: dict, profile: str,
                      command: list[str] | None, workers: int) -> dict:
    """The manifest as written when a run starts: what it reads and how, `"status": "running"`."""
    return {
        "tool": "diplolens",
        "status": "running",
        "started_at": _now(),
        "command": command,
        "workers": workers,
        "inputs": [{"path": str(f.path), "format": f.reader.name, "bytes": f.path.stat().st_size,
                    "sha256": sha256_of(f.path)} for f in files if f.reader is not None],
        "skipped_files": [{"path": str(f.path), "reason": f.skip_reason}
                          for f in files if f.reader is None],
        "accounts_registry": ({"path": str(accounts_path), "sha256": sha256_of(Path(accounts_path))}
                              if accounts_path else None),
        "config": config,
        "profile": profile,
        "versions": _versions(config["stages"]),
    }


def _fingerprint(manifest: dict) -> dict:
    """What a resumed run must share with the interrupted one for their parts to mix."""
    settings = json.dumps([manifest["config"], manifest["profile"], manifest["versions"], manifest["pseudonymized"]],
                          sort_keys=True, default=str)
    return {"config_sha256": hashlib.sha256(settings.encode("utf-8")).hexdigest(),
            "inputs": [{"path": entry["path"], "sha256": entry["sha256"]} for entry in manifest["inputs"]],
            "accounts_registry": manifest["accounts_registry"]}


def _resume_point(parts: RunParts, fingerprint: dict, out: Path) -> dict | None:
    """The checkpoint to resume from, None (with a notice) when there is none; a UserError when
    the inputs or the configuration are not those of the interrupted run."""
    checkpoint = parts.checkpoint()
    if checkpoint is None:
        print(f"diplolens: nothing to resume in {out} (no checkpoint): starting a fresh run", file=sys.stderr)
        return None
    advice = "run without --resume to start afresh"
    if checkpoint["config_sha256"] != fingerprint["config_sha256"]:
        raise UserError(f"cannot resume in {out}: the configuration (or the models' versions) differs from the "
                        f"interrupted run's; {advice}")
    if checkpoint["inputs"] != fingerprint["inputs"]:
        before = {(e["path"], e["sha256"]) for e in checkpoint["inputs"]}
        now = {(e["path"], e["sha256"]) for e in fingerprint["inputs"]}
        changed = sorted({path for path, _ in before ^ now})
        raise UserError(f"cannot resume in {out}: the inputs differ from the interrupted run's "
                        f"({', '.join(changed) or 'their order'}); {advice}")
    if checkpoint["accounts_registry"] != fingerprint["accounts_registry"]:
        raise UserError(f"cannot resume in {out}: the accounts registry differs from the interrupted run's; {advice}")
    print(f"diplolens: resuming in {out} after {checkpoint['batches']:,} complete batches", file=sys.stderr)
    return checkpoint


def _discard_earlier_outputs(out: Path) -> None:
    """A fresh run removes the tables an earlier run left in OUT, so none can pass for its own."""
    try:
        earlier = json.loads((out / "manifest.json").read_text("utf-8")).get("outputs") or {}
    except (OSError, ValueError, AttributeError):
        earlier = {}
    for name in {*earlier, "posts.parquet", "quarantine.parquet"}:
        if Path(name).name == name:  # a file of OUT, never a path elsewhere
            (out / name).unlink(missing_ok=True)


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
LARGE_BLOCK_BYTES = 256 << 10


def return_freed_memory() -> bool:
    """Make this process's C allocator hand freed memory back to the system (glibc only; returns
    whether it did; elsewhere it changes nothing).

    This process streams millions of short-lived NumPy, pandas and Arrow buffers through the
    batches. By default glibc raises its mmap and trim thresholds each time it frees a large
    mapped block (up to 32 MiB), so later large buffers land in the heap, between small
    long-lived objects, and their freed space stays resident (~100 MiB of free heap in the main
    process after 100 k posts). Fixed thresholds keep blocks of `LARGE_BLOCK_BYTES` and more in
    mappings of their own, unmapped when freed (main-process peak, --workers 2: 100 k posts 584 ->
    505 MiB, 1 M posts 635 -> 517 MiB, same speed). Only this process: applied to the workers
    as well (they allocate far more), a 1 M-post run was 24 % slower."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this interpreter runs on
    except (OSError, TypeError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 4 * LARGE_BLOCK_BYTES))


def _timed(iterator: Iterator, timings: dict, name: str) -> Iterator:
    """The items of `iterator`, adding the time spent producing each to timings[name]."""
    while True:
        tick = time.perf_counter()
        item = next(iterator, None)
        timings[name] += time.perf_counter() - tick
        if item is None:
            return
        yield item


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _pseudonymizer(config: dict, accounts: AccountsRegistry | None, out: Path):
    if not config["privacy"]["pseudonymize"]:
        return None
    from pipeline.privacy import Pseudonymizer, load_salt

    official = set(accounts.table["handle"]) if accounts is not None else set()
    return Pseudonymizer(load_salt(config["privacy"]["salt_file"], out), official)


def _write_metrics(accounts_table, by_period: AccountMetrics | None, config: dict, out: Path,
                   compression: str) -> dict[str, int]:
    """accounts, actors (with the composite index), the index's sensitivity and, with a period,
    the period tables; returns the row count of each file."""
    from pipeline.topics.corpus import load_taxonomy

    settings = config["metrics"]
    specialization = dict(n_categories=len(load_taxonomy()), min_share=settings["category_min_share"],
                          political=settings["political_categories"])
    tables = {}
    if by_period is not None:
        period_accounts = with_specialization(by_period.account_table(), **specialization)
        accounts_table = accounts_table.merge(activity_trends(period_accounts, by_period.period),
                                              on=["platform", "account_handle"], how="left")
        tables["accounts_by_period.parquet"] = period_accounts
        tables["actors_by_period.parquet"] = composite_index(
            with_specialization(actor_table(period_accounts), **specialization), config["index"])
    else:
        accounts_table = accounts_table.assign(activity_trend=float("nan"))  # needs --period
    actors = composite_index(with_specialization(actor_table(accounts_table), **specialization), config["index"])
    tables["accounts.parquet"] = with_specialization(accounts_table, **specialization)
    tables["actors.parquet"] = actors
    tables["index_sensitivity.parquet"] = rank_sensitivity(actors, config["index"])
    for name, table in tables.items():
        write_table(declared_table(table, name), out / name, compression)
    return {name: len(table) for name, table in tables.items()}


def _warnings(mangled_ids: int, accounts_table, files) -> list[str]:
    warnings = []
    if mangled_ids:
        warnings.append(
            f"{mangled_ids} post ids looked mangled by a spreadsheet (e.g. 1.2e+18) and were replaced by "
            f"content-derived ids (post_id_origin = 'derived'); they are never treated as duplicates")
    no_actor = accounts_table[accounts_table["actor"].isna()]
    if len(no_actor):
        warnings.append(
            f"{len(no_actor)} accounts ({int(no_actor['posts'].sum())} posts) have no actor and are left out "
            f"of actors.parquet: add them to an accounts registry (--accounts)")
    return warnings


def _versions(stage_names: list[str]) -> dict:
    def version_of(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "diplolens": __version__,
        "python": platform.python_version(),
        **{name: version_of(name) for name in ("pandas", "pyarrow", "lingua-language-detector", "emoji")},
        "stages": {name: stages()[name].version for name in stage_names},
    }


def _models_used(config: dict, profile: str) -> dict:
    """Each model the run used, with the version and training date from its folder."""
    used = {}
    if "topics" in config["stages"]:
        model = load(topic_model_name(config, profile))
        used["topics"] = {key: model.metadata_.get(key) for key in ("name", "version", "trained_at", "features")}
    if profile == "accurate" and "embed" in config["stages"]:
        from pipeline.models.encoder import ENCODER_NAME, encoder_dir
        used["encoder"] = {"name": ENCODER_NAME, "path": str(encoder_dir(config)),
                           "backend": config["embed"]["backend"]}
    return used


class _progress_display:
    """A rich progress bar (files by size, posts, posts/s) on a terminal; silent otherwise."""

    def __init__(self, enabled: bool | None, files):
        console = Console(stderr=True)
        if enabled is None:
            enabled = console.is_terminal and not os.environ.get("CI")
        self.enabled = enabled
        self.total_bytes = sum(f.path.stat().st_size for f in files if f.reader is not None) or 1
        self.posts = 0
        self.done_bytes = 0
        self.current: str | None = None
        self.started = time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[posts]:,} posts"),
            TextColumn("{task.fields[rate]:,.0f} posts/s"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, disable=not enabled, transient=False,
        )

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task("ingest", total=self.total_bytes, posts=0, rate=0.0)
        return self

    def advance(self, batch: IngestBatch, written: int) -> None:
        path = str(batch.source.path)
        if self.current not in (None, path):
            self.done_bytes += Path(self.current).stat().st_size
        self.current = path
        self.posts += written
        rate = self.posts / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, completed=self.done_bytes, posts=self.posts, rate=rate,
                             description=Path(path).name[:40])

    def __exit__(self, *exc):
        if exc[0] is None:
            self.progress.update(self.task, completed=self.total_bytes, description="done")
        return self.progress.__exit__(*exc)

