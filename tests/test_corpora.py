"""Large corpora: synthetic clusters and tiled matrices, seeded, unit length, and their
input checks."""

from __future__ import annotations

import numpy as np
import pytest

from core.corpora import synthetic_corpus, tiled_corpus
from core.errors import ExplorerError


def test_synthetic_corpus_is_unit_seeded_and_clustered():
    a = synthetic_corpus(500, 24, n_queries=7, seed=3)
    b = synthetic_corpus(500, 24, n_queries=7, seed=3)
    assert a.vectors.shape == (500, 24) and a.queries.shape == (7, 24) and a.dims == 24
    assert a.vectors.dtype == np.float32 and a.queries.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, synthetic_corpus(500, 24, 7, seed=4).vectors)
    # With no spread and no noise every point is exactly one of the cluster centres.
    bare = synthetic_corpus(500, 24, clusters=6, spread=0.0, noise=0.0)
    assert len(np.unique(bare.vectors, axis=0)) == 6


def test_tiled_corpus_keeps_the_base_then_adds_noisy_copies():
    base = 3.0 * np.eye(5, 16)
    corpus = tiled_corpus(base, 200, n_queries=9, noise=0.3, seed=1)
    np.testing.assert_allclose(corpus.vectors[:5], np.eye(5, 16), atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(corpus.vectors, axis=1), 1.0, rtol=1e-5)
    cos = corpus.vectors[5:] @ np.eye(5, 16).T
    # Row i is a copy of base row i % 5: cos about 1 / sqrt(1 + 0.3^2) = 0.958 to it.
    np.testing.assert_array_equal(cos.argmax(axis=1), np.arange(5, 200) % 5)
    assert 0.93 < cos.max(axis=1).mean() < 0.98
    assert (corpus.queries @ np.eye(5, 16).T).max(axis=1).min() > 0.85


def test_corpus_errors():
    with pytest.raises(ExplorerError, match="N=50: choose between 100 and"):
        synthetic_corpus(50, 8)
    with pytest.raises(ExplorerError, match="Base row 1 is a zero vector"):
        tiled_corpus(np.array([[1.0, 0.0], [0.0, 0.0]]), 200)
    with pytest.raises(ExplorerError, match="noise=0"):
        tiled_corpus(np.eye(2), 200, noise=0)
