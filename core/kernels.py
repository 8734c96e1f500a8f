"""Exact top-k kernels for search at scale: float32 vectors, int8 codes and packed bits.

Every kernel scans the corpus in row chunks small enough to stay in cache and keeps a
running top-k per query. A chunk's candidates are the items that beat the current k-th best,
found with one comparison and merged by (key, id), so results equal a full sort with ties
broken by the lower corpus id. ``np.partition`` only ranks the first few thousand columns
(to get a first k-th best) and rows of a chunk with hundreds of candidates, keeping every
item tied with its cut. Keys are "lower is closer": negated similarities, or Hamming
distances. No temporary grows with the corpus: only with the chunk and the queries.

Each ``top_k_*`` returns a :class:`TopK` of arrays; each ``search_*`` wraps it into the
project's :class:`core.search.SearchResult` with timing and scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np

from core.errors import ExplorerError
from core.metrics import Metric, as_matrix
from core.search import SearchResult, _check_k_excluding, _exclusion, row_norms

# Elements in one (queries x chunk) key block: 1 MiB of float32 fits in L2 next to its chunk.
BLOCK_ELEMENTS = 1 << 18
# Bytes of corpus data a chunk may expand into (int8 converted to float, XOR of bit words):
# well inside a shared L3 cache, and large enough that the fixed cost of each chunk's dozen
# numpy calls stays small next to its arithmetic.
CHUNK_BYTES = 1 << 22
# Columns of the first block ranked before the rest of it is filtered (see offer()).
WARMUP_COLUMNS = 4096
# Hits of one row in one block beyond 4k + this are cut to the k best before merging.
CROWDED_HITS = 256
# From this many queries on, one BLAS product per converted int8 chunk beats a numpy
# dot-product loop per query.
BLAS_MIN_QUERIES = 8
# Below this many corpus rows per thread, starting a thread costs more than it saves.
MIN_ROWS_PER_THREAD = 4096
# int8 products are at most 2**14, so float32 sums of up to 1024 of them are exact integers.
_INT8_EXACT_IN_FLOAT32 = 1024

KeysOf = Callable[[slice, int, int], np.ndarray]


@dataclass(frozen=True)
class TopK:
    """The ``k`` best corpus rows per query, best first.

    Attributes:
        ids: int64 ``(q, k)`` corpus row numbers.
        keys: ``(q, k)`` sort keys, lower is closer (negated similarity or distance), in
            the dtype the kernel computed them in.
    """

    ids: np.ndarray
    keys: np.ndarray


class _RunningTopK:
    """The ``k`` lowest keys seen so far for each query (ties to the lower id)."""

    def __init__(self, n_queries: int, k: int, dtype: np.dtype) -> None:
        self.k = k
        self.sentinel = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
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
            # whole chunk, which is slow on the many equal keys of Hamming distances.
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

    def absorb(self, other: _RunningTopK) -> None:
        """Merge another scan's results (over other corpus rows) into this one."""
        q, k = other.keys.shape
        self._merge(np.repeat(np.arange(q), k), other.keys.ravel(), other.ids.ravel())

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
    rows: range,
    k: int,
    chunk: int,
    group: int,
    keys_of: KeysOf,
    dtype: np.dtype,
    exclude: np.ndarray | None,
) -> _RunningTopK:
    """Top-k over corpus ``rows``: chunk by chunk (outer, so a chunk is reused from cache by
    every query group) and query group by query group (inner)."""
    groups = [slice(lo, min(lo + group, n_queries)) for lo in range(0, n_queries, group)]
    bests = [_RunningTopK(g.stop - g.start, k, dtype) for g in groups]
    for lo in range(rows.start, rows.stop, chunk):
        hi = min(lo + chunk, rows.stop)
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


def _split_scan(
    n_queries: int,
    n: int,
    k: int,
    threads: int,
    scan: Callable[[range], _RunningTopK],
) -> TopK:
    """Run ``scan`` over ``threads`` contiguous corpus ranges at once and merge the results.

    numpy releases the GIL inside its loops, so the ranges really run in parallel.
    """
    if threads < 1:
        raise ExplorerError(f"threads={threads}: use 1 or more.")
    parts = min(threads, max(1, n // MIN_ROWS_PER_THREAD))
    ranges = [range(n * i // parts, n * (i + 1) // parts) for i in range(parts)]
    if parts == 1:
        best = scan(ranges[0])
    else:
        results = list(_pool(parts).map(scan, ranges))
        best = results[0]
        for other in results[1:]:
            best.absorb(other)
    return TopK(best.ids, best.keys)


def _prepare_k(
    k: int, n_queries: int, n: int, exclude: int | np.ndarray | None
) -> np.ndarray | None:
    excluded = _exclusion(exclude, n_queries, n)
    _check_k_excluding(k, n, excluded)
    return excluded


def _same_width(q: np.ndarray, c: np.ndarray, what: str) -> None:
    if q.shape[1] != c.shape[1]:
        raise ExplorerError(
            f"Queries have {q.shape[1]} {what} but the corpus has {c.shape[1]}: "
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
    convert: np.dtype | None = None,
) -> TopK:
    """Keys ``(queries @ corpus[rows].T) * column_scale + column_shift`` by BLAS, chunk by
    chunk. ``convert`` copies each chunk to that float dtype first (int8 codes)."""
    n_queries, n = queries.shape[0], corpus.shape[0]
    group = max(1, min(n_queries, BLOCK_ELEMENTS // chunk))
    buffer = None if convert is None else np.empty((chunk, corpus.shape[1]), dtype=convert)
    single = n_queries == 1

    def keys_of(g: slice, lo: int, hi: int) -> np.ndarray:
        rows = corpus[lo:hi]
        if buffer is not None:
            rows = buffer[: hi - lo]
            np.copyto(rows, corpus[lo:hi], casting="unsafe")
        # A matrix-vector product for one query: BLAS gemv, not gemm with one row.
        block = (rows @ queries[0])[np.newaxis, :] if single else queries[g] @ rows.T
        if column_scale is not None:
            block *= column_scale[lo:hi]
        if column_shift is not None:
            block += column_shift[lo:hi]
        if buffer is None and not np.isfinite(block).all():
            # Checked on the scores, 1/d of the data, rather than on the whole corpus on
            # every query: a NaN or infinity anywhere in a row makes its score non-finite.
            bad = lo + int(np.flatnonzero(~np.isfinite(block).all(axis=0))[0])
            raise ExplorerError(f"corpus vectors row {bad} contains NaN or infinity.")
        return block

    dtype = np.dtype(queries.dtype)
    best = _scan(n_queries, range(n), k, chunk, group, keys_of, dtype, exclude)
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
    _same_width(q, c, "dimensions")
    excluded = _prepare_k(k, q.shape[0], c.shape[0], exclude)
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

    Keys are the negated integer dot products, computed chunk by chunk on a float copy of
    the chunk whose sums are exact integers (float32 up to 1024 dimensions, float64
    beyond), so they equal int32 accumulation while reading one byte per number from
    memory. A few queries use numpy's dot-product loop, split over ``threads`` threads;
    from :data:`BLAS_MIN_QUERIES` queries on, BLAS multiplies each chunk by all of them.
    """
    q = _int8_matrix(query_codes, "Query codes")
    c = np.ascontiguousarray(_int8_matrix(corpus_codes, "Corpus codes"))
    _same_width(q, c, "dimensions")
    n_queries, (n, d) = q.shape[0], c.shape
    excluded = _prepare_k(k, n_queries, n, exclude)
    exact = np.dtype(np.float32 if d <= _INT8_EXACT_IN_FLOAT32 else np.float64)
    negated = np.negative(q, dtype=exact)
    chunk = max(1, CHUNK_BYTES // (d * exact.itemsize))
    if n_queries >= BLAS_MIN_QUERIES:
        # Wider chunks than the float32 kernel's: each converted chunk is then multiplied by
        # all the queries of a group in one BLAS call large enough to run efficiently.
        wide = max(chunk, BLOCK_ELEMENTS // min(n_queries, 64))
        return _inner_product_scan(negated, c, k, wide, None, None, excluded, exact)

    def scan(rows: range) -> _RunningTopK:
        converted = np.empty((chunk, d), dtype=exact)
        block = np.empty((n_queries, chunk), dtype=exact)

        def keys_of(g: slice, lo: int, hi: int) -> np.ndarray:
            chunk_rows = converted[: hi - lo]
            np.copyto(chunk_rows, c[lo:hi], casting="unsafe")
            out = block[: g.stop - g.start, : hi - lo]
            for row, j in enumerate(range(g.start, g.stop)):
                # numpy's own loop rather than BLAS, whose threads would fight ours.
                np.einsum("nd,d->n", chunk_rows, negated[j], out=out[row])
            return out

        return _scan(n_queries, rows, k, chunk, n_queries, keys_of, exact, excluded)

    return _split_scan(n_queries, n, k, threads, scan)


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


def top_k_hamming(
    queries: BitMatrix | np.ndarray,
    corpus: BitMatrix | np.ndarray,
    k: int,
    exclude: int | np.ndarray | None = None,
    threads: int = 1,
) -> TopK:
    """Exact top-k by fewest differing bits; keys are Hamming distances (uint16/uint32).

    ``queries`` and ``corpus`` are :class:`BitMatrix` or packed uint8 rows (converted on
    every call: keep a BitMatrix for a corpus searched repeatedly). Works on 64-bit words:
    XOR, ``np.bitwise_count`` and a sum over the words, one cache-sized chunk at a time.
    ``threads`` splits the corpus between that many threads.
    """
    qb, cb = _as_bits(queries, "Queries"), _as_bits(corpus, "Corpus")
    if qb.dims != cb.dims:
        raise ExplorerError(
            f"Queries have {qb.dims} bits but the corpus has {cb.dims}: quantize both the same way."
        )
    n_queries, n = len(qb), len(cb)
    excluded = _prepare_k(k, n_queries, n, exclude)
    n_words = cb.words.shape[0]
    dtype = np.dtype(np.uint16 if n_words * 64 <= np.iinfo(np.uint16).max else np.uint32)
    chunk = max(1, CHUNK_BYTES // (8 * n_words))
    group = max(1, min(n_queries, BLOCK_ELEMENTS // chunk))
    qwords = qb.words

    def scan(rows: range) -> _RunningTopK:
        # Buffers per thread, reused by every chunk: no corpus-sized temporaries.
        xor = np.empty((n_words, chunk), dtype=np.uint64)
        ones = np.empty((n_words, chunk), dtype=np.uint8)
        block = np.empty((group, chunk), dtype=dtype)

        def keys_of(g: slice, lo: int, hi: int) -> np.ndarray:
            width = hi - lo
            out = block[: g.stop - g.start, :width]
            for row, j in enumerate(range(g.start, g.stop)):
                np.bitwise_xor(cb.words[:, lo:hi], qwords[:, j : j + 1], out=xor[:, :width])
                np.bitwise_count(xor[:, :width], out=ones[:, :width])
                np.add.reduce(ones[:, :width], axis=0, dtype=dtype, out=out[row])
            return out

        return _scan(n_queries, rows, k, chunk, group, keys_of, dtype, excluded)

    return _split_scan(n_queries, n, k, threads, scan)


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
