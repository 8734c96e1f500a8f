"""The vector cache's size bound (least-recently-used eviction) and private file modes."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core import diskcache
from core.datasets import dataset_from_texts, load_dataset
from core.embedders.base import Embedder
from core.vectors import bound_cache, cache_paths, embed_dataset, load_cached

HOUR = 3600.0
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


class Toy(Embedder):
    """Deterministic 16-d vectors from a text's characters (no model to load)."""

    name = "toy"
    dims = 16

    def _embed(self, texts: list[str]) -> np.ndarray:
        rng = [np.random.default_rng(sum(map(ord, t))) for t in texts]
        return np.stack([r.standard_normal(self.dims) for r in rng]).astype(np.float32)


def make_entry(folder: Path, stem: str, size: int, hours_ago: float) -> None:
    """An entry of ``size`` bytes (npy + json) last used ``hours_ago``."""
    folder.mkdir(parents=True, exist_ok=True)
    when = time.time() - hours_ago * HOUR
    for suffix, n in ((".npy", size - 10), (".json", 10)):
        path = folder / f"{stem}{suffix}"
        path.write_bytes(b"x" * n)
        os.utime(path, (when, when))


def age(npy: Path, hours: float) -> None:
    """Make the entry of ``npy`` look last used ``hours`` ago."""
    when = time.time() - hours * HOUR
    for path in (npy, npy.with_suffix(".json")):
        os.utime(path, (when, when))


def stems(folder: Path) -> set[str]:
    return {p.stem for p in folder.iterdir() if not p.name.startswith(".")}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def upload(i: int, n: int = 50):
    return dataset_from_texts(f"upload-{i}.csv", [f"text {i} {j}" for j in range(n)])


# ------------------------------------------------------------------------- diskcache.evict


def test_evicts_least_recently_used_first_until_within_the_limit(tmp_path):
    for stem, hours in (("b", 3), ("a", 5), ("d", 0.5), ("c", 1)):
        make_entry(tmp_path, stem, 1000, hours)
    result = diskcache.evict(tmp_path, 2500)
    assert result.removed == ("a", "b")
    assert result.freed == 2000 and result.left == 2000
    assert stems(tmp_path) == {"c", "d"}
    assert folder_bytes(tmp_path) <= 2500


def test_an_entry_goes_as_a_unit_and_other_files_are_ignored(tmp_path):
    make_entry(tmp_path, "old", 1000, 5)
    make_entry(tmp_path, "new", 1000, 1)
    (tmp_path / "notes.txt").write_text("not a cache entry")
    diskcache.evict(tmp_path, 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json", "new.npy", "notes.txt"]


def test_within_the_limit_nothing_goes(tmp_path):
    make_entry(tmp_path, "a", 1000, 5)
    assert diskcache.evict(tmp_path, 1000) == diskcache.Eviction((), 0, 1000)
    assert stems(tmp_path) == {"a"}


def test_pinned_entries_survive_and_still_count(tmp_path):
    make_entry(tmp_path, "words-1_toy", 1000, 9)
    make_entry(tmp_path, "up-1", 1000, 5)
    make_entry(tmp_path, "up-2", 1000, 1)
    result = diskcache.evict(tmp_path, 2000, pinned=lambda s: s.startswith("words-"))
    assert result.removed == ("up-1",)
    assert stems(tmp_path) == {"words-1_toy", "up-2"}


def test_the_entry_just_written_survives_alone_over_the_limit(tmp_path):
    make_entry(tmp_path, "old", 1000, 5)
    make_entry(tmp_path, "big", 5000, 2)
    result = diskcache.evict(tmp_path, 100, keep="big")
    assert result.removed == ("old",) and result.left == 5000
    assert stems(tmp_path) == {"big"}


def test_entries_changed_within_min_age_survive(tmp_path):
    make_entry(tmp_path, "old", 1000, 5)
    make_entry(tmp_path, "fresh", 1000, 0)  # another process may still be writing it
    assert diskcache.evict(tmp_path, 0).removed == ("old",)
    assert diskcache.evict(tmp_path, 0, min_age=0).removed == ("fresh",)


def test_temporary_files_are_skipped_unless_stale(tmp_path):
    make_entry(tmp_path, "a", 1000, 1)
    live, stale = tmp_path / ".b-123.npy", tmp_path / ".c-456.npy"
    live.write_bytes(b"x" * 5000)
    stale.write_bytes(b"x" * 5000)
    old = time.time() - 2 * HOUR
    os.utime(stale, (old, old))
    assert diskcache.evict(tmp_path, 1000).left == 1000  # neither counts
    assert live.exists() and not stale.exists()


def test_a_missing_folder_is_empty(tmp_path):
    assert diskcache.evict(tmp_path / "nothing", 0) == diskcache.Eviction((), 0, 0)


def test_files_vanishing_mid_scan_are_fine(tmp_path, monkeypatch):
    for i in range(4):
        make_entry(tmp_path, f"e{i}", 1000, 4 - i)
    real_unlink = os.unlink

    def racing_unlink(path):  # another process removes each file just before we do
        real_unlink(path)
        real_unlink(path)

    monkeypatch.setattr(diskcache.os, "unlink", racing_unlink)
    assert diskcache.evict(tmp_path, 2000).removed == ("e0", "e1")
    assert stems(tmp_path) == {"e2", "e3"}


def test_concurrent_evictions_do_not_crash(tmp_path):
    for i in range(200):
        make_entry(tmp_path, f"e{i:03d}", 100, 200 - i)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait()
            diskcache.evict(tmp_path, 1000)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stems(tmp_path) == {f"e{i:03d}" for i in range(190, 200)}


def test_eviction_is_logged(tmp_path, caplog):
    make_entry(tmp_path, "gone", 2_000_000, 3)
    with caplog.at_level(logging.INFO, logger="core.diskcache"):
        diskcache.evict(tmp_path, 0)
    assert "Evicted gone" in caplog.text and "2.0 MB" in caplog.text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 1 << 30), ("", 1 << 30), ("5000", 5000), ("0", 0), ("1_000", 1000)],
)
def test_limit_from_env(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv(diskcache.MAX_BYTES_ENV, raising=False)
    else:
        monkeypatch.setenv(diskcache.MAX_BYTES_ENV, raw)
    assert diskcache.limit_from_env(diskcache.MAX_BYTES_ENV, 1 << 30) == expected


@pytest.mark.parametrize("raw", ["1GB", "-1", "lots"])
def test_a_bad_limit_falls_back_to_the_default_with_a_warning(monkeypatch, caplog, raw):
    monkeypatch.setenv(diskcache.MAX_BYTES_ENV, raw)
    assert diskcache.limit_from_env(diskcache.MAX_BYTES_ENV, 123) == 123
    assert diskcache.MAX_BYTES_ENV in caplog.text


# --------------------------------------------------------------- the vector cache (vectors.py)


def test_embed_dataset_evicts_the_least_recently_loaded(tmp_path, monkeypatch):
    toy = Toy()
    first, _, third = (embed_dataset(upload(i), toy, tmp_path) for i in range(3))
    npys = [cache_paths(upload(i), toy, tmp_path) for i in range(3)]
    entry = npys[0].stat().st_size + npys[0].with_suffix(".json").stat().st_size
    for npy, hours in zip(npys, (5, 4, 3), strict=True):
        age(npy, hours)
    np.testing.assert_array_equal(load_cached(upload(0), toy, tmp_path), first)  # now recent
    age(npys[0], 1)  # loaded an hour ago: older than min_age, newer than the others
    monkeypatch.setenv(diskcache.MAX_BYTES_ENV, str(3 * entry + 100))
    embed_dataset(upload(3), toy, tmp_path)
    left = {p.stem for p in (tmp_path / "vectors").glob("*.npy")}
    assert left == {npys[0].stem, npys[2].stem, cache_paths(upload(3), toy, tmp_path).stem}
    assert folder_bytes(tmp_path / "vectors") <= 3 * entry + 100
    assert load_cached(upload(1), toy, tmp_path) is None
    np.testing.assert_array_equal(embed_dataset(upload(2), toy, tmp_path), third)


def test_load_cached_marks_the_entry_used(tmp_path):
    npy = cache_paths(upload(0), Toy(), tmp_path)
    embed_dataset(upload(0), Toy(), tmp_path)
    age(npy, 5)
    assert load_cached(upload(0), Toy(), tmp_path) is not None
    assert time.time() - npy.stat().st_mtime < 60


def test_bundled_vectors_are_never_evicted(tmp_path, monkeypatch):
    toy = Toy()
    words = load_dataset("words")
    impostor = dataset_from_texts("words", ["not", "the", "bundled", "words"])
    embed_dataset(words, toy, tmp_path)
    embed_dataset(impostor, toy, tmp_path)
    bundled_npy = cache_paths(words, toy, tmp_path)
    age(bundled_npy, 100)
    age(cache_paths(impostor, toy, tmp_path), 50)
    monkeypatch.setenv(diskcache.MAX_BYTES_ENV, "1")
    embed_dataset(upload(0), toy, tmp_path)
    left = {p.stem for p in (tmp_path / "vectors").glob("*.npy")}
    assert left == {bundled_npy.stem, cache_paths(upload(0), toy, tmp_path).stem}


def test_the_entry_just_written_survives_a_tiny_limit(tmp_path, monkeypatch):
    toy = Toy()
    embed_dataset(upload(0), toy, tmp_path)
    age(cache_paths(upload(0), toy, tmp_path), 2)
    monkeypatch.setenv(diskcache.MAX_BYTES_ENV, "1")
    vectors = embed_dataset(upload(1), toy, tmp_path)
    np.testing.assert_array_equal(load_cached(upload(1), toy, tmp_path), vectors)
    assert load_cached(upload(0), toy, tmp_path) is None


def test_bound_cache_on_an_empty_root(tmp_path):
    assert bound_cache(tmp_path).removed == ()


def test_concurrent_writers_do_not_crash(tmp_path, monkeypatch):
    # No grace period and a limit of about three entries: every write evicts, racing the others.
    monkeypatch.setattr(diskcache, "MIN_AGE_S", 0.0)
    toy = Toy()
    embed_dataset(upload(0), toy, tmp_path)
    npy = cache_paths(upload(0), toy, tmp_path)
    entry = npy.stat().st_size + npy.with_suffix(".json").stat().st_size
    monkeypatch.setenv(diskcache.MAX_BYTES_ENV, str(3 * entry))
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def write(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(8):
                data = upload(100 * worker + i)
                vectors = embed_dataset(data, toy, tmp_path)
                assert vectors.shape == (len(data), toy.dims)
                load_cached(upload(100 * ((worker + 1) % 6) + i), toy, tmp_path)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    bound_cache(tmp_path)  # once the writers are done, one pass brings the folder in bounds
    folder = tmp_path / "vectors"
    assert folder_bytes(folder) <= 3 * entry
    assert all(p.with_suffix(".json").exists() for p in folder.glob("*.npy"))


# ------------------------------------------------------------------------------ file modes


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_cache_files_are_0600_and_folders_0700(tmp_path):
    root = tmp_path / "cache"
    embed_dataset(upload(0), Toy(), root)
    npy = cache_paths(upload(0), Toy(), root)
    assert mode(npy) == 0o600 and mode(npy.with_suffix(".json")) == 0o600
    assert mode(root) == 0o700 and mode(root / "vectors") == 0o700
    embed_dataset(upload(0), Toy(), root)  # a rewrite (same path) keeps the mode
    assert mode(npy) == 0o600


@posix_only
def test_private_file_creates_0600_and_narrows_wider_files(tmp_path):
    new, wide = tmp_path / "new.db", tmp_path / "wide.db"
    diskcache.private_file(new)
    wide.write_text("kept")
    wide.chmod(0o644)
    diskcache.private_file(wide)
    assert mode(new) == 0o600 and mode(wide) == 0o600
    assert wide.read_text() == "kept"


@posix_only
def test_private_dir_leaves_existing_folders_alone(tmp_path):
    tmp_path.chmod(0o755)
    assert diskcache.private_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    assert mode(tmp_path) == 0o755


def _write_uploads(root: Path, worker: int) -> None:
    for i in range(6):
        embed_dataset(upload(100 * worker + i), Toy(), root)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks worker processes")
def test_concurrent_processes_do_not_crash(tmp_path, monkeypatch):
    import multiprocessing

    monkeypatch.setattr(diskcache, "MIN_AGE_S", 0.0)
    monkeypatch.setenv(diskcache.MAX_BYTES_ENV, "8000")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_uploads, args=(tmp_path, w)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    bound_cache(tmp_path)
    assert folder_bytes(tmp_path / "vectors") <= 8000
