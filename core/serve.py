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

Under load: requests are cut into chunks that a worker thread per model merges into batches,
shortest request first, so one-sentence requests are answered while a big one runs; the chunks
of a client that hangs up are dropped; queued texts per model are bounded (503 beyond); and
connections that stay silent, or never finish their request head or body, are closed.
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
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class ServeSettings:
    """Limits of one server: texts per request, request body bytes, the optional key every
    request must carry (never logged), texts waiting per model, seconds a connection may stay
    silent (or take to send a request head), seconds to send a body, and open connections."""

    max_inputs: int = 2048
    max_body_bytes: int = 4 * 1024 * 1024
    api_key: str | None = field(default=None, repr=False)
    max_queued_texts: int = 8192
    idle_timeout: int = 5
    body_timeout: float = 30.0
    max_connections: int = 1000

    def __post_init__(self) -> None:
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
    """One request's texts cut into chunks; each chunk's vectors go to its future."""

    parts: deque[tuple[list[str], Future[np.ndarray]]]
    futures: list[Future[np.ndarray]]
    left: int  # texts the worker has not taken yet


class _Batcher:
    """One worker thread per model that merges the chunks of requests waiting at the same
    time into one ``embed`` call: a room of students sending one sentence each then costs a few
    batched forward passes instead of one pass per student. Each batch starts with a chunk of
    the oldest request (none starves), then takes the requests with the fewest texts left, so
    small requests overtake big ones. A merged call that fails is retried chunk by chunk, so one
    bad request fails alone; cancelled chunks (their client hung up) are skipped."""

    def __init__(self, name: str, model: Embedder, max_queued: int) -> None:
        self.name, self.model, self.max_queued = name, model, max_queued
        self._jobs: list[_Job] = []
        self._queued = 0
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def queued(self) -> int:
        """Texts waiting for the model (not yet in a forward pass)."""
        return self._queued

    def submit(self, texts: list[str]) -> _Job:
        """Queue ``texts``; raises a 503 ``APIError`` when the model's queue is full."""
        parts = deque((chunk, Future[np.ndarray]()) for chunk in _chunks(texts))
        job = _Job(parts, [future for _, future in parts], len(texts))
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
            if self._thread is None:
                self._closed = False
                self._thread = threading.Thread(target=self._work, daemon=True)
                self._thread.start()
            self._jobs.append(job)
            self._queued += len(texts)
            self._ready.notify()
        return job

    def cancel(self, job: _Job) -> None:
        """Drop the chunks of ``job`` not yet started (a chunk being embedded finishes)."""
        with self._ready:
            for _, future in job.parts:
                future.cancel()
            if job in self._jobs:
                self._jobs.remove(job)
            self._queued -= job.left
            job.parts.clear()
            job.left = 0

    def close(self) -> None:
        """Cancel what waits and stop the worker (a later ``submit`` starts a new one)."""
        with self._ready:
            for job in self._jobs:
                for _, future in job.parts:
                    future.cancel()
                job.parts.clear()
                job.left = 0
            self._jobs.clear()
            self._queued = 0
            self._closed = True
            self._ready.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            if batch:
                self._run(batch)

    def _take(self) -> list[tuple[list[str], Future[np.ndarray]]] | None:
        with self._ready:
            while not self._jobs and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            batch: list[tuple[list[str], Future[np.ndarray]]] = []
            count = chars = 0
            while self._jobs and count < BATCH_TEXTS and chars < BATCH_CHARS:
                job = min(self._jobs, key=lambda j: j.left) if batch else self._jobs[0]
                texts, future = job.parts.popleft()
                job.left -= len(texts)
                self._queued -= len(texts)
                if not job.parts:
                    self._jobs.remove(job)
                if future.set_running_or_notify_cancel():
                    batch.append((texts, future))
                    count += len(texts)
                    chars += sum(map(len, texts))
            return batch

    def _run(self, batch: list[tuple[list[str], Future[np.ndarray]]]) -> None:
        try:
            vectors = self.model.embed([t for texts, _ in batch for t in texts])
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for part in batch:
                self._run([part])
            return
        start = 0
        for texts, future in batch:
            future.set_result(vectors[start : start + len(texts)])
            start += len(texts)


async def _until_disconnect(receive: Receive) -> None:
    # With the body read, uvicorn's receive() returns only once the client has gone.
    while (await receive())["type"] != "http.disconnect":
        pass


async def _vectors(request: Request, batcher: _Batcher, job: _Job) -> np.ndarray | None:
    """The vectors of ``job`` (raising its first failed chunk's error), or None when the
    client hangs up first; either way no chunk of it stays queued."""
    done = asyncio.gather(*(asyncio.wrap_future(f) for f in job.futures))
    # Cancelled chunks end the gather with CancelledError: mark it seen, so asyncio stays quiet.
    done.add_done_callback(lambda f: f.cancelled() or f.exception())
    gone = asyncio.ensure_future(_until_disconnect(request.receive))
    first: set[asyncio.Future[Any]] = {done, gone}
    try:
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            return None
        return np.concatenate(done.result())
    finally:
        gone.cancel()
        batcher.cancel(job)
        done.cancel()


def create_app(models: Mapping[str, Embedder], settings: ServeSettings | None = None) -> FastAPI:
    """The ASGI app serving ``models`` (name -> loaded embedder) under ``settings``."""
    settings = settings or ServeSettings()
    if not models:
        raise ExplorerError("No models to serve: give at least one loaded embedder.")
    batchers = {
        name: _Batcher(name, model, settings.max_queued_texts) for name, model in models.items()
    }

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

    def authorize(request: Request) -> None:
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
        model = models[name]
        return {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": OWNER,
            "dimensions": model.dims,
            "supports_dimensions": model.supports_mrl,
        }

    def check(body: EmbeddingRequest, name: str | None) -> tuple[str, list[str], int | None]:
        if not name:
            raise APIError(400, "Missing 'model': name one of GET /v1/models.", "model")
        if bad := _unpaired_surrogate(name):
            raise APIError(
                400, f"'model' has an unpaired surrogate ({bad}): send UTF-8 text.", "model"
            )
        if name not in models:
            allowed = ", ".join(models)
            raise APIError(
                404,
                f"The model '{name}' does not exist on this server; available: {allowed}.",
                "model",
                "model_not_found",
            )
        texts = _texts(body.input, settings.max_inputs)
        model = models[name]
        dims = body.dimensions
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
        return name, texts, dims

    def answer(
        name: str, texts: list[str], vectors: np.ndarray, dims: int | None, encoding: str
    ) -> Response:
        if dims is not None:
            vectors = truncate_and_renormalize(vectors, dims)
        tokens = sum(models[name].count_tokens(t) for t in texts)
        data = [
            {"object": "embedding", "index": i, "embedding": v}
            for i, v in enumerate(_encode(vectors, encoding))
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        # A Response skips FastAPI's per-element encoder, which is slow on long float lists.
        return JSONResponse({"object": "list", "data": data, "model": name, "usage": usage})

    async def embed(request: Request, body: EmbeddingRequest, model: str | None) -> Response:
        name, texts, dims = check(body, model)
        job = batchers[name].submit(texts)
        try:
            vectors = await _vectors(request, batchers[name], job)
        except ExplorerError as exc:
            raise APIError(400, str(exc), "input") from None
        if vectors is None:
            return Response(status_code=499)  # the client hung up: nobody reads this
        if len(texts) <= CHUNK_TEXTS:
            return answer(name, texts, vectors, dims, body.encoding_format)
        # JSON for hundreds of vectors takes a while: keep it off the event loop.
        return await run_in_threadpool(answer, name, texts, vectors, dims, body.encoding_format)

    guarded = [Depends(authorize)]

    @app.get("/health")
    def health() -> dict:
        queued = {name: batcher.queued for name, batcher in batchers.items()}
        return {"status": "ok", "queued_texts": queued}

    @app.get("/v1/models", dependencies=guarded)
    def list_models() -> dict:
        return {"object": "list", "data": [card(name) for name in models]}

    @app.get("/v1/models/{name:path}", dependencies=guarded)
    def get_model(name: str) -> dict:
        if name not in models:
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
        "--model", action="append", dest="models", help="serve only this local model (repeat)"
    )
    parser.add_argument("--max-inputs", type=int, default=ServeSettings.max_inputs)
    parser.add_argument("--max-body-bytes", type=int, default=ServeSettings.max_body_bytes)
    parser.add_argument(
        "--max-queued-texts",
        type=int,
        default=ServeSettings.max_queued_texts,
        help="texts that may wait per model; more are refused with 503 (default: %(default)s)",
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
        )
    except ExplorerError as exc:
        parser.error(str(exc))
    models = load_local_models(args.models)
    if not models:
        parser.error("no local model could be loaded; see the warnings above.")
    if args.no_key and not is_loopback(args.host):
        log.warning("Serving %s with no key: anyone who can reach it may use it.", args.host)
    log.info("Serving %s on http://%s:%d/v1", ", ".join(models), args.host, args.port)
    app = create_app(models, settings)
    config = uvicorn_config(app, settings, host=args.host, port=args.port, log_level="info")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
