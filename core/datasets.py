"""The bundled datasets (common English words, Disney and Pixar films) and user text lists.

A :class:`Dataset` is what every page shows: unique display ``labels``, the ``texts`` that get
embedded (same order) and ``categories`` that colour the plots. Its ``fingerprint`` changes
whenever a label or a text does, so cached vectors of an edited dataset are never reused.
"""

from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from core.errors import ExplorerError
from core.modes import Mode
from core.paths import DATA_DIR

WORDS_CSV = DATA_DIR / "words.csv"
MOVIES_CSV = DATA_DIR / "movies.csv"

DATASETS: tuple[str, ...] = ("words", "movies")
# The model a page starts with for a dataset, when the sidebar has it. Film titles need a model
# that reads the words in context: the static model puts "Old Yeller" second after "Moana 2"
# next to "Moana", MiniLM puts "Beauty and the Beast" there.
PREFERRED_MODEL: dict[str, str] = {"movies": "all-MiniLM-L6-v2"}
# The category given to every item of a user list that comes without categories.
UNCATEGORIZED = "all"
# Half of a UTF-16 pair (JSON's "\ud800"): not a character, and UTF-8 cannot encode it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def quoted(text: str, limit: int = 60) -> str:
    """``repr(text)`` for a message, cut in the middle when longer than ``limit``."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit // 2]}…{shown[-(limit // 2) :]}"


def check_text(value: str, where: str) -> None:
    """Refuse a lone surrogate in ``value``; ``where`` names it ("row 3's label")."""
    found = _SURROGATE.search(value)
    if found:
        raise ExplorerError(
            f"{where} holds {found.group()!r} at character {found.start() + 1}: half of a "
            "UTF-16 surrogate pair, not a character. Fix the escape or remove it."
        )


WORD_COLUMNS = ("word", "category")
MOVIE_COLUMNS = ("title", "year", "studio", "description")


class TextField(Mode):
    """What is embedded for a film: its title alone, as in the talk (which is why
    "101 Dalmatians" and "102 Dalmatians" land side by side), or "Title (year): description"."""

    TITLE = "title"
    TITLE_DESCRIPTION = "title+description"


@dataclass(frozen=True)
class Dataset:
    """Items to embed and plot: ``labels[i]`` names item ``i``, ``texts[i]`` is what the model
    reads, ``categories[i]`` colours it; each ``extra`` column (e.g. a film's ``year``) holds
    one value per item."""

    name: str
    labels: tuple[str, ...] = field(repr=False)
    texts: tuple[str, ...] = field(repr=False)
    categories: tuple[str, ...] = field(repr=False)
    description: str = ""
    extra: Mapping[str, tuple[str | int | float, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.labels)
        for name in ("texts", "categories"):
            if len(getattr(self, name)) != n:
                raise ExplorerError(
                    f"Dataset {self.name!r} has {n} labels but {len(getattr(self, name))} "
                    f"{name}: give one per item."
                )
        for key, values in self.extra.items():
            if len(values) != n:
                raise ExplorerError(
                    f"Dataset {self.name!r}: extra column {key!r} has {len(values)} values "
                    f"for {n} items."
                )
        # A read-only view, so a frozen dataset's columns cannot change under a page.
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        repeated = [label for label, count in Counter(self.labels).items() if count > 1]
        if repeated:
            label = repeated[0]
            rows = [str(i + 1) for i, x in enumerate(self.labels) if x == label]
            shown = ", ".join(rows[:5]) + (f" and {len(rows) - 5:,} more" if len(rows) > 5 else "")
            raise ExplorerError(
                f"Dataset {self.name!r}: label {quoted(label)} appears on rows {shown}; labels "
                "must be unique, so rename or remove the repeats."
            )

    def __len__(self) -> int:
        return len(self.labels)

    # Equal datasets have equal fingerprints; hashing that avoids hashing the extra mapping.
    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @functools.cached_property
    def fingerprint(self) -> str:
        """16 hex digits of sha256 over the name, labels and texts (keys the vector caches)."""
        payload = json.dumps([self.name, self.labels, self.texts], ensure_ascii=False)
        # surrogatepass: a lone surrogate (refused by the readers) must not crash the hash.
        return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @functools.cached_property
    def _rows(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    def index_of(self, label: str) -> int:
        """Row of ``label``; an unknown label raises, suggesting the closest labels."""
        row = self._rows.get(label)
        if row is not None:
            return row
        # Compared case-folded, so "King" or "KNG" still finds "king".
        folded: dict[str, str] = {}
        for x in self.labels:
            folded.setdefault(x.casefold(), x)
        matches = difflib.get_close_matches(label.casefold(), folded, n=3, cutoff=0.6)
        close = [folded[m] for m in matches]
        hint = (
            f"did you mean {', '.join(repr(x) for x in close)}?"
            if close
            else f"pick one of its {len(self)} items."
        )
        raise ExplorerError(f"{quoted(label)} is not an item of {self.name}; {hint}")


# ---------------------------------------------------------------------------- reading files


def _read_rows(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` for every non-blank row of a UTF-8 CSV with these columns."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, strict=True)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise ExplorerError(
                    f"{path.name} lacks the column(s) {', '.join(missing)}; its header must "
                    f"be: {','.join(columns)}."
                )
            rows = []
            for row in reader:
                if None in row or any(row[c] is None for c in columns):
                    raise ExplorerError(
                        f"{path.name}: line {reader.line_num} does not have one value per "
                        f"column ({','.join(columns)}); quote values that contain commas."
                    )
                if any(v.strip() for v in row.values()):
                    rows.append((reader.line_num, {c: row[c].strip() for c in columns}))
    except FileNotFoundError:
        raise ExplorerError(
            f"Data file {path} is missing; restore it from the repository."
        ) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ExplorerError(f"{path.name} is not a valid UTF-8 CSV file: {exc}.") from None
    for line, row in rows:
        empty = [c for c in columns if not row[c]]
        if empty:
            raise ExplorerError(f"{path.name}: line {line} has an empty {', '.join(empty)}.")
    if not rows:
        raise ExplorerError(f"{path.name} has a header but no rows.")
    return rows


def read_words(path: Path = WORDS_CSV) -> Dataset:
    """The ``word,category`` CSV as a dataset: each word is its own label and text."""
    rows = [row for _, row in _read_rows(path, WORD_COLUMNS)]
    words = tuple(row["word"] for row in rows)
    categories = tuple(row["category"] for row in rows)
    return Dataset(
        name="words",
        labels=words,
        texts=words,
        categories=categories,
        description=(
            f"{len(words):,} common English nouns in {len(set(categories))} categories "
            "(animals, food, people, places...)."
        ),
    )


def _decade(year: int) -> str:
    return f"{year // 10 * 10}s"


def read_movies(path: Path = MOVIES_CSV, text_field: str | TextField = TextField.TITLE) -> Dataset:
    """The ``title,year,studio,description`` CSV as a dataset coloured by decade.

    Decades rather than studios colour the plot because the file is about nine Disney films to
    one Pixar film, so studio colours would paint nearly every point the same. A title that
    occurs more than once (a remake) is labelled "Title (year)" wherever it occurs.
    """
    field_ = TextField.coerce(text_field)
    rows = _read_rows(path, MOVIE_COLUMNS)
    years = []
    for line, row in rows:
        try:
            years.append(int(row["year"]))
        except ValueError:
            raise ExplorerError(
                f"{path.name}: line {line} has year {row['year']!r}; write it as digits like 1994."
            ) from None
    titles = [row["title"] for _, row in rows]
    seen = Counter(titles)
    labels = tuple(
        f"{title} ({year})" if seen[title] > 1 else title
        for title, year in zip(titles, years, strict=True)
    )
    if field_ is TextField.TITLE:
        texts = tuple(titles)
    else:
        texts = tuple(
            f"{title} ({year}): {row['description']}"
            for title, year, (_, row) in zip(titles, years, rows, strict=True)
        )
    studios = tuple(row["studio"] for _, row in rows)
    return Dataset(
        name="movies",
        labels=labels,
        texts=texts,
        categories=tuple(_decade(y) for y in years),
        description=(
            f"{len(rows)} animated films from {' and '.join(sorted(set(studios)))}, "
            f"{min(years)}-{max(years)}, coloured by decade; embedded as "
            f"{'the title alone' if field_ is TextField.TITLE else 'title, year and description'}."
        ),
        extra={
            "year": tuple(years),
            "studio": studios,
            "description": tuple(row["description"] for _, row in rows),
        },
    )


# ---------------------------------------------------------------------------- public entry


def list_datasets() -> list[str]:
    """Names of the bundled datasets, in menu order."""
    return list(DATASETS)


@functools.cache
def _bundled(name: str, text_field: TextField) -> Dataset:
    return read_words() if name == "words" else read_movies(text_field=text_field)


def preferred_model(dataset: str, models: Sequence[str]) -> str:
    """The model of ``models`` a page starts with for ``dataset``: its preferred one
    (``PREFERRED_MODEL``) when offered, else the first of ``models`` (not empty)."""
    preferred = PREFERRED_MODEL.get(dataset, "")
    return preferred if preferred in models else models[0]


def load_dataset(name: str, text_field: str | TextField = TextField.TITLE) -> Dataset:
    """A bundled dataset by name, read once per process (the files do not change while the
    app runs). ``text_field`` chooses what is embedded for movies; words ignore it."""
    field_ = TextField.coerce(text_field)
    if name not in DATASETS:
        raise ExplorerError(f"Unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}.")
    # Words have one form, so every text field shares a single cache entry.
    return _bundled(name, TextField.TITLE if name == "words" else field_)


def _clean(values: Sequence[str], role: str, source: str) -> tuple[str, ...]:
    """Strip every value; a blank one or a lone surrogate raises naming its 1-based row."""
    cleaned = tuple(v.strip() for v in values)
    for i, value in enumerate(cleaned):
        if not value:
            raise ExplorerError(f"{source}: row {i + 1} has an empty {role}; fill it or drop it.")
        check_text(value, f"{source}: row {i + 1}'s {role}")
    return cleaned


def dataset_from_texts(
    name: str,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    description: str = "",
) -> Dataset:
    """A dataset of the user's own texts (e.g. an uploaded CSV).

    Values are stripped; a blank text, label or category raises naming its row. Labels default
    to the texts and must be unique (rows are never dropped, since they may be paired with
    vectors row by row); without categories every item is in category "all".
    """
    if len(texts) == 0:
        raise ExplorerError(f"{name}: there are no texts; give at least one.")
    for role, values in (("labels", labels), ("categories", categories)):
        if values is not None and len(values) != len(texts):
            raise ExplorerError(
                f"{name}: {len(values)} {role} for {len(texts)} texts; give one per text."
            )
    cleaned = _clean(texts, "text", name)
    return Dataset(
        name=name,
        labels=cleaned if labels is None else _clean(labels, "label", name),
        texts=cleaned,
        categories=(
            (UNCATEGORIZED,) * len(cleaned)
            if categories is None
            else _clean(categories, "category", name)
        ),
        description=description or f"{len(cleaned)} texts from {name}.",
    )
