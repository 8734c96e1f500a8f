"""The sidebar's uploads with AppTest: every format, every column role, several vector files
as several models (the OpenAI peliculas files on Search and Similarity), label mismatches,
the free-text notice with its nearest items, and the download buttons."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from core.exporters import projector_metadata, projector_vectors
from core.io import ImportedVectors, imported_dataset
from tests.page_helpers import open_page, plain

REF = Path(__file__).resolve().parents[2] / "shared" / "ref" / "openai-peliculas"
STATIC = "static-minilm-256"
WORDS = ["dog", "cat", "puppy", "kitten", "car", "truck", "apple", "pear"]
VECS = np.random.default_rng(3).normal(size=(len(WORDS), 6)).astype(np.float32)
GENRES = ["pet", "pet", "pet", "pet", "road", "road", "food", "food"]


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def parquet_bytes() -> bytes:
    table = pa.table(
        {
            "name": WORDS,
            "genre": GENRES,
            "embedding": pa.array(VECS.tolist(), pa.list_(pa.float32())),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def csv_bytes(sep: str = ",") -> bytes:
    rows = [
        f'{w}{sep}{g}{sep}"{json.dumps(v.tolist())}"'
        for w, g, v in zip(WORDS, GENRES, VECS, strict=True)
    ]
    return (f"name{sep}genre{sep}embedding\n" + "\n".join(rows) + "\n").encode()


def jsonl_bytes() -> bytes:
    return "".join(
        json.dumps({"name": w, "genre": g, "embedding": v.tolist()}) + "\n"
        for w, g, v in zip(WORDS, GENRES, VECS, strict=True)
    ).encode()


PAIR = (
    projector_vectors(VECS),
    projector_metadata(
        imported_dataset("w", ImportedVectors("w", tuple(WORDS), VECS, {"genre": tuple(GENRES)}))
    ),
)
LABELS_TSV = (
    "label\tgenre\n" + "".join(f"{w}\t{g}\n" for w, g in zip(WORDS, GENRES, strict=True))
).encode()

# name -> (file, optional labels file); each gives WORDS with VECS and a "genre" column.
FORMATS = {
    "json": (("w.json", json.dumps(dict(zip(WORDS, VECS.tolist(), strict=True))).encode()), None),
    "csv": (("w.csv", csv_bytes()), None),
    "tsv-table": (("w.tsv", csv_bytes("\t").replace(b'"', b"")), None),
    "jsonl": (("w.jsonl", jsonl_bytes()), None),
    "parquet": (("w.parquet", parquet_bytes()), None),
    "projector": (("vectors.tsv", PAIR[0].encode()), ("metadata.tsv", PAIR[1].encode())),
    "npy": (("w.npy", npy_bytes(VECS)), ("labels.tsv", LABELS_TSV)),
}


def upload(
    page: str,
    files: list[tuple[str, bytes]],
    meta: tuple[str, bytes] | None = None,
    params: dict | None = None,
) -> AppTest:
    at = open_page(page, {"dataset": "upload", **(params or {})})
    at.sidebar.file_uploader(key="upload_file").set_value(
        [(name, data, "application/octet-stream") for name, data in files]
    )
    if meta is not None:
        at.sidebar.file_uploader(key="upload_meta").set_value((*meta, "text/tab-separated-values"))
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def neighbors(at: AppTest, model: str) -> list[str]:
    """The "most similar" items Similarity's Neighbours view shows for ``model`` (one column
    per model, in the order of the bold model names, each with a most and a least table)."""
    names = [plain(m.value).strip("*") for m in at.markdown if m.value.startswith("**")]
    frames = [df.value for df in at.dataframe if "item" in df.value.columns]
    return frames[2 * names.index(model)]["item"].tolist()


def errors(at: AppTest) -> str:
    return " ".join(plain(e.value) for e in at.error)


def brute_neighbors(vectors: np.ndarray, row: int, k: int) -> list[str]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit[row]
    order = [int(i) for i in np.argsort(-sims, kind="stable") if i != row]
    return [WORDS[i] for i in order[:k]]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_gives_the_same_model(fmt):
    file, meta = FORMATS[fmt]
    at = upload(
        "similarity", [file], meta, {"sim_view": "Neighbours", "sim_target": "dog", "sim_k": "3"}
    )
    assert not errors(at), errors(at)
    model = f"uploaded: {file[0]}"
    assert neighbors(at, model) == brute_neighbors(VECS, 0, 3)
    # The metadata column reaches the dataset (the map colours by it); roles are shown.
    if fmt in ("csv", "tsv-table", "jsonl", "parquet"):
        (box,) = [e for e in at.sidebar.expander if plain(e.label).startswith("Columns of")]
        assert "label = name" in plain(box.label) and "vector = embedding" in plain(box.label)
        assert (
            at.sidebar.selectbox(
                key=next(k for k in keys(at) if k.startswith("upload_vector_"))
            ).value
            == "embedding"
        )


def keys(at: AppTest) -> list[str]:
    return [str(box.key) for box in at.sidebar.selectbox]


def role_key(at: AppTest, role: str) -> str:
    return next(k for k in keys(at) if k.startswith(f"upload_{role}_"))


def test_changing_the_roles_relabels_or_embeds_the_text():
    data = b"name,alias,embedding\n" + b"".join(
        f'{w},{w.upper()},"{json.dumps(v.tolist())}"\n'.encode()
        for w, v in zip(WORDS, VECS, strict=True)
    )
    at = upload(
        "similarity",
        [("w.csv", data)],
        params={"sim_view": "Neighbours", "sim_target": "dog", "sim_k": "3"},
    )
    assert neighbors(at, "uploaded: w.csv") == brute_neighbors(VECS, 0, 3)
    at.sidebar.selectbox(key=role_key(at, "label")).set_value("alias").run()
    assert not at.exception
    at.text_input(key="sim_target").input("DOG").run()
    assert neighbors(at, "uploaded: w.csv") == [w.upper() for w in brute_neighbors(VECS, 0, 3)]
    # No vector column, "name" as the text: the sidebar's local model embeds it.
    at.sidebar.selectbox(key=role_key(at, "vector")).set_value("(none)")
    at.sidebar.selectbox(key=role_key(at, "text")).set_value("name")
    at.sidebar.multiselect(key="models").set_value([STATIC]).run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(neighbors(at, STATIC)) == 3


def test_a_table_without_roles_says_what_to_choose():
    at = upload("similarity", [("n.csv", b"a,b\n1,2\n3,4\n")])
    assert "Could not read n.csv" in errors(at) and "no column holds text" in errors(at)
    at.sidebar.selectbox(key=role_key(at, "text")).set_value("a").run()
    assert not at.exception and "Could not read" not in errors(at)


def ref_files() -> list[tuple[str, bytes]]:
    if not REF.is_dir():
        pytest.skip(f"reference data not available: {REF}")
    return [(p.name, p.read_bytes()) for p in sorted(REF.glob("*.json"))]


def test_the_openai_files_compare_as_four_models_on_search_and_similarity():
    files = ref_files()
    models = [f"uploaded: {name}" for name, _ in files]
    at = upload("search", files, params={"search_query": "Pinocho", "search_view": "3 · Results"})
    assert at.selectbox(key="search_model").options == models
    (results,) = [df.value for df in at.dataframe if "exhaustive" in df.value.columns]
    assert len(results) == 5 and results["exhaustive"][0] == "Pinocho"  # the item itself
    assert "download_search_results" in [b.key for b in at.get("download_button")]
    at.switch_page("views/similarity.py")
    at.session_state["sim_view"] = "Neighbours"
    at.session_state["sim_target"] = "Pinocho"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    raw = {name: json.loads(data) for name, data in files}
    for name, model in zip(raw, models, strict=True):
        labels = list(raw[name])
        vectors = np.array(list(raw[name].values()), np.float32)
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        row = labels.index("Pinocho")
        sims = unit @ unit[row]
        top = [labels[i] for i in np.argsort(-sims) if i != row][:3]
        assert neighbors(at, model)[:3] == top
    assert at.sidebar.selectbox(key="download_model").options == models


def test_files_whose_labels_differ_are_refused_saying_which():
    base = dict(zip(WORDS, VECS.tolist(), strict=True))
    other = {("Dog" if w == "dog" else w): v for w, v in base.items()}
    at = upload(
        "similarity",
        [("a.json", json.dumps(base).encode()), ("b.json", json.dumps(other).encode())],
    )
    message = errors(at)
    assert "b.json and a.json must name the same items" in message
    assert "1 of a.json's labels are not in it ('dog')" in message and "('Dog')" in message


def test_texts_cannot_join_vector_files():
    at = upload("similarity", [("w.json", FORMATS["json"][0][1]), ("t.csv", b"text\na\nb\n")])
    assert "t holds texts to embed: upload it alone" in errors(at)


def test_free_text_offers_the_nearest_items():
    at = upload(
        "similarity",
        [FORMATS["json"][0]],
        params={"sim_view": "Neighbours", "sim_target": "puppyy"},
    )
    notice = " ".join(plain(i.value) for i in at.info)
    assert "cannot embed new text" in notice
    (button,) = [b for b in at.button if b.key.startswith("sim_target_nearest_")]
    assert plain(button.label) == "puppy"
    button.click().run()
    assert not at.exception
    assert at.text_input(key="sim_target").value == "puppy"
    k = int(at.slider(key="sim_k").value)
    assert neighbors(at, "uploaded: w.json") == brute_neighbors(VECS, 2, k)
    assert not [b for b in at.button if b.key.startswith("sim_target_nearest_")]


def test_search_says_so_where_the_query_is_typed():
    at = upload("search", [FORMATS["json"][0]], params={"search_query": "kiten"})
    assert "cannot embed new text" in " ".join(plain(i.value) for i in at.info)
    (button,) = [b for b in at.button if b.key.startswith("search_query_nearest_")]
    button.click().run()
    assert at.text_input(key="search_query").value == "kitten"


def test_downloads_are_offered_for_bundled_and_uploaded_data():
    at = open_page("similarity")
    assert {"download_vectors", "download_metadata", "download_parquet"} <= {
        b.key for b in at.get("download_button")
    }
    at = upload("similarity", [FORMATS["json"][0]])
    assert {"download_vectors", "download_metadata", "download_parquet"} <= {
        b.key for b in at.get("download_button")
    }


def test_presenter_mode_keeps_the_roles_folded():
    at = upload("similarity", [FORMATS["csv"][0]], params={"present": "1"})
    assert not at.exception
    (box,) = [e for e in at.sidebar.expander if plain(e.label).startswith("Columns of")]
    assert not box.proto.expanded


def test_ranking_csv_button_is_left_out_in_presenter_mode():
    params = {"search_view": "3 · Results", "search_query": "dog"}
    at = open_page("search", params)
    assert "download_search_results" in [b.key for b in at.get("download_button")]
    at = open_page("search", {**params, "present": "1"})
    assert "download_search_results" not in [b.key for b in at.get("download_button")]


def test_an_uploaded_metadata_column_colours_the_map():
    at = upload("similarity", [FORMATS["parquet"][0]], params={"sim_view": "Map"})
    assert "genre" in at.selectbox(key="sim_map_colour").options
