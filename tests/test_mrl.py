from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

from core import mrl
from core.errors import ExplorerError
from core.mrl import (
    CurvePoint,
    recall_curve,
    standard_curve,
    standard_dims,
    truncate_and_renormalize,
    truncated_top_k,
)

REF = Path(__file__).resolve().parents[1].parent / "shared" / "ref" / "openai-peliculas"


def test_hand_computed_truncation():
    # [3, 4] has length 5, so the first two values of [3, 4, 12] become [0.6, 0.8].
    out = truncate_and_renormalize([[3.0, 4.0, 12.0], [0.0, -2.0, 7.0]], 2)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, -1.0]])


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64)],
)
def test_dtype_is_kept_for_floats(dtype, expected):
    out = truncate_and_renormalize(np.array([[1, 2, 2, 9]], dtype=dtype), 3)
    assert out.dtype == expected
    np.testing.assert_allclose(out, [[1 / 3, 2 / 3, 2 / 3]], rtol=1e-6)


def test_single_vector_becomes_one_row():
    assert truncate_and_renormalize(np.array([0.0, 5.0, 1.0]), 2).shape == (1, 2)


def test_full_dims_is_plain_normalization():
    v = np.random.default_rng(3).normal(size=(4, 6))
    np.testing.assert_allclose(
        truncate_and_renormalize(v, 6), v / np.linalg.norm(v, axis=1, keepdims=True)
    )


@pytest.mark.parametrize(
    ("dims", "message"),
    [
        (512, "Dimensionality 512 is greater than the model dimensionality 384"),
        (0, "Dimensionality 0 is less than 1"),
        (-3, "Dimensionality -3 is less than 1"),
        (2.5, "whole number, got 2.5"),
        (True, "whole number, got True"),
    ],
)
def test_bad_dims(dims, message):
    with pytest.raises(ExplorerError, match=message):
        truncate_and_renormalize(np.ones((2, 384), dtype=np.float32), dims)


def test_zero_prefix_is_an_error():
    with pytest.raises(ExplorerError, match="Row 1 is all zeros in its first 2 dimensions"):
        truncate_and_renormalize([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], 2)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, (3, 8), elements=st.floats(-10, 10)).filter(
        lambda a: bool(np.all(np.abs(a[:, :4]).sum(1) > 1e-3))
    )
)
def test_truncated_rows_are_unit_and_point_like_the_prefix(v):
    out = truncate_and_renormalize(v, 4)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.diag(sk_cosine(out, v[:, :4])), 1.0, rtol=1e-9)


def _load(name: str) -> dict[str, list[float]]:
    path = REF / name
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_reproduces_openai_api_side_dimensions():
    full = _load("peliculas_text-embedding-3-small-1536.json")
    short = _load("peliculas_text-embedding-3-small-256.json")
    assert len(full) == len(short) == 62
    titles = sorted(full)
    ours = truncate_and_renormalize(np.array([full[t] for t in titles], dtype=np.float32), 256)
    api = np.array([short[t] for t in titles], dtype=np.float32)
    assert ours.dtype == np.float32 and ours.shape == (62, 256)
    cosines = np.diag(sk_cosine(ours, api))
    assert cosines.min() >= 0.99999


def test_standard_dims():
    assert standard_dims(384) == (8, 16, 32, 64, 128, 256, 384)
    assert standard_dims(256) == (8, 16, 32, 64, 128, 256)
    assert standard_dims(5) == (5,)
    assert standard_dims(1536, smallest=256) == (256, 512, 1024, 1536)
    with pytest.raises(ExplorerError, match="Dimensionality 0 is less than 1"):
        standard_dims(0)


# Three items where truncating to 2 dims changes two of the three nearest neighbours.
# Full cosines: c(0,1) = .8, c(0,2) = .597, c(1,2) = .537; after truncation to 2 dims item 2
# becomes [.986, .164]: c(0,1) = .8, c(0,2) = .986, c(1,2) = .888.
HAND = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.6, 0.1, 0.8]])


def test_hand_computed_recall():
    points = recall_curve(HAND, [3, 2], k=1)
    assert points == [
        CurvePoint(dims=2, recall_at_k=pytest.approx(1 / 3), bytes_per_vector=8),
        CurvePoint(dims=3, recall_at_k=1.0, bytes_per_vector=12),
    ]
    # With k = 2 every item returns both others, whatever the dims.
    assert [p.recall_at_k for p in recall_curve(HAND, [2, 3], k=2)] == [1.0, 1.0]


def test_hand_computed_recall_with_queries():
    # Query [1, 0, 0.9] (truncated: [1, 0]) finds item 2 (.98) with all dims, item 0 with 2.
    points = recall_curve(HAND, [2, 3], k=1, queries=[1.0, 0.0, 0.9])
    assert [p.recall_at_k for p in points] == [0.0, 1.0]


def _brute_force_recall(v: np.ndarray, dims: int, k: int, queries: np.ndarray | None) -> float:
    """Loop over queries with sklearn cosines and full argsorts."""
    q = v if queries is None else queries
    overlaps = []
    for i in range(len(q)):
        full = sk_cosine(q[i : i + 1], v)[0]
        short = sk_cosine(q[i : i + 1, :dims], v[:, :dims])[0]
        if queries is None:
            full[i] = short[i] = -np.inf
        top_full = set(np.argsort(-full)[:k])
        top_short = set(np.argsort(-short)[:k])
        overlaps.append(len(top_full & top_short) / k)
    return float(np.mean(overlaps))


@pytest.mark.parametrize("with_queries", [False, True])
def test_recall_matches_brute_force(with_queries):
    rng = np.random.default_rng(42)
    # Decaying scales make the leading dimensions matter most, as in an MRL model.
    v = (rng.normal(size=(60, 32)) * np.linspace(3, 0.2, 32)).astype(np.float32)
    queries = rng.normal(size=(13, 32)).astype(np.float32) if with_queries else None
    points = recall_curve(v, [4, 16, 8, 32, 8], k=5, queries=queries)
    assert [p.dims for p in points] == [4, 8, 16, 32]
    for p in points:
        assert p.recall_at_k == pytest.approx(_brute_force_recall(v, p.dims, 5, queries))
        assert p.bytes_per_vector == 4 * p.dims
    assert points[-1].recall_at_k == 1.0
    assert 0.0 < points[0].recall_at_k < points[-1].recall_at_k


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 3}, "k=3 is out of range: with 3 items each query has 2 candidates"),
        ({"k": 0}, "k=0 is out of range"),
        ({"k": 1, "dims_list": []}, "No dimensionalities given"),
        ({"k": 1, "dims_list": [4]}, "Dimensionality 4 is greater than the model"),
        ({"k": 1, "queries": np.ones((2, 2))}, "Queries have 2 dimensions but the vectors have 3"),
    ],
)
def test_recall_bad_input(kwargs, message):
    args = {"dims_list": [2], **kwargs}
    with pytest.raises(ExplorerError, match=message):
        recall_curve(HAND, **args)


def test_recall_k_can_reach_n_with_external_queries():
    assert recall_curve(HAND, [2], k=3, queries=HAND[:1])[0].recall_at_k == 1.0


def _brute_top_k(v: np.ndarray, dims: int, k: int, queries: np.ndarray | None) -> np.ndarray:
    """Top-k ids by sklearn cosine on the first ``dims`` values, stable full argsort."""
    q = v if queries is None else queries
    sims = sk_cosine(q[:, :dims], v[:, :dims])
    if queries is None:
        np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("with_queries", [False, True])
@pytest.mark.parametrize("dims", [3, 10, 24])
def test_truncated_top_k_matches_brute_force(with_queries, dims):
    rng = np.random.default_rng(dims)
    v = rng.normal(size=(50, 24)).astype(np.float32)
    queries = rng.normal(size=(7, 24)).astype(np.float32) if with_queries else None
    ids = truncated_top_k(v, dims, 6, queries)
    assert ids.shape == (7 if with_queries else 50, 6)
    np.testing.assert_array_equal(ids, _brute_top_k(v, dims, 6, queries))


def test_truncated_top_k_by_hand():
    # HAND cut to 2 dims: item 2 becomes [.986, .164], closest to item 0 (.986) and item 1.
    np.testing.assert_array_equal(truncated_top_k(HAND, 2, 1), [[2], [2], [0]])
    np.testing.assert_array_equal(truncated_top_k(HAND, 3, 1), [[1], [0], [0]])


def test_reference_saves_the_full_search_and_gives_the_same_curve(monkeypatch):
    rng = np.random.default_rng(5)
    v = (rng.normal(size=(40, 16)) * np.linspace(2, 0.1, 16)).astype(np.float32)
    reference = truncated_top_k(v, 16, 4)
    expected = recall_curve(v, [2, 5], 4)
    calls = []
    real = mrl.truncated_top_k
    monkeypatch.setattr(mrl, "truncated_top_k", lambda *a: calls.append(a[1]) or real(*a))
    assert recall_curve(v, [2, 5], 4, reference=reference) == expected
    assert calls == [2, 5]  # no search at the full 16 dimensions


def test_reference_of_the_wrong_shape():
    with pytest.raises(ExplorerError, match=r"The reference holds \(3, 2\) ids; 3 queries"):
        recall_curve(HAND, [2], 1, reference=np.zeros((3, 2), dtype=np.int64))


def test_standard_curve_is_computed_once_then_read_from_disk(tmp_path, monkeypatch):
    rng = np.random.default_rng(6)
    v = rng.normal(size=(30, 20)).astype(np.float32)
    points = standard_curve(v, 3, root=tmp_path)
    assert points == recall_curve(v, standard_dims(20), 3)
    assert [p.dims for p in points] == [8, 16, 20]

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(mrl, "recall_curve", fail)
    assert standard_curve(v, 3, root=tmp_path) == points
    with pytest.raises(AssertionError, match="computed again"):
        standard_curve(v, 4, root=tmp_path)  # another k is another result
