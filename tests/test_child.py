"""core.child: a job's answer and errors come back from the child process, and the child is
gone however the run ends: the answer, an error, a crash, a Cancel (the wait callback
raising), the time limit, the parent's own death."""

from __future__ import annotations

import os
import pickle
import signal
import stat
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from core.child import STOP_GRACE, run_in_child
from core.errors import ExplorerError

REPO = Path(__file__).resolve().parents[1]


class Stopped(Exception):
    """What a Cancel (or Streamlit stopping the script) raises inside ``wait``."""


def scaled_sum(x: np.ndarray, factor: float) -> float:
    return float(x.sum() * factor)


def noisy(x: int, y: int) -> int:
    print("a job that prints must not corrupt its answer")  # noqa: T201
    return x * y


def fail(message: str) -> None:
    raise ExplorerError(message)


def fail_unpicklable() -> None:
    class Local(Exception):  # a class defined in a function does not pickle
        pass

    raise Local("cannot travel")


def crash(code: int) -> None:
    os._exit(code)


def killed_while_answering(code: int) -> None:
    """Write half of an answer where the child writes its answer (the pipe ``serve`` kept
    as fd 3 before sending stdout to stderr), then die, as the OOM killer would do it."""
    assert stat.S_ISFIFO(os.fstat(3).st_mode)
    data = pickle.dumps((True, "x" * 10_000))
    os.write(3, data[: len(data) // 2])
    os._exit(code)


def sleep_forever(pid_file: str) -> None:
    """Write the child's pid, then sleep far longer than any test waits."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


def child_pids(pid: int | None = None) -> list[int]:
    """The child processes of ``pid`` (default: this process), from /proc."""
    tasks = Path(f"/proc/{os.getpid() if pid is None else pid}/task")
    return [int(p) for t in tasks.iterdir() for p in (t / "children").read_text().split()]


def busy_deaf_to_sigterm(pid_file: str) -> None:
    """Ignore SIGTERM, then compute in C holding the GIL (as a compiled library can), so
    neither SIGTERM nor the child's own stdin watcher can end it: only SIGKILL."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Path(pid_file).write_text(str(os.getpid()))
    sum(range(10**13))


def gone(pid: int, within: float = 10.0) -> bool:
    """True once no process ``pid`` exists (polled for up to ``within`` seconds)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def read_pid(pid_file: Path, within: float = 60.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pid_file.exists() and pid_file.read_text():
            return int(pid_file.read_text())
        time.sleep(0.05)
    raise AssertionError(f"no pid in {pid_file}")


def test_answer_comes_back_from_another_process() -> None:
    before = set(child_pids())  # a browser test session may run a server and Chromium
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert run_in_child(scaled_sum, x, 0.5) == 33.0
    assert run_in_child(partial(noisy, 6), 7) == 42
    pid = run_in_child(os.getpid)
    assert pid != os.getpid()
    assert gone(pid, within=0.5) and set(child_pids()) <= before


def test_errors_come_back_as_errors() -> None:
    with pytest.raises(ExplorerError, match="bad value 7"):
        run_in_child(fail, "bad value 7")
    with pytest.raises(RuntimeError, match="Local: cannot travel"):
        run_in_child(fail_unpicklable)
    with pytest.raises(ExplorerError, match=r"crash ended without an answer \(exit code 3\)"):
        run_in_child(crash, 3)
    with pytest.raises(ExplorerError, match=r"answering ended without an answer \(exit code 9\)"):
        run_in_child(killed_while_answering, 9)
    with pytest.raises(ExplorerError, match="poll must be positive, got 0"):
        run_in_child(os.getpid, poll=0)


def test_a_cancel_in_wait_stops_the_child(tmp_path: Path) -> None:
    before = set(child_pids())
    pid_file = tmp_path / "pid"
    seen: list[float] = []

    def wait(elapsed: float) -> None:
        seen.append(elapsed)
        if pid_file.exists() and pid_file.read_text():
            raise Stopped

    with pytest.raises(Stopped):
        run_in_child(sleep_forever, str(pid_file), wait=wait, poll=0.05)
    assert seen == sorted(seen) and seen[0] >= 0
    assert gone(read_pid(pid_file), within=0.5) and set(child_pids()) <= before


def test_a_child_deaf_to_sigterm_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def wait(_elapsed: float) -> None:
        if pid_file.exists() and pid_file.read_text():
            raise Stopped

    start = time.monotonic()
    with pytest.raises(Stopped):
        run_in_child(busy_deaf_to_sigterm, str(pid_file), wait=wait, poll=0.05)
    assert gone(read_pid(pid_file), within=0.5)
    assert time.monotonic() - start >= STOP_GRACE  # SIGTERM first, SIGKILL after the grace


def test_the_time_limit_stops_the_child(tmp_path: Path) -> None:
    before = set(child_pids())
    pid_file = tmp_path / "pid"
    with pytest.raises(ExplorerError, match="sleep_forever took more than 1.5 s"):
        run_in_child(sleep_forever, str(pid_file), poll=0.05, time_limit=1.5)
    # On a busy machine the child may be stopped before it wrote its pid.
    assert set(child_pids()) <= before
    if pid_file.exists() and pid_file.read_text():
        assert gone(int(pid_file.read_text()), within=0.5)


def test_the_child_exits_when_its_parent_dies(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        "import sys; from core.child import STOP_GRACE, run_in_child; "
        "from tests.test_child import sleep_forever; "
        f"run_in_child(sleep_forever, {str(pid_file)!r})"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        child = read_pid(pid_file)
        assert not gone(child, within=0.2)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        assert gone(child)
    finally:
        parent.kill()
        parent.wait()
