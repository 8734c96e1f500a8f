"""Chroma (``chromadb``), an embedded vector database whose index is HNSW (hnswlib's
algorithm in Chroma's own Rust core), in a ``PersistentClient`` under the cache directory.

chromadb is not part of the default install: with its declared dependencies it adds about
334 MB (kubernetes, onnxruntime …) to this environment, more than the project's ~250 MB
budget for one engine; installed ``--no-deps`` with the packages its embedded client imports
it adds about 91 MB (measured with chromadb 1.5.9, no PyTorch either way). Without it, the
row says so and its settings are still listed.

Chroma's distances: ``cosine`` gives ``1 - cos``, ``ip`` gives ``1 - dot``, ``l2`` the squared
distance; they are turned into similarities and L2 distance. ``ef_search`` is a collection
setting in Chroma, so a search with a new value modifies the collection first.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.engines.base import Engine, EngineInfo, ParamSpec, ParamValue, engines_dir, library
from core.errors import ExplorerError
from core.metrics import Metric

_SPACES = {Metric.COSINE: "cosine", Metric.DOT: "ip", Metric.EUCLIDEAN: "l2"}
COLLECTION = "vectors"
NOT_INSTALLED = (
    "chromadb is not installed: with its dependencies (kubernetes, onnxruntime …) it adds "
    "about 334 MB here, over the ~250 MB budget; installed --no-deps with the packages its "
    "embedded client needs it adds about 91 MB (chromadb 1.5.9, measured)."
)


def chroma_reason() -> str | None:
    """Why Chroma cannot run here, or None."""
    return NOT_INSTALLED if importlib.util.find_spec("chromadb") is None else None


class ChromaEngine(Engine):
    """A Chroma collection holding the vectors (ids ``"0"``, ``"1"`` …), no documents."""

    info = EngineInfo(
        name="chroma",
        algorithm="HNSW",
        library=library("chromadb"),
        where_deployed="Chromadb",
        metrics=tuple(m.value for m in _SPACES),
        build_params=(
            ParamSpec("max_neighbors", 16, 16, 2, 100, "HNSW's M: links per node (Chroma's name)."),
            ParamSpec("ef_construction", 100, 200, 8, 2000, "Candidates kept while inserting."),
        ),
        search_params=(
            ParamSpec(
                "ef_search",
                100,
                50,
                1,
                5000,
                "Candidates kept while searching (a collection setting in Chroma).",
            ),
        ),
        summary="An embedded vector database: HNSW over a collection, persisted to disk.",
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._dir: Path | None = None
        self._cleanup: Callable[[], object] | None = None
        self._client: Any = None
        self._collection: Any = None
        self._ef_search = 0
        # ef_search is a collection setting: one search at a time, each with its own value.
        self._lock = threading.Lock()

    def _build(
        self, vectors: np.ndarray, metric: Metric, chunks: Callable[[], Iterator[slice]]
    ) -> None:
        try:
            chromadb = importlib.import_module("chromadb")
        except ImportError as exc:  # check() said yes, but it broke since
            raise ExplorerError(f"chromadb cannot be imported: {exc}") from exc
        self._dir = Path(tempfile.mkdtemp(prefix="chroma-", dir=engines_dir()))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        settings = chromadb.config.Settings(anonymized_telemetry=False)
        self._client = chromadb.PersistentClient(path=str(self._dir), settings=settings)
        self._ef_search = int(self._params["ef_search"])
        hnsw = {
            "space": _SPACES[metric],
            "max_neighbors": int(self._params["max_neighbors"]),
            "ef_construction": int(self._params["ef_construction"]),
            "ef_search": self._ef_search,
        }
        self._collection = self._client.create_collection(
            COLLECTION, configuration={"hnsw": hnsw}, embedding_function=None
        )
        batch = int(self._client.get_max_batch_size())
        for rows in chunks():
            for lo in range(rows.start, rows.stop, batch):
                hi = min(lo + batch, rows.stop)
                self._collection.add(ids=[str(i) for i in range(lo, hi)], embeddings=vectors[lo:hi])

    def _search(
        self, queries: np.ndarray, k: int, params: dict[str, ParamValue]
    ) -> tuple[np.ndarray, np.ndarray]:
        ef = int(params["ef_search"])
        if ef != self._ef_search:
            self._collection.modify(configuration={"hnsw": {"ef_search": ef}})
            self._ef_search = ef
        found = self._collection.query(query_embeddings=queries, n_results=k, include=["distances"])
        ids = np.array([[int(i) for i in row] for row in found["ids"]], dtype=np.int64)
        dist = np.array(found["distances"], dtype=np.float64)
        if self.metric is Metric.EUCLIDEAN:
            return ids, np.sqrt(np.maximum(dist, 0.0))
        return ids, 1.0 - dist

    def _index_bytes(self) -> int:
        assert self._dir is not None
        return sum(f.stat().st_size for f in self._dir.rglob("*") if f.is_file())

    def _release(self) -> None:
        if self._client is not None and hasattr(self._client, "close"):
            self._client.close()
        self._client = self._collection = None
        if self._cleanup is not None:
            self._cleanup()
        self._dir = self._cleanup = None
