"""Matryoshka (MRL) dimension reduction: keep the first dimensions, re-normalise, compare.

Models trained with Matryoshka Representation Learning put the most information in the
leading dimensions, so ``v[:dims] / |v[:dims]|`` is a usable smaller embedding. This is
what OpenAI's ``dimensions=`` parameter does server-side. Rankings here are by cosine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import kernels, metrics, resultcache, search, topk
from core.errors import ExplorerError
from core.metrics import Metric, as_matrix, check_nonzero_rows, check_same_width
from core.search import exhaustive_search, recall_at_k
from core.topk import SearchResult

# Bytes of one stored float32 value, for the storage axis of the curve.
FLOAT32_BYTES = 4


def _check_dims(dims: object, d: int) -> None:
    if isinstance(dims, bool) or not isinstance(dims, int | np.integer):
        raise ExplorerError(f"Dimensionality must be a whole number, got {dims!r}.")
    if dims > d:
        raise ExplorerError(
            f"Dimensionality {dims} is greater than the model dimensionality {d}; "
            f"choose a value from 1 to {d}."
        )
    if dims < 1:
        raise ExplorerError(f"Dimensionality {dims} is less than 1; choose a value from 1 to {d}.")


def truncate_and_renormalize(vectors: np.ndarray | list, dims: int) -> np.ndarray:
    """First ``dims`` values of every row, scaled back to unit length.

    ``vectors`` is ``(n, d)`` (a single ``(d,)`` vector becomes one row); returns ``(n, dims)``
    in the input's float dtype (float32 in, float32 out; integers give float64).
    """
    arr = as_matrix(vectors)
    d = arr.shape[1]
    _check_dims(dims, d)
    out_dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float64)
    head = arr[:, :dims].astype(np.float64)
    lengths = np.linalg.norm(head, axis=1, keepdims=True)
    check_nonzero_rows(
        lengths[:, 0],
        f"Row {{row}} is all zeros in its first {dims} dimensions, so it has no direction "
        "after truncation; keep more dimensions.",
    )
    return (head / lengths).astype(out_dtype)


def standard_dims(d: int, smallest: int = 8) -> tuple[int, ...]:
    """Powers of two from ``smallest`` below ``d``, then ``d`` itself: the usual MRL sizes.

    ``standard_dims(384)`` is ``(8, 16, 32, 64, 128, 256, 384)``.
    """
    if d < 1:
        raise ExplorerError(f"Dimensionality {d} is less than 1.")
    sizes = []
    size = max(1, smallest)
    while size < d:
        sizes.append(size)
        size *= 2
    return (*sizes, d)


@dataclass(frozen=True)
class CurvePoint:
    """Search quality at one truncation size.

    ``recall_at_k`` is the mean share (0..1) of each query's full-dimension top-k that the
    truncated vectors also return in their top-k; ``bytes_per_vector`` assumes float32.
    """

    dims: int
    recall_at_k: float
    bytes_per_vector: int


def truncated_top_k(
    vectors: np.ndarray | list,
    dims: int,
    k: int,
    queries: np.ndarray | list | None = None,
) -> np.ndarray:
    """Ids ``(q, k)`` of each query's cosine top ``k`` among the ``(n, d)`` ``vectors``, all cut
    to their first ``dims`` values and re-normalised. Without ``queries`` every item is a
    query against the others (itself excluded, ``q = n``)."""
    items = as_matrix(vectors)
    n, d = items.shape
    _check_dims(dims, d)
    leave_one_out = queries is None
    query_rows = items if queries is None else as_matrix(queries, "queries")
    check_same_width(query_rows, d, "Queries have {a} dimensions but the vectors have {b}.")
    candidates = n - 1 if leave_one_out else n
    if isinstance(k, bool) or not 1 <= k <= candidates:
        raise ExplorerError(
            f"k={k} is out of range: with {n} items each query has {candidates} candidates, "
            f"so choose k from 1 to {candidates}."
        )
    # In float64: numpy's blocked path, about 5x faster here than the float32 kernels for
    # corpora of a few thousand items on a busy 2-core server, and no float32 rounding ties.
    short_items = truncate_and_renormalize(items.astype(np.float64), dims)
    short_queries = (
        short_items
        if leave_one_out
        else truncate_and_renormalize(query_rows.astype(np.float64), dims)
    )
    exclude = np.arange(n) if leave_one_out else None
    return exhaustive_search(short_queries, short_items, k, Metric.COSINE, exclude).ids


def recall_curve(
    vectors: np.ndarray | list,
    dims_list: Iterable[int],
    k: int,
    queries: np.ndarray | list | None = None,
    reference: np.ndarray | None = None,
) -> list[CurvePoint]:
    """Recall@k of truncated vectors against the full vectors, for every size in ``dims_list``.

    ``vectors`` is ``(n, d)``. With ``queries`` ``(q, d)`` each query searches all ``n``
    items; without, every item is a query against the others (itself excluded). Points come
    back sorted by ``dims``, duplicates dropped. ``reference``, when given, is the full-size
    answer ``truncated_top_k(vectors, d, k, queries)`` from an earlier call, which saves that
    search (e.g. when a slider asks for one more size).
    """
    items = as_matrix(vectors)
    d = items.shape[1]
    requested = list(dims_list)
    for size in requested:
        _check_dims(size, d)
    sizes = sorted({int(size) for size in requested})
    if not sizes:
        raise ExplorerError("No dimensionalities given: pick at least one size to compare.")
    # The reference goes through the same path, so dims == d gives recall exactly 1.
    if reference is None:
        reference = truncated_top_k(items, d, k, queries)
    else:
        rows = items.shape[0] if queries is None else as_matrix(queries, "queries").shape[0]
        if reference.shape != (rows, k):
            raise ExplorerError(
                f"The reference holds {reference.shape} ids; {rows} queries with k={k} need "
                f"({rows}, {k})."
            )
    return [
        CurvePoint(
            dims=size,
            recall_at_k=recall_at_k(reference, truncated_top_k(items, size, k, queries)),
            bytes_per_vector=size * FLOAT32_BYTES,
        )
        for size in sizes
    ]


def standard_curve(vectors: np.ndarray, k: int, root: Path | None = None) -> list[CurvePoint]:
    """:func:`recall_curve` of the ``(n, d)`` ``vectors`` at :func:`standard_dims` (every item
    a query), read from the disk cache (``<cache>/results``) when computed before."""
    sizes = standard_dims(vectors.shape[1])
    return resultcache.cached_rows(
        "mrl-curve",
        vectors,
        {"k": k, "sizes": sizes},
        (sys.modules[__name__], search, kernels, topk, metrics),
        lambda: recall_curve(vectors, sizes, k),
        lambda row: CurvePoint(**row),
        root,
    )


def ranking_at_dims(
    vectors: np.ndarray | list,
    query: np.ndarray | list,
    dims: int,
    k: int,
    exclude: int | None = None,
) -> SearchResult:
    """Cosine top-k of ``query`` ``(1, d)`` among ``(n, d)`` ``vectors``, both cut to their first
    ``dims`` values and re-normalised (``dims = d``: the vectors as they are)."""
    items, q = as_matrix(vectors, "vectors"), as_matrix(query, "query")
    check_same_width(
        q,
        items,
        "The query has {a} dimensions but the vectors have {b}: embed both with the same model.",
    )
    if dims != items.shape[1]:
        items, q = truncate_and_renormalize(items, dims), truncate_and_renormalize(q, dims)
    return exhaustive_search(q, items, k, Metric.COSINE, exclude=exclude)
