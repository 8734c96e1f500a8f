"""In a real browser, text from a link or an uploaded file is shown as text: no live link,
no image fetched, no HTML inside a chart."""

from __future__ import annotations

import json
from urllib.parse import quote, urlparse

import numpy as np
from playwright.sync_api import Page, expect

from tests.browser.helpers import assert_clean, open_page, settle, shoot

EVIL = "http://evil.example"
LINK = f"[click]({EVIL}/)"
IMAGE = f"![x]({EVIL}/i.png)"
HTML_LABEL = f'<a href="{EVIL}/">boom</a>'
SPAN_LABEL = '<span style="font-size:90px">big</span>'


def _no_evil_elements(page: Page) -> None:
    found = page.evaluate(
        """(evil) => [...document.querySelectorAll('a[href], img[src], image')]
             .map(e => e.getAttribute('href') || e.getAttribute('src') || '')
             .filter(u => u.includes(evil))""",
        "evil.example",
    )
    assert found == [], found


def test_deep_link_markdown_is_shown_as_text(page: Page, server_url: str) -> None:
    asked: list[str] = []
    page.on(
        "request",
        lambda r: asked.append(r.url) if "evil.example" in urlparse(r.url).netloc else None,
    )
    url = f"{server_url}/similarity?sim_view=Neighbours&sim_k={quote(LINK)}"
    open_page(page, f"{url}&sim_target={quote(IMAGE)}")
    main = page.get_by_test_id("stMain")
    warning = main.get_by_role("alert").filter(has_text="sim_k")
    expect(warning).to_contain_text(LINK)
    # Shown as typed (the word joiner that defuses "http:" is invisible).
    shown = main.inner_text().replace("\u2060", "")
    assert f"{IMAGE!r} is not an item of words" in shown, shown
    _no_evil_elements(page)
    assert asked == []
    shoot(page, "injection-deep-link")
    assert_clean(page)


def test_uploaded_html_labels_are_shown_as_text_on_the_map(page: Page, server_url: str) -> None:
    rng = np.random.default_rng(0)
    labels = [HTML_LABEL, SPAN_LABEL, LINK, *(f"item{i}" for i in range(20))]
    data = {label: rng.normal(size=8).round(4).tolist() for label in labels}
    open_page(page, f"{server_url}/similarity?dataset=upload&sim_view=Map")
    page.get_by_test_id("stSidebar").locator("input[type=file]").first.set_input_files(
        {
            "name": "vectors.json",
            "mimeType": "application/json",
            "buffer": json.dumps(data).encode(),
        }
    )
    # The link opened the Map tab: the upload's map is drawn without another click.
    chart = page.get_by_test_id("stPlotlyChart")
    expect(chart).to_be_visible(timeout=60_000)
    expect(page.get_by_role("tab", selected=True)).to_have_text("Map")
    settle(page)
    # The target (the first item) is named on the map: its label drawn as plain text.
    texts = chart.locator("text").all_text_contents()
    assert HTML_LABEL in texts, texts
    _no_evil_elements(page)
    assert chart.locator("[style*='font-size: 90px'], [style*='font-size:90px']").count() == 0
    shoot(page, "injection-upload-map")
    assert_clean(page)
