"""Write what the app shows to files other tools open: a Projector TSV pair
(projector.tensorflow.org), parquet with labels, metadata, vectors and map coordinates, and
CSV tables safe to open in a spreadsheet.

The Projector pair and the parquet file read back through ``core.io.read_upload`` with the
same float32 vectors (bit for bit) and the same labels and metadata, except that a tab or
line break inside a Projector cell becomes a space (the format has no quoting). Only the CSV
tables, meant for spreadsheets, change text: a cell a spreadsheet would run as a formula gets
a leading ``'`` (see :func:`neutralize_cell`).
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
    # A tab or line break inside a cell would split it; the Projector has no quoting.
    return " ".join(str(value).replace("\r", " ").replace("\t", " ").split("\n"))


def _checked(vectors: np.ndarray | list, n_labels: int | None = None) -> np.ndarray:
    matrix = as_matrix(vectors).astype(np.float32)
    if matrix.shape[0] == 0:
        raise ExplorerError("There are no vectors to export.")
    if n_labels is not None and n_labels != matrix.shape[0]:
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


# ---------------------------------------------------------------- float32 as decimals
# Nine significant digits always read back to the same float32, whether parsed straight to
# float32 or (as core.io and the Projector's JavaScript do) to float64 first: the digits are
# within 5e-9 (relative) of the value, the float32 neighbours' midpoints at least 2.9e-8 away.

_STEP = 1 << 18  # values formatted per numpy step (about 170 bytes each: 45 MB at a time)
_LOWEST = -50  # exponents of ten from _LOWEST up cover float32 (1.4e-45 to 3.4e38)
_SCALE = 10.0 ** np.arange(_LOWEST, 60)  # 10**j at index j - _LOWEST
_FOUR = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(), np.uint32)
# Which of four digits to keep once trailing zeros go ("0120" -> 0111), as four bool bytes.
_KEEP4 = np.array(
    [[i < len(f"{n:04d}".rstrip("0")) for i in range(4)] for n in range(10_000)],
    bool,
).view(np.uint32)[:, 0]
_ALL4 = np.ones(4, bool).view(np.uint32)[0]
# The bytes a value may use, "-0.000d.dddddddde-xx<TAB>" and padding to 24 (whole words);
# the masks below pick the ones it does.
_TEMPLATE = np.frombuffer(b"-0.0000.00000000e-00\t   ", np.uint8)
# Bytes 0-7 (sign, "0.", up to 3 zeros, first digit, ".") by negative, plain, zeros, dot.
_PREFIX = np.array(
    [
        [neg, plain, plain, *(z < zeros for z in range(3)), True, dot]
        for neg in (0, 1)
        for plain in (0, 1)
        for zeros in range(4)
        for dot in (0, 1)
    ],
    bool,
).view(np.uint64)[:, 0]
# Bytes 16-19 ("e", "-", two digits) by exponent - _LOWEST; exponent 0 shows none of them.
_EXPONENTS = range(_LOWEST, -_LOWEST)
_SUFFIX = np.array([[e != 0, e < 0, abs(e) >= 10, e != 0] for e in _EXPONENTS], bool)
_SUFFIX = _SUFFIX.view(np.uint32)[:, 0]
_SUFFIX_BYTES = np.array(
    [[ord("e"), ord("-"), ord("0") + abs(e) // 10, ord("0") + abs(e) % 10] for e in _EXPONENTS],
    np.uint8,
).view(np.uint32)[:, 0]
_END = np.array([True, False, False, False]).view(np.uint32)[0]  # the separator, no padding


def _format_block(block: np.ndarray) -> bytes:
    """Rows of float32 ``block`` ``(r, d)`` as tab-separated lines, each value in nine
    significant digits less trailing zeros: ``0.0123`` from 1e-4 to 1, else ``1.5``,
    ``2.5e-7``, ``1e1``."""
    dims = block.shape[1]
    flat = block.reshape(-1)
    x = np.abs(flat.astype(np.float64))
    zero = x == 0
    x[zero] = 1.0
    exponent = np.floor(np.log10(x)).astype(np.int64)
    digits = np.rint(x * _SCALE[8 - exponent - _LOWEST])
    for _ in range(2):  # log10 may be one off near a power of ten: 1e8 <= digits < 1e9
        off = np.flatnonzero((digits >= 1e9) | (digits < 1e8))
        exponent[off] += np.where(digits[off] >= 1e9, 1, -1)
        digits[off] = np.rint(x[off] * _SCALE[8 - exponent[off] - _LOWEST])
    digits[zero], exponent[zero] = 0, 0
    whole = digits.astype(np.int64)
    rest = whole % 100_000_000
    high, low = rest // 10_000, rest % 10_000
    plain = ~zero & (exponent < 0) & (exponent >= -4)
    chars = np.empty((flat.size, len(_TEMPLATE)), np.uint8)
    chars[:] = _TEMPLATE
    chars[:, 6] = ord("0") + whole // 100_000_000
    words = chars.view(np.uint32)  # four bytes a column
    words[:, 2], words[:, 3] = _FOUR[high], _FOUR[low]
    keep = np.empty(chars.shape, bool)
    flags = keep.view(np.uint32)
    zeros = np.where(plain, -exponent - 1, 0)
    code = 16 * np.signbit(flat) + 8 * plain + 2 * zeros + (~plain & (rest != 0))
    keep.view(np.uint64)[:, 0] = _PREFIX[code]
    low_zero = low == 0
    flags[:, 2] = np.where(low_zero, _KEEP4[high], _ALL4)  # digits 2-5
    flags[:, 3] = _KEEP4[low]  # digits 6-9 (none when all four are zeros)
    suffix = np.where(plain, 0, exponent) - _LOWEST
    words[:, 4], flags[:, 4] = _SUFFIX_BYTES[suffix], _SUFFIX[suffix]
    flags[:, 5] = _END
    chars[dims - 1 :: dims, 20] = ord("\n")
    return chars[keep].tobytes()


def projector_vectors(vectors: np.ndarray | list) -> str:
    """The Projector's ``vectors.tsv``: one line per row of ``vectors`` ``(n, d)``, its values
    as float32 in nine significant digits (fewer when they end in zeros: 0.5 stays ``0.5``),
    which read back to the same float32 bit for bit."""
    matrix = _checked(vectors)
    rows = max(1, _STEP // matrix.shape[1])
    return b"".join(
        _format_block(matrix[start : start + rows]) for start in range(0, len(matrix), rows)
    ).decode("ascii")


def metadata_tsv(labels: Sequence[str], extra_columns: Mapping[str, Sequence[object]]) -> str:
    """The Projector's ``metadata.tsv``: one label per line, or with ``extra_columns`` a
    header ``label<TAB>name...`` then one row per label. Tabs and line breaks inside a cell
    become spaces; nothing else changes."""
    columns = dict(extra_columns)
    _check_columns(columns, len(labels))
    if columns:
        head = [LABEL, *columns]
        if len(set(head)) != len(head):
            raise ExplorerError(f"Metadata column names repeat: {', '.join(head)}.")
        table = [head] + [
            [labels[i], *(values[i] for values in columns.values())] for i in range(len(labels))
        ]
    else:
        table = [[label] for label in labels]
    return "".join("\t".join(_tsv_cell(v) for v in row) + "\n" for row in table)


def export_projector_tsv(
    labels: Sequence[str],
    vectors: np.ndarray | list,
    extra_columns: Mapping[str, Sequence[object]] | None = None,
) -> tuple[str, str]:
    """``(vectors.tsv, metadata.tsv)`` texts for projector.tensorflow.org (see
    :func:`projector_vectors` and :func:`metadata_tsv`)."""
    _checked(vectors, len(labels))
    return projector_vectors(vectors), metadata_tsv(labels, extra_columns or {})


def export_columns(dataset: Dataset) -> dict[str, tuple[object, ...]]:
    """The metadata a dataset exports besides its labels: ``text`` when the texts differ
    from the labels, ``category`` when there are categories (and no extra column of that
    name), then every ``extra`` column. (The map's columns are ``core.mapview``'s.)"""
    columns: dict[str, tuple[object, ...]] = {}
    if dataset.texts != dataset.labels:
        columns[TEXT] = dataset.texts
    if set(dataset.categories) != {UNCATEGORIZED} and CATEGORY not in dataset.extra:
        columns[CATEGORY] = dataset.categories
    for name, values in dataset.extra.items():
        columns.setdefault(name, values)
    return columns


def projector_metadata(dataset: Dataset) -> str:
    """A dataset's Projector ``metadata.tsv``: its labels and :func:`export_columns`."""
    return metadata_tsv(dataset.labels, export_columns(dataset))


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
    """A parquet file: ``label``, the metadata of :func:`export_columns`, optionally the
    map's ``coords`` (``(n, 2)`` or ``(n, 3)``: columns x, y[, z]) and ``clusters`` (one int
    per item), and ``vector`` (float32 lists, exact). A role name an extra column already
    uses gets a trailing ``_``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    matrix = _checked(vectors, len(dataset))
    n, dims = matrix.shape
    columns = export_columns(dataset)
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
