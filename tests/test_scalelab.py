"""The scale lab runner: the size ladder, refusal before allocating, a small run's numbers
recomputed independently (numpy brute force, hnswlib driven directly), cancel and progress.
Corpora are tested in ``test_corpora.py``, memory estimates in ``test_storage.py``, the
AppTest of the lab section in ``test_page_scale_lab.py``."""

from __future__ import annotations

import time

import hnswlib
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from core import scalelab
from core.corpora import Cancelled, synthetic_corpus
from core.errors import ExplorerError
from core.quantize import ScalarQuantizer, quantize_corpus, rescored_search
from core.scalelab import LabConfig, LabResult, LatencyPoint, run_lab, size_ladder
from core.search import Method
from core.storage import MemInfo, estimate_memory

GIB = 1 << 30
PLENTY = MemInfo(total=64 * GIB, available=60 * GIB)


# --------------------------------------------------------------------------- set-up


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
        max_elements=2000,
        M=config.hnsw_m,
        ef_construction=config.hnsw_ef_construction,
        random_seed=config.seed + 100,
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


class FakeClock:
    """``time.thread_time`` that a fake search moves on by the seconds it is told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


# Round 1 takes 0.1 s of stall + 55 x seconds, each further round 55 x seconds; timing stops
# after MIN_SECONDS (0.25 s) or MAX_ROUNDS (5).
@pytest.mark.parametrize(("seconds", "rounds"), [(0.0001, 5), (0.002, 2), (0.01, 1)])
def test_timed_takes_each_querys_fastest_round_on_one_blas_thread(monkeypatch, seconds, rounds):
    clock = FakeClock()
    monkeypatch.setattr(scalelab.time, "thread_time", clock)
    queries = np.arange(10, dtype=np.float32)[:, np.newaxis]
    calls: list[int] = []
    threads_seen: set[int] = set()

    def search(q: np.ndarray) -> np.ndarray:
        # Query i takes (i + 1) x seconds; in the first round, another process holds the core
        # for 0.1 s while query 3 runs.
        i = int(q[0, 0])
        calls.append(i)
        threads_seen.update(blas_threads())
        clock.now += (i + 1) * seconds + (0.1 if i == 3 and len(calls) <= 11 else 0.0)
        return np.array([[i, i + 1]])

    before = blas_threads()
    ms, ids = scalelab._timed(search, queries)
    assert len(calls) == 1 + 10 * rounds and calls[:2] == [0, 0]  # a warm-up call, then rounds
    fastest = [(i + 1) * seconds + (0.1 if i == 3 and rounds == 1 else 0.0) for i in range(10)]
    assert ms == pytest.approx(1000 * np.median(fastest))
    np.testing.assert_array_equal(ids, [[i, i + 1] for i in range(10)])
    assert threads_seen == {1}
    assert blas_threads() == before  # restored after timing


def test_timed_leaves_out_waiting_for_the_core():
    # A search that waits (as for a core another process holds) uses no CPU time.
    def waiting(q: np.ndarray) -> np.ndarray:
        time.sleep(0.01)
        return np.zeros((1, 2), dtype=np.int64)

    ms, ids = scalelab._timed(waiting, np.zeros((3, 4), dtype=np.float32))
    assert 0 <= ms < 2 and ids.shape == (3, 2)


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


def test_slower_than_exact_compares_each_n():
    def point(method: Method, n: int, ms: float) -> LatencyPoint:
        return LatencyPoint(method, n, ms, 1.0)

    config = LabConfig(n=5000, dims=8)
    latency = (
        *(point(Method.EXACT, n, ms) for n, ms in [(1000, 0.1), (2000, 0.2), (5000, 0.5)]),
        *(point(Method.INT8, n, ms) for n, ms in [(1000, 0.3), (2000, 0.2), (5000, 0.6)]),
        point(Method.HNSW, 5000, 0.05),
    )
    result = LabResult(config, estimate_memory(5000, 8, list(Method)), latency, (), (), 1.0)
    assert result.slower_than_exact(Method.INT8) == (1000, 5000)  # equal at 2,000 is not slower
    assert result.slower_than_exact("HNSW") == ()
    assert result.slower_than_exact(Method.BINARY) == ()
    no_exact = LabResult(config, result.estimate, latency[3:], (), (), 1.0)
    assert no_exact.slower_than_exact(Method.INT8) == ()
