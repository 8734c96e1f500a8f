"""The scale lab runner: the size ladder, refusal before allocating, a small run's numbers
recomputed independently (numpy brute force, hnswlib driven directly), cancel and progress.
Corpora are tested in ``test_corpora.py``, memory estimates in ``test_storage.py``, the
AppTest of the lab section in ``test_page_scale_lab.py``."""

from __future__ import annotations

import hnswlib
import numpy as np
import pytest

from core.corpora import Cancelled, synthetic_corpus
from core.errors import ExplorerError
from core.quantize import ScalarQuantizer, quantize_corpus, rescored_search
from core.scalelab import LabConfig, run_lab, size_ladder
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
