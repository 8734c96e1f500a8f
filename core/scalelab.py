"""The scale lab runner: build a large corpus and measure how each search method scales.

A lab run makes ``n`` unit vectors (the dataset's vectors tiled with noise, an uploaded
matrix, or synthetic clusters), estimates the memory it will need and refuses what would not
fit, then builds exhaustive float32, int8 + rescore, binary + rescore and HNSW search and
measures, for held-out queries:

- latency against N: the median time of one query at N = 1k, 2k, 5k, ... up to ``n``
  (prefixes of the corpus; HNSW is measured while its graph grows through those sizes);
- recall@k against latency at ``n``: HNSW's ``ef`` sweep and the rescoring factors;
- memory per method.

Every long step reports progress and polls a cancel check. The result holds numbers only, so
a page can cache it cheaply once the corpora are gone. The parts live with their concepts:
corpora and cancelling in :mod:`core.corpora`, memory estimates in :mod:`core.storage`,
chunked quantization in :mod:`core.quantize`, the growing HNSW graph in :mod:`core.search`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core import blas, kernels
from core.corpora import (
    Corpus,
    Progress,
    ShouldStop,
    check_size,
    check_stop,
    synthetic_corpus,
    tiled_corpus,
)
from core.errors import ExplorerError
from core.metrics import check_same_width
from core.modes import Mode
from core.quantize import Center, quantize_corpus, rescored_search
from core.search import (
    TALK_EF,
    TALK_EF_CONSTRUCTION,
    TALK_M,
    HnswIndex,
    Method,
    grow_hnsw,
    recall_at_k,
)
from core.storage import MemInfo, MemoryEstimate, check_fits, estimate_memory, read_meminfo
from core.topk import Search

log = logging.getLogger(__name__)


class Source(Mode):
    """Where the lab's vectors come from."""

    DATASET = "dataset"
    SYNTHETIC = "synthetic"
    UPLOAD = "upload"


SIZE_STEPS = (1, 2, 5)
# Rounds over the held-out queries at each measured point: at least one, more while they are
# quick, so that each query's fastest round leaves out the moments another process held the
# core (a 2-core machine shared by several users jitters by whole milliseconds).
MAX_ROUNDS = 5
MIN_SECONDS = 0.25


def size_ladder(n: int, start: int = 1000) -> tuple[int, ...]:
    """The N at which latency is measured: 1-2-5 steps from ``start`` below ``n``, then
    ``n`` itself (just ``n`` when ``n <= start``)."""
    sizes: list[int] = []
    decade = start
    while True:
        for step in SIZE_STEPS:
            size = step * decade
            if size >= n:
                return (*sizes, n)
            sizes.append(size)
        decade *= 10


@dataclass(frozen=True)
class LabConfig:
    """Everything that determines a lab run's numbers (and so its cache key).

    ``source_key`` names the base data (e.g. dataset fingerprint and model, or an upload's
    hash) for the dataset and upload sources. Each of the ``n_queries`` held-out queries is
    timed on its own, by the CPU time of one thread; recall@k is over all of them.
    ``oversample`` is the rescoring factor of the latency-against-N curves, ``hnsw_ef``
    HNSW's candidate list there (the HNSW defaults are the talk's). ``threads`` builds the
    HNSW graph.
    """

    n: int
    dims: int
    source: Source = Source.SYNTHETIC
    source_key: str = ""
    methods: tuple[Method, ...] = tuple(Method)
    n_queries: int = 50
    k: int = 10
    seed: int = 0
    noise: float = 0.3
    spread: float = 1.0
    hnsw_m: int = TALK_M
    hnsw_ef_construction: int = TALK_EF_CONSTRUCTION
    hnsw_ef: int = TALK_EF
    oversample: int = 4
    center: Center = Center.DIM_MEAN
    int8_per_dimension: bool = False
    threads: int = 2
    ef_sweep: tuple[int, ...] = (10, 20, 50, 100, 200, 400)
    oversample_sweep: tuple[int, ...] = (1, 2, 4, 8, 16)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Source.coerce(self.source))
        object.__setattr__(self, "center", Center.coerce(self.center))
        methods = tuple(dict.fromkeys(Method.coerce(m) for m in self.methods))
        if not methods:
            raise ExplorerError("Choose at least one method to build.")
        object.__setattr__(self, "methods", methods)
        check_size(self.n, self.dims, self.n_queries)
        if not 1 <= self.k <= self.n // 2:
            raise ExplorerError(f"k={self.k}: use 1 to {self.n // 2} for N = {self.n:,}.")
        if min(self.oversample, *self.oversample_sweep) < 1 or min(self.ef_sweep) < 1:
            raise ExplorerError(
                f"oversample={self.oversample}, sweep {self.oversample_sweep}, ef sweep "
                f"{self.ef_sweep}: every factor and ef must be at least 1."
            )
        if self.hnsw_m < 2 or self.hnsw_ef_construction < 1 or self.threads < 1:
            raise ExplorerError(
                f"hnsw_m={self.hnsw_m}, ef_construction={self.hnsw_ef_construction}, "
                f"threads={self.threads}: need M >= 2 and the others >= 1."
            )


@dataclass(frozen=True)
class LatencyPoint:
    """One method at one corpus size: median milliseconds per query and recall@k."""

    method: Method
    n: int
    ms: float
    recall: float


@dataclass(frozen=True)
class SweepPoint:
    """One setting of a method at the full size: ``setting`` is ``"ef"``,
    ``"oversample"`` or ``"exact"``, with its ``value``; median milliseconds per query and
    recall@k."""

    method: Method
    setting: str
    value: int
    ms: float
    recall: float


@dataclass(frozen=True)
class BuildStat:
    """How long a method took to build and what it holds, in bytes: its own structure
    (``index_bytes``; HNSW: hnswlib's serialised size, vectors included) and the float32
    vectors it reads to rescore (``rescore_bytes``)."""

    method: Method
    seconds: float
    index_bytes: int
    rescore_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.index_bytes + self.rescore_bytes


@dataclass(frozen=True)
class LabResult:
    """A finished lab run: the curves and the memory per method (numbers only)."""

    config: LabConfig
    estimate: MemoryEstimate
    latency: tuple[LatencyPoint, ...]
    sweep: tuple[SweepPoint, ...]
    builds: tuple[BuildStat, ...]
    seconds: float

    def curve(self, method: str | Method) -> tuple[LatencyPoint, ...]:
        """Latency against N of one method, smallest N first."""
        m = Method.coerce(method)
        return tuple(p for p in self.latency if p.method is m)

    def slower_than_exact(self, method: str | Method) -> tuple[int, ...]:
        """The N at which ``method``'s median query took longer than exhaustive float32's
        (empty when either was not measured)."""
        exact = {p.n: p.ms for p in self.curve(Method.EXACT)}
        return tuple(p.n for p in self.curve(method) if p.n in exact and p.ms > exact[p.n])

    def sweep_of(self, method: str | Method) -> tuple[SweepPoint, ...]:
        """The recall/latency sweep of one method, in setting order."""
        m = Method.coerce(method)
        return tuple(p for p in self.sweep if p.method is m)


def _timed(search: Search, queries: np.ndarray) -> tuple[float, np.ndarray]:
    """Time ``search`` on each query alone, on one thread: the median over the queries of
    each one's fastest round, in milliseconds of the thread's CPU time, and the ``(q, k)``
    ids of the first round.

    One warm-up call first (first touch of the corpus prefix, lazy imports), then rounds over
    all queries until :data:`MIN_SECONDS` of timing or :data:`MAX_ROUNDS`. One thread, timed
    by its CPU time: on a busy 2-core machine wall-clock times of the same search jumped
    3-5x at random (a 0.44 ms query took 2.5 ms; float32 zigzagged between N), while the
    searching thread's CPU time stayed within 10-20 %. BLAS is held to one thread, as a
    one-query matrix-vector product split over two threads waits for the second one; the
    compiled kernels (given one thread) and hnswlib (for one query) already run in the
    calling thread, so its CPU time is the whole search's.
    """
    with blas.one_thread():
        search(queries[:1])
        best = np.full(len(queries), np.inf)
        ids: list[np.ndarray] = []
        spent, rounds = 0.0, 0
        while rounds < MAX_ROUNDS and (rounds == 0 or spent < MIN_SECONDS):
            for i in range(len(queries)):
                start = time.thread_time()
                found = search(queries[i : i + 1])
                seconds = time.thread_time() - start
                best[i] = min(best[i], seconds)
                spent += seconds
                if rounds == 0:
                    ids.append(found)
            rounds += 1
    return 1000 * float(np.median(best)), np.vstack(ids)


class _Tracker:
    """Progress over weighted stages, and the cancel check polled at every step."""

    def __init__(
        self,
        weights: dict[str, float],
        progress: Progress | None,
        should_stop: ShouldStop | None,
    ) -> None:
        total, done = sum(weights.values()), 0.0
        self.spans: dict[str, tuple[float, float]] = {}
        for name, weight in weights.items():
            self.spans[name] = (done / total, weight / total)
            done += weight
        self.progress, self.should_stop = progress, should_stop
        self.span, self.done = (0.0, 1.0), 0.0

    def enter(self, stage: str) -> None:
        self.span = self.spans[stage]

    def step(self, fraction: float, text: str) -> None:
        """Poll the cancel check, then report ``fraction`` of the current stage as done."""
        check_stop(self.should_stop)
        if self.progress is not None:
            start, width = self.span
            # Never backwards, not even by a rounding error at a stage border.
            self.done = max(self.done, min(1.0, start + width * fraction))
            self.progress(self.done, text)


class _Run:
    """One lab run: the corpus, the exact answers at every size, and the points so far."""

    def __init__(self, config: LabConfig, corpus: Corpus, tracker: _Tracker) -> None:
        self.config, self.vectors, self.queries = config, corpus.vectors, corpus.queries
        self.ladder = size_ladder(config.n)
        self.tracker = tracker
        self.truth: dict[int, np.ndarray] = {}
        self.latency: list[LatencyPoint] = []
        self.sweep: list[SweepPoint] = []
        self.builds: list[BuildStat] = []

    def exact_answers(self) -> None:
        for i, size in enumerate(self.ladder):
            self.tracker.step(i / len(self.ladder), f"Exact answers at N = {size:,}")
            corpus = self.vectors[:size]
            self.truth[size] = kernels.top_k_float32(self.queries, corpus, self.config.k).ids

    def point(self, method: Method, size: int, search: Search) -> None:
        """Time every query alone at corpus size ``size``; record latency and recall."""
        ms, found = _timed(search, self.queries)
        self.latency.append(LatencyPoint(method, size, ms, recall_at_k(self.truth[size], found)))

    def along_ladder(
        self, method: Method, search_at: Callable[[int], Search], start: float
    ) -> None:
        """:meth:`point` at every ladder size; ``start`` is the stage's fraction done so far."""
        for i, size in enumerate(self.ladder):
            fraction = start + (1 - start) * i / len(self.ladder)
            self.tracker.step(fraction, f"{method.value}: N = {size:,}")
            self.point(method, size, search_at(size))

    def sweep_point(self, method: Method, setting: str, value: int, search: Search) -> None:
        """Time and score one setting at the full size."""
        self.tracker.step(1.0, f"{method.value}: {setting} = {value}")
        ms, found = _timed(search, self.queries)
        recall = recall_at_k(self.truth[self.config.n], found)
        self.sweep.append(SweepPoint(method, setting, value, ms, recall))


def run_lab(
    config: LabConfig,
    base: np.ndarray | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    mem: MemInfo | None = None,
) -> LabResult:
    """Build and measure everything ``config`` asks for.

    ``base`` is the ``(m, dims)`` matrix to tile for the dataset and upload sources.
    ``progress(fraction, text)`` is called as the run advances; ``should_stop()`` is polled
    at every step and makes the run raise :class:`Cancelled` when it returns True. Refuses
    (raises :class:`ExplorerError` with the numbers) before allocating anything when the
    estimate does not fit ``mem`` (default: this machine's ``/proc/meminfo``).
    """
    started = time.perf_counter()
    estimate = estimate_memory(config.n, config.dims, config.methods, config.hnsw_m)
    check_fits(estimate, mem if mem is not None else read_meminfo())
    synthetic = config.source is Source.SYNTHETIC
    if not synthetic:
        if base is None:
            raise ExplorerError(f"The {config.source.value} source needs its base vectors.")
        check_same_width(
            int(np.shape(base)[-1]),
            config.dims,
            "The base vectors have {a} dimensions but the lab was set up for {b}.",
        )
    # Stage weights follow their usual share of the run time; HNSW's build dominates.
    weights = {"corpus": 1.0, "truth": 1.0, Method.EXACT.value: 1.0}
    weights |= {m.value: 2.0 for m in config.methods if m in (Method.INT8, Method.BINARY)}
    weights |= {Method.HNSW.value: 8.0} if Method.HNSW in config.methods else {}
    tracker = _Tracker(weights, progress, should_stop)

    tracker.enter("corpus")
    if synthetic or base is None:
        corpus = synthetic_corpus(
            config.n,
            config.dims,
            config.n_queries,
            spread=config.spread,
            seed=config.seed,
            should_stop=should_stop,
            progress=tracker.step,
        )
    else:
        corpus = tiled_corpus(
            base,
            config.n,
            config.n_queries,
            noise=config.noise,
            seed=config.seed,
            should_stop=should_stop,
            progress=tracker.step,
        )
    run = _Run(config, corpus, tracker)
    tracker.enter("truth")
    run.exact_answers()

    tracker.enter(Method.EXACT.value)
    run.builds.append(BuildStat(Method.EXACT, 0.0, run.vectors.nbytes, 0))
    run.along_ladder(Method.EXACT, lambda size: _exact_search(run, size), 0.0)
    last = run.latency[-1]
    run.sweep.append(SweepPoint(Method.EXACT, "exact", 1, last.ms, last.recall))
    for method in (Method.INT8, Method.BINARY):
        if method in config.methods:
            tracker.enter(method.value)
            _measure_quantized(run, method)
    if Method.HNSW in config.methods:
        tracker.enter(Method.HNSW.value)
        _build_and_measure_hnsw(run)
    if progress is not None:
        progress(1.0, "Done")
    return LabResult(
        config,
        estimate,
        tuple(run.latency),
        tuple(run.sweep),
        tuple(run.builds),
        time.perf_counter() - started,
    )


def _exact_search(run: _Run, size: int) -> Search:
    def search(q: np.ndarray) -> np.ndarray:
        return kernels.top_k_float32(q, run.vectors[:size], run.config.k).ids

    return search


def _measure_quantized(run: _Run, method: Method) -> None:
    """Build the codes; latency against N at the configured oversampling, then the sweep."""
    config = run.config
    codes = quantize_corpus(
        run.vectors,
        method,
        config.center,
        config.int8_per_dimension,
        1,  # one query, one thread, as every method is timed
        lambda fraction, text: run.tracker.step(0.5 * fraction, text),
    )
    run.builds.append(BuildStat(method, codes.seconds, codes.nbytes, run.vectors.nbytes))
    run.along_ladder(
        method,
        lambda size: rescored_search(run.vectors, codes, config.k, config.oversample, size),
        0.5,
    )
    for f in config.oversample_sweep:
        search = rescored_search(run.vectors, codes, config.k, f)
        run.sweep_point(method, "oversample", f, search)


def _hnsw_search(index: HnswIndex, k: int, ef: int) -> Search:
    def search(q: np.ndarray) -> np.ndarray:
        return index.search(q, k, ef).ids

    return search


def _build_and_measure_hnsw(run: _Run) -> None:
    """Insert the vectors in order, in batches, measuring at each ladder size on the way."""
    config, n, k = run.config, len(run.vectors), run.config.k

    def progress(inserted: int, seconds: float) -> None:
        run.tracker.step(inserted / n, f"HNSW: {inserted:,} of {n:,} inserted ({seconds:,.0f} s)")

    grown = grow_hnsw(
        run.vectors,
        run.ladder,
        M=config.hnsw_m,
        ef_construction=config.hnsw_ef_construction,
        seed=config.seed + 100,
        threads=config.threads,
        progress=progress,
    )
    for index in grown:
        run.point(Method.HNSW, index.count, _hnsw_search(index, k, config.hnsw_ef))
    run.builds.append(BuildStat(Method.HNSW, index.build_seconds, index.nbytes, 0))
    for ef in config.ef_sweep:
        run.sweep_point(Method.HNSW, "ef", ef, _hnsw_search(index, k, ef))
