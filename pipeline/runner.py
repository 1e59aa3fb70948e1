"""The local runner: stream input files through the configured stages into the output tables.

Batches flow ingest -> stages (in config order) -> posts.parquet, with the schema checked at
every stage boundary; per-account metrics accumulate alongside. Memory depends on the batch
size and the number of accounts, not on the archive size.
"""

from __future__ import annotations

import os
import platform
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pipeline import __version__, schema
from pipeline.errors import UserError
from pipeline.ingest import AccountsRegistry, IngestBatch, ingest_batches, plan_inputs, sha256_of
from pipeline.metrics import (AccountMetrics, activity_trends, actor_table, check_index_settings, check_period,
                              composite_index, rank_sensitivity, with_specialization)
from pipeline.models import load, resolve_profile, topic_model_name
from pipeline.outputs import TableWriter, rewrite_table, write_json, write_table
from pipeline.registry import stages
from pipeline.risk import RiskAccumulator

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "corpora" / "sample"
SAMPLE_POSTS = SAMPLE_DIR / "world_leaders_sample.csv"
SAMPLE_ACCOUNTS = SAMPLE_DIR / "accounts.csv"


@dataclass
class StageContext:
    """What a stage may read besides its batch: the run's configuration and the model
    profile it resolved to (`accurate` or `fast`)."""

    config: dict
    profile: str = "fast"


def run(inputs: list[str], out_dir: str | Path, config: dict, accounts_path: str | Path | None = None,
        progress: bool | None = None, command: list[str] | None = None) -> dict:
    """Run the pipeline; returns the manifest (also written to OUT/manifest.json)."""
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc)
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
    (out / "manifest.json").unlink(missing_ok=True)  # a stale manifest must not vouch for new tables

    posts_schema = schema.output_schema(config["stages"])
    stage_names = config["stages"]
    stage_functions = {name: stages()[name].run for name in stage_names}
    stage_schemas = [(name, schema.output_schema(stage_names[: i + 1])) for i, name in enumerate(stage_names)]
    compression = config["outputs"]["compression"]
    posts_writer = TableWriter(out / "posts.parquet", posts_schema, compression)
    quarantine_writer = TableWriter(out / "quarantine.parquet", schema.QUARANTINE, compression)
    context = StageContext(config, resolve_profile(config))
    models_used = _models_used(config, context.profile)  # a missing model stops the run before any work
    settings = config["metrics"]
    period = check_period(settings["period"])
    check_index_settings(config["index"])
    metrics = AccountMetrics(settings["min_language_share"])
    # The same measures per calendar period: state keyed by (account, period).
    by_period = AccountMetrics(settings["min_language_share"], period) if period else None
    risk = RiskAccumulator(config["risk"]) if "risk" in stage_names else None
    pseudonymizer = _pseudonymizer(config, accounts, out)
    timings: dict[str, float] = defaultdict(float)
    per_file: dict[int, dict] = {}  # by id() of the InputFile: a path may be given twice
    mangled_ids = 0

    with _progress_display(progress, files) as display:
        try:
            batches = ingest_batches(files, config, accounts)
            while True:
                tick = time.perf_counter()
                batch = next(batches, None)
                timings["ingest"] += time.perf_counter() - tick
                if batch is None:
                    break
                posts, quarantine = batch.posts, batch.quarantine
                if pseudonymizer is not None:
                    posts, quarantine = pseudonymizer.posts(posts), pseudonymizer.quarantine(quarantine)
                schema.check_columns(posts, schema.POSTS, "ingest")
                for name, expected in stage_schemas:
                    tick = time.perf_counter()
                    posts = stage_functions[name](posts, context)
                    timings[name] += time.perf_counter() - tick
                    schema.check_columns(posts, expected, name)
                tick = time.perf_counter()
                metrics.update(posts)
                if by_period is not None:
                    by_period.update(posts)
                timings["metrics"] += time.perf_counter() - tick
                if risk is not None:
                    tick = time.perf_counter()
                    risk.update(posts)
                    timings["risk_archive"] += time.perf_counter() - tick
                tick = time.perf_counter()
                posts_writer.write(posts)
                quarantine_writer.write(quarantine)
                timings["write"] += time.perf_counter() - tick
                _count(per_file, batch, len(posts))
                mangled_ids += batch.mangled_ids
                display.advance(batch, len(posts))
        except BaseException:
            posts_writer.abort()
            quarantine_writer.abort()
            raise
        posts_writer.close()
        quarantine_writer.close()

    tick = time.perf_counter()
    outputs = {}
    if risk is not None:
        # Archive-wide flags: a second streaming pass adds them to the posts already written,
        # and the risk summaries count every flag there.
        outcome = risk.finish()

        def flag_and_count(batch):
            batch = outcome.apply_to_posts(batch)
            for accumulator in filter(None, (metrics, by_period)):
                accumulator.count_risk_flags(batch)
            return batch

        rewrite_table(out / "posts.parquet", posts_schema, flag_and_count, compression)
        accounts_table = outcome.apply_to_accounts(metrics.account_table())
        write_table(outcome.edges, out / "coordination_edges.parquet", compression)
        outputs["coordination_edges.parquet"] = len(outcome.edges)
        timings["risk_archive"] += time.perf_counter() - tick
        tick = time.perf_counter()
    else:
        accounts_table = metrics.account_table()
    outputs.update(_write_metrics(accounts_table, by_period, config, out, compression))
    timings["metrics"] += time.perf_counter() - tick

    totals = {key: sum(f[key] for f in per_file.values())
              for key in ("rows_read", "posts_written", "quarantined", "duplicates")}
    totals["balanced"] = totals["rows_read"] == totals["posts_written"] + totals["quarantined"] + totals["duplicates"]
    elapsed = time.perf_counter() - started
    manifest = {
        "tool": "diplolens",
        "status": "complete",
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "command": command,
        "inputs": [_input_entry(f, per_file) for f in files if f.reader is not None],
        "skipped_files": [{"path": str(f.path), "reason": f.skip_reason}
                          for f in files if f.reader is None],
        "accounts_registry": ({"path": str(accounts_path), "sha256": sha256_of(Path(accounts_path))}
                              if accounts_path else None),
        "counts": totals,
        "outputs": {
            "posts.parquet": posts_writer.rows,
            "quarantine.parquet": quarantine_writer.rows,
            **outputs,
        },
        "warnings": _warnings(mangled_ids, accounts_table, files),
        "config": config,
        "profile": context.profile,
        "pseudonymized": ({"salt_fingerprint": pseudonymizer.fingerprint} if pseudonymizer else False),
        "versions": _versions(config["stages"]),
        "models": models_used,
        "timings_seconds": {**{k: round(v, 3) for k, v in timings.items()}, "total": round(elapsed, 3)},
        "posts_per_second": round(totals["rows_read"] / elapsed, 1) if elapsed else None,
    }
    write_json(manifest, out / "manifest.json")
    return manifest


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
        write_table(table, out / name, compression)
    return {name: len(table) for name, table in tables.items()}


def _count(per_file: dict, batch: IngestBatch, written: int) -> None:
    entry = per_file.setdefault(id(batch.source), dict.fromkeys(
        ("rows_read", "posts_written", "quarantined", "duplicates"), 0))
    entry["rows_read"] += batch.rows_read
    entry["posts_written"] += written
    entry["quarantined"] += len(batch.quarantine)
    entry["duplicates"] += batch.duplicates


def _input_entry(source, per_file: dict) -> dict:
    counts = per_file.get(id(source), dict.fromkeys(("rows_read", "posts_written", "quarantined", "duplicates"), 0))
    return {"path": str(source.path), "format": source.reader.name, "bytes": source.path.stat().st_size,
            "sha256": sha256_of(source.path), **counts}


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
        used["encoder"] = {"name": ENCODER_NAME, "path": str(encoder_dir(config))}
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

