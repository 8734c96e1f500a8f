"""Nearest-neighbour search: exact (exhaustive) and approximate (HNSW), plus recall@k.

Every search takes ``(q, d)`` queries (a single ``(d,)`` vector is one query) and returns a
:class:`SearchResult` whose arrays are ``(q, k)``. Ties are broken by the lower corpus id, so
results are deterministic.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import hnswlib
import numpy as np

from core.errors import ExplorerError
from core.metrics import Metric, as_matrix, pairwise

log = logging.getLogger(__name__)

# Upper bound on the (queries x corpus) score matrix computed at once, in elements.
_SCORE_BLOCK = 1 << 22


@dataclass(frozen=True)
class Hit:
    """One neighbour of one query: corpus row ``id``, its ``score`` and its 1-based ``rank``."""

    id: int
    score: float
    rank: int


@dataclass(frozen=True)
class SearchResult:
    """The ``k`` nearest corpus rows of each query, best first.

    Attributes:
        ids: int64 ``(q, k)`` corpus row numbers.
        scores: float64 ``(q, k)``; similarities (higher is closer) when ``higher_is_closer``,
            otherwise distances (cosine gives similarity, euclidean gives L2 distance,
            hamming gives differing bits).
        seconds: wall-clock time of the search, all queries together.
        metric: what the scores measure, a :class:`Metric` value or e.g. ``"hamming"``.
        higher_is_closer: sort direction of ``scores``.
    """

    ids: np.ndarray
    scores: np.ndarray
    seconds: float
    metric: str
    higher_is_closer: bool

    def __post_init__(self) -> None:
        if self.ids.shape != self.scores.shape or self.ids.ndim != 2:
            raise ExplorerError(
                f"ids {self.ids.shape} and scores {self.scores.shape} must be equal (q, k) shapes."
            )

    @property
    def k(self) -> int:
        return int(self.ids.shape[1])

    def hits(self, query: int = 0) -> list[Hit]:
        """The neighbours of one query (row ``query``) as :class:`Hit` objects, best first."""
        if not 0 <= query < self.ids.shape[0]:
            raise ExplorerError(f"Query {query} does not exist; there are {self.ids.shape[0]}.")
        return [
            Hit(id=int(i), score=float(s), rank=r)
            for r, (i, s) in enumerate(zip(self.ids[query], self.scores[query], strict=True), 1)
        ]


def check_k(k: int, available: int, what: str = "corpus items") -> None:
    """Raise unless ``1 <= k <= available``."""
    if k < 1:
        raise ExplorerError(f"k={k}: ask for at least 1 neighbour.")
    if k > available:
        raise ExplorerError(
            f"k={k} is larger than the {available} {what}: choose k <= {available}."
        )


def _exclusion(exclude: int | np.ndarray | None, n_queries: int, n: int) -> np.ndarray | None:
    """One corpus id per query to leave out, shape ``(q,)``, or None."""
    if exclude is None:
        return None
    ids = np.broadcast_to(np.asarray(exclude, dtype=np.int64), (n_queries,))
    bad = ids[(ids < 0) | (ids >= n)]
    if bad.size:
        raise ExplorerError(f"Cannot exclude id {int(bad[0])}: corpus ids run from 0 to {n - 1}.")
    return ids


def _check_k_excluding(k: int, n: int, exclude: np.ndarray | None) -> None:
    if exclude is None:
        check_k(k, n)
    else:
        check_k(k, n - 1, "items other than the excluded one")


def top_k_ids(
    scores: np.ndarray,
    k: int,
    higher_is_closer: bool,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Column numbers of the ``k`` best scores of every row, best first, shape ``(q, k)``.

    Uses ``argpartition`` and sorts only the ``k`` candidates; equal scores go to the lower
    column. ``exclude`` is one column per row (``(q,)``) that must not be returned.
    """
    _check_k_excluding(k, scores.shape[1], exclude)
    # Lower key is better, so one code path serves similarities and distances.
    key = np.negative(scores, dtype=np.float64) if higher_is_closer else scores.astype(np.float64)
    if exclude is not None:
        key[np.arange(key.shape[0]), exclude] = np.inf
    cand = np.argpartition(key, k - 1, axis=1)[:, :k]
    cand_key = np.take_along_axis(key, cand, axis=1)
    order = np.lexsort((cand, cand_key), axis=1)
    ids = np.take_along_axis(cand, order, axis=1)
    # argpartition picks arbitrarily among items tied with the k-th score; redo those rows.
    kth = cand_key.max(axis=1, keepdims=True)
    for row in np.flatnonzero((key <= kth).sum(axis=1) > k):
        tied_or_better = np.flatnonzero(key[row] <= kth[row, 0])
        ids[row] = tied_or_better[np.argsort(key[row, tied_or_better], kind="stable")[:k]]
    return ids.astype(np.int64, copy=False)


def row_norms(x: np.ndarray, name: str = "vectors") -> np.ndarray:
    """L2 norm of every row, ``(n,)`` in ``x``'s float dtype, without copying ``x``; raises
    on a zero row, which has no direction for cosine."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ExplorerError(
            f"{name} row {int(zero[0])} is a zero vector: it has no direction, so it cannot be "
            "compared by cosine."
        )
    return norms


def exhaustive_search(
    queries: np.ndarray | list,
    corpus: np.ndarray | list,
    k: int,
    metric: str | Metric = Metric.COSINE,
    exclude: int | np.ndarray | None = None,
) -> SearchResult:
    """Exact ``k`` nearest neighbours of every query by scoring the whole corpus.

    ``queries`` is ``(q, d)`` or ``(d,)``, ``corpus`` is ``(n, d)``. ``exclude`` leaves out one
    corpus id for every query (an int) or per query (``(q,)`` ints), e.g. the item a query
    was taken from. When queries and corpus are both float32, cosine and dot are computed in
    float32 (agreeing with :func:`core.metrics.pairwise` to about 1e-6); otherwise in float64.
    """
    m = Metric.coerce(metric)
    start = time.perf_counter()
    q, c = as_matrix(queries, "queries"), as_matrix(corpus, "corpus vectors")
    if q.shape[1] != c.shape[1]:
        raise ExplorerError(
            f"Queries have {q.shape[1]} dimensions but the corpus has {c.shape[1]}: "
            "embed both with the same model."
        )
    excluded = _exclusion(exclude, q.shape[0], c.shape[0])
    _check_k_excluding(k, c.shape[0], excluded)
    if m is Metric.COSINE:
        # Checked up front so a zero row is named by its row number, not its block's.
        row_norms(q, "queries")
        c_norms = row_norms(c, "corpus vectors")
    if m in (Metric.COSINE, Metric.DOT) and q.dtype == c.dtype == np.float32:
        # float32 BLAS straight on the caller's arrays, chunked to stay in cache. Imported
        # here because core.kernels builds on this module.
        from core.kernels import search_float32

        found = search_float32(q, c, k, m, exclude, c_norms if m is Metric.COSINE else None)
        return replace(found, seconds=time.perf_counter() - start)
    step = max(1, _SCORE_BLOCK // c.shape[0])
    ids = np.empty((q.shape[0], k), dtype=np.int64)
    scores = np.empty((q.shape[0], k), dtype=np.float64)
    for lo in range(0, q.shape[0], step):
        rows = slice(lo, lo + step)
        block = pairwise(m, q[rows], c)
        part = None if excluded is None else excluded[rows]
        ids[rows] = top_k_ids(block, k, m.higher_is_closer, part)
        scores[rows] = np.take_along_axis(block, ids[rows], axis=1)
    return SearchResult(ids, scores, time.perf_counter() - start, m.value, m.higher_is_closer)


_HNSW_SPACES = {Metric.COSINE: "cosine", Metric.DOT: "ip", Metric.EUCLIDEAN: "l2"}


class HnswIndex:
    """An HNSW graph (hnswlib) over a corpus, for approximate nearest neighbours.

    Build with :meth:`build`. Scores are converted at the boundary: cosine and dot come back
    as similarities, euclidean as L2 distance (hnswlib returns ``1 - cos``, ``1 - dot`` and
    squared distance).
    """

    def __init__(self, index: hnswlib.Index, metric: Metric, build_seconds: float) -> None:
        self._index = index
        self.metric = metric
        self.build_seconds = build_seconds

    @classmethod
    def build(
        cls,
        vectors: np.ndarray | list,
        metric: str | Metric = Metric.COSINE,
        M: int = 16,
        ef_construction: int = 200,
        seed: int = 100,
        threads: int = 1,
    ) -> HnswIndex:
        """Index the ``(n, d)`` ``vectors``; row ``i`` gets id ``i``.

        ``M`` is the number of links per node, ``ef_construction`` the candidate list size
        while inserting. ``threads=1`` (the default) makes the graph reproducible for a seed.
        """
        m = Metric.coerce(metric)
        if m not in _HNSW_SPACES:
            allowed = ", ".join(x.value for x in _HNSW_SPACES)
            raise ExplorerError(
                f"HNSW does not support the {m.value} metric; use one of: {allowed}."
            )
        if M < 2 or ef_construction < 1 or threads < 1:
            raise ExplorerError(
                f"M={M}, ef_construction={ef_construction}, threads={threads}: need M >= 2, "
                "ef_construction >= 1 and threads >= 1."
            )
        data = as_matrix(vectors, "corpus vectors")
        if data.shape[0] == 0:
            raise ExplorerError("The corpus is empty: there is nothing to index.")
        if m is Metric.COSINE:
            row_norms(data, "corpus vectors")
        start = time.perf_counter()
        index = hnswlib.Index(space=_HNSW_SPACES[m], dim=data.shape[1])
        index.init_index(
            max_elements=data.shape[0], M=M, ef_construction=ef_construction, random_seed=seed
        )
        index.add_items(data.astype(np.float32, copy=False), np.arange(data.shape[0]), threads)
        index.set_num_threads(threads)
        seconds = time.perf_counter() - start
        log.info("Built HNSW (%s, n=%d, M=%d) in %.2f s", m.value, data.shape[0], M, seconds)
        return cls(index, m, seconds)

    @property
    def count(self) -> int:
        return int(self._index.get_current_count())

    @property
    def dims(self) -> int:
        return int(self._index.dim)

    @property
    def nbytes(self) -> int:
        """Size of the serialised index (vectors and links), in bytes."""
        return int(self._index.index_file_size())

    def search(self, queries: np.ndarray | list, k: int, ef: int = 50) -> SearchResult:
        """Approximate ``k`` nearest neighbours; ``ef`` (raised to ``k`` if smaller) is the
        candidate list size: larger is slower and more accurate."""
        q = as_matrix(queries, "queries")
        if q.shape[1] != self.dims:
            raise ExplorerError(
                f"Queries have {q.shape[1]} dimensions but the index has {self.dims}: "
                "embed both with the same model."
            )
        check_k(k, self.count, "indexed items")
        if self.metric is Metric.COSINE:
            row_norms(q, "queries")
        start = time.perf_counter()
        self._index.set_ef(max(ef, k))
        try:
            labels, dist = self._index.knn_query(q.astype(np.float32, copy=False), k=k)
        except RuntimeError as exc:
            raise ExplorerError(
                f"HNSW found fewer than k={k} neighbours (ef={max(ef, k)}): raise ef or lower k."
            ) from exc
        dist = dist.astype(np.float64)
        if self.metric is Metric.EUCLIDEAN:
            scores = np.sqrt(np.maximum(dist, 0.0))
        else:
            scores = 1.0 - dist
        labels = labels.astype(np.int64)
        # hnswlib orders equal distances arbitrarily; use the lower id like exhaustive search.
        order = np.lexsort((labels, -scores if self.metric.higher_is_closer else scores), axis=1)
        return SearchResult(
            np.take_along_axis(labels, order, axis=1),
            np.take_along_axis(scores, order, axis=1),
            time.perf_counter() - start,
            self.metric.value,
            self.metric.higher_is_closer,
        )


def recall_at_k(reference_ids: np.ndarray, found_ids: np.ndarray) -> float:
    """Mean over queries of ``|reference ∩ found| / k``, with ``k`` the reference width.

    ``reference_ids`` is ``(q, k)`` (the exact answer), ``found_ids`` is ``(q, k')``; 1-D
    arrays are one query.
    """
    ref, found = np.atleast_2d(reference_ids), np.atleast_2d(found_ids)
    if ref.shape[0] != found.shape[0]:
        raise ExplorerError(
            f"Reference has {ref.shape[0]} queries but the results have {found.shape[0]}."
        )
    if ref.shape[1] == 0:
        raise ExplorerError("The reference has k=0 neighbours: recall is undefined.")
    hit = (ref[:, :, np.newaxis] == found[:, np.newaxis, :]).any(axis=2)
    return float(hit.mean())
