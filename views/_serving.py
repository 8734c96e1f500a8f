"""How this server process serves a class: Streamlit's own files, how often its threads take
turns, and the sessions of students who have left. Each part changes Streamlit's, Starlette's
or Python's settings, for which Streamlit offers none of its own; :func:`set_up` applies them
all (the app calls it on every run; each acts once, from the server's first script run on).

Files: a student's first visit fetches about 150 of Streamlit's JavaScript bundles, styles
and fonts, 6-11 MB (Embed's plotly and code highlighter bundles are 6 MB), from the one event
loop that also carries every session's websocket. Streamlit sends them uncompressed, because
compressing on every request costs more CPU than it saves; Starlette's ``FileResponse``
reads them 64 KB at a time, each read handed to a worker thread and back.
- The text files (JavaScript, CSS, HTML, JSON, SVG: 23 MB) are compressed once, in the
  background, 0.6 s of CPU into 7 MB held in memory, and sent from there to every browser
  that accepts gzip: a third of the bytes over a classroom's Wi-Fi, and no file reads.
- The rest (fonts, images: already compressed) goes 1 MB at a time, 16 times fewer hops.

Interpreter: every session's rerun is a thread of this one Python process; ``SWITCH_INTERVAL_S``
says how often a busy thread hands the interpreter over.

Sessions: Streamlit keeps a student's session for ``server.disconnectedSessionTTL`` (120 s)
after they leave, so that a browser that reconnects finds its page as it was. Its store of
such sessions (a TTL cache) forgets an expired one only when another session is stored: after
a class had left, the sessions of its last two minutes stayed in memory, with their state,
uploaded files and media, until the next student left (``python -m bench.bench_classroom
--soak 5 --config 'memory=BENCH_MEMORY_EVERY=10'``: 90 sessions still alive 150 s after the
last student left). A reaper drops them.
"""

from __future__ import annotations

import functools
import gzip
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import streamlit
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from streamlit.runtime import Runtime

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20  # per read and per send; at most this much of a file is held per request
REAP_EVERY_S = 10.0  # how often the reaper looks for sessions whose reconnect window has passed
# Seconds a thread runs Python before it offers the interpreter to the next (Python's own is
# 5 ms). With 30 sessions' reruns at once, each handover costs a wake-up and cold caches;
# 20 ms gives fewer of them. `python -m bench.bench_classroom --newcomer`, four runs of each
# alternated: a newcomer's page while 30 others work 3.01-3.27 -> 2.62-3.29 s (each run's
# median of 5; the runs' median 3.09 -> 2.78 s); the workers' changes about the same.
SWITCH_INTERVAL_S = 0.02
STATIC_DIR = Path(streamlit.__file__).parent / "static"
# Text formats worth compressing; fonts (woff2) and images are compressed already.
COMPRESSIBLE = frozenset({".js", ".mjs", ".css", ".html", ".json", ".svg", ".txt", ".map"})
GZIP_LEVEL = 6
# A file, by path, modification time (ns) and size, as Starlette's ETag names it -> its gzip.
_gzipped: dict[tuple[str, int, int], bytes] = {}
_plain_file_response = StaticFiles.file_response
_started_lock = threading.Lock()
_started: list[threading.Thread] = []


def set_up() -> list[threading.Thread]:
    """Apply this module's changes to the server process; returns its background threads
    (started once per process: the compressor, then the reaper)."""
    FileResponse.chunk_size = CHUNK_BYTES
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    StaticFiles.file_response = _file_response  # type: ignore[method-assign]
    with _started_lock:
        if not _started:
            for target, name in ((compress_static_files, "compressor"), (_reap, "reaper")):
                _started.append(threading.Thread(target=target, name=name, daemon=True))
                _started[-1].start()
        return list(_started)


def compress_static_files(directory: Path = STATIC_DIR) -> int:
    """Gzip every compressible file under ``directory`` into memory, for :func:`set_up`'s
    file responses; returns how many. A file that shrinks by less than a tenth is left out."""
    for path in sorted(directory.rglob("*")):
        if path.suffix not in COMPRESSIBLE or not path.is_file():
            continue
        data, stat = path.read_bytes(), path.stat()
        packed = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
        if len(packed) < 0.9 * len(data):
            _gzipped[(str(path), stat.st_mtime_ns, stat.st_size)] = packed
    return len(_gzipped)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header value admits gzip (``gzip`` or ``*`` with a
    weight above 0)."""
    for coding in accept_encoding.split(","):
        name, *params = coding.split(";")
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if name.strip().lower() in ("gzip", "*") and weight > 0:
            return True
    return False


def _file_response(
    self: StaticFiles,
    full_path: str | os.PathLike[str],
    stat_result: os.stat_result,
    scope: Scope,
    status_code: int = 200,
) -> Response:
    """Starlette's file response, or for a plain GET of a compressed file by a browser that
    accepts gzip, the same response with the compressed bytes from memory."""
    response = _plain_file_response(self, full_path, stat_result, scope, status_code)
    packed = _gzipped.get((str(full_path), stat_result.st_mtime_ns, stat_result.st_size))
    request = Headers(scope=scope)
    if (
        packed is None
        or type(response) is not FileResponse  # a 304 Not Modified
        or scope["method"] != "GET"
        or "range" in request
        or not accepts_gzip(request.get("accept-encoding", ""))
    ):
        return response
    headers: dict[str, Any] = {k: v for k, v in response.headers.items() if k != "content-length"}
    headers["content-encoding"] = "gzip"
    headers["vary"] = "Accept-Encoding"
    if "etag" in headers:  # another representation: another tag
        headers["etag"] = headers["etag"].rstrip('"') + '-gzip"'
    return Response(packed, status_code=response.status_code, headers=headers)


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
