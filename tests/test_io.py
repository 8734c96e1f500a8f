from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core import io as explorer_io
from core.datasets import Dataset
from core.errors import ExplorerError
from core.exporters import export_projector_tsv, neutralize_cell, projector_vectors, table_csv
from core.io import (
    Columns,
    ImportedVectors,
    guess_columns,
    load_label_json,
    load_matrix,
    load_projector_tsv,
    read_csv_table,
    table_upload,
)

REF = Path(__file__).resolve().parents[1].parent / "shared" / "ref" / "openai-peliculas"


def ref_file(name: str) -> Path:
    path = REF / name
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    return path


# ---------------------------------------------------------------------------- label JSON


@pytest.mark.parametrize(
    ("name", "dims"),
    [
        ("peliculas_text-embedding-3-small-1536.json", 1536),
        ("peliculas_text-embedding-3-small-256.json", 256),
        ("peliculas_text-embedding-3-large-256.json", 256),
        ("peliculas_text-embedding-ada-002.json", 1536),
    ],
)
def test_reference_label_json(name, dims):
    path = ref_file(name)
    raw = json.loads(path.read_text(encoding="utf-8"))
    loaded = load_label_json(path)
    assert loaded.source == name
    assert loaded.labels == tuple(raw) and len(loaded) == 62 and loaded.dims == dims
    assert loaded.vectors.dtype == np.float32 and loaded.vectors.shape == (62, dims)
    np.testing.assert_array_equal(loaded.vectors, np.array(list(raw.values()), dtype=np.float32))
    np.testing.assert_allclose(np.linalg.norm(loaded.vectors, axis=1), 1.0, atol=1e-6)
    from_bytes = load_label_json(path.read_bytes(), name="upload.json")
    assert from_bytes.source == "upload.json"
    np.testing.assert_array_equal(from_bytes.vectors, loaded.vectors)


def test_small_label_json_from_text_and_bytes():
    text = '{"gato": [1, 2.5], "perro": [0, -1e-3]}'
    for data in (text, text.encode(), b"\xef\xbb\xbf" + text.encode()):
        loaded = load_label_json(data)
        assert loaded.labels == ("gato", "perro")
        np.testing.assert_array_equal(loaded.vectors, np.float32([[1, 2.5], [0, -1e-3]]))
        assert loaded.metadata == {} and loaded.source == "the JSON file"


BAD_JSON = [
    ('{"a": [1, 2,]}', "not valid JSON: Expecting value at line 1, column 13"),
    ('{\n "a": [1, 2],\n "b": [3 4]\n}', "Expecting ',' delimiter at line 3, column 10"),
    ("[[1, 2], [3, 4]]", "must be a JSON object mapping each label.*it is a JSON array"),
    ('"hello"', "it is a JSON string"),
    ("", "is empty"),
    ("  \n\t", "is empty"),
    ("{}", "empty JSON object: it has no vectors"),
    ('{"a": "x"}', "label 'a' must map to a list of numbers, not a JSON string"),
    ('{"a": {"b": [1]}}', "label 'a' must map to a list of numbers, not a JSON object"),
    ('{"a": []}', "label 'a' has no values"),
    ('{"x": [1, 2, "abc"]}', "label 'x' value 3 is 'abc', not a number"),
    ('{"x": [1, true]}', "label 'x' value 2 is true, not a number"),
    ('{"x": [null]}', "label 'x' value 1 is null, not a number"),
    ('{"x": [[1, 2]]}', r"label 'x' value 1 is \[1, 2\], not a number"),
    ('{"x": [1, NaN]}', "label 'x' value 2 is nan: every value must be a finite number"),
    ('{"y": [0], "x": [-Infinity]}', "label 'x' value 1 is -inf"),
    ('{"x": [1e39]}', "label 'x' value 1 is 1e\\+39: .*within float32 range"),
    ('{"a": [1], "b": [2], "a": [3]}', r"label 'a' appears twice \(entry 1 and entry 3\)"),
    ('{"a": [1], " ": [2]}', "entry 2 has an empty label"),
    ('{"a": [1, 2], "b": [1]}', "label 'b' has 1 values, expected 2 like label 'a'"),
    ('{"a": [1e400]}', "label 'a' value 1 is inf"),
    ('{"a": [1, 2], "b": [3, -2e16]}', r"label 'b' value 2 is -2e\+16: out of range"),
    ('{"a": [1, 2], "b": [1e-16, 0]}', "label 'b' value 1 is 1e-16: out of range"),
    ('{"a": [' + "9" * 400 + "]}", r"label 'a' value 1 is inf \(infinite, or too large"),
    ('{"b": [1], "a": [' + "1" * 5000 + "]}", "label 'a' value 1 is inf"),
    ('{"a": [-' + "1" * 5000 + "]}", "label 'a' value 1 is -inf"),
    ('{" cat": [1], "cat": [2]}', r"labels ' cat' \(entry 1\) and 'cat' \(entry 2\) differ only"),
    ('{"a": [1], "\\ud800x": [2]}', r"label of entry 2 holds '\\ud800' at character 1"),
    ("[" * 100_000 + "]" * 100_000, "nests arrays or objects too deeply"),
]


@pytest.mark.parametrize(("text", "message"), BAD_JSON)
def test_bad_label_json(text, message):
    with pytest.raises(ExplorerError, match=message):
        load_label_json(text)


def test_ragged_rows_name_the_label():
    data = {"first": [0.1] * 384, "x": [0.1] * 383}
    with pytest.raises(ExplorerError, match="label 'x' has 383 values, expected 384"):
        load_label_json(json.dumps(data))


def test_non_utf8_bytes():
    with pytest.raises(ExplorerError, match=r"not UTF-8 text: byte 6 \(0xe9\) on line 2"):
        load_label_json(b'{\n"caf\xe9": [1]}', name="cafe.json")


def test_size_guard(monkeypatch, tmp_path):
    monkeypatch.setattr(explorer_io, "MAX_BYTES", 2**20)
    big = b" " * (3 * 2**19)
    path = tmp_path / "big.json"
    path.write_bytes(big)
    for data in (big, path, big.decode()):
        with pytest.raises(ExplorerError, match=r"is 1.5 MB; the limit is 1 MB"):
            load_label_json(data)


def test_unreadable_inputs(tmp_path):
    with pytest.raises(ExplorerError, match="Cannot read .*missing.json"):
        load_label_json(tmp_path / "missing.json")
    with pytest.raises(ExplorerError, match="from a int: pass bytes, text or a Path"):
        load_label_json(42)  # type: ignore[arg-type]


def test_imported_vectors_checks_and_freezes_metadata():
    vectors = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ExplorerError, match="1 labels for 2 vectors"):
        ImportedVectors("f", ("a",), vectors)
    with pytest.raises(ExplorerError, match="column 'c' has 1 values for 2"):
        ImportedVectors("f", ("a", "b"), vectors, {"c": ("x",)})
    ok = ImportedVectors("f", ("a", "b"), vectors, {"c": ("x", "y")})
    with pytest.raises(TypeError):
        ok.metadata["c"] = ("z", "z")  # type: ignore[index]


# ---------------------------------------------------------------------------- text CSV


def texts_of(data: str | bytes, columns: Columns | None = None, name: str = "up.csv") -> Dataset:
    result = table_upload(read_csv_table(data, name), columns)
    assert isinstance(result, Dataset)
    return result


def test_reference_csv_guesses_the_accented_title_column():
    path = ref_file("peliculas.csv")
    table = read_csv_table(path)
    assert guess_columns(table) == Columns(label="Título", text="Título")
    dataset = texts_of(path.read_bytes(), name="peliculas.csv")
    assert dataset.name == "peliculas"
    assert len(dataset) == 62 and dataset.texts[:2] == (
        "Blancanieves y los Siete Enanitos",
        "Pinocho",
    )
    assert dataset.labels == dataset.texts and set(dataset.categories) == {"all"}
    vectors_json = ref_file("peliculas_text-embedding-3-small-256.json")
    assert set(dataset.texts) == set(load_label_json(vectors_json).labels)


def test_csv_with_named_columns():
    data = 'id,text,cat\r\n1,hello world,a\r\n\r\n2,"good, bye",b\r\n'
    dataset = texts_of(data.encode(), Columns(label="id", text="text"))
    assert dataset.name == "up"
    assert dataset.texts == ("hello world", "good, bye")
    assert dataset.labels == ("1", "2") and dict(dataset.extra) == {"cat": ("a", "b")}


@pytest.mark.parametrize(
    ("data", "texts"),
    [
        ("n,phrase,score\n1,hi there,0.5\n2,yo,0.7\n", ("hi there", "yo")),
        ("kind,Word\nnoun,cat\nverb,run\n", ("cat", "run")),
        ("texto;categoría\nhola;saludo\nadiós;despedida\n", ("hola", "adiós")),
        ("id\tsentence\n1\tA dog runs.\n2\tA cat sleeps.\n", ("A dog runs.", "A cat sleeps.")),
    ],
)
def test_csv_guesses_the_text_column(data, texts):
    assert texts_of(data).texts == texts


def test_csv_keeps_every_other_column_as_typed_metadata():
    dataset = texts_of("texto;categoría;n;x\nhola;saludo;1;0.5\nadiós;despedida;2;-1\n")
    assert dict(dataset.extra) == {
        "categoría": ("saludo", "despedida"),
        "n": (1, 2),
        "x": (0.5, -1.0),
    }


@pytest.mark.parametrize(
    ("data", "columns", "message"),
    [
        (
            "id,text,cat\n1,a,b\n",
            Columns(text="body"),
            "no text column 'body'; its columns are: id, text, cat",
        ),
        ("id,text\n1,a\n", Columns(label="name", text="text"), "no label column 'name'"),
        ("a,b\n1,2\n3,4.5\n", None, "no column holds text to embed or vectors"),
        ("id,text,cat\n1,a,b\n2,c\n", None, "line 3 has 2 fields, expected 3 like the header"),
        ("id,text\n1, \n", None, "line 2, column 'text': the text is empty"),
        ("n,note\n1,\n2,hi\n", None, "line 2, column 'note': the text is empty"),
        ("id,text\n", None, "has a header but no rows"),
        ("a,b,a\n1,x,2\n", None, "names column 'a' twice"),
        ("a,,c\n1,x,2\n", None, "column 2 of the header has no name"),
        ('text,b\n"abc"d,1\n', None, "line 2 is not valid CSV"),
        (b"T\xedtulo\nPinocho\n", None, r"byte 1 \(0xed\) on line 1"),
    ],
)
def test_bad_csv(data, columns, message):
    with pytest.raises(ExplorerError, match=message):
        texts_of(data, columns)


# ---------------------------------------------------------------------------- Projector TSV


def test_export_format_by_hand():
    vectors_tsv, metadata_tsv = export_projector_tsv(["a", "b\tc"], [[1, 0.5], [-2, 3]])
    assert vectors_tsv == "1\t0.5\n-2\t3\n"
    assert metadata_tsv == "a\nb c\n"
    _, with_columns = export_projector_tsv(["a", "b"], [[1, 0.5], [-2, 3]], {"n": [1, 2]})
    assert with_columns == "label\tn\na\t1\nb\t2\n"


@pytest.mark.parametrize("with_columns", [False, True])
def test_projector_round_trip(with_columns):
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(6, 9)).astype(np.float32) * np.float32(1e-3)
    labels = ["El Rey León", "Dumbo", "猫", "a b", "x", "🐈"]
    extra = {"category": ["film", "film", "word", "word", "x", "emoji"], "n": list(range(6))}
    columns = extra if with_columns else None
    vectors_tsv, metadata_tsv = export_projector_tsv(labels, vectors, columns)
    loaded = load_projector_tsv(vectors_tsv.encode(), metadata_tsv.encode())
    assert loaded.labels == tuple(labels)
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_array_equal(loaded.vectors, vectors)
    expected = {k: tuple(vs) for k, vs in extra.items()} if with_columns else {}
    assert dict(loaded.metadata) == expected  # numbers come back as numbers


def test_projector_without_metadata_and_from_files(tmp_path):
    (tmp_path / "vectors.tsv").write_text("1\t2\r\n3\t4\r\n\r\n")
    loaded = load_projector_tsv(tmp_path / "vectors.tsv")
    assert loaded.labels == ("1", "2") and loaded.source == "vectors.tsv"
    np.testing.assert_array_equal(loaded.vectors, np.float32([[1, 2], [3, 4]]))


VECTORS_3x2 = "1\t2\n3\t4\n5\t6\n"


@pytest.mark.parametrize(
    ("vectors", "metadata", "message"),
    [
        ("1\t2\t3\n4\t5\n", None, "vectors.tsv: line 2 has 2 values, expected 3 like line 1"),
        ("1\t2\n4\tabc\n", None, "line 2 value 2 is 'abc', not a number"),
        ("1,2,3\n", None, "line 1 value 1 is '1,2,3', not a number. Values must be separated"),
        ("1\t\t2\n", None, "line 1 value 2 is '', not a number"),
        ("1\tnan\n", None, "line 1 value 2 is nan"),
        ("1\t2\n\n3\t4\n", None, "line 2 is empty"),
        ("\n\n", None, "vectors.tsv is empty"),
        (VECTORS_3x2, "a\nb\n", "metadata.tsv has 2 rows of labels but vectors.tsv has 3"),
        (VECTORS_3x2, "label\tcat\na\tx\nb\tx\nc\tx\nd\tx\n", "has 4 rows of labels"),
        (VECTORS_3x2, "label\tcat\na\tx\nb\nc\tx\n", "line 3 has 1 columns, expected 2"),
        (VECTORS_3x2, "a\nb\na\n", r"label 'a' appears twice \(line 1 and line 3\)"),
        (VECTORS_3x2, "label\tcat\na\tx\nb\tx\nb\tx\n", r"\(line 3 and line 4\)"),
        (VECTORS_3x2, "a\n \nc\n", "metadata.tsv: line 2 has an empty label"),
        (
            VECTORS_3x2,
            b"a\nb\n\xff\n",
            r"metadata.tsv is not UTF-8 text: byte 4 \(0xff\) on line 3",
        ),
    ],
)
def test_bad_projector_files(vectors, metadata, message):
    with pytest.raises(ExplorerError, match=message):
        load_projector_tsv(vectors, metadata)


@pytest.mark.parametrize(
    ("labels", "vectors", "columns", "message"),
    [
        (["a"], [[1.0], [2.0]], None, "1 labels for 2 vectors"),
        (["a", "b"], [[1.0], [2.0]], {"c": [1]}, "Column 'c' has 1 values for 2 vectors"),
        (["a"], [[1.0]], {"label": ["x"]}, "column names repeat: label, label"),
        ([], np.zeros((0, 3)), None, "no vectors to export"),
        (["a"], [[np.nan]], None, "contains NaN or infinity"),
    ],
)
def test_bad_export(labels, vectors, columns, message):
    with pytest.raises(ExplorerError, match=message):
        export_projector_tsv(labels, vectors, columns)


def test_row_caps(monkeypatch):
    from core.io import read_upload

    monkeypatch.setattr(explorer_io, "MAX_VECTOR_ROWS", 2)
    monkeypatch.setattr(explorer_io, "MAX_TEXT_ROWS", 2)
    with pytest.raises(ExplorerError, match="v.json has 3 labels; the limit is 2"):
        read_upload("v.json", b'{"a": [1], "b": [2], "c": [3]}')
    with pytest.raises(ExplorerError, match="v.tsv has 3 lines of vectors; the limit is 2"):
        read_upload("v.tsv", b"1\n2\n3\n")
    with pytest.raises(ExplorerError, match="t.csv has more than 2 rows; the limit is 2"):
        read_upload("t.csv", b"text\na\nb\nc\n")
    assert len(read_upload("t.csv", b"text\na\n\n\nb\n")) == 2  # blank lines do not count


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("one.json", b'{"a": [1, 2]}', "one.json has 1 vector; upload at least 2"),
        ("one.tsv", b"1\t2\n", "one.tsv has 1 vector; upload at least 2"),
        ("one.csv", b"text\nhello\n", "one.csv has 1 text; upload at least 2"),
    ],
)
def test_uploads_need_two_items(name, data, message):
    from core.io import read_upload

    with pytest.raises(ExplorerError, match=message):
        read_upload(name, data)


def test_whitespace_labels_in_metadata():
    with pytest.raises(ExplorerError, match=r"labels 'a' \(line 1\) and 'a ' \(line 3\)"):
        load_projector_tsv(VECTORS_3x2, "a\nb\na \n")


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        (" =HYPERLINK(x)", "' =HYPERLINK(x)"),
        ("-0.5", "-0.5"),
        ("+1e-3", "+1e-3"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_only_csv_tables_neutralise_formulas(cell, written):
    assert neutralize_cell(cell) == written
    assert table_csv(["c"], [[cell]]).splitlines()[1:] == [written or '""']
    # The Projector is no spreadsheet: its metadata keeps the text, so a download reads back
    # with the same labels as the dataset's other vector files.
    vectors_tsv, metadata = export_projector_tsv(["x", cell], [[-0.5, 1.0], [2.0, -3.0]])
    assert vectors_tsv == "-0.5\t1\n2\t-3\n"
    assert metadata == f"x\n{cell}\n"
    _, with_columns = export_projector_tsv(["x", "y"], [[1.0], [2.0]], {"=c": ["-1", cell]})
    assert with_columns == f"label\t=c\nx\t-1\ny\t{cell}\n"


def test_projector_keeps_labels_a_spreadsheet_would_run():
    labels = ["-ism", "@home", "=x", "+y"]
    vectors_tsv, metadata_tsv = export_projector_tsv(labels, np.eye(4))
    assert load_projector_tsv(vectors_tsv.encode(), metadata_tsv.encode()).labels == tuple(labels)


@pytest.mark.parametrize(
    "value, written",
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (0.5, "0.5"),
        (-1.0, "-1"),
        (10.0, "1e1"),
        (1.5, "1.5"),
        (0.1, "0.100000001"),  # float32 0.1 is 0.100000001490116...
        (0.0001, "9.99999975e-5"),
        (0.00012, "0.000119999997"),
        (0.25, "0.25"),
        (0.001953125, "0.001953125"),  # 2**-9, exact in nine digits
        (-12345.678, "-1.23456777e4"),
        (16777216.0, "1.6777216e7"),
        (2.0**-149, "1.40129846e-45"),  # the smallest float32
        (3.4028234663852886e38, "3.40282347e38"),  # the largest
    ],
)
def test_projector_values_by_hand(value, written):
    assert projector_vectors([[value]]) == written + "\n"


def _read_back(text: str) -> np.ndarray:
    """A vectors.tsv parsed as core.io and the Projector's JavaScript do: float64 per value,
    then float32 (core.io itself refuses values near float32's limits, tested elsewhere)."""
    rows = [line.split("\t") for line in text.splitlines()]
    return np.array(rows, dtype=np.float64).astype(np.float32)


def test_projector_values_are_nine_digit_roundings_and_exact():
    rng = np.random.default_rng(3)
    normal = (rng.standard_normal((300, 64)) * 0.05).astype(np.float32)
    bits = rng.integers(0, 2**32, size=(300, 64), dtype=np.uint64).astype(np.uint32)
    anything = bits.view(np.float32)
    anything[~np.isfinite(anything)] = 1.0  # every finite float32: subnormal to 3.4e38
    for matrix in (normal, anything):
        text = projector_vectors(matrix)
        assert np.array_equal(_read_back(text).view(np.uint32), matrix.view(np.uint32))
        tokens = [line.split("\t") for line in text.splitlines()]
        # The same number as Python's correctly rounded nine significant digits.
        assert [[float(t) for t in row] for row in tokens] == [
            [float(f"{v:.9g}") for v in row] for row in matrix.astype(np.float64).tolist()
        ]


@pytest.mark.parametrize("step", [1, 50, 200])
def test_projector_values_the_same_in_any_number_of_steps(monkeypatch, step):
    from core import exporters

    matrix = np.random.default_rng(4).normal(size=(13, 64)).astype(np.float32)
    whole = projector_vectors(matrix)
    monkeypatch.setattr(exporters, "_STEP", step)  # one row, or several, per step
    assert projector_vectors(matrix) == whole


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 5), st.integers(1, 7)),
        elements=st.floats(width=32, allow_nan=False, allow_infinity=False),
    )
)
def test_projector_values_read_back_bit_for_bit(matrix):
    text = projector_vectors(matrix)
    assert text.count("\n") == matrix.shape[0]
    assert np.array_equal(_read_back(text).view(np.uint32), matrix.view(np.uint32))


def test_read_upload_dispatches_by_extension():
    from core.datasets import Dataset
    from core.io import read_upload

    vec = read_upload("mine.json", b'{"a": [1, 0], "b": [0, 1]}')
    assert isinstance(vec, ImportedVectors) and vec.labels == ("a", "b")
    ds = read_upload("texts.csv", b"text,group\nhello there,x\ngood night,y\n")
    assert isinstance(ds, Dataset)
    assert ds.texts == ("hello there", "good night")
    tsv = read_upload("v.tsv", b"1\t0\n0\t1\n", b"a\nb\n")
    assert tsv.labels == ("a", "b")
    with pytest.raises(ExplorerError, match=r"notes\.txt: unknown file type"):
        read_upload("notes.txt", b"hello")


# ------------------------------------------------------------------------------ .npy matrices


def test_load_matrix_reads_npy_and_refuses_the_rest():
    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype=np.float64).reshape(3, 4))
    got = load_matrix(buf.getvalue())
    assert got.dtype == np.float32 and got.shape == (3, 4) and got[2, 3] == 11.0
    for bad, message in [
        (np.arange(4.0), r"shape \(4,\); upload one \(rows, dims\) matrix"),
        (np.array([[1.0, np.nan]]), "row 0 contains NaN"),
    ]:
        buf = io.BytesIO()
        np.save(buf, bad)
        with pytest.raises(ExplorerError, match=message):
            load_matrix(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ExplorerError, match="objects.npy holds Python objects"):
        load_matrix(buf.getvalue(), "objects.npy")
    with pytest.raises(ExplorerError, match="junk.npy is not a readable .npy file"):
        load_matrix(b"not numpy at all", "junk.npy")


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _forged(shape: tuple[int, ...], descr: str = "<f4", body: bytes = b"\0" * 16) -> bytes:
    """A .npy header announcing ``shape`` followed by only ``body``."""
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_npy(np.array([["a", "b"]])), "holds text"),
        (_npy(np.array([[b"a"]])), "holds bytes"),
        (_npy(np.zeros((2, 2), dtype=[("a", "f4"), ("b", "i4")])), "holds records"),
        (_npy(np.ones((2, 2), dtype=complex)), "holds complex numbers"),
        (_npy(np.zeros((2, 2), dtype="datetime64[D]")), "holds dates"),
        (_npy(np.zeros((2, 0))), r"shape \(2, 0\)"),
        (_npy(np.full((2, 2), 1e300)), "row 0 value 1 is 1e[+]300: out of range"),
        (_npy(np.float32([[1, 2], [3, 1e16]])), "row 1 value 2 is 1e[+]16: out of range"),
        (_npy(np.float32([[1, 2], [1e-16, -1e-17]])), "row 1 value 1 is 1e-16: out of range"),
        (
            _forged((10_000_000, 2_000_000)),
            r"announces a 10,000,000 × 2,000,000 matrix of float32 "
            r"\(80,000,000,000,000 bytes\) but the file holds 16 bytes",
        ),
        (_forged((-1, 4)), r"shape \(-1, 4\)"),
        (_npy(np.ones((3, 4)))[:-5], "truncated"),
        (_npy(np.ones((3, 4))) + b"\0", "holds 97 bytes of data"),
        (np.lib.format.magic(1, 0) + b"\x10\x00{'descr': (\n", "not a readable .npy file"),
        (np.lib.format.magic(3, 0) + b"\0\0\0\0", "format version 3.0 is not supported"),
        (b"", "not a readable .npy file"),
    ],
)
def test_load_matrix_checks_the_header_before_reading(data, message):
    with pytest.raises(ExplorerError, match=message):
        load_matrix(data, "m.npy")


def test_load_matrix_reads_every_real_dtype_and_layout():
    base = np.arange(6).reshape(2, 3)
    for arr in (
        base.astype(bool),
        base.astype(np.int8),
        base.astype(">u2"),
        base.astype(np.float16),
        base.astype(">f8"),
        np.asfortranarray(base.astype(np.float64)),
        base.astype(np.longdouble),
    ):
        got = load_matrix(_npy(arr))
        assert got.dtype == np.float32 and got.shape == (2, 3)
        np.testing.assert_array_equal(got, arr.astype(np.float32))
