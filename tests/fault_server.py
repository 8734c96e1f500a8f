"""Test doubles for the server side: tiny deterministic models and an ASGI fault injector.

``FaultInjector`` wraps the real classroom app (``core.serve.create_app``): it counts every
request by path and, while its plan has entries, answers the next request with a planned
fault (a status with headers, a slow answer, a malformed body, no answer at all, an answer
trickled byte by byte) instead of the app; ``then`` answers every request after the plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.embedders.base import Embedder

TEST_KEY = "sk-test-" + "7f3a9c2e" * 5


class ToyEmbedder(Embedder):
    """Deterministic unit vectors seeded by each text's SHA-256, with variance decaying along
    the dimensions (so, like an MRL model, the leading ones matter most). Tokens are words."""

    def __init__(self, name: str = "toy", dims: int = 16, ordered: bool = True) -> None:
        self.name, self.dims, self.supports_mrl = name, dims, ordered

    def _embed(self, texts: list[str]) -> np.ndarray:
        scale = 1.0 / np.sqrt(1.0 + np.arange(self.dims)) if self.supports_mrl else 1.0
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self.dims) * scale
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@dataclass(frozen=True)
class Fault:
    """One planned answer: ``status`` with ``headers`` and a JSON error carrying ``message``,
    or, with ``malformed``, a 200 whose body is not JSON, or ``body`` as given (status 200
    unless set) with ``content_type``; ``delay`` seconds first (with no status, the real app
    answers after the delay). ``hang`` never answers; ``trickle`` sends the headers, then one
    byte every 0.1 s; both until the client hangs up."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    malformed: bool = False
    message: str = "injected fault"
    body: bytes | None = None
    content_type: str = "application/json"
    hang: bool = False
    trickle: bool = False


async def _until_disconnect(receive: Receive) -> None:
    """Return when the client has hung up (after reading the request's body)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _trickle(receive: Receive, send: Send) -> None:
    """Headers of a 200 JSON answer, then a byte every 0.1 s until the client hangs up."""
    gone = asyncio.ensure_future(_until_disconnect(receive))
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    while not gone.done():
        await send({"type": "http.response.body", "body": b" ", "more_body": True})
        await asyncio.sleep(0.1)


class FaultInjector:
    """ASGI middleware counting requests per path and playing planned faults in order."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.plan: deque[Fault] = deque()
        self.then: Fault | None = None
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reset(self, *faults: Fault, then: Fault | None = None) -> None:
        """Play ``faults`` on the next requests, then ``then`` on every later one (None: the
        real app)."""
        with self._lock:
            self.plan = deque(faults)
            self.then = then
            self.requests.clear()

    @property
    def embedding_requests(self) -> int:
        return sum(n for path, n in self.requests.items() if path.endswith("/embeddings"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.requests[scope["path"]] += 1
            fault = self.plan.popleft() if self.plan else self.then
        if fault is None:
            await self.app(scope, receive, send)
            return
        await asyncio.sleep(fault.delay)
        if fault.hang:
            await _until_disconnect(receive)
            return
        if fault.trickle:
            await _trickle(receive, send)
            return
        if fault.status is None and not fault.malformed and fault.body is None:
            await self.app(scope, receive, send)
            return
        status = fault.status or 200
        if fault.body is not None:
            body = fault.body
        elif fault.malformed:
            body = b'{"object": "list", "data": [{"embedding": [0.1, '
        else:
            body = json.dumps({"error": {"message": fault.message, "type": "test"}}).encode()
        headers = [(b"content-type", fault.content_type.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in fault.headers.items()]
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def banner_server(banner: bytes) -> Iterator[str]:
    """A TCP server on loopback that answers every connection with ``banner`` (not HTTP) and
    hangs up, like a database or mail server given as the address; yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(banner)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def toy_models() -> dict[str, Embedder]:
    """Models the test servers serve: an ordered and an unordered 16-d toy, a 1536-d toy under
    text-embedding-3-small's names (bare, GitHub-style, and as the Azure deployment
    ``emb-small``), and a 16-d toy posing as text-embedding-3-large (whose real width is
    3072) to test width checks."""
    small = ToyEmbedder("text-embedding-3-small", 1536)
    return {
        "toy": ToyEmbedder("toy", 16),
        "flat": ToyEmbedder("flat", 16, ordered=False),
        "text-embedding-3-small": small,
        "openai/text-embedding-3-small": small,
        "emb-small": small,
        "text-embedding-3-large": ToyEmbedder("text-embedding-3-large", 16),
    }
