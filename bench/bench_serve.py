"""Load test of the classroom server: concurrent students, each with their own OpenAI client.

Run ``python -m bench.bench_serve [--clients 20] [--requests 50] [--model all-MiniLM-L6-v2]``.
The server (``core.serve``) runs in this process on a free loopback port, or, with
``--url http://127.0.0.1:8000``, is one already running (``python -m core.serve``), so that
clients and server do not share a GIL. Every client is a thread with its own
``openai.OpenAI`` client sending one short sentence per request, as a student's notebook
would. Reports failures, requests/s over the whole run, and latency percentiles.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass

import numpy as np
import openai

from core.serve import create_app, load_local_models, serve_in_thread


@dataclass(frozen=True)
class LoadResult:
    """Outcome of one load run: ``latencies`` in seconds, one per successful request."""

    clients: int
    requests: int
    failures: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def requests_per_second(self) -> float:
        return (self.requests - self.failures) / self.seconds

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000)


def run_load(base_url: str, model: str, clients: int, requests: int) -> LoadResult:
    """``clients`` threads each send ``requests`` single-sentence embedding requests to
    ``base_url`` (``http://host:port``), all started together."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def student(c: int) -> None:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="-", max_retries=0, timeout=60)
        start.wait()
        for i in range(requests):
            text = f"student {c} asks question {i} about vector embeddings"
            began = time.perf_counter()
            try:
                response = client.embeddings.create(model=model, input=text)
                ok = len(response.data) == 1
            except openai.OpenAIError:
                ok = False
            took = time.perf_counter() - began
            with lock:
                if ok:
                    latencies.append(took)
                else:
                    failures[0] += 1
        client.close()

    threads = [threading.Thread(target=student, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    return LoadResult(clients, clients * requests, failures[0], seconds, tuple(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--url", help="a running server's base URL (default: start one here)")
    args = parser.parse_args()
    if args.url:
        result = run_load(args.url.rstrip("/"), args.model, args.clients, args.requests)
    else:
        with serve_in_thread(create_app(load_local_models([args.model]))) as url:
            result = run_load(url, args.model, args.clients, args.requests)
    print(
        f"{args.clients} clients x {args.requests} requests, model {args.model}: "
        f"{result.failures} failed, {result.requests_per_second:.0f} requests/s, "
        f"latency p50 {result.percentile_ms(50):.1f} ms, p95 {result.percentile_ms(95):.1f} ms, "
        f"max {result.percentile_ms(100):.1f} ms"
    )


if __name__ == "__main__":
    main()
