"""Issue 14's timings: reading a 100k x 384 parquet upload, then PCA, t-SNE, UMAP and
HDBSCAN (on the 2-D map and on the vectors) at 10k and 100k real MiniLM vectors.

``python -m bench.bench_project`` (``--sizes``, ``--jobs``, ``--limit`` minutes). The
vectors are bench_engines' generated sentences embedded with all-MiniLM-L6-v2 (the shared
vector cache; minutes to embed the first time), the first ``n`` rows for size ``n``.

Each projection or clustering runs as the map runs it: the core call
(``project_bounded``, ``cluster``) in a child process (``core.child.run_in_child``) with
the cap lifted to ``n`` (``hdbscan-vectors-capped`` keeps it: a sample clustered, the rest
joined to it, as the map does above the cap), stopped at the time limit and then reported
as "over N min".
``wall`` is what a user waits (child start, data sent over, the job, the answer back);
``job`` is the core call alone, timed in the child, whose peak memory is shown. Cheap rows
(under ``CHEAP`` seconds) are the median of three runs, others one run. The 1-minute load
average before and after each row is printed beside it: this machine has two cores shared
with other work.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from bench.bench_engines import embedded_sentences
from core.child import run_in_child
from core.errors import ExplorerError

MODEL = "all-MiniLM-L6-v2"
# bench_engines' default corpus (100k sentences + 200 queries), so its cache entry is reused.
CORPUS, QUERIES = 100_000, 200
CHEAP = 15.0  # seconds: rows faster than this are run three times and the median kept
JOBS = ("read", "pca", "umap", "hdbscan-map", "hdbscan-vectors", "hdbscan-vectors-capped", "tsne")
MIN_CLUSTER = 10  # the map page's default smallest cluster


@dataclass(frozen=True)
class Row:
    """One timing: ``wall`` and ``job`` seconds (None when the time limit stopped it)."""

    what: str
    n: int
    wall: float | None
    job: float | None
    runs: int
    load: tuple[float, float]
    result: str


def _load() -> float:
    return os.getloadavg()[0]


def _peak() -> str:
    """This process's peak resident memory (Linux reports kB)."""
    return f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GB"


def _projected(vectors: np.ndarray, method: str) -> tuple[float, str, np.ndarray]:
    """In the child: ``project_bounded`` of every row, its seconds, what it found, coords."""
    from core.project import project_bounded

    start = time.perf_counter()
    result = project_bounded(vectors, method, max_rows=vectors.shape[0])
    seconds = time.perf_counter() - start
    return seconds, f"trustworthiness {result.trustworthiness:.3f}, {_peak()}", result.coords


def _clustered(
    points: np.ndarray, texts: list[str], space: str, capped: bool = False
) -> tuple[float, str, None]:
    """In the child: ``cluster`` of every row (or, ``capped``, of the space's MAX_ROWS
    sample with the rest joining it, as the map does), its seconds and what it found."""
    from core.clusters import cluster

    start = time.perf_counter()
    cap = None if capped else points.shape[0]
    found = cluster(points, texts, space, MIN_CLUSTER, max_rows=cap)
    seconds = time.perf_counter() - start
    noise = float(np.mean(found.ids == -1))
    return seconds, f"{found.count} clusters, {noise:.0%} noise, {_peak()}", None


def _read(data: bytes) -> tuple[float, str, None]:
    from core.io import read_upload

    start = time.perf_counter()
    read = read_upload("upload.parquet", data)
    return time.perf_counter() - start, type(read).__name__, None


def timed(
    what: str, n: int, job: Callable[[], tuple[float, str, object]], limit: float, child: bool
) -> tuple[Row, object]:
    """``job`` run once (three times when cheap), in a child when ``child`` with a time
    limit of ``limit`` seconds; the row and the first run's third value."""
    walls: list[float] = []
    inner: list[float] = []
    before = _load()
    extra: object = None
    result = ""
    while len(walls) < (3 if walls and walls[0] < CHEAP else 1):
        start = time.perf_counter()
        try:
            seconds, result, value = run_in_child(job, time_limit=limit) if child else job()
        except ExplorerError as exc:
            if "was stopped" not in str(exc):  # run_in_child's time limit
                raise
            row = Row(what, n, None, None, 1, (before, _load()), f"over {limit / 60:g} min")
            _print(row)
            return row, None
        walls.append(time.perf_counter() - start)
        inner.append(seconds)
        extra = value if extra is None else extra
    row = Row(
        what,
        n,
        statistics.median(walls),
        statistics.median(inner),
        len(walls),
        (before, _load()),
        result,
    )
    _print(row)
    return row, extra


def _seconds(value: float | None, limit: float) -> str:
    return f"over {limit / 60:g} min" if value is None else f"{value:.2f} s"


def _print(row: Row) -> None:
    wall = "—" if row.wall is None else f"{row.wall:8.2f} s"
    job = "—" if row.job is None else f"{row.job:8.2f} s"
    print(
        f"{row.n:>7,}  {row.what:28} wall {wall:>10}  job {job:>10}  "
        f"(runs {row.runs}; load {row.load[0]:.2f} -> {row.load[1]:.2f})  {row.result}",
        flush=True,
    )


def parquet_bytes(vectors: np.ndarray, texts: Sequence[str]) -> bytes:
    """The app's own parquet export of ``vectors`` with ``texts`` as labels (what a round
    trip reads back: label, text, vector as fixed-size float32 lists)."""
    from core.datasets import dataset_from_texts
    from core.exporters import export_parquet

    return export_parquet(dataset_from_texts("bench", texts), vectors)


def run(sizes: Sequence[int], jobs: Sequence[str], limit: float) -> list[Row]:
    """Every asked-for row, at every size; see the module docstring."""
    from bench.bench_scale import generated_sentences
    from core.project import warm_up

    corpus, _ = embedded_sentences(CORPUS, QUERIES, MODEL)
    texts = generated_sentences(CORPUS + QUERIES, seed=1)[:CORPUS]
    print(f"{corpus.shape[0]:,} x {corpus.shape[1]} {MODEL} vectors; load {_load():.2f}")
    if "umap" in jobs:
        print(f"umap's numba cache warmed in {warm_up():.1f} s", flush=True)
    rows: list[Row] = []
    for n in sizes:
        x, words = corpus[:n], texts[:n]
        if "read" in jobs:
            data = parquet_bytes(x, words)
            what = f"read_upload parquet {len(data) / 2**20:.0f} MB"
            rows.append(timed(what, n, partial(_read, data), limit, child=False)[0])
        coords = None
        if "pca" in jobs:
            row, coords = timed("PCA 2-D", n, partial(_projected, x, "pca"), limit, False)
            rows.append(row)
        if "umap" in jobs:
            rows.append(timed("UMAP 2-D", n, partial(_projected, x, "umap"), limit, True)[0])
        if "hdbscan-map" in jobs:
            if coords is None:
                coords = _projected(x, "pca")[2]
            job = partial(_clustered, np.asarray(coords), words, "map")
            rows.append(timed("HDBSCAN on the PCA map", n, job, limit, True)[0])
        if "hdbscan-vectors" in jobs:
            job = partial(_clustered, x, words, "vectors")
            rows.append(timed("HDBSCAN on the vectors", n, job, limit, True)[0])
        if "hdbscan-vectors-capped" in jobs:
            job = partial(_clustered, x, words, "vectors", True)
            rows.append(timed("HDBSCAN on the vectors, capped", n, job, limit, True)[0])
        if "tsne" in jobs:
            rows.append(timed("t-SNE 2-D", n, partial(_projected, x, "tsne"), limit, True)[0])
    return rows


def table(rows: Sequence[Row], limit: float) -> str:
    """The rows as a markdown table."""
    lines = [
        "| what | rows | wall (user waits) | job (in the child) | runs | load 1-min | found |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.what} | {r.n:,} | {_seconds(r.wall, limit)} | {_seconds(r.job, limit)} | "
            f"{r.runs} | {r.load[0]:.2f} → {r.load[1]:.2f} | {r.result} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_project", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--jobs", nargs="+", choices=JOBS, default=list(JOBS))
    parser.add_argument("--limit", type=float, default=20.0, help="minutes per row")
    args = parser.parse_args(argv)
    if max(args.sizes) > CORPUS:
        parser.error(f"sizes go up to {CORPUS:,}")
    rows = run(args.sizes, args.jobs, args.limit * 60)
    print()
    print(table(rows, args.limit * 60))


if __name__ == "__main__":
    # The jobs go to child processes by reference, which must name this module, not __main__.
    from bench import bench_project

    bench_project.main()
