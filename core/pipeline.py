"""Search pipelines as the Search, Quantization and MRL pages show them, and their recall.

A pipeline searches a cheap copy of the vectors first (truncated to fewer dimensions, stored
as int8 or bits), keeps ``k x oversample`` candidates, and rescores those candidates with the
original float vectors. Recall@k is measured with every dataset item as a query against all
the others (itself left out), against the exact cosine top-k of the original vectors.
Rankings here are by cosine, like :mod:`core.mrl`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.compare import RankComparison, compare_rankings
from core.errors import ExplorerError
from core.metrics import Metric, as_matrix, normalize
from core.mrl import truncate_and_renormalize
from core.quantize import (
    Center,
    Precision,
    QuantizedIndex,
    RescoreResult,
    hamming_search,
    int8_search,
    payload_bytes,
    rescore,
)
from core.search import (
    HnswIndex,
    SearchResult,
    check_k,
    exhaustive_search,
    recall_at_k,
    top_k_ids,
)

# Precisions a pipeline's first stage can search: float32 (truncation only) or quantized.
PIPELINE_PRECISIONS = (Precision.FLOAT32, Precision.INT8, Precision.BINARY)

# Upper bound on the (queries x corpus) similarity block computed at once, in elements.
_SCORE_BLOCK = 1 << 22


# ---------------------------------------------------------------------------------------------
# Search page: exhaustive against HNSW


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


# ---------------------------------------------------------------------------------------------
# Quantization page: one query through the quantized index


@dataclass(frozen=True)
class CodeView:
    """One vector before and after quantization, for showing value by value.

    Attributes:
        values: float64 ``(d,)`` the numbers that get quantized (unit length for cosine).
        codes: ``(d,)`` int8 codes, or uint8 bits (0/1) for binary.
        restored: float64 ``(d,)`` what the int8 codes stand for; for binary the bit scaled
            to ``±mean |value|`` (the nearest vector of that sign pattern, up to scale).
        thresholds: float64 ``(d,)`` the binary centres, or None for int8.
    """

    values: np.ndarray
    codes: np.ndarray
    restored: np.ndarray
    thresholds: np.ndarray | None


def code_view(index: QuantizedIndex, vector: np.ndarray | list) -> CodeView:
    """Quantize one ``(d,)`` or ``(1, d)`` ``vector`` the way ``index`` stores its corpus."""
    v = as_matrix(vector, "vector")
    if v.shape != (1, index.vectors.shape[1]):
        raise ExplorerError(
            f"code_view takes one vector of {index.vectors.shape[1]} dimensions, got {v.shape}."
        )
    values = (normalize(v) if index.metric is Metric.COSINE else v).astype(np.float64)
    if index.quantizer is not None:
        codes = index.quantizer.quantize(values)
        restored = index.quantizer.dequantize(codes).astype(np.float64)
        return CodeView(values[0], codes[0], restored[0], None)
    centers = np.asarray(index.centers)  # a binary index always has its centres
    bits = (values > centers).astype(np.uint8)
    scale = float(np.abs(values).mean())
    return CodeView(values[0], bits[0], np.where(bits[0] == 1, scale, -scale), centers)


def quantized_neighbours(
    index: QuantizedIndex,
    query: np.ndarray | list,
    k: int,
    oversample: int,
    exclude: int | None = None,
) -> RescoreResult:
    """Search ``index`` by codes for ``k x oversample`` candidates of one ``query`` and rescore
    them with the floats. ``exclude`` is the corpus row the query is (a dataset item): it is
    left out, and its stored codes are the query's codes."""
    if exclude is None:
        return index.search(query, k, oversample)
    n = index.vectors.shape[0]
    if not 0 <= exclude < n:
        raise ExplorerError(f"Cannot exclude row {exclude}: corpus rows run from 0 to {n - 1}.")
    if oversample < 1:
        raise ExplorerError(f"oversample={oversample}: use 1 (no extra candidates) or more.")
    check_k(k, n - 1, "items other than the query")
    rows = np.array([exclude])
    candidates = _code_search(index, min(k * oversample, n - 1), rows)
    final = rescore(index.vectors[rows], index.vectors, candidates.ids, k, index.metric)
    return RescoreResult(candidates, final, index.precision, oversample)


def _code_search(index: QuantizedIndex, n_candidates: int, rows: np.ndarray) -> SearchResult:
    """Corpus ``rows`` as queries against the other rows, by codes alone."""
    stage = int8_search if index.precision is Precision.INT8 else hamming_search
    return stage(index.codes[rows], index.codes, n_candidates, exclude=rows)


# ---------------------------------------------------------------------------------------------
# Pipelines: truncate -> quantize -> oversample -> rescore, measured by recall@k


@dataclass(frozen=True)
class PipelinePoint:
    """Recall of one pipeline over every item as a query.

    Attributes:
        dims: dimensions kept for the first stage (the model's own size: no truncation).
        precision: how the first stage stores each kept number.
        oversample: candidates fetched per requested neighbour.
        candidates: candidates per query, ``k x oversample`` capped at ``n - 1``.
        bytes_per_vector: bytes the first stage searches per vector (numbers only, no header).
        recall_first_stage: recall@k (0..1) of the first stage's own top k.
        recall_rescored: recall@k after rescoring the candidates with the original vectors.
    """

    dims: int
    precision: Precision
    oversample: int
    candidates: int
    bytes_per_vector: int
    recall_first_stage: float
    recall_rescored: float


def leave_one_out_reference(vectors: np.ndarray | list, k: int) -> np.ndarray:
    """Exact cosine top-k of every row of ``(n, d)`` ``vectors`` among the others, ``(n, k)``."""
    items = as_matrix(vectors, "vectors")
    n = items.shape[0]
    return exhaustive_search(items, items, k, Metric.COSINE, exclude=np.arange(n)).ids


def first_stage_candidates(
    vectors: np.ndarray | list,
    dims: int,
    precision: str | Precision,
    n_candidates: int,
    center: str | Center = Center.ZERO,
    per_dimension: bool = False,
) -> np.ndarray:
    """Every row's ``n_candidates`` nearest other rows, best first, ``(n, n_candidates)``, found
    on the first ``dims`` dimensions (re-normalised) stored at ``precision``.

    float32 searches by cosine; int8 by the dot product of codes (``per_dimension``
    calibration or one global range); binary by Hamming distance of bits above ``center``.
    """
    p = Precision.coerce(precision)
    if p not in PIPELINE_PRECISIONS:
        allowed = ", ".join(x.value for x in PIPELINE_PRECISIONS)
        raise ExplorerError(f"A pipeline cannot search {p.value!r} vectors; use one of: {allowed}.")
    items = as_matrix(vectors, "vectors")
    n, d = items.shape
    check_k(n_candidates, n - 1, "items other than the query")
    # At full size the vectors are searched as they are, so float32 at d reproduces the
    # reference exactly instead of up to re-normalisation rounding.
    short = items if dims == d else truncate_and_renormalize(items, dims)
    rows = np.arange(n)
    if p is Precision.FLOAT32:
        floats = short.astype(np.float32)
        return exhaustive_search(floats, floats, n_candidates, exclude=rows).ids
    index = QuantizedIndex.build(short, p, center, Metric.COSINE, per_dimension=per_dimension)
    return _code_search(index, n_candidates, rows).ids


def _candidate_scores(unit: np.ndarray, candidate_ids: np.ndarray) -> np.ndarray:
    """Cosine of every row of the unit-length ``unit`` with each of its candidates, ``(n, c)``."""
    out = np.empty(candidate_ids.shape, dtype=np.float64)
    step = max(1, _SCORE_BLOCK // unit.shape[0])
    for lo in range(0, unit.shape[0], step):
        block = unit[lo : lo + step] @ unit.T
        out[lo : lo + step] = np.take_along_axis(block, candidate_ids[lo : lo + step], axis=1)
    return out


def _rescored(candidate_ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best candidates of each row by ``scores``, ``(n, k)``; equal scores go to the
    lower id, as in :func:`core.quantize.rescore`."""
    by_id = np.argsort(candidate_ids, axis=1)
    ids = np.take_along_axis(candidate_ids, by_id, axis=1)
    best = top_k_ids(np.take_along_axis(scores, by_id, axis=1), k, higher_is_closer=True)
    return np.take_along_axis(ids, best, axis=1)


def pipeline_points(
    vectors: np.ndarray | list,
    k: int,
    dims_list: Iterable[int],
    precisions: Iterable[str | Precision],
    oversamples: Iterable[int],
    center: str | Center = Center.ZERO,
    per_dimension: bool = False,
) -> list[PipelinePoint]:
    """Recall@k of every (dims, precision, oversample) pipeline over the ``(n, d)`` ``vectors``,
    each item a query against the others, rescoring with the full vectors.

    Points come in the order dims, precision, oversample (each as given). One first-stage
    search per (dims, precision) serves every oversample, because a shorter candidate list is
    a prefix of a longer one.
    """
    items = as_matrix(vectors, "vectors")
    n = items.shape[0]
    sizes, kinds = list(dims_list), [Precision.coerce(p) for p in precisions]
    factors = list(oversamples)
    if not sizes or not kinds or not factors:
        raise ExplorerError("Give at least one dimension size, one precision and one oversample.")
    bad = [f for f in factors if isinstance(f, bool) or not isinstance(f, int) or f < 1]
    if bad:
        raise ExplorerError(f"oversample {bad[0]!r}: use whole numbers of 1 or more.")
    check_k(k, n - 1, "items other than the query")
    reference = leave_one_out_reference(items, k)
    unit = normalize(items.astype(np.float32))
    width = min(k * max(factors), n - 1)
    points = []
    for dims in sizes:
        for p in kinds:
            ranked = first_stage_candidates(items, dims, p, width, center, per_dimension)
            exact = _candidate_scores(unit, ranked)
            first = recall_at_k(reference, ranked[:, :k])
            for f in factors:
                count = min(k * f, n - 1)
                final = _rescored(ranked[:, :count], exact[:, :count], k)
                points.append(
                    PipelinePoint(
                        dims=int(dims),
                        precision=p,
                        oversample=f,
                        candidates=count,
                        bytes_per_vector=payload_bytes(int(dims), p),
                        recall_first_stage=first,
                        recall_rescored=recall_at_k(reference, final),
                    )
                )
    return points


# ---------------------------------------------------------------------------------------------
# MRL page: one ranking at fewer dimensions


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
    if q.shape[1] != items.shape[1]:
        raise ExplorerError(
            f"The query has {q.shape[1]} dimensions but the vectors have {items.shape[1]}: "
            "embed both with the same model."
        )
    if dims != items.shape[1]:
        items, q = truncate_and_renormalize(items, dims), truncate_and_renormalize(q, dims)
    return exhaustive_search(q, items, k, Metric.COSINE, exclude=exclude)


# ---------------------------------------------------------------------------------------------
# Formatting


_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def format_bytes(count: int | float) -> str:
    """``count`` bytes in decimal units with three significant figures: ``1536`` -> ``"1.54 kB"``,
    ``6_144_000_000`` -> ``"6.14 GB"``; whole bytes below 1,000 stay exact."""
    if count < 0:
        raise ExplorerError(f"{count} bytes: a size cannot be negative.")
    value, unit = float(count), 0
    while value >= 999.5 and unit < len(_UNITS) - 1:
        value, unit = value / 1000.0, unit + 1
    if unit == 0:
        return f"{count:,.0f} B"
    return f"{value:.3g} {_UNITS[unit]}"
