"""The scale lab: corpora, the memory estimate and refusal, a small run's numbers recomputed
independently (numpy brute force, hnswlib driven directly), cancel and progress. The AppTest
of the lab section is in ``test_page_scale_lab.py``."""

from __future__ import annotations

import io

import hnswlib
import numpy as np
import pytest

from core.corpora import Cancelled, synthetic_corpus, tiled_corpus
from core.errors import ExplorerError
from core.io import load_matrix
from core.quantize import ScalarQuantizer, quantize_corpus, rescored_search
from core.scalelab import LabConfig, run_lab, size_ladder
from core.search import Method
from core.storage import (
    MemInfo,
    check_fits,
    estimate_memory,
    hnsw_bytes_per_vector,
    read_meminfo,
)

GIB = 1 << 30
PLENTY = MemInfo(total=64 * GIB, available=60 * GIB)


# --------------------------------------------------------------------------- corpora


def test_size_ladder():
    assert size_ladder(150) == (150,)
    assert size_ladder(1000) == (1000,)
    assert size_ladder(2000) == (1000, 2000)
    assert size_ladder(7000) == (1000, 2000, 5000, 7000)
    assert size_ladder(1_000_000) == (
        1000,
        2000,
        5000,
        10_000,
        20_000,
        50_000,
        100_000,
        200_000,
        500_000,
        1_000_000,
    )


def test_synthetic_corpus_is_unit_seeded_and_clustered():
    a = synthetic_corpus(500, 24, n_queries=7, seed=3)
    b = synthetic_corpus(500, 24, n_queries=7, seed=3)
    assert a.vectors.shape == (500, 24) and a.queries.shape == (7, 24) and a.dims == 24
    assert a.vectors.dtype == np.float32 and a.queries.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, synthetic_corpus(500, 24, 7, seed=4).vectors)
    # With no spread and no noise every point is exactly one of the cluster centres.
    bare = synthetic_corpus(500, 24, clusters=6, spread=0.0, noise=0.0)
    assert len(np.unique(bare.vectors, axis=0)) == 6


def test_tiled_corpus_keeps_the_base_then_adds_noisy_copies():
    base = 3.0 * np.eye(5, 16)
    corpus = tiled_corpus(base, 200, n_queries=9, noise=0.3, seed=1)
    np.testing.assert_allclose(corpus.vectors[:5], np.eye(5, 16), atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(corpus.vectors, axis=1), 1.0, rtol=1e-5)
    cos = corpus.vectors[5:] @ np.eye(5, 16).T
    # Row i is a copy of base row i % 5: cos about 1 / sqrt(1 + 0.3^2) = 0.958 to it.
    np.testing.assert_array_equal(cos.argmax(axis=1), np.arange(5, 200) % 5)
    assert 0.93 < cos.max(axis=1).mean() < 0.98
    assert (corpus.queries @ np.eye(5, 16).T).max(axis=1).min() > 0.85


def test_corpus_errors():
    with pytest.raises(ExplorerError, match="N=50: choose between 100 and"):
        synthetic_corpus(50, 8)
    with pytest.raises(ExplorerError, match="Base row 1 is a zero vector"):
        tiled_corpus(np.array([[1.0, 0.0], [0.0, 0.0]]), 200)
    with pytest.raises(ExplorerError, match="noise=0"):
        tiled_corpus(np.eye(2), 200, noise=0)


def test_load_matrix_reads_npy_and_refuses_the_rest():
    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype=np.float64).reshape(3, 4))
    got = load_matrix(buf.getvalue())
    assert got.dtype == np.float32 and got.shape == (3, 4) and got[2, 3] == 11.0
    for bad, message in [
        (np.arange(4.0), r"shape \(4,\); upload one \(rows, dims\) matrix"),
        (np.array([[1.0, np.nan]]), "row 0 contains NaN"),
    ]:
        buf = io.BytesIO()
        np.save(buf, bad)
        with pytest.raises(ExplorerError, match=message):
            load_matrix(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ExplorerError, match="objects.npy holds Python objects"):
        load_matrix(buf.getvalue(), "objects.npy")
    with pytest.raises(ExplorerError, match="junk.npy is not a readable .npy file"):
        load_matrix(b"not numpy at all", "junk.npy")


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _forged(shape: tuple[int, ...], descr: str = "<f4", body: bytes = b"\0" * 16) -> bytes:
    """A .npy header announcing ``shape`` followed by only ``body``."""
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_npy(np.array([["a", "b"]])), "holds text"),
        (_npy(np.array([[b"a"]])), "holds bytes"),
        (_npy(np.zeros((2, 2), dtype=[("a", "f4"), ("b", "i4")])), "holds records"),
        (_npy(np.ones((2, 2), dtype=complex)), "holds complex numbers"),
        (_npy(np.zeros((2, 2), dtype="datetime64[D]")), "holds dates"),
        (_npy(np.zeros((2, 0))), r"shape \(2, 0\)"),
        (_npy(np.full((2, 2), 1e300)), "row 0 value 1 is 1e[+]300: out of range"),
        (_npy(np.float32([[1, 2], [3, 1e16]])), "row 1 value 2 is 1e[+]16: out of range"),
        (_npy(np.float32([[1, 2], [1e-16, -1e-17]])), "row 1 value 1 is 1e-16: out of range"),
        (
            _forged((10_000_000, 2_000_000)),
            r"announces a 10,000,000 × 2,000,000 matrix of float32 "
            r"\(80,000,000,000,000 bytes\) but the file holds 16 bytes",
        ),
        (_forged((-1, 4)), r"shape \(-1, 4\)"),
        (_npy(np.ones((3, 4)))[:-5], "truncated"),
        (_npy(np.ones((3, 4))) + b"\0", "holds 97 bytes of data"),
        (np.lib.format.magic(1, 0) + b"\x10\x00{'descr': (\n", "not a readable .npy file"),
        (np.lib.format.magic(3, 0) + b"\0\0\0\0", "format version 3.0 is not supported"),
        (b"", "not a readable .npy file"),
    ],
)
def test_load_matrix_checks_the_header_before_reading(data, message):
    with pytest.raises(ExplorerError, match=message):
        load_matrix(data, "m.npy")


def test_load_matrix_reads_every_real_dtype_and_layout():
    base = np.arange(6).reshape(2, 3)
    for arr in (
        base.astype(bool),
        base.astype(np.int8),
        base.astype(">u2"),
        base.astype(np.float16),
        base.astype(">f8"),
        np.asfortranarray(base.astype(np.float64)),
        base.astype(np.longdouble),
    ):
        got = load_matrix(_npy(arr))
        assert got.dtype == np.float32 and got.shape == (2, 3)
        np.testing.assert_array_equal(got, arr.astype(np.float32))


# --------------------------------------------------------------------------- memory


def test_read_meminfo(tmp_path):
    path = tmp_path / "meminfo"
    path.write_text("MemTotal:       24682416 kB\nMemFree: 100 kB\nMemAvailable:   23314620 kB\n")
    mem = read_meminfo(path)
    assert mem == MemInfo(24682416 * 1024, 23314620 * 1024)
    assert mem.reserve == 24682416 * 1024 // 5
    assert mem.budget == mem.available - mem.reserve
    assert MemInfo(2 * GIB, GIB // 2).budget == 0
    assert MemInfo(2 * GIB, 3 * GIB // 2).reserve == GIB
    path.write_text("MemTotal: 100 kB\n")
    with pytest.raises(ExplorerError, match="no MemTotal/MemAvailable"):
        read_meminfo(path)
    with pytest.raises(ExplorerError, match="Cannot read"):
        read_meminfo(tmp_path / "absent")


def test_estimate_counts_bytes_per_method():
    est = estimate_memory(10_000, 100, list(Method), hnsw_m=16)
    assert est.corpus == 10_000 * 100 * 4
    by_method = dict(est.methods)
    assert by_method[Method.EXACT] == 0
    assert by_method[Method.INT8] == 10_000 * 100
    assert by_method[Method.BINARY] == 10_000 * 2 * 8  # 100 bits -> two 64-bit words
    assert by_method[Method.HNSW] == 10_000 * hnsw_bytes_per_vector(100, 16)
    assert est.total == est.corpus + sum(by_method.values()) + est.working
    hnsw_only = estimate_memory(10_000, 100, ["HNSW", "HNSW"])
    assert hnsw_only.methods == ((Method.HNSW, 10_000 * hnsw_bytes_per_vector(100, 16)),)
    # 384 floats, 32 layer-0 links + count, label; upper links; pointer, level, mutex, map.
    assert hnsw_bytes_per_vector(384, 16) == 1536 + 128 + 4 + 8 + 5 + 8 + 4 + 40 + 80


def test_hnsw_estimate_is_at_least_what_hnswlib_stores():
    rng = np.random.default_rng(0)
    for dims, m in [(32, 8), (100, 16)]:
        x = rng.standard_normal((2000, dims)).astype(np.float32)
        graph = hnswlib.Index(space="cosine", dim=dims)
        graph.init_index(max_elements=2000, M=m, ef_construction=20, random_seed=1)
        graph.add_items(x, num_threads=1)
        stored = graph.index_file_size() / 2000
        # The serialised graph lacks the per-node mutex and the label hash map held in RAM.
        assert stored < hnsw_bytes_per_vector(dims, m) < stored + 200


def test_refusal_names_the_numbers_and_a_size_that_fits():
    mem = MemInfo(total=8 * GIB, available=3 * GIB)
    est = estimate_memory(1_000_000, 384, list(Method))
    with pytest.raises(ExplorerError) as caught:
        check_fits(est, mem)
    message = str(caught.value)
    fits = est.largest_n(mem.budget)
    assert message.startswith(f"Refused: N = 1,000,000 × 384 needs about {est.total / 1e9:,.1f} GB")
    assert f"float32 vectors {1_000_000 * 384 * 4 / 1e9:,.1f} GB" in message
    assert f"{mem.available / 1e9:,.1f} GB available" in message
    assert f"choose N ≤ {fits:,} or fewer methods" in message
    assert estimate_memory(fits, 384, list(Method)).total <= mem.budget
    assert estimate_memory(fits + 1, 384, list(Method)).total > mem.budget
    check_fits(estimate_memory(fits, 384, list(Method)), mem)
    with pytest.raises(ExplorerError, match="free memory on the machine before building"):
        check_fits(est, MemInfo(total=2 * GIB, available=GIB))


def test_run_refuses_before_allocating():
    calls = []
    config = LabConfig(n=1_000_000, dims=384)
    with pytest.raises(ExplorerError, match="Refused: N = 1,000,000"):
        run_lab(config, progress=lambda f, t: calls.append(f), mem=MemInfo(4 * GIB, 2 * GIB))
    assert calls == []


# --------------------------------------------------------------------------- a small run


@pytest.fixture(scope="module")
def small_run():
    config = LabConfig(n=2000, dims=48, n_queries=12, threads=1, ef_sweep=(10, 40, 256))
    fractions: list[float] = []
    result = run_lab(config, progress=lambda f, t: fractions.append(f), mem=PLENTY)
    corpus = synthetic_corpus(2000, 48, 12, spread=config.spread, seed=config.seed)
    return config, result, corpus, fractions


def brute_force(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    sims = queries.astype(np.float64) @ vectors.astype(np.float64).T
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def recall(truth: np.ndarray, found: np.ndarray) -> float:
    return float(
        np.mean([len(set(t) & set(f)) / len(t) for t, f in zip(truth, found, strict=True)])
    )


def rescored(queries, vectors, candidates, k):
    out = []
    for q, cand in zip(queries, candidates, strict=True):
        cand = np.sort(cand)
        v = vectors[cand].astype(np.float64)
        sims = v @ q.astype(np.float64) / np.linalg.norm(v, axis=1) / np.linalg.norm(q)
        out.append(cand[np.argsort(-sims, kind="stable")[:k]])
    return np.array(out)


def test_small_run_has_every_curve(small_run):
    config, result, _, fractions = small_run
    for method in Method:
        assert [p.n for p in result.curve(method)] == [1000, 2000]
        assert all(p.ms > 0 and 0 <= p.recall <= 1 for p in result.curve(method))
    assert [p.recall for p in result.curve(Method.EXACT)] == [1.0, 1.0]
    assert [p.value for p in result.sweep_of(Method.HNSW)] == [10, 40, 256]
    assert [p.value for p in result.sweep_of("int8 + rescore")] == [1, 2, 4, 8, 16]
    assert result.sweep_of(Method.EXACT)[0].recall == 1.0
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] >= 0
    assert result.estimate == estimate_memory(2000, 48, list(Method))


def test_small_run_quantized_recall_matches_an_independent_pipeline(small_run):
    config, result, corpus, _ = small_run
    vectors, queries, k = corpus.vectors, corpus.queries, config.k
    truth = brute_force(queries, vectors, k)
    # int8: one min/max range for all values, integer dot products, float rescoring.
    lo, hi = float(vectors.min()), float(vectors.max())
    quantizer = ScalarQuantizer(np.array([lo]), np.array([hi]))
    codes, qcodes = quantizer.quantize(vectors), quantizer.quantize(queries)
    int8_dots = qcodes.astype(np.int64) @ codes.astype(np.int64).T
    # binary: one bit per dimension, above the dimension's mean.
    bits = vectors > vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    qbits = queries > vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    hamming = (qbits[:, np.newaxis, :] != bits[np.newaxis, :, :]).sum(axis=2)
    for method, keys in [(Method.INT8, -int8_dots), (Method.BINARY, hamming)]:
        for point in result.sweep_of(method):
            candidates = np.argsort(keys, axis=1, kind="stable")[:, : k * point.value]
            expected = recall(truth, rescored(queries, vectors, candidates, k))
            assert point.recall == pytest.approx(expected), (method, point.value)


def test_small_run_hnsw_matches_hnswlib_built_directly(small_run):
    config, result, corpus, _ = small_run
    truth = brute_force(corpus.queries, corpus.vectors, config.k)
    graph = hnswlib.Index(space="cosine", dim=48)
    graph.init_index(
        max_elements=2000, M=config.hnsw_m, ef_construction=100, random_seed=config.seed + 100
    )
    graph.add_items(corpus.vectors, np.arange(2000), num_threads=1)
    for point in result.sweep_of(Method.HNSW):
        graph.set_ef(point.value)
        found, _ = graph.knn_query(corpus.queries, k=config.k, num_threads=1)
        assert point.recall == pytest.approx(recall(truth, found)), point.value
    builds = {b.method: b for b in result.builds}
    assert builds[Method.HNSW].index_bytes == graph.index_file_size()
    assert builds[Method.EXACT].total_bytes == 2000 * 48 * 4
    assert builds[Method.INT8].index_bytes == 2000 * 48
    assert builds[Method.INT8].rescore_bytes == 2000 * 48 * 4
    assert builds[Method.BINARY].index_bytes == 2000 * 8


def test_quantize_corpus_and_rescored_search_take_batches():
    corpus = synthetic_corpus(3000, 40, n_queries=6, seed=5)
    x, q = corpus.vectors, corpus.queries
    truth = brute_force(q, x, 10)
    for method, code_bytes in [(Method.INT8, 3000 * 40), (Method.BINARY, 3000 * 8)]:
        codes = quantize_corpus(x, method, threads=2)
        assert codes.method is method and codes.nbytes == code_bytes and codes.seconds >= 0
        assert codes.candidates(q, 3000, 25).shape == (6, 25)
        assert codes.candidates(q, 500, 25).max() < 500
        search = rescored_search(x, codes, 10, 300)
        batch = search(q)
        np.testing.assert_array_equal(batch, np.vstack([search(q[i : i + 1]) for i in range(6)]))
        # 300 x 10 candidates of 3,000 leave little to miss.
        assert recall(truth, batch) >= 0.95
    with pytest.raises(ExplorerError, match="exhaustive float32 is not a quantized method"):
        quantize_corpus(x, "exhaustive float32")


def test_cancel_stops_the_run():
    polls = []

    def stop_on_fifth() -> bool:
        polls.append(1)
        return len(polls) >= 5

    with pytest.raises(Cancelled):
        run_lab(LabConfig(n=3000, dims=16), should_stop=stop_on_fifth, mem=PLENTY)
    assert len(polls) == 5


def test_config_validation():
    with pytest.raises(ExplorerError, match="Choose at least one method"):
        LabConfig(n=1000, dims=8, methods=())
    with pytest.raises(ExplorerError, match="Unknown method 'IVF'; choose one of: exhaustive"):
        LabConfig(n=1000, dims=8, methods=("IVF",))
    with pytest.raises(ExplorerError, match="k=600: use 1 to 500"):
        LabConfig(n=1000, dims=8, k=600)
    with pytest.raises(ExplorerError, match="oversample=0"):
        LabConfig(n=1000, dims=8, oversample=0)
    with pytest.raises(ExplorerError, match="hnsw_m=1"):
        LabConfig(n=1000, dims=8, hnsw_m=1)
    with pytest.raises(ExplorerError, match="needs its base vectors"):
        run_lab(LabConfig(n=1000, dims=8, source="dataset"), mem=PLENTY)
    with pytest.raises(ExplorerError, match="base vectors have 3 dimensions"):
        run_lab(LabConfig(n=1000, dims=8, source="upload"), np.eye(3), mem=PLENTY)
    config = LabConfig(n=1000, dims=8, methods=("HNSW", Method.EXACT, "HNSW"))
    assert config.methods == (Method.HNSW, Method.EXACT) and config.source.value == "synthetic"


def test_dataset_source_run():
    base = np.random.default_rng(2).standard_normal((300, 16))
    config = LabConfig(n=1200, dims=16, source="dataset", methods=("exhaustive float32",))
    result = run_lab(config, base, mem=PLENTY)
    assert [p.n for p in result.latency] == [1000, 1200]
    assert [b.method for b in result.builds] == [Method.EXACT]
