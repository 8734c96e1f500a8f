from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import core.search
from core import metrics
from core.errors import ExplorerError
from core.metrics import Metric
from core.search import HnswIndex, exhaustive_search, recall_at_k
from core.topk import SearchResult, top_k_ids


def reference_top_k(metric: Metric, queries, corpus, k, exclude=None):
    """Brute force: full sort of every row of ``pairwise``, ties to the lower id."""
    scores = metrics.pairwise(metric, queries, corpus)
    key = -scores if metric.higher_is_closer else scores.copy()
    ids = np.arange(key.shape[1])
    out = []
    for row in range(key.shape[0]):
        order = np.lexsort((ids, key[row]))
        if exclude is not None:
            order = order[order != exclude]
        out.append(order[:k])
    ids_out = np.array(out, dtype=np.int64)
    return ids_out, np.take_along_axis(scores, ids_out, axis=1)


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def with_ties(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Small integers (many equal scores) plus exact duplicate rows."""
    x = rng.integers(-2, 3, size=(n, d)).astype(np.float64)
    x[x.sum(axis=1) == 0] += 1.0
    x[np.all(x == 0, axis=1)] = 1.0
    x[n // 2 :: 3] = x[1]
    return x


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("data", ["normal", "ties"])
@pytest.mark.parametrize("k", [1, 4, 30])
def test_exhaustive_equals_full_sort(metric, data, k):
    rng = np.random.default_rng(3)
    corpus = rng.normal(size=(30, 6)) if data == "normal" else with_ties(rng, 30, 6)
    queries = np.vstack([rng.normal(size=(4, 6)), corpus[1]])
    got = exhaustive_search(queries, corpus, k, metric)
    ref_ids, ref_scores = reference_top_k(metric, queries, corpus, k)
    np.testing.assert_array_equal(got.ids, ref_ids)
    np.testing.assert_allclose(got.scores, ref_scores, rtol=1e-12, atol=1e-12)
    assert got.ids.dtype == np.int64 and got.scores.dtype == np.float64
    assert got.metric == metric.value and got.higher_is_closer == metric.higher_is_closer


def test_duplicates_come_back_in_id_order():
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    got = exhaustive_search([1.0, 0.0], corpus, 3, "cosine")
    np.testing.assert_array_equal(got.ids, [[0, 2, 3]])
    np.testing.assert_allclose(got.scores, [[1.0, 1.0, 1.0]])


def test_single_item_corpus():
    got = exhaustive_search([[1.0, 2.0], [3.0, 1.0]], [[2.0, 2.0]], 1, "euclidean")
    np.testing.assert_array_equal(got.ids, [[0], [0]])
    np.testing.assert_allclose(got.scores, [[1.0], [np.sqrt(2.0)]])


@settings(max_examples=60, deadline=None)
@given(
    corpus=arrays(np.int8, st.tuples(st.integers(1, 12), st.just(3)), elements=st.integers(-2, 2)),
    metric=st.sampled_from([Metric.DOT, Metric.EUCLIDEAN, Metric.MANHATTAN]),
    data=st.data(),
)
def test_exhaustive_property_small_integers(corpus, metric, data):
    corpus = corpus.astype(np.float64)
    k = data.draw(st.integers(1, corpus.shape[0]))
    query = corpus[data.draw(st.integers(0, corpus.shape[0] - 1))] + 0.5
    got = exhaustive_search(query, corpus, k, metric)
    np.testing.assert_array_equal(got.ids, reference_top_k(metric, query, corpus, k)[0])


@pytest.mark.parametrize("metric", list(Metric))
def test_blocks_of_queries_give_the_same_answer(monkeypatch, metric):
    rng = np.random.default_rng(5)
    corpus, queries = with_ties(rng, 40, 5), rng.normal(size=(11, 5))
    whole = exhaustive_search(queries, corpus, 7, metric)
    monkeypatch.setattr(core.search, "_SCORE_BLOCK", 3 * 40 + 1)  # 3 queries per block
    blocked = exhaustive_search(queries, corpus, 7, metric)
    np.testing.assert_array_equal(blocked.ids, whole.ids)
    np.testing.assert_array_equal(blocked.scores, whole.scores)


@pytest.mark.parametrize("metric", [Metric.COSINE, Metric.DOT])
def test_float32_fast_path_agrees_with_pairwise(metric):
    rng = np.random.default_rng(11)
    corpus = rng.normal(size=(500, 32)).astype(np.float32)
    queries = rng.normal(size=(7, 32)).astype(np.float32)
    got = exhaustive_search(queries, corpus, 10, metric)
    ref_ids, ref_scores = reference_top_k(metric, queries, corpus, 10)
    np.testing.assert_array_equal(got.ids, ref_ids)
    np.testing.assert_allclose(got.scores, ref_scores, rtol=1e-5, atol=1e-5)


def test_exclude_leaves_out_the_query_item():
    rng = np.random.default_rng(2)
    corpus = rng.normal(size=(20, 4))
    got = exhaustive_search(corpus[[3, 8]], corpus, 19, "cosine", exclude=np.array([3, 8]))
    assert 3 not in got.ids[0] and 8 not in got.ids[1]
    np.testing.assert_array_equal(
        got.ids[0], reference_top_k(Metric.COSINE, corpus[3], corpus, 19, exclude=3)[0][0]
    )
    single = exhaustive_search(corpus[5], corpus, 3, "dot", exclude=5)
    assert 5 not in single.ids[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 50}, "k=50 is larger than the 30 corpus items"),
        ({"k": 0}, "k=0"),
        ({"k": 30, "exclude": 2}, "k=30 is larger than the 29"),
        ({"k": 3, "exclude": 30}, "Cannot exclude id 30"),
        ({"k": 3, "metric": "jaccard"}, "Unknown metric 'jaccard'"),
    ],
)
def test_exhaustive_errors(kwargs, match):
    corpus = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(ExplorerError, match=match):
        exhaustive_search(corpus[0], corpus, **kwargs)


def test_exhaustive_shape_and_zero_vector_errors():
    corpus = np.eye(3)
    with pytest.raises(ExplorerError, match="Queries have 2 dimensions but the corpus has 3"):
        exhaustive_search([1.0, 0.0], corpus, 1)
    with pytest.raises(ExplorerError, match="corpus vectors row 1 is a zero vector"):
        exhaustive_search([1.0, 0.0, 0.0], [[1.0, 0, 0], [0, 0, 0]], 1, "cosine")
    with pytest.raises(ExplorerError, match="queries row 0 is a zero vector"):
        exhaustive_search(np.zeros(3, np.float32), corpus.astype(np.float32), 1, "cosine")


def test_top_k_ids_ties_at_the_boundary():
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1, 0.9]])
    np.testing.assert_array_equal(top_k_ids(scores, 3, True), [[1, 5, 0]])
    np.testing.assert_array_equal(top_k_ids(scores, 2, False), [[4, 0]])
    np.testing.assert_array_equal(top_k_ids(scores, 3, True, np.array([5])), [[1, 0, 2]])


def test_hits_of_one_query():
    result = exhaustive_search([1.0, 0.0], [[0.0, 1.0], [1.0, 0.1], [1.0, 1.0]], 2)
    hits = result.hits()
    assert [(h.id, h.rank) for h in hits] == [(1, 1), (2, 2)]
    assert hits[1].score == pytest.approx(np.sqrt(0.5))
    with pytest.raises(ExplorerError, match="Query 1 does not exist"):
        result.hits(1)


def test_search_result_rejects_mismatched_shapes():
    with pytest.raises(ExplorerError, match="must be equal"):
        SearchResult(np.zeros((1, 2), np.int64), np.zeros((1, 3)), 0.0, "cosine", True)


def test_recall_hand_computed():
    assert recall_at_k(np.array([1, 2, 3, 4]), np.array([4, 3, 9, 8])) == 0.5
    ref = np.array([[1, 2], [3, 4]])
    assert recall_at_k(ref, np.array([[2, 1], [5, 6]])) == 0.5
    # More candidates than k: recall of the candidate list.
    assert recall_at_k(ref, np.array([[9, 8, 1, 2], [3, 0, 0, 4]])) == 1.0
    with pytest.raises(ExplorerError, match="2 queries but the results have 1"):
        recall_at_k(ref, np.array([[1, 2]]))


@pytest.fixture(scope="module")
def unit_data():
    rng = np.random.default_rng(42)
    x = unit(rng, 2100, 64)
    return x[:2000], x[2000:]


@pytest.fixture(scope="module")
def cosine_index(unit_data):
    return HnswIndex.build(unit_data[0], "cosine", seed=7)


def test_hnsw_recall_against_exhaustive(unit_data, cosine_index):
    corpus, queries = unit_data
    exact = exhaustive_search(queries, corpus, 10, "cosine")
    approx = cosine_index.search(queries, 10, ef=100)
    assert recall_at_k(exact.ids, approx.ids) >= 0.95
    assert recall_at_k(exact.ids, cosine_index.search(queries, 10, ef=10).ids) < 0.95
    # Similarities, not hnswlib's 1 - cos: they equal the exact cosine of the returned ids.
    exact_of_found = np.take_along_axis(
        metrics.cosine_similarity(queries, corpus), approx.ids, axis=1
    )
    np.testing.assert_allclose(approx.scores, exact_of_found, atol=1e-5)
    assert approx.higher_is_closer and approx.metric == "cosine"
    assert cosine_index.count == 2000 and cosine_index.dims == 64
    assert cosine_index.build_seconds > 0 and cosine_index.nbytes > 2000 * 64 * 4


@pytest.mark.parametrize("metric", [Metric.EUCLIDEAN, Metric.DOT])
def test_hnsw_scores_are_converted(metric):
    rng = np.random.default_rng(1)
    corpus, queries = rng.normal(size=(300, 8)), rng.normal(size=(5, 8))
    got = HnswIndex.build(corpus, metric).search(queries, 5, ef=300)
    exact = exhaustive_search(queries, corpus, 5, metric)
    # With ef = n the graph search visits enough to be exact on 300 points.
    np.testing.assert_array_equal(got.ids, exact.ids)
    np.testing.assert_allclose(got.scores, exact.scores, rtol=1e-5, atol=1e-5)


def test_hnsw_single_thread_is_reproducible(unit_data):
    corpus, queries = unit_data
    a = HnswIndex.build(corpus[:500], seed=3).search(queries, 10, ef=10)
    b = HnswIndex.build(corpus[:500], seed=3).search(queries, 10, ef=10)
    np.testing.assert_array_equal(a.ids, b.ids)


def test_hnsw_preconditions(cosine_index):
    q = np.ones(64)
    with pytest.raises(ExplorerError, match="k=2001 is larger than the 2000 indexed items"):
        cosine_index.search(q, 2001)
    with pytest.raises(ExplorerError, match="k=0"):
        cosine_index.search(q, 0)
    with pytest.raises(ExplorerError, match="Queries have 3 dimensions but the index has 64"):
        cosine_index.search(np.ones(3), 1)
    with pytest.raises(ExplorerError, match="queries row 0 is a zero vector"):
        cosine_index.search(np.zeros(64), 1)
    # ef below k is raised to k instead of failing inside hnswlib.
    assert cosine_index.search(q, 40, ef=5).k == 40
    with pytest.raises(ExplorerError, match="does not support the manhattan metric"):
        HnswIndex.build(np.eye(3), "manhattan")
    with pytest.raises(ExplorerError, match="corpus is empty"):
        HnswIndex.build(np.zeros((0, 3)))
    with pytest.raises(ExplorerError, match="M=1"):
        HnswIndex.build(np.eye(3), M=1)
    with pytest.raises(ExplorerError, match="corpus vectors row 2 is a zero vector"):
        HnswIndex.build(np.array([[1.0, 0], [0, 1], [0, 0]]))


def test_hnsw_tiny_index_returns_everything():
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    got = HnswIndex.build(corpus, "euclidean").search([1.0, 0.0], 3)
    np.testing.assert_array_equal(got.ids, [[0, 2, 1]])
    np.testing.assert_allclose(got.scores, [[0.0, 1.0, np.sqrt(2.0)]], atol=1e-6)
