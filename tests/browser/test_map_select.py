"""The map in a real browser: a lasso drawn with the mouse lists exactly the points inside it
(worked out independently from the drawn figure's coordinates), in presenter mode the map
and its controls fit a 1280x720 screen, and Cancel ends a t-SNE's child process."""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.datasets import load_dataset
from tests.browser.helpers import assert_clean, open_page, rerun, settle, shoot, tables

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
GL_MAP = ".explorer-gl-map"  # the in-place map above views._map.GL_MAP_POINTS points
BIG = 25_000  # points on the synthetic map (bench/map_app.py) that the component draws

# Every data point's label and position in page pixels, read from the drawn plotly figure
# (its own axis conversion) that ``selector`` names, leaving out the markers drawn over the
# target's neighbours.
_POINTS_JS = """(selector) => {
  const gd = document.querySelector(selector);
  const box = gd.getBoundingClientRect();
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, size = gd._fullLayout._size;
  const points = [];
  for (const t of gd._fullData) {
    if (t.name === 'neighbours' || t.name === 'target') continue;
    for (let i = 0; i < t.x.length; i++)
      points.push([t.hovertext[i], box.left + xa._offset + xa.l2p(t.x[i]),
                   box.top + ya._offset + ya.l2p(t.y[i])]);
  }
  return {points, plot: [box.left + size.l, box.top + size.t, size.w, size.h],
          dragmode: gd._fullLayout.dragmode};
}"""


def _inside(x: float, y: float, polygon: list[tuple[float, float]]) -> bool:
    """Ray casting: is (x, y) inside the closed polygon?"""
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _diamond(plot: list[float]) -> list[tuple[float, float]]:
    """A diamond around the middle of the plot area ``[left, top, width, height]`` (page
    pixels), as many small mouse steps."""
    left, top, width, height = plot
    cx, cy, rx, ry = left + width / 2, top + height / 2, width / 5, height / 4
    corners = [(cx, cy - ry), (cx + rx, cy), (cx, cy + ry), (cx - rx, cy)]
    path = []
    for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1], strict=True):
        path += [(x1 + (x2 - x1) * s / 10, y1 + (y2 - y1) * s / 10) for s in range(10)]
    return path


def _edge_distance(x: float, y: float, polygon: list[tuple[float, float]]) -> float:
    """Pixels from (x, y) to the nearest edge of the closed polygon."""
    best = float("inf")
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy or 1.0)))
        best = min(best, math.hypot(x - x1 - t * dx, y - y1 - t * dy))
    return best


def _lasso(page: Page, path: list[tuple[float, float]]) -> None:
    page.mouse.move(*path[0])
    page.mouse.down()
    for point in [*path[1:], path[0]]:
        page.mouse.move(*point)
    page.mouse.up()


def test_lasso_lists_the_points_inside_it(page: Page, server_url: str) -> None:
    open_page(page, f"{server_url}/similarity?sim_view=Map&sim_target=")
    drawn = page.evaluate(_POINTS_JS, CHART)
    assert drawn["dragmode"] == "lasso"
    path = _diamond(drawn["plot"])
    dataset = load_dataset("words")
    expected = sorted(
        (html.unescape(label) for label, x, y in drawn["points"] if _inside(x, y, path)),
        key=dataset.index_of,
    )
    assert 5 < len(expected) < len(dataset)

    rerun(page, lambda: _lasso(page, path))
    assert_clean(page)
    expect(page.get_by_text(f"{len(expected)} selected", exact=True)).to_be_visible()
    listed = next(t for t in tables(page) if "item" in t.columns and "category" in t.columns)
    assert listed.n_rows == len(expected)
    shown = listed.column("item")
    assert shown and shown == expected[: len(shown)]
    # The centroid's neighbours: a ranked list, flagged when they are in the selection.
    centroid = next(t for t in tables(page) if "selected" in t.columns)
    assert centroid.column("rank")[:3] == ["1", "2", "3"]
    page.get_by_test_id("stMain").evaluate("main => main.scrollTo(0, main.scrollHeight)")
    shoot(page, "map_lasso_selection", full_page=True)


def test_presenter_map_and_controls_fit_one_screen(page: Page, server_url: str) -> None:
    open_page(page, f"{server_url}/similarity?sim_view=Map&present=1")
    assert_clean(page)
    shoot(page, "map_presenter")
    chart = page.get_by_test_id("stPlotlyChart").first.bounding_box()
    assert chart is not None and chart["y"] + chart["height"] <= 720
    # One row of controls above the map; the rarer settings open from "More".
    boxes = [
        page.locator(f".st-key-{key}").bounding_box() for key in ("sim_target", "sim_map_colour")
    ]
    boxes.append(page.get_by_test_id("stPopoverButton").first.bounding_box())
    for box in boxes:
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= chart["y"]


def _job_children() -> list[int]:
    """Processes that core.child started under the Streamlit server this test session runs."""
    from tests.test_child import child_pids

    def cmdline(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            return ""

    servers = [p for p in child_pids() if "streamlit" in cmdline(p)]
    return [c for s in servers for c in child_pids(s) if "core.child" in cmdline(c)]


def test_cancel_stops_the_tsne_child_process(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/similarity?sim_view=Map&sim_proj=tsne&sim_proj_dims=3")
    cancel = page.locator(".st-key-sim_map_cancel_projection button")
    cancel.wait_for(timeout=90_000)
    assert _job_children(), "t-SNE should be running in a child process"
    expect(page.get_by_text("t-SNE of 1,114 vectors")).to_be_visible()
    cancel.click()
    expect(page.get_by_text("t-SNE of 1,114 vectors: cancelled")).to_be_visible(timeout=30_000)
    settle(page)
    assert_clean(page)
    deadline = time.monotonic() + 5
    while _job_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _job_children()
    # Meanwhile the map shows PCA, and a button runs t-SNE again.
    expect(page.get_by_text("PCA of 1,114 words vectors", exact=False)).to_be_visible()
    expect(page.locator(".st-key-sim_map_again_projection button")).to_be_visible()
    shoot(page, "map_tsne_cancelled")


@pytest.fixture(scope="module")
def big_map_url() -> Iterator[str]:
    """A server of the map benchmark (bench/map_app.py) over ``BIG`` synthetic points."""
    from bench.classroom_client import StreamlitServer

    server = StreamlitServer(launcher="bench.map_server", env={"MAP_BENCH_N": str(BIG)})
    try:
        yield server.url
    finally:
        server.close()


# Seconds from the armed key press or click until the in-place map produced its next frame.
_GL_DRAWN_JS = """() => {
  const at = Number(document.querySelector('.explorer-gl-map').dataset.drawnAt);
  return at > window.__rerun.input ? (at - window.__rerun.input) / 1000 : null;
}"""


def test_a_big_map_updates_in_place_hovers_and_lassoes(page: Page, big_map_url: str) -> None:
    open_page(page, big_map_url)
    page.locator(f"{GL_MAP}[data-drawn-at]").wait_for(timeout=120_000)
    assert not page.get_by_test_id("stPlotlyChart").count()
    # The controls take the top of the screen: bring the whole map into view.
    page.locator(GL_MAP).evaluate("gd => gd.scrollIntoView({block: 'center'})")
    drawn = page.evaluate(_POINTS_JS, GL_MAP)
    assert len(drawn["points"]) == BIG and drawn["dragmode"] == "lasso"
    # Hover over a drawn point names an item drawn under the mouse (points overlap).
    label, x, y = drawn["points"][len(drawn["points"]) // 2]
    page.mouse.move(x, y)
    hover = page.locator(f"{GL_MAP} .hoverlayer .hovertext").first
    hover.wait_for(timeout=10_000)
    shown = hover.text_content() or ""
    near = [p for p in drawn["points"] if abs(p[1] - x) <= 4 and abs(p[2] - y) <= 4]
    assert any(p[0] in shown for p in near), (shown, near[:5])
    # A k press updates the same graph: the neighbour markers grow by one, nothing remounts.
    page.evaluate(f"() => {{ document.querySelector('{GL_MAP}').__kept = true; }}")
    before = page.evaluate(f"() => document.querySelector('{GL_MAP}')._fullData.at(-2).x.length")
    slider = page.get_by_test_id("stSlider").get_by_role("slider")
    rerun(page, lambda: slider.press("ArrowRight"))
    page.wait_for_function(_GL_DRAWN_JS, timeout=60_000)
    assert page.evaluate(f"() => document.querySelector('{GL_MAP}').__kept === true")
    after = page.evaluate(f"() => document.querySelector('{GL_MAP}')._fullData.at(-2).x.length")
    assert after == before + 1
    # A lasso lists exactly the points inside it, in dataset order (the key press scrolled
    # the slider into view: bring the map back and read the points again).
    page.locator(GL_MAP).evaluate("gd => gd.scrollIntoView({block: 'center'})")
    drawn = page.evaluate(_POINTS_JS, GL_MAP)
    path = _diamond(drawn["plot"])
    # Dense points sit on the lasso's edges, where a pixel decides: those may go either way.
    edge = {label for label, x, y in drawn["points"] if _edge_distance(x, y, path) < 1.5}
    inside = {label for label, x, y in drawn["points"] if _inside(x, y, path)} - edge
    assert 5 < len(inside) < BIG
    rerun(page, lambda: _lasso(page, path))
    assert_clean(page)
    count = page.get_by_text(re.compile(r"^[\d,]+ selected$")).first.text_content() or ""
    selected = int(count.split()[0].replace(",", ""))
    assert len(inside) <= selected <= len(inside | edge)
    listed = next(t for t in tables(page) if "item" in t.columns and "category" in t.columns)
    assert listed.n_rows == min(selected, 500)
    items = listed.column("item")
    numbers = [int(item.split()[-1]) for item in items]
    assert items and set(items) <= inside | edge and numbers == sorted(numbers)
    shoot(page, "map_big_lasso")
