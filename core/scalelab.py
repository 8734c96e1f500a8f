"""The scale lab: build large corpora and measure how each search method scales.

A lab run makes ``n`` unit vectors (the dataset's vectors tiled with noise, an uploaded
matrix, or synthetic clusters), estimates the memory it will need and refuses what would not
fit, then builds exhaustive float32, int8 + rescore, binary + rescore and HNSW search and
measures, for held-out queries:

- latency against N: the median time of one query at N = 1k, 2k, 5k, ... up to ``n``
  (prefixes of the corpus; HNSW is measured while its graph grows through those sizes);
- recall@k against latency at ``n``: HNSW's ``ef`` sweep and the rescoring factors;
- memory per method.

Every long step reports progress and polls a cancel check. The result holds numbers only, so
a page can cache it cheaply once the corpora are gone.
"""

from __future__ import annotations

import io
import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import hnswlib
import numpy as np

from core import kernels
from core.errors import ExplorerError
from core.metrics import MAX_VALUE, MIN_ROW_VALUE, Metric, as_matrix, out_of_range
from core.modes import Mode
from core.quantize import Center, ScalarQuantizer, rescore, thresholds
from core.search import HnswIndex, recall_at_k

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
ShouldStop = Callable[[], bool]

MIN_N = 100
MAX_N = 10_000_000
# Rows generated, quantized or packed at a time: bounds the temporaries of every step.
CHUNK_ROWS = 16_384
MEMINFO = Path("/proc/meminfo")
GIB = 1 << 30


class Source(Mode):
    """Where the lab's vectors come from."""

    DATASET = "dataset"
    SYNTHETIC = "synthetic"
    UPLOAD = "upload"


class Method(Mode):
    """A search method the lab builds and measures."""

    EXACT = "exhaustive float32"
    INT8 = "int8 + rescore"
    BINARY = "binary + rescore"
    HNSW = "HNSW"


class Cancelled(Exception):
    """A lab run stopped because its cancel check said so."""


# --------------------------------------------------------------------------- corpora


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
    centres: np.ndarray, picks: np.ndarray, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """``centres[picks] + noise * g / sqrt(d)`` (not normalised), g standard normal: the
    noise vector's length is about ``noise`` whatever the dimension."""
    dims = centres.shape[1]
    out = rng.standard_normal((len(picks), dims), dtype=np.float32)
    out *= np.float32(noise / math.sqrt(dims))
    out += centres[picks]
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
        _check_stop(should_stop)
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
    unit centres. Each is ``centre + spread * z B + noise * g / sqrt(dims)``, normalised:
    ``z`` is standard normal in ``latent_dims`` dimensions and ``B`` a fixed random basis
    scaled so ``|z B|`` is about 1, so that, as in real embeddings, a few directions decide
    who is near whom; the small isotropic ``g`` keeps every vector distinct. Queries are
    drawn the same way."""
    _check_size(n, dims, n_queries)
    count = clusters if clusters is not None else max(8, n // 200)
    if count < 1 or spread < 0 or noise < 0 or latent_dims < 1:
        raise ExplorerError(
            f"clusters={count}, spread={spread}, noise={noise}, latent_dims={latent_dims}: "
            "use at least 1 cluster and latent dimension and no negative spread or noise."
        )
    rng = np.random.default_rng(seed)
    centres = _unit_rows(rng.standard_normal((count, dims), dtype=np.float32))
    basis = _unit_rows(rng.standard_normal((latent_dims, dims), dtype=np.float32))
    basis *= np.float32(spread / math.sqrt(latent_dims))

    def draw(m: int) -> np.ndarray:
        out = _around(centres, rng.integers(0, count, m), noise, rng)
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
    _check_size(n, rows.shape[1], n_queries)
    if rows.shape[0] == 0:
        raise ExplorerError("The base matrix has no rows: there is nothing to tile.")
    if noise <= 0:
        raise ExplorerError(f"noise={noise}: use a positive noise length, e.g. 0.3.")
    norms = np.linalg.norm(rows, axis=1)
    if (norms == 0).any():
        raise ExplorerError(
            f"Base row {int(np.flatnonzero(norms == 0)[0])} is a zero vector: it has no "
            "direction to tile."
        )
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


# What a .npy dtype kind holds, for the message refusing it.
_NPY_KINDS = {
    "c": "complex numbers (a vector's values must be real: save the real part)",
    "U": "text",
    "S": "bytes",
    "V": "records (a structured dtype)",
    "O": "Python objects",
    "M": "dates",
    "m": "time spans",
}


def _npy_header(buf: io.BytesIO, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from a .npy header; nothing after it is read."""
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(buf)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(buf)
        raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
    except Exception as exc:  # noqa: BLE001 - numpy parses the header with tokenize and ast,
        # whose errors on a junk header (TokenError, SyntaxError...) are not all ValueError.
        raise ExplorerError(f"{name} is not a readable .npy file ({exc}).") from None


def load_matrix(data: bytes, name: str = "upload") -> np.ndarray:
    """An uploaded ``.npy`` file as a finite float32 ``(m, d)`` matrix.

    The header is checked before any data is read: real numbers (bool, int or float), two
    non-empty dimensions, and exactly the bytes its shape announces (a forged header cannot
    make this allocate more than the file). Pickles are never loaded.
    """
    buf = io.BytesIO(data)
    shape, fortran, dtype = _npy_header(buf, name)
    if dtype.hasobject or dtype.kind not in "biuf":
        what = _NPY_KINDS.get(dtype.kind, f"dtype {dtype}")
        raise ExplorerError(f"{name} holds {what}; upload a matrix of real numbers.")
    if len(shape) != 2 or min(shape) <= 0:
        raise ExplorerError(f"{name} holds shape {shape}; upload one (rows, dims) matrix.")
    expected = math.prod(shape) * dtype.itemsize
    body = len(data) - buf.tell()
    if body != expected:
        raise ExplorerError(
            f"{name}'s header announces a {shape[0]:,} × {shape[1]:,} matrix of {dtype} "
            f"({expected:,} bytes) but the file holds {body:,} bytes of data: it is truncated "
            "or not a .npy file."
        )
    arr = np.frombuffer(data, dtype=dtype, offset=buf.tell()).reshape(
        shape, order="F" if fortran else "C"
    )
    matrix = as_matrix(arr.astype(np.float32) if dtype.kind == "b" else arr, name)
    with np.errstate(over="ignore"):
        out = matrix.astype(np.float32)
    where = out_of_range(out)  # float32 overflow (inf) included
    if where is not None:
        i, j = where
        raise ExplorerError(
            f"{name} row {i} value {j + 1} is {float(matrix[i, j]):g}: out of range for "
            f"float32 search (values up to ±{MAX_VALUE:g}, and not every value of a row below "
            f"{MIN_ROW_VALUE:g}); divide the matrix by one common factor."
        )
    return out


def _check_size(n: int, dims: int, n_queries: int) -> None:
    if not MIN_N <= n <= MAX_N:
        raise ExplorerError(f"N={n:,}: choose between {MIN_N:,} and {MAX_N:,} vectors.")
    if dims < 1 or n_queries < 1:
        raise ExplorerError(f"dims={dims}, queries={n_queries}: both must be at least 1.")


# --------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class MemInfo:
    """The machine's memory in bytes, from ``/proc/meminfo``."""

    total: int
    available: int

    @property
    def reserve(self) -> int:
        """Kept free for the server and other users: a fifth of the total, at least 1 GiB."""
        return max(GIB, self.total // 5)

    @property
    def budget(self) -> int:
        """What one lab build may use: available memory minus the reserve (never negative)."""
        return max(0, self.available - self.reserve)


def read_meminfo(path: Path = MEMINFO) -> MemInfo:
    """Total and available memory from a ``/proc/meminfo``-format file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ExplorerError(f"Cannot read {path} ({exc}): the free memory is unknown.") from None
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    if "MemTotal" not in fields or "MemAvailable" not in fields:
        raise ExplorerError(f"{path} has no MemTotal/MemAvailable lines.")
    return MemInfo(fields["MemTotal"], fields["MemAvailable"])


def _words(dims: int) -> int:
    return -(-dims // 64)


def hnsw_bytes_per_vector(dims: int, m: int) -> int:
    """hnswlib's memory per vector, an upper estimate in bytes: the float32 copy, the layer-0
    links (``2M`` ids and a count), label, pointers, a per-element mutex and the label hash
    map entry, plus upper-layer links for the ``~1/M`` of nodes that have them."""
    level0 = 4 * dims + 4 * 2 * m + 4 + 8
    upper = math.ceil((4 * m + 4) / max(1, m - 1))
    bookkeeping = 8 + 4 + 40 + 80
    return level0 + upper + bookkeeping


def method_bytes(method: str | Method, n: int, dims: int, hnsw_m: int = 16) -> int:
    """Memory a method adds on top of the float32 corpus, in bytes: int8 codes (``d`` per
    vector), binary words (``8 * ceil(d / 64)``), or the HNSW graph with its own vector
    copy; exhaustive float32 adds nothing."""
    m = Method.coerce(method)
    if m is Method.EXACT:
        return 0
    if m is Method.INT8:
        return n * dims
    if m is Method.BINARY:
        return n * 8 * _words(dims)
    return n * hnsw_bytes_per_vector(dims, hnsw_m)


@dataclass(frozen=True)
class MemoryEstimate:
    """What a lab build will hold at its peak, in bytes.

    Attributes:
        n, dims: corpus size.
        corpus: the float32 vectors (every method's rescoring and the ground truth use them).
        methods: ``(method, bytes)`` for each method, on top of the corpus.
        working: temporaries: generation and quantization chunks, score blocks.
    """

    n: int
    dims: int
    corpus: int
    methods: tuple[tuple[Method, int], ...]
    working: int

    @property
    def total(self) -> int:
        return self.corpus + sum(b for _, b in self.methods) + self.working

    def per_vector(self) -> float:
        """Bytes per corpus vector of everything but the fixed working space."""
        return (self.total - self.working) / self.n

    def largest_n(self, budget: int) -> int:
        """The largest N whose estimate (same dims and methods) fits ``budget`` bytes."""
        return max(0, int((budget - self.working) // self.per_vector()))


def estimate_memory(
    n: int, dims: int, methods: Sequence[str | Method], hnsw_m: int = 16
) -> MemoryEstimate:
    """The memory a lab build of ``n`` vectors of ``dims`` with ``methods`` needs."""
    chosen = tuple(dict.fromkeys(Method.coerce(m) for m in methods))
    # Largest temporaries: a float64 quantization chunk and its copy, the kernels' key
    # blocks and their sort temporaries (64 MiB), the ground truth arrays.
    working = 2 * CHUNK_ROWS * dims * 8 + 32 * 8 * kernels.BLOCK_ELEMENTS + (64 << 20)
    return MemoryEstimate(
        n,
        dims,
        n * dims * 4,
        tuple((m, method_bytes(m, n, dims, hnsw_m)) for m in chosen),
        working,
    )


def _mb(x: float) -> str:
    return f"{x / 1e6:,.0f} MB" if x < 1e9 else f"{x / 1e9:,.1f} GB"


def check_fits(estimate: MemoryEstimate, mem: MemInfo) -> None:
    """Raise, with the numbers, when the build would not fit the memory budget."""
    if estimate.total <= mem.budget:
        return
    parts = ", ".join(
        [f"float32 vectors {_mb(estimate.corpus)}"]
        + [f"{m.value} {_mb(b)}" for m, b in estimate.methods if b]
        + [f"working space {_mb(estimate.working)}"]
    )
    fits = estimate.largest_n(mem.budget)
    advice = (
        f"choose N ≤ {fits:,} or fewer methods"
        if fits >= MIN_N
        else "free memory on the machine before building"
    )
    raise ExplorerError(
        f"Refused: N = {estimate.n:,} × {estimate.dims} needs about {_mb(estimate.total)} "
        f"({parts}), but this machine has {_mb(mem.available)} available and keeps "
        f"{_mb(mem.reserve)} in reserve for the server and other users, leaving "
        f"{_mb(mem.budget)}: {advice}."
    )


# --------------------------------------------------------------------------- lab run


SIZE_STEPS = (1, 2, 5)


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
    timed on its own; recall@k is over all of them. ``oversample`` is the rescoring factor
    of the latency-against-N curves, ``hnsw_ef`` HNSW's candidate list there.
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
    hnsw_m: int = 16
    hnsw_ef_construction: int = 100
    hnsw_ef: int = 64
    oversample: int = 4
    center: Center = Center.DIM_MEAN
    int8_per_dimension: bool = False
    threads: int = 2
    ef_sweep: tuple[int, ...] = (10, 16, 32, 64, 128, 256)
    oversample_sweep: tuple[int, ...] = (1, 2, 4, 8, 16)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Source.coerce(self.source))
        object.__setattr__(self, "center", Center.coerce(self.center))
        methods = tuple(dict.fromkeys(Method.coerce(m) for m in self.methods))
        if not methods:
            raise ExplorerError("Choose at least one method to build.")
        object.__setattr__(self, "methods", methods)
        _check_size(self.n, self.dims, self.n_queries)
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

    def sweep_of(self, method: str | Method) -> tuple[SweepPoint, ...]:
        """The recall/latency sweep of one method, in setting order."""
        m = Method.coerce(method)
        return tuple(p for p in self.sweep if p.method is m)


# One query (a (1, d) row) in, its (1, k) ids out.
Search = Callable[[np.ndarray], np.ndarray]
# Candidates of one query: (query, corpus size, how many) -> (1, count) ids.
Candidates = Callable[[np.ndarray, int, int], np.ndarray]


def _check_stop(should_stop: ShouldStop | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("The build was cancelled.")


def _timed(search: Search, queries: np.ndarray) -> tuple[float, np.ndarray]:
    """Run ``search`` on each query alone: median milliseconds and the stacked ids."""
    times, ids = [], []
    for i in range(len(queries)):
        start = time.perf_counter()
        ids.append(search(queries[i : i + 1]))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), np.vstack(ids)


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
        _check_stop(self.should_stop)
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
        if np.shape(base)[-1] != config.dims:
            raise ExplorerError(
                f"The base vectors have {np.shape(base)[-1]} dimensions but the lab was set "
                f"up for {config.dims}."
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


@dataclass(frozen=True)
class Codes:
    """A corpus quantized for a first-stage scan.

    ``candidates(queries, size, count)`` returns the ``(q, count)`` ids of the ``count``
    best of the first ``size`` corpus rows by the codes (int8 dot product or Hamming
    distance); ``nbytes`` is the codes' memory, ``seconds`` the time to build them.
    """

    method: Method
    candidates: Candidates
    nbytes: int
    seconds: float


def quantize_corpus(
    vectors: np.ndarray,
    method: str | Method,
    center: str | Center = Center.DIM_MEAN,
    per_dimension: bool = False,
    threads: int = 1,
    progress: Progress | None = None,
) -> Codes:
    """Quantize float32 ``(n, d)`` unit ``vectors``, ``CHUNK_ROWS`` rows at a time: int8
    with min/max calibration (global by default, or ``per_dimension``), or one bit per
    dimension above its ``center``. ``threads`` splits the scans of a few queries.

    Global calibration is the default because the first stage ranks by the dot product of
    the codes: per-dimension ranges weight and shift each dimension differently, which on
    real (anisotropic) embeddings costs recall (e.g. 0.62 instead of 0.84 at ×1 for 100k
    static-model sentences)."""
    m = Method.coerce(method)
    start = time.perf_counter()
    n = len(vectors)
    if m is Method.INT8:
        quantizer = ScalarQuantizer.fit(vectors, per_dimension=per_dimension)
        codes = np.empty(vectors.shape, dtype=np.int8)
        for lo in range(0, n, CHUNK_ROWS):
            if progress is not None:
                progress(lo / n, "Quantizing to int8")
            codes[lo : lo + CHUNK_ROWS] = quantizer.quantize(vectors[lo : lo + CHUNK_ROWS])

        def int8_candidates(q: np.ndarray, size: int, count: int) -> np.ndarray:
            found = kernels.top_k_int8(quantizer.quantize(q), codes[:size], count, threads=threads)
            return found.ids

        return Codes(m, int8_candidates, codes.nbytes, time.perf_counter() - start)
    if m is Method.BINARY:
        centres = thresholds(vectors, center).astype(np.float32)
        parts = []
        for lo in range(0, n, CHUNK_ROWS):
            if progress is not None:
                progress(lo / n, "Packing the bits")
            parts.append(kernels.BitMatrix.from_bits(vectors[lo : lo + CHUNK_ROWS] > centres))
        bits = kernels.BitMatrix.stack(parts)

        def binary_candidates(q: np.ndarray, size: int, count: int) -> np.ndarray:
            prefix = kernels.BitMatrix(bits.words[:, :size], bits.dims)
            query_bits = kernels.BitMatrix.from_bits(q > centres)
            return kernels.top_k_hamming(query_bits, prefix, count, threads=threads).ids

        return Codes(m, binary_candidates, bits.nbytes, time.perf_counter() - start)
    raise ExplorerError(f"{m.value} is not a quantized method: use int8 + rescore or binary.")


def rescored_search(
    vectors: np.ndarray, codes: Codes, k: int, factor: int, size: int | None = None
) -> Search:
    """Search the first ``size`` rows (default all): fetch ``k * factor`` candidates by the
    codes, keep the ``k`` best by float cosine with ``vectors``. Takes ``(q, d)`` queries,
    returns ``(q, k)`` ids."""
    rows = len(vectors) if size is None else size

    def search(q: np.ndarray) -> np.ndarray:
        ids = codes.candidates(q, rows, min(rows, k * factor))
        return rescore(q, vectors, ids, k, Metric.COSINE).ids

    return search


def _measure_quantized(run: _Run, method: Method) -> None:
    """Build the codes; latency against N at the configured oversampling, then the sweep."""
    config = run.config
    codes = quantize_corpus(
        run.vectors,
        method,
        config.center,
        config.int8_per_dimension,
        config.threads,
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
    """Insert the vectors in order, in batches, measuring at each ladder size on the way:
    after the first N insertions the graph is the one a build on that prefix makes."""
    config, vectors = run.config, run.vectors
    n, k = len(vectors), config.k
    graph = hnswlib.Index(space="cosine", dim=config.dims)
    graph.init_index(
        max_elements=n,
        M=config.hnsw_m,
        ef_construction=config.hnsw_ef_construction,
        random_seed=config.seed + 100,
    )
    graph.set_num_threads(config.threads)
    batch = max(1000, n // 100)
    seconds, lo = 0.0, 0
    while lo < n:
        run.tracker.step(lo / n, f"HNSW: {lo:,} of {n:,} inserted ({seconds:,.0f} s)")
        hi = min(lo + batch, next(s for s in run.ladder if s > lo))
        start = time.perf_counter()
        graph.add_items(vectors[lo:hi], np.arange(lo, hi), num_threads=config.threads)
        seconds += time.perf_counter() - start
        lo = hi
        if lo in run.truth:
            grown = HnswIndex(graph, Metric.COSINE, seconds)
            run.point(Method.HNSW, lo, _hnsw_search(grown, k, config.hnsw_ef))
    index = HnswIndex(graph, Metric.COSINE, seconds)
    run.builds.append(BuildStat(Method.HNSW, seconds, index.nbytes, 0))
    for ef in config.ef_sweep:
        run.sweep_point(Method.HNSW, "ef", ef, _hnsw_search(index, k, ef))
