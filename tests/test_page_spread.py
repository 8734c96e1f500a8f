"""AppTest of Similarity's Spread tab, range chart: one row per model on one cosine axis, its
ends at the lowest and highest similarity of the target to every other item, checked against a
brute-force cosine over the models' own vectors (issue 13 §4: similarity ranges differ)."""

from __future__ import annotations

import numpy as np

from core.datasets import load_dataset
from core.embedders.registry import LOCAL_FACTORIES, get_embedder
from core.vectors import embed_dataset
from tests.page_helpers import array, figures, open_page

MODELS = [
    m for m in ("glove-6b-50d", "static-minilm-256", "all-MiniLM-L6-v2") if m in LOCAL_FACTORIES
]


def _ranges(at) -> dict[str, tuple[np.ndarray, list[str]]]:
    fig = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("range"))
    return {t["y"][0]: (array(t["x"]), t["text"]) for t in fig["data"] if t["type"] == "scatter"}


def test_each_model_spans_its_own_range_of_dog() -> None:
    at = open_page("similarity", {"sim_view": "Spread", "sim_target": "dog", "models": MODELS})
    assert not at.exception
    ranges = _ranges(at)
    assert list(ranges) == MODELS
    dataset = load_dataset("words")
    row = dataset.index_of("dog")
    for model in MODELS:
        vectors = embed_dataset(dataset, get_embedder(model)).astype(np.float64)
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        sims = np.delete(unit @ unit[row], row)
        others = [label for i, label in enumerate(dataset.labels) if i != row]
        (low, high), (lowest, highest) = ranges[model]
        np.testing.assert_allclose([low, high], [sims.min(), sims.max()], atol=1e-5)
        assert [lowest, highest] == [others[int(sims.argmin())], others[int(sims.argmax())]]
    # The talk's lesson: MiniLM's similarities stay positive, GloVe's go below zero.
    minilm_low, minilm_high = ranges["all-MiniLM-L6-v2"][0]
    assert 0.0 < minilm_low < 0.2 and 0.7 < minilm_high < 0.9
    if "glove-6b-50d" in ranges:
        assert ranges["glove-6b-50d"][0][0] < 0


def test_the_range_chart_marks_zero_and_the_threshold_and_fits_presenter_mode() -> None:
    at = open_page(
        "similarity",
        {"sim_view": "Spread", "sim_target": "dog", "sim_threshold": "0.4", "present": "1"},
    )
    fig = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("range"))
    assert [shape["x0"] for shape in fig["layout"]["shapes"]] == [0, 0.4]
    assert fig["layout"]["font"]["size"] == 18
    # Side by side at one height that leaves a row of folded expanders on a 720-px screen.
    assert [f["layout"]["height"] for f in figures(at)] == [360, 360]
    assert fig["layout"]["xaxis"]["title"]["text"] == "range of the cosine to 'dog' per model"
    folded = {e.label: e for e in at.main.expander}
    assert list(folded) == ["What this page shows", "Items ≥ 0.40 per model", "The same in Python"]
    (counts,) = folded["Items ≥ 0.40 per model"].table
    assert counts.value.columns.tolist()[:3] == ["model", "items ≥ 0.40", "share"]
    assert "Each model has its own range" in folded["Items ≥ 0.40 per model"].markdown[0].value


def test_long_titles_are_shortened_on_the_range_chart_and_whole_on_hover() -> None:
    at = open_page("similarity", {"dataset": "movies", "sim_view": "Spread", "sim_target": "Up"})
    labels = load_dataset("movies").labels
    fig = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("range"))
    ends = [t for t in fig["data"] if t["type"] == "scatter"]
    assert ends
    for trace in ends:
        # Names sit above the ends, outside the box; one near 1 turns back to the left.
        high = array(trace["x"])[1]
        assert trace["textposition"] == ["top left", "top left" if high > 0.75 else "top right"]
        assert trace["cliponaxis"] is False
        for shown, whole in zip(trace["text"], trace["customdata"], strict=True):
            assert whole in labels and len(shown) <= 16
            assert shown == whole or (shown.endswith("…") and whole.startswith(shown[:-1]))
    assert any(s != w for t in ends for s, w in zip(t["text"], t["customdata"], strict=True))
