"""DiskANN's Vamana graph (diskannpy), the index behind Azure Cosmos DB's vector search.

The vectors are written a chunk at a time (progress and cancel) into DiskANN's ``.bin``
format in a private directory under the cache directory; ``build_memory_index`` then builds
the graph in one call that reports no progress, so it runs in a child process that Cancel
kills (:func:`core.child.run_in_child`); the index it wrote is loaded with
``StaticMemoryIndex``. ``index_bytes`` is the size of the graph and data files.

Metrics: cosine uses diskannpy's ``cosine`` on unit vectors (it returns ``1 - cos``), dot its
``mips`` (it returns the inner product itself), euclidean its ``l2`` (squared distance).
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from core.engines.base import (
    Engine,
    EngineInfo,
    ParamSpec,
    ParamValue,
    engine_threads,
    engines_dir,
    library,
)
from core.errors import ExplorerError
from core.metrics import Metric

_METRICS = {Metric.COSINE: "cosine", Metric.DOT: "mips", Metric.EUCLIDEAN: "l2"}
PREFIX = "ann"


def build_graph(arguments: dict[str, Any]) -> None:
    """diskannpy's ``build_memory_index(**arguments)`` on float32 vectors (run in a child
    process: it writes the index files it is told to)."""
    importlib.import_module("diskannpy").build_memory_index(**arguments, vector_dtype=np.float32)


@cache
def diskann_reason() -> str | None:
    """Why diskannpy cannot run here, or None (imported once per process to find out)."""
    try:
        importlib.import_module("diskannpy")
    except ImportError as exc:
        if sys.version_info >= (3, 12):
            return (
                "diskannpy 0.7.0 ships wheels for CPython ≤ 3.11 only; this is "
                f"{sys.version_info[0]}.{sys.version_info[1]}."
            )
        return f"diskannpy does not import ({exc}); install it with pip install --no-deps."
    return None


class DiskannEngine(Engine):
    """A Vamana graph in memory (``StaticMemoryIndex``), built from files it then keeps."""

    info = EngineInfo(
        name="diskann",
        algorithm="Vamana (DiskANN)",
        library=library("diskannpy"),
        where_deployed="Cosmos DB",
        metrics=tuple(m.value for m in _METRICS),
        build_params=(
            ParamSpec(
                "graph_degree",
                64,
                None,
                2,
                512,
                "R: most edges per node; better recall, more bytes.",
            ),
            ParamSpec(
                "complexity", 100, None, 1, 5000, "L while building: candidates per insertion."
            ),
            ParamSpec(
                "alpha",
                1.2,
                None,
                1.0,
                2.0,
                "Pruning slack: above 1 keeps longer edges, so searches take fewer hops.",
                kind=float,
            ),
        ),
        search_params=(
            ParamSpec(
                "search_complexity",
                100,
                None,
                1,
                5000,
                "L while searching (diskannpy's complexity; raised to k): slower, more exact.",
            ),
        ),
        summary="A single-layer graph whose long edges (alpha) keep searches short; built "
        "to be read from SSD, here searched in memory.",
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._dir: Path | None = None
        self._cleanup: Callable[[], object] | None = None
        self._index: Any = None
        self._n = 0

    def _build(
        self, vectors: np.ndarray, metric: Metric, chunks: Callable[[], Iterator[slice]]
    ) -> None:
        try:
            diskannpy = importlib.import_module("diskannpy")
        except ImportError as exc:  # check() said yes, but it broke since
            raise ExplorerError(f"diskannpy cannot be imported: {exc}") from exc
        self._dir = Path(tempfile.mkdtemp(prefix="diskann-", dir=engines_dir()))
        # Files of an engine dropped without close() go with it.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        n, dims = vectors.shape
        # A graph needs two nodes; one vector is indexed twice and found as id 0 either way.
        rows = max(n, 2)
        source = self._dir / "vectors.bin"
        with source.open("wb") as out:
            out.write(np.array([rows, dims], dtype=np.int32).tobytes())
            for part in chunks():
                out.write(vectors[part].tobytes())
            if n == 1:
                out.write(vectors.tobytes())
        threads = engine_threads()
        self._in_child(
            "building the Vamana graph",
            rows * dims,
            build_graph,
            {
                "data": str(source),
                "distance_metric": _METRICS[metric],
                "index_directory": str(self._dir),
                "complexity": int(self._params["complexity"]),
                "graph_degree": int(self._params["graph_degree"]),
                "num_threads": threads,
                "alpha": float(self._params["alpha"]),
                "index_prefix": PREFIX,
            },
        )
        source.unlink()
        self._index = diskannpy.StaticMemoryIndex(
            str(self._dir),
            num_threads=threads,
            initial_search_complexity=int(self._params["search_complexity"]),
            index_prefix=PREFIX,
        )
        self._n = n

    def _search(
        self, queries: np.ndarray, k: int, params: dict[str, ParamValue]
    ) -> tuple[np.ndarray, np.ndarray]:
        # Below k diskannpy raises the list to k itself, with a warning; do it quietly.
        complexity = max(k, int(params["search_complexity"]))
        found = self._index.batch_search(queries, k, complexity, engine_threads())
        ids = np.minimum(found.identifiers.astype(np.int64), self._n - 1)
        dist = found.distances.astype(np.float64)
        if self.metric is Metric.COSINE:
            return ids, 1.0 - dist
        if self.metric is Metric.EUCLIDEAN:
            return ids, np.sqrt(np.maximum(dist, 0.0))
        return ids, dist

    def _index_bytes(self) -> int:
        assert self._dir is not None
        return sum(f.stat().st_size for f in self._dir.iterdir() if f.is_file())

    def _release(self) -> None:
        self._index = None
        if self._cleanup is not None:
            self._cleanup()
        self._dir = self._cleanup = None
