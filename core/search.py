"""Nearest-neighbour search: exact (exhaustive) and approximate (HNSW), plus recall@k.

Every search takes ``(q, d)`` queries (a single ``(d,)`` vector is one query) and returns a
:class:`SearchResult` whose arrays are ``(q, k)``. Ties are broken by the lower corpus id, so
results are deterministic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import hnswlib
import numpy as np

from core.compare import RankComparison, compare_rankings
from core.errors import ExplorerError
from core.kernels import search_float32
from core.metrics import Metric, as_matrix, check_same_width, pairwise, row_norms
from core.modes import Mode
from core.topk import SearchResult, check_k, check_k_excluding, exclusion, top_k_ids

log = logging.getLogger(__name__)

# The message for queries and a corpus of different widths.
SAME_MODEL = "Queries have {a} dimensions but the corpus has {b}: embed both with the same model."

# Upper bound on the (queries x corpus) score matrix computed at once, in elements.
_SCORE_BLOCK = 1 << 22

# The talk's HNSW settings, and the values the pages offer for each (every ladder holds the
# talk's value, so a slider reaches it in one move).
TALK_M, TALK_EF_CONSTRUCTION, TALK_EF = 16, 200, 50
M_CHOICES = (2, 4, 8, 12, 16, 24, 32, 48, 64)
EF_CONSTRUCTION_CHOICES = (5, 10, 20, 50, 100, 200, 400)
EF_CHOICES = (1, 2, 5, 10, 20, 50, 100, 200, 400)


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
    check_same_width(q, c, SAME_MODEL)
    excluded = exclusion(exclude, q.shape[0], c.shape[0])
    check_k_excluding(k, c.shape[0], excluded)
    if m is Metric.COSINE:
        # Checked up front so a zero row is named by its row number, not its block's.
        row_norms(q, "queries")
        c_norms = row_norms(c, "corpus vectors")
    if m in (Metric.COSINE, Metric.DOT) and q.dtype == c.dtype == np.float32:
        # float32 BLAS straight on the caller's arrays, chunked to stay in cache.
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


class Method(Mode):
    """A search method: exact, quantized first stage + float rescoring, or a graph (the scale
    lab builds and measures each)."""

    EXACT = "exhaustive float32"
    INT8 = "int8 + rescore"
    BINARY = "binary + rescore"
    HNSW = "HNSW"


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
        M: int = TALK_M,
        ef_construction: int = TALK_EF_CONSTRUCTION,
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

    def search(self, queries: np.ndarray | list, k: int, ef: int = TALK_EF) -> SearchResult:
        """Approximate ``k`` nearest neighbours; ``ef`` (raised to ``k`` if smaller) is the
        candidate list size: larger is slower and more accurate."""
        q = as_matrix(queries, "queries")
        check_same_width(
            q,
            self.dims,
            "Queries have {a} dimensions but the index has {b}: embed both with the same model.",
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


def grow_hnsw(
    vectors: np.ndarray,
    stops: Sequence[int],
    M: int = TALK_M,
    ef_construction: int = TALK_EF_CONSTRUCTION,
    seed: int = 100,
    threads: int = 1,
    progress: Callable[[int, float], None] | None = None,
) -> Iterator[HnswIndex]:
    """Insert the float32 ``(n, d)`` cosine ``vectors`` into one HNSW graph in order, in
    batches, and yield the index each time it holds one of the ascending sizes ``stops``
    (the last being ``n``): after the first N insertions the graph is the one a build on that
    prefix makes. ``progress(inserted, seconds)`` is called before each batch; the index's
    ``build_seconds`` counts insertion time only."""
    n, dims = vectors.shape
    graph = hnswlib.Index(space="cosine", dim=dims)
    graph.init_index(max_elements=n, M=M, ef_construction=ef_construction, random_seed=seed)
    graph.set_num_threads(threads)
    batch = max(1000, n // 100)
    seconds, lo = 0.0, 0
    while lo < n:
        if progress is not None:
            progress(lo, seconds)
        hi = min(lo + batch, next(s for s in stops if s > lo))
        start = time.perf_counter()
        graph.add_items(vectors[lo:hi], np.arange(lo, hi), num_threads=threads)
        seconds += time.perf_counter() - start
        lo = hi
        if lo in stops:
            yield HnswIndex(graph, Metric.COSINE, seconds)


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


def leave_one_out_reference(vectors: np.ndarray | list, k: int) -> np.ndarray:
    """Exact cosine top-k of every row of ``(n, d)`` ``vectors`` among the others, ``(n, k)``."""
    items = as_matrix(vectors, "vectors")
    n = items.shape[0]
    return exhaustive_search(items, items, k, Metric.COSINE, exclude=np.arange(n)).ids


@dataclass(frozen=True)
class SearchComparison:
    """One query searched exactly and with HNSW.

    Attributes:
        exact: the exhaustive top-k (cosine similarity, ``(1, k)``).
        approx: the HNSW top-k.
        ranks: HNSW's list marked against the exact one (✅ same rank, ↕ moved, ❌ not in it).
        recall_at_k: share (0..1) of the exact top-k that HNSW returned.
    """

    exact: SearchResult
    approx: SearchResult
    ranks: RankComparison
    recall_at_k: float


def compare_search(
    query: np.ndarray | list,
    vectors: np.ndarray | list,
    index: HnswIndex,
    k: int,
    ef: int,
    labels: Sequence[str] | None = None,
) -> SearchComparison:
    """Search one ``(1, d)`` ``query`` in the ``(n, d)`` ``vectors`` exhaustively and in
    ``index`` (built on the same vectors, cosine) with candidate list size ``ef``."""
    q = as_matrix(query, "query")
    if q.shape[0] != 1:
        raise ExplorerError(f"compare_search takes one query, got {q.shape[0]}.")
    exact = exhaustive_search(q, vectors, k, Metric.COSINE)
    approx = index.search(q, k, ef)
    ranks = compare_rankings(exact.ids[0].tolist(), approx.ids[0].tolist(), labels)
    return SearchComparison(exact, approx, ranks, recall_at_k(exact.ids, approx.ids))


def hnsw_recall(index: HnswIndex, vectors: np.ndarray | list, k: int, ef: int) -> float:
    """Recall@k of ``index`` with every one of its ``(n, d)`` ``vectors`` as a query, each
    left out of its own results, against the exact cosine top-k."""
    items = as_matrix(vectors, "corpus vectors")
    n = items.shape[0]
    if n != index.count:
        raise ExplorerError(f"The index holds {index.count} items but {n} vectors were given.")
    reference = leave_one_out_reference(items, k)
    # One extra neighbour so that dropping the query itself still leaves k.
    found = index.search(items, k + 1, ef).ids
    keep = found != np.arange(n)[:, np.newaxis]
    # A row where HNSW missed the query itself drops its last (worst) neighbour instead.
    keep[keep.all(axis=1), -1] = False
    return recall_at_k(reference, found[keep].reshape(n, k))
