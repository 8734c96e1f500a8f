"""core.vectors: free text a local model embedded is embedded once per model object and
shared (a copy each time, with the first embedding's seconds); hosted models are asked
every time; the cache is bounded per model."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from core import vectors
from core.datasets import Dataset
from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.vectors import VectorSet, embed_once


class Counting(Embedder):
    """Two dimensions from the text's length and its first letter; counts the texts it read."""

    name = "counting"
    dims = 2

    def __init__(self, local: bool = True) -> None:
        self.local = local
        self.read: list[str] = []

    def _embed(self, texts: list[str]) -> np.ndarray:
        self.read.extend(texts)
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def vector_set(emb: Counting | None) -> VectorSet:
    dataset = Dataset("tiny", ("queen", "king"), ("queen", "king"), ("a", "b"))
    return VectorSet(dataset, "counting", np.eye(2, dtype=np.float32), emb)


def test_free_text_is_embedded_once_and_each_caller_gets_its_own_copy() -> None:
    emb = Counting()
    vs = vector_set(emb)
    first, seconds = vs.timed_vector_for("  a royal woman ")
    np.testing.assert_array_equal(first, [[13, ord("a")]])
    first[0, 0] = -1.0  # a caller's edit never reaches the cache
    again, again_seconds = vs.timed_vector_for("a royal woman")
    np.testing.assert_array_equal(again, [[13, ord("a")]])
    np.testing.assert_array_equal(vs.vector_for("a royal woman"), again)
    assert emb.read == ["a royal woman"]
    assert again_seconds == seconds >= 0.0


def test_a_label_is_its_stored_row_and_never_embedded() -> None:
    emb = Counting()
    vector, seconds = vector_set(emb).timed_vector_for("king")
    np.testing.assert_array_equal(vector, [[0.0, 1.0]])
    assert emb.read == [] and seconds >= 0.0


def test_two_model_objects_never_share_a_text() -> None:
    one, other = Counting(), Counting()
    embed_once(one, "dog")
    embed_once(other, "dog")
    assert one.read == other.read == ["dog"]


def test_a_hosted_model_is_asked_every_time() -> None:
    emb = Counting(local=False)
    for _ in range(3):
        vector, _ = embed_once(emb, "dog")
        np.testing.assert_array_equal(vector, [[3, ord("d")]])
    assert emb.read == ["dog"] * 3


def test_the_cache_keeps_the_most_recently_used_texts(monkeypatch) -> None:
    monkeypatch.setattr(vectors, "TEXT_CACHE_SIZE", 3)
    emb = Counting()
    for text in ("a", "b", "c"):
        embed_once(emb, text)
    embed_once(emb, "a")  # used again: "b" is now the oldest
    embed_once(emb, "d")
    assert emb.read == ["a", "b", "c", "d"]
    embed_once(emb, "a")
    embed_once(emb, "b")
    assert emb.read == ["a", "b", "c", "d", "b"]


def test_a_model_gone_takes_its_texts_with_it() -> None:
    emb = Counting()
    embed_once(emb, "dog")
    assert emb in vectors._TEXTS
    before = len(vectors._TEXTS)
    del emb
    gc.collect()
    assert len(vectors._TEXTS) == before - 1


def test_empty_text_and_free_text_without_a_model_are_refused() -> None:
    with pytest.raises(ExplorerError, match="empty"):
        vector_set(Counting()).timed_vector_for("   ")
    with pytest.raises(ExplorerError, match="'a cat' is not an item of tiny"):
        vector_set(None).timed_vector_for("a cat")
