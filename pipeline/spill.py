"""Spill: the archive-wide state of a run kept on disk, so that memory stays flat in archive size.

Coordination, bot-likeness activity and duplicate removal see every post of the archive, but
each needs only a bounded part of it at once: the posts of one item or one account, or one
time window. Their per-post records go to files in a private work folder and come back in
that shape:

- `WorkFolder`: a temporary folder (inside the run's `.parts` folder when given, so that a
  fresh or resumed run clears what an interrupted one left), removed by `close()` or, at
  the latest, when its owner is garbage-collected.
- `RecordBuckets`: fixed-size records (a structured NumPy dtype) appended with a bucket
  number each, read back one bucket at a time in the order they came: all the records of
  one key (an item, an account) in one bucket, a 1/`buckets` share of the archive in memory.
- `SortedRuns`: fixed-size records read back sorted by some of their fields (an external
  merge sort): buffered records are sorted and written as runs; `merged` streams all runs
  back in order, a few blocks of each in memory.
- `SpilledStrings`: strings appended in order and read back by position.

Buffers are bounded in bytes; files are read with explicit reads rather than kept mapped, so
that what was read does not stay resident.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Iterator

import numpy as np

BUFFER_BYTES = 16 << 20  # records held before they are written out, per spilled table
MERGE_BYTES = 16 << 20  # read-ahead of `SortedRuns.merged`, over all its runs
MAX_RUNS = 200  # runs merged at once (files open at once)


class WorkFolder:
    """A private temporary folder, under `parent` when given (else the system's)."""

    def __init__(self, parent: str | Path | None = None, prefix: str = "spill-"):
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def close(self) -> None:
        self._finalizer()


class RecordBuckets:
    """Records of `dtype` in `buckets` files: `append(records, bucket)`, then `read(b)`."""

    def __init__(self, folder: Path, name: str, dtype: np.dtype, buckets: int = 64, buffer_bytes: int | None = None):
        self.folder, self.name, self.dtype, self.buckets = Path(folder), name, np.dtype(dtype), buckets
        self._buffer_rows = max(1, (buffer_bytes or BUFFER_BYTES) // self.dtype.itemsize)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_rows = 0
        self.rows = 0

    def path(self, bucket: int) -> Path:
        return self.folder / f"{self.name}-{bucket:04d}.bin"

    def append(self, records: np.ndarray, bucket: np.ndarray) -> None:
        if not len(records):
            return
        self._pending.append((records.astype(self.dtype, copy=False), np.asarray(bucket, dtype=np.int64)))
        self._pending_rows += len(records)
        self.rows += len(records)
        if self._pending_rows >= self._buffer_rows:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        records = np.concatenate([records for records, _ in self._pending])
        bucket = np.concatenate([bucket for _, bucket in self._pending])
        self._pending, self._pending_rows = [], 0
        order = np.argsort(bucket, kind="stable")  # arrival order within a bucket
        records, bucket = records[order], bucket[order]
        bounds = np.searchsorted(bucket, np.arange(self.buckets + 1))
        for number in np.flatnonzero(np.diff(bounds)):
            with open(self.path(number), "ab") as handle:
                records[bounds[number]:bounds[number + 1]].tofile(handle)

    def read(self, bucket: int) -> np.ndarray:
        """Every record appended to `bucket`, in the order they came."""
        self.flush()
        path = self.path(bucket)
        return np.fromfile(path, dtype=self.dtype) if path.is_file() else np.empty(0, dtype=self.dtype)

    def __iter__(self) -> Iterator[np.ndarray]:
        """The buckets that hold records, one at a time."""
        for bucket in range(self.buckets):
            records = self.read(bucket)
            if len(records):
                yield records


class SortedRuns:
    """Records of `dtype` read back sorted by the fields `order` (first field first)."""

    def __init__(self, folder: Path, name: str, dtype: np.dtype, order: tuple[str, ...],
                 buffer_bytes: int | None = None, merge_bytes: int | None = None):
        self.folder, self.name, self.dtype, self.order = Path(folder), name, np.dtype(dtype), tuple(order)
        self._buffer_rows = max(1, (buffer_bytes or BUFFER_BYTES) // self.dtype.itemsize)
        self._merge_bytes = merge_bytes or MERGE_BYTES
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self._runs: list[tuple[Path, int]] = []  # (file, rows)
        self._written = 0
        self.rows = 0

    def append(self, records: np.ndarray) -> None:
        if not len(records):
            return
        self._pending.append(records.astype(self.dtype, copy=False))
        self._pending_rows += len(records)
        self.rows += len(records)
        if self._pending_rows >= self._buffer_rows:
            self._write_run()

    def _sorted(self, records: np.ndarray) -> np.ndarray:
        return records[np.lexsort([records[name] for name in reversed(self.order)])]

    def _write_run(self) -> None:
        if not self._pending:
            return
        records = self._sorted(np.concatenate(self._pending))
        self._pending, self._pending_rows = [], 0
        path = self._run_path()
        records.tofile(path)
        self._runs.append((path, len(records)))

    def merged(self) -> Iterator[np.ndarray]:
        """All records, in order, as consecutive sorted blocks (records with equal keys in no
        particular order). More than `MAX_RUNS` runs are first merged into fewer, so that the
        files open at once stay bounded."""
        self._write_run()
        while len(self._runs) > MAX_RUNS:
            count = min(len(self._runs) - MAX_RUNS + 1, MAX_RUNS)  # as few as will do
            group, self._runs = self._runs[:count], self._runs[count:]
            path = self._run_path()
            with open(path, "wb") as handle:
                for block in self._merge(group):
                    block.tofile(handle)
            for done, _ in group:
                done.unlink()
            self._runs.append((path, sum(rows for _, rows in group)))
        yield from self._merge(self._runs)

    def _run_path(self) -> Path:
        self._written += 1
        return self.folder / f"{self.name}-run{self._written:05d}.bin"

    def _merge(self, runs: list[tuple[Path, int]]) -> Iterator[np.ndarray]:
        """The records of sorted runs, merged. Each run is read a block at a time; a block is
        handed out up to the smallest last key read ahead of any run that has more on disk, so
        every record handed out precedes every record still unread."""
        if not runs:
            return
        block_rows = max(64, self._merge_bytes // (len(runs) * self.dtype.itemsize))
        handles = [open(path, "rb") for path, _ in runs]
        try:
            left = [rows for _, rows in runs]  # rows of each run still on disk
            held = [np.empty(0, dtype=self.dtype) for _ in handles]
            while True:
                for i, handle in enumerate(handles):
                    if left[i] and len(held[i]) < block_rows:
                        block = np.fromfile(handle, dtype=self.dtype, count=min(block_rows, left[i]))
                        left[i] -= len(block)
                        held[i] = np.concatenate([held[i], block]) if len(held[i]) else block
                if not any(len(block) for block in held):
                    return
                # Runs with more on disk bound what can be handed out now.
                bounds = [tuple(block[-1][name] for name in self.order)
                          for block, more in zip(held, left) if more and len(block)]
                bound = min(bounds) if bounds else None
                out = []
                for i, block in enumerate(held):
                    if not len(block):
                        continue
                    take = len(block) if bound is None else int(np.count_nonzero(_at_most(block, bound, self.order)))
                    out.append(block[:take])
                    held[i] = block[take:]
                yield self._sorted(np.concatenate(out))
        finally:
            for handle in handles:
                handle.close()


def _at_most(records: np.ndarray, bound: tuple, order: tuple[str, ...]) -> np.ndarray:
    """Whether each record's key (its `order` fields) is at most `bound`, lexicographically;
    on sorted records, a prefix."""
    below = np.zeros(len(records), dtype=bool)
    equal = np.ones(len(records), dtype=bool)
    for name, value in zip(order, bound):
        below |= equal & (records[name] < value)
        equal &= records[name] == value
    return below | equal


class SpilledStrings:
    """Strings appended in order (`extend`) and read back by position (`take`)."""

    def __init__(self, folder: Path, name: str):
        self._data = Path(folder) / f"{name}.utf8"
        self._ends = Path(folder) / f"{name}.ends"
        self._size = 0
        self.count = 0

    def extend(self, values) -> None:
        encoded = [value.encode("utf-8") for value in values]
        if not encoded:
            return
        ends = self._size + np.cumsum([len(value) for value in encoded], dtype=np.int64)
        with open(self._data, "ab") as handle:
            handle.write(b"".join(encoded))
        with open(self._ends, "ab") as handle:
            ends.tofile(handle)
        self._size = int(ends[-1])
        self.count += len(encoded)

    def take(self, positions: np.ndarray) -> list[str]:
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return []
        ends = np.memmap(self._ends, dtype=np.int64, mode="r")
        stop = np.asarray(ends[positions])
        start = np.where(positions > 0, np.asarray(ends[np.maximum(positions - 1, 0)]), 0)
        del ends
        values = []
        with open(self._data, "rb") as handle:
            for begin, end in zip(start.tolist(), stop.tolist()):
                handle.seek(begin)
                values.append(handle.read(end - begin).decode("utf-8"))
        return values
