"""core.resultcache: rows computed once per content (vectors, parameters, code), read back
equal, recomputed when any of the three changes or the file is damaged; private files."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core import diskcache, resultcache
from core.errors import ExplorerError
from core.quantize import Precision


@dataclass(frozen=True)
class Row:
    size: int
    share: float
    precision: Precision


def decode(raw: dict) -> Row:
    return Row(raw["size"], raw["share"], Precision.coerce(raw["precision"]))


class Counter:
    """compute() for cached_rows that counts its calls."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows, self.calls = rows, 0

    def __call__(self) -> list[Row]:
        self.calls += 1
        return self.rows


ROWS = [Row(8, 0.25, Precision.BINARY), Row(64, 1 / 3, Precision.INT8)]
V = np.arange(12, dtype=np.float32).reshape(3, 4)


def cached(root: Path, compute: Counter, vectors=V, params=None, modules=(resultcache,)):
    return resultcache.cached_rows(
        "test-rows", vectors, params or {"k": 3}, modules, compute, decode, root
    )


def test_second_call_reads_the_same_rows_from_disk(tmp_path):
    compute = Counter(ROWS)
    assert cached(tmp_path, compute) == ROWS
    again = cached(tmp_path, Counter([]))  # would return [] if it ran
    assert again == ROWS
    assert again[1].share == 1 / 3  # JSON keeps a float64 exactly
    assert again[0].precision is Precision.BINARY
    assert compute.calls == 1
    (path,) = resultcache.results_dir(tmp_path).iterdir()
    assert path.name.startswith("test-rows-") and path.suffix == ".json"
    assert json.loads(path.read_text())[0] == {"size": 8, "share": 0.25, "precision": "binary"}


@pytest.mark.parametrize(
    "change",
    [
        {"vectors": V + 1},  # other values
        {"vectors": V.astype(np.float64)},  # same values, other dtype
        {"vectors": V.reshape(4, 3)},  # same bytes, other shape
        {"params": {"k": 4}},
        {"modules": (resultcache, diskcache)},  # other code
    ],
)
def test_other_content_is_computed_again(tmp_path, change):
    cached(tmp_path, Counter(ROWS))
    compute = Counter(ROWS[:1])
    assert cached(tmp_path, compute, **change) == ROWS[:1]
    assert compute.calls == 1
    assert len(list(resultcache.results_dir(tmp_path).iterdir())) == 2


def test_parameter_order_does_not_matter():
    a = resultcache.result_digest(V, {"k": 3, "sizes": [8, 16]}, "code")
    assert a == resultcache.result_digest(V, {"sizes": [8, 16], "k": 3}, "code")
    assert a != resultcache.result_digest(V, {"k": 3, "sizes": [8, 16]}, "other code")


@pytest.mark.parametrize("damage", ["not json", '[{"size": 8}]', '[{"size": 8, "share": 1, '])
def test_damaged_file_is_recomputed_and_rewritten(tmp_path, damage, caplog):
    cached(tmp_path, Counter(ROWS))
    (path,) = resultcache.results_dir(tmp_path).iterdir()
    path.write_text(damage)
    compute = Counter(ROWS)
    assert cached(tmp_path, compute) == ROWS
    assert compute.calls == 1
    assert "Ignoring unreadable result" in caplog.text
    assert cached(tmp_path, Counter([])) == ROWS  # rewritten whole


def test_files_are_private(tmp_path):
    cached(tmp_path, Counter(ROWS))
    folder = resultcache.results_dir(tmp_path)
    (path,) = folder.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_unwritable_cache_still_returns_the_rows(tmp_path, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only disk")

    monkeypatch.setattr(resultcache.tempfile, "mkstemp", refuse)
    compute = Counter(ROWS)
    assert cached(tmp_path, compute) == ROWS
    assert cached(tmp_path, compute) == ROWS
    assert compute.calls == 2
    assert "Could not cache test-rows" in caplog.text


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(resultcache.os, "replace", broken)
    assert cached(tmp_path, Counter(ROWS)) == ROWS
    assert list(resultcache.results_dir(tmp_path).iterdir()) == []


def test_directory_is_bounded_least_recently_used_first(tmp_path, monkeypatch):
    monkeypatch.setattr(diskcache, "MIN_AGE_S", 0.0)
    cached(tmp_path, Counter(ROWS), params={"k": 1})
    (first,) = resultcache.results_dir(tmp_path).iterdir()
    os.utime(first, (1, 1))  # long unused
    monkeypatch.setattr(resultcache, "MAX_BYTES", first.stat().st_size)
    cached(tmp_path, Counter(ROWS), params={"k": 2})
    (left,) = resultcache.results_dir(tmp_path).iterdir()
    assert left != first


def test_default_root_is_the_cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    assert resultcache.results_dir() == tmp_path / "results"


@pytest.mark.parametrize("kind", ["", "Rows", "rows/../x", "9rows"])
def test_bad_kind(kind):
    with pytest.raises(ExplorerError, match="Result kind"):
        resultcache.result_path(kind, "0" * 32)


def test_a_module_without_a_source_file_is_an_error():
    with pytest.raises(ExplorerError, match="has no source file"):
        resultcache.code_digest([sys])
