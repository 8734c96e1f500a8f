from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors

from core import project as project_module
from core.errors import ExplorerError
from core.project import Projection, available_projections, project, project_bounded


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    """40 unit vectors in 24-D, in four loose clusters."""
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(4, 24))
    return unit_rows(np.repeat(centers, 10, axis=0) + 0.4 * rng.normal(size=(40, 24)))


def test_pca_matches_svd_and_sklearn_up_to_sign():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 10)) * np.arange(10, 0, -1)
    result = project(x, "pca", n_components=3)
    assert result.method is Projection.PCA
    assert result.coords.shape == (50, 3) and result.coords.dtype == np.float64

    centered = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centered, full_matrices=False)
    by_svd = u[:, :3] * s[:3]
    by_sklearn = PCA(n_components=3).fit_transform(x)
    for expected in (by_svd, by_sklearn):
        signs = np.sign((result.coords * expected).sum(axis=0))
        np.testing.assert_allclose(result.coords * signs, expected, atol=1e-9)
    np.testing.assert_allclose(result.explained_variance, s[:3] ** 2 / (s**2).sum())
    assert result.perplexity is None


@pytest.mark.parametrize("method", [Projection.PCA, Projection.TSNE])
def test_deterministic_given_seed(blobs, method):
    first = project(blobs, method, seed=3)
    again = project(blobs, method.value, seed=3)
    np.testing.assert_array_equal(first.coords, again.coords)
    assert first.trustworthiness == again.trustworthiness


def test_tsne_keeps_clusters_together(blobs):
    result = project(blobs, "tsne")
    assert result.coords.shape == (40, 2)
    assert result.perplexity == pytest.approx(13.0)  # (40 - 1) / 3
    assert result.trustworthiness > 0.9


def test_trustworthiness_higher_for_pca_of_low_rank_data():
    rng = np.random.default_rng(1)
    # Unit vectors that all lie in one plane of 30-D space: PCA to 2-D loses nothing.
    plane = unit_rows(rng.normal(size=(80, 2)) @ rng.normal(size=(2, 30)))
    spread = unit_rows(rng.normal(size=(80, 30)))
    low_rank = project(plane, "pca")
    full_rank = project(spread, "pca")
    assert low_rank.n_neighbors == full_rank.n_neighbors == 5
    assert sum(low_rank.explained_variance) == pytest.approx(1.0)
    assert 0.0 <= full_rank.trustworthiness < 0.85 < 0.99 < low_rank.trustworthiness <= 1.0


def test_trustworthiness_samples_large_inputs(monkeypatch, blobs):
    monkeypatch.setattr(project_module, "TRUST_SAMPLE", 30)
    result = project(blobs, "pca", seed=5)
    keep = np.random.default_rng(5).choice(40, 30, replace=False)
    expected = trustworthiness(blobs[keep], result.coords[keep], n_neighbors=5, metric="cosine")
    assert result.trustworthiness == pytest.approx(expected)


@pytest.mark.parametrize(
    ("n", "requested", "used"),
    [(62, None, 61 / 3), (200, None, 30.0), (3, None, 1.0), (5, 50.0, 4.0), (5, 2.5, 2.5)],
)
def test_perplexity_default_and_clamp(n, requested, used):
    x = np.random.default_rng(n).normal(size=(n, 8))
    assert project_module._perplexity(requested, n) == pytest.approx(used)
    if n <= 5:
        result = project(x, "tsne", perplexity=requested)
        assert result.perplexity == pytest.approx(used)
        assert np.isfinite(result.coords).all()


def test_three_points_work_in_2d_and_3d():
    x = np.eye(3) + 0.1
    for method in (Projection.PCA, Projection.TSNE):
        for c in (2, 3):
            result = project(x, method, n_components=c)
            assert result.coords.shape == (3, c) and result.n_neighbors == 1


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((2, 5), {}, "at least 3 vectors to show how they relate; got 2"),
        ((1, 5), {}, "got 1"),
        ((6, 5), {"n_components": 4}, "n_components must be 2 or 3"),
        ((6, 2), {"n_components": 3}, "2 dimensions; a 3-D projection needs at least 3"),
        ((6, 5), {"method": "tsne", "perplexity": 0}, "Perplexity 0 must be greater than 0"),
        ((6, 5), {"method": "mds"}, "Unknown projection 'mds'; choose one of: pca, tsne, umap"),
    ],
)
def test_bad_input(shape, kwargs, message):
    x = np.random.default_rng(0).normal(size=shape)
    args = {"method": "pca", **kwargs}
    with pytest.raises(ExplorerError, match=message):
        project(x, **args)


def test_umap_missing_is_reported(monkeypatch, blobs):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "umap" else real(name, *a)
    )
    assert available_projections() == [Projection.PCA, Projection.TSNE]
    with pytest.raises(ExplorerError, match="UMAP needs the umap-learn package"):
        project(blobs, "umap")


@pytest.mark.slow
def test_umap_when_installed(blobs):
    pytest.importorskip("umap")
    assert Projection.UMAP in available_projections()
    first = project(blobs, "umap", seed=2)
    assert first.coords.shape == (40, 2) and first.explained_variance is None
    assert first.trustworthiness > 0.85
    np.testing.assert_array_equal(first.coords, project(blobs, "umap", seed=2).coords)
    assert project(blobs[:4], "umap", n_components=3).coords.shape == (4, 3)


@pytest.mark.slow
@pytest.mark.parametrize("exact_rows", [0, 10_000])
def test_umap_with_exact_or_descended_neighbours(monkeypatch, blobs, exact_rows):
    """Up to EXACT_KNN_ROWS UMAP gets exact_knn's neighbours, above it searches its own
    (pynndescent, or its dense path for so few rows); both keep the clusters."""
    pytest.importorskip("umap")
    calls: list[int] = []
    real = project_module.exact_knn
    monkeypatch.setattr(project_module, "exact_knn", lambda x, k: calls.append(k) or real(x, k))
    monkeypatch.setattr(project_module, "EXACT_KNN_ROWS", exact_rows)
    result = project(blobs, "umap", seed=1)
    assert calls == ([15] if exact_rows else [])
    assert result.trustworthiness > 0.85


def test_exact_knn_matches_sklearn_brute_force(monkeypatch):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 12)) * rng.uniform(0.1, 10, size=(300, 1))
    indices, distances = project_module.exact_knn(x, 7)
    assert indices.shape == distances.shape == (300, 7)
    assert indices.dtype == np.int64 and distances.dtype == np.float32
    want_d, want_i = (
        NearestNeighbors(n_neighbors=7, metric="cosine", algorithm="brute").fit(x).kneighbors(x)
    )
    np.testing.assert_array_equal(indices, want_i)
    np.testing.assert_allclose(distances, want_d, atol=1e-6)
    np.testing.assert_array_equal(indices[:, 0], np.arange(300))
    # Blocks of one row give the same answer; k = n lists every row.
    monkeypatch.setattr(project_module, "KNN_BLOCK_BYTES", 1)
    blocked_i, blocked_d = project_module.exact_knn(x, 7)
    np.testing.assert_array_equal(blocked_i, indices)
    np.testing.assert_allclose(blocked_d, distances, atol=1e-6)  # BLAS rounding
    every = project_module.exact_knn(x[:5], 5)[0]
    np.testing.assert_array_equal(every[:, 0], np.arange(5))
    assert all(sorted(row.tolist()) == [0, 1, 2, 3, 4] for row in every)


def test_exact_knn_zero_rows_and_bad_k():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    indices, distances = project_module.exact_knn(x, 3)
    assert indices[0, 0] == 0 and distances[0].tolist() == [0.0, 1.0, 1.0]
    np.testing.assert_allclose(distances[3], [0.0, 1 - np.sqrt(0.5), 1 - np.sqrt(0.5)], atol=1e-6)
    for k in (0, 5):
        with pytest.raises(ExplorerError, match=f"k = {k} neighbours for 4 rows"):
            project_module.exact_knn(x, k)


@pytest.mark.parametrize("method", [Projection.PCA, Projection.TSNE])
@pytest.mark.parametrize("same", [np.ones((6, 4)), np.zeros((5, 3))])
def test_identical_vectors_give_one_point_and_a_note(method, same):
    # sklearn's t-SNE crashes the whole process on these; PCA reports nan variance.
    result = project(same, method)
    np.testing.assert_array_equal(result.coords, np.zeros((len(same), 2)))
    assert result.trustworthiness == 1.0
    assert "identical" in result.note
    if method is Projection.PCA:
        assert result.explained_variance == (0.0, 0.0)


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e30])
def test_huge_and_tiny_values_project_like_ordinary_ones(blobs, scale):
    plain = project(blobs, "pca")
    scaled = project(blobs * scale, "pca")
    np.testing.assert_allclose(scaled.explained_variance, plain.explained_variance, rtol=1e-6)
    np.testing.assert_allclose(np.abs(scaled.coords), np.abs(plain.coords) * scale, rtol=1e-6)
    assert scaled.trustworthiness == pytest.approx(plain.trustworthiness)
    assert scaled.note == ""
    tsne = project((blobs * scale).astype(np.float32) if scale == 1e30 else blobs * scale, "tsne")
    assert np.all(np.isfinite(tsne.coords)) and tsne.trustworthiness > 0.9


def test_bounded_projection_samples_above_the_cap(blobs):
    heard: list[tuple[str, float]] = []
    result = project_bounded(
        blobs, "tsne", max_rows=25, seed=4, progress=lambda t, s: heard.append((t, s))
    )
    expected_rows = np.sort(np.random.default_rng(4).choice(40, 25, replace=False))
    np.testing.assert_array_equal(result.rows, expected_rows)
    np.testing.assert_array_equal(
        result.coords, project(blobs[expected_rows], "tsne", seed=4).coords
    )
    assert heard[0] == ("t-SNE of 25 vectors…", 0.05) and heard[-1][1] == 1.0
    # PCA has no cap: every row, rows None.
    whole = project_bounded(blobs, "pca")
    assert whole.rows is None and whole.coords.shape == (40, 2)
    assert project_module.MAX_ROWS["pca"] is None
    assert project_module.MAX_ROWS["tsne"] <= project_module.MAX_ROWS["umap"]
    with pytest.raises(ExplorerError, match="max_rows must be at least 3, got 2"):
        project_bounded(blobs, "tsne", max_rows=2)


@pytest.mark.slow
def test_umap_functions_use_numba_cache_and_warm_up_runs():
    pytest.importorskip("umap")
    assert project_module.warm_up() > 0
    import umap.layouts  # imported by the warm-up

    assert project_module._cache_umap_functions() > 0
    # The layout optimiser (the slowest to compile) is kept on disk.
    epoch = umap.layouts._nb_optimize_layout_euclidean_single_epoch
    assert type(epoch._cache).__name__ != "NullCache"
    assert epoch.stats.cache_hits or epoch.stats.cache_misses


def test_umap_functions_without_a_writable_cache_stay_uncached(monkeypatch):
    import types

    import numba
    from numba.core.dispatcher import Dispatcher

    module = types.ModuleType("umap.fake_for_test")

    def double(x):
        return 2 * x

    double.__module__ = module.__name__
    module.double = numba.njit(double)
    monkeypatch.setitem(sys.modules, module.__name__, module)

    def refuse(self):
        raise RuntimeError("no locator available")

    monkeypatch.setattr(Dispatcher, "enable_caching", refuse)
    project_module._cache_umap_functions()
    assert type(module.double._cache).__name__ == "NullCache"
    assert module.double(2) == 4
