"""Read user files: label->vector JSON, tables (CSV, TSV, JSON Lines, parquet) with a vector or
a text column, TensorFlow Projector TSV, ``.npy`` with a labels file.

Every reader takes the file as ``bytes`` (an upload), ``str`` (its text) or a ``Path``, and
every malformed input raises :class:`ExplorerError` naming the file, the line (or row) and
column or label, and the problem, so a page can show the message as it is. ``read_upload``
picks the reader by the file's extension; ``combine_uploads`` makes several vector files of
the same items into one dataset with one model per file. Writers live in ``core.exporters``.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from core.datasets import UNCATEGORIZED, Dataset, check_text, dataset_from_texts, quoted
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
# Column names a table's roles are guessed from, best first (compared without accents/case).
LABEL_COLUMN_NAMES = ("label", "title", "name", "titulo", "nombre", "etiqueta", "word", "id")
TEXT_COLUMN_NAMES = (
    "text", "content", "sentence", "document", "body", "texto", "frase", "contenido",
    "title", "titulo", "word", "palabra",
)  # fmt: skip
VECTOR_COLUMN_NAMES = ("embedding", "embeddings", "vector", "vectors", "emb", "vec")
CSV_DELIMITERS = (",", ";", "\t", "|")
# Extensions read as tables (a .tsv/.tab is a table when its first line is a header).
TABLE_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet", ".pq")

Source = bytes | str | Path
# A metadata value: text, or a number when every value of its column is one.
Cell = str | int | float


@dataclass(frozen=True)
class ImportedVectors:
    """Vectors loaded from a file: ``vectors`` float32 ``(n, d)``, row ``i`` named
    ``labels[i]``; ``metadata`` maps extra column names to ``n`` values each; ``texts`` are
    the texts the vectors were made from, when the file has them."""

    source: str
    labels: tuple[str, ...]
    vectors: np.ndarray
    metadata: Mapping[str, tuple[Cell, ...]] = field(default_factory=dict)
    texts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.vectors.shape[0] != n:
            raise ExplorerError(f"{n} labels for {self.vectors.shape[0]} vectors.")
        if self.texts is not None and len(self.texts) != n:
            raise ExplorerError(f"{len(self.texts)} texts for {n} vectors.")
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


def _to_float32(rows: np.ndarray, name_of: Callable[[int], str]) -> np.ndarray:
    """``rows`` as float32, or raise naming (``name_of(row)``) the first NaN, infinity or
    float32 overflow."""
    with np.errstate(over="ignore"):
        out = rows.astype(np.float32, copy=False)
    finite = np.isfinite(out)
    if not finite.all():
        i, j = (int(v) for v in np.argwhere(~finite)[0])
        value = float(rows[i, j])
        # A number too long for a float64 (e.g. a 5,000-digit integer) was read as inf.
        hint = " (infinite, or too large to read)" if np.isinf(value) else ""
        raise ExplorerError(
            f"{name_of(i)} value {j + 1} is {value}{hint}: every value must be a finite number "
            "within float32 range (about ±3.4e38)."
        )
    where = out_of_range(out)
    if where is not None:
        i, j = where
        raise ExplorerError(
            f"{name_of(i)} value {j + 1} is {float(rows[i, j]):g}: out of range for comparing "
            f"vectors in float32 (values up to ±{MAX_VALUE:g}, and not every value of a row "
            f"below {MIN_ROW_VALUE:g}); divide all vectors by one common factor."
        )
    return out


def _check_rows(n: int, cap: int, what: str, source: str) -> None:
    if n > cap:
        raise ExplorerError(
            f"{source} has {n:,} {what}; the limit is {cap:,}. Upload a sample of the rows."
        )


def _encodable(texts: Sequence[str]) -> bool:
    """True when every text encodes as UTF-8 (no lone surrogate): one fast check, so that
    the per-text check naming the culprit runs only when one fails."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_labels(labels: Sequence[str], where: Sequence[str], source: str) -> None:
    """Raise on an empty, repeated or unencodable label; ``where[i]`` says where label ``i``
    came from. Labels are compared trimmed, as the pages show them."""
    first: dict[str, int] = {}
    encodable = _encodable(labels)
    for i, label in enumerate(labels):
        if not encodable:
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


def _json_loads(
    text: str, where: str, expected: str = "valid JSON", lines: bool = False, **options: Any
) -> object:
    """``json.loads(text, **options)`` with big integers kept as in :func:`_json_int`; a
    syntax error (placed by column, and by line when ``lines``) or nesting too deep for the
    parser raises ExplorerError naming ``where`` and what it should be (``expected``)."""
    try:
        return json.loads(text, parse_int=_json_int, **options)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno}, column {exc.colno}" if lines else f"column {exc.colno}"
        raise ExplorerError(f"{where} is not {expected}: {exc.msg} at {at}.") from None
    except RecursionError:
        raise ExplorerError(f"{where} nests arrays or objects too deeply.") from None


def load_label_json(
    data: Source, name: str | None = None, max_rows: int | None = None
) -> ImportedVectors:
    """Read ``{"<label>": [float, ...], ...}`` (the seed notebooks' format).

    ``data`` is the file's bytes, its text, or a Path; ``name`` names it in messages
    (default: the file name); more than ``max_rows`` labels raise.
    """
    source = _source_name(data, name, "the JSON file")
    text = _read_text(data, source)
    top = _json_loads(text, source, lines=True, object_pairs_hook=_JsonObject)
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
        vectors=_to_float32(rows, lambda i: f"{source}: {names[i]}"),
    )


# ---------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Table:
    """A table read from a CSV, TSV, JSON Lines or parquet file, before its columns get roles.

    ``values[c]`` holds column ``c``'s ``len(table)`` raw values (str, int, float, bool, None,
    list, dict); a numeric list column of a parquet file is kept as a float ``(n, d)`` matrix
    in ``matrices[c]`` instead. Row ``i`` is ``{unit} {numbers[i]}`` in messages (a file line,
    or a parquet row)."""

    source: str
    columns: tuple[str, ...]
    values: Mapping[str, Sequence[object]]
    numbers: tuple[int, ...]
    unit: str = "line"
    matrices: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.numbers)

    def where(self, i: int, column: str) -> str:
        """Where row ``i``'s value of ``column`` is, for a message."""
        return f"{self.source}: {self.unit} {self.numbers[i]}, column {quoted(column)}"

    def kind(self, column: str) -> str:
        """ "vector" (lists of numbers, or JSON strings of them), "number" or "text", judged by
        the column's values (the first non-empty one for vectors)."""
        if column in self.matrices:
            return "vector"
        present = [v for v in self.values[column] if v is not None and v != ""]
        first = present[0] if present else None
        if type(first) is list or (isinstance(first, str) and first.lstrip().startswith("[")):
            return "vector"
        if present and all(_as_number(v) is not None for v in present):
            return "number"
        return "text"


@dataclass(frozen=True)
class Columns:
    """The roles of a table's columns: which names the items, which holds the text to embed
    and which the vectors (None: no such column). Every other column is metadata."""

    label: str | None = None
    text: str | None = None
    vector: str | None = None


def _fold(name: str) -> str:
    """Case- and accent-insensitive form of a column name: 'Título' -> 'titulo'."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_INT = re.compile(r"[-+]?\d{1,18}")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _as_number(value: object) -> int | float | None:
    """``value`` as a number when it is one (ints, floats, or text like ``-2``/``0.5e3``;
    not booleans, not "nan"), else None."""
    if type(value) in (int, float):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        text = value.strip()
        if _INT.fullmatch(text):
            return int(text)
        if _NUMBER.fullmatch(text):
            return float(text)
    return None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _named(table: Table, names: Sequence[str], kinds: Sequence[str]) -> str | None:
    """The first column whose folded name is in ``names`` (in ``names`` order) and whose kind
    is one of ``kinds``."""
    folded = {_fold(c): c for c in reversed(table.columns)}
    for name in names:
        column = folded.get(name)
        if column is not None and table.kind(column) in kinds:
            return column
    return None


def guess_columns(table: Table) -> Columns:
    """Default roles from the columns' names and values: the vector is a column named
    embedding/vector/… holding lists, else the first list column; the text a column named
    text/content/sentence/title/… (with no vector column: else the first column that is not
    all numbers); the label a column named label/title/name/…"""
    vector = _named(table, VECTOR_COLUMN_NAMES, ["vector"]) or next(
        (c for c in table.columns if table.kind(c) == "vector"), None
    )
    text = _named(table, TEXT_COLUMN_NAMES, ["text"])
    if text is None and vector is None:
        text = next((c for c in table.columns if table.kind(c) == "text"), None)
    label = _named(table, LABEL_COLUMN_NAMES, ["text", "number"])
    return Columns(label=label, text=text, vector=vector)


def _check_header(header: Sequence[str], source: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name.strip():
            raise ExplorerError(f"{source}: column {i + 1} of the header has no name.")
        check_text(name, f"{source}: the name of column {i + 1}")
        if name in seen:
            raise ExplorerError(f"{source}: the header names column {quoted(name)} twice.")
        seen.add(name)


def _delimiter(header_line: str) -> str:
    """The candidate that splits the header into the most fields (comma on a tie)."""

    def fields(d: str) -> int:
        try:
            return len(next(csv.reader([header_line], delimiter=d)))
        except csv.Error:  # e.g. a lone carriage return; the full read reports it
            return 0

    return max(CSV_DELIMITERS, key=fields)


def read_csv_table(
    data: Source, name: str | None = None, delimiter: str | None = None, max_rows: int | None = None
) -> Table:
    """A CSV (``,``/``;``/tab/``|``, guessed from the header unless ``delimiter`` is given)
    with a header row, as a table of strings. Blank lines are skipped; more than ``max_rows``
    rows raise."""
    source = _source_name(data, name, "the CSV file")
    text = _read_text(data, source)
    delimiter = delimiter or _delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        header = [h.strip() for h in next(reader)]
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
                    f"{source} has more than {max_rows:,} rows; the limit is {max_rows:,}. "
                    "Upload a sample of the rows."
                )
    except csv.Error as exc:
        raise ExplorerError(f"{source}: line {reader.line_num} is not valid CSV: {exc}.") from None
    _check_header(header, source)
    if not rows:
        raise ExplorerError(f"{source} has a header but no rows.")
    values = {h: [row[c] for row in rows] for c, h in enumerate(header)}
    return Table(source, tuple(header), values, tuple(lines))


def read_jsonl_table(data: Source, name: str | None = None, max_rows: int | None = None) -> Table:
    """JSON Lines: one JSON object per line (blank lines skipped); the columns are every key,
    in the order first seen, and a key a line lacks reads as None."""
    source = _source_name(data, name, "the JSON Lines file")
    objects: list[dict[str, object]] = []
    lines: list[int] = []
    for number, line in enumerate(_lines(_read_text(data, source)), start=1):
        if not line.strip():
            continue
        obj = _json_loads(line, f"{source}: line {number}")
        if not isinstance(obj, dict):
            raise ExplorerError(
                f"{source}: line {number} is a JSON {_json_kind(obj)}; every line must be an "
                'object like {"label": "cat", "embedding": [0.1, 0.2]}.'
            )
        objects.append(obj)
        lines.append(number)
        if max_rows is not None:
            _check_rows(len(objects), max_rows, "lines", source)
    columns = list(dict.fromkeys(key for obj in objects for key in obj))
    _check_header(columns, source)
    values = {c: [obj.get(c) for obj in objects] for c in columns}
    return Table(source, tuple(columns), values, tuple(lines))


def _arrow_matrix(column: object, n: int) -> np.ndarray | None:
    """A parquet list-of-numbers column as an ``(n, d)`` array when no list is null and all
    have one length ``d > 0``; None otherwise (then each row is checked, and named)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks()  # type: ignore[attr-defined]
    kind = array.type
    if not (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    ):
        return None
    inner = kind.value_type
    if not (pa.types.is_floating(inner) or pa.types.is_integer(inner)) or array.null_count:
        return None
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    if not n or lengths.min() != lengths.max() or lengths[0] == 0:
        return None
    flat = array.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(n, int(lengths[0]))


def read_parquet_table(
    data: bytes | Path, name: str | None = None, max_rows: int | None = None
) -> Table:
    """A parquet file as a table; its row count is checked before the data is read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = _source_name(data, name, "the parquet file")
    raw = _read_bytes(data, source)
    try:
        file = pq.ParquetFile(pa.BufferReader(raw))
        n = int(file.metadata.num_rows)
        if max_rows is not None:
            _check_rows(n, max_rows, "rows", source)
        arrow = file.read()
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        shown = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ExplorerError(f"{source} is not a readable parquet file ({shown}).") from None
    if not n:
        raise ExplorerError(f"{source} has no rows.")
    columns = [str(c) for c in arrow.column_names]
    _check_header(columns, source)
    values: dict[str, Sequence[object]] = {}
    matrices: dict[str, np.ndarray] = {}
    for column, chunks in zip(columns, arrow.columns, strict=True):
        matrix = _arrow_matrix(chunks, n)
        if matrix is None:
            values[column] = chunks.to_pylist()
        else:
            matrices[column] = matrix
            values[column] = ()
    return Table(source, tuple(columns), values, tuple(range(1, n + 1)), "row", matrices)


def _vector_column(table: Table, column: str) -> np.ndarray:
    """Column ``column`` as a float32 ``(n, d)`` matrix: each value a list of numbers or a
    JSON string of one, all of one length, finite and within float32 range."""
    if column in table.matrices:
        rows = table.matrices[column]
    else:
        parsed: list[list[object]] = []
        for i, value in enumerate(table.values[column]):
            if isinstance(value, str) and value.strip():
                value = _json_loads(
                    value, table.where(i, column), "a JSON list of numbers like [0.1, 0.2]"
                )
            if type(value) is not list or not value:
                shown = "empty" if value in (None, "", []) else f"a {_json_kind(value)}"
                raise ExplorerError(
                    f"{table.where(i, column)} is {shown}, not a vector (a list of numbers)."
                )
            if not set(map(type, value)) <= {float, int}:
                j, bad = next((j, v) for j, v in enumerate(value) if type(v) not in (float, int))
                raise ExplorerError(
                    f"{table.where(i, column)}: value {j + 1} is {_show(bad)}, not a number."
                )
            if parsed and len(value) != len(parsed[0]):
                raise ExplorerError(
                    f"{table.where(i, column)} has {len(value)} values, expected "
                    f"{len(parsed[0])} like {table.unit} {table.numbers[0]}."
                )
            parsed.append(value)
        rows = np.array(parsed, dtype=np.float64)
    return _to_float32(rows, lambda i: table.where(i, column))


def _text_column(table: Table, column: str, role: str) -> tuple[str, ...]:
    """Column ``column`` as stripped text; an empty value raises naming its row."""
    out = tuple("" if value is None else str(value).strip() for value in table.values[column])
    encodable = _encodable(out)
    for i, text in enumerate(out):
        if not text:
            raise ExplorerError(f"{table.where(i, column)}: the {role} is empty.")
        if not encodable:
            check_text(text, f"{table.where(i, column)}: the {role}")
    return out


def _metadata_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def metadata_column(values: Sequence[object], where: str = "metadata") -> tuple[Cell, ...]:
    """A metadata column as the map shows it: numbers when every value is one (int when all
    are whole numbers written without a point), else text (missing values as "")."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return tuple(values)  # type: ignore[arg-type]
    numbers: list[int | float] = []
    for value in values:  # stops at the first value that is not a number
        number = _as_number(value)
        if number is None:
            break
        numbers.append(number)
    if values and len(numbers) == len(values):
        if all(type(v) is int for v in numbers):
            return tuple(numbers)
        return tuple(float(v) for v in numbers)
    texts = tuple(_metadata_value(v) for v in values) if kinds != {str} else tuple(values)
    if not _encodable(texts):  # type: ignore[arg-type]
        for text in texts:
            check_text(str(text), where)
    return texts  # type: ignore[return-value]


def _check_columns(table: Table, columns: Columns) -> None:
    for role in ("label", "text", "vector"):
        chosen = getattr(columns, role)
        if chosen is not None and chosen not in table.columns:
            raise ExplorerError(
                f"{table.source} has no {role} column {quoted(chosen)}; its columns are: "
                f"{_names(table.columns)}."
            )


def _names(columns: Sequence[str]) -> str:
    """Column names for a message, cut after about 200 characters."""
    joined = ", ".join(columns)
    return joined if len(joined) <= 200 else joined[:200] + "…"


def table_upload(table: Table, columns: Columns | None = None) -> Dataset | ImportedVectors:
    """The table with its columns' roles (guessed when ``columns`` is None): with a vector
    column, :class:`ImportedVectors` (at most ``MAX_VECTOR_ROWS``); else a
    :class:`~core.datasets.Dataset` of the text column to embed (at most ``MAX_TEXT_ROWS``).
    Labels default to the texts, else the row numbers; every other column that does not hold
    vectors becomes metadata (``extra``)."""
    roles = guess_columns(table) if columns is None else columns
    _check_columns(table, roles)
    source = table.source
    if roles.vector is None and roles.text is None:
        raise ExplorerError(
            f"{source}: no column holds text to embed or vectors (lists like [0.1, 0.2]), so "
            f"there is nothing to show; choose one (columns: {_names(table.columns)})."
        )
    n = len(table)
    _check_rows(n, MAX_VECTOR_ROWS if roles.vector else MAX_TEXT_ROWS, "rows", source)
    texts = None if roles.text is None else _text_column(table, roles.text, "text")
    if roles.label is not None:
        labels = _text_column(table, roles.label, "label")
    else:  # the texts, else the row numbers 1..n
        labels = texts or tuple(str(i) for i in range(1, n + 1))
    _check_labels(labels, [f"{table.unit} {number}" for number in table.numbers], source)
    chosen = {roles.label, roles.text, roles.vector}
    metadata = {
        c: metadata_column(table.values[c], f"{source}: column {quoted(c)}")
        for c in table.columns
        if c not in chosen and table.kind(c) != "vector"
    }
    if roles.vector is not None:
        vectors = _vector_column(table, roles.vector)
        return _enough(ImportedVectors(source, labels, vectors, metadata, texts), source)
    assert texts is not None  # one of the two roles is set
    dataset = dataset_from_texts(Path(source).stem, texts, labels)
    return _enough(replace(dataset, extra=metadata), source)


def imported_dataset(name: str, imported: ImportedVectors) -> Dataset:
    """The dataset that imported vectors show: their labels (trimmed), their texts when the
    file had them (else the labels) and their metadata as ``extra``."""
    labels = tuple(label.strip() for label in imported.labels)
    return Dataset(
        name=name,
        labels=labels,
        texts=labels if imported.texts is None else imported.texts,
        categories=(UNCATEGORIZED,) * len(labels),
        description=f"{len(labels):,} vectors of {imported.dims} dimensions from {name}.",
        extra=dict(imported.metadata),
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
    return _to_float32(np.stack(rows), lambda i: f"{source}: line {i + 1}")


def with_labels(
    vectors: np.ndarray, source: str, labels_file: Source | None, labels_name: str | None = None
) -> ImportedVectors:
    """``vectors`` (read from ``source``) named by a Projector-style metadata file: one label
    per line (no header) or, with several tab-separated columns, a header row then one row per
    vector; the first column gives the labels, a column named "text" the texts, the others
    become ``metadata``. Without a file the labels are the row numbers "1", "2", ..."""
    n = vectors.shape[0]
    if labels_file is None:
        return ImportedVectors(source, tuple(str(i) for i in range(1, n + 1)), vectors)
    meta_source = _source_name(labels_file, labels_name, "metadata.tsv")
    meta_lines = _lines(_read_text(labels_file, meta_source))
    header = meta_lines[0].split("\t")
    # The Projector's rule: a header row exists exactly when there are several columns.
    first_row = 2 if len(header) > 1 else 1
    if first_row == 2:
        _check_header(header, meta_source)
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
    columns = {h: [row[c] for row in rows] for c, h in enumerate(header) if c > 0}
    texts = columns.pop("text", None)
    metadata = {
        h: metadata_column(v, f"{meta_source}: column {quoted(h)}") for h, v in columns.items()
    }
    return ImportedVectors(
        source,
        tuple(labels),
        vectors,
        metadata,
        None if texts is None else tuple(texts),
    )


def load_projector_tsv(
    vectors_tsv: Source,
    metadata_tsv: Source | None = None,
    name: str | None = None,
    metadata_name: str | None = None,
    max_rows: int | None = None,
) -> ImportedVectors:
    """Read TensorFlow Embedding Projector files: ``vectors_tsv`` has one vector per line,
    tab-separated numbers, no header; ``metadata_tsv`` names them (see :func:`with_labels`).
    More than ``max_rows`` vectors raise."""
    source = _source_name(vectors_tsv, name, "vectors.tsv")
    vectors = _parse_vector_lines(_lines(_read_text(vectors_tsv, source)), source, max_rows)
    return with_labels(vectors, source, metadata_tsv, metadata_name)


# ---------------------------------------------------------------------------- uploads


def _enough(result: Dataset | ImportedVectors, source: str) -> Dataset | ImportedVectors:
    if len(result) < MIN_ROWS:
        what = "text" if isinstance(result, Dataset) else "vector"
        raise ExplorerError(
            f"{source} has {len(result)} {what}; upload at least {MIN_ROWS}, so that there "
            "is something to compare."
        )
    return result


def _has_header(data: bytes) -> bool:
    """True when a .tsv's first line names columns (every field holds a letter and is not a
    number such as 1e-05 or nan), as a table's header does; a Projector vectors file starts
    with numbers."""
    first = data[:4096].split(b"\n", 1)[0].decode("utf-8", "replace").removeprefix("\ufeff")
    fields = first.rstrip("\r").split("\t")
    return bool(first.strip()) and all(
        any(c.isalpha() for c in f) and not _is_number(f) for f in fields
    )


def is_table(filename: str, data: bytes) -> bool:
    """True when ``read_upload`` reads the file as a table whose columns get roles (CSV,
    JSON Lines, parquet, or a .tsv/.tab that starts with a header)."""
    lower = filename.lower()
    return lower.endswith(TABLE_SUFFIXES) or (
        lower.endswith((".tsv", ".tab")) and _has_header(data)
    )


def read_table(filename: str, data: bytes) -> Table:
    """An uploaded table (see :func:`is_table`) with at most ``MAX_VECTOR_ROWS`` rows."""
    lower = filename.lower()
    if lower.endswith((".parquet", ".pq")):
        return read_parquet_table(data, filename, MAX_VECTOR_ROWS)
    if lower.endswith((".jsonl", ".ndjson")):
        return read_jsonl_table(data, filename, MAX_VECTOR_ROWS)
    delimiter = "\t" if lower.endswith((".tsv", ".tab")) else None
    return read_csv_table(data, filename, delimiter, MAX_VECTOR_ROWS)


UPLOAD_TYPES = ("json", "csv", "tsv", "tab", "jsonl", "ndjson", "parquet", "pq", "npy")


def read_upload(
    filename: str,
    data: bytes,
    metadata: bytes | None = None,
    columns: Columns | None = None,
    metadata_name: str | None = None,
) -> Dataset | ImportedVectors:
    """Read an uploaded file by its extension.

    ``.json`` label->vector and ``.tsv`` Projector vectors or ``.npy`` matrices (named by an
    optional ``metadata`` file, see :func:`with_labels`) give :class:`ImportedVectors`;
    tables (:func:`is_table`) give vectors or texts to embed by their ``columns`` (guessed
    when None, see :func:`table_upload`). At most ``MAX_BYTES`` per file, ``MAX_VECTOR_ROWS``
    vectors and ``MAX_TEXT_ROWS`` texts; at least ``MIN_ROWS`` items."""
    lower = filename.lower()
    _check_size(len(data), filename)
    if is_table(filename, data):
        return table_upload(read_table(filename, data), columns)
    result: ImportedVectors
    if lower.endswith(".json"):
        result = load_label_json(data, name=filename, max_rows=MAX_VECTOR_ROWS)
    elif lower.endswith((".tsv", ".tab")):
        result = load_projector_tsv(data, metadata, filename, metadata_name, MAX_VECTOR_ROWS)
    elif lower.endswith(".npy"):
        matrix = load_matrix(data, filename)
        _check_rows(matrix.shape[0], MAX_VECTOR_ROWS, "vectors", filename)
        result = with_labels(matrix, filename, metadata, metadata_name)
    else:
        raise ExplorerError(
            f"{filename}: unknown file type. Upload vectors (.json {{label: [floats]}}, "
            ".npy, Projector .tsv), or a table (.csv, .tsv, .jsonl, .parquet) with a vector "
            "or a text column."
        )
    return _enough(result, filename)


def nearest_labels(labels: Sequence[str], text: str, n: int = 3) -> list[str]:
    """Up to ``n`` of ``labels`` spelled most like ``text`` (ignoring case), best first: what
    to offer instead of free text that imported vectors cannot embed."""
    folded: dict[str, str] = {}
    for label in labels:
        folded.setdefault(label.casefold(), label)
    close = difflib.get_close_matches(text.strip().casefold(), folded, n=n, cutoff=0.5)
    return [folded[c] for c in close]


@dataclass(frozen=True)
class Upload:
    """What the uploaded files give: a ``dataset`` and, for vector files, each file's vectors
    of it (``models``: model name -> float32 ``(n, d)``, rows in dataset order). ``models``
    is empty when the dataset's texts are to be embedded by the app's models."""

    dataset: Dataset
    models: Mapping[str, np.ndarray] = field(default_factory=dict)


def _few(labels: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(quoted(x, 40) for x in labels[:limit])
    return shown + (f" and {len(labels) - limit:,} more" if len(labels) > limit else "")


def _order(first: ImportedVectors, other: ImportedVectors) -> list[int]:
    """The rows of ``other`` in ``first``'s label order (labels compared trimmed); raises
    saying which labels differ."""
    want = [label.strip() for label in first.labels]
    have = {label.strip(): i for i, label in enumerate(other.labels)}
    missing = [x for x in want if x not in have]
    extra = sorted(set(have) - set(want))
    if missing or extra:
        parts = []
        if missing:
            parts.append(
                f"{len(missing):,} of {first.source}'s labels are not in it ({_few(missing)})"
            )
        if extra:
            parts.append(f"{len(extra):,} of its labels are not in {first.source} ({_few(extra)})")
        raise ExplorerError(
            f"{other.source} and {first.source} must name the same items: {'; '.join(parts)}."
        )
    return [have[x] for x in want]


def combine_uploads(parts: Sequence[Dataset | ImportedVectors]) -> Upload:
    """One dataset from the files read by :func:`read_upload`: a text file alone, or several
    vector files of the same items (in any order), each becoming the model "uploaded:
    <file name>". The dataset takes the first file's labels, its texts when a file has them,
    and every file's metadata columns (the first file's win on a shared name)."""
    if not parts:
        raise ExplorerError("No file was uploaded.")
    text_files = [p for p in parts if isinstance(p, Dataset)]
    if text_files:
        if len(parts) > 1:
            raise ExplorerError(
                f"{text_files[0].name} holds texts to embed: upload it alone, or upload only "
                "vector files of the same items."
            )
        return Upload(text_files[0])
    vectors = [p for p in parts if isinstance(p, ImportedVectors)]
    first = vectors[0]
    models: dict[str, np.ndarray] = {}
    metadata: dict[str, tuple[Cell, ...]] = {}
    texts: tuple[str, ...] | None = None
    for part in vectors:
        order = None if part is first else _order(first, part)
        model, copy = f"uploaded: {part.source}", 2
        while model in models:
            model, copy = f"uploaded: {part.source} ({copy})", copy + 1
        models[model] = part.vectors if order is None else part.vectors[order]
        for column, values in part.metadata.items():
            if column not in metadata:
                metadata[column] = values if order is None else tuple(values[i] for i in order)
        if texts is None and part.texts is not None:
            texts = part.texts if order is None else tuple(part.texts[i] for i in order)
    name = first.source if len(vectors) == 1 else f"{first.source} and {len(vectors) - 1} more"
    merged = replace(first, metadata=metadata, texts=texts)
    return Upload(imported_dataset(name, merged), models)


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
