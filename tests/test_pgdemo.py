"""core.pgdemo on a real PostgreSQL + pgvector, checked against numpy: exact search in SQL
equals core.search.exhaustive_search, each index is used (EXPLAIN) and reaches a stated
recall, binary + rerank ×4 beats binary alone, sizes come from pg_relation_size."""

from __future__ import annotations

import numpy as np
import pytest
from psycopg import sql

from core import pg, pgdemo
from core.corpora import Cancelled, synthetic_corpus
from core.errors import ExplorerError
from core.metrics import Metric
from core.search import exhaustive_search
from tests.pg_fixtures import pg_db, pg_server

__all__ = ["pg_db", "pg_server"]  # fixtures this module uses

Demo = pgdemo.Demo
QUERIES = list(range(0, 4000, 40))  # 100 corpus rows as queries


@pytest.fixture(scope="module")
def corpus() -> np.ndarray:
    """4,000 clustered unit vectors in 256 dimensions (seeded)."""
    return synthetic_corpus(4000, 256, clusters=20, noise=0.5, seed=0).vectors


@pytest.fixture(scope="module")
def loaded(pg_db, corpus) -> pg.Loaded:
    with pg_db.connect() as conn:
        return pg.load_vectors(conn, corpus)


SETTINGS = pgdemo.Settings(lists=40, probes=4, mrl_dims=64, ef_search=20)


def test_exact_query_equals_numpys_cosine_order(pg_db, corpus):
    result = pgdemo.run_demo(pg_db, corpus, Demo.EXACT, SETTINGS, QUERIES[:20], k=10)
    with pg_db.connect() as conn:
        loaded = pg.load_vectors(conn, corpus)
    found = pgdemo.run_queries(pg_db, loaded, Demo.EXACT, SETTINGS, 10, query_ids=QUERIES[:20])
    exact = exhaustive_search(corpus[QUERIES[:20]], corpus, 10, Metric.COSINE)
    np.testing.assert_array_equal(found.ids, exact.ids)
    np.testing.assert_allclose(found.scores, exact.scores, atol=2e-6)
    assert result.recall == 1.0 and result.index is None and result.queries == 20
    assert "Seq Scan" in result.plan and "Index Scan using" not in result.plan
    assert [r[0] for r in result.rows] == list(exact.ids[0])


def test_query_vectors_give_the_same_answer_as_query_ids(pg_db, loaded, corpus):
    by_id = pgdemo.run_queries(pg_db, loaded, Demo.EXACT, SETTINGS, 5, query_ids=[3, 99])
    by_vector = pgdemo.run_queries(
        pg_db, loaded, Demo.EXACT, SETTINGS, 5, queries=corpus[[3, 99]], explain=False
    )
    np.testing.assert_array_equal(by_id.ids, by_vector.ids)
    assert by_vector.plan == "" and "%(query)s" in by_vector.query
    assert "WHERE id = 3" in by_id.query  # the shown SQL runs as it is


@pytest.mark.parametrize(
    ("demo", "threshold"),
    [
        (Demo.HNSW, 0.95),
        (Demo.IVFFLAT, 0.95),
        (Demo.HALFVEC, 0.95),
        (Demo.BINARY, 0.90),
        (Demo.MRL, 0.90),
    ],
)
def test_each_index_is_used_and_reaches_its_recall(pg_db, corpus, demo, threshold):
    result = pgdemo.run_demo(pg_db, corpus, demo, SETTINGS, QUERIES, k=10)
    assert result.index is not None and result.uses_index, result.plan
    assert result.recall >= threshold
    with pg_db.connect() as conn:
        size = pg.sizes(conn, pg.SCHEMA, [result.index.name])[result.index.name]
        assert pg.created(conn)[result.index.name].parent == result.table
    assert result.index.bytes == size > 0
    titles = [s.title for s in result.steps]
    assert titles == [
        "Load the vectors",
        "Build the index",
        "Index size",
        "Query",
        "EXPLAIN ANALYZE",
    ]
    assert result.steps[-1].outcome == result.plan
    assert "enable_seqscan" in result.steps[3].sql  # said, not hidden


def test_binary_rerank_by_four_beats_binary_alone(pg_db, corpus):
    once = pgdemo.Settings(oversample=1, ef_search=10)
    four = pgdemo.Settings(oversample=4, ef_search=10)
    r1 = pgdemo.run_demo(pg_db, corpus, Demo.BINARY, once, QUERIES, k=10)
    r4 = pgdemo.run_demo(pg_db, corpus, Demo.BINARY, four, QUERIES, k=10)
    assert r1.index == r4.index or r1.index.name == r4.index.name  # one index, two queries
    assert r4.recall >= 0.9 and r4.recall >= r1.recall + 0.15
    assert "LIMIT 40" in r4.steps[3].sql and "hnsw.ef_search', '40'" in r4.steps[3].sql


def test_reranked_scores_are_exact_cosines(pg_db, corpus, loaded):
    found = pgdemo.run_queries(pg_db, loaded, Demo.MRL, SETTINGS, 10, query_ids=QUERIES[:10])
    q = corpus[QUERIES[:10]].astype(np.float64)
    expected = np.take_along_axis(q @ corpus.astype(np.float64).T, found.ids, axis=1)
    np.testing.assert_allclose(found.scores, expected, atol=2e-6)
    assert (np.diff(found.scores, axis=1) <= 1e-7).all()  # best first


def test_a_second_run_reuses_table_and_index(pg_db, corpus):
    first = pgdemo.run_demo(pg_db, corpus, Demo.HNSW, SETTINGS, QUERIES[:5])
    again = pgdemo.run_demo(pg_db, corpus, Demo.HNSW, SETTINGS, QUERIES[:5])
    assert first.index is not None and again.index is not None
    assert not again.index.fresh and again.index.seconds == first.index.seconds
    assert "already loaded" in again.steps[0].outcome and "reuses" in again.steps[1].outcome


def test_cancelled_index_build_leaves_no_index(pg_db, loaded):
    s = pgdemo.Settings(m=24, ef_construction=100)
    with pytest.raises(Cancelled):
        pgdemo.build_index(pg_db, loaded, Demo.HNSW, s, should_stop=lambda: True)
    name = pgdemo.index_name(loaded.table, Demo.HNSW, s)
    with pg_db.connect() as conn:
        assert name not in pg.created(conn) and not pg._exists(conn, pg.SCHEMA, name)


def test_an_index_of_the_same_name_made_by_someone_else_is_refused(pg_db, loaded):
    s = pgdemo.Settings(lists=7)
    name = pgdemo.index_name(loaded.table, Demo.IVFFLAT, s)
    with pg_db.connect() as conn:
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} (id)").format(
                sql.Identifier(name), pg.qualified(loaded.schema, loaded.table)
            )
        )
    with pytest.raises(ExplorerError, match="did not create it"):
        pgdemo.build_index(pg_db, loaded, Demo.IVFFLAT, s)


def test_index_ddl_for_every_demo():
    s = pgdemo.Settings(m=8, ef_construction=32, lists=10, mrl_dims=64)
    ddl = {
        d: pgdemo.index_ddl("explorer", "t", 384, d, s).as_string(None)
        for d in Demo
        if d is not Demo.EXACT
    }
    assert ddl[Demo.HNSW].endswith(
        "USING hnsw (embedding vector_cosine_ops) WITH (m = 8, ef_construction = 32)"
    )
    assert "USING ivfflat (embedding vector_cosine_ops) WITH (lists = 10)" in ddl[Demo.IVFFLAT]
    assert "((embedding::halfvec(384)) halfvec_cosine_ops)" in ddl[Demo.HALFVEC]
    assert "((binary_quantize(embedding)::bit(384)) bit_hamming_ops)" in ddl[Demo.BINARY]
    assert "((subvector(embedding, 1, 64)::halfvec(64)) halfvec_cosine_ops)" in ddl[Demo.MRL]
    dot = pgdemo.index_ddl("explorer", "t", 8, Demo.HNSW, s, Metric.DOT).as_string(None)
    assert "vector_ip_ops" in dot and '"t_vdot_hnsw_m8_efc32"' in dot


@pytest.mark.parametrize(
    ("demo", "dims", "settings", "message"),
    [
        (Demo.HNSW, 2001, pgdemo.Settings(), "vector up to 2,000"),
        (Demo.IVFFLAT, 3000, pgdemo.Settings(), "vector up to 2,000"),
        (Demo.HALFVEC, 4001, pgdemo.Settings(), "halfvec up to 4,000"),
        (Demo.MRL, 100, pgdemo.Settings(mrl_dims=128), "mrl_dims=128 is more than the 100"),
        (Demo.EXACT, 10, pgdemo.Settings(), "needs no index"),
    ],
)
def test_index_limits_are_clear_errors(demo, dims, settings, message):
    with pytest.raises(ExplorerError, match=message):
        pgdemo.index_ddl("explorer", "t", dims, demo, settings)


def test_wide_vectors_still_get_halfvec_binary_and_mrl():
    s = pgdemo.Settings(mrl_dims=256)
    for demo in (Demo.HALFVEC, Demo.BINARY, Demo.MRL):
        assert "CREATE INDEX" in pgdemo.index_ddl("explorer", "t", 3072, demo, s).as_string(None)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"m": 1}, "m=1"),
        ({"m": 16, "ef_construction": 31}, "ef_construction=31"),
        ({"lists": 0}, "lists=0"),
        ({"ef_search": 1001}, "ef_search=1001"),
        ({"probes": 2.5}, "probes=2.5"),
        ({"oversample": True}, "oversample=True"),
        ({"mrl_dims": 0}, "mrl_dims=0"),
    ],
)
def test_settings_out_of_range_are_refused(params, message):
    with pytest.raises(ExplorerError, match=message):
        pgdemo.Settings(**params)


def test_query_input_is_checked(pg_db, loaded):
    run = pgdemo.run_queries
    with pytest.raises(ExplorerError, match="either query ids or query vectors"):
        run(pg_db, loaded, Demo.EXACT, SETTINGS, 5)
    with pytest.raises(ExplorerError, match="query id=4000"):
        run(pg_db, loaded, Demo.EXACT, SETTINGS, 5, query_ids=[4000])
    with pytest.raises(ExplorerError, match="no queries"):
        run(pg_db, loaded, Demo.EXACT, SETTINGS, 5, query_ids=[])
    with pytest.raises(ExplorerError, match="k=0"):
        run(pg_db, loaded, Demo.EXACT, SETTINGS, 0, query_ids=[1])
    with pytest.raises(ExplorerError, match="k × oversample = 1010"):
        run(pg_db, loaded, Demo.BINARY, pgdemo.Settings(oversample=10), 101, query_ids=[1])
    with pytest.raises(ExplorerError, match="PostgreSQL refused: .*different vector dimensions"):
        run(pg_db, loaded, Demo.EXACT, SETTINGS, 5, queries=np.ones((1, 3), np.float32))
    with pytest.raises(ExplorerError, match="Unknown demo 'flat'"):
        pgdemo.run_demo(pg_db, np.eye(3, dtype=np.float32), "flat", SETTINGS, [0])


def test_ivfflat_lists_above_rows_is_refused(pg_db):
    vectors = synthetic_corpus(100, 8, seed=3).vectors
    with pg_db.connect() as conn:
        small = pg.load_vectors(conn, vectors)
    with pytest.raises(ExplorerError, match="lists=200 is more than the 100 rows"):
        pgdemo.build_index(pg_db, small, Demo.IVFFLAT, pgdemo.Settings(lists=200))


def test_settings_follow_the_demo():
    s = pgdemo.Settings(ef_search=20, probes=3, oversample=4)
    assert pgdemo.query_settings(Demo.EXACT, s, 10) == [("enable_indexscan", "off")]
    assert ("ivfflat.probes", "3") in pgdemo.query_settings(Demo.IVFFLAT, s, 10)
    assert ("hnsw.ef_search", "20") in pgdemo.query_settings(Demo.HNSW, s, 10)
    assert ("hnsw.ef_search", "30") in pgdemo.query_settings(Demo.HNSW, s, 30)
    assert ("hnsw.ef_search", "40") in pgdemo.query_settings(Demo.MRL, s, 10)


def test_a_new_build_replaces_the_same_familys_index_only(pg_db, corpus, loaded):
    small, large = (
        pgdemo.Settings(m=8, ef_construction=16),
        pgdemo.Settings(m=12, ef_construction=24),
    )
    first = pgdemo.build_index(pg_db, loaded, Demo.HNSW, small)
    half = pgdemo.build_index(pg_db, loaded, Demo.HALFVEC, small)
    second = pgdemo.build_index(pg_db, loaded, Demo.HNSW, large)
    with pg_db.connect() as conn:
        ours = pg.created(conn)
        assert first.name not in ours and not pg._exists(conn, pg.SCHEMA, first.name)
        assert {second.name, half.name} <= set(ours)  # another family stays
    with pytest.raises(ExplorerError, match="another build with other settings replaced it"):
        pgdemo.run_queries(pg_db, loaded, Demo.HNSW, small, 5, query_ids=[0])
    again = pgdemo.run_demo(pg_db, corpus, Demo.HNSW, large, [0, 1])
    assert again.uses_index and again.index is not None and again.index.name == second.name


def test_hnsw_and_ivfflat_on_the_same_vectors_each_use_their_own_index(pg_db, corpus):
    hnsw = pgdemo.run_demo(pg_db, corpus, Demo.HNSW, SETTINGS, QUERIES[:3])
    ivf = pgdemo.run_demo(pg_db, corpus, Demo.IVFFLAT, SETTINGS, QUERIES[:3])
    again = pgdemo.run_demo(pg_db, corpus, Demo.HNSW, SETTINGS, QUERIES[:3])
    assert hnsw.uses_index and ivf.uses_index and again.uses_index
    assert ivf.table.startswith("ivf_") and hnsw.table.startswith("vec_")
    assert ivf.table[3:] == hnsw.table[3:]  # the same content, two copies


def test_main_prints_one_row_per_measured_demo(pg_db, monkeypatch, capsys):
    monkeypatch.setenv(pg.URL_ENV, pg_db.uri)
    pg.shutdown()
    try:
        pgdemo.main(["--n", "600", "--dims", "32", "--queries", "20"])
    finally:
        pg.shutdown()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("600 × 32 synthetic") and "pgvector 0.8.6" in lines[0]
    header = [c.strip() for c in lines[1].split("|")]
    assert header[:2] == ["demo", "build s"] and "recall@10" in header
    rows = [[c.strip() for c in line.split("|")] for line in lines[2:]]
    assert [r[0] for r in rows] == [
        "exact (no index)",
        "HNSW",
        "IVFFlat",
        "halfvec HNSW",
        "binary HNSW + rerank ×1",
        "binary HNSW + rerank ×4",
        "MRL subvector HNSW + rerank ×4",
    ]
    recall = {r[0]: float(r[header.index("recall@10")]) for r in rows}
    assert recall["exact (no index)"] == 1.0
    assert recall["binary HNSW + rerank ×4"] >= recall["binary HNSW + rerank ×1"]
    assert all(r[header.index("index used")] == "True" for r in rows[1:])
