"""AppTest of the MRL page: truncated rankings, recall curves per model and the full pipeline
against numpy brute force, deep links, presenter mode and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.page_helpers import (
    array,
    figures,
    frames,
    metrics,
    open_page,
    presenter_styled,
    show_tab,
)

MINILM, STATIC = "all-MiniLM-L6-v2", "static-minilm-256"


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def loo_order(scores: np.ndarray, higher_is_closer: bool = True) -> np.ndarray:
    key = (-scores if higher_is_closer else scores).astype(np.float64)
    np.fill_diagonal(key, np.inf)
    return np.argsort(key, axis=1, kind="stable")


def overlap(reference: np.ndarray, found: np.ndarray) -> float:
    shares = [len(set(a) & set(b)) / len(a) for a, b in zip(reference, found, strict=True)]
    return float(np.mean(shares))


def truncated_recall(vectors: np.ndarray, dims: int, k: int) -> float:
    full = unit(vectors)
    short = unit(vectors[:, :dims])
    return overlap(loo_order(full @ full.T)[:, :k], loo_order(short @ short.T)[:, :k])


def top_k(vectors: np.ndarray, row: int, dims: int, k: int) -> list[int]:
    v = unit(vectors[:, :dims])
    sims = v @ v[row]
    sims[row] = -np.inf
    return np.argsort(-sims, kind="stable")[:k].tolist()


CURVES, RANKING, PIPELINE = "Recall curves", "One ranking", "Full pipeline"


def show(at, view: str):
    return show_tab(at, "mrl_view", view)


def curves(at) -> dict[str, dict]:
    fig = next(f for f in figures(at) if "dimensions kept" in str(f["layout"]["xaxis"]))
    return {t["name"]: t for t in fig["data"]}


def test_default_ranking_and_curves(words_float64) -> None:
    labels, vectors = words_float64
    at = open_page("mrl", {"mrl_view": RANKING})
    assert [t.label for t in at.tabs] == [CURVES, RANKING, PIPELINE]
    assert at.slider(key="mrl_dims").value == 64
    row = labels.index("queen")
    table = frames(at, "256 dims", "64 dims", "mark")[0]
    assert table["256 dims"].tolist() == [labels[i] for i in top_k(vectors[STATIC], row, 256, 10)]
    assert table["64 dims"].tolist() == [labels[i] for i in top_k(vectors[STATIC], row, 64, 10)]
    short = unit(vectors[STATIC][:, :64])
    np.testing.assert_allclose(
        table["64 dims score"], short[top_k(vectors[STATIC], row, 64, 10)] @ short[row], atol=1e-5
    )
    shown = metrics(at)
    assert shown["float32 bytes per vector"] == "256"

    traces = curves(show(at, CURVES))
    shown = metrics(at)
    static = traces[f"{STATIC} (ordered dims, MRL)"]
    minilm = traces[f"{MINILM} (not ordered)"]
    assert array(static["x"]).tolist() == [8, 16, 32, 64, 128, 256]
    assert array(minilm["x"]).tolist() == [8, 16, 32, 64, 128, 256, 384]
    expected = [truncated_recall(vectors[STATIC], d, 10) for d in (8, 32, 256)]
    np.testing.assert_allclose(array(static["y"])[[0, 2, 5]], expected, atol=1e-12)
    assert array(minilm["y"])[-1] == 1.0
    # The point of the page: the PCA-ordered model keeps its neighbours at few dimensions,
    # MiniLM cut raw does not.
    assert array(static["y"])[2] > array(minilm["y"])[2] + 0.1
    assert shown[f"{MINILM} at 64 dims"] == f"{truncated_recall(vectors[MINILM], 64, 10):.1%}"


def test_dims_slider_and_model_switch(words_float64) -> None:
    labels, vectors = words_float64
    at = open_page("mrl", {"mrl_view": RANKING})
    at.slider(key="mrl_dims").set_value(16).run()
    assert not at.exception
    assert metrics(at)["float32 bytes per vector"] == "64"
    at.selectbox(key="mrl_model").set_value(MINILM).run()
    assert not at.exception
    assert at.slider(key="mrl_dims").max == 384
    table = frames(at, "384 dims", "16 dims", "mark")[0]
    row = labels.index("queen")
    assert table["16 dims"].tolist() == [labels[i] for i in top_k(vectors[MINILM], row, 16, 10)]
    assert at.query_params["mrl_dims"] == "16"


def test_full_pipeline_table(words_float64) -> None:
    labels, vectors = words_float64
    at = open_page("mrl", {"mrl_view": PIPELINE})
    table = frames(at, "dims", "precision", "bytes per vector")[0]
    recalls = ["recall alone", "recall + rescore ×4"]
    table[recalls] = table[recalls] / 100  # shown in percent
    assert len(table) == 6 * 3
    by = table.set_index(["dims", "precision"])
    assert by.loc[(256, "float32"), "recall alone"] == 1.0
    assert by.loc[(256, "float32"), "recall + rescore ×4"] == 1.0
    assert by.loc[(64, "int8"), "bytes per vector"] == 64
    assert by.loc[(64, "binary"), "bytes per vector"] == 8
    assert by.loc[(8, "float32"), "recall alone"] == pytest.approx(
        truncated_recall(vectors[STATIC], 8, 10)
    )
    full = unit(vectors[STATIC])
    reference = loo_order(full @ full.T)[:, :10]
    # The talk's binary: 1 above the mean of all values, codes ranked by their cosine.
    short = unit(vectors[STATIC][:, :32])
    bits = unit((short > short.mean()).astype(np.float64))
    order = loo_order(bits @ bits.T)
    # 0/1 vectors tie often; the page's float32 cosines may break a tie the other way than
    # these float64 ones, which moves a recall by 1/11,140 per item: allow three.
    ties = 3 / (len(labels) * 10)
    assert by.loc[(32, "binary"), "recall alone"] == pytest.approx(
        overlap(reference, order[:, :10]), abs=ties
    )
    # Rescoring with the full vectors keeps exactly the reference items among the candidates.
    assert by.loc[(32, "binary"), "recall + rescore ×4"] == pytest.approx(
        overlap(reference, order[:, :40]), abs=ties
    )
    fig = next(f for f in figures(at) if "bytes per vector" in str(f["layout"]["xaxis"]))
    assert len(fig["data"]) == 6


def test_factor_one_is_the_first_stage_alone() -> None:
    at = open_page("mrl", {"mrl_view": PIPELINE})
    at.slider(key="mrl_factor").set_value(1).run()
    assert not at.exception
    table = frames(at, "dims", "precision", "recall + rescore ×1")[0]
    np.testing.assert_allclose(table["recall + rescore ×1"], table["recall alone"])


def test_deep_link_restores_the_view(words_float64) -> None:
    labels, vectors = words_float64
    params = {
        "mrl_model": MINILM,
        "mrl_dims": "32",
        "mrl_k": "5",
        "mrl_factor": "2",
        "mrl_target": "king",
    }
    at = open_page("mrl", {**params, "mrl_view": RANKING})
    assert at.selectbox(key="mrl_model").value == MINILM
    assert at.slider(key="mrl_dims").value == 32
    table = frames(at, "384 dims", "32 dims", "mark")[0]
    assert table["32 dims"].tolist() == [
        labels[i] for i in top_k(vectors[MINILM], labels.index("king"), 32, 5)
    ]
    assert frames(show(at, PIPELINE), "dims", "recall + rescore ×2")


def test_presenter_mode(words_float64) -> None:
    labels, vectors = words_float64
    at = open_page("mrl", {"present": "1", "mrl_all": "0", "mrl_dims": "32"})
    assert presenter_styled(at)
    assert figures(at)[0]["layout"]["font"]["size"] == 18
    # The marks go into the legend instead of a row of metrics under the chart.
    assert not metrics(at)
    minilm = f"{MINILM} (not ordered): {truncated_recall(vectors[MINILM], 32, 10):.1%} at 32"
    assert minilm in curves(at)
    # Each tab's folded sections are popovers (the code at the controls' row's end), not
    # expanders: their headers ran past a 1280x720 screen.
    assert folds(at) == (["Python"], [])
    assert "recall = np.mean(found) / 10" in at.code[0].value

    ranking = show(at, RANKING).dataframe[0]
    assert ranking.proto.row_height == 32  # the header and ten rows fit the screen
    assert folds(at) == (["Python"], [])  # under the numbers beside the table

    fig = figures(show(at, PIPELINE))[0]
    assert fig["layout"]["font"]["size"] == 18
    assert fig["layout"]["legend"]["orientation"] == "v"  # beside the plot
    assert all(t["cliponaxis"] is False for t in fig["data"] if "text" in t["mode"])
    assert not at.dataframe  # the table is left to normal mode; hover shows the numbers
    assert folds(at) == (["How to read", "Python"], [])
    assert any("Labels are the dimensions kept" in c.value for c in at.caption)


def folds(at) -> tuple[list[str], list[str]]:
    """The labels of the tab's popovers and of its expanders (the page's introduction's
    left out)."""
    expanders = [e.label for e in at.main.expander if e.label != "What this page shows"]
    return [p.proto.popover.label for p in at.get("popover")], expanders


def test_normal_mode_folds_are_expanders_under_each_tab() -> None:
    at = open_page("mrl", {"mrl_all": "0"})
    assert folds(at) == ([], ["The same in Python"])
    assert folds(show(at, RANKING)) == ([], ["The same in Python"])
    assert folds(show(at, PIPELINE)) == ([], ["The same in Python"])


def test_each_tab_shows_only_the_controls_that_act_on_it() -> None:
    at = open_page("mrl", {"mrl_view": CURVES})
    assert {s.key for s in at.slider} == {"mrl_k", "mrl_dims"}
    assert not [s for s in at.selectbox if s.key == "mrl_model"]
    assert not [t for t in at.text_input if t.key == "mrl_target"]
    assert at.toggle(key="mrl_all").value is True
    show(at, RANKING)
    assert {s.key for s in at.slider} == {"mrl_k", "mrl_dims"}
    assert at.selectbox(key="mrl_model").value == STATIC
    assert at.text_input(key="mrl_target").value == "queen"
    at.slider(key="mrl_dims").set_value(40).run()
    show(at, PIPELINE)
    assert {s.key for s in at.slider} == {"mrl_k", "mrl_factor"}
    assert at.selectbox(key="mrl_model").value == STATIC
    assert not [t for t in at.text_input if t.key == "mrl_target"]
    # The cut set on One ranking is still there when the user comes back.
    assert show(at, RANKING).slider(key="mrl_dims").value == 40
    assert at.query_params["mrl_dims"] == "40"


def test_a_cut_between_the_standard_sizes_is_measured(words_float64) -> None:
    labels, vectors = words_float64
    at = open_page("mrl", {"mrl_view": CURVES, "mrl_all": "0", "mrl_dims": "37"})
    shown = metrics(at)
    for model in (STATIC, MINILM):
        assert shown[f"{model} at 37 dims"] == f"{truncated_recall(vectors[model], 37, 10):.1%}"
    at.slider(key="mrl_dims").set_value(300).run()
    assert set(metrics(at)) == {f"{MINILM} at 300 dims"}  # static-minilm-256 is too short
    assert metrics(at)[f"{MINILM} at 300 dims"] == (
        f"{truncated_recall(vectors[MINILM], 300, 10):.1%}"
    )


def test_code_leads_with_the_sdk_call_then_numpy() -> None:
    at = open_page("mrl", {"mrl_view": RANKING, "mrl_dims": "48"})
    code = at.code[-1].value
    sdk = code.index("openai_client.embeddings.create(")
    assert "model='text-embedding-3-large', input=['queen'], dimensions=48" in code
    assert sdk < code.index("short = vectors[:, :48]") < code.index("top = np.argsort")
    code = show(at, CURVES).code[-1].value
    assert "input=texts, dimensions=48" in code
    assert code.index("embeddings.create(") < code.index("recall = np.mean(found) / 10")


def test_dims_out_of_range_and_empty_target() -> None:
    at = open_page("mrl", {"mrl_dims": "999", "mrl_target": " ", "mrl_view": RANKING})
    assert any("mrl_dims='999'" in w.value for w in at.warning)
    assert any("target is empty" in w.value for w in at.warning)
    assert at.slider(key="mrl_dims").value == 64
    assert not frames(at, "256 dims", "64 dims")
    # The curves and the pipeline do not need a target.
    assert len(figures(show(at, CURVES))) == 1
    assert len(figures(show(at, PIPELINE))) == 1


def test_a_smaller_model_clamps_the_dims_slider() -> None:
    at = open_page("mrl", {"mrl_model": MINILM, "mrl_dims": "300", "mrl_view": RANKING})
    at.selectbox(key="mrl_model").set_value(STATIC).run()
    assert not at.exception
    assert at.slider(key="mrl_dims").value == 256
    assert frames(at, "256 dims", "mark")


def test_imported_vectors() -> None:
    rng = np.random.default_rng(2)
    data = {f"item{i}": rng.normal(size=48).round(5).tolist() for i in range(30)}
    at = open_page("mrl", {"dataset": "upload"})
    upload = ("vecs.json", json.dumps(data).encode(), "application/json")
    at.sidebar.file_uploader(key="upload_file").set_value(upload).run()
    assert not at.exception
    assert at.slider(key="mrl_dims").max == 48
    assert at.slider(key="mrl_dims").value == 48
    assert "uploaded: vecs.json (imported)" in curves(at)
    table = frames(show(at, PIPELINE), "dims", "precision", "bytes per vector")[0]
    assert sorted(set(table["dims"])) == [8, 16, 32, 48]


def test_curves_add_every_local_model_so_mpnet_sits_next_to_the_static_model() -> None:
    from core.datasets import load_dataset
    from core.embedders.registry import LOCAL_FACTORIES, get_embedder
    from core.vectors import embed_dataset

    mpnet = "all-mpnet-base-v2"
    if mpnet not in LOCAL_FACTORIES:
        pytest.skip("all-mpnet-base-v2 is not registered")
    at = open_page("mrl", {"mrl_view": CURVES})
    assert at.toggle(key="mrl_all").value is True
    traces = curves(at)
    assert set(traces) >= {f"{STATIC} (ordered dims, MRL)", f"{mpnet} (not ordered)"}
    assert len(traces) == len(LOCAL_FACTORIES)
    vectors = embed_dataset(load_dataset("words"), get_embedder(mpnet)).astype(np.float64)
    line = traces[f"{mpnet} (not ordered)"]
    assert array(line["x"]).tolist() == [8, 16, 32, 64, 128, 256, 512, 768]
    expected = [truncated_recall(vectors, d, 10) for d in (16, 64, 768)]
    np.testing.assert_allclose(array(line["y"])[[1, 3, 7]], expected, atol=1e-12)
    # mpnet was not trained for truncation: cut to 64 of its 768 values it keeps far fewer
    # neighbours than the PCA-ordered static model keeps with 64 of 256.
    static = traces[f"{STATIC} (ordered dims, MRL)"]
    assert array(static["y"])[3] > array(line["y"])[3] + 0.15
    assert metrics(at)[f"{mpnet} at 64 dims"] == f"{expected[1]:.1%}"

    at.toggle(key="mrl_all").set_value(False).run()
    assert not at.exception
    assert set(curves(at)) == {f"{STATIC} (ordered dims, MRL)", f"{MINILM} (not ordered)"}
    assert at.query_params["mrl_all"] == "0"


def test_pipeline_labels_take_their_lines_colour_and_do_not_share_a_place() -> None:
    """At each size in bytes the best pipeline's label goes above its point, every other one
    below and to the right (three precisions meet at 32 B), in its line's colour."""
    at = open_page("mrl", {"mrl_view": PIPELINE})
    table = frames(at, "dims", "precision", "bytes per vector")[0]
    best = table.groupby("bytes per vector")["recall + rescore ×4"].transform("max")
    expected = {
        (row.precision, row.dims): "top center" if top else "bottom right"
        for row, top in zip(table.itertuples(), table["recall + rescore ×4"] == best, strict=True)
    }
    fig = next(f for f in figures(at) if "bytes per vector" in str(f["layout"]["xaxis"]))
    lines = [t for t in fig["data"] if "text" in t["mode"]]
    assert [t["name"].split(" ")[0] for t in lines] == ["float32", "int8", "binary"]
    for line in lines:
        precision = line["name"].split(" ")[0]
        dims = [int(d) for d in line["text"]]
        assert line["textposition"] == [expected[precision, d] for d in dims]
        assert line["textfont"]["color"] == line["line"]["color"] == line["marker"]["color"]
    at32 = table[table["bytes per vector"] == 32]
    assert len(at32) == 3  # float32 at 8, int8 at 32, binary at 256 dims
    placed = [expected[p, d] for p, d in zip(at32.precision, at32.dims, strict=True)]
    assert placed.count("top center") == 1


def test_cached_figures_follow_each_sessions_settings() -> None:
    """The charts are built once per content key and shared by sessions: two sessions with
    other models, cuts and factors each get their own."""
    one = open_page("mrl", {"mrl_view": CURVES, "mrl_all": "0", "mrl_dims": "32"})
    two = open_page("mrl", {"mrl_view": CURVES, "mrl_all": "0", "mrl_dims": "300"})
    cut = [f["layout"]["shapes"][0]["x0"] for f in (figures(one)[0], figures(two)[0])]
    assert cut == [32, 300]
    assert set(metrics(two)) == {f"{MINILM} at 300 dims"}  # static-minilm-256 has 256 dims
    one.slider(key="mrl_dims").set_value(300).run()
    assert figures(one) == figures(two)
    three = open_page("mrl", {"mrl_view": PIPELINE, "mrl_factor": "2", "mrl_model": MINILM})
    four = open_page("mrl", {"mrl_view": PIPELINE, "mrl_factor": "2"})
    titles = [figures(at)[0]["layout"]["title"]["text"] for at in (three, four)]
    assert titles == ["Recall@10 against bytes per vector, k × 2 candidates rescored"] * 2
    sizes = [max(array(figures(at)[0]["data"][0]["x"])) for at in (three, four)]
    assert sizes == [384 * 4, 256 * 4]  # float32 at full size: each model's own


def test_tab_controls_round_trip_through_the_url(words_float64) -> None:
    """Each tab is a fragment; the values of its controls reach the URL and a link made of it
    reopens the same view."""
    labels, vectors = words_float64
    at = open_page("mrl", {"mrl_view": RANKING})
    at.slider(key="mrl_dims").set_value(24)
    at.slider(key="mrl_k").set_value(7)
    at.text_input(key="mrl_target").input("king").run()
    params = dict(at.query_params)
    assert (params["mrl_dims"], params["mrl_k"], params["mrl_target"]) == ("24", "7", "king")
    again = open_page("mrl", params)
    table = frames(again, "256 dims", "24 dims", "mark")[0]
    assert table["24 dims"].tolist() == [
        labels[i] for i in top_k(vectors[STATIC], labels.index("king"), 24, 7)
    ]
    assert table.equals(frames(at, "256 dims", "24 dims", "mark")[0])
    show(at, PIPELINE).slider(key="mrl_factor").set_value(3).run()
    again = open_page("mrl", dict(at.query_params))
    assert again.slider(key="mrl_factor").value == 3
    assert figures(again) == figures(at)
