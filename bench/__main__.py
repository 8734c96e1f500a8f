"""Run every benchmark: embedders, search at 100k, then the scale lab's kernels against faiss.

``python -m bench`` (or ``make bench``) runs them with their default sizes; each module also
runs alone with its own flags (``python -m bench.bench_scale --help``).
"""

from __future__ import annotations

from bench import bench_embedders, bench_scale, bench_search


def main() -> None:
    bench_embedders.main()
    print()
    bench_search.main([])
    print()
    # The real-embedding recall check embeds 100k sentences with MiniLM (minutes, cached
    # afterwards); ask for it with `python -m bench.bench_scale`.
    bench_scale.main(["--real-n", "0"])


if __name__ == "__main__":
    main()
