"""Exact top-k kernels for search at scale: float32 vectors, int8 codes and packed bits.

float32 scores come from BLAS, one cache-sized chunk of corpus rows at a time, and a running
top-k per query in numpy: a chunk's candidates are the items that beat the current k-th
best, found with one comparison and merged by (key, id). ``np.partition`` only ranks the
first few thousand columns (to get a first k-th best) and rows of a chunk with hundreds of
candidates, keeping every item tied with its cut. numpy has no int8 matrix product and no
fused XOR-popcount, so int8 and Hamming scans are compiled with numba
(:mod:`core.kernels_jit`), each score going straight into a running top-k; corpora below
:data:`JIT_MIN_ROWS` rows take plain numpy instead, so a process that only searches small
corpora never loads numba. Keys are "lower is closer": negated similarities, or Hamming
distances. Results equal a full sort by (key, id): ties go to the lower corpus id. No
temporary grows with a large corpus: only with the chunk and the queries.

Each ``top_k_*`` returns a :class:`core.topk.TopK` of arrays; each ``search_*`` wraps it into the
project's :class:`core.topk.SearchResult` with timing and scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np

from core.errors import ExplorerError
from core.metrics import Metric, as_matrix, check_same_width, row_norms
from core.topk import SearchResult, TopK, prepare_k, top_k_ids

# Elements in one (queries x chunk) key block: 1 MiB of float32 fits in L2 next to its chunk.
BLOCK_ELEMENTS = 1 << 18
# Columns of the first block ranked before the rest of it is filtered (see offer()).
WARMUP_COLUMNS = 4096
# Hits of one row in one block beyond 4k + this are cut to the k best before merging.
CROWDED_HITS = 256
# From this many corpus rows on, int8 and Hamming searches use the compiled kernels. Below
# it numpy takes at most a few milliseconds per query, while a fresh process needs about
# 1 s to load numba and the kernels from numba's on-disk cache, or 9 s to compile them.
JIT_MIN_ROWS = 20_000
# Candidates a compiled kernel buffers per query beyond k (at least k more) before sorting
# them and cutting back to the k best: small, as every sort of the buffer costs.
JIT_SPARE = 32
# A compiled kernel scans codes at 15-20 GB/s per thread; below this many bytes (corpus
# rows x queries x bytes per row) per thread, handing work to a thread costs more than it saves.
MIN_BYTES_PER_THREAD = 1 << 23
# int8 dot products are summed in int32: exact while dims * 128 * 128 < 2**31.
INT8_MAX_DIMS = 1 << 17

KeysOf = Callable[[slice, int, int], np.ndarray]


class _RunningTopK:
    """The ``k`` lowest keys seen so far for each query (ties to the lower id)."""

    def __init__(self, n_queries: int, k: int, dtype: np.dtype) -> None:
        self.k = k
        self.sentinel = np.inf
        self.keys = np.full((n_queries, k), self.sentinel, dtype=dtype)
        # Placeholders sort after every real id among equal keys.
        self.ids = np.full((n_queries, k), np.iinfo(np.int64).max, dtype=np.int64)
        self.empty = True

    def offer(self, block: np.ndarray, offset: int) -> None:
        """Take the candidates of a ``(q, c)`` key block whose column ``j`` is id ``offset + j``.

        Strictly below the current k-th key is enough: an item equal to it comes from a
        later chunk, so it has a higher id and loses the tie.
        """
        warmup = max(WARMUP_COLUMNS, 2 * self.k)
        if self.empty and block.shape[1] > 2 * warmup:
            # Everything beats the placeholders. Rank a few thousand columns first: their
            # k-th best filters the rest with one comparison instead of a partition of the
            # whole chunk.
            self.offer(block[:, :warmup], offset)
            block, offset = block[:, warmup:], offset + warmup
        self.empty = False
        width = block.shape[1]
        hits = np.flatnonzero(block < self.keys[:, -1:])
        crowd = 4 * self.k + CROWDED_HITS
        if hits.size > crowd:
            rows = hits // width
            counts = np.bincount(rows, minlength=block.shape[0])
            crowded = np.flatnonzero(counts > crowd)
            if crowded.size:
                hits = hits[self._thin(block, hits, counts, crowded)]
        if hits.size:
            rows_hit, cols = np.divmod(hits, width)
            self._merge(rows_hit, block[rows_hit, cols], cols + offset)

    def _thin(
        self, block: np.ndarray, hits: np.ndarray, counts: np.ndarray, crowded: np.ndarray
    ) -> np.ndarray:
        """Mask over ``hits`` (row-major flat indices into ``block``) keeping, in each
        crowded row, only its k best hits and their ties."""
        keep = np.ones(hits.size, dtype=bool)
        starts = np.cumsum(counts) - counts
        for row in crowded:
            span = slice(starts[row], starts[row] + counts[row])
            keys = block[row, hits[span] - row * block.shape[1]]
            keep[span] = keys <= np.partition(keys, self.k - 1)[self.k - 1]
        return keep

    def _merge(self, rows: np.ndarray, keys: np.ndarray, ids: np.ndarray) -> None:
        q, k = self.keys.shape
        if q == 1:
            # One query, the interactive case: no per-row bookkeeping, half the numpy calls.
            one_keys = np.concatenate((self.keys[0], keys))
            one_ids = np.concatenate((self.ids[0], ids))
            best = np.lexsort((one_ids, one_keys))[:k]
            self.keys, self.ids = one_keys[best][np.newaxis], one_ids[best][np.newaxis]
            return
        all_rows = np.concatenate([np.repeat(np.arange(q), k), rows])
        all_keys = np.concatenate([self.keys.ravel(), keys])
        all_ids = np.concatenate([self.ids.ravel(), ids])
        order = np.lexsort((all_ids, all_keys, all_rows))
        per_row = k + np.bincount(rows, minlength=q)
        starts = np.cumsum(per_row) - per_row
        take = order[starts[:, np.newaxis] + np.arange(k)]
        self.keys, self.ids = all_keys[take], all_ids[take]


def _scan(
    n_queries: int,
    n: int,
    k: int,
    chunk: int,
    group: int,
    keys_of: KeysOf,
    dtype: np.dtype,
    exclude: np.ndarray | None,
) -> _RunningTopK:
    """Top-k over ``n`` corpus rows: chunk by chunk (outer, so a chunk is reused from cache
    by every query group) and query group by query group (inner)."""
    groups = [slice(lo, min(lo + group, n_queries)) for lo in range(0, n_queries, group)]
    bests = [_RunningTopK(g.stop - g.start, k, dtype) for g in groups]
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        for g, best in zip(groups, bests, strict=True):
            block = keys_of(g, lo, hi)
            if exclude is not None:
                own = exclude[g]
                hit = np.flatnonzero((own >= lo) & (own < hi))
                block[hit, own[hit] - lo] = best.sentinel
            best.offer(block, lo)
    if len(bests) == 1:
        return bests[0]
    out = _RunningTopK(n_queries, k, dtype)
    out.keys = np.vstack([b.keys for b in bests])
    out.ids = np.vstack([b.ids for b in bests])
    return out


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="kernels")


def _check_threads(threads: int) -> None:
    if threads < 1:
        raise ExplorerError(f"threads={threads}: use 1 or more.")


JitRun = Callable[[int, int, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _split_jit(
    run: JitRun,
    n_queries: int,
    n: int,
    row_bytes: int,
    k: int,
    threads: int,
    exclude: np.ndarray | None,
) -> TopK:
    """Run a compiled kernel, ``run(lo, hi, exclude)``, over up to ``threads`` contiguous
    corpus ranges at once (the kernels release the GIL) and merge their results by (key, id).
    ``row_bytes`` is the size of one corpus row's codes."""
    excluded = np.full(n_queries, -1, dtype=np.int64) if exclude is None else np.array(exclude)
    parts = min(threads, max(1, n * n_queries * row_bytes // MIN_BYTES_PER_THREAD))
    bounds = [n * i // parts for i in range(parts + 1)]
    if parts == 1:
        keys, ids = run(0, n, excluded)
        return TopK(ids, keys)
    found = list(_pool(parts).map(lambda lo, hi: run(lo, hi, excluded), bounds[:-1], bounds[1:]))
    keys, ids = np.hstack([f[0] for f in found]), np.hstack([f[1] for f in found])
    # Each range's placeholders (int64 max) sort after every real row.
    best = np.lexsort((ids, keys))[:, :k]
    return TopK(np.take_along_axis(ids, best, axis=1), np.take_along_axis(keys, best, axis=1))


def _numpy_top_k(
    keys_of: Callable[[slice], np.ndarray],
    n_queries: int,
    n: int,
    k: int,
    exclude: np.ndarray | None,
) -> TopK:
    """Top-k from whole ``(queries, n)`` int64 key blocks, ``keys_of(query_rows)``, for
    corpora below :data:`JIT_MIN_ROWS`."""
    ids = np.empty((n_queries, k), dtype=np.int64)
    keys = np.empty((n_queries, k), dtype=np.int64)
    step = max(1, BLOCK_ELEMENTS // n)
    for lo in range(0, n_queries, step):
        rows = slice(lo, lo + step)
        block = keys_of(rows)
        ids[rows] = top_k_ids(block, k, False, None if exclude is None else exclude[rows])
        keys[rows] = np.take_along_axis(block, ids[rows], axis=1)
    return TopK(ids, keys)


# Queries and corpus of different widths.
_SAME_WAY = (
    "Queries have {a} dimensions but the corpus has {b}: "
    "prepare both the same way (same model, same quantization)."
)


# --------------------------------------------------------------------------- float32 vectors

_FLOAT_METRICS = (Metric.COSINE, Metric.DOT, Metric.EUCLIDEAN)


def _inner_product_scan(
    queries: np.ndarray,
    corpus: np.ndarray,
    k: int,
    chunk: int,
    column_scale: np.ndarray | None,
    column_shift: np.ndarray | None,
    exclude: np.ndarray | None,
) -> TopK:
    """Keys ``(queries @ corpus[rows].T) * column_scale + column_shift`` by BLAS, chunk by
    chunk."""
    n_queries, n = queries.shape[0], corpus.shape[0]
    group = max(1, min(n_queries, BLOCK_ELEMENTS // chunk))
    single = n_queries == 1

    def keys_of(g: slice, lo: int, hi: int) -> np.ndarray:
        rows = corpus[lo:hi]
        # A matrix-vector product for one query: BLAS gemv, not gemm with one row.
        block = (rows @ queries[0])[np.newaxis, :] if single else queries[g] @ rows.T
        if column_scale is not None:
            block *= column_scale[lo:hi]
        if column_shift is not None:
            block += column_shift[lo:hi]
        if not np.isfinite(block).all():
            # Checked on the scores, 1/d of the data, rather than on the whole corpus on
            # every query: a NaN or infinity anywhere in a row makes its score non-finite.
            bad = lo + int(np.flatnonzero(~np.isfinite(block).all(axis=0))[0])
            raise ExplorerError(f"corpus vectors row {bad} contains NaN or infinity.")
        return block

    dtype = np.dtype(queries.dtype)
    best = _scan(n_queries, n, k, chunk, group, keys_of, dtype, exclude)
    return TopK(best.ids, best.keys)


def top_k_float32(
    queries: np.ndarray | list,
    corpus: np.ndarray | list,
    k: int,
    metric: str | Metric = Metric.DOT,
    exclude: int | np.ndarray | None = None,
    corpus_norms: np.ndarray | None = None,
) -> TopK:
    """Exact top-k of ``(q, d)`` queries over an ``(n, d)`` corpus in float32 (BLAS).

    Keys: ``-dot``, ``-cosine`` or ``|x|^2 - 2 q.x`` (squared euclidean distance minus the
    query's own ``|q|^2``, which does not change its ranking). A corpus that is not float32
    is copied to float32 on every call. Cosine and euclidean need the corpus row norms: pass
    ``corpus_norms`` (``(n,)``) to skip a pass over the corpus, or normalise the corpus once
    and use ``"dot"``. ``exclude`` leaves out one corpus id per query, as in
    :func:`core.search.exhaustive_search`.
    """
    m = Metric.coerce(metric)
    if m not in _FLOAT_METRICS:
        allowed = ", ".join(x.value for x in _FLOAT_METRICS)
        raise ExplorerError(
            f"The float32 kernel supports {allowed}, not {m.value}: use "
            "core.search.exhaustive_search for it."
        )
    q = as_matrix(queries, "queries").astype(np.float32)
    c = np.asarray(corpus)
    if c.ndim != 2 or c.shape[1] == 0 or c.dtype.kind not in "fiu":
        raise ExplorerError(f"The corpus must be a numeric (n, d) matrix, got {c.dtype} {c.shape}.")
    # No full finiteness pass over a large corpus per query: the scores reveal bad rows.
    c = np.ascontiguousarray(c, dtype=np.float32)
    check_same_width(q, c, _SAME_WAY)
    excluded = prepare_k(k, q.shape[0], c.shape[0], exclude)
    scale = shift = None
    if m is not Metric.DOT:
        norms = row_norms(c, "corpus vectors") if corpus_norms is None else corpus_norms
        if np.shape(norms) != (c.shape[0],):
            raise ExplorerError(
                f"corpus_norms has shape {np.shape(norms)}; expected ({c.shape[0]},)."
            )
        norms = np.asarray(norms, dtype=np.float64)
    if m is Metric.COSINE:
        q = -q / row_norms(q, "queries")[:, np.newaxis]
        scale = (1.0 / norms).astype(np.float32)
    elif m is Metric.DOT:
        q = -q
    else:
        q = -2.0 * q
        shift = (norms**2).astype(np.float32)
    chunk = max(1, BLOCK_ELEMENTS // min(q.shape[0], 64))
    return _inner_product_scan(q, c, k, chunk, scale, shift, excluded)


def search_float32(
    queries: np.ndarray | list,
    corpus: np.ndarray | list,
    k: int,
    metric: str | Metric = Metric.DOT,
    exclude: int | np.ndarray | None = None,
    corpus_norms: np.ndarray | None = None,
) -> SearchResult:
    """:func:`top_k_float32` as a :class:`SearchResult`: similarities for cosine and dot,
    L2 distances for euclidean (float32 precision, ~1e-6)."""
    m = Metric.coerce(metric)
    start = time.perf_counter()
    found = top_k_float32(queries, corpus, k, m, exclude, corpus_norms)
    keys = found.keys.astype(np.float64)
    if m is Metric.EUCLIDEAN:
        q = as_matrix(queries, "queries").astype(np.float32)
        q_sq = np.einsum("ij,ij->i", q, q).astype(np.float64)
        scores = np.sqrt(np.maximum(keys + q_sq[:, np.newaxis], 0.0))
    else:
        scores = -keys
    seconds = time.perf_counter() - start
    return SearchResult(found.ids, scores, seconds, m.value, m.higher_is_closer)


# --------------------------------------------------------------------------- int8 codes


def _int8_matrix(codes: np.ndarray | list, name: str) -> np.ndarray:
    arr = np.asarray(codes)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.dtype != np.int8 or arr.ndim != 2 or arr.shape[1] == 0:
        raise ExplorerError(
            f"{name} must be int8 codes of shape (n, d), got {arr.dtype} {arr.shape}: "
            "quantize them with core.quantize.ScalarQuantizer."
        )
    return arr


def top_k_int8(
    query_codes: np.ndarray,
    corpus_codes: np.ndarray,
    k: int,
    exclude: int | np.ndarray | None = None,
    threads: int = 1,
) -> TopK:
    """Exact top-k by the dot product of int8 codes: ``(q, d)`` against ``(n, d)``.

    Keys are the negated dot products (int64), accumulated in int32, which is exact below
    :data:`INT8_MAX_DIMS` dimensions. From :data:`JIT_MIN_ROWS` corpus rows on, a compiled
    kernel computes them and keeps the top k as it goes, over ``threads`` corpus ranges at
    once; smaller corpora take one numpy product.
    """
    _check_threads(threads)
    q = np.ascontiguousarray(_int8_matrix(query_codes, "Query codes"))
    c = np.ascontiguousarray(_int8_matrix(corpus_codes, "Corpus codes"))
    check_same_width(q, c, _SAME_WAY)
    if c.shape[1] >= INT8_MAX_DIMS:
        raise ExplorerError(
            f"{c.shape[1]} dimensions: int8 dot products are summed in int32, exact below "
            f"{INT8_MAX_DIMS}. Truncate the vectors first."
        )
    n_queries, n = q.shape[0], c.shape[0]
    excluded = prepare_k(k, n_queries, n, exclude)
    if n < JIT_MIN_ROWS:

        def keys_of(rows: slice) -> np.ndarray:
            return -np.einsum("qd,nd->qn", q[rows], c, dtype=np.int32).astype(np.int64)

        return _numpy_top_k(keys_of, n_queries, n, k, excluded)
    from core.kernels_jit import int8_top_k

    def run(lo: int, hi: int, ex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return int8_top_k(q, c, lo, hi, k, ex, JIT_SPARE)

    return _split_jit(run, n_queries, n, c.shape[1], k, threads, excluded)


def search_int8(
    query_codes: np.ndarray,
    corpus_codes: np.ndarray,
    k: int,
    exclude: int | np.ndarray | None = None,
    threads: int = 1,
) -> SearchResult:
    """:func:`top_k_int8` as a :class:`SearchResult`; scores are the integer dot products
    (as :func:`core.quantize.int8_search` reports them)."""
    start = time.perf_counter()
    found = top_k_int8(query_codes, corpus_codes, k, exclude, threads)
    scores = -found.keys.astype(np.float64)
    return SearchResult(found.ids, scores, time.perf_counter() - start, "int8-dot", True)


# --------------------------------------------------------------------------- packed bits


@dataclass(frozen=True)
class BitMatrix:
    """Binary codes laid out for Hamming scans: ``words`` is uint64 ``(w, n)``, one row per
    64-bit word of every vector, so a scan reads each word row contiguously.

    ``dims`` is the number of real bits per vector; the ``w * 64 - dims`` padding bits are 0
    in every vector, so they never differ.
    """

    words: np.ndarray
    dims: int

    @classmethod
    def from_packed(cls, packed: np.ndarray, dims: int | None = None) -> BitMatrix:
        """From :func:`core.quantize.pack_bits` output, uint8 ``(n, ceil(dims / 8))``."""
        arr = np.asarray(packed)
        if arr.ndim == 1:
            arr = arr[np.newaxis, :]
        if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] == 0:
            raise ExplorerError(
                f"Packed bits must be uint8 of shape (n, bytes), got {arr.dtype} {arr.shape}: "
                "use core.quantize.pack_bits."
            )
        bits = arr.shape[1] * 8 if dims is None else dims
        if not arr.shape[1] * 8 - 8 < bits <= arr.shape[1] * 8:
            raise ExplorerError(
                f"dims={bits} does not fit {arr.shape[1]} packed bytes per vector: "
                f"use {arr.shape[1] * 8 - 7} to {arr.shape[1] * 8}."
            )
        n_words = -(-arr.shape[1] // 8)
        padded = np.zeros((arr.shape[0], n_words * 8), dtype=np.uint8)
        padded[:, : arr.shape[1]] = arr
        # Byte order inside a word does not matter: both sides use the same one.
        words = np.ascontiguousarray(padded.view(np.uint64).T)
        return cls(words, bits)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> BitMatrix:
        """From a bool (or 0/1) ``(n, d)`` array."""
        arr = np.atleast_2d(np.asarray(bits))
        if arr.ndim != 2 or not (arr.dtype == np.bool_ or np.isin(arr, (0, 1)).all()):
            raise ExplorerError(f"Bits must be a (n, d) array of 0/1, got {arr.dtype} {arr.shape}.")
        return cls.from_packed(np.packbits(arr.astype(bool), axis=1), arr.shape[1])

    @classmethod
    def stack(cls, parts: Sequence[BitMatrix]) -> BitMatrix:
        """Concatenate row blocks (e.g. built chunk by chunk) into one matrix."""
        if not parts or len({p.dims for p in parts}) != 1:
            raise ExplorerError("Stack at least one BitMatrix, all with the same dims.")
        return cls(np.hstack([p.words for p in parts]), parts[0].dims)

    def __len__(self) -> int:
        return int(self.words.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory of the codes, 8 bytes per 64 dimensions (rounded up) per vector."""
        return int(self.words.nbytes)


def _as_bits(x: BitMatrix | np.ndarray, name: str) -> BitMatrix:
    if isinstance(x, BitMatrix):
        return x
    try:
        return BitMatrix.from_packed(x)
    except ExplorerError as exc:
        raise ExplorerError(f"{name}: {exc}") from None


def _flat_words(words: np.ndarray) -> tuple[np.ndarray, int]:
    """``(w, n)`` words as one read-only flat array and the distance between word rows, so
    that a column slice (``words[:, :size]``, a corpus prefix) reaches the compiled kernel
    uncopied and with the same layout as a whole matrix."""
    row_step, word_step = words.strides
    if word_step != 8 or row_step % 8 or row_step < 8 * words.shape[1]:
        words = np.ascontiguousarray(words)
    stride = words.strides[0] // 8
    span = (words.shape[0] - 1) * stride + words.shape[1]
    return np.lib.stride_tricks.as_strided(words, (span,), (8,), writeable=False), stride


def top_k_hamming(
    queries: BitMatrix | np.ndarray,
    corpus: BitMatrix | np.ndarray,
    k: int,
    exclude: int | np.ndarray | None = None,
    threads: int = 1,
) -> TopK:
    """Exact top-k by fewest differing bits; keys are Hamming distances (int64).

    ``queries`` and ``corpus`` are :class:`BitMatrix` or packed uint8 rows (converted on
    every call: keep a BitMatrix for a corpus searched repeatedly). From
    :data:`JIT_MIN_ROWS` corpus rows on, a compiled kernel XORs 64-bit words, counts their
    bits and keeps the top k as it goes, over ``threads`` corpus ranges at once; smaller
    corpora take numpy's ``bitwise_count`` on the whole ``(q, n)`` distance matrix.
    """
    _check_threads(threads)
    qb, cb = _as_bits(queries, "Queries"), _as_bits(corpus, "Corpus")
    check_same_width(
        qb.dims,
        cb.dims,
        "Queries have {a} bits but the corpus has {b}: quantize both the same way.",
    )
    n_queries, n = len(qb), len(cb)
    excluded = prepare_k(k, n_queries, n, exclude)
    if n < JIT_MIN_ROWS:

        def keys_of(rows: slice) -> np.ndarray:
            q_words = qb.words[:, rows, np.newaxis]
            keys = np.zeros((q_words.shape[1], n), dtype=np.int64)
            for q_word, c_word in zip(q_words, cb.words, strict=True):
                keys += np.bitwise_count(q_word ^ c_word)
            return keys

        return _numpy_top_k(keys_of, n_queries, n, k, excluded)
    from core.kernels_jit import hamming_top_k

    q_words = np.ascontiguousarray(qb.words)
    words, stride = _flat_words(cb.words)

    def run(lo: int, hi: int, ex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return hamming_top_k(q_words, words, stride, lo, hi, k, ex, JIT_SPARE)

    return _split_jit(run, n_queries, n, cb.words.shape[0] * 8, k, threads, excluded)


def search_hamming(
    queries: BitMatrix | np.ndarray,
    corpus: BitMatrix | np.ndarray,
    k: int,
    exclude: int | np.ndarray | None = None,
    threads: int = 1,
) -> SearchResult:
    """:func:`top_k_hamming` as a :class:`SearchResult` (scores: differing bits)."""
    start = time.perf_counter()
    found = top_k_hamming(queries, corpus, k, exclude, threads)
    scores = found.keys.astype(np.float64)
    return SearchResult(found.ids, scores, time.perf_counter() - start, "hamming", False)


def warm_up() -> None:
    """Compile the int8 and Hamming kernels into numba's on-disk cache, so that the first
    large search after an install does not wait for the compiler. Set-up runs it once
    (``python -m core.kernels``); later processes load the compiled code in under a second."""
    codes = np.random.default_rng(0).integers(-128, 128, (JIT_MIN_ROWS, 64), dtype=np.int8)
    top_k_int8(codes[:2], codes, 10, exclude=np.array([0, 1]))
    bits = np.packbits(codes > 0, axis=1)
    top_k_hamming(bits[:2], bits, 10, exclude=np.array([0, 1]))


if __name__ == "__main__":
    warm_up()
