from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.datasets import (
    MOVIES_CSV,
    UNCATEGORIZED,
    WORDS_CSV,
    Dataset,
    TextField,
    dataset_from_texts,
    list_datasets,
    load_dataset,
    read_movies,
    read_words,
)
from core.errors import ExplorerError

REQUIRED_WORDS = [
    "dog",
    "cat",
    "queen",
    "king",
    "man",
    "woman",
    "prince",
    "princess",
    "apple",
    "car",
]
REQUIRED_TITLES = [
    "Moana",
    "Mulan",
    "Lilo & Stitch",
    "The Little Mermaid",
    "Big Hero 6",
    "101 Dalmatians",
    "102 Dalmatians",
    "The Lion King",
    "Toy Story",
]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """The file read with nothing but the csv module, to check the loader against."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tiny_movies(tmp_path: Path) -> Path:
    # Same format as data/movies.csv: quoted fields with commas, non-ASCII, a remade title.
    return _write(
        tmp_path / "movies.csv",
        "title,year,studio,description\n"
        'Toy Story,1995,Pixar,"Toys come alive, and a cowboy meets a space ranger."\n'
        "The Lion King 1½,2004,Disney,Timon and Pumbaa retell the story.\n"
        "Aladdin,1992,Disney,A street boy finds a magic lamp.\n"
        'Aladdin,2019,Disney,"The same story, filmed with actors."\n',
    )


# ---------------------------------------------------------------------------- words


def test_words_file_is_large_unique_lowercase_single_words():
    rows = _csv_rows(WORDS_CSV)
    words = [r["word"] for r in rows]
    assert list(rows[0]) == ["word", "category"]
    assert 1000 <= len(words) <= 1300
    assert len(set(words)) == len(words), Counter(words).most_common(3)
    assert all(w.isalpha() and w.islower() for w in words), [w for w in words if not w.isalpha()]
    assert all(r["category"].isalpha() and r["category"].islower() for r in rows)


def test_words_dataset_matches_the_file_in_order():
    rows = _csv_rows(WORDS_CSV)
    words = load_dataset("words")
    assert words.name == "words"
    assert words.labels == tuple(r["word"] for r in rows)
    assert words.texts == words.labels
    assert words.categories == tuple(r["category"] for r in rows)
    assert dict(words.extra) == {}
    assert len(words) == len(rows)
    assert f"{len(rows):,}" in words.description


def test_words_include_the_talks_examples_in_sensible_categories():
    words = load_dataset("words")
    for w in REQUIRED_WORDS:
        assert w in words.labels
    category = dict(zip(words.labels, words.categories, strict=True))
    assert category["dog"] == category["cat"] == "animal"
    assert category["apple"] == "food"
    assert category["car"] == "vehicle"
    assert {category[w] for w in ["king", "queen", "man", "woman", "prince", "princess"]} == {
        "person"
    }


def test_words_categories_are_balanced():
    counts = Counter(load_dataset("words").categories)
    assert 10 <= len(counts) <= 14, counts
    assert min(counts.values()) >= 40, counts
    # No category dwarfs the others, so every colour in a plot is visible.
    assert max(counts.values()) <= 2 * min(counts.values()), counts


# ---------------------------------------------------------------------------- movies


@pytest.mark.skipif(not MOVIES_CSV.exists(), reason="data/movies.csv is not written yet")
def test_bundled_movies_have_the_required_titles():
    rows = _csv_rows(MOVIES_CSV)
    movies = load_dataset("movies")
    assert len(movies) == len(rows) >= 300
    assert list(rows[0]) == ["title", "year", "studio", "description"]
    for title in REQUIRED_TITLES:
        assert title in movies.labels
    assert set(movies.extra["studio"]) == {"Disney", "Pixar"}
    assert movies.texts == tuple(r["title"] for r in rows)
    assert movies.extra["year"] == tuple(int(r["year"]) for r in rows)
    assert movies.categories == tuple(f"{r['year'][:3]}0s" for r in rows)


@pytest.mark.skipif(not MOVIES_CSV.exists(), reason="data/movies.csv is not written yet")
def test_bundled_movies_title_plus_description():
    row = next(r for r in _csv_rows(MOVIES_CSV) if r["title"] == "Moana")
    movies = load_dataset("movies", "title+description")
    i = movies.index_of("Moana")
    assert movies.texts[i] == f"Moana ({row['year']}): {row['description']}"
    assert movies.labels == load_dataset("movies").labels


def test_movies_by_title(tiny_movies):
    movies = read_movies(tiny_movies)
    assert movies.labels == ("Toy Story", "The Lion King 1½", "Aladdin (1992)", "Aladdin (2019)")
    assert movies.texts == ("Toy Story", "The Lion King 1½", "Aladdin", "Aladdin")
    assert movies.categories == ("1990s", "2000s", "1990s", "2010s")
    assert movies.extra["year"] == (1995, 2004, 1992, 2019)
    assert movies.extra["studio"] == ("Pixar", "Disney", "Disney", "Disney")
    assert movies.extra["description"][0] == "Toys come alive, and a cowboy meets a space ranger."
    assert "1992-2019" in movies.description


def test_movies_by_title_and_description(tiny_movies):
    by_title = read_movies(tiny_movies, TextField.TITLE)
    movies = read_movies(tiny_movies, "title+description")
    assert movies.labels == by_title.labels
    assert movies.categories == by_title.categories
    assert (
        movies.texts[0] == "Toy Story (1995): Toys come alive, and a cowboy meets a space ranger."
    )
    assert movies.texts[3] == "Aladdin (2019): The same story, filmed with actors."
    assert movies.fingerprint != by_title.fingerprint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title,year,studio\nUp,2009,Pixar\n", r"lacks the column\(s\) description"),
        ("title,year,studio,description\nUp,09',Pixar,Balloons.\n", r"line 2 has year \"09'\""),
        ("title,year,studio,description\n,2009,Pixar,Balloons.\n", "line 2 has an empty title"),
        ("title,year,studio,description\nUp,2009,Pixar,A house, balloons.\n", "line 2 does not"),
        ("title,year,studio,description\nUp,2009\n", "line 2 does not have one value"),
        ("title,year,studio,description\n", "no rows"),
    ],
)
def test_malformed_movie_files_name_the_problem(tmp_path, text, message):
    with pytest.raises(ExplorerError, match=message):
        read_movies(_write(tmp_path / "bad.csv", text))


def test_blank_lines_are_skipped_and_remakes_in_the_same_year_rejected(tmp_path):
    words = read_words(_write(tmp_path / "w.csv", "word,category\ndog,animal\n,\n\ncar,vehicle\n"))
    assert words.labels == ("dog", "car")
    same = "title,year,studio,description\nUp,2009,Pixar,One.\nUp,2009,Pixar,Two.\n"
    with pytest.raises(ExplorerError, match=r"label 'Up \(2009\)' appears on rows 1, 2"):
        read_movies(_write(tmp_path / "m.csv", same))


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(ExplorerError, match="missing"):
        read_words(tmp_path / "absent.csv")
    (tmp_path / "latin1.csv").write_bytes("word,category\ncaf\xe9,place\n".encode("latin-1"))
    with pytest.raises(ExplorerError, match="not a valid UTF-8 CSV"):
        read_words(tmp_path / "latin1.csv")


# ---------------------------------------------------------------------------- load_dataset


def test_list_and_load_by_name():
    assert list_datasets() == ["words", "movies"]
    with pytest.raises(ExplorerError, match="Unknown dataset 'word'; choose one of: words, movies"):
        load_dataset("word")


def test_loading_is_cached_and_words_ignore_the_text_field():
    words = load_dataset("words")
    assert load_dataset("words") is words
    assert load_dataset("words", TextField.TITLE_DESCRIPTION) is words
    assert load_dataset("words", "title+description") is words


@pytest.mark.skipif(not MOVIES_CSV.exists(), reason="data/movies.csv is not written yet")
def test_text_field_strings_and_members_share_the_cache():
    assert load_dataset("movies", "title") is load_dataset("movies", TextField.TITLE)
    assert load_dataset("movies", "title+description") is not load_dataset("movies")


def test_unknown_text_field_lists_the_choices():
    with pytest.raises(ExplorerError, match=r"'summary'; choose one of: title, title\+description"):
        load_dataset("movies", "summary")
    with pytest.raises(ExplorerError, match="'summary'"):
        load_dataset("words", "summary")


# ---------------------------------------------------------------------------- Dataset


def test_index_of_finds_every_label():
    words = load_dataset("words")
    assert [words.index_of(w) for w in words.labels] == list(range(len(words)))


@pytest.mark.parametrize(
    ("label", "suggested"),
    [("kng", "'king'"), ("Queen", "'queen'"), ("DOG", "'dog'"), ("princes", "'princess'")],
)
def test_unknown_label_suggests_close_labels(label, suggested):
    with pytest.raises(ExplorerError, match=f"'{label}' is not an item of words; did you mean"):
        load_dataset("words").index_of(label)
    with pytest.raises(ExplorerError, match=suggested):
        load_dataset("words").index_of(label)


def test_unknown_label_without_close_labels():
    with pytest.raises(ExplorerError, match="'qqqqqq' is not an item of words; pick one of its"):
        load_dataset("words").index_of("qqqqqq")


def test_fingerprint_is_stable_short_hex_and_follows_texts_and_labels():
    base = dataset_from_texts("demo", ["a cat", "a dog"])
    assert base.fingerprint == dataset_from_texts("demo", ["a cat", "a dog"]).fingerprint
    assert base.fingerprint == base.fingerprint
    assert len(base.fingerprint) == 16 and int(base.fingerprint, 16) >= 0
    assert read_words().fingerprint == load_dataset("words").fingerprint
    changed = {
        "text": dataset_from_texts("demo", ["a cat", "a dog!"], labels=["a cat", "a dog"]),
        "label": dataset_from_texts("demo", ["a cat", "a dog"], labels=["cat", "a dog"]),
        "name": dataset_from_texts("other", ["a cat", "a dog"]),
        "order": dataset_from_texts("demo", ["a dog", "a cat"]),
    }
    for what, other in changed.items():
        assert other.fingerprint != base.fingerprint, what
    # Categories only colour the plot; the vectors, and so the fingerprint, stay the same.
    recoloured = dataset_from_texts("demo", ["a cat", "a dog"], categories=["x", "y"])
    assert recoloured.fingerprint == base.fingerprint


@settings(deadline=None)
@given(
    st.lists(st.text(min_size=1).filter(str.strip), min_size=1, max_size=6),
    st.data(),
)
def test_fingerprint_changes_when_any_text_changes(texts, data):
    texts = [t.strip() for t in texts]
    labels = [f"item {i}" for i in range(len(texts))]
    i = data.draw(st.integers(0, len(texts) - 1))
    edited = [*texts]
    edited[i] = texts[i] + data.draw(st.text(min_size=1).filter(str.strip)).strip()
    before = dataset_from_texts("d", texts, labels)
    after = dataset_from_texts("d", edited, labels)
    assert after.fingerprint != before.fingerprint


def test_splitting_texts_differently_changes_the_fingerprint():
    # A plain concatenation would hash ["ab", "c"] and ["a", "bc"] alike.
    a = dataset_from_texts("d", ["ab", "c"], labels=["1", "2"])
    b = dataset_from_texts("d", ["a", "bc"], labels=["1", "2"])
    assert a.fingerprint != b.fingerprint


def test_dataset_is_frozen_hashable_and_validated():
    d = Dataset("d", ("x", "y"), ("x", "y"), ("c", "c"), extra={"n": (1, 2)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "e"  # type: ignore[misc]
    with pytest.raises(TypeError):
        d.extra["n"] = (3, 4)  # type: ignore[index]
    assert {d: 1}[Dataset("d", ("x", "y"), ("x", "y"), ("c", "c"), extra={"n": (1, 2)})] == 1
    # The repr stays one short line instead of listing a thousand labels.
    assert repr(load_dataset("words")).startswith("Dataset(name='words', description=")
    assert "'dog'" not in repr(load_dataset("words"))
    with pytest.raises(ExplorerError, match="2 labels but 1 texts"):
        Dataset("d", ("x", "y"), ("x",), ("c", "c"))
    with pytest.raises(ExplorerError, match="2 labels but 3 categories"):
        Dataset("d", ("x", "y"), ("x", "y"), ("c", "c", "c"))
    with pytest.raises(ExplorerError, match="extra column 'n' has 1 values for 2 items"):
        Dataset("d", ("x", "y"), ("x", "y"), ("c", "c"), extra={"n": (1,)})


# ---------------------------------------------------------------------------- user texts


def test_dataset_from_texts_strips_and_defaults():
    d = dataset_from_texts("mine.csv", ["  hello world ", "good morning\n"])
    assert d.texts == d.labels == ("hello world", "good morning")
    assert d.categories == (UNCATEGORIZED, UNCATEGORIZED)
    assert d.name == "mine.csv" and "2 texts" in d.description
    named = dataset_from_texts("m", ["hello"], labels=[" greeting "], categories=[" talk "])
    assert (named.labels, named.categories) == (("greeting",), ("talk",))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"texts": []}, "no texts"),
        ({"texts": ["a", "  ", "c"]}, "row 2 has an empty text"),
        ({"texts": ["a", "b"], "labels": ["x", ""]}, "row 2 has an empty label"),
        ({"texts": ["a", "b"], "categories": ["\t", "k"]}, "row 1 has an empty category"),
        ({"texts": ["a", "b"], "labels": ["x"]}, "1 labels for 2 texts"),
        ({"texts": ["a", "b"], "categories": ["k", "k", "k"]}, "3 categories for 2 texts"),
        ({"texts": ["hi", "yo", "hi "]}, "label 'hi' appears on rows 1, 3"),
        ({"texts": ["a", "b", "c"], "labels": ["x", "y", " y"]}, "label 'y' appears on rows 2, 3"),
    ],
)
def test_dataset_from_texts_rejects_bad_input(kwargs, message):
    with pytest.raises(ExplorerError, match=message):
        dataset_from_texts("mine.csv", **kwargs)


def test_lone_surrogates_are_refused_and_never_crash_the_fingerprint():
    with pytest.raises(ExplorerError, match=r"row 2's label holds '\\ud800' at character 2"):
        dataset_from_texts("mine.csv", ["a", "b"], labels=["x", "y\ud800"])
    with pytest.raises(ExplorerError, match=r"row 1's text holds '\\udfff'"):
        dataset_from_texts("mine.csv", ["\udfff"])
    # A Dataset built directly (not through the readers) still hashes.
    odd = Dataset("odd", ("\ud800x",), ("\ud800x",), ("all",))
    assert len(odd.fingerprint) == 16
    assert odd.fingerprint != Dataset("odd", ("\ud801x",), ("\ud801x",), ("all",)).fingerprint


def test_messages_stay_short_for_long_labels_and_many_repeats():
    from core.datasets import quoted

    assert quoted("cat") == "'cat'"
    assert len(quoted("x" * 10_000)) == 61 and quoted("ab" * 100).startswith("'abab")
    with pytest.raises(ExplorerError, match=r"rows 1, 2, 3, 4, 5 and 995 more;") as caught:
        dataset_from_texts("mine.csv", ["dog"] * 1000)
    assert len(str(caught.value)) < 200
