"""Fixtures shared across test modules, and the hypothesis settings every test starts from.

The ``words`` dataset's vectors are the reference the page tests check against: embedded
once per session (both local models), read-only so that no test can change them for the
next one.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

from core.datasets import load_dataset
from core.embedders.registry import get_embedder
from core.vectors import embed_dataset

# A cold, loaded machine (first import, model load, two cores shared) can make one example
# take far longer than hypothesis's default 200 ms deadline: time is not what these tests
# check. HYPOTHESIS_PROFILE=default restores the deadline.
settings.register_profile("explorer", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "explorer"))

WORD_MODELS = ("all-MiniLM-L6-v2", "static-minilm-256")


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@pytest.fixture(scope="session")
def words() -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """The ``words`` dataset: its labels, and model name -> its vectors as the pages embed
    them, float32 ``(len(labels), dims)``, for both local models (``WORD_MODELS``)."""
    dataset = load_dataset("words")
    return dataset.labels, {
        m: _read_only(np.array(embed_dataset(dataset, get_embedder(m)))) for m in WORD_MODELS
    }


@pytest.fixture(scope="session")
def words_float64(words) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """``words`` with every model's vectors as float64 (not normalised)."""
    labels, vectors = words
    return labels, {m: _read_only(v.astype(np.float64)) for m, v in vectors.items()}


@pytest.fixture(scope="session")
def words_static_unit(words_float64) -> tuple[tuple[str, ...], np.ndarray]:
    """The ``words`` labels and static-minilm-256's vectors, float64 scaled to unit length,
    ``(len(labels), 256)``."""
    labels, vectors = words_float64
    static = vectors["static-minilm-256"]
    return labels, _read_only(static / np.linalg.norm(static, axis=1, keepdims=True))
