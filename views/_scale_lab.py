"""The scale lab, a section of the Search page: build up to a million vectors and watch how
each search method's latency grows with N, what recall it buys per millisecond, and what it
costs in memory. The maths is in ``core.scalelab``; this module draws widgets and figures."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import scalelab, storage
from core.corpora import Cancelled
from core.errors import ExplorerError
from core.io import load_matrix
from core.scalelab import LabConfig, LabResult, Source
from core.search import Method
from core.storage import format_bytes
from views import _ui

N_CHOICES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)
SOURCES = {
    Source.DATASET.value: "this dataset's vectors, tiled with noise",
    Source.SYNTHETIC.value: "synthetic clustered unit vectors",
    Source.UPLOAD.value: "an uploaded .npy matrix",
}
METHODS = [m.value for m in Method]
# Finished runs kept per server; each holds a few hundred numbers, not the corpora.
KEEP = 16
CANCELLED = "scale_cancelled"


@dataclass
class _Store:
    """Server-wide: finished runs by config, and a lock so only one build runs at a time
    (two large builds at once could each pass the memory check and together not fit)."""

    results: OrderedDict[LabConfig, LabResult] = field(default_factory=OrderedDict)
    building: threading.Lock = field(default_factory=threading.Lock)

    def get(self, config: LabConfig) -> LabResult | None:
        return self.results.get(config)

    def put(self, result: LabResult) -> None:
        self.results[result.config] = result
        while len(self.results) > KEEP:
            self.results.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _store() -> _Store:
    return _Store()


@st.cache_data(show_spinner=False, max_entries=4)
def _uploaded_matrix(digest: str, name: str, _data: bytes) -> np.ndarray:
    return load_matrix(_data, name)


def _request_cancel() -> None:
    # Pressing a button already makes Streamlit stop a running build at its next progress
    # update; the flag tells that rerun (and the build's own check) that it was a cancel.
    st.session_state[CANCELLED] = True


def _base(source: str, ws: _ui.Workspace, where) -> tuple[np.ndarray | None, int, str] | None:
    """The base vectors, their dimensions and a key naming them, or None while an upload is
    missing."""
    if source == Source.UPLOAD.value:
        up = where.file_uploader("Matrix (.npy, rows × dims)", type=["npy"], key="scale_upload")
        if up is None:
            st.info("Upload a .npy file holding one (rows, dims) matrix of vectors.")
            return None
        data = up.getvalue()
        digest = hashlib.sha256(data).hexdigest()[:16]
        matrix = _uploaded_matrix(digest, up.name, data)
        return matrix, int(matrix.shape[1]), f"upload:{digest}"
    model = _ui.model_choice("scale_model", ws, where=where)
    vs = ws.sets[model]
    if source == Source.SYNTHETIC.value:
        return None, vs.dims, ""
    return vs.vectors, vs.dims, vs.key


def render_scale_lab(ws: _ui.Workspace) -> None:
    """Draw the lab: choices, the memory estimate (or refusal), the build button with
    progress and cancel, and the figures of the last run with these choices."""
    st.subheader("Scale lab: from a thousand to a million vectors")
    st.markdown(
        "Exhaustive search reads every vector, so its time grows in step with N. HNSW visits "
        "a few hundred nodes of its graph whatever N, so its time barely grows. int8 and "
        "binary codes make the exhaustive scan 4× and 32× smaller, and rescoring a few "
        "candidates with the float vectors wins back the exact ranking. Build the methods on "
        "N vectors and measure it on this machine."
    )
    c_n, c_source, c_base = st.columns([2, 2, 2])
    n = c_n.select_slider(
        "N (vectors)",
        N_CHOICES,
        key=_ui.bound("scale_n", 10_000, int, valid=lambda v: v in N_CHOICES),
        format_func=lambda v: f"{v:,}",
    )
    source = c_source.radio(
        "Vectors",
        list(SOURCES),
        format_func=SOURCES.get,
        key=_ui.bound("scale_source", Source.DATASET.value, valid=lambda v: v in SOURCES),
    )
    methods = st.multiselect(
        "Methods",
        METHODS,
        key=_ui.bound("scale_methods", METHODS, valid=lambda v: set(v) <= set(METHODS)),
    )
    with st.expander("HNSW and rescoring settings"):
        s_m, s_efc, s_over = st.columns(3)
        m = s_m.slider(
            "M (links per node)",
            4,
            64,
            key=_ui.bound("scale_m", 16, int, valid=lambda v: 4 <= v <= 64),
        )
        efc = s_efc.slider(
            "ef_construction",
            16,
            400,
            key=_ui.bound("scale_efc", 100, int, valid=lambda v: 16 <= v <= 400),
        )
        oversample = s_over.slider(
            "rescoring factor for the N curves",
            1,
            16,
            key=_ui.bound("scale_oversample", 4, int, valid=lambda v: 1 <= v <= 16),
            help="int8 and binary fetch k × this many candidates, then rescore them in float32.",
        )
    try:
        base = _base(source, ws, c_base)
    except ExplorerError as exc:
        st.error(_ui.md_text(exc))
        return
    if base is None or not methods:
        if not methods:
            st.info("Choose at least one method to build.")
        return
    vectors, dims, source_key = base
    try:
        config = LabConfig(
            n=n,
            dims=dims,
            source=Source.coerce(source),
            source_key=source_key,
            methods=tuple(Method.coerce(m) for m in methods),
            hnsw_m=m,
            hnsw_ef_construction=efc,
            oversample=oversample,
        )
        mem = storage.read_meminfo()
    except ExplorerError as exc:
        st.error(_ui.md_text(exc))
        return
    estimate = storage.estimate_memory(n, dims, config.methods, m)
    refusal = None
    try:
        storage.check_fits(estimate, mem)
    except ExplorerError as exc:
        refusal = str(exc)
    st.caption(
        f"Estimated peak memory for N = {n:,} × {dims}: {format_bytes(estimate.total, 1)} · "
        f"available on this machine: {format_bytes(mem.available, 1)}, of which "
        f"{format_bytes(mem.reserve, 1)} is kept in reserve."
    )
    if refusal:
        st.error(refusal)
    store = _store()
    c_build, c_cancel = st.columns([1, 1])
    build = c_build.button(
        "Build and measure", key="scale_build", type="primary", disabled=refusal is not None
    )
    c_cancel.button("Cancel", key="scale_cancel", on_click=_request_cancel)
    if st.session_state.pop(CANCELLED, False) and not build:
        st.warning("Build cancelled; nothing was kept.")
    if build:
        _build(store, config, vectors)
    result = store.get(config)
    if result is None:
        st.info("Press **Build and measure**: results are kept on this server for these choices.")
        return
    _show(result)


def _build(store: _Store, config: LabConfig, vectors: np.ndarray | None) -> None:
    if not store.building.acquire(blocking=False):
        st.info("Another scale lab build is running on this server: try again when it ends.")
        return
    try:
        bar = st.progress(0.0, text="Starting…")

        def progress(fraction: float, text: str) -> None:
            bar.progress(fraction, text=text)

        result = scalelab.run_lab(
            config,
            vectors,
            progress=progress,
            should_stop=lambda: bool(st.session_state.get(CANCELLED)),
        )
        store.put(result)
        bar.empty()
    except Cancelled:
        st.warning("Build cancelled; nothing was kept.")
    except ExplorerError as exc:
        st.error(_ui.md_text(exc))
    finally:
        store.building.release()


def _show(result: LabResult) -> None:
    config = result.config
    st.caption(
        f"Measured in {result.seconds:,.1f} s: {config.n_queries} held-out queries, each "
        f"timed alone; recall@{config.k} is against exhaustive float32 search."
    )
    _ui.plot(_latency_figure(result), key="scale_latency")
    st.caption(
        f"Median time of one query at each N. int8 and binary include rescoring "
        f"k × {config.oversample} candidates; HNSW uses ef = {config.hnsw_ef}. Hover for recall."
    )
    _ui.plot(_tradeoff_figure(result), key="scale_tradeoff")
    st.caption(
        f"At N = {config.n:,}: HNSW for ef = {', '.join(map(str, config.ef_sweep))}; int8 and "
        f"binary for rescoring factors {', '.join(map(str, config.oversample_sweep))}. Up and "
        "to the left is better."
    )
    _ui.plot(_memory_figure(result), key="scale_memory")
    st.dataframe(_table(result), key="scale_table", hide_index=True, width="stretch")


def _latency_figure(result: LabResult) -> go.Figure:
    fig = go.Figure()
    for method in result.config.methods:
        points = result.curve(method)
        fig.add_trace(
            go.Scatter(
                x=[p.n for p in points],
                y=[p.ms for p in points],
                customdata=[p.recall for p in points],
                mode="lines+markers",
                name=method.value,
                hovertemplate="N = %{x:,}<br>%{y:.3g} ms<br>recall %{customdata:.3f}",
            )
        )
    fig.update_xaxes(title_text="N, vectors searched (log scale)", type="log")
    fig.update_yaxes(title_text="ms per query (log scale)", type="log")
    fig.update_layout(title="Latency against N")
    return fig


def _tradeoff_figure(result: LabResult) -> go.Figure:
    fig = go.Figure()
    for method in result.config.methods:
        points = result.sweep_of(method)
        labels = [_setting_label(p.setting, p.value) for p in points]
        fig.add_trace(
            go.Scatter(
                x=[p.ms for p in points],
                y=[p.recall for p in points],
                text=labels,
                mode="lines+markers+text" if len(points) > 1 else "markers+text",
                textposition="top center",
                name=method.value,
                hovertemplate="%{text}<br>%{x:.3g} ms<br>recall %{y:.3f}",
            )
        )
    fig.update_xaxes(title_text="ms per query (log scale)", type="log")
    fig.update_yaxes(title_text=f"recall@{result.config.k}", range=[0, 1.05])
    fig.update_layout(title=f"Recall against latency at N = {result.config.n:,}")
    return fig


def _setting_label(setting: str, value: int) -> str:
    if setting == "ef":
        return f"ef={value}"
    if setting == "oversample":
        return f"×{value}"
    return "exact"


def _memory_figure(result: LabResult) -> go.Figure:
    names = [b.method.value for b in result.builds]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=[b.index_bytes / 1e6 for b in result.builds],
                name="vectors, codes or graph",
            ),
            go.Bar(
                x=names,
                y=[b.rescore_bytes / 1e6 for b in result.builds],
                name="float32 vectors kept for rescoring",
            ),
        ]
    )
    fig.update_layout(barmode="stack", title=f"Memory per method at N = {result.config.n:,}")
    fig.update_yaxes(title_text="MB")
    return fig


def _table(result: LabResult) -> pd.DataFrame:
    n = result.config.n
    last = {p.method: p for p in result.latency if p.n == n}
    return pd.DataFrame(
        [
            {
                "method": b.method.value,
                "build (s)": round(b.seconds, 2),
                f"ms per query at N = {n:,}": round(last[b.method].ms, 3),
                f"recall@{result.config.k}": round(last[b.method].recall, 3),
                "memory (MB)": round(b.total_bytes / 1e6, 1),
                "bytes per vector": round(b.total_bytes / n),
            }
            for b in result.builds
        ]
    )
