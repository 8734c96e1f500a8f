"""Byte accounting: what vectors cost in memory at each precision, and the one formatter
for byte counts the pages show.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import cache

import numpy as np

from core.errors import ExplorerError
from core.quantize import Precision


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
    n: int, dims: int, precision: str | Precision, keep_float_for_rescore: bool = False
) -> int:
    """Bytes to store ``n`` vectors as one matrix at ``precision``, plus a float32 copy for
    rescoring when ``keep_float_for_rescore`` and the precision is int8 or binary. Counts the
    numbers only (one array header is negligible); no graph or other index structure."""
    if n < 0:
        raise ExplorerError(f"n={n}: the number of vectors cannot be negative.")
    p = Precision.coerce(precision)
    total = n * payload_bytes(dims, p)
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
