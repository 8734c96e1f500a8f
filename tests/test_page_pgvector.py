"""The pgvector section (views/_pgvector.py) in AppTest, on the session's real PostgreSQL
given as DATABASE_URL: each demo's widgets, a run with its SQL, table, plan and recall, a
deep link, presenter mode, an unreachable server and cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import pg
from tests.page_helpers import frames, metrics, plain
from tests.pg_fixtures import pg_db, pg_server
from views import _ui

__all__ = ["pg_db", "pg_server"]  # fixtures this module uses

APP = Path(__file__).resolve().parent / "pgvector_app.py"


@pytest.fixture
def url(pg_db) -> Iterator[str]:
    """The app's database is the session's server (DATABASE_URL), fresh for each test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(pg.URL_ENV, pg_db.uri)
        pg.shutdown()
        yield pg_db.uri
        pg.shutdown()


def open_section(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def run(at: AppTest) -> AppTest:
    at.button(key="pg_run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def codes(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


def slider_keys(at: AppTest) -> set[str]:
    return {s.key for s in at.slider}


def test_default_render_waits_for_run(url):
    at = open_section()
    assert at.selectbox(key="pg_demo").value == "HNSW"
    assert {"pg_m", "pg_ef_construction", "pg_ef_search", "pg_k"} <= slider_keys(at)
    assert any("Run in PostgreSQL" in i.value for i in at.info)
    assert not at.code  # nothing ran yet


def test_hnsw_run_shows_sql_beside_results(url):
    at = run(open_section())
    shown = metrics(at)
    assert float(shown["recall@10"]) >= 0.9 and shown["index used"] == "yes"
    sql = codes(at)
    assert any(s.startswith("CREATE TABLE") and "COPY" in s for s in sql)
    assert any("USING hnsw (embedding vector_cosine_ops)" in s for s in sql)
    assert any("pg_relation_size" in s for s in sql)
    assert any("hnsw.ef_search" in s and "ORDER BY embedding <=>" in s for s in sql)
    assert any("Index Scan using" in s for s in sql)  # the plan
    (table,) = frames(at, "rank", "id", "item", "cosine", "in exact top-k")
    assert len(table) == 10 and table["id"].iloc[0] == at.selectbox(key="pg_query").value == 0
    assert table["item"].iloc[0] == "dog"  # the query row itself comes first
    assert table["cosine"].iloc[0] == pytest.approx(1.0, abs=1e-4)
    assert (table["in exact top-k"] == "✅").sum() >= 8
    # The server's (masked) label is shown as text: no link, no emphasis from * or _.
    label = pg.mask_url(url)
    (caption,) = [c.value for c in at.caption if "Ran on the" in c.value]
    assert f"Ran on the {label}." in plain(caption) and _ui.md_text(label) in caption


@pytest.mark.parametrize(
    ("demo", "sliders", "fragment"),
    [
        ("IVFFlat", {"pg_lists", "pg_probes"}, "USING ivfflat"),
        ("binary HNSW + rerank", {"pg_oversample", "pg_m"}, "bit_hamming_ops"),
        ("MRL subvector HNSW + rerank", {"pg_oversample", "pg_mrl_dims"}, "subvector(embedding"),
        ("halfvec HNSW", {"pg_m"}, "halfvec_cosine_ops"),
    ],
)
def test_each_demo_has_its_settings_and_sql(url, demo, sliders, fragment):
    at = open_section()
    at.selectbox(key="pg_demo").set_value(demo).run()
    assert sliders <= slider_keys(at)
    run(at)
    assert any(fragment in s for s in codes(at))
    assert metrics(at)["index used"] == "yes"


def test_exact_demo_has_no_index_steps(url):
    at = open_section({"pg_demo": "exact (no index)"})
    assert not {"pg_m", "pg_lists"} & slider_keys(at)
    run(at)
    shown = metrics(at)
    assert shown["recall@10"] == "1.000" and shown["index used"] == "no"
    assert len(at.tabs) == 3


def test_deep_link_sets_demo_and_parameters(url):
    at = open_section({"pg_demo": "MRL subvector HNSW + rerank", "pg_mrl_dims": "64", "pg_k": "5"})
    assert at.slider(key="pg_mrl_dims").value == 64 and at.slider(key="pg_k").value == 5
    run(at)
    (table,) = frames(at, "rank", "in exact top-k")
    assert len(table) == 5
    assert any("subvector(embedding, 1, 64)" in s for s in codes(at))


def test_changing_a_setting_hides_the_old_result(url):
    at = run(open_section())
    at.slider(key="pg_ef_search").set_value(60).run()
    assert not at.code and any("Run in PostgreSQL" in i.value for i in at.info)


def test_unreachable_server_is_an_error_without_password(monkeypatch):
    monkeypatch.setenv(pg.URL_ENV, "postgresql://ann:hunter2@127.0.0.1:1/app")
    pg.shutdown()
    try:
        at = run(open_section())
    finally:
        pg.shutdown()
    (error,) = at.error
    assert "Cannot connect to PostgreSQL" in error.value and "hunter2" not in error.value


def test_one_run_at_a_time_per_server(url):
    at = open_section()
    _ui._jobs().slot.acquire()  # another session's engine build or pgvector run
    try:
        at.button(key="pg_run").click().run()
    finally:
        _ui._jobs().slot.release()
    assert any("The server is busy with another long job" in i.value for i in at.info)
    assert not at.code  # nothing ran
    run(at)
    assert metrics(at)["index used"] == "yes"


def test_cancel_says_nothing_was_kept(url):
    at = open_section()
    at.button(key="pg_cancel").click().run()
    assert any("Cancelled" in w.value for w in at.warning)
    at.run()
    assert not at.warning


def test_presenter_mode_folds_the_prose(url):
    at = open_section({"present": "1"})
    assert [e.label for e in at.expander] == ["What this demo does"]
    assert not at.caption
    run(at)
    assert metrics(at)["index used"] == "yes" and not at.caption
