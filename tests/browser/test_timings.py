"""How long a widget change takes in the browser, with the server's caches warm.

On four pages, one widget goes back and forth between two values: one unmeasured change
fills the caches for the second value, then ``N`` measured changes each rerun the page with
every cached result available. Each time runs from the key press or click to the end of the
script run (and to the last element drawn), on the browser's clock. The medians go to
``tests/artifacts/timings.json`` and the test output; speed goals live in ``bench/``, so
nothing here is asserted about speed, only that every rerun completes and shows the change.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote_plus

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    ARTIFACTS,
    TIMINGS,
    Rerun,
    choose,
    enter_text,
    open_page,
    press_slider,
    selected,
    slider_value,
)

pytestmark = pytest.mark.browser

N = 7


@dataclass(frozen=True)
class Toggle:
    """A widget moved between two values: ``to(page, value)`` makes the change and returns
    its timing, ``shows(page, value)`` waits until the page shows that value."""

    url: str
    values: tuple[str, str]
    to: Callable[[Page, str], Rerun]
    shows: Callable[[Page, str], None]


def _slide(key: str, low: str) -> Callable[[Page, str], Rerun]:
    return lambda pg, value: press_slider(pg, key, "ArrowLeft" if value == low else "ArrowRight")


def _similarity_k_shows(pg: Page, value: str) -> None:
    expect(slider_value(pg, "sim_k")).to_have_text(value)


def _search_shows(pg: Page, value: str) -> None:
    expect(pg).to_have_url(re.compile(f"search_query={re.escape(quote_plus(value))}(&|$)"))


def _mrl_shows(pg: Page, value: str) -> None:
    expect(slider_value(pg, "mrl_dims")).to_have_text(value)
    expect(pg.get_by_text(f"Top 10 at {value} dimensions against all 256")).to_be_visible()


def _centre_shows(pg: Page, value: str) -> None:
    expect(selected(pg, "quant_center")).to_have_value(value)


TOGGLES = {
    "similarity k slider": Toggle(
        "/similarity?sim_view=Neighbours", ("10", "11"), _slide("sim_k", "10"), _similarity_k_shows
    ),
    "search query": Toggle(
        "/search",
        ("a loyal dog", "a fast car"),
        lambda pg, value: enter_text(pg, "search_query", value),
        _search_shows,
    ),
    "mrl dims slider": Toggle(
        "/mrl?mrl_view=One+ranking", ("64", "65"), _slide("mrl_dims", "64"), _mrl_shows
    ),
    "quantization binary centre": Toggle(
        "/quantization?quant_precision=binary",
        ("mean of all values", "each dimension's mean"),
        lambda pg, value: choose(pg, "quant_center", value),
        _centre_shows,
    ),
}


@pytest.fixture(scope="module", autouse=True)
def write_timings() -> Iterator[None]:
    """After the module: write every scenario's timings to ``timings.json`` (the run's
    summary prints the medians)."""
    yield
    if TIMINGS:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.mark.parametrize("name", list(TOGGLES))
def test_rerun_time(page: Page, server_url: str, name: str) -> None:
    toggle = TOGGLES[name]
    first, second = toggle.values
    open_page(page, server_url + toggle.url)
    toggle.shows(page, first)
    warmup = toggle.to(page, second)
    toggle.shows(page, second)

    runs: list[Rerun] = []
    for i in range(N):
        value = toggle.values[i % 2]
        runs.append(toggle.to(page, value))
        toggle.shows(page, value)
    assert len(runs) == N and all(r.drawn >= r.finished > 0 for r in runs), runs

    TIMINGS[name] = {
        "url": toggle.url,
        "changes": N,
        "median_finished_s": round(statistics.median(r.finished for r in runs), 3),
        "median_drawn_s": round(statistics.median(r.drawn for r in runs), 3),
        "finished_s": [round(r.finished, 3) for r in runs],
        "drawn_s": [round(r.drawn, 3) for r in runs],
        "first_change_cold_s": round(warmup.finished, 3),
    }
