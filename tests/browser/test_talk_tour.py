"""The tour in Chromium, in presenter mode at 1280x720: ``?tour=1`` opens step 1, the → key
walks every step (each on its page and tab, presenter mode kept), ← goes back, the arrow keys
leave a text box alone, and the Next and Previous buttons do what → and ← do. Every step fits
1280x720 with no vertical scroll, tour controls included. Each step is screenshot into
``tests/artifacts/present/tour-NN.png``; the time from the key press to the step's finished,
drawn run is written to ``tests/artifacts/present/tour_timings.json`` (numbers for the
report, not asserts: speed lives in benchmarks)."""

from __future__ import annotations

import json
import re
import time
from statistics import median
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from core.talk import TOUR
from tests.browser.helpers import assert_clean, headings, open_page, rerun, settle, widget
from tests.browser.test_presenter_fit import PRESENT, measure
from views.registry import PAGES

pytestmark = pytest.mark.browser

TITLES = {e.url_path: e.title for e in PAGES} | {"": "Embeddings Explorer"}


def at_step(pg: Page, number: int) -> dict[str, list[str]]:
    """Wait until step ``number`` is open and drawn; return the URL's query."""
    expect(pg).to_have_url(re.compile(rf"[?&]tour={number}(&|$)"), timeout=120_000)
    settle(pg, 120_000)
    bar = pg.get_by_test_id("stMain").get_by_text(f"{number} / {len(TOUR)}", exact=True)
    expect(bar).to_be_visible(timeout=120_000)
    settle(pg, 120_000)
    return parse_qs(urlsplit(pg.url).query)


def check_step(pg: Page, number: int, query: dict[str, list[str]]) -> None:
    """Step ``number`` shows its page, its settings and presenter mode."""
    step = TOUR[number - 1]
    assert urlsplit(pg.url).path == f"/{step.page}", (number, pg.url)
    assert headings(pg)[0] == TITLES[step.page]
    assert query["present"] == ["1"]
    for key, value in step.params.items():
        assert query.get(key) == [value], (number, key, query.get(key))
    if step.tab:
        selected = pg.get_by_test_id("stMain").get_by_role("tab", selected=True)
        expect(selected).to_have_text(step.tab)
    assert_clean(pg)


def press(pg: Page, key: str, number: int) -> tuple[float, dict[str, list[str]]]:
    """Press ``key`` with nothing focused; wait for step ``number``; return the seconds from
    the key press to its finished, drawn run, and the URL's query."""
    pg.evaluate("() => document.activeElement && document.activeElement.blur()")
    started = time.perf_counter()
    pg.keyboard.press(key)
    query = at_step(pg, number)
    return time.perf_counter() - started, query


def test_the_arrow_keys_walk_the_whole_tour(page: Page, server_url: str) -> None:
    PRESENT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    open_page(page, f"{server_url}/?tour=1&present=1")
    query = at_step(page, 1)
    seconds = {"first open, ?tour=1 on Home": time.perf_counter() - started}
    check_step(page, 1, query)
    page.screenshot(path=PRESENT / "tour-01.png")
    cold: list[float] = []
    overflow: dict[int, int] = {1: measure(page).overflow}
    for number in range(2, len(TOUR) + 1):
        took, query = press(page, "ArrowRight", number)
        cold.append(took)
        check_step(page, number, query)
        page.wait_for_timeout(300)  # plotly's debounced relayout
        page.screenshot(path=PRESENT / f"tour-{number:02d}.png")
        overflow[number] = measure(page).overflow
    # The last step has no next: → leaves it where it is.
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(500)
    assert at_step(page, len(TOUR))["tour"] == [str(len(TOUR))]
    # Backwards once more over every step, now that each has run once on this server.
    warm: list[float] = []
    for number in range(len(TOUR) - 1, 0, -1):
        took, query = press(page, "ArrowLeft", number)
        warm.append(took)
        check_step(page, number, query)
    seconds |= {
        "median forward (first visit)": median(cold),
        "max forward (first visit)": max(cold),
        "median backward (second visit)": median(warm),
        "max backward (second visit)": max(warm),
    }
    report = {
        "summary_s": seconds,
        "forward_s": {n: round(t, 3) for n, t in zip(range(2, len(TOUR) + 1), cold, strict=True)},
        "backward_s": {
            n: round(t, 3) for n, t in zip(range(len(TOUR) - 1, 0, -1), warm, strict=True)
        },
        "overflow_px": overflow,
    }
    (PRESENT / "tour_timings.json").write_text(json.dumps(report, indent=1))
    over = {n: px for n, px in overflow.items() if px}
    assert not over, f"tour steps overflow 1280x720 in presenter mode (step: px): {over}"


def test_arrow_keys_leave_text_boxes_and_sliders_alone_and_the_buttons_move(
    page: Page, server_url: str
) -> None:
    open_page(page, f"{server_url}/?tour=11&present=1")
    at_step(page, 11)  # Metrics: two vectors typed as text
    box = widget(page, "met_a").locator("input")
    box.click()
    box.press("ArrowRight")
    page.wait_for_timeout(1000)
    assert parse_qs(urlsplit(page.url).query)["tour"] == ["11"]
    widget(page, "tour_next").locator("button:visible").click()
    check_step(page, 12, at_step(page, 12))
    widget(page, "tour_prev").locator("button:visible").click()
    check_step(page, 11, at_step(page, 11))
    # A focused slider takes the arrow keys for itself.
    open_page(page, f"{server_url}/?tour=5&present=1")
    at_step(page, 5)  # Similarity: neighbours, k = 10
    rerun(page, lambda: widget(page, "sim_k").get_by_role("slider").press("ArrowRight"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["tour"] == ["5"] and query["sim_k"] == ["11"]
    # A step the offline app cannot show as the talk did says what to add.
    open_page(page, f"{server_url}/?tour=2&present=1")
    at_step(page, 2)  # Embed: "queen" in several models
    widget(page, "tour_data").locator("button:visible").click()
    expect(page.get_by_test_id("stPopoverBody").get_by_text("hosted-model form")).to_be_visible()
    page.screenshot(path=PRESENT / "tour-02-talk-data.png")
