"""Sentences per second of the local embedders against the PyTorch reference.

1,000 short generated sentences (seeded), 2 BLAS threads, median of 5 timed runs after one
warm-up run. The baseline is sentence-transformers on PyTorch, measured in the same run when
it is importable; otherwise the figure quoted in ``../shared/ref/README.md`` (456 sentences/s,
same machine kind, 2 threads, batch 64), labelled as quoted.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from core.embedders.minilm import MiniLMEmbedder, model_dir
from core.embedders.static import StaticEmbedder

THREADS = 2
RUNS = 5
SENTENCES = 1000
QUOTED_BASELINE = 456.0

# Sentence parts, "|"-separated; every sentence is subject + verb + object + ending.
_PARTS = (
    "the cat|a dog|my neighbour|the old king|a young queen|the river|our teacher|the small robot"
    "|a hungry bird|the city council",
    "likes|watches|finds|builds|paints|follows|remembers|carries|ignores|visits",
    "a red ball|the quiet lake|an old map|the morning train|a tall tree|fresh bread"
    "|the new movie|a long letter|the garden|a sad song",
    "|today|in the rain|after dinner|every summer|near the station|with great care|for no reason",
)


@dataclass(frozen=True)
class BenchRow:
    """One line of the table: a model's speed and its ratio to the baseline."""

    model: str
    sentences_per_s: float
    ratio: float
    note: str = ""


def short_sentences(n: int = SENTENCES, seed: int = 0) -> list[str]:
    """``n`` short English sentences (~11 MiniLM tokens each), the same for a given seed."""
    rng = np.random.default_rng(seed)
    parts = [p.split("|") for p in _PARTS]
    picks = [rng.integers(0, len(p), size=n) for p in parts]
    return [
        " ".join(p[i] for p, i in zip(parts, row, strict=True)).strip().capitalize() + "."
        for row in zip(*picks, strict=True)
    ]


def sentences_per_second(encode: Callable[[list[str]], object], texts: list[str]) -> float:
    """Median throughput of ``encode(texts)`` over :data:`RUNS` runs after one warm-up."""
    encode(texts)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        encode(texts)
        times.append(time.perf_counter() - start)
    return len(texts) / statistics.median(times)


def _pytorch_baseline(texts: list[str]) -> float | None:
    """sentence-transformers on PyTorch from the same weights, or None if not installed."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    model = SentenceTransformer(str(model_dir()), device="cpu")
    return sentences_per_second(lambda t: model.encode(t, batch_size=64), texts)


def run(texts: Sequence[str] | None = None) -> list[BenchRow]:
    """Benchmark the baseline, MiniLM on numpy and the static model; rows in that order."""
    texts = list(texts) if texts is not None else short_sentences()
    with threadpool_limits(THREADS):
        measured = _pytorch_baseline(texts)
        baseline = measured if measured is not None else QUOTED_BASELINE
        rows = [
            BenchRow(
                "all-MiniLM-L6-v2 (sentence-transformers, PyTorch)",
                baseline,
                1.0,
                "measured now" if measured is not None else "quoted from ../shared/ref/README.md",
            )
        ]
        for embedder in (MiniLMEmbedder(), StaticEmbedder()):
            speed = sentences_per_second(embedder.embed, texts)
            note = (
                f"backend {embedder.backend.value}" if isinstance(embedder, StaticEmbedder) else ""
            )
            rows.append(BenchRow(f"{embedder.name} (here)", speed, speed / baseline, note))
    return rows


def format_table(rows: Sequence[BenchRow]) -> str:
    """The rows as a fixed-width text table."""
    width = max(len(r.model) for r in rows)
    lines = [f"{'model':<{width}}  {'sentences/s':>12}  {'vs baseline':>11}  note"]
    lines += [
        f"{r.model:<{width}}  {r.sentences_per_s:>12,.0f}  {r.ratio:>10.2f}x  {r.note}"
        for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    # Shows the one-off distillation of the static model if its cache is missing.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    texts = short_sentences()
    print(
        f"Embedders: {len(texts)} short sentences, {THREADS} threads, "
        f"median of {RUNS} runs after a warm-up"
    )
    print(format_table(run(texts)))


if __name__ == "__main__":
    main()
