"""Large corpora for measuring search at scale: synthetic clusters or a small matrix tiled
with noise, generated a chunk at a time, with progress reports and a cancel check.

Every long step takes ``progress(fraction, text)`` and polls ``should_stop()``; a True from
it raises :class:`Cancelled`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import ExplorerError
from core.metrics import as_matrix, check_nonzero_rows

Progress = Callable[[float, str], None]
ShouldStop = Callable[[], bool]

MIN_N = 100
MAX_N = 10_000_000
# Rows generated, quantized or packed at a time: bounds the temporaries of every step.
CHUNK_ROWS = 16_384


class Cancelled(Exception):
    """A long step (making a corpus, a lab run) stopped because its cancel check said so."""


def check_stop(should_stop: ShouldStop | None) -> None:
    """Raise :class:`Cancelled` when ``should_stop()`` says so."""
    if should_stop is not None and should_stop():
        raise Cancelled("The build was cancelled.")


def check_size(n: int, dims: int, n_queries: int) -> None:
    """Raise unless ``MIN_N <= n <= MAX_N`` and ``dims`` and ``n_queries`` are at least 1."""
    if not MIN_N <= n <= MAX_N:
        raise ExplorerError(f"N={n:,}: choose between {MIN_N:,} and {MAX_N:,} vectors.")
    if dims < 1 or n_queries < 1:
        raise ExplorerError(f"dims={dims}, queries={n_queries}: both must be at least 1.")


@dataclass(frozen=True)
class Corpus:
    """float32 unit ``vectors`` ``(n, d)`` to search and held-out ``queries`` ``(q, d)``
    drawn the same way."""

    vectors: np.ndarray
    queries: np.ndarray

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _around(
    centers: np.ndarray, picks: np.ndarray, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """``centers[picks] + noise * g / sqrt(d)`` (not normalised), g standard normal: the
    noise vector's length is about ``noise`` whatever the dimension."""
    dims = centers.shape[1]
    out = rng.standard_normal((len(picks), dims), dtype=np.float32)
    out *= np.float32(noise / math.sqrt(dims))
    out += centers[picks]
    return out


def _fill(
    n: int,
    dims: int,
    make: Callable[[int, int], np.ndarray],
    should_stop: ShouldStop | None,
    progress: Progress | None,
) -> np.ndarray:
    """An ``(n, dims)`` float32 matrix filled ``CHUNK_ROWS`` rows at a time by
    ``make(lo, hi)``."""
    out = np.empty((n, dims), dtype=np.float32)
    for lo in range(0, n, CHUNK_ROWS):
        check_stop(should_stop)
        hi = min(n, lo + CHUNK_ROWS)
        out[lo:hi] = make(lo, hi)
        if progress is not None:
            progress(hi / n, f"Generating vectors: {hi:,} of {n:,}")
    return out


def synthetic_corpus(
    n: int,
    dims: int,
    n_queries: int = 50,
    clusters: int | None = None,
    spread: float = 1.0,
    latent_dims: int = 16,
    noise: float = 0.2,
    seed: int = 0,
    should_stop: ShouldStop | None = None,
    progress: Progress | None = None,
) -> Corpus:
    """``n`` unit vectors in ``clusters`` (default ``n / 200``, at least 8) around random
    unit centers. Each is ``centre + spread * z B + noise * g / sqrt(dims)``, normalised:
    ``z`` is standard normal in ``latent_dims`` dimensions and ``B`` a fixed random basis
    scaled so ``|z B|`` is about 1, so that, as in real embeddings, a few directions decide
    who is near whom; the small isotropic ``g`` keeps every vector distinct. Queries are
    drawn the same way."""
    check_size(n, dims, n_queries)
    count = clusters if clusters is not None else max(8, n // 200)
    if count < 1 or spread < 0 or noise < 0 or latent_dims < 1:
        raise ExplorerError(
            f"clusters={count}, spread={spread}, noise={noise}, latent_dims={latent_dims}: "
            "use at least 1 cluster and latent dimension and no negative spread or noise."
        )
    rng = np.random.default_rng(seed)
    centers = _unit_rows(rng.standard_normal((count, dims), dtype=np.float32))
    basis = _unit_rows(rng.standard_normal((latent_dims, dims), dtype=np.float32))
    basis *= np.float32(spread / math.sqrt(latent_dims))

    def draw(m: int) -> np.ndarray:
        out = _around(centers, rng.integers(0, count, m), noise, rng)
        out += rng.standard_normal((m, latent_dims), dtype=np.float32) @ basis
        return _unit_rows(out)

    vectors = _fill(n, dims, lambda lo, hi: draw(hi - lo), should_stop, progress)
    return Corpus(vectors, draw(n_queries))


def tiled_corpus(
    base: np.ndarray,
    n: int,
    n_queries: int = 50,
    noise: float = 0.3,
    seed: int = 0,
    should_stop: ShouldStop | None = None,
    progress: Progress | None = None,
) -> Corpus:
    """``n`` vectors from an ``(m, d)`` ``base`` (a dataset's or an uploaded matrix): its
    first ``min(n, m)`` rows normalised, then noisy copies of row ``i % m`` (noise vector of
    length about ``noise``) up to ``n``. Queries are fresh noisy copies of random rows."""
    rows = as_matrix(base, "base vectors")
    check_size(n, rows.shape[1], n_queries)
    if rows.shape[0] == 0:
        raise ExplorerError("The base matrix has no rows: there is nothing to tile.")
    if noise <= 0:
        raise ExplorerError(f"noise={noise}: use a positive noise length, e.g. 0.3.")
    norms = np.linalg.norm(rows, axis=1)
    check_nonzero_rows(norms, "Base row {row} is a zero vector: it has no direction to tile.")
    unit = (rows / norms[:, np.newaxis]).astype(np.float32)
    m = unit.shape[0]
    rng = np.random.default_rng(seed)

    def make(lo: int, hi: int) -> np.ndarray:
        ids = np.arange(lo, hi)
        out = _unit_rows(_around(unit, ids % m, noise, rng))
        out[ids < m] = unit[ids[ids < m]]
        return out

    vectors = _fill(n, unit.shape[1], make, should_stop, progress)
    queries = _unit_rows(_around(unit, rng.integers(0, m, n_queries), noise, rng))
    return Corpus(vectors, queries)
