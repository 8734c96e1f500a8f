"""Top-k results and the rules every search shares: k checks, leaving a corpus id out, and
picking the ``k`` best of each row of a score matrix.

:mod:`core.search` (exact and HNSW search) and :mod:`core.kernels` (the scale kernels) both
build on this module; it imports neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import ExplorerError

# A search reduced to its answer: ``(q, d)`` queries in, their ``(q, k)`` corpus ids out.
Search = Callable[[np.ndarray], np.ndarray]


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


@dataclass(frozen=True)
class TopK:
    """The ``k`` best corpus rows per query, best first, as the kernels find them.

    Attributes:
        ids: int64 ``(q, k)`` corpus row numbers.
        keys: ``(q, k)`` sort keys, lower is closer (negated similarity or distance):
            float32 from the float32 kernel, int64 from the int8 and Hamming ones.
    """

    ids: np.ndarray
    keys: np.ndarray


def check_k(k: int, available: int, what: str = "corpus items") -> None:
    """Raise unless ``1 <= k <= available``."""
    if k < 1:
        raise ExplorerError(f"k={k}: ask for at least 1 neighbour.")
    if k > available:
        raise ExplorerError(
            f"k={k} is larger than the {available} {what}: choose k <= {available}."
        )


def exclusion(exclude: int | np.ndarray | None, n_queries: int, n: int) -> np.ndarray | None:
    """One corpus id per query to leave out, shape ``(q,)``, or None."""
    if exclude is None:
        return None
    ids = np.broadcast_to(np.asarray(exclude, dtype=np.int64), (n_queries,))
    bad = ids[(ids < 0) | (ids >= n)]
    if bad.size:
        raise ExplorerError(f"Cannot exclude id {int(bad[0])}: corpus ids run from 0 to {n - 1}.")
    return ids


def check_k_excluding(k: int, n: int, exclude: np.ndarray | None) -> None:
    """:func:`check_k` against ``n`` corpus items, one fewer when a per-query id is excluded."""
    if exclude is None:
        check_k(k, n)
    else:
        check_k(k, n - 1, "items other than the excluded one")


def prepare_k(
    k: int, n_queries: int, n: int, exclude: int | np.ndarray | None
) -> np.ndarray | None:
    """:func:`exclusion` then :func:`check_k_excluding`: the checked ``(q,)`` ids or None."""
    excluded = exclusion(exclude, n_queries, n)
    check_k_excluding(k, n, excluded)
    return excluded


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
    check_k_excluding(k, scores.shape[1], exclude)
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
