"""A real PostgreSQL + pgvector for the tests: one embedded server per test session, in a
temporary directory, stopped at the end with a check that none of its processes is left.
Tests that need it skip (with the reason) when the embedded server cannot start here.

Import the fixtures into a test module: ``from tests.pg_fixtures import pg_db, pg_server``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core import pg
from core.errors import ExplorerError


def server_pids(pid: int | None) -> set[int]:
    """The postmaster ``pid`` and every process it started (checkpointer, workers ...)."""
    if pid is None:
        return set()
    try:
        root = psutil.Process(pid)
        return {pid, *(p.pid for p in root.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()


def still_running(pids: set[int], wait: float = 5.0) -> set[int]:
    """Those of ``pids`` still running (zombies waiting for their parent count as gone)
    after waiting up to ``wait`` seconds for them to exit."""
    deadline = time.monotonic() + wait
    while True:
        alive = set()
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.add(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.EmbeddedServer]:
    """A running embedded server (its own data directory); stopped and removed afterwards,
    failing the session if any of its processes outlives it. The app's table limit is
    lifted meanwhile: module fixtures keep tables that later tests' loads would prune."""
    root = Path(tempfile.mkdtemp(prefix="explorer-pg-"))
    keep, pg.KEEP_TABLES = pg.KEEP_TABLES, 10_000
    server = pg.EmbeddedServer(root / "data")
    try:
        server.start()
    except ExplorerError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pg.KEEP_TABLES = keep
        pytest.skip(f"the embedded PostgreSQL cannot start here: {exc}")
    pids = server_pids(server.pid)
    yield server
    pg.KEEP_TABLES = keep
    server.stop()
    left = still_running(pids)
    shutil.rmtree(root, ignore_errors=True)
    assert not left, f"postgres processes left after stopping: {sorted(left)}"


@pytest.fixture(scope="session")
def pg_db(pg_server: pg.EmbeddedServer) -> pg.Database:
    """How to reach the session's server."""
    return pg_server.start()
