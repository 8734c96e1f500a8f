"""The Search page's Engines tab in Chromium: open it from a deep link, build two engines,
read the table, and screenshot it (normal and presenter mode) into ``tests/artifacts/``."""

from __future__ import annotations

import contextlib
import time

import psutil
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import assert_clean, open_page, rerun, shoot, tables
from tests.browser.test_presenter_fit import measure

pytestmark = pytest.mark.browser

LINK = "/search?search_view=Engines&engines_chosen=exhaustive&engines_chosen=hnswlib"


def build(page: Page) -> None:
    rerun(page, page.get_by_role("button", name="Build engines").click, timeout_ms=120_000)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1)


def test_engines_tab_builds_and_measures(page: Page, server_url: str) -> None:
    open_page(page, server_url + LINK)
    tab = page.get_by_test_id("stMain").get_by_role("tab", name="Engines", exact=True)
    expect(tab).to_have_attribute("aria-selected", "true")
    shoot(page, "engines_before_build")
    build(page)
    measured = next(t for t in tables(page) if "ms/query" in t.columns)
    assert measured.column("engine") == ["exhaustive", "hnswlib"]
    assert measured.column("recall@10")[0] == "1"
    assert_clean(page)
    shoot(page, "engines")
    shoot(page, "engines_full", full_page=True)
    # Every expander open: the engine list, one query's top-k, the cloud settings.
    for label in (
        "One query, every engine's top-k",
        "Every engine, and its parameters",
        "Settings for the systems that only run in a cloud",
    ):
        page.get_by_test_id("stExpander").filter(has_text=label).locator("summary").click()
    expect(page.get_by_text("Format: Azure AI Search REST API 2025-09-01")).to_be_visible()
    shoot(page, "engines_expanded", full_page=True)
    assert_clean(page)


def test_engines_tab_fits_a_presenter_screen(page: Page, server_url: str) -> None:
    open_page(page, server_url + LINK + "&present=1")
    build(page)
    shoot(page, "engines_present")
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    # The chart fits the screen, and the row of popovers under it (the table, one query, ...).
    chart = page.get_by_test_id("stPlotlyChart").bounding_box()
    assert chart is not None and chart["y"] + chart["height"] <= 720, (chart, height)
    fit = measure(page)  # as the presenter-fit test measures every tab
    assert fit.overflow == 0, fit
    assert_clean(page)


def test_the_rescoring_factor_curves(page: Page, server_url: str) -> None:
    """IVF-PQ re-ranked in faiss and binary HNSW re-ranked in PostgreSQL: the chart's
    curves sweep their rescoring factors (k_factor, oversample)."""
    chosen = ("exhaustive", "faiss-ivfpq-rerank", "pgvector-binary")
    link = "/search?search_view=Engines&" + "&".join(f"engines_chosen={c}" for c in chosen)
    open_page(page, server_url + link + "&engines_faiss_ivfpq_rerank_nprobe=64")
    build(page)
    measured = next(t for t in tables(page) if "ms/query" in t.columns)
    assert measured.column("engine") == list(chosen)
    chart = page.get_by_test_id("stPlotlyChart")
    for legend in ("faiss-ivfpq-rerank (k_factor)", "pgvector-binary (oversample)"):
        expect(chart.get_by_text(legend)).to_be_visible()
    # Each curve is drawn in the order of its rescoring factor, however noisy the latencies
    # (pgvector-binary's would fold its line back if it were drawn in time order); the recall
    # axis fits the points and stops just above 1.
    drawn = chart.locator(".js-plotly-plot").evaluate(
        "p => ({traces: p.data.map(t => ({text: t.text, y: Array.from(t.y)})),"
        " range: p.layout.yaxis.range})"
    )
    for trace in drawn["traces"][1:]:
        factors = [float(t.split("=")[1]) for t in trace["text"]]
        assert factors == sorted(factors) and len(factors) > 2, trace
    lowest = min(y for t in drawn["traces"] for y in t["y"])
    assert drawn["range"][0] <= lowest and drawn["range"][1] == pytest.approx(1.02)
    assert_clean(page)
    shoot(page, "engines_rescoring", full_page=True)


# A diskann graph that takes a minute or more to build on this machine: long enough to stop.
SLOW_GRAPH = (
    "/search?search_view=Engines&engines_chosen=diskann&engines_source=synthetic"
    "&engines_n=20000&engines_diskann_graph_degree=64&engines_diskann_complexity=300"
)


def graph_builders() -> list[psutil.Process]:
    """The child processes (of this test run's server) that run a library call."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "core.child" in " ".join(child.cmdline()):
                found.append(child)
    return found


def start_the_graph_build(page: Page, server_url: str) -> None:
    open_page(page, server_url + SLOW_GRAPH)
    page.get_by_role("button", name="Build engines").click()
    expect(page.get_by_text("diskann: building the Vamana graph")).to_be_visible(timeout=120_000)
    assert graph_builders(), "the graph is built in a child process"


def assert_no_graph_builder_within(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while graph_builders() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not graph_builders()


def test_cancel_stops_diskanns_graph_build(page: Page, server_url: str) -> None:
    """Cancel during the graph step (the real path: Streamlit's fast rerun, the bar's update
    in the waiting loop) says so at once and leaves no child process."""
    start_the_graph_build(page, server_url)
    page.get_by_role("button", name="Cancel").click()
    expect(
        page.get_by_text("Build cancelled; the engines built before it are kept.")
    ).to_be_visible(timeout=5_000)
    assert_no_graph_builder_within(5.0)
    expect(page.get_by_text("building the Vamana graph")).to_have_count(0)


def test_a_closed_tab_stops_diskanns_graph_build(page: Page, server_url: str) -> None:
    """Closing the tab stops its session's run; the build's next bar update ends it, so the
    server's long-job slot is not held until the graph is done."""
    start_the_graph_build(page, server_url)
    page.close()
    assert_no_graph_builder_within(10.0)
