"""The process's BLAS thread count, held to one thread while any caller asks for that.

The count is process-wide: two callers that each set a limit and restore "what they found"
on exit restore in the wrong order when their blocks overlap (A limits, B limits and saves
A's 1, A restores 2, B restores 1) and leave every later matrix product on one thread.
:func:`one_thread` counts its users instead: the first one in sets the limit, the last one
out restores the count found by the first.

OpenBLAS's own thread pool (the pthreads build numpy ships) takes a count from one thread
only: threadpoolctl ignores a change from any other thread while the thread that made the
last one is alive and has not restored it. The first user in and the last user out are often
different threads, so each change here first hands control to the thread making it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from threadpoolctl import OpenBLASController, ThreadpoolController, threadpool_limits

_LOCK = threading.Lock()
_users = 0
_limiter: threadpool_limits | None = None
_found = 1  # threads before the first current user set the limit


@cache
def _controller() -> ThreadpoolController:
    """The loaded BLAS libraries (scanning for them takes milliseconds: done once)."""
    return ThreadpoolController().select(user_api="blas")


def _current() -> int:
    """The largest thread count among the loaded BLAS libraries (1 when there is none)."""
    return max((i["num_threads"] for i in _controller().info()), default=1)


def threads() -> int:
    """BLAS threads outside :func:`one_thread` blocks: the count now, or while a block is
    open, the count it will restore."""
    with _LOCK:
        return _found if _users else _current()


@contextmanager
def one_thread() -> Iterator[None]:
    """Hold BLAS to one thread in the whole process for the block; safe to nest and to
    overlap from several threads in any order of entering and leaving."""
    global _users, _limiter, _found
    with _LOCK:
        if _users == 0:
            _found = _current()
            OpenBLASController.clear_controlling_thread(force=True)
            _limiter = _controller().limit(limits=1)
        _users += 1
    try:
        yield
    finally:
        with _LOCK:
            _users -= 1
            if _users == 0 and _limiter is not None:
                OpenBLASController.clear_controlling_thread(force=True)
                _limiter.restore_original_limits()
                _limiter = None
