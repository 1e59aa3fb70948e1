"""Ingest: input files of any registered format -> batches of canonical posts.

Entry point: `ingest_batches(paths, config, accounts)`. Each file's format is detected from
its content (or forced by `ingest.format`); rows stream in batches of `batch_size`; rows
that cannot be read or typed go to quarantine with a reason; repeated (platform, post_id)
pairs are dropped and counted.
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from pipeline.errors import UserError
from pipeline.ingest.accounts import AccountsRegistry
from pipeline.ingest.canonical import CanonicalBatch, to_canonical
from pipeline.ingest.records import RawRecord, ReadOptions
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

    Keeps one 64-bit hash per native id seen (about 70 bytes per post in a Python set);
    derived ids (missing or spreadsheet-mangled) never count as duplicates.
    """

    def __init__(self):
        self.seen: set[int] = set()

    def drop_duplicates(self, posts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
        native = posts["post_id_origin"].eq("native")
        keys = pd.util.hash_pandas_object(posts[["platform", "post_id"]], index=False).to_numpy()
        duplicate = []
        for key, is_native in zip(keys.tolist(), native.tolist()):
            if not is_native:
                duplicate.append(False)
            elif key in self.seen:
                duplicate.append(True)
            else:
                self.seen.add(key)
                duplicate.append(False)
        mask = pd.Series(duplicate, index=posts.index, dtype=bool)  # bool even when empty
        return posts[~mask].reset_index(drop=True), int(mask.sum())


def ingest_batches(files: list[InputFile], config: dict, accounts: AccountsRegistry | None = None) -> Iterator[IngestBatch]:
    options = read_options(config)
    deduplicator = Deduplicator()
    for source in files:
        if source.reader is None:
            continue
        records = source.reader.read(source.path, options, source.sample)
        for batch in canonical_batches(source, records, config, options):
            posts, batch.duplicates = deduplicator.drop_duplicates(batch.posts)
            batch.posts = accounts.attach(posts) if accounts is not None else posts
            yield batch


def read_options(config: dict) -> ReadOptions:
    settings = config["ingest"]
    return ReadOptions(column_map=dict(settings["column_map"]), default_platform=settings["default_platform"],
                       max_field_chars=settings["max_field_chars"])


def canonical_batches(source: InputFile, records: Iterator[RawRecord], config: dict,
                      options: ReadOptions) -> Iterator[IngestBatch]:
    """A file's records in batches of `batch_size`, typed into canonical posts (duplicates kept)."""
    for chunk in _chunks(records, config["batch_size"]):
        batch = to_canonical(chunk, str(source.path), source.reader.name, options.default_platform,
                             options.max_field_chars, config["ingest"]["dayfirst"])
        yield IngestBatch(posts=batch.posts, quarantine=batch.quarantine, mangled_ids=batch.mangled_ids,
                          warnings=batch.warnings, source=source, rows_read=len(chunk))


def _chunks(records: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    chunk: list[RawRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

