"""Quantization: store vectors in fewer bits, search the small codes, rescore with floats.

Scalar (int8) quantization maps a calibrated range onto the 256 levels -128..127; binary
quantization keeps one bit per dimension (is the value above a centre?). Both searches are
approximate; oversampling (fetch ``k x factor`` candidates) and rescoring them with the
float vectors restores most of the exact ranking. What each precision costs in bytes is in
:mod:`core.storage`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from core.corpora import CHUNK_ROWS, Progress
from core.errors import ExplorerError
from core.kernels import BitMatrix, search_hamming, search_int8, top_k_hamming, top_k_int8
from core.metrics import Metric, as_matrix, check_same_width, normalize, pairwise
from core.modes import Mode
from core.search import SAME_MODEL, Method
from core.topk import Search, SearchResult, check_k, check_k_excluding, top_k_ids

# Bound on the (queries x corpus x bytes) XOR block in Hamming search, in bytes.
_XOR_BLOCK = 1 << 24
# Bound on a float32 block of code cosines or unpacked codes, in elements.
_SCORE_BLOCK = 1 << 22


class Center(Mode):
    """The threshold a binary bit compares against: 0, the mean of all values, or each
    dimension's own mean or median (computed on the corpus)."""

    ZERO = "zero"
    MEAN = "mean"
    DIM_MEAN = "dim-mean"
    DIM_MEDIAN = "dim-median"


class CodeScore(Mode):
    """How the first stage ranks codes: by the cosine similarity of the code vectors, as the
    talk's notebooks do (int8 codes or 0/1 bits taken as ordinary vectors), or natively, as a
    vector database does (the integer dot product of int8 codes; the Hamming distance of
    packed bits).

    The two can rank differently: cosine divides by each code vector's length, while the dot
    product favours codes of large magnitude; Hamming counts shared 0s as agreement, while the
    cosine of 0/1 vectors counts only shared 1s, relative to how many 1s each vector has."""

    COSINE = "cosine"
    NATIVE = "native"


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
        if self.per_dimension:
            check_same_width(
                x,
                int(self.low.shape[0]),
                "Vectors have {a} dimensions but the quantizer was fitted on {b}.",
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
    check_same_width(
        q, c, "Queries are {a} wide but the corpus is {b}: quantize both the same way."
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


@dataclass(frozen=True)
class ValueSummary:
    """The global minimum, maximum and mean of every number a corpus quantizes (after
    normalising, for cosine): int8's default range and binary's "mean" centre."""

    low: float
    high: float
    mean: float


def value_summary(vectors: np.ndarray | list, metric: str | Metric = Metric.COSINE) -> ValueSummary:
    """:class:`ValueSummary` of ``(n, d)`` ``vectors``, normalised first for cosine."""
    x = as_matrix(vectors, "vectors")
    if x.size == 0:
        raise ExplorerError("No values to summarise: give at least one vector.")
    prepared = normalize(x) if Metric.coerce(metric) is Metric.COSINE else x
    return ValueSummary(float(prepared.min()), float(prepared.max()), float(prepared.mean()))


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
    check_same_width(
        arr,
        int(centers.shape[0]),
        "Vectors have {a} dimensions but the centre was computed on {b}.",
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
# Codes ranked as ordinary vectors (the talk's notebooks)


def _unit_code_rows(codes: np.ndarray, dims: int) -> np.ndarray:
    """float32 ``(n, dims)`` codes scaled to unit length (a zero code row stays zero): int8
    codes as they are, packed bits unpacked to 0/1."""
    values = codes.astype(np.float32) if codes.dtype == np.int8 else unpack_bits(codes, dims)
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return np.divide(values, norms, out=np.zeros_like(values), where=norms > 0)


def unpack_bits(packed: np.ndarray, dims: int) -> np.ndarray:
    """float32 ``(n, dims)`` 0/1 values of :func:`pack_bits` output (padding dropped)."""
    return np.unpackbits(np.atleast_2d(packed), axis=1, count=dims).astype(np.float32)


def code_cosine_search(
    query_codes: np.ndarray,
    corpus_codes: np.ndarray,
    k: int,
    dims: int,
    exclude: np.ndarray | None = None,
) -> SearchResult:
    """Top ``k`` corpus rows by the cosine similarity of the codes taken as vectors: int8
    ``(q, d)``/``(n, d)`` codes, or packed bits ``(q, ceil(d/8))``/``(n, ceil(d/8))`` as 0/1
    vectors of ``dims`` values. A code vector of zeros has cosine 0 with everything. Scores are
    float64 cosines (higher is closer); ``exclude`` as in :func:`core.topk.top_k_ids`."""
    start = time.perf_counter()
    q, c = np.atleast_2d(query_codes), np.atleast_2d(corpus_codes)
    if q.dtype != c.dtype or q.dtype not in (np.int8, np.uint8):
        raise ExplorerError(f"Codes must both be int8 or packed bits, got {q.dtype}, {c.dtype}.")
    _check_widths(q, c)
    check_k_excluding(k, c.shape[0], exclude)
    units = _unit_code_rows(q, dims)
    ids = np.empty((q.shape[0], k), dtype=np.int64)
    scores = np.empty((q.shape[0], k), dtype=np.float64)
    step = max(1, _SCORE_BLOCK // c.shape[0])
    chunk = max(1, _SCORE_BLOCK // dims)
    for lo in range(0, q.shape[0], step):
        rows = slice(lo, lo + step)
        block = np.empty((units[rows].shape[0], c.shape[0]), dtype=np.float32)
        for c_lo in range(0, c.shape[0], chunk):
            cols = slice(c_lo, c_lo + chunk)
            block[:, cols] = units[rows] @ _unit_code_rows(c[cols], dims).T
        part = None if exclude is None else exclude[rows]
        ids[rows] = top_k_ids(block, k, True, part)
        scores[rows] = np.take_along_axis(block, ids[rows], axis=1)
    return SearchResult(ids, scores, time.perf_counter() - start, "cosine of codes", True)


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
    first stage ranks the codes by ``score`` (natively: int8 dot product or Hamming distance;
    or by the cosine of the codes) whatever the ``metric``, a proxy that suits cosine and dot
    best; ``metric`` is what rescoring uses.
    """

    vectors: np.ndarray
    codes: np.ndarray
    precision: Precision
    metric: Metric
    quantizer: ScalarQuantizer | None = None
    centers: np.ndarray | None = None
    score: CodeScore = CodeScore.NATIVE

    @classmethod
    def build(
        cls,
        corpus: np.ndarray | list,
        precision: str | Precision = Precision.INT8,
        center: str | Center = Center.ZERO,
        metric: str | Metric = Metric.COSINE,
        per_dimension: bool = False,
        score: str | CodeScore = CodeScore.NATIVE,
    ) -> QuantizedIndex:
        """Quantize ``(n, d)`` ``corpus`` to ``precision`` (int8 or binary). ``center`` is the
        binary threshold, ``per_dimension`` the int8 calibration, ``score`` how the first
        stage ranks codes."""
        p, m, s = Precision.coerce(precision), Metric.coerce(metric), CodeScore.coerce(score)
        vectors = as_matrix(corpus, "corpus vectors")
        prepared = normalize(vectors) if m is Metric.COSINE else vectors
        if p is Precision.INT8:
            quantizer = ScalarQuantizer.fit(prepared, per_dimension=per_dimension)
            codes = quantizer.quantize(prepared)
            return cls(vectors, codes, p, m, quantizer=quantizer, score=s)
        if p is Precision.BINARY:
            centers = thresholds(prepared, center)
            return cls(vectors, pack_bits(prepared > centers), p, m, centers=centers, score=s)
        raise ExplorerError(
            f"Precision {p.value!r} is not quantized: use int8 or binary (float search is "
            "core.search.exhaustive_search)."
        )

    def _encode(self, queries: np.ndarray) -> np.ndarray:
        prepared = normalize(queries) if self.metric is Metric.COSINE else queries
        if self.quantizer is not None:
            return self.quantizer.quantize(prepared)
        return pack_bits(prepared > self.centers)

    def rank_codes(
        self, query_codes: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> SearchResult:
        """The ``k`` corpus rows whose codes rank best against ``query_codes`` by ``score``."""
        if self.score is CodeScore.COSINE:
            dims = self.vectors.shape[1]
            return code_cosine_search(query_codes, self.codes, k, dims, exclude)
        stage = int8_search if self.precision is Precision.INT8 else hamming_search
        return stage(query_codes, self.codes, k, exclude)

    def search(self, queries: np.ndarray | list, k: int, oversample: int = 1) -> RescoreResult:
        """Fetch ``k x oversample`` candidates by codes (at most the corpus size), then rescore
        them with the float vectors and keep ``k``."""
        if oversample < 1:
            raise ExplorerError(f"oversample={oversample}: use 1 (no extra candidates) or more.")
        q = as_matrix(queries, "queries")
        check_same_width(q, self.vectors, SAME_MODEL)
        check_k(k, self.vectors.shape[0], "corpus items")
        start = time.perf_counter()
        codes = self._encode(q)
        n_candidates = min(k * oversample, self.vectors.shape[0])
        # The candidates' time includes encoding the queries, part of every quantized search.
        candidates = replace(
            self.rank_codes(codes, n_candidates), seconds=time.perf_counter() - start
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


@dataclass(frozen=True)
class CodeView:
    """One vector before and after quantization, for showing value by value.

    Attributes:
        values: float64 ``(d,)`` the numbers that get quantized (unit length for cosine).
        codes: ``(d,)`` int8 codes, or uint8 bits (0/1) for binary.
        restored: float64 ``(d,)`` what the int8 codes stand for; for binary the bit scaled
            to ``±mean |value|`` (the nearest vector of that sign pattern, up to scale).
        thresholds: float64 ``(d,)`` the binary centers, or None for int8.
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
    centers = np.asarray(index.centers)  # a binary index always has its centers
    bits = (values > centers).astype(np.uint8)
    scale = float(np.abs(values).mean())
    return CodeView(values[0], bits[0], np.where(bits[0] == 1, scale, -scale), centers)


def quantized_neighbors(
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
    candidates = code_search(index, min(k * oversample, n - 1), rows)
    final = rescore(index.vectors[rows], index.vectors, candidates.ids, k, index.metric)
    return RescoreResult(candidates, final, index.precision, oversample)


def code_search(index: QuantizedIndex, n_candidates: int, rows: np.ndarray) -> SearchResult:
    """Corpus ``rows`` as queries against the other rows, by codes alone: the
    ``n_candidates`` nearest of each, ``(len(rows), n_candidates)``."""
    return index.rank_codes(index.codes[rows], n_candidates, exclude=rows)


# ---------------------------------------------------------------------------------------------
# Large corpora: quantized a chunk at a time, scanned by the kernels

# Candidates of one query: (query, corpus size, how many) -> (1, count) ids.
Candidates = Callable[[np.ndarray, int, int], np.ndarray]


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
            found = top_k_int8(quantizer.quantize(q), codes[:size], count, threads=threads)
            return found.ids

        return Codes(m, int8_candidates, codes.nbytes, time.perf_counter() - start)
    if m is Method.BINARY:
        centers = thresholds(vectors, center).astype(np.float32)
        parts = []
        for lo in range(0, n, CHUNK_ROWS):
            if progress is not None:
                progress(lo / n, "Packing the bits")
            parts.append(BitMatrix.from_bits(vectors[lo : lo + CHUNK_ROWS] > centers))
        bits = BitMatrix.stack(parts)

        def binary_candidates(q: np.ndarray, size: int, count: int) -> np.ndarray:
            prefix = BitMatrix(bits.words[:, :size], bits.dims)
            query_bits = BitMatrix.from_bits(q > centers)
            return top_k_hamming(query_bits, prefix, count, threads=threads).ids

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
