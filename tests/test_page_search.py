"""AppTest of the Search page: the three steps, exhaustive results against a numpy brute force,
HNSW marks and recall against hnswlib driven directly, deep links, presenter mode, bad input."""

from __future__ import annotations

import contextlib
import io
import json

import hnswlib
import numpy as np
import pytest

from core.embedders.registry import get_embedder
from tests.page_helpers import (
    array,
    figures,
    frames,
    metrics,
    open_page,
    presenter_styled,
    show_tab,
    texts,
)
from views import _snippets

MINILM, STATIC = "all-MiniLM-L6-v2", "static-minilm-256"


def brute_top_k(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    v = vectors.astype(np.float64)
    q = query.astype(np.float64).ravel()
    sims = v @ q / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    order = np.argsort(-sims, kind="stable")[:k]
    return order, sims[order]


def hnswlib_leave_one_out(vectors: np.ndarray, m: int, efc: int, ef: int, k: int) -> np.ndarray:
    """hnswlib used directly: every item's k nearest others (self dropped, else the last)."""
    index = hnswlib.Index(space="cosine", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors), M=m, ef_construction=efc, random_seed=100)
    index.add_items(vectors, np.arange(len(vectors)), num_threads=1)
    index.set_ef(max(ef, k + 1))
    found, _ = index.knn_query(vectors, k=k + 1, num_threads=1)
    rows = []
    for i, ids in enumerate(found):
        rest = [int(j) for j in ids if j != i]
        rows.append(rest[:k])
    return np.array(rows)


STEP1, STEP2, RESULTS = "1 · Embed the query", "2 · Search", "3 · Results"


def results(at):
    return frames(at, "exhaustive", "HNSW", "mark")[0]


def show(at, view: str):
    return show_tab(at, "search_view", view)


def test_default_render_shows_three_steps_and_exact_results(words) -> None:
    labels, vectors = words
    at = open_page("search")
    assert [t.label for t in at.tabs] == [STEP1, STEP2, RESULTS, "Scale lab", "Engines"]
    shown = metrics(at)
    table = results(at)
    query = get_embedder(MINILM).embed(["a loyal dog"])
    ids, sims = brute_top_k(vectors[MINILM], query, 5)
    assert table["exhaustive"].tolist() == [labels[i] for i in ids]
    np.testing.assert_allclose(table["exhaustive score"], sims, atol=1e-5)
    assert table["rank"].tolist() == [1, 2, 3, 4, 5]
    shared = len(set(table["exhaustive"]) & set(table["HNSW"]))
    assert shown["recall@5, this query"] == f"{shared / 5:.1%}"
    assert "M=16, ef_construction=200" in at.get("code")[0].proto.code_text
    shown = metrics(show(at, STEP1))
    (bars,) = figures(at)
    np.testing.assert_allclose(array(bars["data"][0]["y"]), query[0], atol=1e-6)
    assert shown["dimensions"] == "384"
    assert shown["embedding time"].endswith(" ms")
    assert not frames(at, "exhaustive")
    shown = metrics(show(at, STEP2))
    assert {"exhaustive time", "HNSW time", "graph build (once)", "index size"} <= set(shown)
    assert f"all {len(labels):,} vectors" in texts(at)
    lab = show(at, "Scale lab")
    assert [b.label for b in lab.button][:2] == ["Build and measure", "Cancel"]
    assert not frames(lab, "exhaustive")


def test_hnsw_sliders_change_marks_and_recall(words) -> None:
    labels, vectors = words
    at = open_page("search", {"search_view": STEP2})
    at.slider(key="search_k").set_value(8)
    at.select_slider(key="search_m").set_value(2)
    at.select_slider(key="search_efc").set_value(5)
    at.select_slider(key="search_ef").set_value(1).run()
    assert not at.exception
    assert any("ef = 1 is below k = 8" in c.value for c in at.caption)
    # The settings made in step 2 carry over to the results.
    table = results(show(at, RESULTS))
    assert len(table) == 8
    exact = table["exhaustive"].tolist()
    for row in table.itertuples():
        if row.HNSW not in exact:
            assert row.mark == "❌"
        elif exact.index(row.HNSW) == row.rank - 1:
            assert row.mark == "✅"
        else:
            assert row.mark == "↕"
    shown = metrics(at)
    shared = len(set(exact) & set(table["HNSW"]))
    assert shown["recall@8, this query"] == f"{shared / 8:.1%}"
    # Every item as a query against hnswlib driven directly with the same graph settings.
    v = vectors[MINILM].astype(np.float64)
    sims = (v / np.linalg.norm(v, axis=1, keepdims=True)) @ (
        v / np.linalg.norm(v, axis=1, keepdims=True)
    ).T
    np.fill_diagonal(sims, -np.inf)
    reference = np.argsort(-sims, axis=1, kind="stable")[:, :8]
    approx = hnswlib_leave_one_out(vectors[MINILM], m=2, efc=5, ef=1, k=8)
    recall = np.mean([len(set(a) & set(b)) / 8 for a, b in zip(reference, approx, strict=True)])
    assert shown["recall@8, every item as the query"] == f"{recall:.1%}"
    assert any("M = 2, ef_construction = 5, ef = 8" in c.value for c in at.caption)
    # The URL follows the widgets, so a copied link reopens this view.
    assert at.query_params["search_m"] == "2"
    assert at.query_params["search_k"] == "8"


def test_hnsw_settings_default_to_the_talks_and_each_is_one_stop_away() -> None:
    at = open_page("search", {"search_view": STEP2})
    hnsw = ("search_m", "search_efc", "search_ef")
    assert [at.select_slider(key=k).value for k in hnsw] == [16, 200, 50]
    for key, talk in zip(hnsw, ("16", "200", "50"), strict=True):
        # A select slider snaps to its values: the talk's is one of them.
        assert talk in at.select_slider(key=key).options
    code = at.get("code")[0].proto.code_text
    assert "M=16, ef_construction=200" in code and "index.set_ef(50)" in code
    # The tour's deep link with the talk's values opens them, with no warning.
    talk = {"search_m": "16", "search_efc": "200", "search_ef": "50"}
    at = open_page("search", talk)
    assert not at.warning
    assert any("M = 16, ef_construction = 200, ef = 50" in c.value for c in at.caption)
    assert {key: at.query_params[key] for key in talk} == talk
    # A value between the stops is not offered: ignored with a warning.
    at = open_page("search", {"search_efc": "150"})
    assert "search_efc='150'" in " ".join(w.value for w in at.warning)
    assert at.session_state["search_efc"] == 200


def test_code_expander_talks_first_and_its_snippet_matches_the_page(words) -> None:
    labels, vectors = words
    at = open_page("search", {"search_k": "4"})
    assert [e.label for e in at.main.expander] == ["The same in Python"]
    code = at.get("code")[0].proto.code_text
    assert code.index("def exhaustive_search(query_vector, vectors):") < code.index("np.argsort")
    assert "def cosine_similarity(v1, v2):" in code
    # The exhaustive part, run on the page's vectors with the query's, prints the page's top 4.
    query = get_embedder(MINILM).embed(["a loyal dog"])[0]
    snippet = _snippets.exhaustive_search_code("query_vector = query\n", 4)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(snippet, {"query": query, "vectors": vectors[MINILM], "labels": labels})  # noqa: S102
    plain, numpy = (eval(line) for line in out.getvalue().splitlines())  # noqa: S307
    table = results(at)
    for printed in (plain, numpy):
        assert [label for label, _ in printed] == table["exhaustive"].tolist()
        np.testing.assert_allclose([s for _, s in printed], table["exhaustive score"], atol=1e-5)


def test_a_strong_graph_finds_every_neighbor() -> None:
    at = open_page("search", {"search_m": "48", "search_efc": "400", "search_ef": "400"})
    shown = metrics(at)
    assert shown["recall@5, this query"] == "100.0%"
    assert shown["recall@5, every item as the query"] == "100.0%"
    assert (results(at)["mark"] == "✅").all()


def test_model_switch_and_a_dataset_item_query(words) -> None:
    labels, vectors = words
    at = open_page("search")
    at.selectbox(key="search_model").set_value(STATIC)
    at.text_input(key="search_query").input("queen").run()
    assert not at.exception
    table = results(at)
    ids, sims = brute_top_k(vectors[STATIC], vectors[STATIC][labels.index("queen")], 5)
    assert table["exhaustive"].tolist() == [labels[i] for i in ids]
    assert table["exhaustive"][0] == "queen"
    assert table["exhaustive score"][0] == pytest.approx(1.0, abs=1e-6)
    assert metrics(show(at, STEP1))["dimensions"] == "256"
    assert "its stored vector is used" in texts(at)


def test_deep_link_restores_the_view() -> None:
    params = {
        "search_model": STATIC,
        "search_query": "cat",
        "search_k": "7",
        "search_m": "8",
        "search_efc": "50",
        "search_ef": "20",
    }
    at = open_page("search", params)
    assert at.selectbox(key="search_model").value == STATIC
    assert at.text_input(key="search_query").value == "cat"
    assert len(results(at)) == 7
    assert at.query_params["search_m"] == "8"
    at = open_page("search", {**params, "search_view": STEP2})
    assert at.slider(key="search_k").value == 7
    hnsw = ("search_m", "search_efc", "search_ef")
    assert [at.select_slider(key=k).value for k in hnsw] == [8, 50, 20]


def test_presenter_mode() -> None:
    at = open_page("search", {"present": "1"})
    assert at.toggle(key="present").value is True
    assert presenter_styled(at)
    assert len(results(at)) == 5
    # The code is a popover at the end of the query's row, not an expander under the step.
    assert [p.proto.popover.label for p in at.get("popover")] == ["Python"]
    assert [e.label for e in at.main.expander] == ["What this page shows"]
    assert "hnswlib.Index" in at.code[0].value


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_warns_and_the_rest_still_works(query) -> None:
    at = open_page("search")
    at.text_input(key="search_query").input(query).run()
    assert not at.exception
    assert any("query is empty" in w.value for w in at.warning)
    assert not frames(at, "exhaustive", "HNSW")
    assert any("once the query has a vector" in i.value for i in at.info)
    assert show(at, STEP2).select_slider(key="search_m").value == 16  # HNSW settings stay usable
    assert any("query is empty" in w.value for w in at.warning)


def test_bad_deep_link_values_are_ignored_with_a_warning(words) -> None:
    labels, _ = words
    at = open_page("search", {"search_k": "5000", "search_m": "1", "search_model": "nope"})
    warnings = " ".join(w.value for w in at.warning)
    assert "search_k='5000'" in warnings
    assert "search_m='1'" in warnings
    assert "search_model='nope'" in warnings
    assert at.slider(key="search_k").value == 5
    assert at.slider(key="search_k").max == min(50, len(labels) - 1)
    assert len(results(at)) == 5
    assert show(at, STEP2).select_slider(key="search_m").value == 16


def test_imported_vectors_search_their_own_items() -> None:
    rng = np.random.default_rng(0)
    data = {f"item{i}": rng.normal(size=48).round(5).tolist() for i in range(30)}
    at = open_page("search", {"dataset": "upload"})
    upload = ("vecs.json", json.dumps(data).encode(), "application/json")
    at.sidebar.file_uploader(key="upload_file").set_value(upload).run()
    assert not at.exception
    assert any("no model to embed free text" in e.value for e in at.error)
    assert at.slider(key="search_k").max == 29
    at.text_input(key="search_query").input("item3").run()
    assert not at.exception
    vectors = np.array(list(data.values()))
    ids, _ = brute_top_k(vectors, vectors[3], 5)
    assert results(at)["exhaustive"].tolist() == [f"item{i}" for i in ids]


def test_step1_chart_follows_the_vector_and_presenter_mode_both_ways() -> None:
    """The query's chart is built once per (vector, title, presenter mode) and shared: each
    session still sees its own vector in its own style."""
    plain_tab = show(open_page("search"), STEP1)
    big_tab = show(open_page("search", {"present": "1"}), STEP1)
    (plain_bars,), (big_bars,) = figures(plain_tab), figures(big_tab)
    np.testing.assert_array_equal(
        array(plain_bars["data"][0]["y"]), array(big_bars["data"][0]["y"])
    )
    assert (plain_bars["layout"]["font"]["size"], big_bars["layout"]["font"]["size"]) == (13, 18)
    big_tab.toggle(key="present").set_value(False).run()
    assert figures(big_tab)[0]["layout"]["font"]["size"] == 13
    plain_tab.text_input(key="search_query").input("a cat").run()
    (cat,) = figures(plain_tab)
    expected = get_embedder(MINILM).embed(["a cat"])[0]
    np.testing.assert_allclose(array(cat["data"][0]["y"]), expected, atol=1e-6)
    assert "'a cat'" in cat["layout"]["title"]["text"]
    # The time shown is the embedding's, measured when the text was first embedded.
    shown = metrics(plain_tab)["embedding time"]
    assert metrics(plain_tab.run())["embedding time"] == shown
