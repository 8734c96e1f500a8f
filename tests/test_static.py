from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from core.embedders import static
from core.embedders.minilm import MiniLMEmbedder
from core.embedders.static import Backend, StaticEmbedder
from core.errors import ExplorerError

WORDS = (
    "dog cat puppy kitten horse cow sheep lion tiger wolf car truck bus train bicycle plane "
    "boat ship king queen prince princess man woman boy girl father mother apple banana orange "
    "grape lemon cherry bread cheese paris london berlin rome madrid tokyo happy sad angry "
    "joyful fear love red blue green yellow black white doctor nurse teacher student lawyer "
    "judge piano guitar violin drum music song river lake ocean mountain forest desert computer "
    "keyboard software internet phone email football tennis soccer baseball golf swimming"
).split()

SENTENCES = [
    "A dog chased the cat across the garden.",
    "The puppy ran after a kitten.",
    "Stock prices fell sharply today.",
    "The central bank raised interest rates.",
    "She plays the violin in an orchestra.",
    "The band played loud guitar music all night.",
    "Heavy rain flooded the river valley.",
    "The storm brought snow to the mountains.",
    "He wrote the program in Python on his laptop.",
    "The software update broke my phone.",
    "We baked fresh bread and ate it with cheese.",
    "The restaurant serves pasta and pizza.",
]


@pytest.fixture(scope="session")
def teacher() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def built(tmp_path_factory, teacher) -> Path:
    return static.build(tmp_path_factory.mktemp("first") / static.NAME, teacher)


@pytest.fixture(scope="session")
def model(built) -> StaticEmbedder:
    return StaticEmbedder(built)


@pytest.fixture(scope="session")
def numpy_model(built) -> StaticEmbedder:
    return StaticEmbedder(built, backend="numpy")


def top_k(vectors: np.ndarray, k: int) -> np.ndarray:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :k]


def test_shape_dtype_and_unit_norm(model):
    out = model.embed(["hello world", "a longer sentence about vector embeddings", "x"])
    assert out.shape == (3, 256)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert model.embed("word").shape == (1, 256)


@pytest.mark.slow
def test_build_is_deterministic(built, teacher, tmp_path):
    again = static.build(tmp_path / static.NAME, teacher)
    first = load_file(str(built / "model.safetensors"))["embeddings"]
    second = load_file(str(again / "model.safetensors"))["embeddings"]
    assert np.array_equal(first, second)
    for name in ("config.json", "tokenizer.json"):
        assert (built / name).read_text() == (again / name).read_text()


def test_files_load_in_model2vec_layout(built, teacher):
    table = load_file(str(built / "model.safetensors"))["embeddings"]
    config = json.loads((built / "config.json").read_text())
    assert table.shape == (30522, 256)
    assert table.dtype == np.float32
    assert config["hidden_dim"] == 256
    assert config["normalize"] is True
    # Special and [unusedN] pieces are skipped: their rows stay zero.
    assert not table[[0, 1, 99, 100, 101, 102, 103, 998]].any()
    assert np.all(np.abs(table[static.distillable_ids(teacher.tokenizer)]).sum(1) > 0)


def test_distillable_ids_skip_special_and_unused_pieces(teacher):
    ids = static.distillable_ids(teacher.tokenizer)
    # 30522 pieces less [PAD] [UNK] [CLS] [SEP] [MASK] and [unused0] .. [unused993].
    assert len(ids) == 30522 - 5 - 994
    assert ids[0] == 999
    assert not np.isin([0, 100, 101, 102, 103], ids).any()


def test_sif_weights_hand_computed():
    # Zipf p = (1/2, 1/3, 1/4) / (13/12) = (6, 4, 3) / 13, so w = 0.5 / (0.5 + p).
    np.testing.assert_allclose(static.sif_weights(3, sif=0.5), [13 / 25, 13 / 21, 13 / 19])
    w = static.sif_weights(30_000)
    assert np.all(np.diff(w) > 0)
    assert 0 < w[0] < 0.05 and w[-1] > 0.9


@pytest.mark.parametrize(
    ("anchor", "near", "far"),
    [
        ("dog", "puppy", "car"),
        ("king", "queen", "banana"),
        ("paris", "london", "guitar"),
        ("piano", "violin", "lawyer"),
        ("A dog chased the cat.", "The puppy ran after a kitten.", "Stock prices fell today."),
    ],
)
def test_related_texts_are_closer(model, anchor, near, far):
    a, b, c = model.embed([anchor, near, far])
    # Measured gaps are 0.3 to 0.6; 0.2 leaves room without being trivial.
    assert float(a @ b) > float(a @ c) + 0.2


def test_each_sentence_is_nearest_to_its_topic_partner(model):
    # SENTENCES come in pairs on one topic (0-1, 2-3, ...), with no word shared in most pairs.
    nearest = top_k(model.embed(SENTENCES), 1)[:, 0]
    partner = np.arange(len(SENTENCES)) ^ 1
    # Measured 12 of 12 (MiniLM itself: 11).
    assert (nearest == partner).sum() >= 11


def test_leading_dimensions_carry_more_variance(model):
    vectors = model.embed(WORDS)
    var = vectors.var(axis=0)
    # Measured ratio ~8 on these 84 words.
    assert var[:32].mean() > 4 * var[-32:].mean()


def test_truncation_to_64_dims_keeps_most_neighbors(model):
    vectors = model.embed(WORDS)
    short = vectors[:, :64] / np.linalg.norm(vectors[:, :64], axis=1, keepdims=True)
    full, cut = top_k(vectors, 10), top_k(short, 10)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(full, cut, strict=True)])
    # Measured 0.79 (0.70 at 32 dims, 0.88 at 128).
    assert overlap >= 0.7


def test_model2vec_and_numpy_give_the_same_vectors(model, numpy_model):
    if model.backend is not Backend.MODEL2VEC:
        pytest.skip("model2vec did not load this model here")
    assert numpy_model.backend is Backend.NUMPY
    texts = [*WORDS[:20], *SENTENCES, "naïve café", "[MASK] x", "word " * 2000 + "end"]
    np.testing.assert_allclose(model.embed(texts), numpy_model.embed(texts), atol=1e-6)


def test_numpy_path_is_the_weighted_mean_of_rows(numpy_model, built):
    table = load_file(str(built / "model.safetensors"))["embeddings"].astype(np.float64)
    ids = numpy_model.token_ids(["hello big world"])[0]
    mean = table[ids].mean(axis=0)
    np.testing.assert_allclose(
        numpy_model.embed("hello big world")[0], mean / np.linalg.norm(mean), atol=1e-6
    )


@pytest.mark.parametrize("backend", ["model2vec", "numpy"])
def test_only_unknown_pieces_is_an_error(model, numpy_model, backend):
    chosen = numpy_model if backend == "numpy" else model
    with pytest.raises(ExplorerError, match="knows none of the word pieces"):
        chosen.embed(["fine", "🐶🐱"])


def test_truncates_to_512_pieces(numpy_model):
    assert numpy_model.count_tokens("dog " * 600) == 600
    assert (
        numpy_model.token_ids(["dog " * 600 + "cat"])[0] == numpy_model.token_ids(["dog"])[0] * 512
    )


def test_unknown_backend_names_the_choices(built):
    with pytest.raises(ExplorerError, match="model2vec, numpy"):
        StaticEmbedder(built, backend="onnx")


def test_cache_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    assert static.default_folder() == tmp_path / static.NAME


def test_builds_on_first_use_when_missing(monkeypatch, built, tmp_path):
    calls = []

    def fake_build(folder: Path) -> Path:
        calls.append(folder)
        shutil.copytree(built, folder)
        return folder

    monkeypatch.setattr(static, "build", fake_build)
    target = tmp_path / static.NAME
    assert not static.is_built(target)
    StaticEmbedder(target).embed("built lazily")
    assert calls == [target]
    StaticEmbedder(target)
    assert calls == [target]


def test_an_older_build_is_not_reused(built, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(built, old)
    config = json.loads((old / "config.json").read_text())
    config["build_version"] = static.BUILD_VERSION - 1
    (old / "config.json").write_text(json.dumps(config))
    assert static.is_built(built)
    assert not static.is_built(old)


def test_command_line_builds_only_when_needed(monkeypatch, built, tmp_path):
    calls = []
    monkeypatch.setattr(static, "build", lambda folder: calls.append(folder))
    static.main(["--folder", str(built)])
    assert calls == []
    static.main(["--folder", str(built), "--force"])
    static.main(["--folder", str(tmp_path / "new")])
    assert calls == [built, tmp_path / "new"]
