"""Byte accounting: what vectors cost at each precision, what a search method adds, the
peak memory of a scale-lab build against this machine's free memory, and the one formatter
for byte counts the pages show.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from core import kernels
from core.corpora import CHUNK_ROWS, MIN_N
from core.errors import ExplorerError
from core.quantize import Precision
from core.search import Method

MEMINFO = Path("/proc/meminfo")
GIB = 1 << 30


@cache
def _list_bytes(dims: int) -> int:
    # Measured, not modelled: a list built item by item (as json.loads or an API client builds
    # it) over-allocates, and the growth pattern belongs to the CPython version.
    items = [float(i) for i in range(dims)]
    return sys.getsizeof(items) + dims * sys.getsizeof(1.0)


@cache
def _ndarray_header() -> int:
    return sys.getsizeof(np.empty(0, dtype=np.float32))


def payload_bytes(dims: int, precision: str | Precision) -> int:
    """Bytes of the numbers of one ``dims``-d vector inside a matrix (no per-object header):
    8, 4, 1 and 1/8 bytes per dimension for float64, float32, int8 and binary (rounded up to
    whole bytes); for a Python list, everything :func:`bytes_per_vector` counts."""
    p = Precision.coerce(precision)
    if dims < 1:
        raise ExplorerError(f"dims={dims}: a vector needs at least 1 dimension.")
    if p is Precision.PYTHON_LIST:
        return _list_bytes(dims)
    if p is Precision.BINARY:
        return math.ceil(dims / 8)
    return dims * np.dtype(p.value).itemsize


def bytes_per_vector(dims: int, precision: str | Precision) -> int:
    """Memory of one ``dims``-d vector held on its own, in bytes.

    A numpy vector is ``sys.getsizeof`` of the 1-D array: its data plus the ndarray header
    (112 B on numpy 2.x): 12,400 B for 1536 float64, 1,648 B for 1536 int8. A Python list
    counts the list object (``sys.getsizeof``, with the spare slots a list built item by item
    keeps) plus the float objects it points to (24 B each): 49,592 B for 1536 floats on
    CPython 3.11. ``sys.getsizeof`` of the list alone, the 12,728 B the seed notebooks show,
    leaves the floats out: see :func:`python_list_bytes`.
    """
    p = Precision.coerce(precision)
    if p is Precision.PYTHON_LIST:
        return payload_bytes(dims, p)
    return payload_bytes(dims, p) + _ndarray_header()


def python_list_bytes(dims: int, include_floats: bool = True) -> int:
    """A ``dims``-long list of floats, in bytes; ``include_floats=False`` gives what
    ``sys.getsizeof(the_list)`` reports (the list's pointer array only)."""
    total = payload_bytes(dims, Precision.PYTHON_LIST)
    return total if include_floats else total - dims * sys.getsizeof(1.0)


def index_bytes(
    n: int,
    dims: int,
    precision: str | Precision,
    keep_float_for_rescore: bool = False,
    overhead_per_vector: float = 0.0,
) -> int:
    """Bytes to store ``n`` vectors as one matrix at ``precision``, plus a float32 copy for
    rescoring when ``keep_float_for_rescore`` and the precision is int8 or binary. Counts the
    numbers only (one array header is negligible), plus ``overhead_per_vector`` bytes for
    what a vector database stores beside each vector (ids, graph links, bookkeeping)."""
    if n < 0:
        raise ExplorerError(f"n={n}: the number of vectors cannot be negative.")
    if overhead_per_vector < 0:
        raise ExplorerError(f"overhead_per_vector={overhead_per_vector}: it cannot be negative.")
    p = Precision.coerce(precision)
    total = n * payload_bytes(dims, p) + round(n * overhead_per_vector)
    if keep_float_for_rescore and p in (Precision.INT8, Precision.BINARY):
        total += n * payload_bytes(dims, Precision.FLOAT32)
    return total


@dataclass(frozen=True)
class StorageRow:
    """One precision in the storage table.

    Attributes:
        precision: how the numbers are stored.
        bytes_per_vector: one vector held on its own (:func:`bytes_per_vector`).
        bytes_total: ``n`` vectors (:func:`index_bytes`, no rescoring copy).
        saved_vs_float32: percent of float32's total saved (negative: costs more).
        saved_vs_float64: percent of float64's total saved.
    """

    precision: Precision
    bytes_per_vector: int
    bytes_total: int
    saved_vs_float32: float
    saved_vs_float64: float


def storage_table(n: int, dims: int) -> list[StorageRow]:
    """Memory of ``n`` vectors of ``dims`` dimensions at every :class:`Precision`."""
    f32 = index_bytes(n, dims, Precision.FLOAT32)
    f64 = index_bytes(n, dims, Precision.FLOAT64)

    def saved(total: int, base: int) -> float:
        return 100.0 * (1.0 - total / base) if base else 0.0

    rows = []
    for p in Precision:
        total = index_bytes(n, dims, p)
        rows.append(
            StorageRow(p, bytes_per_vector(dims, p), total, saved(total, f32), saved(total, f64))
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Machine memory and what a scale-lab build needs


@dataclass(frozen=True)
class MemInfo:
    """The machine's memory in bytes, from ``/proc/meminfo``."""

    total: int
    available: int

    @property
    def reserve(self) -> int:
        """Kept free for the server and other users: a fifth of the total, at least 1 GiB."""
        return max(GIB, self.total // 5)

    @property
    def budget(self) -> int:
        """What one lab build may use: available memory minus the reserve (never negative)."""
        return max(0, self.available - self.reserve)


def read_meminfo(path: Path = MEMINFO) -> MemInfo:
    """Total and available memory from a ``/proc/meminfo``-format file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ExplorerError(f"Cannot read {path} ({exc}): the free memory is unknown.") from None
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    if "MemTotal" not in fields or "MemAvailable" not in fields:
        raise ExplorerError(f"{path} has no MemTotal/MemAvailable lines.")
    return MemInfo(fields["MemTotal"], fields["MemAvailable"])


def _words(dims: int) -> int:
    return -(-dims // 64)


def hnsw_bytes_per_vector(dims: int, m: int) -> int:
    """hnswlib's memory per vector, an upper estimate in bytes: the float32 copy, the layer-0
    links (``2M`` ids and a count), label, pointers, a per-element mutex and the label hash
    map entry, plus upper-layer links for the ``~1/M`` of nodes that have them."""
    level0 = 4 * dims + 4 * 2 * m + 4 + 8
    upper = math.ceil((4 * m + 4) / max(1, m - 1))
    bookkeeping = 8 + 4 + 40 + 80
    return level0 + upper + bookkeeping


def method_bytes(method: str | Method, n: int, dims: int, hnsw_m: int = 16) -> int:
    """Memory a method adds on top of the float32 corpus, in bytes: int8 codes (``d`` per
    vector), binary words (``8 * ceil(d / 64)``), or the HNSW graph with its own vector
    copy; exhaustive float32 adds nothing."""
    m = Method.coerce(method)
    if m is Method.EXACT:
        return 0
    if m is Method.INT8:
        return n * dims
    if m is Method.BINARY:
        return n * 8 * _words(dims)
    return n * hnsw_bytes_per_vector(dims, hnsw_m)


@dataclass(frozen=True)
class MemoryEstimate:
    """What a lab build will hold at its peak, in bytes.

    Attributes:
        n, dims: corpus size.
        corpus: the float32 vectors (every method's rescoring and the ground truth use them).
        methods: ``(method, bytes)`` for each method, on top of the corpus.
        working: temporaries: generation and quantization chunks, score blocks.
    """

    n: int
    dims: int
    corpus: int
    methods: tuple[tuple[Method, int], ...]
    working: int

    @property
    def total(self) -> int:
        return self.corpus + sum(b for _, b in self.methods) + self.working

    def per_vector(self) -> float:
        """Bytes per corpus vector of everything but the fixed working space."""
        return (self.total - self.working) / self.n

    def largest_n(self, budget: int) -> int:
        """The largest N whose estimate (same dims and methods) fits ``budget`` bytes."""
        return max(0, int((budget - self.working) // self.per_vector()))


def estimate_memory(
    n: int, dims: int, methods: Sequence[str | Method], hnsw_m: int = 16
) -> MemoryEstimate:
    """The memory a lab build of ``n`` vectors of ``dims`` with ``methods`` needs."""
    chosen = tuple(dict.fromkeys(Method.coerce(m) for m in methods))
    # Largest temporaries: a float64 quantization chunk and its copy, the kernels' key
    # blocks and their sort temporaries (64 MiB), the ground truth arrays.
    working = 2 * CHUNK_ROWS * dims * 8 + 32 * 8 * kernels.BLOCK_ELEMENTS + (64 << 20)
    return MemoryEstimate(
        n,
        dims,
        n * dims * 4,
        tuple((m, method_bytes(m, n, dims, hnsw_m)) for m in chosen),
        working,
    )


def check_fits(estimate: MemoryEstimate, mem: MemInfo) -> None:
    """Raise, with the numbers, when the build would not fit the memory budget."""
    if estimate.total <= mem.budget:
        return
    parts = ", ".join(
        [f"float32 vectors {format_bytes(estimate.corpus, 0)}"]
        + [f"{m.value} {format_bytes(b, 0)}" for m, b in estimate.methods if b]
        + [f"working space {format_bytes(estimate.working, 0)}"]
    )
    fits = estimate.largest_n(mem.budget)
    advice = (
        f"choose N ≤ {fits:,} or fewer methods"
        if fits >= MIN_N
        else "free memory on the machine before building"
    )
    raise ExplorerError(
        f"Refused: N = {estimate.n:,} × {estimate.dims} needs about "
        f"{format_bytes(estimate.total, 0)} ({parts}), but this machine has "
        f"{format_bytes(mem.available, 0)} available and keeps {format_bytes(mem.reserve, 0)} "
        f"in reserve for the server and other users, leaving {format_bytes(mem.budget, 0)}: "
        f"{advice}."
    )


# ---------------------------------------------------------------------------------------------
# Formatting


_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def format_bytes(count: int | float, mb_decimals: int | None = None) -> str:
    """``count`` bytes as text, in decimal units.

    By default with three significant figures: ``1536`` -> ``"1.54 kB"``, ``6_144_000_000``
    -> ``"6.14 GB"``; whole bytes below 1,000 stay exact. With ``mb_decimals``, in MB below
    1 GB with that many decimals and in GB above with one more (memory budgets):
    ``format_bytes(2.5e9, 1)`` -> ``"2.50 GB"``, ``format_bytes(512e6, 0)`` -> ``"512 MB"``.
    """
    if count < 0:
        raise ExplorerError(f"{count} bytes: a size cannot be negative.")
    if mb_decimals is not None:
        if count < 1e9:
            return f"{count / 1e6:,.{mb_decimals}f} MB"
        return f"{count / 1e9:,.{mb_decimals + 1}f} GB"
    value, unit = float(count), 0
    while value >= 999.5 and unit < len(_UNITS) - 1:
        value, unit = value / 1000.0, unit + 1
    if unit == 0:
        return f"{count:,.0f} B"
    return f"{value:.3g} {_UNITS[unit]}"
