"""Pages start with the model that gives sensible answers for the dataset (issue 15 §3)."""

from __future__ import annotations

import pytest

from core.datasets import PREFERRED_MODEL, preferred_model
from tests.page_helpers import open_page


def test_preferred_model_when_offered_else_first():
    assert preferred_model("movies", ["static-minilm-256", "all-MiniLM-L6-v2"]) == (
        "all-MiniLM-L6-v2"
    )
    assert preferred_model("movies", ["static-minilm-256"]) == "static-minilm-256"
    assert preferred_model("words", ["static-minilm-256", "all-MiniLM-L6-v2"]) == (
        "static-minilm-256"
    )
    assert set(PREFERRED_MODEL) <= {"words", "movies"}


@pytest.mark.parametrize(
    ("page", "key", "tab"),
    [("quantization", "quant_model", {}), ("mrl", "mrl_model", {"mrl_view": "One ranking"})],
)
def test_movies_pages_start_with_minilm(page: str, key: str, tab: dict[str, str]):
    at = open_page(page, {"dataset": "movies", **tab})
    assert at.selectbox(key=key).value == "all-MiniLM-L6-v2"
    # A deep link that names a model still wins.
    at = open_page(page, {"dataset": "movies", key: "static-minilm-256", **tab})
    assert at.selectbox(key=key).value == "static-minilm-256"
    # Words keep the first model of the sidebar.
    at = open_page(page, {"dataset": "words", **tab})
    assert at.selectbox(key=key).value == "static-minilm-256"
