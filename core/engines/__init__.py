"""Nearest-neighbour engines behind one interface: every row of the talk's ANN table.

Use::

    import core
    for info in core.list_engines():         # every row, available here or not
        print(info.name, info.algorithm, info.where_deployed, info.available, info.reason)
    with core.get_engine("hnswlib", M=16, ef_construction=200, ef=50) as engine:
        engine.build(vectors, metric="cosine", progress=report, should_stop=cancelled)
        result = engine.search(queries, k=10, ef=100)   # core.topk.SearchResult
        engine.index_bytes, engine.build_seconds, engine.train_seconds

The contract (:mod:`core.engines.base`):

- :func:`list_engines` returns one :class:`EngineInfo` per engine: ``name``, ``algorithm``,
  ``library``, ``where_deployed`` (the talk's column), ``metrics``, ``build_params`` and
  ``search_params`` as :class:`ParamSpec` (the library's own ``name`` and ``default``, the
  talk's value as ``talk``, ``min``/``max``, ``help``, ``kind``), ``available`` and ``reason``.
- :func:`get_engine` takes build and search parameters by their library names; an unknown
  engine or parameter, a value out of range, or an engine that cannot run here raises
  :class:`core.errors.ExplorerError` naming the valid choices (or the reason).
- :meth:`Engine.build` takes ``(n, d)`` vectors (row ``i`` gets id ``i``) and a metric; a
  metric the engine lacks raises ExplorerError naming the supported ones. Vectors are added
  in chunks of ``engine.chunk_rows``: ``progress(fraction, message)`` after each and
  ``should_stop()`` before each (True raises :class:`core.corpora.Cancelled`, leaving the
  engine unbuilt). A library call that shows no progress (diskann's graph, faiss's k-means
  on a large sample) runs in a child process (``Engine._in_child``) that ``should_stop()``
  kills; meanwhile ``progress`` is told the seconds so far every 0.1 s (a page's bar update,
  where Streamlit stops a cancelled or closed run), and the child is stopped past a time
  limit growing with its input (:func:`core.engines.base.child_time_limit`). Cosine is the
  inner product of unit vectors: every engine indexes a normalised copy and normalises each
  query, and returns cosine similarities.
- :meth:`Engine.search` returns the same :class:`core.topk.SearchResult` as
  :func:`core.search.exhaustive_search` (``ids`` ``(q, k)`` int64, ``scores`` similarities for
  cosine/dot, L2 distances for euclidean, ``seconds``; equal scores in id order). Search
  parameters may change on every call without rebuilding. ``k`` above the number of vectors
  raises the same error as exhaustive search (:func:`core.topk.check_k`); an engine that
  finds fewer than ``k`` neighbours raises ExplorerError asking for a wider search.
- ``index_bytes`` is measured (serialised index or its files), ``build_seconds`` includes
  ``train_seconds`` (None where nothing trains). ``close()`` frees memory and files, may be
  called twice, and engines are context managers. A built engine may be searched from several
  threads at once (e.g. shared by sessions), each call with its own search parameters.

Adding engines from another module (e.g. pgvector): a module listed in ``_PLUGINS`` defines
``REGISTRATIONS``, a tuple of :class:`Registration` (``info``, ``factory``, ``check``). It is
imported when the engines are first listed, so it must import without its optional
dependencies, and ``check()`` (why it cannot run, or None) must be cheap or cache its answer.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache

from core.engines.base import Engine, EngineInfo, ParamSpec, Registration
from core.engines.chroma import ChromaEngine, chroma_reason
from core.engines.diskann import DiskannEngine, diskann_reason
from core.engines.exact import ExhaustiveEngine
from core.engines.faisslib import (
    FaissFlatEngine,
    FaissHnswEngine,
    FaissIvfFlatEngine,
    FaissIvfPqEngine,
    FaissIvfPqRerankEngine,
    faiss_reason,
)
from core.engines.hnsw import HnswlibEngine
from core.errors import ExplorerError

log = logging.getLogger(__name__)

_BUILTIN: tuple[Registration, ...] = (
    Registration(ExhaustiveEngine.info, ExhaustiveEngine),
    Registration(HnswlibEngine.info, HnswlibEngine),
    *(
        Registration(engine.info, engine, faiss_reason)
        for engine in (
            FaissFlatEngine,
            FaissHnswEngine,
            FaissIvfFlatEngine,
            FaissIvfPqEngine,
            FaissIvfPqRerankEngine,
        )
    ),
    Registration(DiskannEngine.info, DiskannEngine, diskann_reason),
    Registration(ChromaEngine.info, ChromaEngine, chroma_reason),
)

# Modules that add engines with a REGISTRATIONS tuple, imported on first use.
_PLUGINS: tuple[str, ...] = ("core.engines.pgvector",)


@cache
def _plugin_registrations() -> tuple[Registration, ...]:
    found: list[Registration] = []
    for module in _PLUGINS:
        try:
            found.extend(importlib.import_module(module).REGISTRATIONS)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            log.info("Engine module %s is not there; its engines are not listed", module)
    return tuple(found)


def registrations() -> dict[str, Registration]:
    """Every engine's registration by name, in the talk's table order."""
    return {r.info.name: r for r in (*_BUILTIN, *_plugin_registrations())}


def list_engines() -> list[EngineInfo]:
    """Every engine, available here or not (then ``reason`` says why)."""
    return [r.current() for r in registrations().values()]


def get_engine(name: str, **params: object) -> Engine:
    """A new, unbuilt engine ``name`` with build and default search ``params`` (library
    names; missing ones take the library's defaults)."""
    known = registrations()
    if name not in known:
        raise ExplorerError(f"Unknown engine {name!r}; choose one of: {', '.join(known)}.")
    reason = known[name].check()
    if reason is not None:
        raise ExplorerError(f"The {name} engine cannot run here: {reason}")
    return known[name].factory(**params)


__all__ = [
    "Engine",
    "EngineInfo",
    "ParamSpec",
    "Registration",
    "get_engine",
    "list_engines",
    "registrations",
]
