"""Compiled (numba) top-k kernels for int8 codes and packed bits, used by :mod:`core.kernels`.

numpy has neither an int8 matrix product nor a fused XOR-popcount-select, so these loops are
compiled: int8 dot products accumulate in int32 (LLVM vectorises them into multiply-add
instructions), Hamming distances are XOR + popcount on 64-bit words, and every score goes
straight into a running top-k per query. Nothing grows with the corpus but the time.

Each kernel scans corpus rows ``lo:hi`` and returns int64 ``(keys, ids)`` of shape
``(q, k)``, sorted by (key, id) with lower keys closer; when the range holds fewer than
``k`` rows (besides an excluded one) the rest are placeholders (``PLACEHOLDER`` key and id)
that sort last. Functions are compiled with ``cache=True`` (kept next to this file, or in
numba's user cache directory) and ``nogil=True``, so :mod:`core.kernels` runs ranges in
parallel threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import llvmlite.binding as llvm
import numba
import numpy as np

# LLVM sizes vectors by the widest type in a loop (the int32 sums) unless told to maximise
# bandwidth: then the int8 products become full-width (256-bit) multiply-adds on AVX2, about
# twice as fast. Process-wide, but only this module compiles anything with numba here.
llvm.set_option("", "-vectorizer-maximize-bandwidth")

PLACEHOLDER = np.iinfo(np.int64).max
# Corpus rows per block of the Hamming scan: its words stay in L1 while every query reads them.
HAMMING_BLOCK_ROWS = 256


def _compile(fn: Callable[..., Any]) -> Any:
    """``numba.njit(cache=True, nogil=True)``; without the on-disk cache when numba finds no
    writable place for it (then each process compiles once, a few seconds)."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:
        return numba.njit(nogil=True)(fn)


@_compile
def _new_selection(n_queries: int, k: int, spare: int) -> tuple:
    """Candidate buffers of a running top-k, room for ``k + max(k, spare)`` per query: keys,
    ids, counts and each query's bound (the current k-th key; a candidate must be strictly
    lower)."""
    capacity = k + max(k, spare)
    keys = np.empty((n_queries, capacity), dtype=np.int64)
    ids = np.empty((n_queries, capacity), dtype=np.int64)
    counts = np.zeros(n_queries, dtype=np.int64)
    bounds = np.full(n_queries, PLACEHOLDER, dtype=np.int64)
    return keys, ids, counts, bounds


@_compile
def _best(keys, ids, counts, j: int, k: int) -> tuple:
    """Query ``j``'s best candidates, at most ``k``, sorted by (key, id).

    Candidates of equal key sit in id order (rows are offered in id order, and a cut keeps
    the order of equal keys), so a stable sort by key alone is enough.
    """
    order = np.argsort(keys[j, : counts[j]], kind="mergesort")[:k]
    return keys[j, order], ids[j, order]


@_compile
def _offer(keys, ids, counts, bounds, j: int, key: int, row: int, k: int) -> None:
    """Add a candidate that beat query ``j``'s bound. When the buffer is full, cut it back to
    the ``k`` best and make the k-th key the bound: a later row with that key has a higher
    id and loses the tie, hence a strict bound."""
    count = counts[j]
    keys[j, count] = key
    ids[j, count] = row
    counts[j] = count + 1
    if count + 1 == keys.shape[1]:
        best_keys, best_ids = _best(keys, ids, counts, j, k)
        keys[j, :k] = best_keys
        ids[j, :k] = best_ids
        counts[j] = k
        bounds[j] = best_keys[k - 1]


@_compile
def _finish(keys, ids, counts, k: int) -> tuple:
    """Each query's ``k`` best, sorted by (key, id), placeholders after the real rows."""
    n_queries = keys.shape[0]
    out_keys = np.full((n_queries, k), PLACEHOLDER, dtype=np.int64)
    out_ids = np.full((n_queries, k), PLACEHOLDER, dtype=np.int64)
    for j in range(n_queries):
        best_keys, best_ids = _best(keys, ids, counts, j, k)
        out_keys[j, : best_keys.size] = best_keys
        out_ids[j, : best_ids.size] = best_ids
    return out_keys, out_ids


@_compile
def int8_top_k(queries, corpus, lo: int, hi: int, k: int, exclude, spare: int) -> tuple:
    """Top-k of int8 ``queries`` ``(q, d)`` over ``corpus[lo:hi]`` (both C-contiguous) by the
    int32-accumulated dot product; keys are the negated dot products. ``exclude[j]`` is a
    corpus row query ``j`` must not return, or -1; ``spare`` sizes the candidate buffers
    (see :func:`_new_selection`). Exact while ``d * 128 * 128 < 2**31``."""
    n_queries, dims = queries.shape
    keys, ids, counts, bounds = _new_selection(n_queries, k, spare)
    for i in range(lo, hi):
        row = corpus[i]
        for j in range(n_queries):
            query = queries[j]
            dot = np.int32(0)
            for t in range(dims):
                # numba computes in int64; truncating every step to int32 (exact here) lets
                # LLVM use 16-bit multiply-adds into 32-bit sums.
                dot = np.int32(dot + np.int16(query[t]) * np.int16(row[t]))
            key = -np.int64(dot)
            if key < bounds[j] and i != exclude[j]:
                _offer(keys, ids, counts, bounds, j, key, i, k)
    return _finish(keys, ids, counts, k)


@_compile
def _popcount(x):
    """Set bits of a uint64, the classic SWAR way (LLVM turns it into popcnt or vector code)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@_compile
def hamming_top_k(
    query_words, words, stride: int, lo: int, hi: int, k: int, exclude, spare: int
) -> tuple:
    """Top-k of ``(w, q)`` uint64 query words over corpus rows ``lo:hi`` by Hamming distance,
    the keys. The corpus is in :class:`core.kernels.BitMatrix` layout, flattened: word ``t``
    of row ``i`` is ``words[t * stride + i]``. ``exclude`` and ``spare`` as in
    :func:`int8_top_k`."""
    n_words, n_queries = query_words.shape
    keys, ids, counts, bounds = _new_selection(n_queries, k, spare)
    distances = np.empty(HAMMING_BLOCK_ROWS, dtype=np.uint64)
    for start in range(lo, hi, HAMMING_BLOCK_ROWS):
        stop = min(start + HAMMING_BLOCK_ROWS, hi)
        width = stop - start
        for j in range(n_queries):
            distances[:width] = 0
            for t in range(n_words):
                # One word of every row of the block: contiguous, so LLVM vectorises it.
                word = query_words[t, j]
                block = words[t * stride + start : t * stride + stop]
                for i in range(width):
                    distances[i] += _popcount(block[i] ^ word)
            for i in range(width):
                key = np.int64(distances[i])
                if key < bounds[j] and start + i != exclude[j]:
                    _offer(keys, ids, counts, bounds, j, key, start + i, k)
    return _finish(keys, ids, counts, k)
