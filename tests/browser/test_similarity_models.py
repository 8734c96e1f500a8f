"""Similarity's Neighbours tab in presenter mode with every local model (four tables side by
side) in a 1280x720 Chromium tab: it fits the screen, and each table's header names its model
in full (the header is drawn on a canvas, so the name's width in the grid's header font is
compared with its column's). Screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

import pytest
from playwright.sync_api import FloatRect, Page

from core.embedders.registry import LOCAL_FACTORIES
from tests.browser.helpers import assert_clean, open_page, shoot, tables
from tests.browser.test_presenter_fit import measure

pytestmark = pytest.mark.browser

LOCAL = list(LOCAL_FACTORIES)
LINK = "/similarity?present=1&sim_view=Neighbours&sim_target=queen" + "".join(
    f"&models={m}" for m in LOCAL
)

# Each grid's header labels and their widths in px, measured in the header's type (the theme's
# font at 0.875 rem, as Streamlit's grid draws it).
_HEADER_JS = """() => {
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
  const ctx = document.createElement('canvas').getContext('2d');
  return [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stDataFrame"]')]
    .map(frame => {
      ctx.font = `${0.875 * rem}px ${getComputedStyle(frame).fontFamily}`;
      return [...frame.querySelectorAll('[role="grid"] thead th')]
        .map(th => [th.textContent, ctx.measureText(th.textContent).width]);
    });
}"""


def test_neighbours_with_four_models_fits_and_names_each_model(page: Page, server_url: str) -> None:
    open_page(page, server_url + LINK)
    assert_clean(page)
    shoot(page, "similarity-neighbours-four-models-present")
    fit = measure(page)
    assert fit.overflow == 0, fit
    assert [t.columns for t in tables(page)] == [("#", m, "cosine") for m in LOCAL]
    # Each name fits its column: the table's width less the rank and score columns
    # (views/similarity.py: RANK_PX, SCORE_PX) and the header's padding on both sides.
    widths = [box["width"] for box in _frames(page)]
    for (_, (name, text_px), _), table_px in zip(page.evaluate(_HEADER_JS), widths, strict=True):
        assert text_px + 2 * 8 <= table_px - 36 - 68 - 2, (name, text_px, table_px)
    # The least similar, folded under the tables, name each model in their header too.
    page.get_by_text("Least similar").click()
    least = page.get_by_test_id("stExpander").filter(has_text="Least similar")
    folded = least.get_by_test_id("stTable")
    for table, model in zip(folded.all(), LOCAL, strict=True):
        assert table.locator("th").nth(1).inner_text() == model
    shoot(page, "similarity-neighbours-four-models-least", full_page=True)


def _frames(page: Page) -> list[FloatRect]:
    """The main area's dataframes' boxes, in page order."""
    frames = page.get_by_test_id("stMain").get_by_test_id("stDataFrame").all()
    return [box for f in frames if (box := f.bounding_box()) is not None]
