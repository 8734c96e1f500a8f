"""The scale lab, a section of the Search page: build up to a million vectors and watch how
each search method's latency grows with N, what recall it buys per millisecond, and what it
costs in memory. The maths is in ``core.scalelab``; this module draws widgets and figures."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import scalelab, storage
from core.corpora import Cancelled
from core.errors import ExplorerError
from core.io import load_matrix
from core.kernels import JIT_MIN_ROWS
from core.scalelab import LabConfig, LabResult, Source
from core.search import (
    EF_CHOICES,
    EF_CONSTRUCTION_CHOICES,
    M_CHOICES,
    TALK_EF,
    TALK_EF_CONSTRUCTION,
    TALK_M,
    Method,
)
from core.storage import format_bytes
from views import _ui

N_CHOICES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)
SOURCES = {
    Source.DATASET.value: "this dataset's vectors, tiled with noise",
    Source.SYNTHETIC.value: "synthetic clustered unit vectors",
    Source.UPLOAD.value: "an uploaded .npy matrix",
}
# Presenter mode lays the sources out in one row: shorter names.
SHORT_SOURCES = {
    Source.DATASET.value: "dataset, tiled",
    Source.SYNTHETIC.value: "synthetic",
    Source.UPLOAD.value: ".npy upload",
}
# What presenter mode shows of a run, one at a time (normal mode shows all of them).
LATENCY, TRADEOFF, MEMORY, TABLE = "Latency against N", "Recall against latency", "Memory", "Table"
SHOWN = (LATENCY, TRADEOFF, MEMORY, TABLE)
# Figure height in presenter mode: what the compact controls leave of a 720-px screen.
PRESENT_HEIGHT = 250
INTRO = (
    "Exhaustive search reads every vector, so its time grows in step with N. HNSW visits "
    "a few hundred nodes of its graph whatever N, so its time barely grows. int8 and "
    "binary codes make the exhaustive scan 4× and 32× smaller, and rescoring a few "
    "candidates with the float vectors wins back the exact ranking. Build the methods on "
    "N vectors and measure it on this machine."
)
METHODS = [m.value for m in Method]
# HNSW's ef for the N curves: the search raises ef to k (10) anyway.
LAB_EF_CHOICES = tuple(v for v in EF_CHOICES if v >= LabConfig.k)
# Finished runs kept per server; each holds a few hundred numbers, not the corpora.
KEEP = 16
CANCELLED = "scale_cancelled"


@dataclass
class _Store:
    """Server-wide: finished runs by config."""

    results: OrderedDict[LabConfig, LabResult] = field(default_factory=OrderedDict)

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


def _settings(where, big: bool) -> tuple[int, int, int, int]:
    """M, ef_construction, ef and the rescoring factor, from a folded expander in ``where``
    (two rows of two in presenter mode's narrow column)."""
    with where.expander("HNSW and rescoring settings"):
        s_m, s_efc, s_ef, s_over = (*st.columns(2), *st.columns(2)) if big else st.columns(4)
        m = s_m.select_slider(
            "M (links per node)",
            M_CHOICES,
            key=_ui.bound("scale_m", TALK_M, int, valid=lambda v: v in M_CHOICES),
        )
        efc = s_efc.select_slider(
            "ef_construction",
            EF_CONSTRUCTION_CHOICES,
            key=_ui.bound(
                "scale_efc",
                TALK_EF_CONSTRUCTION,
                int,
                valid=lambda v: v in EF_CONSTRUCTION_CHOICES,
            ),
        )
        ef = s_ef.select_slider(
            "ef (search)",
            LAB_EF_CHOICES,
            key=_ui.bound("scale_ef", TALK_EF, int, valid=lambda v: v in LAB_EF_CHOICES),
            help="Candidates HNSW keeps while searching, for the latency-against-N curve.",
        )
        oversample = s_over.slider(
            "rescoring factor",
            1,
            16,
            key=_ui.bound("scale_oversample", 4, int, valid=lambda v: 1 <= v <= 16),
            help="int8 and binary fetch k × this many candidates, then rescore them in float32.",
        )
    return int(m), int(efc), int(ef), int(oversample)


def render_scale_lab(ws: _ui.Workspace) -> None:
    """Draw the lab: choices, the memory estimate (or refusal), the build button with
    progress and cancel, and the figures of the last run with these choices. Presenter mode
    folds the introduction and the settings and puts the buttons beside the methods."""
    big = _ui.presenting()
    if big:
        # The figure chooser of a finished run goes in this row too: the figure needs the room.
        c_about, c_settings, c_show = st.columns([1, 1, 1.1], vertical_alignment="center")
        with c_about.expander("What the scale lab measures"):
            st.markdown(INTRO)
    else:
        st.subheader("Scale lab: from a thousand to a million vectors")
        st.markdown(INTRO)
    c_n, c_source, c_base = st.columns([2, 3, 2] if big else [2, 2, 2])
    n = c_n.select_slider(
        "N (vectors)",
        N_CHOICES,
        key=_ui.bound("scale_n", 10_000, int, valid=lambda v: v in N_CHOICES),
        format_func=lambda v: f"{v:,}",
    )
    source = c_source.radio(
        "Vectors",
        list(SOURCES),
        format_func=(SHORT_SOURCES if big else SOURCES).get,
        horizontal=big,
        key=_ui.bound("scale_source", Source.DATASET.value, valid=lambda v: v in SOURCES),
    )
    if big:
        c_methods, c_build, c_cancel = st.columns([4, 1, 1], vertical_alignment="bottom")
    else:
        c_methods = st.container()
    methods = c_methods.multiselect(
        "Methods",
        METHODS,
        key=_ui.bound("scale_methods", METHODS, valid=lambda v: set(v) <= set(METHODS)),
    )
    m, efc, ef, oversample = _settings(c_settings if big else st, big)
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
            hnsw_ef=ef,
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
    memory = (
        f"Estimated peak memory for N = {n:,} × {dims}: {format_bytes(estimate.total, 1)} · "
        f"available on this machine: {format_bytes(mem.available, 1)}, of which "
        f"{format_bytes(mem.reserve, 1)} is kept in reserve."
    )
    if not big:
        st.caption(memory)
    if refusal:
        st.error(refusal)
    store = _store()
    if not big:
        c_build, c_cancel = st.columns([1, 1])
    build = c_build.button(
        "Build and measure",
        key="scale_build",
        type="primary",
        disabled=refusal is not None,
        help=memory if big else None,
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
    if big:
        _show_one(result, c_show)
    else:
        _show(result)


def _build(store: _Store, config: LabConfig, vectors: np.ndarray | None) -> None:
    """Run the lab in the server's one long-job slot (two large builds at once could each
    pass the memory check and together not fit) and keep its result."""
    with _ui.server_job("a scale lab build") as mine:
        if not mine:
            return
        bar = st.progress(0.0, text="Starting…")

        def progress(fraction: float, text: str) -> None:
            bar.progress(fraction, text=text)

        try:
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


def _measured(result: LabResult) -> str:
    config = result.config
    return (
        f"Measured in {result.seconds:,.1f} s: {config.n_queries} held-out queries, each "
        "searched alone on one thread and timed by that thread's CPU time (so waiting for a "
        "core that other work holds is left out); a point is the median over the queries of "
        f"each one's fastest of up to {scalelab.MAX_ROUNDS} rounds. recall@{config.k} is "
        "against exhaustive float32 search."
    )


def _latency_note(result: LabResult) -> str:
    config = result.config
    return (
        f"Median CPU time of one query at each N. int8 and binary include rescoring "
        f"k × {config.oversample} candidates; HNSW uses ef = {max(config.hnsw_ef, config.k)}. "
        "Hover for recall."
    )


def _why_slower(result: LabResult) -> str | None:
    """One sentence on why a quantized method was slower than float32 at small N, when it
    was (below :data:`JIT_MIN_ROWS` rows the kernels scan codes with plain numpy)."""
    slow = {
        method: [n for n in result.slower_than_exact(method) if n < JIT_MIN_ROWS]
        for method in (Method.INT8, Method.BINARY)
    }
    slow = {method: sizes for method, sizes in slow.items() if sizes}
    if not slow:
        return None
    names = " and ".join(method.value for method in slow)
    sizes = ", ".join(f"{n:,}" for n in sorted({n for ns in slow.values() for n in ns}))
    one = len(slow) == 1
    return (
        f"{names} {'is' if one else 'are'} slower than exhaustive float32 here at N = {sizes} "
        f"because below {JIT_MIN_ROWS:,} vectors {'its' if one else 'their'} codes are scanned "
        "in plain numpy, which has no fast integer product (float32 gets BLAS), and rescoring "
        f"adds a fixed cost to every query; from {JIT_MIN_ROWS:,} on, compiled kernels scan "
        "the smaller codes."
    )


def _show(result: LabResult) -> None:
    st.caption(_measured(result))
    _ui.plot(_latency_figure(result), key="scale_latency")
    st.caption(_latency_note(result))
    why = _why_slower(result)
    if why:
        st.markdown(why)
    _ui.plot(_tradeoff_figure(result), key="scale_tradeoff")
    st.caption(_tradeoff_note(result))
    _ui.plot(_memory_figure(result), key="scale_memory")
    st.dataframe(_table(result), key="scale_table", hide_index=True, width="stretch")


def _show_one(result: LabResult, where) -> None:
    """Presenter mode: one figure or the table at a time, chosen in ``where``, with its note
    beside it rather than under it, so the figure fits the screen."""
    shown = where.radio(
        "Show",
        SHOWN,
        horizontal=True,
        label_visibility="collapsed",
        format_func=lambda v: v.split()[0],
        key=_ui.bound("scale_show", LATENCY, valid=lambda v: v in SHOWN),
    )
    if shown == TABLE:
        # Full width, so that every column shows; the note is one line under it.
        st.dataframe(_table(result), key="scale_table", hide_index=True, width="stretch")
        st.caption(
            f"Measured in {result.seconds:,.1f} s: {result.config.n_queries} queries, each "
            "alone on one thread, by its CPU time; the median of each query's fastest of up to "
            f"{scalelab.MAX_ROUNDS} rounds."
        )
        return
    views: dict[str, tuple[str, Callable[[LabResult], go.Figure], Callable[[LabResult], str]]]
    views = {
        LATENCY: ("scale_latency", _latency_figure, _latency_or_why),
        # No setting written beside each point: on a short chart they overlap (hover has them).
        TRADEOFF: ("scale_tradeoff", partial(_tradeoff_figure, labels=False), _tradeoff_note),
        MEMORY: ("scale_memory", _memory_figure, _memory_note),
    }
    key, draw, note = views[shown]
    c_main, c_note = st.columns([2, 1])
    with c_main:
        _ui.plot(draw(result), key=key, height=PRESENT_HEIGHT)
    c_note.caption(note(result))


def _latency_or_why(result: LabResult) -> str:
    return _why_slower(result) or _latency_note(result)


def _memory_note(result: LabResult) -> str:
    return "Per method: its codes or graph, and the float32 vectors it keeps to rescore."


def _tradeoff_note(result: LabResult) -> str:
    config = result.config
    return (
        f"At N = {config.n:,}: HNSW for ef = {', '.join(map(str, config.ef_sweep))}; int8 and "
        f"binary for rescoring factors {', '.join(map(str, config.oversample_sweep))}. Up and "
        "to the left is better."
    )


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
    sizes = scalelab.size_ladder(result.config.n)
    # Ticks at the measured N only, and 1-2-5 on the time axis: plotly's default log ticks
    # crowd a short chart with unlabelled minor values.
    fig.update_xaxes(
        title_text="N, vectors searched (log scale)",
        type="log",
        tickvals=list(sizes),
        ticktext=[f"{n:,}" for n in sizes],
    )
    fig.update_yaxes(
        title_text="CPU ms per query", type="log", **_ui.log_ticks([p.ms for p in result.latency])
    )
    fig.update_layout(title="Latency against N (log scales)")
    return fig


def _tradeoff_figure(result: LabResult, labels: bool = True) -> go.Figure:
    """Recall against latency; ``labels`` writes each point's setting beside it."""
    fig = go.Figure()
    for method in result.config.methods:
        points = result.sweep_of(method)
        mode = "lines+markers" if len(points) > 1 else "markers"
        fig.add_trace(
            go.Scatter(
                x=[p.ms for p in points],
                y=[p.recall for p in points],
                text=[_setting_label(p.setting, p.value) for p in points],
                mode=mode + "+text" if labels else mode,
                textposition="top center",
                name=method.value,
                hovertemplate="%{text}<br>%{x:.3g} ms<br>recall %{y:.3f}",
            )
        )
    fig.update_xaxes(
        title_text="CPU ms per query (log scale)",
        type="log",
        **_ui.log_ticks([p.ms for p in result.sweep]),
    )
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
