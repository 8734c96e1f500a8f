"""Search: a query becomes a vector, the nearest items come back, exactly and with HNSW."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from core.pipeline import SearchComparison, compare_search, hnsw_recall
from core.search import HnswIndex
from views import _ui
from views._scale_lab import render_scale_lab

FIRST = 6  # query vector values listed in step 1

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
def _hnsw(fingerprint: str, model: str, m: int, ef_construction: int, _vectors) -> HnswIndex:
    return HnswIndex.build(_vectors, M=m, ef_construction=ef_construction)


@st.cache_data(show_spinner="Measuring recall over every item…", max_entries=64)
def _recall_all(
    fingerprint: str, model: str, m: int, ef_construction: int, k: int, ef: int, _vectors
) -> float:
    return hnsw_recall(_hnsw(fingerprint, model, m, ef_construction, _vectors), _vectors, k, ef)


ws = _ui.workspace()
labels = ws.dataset.labels
n = len(labels)

c_model, c_query, c_k = st.columns([1, 2, 1])
model = _ui.model_choice("search_model", ws, where=c_model, prefer="all-MiniLM-L6-v2")
query = c_query.text_input(
    "Query",
    key=_ui.bound("search_query", "a loyal dog"),
    help=f"Any text; an item of {ws.dataset.name} uses its stored vector.",
)
k = _ui.k_slider("search_k", n, default=5, where=c_k)
vs = ws.sets[model]

# ---------------------------------------------------------------- step 1

st.subheader("1 · Embed the query")
query_vector: np.ndarray | None = None
if not query.strip():
    st.warning("The query is empty: type a word, a title or a sentence to search for.")
else:
    with _ui.guard(model):
        start = time.perf_counter()
        query_vector = vs.vector_for(query)
        embed_ms = 1000 * (time.perf_counter() - start)
        first = ", ".join(f"{v:+.3f}" for v in query_vector[0, :FIRST])
        c_time, c_dims, c_values = st.columns([1, 1, 3])
        c_time.metric("embedding time", f"{embed_ms:.1f} ms")
        c_dims.metric("dimensions", vs.dims)
        c_values.markdown(f"**q** = `[{first}, …]`")
        if _ui.target_index(ws.dataset, query) is not None:
            st.caption(
                f"{query.strip()!r} is an item of {ws.dataset.name}: its stored vector is used, "
                "so it finds itself first."
            )

# ---------------------------------------------------------------- step 2

st.subheader(f"2 · Search {n:,} items")
c_exact, c_hnsw = st.columns(2)
c_exact.markdown(
    f"**Exhaustive**: cosine of **q** with all {n:,} vectors, then the k best. "
    "Nothing to build, nothing missed."
)
with c_hnsw:
    st.markdown("**HNSW** (hnswlib): a layered graph; each item links to M neighbours.")
    s_m, s_efc, s_ef = st.columns(3)
    m = s_m.slider(
        "M",
        2,
        64,
        key=_ui.bound("search_m", 16, int, valid=lambda v: 2 <= v <= 64),
        help="Links per item: more links, better recall, bigger graph.",
    )
    efc = s_efc.slider(
        "ef_construction",
        4,
        400,
        key=_ui.bound("search_efc", 100, int, valid=lambda v: 4 <= v <= 400),
        help="Candidates considered while linking each new item: slower build, better graph.",
    )
    ef = s_ef.slider(
        "ef",
        1,
        400,
        key=_ui.bound("search_ef", 10, int, valid=lambda v: 1 <= v <= 400),
        help="Candidates kept while searching (raised to k if smaller): slower, more exact.",
    )
_ui.publish("search_model", "search_query", "search_k", "search_m", "search_efc", "search_ef")

found: SearchComparison | None = None
index: HnswIndex | None = None
with _ui.guard("HNSW"):
    index = _hnsw(ws.dataset.fingerprint, model, m, efc, vs.vectors)
if query_vector is not None and index is not None:
    with _ui.guard("Search"):
        found = compare_search(query_vector, vs.vectors, index, k, ef, labels)
if found is not None and index is not None:
    c_exact.metric("exhaustive time", f"{1000 * found.exact.seconds:.2f} ms")
    h_time, h_build, h_size = c_hnsw.columns(3)
    h_time.metric("HNSW time", f"{1000 * found.approx.seconds:.2f} ms")
    h_build.metric("graph build (once)", f"{1000 * index.build_seconds:,.0f} ms")
    h_size.metric("index size", f"{index.nbytes / 1e6:.2f} MB")
    if ef < k:
        c_hnsw.caption(f"ef = {ef} is below k = {k}: the search used ef = {k}.")

# ---------------------------------------------------------------- step 3

st.subheader("3 · Results")
if found is not None:
    st.dataframe(
        _ui.comparison_frame(
            found.ranks, found.exact.scores[0], found.approx.scores[0], "exhaustive", "HNSW"
        ),
        key="search_results",
        hide_index=True,
        width="stretch",
        column_config={
            "exhaustive score": st.column_config.NumberColumn(format="%.4f"),
            "HNSW score": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    st.caption(_ui.MARKS_LEGEND.format(reference="exhaustive"))
    r_query, r_all = st.columns(2)
    r_query.metric(
        f"recall@{k}, this query",
        f"{found.recall_at_k:.0%}",
        help="Share of the exhaustive top-k that HNSW also returned.",
    )
    if index is not None and n > k + 1:
        with _ui.guard("Recall"):
            recall = _recall_all(ws.dataset.fingerprint, model, m, efc, k, ef, vs.vectors)
            r_all.metric(
                f"recall@{k}, every item as the query",
                f"{recall:.1%}",
                help=f"Each of the {n:,} items searches the others; mean share of the exact "
                "top-k that HNSW found.",
            )
else:
    st.info("Results appear once the query has a vector.")

_ui.code_expander(
    "import hnswlib\nimport numpy as np\n\n"
    f"# `vectors` holds the ({n}, {vs.dims}) embeddings of {ws.dataset.name}.\n"
    + _ui.embed_code(model, [query.strip() or "your query"], var="q")
    + "\n# Exhaustive: cosine with every item, keep the k best\n"
    "unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)\n"
    "sims = unit @ (q[0] / np.linalg.norm(q[0]))\n"
    f"exact = np.argsort(-sims)[:{k}]\n\n"
    "# HNSW: build the graph once, then search it\n"
    "index = hnswlib.Index(space='cosine', dim=vectors.shape[1])\n"
    f"index.init_index(max_elements=len(vectors), M={m}, ef_construction={efc})\n"
    "index.add_items(vectors)\n"
    f"index.set_ef({max(ef, k)})\n"
    f"ids, distances = index.knn_query(q, k={k})  # distance = 1 - cosine\n"
    f"recall = len(set(exact) & set(ids[0])) / {k}\n"
)

render_scale_lab(ws)
