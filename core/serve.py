"""A classroom embeddings server: the OpenAI embeddings API over this project's local models.

One laptop serves the room; students point the app, or their own notebooks, at it with the
code they would use for OpenAI::

    EXPLORER_SERVE_KEY=<class key> python -m core.serve --host 0.0.0.0 --require-key  # teacher
    OpenAI(base_url="http://<teacher>:8000/v1", api_key="<class key>").embeddings.create(
        model="all-MiniLM-L6-v2", input=["a cat", "a dog"])  # student

Routes: ``POST /v1/embeddings``, ``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /health``,
and Azure's ``POST /openai/deployments/{deployment}/embeddings`` (deployment = model), so
Azure client code runs against it too. Errors are OpenAI-style JSON
(``{"error": {"message", "type", "param", "code"}}``). With ``EXPLORER_SERVE_KEY`` set and
``--require-key``, requests must carry that key (``Authorization: Bearer`` or ``api-key``);
an address other machines can reach needs ``--require-key`` or an explicit ``--no-key``.

Under load: requests are cut into chunks that worker threads (one per core) merge into
batched forward passes, shortest request first, so one-sentence requests are answered while a
big one runs; while one pass runs, the next waits up to 20 ms for more requests, so a
room of one-sentence requests becomes a few full passes; the chunks of a client that hangs up
are dropped; queued texts per model are bounded (503 beyond); and connections that stay
silent, or never finish their request head or body, are closed. Models load on the first
request that names them (or at start, those named with ``--model``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from core import blas
from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.mrl import truncate_and_renormalize

log = logging.getLogger(__name__)

KEY_ENV = "EXPLORER_SERVE_KEY"
# Most texts and characters in a chunk of a request, and merged into one forward pass (a pass
# goes over either limit by at most one chunk). Small enough that a one-sentence request waits
# about one pass (~0.1-0.3 s for MiniLM on 2 cores) while a big request runs, and that a client
# who hangs up stops costing work within a pass; ~2000 tokens a pass stays in MiniLM's
# efficient range (its own batches hold 512-1024 padded tokens).
CHUNK_TEXTS, CHUNK_CHARS = 16, 2048
BATCH_TEXTS, BATCH_CHARS = 64, 8192
OWNER = "embeddings-explorer"
# What ``create_app`` serves: a loaded model, or a function that loads it on first use.
ModelSource = Embedder | Callable[[], Embedder]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class ServeSettings:
    """Limits of one server: texts per request, request body bytes, the optional key every
    request must carry (never logged), texts waiting per model, seconds a connection may stay
    silent (or take to send a request head), seconds to send a body, and open connections.

    ``workers`` forward passes of one model may run at once (default: one per core; the
    command line holds BLAS on one thread while it serves them); while one runs, a free
    worker waits up to ``batch_wait`` seconds for ``BATCH_TEXTS`` texts before it starts a
    smaller pass."""

    max_inputs: int = 2048
    max_body_bytes: int = 4 * 1024 * 1024
    api_key: str | None = field(default=None, repr=False)
    max_queued_texts: int = 8192
    idle_timeout: int = 5
    body_timeout: float = 30.0
    max_connections: int = 1000
    workers: int = field(default_factory=_cores)
    batch_wait: float = 0.02

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ExplorerError(f"workers must be at least 1, got {self.workers}.")
        if not 0 <= self.batch_wait <= 1:
            raise ExplorerError(f"batch_wait must be 0 to 1 s, got {self.batch_wait}.")
        if self.max_queued_texts < self.max_inputs:
            raise ExplorerError(
                f"max_queued_texts ({self.max_queued_texts}) is below max_inputs "
                f"({self.max_inputs}): the largest request could never be queued."
            )


class APIError(HTTPException):
    """An error answered as OpenAI does: status, message, and the offending parameter."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.param, self.code, self.kind = param, code, kind


class _ErrorJSON(JSONResponse):
    """JSON escaped to ASCII, so an error quoting the client's text (even an unpaired
    surrogate) can always be encoded."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def _error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return _ErrorJSON(body, status_code=status, headers=headers)


def _too_large(limit: int) -> APIError:
    message = f"The request body is over {limit} bytes; send fewer or shorter texts."
    return APIError(413, message, code="request_too_large")


class _BodyGuard:
    """ASGI middleware bounding request bodies: over ``limit`` bytes is refused at once when
    Content-Length says so, else as soon as the streamed bytes pass it (chunked uploads declare
    no length); a body not complete ``timeout`` seconds after its request head is answered 408
    and its connection closed (uvicorn waits forever for a client that stops sending)."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            error = _too_large(self.limit)
            await _error(413, error.detail, code=error.code)(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout
        seen, complete = 0, False

        async def guarded() -> Message:
            nonlocal seen, complete
            if complete:  # later reads only wait for the client to hang up
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                # An HTTPException while FastAPI reads the body reaches our error handler.
                raise APIError(
                    408,
                    f"The request body did not arrive within {self.timeout:g} s; "
                    "send it in one go.",
                    code="request_timeout",
                    headers={"Connection": "close"},
                ) from None
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _too_large(self.limit)
            complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        await self.app(scope, guarded, send)


class _H11WithDeadlines(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus: a connection whose request head is not complete
    ``timeout_keep_alive`` seconds after it opened, or after its last response, is closed.
    uvicorn alone times out only idle keep-alive connections that have sent nothing since a
    response: a connection that never sends, or sends half a head, stays open forever."""

    _head_timer: asyncio.TimerHandle | None = None
    _waiting_after: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def on_response_complete(self) -> None:
        self._arm()  # first: super() may start a pipelined request, which disarms
        super().on_response_complete()

    def handle_events(self) -> None:
        super().handle_events()
        if self._head_timer is not None and self.cycle is not self._waiting_after:
            self._disarm()  # a new request head arrived

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._waiting_after = self.cycle
        self._head_timer = self.loop.call_later(self.timeout_keep_alive, self._expire)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expire(self) -> None:
        self._head_timer = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()


class EmbeddingRequest(BaseModel):
    """The body of ``POST /v1/embeddings``. Token-id arrays are accepted by the schema only so
    that they get a clear refusal."""

    model_config = ConfigDict(extra="allow")

    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


def _unpaired_surrogate(text: str) -> str | None:
    """Where ``text`` stops being valid Unicode (e.g. JSON ``"\\ud800"`` decodes to a lone
    surrogate that no model or encoder accepts): ``"\\ud800 at character 3"``, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"\\u{ord(text[exc.start]):04x} at character {exc.start}"
    return None


def _texts(raw: str | list[str] | list[int] | list[list[int]], limit: int) -> list[str]:
    items = [raw] if isinstance(raw, str) else list(raw)
    if not items:
        raise APIError(400, "'input' is an empty list: send at least one text.", "input")
    if not all(isinstance(t, str) for t in items):
        raise APIError(
            400, "This server takes text only, not token ids: send strings in 'input'.", "input"
        )
    if len(items) > limit:
        raise APIError(
            400, f"'input' has {len(items)} texts; send at most {limit} per request.", "input"
        )
    for i, text in enumerate(items):
        where = "'input'" if isinstance(raw, str) else f"'input[{i}]'"
        if not str(text).strip():
            raise APIError(400, f"{where} is empty: send non-blank text.", "input")
        if bad := _unpaired_surrogate(str(text)):
            raise APIError(
                400,
                f"{where} has an unpaired surrogate ({bad}), which is not valid Unicode: "
                "send UTF-8 text.",
                "input",
            )
    return [str(t) for t in items]


def _encode(vectors: np.ndarray, encoding: str) -> list[list[float]] | list[str]:
    if encoding == "base64":
        raw = vectors.astype("<f4")
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in raw]
    return vectors.tolist()  # float32 -> the same Python floats as float(x), much faster


def _chunks(texts: list[str]) -> list[list[str]]:
    """``texts`` cut in order into runs of at most ``CHUNK_TEXTS`` texts and, unless one text
    alone is longer, ``CHUNK_CHARS`` characters."""
    chunks: list[list[str]] = [[]]
    chars = 0
    for text in texts:
        if chunks[-1] and (len(chunks[-1]) == CHUNK_TEXTS or chars + len(text) > CHUNK_CHARS):
            chunks.append([])
            chars = 0
        chunks[-1].append(text)
        chars += len(text)
    return chunks


@dataclass(eq=False)
class _Job:
    """One request's texts cut into chunks. Workers write each chunk's rows into ``vectors``
    (``(texts, dims)`` float32, input order) and add its tokens; the last chunk settles
    ``done`` on the request's event loop (``error``: the failed chunk's, lowest row first)."""

    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]
    parts: deque[tuple[int, list[str]]]  # (first row, texts) of the chunks not taken yet
    vectors: np.ndarray
    left: int  # texts the workers have not taken yet
    unfinished: int  # chunks not embedded (nor failed) yet
    tokens: int = 0
    error: Exception | None = None
    error_row: int = -1


# A pass: (job, first row, texts) for each chunk merged into it.
_Pass = list[tuple[_Job, int, list[str]]]


def _settle(jobs: list[_Job]) -> None:
    """Answer the requests of ``jobs``, all chunks done (run on their event loop)."""
    for job in jobs:
        if job.done.done():  # the client hung up meanwhile
            continue
        if job.error is not None:
            job.done.set_exception(job.error)
        else:
            job.done.set_result(None)


class _Model:
    """A served model: loaded already, or loaded once, on a thread, when first wanted. A load
    that failed is tried again by the next request (the weights may have been installed)."""

    def __init__(self, source: ModelSource) -> None:
        self._lock = threading.Lock()
        self._future: Future[Embedder] | None = None
        if isinstance(source, Embedder):
            self._future = Future()
            self._future.set_result(source)
        else:
            self._load = source

    @property
    def loaded(self) -> Embedder | None:
        """The model if it is loaded, else None (never starts a load)."""
        future = self._future
        if future is None or not future.done() or future.exception() is not None:
            return None
        return future.result()

    def get(self) -> Future[Embedder]:
        """The model, when loaded (starting the load if none is running)."""
        with self._lock:
            future = self._future
            if future is None or (future.done() and future.exception() is not None):
                future = self._future = Future()
                threading.Thread(target=self._run, args=(future,), daemon=True).start()
            return future

    def _run(self, future: Future[Embedder]) -> None:
        try:
            future.set_result(self._load())
        except Exception as exc:  # noqa: BLE001 - handed to the waiting requests
            log.warning("Loading a model failed: %s", exc)
            future.set_exception(exc)


class _Batcher:
    """Worker threads per model that merge the chunks of requests waiting at the same time
    into ``embed`` calls: a room of students sending one sentence each then costs a few
    batched forward passes instead of one pass per student. Each batch starts with a chunk of
    the oldest request (none starves), then takes the requests with the fewest texts left, so
    small requests overtake big ones. While a pass runs, a free worker waits up to ``wait``
    seconds for a full batch (the students whose answers just went out send their next
    request meanwhile); with every worker idle it starts at once. A merged call that fails is
    retried chunk by chunk, so one bad request fails alone; the chunks of a request whose
    client hung up are dropped. Token counts are taken on the worker too, and a pass wakes
    each event loop once for all the requests it finished, so the loop only parses and
    answers."""

    def __init__(
        self, name: str, model: Embedder, max_queued: int, workers: int = 1, wait: float = 0.0
    ) -> None:
        self.name, self.model, self.max_queued = name, model, max_queued
        self.workers, self.wait = workers, wait
        self._jobs: list[_Job] = []
        self._queued = self._queued_chars = 0
        self._running = 0  # passes in progress
        self.passes = self.passed_texts = 0  # merged passes run so far, and their texts
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    @property
    def queued(self) -> int:
        """Texts waiting for the model (not yet in a forward pass)."""
        return self._queued

    def submit(self, texts: list[str]) -> _Job:
        """Queue ``texts`` (called on the request's event loop); raises a 503 ``APIError``
        when the model's queue is full."""
        loop = asyncio.get_running_loop()
        parts: deque[tuple[int, list[str]]] = deque()
        row = 0
        for chunk in _chunks(texts):
            parts.append((row, chunk))
            row += len(chunk)
        vectors = np.empty((len(texts), self.model.dims), dtype=np.float32)
        job = _Job(loop, loop.create_future(), parts, vectors, len(texts), len(parts))
        chars = sum(map(len, texts))
        with self._ready:
            if self._queued + len(texts) > self.max_queued:
                raise APIError(
                    503,
                    f"The model '{self.name}' is busy: {self._queued} texts are waiting and "
                    f"at most {self.max_queued} may. Retry in a few seconds.",
                    code="queue_full",
                    kind="server_error",
                    headers={"Retry-After": "2"},
                )
            if not self._threads:
                self._closed = False
                self._threads = [
                    threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)
                ]
                for thread in self._threads:
                    thread.start()
            self._jobs.append(job)
            self._queued += len(texts)
            self._queued_chars += chars
            self._ready.notify()
        return job

    def _drop(self, job: _Job) -> None:
        """Remove the chunks of ``job`` not taken yet from the queue (the lock is held)."""
        if job in self._jobs:
            self._jobs.remove(job)
        self._queued -= job.left
        self._queued_chars -= sum(len(t) for _, texts in job.parts for t in texts)
        job.parts.clear()
        job.left = 0

    def cancel(self, job: _Job) -> None:
        """Drop the chunks of ``job`` not yet started (a chunk being embedded finishes)."""
        with self._ready:
            self._drop(job)

    def close(self) -> None:
        """Cancel what waits and stop the workers (a later ``submit`` starts new ones)."""
        with self._ready:
            jobs = list(self._jobs)
            for job in jobs:
                self._drop(job)
            self._closed = True
            self._ready.notify_all()
            threads, self._threads = self._threads, []
        for job in jobs:
            with suppress(RuntimeError):  # the loop has closed: nobody waits for it
                job.loop.call_soon_threadsafe(job.done.cancel)
        for thread in threads:
            thread.join(timeout=10)

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._run(batch)
            finally:
                with self._ready:
                    self._running -= 1

    def _full(self) -> bool:
        """Whether the queue holds a whole pass."""
        return self._queued >= BATCH_TEXTS or self._queued_chars >= BATCH_CHARS

    def _take(self) -> _Pass | None:
        with self._ready:
            while True:
                while not self._jobs and not self._closed:
                    self._ready.wait()
                if self._running and self.wait:
                    deadline = time.monotonic() + self.wait
                    while not self._closed and self._jobs and not self._full():
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._ready.wait(left)
                if self._closed:
                    return None
                if self._jobs:  # another worker may have taken them all meanwhile
                    break
            self._running += 1
            batch: _Pass = []
            count = chars = 0
            while self._jobs and count < BATCH_TEXTS and chars < BATCH_CHARS:
                job = min(self._jobs, key=lambda j: j.left) if batch else self._jobs[0]
                row, texts = job.parts.popleft()
                size = sum(map(len, texts))
                job.left -= len(texts)
                self._queued -= len(texts)
                self._queued_chars -= size
                if not job.parts:
                    self._jobs.remove(job)
                batch.append((job, row, texts))
                count += len(texts)
                chars += size
            return batch

    def _run(self, batch: _Pass) -> None:
        """Embed ``batch`` into its jobs' rows, then answer the jobs it finished."""
        outcomes = self._embed(batch)
        finished: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        with self._ready:
            self.passes += 1
            self.passed_texts += sum(len(texts) for _, _, texts in batch)
            for (job, row, _), (tokens, error) in zip(batch, outcomes, strict=True):
                job.tokens += tokens
                if error is not None and (job.error is None or row < job.error_row):
                    job.error, job.error_row = error, row
                job.unfinished -= 1
                if not job.unfinished:
                    finished.setdefault(job.loop, []).append(job)
        for loop, jobs in finished.items():
            with suppress(RuntimeError):  # the loop has closed: nobody waits for them
                loop.call_soon_threadsafe(_settle, jobs)

    def _embed(self, batch: _Pass) -> list[tuple[int, Exception | None]]:
        """One forward pass over the texts of ``batch``, written into the jobs' rows; per
        chunk, its tokens, or the error that stopped it (a failed merged pass is retried
        chunk by chunk, so one bad request fails alone)."""
        try:
            vectors = self.model.embed([t for _, _, texts in batch for t in texts])
            tokens = [sum(map(self.model.count_tokens, texts)) for _, _, texts in batch]
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request
            if len(batch) == 1:
                return [(0, exc)]
            return [outcome for part in batch for outcome in self._embed([part])]
        start = 0
        for job, row, texts in batch:
            job.vectors[row : row + len(texts)] = vectors[start : start + len(texts)]
            start += len(texts)
        return [(count, None) for count in tokens]


async def _until_disconnect(receive: Receive) -> None:
    # With the body read, uvicorn's receive() returns only once the client has gone.
    while (await receive())["type"] != "http.disconnect":
        pass


async def _finished(request: Request, batcher: _Batcher, job: _Job) -> bool:
    """Whether every chunk of ``job`` was embedded (raising the failed chunk's error), or
    False when the client hangs up first; either way no chunk of it stays queued."""
    gone = asyncio.ensure_future(_until_disconnect(request.receive))
    try:
        await asyncio.wait({job.done, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not job.done.done():
            return False
        job.done.result()
        return True
    finally:
        gone.cancel()
        batcher.cancel(job)
        job.done.cancel()  # no-op once settled; else a later settle skips it


def create_app(models: Mapping[str, ModelSource], settings: ServeSettings | None = None) -> FastAPI:
    """The ASGI app serving ``models`` (name -> a loaded embedder, or a function that loads it
    when a request first names it) under ``settings``."""
    settings = settings or ServeSettings()
    if not models:
        raise ExplorerError("No models to serve: give at least one loaded embedder.")
    served = {name: _Model(source) for name, source in models.items()}
    batchers: dict[str, _Batcher] = {}  # made on the event loop, once a model is loaded

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for batcher in batchers.values():
            batcher.close()

    app = FastAPI(
        title="Embeddings Explorer classroom server",
        summary="OpenAI-compatible embeddings over local models.",
        lifespan=lifespan,
    )
    app.add_middleware(_BodyGuard, limit=settings.max_body_bytes, timeout=settings.body_timeout)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if isinstance(exc, APIError):
            return _error(exc.status_code, exc.detail, exc.kind, exc.param, exc.code, exc.headers)
        return _error(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("Embedding request failed")
        message = f"The server failed ({type(exc).__name__}); the presenter can see the log."
        return _error(500, message, "server_error")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first.get("loc", ())[1:2]) or None
        if first.get("type") == "json_invalid":
            message, param = "The request body is not valid JSON.", None
        elif "unicode" in str(first.get("msg", "")).lower():
            message = (
                f"{f'{param!r}' if param else 'A field name'} has an unpaired surrogate "
                "(such as \\ud800), which is not valid Unicode: send UTF-8 text."
            )
        elif param is None:
            message = f"Invalid request body: {first.get('msg', 'invalid')}."
        else:
            message = f"Invalid value for '{param}': {first.get('msg', 'invalid')}."
        return _error(400, message, param=param)

    async def authorize(request: Request) -> None:  # async: no thread hop per request
        if settings.api_key is None:
            return
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        given = given or request.headers.get("api-key", "")
        if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise APIError(
                401,
                "Incorrect or missing API key: ask the presenter for the classroom key.",
                code="invalid_api_key",
            )

    def card(name: str) -> dict:
        """The model's card; its facts are null until a request has loaded it."""
        model = served[name].loaded
        return {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": OWNER,
            "dimensions": model.dims if model else None,
            "supports_dimensions": model.supports_mrl if model else None,
        }

    async def load(name: str) -> Embedder:
        try:
            return await asyncio.wrap_future(served[name].get())
        except Exception as exc:  # noqa: BLE001 - any load failure is the same answer
            raise APIError(
                503,
                f"The model '{name}' could not be loaded on this server ({type(exc).__name__}:"
                f" {exc}); the presenter can see the log.",
                "model",
                "model_unavailable",
                kind="server_error",
            ) from None

    def check(body: EmbeddingRequest, name: str | None) -> tuple[str, list[str]]:
        if not name:
            raise APIError(400, "Missing 'model': name one of GET /v1/models.", "model")
        if bad := _unpaired_surrogate(name):
            raise APIError(
                400, f"'model' has an unpaired surrogate ({bad}): send UTF-8 text.", "model"
            )
        if name not in served:
            allowed = ", ".join(served)
            raise APIError(
                404,
                f"The model '{name}' does not exist on this server; available: {allowed}.",
                "model",
                "model_not_found",
            )
        return name, _texts(body.input, settings.max_inputs)

    def check_dimensions(name: str, model: Embedder, dims: int | None) -> None:
        if dims is not None and not model.supports_mrl:
            raise APIError(
                400,
                f"The model '{name}' does not support 'dimensions': its dimensions are not "
                "ordered by importance, so truncation would lose meaning. Omit it.",
                "dimensions",
            )
        if dims is not None and not 1 <= dims <= model.dims:
            raise APIError(
                400,
                f"'dimensions' must be 1 to {model.dims} for '{name}', got {dims}.",
                "dimensions",
            )

    def answer(
        name: str, vectors: np.ndarray, tokens: int, dims: int | None, encoding: str
    ) -> Response:
        if dims is not None:
            vectors = truncate_and_renormalize(vectors, dims)
        data = [
            {"object": "embedding", "index": i, "embedding": v}
            for i, v in enumerate(_encode(vectors, encoding))
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        # A Response skips FastAPI's per-element encoder, which is slow on long float lists.
        return JSONResponse({"object": "list", "data": data, "model": name, "usage": usage})

    async def embed(request: Request, body: EmbeddingRequest, asked: str | None) -> Response:
        name, texts = check(body, asked)
        # A loaded model needs no hop through a thread future (each hop wakes the loop).
        model = served[name].loaded or await load(name)
        dims = body.dimensions
        check_dimensions(name, model, dims)
        if name not in batchers:
            batchers[name] = _Batcher(
                name, model, settings.max_queued_texts, settings.workers, settings.batch_wait
            )
        job = batchers[name].submit(texts)
        try:
            if not await _finished(request, batchers[name], job):
                return Response(status_code=499)  # the client hung up: nobody reads this
        except ExplorerError as exc:
            raise APIError(400, str(exc), "input") from None
        encoding = body.encoding_format
        if len(texts) <= CHUNK_TEXTS:
            return answer(name, job.vectors, job.tokens, dims, encoding)
        # JSON for hundreds of vectors takes a while: keep it off the event loop.
        return await run_in_threadpool(answer, name, job.vectors, job.tokens, dims, encoding)

    guarded = [Depends(authorize)]

    @app.get("/health")
    async def health() -> dict:
        queued = {name: batchers[name].queued if name in batchers else 0 for name in served}
        loaded = [name for name, model in served.items() if model.loaded]
        # Merged forward passes and the texts they carried, so far: their ratio is the mean
        # batch the room's requests formed (the benchmark measures the model at that size).
        passes = {
            name: {"passes": b.passes, "texts": b.passed_texts} for name, b in batchers.items()
        }
        return {"status": "ok", "queued_texts": queued, "loaded": loaded, "passes": passes}

    @app.get("/v1/models", dependencies=guarded)
    async def list_models() -> dict:
        return {"object": "list", "data": [card(name) for name in served]}

    @app.get("/v1/models/{name:path}", dependencies=guarded)
    async def get_model(name: str) -> dict:
        if name not in served:
            raise APIError(
                404, f"The model '{name}' does not exist on this server.", None, "model_not_found"
            )
        return card(name)

    @app.post("/v1/embeddings", dependencies=guarded)
    async def embeddings(request: Request, body: EmbeddingRequest) -> Response:
        return await embed(request, body, body.model)

    @app.post("/openai/deployments/{deployment}/embeddings", dependencies=guarded)
    async def azure_embeddings(
        request: Request, deployment: str, body: EmbeddingRequest
    ) -> Response:
        return await embed(request, body, deployment)

    return app


def load_local_models(names: Sequence[str] | None = None) -> dict[str, Embedder]:
    """Load the registry's local models (all, or ``names``); a model that fails to load is
    skipped with a warning, so one missing weight file does not stop the class."""
    from core.embedders.registry import LOCAL_FACTORIES, get_embedder

    wanted = list(names) if names else list(LOCAL_FACTORIES)
    unknown = [n for n in wanted if n not in LOCAL_FACTORIES]
    if unknown:
        allowed = ", ".join(LOCAL_FACTORIES)
        raise ExplorerError(f"Unknown local model(s) {', '.join(unknown)}; choose from {allowed}.")
    loaded: dict[str, Embedder] = {}
    for name in wanted:
        try:
            loaded[name] = get_embedder(name)
        except (ImportError, OSError, ExplorerError) as exc:
            log.warning("Not serving %s: it failed to load (%s)", name, exc)
    return loaded


def lazy_local_models() -> dict[str, Callable[[], Embedder]]:
    """Every local model of the registry, each loaded by the first request that names it
    (all-mpnet-base-v2 alone holds ~500 MB once loaded)."""
    from core.embedders.registry import LOCAL_FACTORIES, get_embedder

    return {name: partial(get_embedder, name) for name in LOCAL_FACTORIES}


def uvicorn_config(
    app: ASGIApp, settings: ServeSettings | None = None, **options: Any
) -> uvicorn.Config:
    """uvicorn's config for ``app`` with the connection limits of ``settings`` (the ones given
    to ``create_app``): idle and request-head timeout, most open connections (503 beyond)."""
    settings = settings or ServeSettings()
    return uvicorn.Config(
        app,
        http=_H11WithDeadlines,
        timeout_keep_alive=settings.idle_timeout,
        limit_concurrency=settings.max_connections,
        **options,
    )


@contextmanager
def serve_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", settings: ServeSettings | None = None
) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free port of ``host`` in a background thread, with the
    connection limits of ``settings``; yields the base URL (``http://127.0.0.1:<port>``) and
    stops the server on exit."""
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) on sockets that do, and
    # with Nagle on every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn_config(app, settings, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise ExplorerError(f"The server on {host}:{port} stopped while starting.")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only;
    ``0.0.0.0``, ``::`` and other names count as reachable from the network."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m core.serve [--host H] [--port P] [--model NAME ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m core.serve", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 serves the room and needs --require-key or "
        "--no-key (default: this machine only)",
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        help="serve only this local model, loaded at start (repeat); without it every local "
        "model is served, each loaded by the first request that names it",
    )
    parser.add_argument("--max-inputs", type=int, default=ServeSettings.max_inputs)
    parser.add_argument("--max-body-bytes", type=int, default=ServeSettings.max_body_bytes)
    parser.add_argument(
        "--max-queued-texts",
        type=int,
        default=ServeSettings.max_queued_texts,
        help="texts that may wait per model; more are refused with 503 (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=_cores(),
        help="forward passes of one model at once, each on one BLAS thread (default: the "
        "cores, %(default)s)",
    )
    parser.add_argument(
        "--batch-wait",
        type=float,
        default=ServeSettings.batch_wait,
        help="seconds a free worker waits for a full batch while another pass runs "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (costs time under load)"
    )
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--require-key",
        action="store_true",
        help=f"require the key in ${KEY_ENV} (kept off the command line, where ps shows it)",
    )
    keys.add_argument(
        "--no-key",
        action="store_true",
        help="serve a non-loopback --host with no key: anyone on the network may use it",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    key = os.environ.get(KEY_ENV) or None
    if args.require_key and not key:
        parser.error(f"--require-key needs the key in the environment variable {KEY_ENV}.")
    if not is_loopback(args.host) and not (args.require_key or args.no_key):
        parser.error(
            f"--host {args.host} lets other machines in: add --require-key (with the key in "
            f"{KEY_ENV}), or --no-key to serve them with no key."
        )
    try:
        settings = ServeSettings(
            args.max_inputs,
            args.max_body_bytes,
            key if args.require_key else None,
            max_queued_texts=args.max_queued_texts,
            workers=args.workers,
            batch_wait=args.batch_wait,
        )
    except ExplorerError as exc:
        parser.error(str(exc))
    models: Mapping[str, ModelSource] = lazy_local_models()
    if args.models:
        models = load_local_models(args.models)
        if not models:
            parser.error("no local model could be loaded; see the warnings above.")
    if args.no_key and not is_loopback(args.host):
        log.warning("Serving %s with no key: anyone who can reach it may use it.", args.host)
    log.info("Serving %s on http://%s:%d/v1", ", ".join(models), args.host, args.port)
    app = create_app(models, settings)
    config = uvicorn_config(
        app,
        settings,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=args.access_log,
    )
    # Parallel passes each on one BLAS thread: then the element-wise half of the work
    # (softmax, GELU, LayerNorm) uses every core too, and two passes do not fight over the
    # cores (MiniLM on 2 loaded cores, 48 texts a pass: 7.9 ms CPU a text with two BLAS
    # threads, 3.7 with one).
    with blas.one_thread() if settings.workers > 1 else nullcontext():
        uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
