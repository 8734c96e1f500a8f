"""Search at scale against faiss: exact float32, int8 and binary (Hamming) top-k, the two
rescoring pipelines and HNSW, then a recall check on real embeddings.

Run ``python -m bench.bench_scale`` (faiss-cpu is one of the app's requirements; without
it the faiss columns print "–"). ``--n 100000,1000000`` sets the corpus sizes and
``--real-n`` the number of generated sentences embedded for the recall check (0 skips it).

Timing: every method and its faiss baseline run alternately, query by query (or batch by
batch), so that both see the same load on a shared machine; the table gives medians. Both
sides use ``--threads`` threads (faiss via OpenMP, ours via BLAS for float32 or the compiled
int8 and Hamming kernels' split of the corpus). The first call of each method, which loads
or compiles those kernels, is a warm-up left out of the timings. Recall@k is against
exhaustive float32 search.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from core import kernels
from core.corpora import synthetic_corpus
from core.quantize import quantize_corpus, rescored_search
from core.search import TALK_EF, TALK_EF_CONSTRUCTION, TALK_M, HnswIndex, Method, recall_at_k

RECALL_GOALS = {Method.BINARY: 0.95, Method.INT8: 0.99}

Query = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class Row:
    """One line of the table; ``faiss_ms`` is None when there is no faiss baseline."""

    method: str
    n: int
    dims: int
    build_s: float
    ms: float
    faiss_ms: float | None
    baseline: str
    recall: float
    bytes_per_vector: float

    @property
    def ratio(self) -> float | None:
        return None if self.faiss_ms is None else self.ms / self.faiss_ms


def faiss_module() -> Any | None:
    """faiss if installed (the app never imports it), else None."""
    if importlib.util.find_spec("faiss") is None:
        return None
    import faiss

    return faiss


def alternate(
    ours: Query, theirs: Query | None, queries: np.ndarray, batch: bool, reps: int
) -> tuple[float, float | None, np.ndarray]:
    """Median ms per query of ``ours`` and ``theirs`` and our ids. One round runs every
    query alone (or the whole batch once) with ours, then with theirs; rounds alternate
    which goes first. Whole rounds rather than single calls, so that the threads one
    library leaves spinning after a call do not slow the other's next call."""
    inputs = [queries] if batch else [queries[i : i + 1] for i in range(len(queries))]
    per = len(queries) if batch else 1
    times: dict[int, list[float]] = {0: [], 1: []}
    found = [ours(x) for x in inputs]  # also a warm-up
    if theirs is not None:
        theirs(inputs[0])
    for rep in range(reps):
        order = [(0, ours), (1, theirs)]
        for side, fn in order if rep % 2 == 0 else order[::-1]:
            if fn is None:
                continue
            for x in inputs:
                start = time.perf_counter()
                fn(x)
                times[side].append((time.perf_counter() - start) * 1000 / per)
    ms_theirs = statistics.median(times[1]) if times[1] else None
    return statistics.median(times[0]), ms_theirs, np.vstack(found)


def kernel_rows(
    n: int, dims: int, n_queries: int, k: int, threads: int, hnsw: bool, faiss: Any | None
) -> list[Row]:
    """Every method at one corpus size, on synthetic clustered unit vectors."""
    corpus = synthetic_corpus(n, dims, n_queries, seed=n)
    x, q = corpus.vectors, corpus.queries
    truth = kernels.top_k_float32(q, x, k).ids
    rows = []

    def add(method, build_s, ours, theirs, baseline, batch, bytes_per_vector):
        ms, fms, found = alternate(ours, theirs, q, batch, 5 if batch else 2)
        recall = recall_at_k(truth, found)
        rows.append(Row(method, n, dims, build_s, ms, fms, baseline, recall, bytes_per_vector))
        theirs_ms = "–" if fms is None else f"{fms:.3f}"
        print(f"  {method:<28} {ms:9.3f} ms/query, faiss {theirs_ms}", flush=True)

    flat = None
    if faiss is not None:
        flat = faiss.IndexFlatIP(dims)
        flat.add(x)
    for batch in (False, True):
        mode = "batch" if batch else "1 query"
        add(
            f"float32 exact, {mode}",
            0.0,
            lambda qq: kernels.top_k_float32(qq, x, k).ids,
            None if flat is None else (lambda qq: flat.search(qq, k)),
            "IndexFlatIP",
            batch,
            4 * dims,
        )

    baselines: dict[Method, tuple[str, Query | None]] = {
        Method.INT8: ("IndexScalarQuantizer 8bit", None),
        Method.BINARY: ("IndexBinaryFlat", None),
    }
    if faiss is not None:
        sq = faiss.IndexScalarQuantizer(
            dims, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        sq.train(x)
        sq.add(x)
        binary_flat = faiss.IndexBinaryFlat(-(-dims // 8) * 8)
        binary_flat.add(np.packbits(x > 0, axis=1))
        baselines[Method.INT8] = ("IndexScalarQuantizer 8bit", lambda qq: sq.search(qq, k))
        baselines[Method.BINARY] = (
            "IndexBinaryFlat",
            lambda qq: binary_flat.search(np.packbits(qq > 0, axis=1), k),
        )
    for method in (Method.INT8, Method.BINARY):
        quantized = quantize_corpus(x, method, threads=threads)
        name = "int8" if method is Method.INT8 else "binary Hamming"
        baseline, theirs = baselines[method]
        for batch in (False, True):
            add(
                f"{name}, {'batch' if batch else '1 query'}",
                quantized.seconds,
                lambda qq, c=quantized: c.candidates(qq, n, k),
                theirs,
                baseline,
                batch,
                quantized.nbytes / n,
            )
        add(
            f"{method.value} ×4, 1 query",
            quantized.seconds,
            rescored_search(x, quantized, k, 4),
            None if flat is None else (lambda qq: flat.search(qq, k)),
            "IndexFlatIP (exact)",
            False,
            quantized.nbytes / n + 4 * dims,
        )
        del quantized

    if hnsw:
        m, efc, ef = TALK_M, TALK_EF_CONSTRUCTION, TALK_EF  # the talk's settings
        index = HnswIndex.build(x, "cosine", M=m, ef_construction=efc, threads=threads)
        fh = None
        if faiss is not None:
            fh = faiss.IndexHNSWFlat(dims, m, faiss.METRIC_INNER_PRODUCT)
            fh.hnsw.efConstruction = efc
            start = time.perf_counter()
            fh.add(x)
            print(f"  (faiss HNSW build {time.perf_counter() - start:.1f} s)")
            fh.hnsw.efSearch = ef
        add(
            f"HNSW M={m} ef={ef}, 1 query",
            index.build_seconds,
            lambda qq: index.search(qq, k, ef).ids,
            None if fh is None else (lambda qq: fh.search(qq, k)),
            "IndexHNSWFlat",
            False,
            index.nbytes / n,
        )
    return rows


def print_table(rows: Sequence[Row]) -> None:
    head = (
        f"{'method':<28} {'N':>9} {'dims':>4} {'build s':>8} {'ms/query':>9} "
        f"{'faiss ms':>9} {'ratio':>6} {'baseline':<26} {'recall@10':>9} {'B/vector':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        faiss_ms = "–" if r.faiss_ms is None else f"{r.faiss_ms:.3f}"
        ratio = "–" if r.ratio is None else f"{r.ratio:.2f}"
        print(
            f"{r.method:<28} {r.n:>9,} {r.dims:>4} {r.build_s:>8.2f} {r.ms:>9.3f} "
            f"{faiss_ms:>9} {ratio:>6} {r.baseline:<26} {r.recall:>9.3f} "
            f"{r.bytes_per_vector:>8.0f}"
        )


# --------------------------------------------------------------------------- real embeddings

# Sentence parts, "|"-separated: subject, verb, adjective, object, place, time.
_PARTS = (
    "the farmer|a nurse|my grandmother|the pilot|a child|the mayor|our neighbour|a student"
    "|the baker|a musician|the old sailor|a tired doctor|the young painter|my brother"
    "|the teacher|a tourist|the fisherman|a journalist|the librarian|a firefighter"
    "|the gardener|a chef|the engineer|my cousin|the poet|a scientist|the driver"
    "|a shepherd|the judge|a dancer",
    "bought|painted|lost|found|repaired|carried|sold|cleaned|borrowed|hid|wrapped"
    "|described|photographed|measured|forgot|delivered|stole|ordered|admired|returned",
    "a red|a broken|an old|a tiny|a heavy|a wooden|a golden|a muddy|a bright|a strange"
    "|a silver|a soft|a rusty|a famous|a cheap|a beautiful|a plastic|a dusty",
    "bicycle|umbrella|piano|lamp|boat|letter|basket|clock|guitar|map|kettle|camera"
    "|blanket|ladder|painting|bottle|suitcase|hammer|violin|lantern|mirror|chair|kite"
    "|book|tractor|telescope|carpet|vase|bell|helmet",
    "in the market|at the station|near the river|in the garden|on the roof|at school"
    "|in the kitchen|by the sea|in the forest|at the hospital|in the museum|on the bridge"
    "|in the village|at the airport|in the library|under the tree",
    "this morning|last winter|at midnight|on monday|after lunch|before the storm"
    "|during the festival|yesterday|every sunday|in the spring|at dawn|last night",
)


def generated_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct sentences from the templates (about 8 million combinations),
    in a seeded random order."""
    parts = [p.split("|") for p in _PARTS]
    sizes = [len(p) for p in parts]
    space = int(np.prod(sizes))
    if count > space // 2:
        raise SystemExit(f"At most {space // 2:,} sentences can be generated, not {count:,}.")
    rng = np.random.default_rng(seed)
    picks = np.unique(rng.integers(0, space, size=2 * count))
    picks = rng.permutation(picks)[:count]
    digits = np.stack(np.unravel_index(picks, sizes), axis=1)
    return [
        " ".join(part[i] for part, i in zip(parts, row, strict=True)).capitalize() + "."
        for row in digits
    ]


def real_recall(model_name: str, n: int, n_queries: int, k: int, threads: int) -> list[str]:
    """Recall@k of int8 and binary + rescoring on ``n`` embedded sentences; report lines.

    The embeddings are cached on disk like a dataset's (``data/cache/vectors``): MiniLM
    takes minutes for 100k sentences on two cores, the next run seconds."""
    from core.datasets import dataset_from_texts
    from core.embedders.registry import get_embedder
    from core.vectors import embed_dataset

    model = get_embedder(model_name)
    sentences = dataset_from_texts("bench-sentences", generated_sentences(n + n_queries, seed=1))
    start = time.perf_counter()
    vectors = embed_dataset(sentences, model).astype(np.float32)
    seconds = time.perf_counter() - start
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    x, q = vectors[:n], vectors[n:]
    truth = kernels.top_k_float32(q, x, k).ids
    lines = [
        f"{n:,} generated sentences + {n_queries} held-out queries, {model_name} "
        f"({model.dims} dims), embedded or read from the cache in {seconds:.1f} s"
    ]
    for method in (Method.BINARY, Method.INT8):
        quantized = quantize_corpus(x, method, threads=threads)
        recalls = {
            f: recall_at_k(truth, rescored_search(x, quantized, k, f)(q)) for f in (1, 2, 4, 8)
        }
        goal = RECALL_GOALS[method]
        verdict = "meets" if recalls[4] >= goal else "MISSES"
        shown = ", ".join(f"×{f}: {r:.3f}" for f, r in recalls.items())
        lines.append(f"  {method.value}: recall@{k} {shown} -> {verdict} the ×4 goal {goal}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scale", description=__doc__)
    parser.add_argument("--n", default="100000", help="comma-separated corpus sizes")
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hnsw-max-n", type=int, default=200_000, help="skip HNSW above this N")
    parser.add_argument("--real-n", type=int, default=100_000, help="0 skips the recall check")
    parser.add_argument("--real-model", default="all-MiniLM-L6-v2")
    args = parser.parse_args(argv)

    faiss = faiss_module()
    if faiss is None:
        print("faiss is not installed (make install): no baselines.")
    else:
        faiss.omp_set_num_threads(args.threads)
    rows: list[Row] = []
    with threadpool_limits(args.threads):
        for n in (int(v) for v in args.n.split(",")):
            print(f"N = {n:,} × {args.dims}, {args.queries} queries", flush=True)
            rows += kernel_rows(
                n, args.dims, args.queries, args.k, args.threads, n <= args.hnsw_max_n, faiss
            )
        print()
        print_table(rows)
        print(
            "ms/query: median over queries run one at a time, or over 5 runs of the whole "
            "batch divided by its size. ratio = ms/query ÷ faiss ms (below 1: faster). "
            "B/vector: the codes or index, plus 4·dims for the float32 vectors rescoring reads."
        )
        if args.real_n:
            print()
            for line in real_recall(args.real_model, args.real_n, 200, args.k, args.threads):
                print(line)


if __name__ == "__main__":
    main()
