"""The remote embeddings cache's size bound (least recently used first) and file modes."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from core import diskcache
from core.embedcache import FILENAME, TOUCH_EVERY_S, CacheSpace, EmbeddingCache, text_hash

HOUR = 3600
DIMS = 4
VECTOR = 4 * DIMS  # bytes of one float32 vector
SPACE = CacheSpace("http://h/v1", "m")
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


class Clock:
    """A settable clock, in seconds."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def vecs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIMS)).astype(np.float32)


def cached(cache: EmbeddingCache, texts: list[str]) -> set[str]:
    """Which of ``texts`` are cached, read without marking them used."""
    with sqlite3.connect(cache.path) as conn:
        rows = conn.execute("SELECT text_sha256 FROM vectors").fetchall()
    have = {r[0] for r in rows}
    return {t for t in texts if text_hash(t) in have}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_evicts_least_recently_used_first(tmp_path, clock):
    cache = EmbeddingCache(tmp_path, max_bytes=3 * VECTOR, clock=clock)
    for i, text in enumerate(["a", "b", "c"]):
        clock.now += HOUR
        cache.put(SPACE, [text], vecs(1, i))
    clock.now += 2 * HOUR
    assert cache.get(SPACE, ["a"])[0] is not None  # "a" is now the most recently used
    clock.now += HOUR
    cache.put(SPACE, ["d"], vecs(1, 9))
    assert cached(cache, list("abcd")) == {"a", "c", "d"}
    clock.now += HOUR
    cache.put(SPACE, ["e"], vecs(1, 10))
    assert cached(cache, list("abcde")) == {"a", "d", "e"}
    assert cache.size() == 3 * VECTOR


def test_a_read_refreshes_at_most_once_per_touch_interval(tmp_path, clock):
    cache = EmbeddingCache(tmp_path, max_bytes=2 * VECTOR, clock=clock)
    cache.put(SPACE, ["a"], vecs(1))
    clock.now += 10
    cache.put(SPACE, ["b"], vecs(1))
    clock.now += 10
    cache.get(SPACE, ["a"])  # used 20 s after being written: not worth rewriting the row
    clock.now += 10
    cache.put(SPACE, ["c"], vecs(1))
    assert cached(cache, list("abc")) == {"b", "c"}
    assert TOUCH_EVERY_S <= HOUR


def test_the_limit_is_respected_across_spaces(tmp_path, clock):
    cache = EmbeddingCache(tmp_path, max_bytes=10 * VECTOR, clock=clock)
    for i in range(8):
        clock.now += HOUR
        space = CacheSpace("http://h/v1", f"m{i % 3}")
        cache.put(space, [f"t{i}-{j}" for j in range(3)], vecs(3, i))
        assert cache.size() <= 10 * VECTOR
    assert cache.size() == 10 * VECTOR  # the oldest rows go, one by one, until it fits


def test_vectors_just_written_survive_alone_over_the_limit(tmp_path, clock):
    cache = EmbeddingCache(tmp_path, max_bytes=VECTOR, clock=clock)
    cache.put(SPACE, ["old"], vecs(1))
    clock.now += HOUR
    texts = ["x", "y", "z"]
    cache.put(SPACE, texts, vecs(3))
    assert cached(cache, [*texts, "old"]) == set(texts)
    assert all(v is not None for v in cache.get(SPACE, texts))


def test_the_limit_comes_from_the_environment(tmp_path, clock, monkeypatch):
    monkeypatch.setenv(diskcache.REMOTE_MAX_BYTES_ENV, str(2 * VECTOR))
    cache = EmbeddingCache(tmp_path, clock=clock)
    for text in "abc":
        clock.now += HOUR
        cache.put(SPACE, [text], vecs(1))
    assert cached(cache, list("abc")) == {"b", "c"}


def test_eviction_is_logged(tmp_path, clock, caplog):
    cache = EmbeddingCache(tmp_path, max_bytes=VECTOR, clock=clock)
    cache.put(SPACE, ["a"], vecs(1))
    clock.now += HOUR
    with caplog.at_level(logging.INFO, logger="core.embedcache"):
        cache.put(SPACE, ["b"], vecs(1))
    assert "Evicted 1 least recently used vectors" in caplog.text


def test_a_database_from_before_the_bound_still_works(tmp_path, clock):
    path = tmp_path / FILENAME
    blob = np.arange(DIMS, dtype="<f4").tobytes()
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE spaces (space TEXT PRIMARY KEY, endpoint TEXT NOT NULL, "
            "model TEXT NOT NULL, dimensions INTEGER);"
            "CREATE TABLE vectors (space TEXT NOT NULL, text_sha256 TEXT NOT NULL, "
            "dims INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (space, text_sha256));"
        )
        conn.execute(
            "INSERT INTO vectors VALUES (?, ?, ?, ?)", (SPACE.key, text_hash("old"), DIMS, blob)
        )
    cache = EmbeddingCache(tmp_path, max_bytes=2 * VECTOR, clock=clock)
    np.testing.assert_array_equal(cache.get(SPACE, ["old"])[0], np.arange(DIMS))
    clock.now += 1
    cache.put(SPACE, ["new1", "new2"], vecs(2))  # "old" was used before any "new"
    assert cached(cache, ["old", "new1", "new2"]) == {"new1", "new2"}


def test_an_unusable_folder_means_misses_not_errors(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = EmbeddingCache(blocker / "remote")
    cache.put(SPACE, ["a"], vecs(1))
    assert cache.get(SPACE, ["a"]) == [None]
    assert cache.size() == 0
    assert "Could not write" in caplog.text


def test_concurrent_writers_and_readers_do_not_crash(tmp_path, caplog):
    cache = EmbeddingCache(tmp_path, max_bytes=40 * VECTOR)
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(15):
                texts = [f"w{worker}-{i}-{j}" for j in range(5)]
                cache.put(SPACE, texts, vecs(5, worker * 100 + i))
                got = cache.get(SPACE, texts)
                assert len(got) == 5
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert "Could not write" not in caplog.text and "unreadable" not in caplog.text
    assert cache.size() <= 40 * VECTOR


# ------------------------------------------------------------------------------ file modes


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_the_database_is_0600_in_a_0700_folder(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache" / "remote")
    cache.put(SPACE, ["a"], vecs(1))
    assert mode(cache.path) == 0o600
    assert mode(tmp_path / "cache") == 0o700 and mode(tmp_path / "cache" / "remote") == 0o700


@posix_only
def test_an_older_wider_database_is_narrowed(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put(SPACE, ["a"], vecs(1))
    cache.path.chmod(0o644)
    assert cache.get(SPACE, ["a"])[0] is not None
    assert mode(cache.path) == 0o600


@posix_only
@pytest.mark.parametrize("journal", ["WAL", "DELETE"])
def test_sqlite_gives_its_journal_the_database_mode(tmp_path, journal):
    cache = EmbeddingCache(tmp_path)
    cache.put(SPACE, ["a"], vecs(1))
    suffix = "-wal" if journal == "WAL" else "-journal"
    conn = sqlite3.connect(cache.path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA journal_mode={journal}")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM vectors")
        journal_file = cache.path.with_name(cache.path.name + suffix)  # open mid-transaction
        assert mode(journal_file) == 0o600
        conn.execute("COMMIT")
    finally:
        conn.close()
