"""Sentences per second of the local embedders against the PyTorch reference.

1,000 short generated sentences (seeded), 2 BLAS threads, median of 5 timed runs after one
warm-up run. Each transformer is compared with sentence-transformers on PyTorch running the
same weights, measured in the same run when it is importable; otherwise with the figure quoted
in ``../shared/ref/README.md`` (same machine kind, 2 threads, batch 64), labelled as quoted.
The static model is compared with MiniLM's reference. The machine may be shared: the table
also gives the CPU seconds per run (all threads), which other processes' load barely
changes, and the load average before and after.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from core.embedders import minilm, mpnet
from core.embedders.base import Embedder
from core.embedders.static import StaticEmbedder

THREADS = 2
RUNS = 5
SENTENCES = 1000


@dataclass(frozen=True)
class Model:
    """A local transformer, where its weights are, and PyTorch's speed quoted for it."""

    load: Callable[[], Embedder]
    folder: Callable[[], Path]
    quoted: float  # sentences/s, ../shared/ref/README.md


MODELS = {
    "all-MiniLM-L6-v2": Model(minilm.MiniLMEmbedder, minilm.model_dir, 456.0),
    "all-mpnet-base-v2": Model(mpnet.MPNetEmbedder, lambda: mpnet.ensure_extracted()[0], 74.0),
}
STATIC_TEACHER = "all-MiniLM-L6-v2"

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
class Speed:
    """Medians over the timed runs: throughput and CPU seconds (all threads) per run."""

    sentences_per_s: float
    cpu_s: float


@dataclass(frozen=True)
class BenchRow:
    """One line of the table: a model's speed and its ratio to its PyTorch reference."""

    model: str
    sentences_per_s: float
    ratio: float
    cpu_s: float | None = None
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


def measure(encode: Callable[[list[str]], object], texts: list[str], runs: int = RUNS) -> Speed:
    """Median throughput and CPU time of ``encode(texts)`` over ``runs`` runs after a warm-up."""
    encode(texts)
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        encode(texts)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return Speed(len(texts) / statistics.median(walls), statistics.median(cpus))


def _pytorch(folder: Path, texts: list[str], runs: int) -> Speed | None:
    """sentence-transformers on PyTorch from ``folder``'s weights, or None if not installed."""
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    model = SentenceTransformer(str(folder), device="cpu")
    return measure(lambda t: model.encode(t, batch_size=64), texts, runs)


def run(
    texts: Sequence[str] | None = None,
    models: Sequence[str] = tuple(MODELS),
    runs: int = RUNS,
    static: bool = True,
) -> list[BenchRow]:
    """Each model's PyTorch reference then its numpy row, then the static model's row."""
    texts = list(texts) if texts is not None else short_sentences()
    rows: list[BenchRow] = []
    baselines: dict[str, float] = {}
    with threadpool_limits(THREADS):
        for name in models:
            model = MODELS[name]
            measured = _pytorch(model.folder(), texts, runs)
            baselines[name] = measured.sentences_per_s if measured else model.quoted
            rows.append(
                BenchRow(
                    f"{name} (sentence-transformers, PyTorch)",
                    baselines[name],
                    1.0,
                    measured.cpu_s if measured else None,
                    "measured now" if measured else "quoted from ../shared/ref/README.md",
                )
            )
            speed = measure(model.load().embed, texts, runs)
            rows.append(
                BenchRow(
                    f"{name} (here)",
                    speed.sentences_per_s,
                    speed.sentences_per_s / baselines[name],
                    speed.cpu_s,
                )
            )
        if static:
            embedder = StaticEmbedder()
            speed = measure(embedder.embed, texts, runs)
            baseline = baselines.get(STATIC_TEACHER, MODELS[STATIC_TEACHER].quoted)
            rows.append(
                BenchRow(
                    f"{embedder.name} (here)",
                    speed.sentences_per_s,
                    speed.sentences_per_s / baseline,
                    speed.cpu_s,
                    f"backend {embedder.backend.value}; vs {STATIC_TEACHER} on PyTorch",
                )
            )
    return rows


def format_table(rows: Sequence[BenchRow]) -> str:
    """The rows as a fixed-width text table."""
    width = max(len(r.model) for r in rows)
    lines = [f"{'model':<{width}}  {'sentences/s':>12}  {'vs PyTorch':>10}  {'CPU s':>6}  note"]
    lines += [
        f"{r.model:<{width}}  {r.sentences_per_s:>12,.0f}  {r.ratio:>9.2f}x  "
        f"{'' if r.cpu_s is None else f'{r.cpu_s:.2f}':>6}  {r.note}"
        for r in rows
    ]
    return "\n".join(lines)


def _load() -> str:
    """The 1, 5 and 15-minute load averages, for the record."""
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sentences/s of the local embedders.")
    parser.add_argument("--models", nargs="*", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per model")
    parser.add_argument("--no-static", action="store_true", help="leave out the static model")
    args = parser.parse_args(argv)
    # Shows the one-off distillation or extraction of a model if its cache is missing.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    texts = short_sentences()
    print(
        f"Embedders: {len(texts)} short sentences, {THREADS} threads, "
        f"median of {args.runs} runs after a warm-up; load average {_load()}"
    )
    rows = run(texts, args.models, args.runs, static=not args.no_static)
    print(format_table(rows))
    print(f"Load average after: {_load()} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
