"""On-disk cache of remote embeddings, one vector per (endpoint, model, dimensions, text).

Re-running a demo then costs no tokens, and texts seen before still embed when the network
drops mid-talk. Entries live in one SQLite file, ``<cache>/remote/embeddings.sqlite3``: a
``spaces`` table naming each (endpoint, model, dimensions) and a ``vectors`` table of float32
blobs keyed by the space and the SHA-256 of the text. Neither texts nor keys are stored, and
endpoints are stored without user info or query strings.

The cache is bounded. Each vector records its last use (``used``, s since the epoch, refreshed
by a read at most once an hour, like ``relatime``: a refresh rewrites the row and its blob).
After each write the least recently used vectors are deleted until the vector data is within
``EXPLORER_REMOTE_CACHE_MAX_BYTES`` (default 256 MiB); the vectors just written always stay.
SQLite reuses the freed pages, so the file stays about that size instead of shrinking. The
file is created with mode 0600 (SQLite gives its journal the same mode), its folder with 0700.

A broken cache never breaks embedding: read and write errors are logged and treated as misses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import diskcache
from core.errors import ExplorerError
from core.paths import cache_dir

log = logging.getLogger(__name__)

FILENAME = "embeddings.sqlite3"
# SQLite's default cap on bound parameters is 32766; stay far below it per query.
_CHUNK = 500
# A read refreshes a vector's last use only if it is older than this (s).
TOUCH_EVERY_S = 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces (
    space TEXT PRIMARY KEY, endpoint TEXT NOT NULL, model TEXT NOT NULL, dimensions INTEGER
);
CREATE TABLE IF NOT EXISTS vectors (
    space TEXT NOT NULL, text_sha256 TEXT NOT NULL, dims INTEGER NOT NULL, vector BLOB NOT NULL,
    used REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (space, text_sha256)
);
"""
# Covers the eviction queries: SUM(dims) and the oldest rows, without reading any blob.
_INDEX = "CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used, dims)"


@dataclass(frozen=True)
class CacheSpace:
    """Which vectors a text maps to: an endpoint (public URL), a model, and the requested
    ``dimensions`` (None for the model's native length)."""

    endpoint: str
    model: str
    dimensions: int | None = None

    @property
    def key(self) -> str:
        """Stable 32-hex-digit id of this space."""
        blob = json.dumps([self.endpoint, self.model, self.dimensions])
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


def text_hash(text: str) -> str:
    """SHA-256 of ``text`` in UTF-8, as hex: the cache key of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors of texts already embedded by remote models, shared by every process.

    ``root`` defaults to ``<EXPLORER_CACHE_DIR or repo/data/cache>/remote``. ``max_bytes``
    bounds the vector data (default: ``EXPLORER_REMOTE_CACHE_MAX_BYTES`` at each write);
    ``clock`` gives the time in seconds (tests pass their own).
    """

    def __init__(
        self,
        root: Path | None = None,
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = (root or cache_dir() / "remote") / FILENAME
        self.max_bytes = max_bytes
        self.clock = clock

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        diskcache.private_dir(self.path.parent)
        diskcache.private_file(self.path)
        # A connection per call: Streamlit sessions run in threads, and SQLite connections
        # must not cross threads.
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.executescript(_SCHEMA)
            _add_used_column(conn)
            conn.execute(_INDEX)
            with conn:
                yield conn

    def get(self, space: CacheSpace, texts: Sequence[str]) -> list[np.ndarray | None]:
        """The cached float32 vector of each text, or None where there is none."""
        hashes = [text_hash(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        try:
            with self._connect() as conn:
                unique = sorted(set(hashes))
                for start in range(0, len(unique), _CHUNK):
                    part = unique[start : start + _CHUNK]
                    marks = ",".join("?" * len(part))
                    rows = conn.execute(
                        "SELECT text_sha256, dims, vector FROM vectors "
                        f"WHERE space = ? AND text_sha256 IN ({marks})",
                        [space.key, *part],
                    )
                    for digest, dims, blob in rows:
                        vector = np.frombuffer(blob, dtype="<f4")
                        if vector.size == dims:
                            found[digest] = vector.astype(np.float32)
                self._touch(conn, space, sorted(found))
        except (sqlite3.Error, OSError) as exc:
            log.warning("Remote embedding cache %s unreadable, ignoring it: %s", self.path, exc)
            return [None] * len(texts)
        return [found.get(h) for h in hashes]

    def _touch(self, conn: sqlite3.Connection, space: CacheSpace, hashes: list[str]) -> None:
        """Record that the vectors of ``hashes`` were used now (a failure is only logged)."""
        now = self.clock()
        try:
            for start in range(0, len(hashes), _CHUNK):
                part = hashes[start : start + _CHUNK]
                marks = ",".join("?" * len(part))
                conn.execute(
                    "UPDATE vectors SET used = ? "
                    f"WHERE space = ? AND text_sha256 IN ({marks}) AND used < ?",
                    [now, space.key, *part, now - TOUCH_EVERY_S],
                )
        except (sqlite3.Error, OSError) as exc:
            log.debug("Could not record the use of cached vectors in %s: %s", self.path, exc)

    def put(self, space: CacheSpace, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text; ``vectors`` is ``(len(texts), dims)``."""
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ExplorerError(
                f"Cannot cache {vectors.shape} vectors for {len(texts)} texts: "
                "give one row per text."
            )
        now = self.clock()
        rows = [
            (space.key, text_hash(t), int(v.size), np.asarray(v, dtype="<f4").tobytes(), now)
            for t, v in zip(texts, vectors, strict=True)
        ]
        try:
            with self._connect() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO spaces VALUES (?, ?, ?, ?)",
                    (space.key, space.endpoint, space.model, space.dimensions),
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors (space, text_sha256, dims, vector, used) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                self._evict(conn, before=now)
        except (sqlite3.Error, OSError) as exc:
            log.warning("Could not write the remote embedding cache %s: %s", self.path, exc)

    def _evict(self, conn: sqlite3.Connection, before: float) -> None:
        """Delete the least recently used vectors, all last used before ``before`` (s), until
        the vector data is within the byte limit."""
        limit = self.max_bytes
        if limit is None:
            limit = diskcache.limit_from_env(
                diskcache.REMOTE_MAX_BYTES_ENV, diskcache.DEFAULT_REMOTE_MAX_BYTES
            )
        (dims,) = conn.execute("SELECT COALESCE(SUM(dims), 0) FROM vectors").fetchone()
        excess = 4 * int(dims) - limit  # float32: 4 bytes per dimension
        if excess <= 0:
            return
        doomed: list[tuple[int]] = []
        freed = 0
        cursor = conn.execute(
            "SELECT rowid, dims FROM vectors WHERE used < ? ORDER BY used", (before,)
        )
        for rowid, row_dims in cursor:
            if freed >= excess:
                break
            doomed.append((rowid,))
            freed += 4 * row_dims
        cursor.close()
        conn.executemany("DELETE FROM vectors WHERE rowid = ?", doomed)
        log.info(
            "Evicted %d least recently used vectors (%.1f MB) from %s to stay within %.1f MB",
            len(doomed),
            freed / 1e6,
            self.path,
            limit / 1e6,
        )

    def size(self) -> int:
        """Bytes of vector data in the cache (all spaces)."""
        try:
            with self._connect() as conn:
                (dims,) = conn.execute("SELECT COALESCE(SUM(dims), 0) FROM vectors").fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.warning("Remote embedding cache %s unreadable: %s", self.path, exc)
            return 0
        return 4 * int(dims)

    def count(self, space: CacheSpace) -> int:
        """Number of vectors cached in ``space``."""
        try:
            with self._connect() as conn:
                row = conn.execute(
                    "SELECT COUNT(*) FROM vectors WHERE space = ?", (space.key,)
                ).fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.warning("Remote embedding cache %s unreadable: %s", self.path, exc)
            return 0
        return int(row[0])


def _add_used_column(conn: sqlite3.Connection) -> None:
    """Give a database from before the size bound its ``used`` column (0: oldest)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(vectors)")}
    if "used" in columns:
        return
    try:
        conn.execute("ALTER TABLE vectors ADD COLUMN used REAL NOT NULL DEFAULT 0")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):  # else another process added it first
            raise
