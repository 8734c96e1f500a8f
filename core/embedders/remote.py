"""Hosted embedding models (OpenAI, Azure OpenAI, GitHub Models, Ollama, any OpenAI-compatible
server) behind the same ``Embedder`` interface as the local models.

Every request goes through the ``openai`` package. Around it this module adds what a live
demo needs: batches within the API's limits, retries with backoff on 429/5xx/timeouts that
honour ``Retry-After``, an on-disk cache (``core.embedcache``) so a re-run costs no tokens and
survives a dropped network, a token estimate before spending anything, progress callbacks,
and one ``ExplorerError`` with a clean message for every failure. Keys never appear in
messages, logs or cache files; errors are raised outside ``except`` blocks so that no SDK
exception (whose request carries the key in its headers) hangs off them as context.
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import email.utils
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import openai

from core.embedcache import CacheSpace, EmbeddingCache
from core.embedders.base import Embedder
from core.embedders.providers import (
    OPENAI_MAX_TOKENS,
    Provider,
    RemoteConfig,
    configs_from_env,
    load_env,
)
from core.errors import ExplorerError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]

# Without tiktoken, ceil(UTF-8 bytes / 3) over-counts OpenAI's tokens (about 4 bytes each in
# English), so batches planned with it stay within the limits.
BYTES_PER_TOKEN = 3
# Seconds to wait for tiktoken to load its encoding: it downloads it on first use, which must
# not hang an offline classroom.
TIKTOKEN_LOAD_SECONDS = 3.0
# Placeholder sent as the key to endpoints that need none. Passing something explicit also
# stops the SDK from falling back to OPENAI_API_KEY, which would hand a real key to a local
# or classroom server.
NO_KEY = "no-key-needed"
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
# Text embedded once to learn the output length of a model the catalogue does not know.
PROBE_TEXT = "dimension probe"

_progress: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar(
    "remote_embed_progress", default=None
)


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenCounter:
    """Counts and truncates tokens: exactly with a tiktoken encoding, else by the byte
    estimate."""

    encoding: Any | None = None

    @property
    def exact(self) -> bool:
        return self.encoding is not None

    def count(self, text: str) -> int:
        """Tokens in ``text`` (at least 1)."""
        if self.encoding is not None:
            return max(1, len(self.encoding.encode(text)))
        return max(1, math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN))

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of ``text`` within ``max_tokens``."""
        if self.encoding is not None:
            return str(self.encoding.decode(self.encoding.encode(text)[:max_tokens]))
        cut = text.encode("utf-8")[: max_tokens * BYTES_PER_TOKEN]
        return cut.decode("utf-8", errors="ignore")


_counters: dict[str | None, TokenCounter] = {}
_counters_lock = threading.Lock()


def _load_tiktoken(name: str) -> Any | None:
    """tiktoken's ``name`` encoding if tiktoken is installed and the encoding loads within
    ``TIKTOKEN_LOAD_SECONDS``; else None."""
    try:
        import tiktoken
    except ImportError:
        return None
    result: list[Any] = []

    def load() -> None:
        try:
            result.append(tiktoken.get_encoding(name))
        except Exception as exc:  # noqa: BLE001 - any failure means "estimate instead"
            log.info("tiktoken could not load %s (%s); estimating tokens", name, exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(TIKTOKEN_LOAD_SECONDS)
    return result[0] if result else None


def token_counter(tokenizer: str | None) -> TokenCounter:
    """The counter for a tiktoken encoding name (None: the estimate), loaded once."""
    with _counters_lock:
        if tokenizer not in _counters:
            encoding = _load_tiktoken(tokenizer) if tokenizer else None
            _counters[tokenizer] = TokenCounter(encoding)
        return _counters[tokenizer]


def plan_batches(token_counts: Sequence[int], max_inputs: int, max_tokens: int) -> list[range]:
    """Split texts, in order, into consecutive requests of at most ``max_inputs`` texts and
    ``max_tokens`` tokens (a single text over ``max_tokens`` goes alone)."""
    if max_inputs < 1 or max_tokens < 1:
        raise ExplorerError(
            f"Batch limits must be >= 1, got max_inputs={max_inputs}, max_tokens={max_tokens}."
        )
    batches: list[range] = []
    start, tokens = 0, 0
    for i, count in enumerate(token_counts):
        if i > start and (i - start >= max_inputs or tokens + count > max_tokens):
            batches.append(range(start, i))
            start, tokens = i, 0
        tokens += count
    if len(token_counts) > start:
        batches.append(range(start, len(token_counts)))
    return batches


@dataclass(frozen=True)
class TokenEstimate:
    """What embedding some texts will cost, before doing it.

    ``tokens`` counts every text; ``tokens_to_send`` only those not in the cache (what the
    provider will bill). ``exact`` is True when tiktoken counted them, False for the
    conservative estimate ceil(UTF-8 bytes / 3).
    """

    texts: int
    tokens: int
    texts_to_send: int
    tokens_to_send: int
    exact: bool


# ---------------------------------------------------------------- failures

_KEYLIKE = re.compile(r"\b(?:sk|ghp|gho|ghu|github_pat)[-_][-_A-Za-z0-9*.]{4,}|\S*\*{3,}\S*")


def _redact(text: str, key: str | None) -> str:
    """``text`` with the key and anything key-like (``sk-...``, masked ``ab***yz``) removed."""
    if key:
        text = text.replace(key, "[key]")
    return _KEYLIKE.sub("[key]", text)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds a response asks us to wait: ``retry-after-ms``, or ``retry-after`` as seconds
    or an HTTP date; None when absent or unreadable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class _Failure:
    """One failed attempt: what to tell the user, whether to try again, and when."""

    message: str
    retry: bool = False
    wait: float | None = None


def _server_message(exc: openai.APIError, key: str | None) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    else:
        message = body
    text = " ".join(str(message or "").split())[:300]
    return f" The server said: {_redact(text, key)}" if text else ""


def _describe(exc: Exception, config: RemoteConfig) -> _Failure:
    """Turn an SDK exception into a key-free message and a retry decision."""
    where = f"{config.spec.label} at {config.endpoint}"
    model = repr(config.deployment or config.model)
    if isinstance(exc, openai.APITimeoutError):
        return _Failure(f"{where} did not answer within {config.timeout:g} s.", retry=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = _redact(str(exc.__cause__ or exc), config.api_key)[:200]
        return _Failure(
            f"Could not connect to {where} ({cause}). Check the address and the network; "
            "texts embedded before still come from the cache.",
            retry=True,
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        said = _server_message(exc, config.api_key)
        if status == 401:
            who = "key" if config.api_key else "request without a key"
            return _Failure(
                f"{where} rejected the {who} (401 Unauthorized). Check that the key is "
                "right, not expired, and meant for this endpoint."
            )
        if status == 403:
            return _Failure(
                f"{where} refused access to {model} (403 Forbidden): the key works but may "
                "not use this model or resource."
            )
        if status == 404:
            thing = "deployment" if config.provider is Provider.AZURE else "model"
            return _Failure(
                f"{where} has no {thing} {model} (404 Not Found). Check the {thing} name and "
                f"the endpoint address.{said}"
            )
        if status == 413:
            return _Failure(f"{where} found the request too large (413). Lower max_inputs.{said}")
        if status == 429 or status >= 500:
            wait = retry_after_seconds(exc.response.headers)
            kind = "is rate-limiting us (429)" if status == 429 else f"failed ({status})"
            return _Failure(f"{where} {kind}.{said}", retry=True, wait=wait)
        return _Failure(f"{where} refused the request ({status}).{said}")
    return _Failure(
        f"{where} answered with something that is not an embeddings response "
        f"({type(exc).__name__}). Check that the address is an OpenAI-compatible /v1 endpoint."
    )


# ---------------------------------------------------------------- the embedder


def _entra_token_provider() -> Callable[[], str]:
    """Bearer tokens from Microsoft Entra ID (``az login``, managed identity...)."""
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise ExplorerError(
            "Azure OpenAI without a key signs in with Entra ID, which needs the azure-identity "
            "package: `pip install azure-identity` and `az login`, or set AZURE_OPENAI_API_KEY."
        ) from None
    return get_bearer_token_provider(DefaultAzureCredential(), AZURE_SCOPE)


def build_client(config: RemoteConfig) -> openai.OpenAI:
    """An ``openai`` client for ``config``; retries are ours, so the SDK's are off."""
    if config.provider is Provider.AZURE:
        auth: dict[str, Any] = (
            {"api_key": config.api_key}
            if config.api_key
            else {"azure_ad_token_provider": _entra_token_provider()}
        )
        return openai.AzureOpenAI(
            azure_endpoint=config.base_url or "",
            azure_deployment=config.deployment or config.model,
            api_version=config.api_version,
            timeout=config.timeout,
            max_retries=0,
            **auth,
        )
    return openai.OpenAI(
        api_key=config.api_key or NO_KEY,
        base_url=config.base_url or config.spec.base_url,
        timeout=config.timeout,
        max_retries=0,
    )


def _decode(embedding: object) -> np.ndarray:
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding, validate=True), dtype="<f4")
    return np.asarray(embedding, dtype=np.float32)


class RemoteEmbedder(Embedder):
    """A hosted model reached through the ``openai`` package, with a disk cache.

    ``embed(texts)`` is the usual ``Embedder`` call; ``embed_with_progress`` also reports
    ``(texts done, total)`` after the cache lookup and after each request. ``sleep`` is the
    pause between retries (tests pass a recorder).
    """

    local = False

    def __init__(
        self,
        config: RemoteConfig,
        cache: EmbeddingCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.cache = cache or EmbeddingCache()
        self._sleep = sleep
        info = config.info
        self.name = config.name
        self._dims: int | None = config.dimensions or (info.dims if info else config.native_dims)
        self.normalized = info.normalized if info else False
        self.supports_mrl = bool(info and info.supports_dimensions)
        self.max_tokens = info.max_tokens if info else OPENAI_MAX_TOKENS
        self.description = (
            info.description if info else f"{config.model} served by {config.spec.label}."
        )
        # Vectors cached by core.vectors are keyed by name and version: the endpoint's
        # fingerprint here keeps two servers' same-named models apart.
        self.version = f"remote-{self.space.key[:12]}"
        self.counter = token_counter(info.tokenizer if info else None)
        self.tokens_spent = 0
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()

    @property
    def space(self) -> CacheSpace:
        return CacheSpace(self.config.endpoint, self.config.model, self.config.dimensions)

    @property
    def dims(self) -> int:
        """Output length; for a model the catalogue does not know, one request finds it."""
        if self._dims is None:
            self._embed([PROBE_TEXT])
        assert self._dims is not None  # set by the probe's answer
        return self._dims

    @dims.setter
    def dims(self, value: int) -> None:
        # Embedder declares dims as a plain attribute, so the property must be writable.
        self._dims = value

    def __repr__(self) -> str:
        # Not self.dims: showing an embedder must not send a probe request.
        return f"RemoteEmbedder(name={self.name!r}, dims={self._dims})"

    def with_dimensions(self, dimensions: int | None) -> RemoteEmbedder:
        """The same model asked for ``dimensions``-long vectors (the API's own MRL)."""
        config = dataclasses.replace(self.config, dimensions=dimensions)
        return RemoteEmbedder(config, self.cache, self._sleep)

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs (tiktoken when it loads offline, else the byte estimate)."""
        return self.counter.count(text)

    def estimate_tokens(self, texts: Sequence[str]) -> TokenEstimate:
        """Tokens embedding ``texts`` would cost, in total and after the cache."""
        items = list(texts)
        counts = [min(self.count_tokens(t), self.max_tokens) for t in items]
        cached = self.cache.get(self.space, items)
        unsent = {t: c for t, c, v in zip(items, counts, cached, strict=True) if v is None}
        return TokenEstimate(
            texts=len(items),
            tokens=sum(counts),
            texts_to_send=len(unsent),
            tokens_to_send=sum(unsent.values()),
            exact=self.counter.exact,
        )

    def embed_with_progress(
        self, texts: Sequence[str] | str, on_progress: ProgressCallback
    ) -> np.ndarray:
        """``embed(texts)``, calling ``on_progress(done, total)`` as texts complete."""
        token = _progress.set(on_progress)
        try:
            return self.embed(texts)
        finally:
            _progress.reset(token)

    def _client_for_requests(self) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                self._client = build_client(self.config)
            return self._client

    def _fit(self, text: str) -> str:
        if self.count_tokens(text) <= self.max_tokens:
            return text
        log.warning("%s: a text is over %d tokens; truncating it", self.name, self.max_tokens)
        return self.counter.truncate(text, self.max_tokens)

    def _check_width(self, width: int) -> None:
        if self._dims is None:
            self.dims = width
        elif width != self._dims:
            raise ExplorerError(
                f"{self.name} returned {width}-dimensional vectors, expected {self._dims}. "
                "Check the model name and native_dims."
            )

    def _embed(self, texts: list[str]) -> np.ndarray:
        on_progress = _progress.get()
        total = len(texts)
        rows: list[np.ndarray | None] = self.cache.get(self.space, texts)
        for row in rows:
            if row is not None:
                self._check_width(row.size)
        todo: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            if row is None:
                todo.setdefault(texts[i], []).append(i)
        done = total - sum(len(v) for v in todo.values())
        if on_progress:
            on_progress(done, total)
        unique = list(todo)
        sent = [self._fit(t) for t in unique]
        counts = [self.count_tokens(t) for t in sent]
        limit = self.config.max_inputs or self.config.spec.max_inputs
        for batch in plan_batches(counts, limit, self.config.spec.max_request_tokens):
            vectors = self._request([sent[i] for i in batch])
            self.cache.put(self.space, [unique[i] for i in batch], vectors)
            for j, i in enumerate(batch):
                for position in todo[unique[i]]:
                    rows[position] = vectors[j]
                done += len(todo[unique[i]])
            if on_progress:
                on_progress(done, total)
        return np.stack([r for r in rows if r is not None])

    def _request(self, batch: list[str]) -> np.ndarray:
        """One batch through the API, retrying what is worth retrying; ``(len(batch), dims)``."""
        client = self._client_for_requests()
        config = self.config
        extra: dict[str, Any] = {"encoding_format": config.spec.wire_format}
        if config.dimensions:
            extra["dimensions"] = config.dimensions
        attempt = 0
        while True:
            attempt += 1
            try:
                response = client.embeddings.create(input=batch, model=config.model, **extra)
                vectors, used = self._parse(response, len(batch))
            except ExplorerError:
                raise
            except (openai.OpenAIError, ValueError, TypeError, AttributeError) as exc:
                failure = _describe(exc, config)
            else:
                self.tokens_spent += used
                return vectors
            # Raised here, outside the except block, so the SDK exception is not its context.
            if not failure.retry:
                raise ExplorerError(failure.message)
            if failure.wait is not None and failure.wait > config.max_retry_after:
                raise ExplorerError(
                    f"{failure.message} It asks to wait {failure.wait:.0f} s, longer than the "
                    f"{config.max_retry_after:g} s we accept; try again later."
                )
            if attempt > config.max_retries:
                raise ExplorerError(
                    f"{failure.message} Gave up after {attempt} attempts; try again later."
                )
            delay = failure.wait
            if delay is None:
                delay = min(config.backoff * 2 ** (attempt - 1), config.max_backoff)
            log.info("%s: attempt %d failed, retrying in %.2f s", self.name, attempt, delay)
            self._sleep(delay)

    def _parse(self, response: Any, expected: int) -> tuple[np.ndarray, int]:
        """Vectors in input order and the billed tokens, or ValueError if malformed."""
        data = sorted(response.data, key=lambda d: d.index)
        if [d.index for d in data] != list(range(expected)):
            raise ValueError(f"expected {expected} embeddings, got {len(data)}")
        vectors = np.stack([_decode(d.embedding) for d in data])
        if vectors.ndim != 2 or not np.all(np.isfinite(vectors)):
            raise ValueError("embeddings are not finite numbers of one length")
        self._check_width(vectors.shape[1])
        usage = getattr(response, "usage", None)
        return vectors, int(getattr(usage, "prompt_tokens", 0) or 0)


def configured_remote_embedders(
    env: Mapping[str, str] | None = None, cache: EmbeddingCache | None = None
) -> list[Embedder]:
    """Remote models usable with ``env`` (default: the environment over ``.env``).

    Nothing is contacted: this only reads configuration. A provider with bad settings is
    skipped with a logged warning (its message names the setting, never a key).
    """
    result = configs_from_env(load_env() if env is None else env)
    for problem in result.problems:
        log.warning("Remote models: %s", problem)
    return [RemoteEmbedder(c, cache) for c in result.configs]
