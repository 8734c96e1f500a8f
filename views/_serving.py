"""How this server process sends Streamlit's own files (its JavaScript bundles and fonts).

A student's first visit fetches about 150 of them, 6-11 MB (Embed's plotly and code
highlighter bundles are 6 MB). Streamlit serves them with Starlette's ``FileResponse``, which
reads 64 KB at a time, each read handed to a worker thread and back to the one event loop that
also carries every session's websocket: 30 students opening the link at once make about 5,000
such hops. Reading 1 MB at a time makes 16 times fewer (``python -m bench.bench_classroom
--pages``: the last of 30 simultaneous Embed first loads 4.3 -> 3.9 s, with httptools). It
changes a class attribute of Starlette's: Streamlit offers no setting for it.
"""

from __future__ import annotations

from starlette.responses import FileResponse

CHUNK_BYTES = 1 << 20  # per read and per send; at most this much of a file is held per request


def send_files_in_big_chunks() -> None:
    """Make every ``FileResponse`` of this process read and send ``CHUNK_BYTES`` at a time.
    The app calls it on every run (it is one assignment); it acts from the server's first
    script run on, so the very first page's own files still go 64 KB at a time: a teacher's
    page opened before the class arrives."""
    FileResponse.chunk_size = CHUNK_BYTES
