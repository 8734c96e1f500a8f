"""core.blas: one BLAS thread while any caller asks, the original count back after the last."""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from core import blas


def counts() -> set[int]:
    """Thread counts of every loaded BLAS library."""
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture
def two_threads():
    if not counts():
        pytest.skip("no BLAS library loaded")
    with threadpool_limits(2, user_api="blas"):
        assert counts() == {2}
        yield


def test_one_thread_inside_and_the_count_back_after(two_threads):
    assert blas.threads() == 2
    with blas.one_thread():
        assert counts() == {1}
        assert blas.threads() == 2  # what the block restores
        with blas.one_thread():
            assert counts() == {1}
        assert counts() == {1}  # the outer user still holds it
    assert counts() == {2}
    assert blas.threads() == 2


def test_an_exception_still_restores(two_threads):
    with pytest.raises(ZeroDivisionError), blas.one_thread():
        raise ZeroDivisionError
    assert counts() == {2}


@pytest.mark.parametrize("first_out", ["first_in", "second_in"])
def test_overlapping_users_in_threads_restore_in_any_order(two_threads, first_out):
    # Thread a enters, then b; the one named by first_out leaves first. With a limit per user
    # that restores what it found, "a out first" would leave BLAS on 1 thread.
    go = {"a": threading.Event(), "b": threading.Event()}
    entered = {"a": threading.Event(), "b": threading.Event()}
    seen: dict[str, set[int]] = {}

    def user(name: str) -> None:
        with blas.one_thread():
            entered[name].set()
            go[name].wait(5)
            seen[name] = counts()

    workers = {name: threading.Thread(target=user, args=(name,)) for name in ("a", "b")}
    for name in ("a", "b"):
        workers[name].start()
        assert entered[name].wait(5)
    first, second = ("a", "b") if first_out == "first_in" else ("b", "a")
    go[first].set()
    workers[first].join(5)
    assert not workers[first].is_alive()
    assert counts() == {1}  # the other user is still inside
    go[second].set()
    workers[second].join(5)
    assert not workers[second].is_alive()
    assert seen == {"a": {1}, "b": {1}}
    assert counts() == {2}
