"""Streamlit's own files, served in ``views._serving.CHUNK_BYTES`` chunks by a real server,
arrive whole: the biggest bundle, and a byte range across a chunk boundary."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
import streamlit

from tests import test_fragments as fragments
from tests.event_loop import run_in_own_thread
from views._serving import CHUNK_BYTES

pytestmark = pytest.mark.slow
server = fragments.server  # a real Streamlit server (module-scoped)
STATIC = Path(streamlit.__file__).parent / "static"


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
        return r.status, r.read()


def test_big_static_files_arrive_whole(server):
    async def first_run() -> None:
        async with fragments.Session(server.url, "embed", {}) as tab:
            await tab.run()  # the app's first run sets the chunk size

    run_in_own_thread(first_run())
    biggest = max((STATIC / "static" / "js").glob("*.js"), key=lambda p: p.stat().st_size)
    body = biggest.read_bytes()
    assert len(body) > 2 * CHUNK_BYTES, "the test needs a file of several chunks"
    url = f"{server.url}/static/js/{biggest.name}"
    assert _get(url) == (200, body)
    start, end = CHUNK_BYTES - 10, 2 * CHUNK_BYTES + 10
    status, part = _get(url, {"Range": f"bytes={start}-{end}"})
    assert (status, part) == (206, body[start : end + 1])
