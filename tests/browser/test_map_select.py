"""The map in a real browser: a lasso drawn with the mouse lists exactly the points inside it
(worked out independently from the drawn figure's coordinates), in presenter mode the map
and its controls fit a 1280x720 screen, and Cancel ends a t-SNE's child process."""

from __future__ import annotations

import html
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.datasets import load_dataset
from tests.browser.helpers import assert_clean, open_page, rerun, settle, shoot, tables

pytestmark = pytest.mark.browser

# Every data point's label and position in page pixels, read from the drawn plotly figure
# (its own axis conversion), leaving out the markers drawn over the target's neighbours.
_POINTS_JS = """() => {
  const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
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


def test_lasso_lists_the_points_inside_it(page: Page, server_url: str) -> None:
    open_page(page, f"{server_url}/similarity?sim_view=Map&sim_target=")
    drawn = page.evaluate(_POINTS_JS)
    assert drawn["dragmode"] == "lasso"
    left, top, width, height = drawn["plot"]
    # A diamond around the middle of the plot, drawn in many small mouse steps.
    cx, cy, rx, ry = left + width / 2, top + height / 2, width / 5, height / 4
    corners = [(cx, cy - ry), (cx + rx, cy), (cx, cy + ry), (cx - rx, cy)]
    path = []
    for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1], strict=True):
        path += [(x1 + (x2 - x1) * s / 10, y1 + (y2 - y1) * s / 10) for s in range(10)]
    dataset = load_dataset("words")
    expected = sorted(
        (html.unescape(label) for label, x, y in drawn["points"] if _inside(x, y, path)),
        key=dataset.index_of,
    )
    assert 5 < len(expected) < len(dataset)

    def lasso() -> None:
        page.mouse.move(*path[0])
        page.mouse.down()
        for point in [*path[1:], path[0]]:
            page.mouse.move(*point)
        page.mouse.up()

    rerun(page, lasso)
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
