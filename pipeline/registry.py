"""One registry of readers (input formats) and stages, filled by decorators.

A run names its stages in the config (`stages: [normalize, langid]`); `--format NAME`
names a reader. Built-in readers and stages register themselves when their modules are
imported; `readers()` and `stages()` import them on first use (not at import time, so a
built-in module can import this one without a cycle).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pandas as pd
import pyarrow as pa

_READERS: dict[str, "Reader"] = {}
_STAGES: dict[str, "Stage"] = {}

_BUILTIN_MODULES = (
    "pipeline.ingest.tabular",
    "pipeline.ingest.x_archive",
    "pipeline.ingest.telegram",
    "pipeline.ingest.mastodon",
    "pipeline.ingest.bluesky",
    "pipeline.normalize",
    "pipeline.langid",
    "pipeline.embed",
    "pipeline.topics",
    "pipeline.risk",
)


@dataclass(frozen=True)
class Reader:
    """An input format: `detect` looks at a file's first bytes, `read` yields RawRecords."""

    name: str
    description: str
    detect: Callable  # (Sample) -> bool
    read: Callable  # (path, ReadOptions, Sample) -> Iterator[RawRecord]
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
        _READERS[name] = Reader(name, description, detect, read, priority)
        return read

    return decorator


def register_stage(name: str, adds: tuple[pa.Field, ...], version: str = "1"):
    def decorator(run: Callable[[pd.DataFrame, object], pd.DataFrame]):
        _STAGES[name] = Stage(name, run, tuple(adds), version)
        return run

    return decorator


def readers() -> dict[str, Reader]:
    _load_builtins()
    return _READERS


def stages() -> dict[str, Stage]:
    _load_builtins()
    return _STAGES


def readers_by_priority() -> list[Reader]:
    return sorted(readers().values(), key=lambda r: r.priority)


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)  # cached by Python after the first time
