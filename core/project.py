"""Project embeddings to 2-D or 3-D for plotting, and say how faithful the picture is.

Neighbourhoods in the original space are cosine neighbourhoods (embeddings are compared by
angle), both for t-SNE/UMAP and for the trustworthiness score. For unit-length vectors this
is the same as Euclidean.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness

from core.errors import ExplorerError
from core.metrics import as_matrix
from core.modes import Mode

log = logging.getLogger(__name__)

# Neighbours per point in the trustworthiness score (sklearn's default).
TRUST_NEIGHBORS = 5
# Trustworthiness sorts an (n, n) distance matrix; above this many points, score a sample.
TRUST_SAMPLE = 2000
# t-SNE's usual default; smaller datasets get (n - 1) / 3, see `_perplexity`.
DEFAULT_PERPLEXITY = 30.0
# Inputs whose largest value is outside this range are rescaled first: t-SNE squares
# distances in float32 (1e30 overflows, 1e-30 underflows) and crashes on NaN.
SAFE_SCALE = (1e-6, 1e6)
# t-SNE and UMAP fit at most this many rows (a seeded random sample above it); they run on
# demand in a child process with progress and Cancel, so a cap only bounds the wait.
# `python -m bench.bench_project`, MiniLM vectors of generated sentences, seconds a user
# waits on the 2 cores, quiet (1-min load 0.2-4) / shared with a soak (load 7-13):
# UMAP 11 / 55 at 10k, 69 / 308 at 100k (trustworthiness 0.93, 0.96), so its cap is the 100k
# the map draws; UMAP on a PCA-50 reduction was no cure (trustworthiness 0.91 against 0.93
# at 10k). t-SNE (scikit-learn's Barnes-Hut, 1000 iterations) 43 / 393 at 10k, 711 / over
# 900 at 100k (trustworthiness 0.95, as UMAP's in a tenth of the time): 10k, about as long
# as UMAP's 100k, and UMAP for more. PCA fits every row: 0.14 / 2.5 at 10k, 1.6 / 20 at 100k.
MAX_ROWS = {"pca": None, "tsne": 10_000, "umap": 100_000}

# UMAP's neighbours are searched exactly (blocks of BLAS products, exact_knn) up to this many
# rows, by pynndescent's approximate descent above. The descent's compiled functions take
# other compiled functions as arguments, so numba cannot cache them on disk: every new
# process (every UMAP child) compiles them first, 60-90 s at 1-min load 7-10 before a 0.4 s
# search of 5k rows. UMAP in a new process, exact against descent: 9.9 s against 26.7 s at
# 10k (quiet), 41 s against 180-311 s at 10k (load 8-12), 92 s against 117 s at 40k (load
# 6-7), 75 s against 49 s at 60k (load 7 against 4); trustworthiness the same to 0.002.
EXACT_KNN_ROWS = 40_000
KNN_BLOCK_BYTES = 64 << 20  # exact_knn's working memory per block of rows

# A progress report: what is happening now and the share of the job done (0..1).
Progress = Callable[[str, float], None]


class Projection(Mode):
    """A way to flatten vectors to 2-D/3-D. UMAP works only if ``umap-learn`` is installed."""

    PCA = "pca"
    TSNE = "tsne"
    UMAP = "umap"


def available_projections() -> list[Projection]:
    """The projections that work on this machine, in menu order."""
    # find_spec avoids importing umap, whose import compiles numba code for seconds.
    has_umap = importlib.util.find_spec("umap") is not None
    return [p for p in Projection if p is not Projection.UMAP or has_umap]


@dataclass(frozen=True)
class ProjectionResult:
    """Low-dimensional coordinates of every input row, and how trustworthy they are.

    ``coords``: float64 ``(n, n_components)``. ``explained_variance``: PCA's share of the
    variance kept per component (0..1), None for other methods. ``trustworthiness``: 0..1,
    1 when every point's ``n_neighbors`` nearest neighbours in the picture are also near it in
    the original space (Venna & Kaski; sklearn). ``perplexity``: the value t-SNE used.
    ``note``: what a reader should know about a degenerate input (e.g. identical vectors).
    """

    coords: np.ndarray
    method: Projection
    explained_variance: tuple[float, ...] | None
    trustworthiness: float
    n_neighbors: int
    perplexity: float | None = None
    note: str = ""
    rows: np.ndarray | None = None
    """Dataset rows the coordinates belong to (int64, sorted) when only a sample was
    projected; None when every row was."""


def _perplexity(requested: float | None, n: int) -> float:
    if requested is None:
        # About a third of the other points, so small datasets still get a spread picture.
        return min(DEFAULT_PERPLEXITY, max(1.0, (n - 1) / 3))
    if not requested > 0:
        raise ExplorerError(f"Perplexity {requested} must be greater than 0.")
    if requested >= n:
        # t-SNE needs perplexity < n: it is roughly the number of neighbours each point has.
        log.info("Perplexity %s clamped to %s for %s points.", requested, n - 1, n)
        return float(n - 1)
    return float(requested)


def _trustworthiness(vectors: np.ndarray, coords: np.ndarray, seed: int) -> tuple[float, int]:
    n = vectors.shape[0]
    if n > TRUST_SAMPLE:
        keep = np.random.default_rng(seed).choice(n, TRUST_SAMPLE, replace=False)
        vectors, coords, n = vectors[keep], coords[keep], TRUST_SAMPLE
    # sklearn requires n_neighbors < n / 2.
    k = min(TRUST_NEIGHBORS, (n - 1) // 2)
    return float(trustworthiness(vectors, coords, n_neighbors=k, metric="cosine")), k


def _cache_umap_functions() -> int:
    """Let numba keep umap's compiled functions on disk, as pynndescent's already are: umap
    compiles its own (layout, distances, fuzzy set) afresh in every process, about ten
    seconds before the first map. Returns how many functions now use the cache; those
    already compiled, or with nowhere writable to cache (numba tries the package folder, then
    ``NUMBA_CACHE_DIR`` or the user's cache folder), stay as they were. (pynndescent's
    neighbour descent takes other compiled functions as arguments, which numba cannot look
    up in its cache: it compiles in every process, see :data:`EXACT_KNN_ROWS`.)"""
    from numba.core.dispatcher import Dispatcher

    cached = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("umap.") or module is None:
            continue
        for value in list(vars(module).values()):
            if not isinstance(value, Dispatcher) or value.__module__ != name:
                continue
            if type(getattr(value, "_cache", None)).__name__ != "NullCache":
                cached += 1
            elif not value.overloads:
                try:
                    value.enable_caching()
                except RuntimeError:  # no writable cache location for this function
                    continue
                cached += 1
    return cached


def exact_knn(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows by cosine distance, itself first, by brute force in
    blocks of at most :data:`KNN_BLOCK_BYTES` (one row at least): int64 indices and
    float32 distances (1 - cosine, at least 0), both ``(n, k)``, nearest first. A zero row
    is at distance 1 from every other."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    n = unit.shape[0]
    if not 1 <= k <= n:
        raise ExplorerError(f"k = {k} neighbours for {n} rows: give 1 to {n}.")
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    # Rows per block: its float32 similarities and argpartition's int64 indices, 12 B each.
    block = max(1, KNN_BLOCK_BYTES // (12 * n))
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        negated = unit[rows] @ unit.T
        np.negative(negated, out=negated)  # in place: argpartition then needs no copy
        negated[np.arange(rows.size), rows] = -np.inf  # itself first, whatever its norm
        top = np.argpartition(negated, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(negated, top, axis=1), axis=1, kind="stable")
        indices[rows] = np.take_along_axis(top, order, axis=1)
        nearest = -np.take_along_axis(negated, indices[rows], axis=1)
        distances[rows] = np.maximum(1.0 - nearest, 0.0)
        distances[rows, 0] = 0.0
    return indices, distances


def _umap(vectors: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    if Projection.UMAP not in available_projections():
        raise ExplorerError(
            "UMAP needs the umap-learn package, which is not installed: "
            "pip install umap-learn, or choose pca or tsne."
        )
    import umap  # slow import (numba), so only when asked for

    _cache_umap_functions()

    n = vectors.shape[0]
    k = min(15, n - 1)
    # Up to EXACT_KNN_ROWS the neighbours come from exact_knn, so UMAP skips its own search
    # (force_approximation_algorithm only turns off its dense path for < 4,096 rows).
    knn = exact_knn(vectors, k) if n <= EXACT_KNN_ROWS else None
    # The spectral start solves for n_components + 1 eigenvectors, which needs more points.
    init = "spectral" if n > n_components + 2 else "random"
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=k,
        metric="cosine",
        init=init,
        random_state=seed,
        n_jobs=1,
        precomputed_knn=(None, None) if knn is None else knn,
        force_approximation_algorithm=knn is not None,
    )
    with warnings.catch_warnings():
        # Small datasets make UMAP warn about graph connectivity; the picture is still valid.
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(reducer.fit_transform(vectors), dtype=np.float64)


def project(
    vectors: np.ndarray | list,
    method: str | Projection,
    n_components: int = 2,
    seed: int = 0,
    perplexity: float | None = None,
) -> ProjectionResult:
    """Project ``(n, d)`` vectors to ``(n, n_components)`` with PCA, t-SNE or UMAP.

    The same inputs and ``seed`` give the same coordinates. ``perplexity`` applies to t-SNE
    only (default about (n - 1) / 3, at most 30; values >= n are clamped to n - 1).
    """
    method = Projection.coerce(method)
    x = as_matrix(vectors).astype(np.float64)
    n, d = x.shape
    if n < 3:
        raise ExplorerError(
            f"A projection needs at least 3 vectors to show how they relate; got {n}."
        )
    if n_components not in (2, 3):
        raise ExplorerError(f"n_components must be 2 or 3 (a plot), got {n_components!r}.")
    if d < n_components:
        raise ExplorerError(
            f"The vectors have {d} dimensions; a {n_components}-D projection needs at least "
            f"{n_components}."
        )
    if not np.ptp(x, axis=0).any():
        # No spread to show (and sklearn's t-SNE crashes the process on it): one point.
        return ProjectionResult(
            coords=np.zeros((n, n_components)),
            method=method,
            explained_variance=(0.0,) * n_components if method is Projection.PCA else None,
            trustworthiness=1.0,
            n_neighbors=min(TRUST_NEIGHBORS, (n - 1) // 2),
            note=f"All {n} vectors are identical, so they are drawn as one point at the "
            "origin; there is no variance for the axes to keep.",
        )
    scale = float(np.max(np.abs(x)))
    rescaled = not SAFE_SCALE[0] <= scale <= SAFE_SCALE[1]
    if rescaled:
        # Neither angles nor PCA's shares of variance change with one common factor.
        x = x / scale
    explained: tuple[float, ...] | None = None
    used_perplexity: float | None = None
    if method is Projection.PCA:
        pca = PCA(n_components=n_components, random_state=seed)
        coords = pca.fit_transform(x)
        explained = tuple(float(r) for r in pca.explained_variance_ratio_)
    elif method is Projection.TSNE:
        used_perplexity = _perplexity(perplexity, n)
        coords = TSNE(
            n_components=n_components,
            perplexity=used_perplexity,
            metric="cosine",
            init="pca",
            learning_rate="auto",
            random_state=seed,
        ).fit_transform(x)
    else:
        coords = _umap(x, n_components, seed)
    coords = np.asarray(coords, dtype=np.float64)
    trust, k = _trustworthiness(x, coords, seed)
    if rescaled and method is Projection.PCA:
        coords = coords * scale  # PCA's axes stay in the vectors' own units
    return ProjectionResult(
        coords=coords,
        method=method,
        explained_variance=explained,
        trustworthiness=trust,
        n_neighbors=k,
        perplexity=used_perplexity,
    )


def project_bounded(
    vectors: np.ndarray | list,
    method: str | Projection,
    n_components: int = 2,
    seed: int = 0,
    max_rows: int | None = None,
    progress: Progress | None = None,
) -> ProjectionResult:
    """:func:`project`, fitting t-SNE and UMAP on a seeded random sample of at most
    ``max_rows`` rows (default :data:`MAX_ROWS` of the method); ``rows`` of the result then
    names the sampled rows. ``progress`` hears what is being done."""
    method = Projection.coerce(method)
    x = as_matrix(vectors)
    cap = MAX_ROWS[method.value] if max_rows is None else max_rows
    report = progress or (lambda _text, _share: None)
    rows: np.ndarray | None = None
    if cap is not None and x.shape[0] > cap:
        if cap < 3:
            raise ExplorerError(f"max_rows must be at least 3, got {cap}.")
        rows = np.sort(np.random.default_rng(seed).choice(x.shape[0], cap, replace=False))
        x = x[rows]
    name = {Projection.PCA: "PCA", Projection.TSNE: "t-SNE", Projection.UMAP: "UMAP"}[method]
    report(f"{name} of {x.shape[0]:,} vectors…", 0.05)
    start = time.perf_counter()
    result = project(x, method, n_components=n_components, seed=seed)
    report(f"{name} done in {time.perf_counter() - start:.1f} s", 1.0)
    return replace(result, rows=rows)


def warm_up() -> float:
    """Compile umap's numba functions into the on-disk cache by projecting a small random
    set to 2-D and 3-D; returns the seconds it took (a second call only loads the cache)."""
    start = time.perf_counter()
    if Projection.UMAP in available_projections():
        x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
        for n_components in (2, 3):
            project(x, Projection.UMAP, n_components=n_components)
    return time.perf_counter() - start


if __name__ == "__main__":  # pragma: no cover - the set-up step, run by `make install`
    logging.basicConfig(level=logging.INFO)
    log.info("umap's functions compiled or loaded from numba's cache in %.1f s", warm_up())
