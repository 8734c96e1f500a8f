"""AppTest of the Similarity page: pair cosine against the reference vectors, neighbours and
threshold counts against a numpy brute force, the histogram (the Map tab: test_page_map.py)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from core.embedders.registry import get_embedder
from core.serve import create_app, load_local_models, serve_in_thread
from tests.page_helpers import array, figures, frames, open_page, plain, texts

REF = Path(__file__).resolve().parents[1].parent / "shared" / "ref"
MODELS = ["static-minilm-256", "all-MiniLM-L6-v2"]
# cos(king, queen) from sentence-transformers' reference vectors (../shared/ref), rounded.
KING_QUEEN_MINILM = 0.6807


def _cosines(vectors: np.ndarray, row: int) -> np.ndarray:
    v = vectors.astype(np.float64)
    return v @ v[row] / (np.linalg.norm(v, axis=1) * np.linalg.norm(v[row]))


def _ranked(at) -> dict[str, dict[str, object]]:
    """model -> {"most": frame, "least": frame}: a row per model, most then least."""
    tables = frames(at, "rank", "item", "similarity")
    return {
        m: {"most": tables[2 * i], "least": tables[2 * i + 1]}
        for i, m in enumerate(MODELS[: len(tables) // 2])
    }


def _run_snippet(at, **names: object) -> list[object]:
    """Run the page's code expander as shown, with ``names`` defined; each printed line."""
    (code,) = (c.value for c in at.get("code"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<expander>", "exec"), dict(names))  # noqa: S102
    return [eval(line, {"np": np}) for line in out.getvalue().splitlines()]  # noqa: S307


def test_pair_cosine_matches_the_reference_vectors() -> None:
    at = open_page("similarity")
    pair = frames(at, "a · b")[0].set_index("model")
    assert pair.loc["all-MiniLM-L6-v2", "cosine"] == pytest.approx(KING_QUEEN_MINILM, abs=2e-4)
    ref_file = REF / "minilm_reference.json"
    if ref_file.exists():
        ref = json.loads(ref_file.read_text())["vectors"]
        k, q = np.array(ref["king"]), np.array(ref["queen"])
        expected = k @ q / (np.linalg.norm(k) * np.linalg.norm(q))
        assert pair.loc["all-MiniLM-L6-v2", "cosine"] == pytest.approx(expected, abs=1e-4)
    for model in MODELS:
        row = pair.loc[model]
        assert row["cosine"] == pytest.approx(row["a · b"] / (row["‖a‖"] * row["‖b‖"]))


def test_most_and_least_similar_match_a_brute_force_sort(words) -> None:
    labels, vectors = words
    at = open_page("similarity", {"sim_view": "Neighbours"})
    row = labels.index("queen")
    for model in MODELS:
        sims = _cosines(vectors[model], row)
        order = [i for i in np.argsort(-sims, kind="stable") if i != row]
        most, least = _ranked(at)[model]["most"], _ranked(at)[model]["least"]
        assert most["item"].tolist() == [labels[i] for i in order[:10]]
        assert least["item"].tolist() == [labels[i] for i in order[::-1][:10]]
        np.testing.assert_allclose(most["similarity"], sims[order[:10]], atol=1e-5)
        assert most["rank"].tolist() == list(range(1, 11))


def test_histogram_and_threshold_counts_match_a_brute_force_count(words) -> None:
    labels, vectors = words
    at = open_page("similarity", {"sim_view": "Spread"})
    at.slider(key="sim_threshold").set_value(0.3).run()
    assert not at.exception
    row = labels.index("queen")
    fig = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("cosine"))
    # One histogram per model, then the dashed threshold named in the legend.
    assert [t["name"] for t in fig["data"]] == [*MODELS, "t = 0.30"]
    table = frames(at, "share")[0].set_index("model")
    for trace, model in zip(fig["data"], MODELS, strict=False):
        sims = np.delete(_cosines(vectors[model], row), row)
        assert array(trace["y"]).sum() == len(labels) - 1
        assert table.loc[model, "items ≥ 0.30"] == int((sims >= 0.3).sum())
        assert table.loc[model, "highest"] == pytest.approx(sims.max(), abs=1e-5)
    assert fig["layout"]["shapes"][0]["x0"] == 0.3
    assert "Each model has its own range" in texts(at)


def test_free_text_target_and_empty_target(words) -> None:
    labels, vectors = words
    at = open_page("similarity", {"sim_view": "Neighbours"})
    at.text_input(key="sim_target").input("a small furry pet").run()
    assert not at.exception
    assert "not an item of words" in texts(at)
    query = get_embedder("all-MiniLM-L6-v2").embed(["a small furry pet"])[0].astype(np.float64)
    v = vectors["all-MiniLM-L6-v2"].astype(np.float64)
    sims = v @ query / np.linalg.norm(v, axis=1)
    most = _ranked(at)["all-MiniLM-L6-v2"]["most"]
    assert most["item"].tolist() == [labels[i] for i in np.argsort(-sims, kind="stable")[:10]]


def test_empty_pair_text_warns() -> None:
    at = open_page("similarity")
    at.text_input(key="sim_b").input(" ").run()
    assert not at.exception
    assert any("Type two texts" in w.value for w in at.warning)
    assert not frames(at, "a · b")


def test_only_the_open_tab_runs_and_the_tab_is_in_the_link() -> None:
    at = open_page("similarity")
    assert [t.label for t in at.tabs] == ["Two texts", "Neighbours", "Spread", "Map", "Analogies"]
    assert frames(at, "a · b") and not figures(at) and not frames(at, "rank")
    at.session_state["sim_view"] = "Spread"
    at.run()
    assert at.query_params["sim_view"] == "Spread"
    assert len(figures(at)) == 2 and not frames(at, "a · b")  # ranges and histogram
    bad = open_page("similarity", {"sim_view": "Nowhere"})
    assert any("sim_view" in w.value for w in bad.warning)
    assert frames(bad, "a · b")


def test_deep_link_restores_target_k_threshold_and_projection() -> None:
    link = {"sim_target": "cat", "sim_k": "3", "sim_threshold": "0.4"}
    at = open_page("similarity", {**link, "sim_view": "Neighbours"})
    assert at.text_input(key="sim_target").value == "cat"
    assert len(_ranked(at)["static-minilm-256"]["most"]) == 3
    assert at.query_params["sim_k"] == "3"
    at = open_page("similarity", {**link, "sim_view": "Spread"})
    assert at.slider(key="sim_threshold").value == 0.4


def test_movies_dataset_and_presenter_mode() -> None:
    at = open_page(
        "similarity",
        {"dataset": "movies", "present": "1", "sim_target": "Moana", "sim_view": "Neighbours"},
    )
    most = frames(at, "rank", "item", "similarity")[MODELS.index("all-MiniLM-L6-v2")]
    assert len(most) == 10 and "Moana" not in most["item"].tolist()
    at.session_state["sim_view"] = "Spread"
    at.run()
    assert figures(at)[0]["layout"]["font"]["size"] == 18


def test_two_texts_code_prints_the_tables_cosine_twice() -> None:
    at = open_page("similarity", {"sim_a": "cat", "sim_b": "kitten"})
    pair = frames(at, "a · b")[0].set_index("model")
    code = next(c.value for c in at.get("code"))
    assert "def cosine_similarity(v1, v2):" in code and "cosine_similarity(v1, v2)" in code
    assert code.index("def cosine_similarity") < code.index("np.linalg.norm")  # talk first
    plain, numpy = _run_snippet(at)
    assert plain == pytest.approx(pair.loc[MODELS[0], "cosine"], abs=1e-5)
    assert numpy == pytest.approx(plain, abs=1e-6)  # the list loop sums float32 values


def test_neighbours_code_reproduces_the_first_models_table(words) -> None:
    labels, vectors = words
    at = open_page("similarity", {"sim_view": "Neighbours", "sim_target": "dog", "sim_k": "4"})
    code = next(c.value for c in at.get("code"))
    assert "def most_similar(target_vector, labelled_vectors, k=10):" in code
    assert code.index("def most_similar") < code.index("np.argsort")  # talk first
    plain, numpy = _run_snippet(at, labels=list(labels), vectors=vectors[MODELS[0]])
    most = _ranked(at)[MODELS[0]]["most"]
    for printed in (plain, numpy):
        assert [label for label, _ in printed] == most["item"].tolist()
        np.testing.assert_allclose([s for _, s in printed], most["similarity"], atol=1e-5)


def test_presenter_neighbours_show_the_most_similar_and_fold_the_rest(words) -> None:
    labels, vectors = words
    at = open_page("similarity", {"sim_view": "Neighbours", "present": "1"})
    folded = {e.label: e for e in at.main.expander}
    assert list(folded) == ["What this page shows", "Least similar", "The same in Python"]
    # On screen: each model's most similar, in short rows under a column headed by the model.
    assert len(at.dataframe) == len(MODELS)
    for model, table in zip(MODELS, at.dataframe, strict=True):
        assert table.proto.row_height == 32
        columns = json.loads(table.proto.columns)
        # Headed by the model (whole in the tooltip too), as wide as half the screen leaves
        # after a narrow rank and score: 535 - 36 - 68 - 2 px.
        assert (columns["item"]["label"], columns["item"]["width"]) == (model, 429)
        assert plain(columns["item"]["help"]).startswith(f"{model}: the most similar")
        assert (columns["rank"]["width"], columns["similarity"]["width"]) == (36, 68)
        assert columns["similarity"]["label"] == "cosine"
        assert len(table.value) == 10
    # Folded: the least similar, as static tables (a data grid waits to be unfolded), their
    # markdown headers escaped.
    row = labels.index("queen")
    for model, table in zip(MODELS, folded["Least similar"].table, strict=True):
        sims = _cosines(vectors[model], row)
        least = [i for i in np.argsort(sims, kind="stable") if i != row][:10]
        assert [plain(c) for c in table.value.columns] == ["#", model, "similarity"]
        assert table.value.iloc[:, 1].tolist() == [labels[i] for i in least]
    assert not at.main.get("download_button")


def test_presenter_neighbours_of_four_models_name_each_in_full() -> None:
    """Four tables side by side: each item column, 152 px (258 - 36 - 68 - 2), holds its
    model's whole name (up to 17 letters); the folded least similar go two to a row."""
    models = ["all-MiniLM-L6-v2", "all-mpnet-base-v2", "static-minilm-256", "glove-6b-50d"]
    at = open_page(
        "similarity",
        {"sim_view": "Neighbours", "present": "1", "models": models, "sim_target": "queen"},
    )
    items = [json.loads(t.proto.columns)["item"] for t in at.dataframe]
    assert [(i["label"], i["width"]) for i in items] == [(m, 152) for m in models]
    (least,) = (e for e in at.main.expander if e.label == "Least similar")
    rows = [b for b in least.children.values() if b.type == "flex_container"]
    assert [len(r.children) for r in rows] == [2, 2]
    assert [plain(t.value.columns[1]) for t in least.table] == models


@pytest.mark.slow
def test_presenter_neighbours_cut_a_name_too_long_for_its_column(tmp_path, monkeypatch) -> None:
    """Four tables side by side, one of a hosted model whose name (28 letters) is longer than
    the 17 its 152-px column holds: that name is cut with an ellipsis and given whole in the
    header's tooltip; the local models' names stay whole."""
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    local = ["static-minilm-256", "glove-6b-50d", "all-MiniLM-L6-v2"]
    served = "static-minilm-256"
    with serve_in_thread(create_app(load_local_models([served]))) as url:
        at = open_page(
            "similarity",
            {"sim_view": "Neighbours", "present": "1", "models": local, "sim_target": "queen"},
        )
        at.selectbox(key="rf_provider").select("compatible")
        at.text_input(key="rf_model").input(served)
        at.text_input(key="rf_base_url").input(f"{url}/v1")
        at.text_input(key="rf_key").input("sk-any")
        next(b for b in at.button if b.label == "Add model").click().run()
        hosted = f"compatible:{served}"
        next(b for b in at.button if plain(b.label) == f"Embed with {hosted}").click().run()
    assert not at.exception, [e.message for e in at.exception]
    items = [json.loads(t.proto.columns)["item"] for t in at.dataframe]
    assert [i["width"] for i in items] == [152] * 4
    assert [i["label"] for i in items] == [*local, "compatible:stati…"]
    models = [*local, hosted]
    assert [plain(i["help"]).split(": the most")[0] for i in items] == models
