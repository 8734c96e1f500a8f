"""Analogies by 3CosAdd, checked against brute force over GloVe's full vocabulary, and the
2-D map against scikit-learn's PCA."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.decomposition import PCA

from core import analogy as analogy_module
from core.analogy import (
    Candidates,
    analogy,
    analogy_map,
    candidate_dataset,
    frequent_words,
    glove_candidates,
    label_sides,
    unit_rows,
)
from core.embedders.base import Embedder
from core.embedders.glove import GloveEmbedder, vocabulary
from core.errors import ExplorerError
from core.vectors import is_cached, load_cached


@pytest.fixture(scope="session")
def glove() -> GloveEmbedder:
    return GloveEmbedder()


@pytest.fixture(scope="session")
def all_words():
    return glove_candidates(None)


def brute_force(a: str, b: str, c: str, k: int = 5) -> tuple[list[str], np.ndarray]:
    """Float64 3CosAdd over all 400,000 rows, ranked by a full stable argsort."""
    vocab = vocabulary()
    raw = np.asarray(vocab.vectors, dtype=np.float64)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    ia, ib, ic = (vocab.index[w] for w in (a, b, c))
    target = unit[ib] - unit[ia] + unit[ic]
    sims = unit @ target / np.linalg.norm(target)
    order = [i for i in np.argsort(-sims, kind="stable") if i not in (ia, ib, ic)][:k]
    return [vocab.words[i] for i in order], sims[order]


@pytest.mark.parametrize(
    "question",
    [("man", "king", "woman"), ("paris", "france", "rome"), ("good", "better", "bad")],
)
def test_matches_brute_force_on_the_full_vocabulary(glove, all_words, question):
    result = analogy(*question, glove.embed, all_words)
    words, scores = brute_force(*question)
    assert list(result.words) == words
    np.testing.assert_allclose(result.scores, scores, atol=2e-6)
    assert set(result.excluded) == set(question)


def test_king_minus_man_plus_woman_is_queen(glove, all_words):
    assert analogy("man", "king", "woman", glove.embed, all_words).words[0] == "queen"
    common = glove_candidates()
    assert analogy("man", "king", "woman", glove.embed, common).words[0] == "queen"


def test_the_inputs_are_normalized_first(glove, all_words):
    result = analogy("Man ", "king", "WOMAN", glove.embed, all_words)
    np.testing.assert_allclose(np.linalg.norm(result.inputs, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        result.target, result.inputs[1] - result.inputs[0] + result.inputs[2]
    )
    assert result.question == ("Man", "king", "WOMAN")
    # Case-insensitive exclusion: the answers never repeat a question word.
    assert not {"man", "king", "woman"} & set(result.words)
    assert np.all(np.diff(result.scores) <= 0) and result.vectors.shape == (5, 50)


def test_toy_space_by_hand():
    """Five 2-D words: b − a + c is about (0, 1), which is b itself; b is in the question, so
    "up" (cosine 1 / hypot(0.1, 1)) wins and "down" (cosine −1) comes last."""
    words = ("a", "b", "c", "up", "down")
    vecs = np.array([[1, 0], [0, 1], [1, 0.0001], [0.1, 1], [0, -1]], dtype=np.float32)
    cands = Candidates(words, unit_rows(vecs))
    table = dict(zip(words, vecs, strict=True))
    result = analogy("a", "b", "c", lambda ws: np.stack([table[w] for w in ws]), cands, k=2)
    assert result.words == ("up", "down")
    assert result.scores[0] == pytest.approx(1 / np.hypot(0.1, 1), abs=1e-4)
    assert result.scores[1] == pytest.approx(-1.0, abs=1e-4)
    with pytest.raises(ExplorerError, match="k=3 is larger than the 2 candidate words"):
        analogy("a", "b", "c", lambda ws: np.stack([table[w] for w in ws]), cands, k=3)


def test_bad_questions_are_refused(glove, all_words):
    with pytest.raises(ExplorerError, match="Word b of the analogy is empty"):
        analogy("man", " ", "woman", glove.embed, all_words)
    with pytest.raises(ExplorerError, match="none of the words of 'zqxvb'"):
        analogy("man", "zqxvb", "woman", glove.embed, all_words)
    with pytest.raises(ExplorerError, match=r"shape \(3, 4\).*50 dimensions"):
        analogy("a", "b", "c", lambda ws: np.ones((3, 4)), all_words)
    with pytest.raises(ExplorerError, match="Row 1 is all zeros"):
        analogy("a", "b", "c", lambda ws: np.array([[1.0] * 50, [0.0] * 50, [1.0] * 50]), all_words)
    with pytest.raises(ExplorerError, match="3 candidate words for vectors of shape"):
        Candidates(("a", "b", "c"), np.ones((2, 2)))


def test_frequent_words_are_plain_and_in_frequency_order():
    words = frequent_words(20_000)
    assert len(words) == len(set(words)) == 20_000
    assert words[:3] == ("the", "of", "to")
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)
    index = vocabulary().index
    assert all(index[x] < index[y] for x, y in zip(words, words[1:], strict=False))
    assert {"king", "queen", "man", "woman"} <= set(words)
    with pytest.raises(ExplorerError, match="not 0"):
        frequent_words(0)


def test_glove_candidates_are_vocabulary_rows():
    cands = glove_candidates(1000)
    vocab = vocabulary()
    row = vocab.index[cands.words[500]]
    np.testing.assert_array_equal(cands.unit[500], vocab.unit[row])
    assert len(glove_candidates(None).words) == 400_000


def test_candidate_dataset_is_keyed_by_its_words():
    small, large = candidate_dataset(100), candidate_dataset(200)
    assert small.texts == frequent_words(100) and small.name == "glove-common-100"
    assert small.fingerprint != large.fingerprint
    assert candidate_dataset(100).fingerprint == small.fingerprint


def test_map_matches_sklearn_pca_up_to_sign(glove):
    result = analogy("man", "king", "woman", glove.embed, glove_candidates())
    drawn = analogy_map(result)
    points = np.vstack([result.inputs, result.target, result.vectors]).astype(np.float64)
    pca = PCA(n_components=2, svd_solver="full").fit(points)
    reference = pca.transform(points)
    for axis in range(2):
        sign = np.sign(reference[:, axis] @ drawn.coords[:, axis])
        np.testing.assert_allclose(drawn.coords[:, axis], sign * reference[:, axis], atol=1e-6)
    np.testing.assert_allclose(drawn.variance, pca.explained_variance_ratio_, atol=1e-9)
    assert drawn.labels[:4] == ("man", "king", "woman", "king − man + woman")
    assert drawn.labels[4:] == result.words
    # Oriented: a → b points right, c sits above a; the two arrows are equal on the map.
    a, b, c, target = drawn.coords[:4]
    assert b[0] >= a[0] and c[1] >= a[1]
    np.testing.assert_allclose(b - a, target - c, atol=1e-6)  # float32 sums


@settings(max_examples=30)
@given(st.integers(0, 2**32 - 1))
def test_map_arrows_stay_parallel_for_any_vectors(seed):
    rng = np.random.default_rng(seed)
    words = tuple(f"w{i}" for i in range(40))
    cands = Candidates(words, unit_rows(rng.normal(size=(40, 6)) + 1e-3))
    table = dict(zip(words, rng.normal(size=(40, 6)), strict=True))
    result = analogy("w1", "w2", "w3", lambda ws: np.stack([table[w] for w in ws]), cands, k=4)
    drawn = analogy_map(result)
    a, b, c, target = drawn.coords[:4]
    np.testing.assert_allclose(b - a, target - c, atol=1e-6)  # float32 sums
    assert drawn.coords.shape == (8, 2) and 0 <= sum(drawn.variance) <= 1 + 1e-9


class Hashing(Embedder):
    """A tiny deterministic model for the set-up entry point."""

    name = "hashing-test"
    dims = 8

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.stack(
            [np.random.default_rng(sum(map(ord, t))).normal(size=8) for t in texts]
        ).astype(np.float32)


def test_main_embeds_the_candidates_once(tmp_path, monkeypatch, caplog):
    from core.embedders import registry

    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(registry, "LOCAL_FACTORIES", {"hashing-test": Hashing})
    monkeypatch.setattr(registry, "_loaded", {})
    dataset = candidate_dataset(300)
    with caplog.at_level(logging.INFO, logger="core.analogy"):
        analogy_module.main(["--words", "300"])
        assert is_cached(dataset, Hashing())
        analogy_module.main(["--words", "300", "--models", "hashing-test"])
    assert "300 of 300 words" in caplog.text and "already cached" in caplog.text
    cached = load_cached(dataset, Hashing())
    assert cached is not None
    np.testing.assert_array_equal(cached, Hashing().embed(list(dataset.texts)))


# ---------------------------------------------------------------- label sides on the drawing


def test_label_sides_by_hand() -> None:
    # (0,0) is 1 from both others and leans away from the first of them, (1,0): left.
    assert label_sides(np.array([[0, 0], [1, 0], [0, 1]])) == ["top left", "top right", "top right"]
    assert label_sides(np.array([[0.0, 0.0], [2.0, -1.0]])) == ["top left", "bottom right"]
    assert label_sides(np.array([[3.0, 4.0]])) == ["top center"]
    assert label_sides(np.zeros((0, 2))) == []


def test_label_sides_rejects_other_shapes() -> None:
    with pytest.raises(ExplorerError, match=r"\(n, 2\).*\(3, 3\)"):
        label_sides(np.zeros((3, 3)))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(2, 12), st.just(2)),
        elements=st.floats(-5, 5, allow_nan=False),
        unique=True,
    )
)
def test_mutual_nearest_points_are_named_on_opposite_sides(xy: np.ndarray) -> None:
    sides = label_sides(xy)
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    for i in range(len(xy)):
        j = int(gaps[i].argmin())
        dx, dy = xy[i] - xy[j]
        if int(gaps[j].argmin()) == i and dx != 0 and dy != 0:
            (vi, hi), (vj, hj) = sides[i].split(), sides[j].split()
            assert {vi, vj} == {"top", "bottom"} and {hi, hj} == {"left", "right"}
        # Every name leans away from its own nearest point.
        assert sides[i].startswith("top" if dy >= 0 else "bottom")
        assert sides[i].endswith("right" if dx >= 0 else "left")
