"""Search: a query becomes a vector, the nearest items come back, exactly and with HNSW."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.search import (
    EF_CHOICES,
    EF_CONSTRUCTION_CHOICES,
    M_CHOICES,
    TALK_EF,
    TALK_EF_CONSTRUCTION,
    TALK_M,
    HnswIndex,
    SearchComparison,
    compare_search,
    hnsw_recall,
)
from core.vectors import array_digest
from views import _snippets, _state, _ui, _upload
from views._engines import render_engines
from views._scale_lab import render_scale_lab

FIRST = 6  # query vector values listed in step 1
# HNSW settings: URL key -> (label, the values offered, default, help). The defaults are the
# talk's, and each ladder holds them, so one move of a slider reaches them.
HNSW_SETTINGS = {
    "search_m": (
        "M",
        M_CHOICES,
        TALK_M,
        "Links per item: more links, better recall, bigger graph.",
    ),
    "search_efc": (
        "ef_construction",
        EF_CONSTRUCTION_CHOICES,
        TALK_EF_CONSTRUCTION,
        "Candidates considered while linking each new item: slower build, better graph.",
    ),
    "search_ef": (
        "ef",
        EF_CHOICES,
        TALK_EF,
        "Candidates kept while searching (raised to k if smaller): slower, more exact.",
    ),
}
VIEWS = ("1 · Embed the query", "2 · Search", "3 · Results", "Scale lab", "Engines")

_ui.page_intro(
    "Search",
    "Semantic search embeds the query with the same model as the items, then returns the k "
    "items whose vectors are most similar to it. Exhaustive search scores every item: exact, "
    "but its cost grows with the data. HNSW walks a graph of neighbours instead and visits "
    "only a few items: much faster at scale, at the price of sometimes missing one.",
    r"\text{results} = \text{the } k \text{ items } i \text{ with the largest } "
    r"\cos(\mathbf{q}, \mathbf{d}_i) = \frac{\mathbf{q} \cdot \mathbf{d}_i}"
    r"{\lVert \mathbf{q} \rVert \, \lVert \mathbf{d}_i \rVert}",
)


@st.cache_resource(show_spinner="Building the HNSW graph (once per setting)…", max_entries=32)
def _hnsw(vectors_key: str, m: int, ef_construction: int, _vectors) -> HnswIndex:
    """The graph of ``_vectors``, which ``vectors_key`` (``VectorSet.key``) names by content."""
    return HnswIndex.build(_vectors, M=m, ef_construction=ef_construction)


@st.cache_data(show_spinner="Measuring recall over every item…", max_entries=64)
def _recall_all(vectors_key: str, m: int, ef_construction: int, k: int, ef: int, _vectors) -> float:
    return hnsw_recall(_hnsw(vectors_key, m, ef_construction, _vectors), _vectors, k, ef)


ws = _ui.workspace()
labels = ws.dataset.labels
n = len(labels)


def _hnsw_setting(key: str) -> int:
    """An HNSW setting from the sliders of step 2 (or the URL when step 2 is not open)."""
    _, choices, default, _ = HNSW_SETTINGS[key]
    return int(st.session_state[_ui.bound(key, default, int, valid=lambda v: v in choices)])


CODE = "The same in Python"
SHORT = {CODE: "Python"}  # the code's popover in presenter mode, at the end of the query row


def _query_row() -> tuple[tuple[str, str, int], _ui.Folds]:
    """Model, query and k: the row the three steps share; and the code's fold, a popover at
    the row's end in presenter mode (an expander under the step otherwise)."""
    (c_model, c_query, c_k), fold = _ui.controls_row([1, 2, 1], 0.6, SHORT)
    model = _ui.model_choice("search_model", ws, where=c_model, prefer="all-MiniLM-L6-v2")
    query = c_query.text_input(
        "Query",
        key=_ui.bound("search_query", "a loyal dog"),
        help=_ui.md_text(f"Any text; an item of {ws.dataset.name} uses its stored vector."),
    )
    k = _ui.k_slider("search_k", n, default=5, where=c_k)
    with c_query:
        _upload.free_text_notice(ws, "search_query", query, model)
    return (model, query, k), fold


def _query_vector(model: str, query: str) -> tuple[np.ndarray | None, float]:
    """The query's ``(1, dims)`` vector and the milliseconds it took; warns when empty."""
    if not query.strip():
        st.warning("The query is empty: type a word, a title or a sentence to search for.")
        return None, 0.0
    with _ui.guard(model):
        vector, seconds = ws.sets[model].timed_vector_for(query)
        return vector, 1000 * seconds
    return None, 0.0


def _index(model: str) -> HnswIndex | None:
    """The HNSW graph of the model's vectors with the current settings (built once)."""
    m, efc = _hnsw_setting("search_m"), _hnsw_setting("search_efc")
    with _ui.guard("HNSW"):
        vs = ws.sets[model]
        return _hnsw(vs.key, m, efc, vs.vectors)
    return None


def _search(
    model: str, query_vector: np.ndarray | None, k: int, index: HnswIndex | None
) -> SearchComparison | None:
    """Exhaustive top-k and HNSW top-k (on ``index``, with the current ef) for the query."""
    if index is None or query_vector is None:
        return None
    with _ui.guard("Search"):
        vectors = ws.sets[model].vectors
        return compare_search(query_vector, vectors, index, k, _hnsw_setting("search_ef"), labels)
    return None


def embed_step(model: str, query: str, k: int) -> None:
    """Step 1: the query's vector, its size and how long it took."""
    vector, embed_ms = _query_vector(model, query)
    if vector is None:
        return
    vs = ws.sets[model]
    first = ", ".join(f"{v:+.3f}" for v in vector[0, :FIRST])
    c_time, c_dims, c_values = st.columns([1, 1, 3])
    c_time.metric("embedding time", f"{embed_ms:.1f} ms")
    c_dims.metric("dimensions", vs.dims)
    c_values.markdown(f"**q** = `[{first}, …]`")
    if _ui.target_index(ws.dataset, query) is not None:
        st.caption(
            _ui.md_text(
                f"{query.strip()!r} is an item of {ws.dataset.name}: its stored vector is used, "
                "so it finds itself first."
            )
        )
    title = f"q: the {vs.dims} values of {query.strip()!r} under {model}"
    fig = _query_bars(array_digest(vector), title, _ui.presenting(), vector[0])
    _ui.plot(fig, key="search_query_bars", styled=True)
    st.markdown(
        f"Every item of {_ui.md_text(ws.dataset.name)} was embedded the same way, once, ahead "
        "of time: "
        f"{n:,} vectors of {vs.dims} numbers. Step 2 compares **q** with them."
    )


@st.cache_resource(max_entries=64, show_spinner=False)
def _query_bars(digest: str, title: str, big: bool, _values: np.ndarray) -> go.Figure:
    """Step 1's styled chart of the query vector ``_values`` (``array_digest`` ``digest``)
    under ``title``, built once per server for each vector, title and presenter mode."""
    fig = go.Figure(_ui.value_bars(np.arange(_values.size), _values, "q"))
    fig.update_layout(title={"text": title}, xaxis_title="dimension", showlegend=False)
    return _ui.styled_figure(fig, height=260, big=big)


def search_step(model: str, query: str, k: int) -> None:
    """Step 2: exhaustive search and the HNSW graph, with its settings, times and size."""
    c_exact, c_hnsw = st.columns(2)
    c_exact.markdown(
        f"**Exhaustive**: cosine of **q** with all {n:,} vectors, then the k best. "
        "Nothing to build, nothing missed."
    )
    with c_hnsw:
        st.markdown("**HNSW** (hnswlib): a layered graph; each item links to M neighbours.")
        for column, (key, (label, choices, _, tip)) in zip(
            st.columns(3), HNSW_SETTINGS.items(), strict=True
        ):
            _hnsw_setting(key)
            column.select_slider(label, choices, key=key, help=tip)
    index = _index(model)
    found = _search(model, _query_vector(model, query)[0], k, index)
    if found is None or index is None:
        return
    c_exact.metric("exhaustive time", f"{1000 * found.exact.seconds:.2f} ms")
    h_time, h_build, h_size = c_hnsw.columns(3)
    h_time.metric("HNSW time", f"{1000 * found.approx.seconds:.2f} ms")
    h_build.metric("graph build (once)", f"{1000 * index.build_seconds:,.0f} ms")
    h_size.metric("index size", f"{index.nbytes / 1e6:.2f} MB")
    ef = _hnsw_setting("search_ef")
    if ef < k:
        c_hnsw.caption(f"ef = {ef} is below k = {k}: the search used ef = {k}.")


def results_step(model: str, query: str, k: int) -> None:
    """Step 3: both rankings side by side with marks, and recall@k."""
    found = _search(model, _query_vector(model, query)[0], k, _index(model))
    if found is None:
        st.info("Results appear once the query has a vector.")
        return
    m, efc, ef = (_hnsw_setting(key) for key in HNSW_SETTINGS)
    table = _ui.comparison_frame(
        found.ranks, found.exact.scores[0], found.approx.scores[0], "exhaustive", "HNSW"
    )
    st.dataframe(
        table,
        key="search_results",
        hide_index=True,
        width="stretch",
        column_config={
            "exhaustive score": st.column_config.NumberColumn(format="%.4f"),
            "HNSW score": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    st.caption(
        _ui.MARKS_LEGEND.format(reference="exhaustive")
        + f" · HNSW with M = {m}, ef_construction = {efc}, ef = {max(ef, k)} (see step 2)"
    )
    _ui.download_table(table, "search_results")
    r_query, r_all = st.columns(2)
    r_query.metric(
        f"recall@{k}, this query",
        f"{found.recall_at_k:.1%}",
        help="Share of the exhaustive top-k that HNSW also returned.",
    )
    if n > k + 1:
        with _ui.guard("Recall"):
            vs = ws.sets[model]
            recall = _recall_all(vs.key, m, efc, k, ef, vs.vectors)
            r_all.metric(
                f"recall@{k}, every item as the query",
                f"{recall:.1%}",
                help=f"Each of the {n:,} items searches the others; mean share of the exact "
                "top-k that HNSW found.",
            )


def search_code(fold: _ui.Folds, model: str, query: str, k: int) -> None:
    """The steps in Python for the current inputs, in ``fold``: the talk's exhaustive search
    over plain lists, the same with numpy, then HNSW."""
    m, efc, ef = (_hnsw_setting(key) for key in HNSW_SETTINGS)
    setup = (
        f"# Here: the {n:,} items of {ws.dataset.name}, ({n}, {ws.sets[model].dims}).\n"
        + _ui.embed_code(model, [query.strip() or "your query"], var="q")
        + "query_vector = q[0]\n"
    )
    _ui.code_expander(
        "import hnswlib\n"
        + _snippets.exhaustive_search_code(setup, k)
        + "\n# HNSW: build the graph once, then search it\n"
        "index = hnswlib.Index(space='cosine', dim=vectors.shape[1])\n"
        f"index.init_index(max_elements=len(vectors), M={m}, ef_construction={efc})\n"
        "index.add_items(vectors)\n"
        f"index.set_ef({max(ef, k)})\n"
        f"ids, distances = index.knn_query(query_vector, k={k})  # distance = 1 - cosine\n"
        f"recall = len(set(best) & set(ids[0])) / {k}\n",
        CODE,
        where=fold,
    )


@_state.fragment
def steps(view: str) -> None:
    """The query row, step ``view`` and its code: a change of one of their widgets reruns this
    section alone, not the sidebar, the introduction or the tabs."""
    inputs, fold = _query_row()
    {VIEWS[0]: embed_step, VIEWS[1]: search_step, VIEWS[2]: results_step}[view](*inputs)
    search_code(fold, *inputs)


view, tab = _ui.view_tabs("search_view", VIEWS, default="3 · Results")
with tab:
    if view == "Scale lab":
        render_scale_lab(ws)
    elif view == "Engines":
        render_engines(ws)
    else:
        steps(view)
