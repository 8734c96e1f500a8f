"""What the map shows: which metadata column colours it and how, which rows are drawn, and
which rows a box or lasso selected.

A dataset's columns are its ``categories`` and every ``extra`` column (one value per item).
A column is numeric when every non-missing value reads as a finite number: it gets a
continuous scale. Any other column is categorical: its most frequent values get their own
colour and the rest are drawn together as "other". Above :data:`MAX_POINTS` rows the map
shows a sample stratified by the colour column, so every colour keeps its share.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.datasets import Dataset
from core.errors import ExplorerError
from core.modes import Mode

# Every point is drawn (WebGL) up to this many rows; above it, a stratified sample this large.
MAX_POINTS = 100_000
# Categorical columns get this many distinct colours; rarer values share "other".
MAX_CATEGORIES = 20
OTHER = "other"
MISSING = "(missing)"
# The dataset's own category column, as the map's menus name it.
CATEGORY_COLUMN = "category"
# Numeric columns are cut into this many quantile bins for stratified sampling.
NUMERIC_STRATA = 10

Value = str | int | float | None


class ColumnKind(Mode):
    """How a column is coloured: one colour per value, or a continuous scale."""

    CATEGORICAL = "categorical"
    NUMERIC = "numeric"


def dataset_columns(dataset: Dataset) -> dict[str, tuple[Value, ...]]:
    """Every column the map can colour, filter or show on hover: ``category`` first, then the
    ``extra`` columns in their order (an extra column named ``category`` replaces it)."""
    columns: dict[str, tuple[Value, ...]] = {CATEGORY_COLUMN: tuple(dataset.categories)}
    columns.update({name: tuple(values) for name, values in dataset.extra.items()})
    return columns


def _is_missing(value: Value) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def as_numbers(values: Sequence[Value]) -> np.ndarray | None:
    """``values`` as float64 ``(n,)`` (missing values as NaN), or None when a non-missing
    value is not a finite number (booleans count as categories, not numbers)."""
    out = np.full(len(values), np.nan)
    seen = False
    for i, value in enumerate(values):
        if _is_missing(value):
            continue
        if isinstance(value, bool):
            return None
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        if not math.isfinite(number):
            return None
        out[i] = number
        seen = True
    return out if seen else None


@dataclass(frozen=True)
class Colouring:
    """How every row of one column is coloured.

    Categorical: ``codes`` int64 ``(n,)`` index ``names`` (most frequent first, then
    ``other`` and ``(missing)`` when present). Numeric: ``numbers`` float64 ``(n,)`` with
    NaN for missing values, ``names`` empty and ``codes`` the quantile bin of each row
    (``-1`` for missing), which sampling uses as strata.
    """

    column: str
    kind: ColumnKind
    codes: np.ndarray
    names: tuple[str, ...]
    numbers: np.ndarray | None = None
    grouped: int = 0  # distinct values folded into "other"


def _text(value: Value) -> str:
    return MISSING if _is_missing(value) else str(value)


def colour_by(
    column: str, values: Sequence[Value], max_categories: int = MAX_CATEGORIES
) -> Colouring:
    """Colour ``values`` (one per row) as numbers when they all are, else as categories: the
    ``max_categories`` most frequent values (ties by value) and ``other`` for the rest."""
    if max_categories < 1:
        raise ExplorerError(f"max_categories must be at least 1, got {max_categories}.")
    numbers = as_numbers(values)
    if numbers is not None:
        return Colouring(column, ColumnKind.NUMERIC, quantile_bins(numbers), (), numbers)
    texts = [_text(v) for v in values]
    counts = Counter(t for t in texts if t != MISSING)
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    kept = ranked[:max_categories]
    names = list(kept)
    folded = len(ranked) - len(kept)
    if folded:
        names.append(OTHER if OTHER not in kept else f"{OTHER} ({folded} values)")
    if MISSING in texts:
        names.append(MISSING)
    index = {name: i for i, name in enumerate(names)}
    other = len(kept)
    codes = np.fromiter((index.get(t, other) for t in texts), dtype=np.int64, count=len(texts))
    return Colouring(column, ColumnKind.CATEGORICAL, codes, tuple(names), grouped=folded)


def quantile_bins(numbers: np.ndarray, bins: int = NUMERIC_STRATA) -> np.ndarray:
    """Each finite value's quantile bin, int64 ``(n,)`` in ``0..bins-1``; NaN gets ``-1``."""
    codes = np.full(numbers.shape[0], -1, dtype=np.int64)
    finite = ~np.isnan(numbers)
    if finite.any():
        edges = np.quantile(numbers[finite], np.linspace(0, 1, bins + 1)[1:-1])
        codes[finite] = np.searchsorted(edges, numbers[finite], side="right")
    return codes


def stratified_sample(strata: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted row ids of a sample of ``size`` rows in which every stratum (value of
    ``strata``, int ``(n,)``) keeps its share (largest remainders round the shares) and at
    least one row; all rows when ``size >= n``."""
    n = strata.shape[0]
    if size < 1:
        raise ExplorerError(f"A sample needs at least 1 row, got {size}.")
    if size >= n:
        return np.arange(n)
    values, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    if size < len(values):
        raise ExplorerError(
            f"A sample of {size} rows cannot hold one row of each of {len(values)} groups."
        )
    exact = counts * (size / n)
    take = np.maximum(np.floor(exact).astype(np.int64), 1)
    # Hand out what is left by largest remainder, never more than a stratum holds.
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    left = size - int(take.sum())
    step = 0
    while left > 0:
        s = order[step % len(order)]
        if take[s] < counts[s]:
            take[s] += 1
            left -= 1
        step += 1
    while left < 0:  # the one-row minimums overshot: trim the most over-served stratum
        s = int(np.argmax(np.where(take > 1, take - exact, -np.inf)))
        take[s] -= 1
        left += 1
    rng = np.random.default_rng(seed)
    by_stratum = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picked = [
        rng.choice(by_stratum[start : start + count], t, replace=False)
        for start, count, t in zip(starts, counts, take, strict=True)
    ]
    return np.sort(np.concatenate(picked))


def category_mask(values: Sequence[Value], keep: Sequence[str]) -> np.ndarray:
    """bool ``(n,)``: True where the value (as the map names it, ``(missing)`` for an empty
    one) is one of ``keep``."""
    wanted = set(keep)
    return np.fromiter((_text(v) in wanted for v in values), dtype=bool, count=len(values))


def range_mask(numbers: np.ndarray, low: float, high: float) -> np.ndarray:
    """bool ``(n,)``: True where ``low <= value <= high`` (NaN is outside every range)."""
    if low > high:
        raise ExplorerError(f"The range's low end {low} is above its high end {high}.")
    with np.errstate(invalid="ignore"):
        return (numbers >= low) & (numbers <= high)


def distinct_values(values: Sequence[Value], limit: int = 200) -> list[str]:
    """The column's values as the map names them, most frequent first (ties by value), at
    most ``limit`` of them: the choices of a filter."""
    counts = Counter(_text(v) for v in values)
    return sorted(counts, key=lambda t: (-counts[t], t))[:limit]


@dataclass(frozen=True)
class MapRows:
    """The rows drawn: ``rows`` int64 sorted dataset row ids; ``matching`` how many rows
    passed the filter; ``sampled`` True when ``rows`` is a stratified sample of them."""

    rows: np.ndarray
    matching: int
    sampled: bool


def rows_to_draw(
    mask: np.ndarray, strata: np.ndarray, max_points: int = MAX_POINTS, seed: int = 0
) -> MapRows:
    """The rows that pass ``mask`` (bool ``(n,)``), all of them up to ``max_points``, else a
    sample stratified by ``strata`` (int ``(n,)``, e.g. :attr:`Colouring.codes`)."""
    rows = np.flatnonzero(mask)
    if rows.size <= max_points:
        return MapRows(rows, int(rows.size), False)
    keep = stratified_sample(strata[rows], max_points, seed)
    return MapRows(rows[keep], int(rows.size), True)


def selected_rows(
    points: Sequence[Mapping[str, Any]], trace_rows: Sequence[np.ndarray]
) -> np.ndarray:
    """Dataset rows of a plotly selection: each point names its trace (``curve_number``) and
    its place in that trace (``point_index``, or ``point_number``); ``trace_rows[c]`` holds
    trace ``c``'s dataset rows. Sorted, unique int64; points of traces not listed (markers
    drawn on top) are ignored."""
    found: list[int] = []
    for point in points:
        curve = int(point.get("curve_number", 0))
        index = point.get("point_index", point.get("point_number"))
        if index is None or not 0 <= curve < len(trace_rows):
            continue
        rows = trace_rows[curve]
        if not 0 <= int(index) < rows.shape[0]:
            raise ExplorerError(
                f"The selection names point {index} of trace {curve}, which has {rows.shape[0]}."
            )
        found.append(int(rows[int(index)]))
    return np.unique(np.asarray(found, dtype=np.int64))


def centroid(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The mean direction of ``vectors[rows]`` as a ``(1, d)`` float64 vector: the mean of
    the unit-length rows (cosine's centre), scaled to unit length."""
    if rows.size == 0:
        raise ExplorerError("The selection is empty: drag a box or a lasso around some points.")
    x = np.asarray(vectors[rows], dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if not norms.all():
        raise ExplorerError("A selected vector has length 0, so it has no direction.")
    mean = (x / norms).mean(axis=0)
    length = float(np.linalg.norm(mean))
    if length < 1e-12:
        raise ExplorerError("The selected vectors cancel out: their mean has no direction.")
    return (mean / length)[np.newaxis, :]
