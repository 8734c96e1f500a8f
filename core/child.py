"""Run one long function in a child process that can be stopped at any moment.

scikit-learn's t-SNE and HDBSCAN and umap's UMAP offer no way to stop them: a thread that
runs one cannot be cancelled. A process can. :func:`run_in_child` runs ``job(*args)`` in a
child started by multiprocessing's "forkserver" (forking the server itself is unsafe: it
runs threads), calls ``wait(elapsed)`` every ``poll`` seconds while the child works, and
ends the child however the wait ends: with the job's answer, with its error, with ``wait``
raising (a Cancel, Streamlit stopping the script), or at ``time_limit``. A child whose
parent dies exits by itself, so no child outlives the run that started it.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from core.errors import ExplorerError

T = TypeVar("T")
# Told the seconds since the child started, every `poll` seconds; raising stops the child.
Wait = Callable[[float], None]

# The fork server imports these once, so each child starts with them loaded (importing
# scikit-learn takes a second or more on a busy server).
PRELOAD = ("numpy", "sklearn.manifold", "sklearn.cluster", "core.project", "core.clusters")
STOP_GRACE = 2.0  # seconds a terminated child gets to exit before it is killed

_context_lock = threading.Lock()


def _context() -> Any:
    """The forkserver context, its server told what to preload (before it first starts)."""
    with _context_lock:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))
        return context


# The two functions below run only in the child, where coverage does not follow them;
# tests/test_child.py checks what they do from outside (answers, errors, a parent's death).
def _exit_with_parent(alive: Connection) -> None:  # pragma: no cover
    """In the child: block until the parent closes its end of ``alive`` (it finished, or it
    died), then exit at once."""
    try:
        alive.recv()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _child(  # pragma: no cover
    job: Callable[..., Any], args: tuple, results: Connection, alive: Connection
) -> None:
    """The child's body: run ``job(*args)``, send ``(True, answer)`` or ``(False, error)``."""
    threading.Thread(target=_exit_with_parent, args=(alive,), daemon=True).start()
    try:
        answer: tuple[bool, Any] = (True, job(*args))
    except Exception as exc:  # handed to the parent, which raises it
        answer = (False, exc)
    try:
        results.send(answer)
    except (pickle.PicklingError, TypeError, AttributeError):
        results.send((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
    results.close()


def stop(child: Any) -> None:
    """End ``child`` (a multiprocessing process): SIGTERM, then SIGKILL after
    :data:`STOP_GRACE` seconds; waits until it is gone."""
    if child.is_alive():
        child.terminate()
        child.join(STOP_GRACE)
    if child.is_alive():
        child.kill()
    child.join()


def run_in_child(
    job: Callable[..., T],
    *args: Any,
    wait: Wait | None = None,
    poll: float = 0.25,
    time_limit: float | None = None,
) -> T:
    """``job(*args)`` computed in a child process (``job`` and ``args`` must pickle:
    a module-level function, arrays, numbers). ``wait(seconds_so_far)`` is called every
    ``poll`` seconds while it runs; an exception from ``wait`` stops the child and goes on
    up. Raises the job's own exception, or :class:`ExplorerError` when the child dies
    without an answer or runs past ``time_limit`` seconds."""
    if poll <= 0:
        raise ExplorerError(f"poll must be positive, got {poll}.")
    context = _context()
    results, results_end = context.Pipe(duplex=False)
    alive_end, alive = context.Pipe(duplex=False)
    name = getattr(job, "__name__", "job")
    child = context.Process(
        target=_child, args=(job, args, results_end, alive_end), daemon=True, name=name
    )
    start = time.perf_counter()
    try:
        child.start()
        results_end.close()
        alive_end.close()
        while not results.poll(poll):
            elapsed = time.perf_counter() - start
            if time_limit is not None and elapsed > time_limit:
                raise ExplorerError(f"{name} took more than {time_limit:g} s and was stopped.")
            if wait is not None:
                wait(elapsed)
        try:
            ok, answer = results.recv()
        except EOFError:
            child.join(STOP_GRACE)
            raise ExplorerError(
                f"{name} ended without an answer (exit code {child.exitcode}); "
                "it may have run out of memory."
            ) from None
    finally:
        alive.close()
        results.close()
        if child.pid is not None:
            stop(child)
    if not ok:
        raise answer
    return answer
