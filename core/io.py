"""Read and write user files: label->vector JSON, text CSV, TensorFlow Projector TSV, .npy.

Every loader takes the file as ``bytes`` (an upload), ``str`` (its text) or a ``Path``, and
every malformed input raises :class:`ExplorerError` naming the file, the line or label, and
the problem, so a page can show the message as it is.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from core.datasets import Dataset, check_text, dataset_from_texts, quoted
from core.errors import ExplorerError
from core.metrics import MAX_VALUE, MIN_ROW_VALUE, as_matrix, out_of_range

# Larger files would take minutes to parse and several times their size in memory.
MAX_BYTES = 200 * 1024 * 1024
# Texts to embed per upload: about ten minutes of the slowest local model on this machine.
MAX_TEXT_ROWS = 20_000
# Vectors per upload: every page keeps them (and their caches) in memory per session.
MAX_VECTOR_ROWS = 200_000
# Items per upload: the pages compare each item with the others.
MIN_ROWS = 2
# Column names taken as the text to embed when none is named (compared without accents/case).
TEXT_COLUMN_NAMES = ("text", "title", "sentence", "word", "texto", "titulo", "frase", "palabra")
CSV_DELIMITERS = (",", ";", "\t", "|")

Source = bytes | str | Path


@dataclass(frozen=True)
class ImportedVectors:
    """Vectors loaded from a file: ``vectors`` float32 ``(n, d)``, row ``i`` named
    ``labels[i]``; ``metadata`` maps extra column names to ``n`` values each."""

    source: str
    labels: tuple[str, ...]
    vectors: np.ndarray
    metadata: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.vectors.shape[0] != n:
            raise ExplorerError(f"{n} labels for {self.vectors.shape[0]} vectors.")
        for name, values in self.metadata.items():
            if len(values) != n:
                raise ExplorerError(f"Metadata column {name!r} has {len(values)} values for {n}.")
        # A frozen result should not change under a page's feet.
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class TextTable:
    """Texts to embed, read from a CSV: ``labels`` and ``categories`` are None when the file
    has no such column."""

    name: str
    texts: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None


# ---------------------------------------------------------------------------- reading text


def _source_name(data: Source, name: str | None, default: str) -> str:
    if name:
        return name
    return data.name if isinstance(data, Path) else default


def _check_size(size: int, source: str) -> None:
    if size > MAX_BYTES:
        raise ExplorerError(
            f"{source} is {size / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB. "
            "Import fewer rows or fewer dimensions."
        )


def _read_bytes(data: bytes | bytearray | memoryview | Path, source: str) -> bytes:
    if isinstance(data, Path):
        try:
            _check_size(data.stat().st_size, source)
            return data.read_bytes()
        except OSError as exc:
            raise ExplorerError(f"Cannot read {data}: {exc.strerror or exc}.") from None
    if isinstance(data, bytes | bytearray | memoryview):
        _check_size(len(data), source)
        return bytes(data)
    raise ExplorerError(
        f"Cannot read {source} from a {type(data).__name__}: pass bytes, text or a Path."
    )


def _read_text(data: Source, source: str) -> str:
    """The file's text, from UTF-8 (a leading byte-order mark is dropped)."""
    if isinstance(data, str):
        _check_size(len(data), source)
        text = data
    else:
        raw = _read_bytes(data, source)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ExplorerError(
                f"{source} is not UTF-8 text: byte {exc.start} (0x{raw[exc.start]:02x}) on "
                f"line {line} cannot be decoded. Save the file as UTF-8 and import it again."
            ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ExplorerError(f"{source} is empty.")
    return text


def _lines(text: str) -> list[str]:
    """Lines without their ``\\n``/``\\r\\n``; empty lines at the end are dropped."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _show(value: object) -> str:
    """A value as the user wrote it in JSON, shortened for a message."""
    shown = repr(value) if isinstance(value, str) else json.dumps(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _to_float32(rows: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``rows`` as float32, or raise naming the first NaN, infinity or float32 overflow."""
    with np.errstate(over="ignore"):
        out = rows.astype(np.float32)
    bad = np.argwhere(~np.isfinite(out))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        value = float(rows[i, j])
        # A number too long for a float64 (e.g. a 5,000-digit integer) was read as inf.
        hint = " (infinite, or too large to read)" if np.isinf(value) else ""
        raise ExplorerError(
            f"{names[i]} value {j + 1} is {value}{hint}: every value must be a finite number "
            "within float32 range (about ±3.4e38)."
        )
    where = out_of_range(out)
    if where is not None:
        i, j = where
        raise ExplorerError(
            f"{names[i]} value {j + 1} is {float(rows[i, j]):g}: out of range for comparing "
            f"vectors in float32 (values up to ±{MAX_VALUE:g}, and not every value of a row "
            f"below {MIN_ROW_VALUE:g}); divide all vectors by one common factor."
        )
    return out


def _check_rows(n: int, cap: int, what: str, source: str) -> None:
    if n > cap:
        raise ExplorerError(
            f"{source} has {n:,} {what}; the limit is {cap:,}. Upload a sample of the rows."
        )


def _check_labels(labels: Sequence[str], where: Sequence[str], source: str) -> None:
    """Raise on an empty, repeated or unencodable label; ``where[i]`` says where label ``i``
    came from. Labels are compared trimmed, as the pages show them."""
    first: dict[str, int] = {}
    for i, label in enumerate(labels):
        check_text(label, f"{source}: the label of {where[i]}")
        key = label.strip()
        if not key:
            raise ExplorerError(f"{source}: {where[i]} has an empty label.")
        if key in first:
            j = first[key]
            if labels[j] == label:
                problem = f"label {quoted(label)} appears twice ({where[j]} and {where[i]})"
            else:
                problem = (
                    f"labels {quoted(labels[j])} ({where[j]}) and {quoted(label)} ({where[i]}) "
                    "differ only "
                    "by surrounding spaces, which are trimmed"
                )
            raise ExplorerError(f"{source}: {problem}; labels must be unique.")
        first[key] = i


# ---------------------------------------------------------------------------- label JSON


class _JsonObject(list):
    """The (key, value) pairs of one JSON object, in file order, repeated keys kept."""


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _json_kind(value: object) -> str:
    if isinstance(value, _JsonObject):
        return "object"
    return "null" if value is None else _JSON_KINDS.get(type(value), type(value).__name__)


def _json_int(digits: str) -> int | float:
    # int() refuses over 4,300 digits (ValueError) and float64 ends near 1e308: longer
    # integers become inf, which is refused with the label and position below.
    return int(digits) if len(digits) < 300 else float(digits)


def load_label_json(
    data: Source, name: str | None = None, max_rows: int | None = None
) -> ImportedVectors:
    """Read ``{"<label>": [float, ...], ...}`` (the seed notebooks' format).

    ``data`` is the file's bytes, its text, or a Path; ``name`` names it in messages
    (default: the file name); more than ``max_rows`` labels raise.
    """
    source = _source_name(data, name, "the JSON file")
    text = _read_text(data, source)
    try:
        top = json.loads(text, object_pairs_hook=_JsonObject, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise ExplorerError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except RecursionError:
        raise ExplorerError(f"{source} nests arrays or objects too deeply.") from None
    if not isinstance(top, _JsonObject):
        raise ExplorerError(
            f"{source} must be a JSON object mapping each label to a list of numbers, like "
            f'{{"cat": [0.1, 0.2], "dog": [0.3, 0.1]}}; it is a JSON {_json_kind(top)}.'
        )
    if not top:
        raise ExplorerError(f"{source} is an empty JSON object: it has no vectors.")
    if max_rows is not None:
        _check_rows(len(top), max_rows, "labels", source)
    labels = [label for label, _ in top]
    names = [f"label {quoted(label)}" for label in labels]
    _check_labels(labels, [f"entry {i + 1}" for i in range(len(labels))], source)
    dims = None
    for (_, values), shown in zip(top, names, strict=True):
        if type(values) is not list:
            raise ExplorerError(
                f"{source}: {shown} must map to a list of numbers, not a JSON {_json_kind(values)}."
            )
        if not values:
            raise ExplorerError(f"{source}: {shown} has no values.")
        # bool is a subclass of int, so compare exact types: `true` is not a number here.
        if not set(map(type, values)) <= {float, int}:
            j, bad = next((j, v) for j, v in enumerate(values) if type(v) not in (float, int))
            raise ExplorerError(f"{source}: {shown} value {j + 1} is {_show(bad)}, not a number.")
        if dims is None:
            dims = len(values)
        elif len(values) != dims:
            raise ExplorerError(
                f"{source}: {shown} has {len(values)} values, expected {dims} like {names[0]}."
            )
    rows = np.array([values for _, values in top], dtype=np.float64)
    return ImportedVectors(
        source=source,
        labels=tuple(labels),
        vectors=_to_float32(rows, [f"{source}: {n}" for n in names]),
    )


# ---------------------------------------------------------------------------- text CSV


def _fold(name: str) -> str:
    """Case- and accent-insensitive form of a column name: 'Título' -> 'titulo'."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _delimiter(header_line: str) -> str:
    """The candidate that splits the header into the most fields (comma on a tie)."""

    def fields(d: str) -> int:
        try:
            return len(next(csv.reader([header_line], delimiter=d)))
        except csv.Error:  # e.g. a lone carriage return; the full read reports it
            return 0

    return max(CSV_DELIMITERS, key=fields)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _columns(header: list[str]) -> str:
    """The header's column names for a message, cut after about 200 characters."""
    joined = ", ".join(header)
    return joined if len(joined) <= 200 else joined[:200] + "…"


def _column(header: list[str], wanted: str | None, role: str, source: str) -> int | None:
    if wanted is None:
        return None
    if wanted in header:
        return header.index(wanted)
    folded = [_fold(h) for h in header]
    if folded.count(_fold(wanted)) == 1:
        return folded.index(_fold(wanted))
    raise ExplorerError(
        f"{source} has no {role} column {wanted!r}; its columns are: {_columns(header)}."
    )


def load_text_csv(
    data: Source,
    text_column: str | None = None,
    label_column: str | None = None,
    category_column: str | None = None,
    name: str | None = None,
    max_rows: int | None = None,
) -> TextTable:
    """Read texts to embed from a CSV with a header row (``,``/``;``/tab/``|`` separated).

    Without ``text_column`` the text is the column named text/title/sentence/word (or the
    Spanish texto/título/frase/palabra), else the first column that is not all numbers.
    Column names match ignoring case and accents. Blank lines are skipped; more than
    ``max_rows`` rows raise.
    """
    source = _source_name(data, name, "the CSV file")
    text = _read_text(data, source)
    delimiter = _delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ExplorerError(
                    f"{source}: line {reader.line_num} has {len(row)} fields, expected "
                    f"{len(header)} like the header ({delimiter!r}-separated)."
                )
            rows.append(row)
            lines.append(reader.line_num)
            if max_rows is not None and len(rows) > max_rows:
                raise ExplorerError(
                    f"{source} has more than {max_rows:,} rows of text; the limit is "
                    f"{max_rows:,}. Upload a sample of the rows."
                )
    except csv.Error as exc:
        raise ExplorerError(f"{source}: line {reader.line_num} is not valid CSV: {exc}.") from None
    for i, h in enumerate(header):
        if not h:
            raise ExplorerError(f"{source}: column {i + 1} of the header has no name.")
        if header.index(h) != i:
            raise ExplorerError(f"{source}: the header names column {quoted(h)} twice.")
    if not rows:
        raise ExplorerError(f"{source} has a header but no rows.")

    text_at = _column(header, text_column, "text", source)
    if text_at is None:
        named = [i for i, h in enumerate(header) if _fold(h) in TEXT_COLUMN_NAMES]
        wordy = [
            i for i in range(len(header)) if not all(_is_number(r[i]) for r in rows if r[i].strip())
        ]
        if not named and not wordy:
            raise ExplorerError(
                f"{source}: every column holds numbers, so there is no text to embed; "
                f"name the text column (columns: {_columns(header)})."
            )
        text_at = (named or wordy)[0]

    def values(at: int, role: str) -> tuple[str, ...]:
        for row, line in zip(rows, lines, strict=True):
            if not row[at].strip():
                raise ExplorerError(
                    f"{source}: line {line} has an empty {role} in column {quoted(header[at])}."
                )
        return tuple(row[at].strip() for row in rows)

    label_at = _column(header, label_column, "label", source)
    category_at = _column(header, category_column, "category", source)
    return TextTable(
        name=Path(source).stem,
        texts=values(text_at, "text"),
        labels=None if label_at is None else values(label_at, "label"),
        categories=None if category_at is None else values(category_at, "category"),
    )


# ---------------------------------------------------------------------------- Projector TSV


def _parse_vector_lines(lines: list[str], source: str, max_rows: int | None) -> np.ndarray:
    if max_rows is not None:
        _check_rows(len(lines), max_rows, "lines of vectors", source)
    rows: list[np.ndarray] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            raise ExplorerError(f"{source}: line {i} is empty; every line must be one vector.")
        fields = line.split("\t")
        try:
            rows.append(np.array(fields, dtype=np.float64))
        except ValueError:
            j, bad = next((j, f) for j, f in enumerate(fields) if not _is_number(f))
            hint = " Values must be separated by tabs." if "," in bad or " " in bad.strip() else ""
            raise ExplorerError(
                f"{source}: line {i} value {j + 1} is {_show(bad)}, not a number.{hint}"
            ) from None
        if len(fields) != len(rows[0]):
            raise ExplorerError(
                f"{source}: line {i} has {len(fields)} values, expected {len(rows[0])} like line 1."
            )
    return _to_float32(np.stack(rows), [f"{source}: line {i}" for i in range(1, len(rows) + 1)])


def load_projector_tsv(
    vectors_tsv: Source,
    metadata_tsv: Source | None = None,
    name: str | None = None,
    metadata_name: str | None = None,
    max_rows: int | None = None,
) -> ImportedVectors:
    """Read TensorFlow Embedding Projector files.

    ``vectors_tsv``: one vector per line, tab-separated numbers, no header. ``metadata_tsv``:
    one label per line (no header) or, with several tab-separated columns, a header row then
    one row per vector; the first column gives the labels, the others become ``metadata``.
    Without metadata the labels are the line numbers "1", "2", ... More than ``max_rows``
    vectors raise.
    """
    source = _source_name(vectors_tsv, name, "vectors.tsv")
    vectors = _parse_vector_lines(_lines(_read_text(vectors_tsv, source)), source, max_rows)
    n = vectors.shape[0]
    if metadata_tsv is None:
        return ImportedVectors(source, tuple(str(i) for i in range(1, n + 1)), vectors)

    meta_source = _source_name(metadata_tsv, metadata_name, "metadata.tsv")
    meta_lines = _lines(_read_text(metadata_tsv, meta_source))
    header = meta_lines[0].split("\t")
    # The Projector's rule: a header row exists exactly when there are several columns.
    first_row = 2 if len(header) > 1 else 1
    rows = [line.split("\t") for line in meta_lines[first_row - 1 :]]
    if len(rows) != n:
        raise ExplorerError(
            f"{meta_source} has {len(rows)} rows of labels but {source} has {n} vectors; "
            "they must match line for line."
        )
    for i, row in enumerate(rows, start=first_row):
        if len(row) != len(header):
            raise ExplorerError(
                f"{meta_source}: line {i} has {len(row)} columns, expected {len(header)} like "
                "the header."
            )
    labels = [row[0] for row in rows]
    _check_labels(labels, [f"line {i}" for i in range(first_row, first_row + n)], meta_source)
    metadata = {h: tuple(row[c] for row in rows) for c, h in enumerate(header) if c > 0}
    return ImportedVectors(source, tuple(labels), vectors, metadata)


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def neutralize_cell(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula
    (it starts with = + - @); plain numbers such as ``-0.5`` are left as they are."""
    if text.lstrip().startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text.strip()):
        return "'" + text
    return text


def _tsv_cell(value: object) -> str:
    # A tab or newline inside a cell would split it; the Projector has no quoting.
    return neutralize_cell(" ".join(str(value).replace("\r", " ").replace("\t", " ").split("\n")))


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
    matrix = as_matrix(vectors).astype(np.float32)
    n = matrix.shape[0]
    if n == 0:
        raise ExplorerError("There are no vectors to export.")
    if len(labels) != n:
        raise ExplorerError(f"{len(labels)} labels for {n} vectors: give one label per vector.")
    columns = dict(extra_columns or {})
    for column, values in columns.items():
        if len(values) != n:
            raise ExplorerError(
                f"Column {column!r} has {len(values)} values for {n} vectors: give one per vector."
            )
    out = io.StringIO()
    np.savetxt(out, matrix, fmt="%.9g", delimiter="\t")
    if columns:
        head = ["label", *columns]
        if len(set(head)) != len(head):
            raise ExplorerError(f"Metadata column names repeat: {', '.join(head)}.")
        table = [head] + [
            [labels[i], *(values[i] for values in columns.values())] for i in range(n)
        ]
    else:
        table = [[label] for label in labels]
    metadata = "".join("\t".join(_tsv_cell(v) for v in row) + "\n" for row in table)
    return out.getvalue(), metadata


# ---------------------------------------------------------------------------- uploads


def read_upload(
    filename: str, data: bytes, metadata: bytes | None = None
) -> Dataset | ImportedVectors:
    """Read an uploaded file by its extension: ``.json`` label->vector and ``.tsv`` Projector
    vectors (with an optional metadata TSV) give :class:`ImportedVectors`; a ``.csv`` of texts
    gives a :class:`~core.datasets.Dataset` to embed. At most ``MAX_BYTES`` per file,
    ``MAX_VECTOR_ROWS`` vectors and ``MAX_TEXT_ROWS`` texts."""
    lower = filename.lower()
    result: Dataset | ImportedVectors
    if lower.endswith(".json"):
        result = load_label_json(data, name=filename, max_rows=MAX_VECTOR_ROWS)
    elif lower.endswith((".tsv", ".tab")):
        result = load_projector_tsv(data, metadata, name=filename, max_rows=MAX_VECTOR_ROWS)
    elif lower.endswith(".csv"):
        table = load_text_csv(data, name=filename, max_rows=MAX_TEXT_ROWS)
        result = dataset_from_texts(table.name, table.texts, table.labels, table.categories)
    else:
        raise ExplorerError(
            f"{filename}: unknown file type. Upload .json ({{label: [floats]}}), .csv "
            "(texts) or .tsv (Projector vectors, with an optional metadata .tsv)."
        )
    if len(result) < MIN_ROWS:
        what = "text" if isinstance(result, Dataset) else "vector"
        raise ExplorerError(
            f"{filename} has {len(result)} {what}; upload at least {MIN_ROWS}, so that there "
            "is something to compare."
        )
    return result


# What a .npy dtype kind holds, for the message refusing it.
_NPY_KINDS = {
    "c": "complex numbers (a vector's values must be real: save the real part)",
    "U": "text",
    "S": "bytes",
    "V": "records (a structured dtype)",
    "O": "Python objects",
    "M": "dates",
    "m": "time spans",
}


def _npy_header(buf: io.BytesIO, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from a .npy header; nothing after it is read."""
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(buf)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(buf)
        raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
    except Exception as exc:  # noqa: BLE001 - numpy parses the header with tokenize and ast,
        # whose errors on a junk header (TokenError, SyntaxError...) are not all ValueError.
        raise ExplorerError(f"{name} is not a readable .npy file ({exc}).") from None


def load_matrix(data: bytes, name: str = "upload") -> np.ndarray:
    """An uploaded ``.npy`` file as a finite float32 ``(m, d)`` matrix.

    The header is checked before any data is read: real numbers (bool, int or float), two
    non-empty dimensions, and exactly the bytes its shape announces (a forged header cannot
    make this allocate more than the file). Pickles are never loaded.
    """
    buf = io.BytesIO(data)
    shape, fortran, dtype = _npy_header(buf, name)
    if dtype.hasobject or dtype.kind not in "biuf":
        what = _NPY_KINDS.get(dtype.kind, f"dtype {dtype}")
        raise ExplorerError(f"{name} holds {what}; upload a matrix of real numbers.")
    if len(shape) != 2 or min(shape) <= 0:
        raise ExplorerError(f"{name} holds shape {shape}; upload one (rows, dims) matrix.")
    expected = math.prod(shape) * dtype.itemsize
    body = len(data) - buf.tell()
    if body != expected:
        raise ExplorerError(
            f"{name}'s header announces a {shape[0]:,} × {shape[1]:,} matrix of {dtype} "
            f"({expected:,} bytes) but the file holds {body:,} bytes of data: it is truncated "
            "or not a .npy file."
        )
    arr = np.frombuffer(data, dtype=dtype, offset=buf.tell()).reshape(
        shape, order="F" if fortran else "C"
    )
    matrix = as_matrix(arr.astype(np.float32) if dtype.kind == "b" else arr, name)
    with np.errstate(over="ignore"):
        out = matrix.astype(np.float32)
    where = out_of_range(out)  # float32 overflow (inf) included
    if where is not None:
        i, j = where
        raise ExplorerError(
            f"{name} row {i} value {j + 1} is {float(matrix[i, j]):g}: out of range for "
            f"float32 search (values up to ±{MAX_VALUE:g}, and not every value of a row below "
            f"{MIN_ROW_VALUE:g}); divide the matrix by one common factor."
        )
    return out
