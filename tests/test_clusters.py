"""core.clusters: c-TF-IDF against a hand-computed case, cluster names, and HDBSCAN finding
known groups by direction (vectors) or by place (map)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.cluster import HDBSCAN
from sklearn.metrics import adjusted_rand_score

from core import clusters as clusters_module
from core.clusters import NOISE, ClusterSpace, class_tfidf, cluster, distinctive_words
from core.errors import ExplorerError


def test_class_tfidf_by_hand() -> None:
    scores, vocab = class_tfidf(["apple apple banana", "banana cherry"])
    assert vocab.tolist() == ["apple", "banana", "cherry"]
    # A = (3 + 2) / 2 terms per class; f = apple 2, banana 2, cherry 1 over both classes.
    idf_common, idf_cherry = math.log(1 + 2.5 / 2), math.log(1 + 2.5 / 1)
    expected = [
        [2 / 3 * idf_common, 1 / 3 * idf_common, 0.0],
        [0.0, 1 / 2 * idf_common, 1 / 2 * idf_cherry],
    ]
    np.testing.assert_allclose(scores.toarray(), expected)


def test_class_tfidf_edge_cases() -> None:
    scores, vocab = class_tfidf(["the and of", "a"])  # only stop words and one letter
    assert scores.shape == (2, 0) and vocab.size == 0
    with pytest.raises(ExplorerError, match="at least one class"):
        class_tfidf([])


def test_distinctive_words_per_cluster_without_noise() -> None:
    texts = ["apple", "apple banana", "banana cherry", "cherry pie the"]
    ids = np.array([0, 0, 1, -1])
    assert distinctive_words(texts, ids, top=2) == {0: ("apple", "banana"), 1: ("cherry", "banana")}
    assert distinctive_words(texts, np.full(4, -1)) == {}
    with pytest.raises(ExplorerError, match="3 texts for 4 cluster ids"):
        distinctive_words(texts[:3], ids)


def _groups(rng: np.random.Generator, dims: int, per: int = 30) -> tuple[np.ndarray, np.ndarray]:
    centres = np.eye(max(dims, 3))[:3, :dims] * 10
    truth = np.repeat(np.arange(3), per)
    return centres[truth] + rng.normal(scale=0.3, size=(3 * per, dims)), truth


def test_hdbscan_on_the_map_finds_the_groups_and_names_them() -> None:
    rng = np.random.default_rng(0)
    points, truth = _groups(rng, 2)
    words = np.array(["river boat", "mountain snow", "desert sand"])[truth].tolist()
    found = cluster(points, words, "map", min_cluster_size=5)
    assert found.space is ClusterSpace.MAP and found.count == 3
    assert adjusted_rand_score(truth, found.ids) == 1.0
    by_group = {
        int(found.ids[truth == g][0]): set(words[int(np.flatnonzero(truth == g)[0])].split())
        for g in range(3)
    }
    for cid, expected in by_group.items():
        assert set(found.words[cid]) == expected
        assert found.name(cid).startswith(f"{cid}: ")
    assert found.seconds >= 0
    assert len(found.names()) == 90 and found.name(-1) == NOISE


def test_hdbscan_on_vectors_groups_by_direction_not_length() -> None:
    rng = np.random.default_rng(1)
    points, truth = _groups(rng, 12)
    # Lengths from 0.1 to 10: Euclidean groups would split by length, angles do not.
    scaled = points * rng.uniform(0.1, 10, size=(points.shape[0], 1))
    found = cluster(scaled, ["x"] * 90, ClusterSpace.VECTORS, min_cluster_size=5)
    assert adjusted_rand_score(truth, found.ids) == 1.0
    assert found.name(0) == "0: no words"


def test_cluster_bounds() -> None:
    points = np.random.default_rng(2).normal(size=(20, 3))
    with pytest.raises(ExplorerError, match="between 2 and the 20 points clustered, got 1"):
        cluster(points, ["x"] * 20, "map", min_cluster_size=1)
    with pytest.raises(ExplorerError, match="between 2 and the 10 points clustered, got 11"):
        cluster(points, ["x"] * 20, "map", min_cluster_size=11, max_rows=10)
    with pytest.raises(ExplorerError, match="Unknown cluster space 'tsne'"):
        cluster(points, ["x"] * 20, "tsne")
    assert set(clusters_module.MAX_ROWS) == {s.value for s in ClusterSpace}


def test_above_the_cap_a_sample_is_clustered_and_the_rest_join_the_nearest() -> None:
    rng = np.random.default_rng(3)
    points, truth = _groups(rng, 2, per=100)
    found = cluster(points, ["x"] * 300, "map", min_cluster_size=5, max_rows=60, seed=1)
    assert found.sampled == 60 and found.ids.shape == (300,)
    sample = np.sort(np.random.default_rng(1).choice(300, 60, replace=False))
    alone = cluster(points[sample], ["x"] * 60, "map", min_cluster_size=5)
    np.testing.assert_array_equal(found.ids[sample], alone.ids)
    # Every row carries the label of its nearest sampled row (brute force).
    d = ((points[:, None, :] - points[sample][None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(found.ids, alone.ids[d.argmin(axis=1)])
    assert adjusted_rand_score(truth, found.ids) == 1.0
    assert cluster(points, ["x"] * 300, "map", min_cluster_size=5).sampled is None


@pytest.mark.parametrize("brute_rows", [0, 10_000])
def test_vectors_cluster_as_sklearns_default_whichever_algorithm(monkeypatch, brute_rows) -> None:
    """The whole-matrix ("brute") path gives sklearn's default labels, and it is used only
    up to BRUTE_ROWS vectors."""
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(5, 16))
    points = centres[rng.integers(0, 5, 400)] + 0.6 * rng.normal(size=(400, 16))
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    expected = HDBSCAN(min_cluster_size=8, copy=True).fit_predict(unit)
    assert len(set(expected) - {-1}) >= 3 and (expected == -1).any()  # a real test case
    used: list[str] = []

    class Spy(HDBSCAN):
        def fit_predict(self, x, y=None, **kwargs):  # type: ignore[no-untyped-def]
            used.append(self.algorithm)
            return super().fit_predict(x, y, **kwargs)

    monkeypatch.setattr(clusters_module, "HDBSCAN", Spy)
    monkeypatch.setattr(clusters_module, "BRUTE_ROWS", brute_rows)
    found = cluster(points * 3.0, ["x"] * 400, "vectors", min_cluster_size=8)
    np.testing.assert_array_equal(found.ids, expected)
    assert used == ["brute" if brute_rows else "auto"]
    cluster(unit[:, :2], ["x"] * 400, "map", min_cluster_size=8)  # the map never goes brute
    assert used[-1] == "auto"
