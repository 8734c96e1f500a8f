"""The worst page rerun with a hosted model that never answers.

Run ``python -m bench.bench_remote_hang [--page similarity] [--reruns 2]``. A fault server on
loopback accepts every request and never answers; an AppTest session opens the page with the
local static model, adds the hanging model with the sidebar form, and times that rerun (the
first that calls the model) and ``--reruns`` more. Caches go to a fresh temporary directory,
so nothing is answered from an earlier run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_remote_hang")
    parser.add_argument("--page", default="similarity", help="page under views/ to open")
    parser.add_argument("--reruns", type=int, default=2, help="further reruns to time")
    args = parser.parse_args(argv)
    os.environ["EXPLORER_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-hang-")

    from core.serve import create_app, serve_in_thread
    from tests.fault_server import Fault, FaultInjector, toy_models
    from tests.page_helpers import open_page

    injector = FaultInjector(create_app(toy_models()))
    injector.reset(then=Fault(hang=True))
    with serve_in_thread(injector) as url:
        at = open_page(args.page, {"models": "static-minilm-256"})
        at.selectbox(key="rf_provider").select("compatible")
        at.text_input(key="rf_model").input("toy")
        at.text_input(key="rf_base_url").input(f"{url}/v1")
        next(b for b in at.button if b.label == "Add model").click()
        timings = []
        for _ in range(1 + args.reruns):
            started = time.perf_counter()
            at.run(timeout=600)
            timings.append(time.perf_counter() - started)
        errors = [e.value for e in at.error] + [w.value for w in at.warning]
        print(f"page {args.page}: reruns with a hanging model took", end=" ")
        print(", ".join(f"{t:.1f} s" for t in timings))
        print(f"requests sent: {injector.embedding_requests}")
        print(f"exception: {bool(at.exception)}; local tables: {len(at.dataframe)}")
        for message in errors:
            print(f"  message: {message[:300]}")


if __name__ == "__main__":
    main()
