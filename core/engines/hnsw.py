"""HNSW with hnswlib, the graph behind pgvector's, Azure AI Search's, Chroma's and
Weaviate's default vector index; searched through :class:`core.search.HnswIndex`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import hnswlib
import numpy as np

from core.engines.base import Engine, EngineInfo, ParamSpec, ParamValue, engine_threads, library
from core.metrics import Metric
from core.search import HnswIndex

# hnswlib's spaces; cosine is "ip" on the unit rows the engine is given.
_SPACES = {Metric.COSINE: "ip", Metric.DOT: "ip", Metric.EUCLIDEAN: "l2"}

M_SPEC = ParamSpec(
    "M", 16, 16, 2, 100, "Links per node: more links, better recall, a bigger and slower build."
)
EF_CONSTRUCTION_SPEC = ParamSpec(
    "ef_construction",
    200,
    200,
    8,
    2000,
    "Candidates kept while inserting: a better graph for a slower build.",
)
EF_SPEC = ParamSpec(
    "ef",
    10,
    50,
    1,
    5000,
    "Candidates kept while searching (raised to k if smaller): higher is slower and closer "
    "to exact.",
)


class HnswlibEngine(Engine):
    """An hnswlib graph; vectors are inserted a chunk at a time with
    :func:`~core.engines.base.engine_threads` threads."""

    info = EngineInfo(
        name="hnswlib",
        algorithm="HNSW",
        library=library("hnswlib"),
        where_deployed="pgvector, Azure AI Search, Chromadb, Weaviate",
        metrics=tuple(m.value for m in _SPACES),
        build_params=(M_SPEC, EF_CONSTRUCTION_SPEC),
        search_params=(EF_SPEC,),
        summary="A layered graph of near neighbours, searched greedily from the top layer.",
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._index: HnswIndex | None = None
        # hnswlib keeps ef on the index: one search at a time, so no other caller's ef is used.
        self._lock = threading.Lock()

    def _build(
        self, vectors: np.ndarray, metric: Metric, chunks: Callable[[], Iterator[slice]]
    ) -> None:
        n, dims = vectors.shape
        graph = hnswlib.Index(space=_SPACES[metric], dim=dims)
        graph.init_index(
            max_elements=n,
            M=int(self._params["M"]),
            ef_construction=int(self._params["ef_construction"]),
            random_seed=100,
        )
        threads = engine_threads()
        graph.set_num_threads(threads)
        for rows in chunks():
            graph.add_items(vectors[rows], np.arange(rows.start, rows.stop), threads)
        self._index = HnswIndex(graph, metric, 0.0)

    def _search(
        self, queries: np.ndarray, k: int, params: dict[str, ParamValue]
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self._index is not None
        with self._lock:
            found = self._index.search(queries, k, ef=int(params["ef"]))
        return found.ids, found.scores

    def _index_bytes(self) -> int:
        assert self._index is not None
        return self._index.nbytes

    def _release(self) -> None:
        self._index = None
