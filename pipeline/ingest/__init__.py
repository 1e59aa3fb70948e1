"""Ingest: input files of any registered format -> batches of canonical posts.

Entry point: `ingest_batches(paths, config, accounts)`. Each file's format is detected from
its content (or forced by `ingest.format`); rows stream in batches of `batch_size`; rows
that cannot be read or typed go to quarantine with a reason; repeated (platform, post_id)
pairs are dropped and counted.
"""

from __future__ import annotations

import glob
import hashlib
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.errors import UserError
from pipeline.ingest.accounts import AccountsRegistry
from pipeline.ingest.canonical import CanonicalBatch, to_canonical
from pipeline.ingest.records import DAMAGED_STREAM, InputTooLarge, RawRecord, ReadOptions
from pipeline.ingest.sniff import Sample, sniff
from pipeline.registry import Reader, readers, readers_by_priority


@dataclass
class InputFile:
    path: Path
    reader: Reader | None  # None: found inside a folder but not a posts format (skipped)
    sample: Sample
    explicit: bool  # named by the user (not found by walking a folder)
    skip_reason: str | None = None  # why a file found in a folder is not read


# Files found by walking a folder are read only with one of these suffixes: data sets come
# with README, SOURCE.md and licence files that must not be taken for CSV exports.
DATA_SUFFIXES = {".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".js", ".parquet", ".zip"}
COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz"}


@dataclass
class IngestBatch(CanonicalBatch):
    source: InputFile | None = None
    rows_read: int = 0
    duplicates: int = 0


def expand_inputs(inputs: list[str]) -> list[tuple[Path, bool]]:
    """Files, folders (walked recursively) and globs -> (file, named explicitly) pairs."""
    files: list[tuple[Path, bool]] = []
    for item in inputs:
        path = Path(item)
        if path.is_file():
            files.append((path, True))
        elif path.is_dir():
            files.extend((p, False) for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        else:
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise UserError(f"input not found: {item}")
            files.extend((Path(m), True) for m in matches if Path(m).is_file())
    return files


def detect_reader(sample: Sample, forced: str = "auto") -> Reader | None:
    if forced != "auto":
        return readers()[forced]
    for reader in readers_by_priority():
        if reader.detect(sample):
            return reader
    return None


def plan_inputs(inputs: list[str], forced_format: str = "auto") -> list[InputFile]:
    planned = []
    for path, explicit in expand_inputs(inputs):
        if not explicit and _data_suffix(path) not in DATA_SUFFIXES:
            planned.append(InputFile(path, None, Sample(path, "not read"), explicit,
                                     f"not a data file ({_data_suffix(path) or 'no suffix'})"))
            continue
        try:
            sample = sniff(path)
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror or exc}")
        reader = detect_reader(sample, forced_format)
        if reader is None and explicit and sample.container == "zip":
            raise UserError(f"{path}: a zip that is not an X archive; extract it and give its files "
                            f"(gzip, bz2 and xz files are read as they are)")
        if reader is None and explicit and sample.container != "empty":
            raise UserError(
                f"{path}: unknown format ({sample.container}); choose one with --format "
                f"({', '.join(readers())})")
        skip_reason = None if reader else f"not a posts format ({sample.container})"
        planned.append(InputFile(path, reader, sample, explicit, skip_reason))
    return planned


def _data_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Deduplicator:
    """Drops repeated (platform, post_id) pairs across the whole run.

    Keeps one 64-bit hash per native id seen (pandas' hash of the pair; the odds that two of
    n distinct posts share one, and the later is wrongly dropped, are about n^2 / 2^65: one in
    370,000 at 10 M posts) in an SQLite table on disk, so that memory stays flat in the
    archive's size: each batch's keys are looked up with one query and the new ones added in
    the same transaction. The table lives in a private folder inside `work_dir` (the run's
    parts folder; None: the system's temporary folder), removed by `close`. Derived ids
    (missing or spreadsheet-mangled) never count as duplicates.
    """

    def __init__(self, work_dir: str | Path | None = None):
        from pipeline.spill import WorkFolder

        self._folder = WorkFolder(work_dir, prefix="duplicates-")
        # Scratch that a resumed run rebuilds: no journal, no waiting for the disk.
        self._db = sqlite3.connect(self._folder.path / "seen.sqlite", isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = MEMORY"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (key INTEGER PRIMARY KEY)")
        self._db.execute("CREATE TEMP TABLE batch (key INTEGER PRIMARY KEY)")

    def drop_duplicates(self, posts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
        native = np.flatnonzero(posts["post_id_origin"].eq("native").to_numpy(dtype=bool))
        keys = pd.util.hash_pandas_object(posts[["platform", "post_id"]], index=False).to_numpy()
        duplicate = np.zeros(len(posts), dtype=bool)
        if len(native):
            unique, first = np.unique(keys[native].view(np.int64), return_index=True)
            duplicate[native] = True  # every repeat within the batch ...
            duplicate[native[first]] = self._seen_before(unique)  # ... and first ones seen in earlier batches
        mask = pd.Series(duplicate, index=posts.index, dtype=bool)  # bool even when empty
        return posts[~mask].reset_index(drop=True), int(mask.sum())

    def _seen_before(self, keys: np.ndarray) -> np.ndarray:
        """Whether each of these distinct keys was seen before; all of them are seen from now on."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO batch VALUES (?)", zip(keys.tolist()))
            found = np.fromiter((key for (key,) in self._db.execute("SELECT key FROM batch JOIN seen USING (key)")),
                                dtype=np.int64)
            self._db.execute("INSERT OR IGNORE INTO seen SELECT key FROM batch")
            self._db.execute("DELETE FROM batch")
        return np.isin(keys, found)

    def close(self) -> None:
        self._db.close()
        self._folder.close()


def ingest_batches(files: list[InputFile], config: dict, accounts: AccountsRegistry | None = None,
                   work_dir: str | Path | None = None) -> Iterator[IngestBatch]:
    """The batches of every readable file, in order, duplicates dropped (`Deduplicator`, whose
    table goes in `work_dir`)."""
    settings = config["ingest"]
    options = ReadOptions(
        column_map=dict(settings["column_map"]),
        default_platform=settings["default_platform"],
        max_field_chars=settings["max_field_chars"],
        max_decompressed_bytes=settings["max_decompressed_bytes"],
    )
    batch_size = config["batch_size"]
    deduplicator = Deduplicator(work_dir)
    try:
        for source in files:
            if source.reader is None:
                continue
            records = _until_unreadable(source.reader.read(source.path, options, source.sample), source.path)
            for chunk in _chunks(records, batch_size):
                batch = to_canonical(chunk, str(source.path), source.reader.name, options.default_platform,
                                     options.max_field_chars, settings["dayfirst"])
                posts, duplicates = deduplicator.drop_duplicates(batch.posts)
                if accounts is not None:
                    posts = accounts.attach(posts)
                yield IngestBatch(posts=posts, quarantine=batch.quarantine, mangled_ids=batch.mangled_ids,
                                  warnings=batch.warnings, source=source, rows_read=len(chunk),
                                  duplicates=duplicates)
    finally:
        deduplicator.close()


def _until_unreadable(records: Iterator[RawRecord], path: Path) -> Iterator[RawRecord]:
    """The file's records until its bytes cannot be read any further (a cut or corrupt
    compressed stream, a damaged Parquet file, a zip bomb); then one quarantine row says so,
    and the run goes on with the next file."""
    row = 0
    try:
        for record in records:
            row = record.source_row
            yield record
    except InputTooLarge as exc:
        yield RawRecord(row + 1, f"<{path.name} from row {row + 1} on>", error=f"refused: {exc}")
    except (*DAMAGED_STREAM, zipfile.BadZipFile, pa.ArrowException) as exc:
        yield RawRecord(row + 1, f"<{path.name} from row {row + 1} on>",
                        error=f"file unreadable from here on ({type(exc).__name__}: {exc})")


def _chunks(records: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    chunk: list[RawRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

