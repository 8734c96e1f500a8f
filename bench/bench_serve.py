"""Load test of the classroom server: concurrent students, each with their own OpenAI client.

Run ``python -m bench.bench_serve --classroom [--repeat 3]`` for the classroom of issue 16:
50 clients x 20 requests of 1-3 sentences against ``python -m core.serve`` in its own process,
with the model's own sentences/s and CPU ms per sentence measured just before each run, on
the same sentences, both in one call (its best) and in the server's passes on its worker
count; the server's CPU (and its event loop's) per sentence; and the clients' own CPU per
request, which shares the machine with the server, so served/raw is also given on the CPU
the clients leave (also ``python -m bench.bench_classroom --server``). Run
``python -m bench.bench_serve [--clients 20] [--requests 50] [--model all-MiniLM-L6-v2]``
for one load run, or ``python -m bench.bench_serve --all [--repeat 3]`` for the three
scenarios the README quotes: 20 clients x 50 requests, 50 x 20, and the latency of a 1-text
request sent while 4 clients drop their 512-text requests (medians over ``--repeat`` runs).
The server (``core.serve``) runs in this process on a free loopback port, or, with
``--url http://127.0.0.1:8000``, is one already running (``python -m core.serve``), so that
clients and server do not share a GIL. Every client is a thread with its own
``openai.OpenAI`` client sending one short sentence per request, as a student's notebook
would. Reports failures, requests/s over the whole run, and latency percentiles.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import numpy as np
import openai

from core import blas
from core.embedders.base import Embedder
from core.serve import BATCH_TEXTS, create_app, load_local_models, serve_in_thread

REPO = Path(__file__).resolve().parents[1]
# Words for the big requests' texts: ~60-token paragraphs, as a student embedding notes.
_WORDS = (
    "vector embedding cosine similarity nearest neighbour search index cluster model "
    "sentence token dimension space distance query matrix norm projection recall"
).split()


@dataclass(frozen=True)
class LoadResult:
    """Outcome of one load run: ``latencies`` in seconds, one per successful request, and
    ``texts`` embedded by those requests."""

    clients: int
    requests: int
    failures: int
    seconds: float
    latencies: tuple[float, ...]
    texts: int

    @property
    def requests_per_second(self) -> float:
        return (self.requests - self.failures) / self.seconds

    @property
    def texts_per_second(self) -> float:
        return self.texts / self.seconds

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000)


def student_inputs(
    clients: int, requests: int, most: int = 1, seed: int = 0
) -> list[list[list[str]]]:
    """What each of ``clients`` students sends in ``requests`` requests: 1 to ``most`` short
    distinct sentences each (``[client][request] -> texts``), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    return [
        [
            [
                f"student {c} asks question {i} part {j} about "
                + " ".join(rng.choice(_WORDS, 4).tolist())
                for j in range(int(rng.integers(1, most + 1)))
            ]
            for i in range(requests)
        ]
        for c in range(clients)
    ]


def run_load(
    base_url: str, model: str, clients: int, requests: int, most: int = 1, seed: int = 0
) -> LoadResult:
    """``clients`` threads, each with its own ``openai.OpenAI`` client, send ``requests``
    embedding requests of 1 to ``most`` sentences (``student_inputs``) to ``base_url``
    (``http://host:port``), all started together. A request fails when it raises or returns
    another number of vectors than it sent texts."""
    inputs = student_inputs(clients, requests, most, seed)
    latencies: list[float] = []
    counts = [0, 0]  # failures, texts embedded
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def student(c: int) -> None:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="-", max_retries=0, timeout=60)
        start.wait()
        for texts in inputs[c]:
            began = time.perf_counter()
            try:
                response = client.embeddings.create(model=model, input=texts)
                ok = len(response.data) == len(texts)
            except openai.OpenAIError:
                ok = False
            took = time.perf_counter() - began
            with lock:
                if ok:
                    latencies.append(took)
                    counts[1] += len(texts)
                else:
                    counts[0] += 1
        client.close()

    threads = [threading.Thread(target=student, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    return LoadResult(clients, clients * requests, counts[0], seconds, tuple(latencies), counts[1])


def _cpu_seconds() -> float:
    """CPU seconds this process has used, all threads."""
    t = os.times()
    return t.user + t.system


@dataclass(frozen=True)
class RawRate:
    """The model's own speed on a set of texts: sentences/s and CPU ms per sentence."""

    per_second: float
    cpu_ms: float


def raw_rate(model: Embedder, texts: list[str]) -> RawRate:
    """``model.embed`` on all of ``texts`` in one call: the model's own best (it sorts every
    text by length and runs its batches on parallel threads), with no server, HTTP or JSON."""
    model.embed(texts[:64])  # warm: first calls allocate
    cpu, began = _cpu_seconds(), time.perf_counter()
    model.embed(texts)
    seconds = time.perf_counter() - began
    return RawRate(len(texts) / seconds, (_cpu_seconds() - cpu) / len(texts) * 1000)


def raw_pass_rate(
    model: Embedder, texts: list[str], workers: int | None = None, size: int = BATCH_TEXTS
) -> RawRate:
    """``model.embed`` over ``texts`` cut into passes of ``size`` (the server's largest), from
    ``workers`` threads at once (default: one per core) with BLAS on one thread: the model
    used exactly as the server's workers use it when its queue is always full."""
    passes = [texts[i : i + size] for i in range(0, len(texts), size)]
    with blas.one_thread(), ThreadPoolExecutor(workers or len(os.sched_getaffinity(0))) as pool:
        model.embed(passes[0])  # warm
        cpu, began = _cpu_seconds(), time.perf_counter()
        list(pool.map(model.embed, passes))
        seconds = time.perf_counter() - began
    return RawRate(len(texts) / seconds, (_cpu_seconds() - cpu) / len(texts) * 1000)


def big_texts(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct paragraphs of 60 words (about 60 MiniLM tokens each)."""
    rng = np.random.default_rng(seed)
    return [f"note {seed}-{i}: " + " ".join(rng.choice(_WORDS, 60).tolist()) for i in range(count)]


def run_abandoned(
    base_url: str, model: str, big: int = 4, texts: int = 512, give_up: float = 0.5
) -> float:
    """Seconds a 1-text request takes when sent ``give_up + 0.25`` s after ``big`` clients
    sent ``texts`` texts each and hung up after ``give_up`` s without their answer."""

    def abandon(seed: int) -> None:
        body = {"model": model, "input": big_texts(texts, seed), "encoding_format": "base64"}
        with httpx2.Client(timeout=give_up) as http:
            try:
                http.post(f"{base_url}/v1/embeddings", json=body)
            except httpx2.TimeoutException:
                pass  # hung up: closing the client closes the connection

    threads = [threading.Thread(target=abandon, args=(s,)) for s in range(big)]
    for t in threads:
        t.start()
    time.sleep(give_up + 0.25)
    with httpx2.Client(timeout=300) as http:
        began = time.perf_counter()
        response = http.post(f"{base_url}/v1/embeddings", json={"model": model, "input": "hi"})
        took = time.perf_counter() - began
    response.raise_for_status()
    for t in threads:
        t.join()
    return took


@dataclass(frozen=True)
class ServerProcess:
    """A classroom server running in its own process, at ``url``."""

    url: str
    pid: int

    def cpu_seconds(self, thread: int | None = None) -> float:
        """CPU seconds the process has used, all threads, or only ``thread`` (a thread id;
        the process id is its main thread, which runs the event loop), from ``/proc``."""
        stat = f"/proc/{self.pid}/task/{thread}/stat" if thread else f"/proc/{self.pid}/stat"
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def passes(self, model: str) -> tuple[int, int] | None:
        """Forward passes the server has run for ``model`` and the texts they carried, from
        ``/health`` (None from a build that does not report them)."""
        counts = httpx2.get(f"{self.url}/health", timeout=10).json().get("passes", {})
        if model not in counts:
            return None
        return counts[model]["passes"], counts[model]["texts"]


@contextmanager
def server_process(
    model: str, command: Sequence[str] = (), log_path: Path | None = None
) -> Iterator[ServerProcess]:
    """``python -m core.serve --model <model>`` (or ``command`` with those options) in its own
    process on a free loopback port, as a teacher runs it, so that clients and server do not
    share a GIL; stopped on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = log_path or Path(tempfile.gettempdir()) / f"bench_serve_{port}.log"
    base = list(command) or [sys.executable, "-m", "core.serve"]
    argv = [*base, "--model", model, "--port", str(port)]
    with open(log_path, "wb") as log:
        # The repository on the path, so a server script kept elsewhere imports this core.
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv} exited with {process.returncode}; see {log_path}")
            try:
                if httpx2.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not answer within 120 s; see {log_path}")
            time.sleep(0.2)
        yield ServerProcess(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class ClassroomRun:
    """One classroom run: the model's own speed on the same sentences in one call (``raw``)
    and in passes of ``pass_size`` texts, the mean the server formed, on its worker count
    (``raw_passes``), the load through the server, the server's CPU ms per sentence (all
    threads, and its event loop alone), and the clients' own CPU, ms per request."""

    raw: RawRate
    raw_passes: RawRate
    load: LoadResult
    server_cpu_ms: float
    loop_cpu_ms: float
    client_cpu_ms: float
    pass_size: int

    @property
    def share(self) -> float:
        """Served sentences/s as a fraction of the model's own (one call)."""
        return self.load.texts_per_second / self.raw.per_second

    @property
    def client_share(self) -> float:
        """The clients' CPU as a fraction of the CPU that clients and server used together:
        their share of the machine when nothing else runs on it."""
        client = self.client_cpu_ms * (self.load.requests - self.load.failures)
        return client / (client + self.server_cpu_ms * self.load.texts)

    @property
    def share_left(self) -> float:
        """Served sentences/s against what the model alone would do on the CPU the clients
        leave: the ratio with the clients' cost taken out."""
        return self.share / (1 - self.client_share)

    @property
    def cpu_share(self) -> float:
        """The model's CPU per sentence (one call) over the server's: its efficiency."""
        return self.raw.cpu_ms / self.server_cpu_ms


def classroom_run(
    model: Embedder,
    clients: int = 50,
    requests: int = 20,
    most: int = 3,
    seed: int = 0,
    command: Sequence[str] = (),
) -> ClassroomRun:
    """``clients`` openai clients x ``requests`` requests of 1 to ``most`` sentences against
    a server process for ``model`` (``server_process``), warmed by a few requests of other
    sentences; and the same sentences through ``model.embed`` in this process just before."""
    texts = [
        t for client in student_inputs(clients, requests, most, seed) for r in client for t in r
    ]
    raw = raw_rate(model, texts)
    with server_process(model.name, command) as server:
        run_load(server.url, model.name, 10, 2, most, seed + 1)  # first passes allocate
        passes = server.passes(model.name)
        loop, total, client = server.cpu_seconds(server.pid), server.cpu_seconds(), _cpu_seconds()
        load = run_load(server.url, model.name, clients, requests, most, seed)
        client = _cpu_seconds() - client
        loop = server.cpu_seconds(server.pid) - loop
        total = server.cpu_seconds() - total
        after = server.passes(model.name)
    # The model in passes of the mean size the server formed (its largest when it does not
    # say: an older build), on as many threads as it has workers.
    size = BATCH_TEXTS
    if passes and after and after[0] > passes[0]:
        size = max(1, round((after[1] - passes[1]) / (after[0] - passes[0])))
    sentences, answered = max(load.texts, 1), max(load.requests - load.failures, 1)
    return ClassroomRun(
        raw,
        raw_pass_rate(model, texts, size=size),
        load,
        total / sentences * 1000,
        loop / sentences * 1000,
        client / answered * 1000,
        size,
    )


CLASSROOM_COLUMNS = (
    "raw sent/s",
    "texts a pass",
    "raw sent/s in passes",
    "served sent/s",
    "served/raw",
    "clients' CPU share",
    "served/raw on CPU left",
    "req/s",
    "p50 ms",
    "p95 ms",
    "CPU ms/sent raw",
    "CPU ms/sent raw in passes",
    "CPU ms/sent server",
    "of which event loop",
    "raw/server CPU",
    "client CPU ms/req",
    "failed",
)
_PERCENT = {"served/raw", "clients' CPU share", "served/raw on CPU left", "raw/server CPU"}
_DECIMALS = {c for c in CLASSROOM_COLUMNS if "CPU ms" in c or c == "of which event loop"}


def classroom_table(runs: Sequence[ClassroomRun]) -> str:
    """A markdown row per run, then medians: raw sentences/s in one call, the server's mean
    pass size and raw sentences/s in passes of it, served sentences/s and its ratio to raw,
    the clients' share of the CPU and the ratio on the CPU they leave, requests/s, p50/p95
    latency, CPU ms per sentence (raw, raw in passes, server, its event loop), raw over
    server CPU, the clients' CPU ms per request, and failed requests."""

    def cells(r: ClassroomRun) -> list[float]:
        load = r.load
        return [
            r.raw.per_second,
            r.pass_size,
            r.raw_passes.per_second,
            load.texts_per_second,
            r.share * 100,
            r.client_share * 100,
            r.share_left * 100,
            load.requests_per_second,
            load.percentile_ms(50),
            load.percentile_ms(95),
            r.raw.cpu_ms,
            r.raw_passes.cpu_ms,
            r.server_cpu_ms,
            r.loop_cpu_ms,
            r.cpu_share * 100,
            r.client_cpu_ms,
            load.failures,
        ]

    def row(label: str, values: Sequence[float]) -> str:
        shown = []
        for column, v in zip(CLASSROOM_COLUMNS, values, strict=True):
            text = f"{v:.2f}" if column in _DECIMALS else f"{v:.0f}"
            shown.append(text + " %" if column in _PERCENT else text)
        return f"| {label} | " + " | ".join(shown) + " |"

    lines = [
        "| run | " + " | ".join(CLASSROOM_COLUMNS) + " |",
        "|---" * (len(CLASSROOM_COLUMNS) + 1) + "|",
    ]
    table = [cells(r) for r in runs]
    lines += [row(str(i + 1), values) for i, values in enumerate(table)]
    lines.append(row("median", [statistics.median(column) for column in zip(*table, strict=True)]))
    return "\n".join(lines)


def classroom(model: str, rounds: int = 3, command: Sequence[str] = ()) -> str:
    """``rounds`` classroom runs (50 openai clients x 20 requests of 1-3 sentences against
    ``python -m core.serve``, or ``command``) for the local ``model``, as a markdown table
    headed by the command and the machine's load (1-minute average before and after)."""
    embedder = load_local_models([model])[model]
    load_before = os.getloadavg()[0]
    runs = [classroom_run(embedder, command=command) for _ in range(rounds)]
    server = " ".join(command) or "python -m core.serve"
    return (
        f"{server} --model {model}: 50 openai clients x 20 requests of 1-3 sentences, "
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
        + classroom_table(runs)
    )


@contextmanager
def _server(url: str | None, models: dict[str, Embedder]) -> Iterator[str]:
    if url:
        yield url.rstrip("/")
    else:  # a fresh server per run, so no run inherits another's queue
        with serve_in_thread(create_app(models)) as base:
            yield base


def _median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--url", help="a running server's base URL (default: start one here)")
    parser.add_argument("--all", action="store_true", help="20x50, 50x20 and abandoned requests")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (median)")
    parser.add_argument(
        "--classroom",
        action="store_true",
        help="50 clients x 20 requests of 1-3 sentences against a server process, with the "
        "model's own speed measured before each run (--repeat runs)",
    )
    parser.add_argument(
        "--server-command",
        default="",
        help="with --classroom: the server to start instead of 'python -m core.serve' "
        "(e.g. 'python /tmp/old_serve.py' to compare versions)",
    )
    args = parser.parse_args()
    if args.classroom:
        print(classroom(args.model, args.repeat, args.server_command.split()))
        return
    models = {} if args.url else load_local_models([args.model])
    shapes = [(20, 50), (50, 20)] if args.all else [(args.clients, args.requests)]
    for clients, requests in shapes:
        results = []
        for _ in range(args.repeat):
            with _server(args.url, models) as base:
                results.append(run_load(base, args.model, clients, requests))
        rps = statistics.median(r.requests_per_second for r in results)
        p50 = statistics.median(r.percentile_ms(50) for r in results)
        p95 = statistics.median(r.percentile_ms(95) for r in results)
        worst = max(r.percentile_ms(100) for r in results)
        failed = sum(r.failures for r in results)
        print(
            f"{clients} clients x {requests} requests, model {args.model}, median of "
            f"{args.repeat}: {failed} failed, {rps:.0f} requests/s, latency p50 {p50:.1f} ms, "
            f"p95 {p95:.1f} ms, max {worst:.1f} ms"
        )
    if args.all:

        def once() -> float:
            with _server(args.url, models) as base:
                return run_abandoned(base, args.model)

        seconds = _median(args.repeat, once)
        print(
            f"1-text request while 4 clients drop 512-text requests, median of {args.repeat}: "
            f"{seconds * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
