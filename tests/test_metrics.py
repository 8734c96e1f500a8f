from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine
from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances

from core import metrics
from core.errors import ExplorerError
from core.metrics import Metric

V1 = [1.0, 2.0, 3.0]
V2 = [3.0, 1.0, 2.0]


def test_seed_example_on_unit_vectors():
    a, b = metrics.normalize([V1, V2])
    assert metrics.euclidean(a, b)[0, 0] == pytest.approx(0.655, abs=5e-4)
    assert metrics.manhattan(a, b)[0, 0] == pytest.approx(1.07, abs=5e-3)
    assert metrics.dot(a, b)[0, 0] == pytest.approx(0.786, abs=5e-4)
    assert metrics.cosine_distance(a, b)[0, 0] == pytest.approx(0.214, abs=5e-4)


def test_hand_computed_raw_vectors():
    # dot = 3 + 2 + 6 = 11; |v| = sqrt(14); cosine = 11/14
    assert metrics.dot(V1, V2)[0, 0] == 11
    assert metrics.cosine_similarity(V1, V2)[0, 0] == pytest.approx(11 / 14)
    assert metrics.euclidean(V1, V2)[0, 0] == pytest.approx(np.sqrt(4 + 1 + 1))
    assert metrics.manhattan(V1, V2)[0, 0] == pytest.approx(4)


def test_shapes_one_vs_many_and_many_vs_many():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 7)), rng.normal(size=(9, 7))
    for m in Metric:
        assert metrics.pairwise(m, a, b).shape == (5, 9)
        assert metrics.pairwise(m.value, a[0], b).shape == (1, 9)


def test_against_sklearn():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 11)), rng.normal(size=(4, 11))
    np.testing.assert_allclose(metrics.cosine_similarity(a, b), sk_cosine(a, b), atol=1e-12)
    np.testing.assert_allclose(metrics.euclidean(a, b), euclidean_distances(a, b), atol=1e-9)
    np.testing.assert_allclose(metrics.manhattan(a, b), manhattan_distances(a, b), atol=1e-12)


def test_normalize_keeps_float32():
    x = np.array([[3, 4]], dtype=np.float32)
    out = metrics.normalize(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8]])


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[0.0, 0.0, 0.0]], "zero vector"),
        ([[1.0, np.nan, 0.0]], "NaN or infinity"),
        ([[1.0, np.inf, 0.0]], "NaN or infinity"),
    ],
)
def test_bad_vectors_raise_clear_errors(bad, match):
    with pytest.raises(ExplorerError, match=match):
        metrics.cosine_similarity(bad, [[1.0, 2.0, 3.0]])


def test_dimension_mismatch():
    with pytest.raises(ExplorerError, match="3 dimensions against 2"):
        metrics.dot([1, 2, 3], [1, 2])


def test_unknown_metric_lists_allowed():
    with pytest.raises(ExplorerError, match="cosine, dot, euclidean, manhattan"):
        Metric.coerce("hamming")


finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
vec3 = arrays(np.float64, (3, 8), elements=finite)


@settings(max_examples=60, deadline=None)
@given(vec3)
def test_properties(x):
    x = x + np.eye(3, 8)  # avoid all-zero rows
    if np.any(np.linalg.norm(x, axis=1) < 1e-6):
        return
    for m in Metric:
        s = metrics.pairwise(m, x, x)
        np.testing.assert_allclose(s, s.T, rtol=1e-9, atol=1e-9)  # symmetry
    for fn in (metrics.euclidean, metrics.manhattan):
        d = fn(x, x)
        # triangle inequality: d(a,c) <= d(a,b) + d(b,c)
        assert d[0, 2] <= d[0, 1] + d[1, 2] + 1e-7
    u = metrics.normalize(x)
    np.testing.assert_allclose(metrics.cosine_similarity(u, u), metrics.dot(u, u), atol=1e-9)
    # on unit vectors, |a-b|^2 = 2 - 2 cos: the euclidean ranking is the cosine ranking
    np.testing.assert_allclose(metrics.euclidean(u, u) ** 2, 2 - 2 * metrics.dot(u, u), atol=1e-9)


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e300, 5e-324 * 1e10])
def test_normalize_and_cosine_survive_huge_and_tiny_values(scale):
    x = np.array([[3.0, 4.0], [4.0, 3.0]]) * scale
    np.testing.assert_allclose(metrics.normalize(x), [[0.6, 0.8], [0.8, 0.6]], rtol=1e-6)
    np.testing.assert_allclose(metrics.cosine_similarity(x[0], x[1]), [[0.96]], rtol=1e-6)


def test_normalize_float32_overflow_keeps_dtype_and_direction():
    x = np.float32([[1e30, 1e30], [3, 4], [1e-30, 0]])
    got = metrics.normalize(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[2**-0.5, 2**-0.5], [0.6, 0.8], [1, 0]], rtol=1e-6)
    with pytest.raises(ExplorerError, match="Row 1 is a zero vector"):
        metrics.normalize(np.float32([[1e30, 0], [0, 0]]))


def test_out_of_range_finds_values_float32_maths_cannot_square():
    assert metrics.out_of_range(np.array([[1e14, -1e-20], [0.0, 0.0], [1e-14, 0.0]])) is None
    assert metrics.out_of_range(np.array([[1.0, 2.0], [3.0, -2e15]])) == (1, 1)
    assert metrics.out_of_range(np.array([[1.0, 2.0], [0.0, 1e-16]])) == (1, 1)
    assert metrics.out_of_range(np.float32([[np.inf, 0.0]])) == (0, 0)
