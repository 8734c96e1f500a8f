"""The engine interface: what every nearest-neighbour engine describes (:class:`EngineInfo`,
:class:`ParamSpec`), what it does (:class:`Engine`), and how it is registered
(:class:`Registration`). See :mod:`core.engines` for the contract in one place.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from core.corpora import Progress, ShouldStop, check_stop
from core.errors import ExplorerError
from core.metrics import Metric, as_matrix, check_same_width, row_norms
from core.paths import cache_dir
from core.topk import SearchResult, check_k

THREADS_ENV = "EXPLORER_ENGINE_THREADS"

# Vectors added to an index at a time: progress is reported and cancel checked between chunks.
CHUNK_ROWS = 8_192
# How often a library call running in a child process checks should_stop and reports that
# it is still running (the caller's progress callback: a page's bar, whose update also lets
# the page's server stop a run that was cancelled or whose browser tab was closed).
POLL_SECONDS = 0.1
# A library call in a child process is stopped after CHILD_BASE_SECONDS plus
# CHILD_SECONDS_PER_VALUE per float it works on (1M x 384: about an hour), so nothing holds
# the server's one long-job slot without end.
CHILD_BASE_SECONDS = 300.0
CHILD_SECONDS_PER_VALUE = 1e-5

T = TypeVar("T")

ParamValue = int | float


def engine_threads() -> int:
    """Threads one engine may use to build or search: ``$EXPLORER_ENGINE_THREADS`` clamped to
    1 … CPU count, default 1, so one user cannot take every core of a shared server (on a
    loaded 2-core machine, faiss's OpenMP threads waiting for each other made 2 threads about
    4× slower than 1)."""
    try:
        wanted = int(os.environ.get(THREADS_ENV, "1"))
    except ValueError:
        wanted = 1
    return max(1, min(wanted, os.cpu_count() or 1))


def child_time_limit(values: int) -> float:
    """Seconds a library call in a child process may run on ``values`` floats."""
    return CHILD_BASE_SECONDS + CHILD_SECONDS_PER_VALUE * values


def engines_dir() -> Path:
    """Where engines keep their index files: ``<cache>/engines``."""
    path = cache_dir() / "engines"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ParamSpec:
    """One build or search parameter, under the library's own name.

    Attributes:
        name: the library's name for it (``M``, ``efSearch``, ``nprobe``, ``complexity`` …).
        default: the library's own default.
        talk: the value the talk uses, or None when the talk does not name one.
        min, max: the accepted range, inclusive.
        help: one sentence on what raising it does.
        kind: ``int`` or ``float``.
    """

    name: str
    default: ParamValue
    talk: ParamValue | None
    min: ParamValue
    max: ParamValue
    help: str
    kind: type = int

    def check(self, value: object) -> ParamValue:
        """``value`` as this parameter's kind, or an ExplorerError naming the valid range."""
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ExplorerError(f"{self.name}={value!r} must be a number.")
        if self.kind is int and float(value) != int(value):
            raise ExplorerError(f"{self.name}={value!r} must be a whole number.")
        number: ParamValue = int(value) if self.kind is int else float(value)
        if not self.min <= number <= self.max:
            raise ExplorerError(
                f"{self.name}={number} is out of range: choose {self.min} to {self.max}."
            )
        return number


@dataclass(frozen=True)
class EngineInfo:
    """One row of the talk's ANN table: what an engine is and whether it runs here.

    Attributes:
        name: the key for :func:`core.engines.get_engine`, e.g. ``"faiss-ivfflat"``.
        algorithm: ``"exact"``, ``"HNSW"``, ``"IVFFlat"``, ``"IVF-PQ"``, ``"Vamana (DiskANN)"``.
        library: the package doing the work, e.g. ``"faiss-cpu 1.15.1"``.
        where_deployed: the talk's column: the services that run this algorithm.
        metrics: the :class:`core.metrics.Metric` values it supports.
        build_params, search_params: what :meth:`Engine.build` and :meth:`Engine.search` take.
        summary: one sentence for a table or a tooltip.
        available: whether it can run in this process.
        reason: why not, when it cannot.
    """

    name: str
    algorithm: str
    library: str
    where_deployed: str
    metrics: tuple[str, ...]
    build_params: tuple[ParamSpec, ...] = ()
    search_params: tuple[ParamSpec, ...] = ()
    summary: str = ""
    available: bool = True
    reason: str | None = None

    @property
    def params(self) -> tuple[ParamSpec, ...]:
        return self.build_params + self.search_params

    def defaults(self) -> dict[str, ParamValue]:
        """Every parameter at the library's default."""
        return {p.name: p.default for p in self.params}

    def talk_values(self) -> dict[str, ParamValue]:
        """The parameters the talk names, at the talk's values."""
        return {p.name: p.talk for p in self.params if p.talk is not None}


def check_params(
    engine: str, specs: tuple[ParamSpec, ...], given: dict[str, object]
) -> dict[str, ParamValue]:
    """``given`` checked against ``specs`` (an ExplorerError names an unknown parameter and the
    valid ones, or a value out of range); missing ones take their defaults."""
    known = {p.name: p for p in specs}
    unknown = sorted(set(given) - set(known))
    if unknown:
        valid = ", ".join(known) or "none"
        raise ExplorerError(
            f"{engine} has no parameter {', '.join(unknown)}; its parameters are: {valid}."
        )
    return {name: spec.check(given.get(name, spec.default)) for name, spec in known.items()}


def normalized(x: np.ndarray) -> np.ndarray:
    """A float32 copy of ``(n, d)`` ``x`` with unit rows (a zero row raises, naming it)."""
    rows = np.asarray(x, dtype=np.float32)
    return rows / row_norms(rows, "vectors")[:, np.newaxis]


class Engine(ABC):
    """A nearest-neighbour index behind one interface (see :mod:`core.engines`).

    Subclasses set ``info`` and implement :meth:`_build`, :meth:`_search` and
    :meth:`_release`; this class checks every input, normalises for cosine, times, sorts
    ties by the lower id and keeps the sizes. Cosine is computed as the inner product of unit
    vectors: the engine indexes a normalised copy and normalises every query.
    """

    info: ClassVar[EngineInfo]

    def __init__(self, **params: object) -> None:
        self._params = check_params(self.info.name, self.info.params, params)
        self._metric: Metric | None = None
        self._count = 0
        self._dims = 0
        self._build_seconds = 0.0
        self._train_seconds: float | None = None
        self.chunk_rows = CHUNK_ROWS
        # What the last build changed or should be known about it (e.g. a lowered nlist).
        self.notes: list[str] = []
        # The running build's callbacks, for steps after the chunks (an index made last).
        self._progress: Progress | None = None
        self._should_stop: ShouldStop | None = None
        self._done = 0.0  # the running build's share of vectors added, 0 … 1

    # ---------------------------------------------------------------- what subclasses write

    @abstractmethod
    def _build(
        self, vectors: np.ndarray, metric: Metric, chunks: Callable[[], Iterator[slice]]
    ) -> None:
        """Index the float32 ``(n, d)`` ``vectors`` (unit rows for cosine), adding them in the
        row ranges ``chunks()`` yields (it reports progress and raises Cancelled)."""

    @abstractmethod
    def _search(
        self, queries: np.ndarray, k: int, params: dict[str, ParamValue]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, scores)`` of the float32 ``(q, d)`` queries, both ``(q, k)``: similarities
        for cosine and dot, L2 distance for euclidean."""

    def _query_seconds(self) -> float | None:
        """Seconds the last :meth:`_search` of this thread spent querying, when the call also
        pays set-up a deployed system would not (a database connection); None: the whole call."""
        return None

    def _in_child(self, step: str, values: int, job: Callable[..., T], *args: Any) -> T:
        """``job(*args)`` run by :func:`core.child.run_in_child`: for a library call (``step``,
        e.g. "building the Vamana graph", on ``values`` floats) that shows no progress and
        cannot be stopped in this process. Every ``POLL_SECONDS`` the running build's
        ``should_stop()`` is asked (True kills the child and raises
        :class:`core.corpora.Cancelled`) and its ``progress`` is told the seconds so far; past
        :func:`child_time_limit` the child is killed and :class:`ExplorerError` raised."""
        from core.child import run_in_child

        should_stop, progress = self._should_stop, self._progress

        def wait(elapsed: float) -> None:
            check_stop(should_stop)
            if progress is not None:
                progress(self._done, f"{self.name}: {step} (no progress to show), {elapsed:.0f} s…")

        return run_in_child(
            job, *args, wait=wait, poll=POLL_SECONDS, time_limit=child_time_limit(values)
        )

    @abstractmethod
    def _release(self) -> None:
        """Free the index (memory, files); called on close and after a failed or cancelled
        build, so it must cope with a partly built one."""

    @abstractmethod
    def _index_bytes(self) -> int:
        """Size of the built index in bytes, as the library reports it."""

    # ---------------------------------------------------------------- the interface

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def params(self) -> dict[str, ParamValue]:
        """Build and default search parameters, after checking."""
        return dict(self._params)

    @property
    def built(self) -> bool:
        return self._metric is not None

    @property
    def metric(self) -> Metric:
        return self._require_built()

    @property
    def count(self) -> int:
        """Number of indexed vectors."""
        return self._count

    @property
    def dims(self) -> int:
        return self._dims

    @property
    def build_seconds(self) -> float:
        """Wall-clock seconds of the last build, training included."""
        return self._build_seconds

    @property
    def train_seconds(self) -> float | None:
        """Seconds spent training (IVF's k-means, PQ's codebooks), None if nothing trains."""
        return self._train_seconds

    @property
    def index_bytes(self) -> int:
        """Measured size of the index (serialised or its files), in bytes."""
        self._require_built()
        return self._index_bytes()

    def build(
        self,
        vectors: np.ndarray | list,
        metric: str | Metric = Metric.COSINE,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> Self:
        """Index the ``(n, d)`` ``vectors`` (row ``i`` gets id ``i``) for ``metric``.

        ``progress(fraction, message)`` is called as chunks are added; ``should_stop()``
        returning True raises :class:`core.corpora.Cancelled` between chunks, leaving the
        engine unbuilt. Building again replaces the index. Returns the engine.
        """
        m = Metric.coerce(metric)
        if m.value not in self.info.metrics:
            raise ExplorerError(
                f"{self.name} does not support the {m.value} metric; "
                f"use one of: {', '.join(self.info.metrics)}."
            )
        data = as_matrix(vectors, "corpus vectors")
        if data.shape[0] == 0:
            raise ExplorerError("The corpus is empty: there is nothing to index.")
        data = normalized(data) if m is Metric.COSINE else np.asarray(data, dtype=np.float32)
        self.close()
        self.notes = []
        n = data.shape[0]

        def chunks() -> Iterator[slice]:
            for lo in range(0, n, self.chunk_rows):
                check_stop(should_stop)
                yield slice(lo, min(lo + self.chunk_rows, n))
                done = min(lo + self.chunk_rows, n)
                self._done = done / n
                if progress is not None:
                    progress(self._done, f"{self.name}: {done:,} of {n:,} vectors indexed")

        start = time.perf_counter()
        check_stop(should_stop)
        self._progress, self._should_stop, self._done = progress, should_stop, 0.0
        try:
            self._build(np.ascontiguousarray(data), m, chunks)
        except BaseException:
            self._release()
            raise
        finally:
            self._progress = self._should_stop = None
        self._build_seconds = time.perf_counter() - start
        self._metric, self._count, self._dims = m, n, int(data.shape[1])
        return self

    def search(
        self, queries: np.ndarray | list, k: int = 10, **search_params: object
    ) -> SearchResult:
        """The ``k`` nearest indexed rows of each of the ``(q, d)`` queries, best first, as
        :func:`core.search.exhaustive_search` returns them (cosine/dot: similarity; euclidean:
        L2 distance). ``search_params`` override the engine's search defaults for this call."""
        m = self._require_built()
        given = {p.name: self._params[p.name] for p in self.info.search_params}
        params = check_params(self.name, self.info.search_params, given | search_params)
        q = as_matrix(queries, "queries")
        check_same_width(
            q,
            self._dims,
            "Queries have {a} dimensions but the index has {b}: embed both with the same model.",
        )
        check_k(k, self._count)
        q = normalized(q) if m is Metric.COSINE else np.ascontiguousarray(q, dtype=np.float32)
        start = time.perf_counter()
        ids, scores = self._search(q, k, {**self._params, **params})
        seconds = self._query_seconds() or time.perf_counter() - start
        ids, scores = np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64)
        if (ids < 0).any():
            raise ExplorerError(
                f"{self.name} found fewer than k={k} neighbours with {params}: "
                "search more widely (raise the search parameters) or lower k."
            )
        # Equal scores come back in any order; use the lower id, as exhaustive search does.
        order = np.lexsort((ids, -scores if m.higher_is_closer else scores), axis=1)
        return SearchResult(
            np.take_along_axis(ids, order, axis=1),
            np.take_along_axis(scores, order, axis=1),
            seconds,
            m.value,
            m.higher_is_closer,
        )

    def close(self) -> None:
        """Release the index; safe to call again, and the engine can be built anew."""
        if self._metric is not None:
            self._metric = None
            self._count = self._dims = 0
            self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _require_built(self) -> Metric:
        if self._metric is None:
            raise ExplorerError(f"{self.name} has no index yet: call build(vectors) first.")
        return self._metric


def library(distribution: str) -> str:
    """``"<distribution> <version>"`` as installed, or the name alone when it is not."""
    try:
        return f"{distribution} {metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return distribution


def no_reason() -> str | None:
    """The availability check of an engine that always runs here."""
    return None


@dataclass(frozen=True)
class Registration:
    """How :mod:`core.engines` lists and makes one engine.

    Attributes:
        info: the engine's row, as if available.
        factory: makes an engine from checked keyword parameters (usually the Engine class).
        check: returns why the engine cannot run here, or None; called by ``list_engines``
            and ``get_engine``, so it must be cheap or cache its answer.
    """

    info: EngineInfo
    factory: Callable[..., Engine]
    check: Callable[[], str | None] = field(default=no_reason)

    def current(self) -> EngineInfo:
        """``info`` with ``available`` and ``reason`` as of now."""
        reason = self.check()
        return replace(self.info, available=reason is None, reason=reason)
