"""Several students on one real server at once: each sees only its own content, and no input
is lost when changes arrive faster than the page reruns.

The server is ``streamlit run explorer_app.py`` with ``.streamlit/config.toml`` (what
``make run`` uses); the students are the bench's websocket clients
(``bench.classroom_client.ReplaySession``), replaying the recorded Chromium session with
their own values. What they see is checked against a numpy brute force over the same
vectors. No timings are asserted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest

from bench.classroom_client import Recording, ReplaySession, StreamlitServer, with_values
from tests.event_loop import run_in_own_thread

pytestmark = pytest.mark.slow


async def _students(
    server: StreamlitServer,
    recording: Recording,
    student: Callable[[ReplaySession, int], Coroutine[Any, Any, None]],
) -> None:
    """One session per target, all running ``student(session, i)`` at once."""
    sessions = await _open_all(server.url, recording, len(TARGETS))
    try:
        await asyncio.gather(*(student(s, i) for i, s in enumerate(sessions)))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


MODEL = "static-minilm-256"  # the first model column on the page
TARGETS = ["river", "piano", "tiger", "apple", "doctor", "ocean"]


@pytest.fixture(scope="module")
def server() -> Iterator[StreamlitServer]:
    srv = StreamlitServer()
    try:
        yield srv
    finally:
        srv.close()
    assert "Traceback" not in srv.log_text(), srv.log_text()


@pytest.fixture(scope="module")
def recording() -> Recording:
    return Recording.load()


def _sims(words: tuple[tuple[str, ...], np.ndarray], target: str) -> tuple[np.ndarray, int]:
    labels, v = words
    row = labels.index(target)
    sims = v @ v[row] / (np.linalg.norm(v, axis=1) * np.linalg.norm(v[row]))
    return sims, row


def _most_similar(words, target: str, k: int) -> list[str]:
    sims, row = _sims(words, target)
    order = [i for i in np.argsort(-sims, kind="stable") if i != row]
    return [words[0][i] for i in order[:k]]


def _template(recording: Recording, step: str) -> bytes:
    return dict(recording.reruns)[step]


def _query(session: ReplaySession) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(session.query_string).items()}


async def _open_all(url: str, recording: Recording, n: int) -> list[ReplaySession]:
    sessions = [ReplaySession(url, recording) for _ in range(n)]
    opened = await asyncio.gather(*(s.open() for s in sessions))
    assert all(r.status == 0 and not r.exceptions for r in opened), opened
    return sessions


def test_each_session_sees_only_its_own_neighbors_and_threshold(
    server: StreamlitServer, recording: Recording, words_static_unit
) -> None:
    words = words_static_unit  # the first model column's (static-minilm-256) vectors
    neighbours = _template(recording, "target")  # Neighbours tab: target and k
    open_spread = _template(recording, "Spread")
    threshold_change = _template(recording, "threshold")

    async def student(s: ReplaySession, i: int) -> None:
        target, k = TARGETS[i], 5 + i
        # Two changes in a row, as a student types a target, then moves k.
        for values in ({"sim_target": target, "sim_k": 10}, {"sim_target": target, "sim_k": k}):
            r = await s.run("neighbours", with_values(neighbours, values))
            assert r.status == 0 and not r.exceptions, r
        assert _query(s)["sim_target"] == target and _query(s)["sim_k"] == str(k)
        most = s.frames()[0]
        assert most["item"].tolist() == _most_similar(words, target, k)

        # The Spread tab, then its threshold (a browser only sends the state of a widget it
        # has drawn).
        r = await s.run("Spread", with_values(open_spread, {"sim_target": target, "sim_k": k}))
        assert r.status == 0 and not r.exceptions, r
        threshold = round(0.2 + 0.05 * i, 2)
        values = {"sim_target": target, "sim_threshold": threshold}
        r = await s.run("threshold", with_values(threshold_change, values))
        assert r.status == 0 and not r.exceptions, r
        assert not s.unmatched
        assert _query(s)["sim_threshold"] == str(threshold)
        column = f"items ≥ {threshold:.2f}"
        table = next(f for f in s.frames() if column in f.columns).set_index("model")
        sims, row = _sims(words, target)
        expected = int((np.delete(sims, row) >= threshold).sum())
        # float32 on the page, float64 here: an item within 1e-6 of t may fall either way.
        near = int((np.abs(np.delete(sims, row) - threshold) < 1e-6).sum())
        assert abs(int(table.loc[MODEL, column]) - expected) <= near

    run_in_own_thread(_students(server, recording, student))


def test_changes_faster_than_reruns_lose_no_input(
    server: StreamlitServer, recording: Recording, words_static_unit
) -> None:
    """Each session sends five changes without waiting (a student holding an arrow key);
    the run that finally completes shows the last one, in every session."""
    words = words_static_unit
    neighbours = _template(recording, "target")

    async def student(s: ReplaySession, i: int) -> None:
        target = TARGETS[i]
        start = 0.0
        for k in range(11, 16):
            start = await s.send(with_values(neighbours, {"sim_target": target, "sim_k": k}))
        for _ in range(5):  # at most one completed run per change
            r = await s.finish("burst", start)
            assert r.status == 0 and not r.exceptions, r
            if _query(s).get("sim_k") == "15":
                break
        assert _query(s)["sim_target"] == target and _query(s)["sim_k"] == "15"
        assert s.frames()[0]["item"].tolist() == _most_similar(words, target, 15)

    run_in_own_thread(_students(server, recording, student))
