"""core.models_table: model rows from attributes, one text's measurements, JSON export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.models_table import embed_text, model_row, model_table, vectors_json


class _Toy(Embedder):
    """A tiny model: each text becomes [len(text), 3, 4]; not unit length."""

    name = "toy-3"
    dims = 3
    normalized = False
    supports_mrl = True
    max_tokens = 2
    description = "Counts characters."
    local = False

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.array([[len(t), 3.0, 4.0] for t in texts])


def _load(name: str) -> Embedder:
    if name == "toy-3":
        return _Toy()
    raise ExplorerError(f"Unknown model {name!r}.")


def test_model_table_reads_attributes_and_keeps_failures_as_rows() -> None:
    rows = model_table(["toy-3", "missing"], _load)
    toy, missing = rows
    assert toy == model_row(_Toy())
    assert (toy.dims, toy.max_tokens, toy.supports_mrl, toy.normalized, toy.local) == (
        3,
        2,
        True,
        False,
        False,
    )
    assert toy.description == "Counts characters." and toy.available
    assert not missing.available and "Unknown model 'missing'" in (missing.error or "")
    assert missing.dims is None


def test_embed_text_measures_the_vector() -> None:
    out = embed_text(_Toy(), "one two three")
    np.testing.assert_array_equal(out.vector, [13, 3, 4])
    assert out.vector.dtype == np.float32 and out.dims == 3
    assert out.norm == pytest.approx(math.sqrt(169 + 9 + 16))
    assert out.tokens == 3 and out.max_tokens == 2 and out.truncated
    assert not embed_text(_Toy(), "one").truncated
    with pytest.raises(ExplorerError, match="empty"):
        embed_text(_Toy(), "   ")


def test_vectors_json_round_trips_float32_exactly() -> None:
    vectors = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    text = vectors_json(["a", "b", "c"], vectors)
    back = json.loads(text)
    assert list(back) == ["a", "b", "c"]
    np.testing.assert_array_equal(np.array(list(back.values()), dtype=np.float32), vectors)
    assert json.loads(embed_text(_Toy(), "hi").to_json()) == {"hi": [2.0, 3.0, 4.0]}


def test_vectors_json_errors() -> None:
    with pytest.raises(ExplorerError, match="1 labels for 2 vectors"):
        vectors_json(["a"], np.ones((2, 3)))
    with pytest.raises(ExplorerError, match="repeat"):
        vectors_json(["a", "a"], np.ones((2, 3)))
