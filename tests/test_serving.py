"""A real server as ``views._serving`` sets it up: Streamlit's own files, served in
``CHUNK_BYTES`` chunks, arrive whole (the biggest bundle, and a byte range across a chunk
boundary), and compressed to a browser that accepts gzip; the sessions of students who left
are released."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import urllib.request
from pathlib import Path

import pytest
import streamlit

from bench.classroom_client import Recording, ReplaySession, StreamlitServer, streamlit_server
from bench.classroom_scenario import SCENARIOS
from tests import test_fragments as fragments
from tests.event_loop import run_in_own_thread
from views._serving import CHUNK_BYTES, REAP_EVERY_S, accepts_gzip

pytestmark = pytest.mark.slow
server = fragments.server  # a real Streamlit server (module-scoped)
STATIC = Path(streamlit.__file__).parent / "static"


def _response(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of a GET, as the server sent them."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()


async def _first_run(server: StreamlitServer) -> None:
    async with fragments.Session(server.url, "embed", {}) as tab:
        await tab.run()  # the app's first run sets up views._serving


def test_big_static_files_arrive_whole(server):
    run_in_own_thread(_first_run(server))
    biggest = max((STATIC / "static" / "js").glob("*.js"), key=lambda p: p.stat().st_size)
    body = biggest.read_bytes()
    assert len(body) > 2 * CHUNK_BYTES, "the test needs a file of several chunks"
    url = f"{server.url}/static/js/{biggest.name}"
    status, _, whole = _response(url)
    assert (status, whole) == (200, body)
    start, end = CHUNK_BYTES - 10, 2 * CHUNK_BYTES + 10
    status, _, part = _response(url, {"Range": f"bytes={start}-{end}"})
    assert (status, part) == (206, body[start : end + 1])


TTL_S = 1  # server.disconnectedSessionTTL for the reaper's test


def _memory_samples(log: Path) -> list[dict]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [r for r in map(json.loads, lines) if r.get("memory")]


def test_sessions_of_students_who_left_are_released(tmp_path):
    """Students open a page and leave; once their reconnect window has passed, the server
    lets go of their sessions although nobody else comes or leaves after them (Streamlit's
    own store would keep them until the next student leaves)."""
    log = tmp_path / "memory.jsonl"
    env = {"BENCH_GC_LOG": str(log), "BENCH_MEMORY_EVERY": "0.5"}
    flags = [f"--server.disconnectedSessionTTL={TTL_S}"]
    recording = Recording.load(SCENARIOS["home"].fixture)
    with streamlit_server(flags, launcher="bench.gc_server", env=env) as srv:

        async def class_comes_and_goes() -> None:
            students = [ReplaySession(srv.url, recording) for _ in range(4)]
            for s in students:
                await s.open()
            await asyncio.sleep(1)  # a memory sample with every student in
            for s in students:
                await s.close()

        run_in_own_thread(class_comes_and_goes())
        deadline = time.monotonic() + TTL_S + REAP_EVERY_S + 15
        while time.monotonic() < deadline:
            samples = _memory_samples(log)
            if samples and samples[-1]["known"] == 0 and samples[-1]["app_sessions"] <= 1:
                break
            time.sleep(0.5)
        assert "Traceback" not in srv.log_text(), srv.log_text()
    peak = max(r["app_sessions"] for r in samples)
    last = samples[-1]
    assert peak >= 4, "the students' sessions were never seen"
    # The last session to close stays referenced by Streamlit's websocket handler, one at most.
    assert (last["known"], last["connected"]) == (0, 0) and last["app_sessions"] <= 1, samples[-3:]


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate, br, zstd", True),  # Chromium's
        ("deflate, gzip;q=1.0, *;q=0.5", True),
        ("GZIP", True),
        ("*", True),
        ("br", False),
        ("", False),
        ("gzip;q=0", False),
        ("gzip; q = 0.0, br", False),
        ("gzip;q=x", False),
        ("x-gzip", False),
    ],
)
def test_accepts_gzip_reads_the_header_as_http_does(header, accepted):
    assert accepts_gzip(header) is accepted


def test_text_files_go_compressed_to_browsers_that_accept_gzip(server):
    run_in_own_thread(_first_run(server))
    script = max((STATIC / "static" / "js").glob("*.js"), key=lambda p: p.stat().st_size)
    url = f"{server.url}/static/js/{script.name}"
    deadline = time.monotonic() + 30  # the server compresses its files in the background
    while True:
        status, headers, body = _response(url, {"Accept-Encoding": "gzip, deflate, br"})
        if headers.get("content-encoding") == "gzip" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 200 and headers.get("content-encoding") == "gzip"
    assert gzip.decompress(body) == script.read_bytes()
    assert int(headers["content-length"]) == len(body) < script.stat().st_size / 2
    _, plain, raw = _response(url)
    assert raw == script.read_bytes() and "content-encoding" not in plain
    assert headers["cache-control"] == plain["cache-control"]
    assert headers["vary"] == "Accept-Encoding" and headers["etag"] != plain["etag"]
    # A byte range, and a font (compressed already), go as they are.
    status, ranged, part = _response(url, {"Accept-Encoding": "gzip", "Range": "bytes=0-99"})
    assert (status, part) == (206, script.read_bytes()[:100])
    assert "content-encoding" not in ranged
    font = next((STATIC / "static" / "media").glob("*.woff2"))
    _, font_headers, font_body = _response(
        f"{server.url}/static/media/{font.name}", {"Accept-Encoding": "gzip"}
    )
    assert font_body == font.read_bytes() and "content-encoding" not in font_headers
