"""The truncate -> quantize -> rescore sweep: recall@k of every cheap-first-stage pipeline.

A pipeline searches a cheap copy of the vectors first (truncated to fewer dimensions, stored
as int8 or bits), keeps ``k x oversample`` candidates, and rescores those candidates with the
original float vectors. Recall@k is measured with every dataset item as a query against all
the others (itself left out), against the exact cosine top-k of the original vectors.
Rankings here are by cosine, like :mod:`core.mrl`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import kernels, metrics, mrl, quantize, resultcache, search, storage, topk
from core.errors import ExplorerError
from core.metrics import Metric, as_matrix, normalize
from core.mrl import standard_dims, truncate_and_renormalize
from core.quantize import Center, CodeScore, Precision, QuantizedIndex, code_search
from core.search import exhaustive_search, leave_one_out_reference, recall_at_k
from core.storage import payload_bytes
from core.topk import check_k, top_k_ids

log = logging.getLogger(__name__)

# Precisions a pipeline's first stage can search: float32 (truncation only) or quantized.
PIPELINE_PRECISIONS = (Precision.FLOAT32, Precision.INT8, Precision.BINARY)
# Oversampling factors the MRL page offers: k x factor candidates go to the rescoring.
OVERSAMPLES = tuple(range(1, 11))
# k the pages start with, which the set-up step precomputes.
DEFAULT_K = 10

# Upper bound on the (queries x corpus) similarity block computed at once, in elements.
_SCORE_BLOCK = 1 << 22


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


def first_stage_candidates(
    vectors: np.ndarray | list,
    dims: int,
    precision: str | Precision,
    n_candidates: int,
    center: str | Center = Center.ZERO,
    per_dimension: bool = False,
    score: str | CodeScore = CodeScore.NATIVE,
) -> np.ndarray:
    """Every row's ``n_candidates`` nearest other rows, best first, ``(n, n_candidates)``, found
    on the first ``dims`` dimensions (re-normalised) stored at ``precision``.

    float32 searches by cosine; int8 codes (``per_dimension`` calibration or one global range)
    and bits above ``center`` rank by ``score``: natively (int8 dot product, Hamming distance)
    or by the cosine of the codes.
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
    index = QuantizedIndex.build(short, p, center, Metric.COSINE, per_dimension, score)
    return code_search(index, n_candidates, rows).ids


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
    score: str | CodeScore = CodeScore.NATIVE,
) -> list[PipelinePoint]:
    """Recall@k of every (dims, precision, oversample) pipeline over the ``(n, d)`` ``vectors``,
    each item a query against the others, rescoring with the full vectors.

    ``center``, ``per_dimension`` and ``score`` set up the quantized first stages as in
    :func:`first_stage_candidates`. Points come in the order dims, precision, oversample (each
    as given). One first-stage
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
            ranked = first_stage_candidates(items, dims, p, width, center, per_dimension, score)
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


def _point(row: dict[str, Any]) -> PipelinePoint:
    """A :class:`PipelinePoint` from its ``dataclasses.asdict`` JSON form."""
    return PipelinePoint(**{**row, "precision": Precision.coerce(row["precision"])})


# The MRL page's first stage quantizes as the talk's notebooks do: int8 from the global
# min/max, bits above the mean of all values, codes ranked by their cosine similarity.
TALK_CENTER = Center.MEAN
TALK_SCORE = CodeScore.COSINE


def standard_sweep(vectors: np.ndarray, k: int, root: Path | None = None) -> list[PipelinePoint]:
    """:func:`pipeline_points` of the ``(n, d)`` ``vectors`` at :func:`standard_dims`, every
    precision of :data:`PIPELINE_PRECISIONS` and every factor of :data:`OVERSAMPLES`, first
    stages quantized as the talk does (:data:`TALK_CENTER`, :data:`TALK_SCORE`): the MRL page's
    Full pipeline, read from the disk cache (``<cache>/results``) when computed before.
    """
    sizes = standard_dims(vectors.shape[1])
    return resultcache.cached_rows(
        "mrl-pipeline",
        vectors,
        {
            "k": k,
            "sizes": sizes,
            "precisions": PIPELINE_PRECISIONS,
            "oversamples": OVERSAMPLES,
            "center": TALK_CENTER,
            "score": TALK_SCORE,
        },
        (sys.modules[__name__], mrl, quantize, search, kernels, topk, metrics, storage),
        lambda: pipeline_points(
            vectors, k, sizes, PIPELINE_PRECISIONS, OVERSAMPLES, TALK_CENTER, score=TALK_SCORE
        ),
        _point,
        root,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Precompute the MRL page's recall curves and pipeline sweeps (``python -m
    core.pipeline``) for the bundled datasets under the local models at k = 10, so their
    first open reads them from disk. Results already cached are read, not recomputed."""
    from core.datasets import DATASETS, load_dataset
    from core.embedders.registry import LOCAL_FACTORIES, get_embedder
    from core.vectors import embed_dataset

    parser = argparse.ArgumentParser(description="Precompute the MRL page's sweeps.")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), help="default: all")
    parser.add_argument("--models", nargs="*", default=list(LOCAL_FACTORIES), help="default: all")
    parser.add_argument("-k", type=int, default=DEFAULT_K, help="neighbours (default 10)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in args.datasets:
        dataset = load_dataset(name)
        for model in args.models:
            start = time.perf_counter()
            try:
                vectors = embed_dataset(dataset, get_embedder(model))
                mrl.standard_curve(vectors, args.k)
                standard_sweep(vectors, args.k)
            except ExplorerError as exc:  # e.g. GloVe cannot embed made-up movie titles
                log.warning("%s under %s: skipped (%s)", name, model, exc)
                continue
            log.info("%s under %s: %.1f s", name, model, time.perf_counter() - start)


if __name__ == "__main__":  # pragma: no cover - the set-up step, tested through main()
    main()
