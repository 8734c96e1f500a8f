"""Record a real Chromium session of the classroom scenario as the replay bench's fixture.

``python -m bench.record_classroom`` starts the app, opens the Similarity deep link in
headless Chromium, does the scenario's widget changes (``bench.classroom_scenario.STEPS``)
the way a student does (key presses on sliders, typing and Enter, clicks on tabs), and writes
``bench/fixtures/similarity_session.json``: the same-origin files the browser fetched while
opening the page, and every ``rerun_script`` BackMsg it sent over the websocket (base64
protobuf), named after the step that caused it. Run it again when the page's widgets change
shape (another widget type, a step added); a changed label or range does not need it (the
replay takes widget ids from the server).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page, sync_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.classroom_client import FIXTURE, parse_flags, streamlit_server
from bench.classroom_scenario import DEEP_LINK, STEPS
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

TIMEOUT_MS = 120_000
# The frontend marks a finished run on stApp, and elements of an older run as stale.
_DRAWN_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]');
}"""


class Student:
    """One Chromium tab on the app that keeps the BackMsgs it sends and counts the script
    runs the server finished (from the ForwardMsgs it receives)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.finished = 0
        self.sent: list[bytes] = []
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws) -> None:
        ws.on("framesent", lambda payload: self.sent.append(_as_bytes(payload)))
        ws.on("framereceived", self._on_received)

    def _on_received(self, payload: str | bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(_as_bytes(payload))
        if (
            msg.WhichOneof("type") == "script_finished"
            and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
        ):
            self.finished += 1

    def act(self, action: Callable[[], None]) -> None:
        """Do ``action``, wait until the run it causes has finished and is drawn."""
        before = self.finished
        action()
        waited = 0
        while self.finished <= before:
            if waited > TIMEOUT_MS:
                raise TimeoutError("no script run finished after the action")
            self.page.wait_for_timeout(50)
            waited += 50
        self.page.wait_for_function(_DRAWN_JS, timeout=TIMEOUT_MS, polling="raf")

    def widget(self, key: str) -> Locator:
        return self.page.locator(f".st-key-{key}")

    def press_slider(self, key: str, press: str) -> None:
        thumb = self.widget(key).get_by_role("slider")
        thumb.focus()
        self.act(lambda: thumb.press(press))

    def enter_text(self, key: str, text: str) -> None:
        box = self.widget(key).locator("input")
        box.fill(text)
        self.act(lambda: box.press("Enter"))

    def open_tab(self, label: str) -> None:
        tab = self.page.get_by_test_id("stMain").get_by_role("tab", name=label, exact=True)
        self.act(tab.click)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(FIXTURE))
    parser.add_argument("--flags", default="", help="extra streamlit options for the server")
    args = parser.parse_args(argv)

    assets: list[str] = []
    with streamlit_server(parse_flags(args.flags)) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Warm the server's caches first (models, vectors), so that the recorded session is
        # an ordinary one.
        warm = Student(browser.new_page(viewport=VIEWPORT))
        warm.act(lambda: warm.page.goto(server.url + DEEP_LINK))
        warm.page.close()

        context = browser.new_context(viewport=VIEWPORT)
        student = Student(context.new_page())
        opening = [True]

        def on_request(request) -> None:
            url = urlsplit(request.url)
            if opening[0] and request.method == "GET" and url.port == server.port:
                path = url.path + (f"?{url.query}" if url.query else "")
                if path not in assets:
                    assets.append(path)

        student.page.on("request", on_request)
        student.act(lambda: student.page.goto(server.url + DEEP_LINK))
        opening[0] = False
        for step in STEPS:
            key, value, kind = str(step["key"]), step["value"], step["kind"]
            if kind == "slider":
                student.press_slider(key, str(step["press"]))
            elif kind == "text":
                student.enter_text(key, str(value))
            else:
                student.open_tab(str(value))
        sent = student.sent
        context.close()
        browser.close()

    reruns: list[dict[str, str]] = []
    other: list[str] = []
    names = ["open", *(str(s["name"]) for s in STEPS)]
    for raw in sent:
        msg = BackMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind != "rerun_script":
            other.append(str(kind))
            continue
        step = names[len(reruns)] if len(reruns) < len(names) else f"extra{len(reruns)}"
        reruns.append({"step": step, "backmsg": base64.b64encode(raw).decode()})
    if len(reruns) != len(names):
        raise SystemExit(f"expected {len(names)} reruns ({names}), the browser sent {len(reruns)}")
    fixture = {
        "meta": {
            "deep_link": DEEP_LINK,
            "steps": names,
            "other_backmsgs": sorted(set(other)),
            "chromium": os.path.realpath(CHROMIUM),
        },
        # The websocket is not a file; the health and host-config requests are (the browser
        # polls them before it connects).
        "assets": [a for a in assets if not a.startswith("/_stcore/stream")],
        "reruns": reruns,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}: {len(fixture['assets'])} files, {len(reruns)} reruns")


def _as_bytes(payload: str | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode()


if __name__ == "__main__":
    main()
