"""The embedding cache: encoder vectors already computed, on disk, so that a re-run of an
archive, a retweet or a copy of a post is not embedded again.

One SQLite file (`embed.cache_dir`, default `$DIPLOLENS_HOME/embedding-cache/vectors.sqlite`)
shared by every run, worker process and Dask worker of this machine: WAL journal (readers
never wait for the writer) and a busy timeout (writers queue). Keys are 16-byte BLAKE2b
digests of the encoder's `identity` (model, backend and its library version, the weights'
sha256, truncation, prefix) and the exact text embedded, so another encoder, other weights
or another `max_tokens` never reads these vectors; values are the float32 vectors as raw
bytes, exactly as computed, so a run gives the same vectors with the cache on or off.

The cache only ever saves time: a file that cannot be opened, read or written (corrupt, on a
read-only disk, locked too long) is reported once per process on stderr and the run goes on
without it. `diplolens models cache` says where it is and how large; `--clear` empties it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
import time
from contextlib import closing
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_DIR = "embedding-cache"
FILE_NAME = "vectors.sqlite"
BUSY_TIMEOUT_MS = 60_000  # concurrent writers wait their turn this long before giving up
OPEN_ATTEMPTS = 5  # opening a new file, which SQLite may report busy without waiting (below)
CHUNK = 500  # keys per SELECT (SQLite limits the number of parameters)


def cache_file(cache_dir: str = "") -> Path:
    """The cache file in `cache_dir` ("" = $DIPLOLENS_HOME/embedding-cache)."""
    from pipeline.models.encoder import diplolens_home

    folder = Path(cache_dir).expanduser() if cache_dir else diplolens_home() / DEFAULT_DIR
    return folder / FILE_NAME


@lru_cache(maxsize=4)
def open_cache(path: str, identity: str, dimension: int) -> "EmbeddingCache":
    """One cache per process, file and encoder (opened on first use)."""
    return EmbeddingCache(Path(path), identity, dimension)


class EmbeddingCache:
    """Vectors of one encoder (`identity`) by text: `keys(texts)`, `get(keys)`, `put(...)`."""

    def __init__(self, path: Path, identity: str, dimension: int):
        self.path = Path(path)
        self.dimension = dimension
        self.usable = True
        self._prefix = hashlib.blake2b(digest_size=16)
        self._prefix.update(identity.encode("utf-8") + b"\0")
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, shared by the threads of a Dask worker

    def keys(self, texts: list[str]) -> list[bytes]:
        keys = []
        for text in texts:
            digest = self._prefix.copy()
            digest.update(text.encode("utf-8", "surrogatepass"))
            keys.append(digest.digest())
        return keys

    def get(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among `keys` (none when the cache is unusable)."""
        found: dict[bytes, np.ndarray] = {}
        size = 4 * self.dimension
        with self._lock:
            try:
                connection = self._connect()
                for start in range(0, len(keys), CHUNK):
                    chunk = keys[start:start + CHUNK]
                    rows = connection.execute(
                        f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                    # A value of the wrong size (a damaged row) is a miss, and is overwritten.
                    found.update((key, np.frombuffer(value, np.float32).copy())
                                 for key, value in rows if len(value) == size)
            except (sqlite3.Error, OSError) as exc:
                self._give_up(exc)
                return {}
        return found

    def put(self, keys: list[bytes], vectors: np.ndarray) -> None:
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, np.float32)
        with self._lock:
            try:
                connection = self._connect()
                with connection:  # one transaction
                    connection.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                                           zip(keys, (row.tobytes() for row in vectors)))
            except (sqlite3.Error, OSError) as exc:
                self._give_up(exc)

    def _connect(self) -> sqlite3.Connection:
        if not self.usable:
            raise sqlite3.OperationalError("unusable")
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for attempt in range(OPEN_ATTEMPTS):
                connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
                try:
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.execute("PRAGMA synchronous = NORMAL")  # WAL: safe against crashes, fewer fsyncs
                    # A rowid table: its 1.5 kB rows fit in the pages (WITHOUT ROWID would spill each
                    # into an overflow page: 4.7 kB a vector on disk instead of 2.1 kB).
                    connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
                    break
                except sqlite3.OperationalError as exc:
                    connection.close()
                    # Processes opening a new file at once (Dask workers starting): switching it to
                    # WAL takes a lock SQLite reports as busy without waiting for it. Try again.
                    if "locked" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                        raise
                    time.sleep(0.05 * (attempt + 1))
                except sqlite3.Error:
                    connection.close()
                    raise
            self._connection = connection
        return self._connection

    def _give_up(self, exc: Exception) -> None:
        if not self.usable:
            return
        self.usable = False
        if self._connection is not None:
            try:
                self._connection.close()
            except sqlite3.Error:
                pass
            self._connection = None
        print(f"diplolens: warning: the embedding cache {self.path} is unusable ({type(exc).__name__}: {exc}); "
              f"running without it (`diplolens models cache --clear` starts a new one)", file=sys.stderr)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def cache_summary(path: Path) -> dict:
    """Where the cache is, how many vectors it holds and its size on disk (with its journal)."""
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    summary = {"path": str(path), "bytes": sum(f.stat().st_size for f in files if f.is_file()), "vectors": 0}
    if path.is_file():
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as connection:
                summary["vectors"] = connection.execute("SELECT count(*) FROM vectors").fetchone()[0]
        except sqlite3.Error as exc:
            summary["vectors"] = None
            summary["error"] = f"{type(exc).__name__}: {exc}"
    return summary


def clear_cache(path: Path) -> int:
    """Delete the cache file and its journal; returns the bytes freed."""
    freed = 0
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.is_file():
            freed += file.stat().st_size
            file.unlink()
    return freed
