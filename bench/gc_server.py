"""``python -m bench.gc_server run explorer_app.py ...``: the Streamlit CLI, instrumented.

Used by ``bench.gc_cycles`` and ``bench.bench_classroom --config name=... --launcher``; the app
and Streamlit are unchanged. ``BENCH_GC_LOG=<path>`` turns the instruments on:

- every automatic collection (``gc.callbacks``) is counted per generation with its time and
  what it freed;
- ``BENCH_GC_PROBE=1``: after every script run, a ``gc.collect()`` with
  ``gc.DEBUG_SAVEALL`` classifies what the run left in unreachable cycles (object types, and
  for functions their qualified names), then frees it. Meant with
  ``--runner.postScriptGC=false`` and one session at a time;
- ``BENCH_GC_FREEZE=1``: after the first script run, ``gc.collect()`` then ``gc.freeze()``,
  so that later full collections skip everything imported and cached by then;
- ``BENCH_MEMORY_EVERY=<seconds>``: a line of what the server holds, that often, also while
  no script runs (after a class has left): RSS, the sessions Streamlit's session manager
  knows (connected, and disconnected ones kept for a reconnect), the ``AppSession`` objects
  still alive (a session it has dropped but something still references), and the blocks
  Python's allocator holds (``sys.getallocatedblocks``: live objects, whatever the C
  allocator has not given back to the system).

One JSON line per script run goes to the log, and one per memory sample (``"memory": 1``).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

from streamlit.runtime.scriptrunner import script_runner
from streamlit.web.cli import main

_LOG = os.environ.get("BENCH_GC_LOG", "")
_PROBE = os.environ.get("BENCH_GC_PROBE") == "1"
_FREEZE = os.environ.get("BENCH_GC_FREEZE") == "1"
_MEMORY_EVERY = float(os.environ.get("BENCH_MEMORY_EVERY") or 0)
_lock = threading.Lock()
_auto = {g: {"count": 0, "seconds": 0.0, "collected": 0} for g in (0, 1, 2)}
_started: dict[int, float] = {}
_runs = [0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    gen = info["generation"]
    if phase == "start":
        _started[gen] = time.perf_counter()
    else:
        stats = _auto[gen]
        stats["count"] += 1
        stats["seconds"] += time.perf_counter() - _started.get(gen, time.perf_counter())
        stats["collected"] += info["collected"]


def _name(obj: object) -> str:
    t = type(obj)
    base = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    if t.__name__ == "function":
        return f"function {obj.__module__}.{obj.__qualname__}"  # type: ignore[attr-defined]
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__}"
    return base


def _probe() -> dict[str, Any]:
    gc.callbacks.remove(_on_gc)
    try:
        gc.set_debug(gc.DEBUG_SAVEALL)
        start = time.perf_counter()
        found = gc.collect()
        seconds = time.perf_counter() - start
        gc.set_debug(0)
        types = Counter(_name(o) for o in gc.garbage)
        size = sum(_sizeof(o) for o in gc.garbage)
        gc.garbage.clear()
        gc.collect()  # the cycles kept by DEBUG_SAVEALL, freed for real
        start = time.perf_counter()
        gc.collect()
        empty = time.perf_counter() - start
    finally:
        gc.callbacks.append(_on_gc)
    return {
        "unreachable": found,
        "bytes": size,
        "collect_s": seconds,
        "collect_empty_s": empty,
        "tracked": len(gc.get_objects()),
        "types": types.most_common(80),
    }


def _sizeof(obj: object) -> int:
    try:
        return sys.getsizeof(obj)
    except TypeError:
        return 0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _memory() -> dict[str, Any]:
    """What the server holds now (see the module's docstring)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.app_session import AppSession

    manager = Runtime.instance()._session_mgr
    return {
        "memory": 1,
        "t": time.time(),
        "rss_mb": _rss_mb(),
        "connected": len(manager.list_active_sessions()),
        "known": len(manager.list_sessions()),
        "app_sessions": sum(isinstance(o, AppSession) for o in gc.get_objects()),
        "blocks": sys.getallocatedblocks(),
    }


def _sample_memory() -> None:
    while True:
        time.sleep(_MEMORY_EVERY)
        try:
            record = _memory()
        except RuntimeError:  # the runtime is not up yet
            continue
        with _lock, open(_LOG, "a") as f:
            f.write(json.dumps(record) + "\n")


def _install() -> None:
    original = script_runner.ScriptRunner._on_script_finished

    def on_script_finished(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        with _lock:
            _runs[0] += 1
            record: dict[str, Any] = {"run": _runs[0], "t": time.time()}
            if _PROBE:
                record |= _probe()
            if _FREEZE and _runs[0] == 1:
                gc.collect()
                gc.freeze()
                record["frozen"] = gc.get_freeze_count()
            record["auto"] = json.loads(json.dumps(_auto))
            record["rss_mb"] = _rss_mb()
            record["counts"] = gc.get_count()
            with open(_LOG, "a") as f:
                f.write(json.dumps(record) + "\n")

    script_runner.ScriptRunner._on_script_finished = on_script_finished  # type: ignore[method-assign]
    gc.callbacks.append(_on_gc)
    if _MEMORY_EVERY:
        threading.Thread(target=_sample_memory, name="memory sampler", daemon=True).start()


if __name__ == "__main__":
    if _LOG:
        _install()
    main(prog_name="streamlit")
