"""PostgreSQL + pgvector, a section for the Search page's Engines tab: what the talk shows in
numpy, run inside a real database, each step's SQL (copyable) beside its result.

Call ``pgvector_section(vectors, labels)``; the SQL, plans, sizes and recall come from
:mod:`core.pgdemo`, the server from :mod:`core.pg`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from core import pg, pgdemo
from core.corpora import Cancelled
from core.pgdemo import Demo, DemoResult, Settings
from views import _ui

DEMOS = [d.value for d in Demo]
# Corpus rows (besides the chosen one) whose answers are compared with numpy for recall@k.
RECALL_QUERIES = 50
# Above this many rows the query row is typed as a number instead of picked from a list.
PICK_LIMIT = 5_000

ABOUT = {
    Demo.EXACT: "No index: PostgreSQL reads every row and sorts by cosine distance (the "
    "ground truth; index scans are switched off).",
    Demo.HNSW: "An HNSW graph on the vectors: `m` links per node, `ef_construction` while "
    "building, `hnsw.ef_search` candidates while searching.",
    Demo.IVFFLAT: "k-means splits the rows into `lists`; a query scans the `ivfflat.probes` "
    "nearest lists only.",
    Demo.HALFVEC: "An expression index on `embedding::halfvec(d)`: the graph holds 16-bit "
    "floats, half the bytes; the table keeps the originals.",
    Demo.BINARY: "An index on `binary_quantize(embedding)::bit(d)` (1 bit per dimension, "
    "Hamming distance) takes k × oversample candidates; the exact cosine on the stored "
    "vectors re-ranks them: oversample and rescore with the originals.",
    Demo.MRL: "An index on the first `m` dimensions, `subvector(embedding, 1, m)::halfvec(m)`, "
    "takes k × oversample candidates; the full vectors re-rank them.",
}
STEP_TABS = ["Load", "Index", "Size", "Query", "EXPLAIN"]


def _cancel(key: str) -> None:
    st.session_state[f"{key}_cancelled"] = True


def _settings(key: str, demo: Demo, n: int, dims: int) -> Settings:
    """The parameter widgets ``demo`` uses, in one row; the rest keep pgvector's defaults."""
    defaults = Settings()
    graph = demo in (Demo.HNSW, Demo.HALFVEC, Demo.BINARY, Demo.MRL)
    cols = iter(st.columns(5))  # at most five settings (MRL)
    values: dict[str, int] = {}

    def slider(name: str, label: str, low: int, high: int, default: int, help: str) -> None:
        default = min(max(default, low), high)
        k = _ui.bound(f"{key}_{name}", default, int, valid=lambda v: low <= v <= high)
        _ui.clamp_state(k, low, high)
        values[name] = next(cols).slider(label, low, high, key=k, help=help)

    if graph:
        slider("m", "m", 2, 64, defaults.m, "Links per node of the HNSW graph.")
        slider(
            "ef_construction",
            "ef_construction",
            2 * values["m"],
            400,
            defaults.ef_construction,
            "Candidates kept while building (at least 2 × m).",
        )
        slider(
            "ef_search",
            "hnsw.ef_search",
            1,
            400,
            defaults.ef_search,
            "Candidates kept while searching; raised to the rows the scan must return.",
        )
    if demo is Demo.IVFFLAT:
        most = max(1, min(n // 10, 1000))
        # pgvector suggests rows / 1000 lists; a small demo table gets about sqrt(rows).
        suggested = max(n // 1000, int(np.sqrt(n)))
        slider("lists", "lists", 1, most, suggested, "k-means clusters (pgvector: rows / 1000).")
        slider("probes", "ivfflat.probes", 1, values["lists"], 1, "Lists scanned per query.")
    if demo.reranks:
        slider("oversample", "oversample", 1, 20, defaults.oversample, "Candidates = k × this.")
    if demo is Demo.MRL:
        slider("mrl_dims", "m (first dims)", 1, dims, min(dims, max(1, dims // 3)), "MRL width.")
    return Settings(**values)


def _query_row(key: str, n: int, labels: Sequence[str] | None) -> int:
    k = _ui.bound(f"{key}_query", 0, int, valid=lambda v: 0 <= v < n)
    _ui.clamp_state(k, 0, n - 1)
    if labels is not None and n <= PICK_LIMIT:
        return int(
            st.selectbox("Query: a corpus row", range(n), key=k, format_func=lambda i: labels[i])
        )
    return int(st.number_input("Query: corpus row", 0, n - 1, key=k, step=1))


def _sample(n: int, first: int) -> list[int]:
    """``first`` then up to ``RECALL_QUERIES`` other rows, seeded (the same on every run)."""
    others = np.random.default_rng(0).permutation(n)[: RECALL_QUERIES + 1]
    return [first, *(int(i) for i in others if i != first)][: RECALL_QUERIES + 1]


def pgvector_section(
    vectors: np.ndarray,
    labels: Sequence[str] | None = None,
    key: str = "pg",
    vectors_key: str | None = None,
) -> None:
    """Draw the pgvector section for ``vectors``, an ``(n, d)`` float32 matrix whose row
    ``i`` is item ``labels[i]`` (row numbers when ``labels`` is None). ``key`` prefixes every
    widget key (and URL parameter): use a different one for a second section on a page.
    ``vectors_key`` names the vectors' content (e.g. ``VectorSet.key``) so that a rerun does
    not hash a large matrix again; without it the matrix's digest is used.

    The user picks a demo (exact, HNSW, IVFFlat, halfvec, binary + rerank, MRL + rerank),
    its parameters, a query row and k, and presses Run: the vectors are copied into the
    app's PostgreSQL (started on first use, or ``DATABASE_URL``) and the steps are shown,
    SQL beside result, with recall@k against numpy's exhaustive search."""
    n, dims = vectors.shape
    big = _ui.presenting()
    st.subheader("PostgreSQL + pgvector: the same ideas inside a database")
    if not big:
        st.caption(
            "A real PostgreSQL 18 with pgvector 0.8 (or your own server from DATABASE_URL). "
            "The app works in its own schema, names each table by its vectors' content and "
            "never touches a table it did not create."
        )
    c_demo, c_query, c_k = st.columns([2, 2, 1])
    demo = Demo.coerce(
        c_demo.selectbox(
            "Demo",
            DEMOS,
            key=_ui.bound(f"{key}_demo", Demo.HNSW.value, valid=lambda v: v in DEMOS),
        )
    )
    with c_query:
        row = _query_row(key, n, labels)
    with c_k:
        k = _ui.k_slider(f"{key}_k", n, default=10)
    if big:
        with st.expander("What this demo does"):
            st.markdown(ABOUT[demo])
    else:
        st.markdown(ABOUT[demo])
    run_key = None
    with _ui.guard("PostgreSQL"):
        settings = _settings(key, demo, n, dims)
        content = vectors_key or pg.table_name(vectors)
        run_key = (content, n, dims, demo, settings, row, k)
        # The buttons share a row with the run's four numbers.
        c_run, c_cancel, *numbers = st.columns([1.5, 1, 1, 1, 1, 1], vertical_alignment="bottom")
        run = c_run.button("Run in PostgreSQL", key=f"{key}_run", type="primary")
        c_cancel.button("Cancel", key=f"{key}_cancel", on_click=_cancel, args=(key,))
        if st.session_state.pop(f"{key}_cancelled", False) and not run:
            st.warning("Cancelled: nothing was kept.")
        if run:
            _run(key, vectors, demo, settings, row, k, run_key)
    kept = st.session_state.get(f"{key}_result")
    if run_key is None:
        return
    if kept is None or kept[0] != run_key:
        st.info("Press **Run in PostgreSQL**: the first run starts the server and copies rows.")
        return
    _show(kept[1], kept[2], labels, numbers)


def _run(
    key: str,
    vectors: np.ndarray,
    demo: Demo,
    settings: Settings,
    row: int,
    k: int,
    run_key: tuple,
) -> None:
    """Load, index and query in PostgreSQL, holding the server's one long-job slot: runs of
    several sessions take turns, so a load's pruning of old tables never meets another
    session's run mid-way (and the engine builds wait too)."""
    with _ui.server_job("a PostgreSQL run") as mine:
        if not mine:
            return
        with st.spinner("Starting PostgreSQL…"):
            db = pg.database()
        bar = st.progress(0.0, text="Copying the vectors…")

        def progress(fraction: float, text: str) -> None:
            bar.progress(min(1.0, fraction), text=text)

        try:
            result = pgdemo.run_demo(
                db,
                vectors,
                demo,
                settings,
                _sample(vectors.shape[0], row),
                k,
                progress=progress,
                should_stop=lambda: bool(st.session_state.get(f"{key}_cancelled")),
            )
        except Cancelled:
            st.session_state.pop(f"{key}_cancelled", None)
            st.warning("Cancelled: nothing was kept.")
            return
        finally:
            bar.empty()
    st.session_state[f"{key}_result"] = (run_key, result, db.label)


def _show(result: DemoResult, where: str, labels: Sequence[str] | None, numbers: list) -> None:
    """The run's numbers (in the ``numbers`` columns), then its steps as tabs, the query's
    open: SQL on the left, what came back on the right."""
    index_mb = f"{result.index.bytes / 1e6:.2f}" if result.index else "none"
    numbers[0].metric(f"recall@{result.k}", f"{result.recall:.3f}")
    numbers[1].metric("ms per query", f"{result.ms_per_query:.2f}")
    numbers[2].metric("index MB", index_mb)
    numbers[3].metric("index used", "yes" if result.uses_index else "no")
    if not _ui.presenting():
        st.caption(
            _ui.md_text(f"Ran on the {where}.")
            + f" Recall over {result.queries} corpus rows as queries, "
            "against numpy's exhaustive cosine search on the same vectors. Every index demo "
            "sets enable_seqscan = off: on a small table PostgreSQL would rather read it all, "
            "and the demo is about the index."
        )
    names = STEP_TABS if result.index else ["Load", "Query", "EXPLAIN"]
    tabs = st.tabs(names, default="Query")
    for tab, step in zip(tabs, result.steps, strict=True):
        with tab:
            plan = step.title == "EXPLAIN ANALYZE"
            left, right = st.columns([2, 3] if plan else [3, 2])  # plan lines are long
            left.code(step.sql, language="sql", wrap_lines=True)
            if plan:
                right.code(step.outcome, language="text", wrap_lines=True, height=330)
                continue
            right.text(step.outcome)
            if step.title == "Query":
                right.dataframe(_rows(result, labels), hide_index=True, width="stretch")


def _rows(result: DemoResult, labels: Sequence[str] | None) -> pd.DataFrame:
    """The shown query's rows, each marked ✅ when numpy's exact top-k holds it too."""
    exact = set(result.exact_ids[0].tolist())
    return pd.DataFrame(
        [
            {
                "rank": rank,
                "id": i,
                "item": labels[i] if labels is not None else str(i),
                "cosine": round(score, 4),
                "in exact top-k": "✅" if i in exact else "❌",
            }
            for rank, (i, score) in enumerate(result.rows, 1)
        ]
    )
