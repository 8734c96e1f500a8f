"""Run every benchmark: the embedders, then search if its benchmark is present."""

from __future__ import annotations

import importlib
import importlib.util

from bench import bench_embedders


def main() -> None:
    bench_embedders.main()
    # Checked by name rather than by catching ImportError, which would also hide a broken
    # import inside bench_search itself.
    if importlib.util.find_spec("bench.bench_search") is None:
        print("\n(bench/bench_search.py is absent: search benchmark skipped)")
        return
    print()
    importlib.import_module("bench.bench_search").main()


if __name__ == "__main__":
    main()
