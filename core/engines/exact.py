"""The exhaustive engine: every query scored against every vector with the project's own
kernels; the ground truth the other engines are measured against. Cosine and dot run the
float32 BLAS kernel (:func:`core.kernels.search_float32`) on the stored rows, which were
checked once at build instead of on every query; euclidean and manhattan run
:func:`core.search.exhaustive_search` in float64."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from core.engines.base import Engine, EngineInfo, ParamValue
from core.kernels import search_float32
from core.metrics import Metric
from core.search import exhaustive_search


class ExhaustiveEngine(Engine):
    """Exact search over a float32 copy of the vectors (unit rows for cosine)."""

    info = EngineInfo(
        name="exhaustive",
        algorithm="exact",
        library="core.kernels (numpy BLAS)",
        where_deployed="every vector store as a flat or brute-force index",
        metrics=tuple(m.value for m in Metric),
        summary="Scores every vector: exact, the reference every other engine is measured by.",
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._vectors: np.ndarray | None = None

    def _build(
        self, vectors: np.ndarray, metric: Metric, chunks: Callable[[], Iterator[slice]]
    ) -> None:
        stored = np.empty_like(vectors)
        for rows in chunks():
            stored[rows] = vectors[rows]
        self._vectors = stored

    def _search(
        self, queries: np.ndarray, k: int, params: dict[str, ParamValue]
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self._vectors is not None
        if self.metric.higher_is_closer:
            # Rows and queries are unit vectors under cosine, so the dot product is the cosine.
            found = search_float32(queries, self._vectors, k, Metric.DOT)
        else:
            found = exhaustive_search(queries, self._vectors, k, self.metric)
        return found.ids, found.scores

    def _index_bytes(self) -> int:
        assert self._vectors is not None
        return int(self._vectors.nbytes)

    def _release(self) -> None:
        self._vectors = None
