"""Presenter mode fits the screen (issue 15 §1): every tab of every page, opened with
``?present=1`` in a 1280x720 Chromium tab, shows its controls and its main figure or table
whole, with no vertical scroll. Each view is screenshot into ``tests/artifacts/present/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page

from tests.browser.helpers import ARTIFACTS, VIEWPORT, assert_clean, open_page, settle
from views.registry import PAGES

pytestmark = pytest.mark.browser

PRESENT = ARTIFACTS / "present"

# Each page's lazy tabs: the URL key of ``_ui.view_tabs`` and its labels, in page order.
TABS: dict[str, tuple[str, tuple[str, ...]]] = {
    "similarity": ("sim_view", ("Two texts", "Neighbours", "Spread", "Map", "Analogies")),
    "search": (
        "search_view",
        ("1 · Embed the query", "2 · Search", "3 · Results", "Scale lab", "Engines"),
    ),
    "metrics": ("met_view", ("Two vectors", "On real data", "Unit length, checked")),
    "quantization": (
        "quant_view",
        ("Before and after", "Top-k", "Oversample and rescore", "Storage"),
    ),
    "mrl": ("mrl_view", ("Recall curves", "One ranking", "Full pipeline")),
}

# The bottom edge of the page's content (its last element shown, an expander's header or a
# popover's button included; Streamlit's empty padding under the content and the inside of
# folded expanders do not count) and of its main figure
# or table: the largest chart, dataframe or table of the main block. Both in px from the top
# of the screen, the page unscrolled.
_MEASURE_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  main.scrollTop = 0;
  let content = 0;
  for (const el of main.querySelectorAll('[data-testid="stElementContainer"]')) {
    // A folded expander keeps its content laid out under an inert, zero-height box.
    if (el.closest('[inert], details:not([open])')) continue;
    const r = el.getBoundingClientRect();
    if (r.height > 0) content = Math.max(content, r.bottom);
  }
  // Expanders' headers, folded or not, and popovers' buttons (unless themselves folded away).
  for (const el of main.querySelectorAll('details > summary, [data-testid="stPopover"]')) {
    const outer = el.tagName === 'SUMMARY' ? el.parentElement.parentElement : el;
    if (outer.closest('[inert], details:not([open])')) continue;
    const r = el.getBoundingClientRect();
    if (r.height > 0) content = Math.max(content, r.bottom);
  }
  const kinds = '[data-testid="stPlotlyChart"], [data-testid="stDataFrame"], '
    + '[data-testid="stTable"], [data-testid="stVegaLiteChart"]';
  let element = null, area = 0;
  for (const el of main.querySelectorAll(kinds)) {
    const r = el.getBoundingClientRect();
    if (r.width * r.height > area) { area = r.width * r.height; element = r.bottom; }
  }
  return {content, element, scroll: main.scrollHeight};
}"""


@dataclass(frozen=True)
class Fit:
    """Where a view ends on the screen, in CSS px from its top: its last element, its main
    figure or table (None when it has none), and the main block's scroll height."""

    content_bottom: float
    element_bottom: float | None
    scroll_height: int  # the main block's, Streamlit's padding under the content included

    @property
    def overflow(self) -> int:
        """Pixels of content below the 720-px screen (0 when it fits)."""
        return max(0, round(self.content_bottom) - VIEWPORT["height"])


def measure(pg: Page) -> Fit:
    """Measure the view as it is drawn now (after ``settle``)."""
    raw = pg.evaluate(_MEASURE_JS)
    return Fit(raw["content"], raw["element"], raw["scroll"])


def case_id(page: str, tab: str) -> str:
    return f"{page or 'home'}-{tab}" if tab else page or "home"


def cases() -> list[object]:
    """Every (page, tab) pair."""
    return [
        pytest.param(entry.url_path, tab, id=case_id(entry.url_path, tab))
        for entry in PAGES
        for tab in TABS.get(entry.url_path, ("", ("",)))[1]
    ]


@pytest.mark.parametrize(("path", "tab"), cases())
def test_presenter_view_fits_1280x720(page: Page, server_url: str, path: str, tab: str) -> None:
    query = {"present": "1"}
    if tab:
        query[TABS[path][0]] = tab
    open_page(page, f"{server_url}/{path}?{urlencode(query)}")
    settle(page)
    page.wait_for_timeout(300)  # plotly's debounced relayout leaves no mark to wait for
    assert_clean(page)
    if tab:
        shown = page.get_by_test_id("stMain").get_by_role("tab").all_inner_texts()
        assert tuple(shown) == TABS[path][1], f"{path}: tabs are {shown}, this test lists others"
        selected = page.get_by_test_id("stMain").get_by_role("tab", selected=True)
        assert selected.inner_text() == tab
    PRESENT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=PRESENT / f"{case_id(path, tab)}.png")
    fit = measure(page)
    assert fit.overflow == 0, (
        f"{case_id(path, tab)} overflows 1280x720 by {fit.overflow} px in presenter mode "
        f"(content ends at {fit.content_bottom:.0f} px, main figure or table at "
        f"{fit.element_bottom} px, main block {fit.scroll_height} px high with its padding)"
    )
