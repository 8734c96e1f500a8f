"""Comparing vectors: one pair in detail (every metric, the angle, the manhattan route), a
target's most and least similar items, similarity distributions on a shared axis, a target's
top-k under every metric, and the unit-vector identities (norm 1, cosine = dot) checked on
real vectors.

All similarities here are cosine similarities unless a :class:`~core.metrics.Metric` says
otherwise. Single vectors are promoted to one row at the entry point.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from core import metrics
from core.compare import RankComparison, compare_rankings
from core.datasets import DATASETS, Dataset, TextField, load_dataset
from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.metrics import Metric, as_matrix, check_same_width, cosine_similarity, dot, normalize
from core.search import exhaustive_search, recall_at_k
from core.topk import SearchResult, check_k, top_k_ids
from core.vectors import embed_dataset

log = logging.getLogger(__name__)

# A vector counts as unit length when its norm is within this of 1 (float32 round-off is
# ~1e-7; models that forget to normalise are off by far more).
UNIT_TOLERANCE = 1e-3
# The identity check scores at most this many items as queries, evenly spaced, so that it
# stays interactive on large uploads.
MAX_CHECK_QUERIES = 1000
# The model whose vectors before normalisation show embeddings that are not unit length.
RAW_MODEL = "all-MiniLM-L6-v2"


# ---------------------------------------------------------------- one pair of vectors


def parse_vector(text: str, name: str = "vector") -> np.ndarray:
    """Parse ``"1, 2, 3"`` (commas and/or spaces, optional brackets) into a float64 ``(d,)``."""
    cleaned = text.strip().strip("[]()").replace(",", " ")
    parts = cleaned.split()
    if not parts:
        raise ExplorerError(f"The {name} is empty: type numbers separated by commas, e.g. 1, 2, 3.")
    values = []
    for i, part in enumerate(parts, start=1):
        try:
            values.append(float(part))
        except ValueError:
            raise ExplorerError(
                f"The {name}'s value {i} is {part!r}, not a number: use numbers separated by "
                "commas, e.g. 1, 2, 3."
            ) from None
    arr = np.array(values)
    if not np.all(np.isfinite(arr)):
        raise ExplorerError(f"The {name} contains NaN or infinity: use finite numbers.")
    return arr


@dataclass(frozen=True)
class PairMetrics:
    """Every measure between two vectors ``a`` and ``b`` (as compared, i.e. after the optional
    normalisation). Distances are in the vectors' units; the angle is in degrees.
    ``magnitude_a``/``magnitude_b`` are the lengths as given, before any normalisation."""

    a: np.ndarray
    b: np.ndarray
    magnitude_a: float
    magnitude_b: float
    norm_a: float
    norm_b: float
    dot: float
    cosine: float
    cosine_distance: float
    euclidean: float
    manhattan: float
    angle_degrees: float
    normalized: bool


_SAME_LENGTH = "The vectors have {a} and {b} values: give both the same length."


def _one_row(x: np.ndarray | list, name: str) -> np.ndarray:
    arr = as_matrix(x, name).astype(np.float64)
    if arr.shape[0] != 1:
        raise ExplorerError(f"The {name} must be one vector, got {arr.shape[0]} rows.")
    return arr


def _two_rows(a: np.ndarray | list, b: np.ndarray | list) -> tuple[np.ndarray, np.ndarray]:
    a2, b2 = _one_row(a, "first vector"), _one_row(b, "second vector")
    check_same_width(a2, b2, _SAME_LENGTH)
    return a2, b2


def compare_pair(
    a: np.ndarray | list, b: np.ndarray | list, normalize: bool = False
) -> PairMetrics:
    """Dot, norms, cosine similarity/distance, euclidean and manhattan distance of ``a`` and
    ``b`` (each ``(d,)`` or ``(1, d)``), after scaling both to unit length when ``normalize``."""
    a2, b2 = _two_rows(a, b)
    magnitude_a, magnitude_b = float(np.linalg.norm(a2)), float(np.linalg.norm(b2))
    if normalize:
        a2, b2 = metrics.normalize(a2), metrics.normalize(b2)
    cos = float(cosine_similarity(a2, b2)[0, 0])
    diff = a2[0] - b2[0]
    return PairMetrics(
        a=a2[0],
        b=b2[0],
        magnitude_a=magnitude_a,
        magnitude_b=magnitude_b,
        norm_a=float(np.linalg.norm(a2)),
        norm_b=float(np.linalg.norm(b2)),
        dot=float(dot(a2, b2)[0, 0]),
        cosine=cos,
        cosine_distance=1.0 - cos,
        euclidean=float(np.linalg.norm(diff)),
        manhattan=float(np.abs(diff).sum()),
        angle_degrees=float(np.degrees(np.arccos(cos))),
        normalized=normalize,
    )


def taxicab_path(a: np.ndarray | list, b: np.ndarray | list) -> np.ndarray:
    """Corners of the manhattan route from ``a`` to ``b``, changing one coordinate at a time
    in axis order: ``(d + 1, d)``, first row ``a``, last row ``b``. Its length is the
    manhattan distance."""
    a2, b2 = _one_row(a, "first vector"), _one_row(b, "second vector")
    check_same_width(a2, b2, _SAME_LENGTH)
    d = a2.shape[1]
    # Row i has taken the first i coordinates from b.
    take_b = np.tri(d + 1, d, k=-1, dtype=bool)
    return np.where(take_b, b2, a2)


def angle_arc(
    a: np.ndarray | list, b: np.ndarray | list, radius: float = 1.0, points: int = 32
) -> np.ndarray:
    """Points on the circular arc from the direction of ``a`` to the direction of ``b`` at
    distance ``radius`` from the origin, ``(points, d)``: the angle the cosine measures."""
    a2, b2 = _two_rows(a, b)
    if points < 2:
        raise ExplorerError(f"An arc needs at least 2 points, got {points}.")
    ua, ub = normalize(a2)[0], normalize(b2)[0]
    theta = float(np.arccos(np.clip(ua @ ub, -1.0, 1.0)))
    t = np.linspace(0.0, 1.0, points)[:, np.newaxis]
    if theta < 1e-9:
        return np.repeat(radius * ua[np.newaxis, :], points, axis=0)
    if np.pi - theta < 1e-9:
        raise ExplorerError(
            "The vectors point in opposite directions: the angle is 180° and has no unique arc."
        )
    # Spherical interpolation keeps every point at the same distance from the origin.
    arc = (np.sin((1 - t) * theta) * ua + np.sin(t * theta) * ub) / np.sin(theta)
    return radius * arc


# ---------------------------------------------------------------- a target against a dataset


@dataclass(frozen=True)
class TargetNeighbors:
    """A target's cosine similarity to every item, and its most and least similar items.

    ``similarities`` is ``(n,)`` over all items (the target's own row included when it is an
    item); ``most`` is best first, ``least`` lowest first, both ``(1, k)``, excluding
    ``exclude`` (the target's own row, or None for free text).
    """

    similarities: np.ndarray
    most: SearchResult
    least: SearchResult
    exclude: int | None

    @property
    def others(self) -> np.ndarray:
        """Similarities to every item except the target itself, ``(n - 1,)`` or ``(n,)``."""
        if self.exclude is None:
            return self.similarities
        return np.delete(self.similarities, self.exclude)


def target_neighbors(
    query: np.ndarray | list, corpus: np.ndarray | list, k: int, exclude: int | None = None
) -> TargetNeighbors:
    """Cosine similarity of one ``query`` (``(d,)`` or ``(1, d)``) to every row of ``corpus``
    ``(n, d)``, with the ``k`` most and ``k`` least similar items (``exclude`` left out)."""
    q = _one_row(query, "target vector")
    start = time.perf_counter()
    sims = cosine_similarity(q, corpus)
    n = sims.shape[1]
    if exclude is not None and not 0 <= exclude < n:
        raise ExplorerError(f"Cannot leave out item {exclude}: items run from 0 to {n - 1}.")
    ex = None if exclude is None else np.array([exclude])

    def ranked(highest_first: bool) -> SearchResult:
        ids = top_k_ids(sims, k, highest_first, ex)
        scores = np.take_along_axis(sims, ids, axis=1)
        return SearchResult(ids, scores, time.perf_counter() - start, Metric.COSINE.value, True)

    return TargetNeighbors(sims[0], ranked(True), ranked(False), exclude)


@dataclass(frozen=True)
class Distribution:
    """One model's similarities (``values``, ``(n,)``) binned on the shared edges."""

    name: str
    values: np.ndarray
    counts: np.ndarray

    @property
    def low(self) -> float:
        return float(self.values.min())

    @property
    def median(self) -> float:
        return float(np.median(self.values))

    @property
    def high(self) -> float:
        return float(self.values.max())

    def passing(self, threshold: float) -> int:
        """How many values are ``>= threshold``."""
        return int(np.count_nonzero(self.values >= threshold))


@dataclass(frozen=True)
class ThresholdCount:
    """How many of a model's items pass ``similarity >= threshold``."""

    name: str
    threshold: float
    passing: int
    total: int

    @property
    def fraction(self) -> float:
        return self.passing / self.total


@dataclass(frozen=True)
class SharedHistogram:
    """Several similarity distributions binned on the same ``edges`` (``(bins + 1,)``)."""

    edges: np.ndarray
    series: tuple[Distribution, ...]

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    def at_threshold(self, threshold: float) -> tuple[ThresholdCount, ...]:
        """Pass counts of ``similarity >= threshold`` for every series."""
        return tuple(
            ThresholdCount(s.name, threshold, s.passing(threshold), s.values.size)
            for s in self.series
        )


def shared_histogram(samples: Mapping[str, np.ndarray], bins: int = 40) -> SharedHistogram:
    """Bin each named sample of similarities on one axis from ``min(0, lowest value)`` to
    ``max(1, highest value)``, so that models with different ranges can be compared."""
    if not samples:
        raise ExplorerError("No similarities to bin: choose at least one model.")
    if bins < 1:
        raise ExplorerError(f"bins={bins}: use at least 1 bin.")
    arrays = {}
    for name, values in samples.items():
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.size == 0:
            raise ExplorerError(f"{name} has no similarities to bin: the dataset has one item.")
        if not np.all(np.isfinite(arr)):
            raise ExplorerError(f"{name}'s similarities contain NaN or infinity.")
        arrays[name] = arr
    lo = min(0.0, min(float(a.min()) for a in arrays.values()))
    hi = max(1.0, max(float(a.max()) for a in arrays.values()))
    edges = np.linspace(lo, hi, bins + 1)
    series = tuple(
        Distribution(name, arr, np.histogram(arr, bins=edges)[0]) for name, arr in arrays.items()
    )
    return SharedHistogram(edges, series)


# ---------------------------------------------------------------- metrics on real data


@dataclass(frozen=True)
class MetricRanking:
    """A target's top-k under one metric, compared with its top-k under cosine."""

    metric: Metric
    result: SearchResult
    comparison: RankComparison


def rank_by_metrics(
    query: np.ndarray | list,
    corpus: np.ndarray | list,
    k: int,
    exclude: int | None = None,
    labels: Sequence[str] | Mapping[Hashable, str] | None = None,
    metrics: Sequence[str | Metric] = tuple(Metric),
) -> tuple[MetricRanking, ...]:
    """Top-k of one ``query`` under every metric in ``metrics``, each marked against cosine
    (✅ same rank, ↕ moved, ❌ not in cosine's top-k). ``labels[id]`` names the items."""
    q = _one_row(query, "target vector")
    reference = exhaustive_search(q, corpus, k, Metric.COSINE, exclude)
    out = []
    for metric in (Metric.coerce(m) for m in metrics):
        result = (
            reference
            if metric is Metric.COSINE
            else exhaustive_search(q, corpus, k, metric, exclude)
        )
        comparison = compare_rankings(reference.ids[0].tolist(), result.ids[0].tolist(), labels)
        out.append(MetricRanking(metric, result, comparison))
    return tuple(out)


@dataclass(frozen=True)
class UnitCheck:
    """The live check of "on unit vectors, cosine = dot and the euclidean ranking is the
    cosine ranking", over ``queries`` items each ranked against all others.

    ``max_norm_error``: largest ``| |v| - 1 |``. ``max_cos_dot_gap``: largest
    ``|cos(u, v) - u·v|`` over the pairs scored. ``same_ranking``: share of queries whose
    euclidean top-k equals their cosine top-k, in order. ``overlap``: mean share of the
    cosine top-k that the euclidean top-k also contains.
    """

    items: int
    queries: int
    k: int
    max_norm_error: float
    max_cos_dot_gap: float
    same_ranking: float
    overlap: float

    @property
    def unit_length(self) -> bool:
        return self.max_norm_error <= UNIT_TOLERANCE

    @property
    def cosine_is_dot(self) -> bool:
        return self.max_cos_dot_gap <= UNIT_TOLERANCE

    @property
    def holds(self) -> bool:
        """Both halves of the statement hold on these vectors."""
        return self.cosine_is_dot and self.same_ranking == 1.0


def check_query_ids(n: int, limit: int = MAX_CHECK_QUERIES) -> np.ndarray:
    """Which items the identity check uses as queries: all of them up to ``limit``, else
    ``limit`` evenly spaced ones."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def check_unit_identities(vectors: np.ndarray | list, k: int = 10) -> UnitCheck:
    """Check on ``vectors`` ``(n, d)`` whether cosine equals dot and whether ranking by
    euclidean distance gives the cosine top-k, every item (up to ``MAX_CHECK_QUERIES``)
    against all the others."""
    data = as_matrix(vectors).astype(np.float64)
    n = data.shape[0]
    check_k(k, n - 1, "other items")
    ids = check_query_ids(n)
    queries = data[ids]
    by_cosine = exhaustive_search(queries, data, k, Metric.COSINE, exclude=ids)
    by_euclid = exhaustive_search(queries, data, k, Metric.EUCLIDEAN, exclude=ids)
    gap = np.abs(cosine_similarity(queries, data) - dot(queries, data)).max()
    norm_error = np.abs(np.linalg.norm(data, axis=1) - 1.0).max()
    same = (by_cosine.ids == by_euclid.ids).all(axis=1).mean()
    return UnitCheck(
        items=n,
        queries=int(ids.size),
        k=k,
        max_norm_error=float(norm_error),
        max_cos_dot_gap=float(gap),
        same_ranking=float(same),
        overlap=recall_at_k(by_cosine.ids, by_euclid.ids),
    )


@runtime_checkable
class PoolingModel(Protocol):
    """A model that can return its vectors before the final normalisation (MiniLM)."""

    name: str

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]: ...

    def pooled(self, ids: Sequence[Sequence[int]]) -> np.ndarray: ...


def _pooling(model: object) -> PoolingModel:
    """``model`` as a :class:`PoolingModel`, or an error naming it."""
    if not isinstance(model, PoolingModel):
        name = getattr(model, "name", type(model).__name__)
        raise ExplorerError(
            f"{name} does not expose its vectors before normalisation; use {RAW_MODEL}."
        )
    return model


def unnormalized_vectors(model: object, texts: Sequence[str]) -> np.ndarray:
    """The model's mean-pooled vectors of ``texts`` without their final L2 normalisation,
    float32 ``(n, dims)``: a real example of embeddings that are not unit length."""
    pooling = _pooling(model)
    if not texts:
        raise ExplorerError("No texts to embed: the dataset is empty.")
    log.info("Embedding %d texts with %s without normalisation", len(texts), pooling.name)
    return np.asarray(pooling.pooled(pooling.token_ids(list(texts))), dtype=np.float32)


class _Unnormalized(Embedder):
    """A pooling embedder's vectors before their final normalisation, as an embedder named
    ``<model>-unnormalized`` with the model's version and dims: the vector disk cache
    (:mod:`core.vectors`) then keeps them by content, apart from the model's unit vectors."""

    normalized = False

    def __init__(self, model: Embedder) -> None:
        self.model = _pooling(model)
        self.name = f"{model.name}-unnormalized"
        self.dims, self.version, self.max_tokens = model.dims, model.version, model.max_tokens

    def _embed(self, texts: list[str]) -> np.ndarray:
        return unnormalized_vectors(self.model, texts)


def dataset_unnormalized(dataset: Dataset, model: Embedder, root: Path | None = None) -> np.ndarray:
    """Every text of ``dataset`` as ``model``'s vector before normalisation, float32
    ``(len(dataset), dims)``: read from the vector disk cache under ``root`` (keyed by the
    texts' fingerprint and the model's name, version and dims), else embedded and stored."""
    if not len(dataset):
        raise ExplorerError("No texts to embed: the dataset is empty.")
    return embed_dataset(dataset, _Unnormalized(model), root)


def main(argv: Sequence[str] | None = None) -> None:
    """Store the bundled datasets' unnormalised :data:`RAW_MODEL` vectors (``python -m
    core.similarity``), so the Metrics page's unit-length check reads them from disk on a
    fresh server. Vectors already stored are read, not recomputed."""
    from core.embedders.registry import get_embedder

    parser = argparse.ArgumentParser(description="Precompute the unnormalised vectors.")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), help="default: all")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model = get_embedder(RAW_MODEL)
    for name in args.datasets:
        for dataset in {load_dataset(name, field) for field in TextField}:
            start = time.perf_counter()
            dataset_unnormalized(dataset, model)
            log.info("%s unnormalised: %.1f s", dataset.name, time.perf_counter() - start)


if __name__ == "__main__":  # pragma: no cover - the set-up step, tested through main()
    main()
