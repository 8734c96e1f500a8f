"""The upload readers (one per format behind ``read_upload``), their column roles, several
vector files combined, and the writers: every writer's file reads back with bit-identical
float32 vectors and the same metadata (hypothesis round trips)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import io as explorer_io
from core.datasets import UNCATEGORIZED, Dataset, load_dataset
from core.errors import ExplorerError
from core.exporters import (
    export_columns,
    export_parquet,
    neutralize_cell,
    projector_metadata,
    projector_vectors,
    table_csv,
)
from core.io import (
    Columns,
    ImportedVectors,
    combine_uploads,
    guess_columns,
    imported_dataset,
    is_table,
    metadata_column,
    nearest_labels,
    read_csv_table,
    read_jsonl_table,
    read_table,
    read_upload,
    table_upload,
)

REF = Path(__file__).resolve().parents[2] / "shared" / "ref" / "openai-peliculas"


def ref_dir() -> Path:
    if not REF.is_dir():
        pytest.skip(f"reference data not available: {REF}")
    return REF


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


VECS = np.array([[0.5, -1.0, 2.0], [1e-3, 0.25, -0.125], [3.0, 0.0, 1.0]], np.float32)


# ---------------------------------------------------------------------------- each format


def test_csv_with_a_json_vector_column_keeps_the_rest_as_metadata():
    rows = "".join(
        f'{name},"{json.dumps(v.tolist())}",{year},{genre}\n'
        for name, v, year, genre in zip(
            "abc", VECS, (1990, 1991, 1992), ("x", "y", "x"), strict=True
        )
    )
    got = read_upload("films.csv", f"title,embedding,year,genre\n{rows}".encode())
    assert isinstance(got, ImportedVectors)
    assert got.labels == ("a", "b", "c") and got.texts == ("a", "b", "c")
    np.testing.assert_array_equal(got.vectors, VECS)
    assert dict(got.metadata) == {"year": (1990, 1991, 1992), "genre": ("x", "y", "x")}


def test_tsv_table_and_jsonl_and_parquet_give_the_same_upload():
    jsonl = "".join(
        json.dumps({"name": n, "vector": v.tolist(), "score": s}) + "\n"
        for n, v, s in zip("abc", VECS, (0.5, 1.0, 2.5), strict=True)
    )
    tsv = "name\tvector\tscore\n" + "".join(
        f"{n}\t{json.dumps(v.tolist())}\t{s}\n"
        for n, v, s in zip("abc", VECS, (0.5, 1.0, 2.5), strict=True)
    )
    arrow = pa.table(
        {
            "name": list("abc"),
            "vector": pa.array(VECS.tolist(), pa.list_(pa.float32())),
            "score": [0.5, 1.0, 2.5],
        }
    )
    got = [
        read_upload("v.jsonl", jsonl.encode()),
        read_upload("v.tsv", tsv.encode()),
        read_upload("v.parquet", parquet_bytes(arrow)),
    ]
    for result in got:
        assert isinstance(result, ImportedVectors)
        assert result.labels == ("a", "b", "c")
        np.testing.assert_array_equal(result.vectors, VECS)
        assert dict(result.metadata) == {"score": (0.5, 1.0, 2.5)}


def test_a_text_table_is_embedded_with_its_metadata():
    got = read_upload("t.jsonl", b'{"text": "a dog", "n": 1}\n\n{"text": "a cat", "n": 2}\n')
    assert isinstance(got, Dataset)
    assert got.texts == ("a dog", "a cat") and got.labels == got.texts
    assert dict(got.extra) == {"n": (1, 2)} and set(got.categories) == {UNCATEGORIZED}


def test_npy_with_and_without_a_labels_file():
    data = npy_bytes(VECS.astype(np.float64))
    plain = read_upload("m.npy", data)
    assert plain.labels == ("1", "2", "3")
    np.testing.assert_array_equal(plain.vectors, VECS)
    named = read_upload("m.npy", data, b"label\ttext\tn\na\tthe a\t1\nb\tthe b\t2\nc\tthe c\t3\n")
    assert named.labels == ("a", "b", "c") and named.texts == ("the a", "the b", "the c")
    assert dict(named.metadata) == {"n": (1, 2, 3)}
    with pytest.raises(ExplorerError, match="labels.tsv has 2 rows of labels but m.npy has 3"):
        read_upload("m.npy", data, b"a\nb\n", metadata_name="labels.tsv")


def test_a_tsv_is_a_table_only_when_it_starts_with_a_header():
    assert is_table("v.tsv", b"label\tvector\n")
    assert not is_table("v.tsv", b"0.1\t0.2\n")
    assert not is_table("v.tsv", b"nan\t0.2\n") and not is_table("v.tsv", b"\n")
    assert not is_table("v.tsv", b"1e-05\tinf\n") and is_table("v.tsv", b"dim1\tdim2\n")
    assert is_table("x.PARQUET", b"") and is_table("x.jsonl", b"") and not is_table("x.json", b"")


def test_parquet_list_columns_are_read_as_one_matrix():
    arrow = pa.table(
        {
            "id": [7, 8, 9],
            "emb": pa.FixedSizeListArray.from_arrays(pa.array(VECS.reshape(-1)), 3),
            "when": pa.array([1, 2, None], pa.int64()),
        }
    )
    table = read_table("f.parquet", parquet_bytes(arrow))
    assert "emb" in table.matrices and table.kind("emb") == "vector"
    assert guess_columns(table) == Columns(label="id", text=None, vector="emb")
    got = table_upload(table)
    assert got.labels == ("7", "8", "9")
    np.testing.assert_array_equal(got.vectors, VECS)
    assert dict(got.metadata) == {"when": ("1", "2", "")}  # a missing value makes it text


# ---------------------------------------------------------------------------- column roles


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        ("text,label,n", "hi,a,1", Columns(label="label", text="text")),
        ("Título,año", "Pinocho,1940", Columns(label="Título", text="Título")),
        ("id,sentence", "1,hello", Columns(label="id", text="sentence")),
        ("n,phrase", "1,hello", Columns(text="phrase")),
        ("name,Embedding,content", 'a,"[1, 2]",hi', Columns("name", "content", "Embedding")),
        ("k,values", 'a,"[1, 2]"', Columns(vector="values")),
        ("vector,emb", "hello,x", Columns(text="vector")),  # a "vector" that holds no list
    ],
)
def test_roles_are_guessed_from_names_and_values(header, row, expected):
    table = read_csv_table(f"{header}\n{row}\n")
    assert guess_columns(table) == expected


def test_roles_can_be_changed():
    data = 'name,alias,emb\na,x,"[1, 0]"\nb,y,"[0, 1]"\n'
    table = read_csv_table(data, "f.csv")
    by_alias = table_upload(table, Columns(label="alias", vector="emb"))
    assert by_alias.labels == ("x", "y") and dict(by_alias.metadata) == {"name": ("a", "b")}
    texts = table_upload(table, Columns(label="name", text="alias"))
    assert isinstance(texts, Dataset) and texts.texts == ("x", "y")
    assert texts.labels == ("a", "b") and dict(texts.extra) == {}  # the vector column is not kept
    numbered = table_upload(table, Columns(vector="emb"))
    assert numbered.labels == ("1", "2") and set(numbered.metadata) == {"name", "alias"}


BAD_TABLES = [
    ("f.csv", 'a,v\nx,"[1, 2]"\ny,"[1]"\n', "f.csv: line 3, column 'v' has 1 values, expected 2"),
    ("f.csv", 'a,v\nx,"[1, 2]"\ny,"[1, ""b""]"\n', r"line 3, column 'v': value 2 is 'b'"),
    ("f.csv", 'a,v\nx,"[1, 2]"\ny,[1 2\n', r"line 3, column 'v' is not a JSON list"),
    ("f.csv", 'a,v\nx,"[1, 2]"\ny,\n', "line 3, column 'v' is empty, not a vector"),
    ("f.csv", 'a,v\nx,"[1, 2]"\ny,"[1, 1e39]"\n', "line 3, column 'v' value 2 is 1e\\+39"),
    ("f.csv", 'name,v\nx,"[1, 2]"\nx,"[2, 1]"\n', r"label 'x' appears twice \(line 2 and line 3\)"),
    ("f.jsonl", '{"a": "x", "v": [1]}\n{"a": "y", "v": {"b": 1}}\n', "line 2, column 'v' is a"),
    ("f.jsonl", '{"a": "x", "v": [1]}\n[1, 2]\n', "line 2 is a JSON array; every line"),
    ("f.jsonl", '{"a": "x", "v": [1]}\n{"a": \n', "line 2 is not valid JSON"),
    ("f.jsonl", '{"label": "x", "v": [1]}\n{"v": [2]}\n', "line 2, column 'label': the label is"),
    ("f.jsonl", '{"": 1, "v": [1]}\n{"": 2, "v": [2]}\n', "column 1 of the header has no name"),
    ("f.parquet", b"PAR1 not really", "f.parquet is not a readable parquet file"),
    ("f.csv", "a,b\n1,2\n3,4\n", "no column holds text to embed or vectors"),
    ("f.csv", "a\rb,c\nx,y\n", "line 2 has 2 fields, expected 1 like the header"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_TABLES)
def test_bad_tables_name_the_row_and_column(name, data, message):
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ExplorerError, match=message):
        read_upload(name, raw)


def test_parquet_errors_name_the_row():
    ragged = pa.table({"k": ["a", "b"], "v": pa.array([[1.0, 2.0], [1.0]], pa.list_(pa.float64()))})
    with pytest.raises(
        ExplorerError, match="row 2, column 'v' has 1 values, expected 2 like row 1"
    ):
        read_upload("r.parquet", parquet_bytes(ragged))
    nulls = pa.table({"k": ["a", "b"], "v": pa.array([[1.0, 2.0], None], pa.list_(pa.float64()))})
    with pytest.raises(ExplorerError, match="row 2, column 'v' is empty"):
        read_upload("r.parquet", parquet_bytes(nulls))
    with pytest.raises(ExplorerError, match="e.parquet has no rows"):
        read_upload("e.parquet", parquet_bytes(pa.table({"k": pa.array([], pa.string())})))


def test_wrong_roles_name_the_columns():
    table = read_csv_table("a,b\nx,y\n", "f.csv")
    with pytest.raises(ExplorerError, match="no vector column 'v'; its columns are: a, b"):
        table_upload(table, Columns(vector="v"))
    with pytest.raises(ExplorerError, match="no column holds text"):
        table_upload(table, Columns(label="a"))


def test_row_caps_hold_for_tables(monkeypatch):
    monkeypatch.setattr(explorer_io, "MAX_VECTOR_ROWS", 3)
    monkeypatch.setattr(explorer_io, "MAX_TEXT_ROWS", 2)
    texts = b"text\na\nb\nc\n"
    with pytest.raises(ExplorerError, match="t.csv has 3 rows; the limit is 2"):
        read_upload("t.csv", texts)
    assert len(read_upload("t.csv", b'text,v\na,"[1]"\nb,"[2]"\nc,"[3]"\n')) == 3
    with pytest.raises(ExplorerError, match="t.jsonl has 4 lines; the limit is 3"):
        read_jsonl_table('{"a": 1}\n' * 4, "t.jsonl", max_rows=3)
    arrow = pa.table({"text": list("abcd")})
    with pytest.raises(ExplorerError, match="p.parquet has 4 rows; the limit is 3"):
        read_upload("p.parquet", parquet_bytes(arrow))
    with pytest.raises(ExplorerError, match="m.npy has 4 vectors; the limit is 3"):
        read_upload("m.npy", npy_bytes(np.ones((4, 2))))


def test_metadata_columns_are_typed():
    assert metadata_column(["1", "-2", "+3"]) == (1, -2, 3)
    assert metadata_column(["1", "2.5", "1e3"]) == (1.0, 2.5, 1000.0)
    assert metadata_column(["1", "nan"]) == ("1", "nan")  # not a number a user writes
    assert metadata_column([True, 1]) == ("True", "1")
    assert metadata_column([None, {"a": [1]}, [1, 2]]) == ("", '{"a": [1]}', "[1, 2]")
    with pytest.raises(ExplorerError, match="holds '\\\\ud800'"):
        metadata_column(["ok", "\ud800"])


# ---------------------------------------------------------------------------- several files


def test_the_four_openai_files_become_four_models_of_one_dataset():
    folder = ref_dir()
    files = sorted(folder.glob("*.json"))
    upload = combine_uploads([read_upload(p.name, p.read_bytes()) for p in files])
    assert len(upload.dataset) == 62 and len(upload.models) == 4
    dims = {m.removeprefix("uploaded: "): v.shape[1] for m, v in upload.models.items()}
    assert dims == {
        "peliculas_text-embedding-3-large-256.json": 256,
        "peliculas_text-embedding-3-small-1536.json": 1536,
        "peliculas_text-embedding-3-small-256.json": 256,
        "peliculas_text-embedding-ada-002.json": 1536,
    }
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        vectors = upload.models[f"uploaded: {path.name}"]
        expected = np.array([raw[label] for label in upload.dataset.labels], np.float32)
        np.testing.assert_array_equal(vectors, expected)


def test_files_in_another_order_are_aligned_by_label():
    first = ImportedVectors("a.json", ("x", "y", "z"), VECS, {"n": (1, 2, 3)})
    second = ImportedVectors(
        "b.json", ("z", "x", "y"), VECS[[2, 0, 1]] * 2, {"m": ("c", "a", "b")}, ("Z", "X", "Y")
    )
    upload = combine_uploads([first, second])
    np.testing.assert_array_equal(upload.models["uploaded: b.json"], VECS * 2)
    assert dict(upload.dataset.extra) == {"n": (1, 2, 3), "m": ("a", "b", "c")}
    assert upload.dataset.texts == ("X", "Y", "Z") and upload.dataset.name == "a.json and 1 more"
    same_name = combine_uploads([first, first])
    assert list(same_name.models) == ["uploaded: a.json", "uploaded: a.json (2)"]


def test_different_labels_are_named_with_counts():
    first = ImportedVectors("a.json", tuple("abcde"), np.ones((5, 2), np.float32))
    other = ImportedVectors("b.json", tuple("abcXY"), np.ones((5, 2), np.float32))
    message = (
        r"b.json and a.json must name the same items: 2 of a.json's labels are not in it "
        r"\('d', 'e'\); 2 of its labels are not in a.json \('X', 'Y'\)"
    )
    with pytest.raises(ExplorerError, match=message):
        combine_uploads([first, other])
    many = ImportedVectors("c.json", tuple("abcdefgh"), np.ones((8, 2), np.float32))
    with pytest.raises(ExplorerError, match=r"3 of its labels .*\('f', 'g', 'h'\)"):
        combine_uploads([first, many])
    with pytest.raises(ExplorerError, match=r"'a', 'b', 'c' and 2 more"):
        combine_uploads([first, ImportedVectors("d.json", ("p", "q"), np.ones((2, 2), np.float32))])


def test_texts_upload_alone():
    texts = read_upload("t.csv", b"text\na\nb\n")
    assert combine_uploads([texts]).models == {}
    vectors = read_upload("v.json", b'{"a": [1], "b": [2]}')
    with pytest.raises(ExplorerError, match="t holds texts to embed: upload it alone"):
        combine_uploads([vectors, texts])
    with pytest.raises(ExplorerError, match="No file"):
        combine_uploads([])


def test_nearest_labels_by_spelling():
    labels = ["Pinocho", "Dumbo", "Bambi", "El Rey León"]
    assert nearest_labels(labels, "pinoccio") == ["Pinocho"]
    assert nearest_labels(labels, "el rey leon")[0] == "El Rey León"
    assert nearest_labels(labels, "zzzz") == []


# ---------------------------------------------------------------------------- writers by hand


def test_export_columns_and_projector_files_of_a_bundled_dataset():
    words = load_dataset("words")
    columns = export_columns(words)
    assert list(columns) == ["category"] and columns["category"] == words.categories
    vectors = np.arange(len(words) * 2, dtype=np.float32).reshape(-1, 2)
    vectors_tsv, metadata_tsv = projector_vectors(vectors), projector_metadata(words)
    assert metadata_tsv.splitlines()[0] == "label\tcategory"
    back = read_upload("w.tsv", vectors_tsv.encode(), metadata_tsv.encode())
    np.testing.assert_array_equal(back.vectors, vectors)
    assert back.labels == words.labels and back.metadata["category"] == words.categories


def test_parquet_export_with_map_coordinates_and_clusters():
    dataset = imported_dataset("d", ImportedVectors("d", ("a", "b", "c"), VECS, {"x": (1, 2, 3)}))
    data = export_parquet(dataset, VECS, np.arange(9.0).reshape(3, 3), np.array([0, 1, -1]))
    arrow = pq.read_table(io.BytesIO(data))
    assert arrow.column_names == ["label", "x", "x_", "y", "z", "cluster", "vector"]
    assert arrow.schema.field("vector").type == pa.list_(pa.float32(), 3)
    assert arrow.column("cluster").to_pylist() == [0, 1, -1]
    assert arrow.column("z").to_pylist() == [2.0, 5.0, 8.0]
    back = read_upload("d.parquet", data)
    np.testing.assert_array_equal(back.vectors, VECS)
    for coords, message in [
        (np.zeros((3, 4)), r"shape \(3, 4\) for 3 items"),
        (np.zeros((2, 2)), r"shape \(2, 2\)"),
    ]:
        with pytest.raises(ExplorerError, match=message):
            export_parquet(dataset, VECS, coords)
    with pytest.raises(ExplorerError, match="Cluster ids of shape"):
        export_parquet(dataset, VECS, clusters=np.array([0.5, 1, 2]))
    with pytest.raises(ExplorerError, match="2 labels for 3 vectors"):
        export_parquet(imported_dataset("d", ImportedVectors("d", ("a", "b"), VECS[:2])), VECS)


def test_table_csv_neutralises_formulas_but_not_numbers():
    text = table_csv(["item", "=score"], [["=HYPERLINK(1)", -0.5], ["a, b", 2], ["@x", 0.1]])
    assert text == "item,'=score\n'=HYPERLINK(1),-0.5\n\"a, b\",2\n'@x,0.1\n"
    with pytest.raises(ExplorerError, match="A row has 1 cells for 2 columns"):
        table_csv(["a", "b"], [["x"]])


# ---------------------------------------------------------------------------- round trips

ROUND = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Labels and texts that survive every format: no tabs/newlines (the Projector has no quoting),
# not blank, trimmed, not a number...
plain_text = (
    st.text(st.characters(categories=("L", "Nd", "Zs", "Po")), min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda s: bool(s) and explorer_io._as_number(s) is None)
)
# ...also those a spreadsheet would run (only CSV tables for spreadsheets change them)...
safe_text = plain_text | st.tuples(st.sampled_from("=+-@"), plain_text).map("".join).filter(
    lambda s: explorer_io._as_number(s) is None
)
# ...and those a CSV table for spreadsheets writes as they are.
unchanged_in_csv = plain_text.filter(lambda s: s[0] not in "@'")
floats32 = st.floats(-1e6, 1e6, allow_nan=False, width=32).filter(lambda v: abs(v) > 1e-6)


@st.composite
def uploads(draw: st.DrawFn) -> tuple[Dataset, np.ndarray]:
    n = draw(st.integers(2, 8))
    dims = draw(st.integers(1, 6))
    labels = draw(st.lists(safe_text, min_size=n, max_size=n, unique=True))
    texts = draw(st.none() | st.lists(safe_text, min_size=n, max_size=n))
    rows = draw(st.lists(st.lists(floats32, min_size=dims, max_size=dims), min_size=n, max_size=n))
    extra: dict[str, tuple[str | int | float, ...]] = {}
    for name in draw(st.lists(st.sampled_from(["genre", "year", "score"]), unique=True)):
        values = {
            "genre": st.lists(safe_text, min_size=n, max_size=n),
            "year": st.lists(st.integers(-(10**9), 10**9), min_size=n, max_size=n),
            "score": st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=n, max_size=n),
        }[name]
        extra[name] = tuple(draw(values))
    imported = ImportedVectors(
        "u", tuple(labels), np.array(rows, np.float32), extra, texts and tuple(texts)
    )
    return imported_dataset("u", imported), imported.vectors


def same_upload(back: Dataset | ImportedVectors, dataset: Dataset, vectors: np.ndarray) -> None:
    assert isinstance(back, ImportedVectors)
    assert back.vectors.dtype == np.float32
    np.testing.assert_array_equal(back.vectors, vectors)  # bit-exact float32
    assert back.labels == dataset.labels
    assert (back.texts or back.labels) == dataset.texts
    assert dict(back.metadata) == dict(dataset.extra)


@ROUND
@given(uploads())
def test_projector_files_round_trip(upload):
    dataset, vectors = upload
    vectors_tsv, metadata_tsv = projector_vectors(vectors), projector_metadata(dataset)
    back = read_upload("vectors.tsv", vectors_tsv.encode(), metadata_tsv.encode())
    same_upload(back, dataset, vectors)


@ROUND
@given(uploads())
def test_parquet_round_trip(upload):
    dataset, vectors = upload
    same_upload(read_upload("d.parquet", export_parquet(dataset, vectors)), dataset, vectors)


@ROUND
@given(uploads(), st.sampled_from(["csv", "tsv", "jsonl"]))
def test_text_table_round_trip(upload, fmt):
    """A table written with Python's csv/json modules (as a pipeline would) reads back."""
    dataset, vectors = upload
    header = ["label", *export_columns(dataset), "embedding"]
    rows = [
        [label, *(col[i] for col in export_columns(dataset).values()), vectors[i].tolist()]
        for i, label in enumerate(dataset.labels)
    ]
    if fmt == "jsonl":
        data = "".join(json.dumps(dict(zip(header, row, strict=True))) + "\n" for row in rows)
    else:
        out = io.StringIO()
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows([*row[:-1], json.dumps(row[-1])] for row in rows)
        data = out.getvalue()
    same_upload(read_upload(f"t.{fmt}", data.encode()), dataset, vectors)


@ROUND
@given(uploads())
def test_npy_with_labels_round_trip(upload):
    dataset, vectors = upload
    metadata_tsv = projector_metadata(dataset)
    same_upload(read_upload("m.npy", npy_bytes(vectors), metadata_tsv.encode()), dataset, vectors)


@ROUND
@given(
    st.lists(
        st.lists(unchanged_in_csv | st.integers(-1000, 1000), min_size=2, max_size=2),
        min_size=1,
        max_size=6,
    )
)
def test_table_csv_round_trip(rows):
    text = table_csv(["item", "n"], rows)
    table = read_csv_table(text, "t.csv")
    assert table.values["item"] == [str(r[0]) for r in rows]
    assert table.values["n"] == [str(r[1]) for r in rows]


@ROUND
@given(st.text(max_size=10))
def test_neutralized_cells_never_start_a_formula(cell):
    out = neutralize_cell(cell)
    assert out == cell or out == "'" + cell
    if out.lstrip().startswith(("=", "+", "-", "@")):
        assert explorer_io._NUMBER.fullmatch(out.strip())


def test_deep_nesting_and_mismatched_texts_are_refused():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ExplorerError, match="d.jsonl: line 1 nests arrays or objects too deeply"):
        read_upload("d.jsonl", deep.encode())
    nested = "[" * 50_000 + "]" * 50_000  # within the CSV module's field limit
    with pytest.raises(
        ExplorerError, match="line 3, column 'v' nests arrays or objects too deeply"
    ):
        read_upload("d.csv", f"name,v\na,[1]\nb,{nested}\n".encode())
    with pytest.raises(ExplorerError, match=r"line 1, column 'text': the text holds '\\ud800'"):
        read_upload("s.jsonl", b'{"text": "a\\ud800"}\n{"text": "b"}\n')
    with pytest.raises(ExplorerError, match="1 texts for 2 vectors"):
        ImportedVectors("f", ("a", "b"), np.zeros((2, 1), np.float32), texts=("x",))
