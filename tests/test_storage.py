"""Byte accounting: sizes per precision against real objects, the machine's memory, the
scale lab's memory estimate and refusal, and the byte formatter."""

from __future__ import annotations

import json
import sys

import hnswlib
import numpy as np
import pytest

from core.errors import ExplorerError
from core.quantize import Precision
from core.search import Method
from core.storage import (
    MemInfo,
    bytes_per_vector,
    check_fits,
    estimate_memory,
    format_bytes,
    hnsw_bytes_per_vector,
    index_bytes,
    python_list_bytes,
    read_meminfo,
    storage_table,
)

GIB = 1 << 30


# ------------------------------------------------------------------------------ per vector


def test_seed_notebook_sizes_for_1536_dimensions():
    assert bytes_per_vector(1536, "float64") == 12_400
    assert bytes_per_vector(1536, "int8") == 1_648
    assert python_list_bytes(1536, include_floats=False) == 12_728


@pytest.mark.parametrize("dims", [3, 100, 384, 1536])
def test_sizes_match_real_objects(dims):
    values = np.random.default_rng(dims).normal(size=dims)
    # A list parsed from JSON, as an API response or a saved vector file arrives.
    as_list = json.loads(json.dumps(values.tolist()))
    assert python_list_bytes(dims, include_floats=False) == sys.getsizeof(as_list)
    deep = sys.getsizeof(as_list) + sum(sys.getsizeof(v) for v in as_list)
    assert bytes_per_vector(dims, "python-list") == deep
    assert bytes_per_vector(dims, "float64") == sys.getsizeof(values)
    assert bytes_per_vector(dims, "float32") == sys.getsizeof(values.astype(np.float32))
    assert bytes_per_vector(dims, "int8") == sys.getsizeof(values.astype(np.int8))
    assert bytes_per_vector(dims, "binary") == sys.getsizeof(np.packbits(values > 0))


def test_index_bytes_and_table():
    assert index_bytes(1000, 1536, "float32") == 6_144_000
    assert index_bytes(1000, 100, "binary") == 13_000
    assert index_bytes(1000, 1536, "int8", keep_float_for_rescore=True) == 1_536_000 + 6_144_000
    assert index_bytes(10, 8, "float32", keep_float_for_rescore=True) == 320
    # 1536 float32 numbers plus 27.5 B of index bookkeeping, per vector.
    assert index_bytes(200_000, 1536, "float32", overhead_per_vector=27.5) == 1_234_300_000
    with pytest.raises(ExplorerError, match="overhead"):
        index_bytes(1, 8, "int8", overhead_per_vector=-1)
    table = {row.precision: row for row in storage_table(1000, 1536)}
    assert list(table) == list(Precision)
    assert table[Precision.INT8].saved_vs_float32 == pytest.approx(75.0)
    assert table[Precision.BINARY].saved_vs_float32 == pytest.approx(96.875)
    assert table[Precision.FLOAT32].saved_vs_float64 == pytest.approx(50.0)
    assert table[Precision.FLOAT64].saved_vs_float32 == pytest.approx(-100.0)
    assert table[Precision.PYTHON_LIST].bytes_total == 1000 * bytes_per_vector(1536, "python-list")
    assert table[Precision.INT8].bytes_per_vector == 1_648
    with pytest.raises(ExplorerError, match="dims=0"):
        bytes_per_vector(0, "int8")
    with pytest.raises(ExplorerError, match="n=-1"):
        index_bytes(-1, 8, "int8")


# ------------------------------------------------------------------------------ memory


def test_read_meminfo(tmp_path):
    path = tmp_path / "meminfo"
    path.write_text("MemTotal:       24682416 kB\nMemFree: 100 kB\nMemAvailable:   23314620 kB\n")
    mem = read_meminfo(path)
    assert mem == MemInfo(24682416 * 1024, 23314620 * 1024)
    assert mem.reserve == 24682416 * 1024 // 5
    assert mem.budget == mem.available - mem.reserve
    assert MemInfo(2 * GIB, GIB // 2).budget == 0
    assert MemInfo(2 * GIB, 3 * GIB // 2).reserve == GIB
    path.write_text("MemTotal: 100 kB\n")
    with pytest.raises(ExplorerError, match="no MemTotal/MemAvailable"):
        read_meminfo(path)
    with pytest.raises(ExplorerError, match="Cannot read"):
        read_meminfo(tmp_path / "absent")


def test_estimate_counts_bytes_per_method():
    est = estimate_memory(10_000, 100, list(Method), hnsw_m=16)
    assert est.corpus == 10_000 * 100 * 4
    by_method = dict(est.methods)
    assert by_method[Method.EXACT] == 0
    assert by_method[Method.INT8] == 10_000 * 100
    assert by_method[Method.BINARY] == 10_000 * 2 * 8  # 100 bits -> two 64-bit words
    assert by_method[Method.HNSW] == 10_000 * hnsw_bytes_per_vector(100, 16)
    assert est.total == est.corpus + sum(by_method.values()) + est.working
    hnsw_only = estimate_memory(10_000, 100, ["HNSW", "HNSW"])
    assert hnsw_only.methods == ((Method.HNSW, 10_000 * hnsw_bytes_per_vector(100, 16)),)
    # 384 floats, 32 layer-0 links + count, label; upper links; pointer, level, mutex, map.
    assert hnsw_bytes_per_vector(384, 16) == 1536 + 128 + 4 + 8 + 5 + 8 + 4 + 40 + 80


def test_hnsw_estimate_is_at_least_what_hnswlib_stores():
    rng = np.random.default_rng(0)
    for dims, m in [(32, 8), (100, 16)]:
        x = rng.standard_normal((2000, dims)).astype(np.float32)
        graph = hnswlib.Index(space="cosine", dim=dims)
        graph.init_index(max_elements=2000, M=m, ef_construction=20, random_seed=1)
        graph.add_items(x, num_threads=1)
        stored = graph.index_file_size() / 2000
        # The serialised graph lacks the per-node mutex and the label hash map held in RAM.
        assert stored < hnsw_bytes_per_vector(dims, m) < stored + 200


def test_refusal_names_the_numbers_and_a_size_that_fits():
    mem = MemInfo(total=8 * GIB, available=3 * GIB)
    est = estimate_memory(1_000_000, 384, list(Method))
    with pytest.raises(ExplorerError) as caught:
        check_fits(est, mem)
    message = str(caught.value)
    fits = est.largest_n(mem.budget)
    assert message.startswith(f"Refused: N = 1,000,000 × 384 needs about {est.total / 1e9:,.1f} GB")
    assert f"float32 vectors {1_000_000 * 384 * 4 / 1e9:,.1f} GB" in message
    assert f"{mem.available / 1e9:,.1f} GB available" in message
    assert f"choose N ≤ {fits:,} or fewer methods" in message
    assert estimate_memory(fits, 384, list(Method)).total <= mem.budget
    assert estimate_memory(fits + 1, 384, list(Method)).total > mem.budget
    check_fits(estimate_memory(fits, 384, list(Method)), mem)
    with pytest.raises(ExplorerError, match="free memory on the machine before building"):
        check_fits(est, MemInfo(total=2 * GIB, available=GIB))


# ------------------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 kB"),
        (1536, "1.54 kB"),
        (49_592, "49.6 kB"),
        (999_999, "1 MB"),
        (6_144_000_000, "6.14 GB"),
        (2.5e15, "2.5 PB"),
    ],
)
def test_format_bytes(count, text):
    assert format_bytes(count) == text


def test_format_bytes_rejects_negative_sizes():
    with pytest.raises(ExplorerError, match="-1 bytes"):
        format_bytes(-1)


@pytest.mark.parametrize(
    ("count", "decimals", "text"),
    [
        (0, 0, "0 MB"),
        (512e6, 0, "512 MB"),
        (999_400_000, 0, "999 MB"),
        (2.5e9, 0, "2.5 GB"),
        (24_682_416 * 1024, 0, "25.3 GB"),
        (1_234_567, 1, "1.2 MB"),
        (2.5e9, 1, "2.50 GB"),
        (1_000_000_000, 1, "1.00 GB"),
    ],
)
def test_format_bytes_in_mb_and_gb(count, decimals, text):
    # The strings the scale lab showed before it used format_bytes: its refusal rounded
    # (0 decimals in MB, 1 in GB), its memory caption one decimal more.
    assert format_bytes(count, decimals) == text
