"""Similarity and distance metrics, one vector against many or many against many.

Every function takes ``(n, d)`` and ``(m, d)`` matrices (a single ``(d,)`` vector is promoted
to one row) and returns an ``(n, m)`` float64 matrix, so output shapes never depend on input
types.
"""

from __future__ import annotations

import numpy as np

from core.errors import ExplorerError
from core.modes import Mode


class Metric(Mode):
    """A way to compare two vectors. ``higher_is_closer`` tells the sort direction."""

    COSINE = "cosine"
    DOT = "dot"
    EUCLIDEAN = "euclidean"
    MANHATTAN = "manhattan"

    @property
    def higher_is_closer(self) -> bool:
        return self in (Metric.COSINE, Metric.DOT)


def as_matrix(x: np.ndarray | list, name: str = "vectors") -> np.ndarray:
    """Return ``x`` as a finite 2-D float array; a 1-D vector becomes one row."""
    arr = np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ExplorerError(f"{name} must be a vector or a matrix, got {arr.ndim} dimensions.")
    if arr.shape[1] == 0:
        raise ExplorerError(f"{name} have 0 dimensions.")
    if not np.issubdtype(arr.dtype, np.number):
        raise ExplorerError(f"{name} must be numeric, got dtype {arr.dtype}.")
    # One float64 sum is NaN/inf whenever any entry is, and is much cheaper than a
    # full-size isfinite mask on large corpora; the mask is built only to name the row.
    if not np.isfinite(arr.sum(dtype=np.float64)) and not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ExplorerError(f"{name} row {bad} contains NaN or infinity.")
    return arr


# The float32 kernels square values and sum up to ~1e5 of them: a larger magnitude
# overflows, and a row whose largest value is below ``MIN_ROW_VALUE`` underflows.
MAX_VALUE = 1e15
MIN_ROW_VALUE = 1e-15


def out_of_range(x: np.ndarray) -> tuple[int, int] | None:
    """``(row, column)`` of the first value of the finite ``(n, d)`` matrix ``x`` too large
    (beyond ±``MAX_VALUE``) or in a nonzero row too small (all below ``MIN_ROW_VALUE``) for
    float32 norms and dot products, else None."""
    peak = np.max(np.abs(x), axis=1)
    bad = np.flatnonzero((peak > MAX_VALUE) | ((peak > 0) & (peak < MIN_ROW_VALUE)))
    if not bad.size:
        return None
    row = int(bad[0])
    return row, int(np.argmax(np.abs(x[row])))


def check_same_width(a: np.ndarray | int, b: np.ndarray | int, message: str) -> None:
    """Raise unless ``a`` and ``b`` (2-D arrays, by their columns, or widths) are equally wide.

    ``message`` names the two widths with the placeholders ``{a}`` and ``{b}``, e.g.
    ``"Queries have {a} dimensions but the corpus has {b}: embed both with the same model."``.
    """
    wa = a if isinstance(a, int) else int(a.shape[1])
    wb = b if isinstance(b, int) else int(b.shape[1])
    if wa != wb:
        raise ExplorerError(message.replace("{a}", str(wa)).replace("{b}", str(wb)))


def check_nonzero_rows(lengths: np.ndarray, message: str) -> None:
    """Raise, naming the first row, when any of the ``(n,)`` row ``lengths`` is 0 (a zero
    vector has no direction). ``message`` names the row with the placeholder ``{row}``."""
    zero = np.flatnonzero(lengths == 0)
    if zero.size:
        raise ExplorerError(message.replace("{row}", str(int(zero[0]))))


def row_norms(x: np.ndarray, name: str = "vectors") -> np.ndarray:
    """L2 norm of every row, ``(n,)`` in ``x``'s float dtype, without copying ``x``; raises
    on a zero row, which has no direction for cosine."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    check_nonzero_rows(
        norms,
        f"{name} row {{row}} is a zero vector: it has no direction, so it cannot be "
        "compared by cosine.",
    )
    return norms


def _pair(a: np.ndarray | list, b: np.ndarray | list) -> tuple[np.ndarray, np.ndarray]:
    a2, b2 = as_matrix(a, "first vectors"), as_matrix(b, "second vectors")
    check_same_width(a2, b2, "Dimension mismatch: {a} dimensions against {b}.")
    return a2, b2


def normalize(x: np.ndarray | list) -> np.ndarray:
    """Scale every row to unit length (keeps float32 as float32); a zero row is an error.

    Rows whose squared values overflow or underflow (e.g. 1e200 or 1e-200) are first divided
    by their largest absolute value, so they keep their direction instead of becoming 0."""
    arr = as_matrix(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        n = np.linalg.norm(arr, axis=1, keepdims=True)
    # Below sqrt(tiny) the squares lost precision; inf means they overflowed.
    odd = ~(np.isfinite(n[:, 0]) & (n[:, 0] > np.sqrt(np.finfo(arr.dtype).tiny)))
    if not odd.any():
        return arr / n.astype(arr.dtype)
    out = np.empty_like(arr)
    out[~odd] = arr[~odd] / n[~odd].astype(arr.dtype)
    rows = arr[odd].astype(np.float64)
    scale = np.max(np.abs(rows), axis=1, keepdims=True)
    lengths = np.ones(len(arr))
    lengths[odd] = scale[:, 0]
    check_nonzero_rows(
        lengths,
        "Row {row} is a zero vector: it has no direction, so it cannot be normalised or "
        "compared by cosine.",
    )
    scaled = rows / scale
    out[odd] = (scaled / np.linalg.norm(scaled, axis=1, keepdims=True)).astype(arr.dtype)
    return out


def dot(a: np.ndarray | list, b: np.ndarray | list) -> np.ndarray:
    """Dot products, shape ``(n, m)``."""
    a2, b2 = _pair(a, b)
    return a2.astype(np.float64) @ b2.astype(np.float64).T


def cosine_similarity(a: np.ndarray | list, b: np.ndarray | list) -> np.ndarray:
    """Cosine of the angle between every row of ``a`` and every row of ``b``, in [-1, 1]."""
    a2, b2 = _pair(a, b)
    sims = normalize(a2.astype(np.float64)) @ normalize(b2.astype(np.float64)).T
    return np.clip(sims, -1.0, 1.0)


def cosine_distance(a: np.ndarray | list, b: np.ndarray | list) -> np.ndarray:
    """``1 - cosine_similarity``, in [0, 2]."""
    return 1.0 - cosine_similarity(a, b)


def euclidean(a: np.ndarray | list, b: np.ndarray | list) -> np.ndarray:
    """Straight-line (L2) distances, shape ``(n, m)``."""
    a2, b2 = _pair(a, b)
    a2, b2 = a2.astype(np.float64), b2.astype(np.float64)
    sq = (a2**2).sum(1)[:, None] + (b2**2).sum(1)[None, :] - 2.0 * (a2 @ b2.T)
    return np.sqrt(np.maximum(sq, 0.0))


def manhattan(a: np.ndarray | list, b: np.ndarray | list) -> np.ndarray:
    """Taxicab (L1) distances, shape ``(n, m)``; chunked to bound memory."""
    a2, b2 = _pair(a, b)
    a2, b2 = a2.astype(np.float64), b2.astype(np.float64)
    out = np.empty((a2.shape[0], b2.shape[0]))
    step = max(1, 4_000_000 // max(1, b2.shape[0] * b2.shape[1]))
    for i in range(0, a2.shape[0], step):
        out[i : i + step] = np.abs(a2[i : i + step, None, :] - b2[None, :, :]).sum(-1)
    return out


_FUNCS = {
    Metric.COSINE: cosine_similarity,
    Metric.DOT: dot,
    Metric.EUCLIDEAN: euclidean,
    Metric.MANHATTAN: manhattan,
}


def pairwise(metric: str | Metric, a: np.ndarray | list, b: np.ndarray | list) -> np.ndarray:
    """Score every row of ``a`` against every row of ``b`` with ``metric``, shape ``(n, m)``.

    Cosine and dot are similarities (higher is closer); euclidean and manhattan are distances.
    """
    return _FUNCS[Metric.coerce(metric)](a, b)
