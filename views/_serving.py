"""How this server process serves a class: Streamlit's own files, and the sessions of
students who have left. Both change Streamlit's or Starlette's internals, for which Streamlit
offers no setting.

Files: a student's first visit fetches about 150 of Streamlit's JavaScript bundles and fonts,
6-11 MB (Embed's plotly and code highlighter bundles are 6 MB). Streamlit serves them with
Starlette's ``FileResponse``, which reads 64 KB at a time, each read handed to a worker thread
and back to the one event loop that also carries every session's websocket: 30 students
opening the link at once make about 5,000 such hops. Reading 1 MB at a time makes 16 times
fewer (``python -m bench.bench_classroom --pages``: the last of 30 simultaneous Embed first
loads 4.3 -> 3.9 s, with httptools).

Sessions: Streamlit keeps a student's session for ``server.disconnectedSessionTTL`` (120 s)
after they leave, so that a browser that reconnects finds its page as it was. Its store of
such sessions (a TTL cache) forgets an expired one only when another session is stored: after
a class had left, the sessions of its last two minutes stayed in memory, with their state,
uploaded files and media, until the next student left (``python -m bench.bench_classroom
--soak 5 --config 'memory=BENCH_MEMORY_EVERY=10'``: 90 sessions still alive 150 s after the
last student left).
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from starlette.responses import FileResponse
from streamlit.runtime import Runtime

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20  # per read and per send; at most this much of a file is held per request
REAP_EVERY_S = 10.0  # how often the reaper looks for sessions whose reconnect window has passed
_reaper_lock = threading.Lock()
_reaper: threading.Thread | None = None


def send_files_in_big_chunks() -> None:
    """Make every ``FileResponse`` of this process read and send ``CHUNK_BYTES`` at a time.
    The app calls it on every run (it is one assignment); it acts from the server's first
    script run on, so the very first page's own files still go 64 KB at a time: a teacher's
    page opened before the class arrives."""
    FileResponse.chunk_size = CHUNK_BYTES


def release_left_sessions() -> threading.Thread:
    """Start, once per process, a daemon thread that every ``REAP_EVERY_S`` seconds has
    Streamlit's event loop run :func:`drop_expired_sessions`; returns it. The app calls it
    on every run."""
    global _reaper
    with _reaper_lock:
        if _reaper is None:
            _reaper = threading.Thread(target=_reap, name="session reaper", daemon=True)
            _reaper.start()
        return _reaper


def _reap() -> None:
    while True:
        time.sleep(REAP_EVERY_S)
        if not Runtime.exists():  # a script run without a server (AppTest)
            continue
        runtime = Runtime.instance()
        try:
            runtime._get_async_objs().eventloop.call_soon_threadsafe(drop_expired_sessions, runtime)
        except RuntimeError:  # the server has stopped: its loop is closed
            return


def drop_expired_sessions(runtime: Runtime) -> int:
    """Forget the stored sessions whose reconnect window has passed and shut each down,
    which frees what it held (its state, uploaded files and media); returns how many.

    Runs on Streamlit's event loop, the one thread on which Streamlit touches its session
    storage. No public API does this: a Streamlit without these parts gets a warning in the
    log, once, and keeps its sessions as before.
    """
    try:
        cache = runtime._session_mgr._session_storage._cache  # type: ignore[attr-defined]
        expired = cache.expire()
    except AttributeError as exc:
        _warn_once(str(exc))
        return 0
    for _, info in expired:
        info.session.shutdown()
    return len(expired)


@functools.cache
def _warn_once(reason: str) -> None:
    log.warning("Sessions of students who left are kept until the next one leaves: %s", reason)
