"""Fixtures for the end-to-end tests: a real Streamlit server, one headless Chromium and a
fresh tab per test. What the tests do with a tab (open a page, drive widgets, wait for reruns,
read tables) is in ``helpers.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from bench.classroom_client import StreamlitServer
from tests.browser.helpers import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    FRAMES_JS,
    TIMINGS,
    VIEWPORT,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``browser`` (each one starts Chromium and a server), so
    that ``-m "not browser"`` leaves them all out, including files that forget ``pytestmark``."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the rerun timings measured in this run, if any."""
    if not TIMINGS:
        return
    terminalreporter.write_sep("-", "rerun medians, key press to end of run / to drawn")
    for name, t in TIMINGS.items():
        terminalreporter.write_line(
            f"{name:32} {t['median_finished_s']:6.3f} s  {t['median_drawn_s']:6.3f} s"
            f"   (first, cold: {t['first_change_cold_s']:.3f} s)"
        )


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``streamlit run explorer_app.py`` on a free loopback port (the classroom
    bench's launcher, with the project's config); stop it afterwards."""
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    server = StreamlitServer(log_path=log_path)
    try:
        yield server.url
    finally:
        server.close()
    assert "Traceback" not in server.log_text(), server.log_text()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session (Debian's, not a Playwright download)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"No browser at {CHROMIUM}: install Debian's chromium (make browser).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh 1280x720 tab (its own Streamlit session). Uncaught JavaScript errors are
    collected and fail the test at teardown."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(FRAMES_JS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
