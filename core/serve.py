"""A classroom embeddings server: the OpenAI embeddings API over this project's local models.

One laptop serves the room; students point the app, or their own notebooks, at it with the
code they would use for OpenAI::

    python -m core.serve --host 0.0.0.0 --port 8000        # teacher
    OpenAI(base_url="http://<teacher>:8000/v1", api_key="-").embeddings.create(
        model="all-MiniLM-L6-v2", input=["a cat", "a dog"])  # student

Routes: ``POST /v1/embeddings``, ``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /health``,
and Azure's ``POST /openai/deployments/{deployment}/embeddings`` (deployment = model), so
Azure client code runs against it too. Errors are OpenAI-style JSON
(``{"error": {"message", "type", "param", "code"}}``). With ``EXPLORER_SERVE_KEY`` set and
``--require-key``, requests must carry that key (``Authorization: Bearer`` or ``api-key``).
"""

from __future__ import annotations

import argparse
import base64
import hmac
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.mrl import truncate_and_renormalize

log = logging.getLogger(__name__)

KEY_ENV = "EXPLORER_SERVE_KEY"
# Most texts merged into one forward pass (requests are never split, so one may exceed it).
BATCH_TEXTS = 256
OWNER = "embeddings-explorer"


@dataclass(frozen=True)
class ServeSettings:
    """Limits of one server: texts per request, request body bytes, and the optional key
    every request must carry (never logged)."""

    max_inputs: int = 2048
    max_body_bytes: int = 4 * 1024 * 1024
    api_key: str | None = field(default=None, repr=False)


class APIError(HTTPException):
    """An error answered as OpenAI does: status, message, and the offending parameter."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(status_code=status, detail=message)
        self.param, self.code, self.kind = param, code, kind


def _error_body(message: str, kind: str, param: str | None, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _too_large(limit: int) -> APIError:
    message = f"The request body is over {limit} bytes; send fewer or shorter texts."
    return APIError(413, message, code="request_too_large")


class _BodyLimit:
    """ASGI middleware refusing bodies over ``limit`` bytes: at once when Content-Length says
    so, else as soon as the streamed bytes pass it (chunked uploads declare no length)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            error = _too_large(self.limit)
            body = _error_body(error.detail, error.kind, None, error.code)
            await JSONResponse(body, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                # An HTTPException while FastAPI reads the body reaches our error handler.
                raise _too_large(self.limit)
            return message

        await self.app(scope, counted, send)


class EmbeddingRequest(BaseModel):
    """The body of ``POST /v1/embeddings``. Token-id arrays are accepted by the schema only so
    that they get a clear refusal."""

    model_config = ConfigDict(extra="allow")

    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


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
        if not str(text).strip():
            where = "'input'" if isinstance(raw, str) else f"'input[{i}]'"
            raise APIError(400, f"{where} is empty: send non-blank text.", "input")
    return [str(t) for t in items]


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


@dataclass(frozen=True)
class _Job:
    texts: list[str]
    result: Future[np.ndarray]


class _Batcher:
    """One worker thread per model that merges the texts of requests waiting at the same time
    into one ``embed`` call: a room of students sending one sentence each then costs a few
    batched forward passes instead of one pass per student. A merged call that fails is
    retried request by request, so one bad request fails alone."""

    def __init__(self, model: Embedder, max_texts: int) -> None:
        self.model, self.max_texts = model, max_texts
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True)
                self._thread.start()
        job = _Job(texts, Future())
        self._queue.put(job)
        return job.result.result()

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=10)
                self._thread = None

    def _work(self) -> None:
        while (first := self._queue.get()) is not None:
            jobs, count = [first], len(first.texts)
            stop = False
            while count < self.max_texts and not self._queue.empty():
                job = self._queue.get()
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                count += len(job.texts)
            self._run(jobs)
            if stop:
                return

    def _run(self, jobs: list[_Job]) -> None:
        try:
            vectors = self.model.embed([t for job in jobs for t in job.texts])
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request
            if len(jobs) == 1:
                jobs[0].result.set_exception(exc)
                return
            for job in jobs:
                self._run([job])
            return
        start = 0
        for job in jobs:
            job.result.set_result(vectors[start : start + len(job.texts)])
            start += len(job.texts)


def create_app(models: Mapping[str, Embedder], settings: ServeSettings | None = None) -> FastAPI:
    """The ASGI app serving ``models`` (name -> loaded embedder) under ``settings``."""
    settings = settings or ServeSettings()
    if not models:
        raise ExplorerError("No models to serve: give at least one loaded embedder.")
    batchers = {name: _Batcher(model, BATCH_TEXTS) for name, model in models.items()}

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
    app.add_middleware(_BodyLimit, limit=settings.max_body_bytes)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, APIError):
            body = _error_body(exc.detail, exc.kind, exc.param, exc.code)
        else:
            body = _error_body(str(exc.detail), "invalid_request_error", None, None)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Embedding request failed")
        message = f"The server failed ({type(exc).__name__}); the presenter can see the log."
        return JSONResponse(_error_body(message, "server_error", None, None), status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        if first.get("type") == "json_invalid":
            message = "The request body is not valid JSON."
            param = None
        else:
            param = ".".join(str(p) for p in first.get("loc", ())[1:2]) or None
            message = f"Invalid value for '{param}': {first.get('msg', 'invalid')}."
        return JSONResponse(
            _error_body(message, "invalid_request_error", param, None), status_code=400
        )

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

    def embed(body: EmbeddingRequest, name: str | None) -> JSONResponse:
        if not name:
            raise APIError(400, "Missing 'model': name one of GET /v1/models.", "model")
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
        try:
            vectors = batchers[name].embed(texts)
            if dims is not None:
                vectors = truncate_and_renormalize(vectors, dims)
        except ExplorerError as exc:
            raise APIError(400, str(exc), "input") from None
        tokens = sum(model.count_tokens(t) for t in texts)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        # A Response skips FastAPI's per-element encoder, which is slow on long float lists.
        return JSONResponse({"object": "list", "data": data, "model": name, "usage": usage})

    guarded = [Depends(authorize)]

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

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
    def embeddings(body: EmbeddingRequest) -> JSONResponse:
        return embed(body, body.model)

    @app.post("/openai/deployments/{deployment}/embeddings", dependencies=guarded)
    def azure_embeddings(deployment: str, body: EmbeddingRequest) -> JSONResponse:
        return embed(body, deployment)

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


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``app`` with uvicorn on a free port of ``host`` in a background thread; yields the
    base URL (``http://127.0.0.1:<port>``) and stops the server on exit."""
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) on sockets that do, and
    # with Nagle on every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
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


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m core.serve [--host H] [--port P] [--model NAME ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m core.serve", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 serves the room (default: this machine only)",
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--model", action="append", dest="models", help="serve only this local model (repeat)"
    )
    parser.add_argument("--max-inputs", type=int, default=ServeSettings.max_inputs)
    parser.add_argument("--max-body-bytes", type=int, default=ServeSettings.max_body_bytes)
    parser.add_argument(
        "--require-key",
        action="store_true",
        help=f"require the key in ${KEY_ENV} (kept off the command line, where ps shows it)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    key = os.environ.get(KEY_ENV) or None
    if args.require_key and not key:
        parser.error(f"--require-key needs the key in the environment variable {KEY_ENV}.")
    models = load_local_models(args.models)
    if not models:
        parser.error("no local model could be loaded; see the warnings above.")
    required = key if args.require_key else None
    settings = ServeSettings(args.max_inputs, args.max_body_bytes, required)
    log.info("Serving %s on http://%s:%d/v1", ", ".join(models), args.host, args.port)
    uvicorn.run(create_app(models, settings), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
