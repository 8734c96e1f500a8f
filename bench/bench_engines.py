"""Every nearest-neighbour engine of ``core.engines`` on real MiniLM embeddings.

Run ``python -m bench.bench_engines [--n 100000]``. The corpus is ``n`` generated sentences
plus held-out query sentences (bench_scale's generator, seed 1), embedded once with
all-MiniLM-L6-v2 and cached on disk like a dataset's vectors, keyed by their content (minutes
for 100k on two shared cores the first time, seconds afterwards). Every available engine is
built with its library's defaults (cosine); queries run one at a time through
``engine.search`` (core.engines.measure, as the Engines tab) and the median of each search's
own time is reported (pgvector's excludes opening its connection); recall@k is
against exhaustive search. Then each engine's first search parameter is raised step by step
until recall@k reaches the goal (0.95), and that setting is reported too. Engines whose first
search parameter is a rescoring factor (``core.engines.measure.RESCORING_FACTORS``: faiss
IVF-PQ's ``k_factor``, pgvector binary's ``oversample``) also get their whole rescoring curve,
with their other search parameters widened by ``--rescore-with`` (e.g. ``nprobe=32``, so the
IVF cells probed do not cap what re-ranking can find).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from core.engines import get_engine, list_engines
from core.engines.base import THREADS_ENV, Engine, EngineInfo
from core.engines.measure import RESCORING_FACTORS, Measured, measure, sweep_values
from core.errors import ExplorerError
from core.search import exhaustive_search

GOAL = 0.95


@dataclass(frozen=True)
class EngineRow:
    name: str
    build_params: str
    build_s: float
    train_s: float | None
    index_bytes: int
    n: int
    default: Measured
    goal: Measured | None
    note: str
    rescoring: tuple[Measured, ...] = ()


def embedded_sentences(n: int, n_queries: int, model_name: str) -> tuple[np.ndarray, np.ndarray]:
    """float32 unit ``(n, d)`` corpus and ``(n_queries, d)`` query embeddings of generated
    sentences, from the vector cache or embedded (and cached) now."""
    from bench.bench_scale import generated_sentences
    from core.datasets import dataset_from_texts
    from core.embedders.registry import get_embedder
    from core.vectors import embed_dataset

    texts = generated_sentences(n + n_queries, seed=1)
    vectors = embed_dataset(dataset_from_texts("bench-sentences", texts), get_embedder(model_name))
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors[:n].astype(np.float32), vectors[n:].astype(np.float32)


def sweep(
    engine: Engine, info: EngineInfo, queries: np.ndarray, truth: np.ndarray, k: int, cap: int
) -> Measured | None:
    """The first setting of the engine's first search parameter reaching ``GOAL``, trying at
    most ``cap`` settings; None when it has no search parameter or none reaches it."""
    if not info.search_params:
        return None
    spec = info.search_params[0]
    # The default, then doubling it up to the parameter's maximum.
    doublings = tuple(2.0**i for i in range(cap))
    for value in sweep_values(spec, spec.default, doublings):
        try:
            result = measure(engine, queries, truth, k, **{spec.name: value})
        except ExplorerError:  # e.g. IVF found fewer than k with few cells probed
            continue
        if result.recall >= GOAL:
            return result
    return None


def rescoring_curve(
    engine: Engine,
    info: EngineInfo,
    queries: np.ndarray,
    truth: np.ndarray,
    k: int,
    widen: dict[str, float],
) -> tuple[Measured, ...]:
    """The engine measured at each rescoring factor of its sweep (``sweep_values`` around
    the default), its other search parameters at their defaults or as ``widen`` sets them;
    empty when its first search parameter is not a rescoring factor."""
    if not info.search_params or info.search_params[0].name not in RESCORING_FACTORS:
        return ()
    spec, others = info.search_params[0], info.search_params[1:]
    fixed = {p.name: widen.get(p.name, p.default) for p in others}
    curve = []
    for value in sweep_values(spec, spec.default):
        try:
            curve.append(measure(engine, queries, truth, k, **{spec.name: value}, **fixed))
        except ExplorerError as exc:  # e.g. k × oversample above pgvector's 1,000 rows
            print(f"    {spec.name}={value:g}: {exc}")
    return tuple(curve)


def bench_engine(
    info: EngineInfo,
    corpus: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    k: int,
    widen: dict[str, float] | None = None,
) -> EngineRow:
    with get_engine(info.name) as engine:
        engine.build(corpus, "cosine")
        defaults = {p.name: p.default for p in info.search_params}
        try:
            default = measure(engine, queries, truth, k, **defaults)
        except ExplorerError as exc:  # e.g. IVF found fewer than k in the cells probed
            print(f"    {exc}")
            default = Measured((), float("nan"), 0.0, np.empty((0, k), dtype=np.int64))
        goal = default if default.recall >= GOAL else sweep(engine, info, queries, truth, k, 12)
        built_with = {p.name: engine.params[p.name] for p in info.build_params}
        return EngineRow(
            info.name,
            ", ".join(f"{name}={value}" for name, value in built_with.items()) or "-",
            engine.build_seconds,
            engine.train_seconds,
            engine.index_bytes,
            engine.count,
            default,
            goal,
            "; ".join(engine.notes),
            rescoring_curve(engine, info, queries, truth, k, widen or {}),
        )


def table(rows: list[EngineRow], k: int) -> str:
    """The rows as a markdown table."""
    lines = [
        f"| engine | build params | build s | train s | index MB | B/vector | search default "
        f"| ms/query | recall@{k} | setting for ≥ {GOAL} | ms/query | recall@{k} |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        goal = (
            f"{r.goal.setting} | {r.goal.ms_per_query:.3f} | {r.goal.recall:.3f}"
            if r.goal
            else "not reached | - | -"
        )
        train = "-" if r.train_s is None else f"{r.train_s:.1f}"
        lines.append(
            f"| {r.name} | {r.build_params} | {r.build_s:.1f} | {train} | "
            f"{r.index_bytes / 1e6:.1f} | {r.index_bytes / r.n:.0f} | {r.default.setting} | "
            f"{r.default.ms_per_query:.3f} | {r.default.recall:.3f} | {goal} |"
        )
    return "\n".join(lines)


def rescoring_table(rows: list[EngineRow], k: int) -> str:
    """Each rescoring engine's curve as a markdown table: factor, ms/query, recall@k."""
    lines = [f"| engine | setting | ms/query | recall@{k} |", "|---|---|---:|---:|"]
    for r in rows:
        lines += [
            f"| {r.name} | {m.setting} | {m.ms_per_query:.3f} | {m.recall:.3f} |"
            for m in r.rescoring
        ]
    return "\n".join(lines)


def _settings(text: str) -> dict[str, float]:
    """``"nprobe=32,ef=64"`` as ``{"nprobe": 32.0, "ef": 64.0}``."""
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    return {name.strip(): float(value) for name, value in pairs}


def pgvector_sql_table(corpus: np.ndarray, n_queries: int, k: int) -> str:
    """pgvector's SQL demos (:func:`core.pgdemo.measure`: HNSW, IVFFlat, halfvec, binary +
    rerank ×1 and ×4, MRL + rerank) on ``corpus`` as a markdown table; their queries are
    corpus rows, as on the page."""
    from core import pg, pgdemo

    try:
        rows = pgdemo.measure(pg.database(), corpus, queries=n_queries, k=k)
    finally:
        pg.shutdown()
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_engines", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="corpus sentences")
    parser.add_argument("--queries", type=int, default=200, help="held-out query sentences")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="threads per engine")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--engines", default="", help="comma-separated names (default: all)")
    parser.add_argument(
        "--rescore-with",
        default="nprobe=32",
        help="other search parameters for the rescoring curves, name=value,...",
    )
    args = parser.parse_args(argv)
    os.environ[THREADS_ENV] = str(args.threads)

    start = time.perf_counter()
    corpus, queries = embedded_sentences(args.n, args.queries, args.model)
    print(
        f"{args.n:,} generated sentences + {args.queries} held-out queries, {args.model} "
        f"({corpus.shape[1]} dims), embedded or read from the cache in "
        f"{time.perf_counter() - start:.1f} s; {args.threads} thread(s) per engine",
        flush=True,
    )
    # BLAS (the exhaustive engine, k-means) gets the same thread budget as the engines.
    with threadpool_limits(args.threads):
        truth = exhaustive_search(queries, corpus, args.k, "cosine").ids
        wanted = {name for name in args.engines.split(",") if name}
        rows, skipped = [], []
        infos = list_engines()
        for info in infos:
            if wanted and info.name not in wanted:
                continue
            if not info.available:
                skipped.append(f"{info.name}: {info.reason}")
                continue
            print(f"  {info.name} …", flush=True)
            row = bench_engine(info, corpus, queries, truth, args.k, _settings(args.rescore_with))
            rows.append(row)
            print(table([row], args.k).splitlines()[-1], flush=True)
    print()
    print(table(rows, args.k))
    print()
    print(
        f"ms/query: median time of one-query engine.search calls; recall@{args.k} "
        "against exhaustive cosine search; defaults are the libraries' own. The sweep doubles "
        "the first search parameter from its default."
    )
    if any(row.rescoring for row in rows):
        print()
        print(f"Rescoring factor swept ({args.rescore_with or 'other parameters at defaults'}):")
        print(rescoring_table([r for r in rows if r.rescoring], args.k))
    for row in rows:
        if row.note:
            print(f"{row.name}: {row.note}")
    for line in skipped:
        print(f"not run: {line}")
    if any(i.name == "pgvector-hnsw" and i.available for i in infos) and not wanted:
        print()
        print(f"pgvector in SQL, {args.queries} corpus rows as queries:")
        print(pgvector_sql_table(corpus, args.queries, args.k))


if __name__ == "__main__":
    main()
