"""Quantization: store vectors in fewer bits, search the small codes, rescore with floats.

Scalar (int8) quantization maps a calibrated range onto the 256 levels -128..127; binary
quantization keeps one bit per dimension (is the value above a centre?). Both searches are
approximate; oversampling (fetch ``k x factor`` candidates) and rescoring them with the
float vectors restores most of the exact ranking. The storage functions say how many bytes
each precision costs.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from core.errors import ExplorerError
from core.kernels import search_hamming, search_int8
from core.metrics import Metric, as_matrix, normalize, pairwise
from core.modes import Mode
from core.search import SearchResult, check_k, top_k_ids

# Bound on the (queries x corpus x bytes) XOR block in Hamming search, in bytes.
_XOR_BLOCK = 1 << 24


class Center(Mode):
    """The threshold a binary bit compares against: 0, the mean of all values, or each
    dimension's own mean or median (computed on the corpus)."""

    ZERO = "zero"
    MEAN = "mean"
    DIM_MEAN = "dim-mean"
    DIM_MEDIAN = "dim-median"


class Precision(Mode):
    """How each number of a vector is stored."""

    PYTHON_LIST = "python-list"
    FLOAT64 = "float64"
    FLOAT32 = "float32"
    INT8 = "int8"
    BINARY = "binary"


# ---------------------------------------------------------------------------------------------
# Scalar int8


@dataclass(frozen=True)
class ScalarQuantizer:
    """Maps ``[low, high]`` linearly onto the int8 levels -128..127 (256 steps).

    ``low`` and ``high`` are float64 arrays of shape ``(1,)`` (one range for every dimension)
    or ``(d,)`` (one per dimension). Values outside the range are clipped.
    """

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(
        cls, vectors: np.ndarray | list, per_dimension: bool = False, percentile: float = 0.0
    ) -> ScalarQuantizer:
        """Calibrate on ``(n, d)`` vectors: the range is [``percentile``, 100 - ``percentile``]
        of the values (0 gives min and max), globally or per dimension."""
        x = as_matrix(vectors, "calibration vectors")
        if x.shape[0] == 0:
            raise ExplorerError("No calibration vectors: fit needs at least one vector.")
        if not 0.0 <= percentile < 50.0:
            raise ExplorerError(f"percentile={percentile}: use a value in [0, 50), e.g. 1.")
        axis = 0 if per_dimension else None
        if percentile:
            low, high = np.percentile(x, [percentile, 100.0 - percentile], axis=axis)
        else:
            # min/max directly: percentile() would sort every value to find its ends.
            low, high = x.min(axis=axis), x.max(axis=axis)
        return cls(np.atleast_1d(low).astype(np.float64), np.atleast_1d(high).astype(np.float64))

    @property
    def per_dimension(self) -> bool:
        return self.low.shape[0] > 1

    @property
    def step(self) -> np.ndarray:
        """Width of one int8 level, ``(1,)`` or ``(d,)``; 1 where the range is empty (every
        value there is ``low`` and maps back exactly)."""
        width = self.high - self.low
        return np.where(width > 0, width / 255.0, 1.0)

    def _check(self, x: np.ndarray) -> None:
        if self.per_dimension and x.shape[1] != self.low.shape[0]:
            raise ExplorerError(
                f"Vectors have {x.shape[1]} dimensions but the quantizer was fitted on "
                f"{self.low.shape[0]}."
            )

    def quantize(self, x: np.ndarray | list) -> np.ndarray:
        """int8 codes of ``(n, d)`` vectors (nearest level, so the error is at most step/2)."""
        arr = as_matrix(x)
        self._check(arr)
        levels = np.rint((arr - self.low) / self.step) - 128.0
        return np.clip(levels, -128, 127).astype(np.int8)

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """float32 ``(n, d)`` values the int8 ``codes`` stand for."""
        arr = as_matrix(codes, "codes")
        self._check(arr)
        return (self.low + (arr.astype(np.float64) + 128.0) * self.step).astype(np.float32)


def int8_search(
    query_codes: np.ndarray,
    corpus_codes: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
) -> SearchResult:
    """Top ``k`` corpus rows by the dot product of int8 codes, accumulated in int32.

    ``query_codes`` ``(q, d)`` and ``corpus_codes`` ``(n, d)`` are int8; scores are the integer
    dot products (higher is closer). ``exclude`` as in :func:`core.search.top_k_ids`. Runs
    :func:`core.kernels.search_int8`.
    """
    q, c = np.atleast_2d(query_codes), np.atleast_2d(corpus_codes)
    if q.dtype != np.int8 or c.dtype != np.int8:
        raise ExplorerError(f"int8 search needs int8 codes, got {q.dtype} and {c.dtype}.")
    _check_widths(q, c)
    return search_int8(q, c, k, exclude)


def _check_widths(q: np.ndarray, c: np.ndarray) -> None:
    if q.shape[1] != c.shape[1]:
        raise ExplorerError(
            f"Queries are {q.shape[1]} wide but the corpus is {c.shape[1]}: quantize both the "
            "same way."
        )


# ---------------------------------------------------------------------------------------------
# Binary


def thresholds(vectors: np.ndarray | list, center: str | Center = Center.ZERO) -> np.ndarray:
    """The value each dimension is compared against, float64 ``(d,)``, computed on ``vectors``."""
    x = as_matrix(vectors)
    c = Center.coerce(center)
    if c is Center.ZERO:
        return np.zeros(x.shape[1])
    if x.shape[0] == 0:
        raise ExplorerError(f"Centre {c.value!r} needs at least one vector to compute it from.")
    if c is Center.MEAN:
        return np.full(x.shape[1], x.mean(dtype=np.float64))
    if c is Center.DIM_MEAN:
        return x.mean(axis=0, dtype=np.float64)
    return np.median(x, axis=0).astype(np.float64)


def binary_quantize(
    x: np.ndarray | list,
    center: str | Center = Center.ZERO,
    fit_on: np.ndarray | list | None = None,
) -> np.ndarray:
    """Bits of ``(n, d)`` vectors as a bool ``(n, d)`` array: True where the value is above the
    centre. The centre is computed on ``fit_on`` (default ``x`` itself); pass the corpus when
    quantizing queries so both use the same thresholds."""
    arr = as_matrix(x)
    centers = thresholds(arr if fit_on is None else fit_on, center)
    if centers.shape[0] != arr.shape[1]:
        raise ExplorerError(
            f"Vectors have {arr.shape[1]} dimensions but the centre was computed on "
            f"{centers.shape[0]}."
        )
    return arr > centers


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a bool ``(n, d)`` array into uint8 ``(n, ceil(d / 8))``, 8 dimensions per byte
    (the last byte is padded with zeros)."""
    arr = np.atleast_2d(np.asarray(bits))
    if arr.ndim != 2 or not (arr.dtype == np.bool_ or np.isin(arr, (0, 1)).all()):
        raise ExplorerError(f"pack_bits needs a (n, d) array of 0/1 bits, got {arr.dtype}.")
    return np.packbits(arr.astype(bool), axis=1)


def hamming_distances(packed_queries: np.ndarray, packed_corpus: np.ndarray) -> np.ndarray:
    """Number of differing bits between every packed query and corpus row, int32 ``(q, n)``.

    Inputs are :func:`pack_bits` outputs with the same width; padding bits are 0 in both, so
    they never count.
    """
    q, c = np.atleast_2d(packed_queries), np.atleast_2d(packed_corpus)
    if q.dtype != np.uint8 or c.dtype != np.uint8:
        raise ExplorerError(f"Hamming distance needs packed uint8 bits, got {q.dtype}, {c.dtype}.")
    _check_widths(q, c)
    if q.shape[1] % 8 == 0:
        # Eight bytes per popcount instead of one when the rows divide into 64-bit words.
        q, c = np.ascontiguousarray(q).view(np.uint64), np.ascontiguousarray(c).view(np.uint64)
    out = np.empty((q.shape[0], c.shape[0]), dtype=np.int32)
    step = max(1, _XOR_BLOCK // max(1, c.nbytes))
    for lo in range(0, q.shape[0], step):
        xor = np.bitwise_xor(q[lo : lo + step, np.newaxis, :], c[np.newaxis, :, :])
        out[lo : lo + step] = np.bitwise_count(xor).sum(axis=2, dtype=np.int32)
    return out


def hamming_search(
    packed_queries: np.ndarray,
    packed_corpus: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
) -> SearchResult:
    """Top ``k`` corpus rows by fewest differing bits; scores are Hamming distances. Runs
    :func:`core.kernels.search_hamming`."""
    q, c = np.atleast_2d(packed_queries), np.atleast_2d(packed_corpus)
    _check_widths(q, c)
    return search_hamming(q, c, k, exclude)


# ---------------------------------------------------------------------------------------------
# Oversample and rescore


def rescore(
    queries: np.ndarray | list,
    corpus: np.ndarray | list,
    candidate_ids: np.ndarray,
    k: int,
    metric: str | Metric = Metric.COSINE,
) -> SearchResult:
    """Re-rank each query's candidates with the float vectors and keep the best ``k``.

    ``queries`` ``(q, d)``, ``corpus`` ``(n, d)``, ``candidate_ids`` ``(q, c)`` distinct
    corpus ids per row. Returned ids are corpus ids; equal scores go to the lower id.
    Only the candidates' rows of ``corpus`` are read (and validated).
    """
    m = Metric.coerce(metric)
    start = time.perf_counter()
    q, c = as_matrix(queries, "queries"), np.asarray(corpus)
    if c.ndim != 2:
        raise ExplorerError(f"The corpus must be a (n, d) matrix, got {c.ndim} dimensions.")
    cand = np.sort(np.atleast_2d(np.asarray(candidate_ids, dtype=np.int64)), axis=1)
    if cand.shape[0] != q.shape[0]:
        raise ExplorerError(f"{cand.shape[0]} candidate rows for {q.shape[0]} queries.")
    if cand.size and (cand[:, 0].min() < 0 or cand[:, -1].max() >= c.shape[0]):
        raise ExplorerError(f"Candidate ids must run from 0 to {c.shape[0] - 1}.")
    if cand.shape[1] > 1 and (np.diff(cand, axis=1) == 0).any():
        raise ExplorerError("A query has the same candidate id twice: candidates must be distinct.")
    check_k(k, cand.shape[1], "candidates")
    ids = np.empty((q.shape[0], k), dtype=np.int64)
    scores = np.empty((q.shape[0], k), dtype=np.float64)
    for row in range(q.shape[0]):
        exact = pairwise(m, q[row], c[cand[row]])
        best = top_k_ids(exact, k, m.higher_is_closer)[0]
        ids[row], scores[row] = cand[row, best], exact[0, best]
    return SearchResult(ids, scores, time.perf_counter() - start, m.value, m.higher_is_closer)


@dataclass(frozen=True)
class RescoreResult:
    """A quantized search followed by float rescoring.

    Attributes:
        candidates: the quantized stage's ``k x oversample`` best (by int8 dot or Hamming).
        final: the ``k`` best of those candidates by the float metric.
        precision: the quantized precision of the first stage.
        oversample: candidates fetched per requested neighbour.
    """

    candidates: SearchResult
    final: SearchResult
    precision: Precision
    oversample: int

    @property
    def seconds(self) -> float:
        """Both stages together."""
        return self.candidates.seconds + self.final.seconds

    @property
    def quantized_top_k(self) -> np.ndarray:
        """``(q, k)`` ids the quantized search alone would have returned."""
        return self.candidates.ids[:, : self.final.k]

    def rescued(self, query: int = 0) -> np.ndarray:
        """Ids rescoring brought into the top k from further down the candidate list."""
        return np.setdiff1d(self.final.ids[query], self.quantized_top_k[query])

    def dropped(self, query: int = 0) -> np.ndarray:
        """Ids in the quantized top k that rescoring pushed out."""
        return np.setdiff1d(self.quantized_top_k[query], self.final.ids[query])


@dataclass(frozen=True)
class QuantizedIndex:
    """A corpus stored as int8 or binary codes, with the float vectors kept for rescoring.

    Build with :meth:`build`; ``quantizer`` is set for int8, ``centers`` (``(d,)``
    thresholds) for binary. For cosine the vectors are normalised before quantizing. The
    first stage ranks by int8 dot product or Hamming distance whatever the ``metric``, a
    proxy that suits cosine and dot best; ``metric`` is what rescoring uses.
    """

    vectors: np.ndarray
    codes: np.ndarray
    precision: Precision
    metric: Metric
    quantizer: ScalarQuantizer | None = None
    centers: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        corpus: np.ndarray | list,
        precision: str | Precision = Precision.INT8,
        center: str | Center = Center.ZERO,
        metric: str | Metric = Metric.COSINE,
        per_dimension: bool = False,
    ) -> QuantizedIndex:
        """Quantize ``(n, d)`` ``corpus`` to ``precision`` (int8 or binary). ``center`` is the
        binary threshold, ``per_dimension`` the int8 calibration."""
        p, m = Precision.coerce(precision), Metric.coerce(metric)
        vectors = as_matrix(corpus, "corpus vectors")
        prepared = normalize(vectors) if m is Metric.COSINE else vectors
        if p is Precision.INT8:
            quantizer = ScalarQuantizer.fit(prepared, per_dimension=per_dimension)
            return cls(vectors, quantizer.quantize(prepared), p, m, quantizer=quantizer)
        if p is Precision.BINARY:
            centers = thresholds(prepared, center)
            return cls(vectors, pack_bits(prepared > centers), p, m, centers=centers)
        raise ExplorerError(
            f"Precision {p.value!r} is not quantized: use int8 or binary (float search is "
            "core.search.exhaustive_search)."
        )

    def _encode(self, queries: np.ndarray) -> np.ndarray:
        prepared = normalize(queries) if self.metric is Metric.COSINE else queries
        if self.quantizer is not None:
            return self.quantizer.quantize(prepared)
        return pack_bits(prepared > self.centers)

    def search(self, queries: np.ndarray | list, k: int, oversample: int = 1) -> RescoreResult:
        """Fetch ``k x oversample`` candidates by codes (at most the corpus size), then rescore
        them with the float vectors and keep ``k``."""
        if oversample < 1:
            raise ExplorerError(f"oversample={oversample}: use 1 (no extra candidates) or more.")
        q = as_matrix(queries, "queries")
        if q.shape[1] != self.vectors.shape[1]:
            raise ExplorerError(
                f"Queries have {q.shape[1]} dimensions but the corpus has "
                f"{self.vectors.shape[1]}: embed both with the same model."
            )
        check_k(k, self.vectors.shape[0], "corpus items")
        start = time.perf_counter()
        codes = self._encode(q)
        n_candidates = min(k * oversample, self.vectors.shape[0])
        stage = int8_search if self.precision is Precision.INT8 else hamming_search
        # The candidates' time includes encoding the queries, part of every quantized search.
        candidates = replace(
            stage(codes, self.codes, n_candidates), seconds=time.perf_counter() - start
        )
        final = rescore(q, self.vectors, candidates.ids, k, self.metric)
        return RescoreResult(candidates, final, self.precision, oversample)


def quantized_search(
    queries: np.ndarray | list,
    corpus: np.ndarray | list,
    k: int,
    precision: str | Precision = Precision.INT8,
    center: str | Center = Center.ZERO,
    oversample: int = 1,
    metric: str | Metric = Metric.COSINE,
) -> RescoreResult:
    """One-off :meth:`QuantizedIndex.build` + :meth:`QuantizedIndex.search` (quantizes the
    corpus on every call: keep a :class:`QuantizedIndex` for repeated queries)."""
    index = QuantizedIndex.build(corpus, precision, center, metric)
    return index.search(queries, k, oversample)


# ---------------------------------------------------------------------------------------------
# Storage


@cache
def _list_bytes(dims: int) -> int:
    # Measured, not modelled: a list built item by item (as json.loads or an API client builds
    # it) over-allocates, and the growth pattern belongs to the CPython version.
    items = [float(i) for i in range(dims)]
    return sys.getsizeof(items) + dims * sys.getsizeof(1.0)


@cache
def _ndarray_header() -> int:
    return sys.getsizeof(np.empty(0, dtype=np.float32))


def payload_bytes(dims: int, precision: str | Precision) -> int:
    """Bytes of the numbers of one ``dims``-d vector inside a matrix (no per-object header):
    8, 4, 1 and 1/8 bytes per dimension for float64, float32, int8 and binary (rounded up to
    whole bytes); for a Python list, everything :func:`bytes_per_vector` counts."""
    p = Precision.coerce(precision)
    if dims < 1:
        raise ExplorerError(f"dims={dims}: a vector needs at least 1 dimension.")
    if p is Precision.PYTHON_LIST:
        return _list_bytes(dims)
    if p is Precision.BINARY:
        return math.ceil(dims / 8)
    return dims * np.dtype(p.value).itemsize


def bytes_per_vector(dims: int, precision: str | Precision) -> int:
    """Memory of one ``dims``-d vector held on its own, in bytes.

    A numpy vector is ``sys.getsizeof`` of the 1-D array: its data plus the ndarray header
    (112 B on numpy 2.x): 12,400 B for 1536 float64, 1,648 B for 1536 int8. A Python list
    counts the list object (``sys.getsizeof``, with the spare slots a list built item by item
    keeps) plus the float objects it points to (24 B each): 49,592 B for 1536 floats on
    CPython 3.11. ``sys.getsizeof`` of the list alone, the 12,728 B the seed notebooks show,
    leaves the floats out: see :func:`python_list_bytes`.
    """
    p = Precision.coerce(precision)
    if p is Precision.PYTHON_LIST:
        return payload_bytes(dims, p)
    return payload_bytes(dims, p) + _ndarray_header()


def python_list_bytes(dims: int, include_floats: bool = True) -> int:
    """A ``dims``-long list of floats, in bytes; ``include_floats=False`` gives what
    ``sys.getsizeof(the_list)`` reports (the list's pointer array only)."""
    total = payload_bytes(dims, Precision.PYTHON_LIST)
    return total if include_floats else total - dims * sys.getsizeof(1.0)


def index_bytes(
    n: int, dims: int, precision: str | Precision, keep_float_for_rescore: bool = False
) -> int:
    """Bytes to store ``n`` vectors as one matrix at ``precision``, plus a float32 copy for
    rescoring when ``keep_float_for_rescore`` and the precision is int8 or binary. Counts the
    numbers only (one array header is negligible); no graph or other index structure."""
    if n < 0:
        raise ExplorerError(f"n={n}: the number of vectors cannot be negative.")
    p = Precision.coerce(precision)
    total = n * payload_bytes(dims, p)
    if keep_float_for_rescore and p in (Precision.INT8, Precision.BINARY):
        total += n * payload_bytes(dims, Precision.FLOAT32)
    return total


@dataclass(frozen=True)
class StorageRow:
    """One precision in the storage table.

    Attributes:
        precision: how the numbers are stored.
        bytes_per_vector: one vector held on its own (:func:`bytes_per_vector`).
        bytes_total: ``n`` vectors (:func:`index_bytes`, no rescoring copy).
        saved_vs_float32: percent of float32's total saved (negative: costs more).
        saved_vs_float64: percent of float64's total saved.
    """

    precision: Precision
    bytes_per_vector: int
    bytes_total: int
    saved_vs_float32: float
    saved_vs_float64: float


def storage_table(n: int, dims: int) -> list[StorageRow]:
    """Memory of ``n`` vectors of ``dims`` dimensions at every :class:`Precision`."""
    f32 = index_bytes(n, dims, Precision.FLOAT32)
    f64 = index_bytes(n, dims, Precision.FLOAT64)

    def saved(total: int, base: int) -> float:
        return 100.0 * (1.0 - total / base) if base else 0.0

    rows = []
    for p in Precision:
        total = index_bytes(n, dims, p)
        rows.append(
            StorageRow(p, bytes_per_vector(dims, p), total, saved(total, f32), saved(total, f64))
        )
    return rows
