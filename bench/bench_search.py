"""Search speed, recall and memory: exhaustive float32 against HNSW, int8 and binary.

Run ``python -m bench.bench_search [--n 20000]``. Queries run one at a time (as on a page)
and the median time per query is reported; recall@k is against the exhaustive float32
answer, which is also the baseline of the ratio columns.

``--timing`` instead prints what the scale lab's small-N numbers are made of, at N = 1,000
up to ``--n`` (try ``--n 20000``), twice: float32 wall-clock medians with two BLAS threads
(the lab's old measure) and one, the searching thread's CPU time (the lab's measure now),
int8 + rescore with the numpy scan the kernels use below ``JIT_MIN_ROWS`` rows, the compiled
int8 scan alone, the rescoring alone and its gather of the candidates' rows alone.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from core import kernels
from core.corpora import synthetic_corpus
from core.kernels_jit import int8_top_k
from core.metrics import Metric
from core.quantize import (
    Precision,
    QuantizedIndex,
    RescoreResult,
    quantize_corpus,
    rescore,
    rescored_search,
)
from core.scalelab import size_ladder
from core.search import (
    TALK_EF,
    TALK_EF_CONSTRUCTION,
    HnswIndex,
    Method,
    exhaustive_search,
    recall_at_k,
)
from core.storage import payload_bytes
from core.topk import SearchResult


@dataclass(frozen=True)
class Row:
    method: str
    build_seconds: float
    ms_per_query: float
    recall: float
    bytes_per_vector: float


def clustered_unit_vectors(
    n: int, dims: int, clusters: int, spread: float, rng: np.random.Generator
) -> np.ndarray:
    """float32 ``(n, dims)`` unit vectors scattered around ``clusters`` random centres
    (noise of ``spread`` times a centre's scale), so neighbours are meaningful."""
    centers = rng.standard_normal((clusters, dims), dtype=np.float32)
    x = centers[rng.integers(0, clusters, size=n)]
    x += spread * rng.standard_normal((n, dims), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def one_at_a_time(
    search: Callable[[np.ndarray], SearchResult], queries: np.ndarray
) -> tuple[float, np.ndarray]:
    """Median milliseconds per query and the stacked ``(q, k)`` ids."""
    results = [search(queries[i : i + 1]) for i in range(len(queries))]
    ms = statistics.median(r.seconds * 1000 for r in results)
    return ms, np.vstack([r.ids for r in results])


def quantized_rows(
    corpus: np.ndarray, queries: np.ndarray, exact: np.ndarray, k: int, oversample: list[int]
) -> list[Row]:
    """The quantized stage alone, then with rescoring at each oversampling factor."""
    rows = []
    for precision in (Precision.INT8, Precision.BINARY):
        start = time.perf_counter()
        index = QuantizedIndex.build(corpus, precision)
        build = time.perf_counter() - start
        code_bytes = payload_bytes(corpus.shape[1], precision)
        for factor in [1, *oversample]:
            runs: list[RescoreResult] = [
                index.search(queries[i : i + 1], k, factor) for i in range(len(queries))
            ]
            if factor == 1:
                # Rescoring k candidates only reorders them: report the codes alone.
                ms = statistics.median(r.candidates.seconds * 1000 for r in runs)
                found = np.vstack([r.quantized_top_k for r in runs])
                rows.append(Row(precision.value, build, ms, recall_at_k(exact, found), code_bytes))
                continue
            ms = statistics.median(r.seconds * 1000 for r in runs)
            found = np.vstack([r.final.ids for r in runs])
            name = f"{precision.value} + rescore x{factor}"
            rows.append(Row(name, build, ms, recall_at_k(exact, found), code_bytes))
    return rows


def print_table(rows: list[Row], baseline: Row) -> None:
    head = (
        f"{'method':<22} {'build s':>8} {'ms/query':>9} {'speed-up':>9} {'recall':>7} "
        f"{'B/vector':>9} {'memory':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.method:<22} {r.build_seconds:>8.2f} {r.ms_per_query:>9.2f} "
            f"{baseline.ms_per_query / r.ms_per_query:>8.1f}x {r.recall:>7.3f} "
            f"{r.bytes_per_vector:>9.0f} {r.bytes_per_vector / baseline.bytes_per_vector:>6.1%}"
        )


Timer = Callable[[], float]


def median_ms(search: Callable[[np.ndarray], object], queries: np.ndarray, clock: Timer) -> float:
    """Median milliseconds of ``search`` on each query alone, by ``clock``, after a warm-up."""
    search(queries[:1])
    times = []
    for i in range(len(queries)):
        start = clock()
        search(queries[i : i + 1])
        times.append(clock() - start)
    return 1000 * statistics.median(times)


def timing_study(n: int, dims: int, k: int, factor: int = 4, repeats: int = 2) -> None:
    """Print, at each lab size up to ``n``, the parts of a one-query search (see the module
    docstring); every row ``repeats`` times, so the spread between runs shows."""
    corpus = synthetic_corpus(n, dims, 50, seed=0)
    vectors, queries = corpus.vectors, corpus.queries
    codes = quantize_corpus(vectors, Method.INT8)
    rng = np.random.default_rng(0)
    int8_rows = rng.integers(-128, 128, size=(n, dims), dtype=np.int8)
    int8_query = rng.integers(-128, 128, size=(1, dims), dtype=np.int8)
    no_exclusion = np.full(1, -1, dtype=np.int64)
    print(f"{n:,} x {dims} synthetic unit vectors, 50 queries one at a time, k = {k} x {factor}")
    head = (
        f"{'N':>9} {'f32 wall 2thr':>13} {'f32 wall 1thr':>13} {'f32 cpu':>8} "
        f"{'int8+rs cpu':>11} {'jit int8 cpu':>12} {'rescore cpu':>11} {'gather cpu':>10}"
    )
    print(head + "   (ms)")
    wall, cpu = time.perf_counter, time.thread_time
    for _ in range(repeats):
        for size in size_ladder(n):
            candidates = codes.candidates(queries[:1], size, k * factor)

            def exact(q: np.ndarray, size: int = size) -> object:
                return kernels.top_k_float32(q, vectors[:size], k)

            def jit_scan(q: np.ndarray, size: int = size) -> object:
                return int8_top_k(int8_query, int8_rows, 0, size, k * factor, no_exclusion, 32)

            def rescoring(q: np.ndarray, c: np.ndarray = candidates) -> object:
                return rescore(q, vectors, c, k, Metric.COSINE)

            def gather(q: np.ndarray, c: np.ndarray = candidates) -> object:
                return vectors[c[0]] @ q[0]

            two_threads = median_ms(exact, queries, wall)
            with threadpool_limits(1, user_api="blas"):
                cells = [
                    two_threads,
                    median_ms(exact, queries, wall),
                    median_ms(exact, queries, cpu),
                    median_ms(rescored_search(vectors, codes, k, factor, size), queries, cpu),
                    median_ms(jit_scan, queries, cpu),
                    median_ms(rescoring, queries, cpu),
                    median_ms(gather, queries, cpu),
                ]
            widths = (13, 13, 8, 11, 12, 11, 10)
            row = " ".join(f"{x:>{w}.3f}" for x, w in zip(cells, widths, strict=True))
            print(f"{size:>9,} {row}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_search", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="corpus vectors")
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=0.75, help="cluster noise / centre scale")
    parser.add_argument("--ef", type=int, default=TALK_EF, help="HNSW search candidate list")
    parser.add_argument("--ef-construction", type=int, default=TALK_EF_CONSTRUCTION)
    parser.add_argument("--threads", type=int, default=2, help="HNSW build and search threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing", action="store_true", help="the scale lab's timing study")
    args = parser.parse_args(argv)
    if args.timing:
        timing_study(args.n, args.dims, args.k)
        return

    rng = np.random.default_rng(args.seed)
    data = clustered_unit_vectors(args.n + args.queries, args.dims, args.clusters, args.spread, rng)
    corpus, queries = data[: args.n], data[args.n :]
    print(
        f"{args.n:,} x {args.dims} float32 unit vectors in {args.clusters} clusters, "
        f"{args.queries} held-out queries one at a time, recall@{args.k} vs exhaustive float32"
    )

    # The vectors are unit length, so dot is cosine without recomputing the corpus norms.
    ms, exact = one_at_a_time(lambda q: exhaustive_search(q, corpus, args.k, "dot"), queries)
    baseline = Row("exhaustive float32", 0.0, ms, 1.0, payload_bytes(args.dims, Precision.FLOAT32))
    rows = [baseline]

    hnsw = HnswIndex.build(
        corpus, "cosine", ef_construction=args.ef_construction, threads=args.threads
    )
    ms, found = one_at_a_time(lambda q: hnsw.search(q, args.k, args.ef), queries)
    rows.append(
        Row(
            f"HNSW M=16 ef={args.ef}",
            hnsw.build_seconds,
            ms,
            recall_at_k(exact, found),
            hnsw.nbytes / args.n,
        )
    )
    rows += quantized_rows(corpus, queries, exact, args.k, oversample=[4, 10])
    print_table(rows, baseline)
    print(
        "B/vector: what the search reads per vector (HNSW: vectors + graph links). Rescoring "
        f"also reads the float32 vectors of the k x factor candidates ({4 * args.dims} B each)."
    )


if __name__ == "__main__":
    main()
