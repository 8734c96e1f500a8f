"""Embedding an uploaded text list: quick ones at once; long ones only after the user has
seen the estimated time and pressed Embed, with Cancel; the row cap said before anything runs."""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st

from core.datasets import dataset_from_texts
from core.io import MAX_TEXT_ROWS
from core.vectors import embedding_seconds
from tests.page_helpers import open_page, plain
from views import _ui

MINILM, STATIC = "all-MiniLM-L6-v2", "static-minilm-256"


def csv_of(n: int) -> tuple[str, bytes, str]:
    rows = "\n".join(f"sentence number {i} about a dog" for i in range(n))
    return "texts.csv", f"text\n{rows}\n".encode(), "text/csv"


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    """An empty vector cache and empty in-process caches, so nothing is embedded already."""
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tmp_path
    st.cache_data.clear()
    st.cache_resource.clear()


def upload(n: int, models: list[str]):
    at = open_page("similarity", {"dataset": "upload", "models": models, "sim_view": "Neighbours"})
    at.sidebar.file_uploader(key="upload_file").set_value(csv_of(n)).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def minilm_entries(root) -> list:
    return list((root / "vectors").glob(f"*{MINILM}*.npy"))


def embed_button(at):
    return [b for b in at.button if plain(b.label).startswith("Embed ")]


def test_a_quick_upload_is_embedded_at_once(fresh_cache) -> None:
    at = upload(300, [STATIC, MINILM])
    assert not embed_button(at)
    assert {plain(m.value).strip("*") for m in at.markdown} >= {STATIC, MINILM}


def test_a_long_upload_waits_for_embed_then_runs(fresh_cache, monkeypatch) -> None:
    # Every upload beyond one batch counts as long here (the real line is 5 s).
    monkeypatch.setattr(_ui, "EMBED_AT_ONCE_SECONDS", 0.0)
    at = upload(300, [MINILM])
    (info,) = [plain(i.value) for i in at.info if "texts to embed" in plain(i.value)]
    assert f"{MINILM}: 300 texts to embed, about" in info and f"{MAX_TEXT_ROWS:,}" in info
    assert not minilm_entries(fresh_cache)  # nothing runs before the click
    (button,) = embed_button(at)
    button.click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(minilm_entries(fresh_cache)) == 1
    assert not embed_button(at)
    assert MINILM in {plain(m.value).strip("*") for m in at.markdown}


def test_cancel_says_nothing_was_kept(fresh_cache, monkeypatch) -> None:
    monkeypatch.setattr(_ui, "EMBED_AT_ONCE_SECONDS", 0.0)
    at = upload(300, [MINILM])
    next(b for b in at.button if b.label == "Cancel").click().run()
    assert not at.exception
    assert any("cancelled" in w.value for w in at.warning)
    assert embed_button(at)


def test_too_many_rows_are_refused_before_embedding(fresh_cache) -> None:
    at = upload(MAX_TEXT_ROWS + 1, [MINILM])
    errors = " ".join(plain(e.value) for e in at.error)
    assert f"{MAX_TEXT_ROWS:,}" in errors or str(MAX_TEXT_ROWS) in errors, errors
    assert not embed_button(at)


def test_embedding_seconds_scales_a_timed_sample() -> None:
    calls: list[list[str]] = []

    class Clocked:
        def embed(self, texts: list[str]) -> np.ndarray:
            calls.append(texts)
            return np.zeros((len(texts), 2), np.float32)

    texts = [f"text {i}" * (1 + i % 3) for i in range(1000)]
    dataset = dataset_from_texts("t", texts)
    seconds = embedding_seconds(dataset, Clocked(), sample=50)  # type: ignore[arg-type]
    (sample,) = calls
    assert len(sample) == 50 and sample[0] == texts[0] and sample[-1] == texts[-1]
    assert seconds >= 0.0
