"""The fast top-k kernels against plain numpy references (full sort, ties to the lower id),
on random and adversarial data, with chunks, query groups, threads and candidate buffers
forced small so every merge path runs, int8 and Hamming both through numpy (small corpora)
and through the compiled kernels; and against the project's slower implementations in
core.search and core.quantize."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core import kernels
from core.errors import ExplorerError
from core.kernels import (
    BitMatrix,
    search_float32,
    search_hamming,
    search_int8,
    top_k_float32,
    top_k_hamming,
    top_k_int8,
)
from core.quantize import hamming_search, int8_search, pack_bits
from core.search import exhaustive_search


@pytest.fixture(params=["default", "tiny"])
def chunking(request, monkeypatch):
    """float32: the real cache-sized chunks, and chunks of a few rows with small query
    groups, a one-column warm-up and no tolerance for crowded rows, so that small test
    corpora take every path and cross many chunk borders."""
    if request.param == "tiny":
        monkeypatch.setattr(kernels, "BLOCK_ELEMENTS", 24)
        monkeypatch.setattr(kernels, "WARMUP_COLUMNS", 1)
        monkeypatch.setattr(kernels, "CROWDED_HITS", 0)
    return request.param


@pytest.fixture(params=["numpy", "jit", "jit-tiny"])
def path(request, monkeypatch):
    """int8 and Hamming: numpy on the whole distance matrix; the compiled kernels; and the
    compiled kernels with a thread per 64 bytes of codes and candidate buffers cut back to k
    after every k more candidates, so small corpora cross thread borders and refill buffers."""
    monkeypatch.setattr(kernels, "JIT_MIN_ROWS", 10**9 if request.param == "numpy" else 0)
    if request.param == "jit-tiny":
        monkeypatch.setattr(kernels, "MIN_BYTES_PER_THREAD", 64)
        monkeypatch.setattr(kernels, "JIT_SPARE", 1)
    return request.param


def reference(keys: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Ids of the ``k`` lowest keys of every row by a full stable sort (ties: lower id)."""
    out = []
    for row in range(keys.shape[0]):
        order = np.argsort(keys[row], kind="stable")
        if exclude is not None:
            order = order[order != exclude[row]]
        out.append(order[:k])
    return np.array(out, dtype=np.int64)


def small_integers(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Values in -3..3, so every float32 dot product is an exact integer and ties are real;
    rows 1, n/2, n/2 + 3, ... are duplicates."""
    x = rng.integers(-3, 4, size=(n, d)).astype(np.float32)
    x[np.abs(x).sum(axis=1) == 0, 0] = 1.0
    x[n // 2 :: 3] = x[1]
    return x


# --------------------------------------------------------------------------- float32


@pytest.mark.parametrize("d", [100, 384])
@pytest.mark.parametrize("n_queries", [1, 5, 70])
@pytest.mark.parametrize("k", [1, 7, 60])
def test_float32_dot_equals_full_sort_on_exact_integer_data(chunking, d, n_queries, k):
    """One query (BLAS gemv), a few, and more than one query group (70 > 64)."""
    rng = np.random.default_rng(d + k)
    corpus = small_integers(rng, 60, d)
    queries = np.vstack([corpus[1], rng.integers(-3, 4, size=(69, d))]).astype(np.float32)
    queries = queries[:n_queries]
    got = top_k_float32(queries, corpus, k, "dot")
    dots = queries.astype(np.int64) @ corpus.astype(np.int64).T
    np.testing.assert_array_equal(got.ids, reference(-dots, k))
    np.testing.assert_array_equal(got.keys, -np.take_along_axis(dots, got.ids, axis=1))


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
@pytest.mark.parametrize("d", [100, 384])
def test_float32_matches_exhaustive_search_on_random_vectors(chunking, metric, d):
    rng = np.random.default_rng(7)
    corpus = rng.standard_normal((300, d)).astype(np.float32)
    queries = rng.standard_normal((6, d)).astype(np.float32)
    got = search_float32(queries, corpus, 10, metric)
    # The float64 path of exhaustive_search is the independent reference.
    ref = exhaustive_search(queries.astype(np.float64), corpus.astype(np.float64), 10, metric)
    np.testing.assert_array_equal(got.ids, ref.ids)
    np.testing.assert_allclose(got.scores, ref.scores, rtol=1e-5, atol=1e-5)
    assert got.metric == metric and got.higher_is_closer == (metric != "euclidean")
    assert got.ids.dtype == np.int64 and got.scores.dtype == np.float64


def test_float32_cosine_with_given_norms_equals_computed(chunking):
    rng = np.random.default_rng(8)
    corpus = rng.standard_normal((200, 65)).astype(np.float32)
    q = rng.standard_normal(65).astype(np.float32)
    norms = np.linalg.norm(corpus.astype(np.float64), axis=1)
    given_norms = search_float32(q, corpus, 9, "cosine", corpus_norms=norms)
    computed = search_float32(q, corpus, 9, "cosine")
    np.testing.assert_array_equal(given_norms.ids, computed.ids)
    with pytest.raises(ExplorerError, match=r"corpus_norms has shape \(3,\); expected \(200,\)"):
        search_float32(q, corpus, 9, "cosine", corpus_norms=norms[:3])


@pytest.mark.parametrize("order", ["rising", "falling", "all equal"])
def test_float32_adversarial_orders(chunking, order):
    """Rising scores make every chunk beat the previous k-th best (the crowded path each
    time); equal scores must come back as ids 0..k-1."""
    n, d = 97, 3
    scale = {"rising": np.arange(n), "falling": np.arange(n)[::-1], "all equal": np.ones(n)}
    corpus = np.zeros((n, d), dtype=np.float32)
    corpus[:, 0] = scale[order]
    got = top_k_float32([1.0, 0.0, 0.0], corpus, 12, "dot")
    np.testing.assert_array_equal(got.ids, reference(-corpus[np.newaxis, :, 0], 12))


def test_float32_duplicates_come_back_in_id_order(chunking):
    corpus = np.tile(np.array([[1.0, 2.0], [2.0, -1.0]], dtype=np.float32), (20, 1))
    got = search_float32([[1.0, 2.0]], corpus, 5, "cosine")
    np.testing.assert_array_equal(got.ids, [[0, 2, 4, 6, 8]])
    np.testing.assert_allclose(got.scores, 1.0, rtol=1e-6)


def test_float32_exclude_leaves_out_one_id_per_query(chunking):
    rng = np.random.default_rng(9)
    corpus = small_integers(rng, 50, 16)
    queries = corpus[[3, 1, 40]]
    exclude = np.array([3, 1, 40])
    got = top_k_float32(queries, corpus, 49, "dot", exclude=exclude)
    dots = queries.astype(np.int64) @ corpus.astype(np.int64).T
    np.testing.assert_array_equal(got.ids, reference(-dots, 49, exclude))
    with pytest.raises(ExplorerError, match="k=50 is larger than the 49 items other than"):
        top_k_float32(queries, corpus, 50, "dot", exclude=exclude)


def test_float32_single_row_corpus_and_k_errors():
    got = search_float32([[1.0, 2.0], [3.0, 1.0]], [[2.0, 2.0]], 1, "euclidean")
    np.testing.assert_array_equal(got.ids, [[0], [0]])
    np.testing.assert_allclose(got.scores, [[1.0], [np.sqrt(2.0)]], rtol=1e-6)
    with pytest.raises(ExplorerError, match=r"k=2 is larger than the 1 corpus items"):
        top_k_float32([1.0, 2.0], [[2.0, 2.0]], 2)
    with pytest.raises(ExplorerError, match="k=0: ask for at least 1"):
        top_k_float32([1.0, 2.0], [[2.0, 2.0]], 0)


def test_float32_bad_input_is_named():
    corpus = np.ones((300, 4), dtype=np.float32)
    corpus[217, 2] = np.nan
    with pytest.raises(ExplorerError, match="corpus vectors row 217 contains NaN"):
        top_k_float32(np.ones(4), corpus, 3)
    with pytest.raises(ExplorerError, match="Queries have 3 dimensions but the corpus has 4"):
        top_k_float32(np.ones(3), np.ones((5, 4)), 3)
    with pytest.raises(ExplorerError, match="supports cosine, dot, euclidean, not manhattan"):
        top_k_float32(np.ones(4), np.ones((5, 4)), 3, "manhattan")
    with pytest.raises(ExplorerError, match="numeric"):
        top_k_float32(np.ones(4), np.array([["a"] * 4]), 1)


@settings(max_examples=60, deadline=None)
@given(
    corpus=arrays(np.int8, st.tuples(st.integers(1, 40), st.just(5)), elements=st.integers(-2, 2)),
    data=st.data(),
)
def test_float32_property_small_integers(corpus, data):
    """Any small integer corpus (with its many ties), any k, any chunk size."""
    block = data.draw(st.integers(1, 50), label="block elements")
    k = data.draw(st.integers(1, corpus.shape[0]), label="k")
    query = data.draw(arrays(np.int8, 5, elements=st.integers(-2, 2)), label="query")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "BLOCK_ELEMENTS", block)
        mp.setattr(kernels, "WARMUP_COLUMNS", data.draw(st.integers(1, 8), label="warm-up"))
        mp.setattr(kernels, "CROWDED_HITS", data.draw(st.integers(0, 4), label="crowded"))
        got = top_k_float32(query.astype(np.float32), corpus.astype(np.float32), k, "dot")
    dots = corpus.astype(np.int64) @ query.astype(np.int64)
    np.testing.assert_array_equal(got.ids, reference(-dots[np.newaxis, :], k))


# --------------------------------------------------------------------------- int8


@pytest.mark.parametrize("d", [100, 384, 1100])
@pytest.mark.parametrize(("n_queries", "threads"), [(1, 1), (2, 3), (9, 1)])
def test_int8_equals_integer_dot_products(path, d, n_queries, threads):
    """Extreme codes (all -128) make sums beyond float32's exact range when d > 1024; the
    kernels must still return the exact integer dot products, for one query or several,
    split over threads or not."""
    rng = np.random.default_rng(d)
    corpus = rng.integers(-128, 128, size=(70, d)).astype(np.int8)
    corpus[5] = -128
    corpus[[20, 33]] = corpus[7]
    queries = np.vstack([np.full(d, -128, np.int8), corpus[7], corpus[:7]])[:n_queries]
    got = search_int8(queries, corpus, 15, threads=threads)
    dots = queries.astype(np.int64) @ corpus.astype(np.int64).T
    np.testing.assert_array_equal(got.ids, reference(-dots, 15))
    np.testing.assert_array_equal(got.scores, np.take_along_axis(dots, got.ids, axis=1))
    assert got.metric == "int8-dot" and got.higher_is_closer


def test_quantize_int8_search_runs_the_kernel(path):
    rng = np.random.default_rng(4)
    corpus = rng.integers(-128, 128, size=(500, 64)).astype(np.int8)
    queries = rng.integers(-128, 128, size=(3, 64)).astype(np.int8)
    theirs = int8_search(queries, corpus, 20, exclude=np.array([0, 1, 2]))
    ours = search_int8(queries, corpus, 20, exclude=[0, 1, 2])
    np.testing.assert_array_equal(ours.ids, theirs.ids)
    np.testing.assert_array_equal(ours.scores, theirs.scores)
    assert (theirs.metric, theirs.higher_is_closer) == ("int8-dot", True)
    assert theirs.scores.dtype == np.float64 and theirs.ids.dtype == np.int64
    dots = queries.astype(np.int64) @ corpus.astype(np.int64).T
    np.testing.assert_array_equal(theirs.ids, reference(-dots, 20, np.array([0, 1, 2])))


def test_int8_k_beyond_a_thread_range_and_too_wide_codes(path):
    """With tiny thread shares, each of three threads scans 10 rows but must return k=25:
    its missing rows are placeholders that the merge drops."""
    rng = np.random.default_rng(5)
    corpus = rng.integers(-3, 4, size=(30, 16)).astype(np.int8)
    queries = corpus[[0, 29]]
    got = top_k_int8(queries, corpus, 25, threads=3)
    dots = queries.astype(np.int64) @ corpus.astype(np.int64).T
    np.testing.assert_array_equal(got.ids, reference(-dots, 25))
    np.testing.assert_array_equal(got.keys, -np.take_along_axis(dots, got.ids, axis=1))
    assert got.keys.dtype == got.ids.dtype == np.int64
    wide = np.zeros((2, kernels.INT8_MAX_DIMS), dtype=np.int8)
    with pytest.raises(ExplorerError, match="131072 dimensions: int8 dot products are summed"):
        top_k_int8(wide[:1], wide, 1)
    with pytest.raises(ExplorerError, match="threads=0"):
        top_k_int8(queries, corpus, 1, threads=0)


def test_int8_ties_exclude_and_errors(path):
    corpus = np.zeros((30, 8), dtype=np.int8)
    corpus[:, 0] = np.repeat([1, 2, 3], 10)
    got = top_k_int8(np.ones(8, dtype=np.int8), corpus, 12, exclude=25)
    np.testing.assert_array_equal(got.ids, [[20, 21, 22, 23, 24, 26, 27, 28, 29, 10, 11, 12]])
    with pytest.raises(ExplorerError, match="must be int8 codes"):
        top_k_int8(np.ones(8), corpus, 1)
    with pytest.raises(ExplorerError, match="Queries have 7 dimensions but the corpus has 8"):
        top_k_int8(np.ones(7, dtype=np.int8), corpus, 1)
    with pytest.raises(ExplorerError, match="k=31 is larger than the 30"):
        top_k_int8(np.ones(8, dtype=np.int8), corpus, 31)


# --------------------------------------------------------------------------- bits


def hamming_reference(q_bits: np.ndarray, c_bits: np.ndarray) -> np.ndarray:
    return (q_bits[:, np.newaxis, :] != c_bits[np.newaxis, :, :]).sum(axis=2)


@pytest.mark.parametrize("d", [1, 64, 65, 100, 384])
@pytest.mark.parametrize("threads", [1, 3])
def test_hamming_equals_bit_by_bit_count(path, d, threads):
    rng = np.random.default_rng(d)
    c_bits = rng.random((90, d)) > 0.5
    c_bits[[40, 41, 60]] = c_bits[2]
    q_bits = np.vstack([c_bits[2], rng.random((3, d)) > 0.5])
    got = search_hamming(
        BitMatrix.from_bits(q_bits), BitMatrix.from_bits(c_bits), 25, None, threads
    )
    dist = hamming_reference(q_bits, c_bits)
    np.testing.assert_array_equal(got.ids, reference(dist, 25))
    np.testing.assert_array_equal(got.scores, np.take_along_axis(dist, got.ids, axis=1))
    assert got.metric == "hamming" and not got.higher_is_closer


def test_hamming_agrees_with_quantize_and_accepts_packed_bytes(path):
    rng = np.random.default_rng(11)
    c_bits, q_bits = rng.random((400, 96)) > 0.5, rng.random((5, 96)) > 0.5
    packed_c, packed_q = pack_bits(c_bits), pack_bits(q_bits)
    ours = search_hamming(packed_q, packed_c, 30, threads=2)
    theirs = hamming_search(packed_q, packed_c, 30)
    np.testing.assert_array_equal(ours.ids, theirs.ids)
    np.testing.assert_array_equal(ours.scores, theirs.scores)
    dist = hamming_reference(q_bits, c_bits)
    np.testing.assert_array_equal(ours.ids, reference(dist, 30))


def test_hamming_on_a_prefix_view_and_other_layouts(path):
    """A column slice of the words (a corpus prefix, as the scale lab searches) and words
    in any memory order give the same results as a fresh matrix."""
    rng = np.random.default_rng(13)
    bits = rng.random((300, 130)) > 0.5
    whole = BitMatrix.from_bits(bits)
    queries = BitMatrix.from_bits(bits[[3, 250]])
    dist = hamming_reference(bits[[3, 250]], bits[:200])
    expected = reference(dist, 40)
    for words in (whole.words[:, :200], np.asfortranarray(whole.words[:, :200])):
        got = top_k_hamming(queries, BitMatrix(words, 130), 40, threads=2)
        np.testing.assert_array_equal(got.ids, expected)
        np.testing.assert_array_equal(got.keys, np.take_along_axis(dist, got.ids, axis=1))


def test_hamming_exclude_and_single_vector(path):
    c_bits = np.zeros((20, 65), dtype=bool)
    c_bits[:, :10] = np.arange(20)[:, np.newaxis] % 2 == 0
    got = top_k_hamming(BitMatrix.from_bits(c_bits[:2]), BitMatrix.from_bits(c_bits), 19, [0, 1])
    dist = hamming_reference(c_bits[:2], c_bits)
    np.testing.assert_array_equal(got.ids, reference(dist, 19, np.array([0, 1])))
    one = top_k_hamming(BitMatrix.from_bits(c_bits[:1]), BitMatrix.from_bits(c_bits[3:4]), 1)
    np.testing.assert_array_equal(one.ids, [[0]])
    np.testing.assert_array_equal(one.keys, [[10]])


def test_kernels_compile_where_numba_has_no_cache_directory():
    """A function whose source file numba cannot find (as when no cache directory is
    writable) makes ``cache=True`` fail; the kernels are then compiled without the cache."""
    from core import kernels_jit

    namespace: dict = {}
    exec("def plus_one(x):\n    return x + 1\n", namespace)
    compiled = kernels_jit._compile(namespace["plus_one"])
    assert compiled(41) == 42
    assert type(compiled._cache).__name__ == "NullCache"


@pytest.fixture
def python_kernels(monkeypatch):
    """core.kernels_jit loaded afresh with numba's compiler switched off, in place of the
    compiled one: the kernels run as plain Python (slow: tiny inputs only), so their logic
    is checked apart from LLVM and their lines run under coverage."""
    import importlib.util
    import sys

    import numba

    from core import kernels_jit

    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)
    spec = importlib.util.spec_from_file_location("core.kernels_jit", kernels_jit.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "core.kernels_jit", module)
    monkeypatch.setattr(kernels, "JIT_MIN_ROWS", 0)
    monkeypatch.setattr(kernels, "MIN_BYTES_PER_THREAD", 64)
    monkeypatch.setattr(kernels, "JIT_SPARE", 1)
    return module


# The SWAR popcount relies on uint64 multiplication wrapping around, which numpy warns about.
@pytest.mark.filterwarnings("ignore:overflow encountered in scalar multiply:RuntimeWarning")
def test_kernels_as_plain_python(python_kernels):
    """Two threads of 12 rows for k=4 (buffers of 8 fill and are cut back mid-scan), then
    three threads of 8 rows for k=10 (each returns fewer than k)."""
    rng = np.random.default_rng(14)
    codes = rng.integers(-128, 128, size=(24, 9)).astype(np.int8)
    codes[[5, 17]] = codes[2]
    dots = codes[:3].astype(np.int64) @ codes.astype(np.int64).T
    got = top_k_int8(codes[:3], codes, 4, exclude=[0, 1, 2], threads=2)
    assert not hasattr(python_kernels.int8_top_k, "py_func")
    np.testing.assert_array_equal(got.ids, reference(-dots, 4, np.array([0, 1, 2])))
    np.testing.assert_array_equal(got.keys, -np.take_along_axis(dots, got.ids, axis=1))
    bits = rng.random((24, 70)) > 0.5
    bits[[5, 17]] = bits[2]
    dist = hamming_reference(bits[:3], bits)
    found = top_k_hamming(BitMatrix.from_bits(bits[:3]), BitMatrix.from_bits(bits), 10, threads=3)
    np.testing.assert_array_equal(found.ids, reference(dist, 10))
    np.testing.assert_array_equal(found.keys, np.take_along_axis(dist, found.ids, axis=1))


def test_bitmatrix_layout_padding_and_stack():
    rng = np.random.default_rng(12)
    bits = rng.random((37, 130)) > 0.5
    full = BitMatrix.from_bits(bits)
    assert full.words.shape == (3, 37) and full.words.dtype == np.uint64
    assert full.dims == 130 and len(full) == 37 and full.nbytes == 3 * 8 * 37
    # Padding bits are zero, so each vector's popcount is its number of ones.
    np.testing.assert_array_equal(np.bitwise_count(full.words).sum(axis=0), bits.sum(axis=1))
    parts = [BitMatrix.from_bits(bits[:10]), BitMatrix.from_bits(bits[10:])]
    np.testing.assert_array_equal(BitMatrix.stack(parts).words, full.words)
    from_bytes = BitMatrix.from_packed(pack_bits(bits), 130)
    np.testing.assert_array_equal(from_bytes.words, full.words)
    one = BitMatrix.from_packed(pack_bits(bits)[4], 130)
    np.testing.assert_array_equal(one.words, full.words[:, 4:5])


def test_bitmatrix_and_hamming_errors():
    with pytest.raises(ExplorerError, match="must be uint8"):
        BitMatrix.from_packed(np.ones((2, 3), dtype=np.int64))
    with pytest.raises(ExplorerError, match="dims=30 does not fit 2 packed bytes"):
        BitMatrix.from_packed(np.ones((2, 2), dtype=np.uint8), 30)
    with pytest.raises(ExplorerError, match="Bits must be a"):
        BitMatrix.from_bits(np.full((2, 2), 3))
    with pytest.raises(ExplorerError, match="same dims"):
        BitMatrix.stack(
            [BitMatrix.from_bits(np.ones((1, 3))), BitMatrix.from_bits(np.ones((1, 4)))]
        )
    a, b = BitMatrix.from_bits(np.ones((2, 65))), BitMatrix.from_bits(np.ones((4, 66)))
    with pytest.raises(ExplorerError, match="Queries have 65 bits but the corpus has 66"):
        top_k_hamming(a, b, 1)
    with pytest.raises(ExplorerError, match="k=5 is larger than the 4"):
        top_k_hamming(b, b, 5)
    with pytest.raises(ExplorerError, match="threads=0"):
        top_k_hamming(b, b, 1, threads=0)
    with pytest.raises(ExplorerError, match="Corpus: Packed bits must be uint8"):
        top_k_hamming(b, np.ones((2, 9)), 1)


@settings(max_examples=60, deadline=None)
@given(
    bits=arrays(np.bool_, st.tuples(st.integers(1, 30), st.integers(1, 70))),
    data=st.data(),
)
def test_hamming_property(bits, data):
    """Any bit matrix (ties galore at small d), any k, either path, any thread count and
    candidate buffer, with or without an excluded row."""
    k = data.draw(st.integers(1, bits.shape[0]), label="k")
    queries = bits[:3]
    exclude = None
    if bits.shape[0] > k and data.draw(st.booleans(), label="exclude"):
        exclude = data.draw(arrays(np.int64, len(queries), elements=st.integers(0, k)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "JIT_MIN_ROWS", data.draw(st.sampled_from([0, 10**9]), label="min"))
        mp.setattr(kernels, "JIT_SPARE", data.draw(st.integers(1, 8), label="spare"))
        mp.setattr(kernels, "MIN_BYTES_PER_THREAD", 8)
        got = top_k_hamming(
            BitMatrix.from_bits(queries),
            BitMatrix.from_bits(bits),
            k,
            exclude,
            data.draw(st.integers(1, 3), label="threads"),
        )
    dist = hamming_reference(queries, bits)
    np.testing.assert_array_equal(got.ids, reference(dist, k, exclude))
    np.testing.assert_array_equal(got.keys, np.take_along_axis(dist, got.ids, axis=1))


@settings(max_examples=60, deadline=None)
@given(
    corpus=arrays(np.int8, st.tuples(st.integers(1, 40), st.integers(1, 9))),
    data=st.data(),
)
def test_int8_property(corpus, data):
    """Any int8 codes (full range, or few levels for many ties), any k, either path, any
    thread count and candidate buffer, with or without an excluded row."""
    if data.draw(st.booleans(), label="few levels"):
        corpus = corpus % 3 - 1
    k = data.draw(st.integers(1, corpus.shape[0]), label="k")
    queries = np.vstack([corpus[:2], np.full(corpus.shape[1], -128, dtype=np.int8)])
    exclude = None
    if corpus.shape[0] > k and data.draw(st.booleans(), label="exclude"):
        exclude = data.draw(arrays(np.int64, len(queries), elements=st.integers(0, k)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "JIT_MIN_ROWS", data.draw(st.sampled_from([0, 10**9]), label="min"))
        mp.setattr(kernels, "JIT_SPARE", data.draw(st.integers(1, 8), label="spare"))
        mp.setattr(kernels, "MIN_BYTES_PER_THREAD", 8)
        threads = data.draw(st.integers(1, 3), label="threads")
        got = top_k_int8(queries, corpus, k, exclude, threads)
    dots = queries.astype(np.int64) @ corpus.astype(np.int64).T
    np.testing.assert_array_equal(got.ids, reference(-dots, k, exclude))
    np.testing.assert_array_equal(got.keys, -np.take_along_axis(dots, got.ids, axis=1))


def test_warm_up_compiles_the_signatures_real_searches_use():
    """After set-up's warm-up, searches as the app and the scale lab run them (excluded rows
    or none, several threads, a prefix of the bit words) need no further compilation."""
    from core import kernels_jit

    kernels.warm_up()
    compiled = {f: len(f.signatures) for f in (kernels_jit.int8_top_k, kernels_jit.hamming_top_k)}
    assert all(compiled.values())
    rng = np.random.default_rng(3)
    codes = rng.integers(-128, 128, (kernels.JIT_MIN_ROWS + 5, 48), dtype=np.int8)
    kernels.search_int8(codes[:3], codes, 4, threads=2)
    bits = kernels.BitMatrix.from_packed(np.packbits(codes > 0, axis=1))
    kernels.search_hamming(bits, bits, 4, exclude=np.arange(len(codes)), threads=2)
    prefix = kernels.BitMatrix(bits.words[:, : kernels.JIT_MIN_ROWS], bits.dims)
    kernels.search_hamming(prefix, prefix, 3)
    assert {f: len(f.signatures) for f in compiled} == compiled
