"""Every page in a real browser: its first view, its main widget driven like a user, deep
links, presenter mode, and screenshots of each into ``tests/artifacts/``.

Expected numbers are hand-computed (Metrics, byte counts), counted by hand from the MiniLM
vocabulary (tokens), or follow from what the page itself shows (cosine = a·b / (‖a‖‖b‖),
rankings sorted, a changed value appearing after the widget moved).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    assert_clean,
    cell,
    choose,
    enter_text,
    grid,
    headings,
    metric,
    open_page,
    open_tab,
    press_slider,
    rerun,
    selected,
    shoot,
    slider_value,
    tables,
    wait_for_app,
    widget,
)
from views.registry import PAGES as REGISTRY

pytestmark = pytest.mark.browser

PAGES = ["home", "embed", "similarity", "search", "metrics", "quantization", "mrl"]
TITLES = {
    "home": "Embeddings Explorer",
    "embed": "Embed",
    "similarity": "Similarity",
    "search": "Search",
    "metrics": "Metrics",
    "quantization": "Quantization",
    "mrl": "MRL",
}
MODELS = ["static-minilm-256", "all-MiniLM-L6-v2"]  # the sidebar's default models


def path(name: str) -> str:
    """A page's URL path (the file name; Home is the root)."""
    return "/" if name == "home" else f"/{name}"


def first_view(pg: Page, url: str, name: str) -> None:
    """Open a page's default view; check its title, that it is clean and free of warnings;
    screenshot what a 1280x720 screen shows and the whole page."""
    open_page(pg, url)
    assert headings(pg)[0] == TITLES[name]
    assert_clean(pg)
    alerts = pg.get_by_test_id("stMain").get_by_role("alert")
    assert alerts.count() == 0, alerts.all_inner_texts()
    shoot(pg, f"{name}-default")
    shoot(pg, f"{name}-full", full_page=True)


def numbers(table_values: Sequence[str]) -> np.ndarray:
    """Table cells (raw values as text) as floats."""
    return np.array([float(v) for v in table_values])


# ---------------------------------------------------------------- one test per page


def test_home_links_to_every_page(page: Page, server_url: str) -> None:
    first_view(page, server_url, "home")
    main = page.get_by_test_id("stMain")
    links = main.get_by_test_id("stPageLink")
    # Three columns, filled row by row: the DOM lists them column by column.
    assert sorted(t.split()[-1] for t in links.all_inner_texts()) == sorted(
        entry.title.split()[-1] for entry in REGISTRY[1:]
    )
    models = tables(page)[0].column("model")
    assert all(m in models for m in MODELS), models

    rerun(page, links.filter(has_text="Search").click)
    expect(page).to_have_url(re.compile(r"/search(\?|$)"))
    assert headings(page)[0] == "Search"
    assert_clean(page)


def test_embed_shows_each_models_vector_of_the_typed_text(page: Page, server_url: str) -> None:
    # The sidebar's two models only (by default the page shows every local model).
    first_view(page, f"{server_url}/embed?embed_all=0", "embed")
    values = page.get_by_test_id("stMain").get_by_test_id("stMetricValue")
    # Per model: dimensions, norm, tokens. "queen" is one word piece; MiniLM adds [CLS], [SEP].
    expect(values).to_have_text(["256", "1.0000", "1", "384", "1.0000", "3"])
    before = page.get_by_text("First 8 values").all_inner_texts()

    enter_text(page, "embed_text", "a loyal dog")
    # "a", "loyal", "dog" are three entries of MiniLM's vocab.txt.
    expect(values).to_have_text(["256", "1.0000", "3", "384", "1.0000", "5"])
    after = page.get_by_text("First 8 values").all_inner_texts()
    assert len(after) == 2 and after != before
    assert "a loyal dog" in page.url.replace("+", " ")
    assert_clean(page)


def test_similarity_pair_neighbors_and_k(page: Page, server_url: str) -> None:
    first_view(page, f"{server_url}/similarity", "similarity")
    pair = tables(page)[0]
    assert pair.column("model") == MODELS
    dot, na, nb, cos = (numbers(pair.column(c)) for c in ("a · b", "‖a‖", "‖b‖", "cosine"))
    np.testing.assert_allclose(cos, dot / (na * nb), rtol=1e-6)
    assert np.all((cos > 0.3) & (cos < 0.9)), cos  # king/queen: related, not the same

    open_tab(page, "Neighbours")
    expect(page).to_have_url(re.compile(r"sim_view=Neighbours"))
    most = tables(page)[0]
    # queen's neighbours: sorted, queen itself left out, king among them.
    assert most.n_rows == 10
    scores = numbers(most.column("similarity"))
    assert np.all(np.diff(scores) <= 0), scores
    assert "queen" not in most.column("item") and "king" in most.column("item")

    press_slider(page, "sim_k")
    expect(slider_value(page, "sim_k")).to_have_text("11")
    for table in (0, 1, 2, 3):  # most and least similar, for each model
        expect(grid(page, table)).to_have_attribute("aria-rowcount", "12")

    enter_text(page, "sim_target", "dog")
    expect(cell(page, 0, 0, 1)).not_to_have_text("monarch")
    assert "dog" not in tables(page)[0].column("item")

    # The target and k carry over to the other tabs.
    open_tab(page, "Spread")
    expect(widget(page, "sim_target").locator("input")).to_have_value("dog")
    # Each model's range on one axis, then the histograms.
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)
    open_tab(page, "Map")
    expect(slider_value(page, "sim_k")).to_have_text("11")
    shoot(page, "similarity-map")
    assert_clean(page)


def test_search_returns_the_typed_querys_neighbors(page: Page, server_url: str) -> None:
    first_view(page, f"{server_url}/search", "search")
    results = tables(page)[0]
    assert results.n_rows == 5
    assert results.column("exhaustive")[0] == "dog"
    exact = numbers(results.column("exhaustive score"))
    assert np.all(np.diff(exact) <= 0), exact
    expect(metric(page, "recall@5, this query")).to_have_text(re.compile(r"^\d+\.\d%$"))

    enter_text(page, "search_query", "a fast car")
    expect(cell(page, 0, 0, 1)).to_have_text("car")
    assert {"car", "sedan"} <= set(tables(page)[0].column("exhaustive"))

    press_slider(page, "search_k")
    expect(grid(page, 0)).to_have_attribute("aria-rowcount", "7")
    expect(metric(page, "recall@6, this query")).to_be_visible()

    open_tab(page, "1 · Embed the query")
    expect(metric(page, "dimensions")).to_have_text("384")  # all-MiniLM-L6-v2 by default
    expect(widget(page, "search_query").locator("input")).to_have_value("a fast car")
    open_tab(page, "Scale lab")
    expect(page.get_by_role("button", name="Build and measure")).to_be_visible()
    assert_clean(page)


def test_metrics_numbers_follow_the_typed_vectors(page: Page, server_url: str) -> None:
    first_view(page, f"{server_url}/metrics", "metrics")
    # a = (1, 2, 3)/√14, b = (3, 1, 2)/√14: a·b = 11/14, |a - b| = (2, 1, 1)/√14.
    expected = {
        "euclidean": math.sqrt(6 / 14),
        "manhattan": 4 / math.sqrt(14),
        "dot product": 11 / 14,
        "cosine similarity": 11 / 14,
        "cosine distance": 3 / 14,
    }
    for label, value in expected.items():
        expect(metric(page, label)).to_have_text(f"{value:.3g}")
    assert [f"{v:.3g}" for v in expected.values()] == ["0.655", "1.07", "0.786", "0.786", "0.214"]

    # Unnormalised: |a - b| = (2, 1, 1), a·b = 11, the cosine does not change.
    rerun(page, widget(page, "met_norm").get_by_text("Normalise").click)
    unnormalised = {"euclidean": "2.45", "manhattan": "4", "dot product": "11"}
    for label, shown in unnormalised.items():
        expect(metric(page, label)).to_have_text(shown)
    expect(metric(page, "cosine similarity")).to_have_text("0.786")

    enter_text(page, "met_b", "1, 2, 3")
    expect(metric(page, "euclidean")).to_have_text("0")
    expect(metric(page, "cosine similarity")).to_have_text("1")
    expect(metric(page, "dot product")).to_have_text("14")
    assert_clean(page)


def test_quantization_binary_bits_follow_the_center(page: Page, server_url: str) -> None:
    first_view(page, f"{server_url}/quantization", "quantization")
    first = tables(page)[0]
    codes = numbers(first.rows[1][1:])
    assert first.rows[1][0] == "int8" and np.all((codes >= -128) & (codes <= 127))

    open_tab(page, "Storage")
    storage = tables(page)[0]
    # A lone float32 vector of 256 values: 1,024 bytes plus numpy's array header.
    float32 = storage.column("precision").index("float32")
    assert int(storage.column("bytes per vector")[float32]) == sys.getsizeof(
        np.zeros(256, np.float32)
    )
    # 10⁶ × 1,536 values: 1 byte each in int8, 4 in float32.
    expect(metric(page, "1,000,000 × 1,536 at int8")).to_have_text(
        f"1.54 GB = {1.536e9 / 2**20:,.2f} MiB"
    )
    expect(metric(page, "float32 for comparison")).to_have_text(
        f"6.14 GB = {6.144e9 / 2**20:,.2f} MiB"
    )

    open_tab(page, "Oversample and rescore")
    expect(page.get_by_text("40 candidates by int8")).to_be_visible()
    expect(metric(page, "int8 + rescore ×4")).to_have_text(re.compile(r"^\d+\.\d%$"))
    shoot(page, "quantization-rescore")

    open_tab(page, "Before and after")
    rerun(page, widget(page, "quant_precision").get_by_text("binary", exact=True).click)
    # The talk's centre by default: the mean of all the dataset's numbers, one for every dimension.
    expect(selected(page, "quant_center")).to_have_value("mean of all values")
    # Rows under the first 8 dimensions: float values, bits, the centre each is compared to.
    expect(cell(page, 0, 1, 0)).to_have_text("bit")
    before = tables(page)[0]
    values, bits, centre = (numbers(list(row[1:])) for row in before.rows)
    np.testing.assert_array_equal(bits, (values > centre).astype(float))
    assert len(set(centre)) == 1, centre

    choose(page, "quant_center", "each dimension's mean")
    expect(selected(page, "quant_center")).to_have_value("each dimension's mean")
    expect(cell(page, 0, 2, 1)).not_to_have_text("0")
    values, bits, centre = (numbers(list(row[1:])) for row in tables(page)[0].rows)
    np.testing.assert_array_equal(bits, (values > centre).astype(float))
    assert np.all(centre != 0), centre
    assert "quant_center=dim-mean" in page.url
    assert_clean(page)


def test_mrl_dims_slider_moves_the_cut(page: Page, server_url: str) -> None:
    first_view(page, f"{server_url}/mrl", "mrl")
    static_64 = metric(page, "static-minilm-256 at 64 dims").inner_text()

    press_slider(page, "mrl_dims")
    expect(slider_value(page, "mrl_dims")).to_have_text("65")
    expect(metric(page, "static-minilm-256 at 65 dims")).to_be_visible()
    assert "mrl_dims=65" in page.url

    open_tab(page, "One ranking")
    expect(page.get_by_text("Top 10 at 65 dimensions against all 256")).to_be_visible()
    expect(metric(page, "float32 bytes per vector")).to_have_text("260")  # 65 × 4 bytes
    press_slider(page, "mrl_dims", "ArrowLeft")
    expect(metric(page, "float32 bytes per vector")).to_have_text("256")

    # The copied link reopens the same view, here in a fresh session.
    link = page.url
    page.goto("about:blank")
    open_page(page, link)
    expect(slider_value(page, "mrl_dims")).to_have_text("64")
    expect(metric(page, "float32 bytes per vector")).to_have_text("256")
    open_tab(page, "Recall curves")
    expect(metric(page, "static-minilm-256 at 64 dims")).to_have_text(static_64)
    open_tab(page, "Full pipeline")
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1)
    shoot(page, "mrl-pipeline")
    assert_clean(page)


# ---------------------------------------------------------------- presenter mode


@pytest.mark.parametrize("name", PAGES)
def test_presenter_mode(page: Page, server_url: str, name: str) -> None:
    open_page(page, f"{server_url}{path(name)}?present=1")
    assert headings(page)[0] == TITLES[name]
    assert_clean(page)
    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
    # Bigger type for the back of the room than Streamlit's 16 px.
    font = page.evaluate("() => getComputedStyle(document.documentElement).fontSize")
    assert float(font.removesuffix("px")) > 16, font
    shoot(page, f"{name}-present")


# ---------------------------------------------------------------- deep links


def test_deep_link_similarity(page: Page, server_url: str) -> None:
    query = "sim_target=king&sim_k=5&sim_a=cat&sim_b=dog&sim_view=Neighbours"
    open_page(page, f"{server_url}/similarity?{query}")
    tab = page.get_by_test_id("stMain").get_by_role("tab", name="Neighbours", exact=True)
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(widget(page, "sim_target").locator("input")).to_have_value("king")
    expect(slider_value(page, "sim_k")).to_have_text("5")
    most = tables(page)[0]
    assert most.n_rows == 5 and "king" not in most.column("item")
    assert "queen" in most.column("item") + tables(page)[2].column("item")
    open_tab(page, "Two texts")
    expect(widget(page, "sim_a").locator("input")).to_have_value("cat")
    assert_clean(page)


def test_deep_link_metrics(page: Page, server_url: str) -> None:
    open_page(page, f"{server_url}/metrics?met_a=1,0&met_b=0,1&met_norm=0")
    # Two unit vectors at right angles.
    for label, value in {
        "euclidean": "1.41",
        "manhattan": "2",
        "dot product": "0",
        "cosine similarity": "0",
        "cosine distance": "1",
    }.items():
        expect(metric(page, label)).to_have_text(value)
    assert_clean(page)


def test_deep_link_search_and_quantization(page: Page, server_url: str) -> None:
    open_page(page, f"{server_url}/search?search_query=piano&search_k=3")
    expect(grid(page, 0)).to_have_attribute("aria-rowcount", "4")
    expect(cell(page, 0, 0, 1)).to_have_text("piano")
    expect(metric(page, "recall@3, this query")).to_be_visible()

    open_page(page, f"{server_url}/quantization?quant_precision=binary&quant_center=dim-median")
    expect(selected(page, "quant_center")).to_have_value("each dimension's median")
    open_tab(page, "Top-k")
    expect(metric(page, "recall@10, every item")).to_be_visible()
    expect(page).to_have_url(re.compile(r"quant_center=dim-median"))
    assert_clean(page)


def test_bad_deep_link_is_ignored_with_a_warning(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/mrl?mrl_dims=9999&mrl_k=abc")
    wait_for_app(page)
    warnings = page.get_by_test_id("stMain").get_by_role("alert").all_inner_texts()
    assert any("mrl_k" in w for w in warnings), warnings
    expect(slider_value(page, "mrl_k")).to_have_text("10")
    expect(slider_value(page, "mrl_dims")).to_have_text("64")
    assert_clean(page)
