"""The truncate -> quantize -> rescore sweep (core.pipeline), and the one-query helpers the
same pages use from core.search, core.quantize and core.mrl, against brute force. They share
this file's brute-force helpers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import pipeline
from core.errors import ExplorerError
from core.mrl import ranking_at_dims
from core.pipeline import (
    OVERSAMPLES,
    PIPELINE_PRECISIONS,
    first_stage_candidates,
    pipeline_points,
    standard_sweep,
)
from core.quantize import Precision, QuantizedIndex, code_view, quantized_neighbors, rescore
from core.search import HnswIndex, compare_search, hnsw_recall, leave_one_out_reference


def unit_rows(n: int, d: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def clustered(n: int, d: int, seed: int, clusters: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, d))
    v = centers[rng.integers(clusters, size=n)] + 0.4 * rng.normal(size=(n, d))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def brute_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    a64 /= np.linalg.norm(a64, axis=1, keepdims=True)
    b64 /= np.linalg.norm(b64, axis=1, keepdims=True)
    return a64 @ b64.T


def brute_loo_top_k(v: np.ndarray, k: int) -> np.ndarray:
    sims = brute_cosine(v, v)
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b, strict=True)]))


# ------------------------------------------------ core.search: exact against HNSW


def test_compare_search_matches_brute_force_and_counts_recall():
    v = unit_rows(300, 16, seed=1)
    q = unit_rows(1, 16, seed=2)
    # M=2 and ef=1 make a poor graph on purpose, so misses are likely.
    index = HnswIndex.build(v, M=2, ef_construction=4)
    out = compare_search(q, v, index, k=10, ef=1, labels=[f"item{i}" for i in range(300)])
    expected = np.argsort(-brute_cosine(q, v)[0], kind="stable")[:10]
    assert out.exact.ids[0].tolist() == expected.tolist()
    np.testing.assert_allclose(out.exact.scores[0], brute_cosine(q, v)[0, expected], atol=1e-5)
    shared = len(set(expected) & set(out.approx.ids[0]))
    assert out.recall_at_k == pytest.approx(shared / 10)
    assert out.ranks.missing == 10 - shared
    assert out.ranks.rows[0].variant_label == f"item{out.approx.ids[0, 0]}"


def test_compare_search_takes_one_query():
    v = unit_rows(20, 4, seed=1)
    with pytest.raises(ExplorerError, match="one query, got 2"):
        compare_search(v[:2], v, HnswIndex.build(v), k=3, ef=10)


def test_hnsw_recall_is_the_leave_one_out_overlap():
    v = clustered(400, 12, seed=3)
    index = HnswIndex.build(v, M=3, ef_construction=8)
    k, ef = 5, 5
    reference = brute_loo_top_k(v, k)
    found = []
    for i in range(len(v)):
        ids = [j for j in index.search(v[i], k + 1, ef).ids[0] if j != i]
        found.append(ids[:k])
    expected = overlap(reference, np.array(found))
    assert hnsw_recall(index, v, k, ef) == pytest.approx(expected)
    assert expected < 1.0  # the weak graph does miss some neighbours
    assert hnsw_recall(index, v, k, ef=400) >= expected


def test_hnsw_recall_with_a_good_graph_is_near_one():
    v = unit_rows(500, 16, seed=4)
    assert hnsw_recall(HnswIndex.build(v, M=16, ef_construction=200), v, 10, 200) >= 0.99


def test_hnsw_recall_needs_the_indexed_vectors():
    v = unit_rows(30, 4, seed=5)
    with pytest.raises(ExplorerError, match="holds 30 items but 29"):
        hnsw_recall(HnswIndex.build(v), v[:29], 3, 10)


# ------------------------------------------------ core.quantize: one query by codes


def test_code_view_int8_by_hand():
    # Normalised rows [0.6, 0.8] and [1, 0]: global range [0, 1], one level = 1/255.
    index = QuantizedIndex.build([[3.0, 4.0], [2.0, 0.0]], Precision.INT8)
    view = code_view(index, [6.0, 8.0])
    np.testing.assert_allclose(view.values, [0.6, 0.8])
    # 0.6 * 255 = 153 -> 153 - 128 = 25; 0.8 * 255 = 204 -> 76.
    assert view.codes.tolist() == [25, 76]
    np.testing.assert_allclose(view.restored, [153 / 255, 204 / 255], atol=1e-6)
    assert view.thresholds is None


def test_code_view_binary_by_hand():
    index = QuantizedIndex.build([[1.0, -1.0, 2.0], [1.0, 1.0, 1.0]], "binary", center="zero")
    view = code_view(index, np.array([[2.0, -1.0, -2.0]]))
    np.testing.assert_allclose(view.values, [2 / 3, -1 / 3, -2 / 3])
    assert view.codes.tolist() == [1, 0, 0]
    np.testing.assert_allclose(view.restored, [5 / 9, -5 / 9, -5 / 9])
    np.testing.assert_allclose(view.thresholds, [0.0, 0.0, 0.0])


def test_code_view_rejects_the_wrong_width():
    index = QuantizedIndex.build(unit_rows(5, 4, seed=0), "int8")
    with pytest.raises(ExplorerError, match="4 dimensions, got \\(1, 3\\)"):
        code_view(index, [1.0, 2.0, 3.0])


def naive_hamming(bits: np.ndarray, row: int) -> np.ndarray:
    return np.array(
        [sum(int(a != b) for a, b in zip(bits[row], other, strict=True)) for other in bits]
    )


def test_quantized_neighbors_leaves_the_item_out():
    v = clustered(120, 20, seed=6)
    index = QuantizedIndex.build(v, "binary", center="dim-median")
    k, factor, target = 4, 3, 17
    out = quantized_neighbors(index, v[target], k, factor, exclude=target)
    bits = (v > np.median(v, axis=0)).astype(int)
    dist = naive_hamming(bits, target).astype(float)
    dist[target] = np.inf
    expected_candidates = np.argsort(dist, kind="stable")[: k * factor]
    assert out.candidates.ids[0].tolist() == expected_candidates.tolist()
    sims = brute_cosine(v[[target]], v[expected_candidates])[0]
    best = expected_candidates[np.argsort(-sims, kind="stable")[:k]]
    assert out.final.ids[0].tolist() == best.tolist()
    assert target not in out.candidates.ids[0]
    assert set(out.rescued()) == set(best) - set(expected_candidates[:k])
    assert set(out.dropped()) == set(expected_candidates[:k]) - set(best)


def test_quantized_neighbors_of_free_text_is_the_index_search():
    v = unit_rows(50, 8, seed=7)
    q = unit_rows(1, 8, seed=8)
    index = QuantizedIndex.build(v, "int8")
    out = quantized_neighbors(index, q, 5, 2)
    same = index.search(q, 5, 2)
    assert out.final.ids.tolist() == same.final.ids.tolist()
    assert out.candidates.ids.shape == (1, 10)


def test_quantized_neighbors_caps_candidates_and_checks_input():
    v = unit_rows(10, 8, seed=9)
    index = QuantizedIndex.build(v, "int8")
    assert quantized_neighbors(index, v[0], 3, 10, exclude=0).candidates.k == 9
    with pytest.raises(ExplorerError, match="k=10 is larger than the 9"):
        quantized_neighbors(index, v[0], 10, 1, exclude=0)
    with pytest.raises(ExplorerError, match="Cannot exclude row 10"):
        quantized_neighbors(index, v[0], 3, 1, exclude=10)
    with pytest.raises(ExplorerError, match="oversample=0"):
        quantized_neighbors(index, v[0], 3, 0, exclude=1)


# ------------------------------------------------ core.pipeline: the sweep


def test_leave_one_out_reference_matches_brute_force():
    v = unit_rows(80, 10, seed=10)
    assert leave_one_out_reference(v, 7).tolist() == brute_loo_top_k(v, 7).tolist()


def test_first_stage_float32_at_full_size_is_the_reference():
    v = unit_rows(60, 12, seed=11)
    got = first_stage_candidates(v, 12, "float32", 5)
    assert got.tolist() == leave_one_out_reference(v, 5).tolist()


def test_first_stage_truncated_float32_matches_brute_force():
    v = unit_rows(60, 12, seed=12)
    assert (
        first_stage_candidates(v, 4, "float32", 6).tolist() == brute_loo_top_k(v[:, :4], 6).tolist()
    )


def test_first_stage_int8_orders_by_code_dot_product():
    v = unit_rows(40, 6, seed=13)
    got = first_stage_candidates(v, 6, "int8", 5)
    lo, hi = v.min(), v.max()
    codes = (np.clip(np.rint((v - lo) / ((hi - lo) / 255)) - 128, -128, 127)).astype(np.int64)
    dots = (codes @ codes.T).astype(float)
    np.fill_diagonal(dots, -np.inf)
    assert got.tolist() == np.argsort(-dots, axis=1, kind="stable")[:, :5].tolist()


def test_first_stage_binary_on_truncated_vectors():
    v = unit_rows(40, 16, seed=14)
    got = first_stage_candidates(v, 8, "binary", 3)
    bits = (v[:, :8] > 0).astype(int)
    for row in (0, 5, 39):
        dist = naive_hamming(bits, row).astype(float)
        dist[row] = np.inf
        assert got[row].tolist() == np.argsort(dist, kind="stable")[:3].tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precision": "float64"}, "cannot search 'float64'"),
        ({"precision": "int4"}, "Unknown precision 'int4'"),
        ({"n_candidates": 20}, "k=20 is larger than the 19"),
        ({"dims": 9}, "Dimensionality 9 is greater than the model dimensionality 8"),
    ],
)
def test_first_stage_bad_input(kwargs, message):
    args = {"dims": 8, "precision": "int8", "n_candidates": 3} | kwargs
    with pytest.raises(ExplorerError, match=message):
        first_stage_candidates(unit_rows(20, 8, seed=0), **args)


def test_float32_full_size_pipeline_is_exact():
    v = clustered(150, 24, seed=15)
    (point,) = pipeline_points(v, 5, [24], ["float32"], [1])
    assert point.recall_first_stage == 1.0
    assert point.recall_rescored == 1.0
    assert point.bytes_per_vector == 24 * 4


def test_pipeline_points_order_and_bytes():
    v = clustered(100, 64, seed=16)
    points = pipeline_points(v, 4, [64, 16], PIPELINE_PRECISIONS, [1, 3])
    keys = [(p.dims, p.precision, p.oversample) for p in points]
    assert keys == [(d, p, f) for d in (64, 16) for p in PIPELINE_PRECISIONS for f in (1, 3)]
    sizes = {(p.dims, p.precision): p.bytes_per_vector for p in points}
    assert sizes[(64, Precision.FLOAT32)] == 256
    assert sizes[(64, Precision.INT8)] == 64
    assert sizes[(64, Precision.BINARY)] == 8
    assert sizes[(16, Precision.BINARY)] == 2
    assert {p.candidates for p in points} == {4, 12}


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 6),
    dims=st.sampled_from([2, 5, 12]),
    precision=st.sampled_from(list(PIPELINE_PRECISIONS)),
)
def test_rescored_recall_counts_reference_items_among_candidates(seed, k, dims, precision):
    # Rescoring with the exact vectors keeps every reference item it is shown, so recall after
    # rescoring is exactly the share of reference items among the candidates: the first stage
    # (its own top k) can only do worse, and more candidates can only help.
    v = clustered(60, 12, seed=seed)
    factors = [1, 2, 5]
    points = pipeline_points(v, k, [dims], [precision], factors)
    reference = brute_loo_top_k(v, k)
    ranked = first_stage_candidates(v, dims, precision, min(k * 5, 59))
    for point in points:
        assert point.recall_rescored == pytest.approx(
            overlap(reference, ranked[:, : point.candidates])
        )
        assert point.recall_first_stage == pytest.approx(overlap(reference, ranked[:, :k]))
        assert point.recall_rescored >= point.recall_first_stage
    rescored = [p.recall_rescored for p in points]
    assert rescored == sorted(rescored)


def test_rescoring_agrees_with_core_rescore():
    v = clustered(90, 16, seed=17)
    k = 3
    ranked = first_stage_candidates(v, 16, "binary", 12)
    expected = rescore(v, v, ranked, k).ids
    (point,) = pipeline_points(v, k, [16], ["binary"], [4])
    assert point.recall_rescored == pytest.approx(overlap(brute_loo_top_k(v, k), expected))


def test_every_candidate_rescored_gives_full_recall():
    v = clustered(40, 32, seed=18)
    (point,) = pipeline_points(v, 5, [4], ["binary"], [100])
    assert point.candidates == 39
    assert point.recall_rescored == 1.0
    assert point.recall_first_stage < 1.0


def test_ordered_dimensions_truncate_better_than_shuffled_ones():
    # Variance falling along the dimensions (as after PCA) puts the ranking in the first ones.
    rng = np.random.default_rng(19)
    ordered = rng.normal(size=(300, 32)) * np.geomspace(4.0, 0.05, 32)
    shuffled = ordered[:, rng.permutation(32)]
    good = pipeline_points(ordered, 10, [8], ["float32"], [1])[0].recall_first_stage
    bad = pipeline_points(shuffled, 10, [8], ["float32"], [1])[0].recall_first_stage
    assert good > 0.8 > bad


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"oversamples": [0]}, "oversample 0"),
        ({"oversamples": [2.5]}, "oversample 2.5"),
        ({"oversamples": []}, "at least one"),
        ({"k": 30}, "k=30 is larger than the 29"),
        ({"precisions": ["python-list"]}, "cannot search 'python-list'"),
    ],
)
def test_pipeline_points_bad_input(kwargs, message):
    args = {"k": 3, "dims_list": [4], "precisions": ["int8"], "oversamples": [1]} | kwargs
    with pytest.raises(ExplorerError, match=message):
        pipeline_points(unit_rows(30, 8, seed=0), **args)


# ------------------------------------------------ core.mrl: one ranking at fewer dims


def test_ranking_at_dims_by_hand():
    vectors = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.6, 0.8], [0.6, 0.0, 0.8]])
    query = np.array([[0.6, 0.8, 0.0]])
    full = ranking_at_dims(vectors, query, 3, 4)
    # Full cosines: 0.6, 0.96, 0.48, 0.36.
    assert full.ids[0].tolist() == [1, 0, 2, 3]
    np.testing.assert_allclose(full.scores[0], [0.96, 0.6, 0.48, 0.36], atol=1e-12)
    # Two values, re-normalised: rows [1,0], [0.8,0.6], [0,1], [1,0] and query [0.6,0.8];
    # row 1 left out, row 2 (0.8) beats rows 0 and 3 (0.6, tied: the lower id first).
    two = ranking_at_dims(vectors, query, 2, 2, exclude=1)
    assert two.ids[0].tolist() == [2, 0]
    np.testing.assert_allclose(two.scores[0], [0.8, 0.6], atol=1e-12)


def test_ranking_at_dims_errors():
    v = unit_rows(10, 6, seed=20)
    with pytest.raises(ExplorerError, match="greater than the model dimensionality 6"):
        ranking_at_dims(v, v[:1], 7, 3)
    with pytest.raises(ExplorerError, match="query has 5 dimensions"):
        ranking_at_dims(v, v[:1, :5], 3, 3)


# ------------------------------------------------ the MRL page's sweep, cached on disk


def test_standard_sweep_is_every_page_pipeline_computed_once(tmp_path, monkeypatch):
    v = clustered(60, 20, seed=21)
    points = standard_sweep(v, 3, root=tmp_path)
    talk = {"center": "mean", "score": "cosine"}  # the talk's quantization
    assert points == pipeline_points(v, 3, [8, 16, 20], PIPELINE_PRECISIONS, OVERSAMPLES, **talk)
    assert points != pipeline_points(v, 3, [8, 16, 20], PIPELINE_PRECISIONS, OVERSAMPLES)
    assert len(points) == 3 * 3 * 10
    assert {type(p.precision) for p in points} == {Precision}

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(pipeline, "pipeline_points", fail)
    assert standard_sweep(v, 3, root=tmp_path) == points
    with pytest.raises(AssertionError, match="computed again"):
        standard_sweep(v + 0.5, 3, root=tmp_path)  # other vectors


class FakeEmbedder:
    """Stands in for a model: only its name is read (by the fake embed_dataset)."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_main_precomputes_each_dataset_and_model_and_skips_what_fails(tmp_path, monkeypatch):
    import core.embedders.registry
    import core.vectors
    from core.errors import ExplorerError

    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    vectors = {"good": clustered(40, 16, seed=22)}

    def embed(dataset, embedder):
        if embedder.name not in vectors:
            raise ExplorerError(f"{embedder.name} cannot embed {dataset.name}")
        return vectors[embedder.name]

    monkeypatch.setattr(core.vectors, "embed_dataset", embed)
    monkeypatch.setattr(core.embedders.registry, "get_embedder", FakeEmbedder)
    pipeline.main(["--datasets", "words", "--models", "bad", "good", "-k", "4"])
    names = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "results").iterdir())
    assert names == ["mrl-curve", "mrl-pipeline"]
    # Both were stored under the page's own parameters: reading them computes nothing.
    monkeypatch.setattr(pipeline, "pipeline_points", None)
    assert len(standard_sweep(vectors["good"], 4)) == 3 * 2 * 10
