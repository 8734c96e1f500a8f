"""Word analogies, a : b :: c : ?, answered by vector arithmetic (3CosAdd).

The question "man is to king as woman is to what?" becomes the vector ``b − a + c`` (king −
man + woman), and the answer is the candidate word nearest to it by cosine, leaving out the
three words of the question (otherwise ``b`` or ``c`` itself usually wins).

Any model can be asked: GloVe looks its candidates up (:func:`glove_candidates`); a sentence
model embeds the same candidate words once (:func:`candidate_dataset`, cached on disk by
``core.vectors``, keyed by the words' content and the model's version).
``python -m core.analogy`` embeds them for every local model ahead of time.
"""

from __future__ import annotations

import argparse
import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.datasets import Dataset, dataset_from_texts
from core.embedders.glove import vocabulary
from core.errors import ExplorerError
from core.topk import check_k, top_k_ids

log = logging.getLogger(__name__)

# How many of GloVe's most frequent lowercase a–z words every model chooses its answers from.
CANDIDATES = 20_000
K = 5
_PLAIN_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Candidates:
    """The words an answer is chosen from: ``words[i]`` has the unit-length vector
    ``unit[i]`` (float32 ``(n, d)``) under one model."""

    words: tuple[str, ...]
    unit: np.ndarray

    def __post_init__(self) -> None:
        if self.unit.ndim != 2 or self.unit.shape[0] != len(self.words):
            raise ExplorerError(
                f"{len(self.words)} candidate words for vectors of shape {self.unit.shape}."
            )


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``(n, d)`` rows scaled to length 1, float32; a zero row is refused."""
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if zero.size:
        raise ExplorerError(f"Row {int(zero[0])} is all zeros: it has no direction.")
    return rows / norms


@functools.cache
def frequent_words(n: int = CANDIDATES) -> tuple[str, ...]:
    """GloVe's ``n`` most frequent words made only of the letters a–z (no numbers,
    punctuation, clitics or accents), most frequent first."""
    if n < 1:
        raise ExplorerError(f"Ask for at least one candidate word, not {n}.")
    words = (w for w in vocabulary().words if _PLAIN_WORD.fullmatch(w))
    return tuple(w for _, w in zip(range(n), words, strict=False))


def glove_candidates(n: int | None = CANDIDATES) -> Candidates:
    """GloVe's own candidates: its ``n`` most frequent plain words (None: all 400,000
    words, punctuation and numbers included), with their unit-length vectors."""
    vocab = vocabulary()
    if n is None:
        return Candidates(vocab.words, vocab.unit)
    words = frequent_words(n)
    return Candidates(words, vocab.unit[[vocab.index[w] for w in words]])


@functools.cache
def candidate_dataset(n: int = CANDIDATES) -> Dataset:
    """The candidate words as a dataset, so any model embeds and caches them like a dataset
    (built once per process: pages ask for it on every rerun)."""
    return dataset_from_texts(
        f"glove-common-{n}", frequent_words(n), description=f"GloVe's {n:,} most common words."
    )


@dataclass(frozen=True)
class Analogy:
    """The answers to ``a : b :: c : ?`` under one model, best first.

    Attributes:
        question: the three words ``(a, b, c)`` as asked.
        inputs: float32 ``(3, d)``, their unit-length vectors.
        target: float32 ``(d,)``, ``b̂ − â + ĉ`` (not unit length).
        words: the ``k`` answers; ``vectors`` their unit-length vectors ``(k, d)``.
        scores: float64 ``(k,)``, each answer's cosine with ``target``.
        excluded: the candidate words left out because they are in the question.
    """

    question: tuple[str, str, str]
    inputs: np.ndarray
    target: np.ndarray
    words: tuple[str, ...]
    vectors: np.ndarray
    scores: np.ndarray
    excluded: tuple[str, ...]


def analogy(
    a: str,
    b: str,
    c: str,
    embed: Callable[[list[str]], np.ndarray],
    candidates: Candidates,
    k: int = K,
) -> Analogy:
    """Answer ``a : b :: c : ?`` with 3CosAdd: the ``k`` candidates of highest cosine with
    ``b̂ − â + ĉ``, where ``â`` is ``embed(a)`` scaled to unit length (the inputs are
    normalised first, as in Mikolov et al. and Levy & Goldberg, so that no word counts more
    for having a longer vector). Candidates equal to a question word (after stripping and
    lowercasing) are left out. ``embed`` maps a list of texts to ``(len, d)`` vectors.
    """
    question = (a.strip(), b.strip(), c.strip())
    empty = [name for name, word in zip("abc", question, strict=True) if not word]
    if empty:
        raise ExplorerError(f"Word {', '.join(empty)} of the analogy is empty: type a word.")
    inputs = unit_rows(embed(list(question)))
    if inputs.shape != (3, candidates.unit.shape[1]):
        raise ExplorerError(
            f"The model gave vectors of shape {inputs.shape}; the candidates have "
            f"{candidates.unit.shape[1]} dimensions."
        )
    target = inputs[1] - inputs[0] + inputs[2]
    # In the candidates' float32 (a float64 target would copy all n x d of them first,
    # ~60 ms at 20k x 384); the n scores are then float64.
    scores = (candidates.unit @ target).astype(np.float64) / float(np.linalg.norm(target))
    asked = {w.lower() for w in question}
    left_out = [i for i, w in enumerate(candidates.words) if w in asked]
    check_k(k, len(candidates.words) - len(left_out), "candidate words outside the question")
    scores[left_out] = -np.inf
    ids = top_k_ids(scores[np.newaxis, :], k, higher_is_closer=True)[0]
    return Analogy(
        question=question,
        inputs=inputs,
        target=target,
        words=tuple(candidates.words[i] for i in ids),
        vectors=candidates.unit[ids],
        scores=scores[ids],
        excluded=tuple(candidates.words[i] for i in left_out),
    )


@dataclass(frozen=True)
class AnalogyMap:
    """An analogy drawn in 2-D: ``coords`` float64 ``(5 + k, 2)`` for the points named by
    ``labels``: a, b, c, the target ``b − a + c``, then the answers; ``variance`` is the
    share of the points' spread each axis keeps."""

    coords: np.ndarray
    labels: tuple[str, ...]
    variance: tuple[float, float]


def analogy_map(result: Analogy) -> AnalogyMap:
    """PCA of the question's three unit vectors, the target and the answers, fitted on those
    points alone: the plane that shows their own spread best. Projection is linear, so the
    arrows a → b and c → target stay equal and parallel on the map, as they are in the full
    space. Axes are oriented so that a → b points right and c lies above a."""
    points = np.vstack([result.inputs, result.target, result.vectors]).astype(np.float64)
    centred = points - points.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ axes[:2].T
    if coords[1, 0] < coords[0, 0]:
        coords[:, 0] *= -1
    if coords[2, 1] < coords[0, 1]:
        coords[:, 1] *= -1
    spread = singular**2
    share = spread[:2] / spread.sum() if spread.sum() > 0 else np.zeros(2)
    a, b, c = result.question
    return AnalogyMap(
        coords=coords,
        labels=(a, b, c, f"{b} − {a} + {c}", *result.words),
        variance=(float(share[0]), float(share[1])),
    )


def label_sides(coords: np.ndarray) -> list[str]:
    """Where to write each of ``(n, 2)`` points' names so it leans away from its nearest
    other point: plotly text positions such as ``"top right"`` or ``"bottom left"`` (up when
    the point is at or above that neighbour, right when at or right of it). Crowded points
    then name themselves on opposite sides instead of over each other."""
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ExplorerError(f"Label sides need (n, 2) coordinates, got shape {xy.shape}.")
    if len(xy) < 2:
        return ["top center"] * len(xy)
    gaps = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(gaps, np.inf)
    away = xy - xy[gaps.argmin(axis=1)]
    return [f"{'top' if dy >= 0 else 'bottom'} {'right' if dx >= 0 else 'left'}" for dx, dy in away]


def main(argv: Sequence[str] | None = None) -> None:
    """Embed the candidate words with every local model (``python -m core.analogy``), so the
    Analogies tab answers at once; already cached models are skipped."""
    from core.embedders.registry import LOCAL_FACTORIES, get_embedder
    from core.vectors import BATCH, embed_dataset, is_cached

    parser = argparse.ArgumentParser(description="Embed the analogy candidates once per model.")
    parser.add_argument("--models", nargs="*", default=None, help="default: every local model")
    parser.add_argument("--words", type=int, default=CANDIDATES, help="candidate words")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dataset = candidate_dataset(args.words)
    for name in args.models or [m for m in LOCAL_FACTORIES if m != "glove-6b-50d"]:
        model = get_embedder(name)
        if is_cached(dataset, model):
            log.info("%s: the %d candidate words are already cached", name, len(dataset))
            continue

        def progress(done: int, total: int, name: str = name) -> None:
            if done == total or done % (10 * BATCH) == 0:
                log.info("%s: %d of %d words", name, done, total)

        embed_dataset(dataset, model, on_progress=progress)


if __name__ == "__main__":
    main()
