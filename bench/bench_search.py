"""Search speed, recall and memory: exhaustive float32 against HNSW, int8 and binary.

Run ``python -m bench.bench_search [--n 20000]``. Queries run one at a time (as on a page)
and the median time per query is reported; recall@k is against the exhaustive float32
answer, which is also the baseline of the ratio columns.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.quantize import Precision, QuantizedIndex, RescoreResult
from core.search import HnswIndex, exhaustive_search, recall_at_k
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_search", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="corpus vectors")
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=0.75, help="cluster noise / centre scale")
    parser.add_argument("--ef", type=int, default=64, help="HNSW search candidate list")
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="HNSW build and search threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

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
