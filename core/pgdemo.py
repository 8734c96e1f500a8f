"""What the talk shows in numpy, inside PostgreSQL + pgvector: HNSW and IVFFlat indexes,
quantization (a ``halfvec`` expression index; ``binary_quantize`` with Hamming distance, then
re-ranking the oversampled candidates by exact cosine) and MRL (an index on the first ``m``
dimensions, re-ranked on the full vectors).

Each demo returns the SQL it ran (runnable as shown: the query vector is a corpus row, taken
by id), the first query's rows, the ``EXPLAIN ANALYZE`` plan, the index's size from
``pg_relation_size`` and recall@k against :func:`core.search.exhaustive_search` on the same
vectors. Identifiers come from :mod:`core.pg`'s pattern; values are bound parameters, except
the whole numbers DDL and type modifiers need (``m``, ``lists``, ``halfvec(384)``), which are
range-checked integers rendered as literals (PostgreSQL cannot bind them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import psycopg
from psycopg import ClientCursor, sql

from core import pg
from core.corpora import Progress, ShouldStop
from core.errors import ExplorerError
from core.metrics import Metric
from core.modes import Mode
from core.search import exhaustive_search, recall_at_k


class Demo(Mode):
    """One way of searching the table: exact, an index, or an index plus re-ranking."""

    EXACT = "exact (no index)"
    HNSW = "HNSW"
    IVFFLAT = "IVFFlat"
    HALFVEC = "halfvec HNSW"
    BINARY = "binary HNSW + rerank"
    MRL = "MRL subvector HNSW + rerank"

    @property
    def reranks(self) -> bool:
        return self in (Demo.BINARY, Demo.MRL)


# Operator and operator class of each metric on pgvector's vector type.
_OPS = {
    Metric.COSINE: ("<=>", "vector_cosine_ops"),
    Metric.DOT: ("<#>", "vector_ip_ops"),
    Metric.EUCLIDEAN: ("<->", "vector_l2_ops"),
}


def _whole(name: str, value: int, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not low <= value <= high
    ):
        raise ExplorerError(f"{name}={value!r}: choose a whole number from {low} to {high}.")
    return int(value)


@dataclass(frozen=True)
class Settings:
    """pgvector's parameters, under its own names, with its defaults.

    Build: ``m`` (links per node, 2-100) and ``ef_construction`` (candidates while inserting,
    at least ``2 m``) for HNSW; ``lists`` (IVFFlat's clusters); ``mrl_dims`` (the ``m`` of
    ``subvector(embedding, 1, m)``). Search: ``ef_search`` (``hnsw.ef_search``), ``probes``
    (``ivfflat.probes``) and ``oversample`` (candidates = ``k × oversample`` before the
    re-rank).
    """

    m: int = 16
    ef_construction: int = 64
    lists: int = 100
    mrl_dims: int = 128
    ef_search: int = 40
    probes: int = 1
    oversample: int = 4

    def __post_init__(self) -> None:
        _whole("m", self.m, 2, 100)
        _whole("ef_construction", self.ef_construction, 2 * self.m, 1000)
        _whole("lists", self.lists, 1, 32_768)
        _whole("mrl_dims", self.mrl_dims, 1, pg.MAX_INDEX_DIMS["halfvec"])
        _whole("ef_search", self.ef_search, 1, 1000)
        _whole("probes", self.probes, 1, 32_768)
        _whole("oversample", self.oversample, 1, 100)


def _family(demo: Demo, s: Settings, metric: Metric) -> str:
    """What an index is built on (column or expression, and operator class). PostgreSQL picks
    among indexes of one family by cost alone, so a table keeps one index per family."""
    if demo is Demo.HALFVEC:
        return "half"
    if demo is Demo.BINARY:
        return "bin"
    if demo is Demo.MRL:
        return f"mrl{s.mrl_dims}"
    return {Metric.COSINE: "v", Metric.DOT: "vdot", Metric.EUCLIDEAN: "vl2"}[metric]


def index_name(table: str, demo: Demo, s: Settings, metric: Metric = Metric.COSINE) -> str:
    """The index of ``demo`` on ``table``: ``<table>_<family>_<method and build parameters>``
    (shared by every session that asks for the same one)."""
    method = f"ivf_l{s.lists}" if demo is Demo.IVFFLAT else f"hnsw_m{s.m}_efc{s.ef_construction}"
    return pg.identifier(f"{table}_{_family(demo, s, metric)}_{method}")


def table_prefix(demo: Demo) -> str:
    """IVFFlat gets its own copy of the vectors: on one table, an HNSW and an IVFFlat index
    on the same column would compete for every query (the planner takes the cheaper)."""
    return "ivf" if demo is Demo.IVFFLAT else "vec"


def _check_dims(demo: Demo, dims: int, s: Settings) -> None:
    kind, width = {
        Demo.HALFVEC: ("halfvec", dims),
        Demo.BINARY: ("bit", dims),
        Demo.MRL: ("halfvec", s.mrl_dims),
    }.get(demo, ("vector", dims))
    if width > pg.MAX_INDEX_DIMS[kind]:
        raise ExplorerError(
            f"{demo.value}: pgvector indexes {kind} up to {pg.MAX_INDEX_DIMS[kind]:,} "
            f"dimensions, these have {width:,}. Try halfvec, binary or MRL."
        )
    if demo is Demo.MRL and s.mrl_dims > dims:
        raise ExplorerError(f"mrl_dims={s.mrl_dims} is more than the {dims} dimensions.")


def index_ddl(
    schema: str, table: str, dims: int, demo: Demo, s: Settings, metric: Metric = Metric.COSINE
) -> sql.Composed:
    """``CREATE INDEX`` for ``demo`` on ``schema.table`` (``vector(dims)`` column
    ``embedding``)."""
    if demo is Demo.EXACT:
        raise ExplorerError("Exact search needs no index.")
    _check_dims(demo, dims, s)
    d, m = sql.Literal(dims), sql.Literal(s.mrl_dims)
    column = {
        Demo.HNSW: sql.SQL("embedding {}").format(sql.SQL(_OPS[metric][1])),
        Demo.IVFFLAT: sql.SQL("embedding {}").format(sql.SQL(_OPS[metric][1])),
        Demo.HALFVEC: sql.SQL("(embedding::halfvec({})) halfvec_cosine_ops").format(d),
        Demo.BINARY: sql.SQL("(binary_quantize(embedding)::bit({})) bit_hamming_ops").format(d),
        Demo.MRL: sql.SQL("(subvector(embedding, 1, {})::halfvec({})) halfvec_cosine_ops").format(
            m, m
        ),
    }[demo]
    if demo is Demo.IVFFLAT:
        method, options = "ivfflat", sql.SQL("lists = {}").format(sql.Literal(s.lists))
    else:
        method = "hnsw"
        options = sql.SQL("m = {}, ef_construction = {}").format(
            sql.Literal(s.m), sql.Literal(s.ef_construction)
        )
    return sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING {} ({}) WITH ({})").format(
        sql.Identifier(index_name(table, demo, s, metric)),
        pg.qualified(schema, table),
        sql.SQL(method),
        column,
        options,
    )


def query_settings(demo: Demo, s: Settings, k: int) -> list[tuple[str, str]]:
    """The ``SET LOCAL`` settings a query of ``demo`` runs with, as (name, value).

    An HNSW scan returns at most ``hnsw.ef_search`` rows, so it is raised to the number of
    rows the scan must give (``k``, or ``k × oversample`` candidates). ``enable_seqscan`` is
    off for every index demo: on a small table PostgreSQL would otherwise prefer reading it
    all, and the demo is about the index.
    """
    if demo is Demo.EXACT:
        return [("enable_indexscan", "off")]
    out = [("enable_seqscan", "off")]
    if demo is Demo.IVFFLAT:
        return [*out, ("ivfflat.probes", str(s.probes))]
    wanted = k * s.oversample if demo.reranks else k
    return [*out, ("hnsw.ef_search", str(max(s.ef_search, wanted)))]


def query_sql(
    schema: str,
    table: str,
    dims: int,
    demo: Demo,
    s: Settings,
    by_id: bool = True,
    metric: Metric = Metric.COSINE,
) -> sql.Composed:
    """The nearest-neighbour query of ``demo``; parameters ``%(k)s`` and ``%(candidates)s``
    and either ``%(id)s`` (the query is that row's vector, ``by_id``) or ``%(query)s`` (a
    vector). It returns ``id`` and ``score``: the exact cosine similarity (``metric``'s
    score for the vector indexes: negated ``<#>`` for dot, ``<->`` for euclidean)."""
    t = pg.qualified(schema, table)
    source = (
        sql.SQL("SELECT embedding FROM {} WHERE id = %(id)s").format(t)
        if by_id
        else sql.SQL("SELECT %(query)s::vector")
    )
    op = _OPS[metric][0] if demo in (Demo.EXACT, Demo.HNSW, Demo.IVFFLAT) else "<=>"
    dist = sql.SQL("embedding {} (SELECT v FROM q)").format(sql.SQL(op))
    score = {
        "<=>": sql.SQL("1 - ({})").format(dist),
        "<#>": sql.SQL("-({})").format(dist),
        "<->": dist,
    }[op]
    d, m = sql.Literal(dims), sql.Literal(s.mrl_dims)
    order = {
        Demo.EXACT: dist,
        Demo.HNSW: dist,
        Demo.IVFFLAT: dist,
        Demo.HALFVEC: sql.SQL("embedding::halfvec({}) <=> (SELECT v::halfvec({}) FROM q)").format(
            d, d
        ),
        Demo.BINARY: sql.SQL(
            "binary_quantize(embedding)::bit({}) <~> (SELECT binary_quantize(v)::bit({}) FROM q)"
        ).format(d, d),
        Demo.MRL: sql.SQL(
            "subvector(embedding, 1, {})::halfvec({}) <=> "
            "(SELECT subvector(v, 1, {})::halfvec({}) FROM q)"
        ).format(m, m, m, m),
    }[demo]
    head = sql.SQL("WITH q(v) AS MATERIALIZED ({})\n").format(source)
    if not demo.reranks:
        return head + sql.SQL(
            "SELECT id, {score} AS score\nFROM {t}\nORDER BY {order}\nLIMIT %(k)s"
        ).format(score=score, t=t, order=order)
    return head + sql.SQL(
        "SELECT id, {score} AS score\nFROM (\n  SELECT id, embedding FROM {t}\n"
        "  ORDER BY {order}\n  LIMIT %(candidates)s  -- k × oversample candidates\n) AS c\n"
        "ORDER BY {dist}, id  -- re-rank by exact cosine\nLIMIT %(k)s"
    ).format(score=score, t=t, order=order, dist=dist)


@dataclass(frozen=True)
class Index:
    """An index the app made: ``name``, the DDL that made it, its ``bytes`` on disk
    (``pg_relation_size``), the seconds its build took and whether this call built it
    (``fresh``) or found it made before."""

    name: str
    ddl: str
    bytes: int
    seconds: float
    fresh: bool


def build_index(
    db: pg.Database,
    loaded: pg.Loaded,
    demo: Demo,
    s: Settings,
    metric: Metric = Metric.COSINE,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> Index:
    """Make ``demo``'s index on the loaded table, or reuse it when the app already made it
    (another session with the same vectors and build settings). Building replaces the app's
    index of the same family with other settings (see :func:`_family`), so that the query
    uses the index it asks for. ``maintenance_work_mem`` is raised for the build so a graph
    of this size fits in memory."""
    with pg.refused():  # a server error is an ExplorerError, never a traceback
        ddl = index_ddl(loaded.schema, loaded.table, loaded.dims, demo, s, metric)
        if demo is Demo.IVFFLAT and s.lists > loaded.rows:
            raise ExplorerError(
                f"lists={s.lists} is more than the {loaded.rows:,} rows: use at most one list per "
                "row (pgvector suggests rows / 1000)."
            )
        name = index_name(loaded.table, demo, s, metric)
        with db.connect() as conn:
            ddl_text = ddl.as_string(conn)
            known = pg.created(conn, loaded.schema).get(name)
            if known is None:
                pg.refuse_foreign(conn, loaded.schema, name)
        if known is None:
            family = f"{loaded.table}_{_family(demo, s, metric)}_"

            def replace_siblings(c: psycopg.Connection) -> None:
                for item in pg.created(c, loaded.schema).values():
                    if item.kind == "index" and item.name.startswith(family) and item.name != name:
                        pg.drop_ours(c, item, loaded.schema)

            def remember(c: psycopg.Connection, seconds: float) -> None:
                made = pg.Created(name, "index", loaded.table, None, None, seconds)
                pg.record(c, made, loaded.schema)

            # A second session asking for an index of this family waits on the advisory lock,
            # then finds it built (IF NOT EXISTS) and records nothing new.
            pg.run_watched(
                db,
                ddl,
                setup=[
                    (sql.SQL("SELECT set_config('maintenance_work_mem', %s, true)"), ("512MB",))
                ],
                before=replace_siblings,
                on_done=remember,
                progress=progress,
                should_stop=should_stop,
                lock=family,
            )
        with db.connect() as conn:
            seconds = pg.created(conn, loaded.schema)[name].seconds
            size = pg.sizes(conn, loaded.schema, [name])[name]
        return Index(name, ddl_text, size, seconds, fresh=known is None)


def _check_index(conn: psycopg.Connection, loaded: pg.Loaded, name: str) -> None:
    if name not in pg.created(conn, loaded.schema):
        raise ExplorerError(
            f"The index {name} is not there: another build with other settings replaced it "
            "(a table keeps one index per column or expression). Build it again."
        )


@dataclass(frozen=True)
class Queried:
    """Answers of a batch of queries: ``ids`` int64 and ``scores`` float64, both ``(q, k)``
    (``-1`` and NaN where the index gave fewer than ``k`` rows), the wall-clock ``seconds``
    of all queries, the SQL of the first query as it ran (settings included, runnable when
    the query is a row id) and its ``EXPLAIN ANALYZE`` plan."""

    ids: np.ndarray
    scores: np.ndarray
    seconds: float
    setup: str
    query: str
    plan: str

    @property
    def sql(self) -> str:
        """The settings and the query, as a script."""
        return f"{self.setup}\n{self.query}" if self.setup else self.query


def run_queries(
    db: pg.Database,
    loaded: pg.Loaded,
    demo: Demo,
    s: Settings,
    k: int,
    query_ids: Sequence[int] | None = None,
    queries: np.ndarray | None = None,
    metric: Metric = Metric.COSINE,
    explain: bool = True,
) -> Queried:
    """Run ``demo``'s query for each row id in ``query_ids`` (or each row of ``(q, d)``
    ``queries``) in one transaction with :func:`query_settings` applied by
    ``set_config(name, value, true)`` (that is ``SET LOCAL``)."""
    by_id = query_ids is not None
    params: list[dict[str, object]]
    if query_ids is not None and queries is None:
        params = [{"id": _whole("query id", i, 0, loaded.rows - 1)} for i in query_ids]
    elif queries is not None and query_ids is None:
        params = [{"query": v} for v in np.atleast_2d(np.asarray(queries, dtype=np.float32))]
    else:
        raise ExplorerError("Give either query ids or query vectors, not both or neither.")
    if not params:
        raise ExplorerError("There are no queries to run.")
    _whole("k", k, 1, min(1000, loaded.rows))
    candidates = k * s.oversample
    if candidates > 1000:
        raise ExplorerError(f"k × oversample = {candidates}: keep it at most 1,000.")
    query = query_sql(loaded.schema, loaded.table, loaded.dims, demo, s, by_id, metric)
    setting = "SELECT set_config(%s, %s, true)"
    ids = np.full((len(params), k), -1, dtype=np.int64)
    scores = np.full((len(params), k), np.nan)
    with pg.refused(), db.connect() as conn, conn.transaction():
        if demo is not Demo.EXACT:
            _check_index(conn, loaded, index_name(loaded.table, demo, s, metric))
        shown = ClientCursor(conn)
        lines = []
        for name, value in query_settings(demo, s, k):
            conn.execute(setting, (name, value))
            lines.append(shown.mogrify(setting, (name, value)) + f";  -- SET LOCAL {name}")
        start = time.perf_counter()
        for row, p in enumerate(params):
            found = conn.execute(query, {**p, "k": k, "candidates": candidates}).fetchall()
            for col, (i, score) in enumerate(found):
                ids[row, col], scores[row, col] = i, score
        seconds = time.perf_counter() - start
        first = {**params[0], "k": k, "candidates": candidates}
        text = shown.mogrify(query, first) if by_id else query.as_string(conn)
        plan = ""
        if explain:
            analyzed = sql.SQL("EXPLAIN (ANALYZE, COSTS OFF) ") + query
            plan = "\n".join(r[0] for r in conn.execute(analyzed, first).fetchall())
    return Queried(ids, scores, seconds, "\n".join(lines), text + ";", plan)


@dataclass(frozen=True)
class Step:
    """One step of a demo: a ``title``, the ``sql`` it ran and what came out, in words."""

    title: str
    sql: str
    outcome: str


@dataclass(frozen=True, eq=False)
class DemoResult:
    """A demo run: its steps, the first query's ``(id, score)`` rows, the plan, the index
    (None for exact search), ms per query, the corpus rows used as queries (the first is the
    one shown), numpy's exact top-k ids for each ``(q, k)`` and recall@k against them."""

    demo: Demo
    settings: Settings
    k: int
    table: str
    steps: tuple[Step, ...]
    rows: tuple[tuple[int, float], ...]
    plan: str
    index: Index | None
    ms_per_query: float
    recall: float
    query_ids: tuple[int, ...]
    exact_ids: np.ndarray

    @property
    def queries(self) -> int:
        return len(self.query_ids)

    @property
    def uses_index(self) -> bool:
        """Whether the plan scans this demo's index."""
        return self.index is not None and f"Index Scan using {self.index.name}" in self.plan


def run_demo(
    db: pg.Database,
    vectors: np.ndarray,
    demo: Demo | str,
    s: Settings,
    query_ids: Sequence[int],
    k: int = 10,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> DemoResult:
    """Load ``(n, d)`` ``vectors`` (once per content), make ``demo``'s index (once per
    setting), query it with the corpus rows ``query_ids`` and compare with
    :func:`core.search.exhaustive_search` (cosine) on the same vectors.

    ``progress`` and ``should_stop`` follow the load and the index build (see
    :func:`core.pg.load_vectors` and :func:`core.pg.run_watched`).
    """
    with pg.refused():  # a server error is an ExplorerError, never a traceback
        chosen = Demo.coerce(demo)
        data = np.asarray(vectors, dtype=np.float32)
        ids = list(query_ids)
        with db.connect() as conn:
            loaded = pg.load_vectors(
                conn, data, progress=progress, should_stop=should_stop, prefix=table_prefix(chosen)
            )
            target = pg.qualified(loaded.schema, loaded.table).as_string(conn)
            table_bytes = pg.sizes(conn, loaded.schema, [loaded.table])[loaded.table]
        load_sql = (
            f"CREATE TABLE {target} (id int4 PRIMARY KEY, embedding vector({loaded.dims}));\n"
            f"COPY {target} (id, embedding) FROM STDIN WITH (FORMAT BINARY);"
        )
        how = "copied now" if loaded.fresh else "already loaded (the table is named by its content)"
        steps = [
            Step(
                "Load the vectors",
                load_sql,
                f"{loaded.rows:,} rows × {loaded.dims} dims {how}; binary COPY took "
                f"{loaded.seconds:.2f} s; table {table_bytes / 1e6:.1f} MB.",
            )
        ]
        index = None
        if chosen is not Demo.EXACT:
            index = build_index(db, loaded, chosen, s, progress=progress, should_stop=should_stop)
            with db.connect() as conn:
                named = pg.qualified(loaded.schema, index.name).as_string(conn)
                size_sql = ClientCursor(conn).mogrify(pg.SIZE_SQL, (named,)) + ";"
            steps += [
                Step(
                    "Build the index",
                    index.ddl + ";",
                    f"Built in {index.seconds:.2f} s"
                    + ("." if index.fresh else " (earlier: the app reuses an index it made)."),
                ),
                Step(
                    "Index size",
                    size_sql,
                    f"{index.bytes:,} bytes = {index.bytes / 1e6:.2f} MB, "
                    f"{index.bytes / loaded.rows:.0f} B per vector (the table: "
                    f"{table_bytes / loaded.rows:.0f} B per row).",
                ),
            ]
        found = run_queries(db, loaded, chosen, s, k, query_ids=ids)
        exact = exhaustive_search(data[ids], data, k, Metric.COSINE)
        recall = recall_at_k(exact.ids, found.ids)
        ms = 1000 * found.seconds / len(ids)
        steps += [
            Step(
                "Query",
                found.sql,
                f"{ms:.2f} ms per query over {len(ids)} queries; recall@{k} {recall:.3f} against "
                "numpy's exhaustive cosine search.",
            ),
            Step(
                "EXPLAIN ANALYZE",
                "\n".join([found.setup, "EXPLAIN (ANALYZE, COSTS OFF)", found.query]).lstrip(),
                found.plan,
            ),
        ]
        rows = tuple(
            (int(i), float(v)) for i, v in zip(found.ids[0], found.scores[0], strict=True) if i >= 0
        )
        return DemoResult(
            chosen,
            s,
            k,
            loaded.table,
            tuple(steps),
            rows,
            found.plan,
            index,
            ms,
            recall,
            tuple(ids),
            exact.ids,
        )


# Each demo at pgvector's defaults, and binary re-ranking without oversampling for contrast.
MEASURED: tuple[tuple[Demo, Settings], ...] = (
    (Demo.EXACT, Settings()),
    (Demo.HNSW, Settings()),
    (Demo.IVFFLAT, Settings()),
    (Demo.HALFVEC, Settings()),
    (Demo.BINARY, Settings(oversample=1)),
    (Demo.BINARY, Settings(oversample=4)),
    (Demo.MRL, Settings(oversample=4)),
)


def measure(
    db: pg.Database, vectors: np.ndarray, queries: int = 100, k: int = 10, seed: int = 1
) -> list[dict[str, object]]:
    """Every demo of :data:`MEASURED` on ``vectors`` with ``queries`` random corpus rows (IVFFlat
    with ``lists`` = max(rows / 1000, sqrt(rows)) and ``mrl_dims`` = a third of the width):
    one row per demo with its build seconds, index MB and bytes per vector, ms per query and
    recall@k against numpy."""
    n, d = vectors.shape
    ids = [int(i) for i in np.random.default_rng(seed).choice(n, min(queries, n), replace=False)]
    lists, mrl = max(n // 1000, int(np.sqrt(n))), max(1, d // 3)
    out: list[dict[str, object]] = []
    for demo, s in MEASURED:
        s = replace(s, lists=lists, mrl_dims=mrl)
        r = run_demo(db, vectors, demo, s, ids, k)
        index = r.index
        out.append(
            {
                "demo": demo.value + (f" ×{s.oversample}" if demo.reranks else ""),
                "build s": round(index.seconds, 2) if index else 0.0,
                "index MB": round(index.bytes / 1e6, 2) if index else 0.0,
                "B/vector": round(index.bytes / n) if index else 0,
                "ms/query": round(r.ms_per_query, 3),
                f"recall@{k}": round(r.recall, 3),
                "index used": r.uses_index,
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m core.pgdemo [--n N] [--dims D] [--queries Q]``: measure every demo on
    seeded clustered unit vectors in the app's database and print a table."""
    import argparse
    import sys

    from core.corpora import synthetic_corpus

    parser = argparse.ArgumentParser(prog="python -m core.pgdemo", description=main.__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args(argv)
    vectors = synthetic_corpus(args.n, args.dims, seed=0).vectors
    db = pg.database()
    rows = measure(db, vectors, args.queries)
    with db.connect() as conn:
        facts = pg.server_facts(conn)
    sys.stdout.write(
        f"{args.n:,} × {args.dims} synthetic clustered vectors, {args.queries} queries, "
        f"PostgreSQL {facts['PostgreSQL']}, pgvector {facts['pgvector']} ({db.label})\n"
    )
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    lines: list[dict[str, object]] = [dict(zip(columns, columns, strict=True)), *rows]
    for line in lines:
        cells = (str(line[c]).ljust(w) for c, w in zip(columns, widths, strict=True))
        sys.stdout.write(" | ".join(cells) + "\n")


if __name__ == "__main__":  # pragma: no cover - tested through main()
    main()
