"""Helpers for the end-to-end tests: open a page, drive widgets like a user, wait for the
rerun each change causes (and time it), read what the page shows, take screenshots. The
fixtures (the server, the browser, a tab per test) are in ``conftest.py``.

Waits rely on what the Streamlit frontend writes into the DOM, never on fixed sleeps alone:
``stApp`` carries ``data-test-script-state`` (``initial``, ``running``, ``notRunning``, ...),
elements from a previous run are marked ``data-stale="true"``, and lazily loaded widgets,
charts and grids show a ``stSkeleton`` or no inner ``svg``/``table`` until they are drawn.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page, ViewportSize, expect

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = ViewportSize(width=1280, height=720)
TIMEOUT_MS = 90_000  # a cold server loads models and embeds a dataset on the first page

# True once the page shows a finished run: nothing stale, no skeleton of a widget still
# loading, every chart and grid drawn.
_SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]')) return false;
  for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    if (!c.querySelector('.main-svg')) return false;
  for (const d of document.querySelectorAll('[data-testid="stDataFrame"]'))
    if (!d.querySelector('[role="grid"]')) return false;
  window.__settledAt = performance.now();
  return true;
}"""

# Arms a watcher of the script state and of the user's first key press or click after this
# point; ``window.__rerun.end`` is set when a run that started after arming has finished.
_ARM_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__rerun = {input: null, started: false, end: null};
  if (window.__rerunWatch) return;
  window.__rerunWatch = new MutationObserver((records) => {
    const r = window.__rerun;
    for (const m of records) if (m.oldValue === 'notRunning') r.started = true;
    if (app.getAttribute('data-test-script-state') === 'notRunning') {
      if (r.started) r.end = performance.now();
    } else {
      r.started = true;
    }
  });
  window.__rerunWatch.observe(app, {
    attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state'],
  });
  for (const type of ['keydown', 'pointerdown'])
    document.addEventListener(type, () => {
      if (window.__rerun.input === null) window.__rerun.input = performance.now();
    }, true);
}"""


# Loaded before the app: notes when the last message from the server arrived.
FRAMES_JS = """(() => {
  const Native = window.WebSocket;
  window.__lastFrame = 0;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { window.__lastFrame = performance.now(); });
    }
  };
})();"""

# True once the rerun armed by _ARM_JS has ended. A run fast enough that the frontend handles
# its start and its end in one render never shows "running" in the DOM: then the last message
# from the server after the input ends it, once the app has been idle for 200 ms.
_RERUN_ENDED_JS = """() => {
  const r = window.__rerun;
  if (r.end !== null) return true;
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app.getAttribute('data-test-script-state') === 'notRunning';
  const heard = r.input !== null && window.__lastFrame > r.input;
  if (!r.started && idle && heard && performance.now() - window.__lastFrame > 200) {
    r.end = window.__lastFrame;
    return true;
  }
  return false;
}"""

# Filled by test_timings.py, printed at the end of the run (conftest.pytest_terminal_summary).
TIMINGS: dict[str, dict[str, object]] = {}


def settle(pg: Page, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait until the last run has finished and everything it drew is on screen (checked
    on every animation frame)."""
    pg.wait_for_function(_SETTLED_JS, timeout=timeout_ms, polling="raf")


def wait_for_app(pg: Page, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait for the first run after opening a URL: a heading is drawn, the script has
    finished (``initial`` until it has started) and every element is drawn."""
    pg.get_by_test_id("stHeading").first.wait_for(timeout=timeout_ms)
    settle(pg, timeout_ms)


def open_page(pg: Page, url: str) -> None:
    """Go to ``url`` and wait until its first run is drawn."""
    pg.goto(url)
    wait_for_app(pg)


@dataclass(frozen=True)
class Rerun:
    """How long one widget change took, in seconds from the user's key press or click, on
    the browser's clock: until the script run it caused had finished, and until everything
    was drawn (to the animation frame)."""

    finished: float
    drawn: float


def rerun(pg: Page, act: Callable[[], None], timeout_ms: int = TIMEOUT_MS) -> Rerun:
    """Do ``act`` (a key press or click that changes a widget), wait until the rerun it
    causes has finished and is drawn; return how long that took."""
    pg.evaluate(_ARM_JS)
    act()
    pg.wait_for_function(_RERUN_ENDED_JS, timeout=timeout_ms, polling="raf")
    settle(pg, timeout_ms)
    pressed, ended, drawn = pg.evaluate(
        "() => [window.__rerun.input, window.__rerun.end, window.__settledAt]"
    )
    assert pressed is not None, "no key press or click reached the page"
    return Rerun(finished=(ended - pressed) / 1000, drawn=(drawn - pressed) / 1000)


def assert_clean(pg: Page) -> None:
    """No exception box, no traceback, no uncaught error text on the page."""
    exceptions = pg.get_by_test_id("stException")
    assert exceptions.count() == 0, exceptions.all_inner_texts()
    body = pg.locator("body").inner_text()
    assert "Traceback" not in body, body


def shoot(pg: Page, name: str, full_page: bool = False) -> Path:
    """Screenshot into ``tests/artifacts/<name>.png``: what a 1280x720 screen shows, or the
    whole page (the viewport grows to the page's height, since Streamlit scrolls its main
    block, not the document, and a plain full-page shot would stop at the fold)."""
    path = ARTIFACTS / f"{name}.png"
    if not full_page:
        pg.screenshot(path=path)
        return path
    height = pg.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    tall = ViewportSize(width=VIEWPORT["width"], height=max(height, VIEWPORT["height"]))
    pg.set_viewport_size(tall)
    try:
        settle(pg)
        # Plotly redraws at the new size after a debounced resize event, which leaves no
        # mark in the DOM to wait for.
        pg.wait_for_timeout(300)
        pg.screenshot(path=path, full_page=True)
    finally:
        pg.set_viewport_size(VIEWPORT)
    return path


# ---------------------------------------------------------------- reading the page


@dataclass(frozen=True)
class Table:
    """An ``st.dataframe`` as the browser holds it: header, the rows drawn so far (raw,
    unformatted values; a long table only has its visible rows in the DOM) and the total
    row count."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    n_rows: int

    def column(self, name: str) -> list[str]:
        """The drawn cells of column ``name``."""
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


def tables(pg: Page) -> list[Table]:
    """Every dataframe of the main area, in page order (read from the grids' accessible
    tables, which mirror what the canvas draws)."""
    raw = pg.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMain"] [role="grid"]')]
          .map(g => ({
            columns: [...g.querySelectorAll('thead th')].map(c => c.textContent),
            rows: [...g.querySelectorAll('tbody tr')]
              .map(r => [...r.querySelectorAll('td')].map(c => c.textContent)),
            n: Number(g.getAttribute('aria-rowcount')) - 1,
          }))"""
    )
    return [Table(tuple(t["columns"]), tuple(map(tuple, t["rows"])), t["n"]) for t in raw]


def metric(pg: Page, label: str) -> Locator:
    """The value of the ``st.metric`` labelled exactly ``label`` (a locator, so that
    ``expect`` can wait for it to change)."""
    box = pg.get_by_test_id("stMetric").filter(
        has=pg.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return box.first.get_by_test_id("stMetricValue")


def grid(pg: Page, table: int) -> Locator:
    """The ``table``-th dataframe of the main area; its ``aria-rowcount`` is 1 + its rows."""
    return pg.get_by_test_id("stMain").locator('[role="grid"]').nth(table)


def cell(pg: Page, table: int, row: int, column: int) -> Locator:
    """Cell (``row``, ``column``), from 0, of the ``table``-th dataframe of the main area."""
    return grid(pg, table).get_by_test_id(f"glide-cell-{column}-{row}")


def widget(pg: Page, key: str) -> Locator:
    """The element container of the widget with Streamlit ``key``."""
    return pg.locator(f".st-key-{key}")


def headings(pg: Page) -> list[str]:
    """Every title and subheader of the main area, in page order."""
    return pg.get_by_test_id("stMain").get_by_test_id("stHeading").all_inner_texts()


# ---------------------------------------------------------------- acting like a user


def enter_text(pg: Page, key: str, text: str) -> Rerun:
    """Replace the text of input ``key``, press Enter; return the rerun's timing."""
    box = widget(pg, key).locator("input")
    box.fill(text)
    return rerun(pg, lambda: box.press("Enter"))


def press_slider(pg: Page, key: str, keys: str = "ArrowRight") -> Rerun:
    """Focus slider ``key`` and press ``keys`` on it; return the rerun's timing."""
    thumb = widget(pg, key).get_by_role("slider")
    thumb.focus()
    return rerun(pg, lambda: thumb.press(keys))


def slider_value(pg: Page, key: str) -> Locator:
    """The value slider ``key`` shows on its thumb."""
    return widget(pg, key).get_by_test_id("stSliderThumbValue")


def choose(pg: Page, key: str, option: str) -> Rerun:
    """Open selectbox ``key`` and click ``option``; return the rerun's timing (from the
    click on the option)."""
    box = widget(pg, key).get_by_role("combobox")
    # A click on an open box would close it: open it only when it is closed.
    if box.get_attribute("aria-expanded") != "true":
        box.click()
    choice = pg.get_by_role("option", name=option, exact=True)
    expect(choice).to_be_visible()
    assert choice.get_attribute("aria-selected") != "true", f"{option!r} is already chosen"
    return rerun(pg, choice.click)


def selected(pg: Page, key: str) -> Locator:
    """The box of selectbox ``key``: its input's value is the option shown."""
    return widget(pg, key).get_by_role("combobox")


def open_tab(pg: Page, label: str) -> Rerun:
    """Click the tab ``label`` of the page's lazy tabs; return the rerun's timing (only the
    open tab's section runs)."""
    tab = pg.get_by_test_id("stMain").get_by_role("tab", name=label, exact=True)
    timing = rerun(pg, tab.click)
    expect(tab).to_have_attribute("aria-selected", "true")
    return timing
