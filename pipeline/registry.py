"""One registry of readers (input formats) and stages, filled by decorators.

A run names its stages in the config (`stages: [normalize, langid]`); `--format NAME`
names a reader. Built-in readers and stages register themselves when their modules are
imported, which `load_builtins` does once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pandas as pd
import pyarrow as pa

READERS: dict[str, "Reader"] = {}
STAGES: dict[str, "Stage"] = {}

_BUILTIN_MODULES = (
    "pipeline.ingest.tabular",
    # "pipeline.ingest.x_archive",
    # "pipeline.ingest.telegram",
    # "pipeline.ingest.mastodon",
    # "pipeline.ingest.bluesky",
    "pipeline.normalize",
    "pipeline.langid",
)


@dataclass(frozen=True)
class Reader:
    """An input format: `detect` looks at a file's first bytes, `read` yields RawRecords."""

    name: str
    description: str
    detect: Callable  # (Sample) -> bool
    read: Callable  # (path, ReadOptions) -> Iterator[RawRecord]
    priority: int = 50  # lower is tried first; generic readers come last


@dataclass(frozen=True)
class Stage:
    """A batch function `run(df, context) -> df` that adds the columns in `adds`."""

    name: str
    run: Callable[[pd.DataFrame, "object"], pd.DataFrame]
    adds: tuple[pa.Field, ...] = field(default_factory=tuple)
    version: str = "1"


def register_reader(name: str, description: str, detect: Callable, priority: int = 50):
    def decorator(read: Callable[..., Iterator]):
        READERS[name] = Reader(name, description, detect, read, priority)
        return read

    return decorator


def register_stage(name: str, adds: tuple[pa.Field, ...], version: str = "1"):
    def decorator(run: Callable[[pd.DataFrame, object], pd.DataFrame]):
        STAGES[name] = Stage(name, run, tuple(adds), version)
        return run

    return decorator


def readers_by_priority() -> list[Reader]:
    return sorted(READERS.values(), key=lambda r: r.priority)


def load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


load_builtins()
