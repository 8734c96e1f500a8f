"""core.engines: every available engine against exhaustive search on seeded clustered data,
and the interface's rules (parameters, metrics, k, cancel, sizes, close)."""

from __future__ import annotations

import gc
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import core
import core.engines as engines
from core.corpora import Cancelled
from core.engines import get_engine, list_engines, registrations
from core.engines.base import (
    THREADS_ENV,
    EngineInfo,
    ParamSpec,
    check_params,
    engine_threads,
    engines_dir,
    normalized,
)
from core.engines.faisslib import training_rows
from core.engines.measure import RESCORING_FACTORS, measure, sweep_values
from core.errors import ExplorerError
from core.search import exhaustive_search, recall_at_k

DIMS = 32

# Engine -> (parameters, recall@10 it must reach on CLUSTERED with cosine). The settings are
# generous on purpose: each must be close to exact here, and a broken adapter (wrong ids,
# distances taken as similarities, a lost normalisation) falls far below.
RECALL_CASES: dict[str, tuple[dict[str, float], float]] = {
    "exhaustive": ({}, 1.0),
    "hnswlib": ({"M": 16, "ef_construction": 200, "ef": 100}, 0.95),
    "faiss-flat": ({}, 1.0),
    "faiss-hnsw": ({"M": 16, "efConstruction": 200, "efSearch": 100}, 0.95),
    "faiss-ivfflat": ({"nlist": 64, "nprobe": 8}, 0.95),
    # 16 codes of 6 bits (nbits lowered from 8 for 3,000 vectors) for 32 floats: 1/21 of the
    # bytes, ranked by estimated scores, so well below exact (measured 0.70).
    "faiss-ivfpq": ({"nlist": 64, "nprobe": 8, "m": 16}, 0.6),
    # The same codes' 8 × k candidates re-ranked by the full vectors: near exact again.
    "faiss-ivfpq-rerank": ({"nlist": 64, "nprobe": 8, "m": 16, "k_factor": 8}, 0.95),
    "chroma": ({"max_neighbors": 16, "ef_construction": 200, "ef_search": 100}, 0.95),
    "diskann": ({"graph_degree": 32, "complexity": 64, "search_complexity": 100}, 0.95),
}
# Engines whose scores are estimates from compressed codes, not exact similarities.
ESTIMATED_SCORES = {"faiss-ivfpq"}
# Search settings under which an engine's candidates are not estimates either.
EXACT_CANDIDATES: dict[str, dict[str, float]] = {"faiss-ivfpq-rerank": {"k_factor": 20}}

AVAILABLE = [i.name for i in list_engines() if i.available]
# The engines of this package (pgvector's are tested with their server in test_pgvector*).
LOCAL = [name for name in AVAILABLE if name in RECALL_CASES]


def clustered(n: int, n_queries: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``(n, DIMS)`` points around 20 random centres and ``(n_queries, DIMS)`` queries
    drawn the same way."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, DIMS))
    pick = rng.integers(0, 20, size=n + n_queries)
    points = centres[pick] + 0.35 * rng.normal(size=(n + n_queries, DIMS))
    points = points.astype(np.float32)
    return points[:n], points[n:]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return clustered(3000, 50)


def test_list_engines_describes_every_row():
    infos = {i.name: i for i in core.list_engines()}
    assert {"exhaustive", "hnswlib"} <= set(infos)
    hnsw = infos["hnswlib"]
    assert hnsw.algorithm == "HNSW" and "pgvector" in hnsw.where_deployed
    assert hnsw.defaults() == {"M": 16, "ef_construction": 200, "ef": 10}
    assert hnsw.talk_values() == {"M": 16, "ef_construction": 200, "ef": 50}
    for info in infos.values():
        assert isinstance(info, EngineInfo)
        assert info.available == (info.reason is None)
        assert "cosine" in info.metrics
        for spec in info.params:
            assert spec.min <= spec.default <= spec.max
            assert spec.talk is None or spec.min <= spec.talk <= spec.max
            assert spec.help


def test_get_engine_rejects_unknown_names_and_values():
    with pytest.raises(ExplorerError, match="Unknown engine 'annoy'.*exhaustive.*hnswlib"):
        get_engine("annoy")
    with pytest.raises(ExplorerError, match="no parameter efSearch.*M, ef_construction, ef"):
        get_engine("hnswlib", efSearch=10)
    with pytest.raises(ExplorerError, match="M=1 is out of range: choose 2 to 100"):
        get_engine("hnswlib", M=1)
    with pytest.raises(ExplorerError, match="M=2.5 must be a whole number"):
        get_engine("hnswlib", M=2.5)
    with pytest.raises(ExplorerError, match="ef='many' must be a number"):
        get_engine("hnswlib", ef="many")
    with pytest.raises(ExplorerError, match="M=True must be a number"):
        get_engine("hnswlib", M=True)


def test_param_spec_float_and_defaults():
    spec = ParamSpec("alpha", 1.2, None, 1.0, 2.0, "pruning", kind=float)
    assert spec.check(1) == 1.0 and isinstance(spec.check(1), float)
    assert check_params("x", (spec,), {}) == {"alpha": 1.2}
    with pytest.raises(ExplorerError, match="alpha=2.5 is out of range"):
        spec.check(2.5)


def test_unavailable_engine_says_why(monkeypatch):
    reg = registrations()["hnswlib"]
    monkeypatch.setattr(
        "core.engines._BUILTIN",
        (type(reg)(reg.info, reg.factory, lambda: "not on this machine"),),
    )
    (info,) = [i for i in list_engines() if i.name == "hnswlib"]
    assert not info.available and info.reason == "not on this machine"
    with pytest.raises(ExplorerError, match="hnswlib engine cannot run here: not on this"):
        get_engine("hnswlib")


@pytest.mark.parametrize("name", LOCAL)
def test_recall_against_exhaustive(name, data):
    vectors, queries = data
    params, threshold = RECALL_CASES[name]
    truth = exhaustive_search(queries, vectors, 10, "cosine")
    with get_engine(name, **params) as engine:
        engine.build(vectors, "cosine")
        found = engine.search(queries, k=10)
        assert found.ids.shape == found.scores.shape == (50, 10)
        assert found.ids.dtype == np.int64 and found.metric == "cosine" and found.higher_is_closer
        assert recall_at_k(truth.ids, found.ids) >= threshold
        # Every returned score is the true cosine of that pair (or near it), best first.
        unit_q, unit_x = normalized(queries), normalized(vectors)
        cosines = np.einsum("qd,qkd->qk", unit_q, unit_x[found.ids])
        tolerance = 0.1 if name in ESTIMATED_SCORES else 2e-3
        np.testing.assert_allclose(found.scores, cosines, atol=tolerance)
        assert (np.diff(found.scores, axis=1) <= 1e-6).all()
        assert found.seconds >= 0 and engine.build_seconds > 0
        assert engine.count == 3000 and engine.dims == DIMS


@pytest.mark.parametrize("name", LOCAL)
@pytest.mark.parametrize("metric", ["dot", "euclidean"])
def test_other_metrics_match_exhaustive(name, metric, data):
    vectors, queries = data
    info = registrations()[name].info
    if metric not in info.metrics:
        pytest.skip(f"{name} does not support {metric}")
    params, threshold = RECALL_CASES[name]
    truth = exhaustive_search(queries, vectors, 10, metric)
    with get_engine(name, **params) as engine:
        found = engine.build(vectors, metric).search(queries, 10)
    assert found.higher_is_closer == (metric == "dot")
    assert recall_at_k(truth.ids, found.ids) >= threshold - 0.05
    hit = found.ids[:, 0] == truth.ids[:, 0]
    tolerance = 0.3 if name in ESTIMATED_SCORES else 1e-3
    np.testing.assert_allclose(found.scores[hit, 0], truth.scores[hit, 0], rtol=tolerance)


@pytest.mark.parametrize("name", LOCAL)
def test_unsupported_metric_names_the_supported_ones(name):
    info = registrations()[name].info
    missing = [m.value for m in core.Metric if m.value not in info.metrics]
    if not missing:
        pytest.skip(f"{name} supports every metric")
    with (
        get_engine(name) as engine,
        pytest.raises(ExplorerError, match=f"does not support the {missing[0]} metric.*cosine"),
    ):
        engine.build(np.eye(4, dtype=np.float32), missing[0])


@pytest.mark.parametrize("name", LOCAL)
def test_k_larger_than_n_is_the_exhaustive_error(name):
    vectors, queries = clustered(5, 1)
    with pytest.raises(ExplorerError) as exact:
        exhaustive_search(queries, vectors, 6)
    with get_engine(name) as engine, pytest.raises(ExplorerError) as ours:
        engine.build(vectors).search(queries, 6)
    assert "k=6 is larger than the 5" in str(ours.value)
    assert str(exact.value).split(":")[0] == str(ours.value).split(":")[0]
    with engine, pytest.raises(ExplorerError, match="k=0"):
        engine.build(vectors).search(queries, 0)


@pytest.mark.parametrize("name", LOCAL)
def test_one_vector(name):
    vector = np.array([[3.0, 4.0, 0.0, 0.0]], dtype=np.float32)
    with get_engine(name) as engine:
        found = engine.build(vector).search(np.array([0.0, 1.0, 0.0, 0.0]), k=1)
    assert found.ids.tolist() == [[0]]
    np.testing.assert_allclose(found.scores, [[0.8]], atol=1e-6)


@pytest.mark.parametrize("name", LOCAL)
def test_duplicates_come_back_in_id_order(name):
    rng = np.random.default_rng(3)
    base = rng.normal(size=(40, 8)).astype(np.float32)
    vectors = np.concatenate([base, base[:5], base[:5]])  # rows 0-4 three times each
    with get_engine(name, **EXACT_CANDIDATES.get(name, {})) as engine:
        found = engine.build(vectors).search(base[:5], k=3)
        everything = engine.search(base[:5], k=50)
    if name not in ESTIMATED_SCORES:
        assert found.ids.tolist() == [[i, 40 + i, 45 + i] for i in range(5)]
        np.testing.assert_allclose(found.scores, 1.0, atol=1e-5)
    # Copies score alike and come back in id order.
    for query in range(5):
        ids, scores = everything.ids[query].tolist(), everything.scores[query]
        for i in range(5):
            at = [ids.index(i), ids.index(40 + i), ids.index(45 + i)]
            assert at == sorted(at) and np.ptp(scores[at]) <= 1e-6


@pytest.mark.parametrize("name", LOCAL)
def test_cancel_after_the_first_chunk(name, data):
    vectors, queries = data
    engine = get_engine(name)
    engine.chunk_rows = 1000
    calls: list[float] = []
    with pytest.raises(Cancelled):
        engine.build(
            vectors, progress=lambda f, _: calls.append(f), should_stop=lambda: bool(calls)
        )
    assert calls == [pytest.approx(1000 / 3000)]
    assert not engine.built
    with pytest.raises(ExplorerError, match="no index yet"):
        engine.search(queries, 1)
    engine.close()


@pytest.mark.parametrize("name", LOCAL)
def test_progress_reaches_one_and_close_is_safe_twice(name, data):
    vectors, queries = data
    engine = get_engine(name)
    engine.chunk_rows = 1000
    fractions: list[float] = []
    engine.build(vectors, progress=lambda f, message: fractions.append(f))
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    # At least the float32 vectors or their codes, at most ten times the float32 vectors.
    floats = vectors.size * 4
    minimum = floats // 16 if name in ESTIMATED_SCORES else floats
    assert minimum <= engine.index_bytes <= 10 * floats
    engine.close()
    engine.close()
    assert not engine.built
    with pytest.raises(ExplorerError, match="no index yet"):
        _ = engine.index_bytes
    with engine:
        engine.build(vectors[:100])
        assert engine.search(queries[:2], 1).ids.shape == (2, 1)
    assert not engine.built


def test_bad_vectors_and_queries():
    with get_engine("exhaustive") as engine:
        with pytest.raises(ExplorerError, match="empty"):
            engine.build(np.zeros((0, 4), dtype=np.float32))
        with pytest.raises(ExplorerError, match="row 1 is a zero vector"):
            engine.build(np.array([[1.0, 0.0], [0.0, 0.0]]))
        with pytest.raises(ExplorerError, match="row 0 contains NaN"):
            engine.build(np.array([[np.nan, 0.0]]))
        engine.build(np.eye(3))
        with pytest.raises(ExplorerError, match="Queries have 2 dimensions but the index has 3"):
            engine.search(np.ones((1, 2)), 1)
        with pytest.raises(ExplorerError, match="row 0 is a zero vector"):
            engine.search(np.zeros((1, 3)), 1)


def test_search_parameters_change_without_rebuilding(data):
    vectors, queries = data
    truth = exhaustive_search(queries, vectors, 10).ids
    with get_engine("hnswlib", M=4, ef_construction=16) as engine:
        engine.build(vectors)
        low = recall_at_k(truth, engine.search(queries, 10, ef=10).ids)
        high = recall_at_k(truth, engine.search(queries, 10, ef=400).ids)
        with pytest.raises(ExplorerError, match="no parameter M"):
            engine.search(queries, 10, M=8)
    assert high > low and high >= 0.95


@given(
    arrays(np.float32, (12, 5), elements=st.floats(-4, 4, width=32)),
    st.sampled_from(["dot", "euclidean", "manhattan"]),
    st.integers(1, 12),
)
def test_exhaustive_engine_is_exhaustive_search(vectors, metric, k):
    with get_engine("exhaustive") as engine:
        found = engine.build(vectors, metric).search(vectors[:3], k)
    truth = exhaustive_search(vectors[:3], vectors, k, metric)
    np.testing.assert_array_equal(found.ids, truth.ids)
    np.testing.assert_allclose(found.scores, truth.scores, rtol=1e-5, atol=1e-5)


def test_ivf_trains_and_lowers_what_a_small_corpus_cannot_train(data):
    vectors, queries = data
    with get_engine("faiss-ivfpq", nlist=1000, m=30, nbits=10) as engine:
        engine.build(vectors)
        assert 0 < engine.train_seconds <= engine.build_seconds
        assert engine.notes == [
            "m lowered from 30 to 16, a divisor of 32 dimensions.",
            "nbits lowered from 10 to 6: 1024 centres per sub-vector need 39,936 vectors "
            "to train; there are 3,000.",
            "nlist lowered from 1000 to 76: faiss's k-means wants at least 39 vectors per "
            "cell and there are 3,000.",
        ]
        # Every cell probed: only the codes' error is left.
        truth = exhaustive_search(queries, vectors, 10).ids
        assert recall_at_k(truth, engine.search(queries, 10, nprobe=76).ids) >= 0.6
    with get_engine("faiss-flat") as flat:
        assert flat.build(vectors).train_seconds is None and flat.notes == []


def test_ivf_recall_grows_with_nprobe(data):
    vectors, queries = data
    truth = exhaustive_search(queries, vectors, 10).ids
    with get_engine("faiss-ivfflat", nlist=16) as engine:
        engine.build(vectors)
        recalls = [recall_at_k(truth, engine.search(queries, 10, nprobe=p).ids) for p in (1, 16)]
    assert recalls[0] < recalls[1] == 1.0


def test_ivfpq_rerank_is_ivfpq_rescored_by_the_full_vectors(data):
    vectors, queries = data
    truth = exhaustive_search(queries, vectors, 10).ids
    built = {"nlist": 64, "m": 16, "nprobe": 8}
    with get_engine("faiss-ivfpq", **built) as pq, get_engine("faiss-ivfpq-rerank", **built) as rr:
        plain = pq.build(vectors).search(queries, 10)
        rr.build(vectors)
        recalls = {f: recall_at_k(truth, rr.search(queries, 10, k_factor=f).ids) for f in (1, 4)}
        once = rr.search(queries, 10, k_factor=1)
        # k_factor 1 re-orders the same candidates by exact cosine.
        assert [set(r) for r in once.ids] == [set(r) for r in plain.ids]
        exact_scores = np.einsum("qd,qkd->qk", normalized(queries), normalized(vectors)[once.ids])
        np.testing.assert_allclose(once.scores, exact_scores, atol=1e-5)
        # The originals are kept beside the codes: that is what rescoring costs.
        assert rr.index_bytes >= pq.index_bytes + vectors.nbytes
    assert recalls[1] == recall_at_k(truth, plain.ids) < recalls[4]


def test_training_rows_sample_or_repeat():
    rows = np.arange(20, dtype=np.float32).reshape(10, 2)
    tiled = training_rows(rows, 2)
    assert tiled.shape == (78, 2) and (tiled[10:20] == rows).all()
    many = np.arange(600, dtype=np.float32).reshape(300, 2)
    assert training_rows(many, 1).shape == (256, 2)
    assert training_rows(many, 2) is many


def test_fewer_than_k_found_asks_for_a_wider_search():
    rng = np.random.default_rng(5)
    two_groups = np.concatenate([rng.normal(10, 1, (39, 4)), rng.normal(-10, 1, (39, 4))])
    with get_engine("faiss-ivfflat", nlist=2) as engine:
        engine.build(two_groups, "euclidean")
        with pytest.raises(ExplorerError, match=r"fewer than k=50 .*'nprobe': 1.*search more"):
            engine.search(two_groups[:1], 50)
        assert engine.search(two_groups[:1], 50, nprobe=2).ids.shape == (1, 50)


def test_diskann_defaults_are_the_library_defaults():
    defaults = pytest.importorskip("diskannpy").defaults
    info = registrations()["diskann"].info
    assert info.defaults() == {
        "graph_degree": defaults.GRAPH_DEGREE,
        "complexity": defaults.COMPLEXITY,
        "alpha": pytest.approx(defaults.ALPHA),
        "search_complexity": defaults.COMPLEXITY,
    }


def test_diskann_keeps_its_files_in_the_cache_until_closed(tmp_path, monkeypatch, data):
    if "diskann" not in AVAILABLE:
        pytest.skip(registrations()["diskann"].current().reason or "")
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    vectors, _ = data
    with get_engine("diskann", graph_degree=16, complexity=32) as engine:
        engine.build(vectors)
        (folder,) = (tmp_path / "engines").iterdir()
        files = {f.name: f.stat().st_size for f in folder.iterdir()}
        assert set(files) == {"ann", "ann.data", "ann_metadata.bin"}
        assert engine.index_bytes == sum(files.values())
        assert files["ann.data"] >= vectors.nbytes
    assert not list((tmp_path / "engines").iterdir())
    dropped = get_engine("diskann", graph_degree=16, complexity=32).build(vectors[:200])
    assert len(list((tmp_path / "engines").iterdir())) == 1
    del dropped
    gc.collect()
    assert not list((tmp_path / "engines").iterdir())


def test_diskann_without_the_library_says_why(monkeypatch):
    import core.engines.diskann as module

    def refuse(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(module.importlib, "import_module", refuse)
    try:
        for version, reason in [
            ((3, 12, 0), "diskannpy 0.7.0 ships wheels for CPython ≤ 3.11 only; this is 3.12."),
            ((3, 11, 7), "diskannpy does not import (No module named 'diskannpy'); install"),
        ]:
            module.diskann_reason.cache_clear()
            monkeypatch.setattr(module.sys, "version_info", version)
            assert (module.diskann_reason() or "").startswith(reason)
        with pytest.raises(ExplorerError, match="diskann engine cannot run here: diskannpy does"):
            get_engine("diskann")
    finally:
        module.diskann_reason.cache_clear()


def test_chroma_row_without_chromadb_gives_the_measured_reason(monkeypatch):
    import core.engines.chroma as module

    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: None)
    (row,) = [i for i in list_engines() if i.name == "chroma"]
    assert not row.available and row.reason == module.NOT_INSTALLED
    assert "334 MB" in row.reason and row.talk_values() == {
        "max_neighbors": 16,
        "ef_construction": 200,
        "ef_search": 50,
    }


def test_params_and_threads(monkeypatch):
    engine = get_engine("hnswlib", ef=50)
    assert engine.params == {"M": 16, "ef_construction": 200, "ef": 50}
    assert engine.name == "hnswlib" and not engine.built
    for raw, threads in [("abc", 1), ("0", 1), ("1", 1), ("64", os.cpu_count())]:
        monkeypatch.setenv(THREADS_ENV, raw)
        assert engine_threads() == threads


def test_plugins_missing_or_broken(monkeypatch, tmp_path):
    monkeypatch.setattr("core.engines._PLUGINS", ("core.engines.not_written_yet",))
    engines._plugin_registrations.cache_clear()
    try:
        assert "exhaustive" in registrations() and "pgvector-hnsw" not in registrations()
        # A plugin that is there but lacks its own dependency is an error, not a silent gap.
        (tmp_path / "broken_engine_plugin.py").write_text("import no_such_dependency_xyz\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.setattr("core.engines._PLUGINS", ("broken_engine_plugin",))
        engines._plugin_registrations.cache_clear()
        with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
            registrations()
    finally:
        engines._plugin_registrations.cache_clear()


def test_diskann_that_stops_importing_is_a_clear_error(monkeypatch):
    if "diskann" not in AVAILABLE:
        pytest.skip(registrations()["diskann"].current().reason or "")
    import core.engines.diskann as module

    engine = get_engine("diskann")

    def broken(name):
        raise ImportError("libmkl_rt.so.2: cannot open shared object file")

    monkeypatch.setattr(module.importlib, "import_module", broken)
    with pytest.raises(ExplorerError, match="diskannpy cannot be imported: libmkl"):
        engine.build(np.eye(4))
    assert not engine.built


@pytest.mark.parametrize("name", LOCAL)
def test_threads_searching_at_once_each_get_their_own_parameters(name, data):
    vectors, queries = data
    info = registrations()[name].info
    settings = [{}]
    if info.search_params:
        spec = info.search_params[0]
        settings = [{spec.name: max(spec.min, 4)}, {spec.name: min(spec.max, 256)}]
    # The recall test's settings: wide enough that every search finds k (the swept first
    # parameter is given on each call).
    with get_engine(name, **RECALL_CASES[name][0]) as engine:
        engine.build(vectors)
        expected = [engine.search(queries, 10, **s).ids for s in settings]
        with ThreadPoolExecutor(4) as pool:
            runs = [pool.submit(engine.search, queries, 10, **s) for s in settings * 8]
            for i, run in enumerate(runs):
                np.testing.assert_array_equal(run.result().ids, expected[i % len(settings)])


def test_measure_and_sweep_values():
    rng = np.random.default_rng(4)
    corpus = rng.normal(size=(300, 16)).astype(np.float32)
    queries = rng.normal(size=(7, 16)).astype(np.float32)
    truth = exhaustive_search(queries, corpus, 5).ids
    with get_engine("hnswlib", M=4, ef_construction=8) as engine:
        engine.build(corpus)
        narrow, wide = (measure(engine, queries, truth, 5, ef=ef) for ef in (5, 300))
    # One-query searches, each against the exact ids: a wide search finds them all.
    assert wide.recall == 1.0 and np.array_equal(wide.ids, truth)
    assert narrow.recall == pytest.approx(recall_at_k(truth, narrow.ids))
    assert wide.ms_per_query > 0 and wide.setting == "ef=300"
    spec = ParamSpec("nprobe", 1, None, 1, 64, "cells searched")
    assert sweep_values(spec, 8) == [2, 4, 8, 16, 32, 64]
    assert sweep_values(spec, 1, (0.25, 1, 2)) == [1, 2]


def test_the_rescoring_engines_sweep_their_rescoring_factor_first():
    firsts = {
        r.info.name: r.info.search_params[0].name
        for r in registrations().values()
        if r.info.search_params and r.info.search_params[0].name in RESCORING_FACTORS
    }
    assert firsts == {"faiss-ivfpq-rerank": "k_factor", "pgvector-binary": "oversample"}


def _count_children(monkeypatch) -> list[str]:
    """The jobs :func:`core.child.run_in_child` runs from now on, by name."""
    import core.child

    jobs: list[str] = []
    real = core.child.run_in_child

    def counted(job, *args, **kwargs):
        jobs.append(job.__name__)
        return real(job, *args, **kwargs)

    monkeypatch.setattr(core.child, "run_in_child", counted)
    return jobs


def _diskann_or_skip() -> None:
    if "diskann" not in AVAILABLE:
        pytest.skip(registrations()["diskann"].current().reason or "")


def test_cancel_stops_diskanns_graph_build_midway(data, monkeypatch):
    """The graph is built in a child process: Cancel stops it at once instead of waiting
    for the whole build (about 12 s here)."""
    _diskann_or_skip()
    jobs = _count_children(monkeypatch)
    vectors = np.tile(data[0], (4, 1))  # 12,000 × 32
    engine = get_engine("diskann", graph_degree=64, complexity=300)
    copied: list[float] = []
    asked: list[float] = []

    def stop_in_the_graph_build() -> bool:
        if copied and copied[-1] == 1.0:
            asked.append(time.perf_counter())
        return len(asked) > 3  # a few polls after the last vector was written

    with pytest.raises(Cancelled):
        engine.build(
            vectors, progress=lambda f, _: copied.append(f), should_stop=stop_in_the_graph_build
        )
    assert jobs == ["build_graph"]
    assert time.perf_counter() - asked[-1] < 3.0
    assert not engine.built and engine._dir is None  # its files are gone


@pytest.mark.parametrize("name", ["faiss-ivfflat", "faiss-ivfpq-rerank"])
def test_large_ivf_training_runs_in_a_child_with_the_same_result(name, data, monkeypatch):
    if name not in AVAILABLE:
        pytest.skip(registrations()[name].current().reason or "")
    import core.engines.faisslib as module

    vectors, queries = data
    params = RECALL_CASES[name][0]
    with get_engine(name, **params) as here:
        expected = here.build(vectors).search(queries, 10)
        size = here.index_bytes
    monkeypatch.setattr(module, "CHILD_TRAINING_VALUES", 0)
    jobs = _count_children(monkeypatch)
    with get_engine(name, **params) as there:
        found = there.build(vectors).search(queries, 10)
        assert there.train_seconds is not None and there.index_bytes == size
    assert jobs == ["train_serialized"]
    # The sample went to the child as a memory-mapped .npy file, removed afterwards.
    assert not list(engines_dir().glob("*/training.npy"))
    # faiss's k-means is seeded: the child trains the same cells and codes (PQ's float
    # sums may round differently in another process: a near-tie can swap).
    assert recall_at_k(expected.ids, found.ids) >= 0.99
    truth = exhaustive_search(queries, vectors, 10).ids
    assert abs(recall_at_k(truth, found.ids) - recall_at_k(truth, expected.ids)) <= 0.01


def test_cancel_stops_ivf_training_in_its_child(data, monkeypatch):
    if "faiss-ivfpq" not in AVAILABLE:
        pytest.skip(registrations()["faiss-ivfpq"].current().reason or "")
    import core.engines.faisslib as module

    monkeypatch.setattr(module, "CHILD_TRAINING_VALUES", 0)
    jobs = _count_children(monkeypatch)
    asked: list[float] = []

    def stop_while_training() -> bool:
        asked.append(time.perf_counter())
        return len(asked) > 2  # the first ask comes before training starts

    engine = get_engine("faiss-ivfpq", nlist=64, m=16)
    with pytest.raises(Cancelled):
        engine.build(data[0], should_stop=stop_while_training)
    assert jobs == ["train_serialized"] and not engine.built
    assert time.perf_counter() - asked[-1] < 3.0


def test_the_child_jobs_work_in_this_process_too(tmp_path, data):
    """What the children run, called here (coverage does not follow a child)."""
    faiss = pytest.importorskip("faiss")
    from core.engines.diskann import PREFIX, build_graph
    from core.engines.faisslib import train_serialized

    vectors = normalized(data[0])
    untrained = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIMS), DIMS, 8, faiss.METRIC_INNER_PRODUCT)
    np.save(tmp_path / "rows.npy", vectors)
    serialized = faiss.serialize_index(untrained)
    trained = faiss.deserialize_index(train_serialized(serialized, str(tmp_path / "rows.npy")))
    assert trained.is_trained and trained.nlist == 8 and not untrained.is_trained
    _diskann_or_skip()
    source = tmp_path / "vectors.bin"
    source.write_bytes(np.array(vectors.shape, dtype=np.int32).tobytes() + vectors.tobytes())
    arguments = {"data": str(source), "distance_metric": "cosine", "index_directory": str(tmp_path)}
    build_graph(
        arguments | {"complexity": 32, "graph_degree": 16, "num_threads": 1, "index_prefix": PREFIX}
    )
    assert (tmp_path / PREFIX).stat().st_size > 0


class _RunStopped(BaseException):
    """What Streamlit raises from a page's next element update once its run was stopped
    (a Cancel's fast rerun, a closed tab): not an Exception, and not Cancelled."""


def test_a_stopped_page_run_stops_diskanns_graph_build_through_its_progress(data):
    """While the graph is built in a child, the bar is told the seconds so far every poll;
    a progress callback that raises (a stopped Streamlit run) kills the child at once."""
    import psutil

    _diskann_or_skip()
    vectors = np.tile(data[0], (4, 1))  # 12,000 × 32: about 12 s to build
    engine = get_engine("diskann", graph_degree=64, complexity=300)
    texts: list[tuple[float, str]] = []
    # Processes other tests of the session started (a browser, a database server) stay.
    before = set(psutil.Process().children(recursive=True))

    def bar(fraction: float, text: str) -> None:
        texts.append((fraction, text))
        if text.endswith("1 s…"):
            raise _RunStopped

    start = time.perf_counter()
    with pytest.raises(_RunStopped):
        engine.build(vectors, progress=bar)
    assert time.perf_counter() - start < 8.0
    waiting = [t for t in texts if "building the Vamana graph" in t[1]]
    assert waiting[0] == (1.0, "diskann: building the Vamana graph (no progress to show), 0 s…")
    assert not set(psutil.Process().children(recursive=True)) - before
    assert not engine.built and engine._dir is None


def train_for_a_minute(index: object, rows: np.ndarray) -> object:
    """A training job (run in a child) that outlasts any time limit a test sets."""
    time.sleep(60)
    return index


def test_a_library_call_in_a_child_is_stopped_past_its_time_limit(data, monkeypatch):
    import core.engines.base as base

    pytest.importorskip("faiss")
    assert base.child_time_limit(10**6) == pytest.approx(base.CHILD_BASE_SECONDS + 10.0)
    monkeypatch.setattr(base, "CHILD_BASE_SECONDS", 1.5)
    monkeypatch.setattr(base, "CHILD_SECONDS_PER_VALUE", 0.0)
    monkeypatch.setattr("core.engines.faisslib.CHILD_TRAINING_VALUES", 0)
    monkeypatch.setattr("core.engines.faisslib.train_serialized", train_for_a_minute)
    engine = get_engine("faiss-ivfpq", nlist=64, m=16)
    seen: list[str] = []
    start = time.perf_counter()
    with pytest.raises(ExplorerError, match=r"train_for_a_minute took more than 1.5 s"):
        engine.build(data[0], progress=lambda f, text: seen.append(text))
    assert time.perf_counter() - start < 10.0
    assert seen[-1].startswith("faiss-ivfpq: training k-means for the cells and the PQ codebooks")
    assert not engine.built


def test_training_sample_bytes_is_what_training_rows_copies():
    from core.engines.faisslib import training_sample_bytes

    vectors = np.ones((70_000, 4), dtype=np.float32)
    # nlist 256: 256 × 256 = 65,536 of the 70,000 rows are sampled, 16 bytes each.
    assert training_sample_bytes(70_000, 4, {"nlist": 256}) == 65_536 * 16
    assert training_rows(vectors, 256).nbytes == 65_536 * 16
    # PQ's 2^8 codebook centres set the sample when they outnumber the cells.
    assert training_sample_bytes(70_000, 4, {"nlist": 16, "nbits": 8}) == 65_536 * 16
    # Within the cap the vectors themselves are trained on: no copy.
    within = vectors[:60_000]
    assert training_sample_bytes(60_000, 4, {"nlist": 256}) == 0
    assert np.shares_memory(training_rows(within, 256), within)
    assert training_sample_bytes(70_000, 4, {"M": 16}) == 0  # HNSW trains nothing
