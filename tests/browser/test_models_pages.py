"""The lessons of issue 13 in a real browser, in presenter mode at 1280x720: Embed shows
"queen" in every local model (lengths 50 to 768) above the table of every model, and
Similarity's Spread puts each model's range of "dog" against every word on one axis.
Screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

import pytest
from playwright.sync_api import FloatRect, Page, expect

from core.embedders.registry import LOCAL_FACTORIES, get_embedder
from tests.browser.helpers import VIEWPORT, assert_clean, headings, open_page, shoot

pytestmark = pytest.mark.browser

LOCAL = sorted(LOCAL_FACTORIES, key=lambda m: get_embedder(m).dims)


def _box(page: Page, test_id: str, index: int = 0) -> FloatRect:
    """Where element ``test_id`` number ``index`` of the main area is, in CSS pixels."""
    box = page.get_by_test_id("stMain").get_by_test_id(test_id).nth(index).bounding_box()
    assert box is not None
    return box


def test_embed_in_presenter_mode_shows_queen_in_every_local_model(
    page: Page, server_url: str
) -> None:
    open_page(page, f"{server_url}/embed?present=1")
    assert headings(page)[0] == "Embed"
    assert_clean(page)
    # The bars of every model and the row under them (numbers, table link, code) fit the
    # first screen.
    chart = _box(page, "stPlotlyChart")
    assert chart["y"] + chart["height"] <= VIEWPORT["height"], chart
    button = page.get_by_role("button", name="Each model's numbers")
    link = page.get_by_test_id("stMain").get_by_role("link", name="Every model, one table")
    for control in (button, link):
        box = control.bounding_box()
        assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"], box
    shoot(page, "models-embed-present")

    # Each model's numbers sit in the popover: its dimensions, norm and tokens, in order.
    button.click()
    body = page.get_by_test_id("stPopoverBody")
    expect(body.get_by_test_id("stMetricLabel").filter(has_text="dimensions")).to_have_count(
        len(LOCAL)
    )
    values = body.get_by_test_id("stMetricValue").all_inner_texts()
    assert values[::3] == [str(get_embedder(m).dims) for m in LOCAL]
    shoot(page, "models-embed-present-numbers")


def test_spread_in_presenter_mode_shows_each_models_range_of_dog(
    page: Page, server_url: str
) -> None:
    models = "".join(f"&models={m}" for m in LOCAL)
    open_page(page, f"{server_url}/similarity?present=1&sim_view=Spread&sim_target=dog{models}")
    assert headings(page)[0] == "Similarity"
    assert_clean(page)
    ranges = _box(page, "stPlotlyChart", 0)
    assert ranges["y"] + ranges["height"] <= VIEWPORT["height"], ranges
    # Each model's row: its name on the axis, its lowest and highest item beside the ends.
    chart = page.get_by_test_id("stMain").get_by_test_id("stPlotlyChart").first
    for model in LOCAL:
        expect(chart.locator(".ytick", has_text=model)).to_have_count(1)
    expect(chart.locator(".textpoint", has_text="puppy").first).to_be_visible()
    shoot(page, "models-spread-present")
