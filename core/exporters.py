"""Write what the app shows to files other tools open: a Projector TSV pair
(projector.tensorflow.org), parquet with labels, metadata, vectors and map coordinates, and
CSV tables safe to open in a spreadsheet.

Every writer's output reads back through ``core.io.read_upload`` with the same float32
vectors and metadata.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence

import numpy as np

from core.datasets import UNCATEGORIZED, Dataset
from core.errors import ExplorerError
from core.metrics import as_matrix

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# Column names of the exported roles (read back as label, text and vector by core.io).
LABEL, TEXT, VECTOR, CATEGORY, CLUSTER = "label", "text", "vector", "category", "cluster"
AXES = ("x", "y", "z")


def neutralize_cell(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula
    (it starts with = + - @); plain numbers such as ``-0.5`` are left as they are."""
    if text.lstrip().startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text.strip()):
        return "'" + text
    return text


def _tsv_cell(value: object) -> str:
    # A tab or newline inside a cell would split it; the Projector has no quoting.
    return neutralize_cell(" ".join(str(value).replace("\r", " ").replace("\t", " ").split("\n")))


def _checked(vectors: np.ndarray | list, n_labels: int) -> np.ndarray:
    matrix = as_matrix(vectors).astype(np.float32)
    if matrix.shape[0] == 0:
        raise ExplorerError("There are no vectors to export.")
    if n_labels != matrix.shape[0]:
        raise ExplorerError(
            f"{n_labels} labels for {matrix.shape[0]} vectors: give one label per vector."
        )
    return matrix


def _check_columns(columns: Mapping[str, Sequence[object]], n: int) -> None:
    for column, values in columns.items():
        if len(values) != n:
            raise ExplorerError(
                f"Column {column!r} has {len(values)} values for {n} vectors: give one per vector."
            )


def export_projector_tsv(
    labels: Sequence[str],
    vectors: np.ndarray | list,
    extra_columns: Mapping[str, Sequence[object]] | None = None,
) -> tuple[str, str]:
    """``(vectors.tsv, metadata.tsv)`` texts for projector.tensorflow.org.

    Values are written as float32 with 9 significant digits, which reads back exactly.
    With ``extra_columns`` the metadata gets a header ``label<TAB>name...``; tabs and
    newlines inside labels or values become spaces, and a metadata cell a spreadsheet would
    run as a formula gets a leading ``'`` (see :func:`neutralize_cell`).
    """
    matrix = _checked(vectors, len(labels))
    n = matrix.shape[0]
    columns = dict(extra_columns or {})
    _check_columns(columns, n)
    out = io.StringIO()
    np.savetxt(out, matrix, fmt="%.9g", delimiter="\t")
    if columns:
        head = [LABEL, *columns]
        if len(set(head)) != len(head):
            raise ExplorerError(f"Metadata column names repeat: {', '.join(head)}.")
        table = [head] + [
            [labels[i], *(values[i] for values in columns.values())] for i in range(n)
        ]
    else:
        table = [[label] for label in labels]
    metadata = "".join("\t".join(_tsv_cell(v) for v in row) + "\n" for row in table)
    return out.getvalue(), metadata


def dataset_columns(dataset: Dataset) -> dict[str, tuple[object, ...]]:
    """The metadata a dataset exports besides its labels: ``text`` when the texts differ
    from the labels, ``category`` when there are categories (and no extra column of that
    name), then every ``extra`` column."""
    columns: dict[str, tuple[object, ...]] = {}
    if dataset.texts != dataset.labels:
        columns[TEXT] = dataset.texts
    if set(dataset.categories) != {UNCATEGORIZED} and CATEGORY not in dataset.extra:
        columns[CATEGORY] = dataset.categories
    for name, values in dataset.extra.items():
        columns.setdefault(name, values)
    return columns


def projector_pair(dataset: Dataset, vectors: np.ndarray) -> tuple[str, str]:
    """``(vectors.tsv, metadata.tsv)`` of a dataset under one model (see
    :func:`export_projector_tsv` and :func:`dataset_columns`)."""
    return export_projector_tsv(dataset.labels, vectors, dataset_columns(dataset))


def _unique(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def export_parquet(
    dataset: Dataset,
    vectors: np.ndarray,
    coords: np.ndarray | None = None,
    clusters: Sequence[int] | np.ndarray | None = None,
) -> bytes:
    """A parquet file: ``label``, the metadata of :func:`dataset_columns`, optionally the
    map's ``coords`` (``(n, 2)`` or ``(n, 3)``: columns x, y[, z]) and ``clusters`` (one int
    per item), and ``vector`` (float32 lists, exact). A role name an extra column already
    uses gets a trailing ``_``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    matrix = _checked(vectors, len(dataset))
    n, dims = matrix.shape
    columns = dataset_columns(dataset)
    taken = set(columns) - {TEXT, CATEGORY}
    arrays: dict[str, pa.Array] = {_unique(LABEL, taken): pa.array(dataset.labels, pa.string())}
    for name, values in columns.items():
        kinds = {type(v) for v in values}
        if kinds <= {int}:
            arrays[name] = pa.array(values, pa.int64())
        elif kinds <= {int, float}:
            arrays[name] = pa.array([float(v) for v in values], pa.float64())  # type: ignore[arg-type]
        else:
            arrays[name] = pa.array([str(v) for v in values], pa.string())
    if coords is not None:
        points = np.asarray(coords, dtype=np.float64)
        if points.ndim != 2 or points.shape[0] != n or points.shape[1] not in (2, 3):
            raise ExplorerError(
                f"Map coordinates of shape {points.shape} for {n} items: give (n, 2) or (n, 3)."
            )
        for axis in range(points.shape[1]):
            arrays[_unique(AXES[axis], taken)] = pa.array(points[:, axis])
    if clusters is not None:
        ids = np.asarray(clusters)
        if ids.shape != (n,) or ids.dtype.kind not in "iu":
            raise ExplorerError(
                f"Cluster ids of shape {ids.shape} ({ids.dtype}) for {n} items: give one int each."
            )
        arrays[_unique(CLUSTER, taken)] = pa.array(ids.astype(np.int64))
    flat = pa.array(matrix.reshape(-1), pa.float32())
    arrays[_unique(VECTOR, taken)] = pa.FixedSizeListArray.from_arrays(flat, dims)
    out = io.BytesIO()
    pq.write_table(pa.table(arrays), out)
    return out.getvalue()


def table_csv(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table as CSV text (comma-separated, quoted where needed) whose text cells and
    column names a spreadsheet shows as text, never runs (see :func:`neutralize_cell`);
    numbers are written as numbers (floats with their shortest exact form)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([neutralize_cell(str(c)) for c in columns])
    for row in rows:
        if len(row) != len(columns):
            raise ExplorerError(f"A row has {len(row)} cells for {len(columns)} columns.")
        writer.writerow(
            [
                repr(float(v))
                if isinstance(v, float | np.floating)
                else (str(v) if isinstance(v, int | np.integer) else neutralize_cell(str(v)))
                for v in row
            ]
        )
    return out.getvalue()
