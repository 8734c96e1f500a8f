"""AppTest of the Similarity page's Map tab (views/_map.py): the projection against sklearn,
WebGL traces, colour by a categorical or numeric column, hover columns, filters, clusters,
the selection panel against a brute-force search, deep links and presenter mode."""

from __future__ import annotations

import hashlib
import html
import json
from collections import Counter

import numpy as np
import pytest
from sklearn.decomposition import PCA
from streamlit.testing.v1 import AppTest

from core import project as project_module
from core.datasets import load_dataset
from tests.page_helpers import array, figures, frames, open_page, plain, texts
from views._map import MAP_NAMED

MAP = {"sim_view": "Map"}


def _map(at: AppTest) -> dict:
    return figures(at)[-1]


def _labels(trace: dict) -> list[str]:
    """A trace's item labels as the user sees them (the figure escapes ``&``, ``<``, ``>``)."""
    return [html.unescape(t.split("<br>")[0]) for t in trace["hovertext"]]


def _xy_by_label(fig: dict) -> dict[str, np.ndarray]:
    """label -> its (x, y) on the map, over the data traces (not the neighbour markers)."""
    out = {}
    for trace in fig["data"]:
        if trace["name"] in ("neighbours", "target"):
            continue
        for label, x, y in zip(_labels(trace), array(trace["x"]), array(trace["y"]), strict=True):
            out[label] = np.array([x, y])
    return out


def test_default_map_is_pca_in_webgl_coloured_by_category(words) -> None:
    labels, vectors = words
    dataset = load_dataset("words")
    at = open_page("similarity", MAP)
    fig = _map(at)
    counts = Counter(dataset.categories)
    by_size = sorted(counts, key=lambda c: (-counts[c], c))
    assert [t["name"] for t in fig["data"]] == [*by_size, "neighbours", "target"]
    # Every point in WebGL, the neighbours' rings and the target's diamond last, so on top;
    # their names are annotations (above the WebGL canvas, on a white ground).
    assert [t["type"] for t in fig["data"]] == ["scattergl"] * (len(by_size) + 2)
    # Every point drawn, each once, in float32 typed arrays.
    assert sum(len(t["hovertext"]) for t in fig["data"][:-2]) == len(labels)
    assert fig["data"][0]["x"]["dtype"] == "f4"
    coords = PCA(n_components=2, random_state=0).fit_transform(
        vectors["static-minilm-256"].astype(np.float64)
    )
    shown = _xy_by_label(fig)
    drawn = np.stack([shown[label] for label in labels])
    # PCA axes are defined up to sign.
    np.testing.assert_allclose(np.abs(drawn), np.abs(coords), atol=1e-4)
    # The target and its closest neighbours are named, the target last.
    named = [a["text"] for a in fig["layout"]["annotations"]]
    assert named[-1] == "queen" and len(named) == MAP_NAMED + 1
    assert set(named[:-1]) <= set(_labels(fig["data"][-2]))
    assert "trustworthiness" in texts(at) and "of the variance" in texts(at)
    at.radio(key="sim_proj_dims").set_value(3).run()
    assert not at.exception
    assert {t["type"] for t in _map(at)["data"]} == {"scatter3d"}
    assert "Selection works on the 2-D map" in texts(at)


def test_numeric_column_gets_a_colour_scale_and_categorical_an_other_group() -> None:
    dataset = load_dataset("movies")
    at = open_page("similarity", {**MAP, "dataset": "movies", "sim_target": "Moana"})
    at.selectbox(key="sim_map_colour").set_value("year").run()
    assert not at.exception
    data = _map(at)["data"]
    assert data[0]["name"] == "year"
    marker = data[0]["marker"]
    assert marker["colorbar"]["title"]["text"] == "year"
    years = dict(zip(dataset.labels, dataset.extra["year"], strict=True))
    colours = array(marker["color"])
    assert [years[label] for label in _labels(data[0])] == colours.astype(int).tolist()
    # 330 distinct descriptions: 20 colours and "other" for the other 310.
    at.selectbox(key="sim_map_colour").set_value("description").run()
    names = [t["name"] for t in _map(at)["data"]][:-2]
    assert len(names) == 21 and names[-1] == "other"
    assert "310 rarer values of description drawn as other" in texts(at)


def test_hover_shows_the_chosen_columns() -> None:
    dataset = load_dataset("movies")
    at = open_page("similarity", {**MAP, "dataset": "movies", "sim_target": "Moana"})
    at.multiselect(key="sim_map_hover").set_value(["studio", "year"]).run()
    assert not at.exception
    first = _map(at)["data"][0]
    assert first["hovertemplate"] == "%{hovertext}<extra>%{fullData.name}</extra>"
    for text in first["hovertext"][:20]:
        label, studio, year = text.split("<br>")
        row = dataset.index_of(html.unescape(label))
        assert studio == f"studio: {dataset.extra['studio'][row]}"
        assert year == f"year: {dataset.extra['year'][row]}"


def test_filter_by_category_and_by_numeric_range() -> None:
    dataset = load_dataset("movies")
    at = open_page("similarity", {**MAP, "dataset": "movies", "sim_target": "Moana"})
    at.selectbox(key="sim_map_filter").set_value("studio").run()
    at.multiselect(key="sim_map_keep_studio").set_value(["Pixar"]).run()
    assert not at.exception
    shown = {label for t in _map(at)["data"][:-2] for label in _labels(t)}
    pixar = {
        lab for lab, s in zip(dataset.labels, dataset.extra["studio"], strict=True) if s == "Pixar"
    }
    assert shown == pixar
    assert f"{len(pixar):,} points shown" in texts(at)
    at.selectbox(key="sim_map_filter").set_value("year").run()
    at.slider(key="sim_map_range_year").set_value((1990.0, 1999.0)).run()
    assert not at.exception
    shown = {label for t in _map(at)["data"][:-2] for label in _labels(t)}
    nineties = {
        lab
        for lab, y in zip(dataset.labels, dataset.extra["year"], strict=True)
        if 1990 <= y <= 1999
    }
    assert shown == nineties


def test_clusters_on_the_map_colour_it_and_are_named_by_words() -> None:
    at = open_page("similarity", MAP)
    at.radio(key="sim_map_clusters").set_value("map").run()
    assert not at.exception
    assert at.selectbox(key="sim_map_colour").value == "cluster"
    names = [t["name"] for t in _map(at)["data"]][:-2]
    named = [n for n in names if n not in ("noise", "other")]
    assert named and all(": " in n for n in named)
    assert "clusters on the map" in texts(at)
    at.radio(key="sim_map_clusters").set_value("off").run()
    assert at.selectbox(key="sim_map_colour").value == "category"


def test_free_text_target_and_empty_target() -> None:
    at = open_page("similarity", {**MAP, "sim_target": "a small furry pet"})
    # Free text: its neighbours are marked but there is no target row.
    assert [t["name"] for t in _map(at)["data"]][-1] == "neighbours"
    at.text_input(key="sim_target").input("").run()
    assert not at.exception
    assert any("target is empty" in w.value for w in at.warning)
    assert figures(at)  # the map still renders


def test_deep_link_restores_the_map_settings() -> None:
    link = {
        **MAP,
        "dataset": "movies",
        "sim_target": "Moana",
        "sim_k": "3",
        "sim_proj_dims": "3",
        "sim_map_colour": "studio",
        "sim_map_hover": ["year"],
    }
    at = open_page("similarity", link)
    fig = _map(at)
    assert {t["type"] for t in fig["data"]} == {"scatter3d"}
    assert len(fig["data"][-2]["text"]) == 3  # the target's 3 neighbours
    assert at.selectbox(key="sim_map_colour").value == "studio"
    assert at.multiselect(key="sim_map_hover").value == ["year"]
    assert fig["data"][0]["hovertext"][0].split("<br>")[1].startswith("year: ")
    bad = open_page("similarity", {**MAP, "sim_map_colour": "nowhere"})
    assert any("sim_map_colour" in w.value for w in bad.warning)


def test_presenter_mode_uses_a_shorter_map() -> None:
    at = open_page("similarity", {**MAP, "present": "1"})
    assert _map(at)["layout"]["height"] == 370
    assert _map(at)["layout"]["font"]["size"] == 18
    # The notes and the Python fold into one expander under the map, so the tab fits.
    about = next(e for e in at.expander if e.label == "About this map")
    assert "trustworthiness" in " ".join(c.value for c in about.caption)
    assert "PCA(n_components=2)" in about.code[0].value
    assert "The same in Python" not in [e.label for e in at.expander]


def test_markers_shrink_as_the_map_fills() -> None:
    from views._map import marker_size

    assert [marker_size(n, False) for n in (100, 5_001, 20_001, 100_000)] == [7, 5, 3, 3]
    assert [marker_size(n, True) for n in (100, 5_001, 100_000)] == [4, 3, 3]


def _selection_script() -> None:
    """Renders the selection panel for rows 0..9 of the words dataset, and the export."""
    import numpy as np
    import streamlit as st

    from core.mapview import dataset_columns
    from views import _map, _ui

    ws = _ui.workspace()
    vs = ws.first()
    rows = np.arange(10)
    _map.selection_panel(ws, vs, rows, dict(dataset_columns(ws.dataset)), 5)
    st.write(sorted(_map.current_map(vs)))


def test_selection_panel_lists_items_and_searches_like_brute_force(words) -> None:
    labels, vectors = words
    at = AppTest.from_function(_selection_script, default_timeout=120)
    at.session_state["models"] = ["static-minilm-256"]
    at.run()
    assert not at.exception
    listed = frames(at, "item", "category")[0]
    assert listed["item"].tolist() == list(labels[:10])
    assert "10 selected" in texts(at)
    v = vectors["static-minilm-256"].astype(np.float64)
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    mean = unit[:10].mean(axis=0)
    sims = unit @ (mean / np.linalg.norm(mean))
    centroid = frames(at, "rank", "item", "selected")[0]
    expected = np.argsort(-sims, kind="stable")[:5]
    assert centroid["item"].tolist() == [labels[i] for i in expected]
    np.testing.assert_allclose(centroid["similarity"], sims[expected], atol=1e-5)
    assert centroid["selected"].tolist() == [bool(i < 10) for i in expected]
    at.text_input(key="sim_map_query").input(labels[3]).run()
    within = frames(at, "rank", "item", "similarity")[0]
    assert within["item"].tolist()[0] == labels[3]
    assert set(within["item"]) <= set(labels[:10])


@pytest.mark.slow
def test_umap_projection_on_movies() -> None:
    at = open_page("similarity", {**MAP, "dataset": "movies", "sim_proj": "umap"})
    assert "UMAP of 330" in texts(at)
    assert len(_map(at)["data"]) >= 3


def test_user_text_in_the_map_is_escaped() -> None:
    from core.datasets import Dataset
    from views._map import _Columns, hover_texts, map_figure

    dataset = Dataset(
        "markup",
        ("<b>bold</b>", "a&b", "plain"),
        ("x", "y", "z"),
        ("<i>c</i>", "<i>c</i>", "d"),
        extra={"%{x}<s>": ("<a href=x>link</a>", "q", "r")},
    )
    columns = _Columns(dataset, {"category": dataset.categories, **dataset.extra})
    texts = hover_texts(columns, ["%{x}<s>"])
    assert (
        texts.tolist()[0]
        == "&lt;b&gt;bold&lt;/b&gt;<br>%{x}&lt;s&gt;: &lt;a href=x&gt;link&lt;/a&gt;"
    )
    assert texts.tolist()[1].startswith("a&amp;b<br>")
    coords = np.arange(6, dtype=np.float64).reshape(3, 2)
    fig, groups = map_figure(
        coords, np.arange(3), columns.colouring("category"), texts, near=[1], target_row=0
    )
    assert [t.name for t in fig.data] == ["&lt;i&gt;c&lt;/i&gt;", "d", "neighbours", "target"]
    assert [a.text for a in fig.layout.annotations] == ["a&amp;b", "&lt;b&gt;bold&lt;/b&gt;"]
    assert [g.rows.tolist() for g in groups] == [[0, 1], [2]]


def test_above_the_caps_the_map_samples_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.mapview.MAX_POINTS", 500)
    monkeypatch.setitem(project_module.MAX_ROWS, "tsne", 300)
    dataset = load_dataset("words")
    at = open_page("similarity", MAP)
    drawn = [label for t in _map(at)["data"][:-2] for label in _labels(t)]
    assert len(drawn) == len(set(drawn)) == 500
    assert "showing a sample of 500 of 1,114 points, stratified by category" in texts(at)
    # Every category keeps its share of the sample (within one point).
    counts = Counter(dataset.categories)
    for trace in _map(at)["data"][:-2]:
        share = counts[trace["name"]] * 500 / len(dataset)
        assert abs(len(trace["hovertext"]) - share) <= 1
    at.selectbox(key="sim_proj").set_value("tsne").run()
    assert not at.exception
    assert "t-SNE ran on a random sample of 300 of the 1,114 points" in texts(at)
    assert sum(len(t["hovertext"]) for t in _map(at)["data"][:-2]) == 300
    at.radio(key="sim_map_clusters").set_value("map").run()
    assert not at.exception
    # Rows outside the t-SNE sample have no cluster and are not drawn.
    names = [t["name"] for t in _map(at)["data"][:-2]]
    assert "not projected" not in names and "clusters on the map" in texts(at)


def _export_script() -> None:
    """Draws the map with clusters, then shows what current_map hands an export."""
    import pandas as pd
    import streamlit as st

    from views import _map, _ui

    ws = _ui.workspace()
    _map.dataset_map(ws)
    st.dataframe(pd.DataFrame(_map.current_map(ws.first())), key="export")
    st.write(f"other model: {sorted(_map.current_map(ws.sets['all-MiniLM-L6-v2']))}")


def test_current_map_hands_the_drawn_coordinates_and_clusters_to_an_export(words) -> None:
    labels, vectors = words
    at = AppTest.from_function(_export_script, default_timeout=120)
    at.session_state["models"] = ["static-minilm-256", "all-MiniLM-L6-v2"]
    at.session_state["sim_map_clusters"] = "map"
    at.run()
    assert not at.exception
    export = frames(at, "x", "y", "cluster")[0]
    shown = _xy_by_label(_map(at))
    np.testing.assert_allclose(
        export[["x", "y"]].to_numpy(), [shown[label] for label in labels], atol=1e-5
    )
    assert export["cluster"].min() >= -1 and export["cluster"].max() >= 1
    assert "other model: []" in texts(at)


def _cancel_script() -> None:
    """The map, with the t-SNE job or the clustering of the PCA map marked as cancelled by
    this session when the test asks (what the Cancel button's callback does)."""
    import streamlit as st

    from views import _map, _ui

    ws = _ui.workspace()
    cancelled = st.session_state.setdefault(_map._CANCELLED, set())
    if st.session_state.pop("test_cancel_tsne", False):
        cancelled.add(_map._projection_key(ws.first(), "tsne", 2))
    if st.session_state.pop("test_cancel_clusters", False):
        pca = _map._projection(ws.first(), "pca", 2)
        min_size = st.session_state["sim_map_min_size"]
        cancelled.add(_map._cluster_key(ws.first(), pca, "map", min_size))
    _map.dataset_map(ws)


def test_a_cancelled_tsne_shows_pca_until_run_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(project_module.MAX_ROWS, "tsne", 200)
    at = AppTest.from_function(_cancel_script, default_timeout=300)
    at.session_state["models"] = ["static-minilm-256"]
    at.session_state["sim_proj"] = "tsne"
    at.session_state["test_cancel_tsne"] = True
    at.run()
    assert not at.exception
    warning = plain(" ".join(w.value for w in at.warning))
    assert "t-SNE of 200 vectors: cancelled. The map shows PCA meanwhile." in warning
    assert "PCA of 1,114 words vectors" in texts(at)
    at.button(key="sim_map_again_projection").click().run()
    assert not at.exception
    assert not at.warning and "t-SNE ran on a random sample of 200" in texts(at)
    assert sum(len(t["hovertext"]) for t in _map(at)["data"][:-2]) == 200


def test_cancelled_clusters_leave_the_map_unclustered_until_run_again() -> None:
    at = AppTest.from_function(_cancel_script, default_timeout=300)
    at.session_state["models"] = ["static-minilm-256"]
    at.session_state["sim_map_clusters"] = "map"
    # A size no other test clusters with: a clustering kept by the server needs no job.
    at.session_state["sim_map_min_size"] = 7
    at.session_state["test_cancel_clusters"] = True
    at.run()
    assert not at.exception
    warning = plain(" ".join(w.value for w in at.warning))
    assert "HDBSCAN on the map of 1,114 points: cancelled. The map shows no clusters" in warning
    assert "clusters on the map" not in texts(at)
    assert "cluster" not in at.selectbox(key="sim_map_colour").options
    at.button(key="sim_map_again_clusters").click().run()
    assert not at.exception and not at.warning
    assert "clusters on the map" in texts(at)


def test_streamlit_stopping_the_run_ends_the_child_and_frees_the_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Cancel click (or any widget change) makes Streamlit stop the run at the progress
    bar's next update; the child computing UMAP must not outlive it."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from core import child
    from tests.test_child import child_pids, gone
    from views import _map, _ui

    children: list[int] = []
    # Other tests of the session may have started processes of their own (a browser, a
    # database server): only the ones started during this run count.
    before = set(child_pids())

    def stopped_at_first_update(job, wait, time_limit):  # noqa: ANN001, ANN202
        def interrupted(seconds: float) -> None:
            children.extend(set(child_pids()) - before)
            wait(seconds)
            raise StopException

        return child.run_in_child(job, wait=interrupted, time_limit=time_limit)

    monkeypatch.setattr(_map, "run_in_child", stopped_at_first_update)
    monkeypatch.setitem(project_module.MAX_ROWS, "umap", 150)
    at = open_page("similarity", {**MAP, "sim_proj": "umap"})
    assert not at.exception
    assert children and all(gone(pid, within=0.5) for pid in children)
    assert not _ui._jobs().slot.locked()


def _gl_data(at: AppTest) -> dict:
    """The in-place map's data (views/_gl_map.py), its JSON parts parsed: the map element's,
    with the base traces from the base element before it."""
    elements = [e for e in at.get("bidi_component") if e.proto.component_name == "explorer_gl_map"]
    base, shown = (json.loads(e.proto.json) for e in elements)
    assert (base["role"], shown["role"]) == ("base", "map")
    assert set(base) == {"role", "base_key", "base"} and base["base_key"] == shown["base_key"]
    data = shown | {"base": base["base"]}
    return data | {k: json.loads(data[k]) for k in ("base", "overlay", "layout", "config")}


def test_a_big_map_is_the_in_place_component_with_the_same_traces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from views import _map as map_view

    chart = _map(open_page("similarity", MAP))
    monkeypatch.setattr("views._map.GL_MAP_POINTS", 100)
    built = []  # the base traces are built once per content, not once per rerun
    build = map_view._gl_base
    monkeypatch.setattr("views._map._gl_base", lambda draw: built.append(1) or build(draw))
    map_view._bases.clear()
    at = open_page("similarity", MAP)
    assert not at.get("plotly_chart")
    gl = _gl_data(at)
    # Every point in the base traces, exactly as the chart draws them; the markers on top.
    assert gl["base"] == chart["data"][:-2]
    assert gl["overlay"] == chart["data"][-2:]
    assert gl["base_key"] == hashlib.md5(gl_json(gl["base"]).encode()).hexdigest()[:16]
    assert gl["layout"]["dragmode"] == "lasso" and gl["layout"]["uirevision"] == "map"
    assert gl["layout"]["selectionrevision"] == gl["base_key"]
    assert gl["layout"]["template"]["layout"]["plot_bgcolor"] == "white"
    assert gl["config"]["responsive"] and gl["config"]["displaylogo"] is False
    assert gl["plotly"] == "/_stcore/bidi-components/explorer.plotly/plotly.min.js"
    # k changes only the overlay: the base (100k points on a big map) keeps its key.
    at.slider(key="sim_k").set_value(11).run()
    after = _gl_data(at)
    assert after["base_key"] == gl["base_key"] and len(built) == 1
    assert array(after["overlay"][0]["x"]).size == array(gl["overlay"][0]["x"]).size + 1
    at.selectbox(key="sim_map_colour").set_value("category").run()
    at.multiselect(key="sim_map_hover").set_value(["category"]).run()
    assert not at.exception
    assert _gl_data(at)["base_key"] != gl["base_key"] and len(built) == 2


def gl_json(traces: list) -> str:
    """The base traces as views._gl_map.base_json writes them."""
    from plotly.io.json import to_json_plotly

    return to_json_plotly(traces)


def _assets_script() -> None:
    """Registers the plotly assets twice (the second time is a no-op), shows where they are."""
    import streamlit as st
    from streamlit.runtime import Runtime

    from views._gl_map import ASSETS, plotly_url

    urls = {plotly_url(), plotly_url()}
    root = Runtime.instance().bidi_component_registry.get_component_asset_root(ASSETS)
    st.write(f"{urls} {root}")


def test_the_component_serves_plotly_from_the_plotly_package() -> None:
    from views._gl_map import PLOTLY_DIR

    at = AppTest.from_function(_assets_script)
    at.run()
    assert not at.exception
    url = "/_stcore/bidi-components/explorer.plotly/plotly.min.js"
    assert at.markdown[0].value == f"{{'{url}'}} {PLOTLY_DIR.resolve()}"
    assert (PLOTLY_DIR / "plotly.min.js").read_text()[:200].lstrip().startswith("/**")


def test_a_selection_on_the_component_lists_its_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("views._map.GL_MAP_POINTS", 100)
    at = open_page("similarity", MAP)
    base = _gl_data(at)["base"]
    # What plotly.js sends back: [trace, index] per selected point.
    key = _gl_data(at)["base_key"]
    at.session_state["sim_map_gl"] = {
        "selection": {"base": key, "points": [[0, 0], [0, 3], [1, 2]]}
    }
    at.run()
    assert not at.exception
    picked = {_labels(base[0])[0], _labels(base[0])[3], _labels(base[1])[2]}
    dataset = load_dataset("words")
    listed = frames(at, "item", "category")[0]
    assert listed["item"].tolist() == sorted(picked, key=dataset.index_of)
    assert "3 selected" in texts(at)
    # A deselect, a selection on other base traces, anything malformed: nothing listed.
    other = {"base": "0" * 16, "points": [[0, 0]]}
    for state in ({"base": key, "points": []}, other, {"base": key, "points": [[1], "x"]}, None):
        at.session_state["sim_map_gl"] = {"selection": state}
        at.run()
        assert not at.exception and "selected" not in texts(at)
