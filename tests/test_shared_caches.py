"""Caches shared by every session of one server never mix two users' vectors.

Two AppTest objects in one process are two browser sessions sharing ``st.cache_data`` and
``st.cache_resource``, as a classroom does. Each uploads vectors under the same file name and
labels; every page must show what that session would see alone on a fresh server."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.vectors import VectorSet, array_digest
from tests.page_helpers import frames, open_page, show_tab

LABELS = [f"item{i}" for i in range(40)]


def upload(seed: int) -> tuple[str, bytes, str]:
    """The same file name and labels every time; the vectors depend on ``seed``."""
    rng = np.random.default_rng(seed)
    data = {label: rng.normal(size=32).round(5).tolist() for label in LABELS}
    return "vecs.json", json.dumps(data).encode(), "application/json"


def search_results(at: AppTest) -> pd.DataFrame:
    at.text_input(key="search_query").input("item3").run()
    return frames(show_tab(at, "search_view", "3 · Results"), "exhaustive", "HNSW", "mark")[0]


def quantized_top_k(at: AppTest) -> pd.DataFrame:
    return frames(show_tab(at, "quant_view", "Top-k"), "float", "int8", "mark")[0]


def quantized_recall(at: AppTest) -> pd.DataFrame:
    """The recall metrics of the rescoring tab (measured over every item, cached)."""
    shown = show_tab(at, "quant_view", "Oversample and rescore").metric
    return pd.DataFrame({"metric": [m.label for m in shown], "value": [m.value for m in shown]})


def similar_items(at: AppTest) -> pd.DataFrame:
    show_tab(at, "sim_view", "Neighbours").text_input(key="sim_target").input("item3").run()
    return frames(at, "rank", "item", "similarity")[0]


def mrl_pipelines(at: AppTest) -> pd.DataFrame:
    return frames(show_tab(at, "mrl_view", "Full pipeline"), "dims", "precision")[0]


def mrl_ranking(at: AppTest) -> pd.DataFrame:
    at.slider(key="mrl_dims").set_value(8).run()
    return frames(show_tab(at, "mrl_view", "One ranking"), "8 dims", "mark")[0]


PAGES: list[tuple[str, Callable[[AppTest], pd.DataFrame]]] = [
    ("similarity", similar_items),
    ("search", search_results),
    ("quantization", quantized_top_k),
    ("quantization", quantized_recall),
    ("mrl", mrl_pipelines),
    ("mrl", mrl_ranking),
]


def session(page: str, seed: int) -> AppTest:
    at = open_page(page, {"dataset": "upload"})
    at.sidebar.file_uploader(key="upload_file").set_value(upload(seed)).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def alone(page: str, seed: int, read: Callable[[AppTest], pd.DataFrame]) -> pd.DataFrame:
    """What a session with these vectors sees on a server with empty caches."""
    st.cache_data.clear()
    st.cache_resource.clear()
    return read(session(page, seed))


@pytest.mark.parametrize(("page", "read"), PAGES, ids=lambda v: getattr(v, "__name__", v))
def test_two_sessions_with_one_file_name_see_only_their_own_results(page, read) -> None:
    expected_a, expected_b = alone(page, 1, read), alone(page, 2, read)
    # Otherwise the test could not tell the two sessions apart.
    assert not expected_a.equals(expected_b)
    st.cache_data.clear()
    st.cache_resource.clear()
    a, b = session(page, 1), session(page, 2)
    pd.testing.assert_frame_equal(read(a), expected_a)
    pd.testing.assert_frame_equal(read(b), expected_b)
    # And again in the other order, each on caches the other one filled.
    pd.testing.assert_frame_equal(read(b), expected_b)
    pd.testing.assert_frame_equal(read(a), expected_a)


@pytest.mark.parametrize(("page", "read"), PAGES, ids=lambda v: getattr(v, "__name__", v))
def test_reuploading_an_edited_file_is_not_stale(page, read) -> None:
    expected = alone(page, 4, read)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = session(page, 3)
    read(at)
    at.sidebar.file_uploader(key="upload_file").set_value(upload(4)).run()
    assert not at.exception
    pd.testing.assert_frame_equal(read(at), expected)


def test_vector_set_key_follows_content_not_names() -> None:
    from core.datasets import dataset_from_texts

    dataset = dataset_from_texts("vecs.json", LABELS[:3])
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    b = a.copy()
    b[2, 1] += 1e-6
    assert VectorSet(dataset, "m", a).key != VectorSet(dataset, "m", b).key
    assert VectorSet(dataset, "m", a).key == VectorSet(dataset, "other name", a.copy()).key
    # A digest passed in (computed once per upload) is the one the key uses.
    assert VectorSet(dataset, "m", a, digest=array_digest(a)).key == VectorSet(dataset, "m", a).key
    # Same bytes, other shape or dtype: other vectors.
    assert array_digest(a) != array_digest(a.reshape(2, 3))
    assert array_digest(a) != array_digest(a.view(np.int32))


def test_hosted_models_with_one_name_on_two_endpoints_have_different_keys(tmp_path) -> None:
    from core.datasets import dataset_from_texts
    from core.embedcache import EmbeddingCache
    from core.embedders.providers import Provider, RemoteConfig
    from core.embedders.remote import RemoteEmbedder

    def model(url: str, dims: int | None = None) -> RemoteEmbedder:
        config = RemoteConfig(Provider.OPENAI, "text-embedding-3-small", "k", url, dimensions=dims)
        return RemoteEmbedder(config, EmbeddingCache(tmp_path / "cache.sqlite"))

    dataset = dataset_from_texts("t", ["a", "b"])
    vectors = np.zeros((2, 4), np.float32)
    a, b = model("http://one.example/v1"), model("http://two.example/v1")
    assert a.name == b.name
    keys = {
        VectorSet(dataset, m.name, vectors, m).key for m in (a, b, model(a.config.base_url, 256))
    }
    assert len(keys) == 3
