"""AppTest of the Embed page: each model's numbers and bars, checked against the reference
MiniLM vectors and against the models called directly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.embedders.registry import get_embedder
from tests.page_helpers import array, figures, open_page, plain, plain_table

REF = Path(__file__).resolve().parents[1].parent / "shared" / "ref"
MODELS = ["static-minilm-256", "all-MiniLM-L6-v2"]
# First values of sentence-transformers' all-MiniLM-L6-v2 vector for "queen", rounded to 5
# decimals from ../shared/ref/minilm_reference.json, so a check runs without ../shared too.
QUEEN_MINILM_FIRST = [0.03549, -0.0656, -0.00993, 0.03159, -0.01339, 0.02889]


@pytest.fixture(scope="module")
def reference() -> dict[str, list[float]]:
    path = REF / "minilm_reference.json"
    if not path.exists():
        pytest.skip("../shared/ref is absent")
    return json.loads(path.read_text())["vectors"]


def _bars(at) -> dict[str, np.ndarray]:
    return {t["name"]: array(t["y"]) for t in figures(at)[0]["data"]}


def test_default_shows_queen_in_both_models_side_by_side() -> None:
    at = open_page("embed")
    assert at.text_input(key="embed_text").value == "queen"
    dims = [m.value for m in at.metric if m.label == "dimensions"]
    norms = [m.value for m in at.metric if m.label == "norm ‖v‖"]
    assert dims == ["256", "384"]
    assert norms == ["1.0000", "1.0000"]
    bars = _bars(at)
    assert list(bars) == MODELS
    for model, values in bars.items():
        direct = get_embedder(model).embed(["queen"])[0]
        np.testing.assert_allclose(values, direct, rtol=1e-6)
    assert [plain(s.value) for s in at.subheader][:2] == MODELS


def test_minilm_first_values_match_sentence_transformers() -> None:
    at = open_page("embed")
    np.testing.assert_allclose(_bars(at)["all-MiniLM-L6-v2"][:6], QUEEN_MINILM_FIRST, atol=2e-4)
    listed = [m.value for m in at.markdown if m.value.startswith("First 8 values")]
    assert "+0.0355, -0.0656, -0.0099, +0.0316" in listed[1]


def test_minilm_bars_match_the_reference_vector(reference) -> None:
    at = open_page("embed")
    shown = _bars(at)["all-MiniLM-L6-v2"]
    ref = np.array(reference["queen"])
    assert shown @ ref / (np.linalg.norm(shown) * np.linalg.norm(ref)) >= 0.9999


def test_json_copy_holds_the_same_vector() -> None:
    at = open_page("embed")
    payloads = [json.loads(c.proto.code_text) for c in at.get("code") if c.proto.language == "json"]
    assert [list(p) for p in payloads] == [["queen"], ["queen"]]
    bars = _bars(at)
    for payload, model in zip(payloads, MODELS, strict=True):
        np.testing.assert_array_equal(np.array(payload["queen"], dtype=np.float32), bars[model])
    assert len(at.get("download_button")) == 2


def test_long_text_warns_about_truncation(reference) -> None:
    long_text = next(t for t in reference if len(t) > 1000)
    at = open_page("embed")
    at.text_input(key="embed_text").input(long_text).run()
    assert not at.exception
    assert any("only read the first 256" in w.value for w in at.warning)
    shown = _bars(at)["all-MiniLM-L6-v2"]
    ref = np.array(reference[long_text])
    assert shown @ ref / np.linalg.norm(ref) >= 0.9999


def test_empty_text_warns_and_the_model_table_still_shows() -> None:
    at = open_page("embed")
    at.text_input(key="embed_text").input("  ").run()
    assert not at.exception
    assert any("text is empty" in w.value for w in at.warning)
    assert not at.get("plotly_chart")
    table = plain_table(at)
    assert set(MODELS) <= set(table["model"])


def test_model_table_describes_each_model() -> None:
    at = open_page("embed")
    table = plain_table(at).set_index("model")
    assert table.loc["static-minilm-256", "dimensions"] == "256"
    assert table.loc["all-MiniLM-L6-v2", "max input (tokens)"] == "256"
    assert table.loc["static-minilm-256", "MRL (truncatable)"] == "yes"
    assert "MiniLM" in table.loc["static-minilm-256", "what it encodes"]


def test_one_model_from_a_deep_link() -> None:
    at = open_page("embed", {"embed_text": "king", "models": "all-MiniLM-L6-v2"})
    assert at.text_input(key="embed_text").value == "king"
    bars = _bars(at)
    assert list(bars) == ["all-MiniLM-L6-v2"]
    np.testing.assert_allclose(
        bars["all-MiniLM-L6-v2"], get_embedder("all-MiniLM-L6-v2").embed(["king"])[0], rtol=1e-6
    )
    code = at.get("code")[-1].proto.code_text
    assert "get_embedder('all-MiniLM-L6-v2').embed(['king'])" in code


def test_presenter_mode() -> None:
    at = open_page("embed", {"present": "1"})
    assert figures(at)[0]["layout"]["font"]["size"] == 18
    assert any("<style>" in m.value for m in at.markdown)
