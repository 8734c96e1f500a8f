"""Record real Chromium sessions of the classroom scenarios as the replay bench's fixtures.

``python -m bench.record_classroom [--page NAME ...]`` starts the app, and for each scenario
of ``bench.classroom_scenario.SCENARIOS`` (all of them by default) opens its deep link in a
fresh headless Chromium context, makes its widget changes the way a student does (key
presses on sliders, typing and Enter, clicks on options, toggles and tabs), checks after each
one that the URL holds the step's value, and writes ``bench/fixtures/<name>_session.json``:
the same-origin files the browser fetched while opening the page, and every ``rerun_script``
BackMsg it sent over the websocket (base64 protobuf), named after the step that caused it.
Run it again when a page's widgets change shape (another widget type, a step added); a
changed label or range does not need it (the replay takes widget ids from the server).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Locator, Page, sync_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.classroom_client import StreamlitServer, parse_flags, streamlit_server
from bench.classroom_scenario import SCENARIOS, Scenario, Step
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

TIMEOUT_MS = 120_000
# The frontend marks a finished run on stApp, and elements of an older run as stale.
_DRAWN_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]');
}"""
# True once the address bar holds ``value`` as the last value of ``key``.
_URL_HOLDS_JS = "([key, value]) => new URLSearchParams(location.search).getAll(key).pop() === value"


class Student:
    """One Chromium tab on the app that keeps the BackMsgs it sends and counts the script
    runs the server finished (from the ForwardMsgs it receives)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.finished = 0
        self.sent: list[bytes] = []
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws: Any) -> None:
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

    def act(self, action: Callable[[], object]) -> None:
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

    def change(self, step: Step) -> None:
        """Make ``step``'s change as a user does, wait for its run, and check that the URL
        then holds the step's value (the page publishes every bound key there)."""
        box = self.widget(step.key)
        if step.kind == "slider":
            thumb = box.get_by_role("slider")
            thumb.focus()
            self.act(lambda: thumb.press(step.press))
        elif step.kind in ("text", "number"):
            field = box.locator("input")
            field.fill(str(step.value))
            self.act(lambda: field.press("Enter"))
        elif step.kind == "select":
            box.get_by_role("combobox").click()
            self.act(self.page.get_by_role("option", name=str(step.value), exact=True).click)
        elif step.kind == "radio":
            self.act(box.get_by_text(str(step.value), exact=True).click)
        elif step.kind == "toggle":
            self.act(box.locator("label").first.click)
        else:
            main = self.page.get_by_test_id("stMain")
            self.act(main.get_by_role("tab", name=str(step.value), exact=True).click)
        try:
            self.page.wait_for_function(_URL_HOLDS_JS, arg=[step.key, step.url_value()])
        except Exception as exc:
            raise RuntimeError(
                f"step {step.name!r}: the URL does not hold {step.key}={step.url_value()!r} "
                f"after the change ({self.page.url})"
            ) from exc


def record(browser: Browser, server: StreamlitServer, scenario: Scenario) -> dict[str, Any]:
    """One scenario in a fresh browser context: the fixture's content."""
    # Warm the server's caches first (models, vectors, projections), so that the recorded
    # session is an ordinary one.
    warm = Student(browser.new_page(viewport=VIEWPORT))
    warm.act(lambda: warm.page.goto(server.url + scenario.deep_link))
    for step in scenario.steps:
        warm.change(step)
    warm.page.close()

    assets: list[str] = []
    opening = [True]

    def on_request(request: Any) -> None:
        url = urlsplit(request.url)
        if opening[0] and request.method == "GET" and url.port == server.port:
            path = url.path + (f"?{url.query}" if url.query else "")
            if path not in assets:
                assets.append(path)

    context = browser.new_context(viewport=VIEWPORT)
    student = Student(context.new_page())
    student.page.on("request", on_request)
    student.act(lambda: student.page.goto(server.url + scenario.deep_link))
    opening[0] = False
    for step in scenario.steps:
        student.change(step)
    sent = student.sent
    context.close()
    return fixture_content(scenario, assets, sent)


def fixture_content(scenario: Scenario, assets: list[str], sent: list[bytes]) -> dict[str, Any]:
    """The fixture from what the browser fetched and sent: every ``rerun_script`` BackMsg
    named after its step (exactly one per step is expected), the other kinds listed."""
    reruns: list[dict[str, str]] = []
    other: list[str] = []
    names = scenario.step_names()
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
        raise RuntimeError(
            f"{scenario.name}: expected {len(names)} reruns ({names}), "
            f"the browser sent {len(reruns)}"
        )
    return {
        "meta": {
            "page": scenario.title,
            "deep_link": scenario.deep_link,
            "steps": names,
            "tabs": scenario.tabs(),
            "other_backmsgs": sorted(set(other)),
            "chromium": os.path.realpath(CHROMIUM),
        },
        # The websocket is not a file; the health and host-config requests are (the browser
        # polls them before it connects).
        "assets": [a for a in assets if not a.startswith("/_stcore/stream")],
        "reruns": reruns,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--page",
        action="append",
        choices=list(SCENARIOS),
        help="a scenario to record (repeatable; default: all)",
    )
    parser.add_argument("--out", default="", help="the fixture's path (one --page only)")
    parser.add_argument("--flags", default="", help="extra streamlit options for the server")
    args = parser.parse_args(argv)
    names = args.page or list(SCENARIOS)
    if args.out and len(names) != 1:
        parser.error("--out needs exactly one --page")

    with streamlit_server(parse_flags(args.flags)) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name in names:
            scenario = SCENARIOS[name]
            fixture = record(browser, server, scenario)
            out = Path(args.out) if args.out else scenario.fixture
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "w") as f:
                json.dump(fixture, f, indent=1)
                f.write("\n")
            print(
                f"wrote {out}: {len(fixture['assets'])} files, {len(fixture['reruns'])} reruns",
                flush=True,
            )
        browser.close()


def _as_bytes(payload: str | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode()


if __name__ == "__main__":
    main()
