"""core.models_table: model rows (local, hosted, uploaded, the talk's), the table's cells, one
text's measurements, JSON export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.embedders.base import Embedder
from core.embedders.providers import Provider, RemoteConfig
from core.embedders.remote import RemoteEmbedder
from core.errors import ExplorerError
from core.models_table import (
    COLUMNS,
    COMPACT_COLUMNS,
    ModelKind,
    ModelRow,
    disk_bytes,
    embed_text,
    model_row,
    model_table,
    stored_text,
    table_records,
    talk_rows,
    uploaded_row,
    vectors_json,
)


class _Toy(Embedder):
    """A tiny model: each text becomes [len(text), 3, 4]; not unit length."""

    name = "toy-3"
    dims = 3
    normalized = False
    supports_mrl = True
    max_tokens = 2
    description = "Counts characters."
    local = False

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.array([[len(t), 3.0, 4.0] for t in texts])


def _load(name: str) -> Embedder:
    if name == "toy-3":
        return _Toy()
    raise ExplorerError(f"Unknown model {name!r}.")


def test_model_table_reads_attributes_and_keeps_failures_as_rows() -> None:
    rows = model_table(["toy-3", "missing"], _load)
    toy, missing = rows
    assert toy == model_row(_Toy())
    assert (toy.dims, toy.max_tokens, toy.supports_mrl, toy.normalized) == (3, 2, True, False)
    assert toy.kind is ModelKind.HOSTED and toy.runs == "remote API" and toy.size_bytes is None
    assert toy.description == "Counts characters." and toy.available
    assert not missing.available and "Unknown model 'missing'" in (missing.error or "")
    assert missing.dims is None and missing.dims_text == "–"


def test_a_local_model_is_measured_on_disk(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    (tmp_path / "sub" / "b.bin").write_bytes(b"y" * 234)
    (tmp_path / "link").symlink_to(tmp_path / "a.bin")  # not counted twice
    assert disk_bytes(tmp_path) == 1234
    assert disk_bytes(tmp_path / "a.bin") == 1000
    assert disk_bytes(tmp_path / "absent") == 0
    toy = _Toy()
    toy.local = True
    row = model_row(toy, folder=tmp_path)
    assert row.kind is ModelKind.LOCAL and row.size_bytes == 1234 and row.encodes == "text"
    assert row.runs == "here (numpy, no network)"


def test_a_hosted_model_row_never_asks_the_server() -> None:
    # Port 9 on loopback answers nothing: reading the row must not send a probe.
    unknown = RemoteEmbedder(RemoteConfig(Provider.OLLAMA, "m", None, "http://127.0.0.1:9/v1"))
    row = model_row(unknown)
    assert row.kind is ModelKind.HOSTED and row.dims is None and row.dims_text == "–"
    assert row.runs == "Ollama at http://127.0.0.1:9/v1"
    known = RemoteConfig(Provider.OPENAI, "text-embedding-3-small", "sk-x", dimensions=256)
    row = model_row(RemoteEmbedder(known))
    assert (row.name, row.dims, row.supports_mrl, row.max_tokens) == (
        "openai:text-embedding-3-small@256",
        256,
        True,
        8191,
    )
    assert row.runs == "OpenAI at https://api.openai.com/v1"


def test_the_talks_rows_are_reference_facts() -> None:
    rows = {r.name: r for r in talk_rows()}
    assert list(rows) == [
        "word2vec",
        "Sentence-Transformers",
        "text-embedding-ada-002",
        "text-embedding-3-small",
        "text-embedding-3-large",
    ]
    assert all(r.kind is ModelKind.REFERENCE and r.size_bytes is None for r in rows.values())
    facts = {n: (r.encodes, r.dims_text, r.mteb, r.supports_mrl) for n, r in rows.items()}
    assert facts == {
        "word2vec": ("words", "300", None, False),
        "Sentence-Transformers": ("text", "768", None, False),
        "text-embedding-ada-002": ("text", "1536", 61.0, False),
        "text-embedding-3-small": ("text", "256–1536", 62.3, True),
        "text-embedding-3-large": ("text", "256–3072", 64.6, True),
    }
    assert rows["text-embedding-ada-002"].max_tokens == 8191


def test_uploaded_vectors_are_measured() -> None:
    unit = np.array([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    row = uploaded_row("ada-002.json", unit)
    assert row.kind is ModelKind.UPLOADED and row.dims == 3 and row.normalized is True
    assert row.supports_mrl is None and "2 vectors" in row.description
    assert uploaded_row("raw", unit * 2).normalized is False
    with pytest.raises(ExplorerError):
        uploaded_row("empty", np.zeros((2, 0)))


def test_table_cells_full_and_compact() -> None:
    rows = [
        ModelRow("glove", dims=50, max_tokens=10000, supports_mrl=False, size_bytes=83_700_000),
        ModelRow("3-small", ModelKind.REFERENCE, dims=1536, min_dims=256, mteb=62.3),
        ModelRow("broken", error="no weights"),
    ]
    full = table_records(rows)
    assert [list(r) for r in full] == [list(COLUMNS)] * 3
    assert full[0]["size on disk"] == "83.7 MB" and full[0]["max input (tokens)"] == "10,000"
    assert full[0]["MRL (truncatable)"] == "no" and full[0]["unit length"] == "–"
    assert full[1]["dimensions"] == "256–1536" and full[1]["MTEB avg"] == "62.3 %"
    assert full[1]["kind"] == "reference (the talk)"
    assert full[2]["runs"] == "cannot load here"
    compact = table_records(rows, compact=True)
    assert [list(r) for r in compact] == [list(COMPACT_COLUMNS)] * 3
    assert len(COMPACT_COLUMNS) < len(COLUMNS)


def test_embed_text_measures_the_vector() -> None:
    out = embed_text(_Toy(), "one two three")
    np.testing.assert_array_equal(out.vector, [13, 3, 4])
    assert out.vector.dtype == np.float32 and out.dims == 3
    assert out.norm == pytest.approx(math.sqrt(169 + 9 + 16))
    assert out.tokens == 3 and out.max_tokens == 2 and out.truncated
    assert not embed_text(_Toy(), "one").truncated
    with pytest.raises(ExplorerError, match="empty"):
        embed_text(_Toy(), "   ")


def test_vectors_json_round_trips_float32_exactly() -> None:
    vectors = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    text = vectors_json(["a", "b", "c"], vectors)
    back = json.loads(text)
    assert list(back) == ["a", "b", "c"]
    np.testing.assert_array_equal(np.array(list(back.values()), dtype=np.float32), vectors)
    assert json.loads(embed_text(_Toy(), "hi").to_json()) == {"hi": [2.0, 3.0, 4.0]}


def test_vectors_json_errors() -> None:
    with pytest.raises(ExplorerError, match="1 labels for 2 vectors"):
        vectors_json(["a"], np.ones((2, 3)))
    with pytest.raises(ExplorerError, match="repeat"):
        vectors_json(["a", "a"], np.ones((2, 3)))


def test_stored_text_reads_an_uploaded_item() -> None:
    vectors = np.array([[3.0, 4.0], [1.0, 0.0]], dtype=np.float32)
    found = stored_text("uploaded: v.json", ["cat", "dog"], vectors, " cat ")
    assert found is not None and found.stored and not found.truncated
    np.testing.assert_array_equal(found.vector, [3.0, 4.0])
    assert (found.text, found.norm, found.dims, found.tokens) == ("cat", 5.0, 2, None)
    assert json.loads(found.to_json()) == {"cat": [3.0, 4.0]}
    assert stored_text("uploaded: v.json", ["cat", "dog"], vectors, "queen") is None
    assert not embed_text(_Toy(), "hi").stored


# Bytes each local model's weights must at least take: float32 tables counted by hand
# (GloVe 400,000 x 50; the static model's 30,522 word pieces x 256) and the safetensors sizes
# of the published models.
LEAST_BYTES = {
    "glove-6b-50d": 400_000 * 50 * 4,
    "static-minilm-256": 30_522 * 256 * 4,
    "all-MiniLM-L6-v2": 90_000_000,
    "all-mpnet-base-v2": 437_971_872,
}


@pytest.mark.parametrize("name", sorted(LEAST_BYTES))
def test_local_models_are_measured_where_they_are_installed(name: str) -> None:
    from core.models_table import _folder_of

    try:
        folder = _folder_of(name)
    except ExplorerError as exc:
        pytest.skip(f"{name} is not installed here: {exc}")
    assert folder is not None
    if not folder.exists():
        pytest.skip(f"{name} is not built or extracted yet")
    size = disk_bytes(folder)
    assert LEAST_BYTES[name] <= size <= 1.25 * LEAST_BYTES[name], (name, size)


def test_a_model_without_known_files_has_no_size() -> None:
    from core.models_table import _folder_of

    assert _folder_of("toy-3") is None
    assert model_row(_Toy()).size_bytes is None
