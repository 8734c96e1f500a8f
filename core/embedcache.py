"""On-disk cache of remote embeddings, one vector per (endpoint, model, dimensions, text).

Re-running a demo then costs no tokens, and texts seen before still embed when the network
drops mid-talk. Entries live in one SQLite file, ``<cache>/remote/embeddings.sqlite3``: a
``spaces`` table naming each (endpoint, model, dimensions) and a ``vectors`` table of float32
blobs keyed by the space and the SHA-256 of the text. Neither texts nor keys are stored, and
endpoints are stored without user info or query strings.

A broken cache never breaks embedding: read and write errors are logged and treated as misses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ExplorerError
from core.paths import cache_dir

log = logging.getLogger(__name__)

FILENAME = "embeddings.sqlite3"
# SQLite's default cap on bound parameters is 32766; stay far below it per query.
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces (
    space TEXT PRIMARY KEY, endpoint TEXT NOT NULL, model TEXT NOT NULL, dimensions INTEGER
);
CREATE TABLE IF NOT EXISTS vectors (
    space TEXT NOT NULL, text_sha256 TEXT NOT NULL, dims INTEGER NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (space, text_sha256)
);
"""


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

    ``root`` defaults to ``<EXPLORER_CACHE_DIR or repo/data/cache>/remote``.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.path = (root or cache_dir() / "remote") / FILENAME

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A connection per call: Streamlit sessions run in threads, and SQLite connections
        # must not cross threads.
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.executescript(_SCHEMA)
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
        except sqlite3.Error as exc:
            log.warning("Remote embedding cache %s unreadable, ignoring it: %s", self.path, exc)
            return [None] * len(texts)
        return [found.get(h) for h in hashes]

    def put(self, space: CacheSpace, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text; ``vectors`` is ``(len(texts), dims)``."""
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ExplorerError(
                f"Cannot cache {vectors.shape} vectors for {len(texts)} texts: "
                "give one row per text."
            )
        rows = [
            (space.key, text_hash(t), int(v.size), np.asarray(v, dtype="<f4").tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        try:
            with self._connect() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO spaces VALUES (?, ?, ?, ?)",
                    (space.key, space.endpoint, space.model, space.dimensions),
                )
                conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            log.warning("Could not write the remote embedding cache %s: %s", self.path, exc)

    def count(self, space: CacheSpace) -> int:
        """Number of vectors cached in ``space``."""
        try:
            with self._connect() as conn:
                row = conn.execute(
                    "SELECT COUNT(*) FROM vectors WHERE space = ?", (space.key,)
                ).fetchone()
        except sqlite3.Error as exc:
            log.warning("Remote embedding cache %s unreadable: %s", self.path, exc)
            return 0
        return int(row[0])
