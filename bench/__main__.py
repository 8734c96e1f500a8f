"""Run every benchmark: embedders, search at 100k, the scale lab's kernels against faiss,
every nearest-neighbour engine on 100k real MiniLM embeddings, then the map's projections and
clusterings at 10k and 100k and its reruns in Chromium at 100k points.

``python -m bench`` (or ``make bench``) runs them with their default sizes; each module also
runs alone with its own flags (``python -m bench.bench_scale --help``).
"""

from __future__ import annotations

from bench import (
    bench_embedders,
    bench_engines,
    bench_map,
    bench_project,
    bench_scale,
    bench_search,
)


def main() -> None:
    bench_embedders.main()
    print()
    bench_search.main([])
    print()
    # The real-embedding recall check embeds 100k sentences with MiniLM (minutes, cached
    # afterwards); ask for it with `python -m bench.bench_scale`.
    bench_scale.main(["--real-n", "0"])
    print()
    # Embeds the same 100k sentences as bench_scale's recall check (one shared cache entry):
    # minutes the first time.
    bench_engines.main([])
    print()
    # t-SNE at 100k and HDBSCAN on 100k vectors take over 10 min each: stopped at 5.
    bench_project.main(["--limit", "5"])
    print()
    bench_map.main([])


if __name__ == "__main__":
    main()
