"""How fast the map is at 100k points: its reruns, headless and in Chromium from the key
press to the drawn chart. The projections and clusterings behind it (PCA, UMAP, t-SNE,
HDBSCAN) are timed by ``bench.bench_project``.

``python -m bench.bench_map`` runs the headless reruns and the Chromium timing at 100k;
``--n`` changes the size; ``--compare 3`` then times three rounds of both ways of drawing,
alternately (``st.plotly_chart``, then the in-place component). Numbers are wall-clock
seconds on this machine.

What a rerun costs in Chromium: Streamlit derives a selectable chart's widget id from its
figure JSON, so a rerun that changes the figure (k, the target, a colour) mounts a new
plot (WebGL contexts, shaders, buffers, plotly's newPlot, then a second full draw when
Streamlit's chart updates its state) instead of updating the old one. Measured with a
Chromium trace, most of it is the GPU process running WebGL in software (SwiftShader), the
page waiting on it to read the canvas back; a new plot costs about 0.5 s even at 10k points.
Above ``views._map.GL_MAP_POINTS`` points the map is therefore a component
(``views/_gl_map.py``) that keeps one graph and calls ``Plotly.react``: a k change redraws
once, with no new context, shaders or upload of the unchanged points.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence

from streamlit.testing.v1 import AppTest

from bench.classroom_client import REPO, StreamlitServer

APP = REPO / "bench" / "map_app.py"


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def headless(n: int) -> None:
    """A cold first run (embedding-free: PCA of n vectors), then reruns of each widget."""
    os.environ["MAP_BENCH_N"] = str(n)
    at = AppTest.from_file(str(APP), default_timeout=600)
    print(f"headless, {n:,} points: first run (PCA, cold) {_timed(at.run):.2f} s")
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    spec = len(charts[0].proto.spec) if charts else len(at.get("bidi_component")[0].proto.json)
    print(f"  figure JSON {spec / 2**20:.1f} MB")
    steps: list[tuple[str, Callable[[], object]]] = [
        ("rerun, nothing changed", lambda: None),
        (
            "colour by a numeric column",
            lambda: at.selectbox(key="sim_map_colour").set_value("score"),
        ),
        (
            "colour by category (30 values)",
            lambda: at.selectbox(key="sim_map_colour").set_value("category"),
        ),
        ("k 10 -> 11", lambda: at.slider(key="sim_k").set_value(11)),
        ("hover shows score", lambda: at.multiselect(key="sim_map_hover").set_value(["score"])),
        ("clusters on the map (cold)", lambda: at.radio(key="sim_map_clusters").set_value("map")),
        ("rerun with clusters", lambda: None),
    ]
    for name, change in steps:
        change()
        runs = [_timed(at.run)] + ([_timed(at.run) for _ in range(2)] if "cold" not in name else [])
        assert not at.exception, at.exception
        each = ", ".join(f"{r:.2f}" for r in runs)
        print(f"  {name:34} {statistics.median(runs):.2f} s  (runs: {each})", flush=True)


# When the in-place map (views/_gl_map.js) produced the frame after its last update, in
# seconds after the key press; null while it has not drawn since.
_GL_DRAWN_JS = """() => {
  const gd = document.querySelector('.explorer-gl-map');
  const at = gd ? Number(gd.dataset.drawnAt) : NaN;
  return at > window.__rerun.input ? (at - window.__rerun.input) / 1000 : null;
}"""


def chromium(n: int, reruns: int = 5, chart: bool = False) -> None:
    """The first draw, the rerun after a k-slider key press and after a colour change, in
    headless Chromium; with ``chart`` the map is an ``st.plotly_chart`` at any size (the way
    before the in-place component), for comparing the two on the same data."""
    from playwright.sync_api import Page, WebSocket, sync_playwright

    from tests.browser.helpers import (
        CHROMIUM,
        CHROMIUM_ARGS,
        VIEWPORT,
        Rerun,
        rerun,
        wait_for_app,
        widget,
    )

    env = {"MAP_BENCH_N": str(n)} | ({"MAP_BENCH_GL_POINTS": str(n)} if chart else {})
    server = StreamlitServer(launcher="bench.map_server", env=env)

    received: list[int] = []  # bytes of each websocket message from the server
    sent_mb: list[float] = []  # what each timed rerun brought, MB

    def timed(page: Page, act: Callable[[], None]) -> Rerun:
        # The component draws after the run's last message: wait for its frame too.
        received.clear()
        t = rerun(page, act)
        if not chart:
            drawn = page.wait_for_function(_GL_DRAWN_JS, timeout=120_000, polling="raf")
            t = Rerun(t.finished, max(t.drawn, float(drawn.json_value())))
        sent_mb.append(sum(received) / 2**20)
        return t

    def listen(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: received.append(len(payload)))

    def opened(page: Page) -> None:
        wait_for_app(page, timeout_ms=600_000)
        if not chart:
            page.wait_for_selector(".explorer-gl-map[data-drawn-at]", timeout=600_000)

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.on("websocket", listen)
            start = time.perf_counter()
            page.goto(server.url)
            opened(page)
            cold = time.perf_counter() - start
            way = "st.plotly_chart" if chart else "in-place component"
            print(f"chromium, {n:,} points, {way}: first draw (cold server) {cold:.2f} s")
            start = time.perf_counter()
            page.reload()
            opened(page)
            print(
                f"  first draw, new session (projection cached) {time.perf_counter() - start:.2f} s"
            )
            slider = page.get_by_test_id("stSlider").get_by_role("slider")
            sent_mb.clear()
            times = [timed(page, lambda: slider.press("ArrowRight")) for _ in range(reruns)]
            finished = statistics.median(t.finished for t in times)
            drawn = statistics.median(t.drawn for t in times)
            print(
                f"  rerun after a k key press: run done {finished:.2f} s, drawn {drawn:.2f} s, "
                f"{statistics.median(sent_mb):.2f} MB received (median of {reruns})"
            )
            box = widget(page, "sim_map_colour").get_by_role("combobox")

            def recolour(option: str) -> Rerun:
                box.click()
                choice = page.get_by_role("option", name=option, exact=True)
                choice.wait_for()
                return timed(page, choice.click)

            # Every point's colour changes: new base traces, sent and drawn again.
            options = ("score", "category") * (reruns // 2 + 1)
            sent_mb.clear()
            times = [recolour(option) for option in options[:reruns]]
            finished = statistics.median(t.finished for t in times)
            drawn = statistics.median(t.drawn for t in times)
            print(
                f"  rerun after a colour change (score <-> category): run done {finished:.2f} s, "
                f"drawn {drawn:.2f} s, {statistics.median(sent_mb):.2f} MB received "
                f"(median of {reruns})"
            )
            browser.close()
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="points on the map")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium timing")
    parser.add_argument(
        "--compare", type=int, default=0, help="then this many Chromium rounds of both ways"
    )
    args = parser.parse_args(argv)
    headless(args.n)
    if not args.no_browser:
        chromium(args.n)
    for _ in range(args.compare):
        chromium(args.n, chart=True)
        chromium(args.n)


if __name__ == "__main__":
    main()
