"""A Streamlit server to measure, and a lightweight client that replays a browser session.

``StreamlitServer`` starts ``python -m streamlit run explorer_app.py`` on a free loopback port
(with extra ``--flag value`` options, so that two configurations can be compared) and reads
the process's CPU seconds and RSS from ``/proc``.

``ReplaySession`` speaks Streamlit's websocket protocol (protobuf ``BackMsg`` up,
``ForwardMsg`` down) like the browser whose messages were recorded in
``bench/fixtures/<scenario>_session.json`` (``python -m bench.record_classroom``; the
classroom scenario is ``similarity_session.json``): it fetches the page and its static
files, opens ``/_stcore/stream``, and sends the recorded
``rerun_script`` messages one by one, each after the previous run's ``script_finished``. Two
things are rewritten on the way, as the browser would have them: widget ids are taken from
what this server sent (an id is a hash of the widget's parameters plus its key, so it changes
whenever a label or range does), and the page address in ``context_info`` names this server.
Everything else (query string, widget values, the empty ``cached_message_hashes`` that
Chromium sent) goes as recorded.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.typing import Subprotocol

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "similarity_session.json"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# How a run that was not interrupted ends well: the whole script, or one fragment of it.
FINISHED_OK = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
# Chromium opens at most this many connections to one host (HTTP/1.1).
BROWSER_CONNECTIONS = 6
# A widget id is "$$ID-<hex hash>-<user key>" when the widget has a key.
_KEYED_ID = re.compile(r"\$\$ID-[0-9a-f]+-(.+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_flags(text: str) -> list[str]:
    """``"runner.postScriptGC=false server.fileWatcherType=none"`` -> streamlit options
    ``["--runner.postScriptGC=false", "--server.fileWatcherType=none"]``."""
    return [f"--{f.removeprefix('--')}" for f in text.split() if f]


class StreamlitServer:
    """``streamlit run explorer_app.py`` on a free loopback port, stopped on ``close()``.

    ``flags`` are extra command-line options (``--runner.postScriptGC=false``); ``launcher``
    is the module run with ``python -m`` (``streamlit``, or a wrapper that instruments it).
    The server reads ``.streamlit/config.toml`` like ``make run`` does; flags override it.
    """

    def __init__(
        self,
        flags: Sequence[str] = (),
        launcher: str = "streamlit",
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or Path(f"/tmp/bench_classroom_{self.port}.log")
        cmd = [
            sys.executable,
            "-m",
            launcher,
            "run",
            "explorer_app.py",
            "--server.headless=true",
            f"--server.port={self.port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
            *flags,
        ]
        self.command = " ".join(cmd[1:])
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"streamlit did not answer in {timeout} s:\n{self.log_text()}")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server process so far (all its threads)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def rss_mb(self) -> float:
        """Resident set size of the server process, MB."""
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE / 1e6

    def log_text(self) -> str:
        return self.log_path.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def streamlit_server(
    flags: Sequence[str] = (), launcher: str = "streamlit", env: dict[str, str] | None = None
) -> Iterator[StreamlitServer]:
    server = StreamlitServer(flags, launcher=launcher, env=env)
    try:
        yield server
    finally:
        server.close()


# ---------------------------------------------------------------- the recorded session


@dataclass(frozen=True)
class Recording:
    """A browser session on one page: the static files it fetched on opening (paths), and
    the ``rerun_script`` BackMsgs it sent, the first for the deep link and then one per
    widget change, each named after its scenario step."""

    assets: tuple[str, ...]
    reruns: tuple[tuple[str, bytes], ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = FIXTURE) -> Recording:
        data = json.loads(path.read_text())
        reruns = tuple((r["step"], base64.b64decode(r["backmsg"])) for r in data["reruns"])
        return cls(tuple(data["assets"]), reruns, data.get("meta", {}))


def widget_key(widget_id: str) -> str | None:
    """The user key in a keyed widget id (``$$ID-<hash>-<key>``), else None."""
    m = _KEYED_ID.fullmatch(widget_id)
    return m.group(1) if m else None


def _ids(msg: Any, depth: int = 0) -> Iterator[str]:
    """Every ``id`` string field in protobuf ``msg`` and the messages it holds (an element's
    or a block's widget id), a few levels down."""
    for fd, value in msg.ListFields():
        if fd.name == "id" and isinstance(value, str):
            yield value
        elif fd.message_type is not None and depth < 4:
            items = value if fd.is_repeated else [value]
            for item in items:
                if hasattr(item, "ListFields"):
                    yield from _ids(item, depth + 1)


# ---------------------------------------------------------------- the replay client


@dataclass
class RunResult:
    """One script run as the client saw it: seconds from sending the BackMsg to the
    ``script_finished`` ForwardMsg, the status, and what the run sent."""

    step: str
    seconds: float
    status: int
    messages: int
    payload_bytes: int
    exceptions: list[str]
    # What ``st.error`` showed, and the address bar's query after the run.
    errors: list[str] = field(default_factory=list)
    query_string: str = ""


class ReplaySession:
    """One student: a websocket session replaying ``recording``'s reruns against ``url``."""

    def __init__(self, url: str, recording: Recording) -> None:
        self.url = url
        self.recording = recording
        self.ws: Any = None
        self.widget_ids: dict[str, str] = {}
        # The st.fragment each keyed widget was last drawn in ("" outside any): a change of
        # that widget reruns only the fragment in a browser.
        self.widget_fragments: dict[str, str] = {}
        # Keys of recorded widgets this server never showed (a renamed key, another page).
        self.unmatched: set[str] = set()
        self.deltas: list[ForwardMsg] = []
        # The address bar's query after the last run (the page publishes its state there).
        self.query_string = ""

    async def fetch_assets(self, connections: int = 1) -> float:
        """GET the page and the static files a fresh browser fetched, over ``connections``
        connections at once (1: one after another; Chromium uses ``BROWSER_CONNECTIONS``);
        returns seconds. A 404 is fine: Chromium also asks ``/similarity/_stcore/health``
        before ``/_stcore/health``."""
        start = time.perf_counter()

        def get(path: str) -> None:
            req = urllib.request.Request(
                self.url + path, headers={"Accept-Encoding": "gzip, deflate, br"}
            )
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    r.read()
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise
                e.read()

        def get_all() -> None:
            with ThreadPoolExecutor(connections) as pool:
                list(pool.map(get, self.recording.assets))

        await asyncio.to_thread(get_all)
        return time.perf_counter() - start

    async def connect(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(
            ws_url, subprotocols=[Subprotocol("streamlit")], max_size=None, open_timeout=120
        )

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    def _rewrite(self, raw: bytes) -> BackMsg:
        msg = BackMsg()
        msg.ParseFromString(raw)
        state = msg.rerun_script
        for w in state.widget_states.widgets:
            key = widget_key(w.id)
            if key is not None and key in self.widget_ids:
                w.id = self.widget_ids[key]
            elif key is not None:
                self.unmatched.add(key)
        if state.HasField("context_info") and state.context_info.url:
            path = urlsplit(state.context_info.url).path
            state.context_info.url = self.url + path
        return msg

    async def send(self, raw: bytes) -> float:
        """Send the recorded rerun ``raw`` (rewritten for this server and session) without
        waiting; returns the send time (``time.perf_counter()``)."""
        payload = self._rewrite(raw).SerializeToString()
        start = time.perf_counter()
        await self.ws.send(payload)
        return start

    async def finish(self, step: str, start: float, timeout: float = 300) -> RunResult:
        """Read ForwardMsgs until a script run ends other than by being interrupted for a
        newer rerun; the result times it from ``start``."""
        self.deltas = []
        n = size = 0
        exceptions: list[str] = []
        errors: list[str] = []
        while True:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
            n += 1
            size += len(data)
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.deltas = []
            elif kind == "page_info_changed":
                self.query_string = fwd.page_info_changed.query_string
            elif kind == "delta":
                self.deltas.append(fwd)
                if b"$$ID-" in data:
                    for widget_id in _ids(fwd.delta):
                        key = widget_key(widget_id)
                        if key is not None:
                            self.widget_ids[key] = widget_id
                            self.widget_fragments[key] = fwd.delta.fragment_id
                el = fwd.delta.new_element
                if fwd.delta.WhichOneof("type") == "new_element":
                    if el.HasField("exception"):
                        exceptions.append(el.exception.message)
                    elif el.HasField("alert") and el.alert.format == Alert.ERROR:
                        errors.append(el.alert.body)
            elif kind == "script_finished":
                status = fwd.script_finished
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                seconds = time.perf_counter() - start
                return RunResult(
                    step, seconds, status, n, size, exceptions, errors, self.query_string
                )

    async def run(self, step: str, raw: bytes, timeout: float = 300) -> RunResult:
        """Send the recorded rerun ``raw`` and wait for the end of the script run it causes."""
        return await self.finish(step, await self.send(raw), timeout)

    async def open(self) -> RunResult:
        """Connect and run the deep link (the recording's first rerun)."""
        await self.connect()
        step, raw = self.recording.reruns[0]
        return await self.run(step, raw)

    def steps(self) -> tuple[tuple[str, bytes], ...]:
        """The widget changes after the deep link."""
        return self.recording.reruns[1:]

    def elements(self, kind: str) -> list[Any]:
        """The last run's elements of one type (``"markdown"``, ``"dataframe"``,
        ``"text_input"``, ``"plotly_chart"``...), in the order they arrived."""
        out = []
        for fwd in self.deltas:
            if fwd.delta.WhichOneof("type") == "new_element":
                el = fwd.delta.new_element
                if el.WhichOneof("type") == kind:
                    out.append(getattr(el, kind))
        return out

    def frames(self) -> list[pd.DataFrame]:
        """The last run's ``st.dataframe`` tables (sent inline as Arrow IPC)."""
        return [
            pa.ipc.open_stream(df.arrow_data.data).read_all().to_pandas()
            for df in self.elements("dataframe")
            if df.arrow_data.data
        ]


def with_values(raw: bytes, values: dict[str, Any]) -> bytes:
    """The recorded rerun ``raw`` with the widgets of the given keys set to new values
    (text, slider numbers, tab labels), as the browser would send them."""
    msg = BackMsg()
    msg.ParseFromString(raw)
    for w in msg.rerun_script.widget_states.widgets:
        key = widget_key(w.id)
        if key not in values:
            continue
        value = values[key]
        kind = w.WhichOneof("value")
        if kind == "string_value":
            w.string_value = str(value)
        elif kind == "double_array_value":
            del w.double_array_value.data[:]
            w.double_array_value.data.extend(value if isinstance(value, list) else [value])
        elif kind == "int_value":
            w.int_value = int(value)
        elif kind == "bool_value":
            w.bool_value = bool(value)
        else:
            raise ValueError(f"widget {key!r} holds {kind}, not settable here")
    return msg.SerializeToString()
