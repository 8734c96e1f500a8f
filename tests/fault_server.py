"""Test doubles for the server side: tiny deterministic models and an ASGI fault injector.

``FaultInjector`` wraps the real classroom app (``core.serve.create_app``): it counts every
request by path and, while its plan has entries, answers the next request with a planned
fault (a status with headers, a slow answer, a malformed body) instead of the app.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import Counter, deque
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
    or, with ``malformed``, a 200 whose body is not JSON; ``delay`` seconds first (with no
    status, the real app answers after the delay)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    malformed: bool = False
    message: str = "injected fault"


class FaultInjector:
    """ASGI middleware counting requests per path and playing planned faults in order."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.plan: deque[Fault] = deque()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reset(self, *faults: Fault) -> None:
        with self._lock:
            self.plan = deque(faults)
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
            fault = self.plan.popleft() if self.plan else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        await asyncio.sleep(fault.delay)
        if fault.status is None and not fault.malformed:
            await self.app(scope, receive, send)
            return
        status = 200 if fault.malformed else fault.status
        body = (
            b'{"object": "list", "data": [{"embedding": [0.1, '
            if fault.malformed
            else json.dumps({"error": {"message": fault.message, "type": "test"}}).encode()
        )
        headers = [(b"content-type", b"application/json")]
        headers += [(k.lower().encode(), v.encode()) for k, v in fault.headers.items()]
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})


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
