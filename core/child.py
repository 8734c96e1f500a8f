"""Run one long function in a child process that can be stopped at any moment.

scikit-learn's t-SNE and HDBSCAN and umap's UMAP offer no way to stop them: a thread that
runs one cannot be cancelled. A process can. :func:`run_in_child` starts a fresh Python
(never a fork: the server runs threads, and forking them is unsafe), hands it ``job`` and its
arguments pickled on its stdin, calls ``wait(elapsed)`` every ``poll`` seconds while it
works, and ends it however the wait ends: with the job's answer (pickled on a private copy
of its stdout), with its error, with ``wait`` raising (a Cancel, Streamlit stopping the
script), or at ``time_limit``. The child exits by itself when its stdin closes, so it does
not outlive a parent that dies.

multiprocessing's spawn and forkserver starts are not used: they re-run the parent's
``__main__`` in the child, and under Streamlit ``__main__`` is the app's script.
"""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from core.errors import ExplorerError

T = TypeVar("T")
# Told the seconds since the child started, every `poll` seconds; raising stops the child.
Wait = Callable[[float], None]

STOP_GRACE = 2.0  # seconds a terminated child gets to exit before it is killed
# The child reads the parent's sys.path first, so it imports what the parent would.
_BOOT = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
    "import core.child as c; c.serve()"
)
_READ = 1 << 20


def _exit_when_parent_goes() -> None:  # pragma: no cover - runs in the child
    """Block until stdin ends or fails (the parent finished, stopped us or died), then
    exit."""
    try:
        while sys.stdin.buffer.read(_READ):
            pass
    finally:
        os._exit(1)


def serve() -> None:  # pragma: no cover - the child's body; tests check it from outside
    """In the child: read ``(job, args)`` from stdin, run it, write ``(True, answer)`` or
    ``(False, error)`` pickled to the stdout it started with. Anything the job prints goes
    to stderr, so it cannot corrupt the answer."""
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    job, args = pickle.load(sys.stdin.buffer)
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
    try:
        answer: tuple[bool, Any] = (True, job(*args))
    except Exception as exc:  # handed to the parent, which raises it
        answer = (False, exc)
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        data = pickle.dumps((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
    with os.fdopen(answer_fd, "wb") as out:
        out.write(data)
    os._exit(0)


def stop(child: subprocess.Popen) -> None:
    """End ``child``: SIGTERM, then SIGKILL after :data:`STOP_GRACE` seconds; waits until
    it is gone."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
    child.wait()


def run_in_child(
    job: Callable[..., T],
    *args: Any,
    wait: Wait | None = None,
    poll: float = 0.25,
    time_limit: float | None = None,
) -> T:
    """``job(*args)`` computed in a child process (``job`` and ``args`` must pickle: a
    module-level function or a partial of one, arrays, numbers). ``wait(seconds_so_far)``
    is called every ``poll`` seconds while it runs; an exception from ``wait`` stops the
    child and goes on up. Raises the job's own exception, or :class:`ExplorerError` when
    the child dies without an answer or runs past ``time_limit`` seconds."""
    if poll <= 0:
        raise ExplorerError(f"poll must be positive, got {poll}.")
    name = getattr(job, "__name__", None) or getattr(getattr(job, "func", None), "__name__", "job")
    payload = pickle.dumps(sys.path) + pickle.dumps((job, args), protocol=pickle.HIGHEST_PROTOCOL)
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(payload)
        child.stdin.flush()
        chunks = []
        out = child.stdout.fileno()
        while True:
            ready, _, _ = select.select([out], [], [], poll)
            if ready:
                chunk = os.read(out, _READ)
                if not chunk:
                    break
                chunks.append(chunk)
                continue
            elapsed = time.perf_counter() - start
            if time_limit is not None and elapsed > time_limit:
                raise ExplorerError(f"{name} took more than {time_limit:g} s and was stopped.")
            if wait is not None:
                wait(elapsed)
        child.wait(STOP_GRACE)  # it exits right after its answer
    except subprocess.TimeoutExpired:
        pass  # stopped below
    except BrokenPipeError:
        chunks = []  # the child died before reading its job: reported below
    finally:
        child.stdin.close()
        child.stdout.close()
        stop(child)
    try:
        ok, answer = pickle.loads(b"".join(chunks))
    except (pickle.UnpicklingError, EOFError):  # no answer, or half of one (killed writing)
        raise ExplorerError(
            f"{name} ended without an answer (exit code {child.returncode}); "
            "it may have run out of memory."
        ) from None
    if not ok:
        raise answer
    return answer
