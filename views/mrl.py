"""MRL: keep only the first dimensions of every vector, and see which models survive it."""

from __future__ import annotations

import contextlib
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.compare import compare_rankings
from core.datasets import Dataset, list_datasets
from core.embedders.registry import LOCAL_FACTORIES
from core.mrl import (
    CurvePoint,
    ranking_at_dims,
    recall_curve,
    standard_curve,
    standard_dims,
    truncated_top_k,
)
from core.pipeline import OVERSAMPLES, PIPELINE_PRECISIONS, PipelinePoint, standard_sweep
from core.quantize import Precision
from core.storage import payload_bytes
from core.vectors import VectorSet, embed_dataset
from views import _state, _ui
from views._snippets import openai_embeddings_call

PERCENT = st.column_config.NumberColumn(format="%.1f%%")  # of values in percent
SCORE = st.column_config.NumberColumn(format="%.4f")
# One colour and dash per precision; a line's labels take its colour.
STYLE = {
    Precision.FLOAT32: ("#1f4fd1", "solid"),
    Precision.INT8: ("#11853b", "dash"),
    Precision.BINARY: ("#c79100", "dot"),
}
# Presenter mode, 1280x720: what is left under the title, the tabs and one row of controls.
PRESENTER_CHART_PX = 440
PRESENTER_ROW_PX = 32  # a table row: the header and ten rows fit
PRESENTER_HEADER_PX = 44  # the header row, taller in presenter type, and the borders
TALK_MODEL = "text-embedding-3-large"  # the talk's MRL model, 3072 dims cut to 256

_ui.page_intro(
    "MRL",
    "Matryoshka Representation Learning trains a model so that the first dimensions of its "
    "vectors carry the most meaning: cut a vector after m values, rescale it to unit length, "
    "and it still works, like a smaller doll inside the big one. Only models trained (or "
    "ordered) that way survive the cut: for the others the first m values are just a random "
    "part of the vector.",
    r"\mathbf{v}_{1:m} = \frac{(v_1, \dots, v_m)}{\lVert (v_1, \dots, v_m) \rVert}",
)


@st.cache_data(show_spinner="Measuring recall at every size…", max_entries=64)
def _curve(vectors_key: str, k: int, _vectors: np.ndarray) -> list[CurvePoint]:
    """Recall@k at the standard sizes for ``_vectors``, named by content by ``vectors_key``
    (from the disk cache when the set-up step or an earlier server computed it)."""
    return standard_curve(_vectors, k)


@st.cache_data(show_spinner=False, max_entries=64)
def _reference(vectors_key: str, k: int, _vectors: np.ndarray) -> np.ndarray:
    """Every item's full-size top k, ``(n, k)``: kept, so a slider move searches only once."""
    return truncated_top_k(_vectors, _vectors.shape[1], k)


@st.cache_data(show_spinner=False, max_entries=256)
def _recall_at(vectors_key: str, k: int, dims: int, _vectors: np.ndarray) -> float:
    """Recall@k (0..1) of ``_vectors`` cut to ``dims``: from the curve at a standard size,
    else one search of the cut vectors against the kept reference."""
    for point in _curve(vectors_key, k, _vectors):
        if point.dims == dims:
            return point.recall_at_k
    reference = _reference(vectors_key, k, _vectors)
    (point,) = recall_curve(_vectors, (dims,), k, reference=reference)
    return point.recall_at_k


@st.cache_data(show_spinner="Running every pipeline over every item (once)…", max_entries=16)
def _pipelines(vectors_key: str, k: int, _vectors: np.ndarray) -> list[PipelinePoint]:
    """Every pipeline of the Full pipeline tab for ``_vectors`` (named by ``vectors_key``)."""
    return standard_sweep(_vectors, k)


@st.cache_resource(show_spinner="Embedding the dataset with another model (once)…", max_entries=16)
def _local_vectors(key: str, _dataset: Dataset, model: str) -> np.ndarray:
    """``_dataset`` under the local ``model``; ``key`` names both by content (the dataset's
    fingerprint, the model's name and version)."""
    vectors = embed_dataset(_dataset, _ui.embedder(model))
    vectors.flags.writeable = False
    return vectors


def _curve_sets(where: Any) -> dict[str, VectorSet]:
    """The sidebar's models and, when the toggle (drawn in ``where``) is on, every other local
    model: the models the recall curves compare. Bundled datasets only (an upload would be
    embedded again)."""
    sets = dict(ws.sets)
    if ws.dataset.name not in list_datasets():
        return sets
    if not where.toggle(
        "Every local model",
        key=_ui.bound("mrl_all", True, _ui.as_bool),
        help="Add the local models the sidebar did not choose, e.g. all-mpnet-base-v2 (not "
        "MRL-trained) next to the PCA-ordered static model.",
    ):
        return sets
    for name in LOCAL_FACTORIES:
        if name not in sets:
            with _ui.guard(name):
                emb = _ui.embedder(name)
                key = f"{ws.dataset.fingerprint}:{emb.name}@{emb.version}"
                vectors = _local_vectors(key, ws.dataset, name)
                sets[name] = VectorSet(ws.dataset, name, vectors, emb)
    return sets


def _kind(vs: VectorSet) -> str:
    if vs.embedder is None:
        return "imported"
    return "ordered dims, MRL" if vs.embedder.supports_mrl else "not ordered"


def _dims_slider(where: Any, most: int, label: str) -> int:
    """The URL-bound "dimensions kept" slider from 1 to ``most``, drawn in ``where``."""
    _ui.bound("mrl_dims", min(64, most), int, valid=lambda v: 1 <= v <= most)
    _ui.clamp_state("mrl_dims", 1, most)
    if most == 1:
        # A slider from 1 to 1 fails; with one value there is nothing to truncate.
        where.info("These vectors have 1 dimension: there is nothing to truncate.")
        return 1
    return int(
        where.slider(
            label,
            1,
            most,
            key="mrl_dims",
            help="The first m values of every vector, re-normalised to unit length.",
        )
    )


def _sdk_code(models: list[str], inputs: str, dims: int) -> str:
    """The SDK call that cuts vectors on the server, for a text-embedding-3 model of ``models``
    (else the talk's model): the first lines of the tabs' Python."""
    found = (re.search(r"text-embedding-3-(small|large)", m) for m in models)
    api_model = next((f.group(0) for f in found if f), TALK_MODEL)
    return (
        "# text-embedding-3 models cut their vectors on the server (unit length again):\n"
        + openai_embeddings_call(api_model, inputs, dims)
        + "\n"
        "# Any model, in numpy: keep the first values of every vector and re-normalise.\n"
        "import numpy as np\n\n"
        f"# `vectors` holds the ({n}, d) embeddings of {ws.dataset.name}.\n"
        f"short = vectors[:, :{dims}]\n"
        "short = short / np.linalg.norm(short, axis=1, keepdims=True)\n"
    )


ws = _ui.workspace()
labels = ws.dataset.labels
n = len(labels)
VIEWS = ("Recall curves", "One ranking", "Full pipeline")
# The tabs' folded sections, and their popovers' labels in presenter mode.
CODE, HOW = "The same in Python", "How to read this chart"
SHORT = {HOW: "How to read", CODE: "Python"}


@_state.fragment
def one_ranking() -> None:
    """The target's top k at the kept dimensions against its top k at full size. A
    fragment: its controls rerun only this tab."""
    c_model, c_target, c_k, c_dims = st.columns([3, 4, 2, 3])
    model = _ui.model_choice("mrl_model", ws, where=c_model)
    target = _ui.target_input("mrl_target", ws, where=c_target)
    k = _ui.k_slider("mrl_k", n, where=c_k)
    vs = ws.sets[model]
    dims = _dims_slider(c_dims, vs.dims, f"Dimensions kept (of {vs.dims})")
    query, exclude = _ui.target_query(vs, target)
    if query is None:
        return
    row = None
    with _ui.guard(model):
        full = ranking_at_dims(vs.vectors, query, vs.dims, k, exclude)
        short = ranking_at_dims(vs.vectors, query, dims, k, exclude)
        ranks = compare_rankings(full.ids[0].tolist(), short.ids[0].tolist(), labels)
        c_table, c_stats = st.columns([3, 1])
        table = _ui.comparison_frame(
            ranks, full.scores[0], short.scores[0], f"{vs.dims} dims", f"{dims} dims"
        )
        size: dict[str, Any] = {}
        if _ui.presenting():
            rows = min(k, 10)  # more rows scroll inside the table
            height = PRESENTER_HEADER_PX + PRESENTER_ROW_PX * rows
            size = {"row_height": PRESENTER_ROW_PX, "height": height}
        c_table.dataframe(
            table,
            key="mrl_ranking",
            hide_index=True,
            width="stretch",
            column_config={f"{vs.dims} dims score": SCORE, f"{dims} dims score": SCORE},
            **size,
        )
        c_table.caption(
            f"Top {k} at {dims} dimensions against all {vs.dims}. "
            + _ui.MARKS_LEGEND.format(reference=f"{vs.dims}-dimension")
        )
        _ui.download_table(table, "mrl_ranking", c_table)
        c_stats.metric(f"overlap@{k}", f"{ranks.overlap_at_k:.0%}")
        c_stats.metric(
            "float32 bytes per vector",
            f"{payload_bytes(dims, Precision.FLOAT32):,}",
            delta=f"{dims / vs.dims - 1:+.0%} vs {payload_bytes(vs.dims, Precision.FLOAT32):,}",
            delta_color="inverse",
        )
        c_stats.caption(_ui.md_text(f"{model}: {_kind(vs)}."))
        row = c_stats  # a presenter's popover goes under the numbers
    with contextlib.nullcontext() if row is None else row:
        fold = _ui.Folds({CODE: SHORT[CODE]})
    _ui.code_expander(
        _sdk_code([model], repr([target]), dims)
        + f"q_short = q[:{dims}] / np.linalg.norm(q[:{dims}])  # `q`: the target's vector\n"
        + f"top = np.argsort(-(short @ q_short))[:{k}]\n",
        where=fold,
    )


@st.cache_resource(show_spinner=False, max_entries=64)
def _curves_figure(
    lines: tuple[tuple[str, str, int], ...],
    k: int,
    dims: int,
    big: bool,
    _curves: list[tuple[list[CurvePoint], float | None]],
) -> go.Figure:
    """Recall@k against dimensions kept, a line per ``(label, vectors key, dims)`` of
    ``lines`` drawn from its ``_curves`` entry (the curve, and the recall at ``dims`` when the
    model has that many), the cut at ``dims`` marked. Styled; built once per content key."""
    fig = go.Figure()
    for (label, _, _), (curve, recall) in zip(lines, _curves, strict=True):
        if big and recall is not None:  # the legend says what the metrics say in normal mode
            label += f": {recall:.1%} at {dims}"
        fig.add_trace(
            go.Scatter(
                x=[p.dims for p in curve],
                y=[p.recall_at_k for p in curve],
                mode="lines+markers",
                name=label,
                hovertemplate="%{x} dims: %{y:.1%}<extra>%{fullData.name}</extra>",
            )
        )
    fig.add_vline(x=dims, line_dash="dash", line_color="#555")
    # Annotations on a log axis take log10 of the value (shapes take the value itself).
    fig.add_annotation(
        x=math.log10(dims), y=0.03, text=f"{dims} dims kept", showarrow=False, xanchor="left"
    )
    ticks = sorted({d for _, _, most in lines for d in standard_dims(most)})
    fig.update_xaxes(title_text="dimensions kept (log scale)", type="log", tickvals=ticks)
    fig.update_yaxes(title_text=f"recall@{k}", tickformat=".0%", range=[0, 1.02])
    fig.update_layout(
        title={"text": f"Recall@{k} against dimensions, every item as the query"},
        legend={"orientation": "h", "y": -0.22 if big else -0.25, "x": 0},
    )
    return _ui.styled_figure(fig, height=PRESENTER_CHART_PX if big else 400, big=big)


@_state.fragment
def recall_curves() -> None:
    """Recall@k against dimensions kept, one curve per model, the current cut marked. A
    fragment: its controls rerun only this tab."""
    (c_k, c_dims, c_all), fold = _ui.controls_row(
        [2, 3, 2], 1.2, {CODE: SHORT[CODE]}, vertical_alignment="center"
    )
    k = _ui.k_slider("mrl_k", n, where=c_k)
    sets = _curve_sets(c_all)
    dims = _dims_slider(c_dims, max(s.dims for s in sets.values()), "Dimensions kept")
    big = _ui.presenting()
    lines: list[tuple[str, str, int]] = []
    curves: list[tuple[list[CurvePoint], float | None]] = []
    marks = []
    for name, other in sets.items():
        with _ui.guard(name):
            curve = _curve(other.key, k, other.vectors)
            recall = _recall_at(other.key, k, dims, other.vectors) if dims <= other.dims else None
            if recall is not None:
                marks.append((name, recall))
            lines.append((f"{name} ({_kind(other)})", other.key, other.dims))
            curves.append((curve, recall))
    if not lines:
        return
    fig = _curves_figure(tuple(lines), k, dims, big, curves)
    _ui.plot(fig, key="mrl_curves", styled=True)
    if not big:
        for column, (name, recall) in zip(st.columns(max(1, len(marks))), marks, strict=False):
            column.metric(_ui.md_text(f"{name} at {dims} dims"), f"{recall:.1%}")
        st.caption(
            f"For each size, every one of the {n:,} items searches the others with truncated "
            f"vectors; recall@{k} is the mean share of its full-size top {k} found. A model "
            "with ordered dimensions keeps its neighbours with far fewer numbers."
        )
    _ui.code_expander(
        _sdk_code(list(sets), "texts", dims)
        + "\n\ndef top_k(m: np.ndarray) -> np.ndarray:  # every item's k nearest others\n"
        + "    sims = m @ m.T\n"
        + "    np.fill_diagonal(sims, -np.inf)\n"
        + f"    return np.argsort(-sims, axis=1)[:, :{k}]\n\n\n"
        + "unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)\n"
        + "found = [len(set(a) & set(b)) for a, b in zip(top_k(unit), top_k(short))]\n"
        + f"recall = np.mean(found) / {k}\n",
        where=fold,
    )


def _label_positions(chosen: list[PipelinePoint]) -> dict[tuple[Precision, int], str]:
    """Where each rescored point's label goes, by (precision, dims): above the point when it
    is the highest of the points at its size in bytes, else below and to the right, so that
    pipelines of equal size (three precisions meet at 32 B) do not print over each other."""
    highest: dict[int, float] = {}
    for p in chosen:
        highest[p.bytes_per_vector] = max(highest.get(p.bytes_per_vector, -1.0), p.recall_rescored)
    return {
        (p.precision, p.dims): "top center"
        if p.recall_rescored == highest[p.bytes_per_vector]
        else "bottom right"
        for p in chosen
    }


@st.cache_resource(show_spinner=False, max_entries=64)
def _pipeline_figure(
    vectors_key: str, factor: int, k: int, big: bool, _chosen: list[PipelinePoint]
) -> go.Figure:
    """Recall@k against bytes per vector: a line per precision after rescoring (labelled
    with the dimensions kept, in its colour), crosses for the small vectors alone. Styled;
    built once per vectors (``vectors_key``), factor, k and presenter mode."""
    fig = go.Figure()
    where = _label_positions(_chosen)
    for precision in PIPELINE_PRECISIONS:
        line = [p for p in _chosen if p.precision is precision]
        colour, dash = STYLE[precision]
        fig.add_trace(
            go.Scatter(
                x=[p.bytes_per_vector for p in line],
                y=[p.recall_rescored for p in line],
                mode="lines+markers+text",
                text=[str(p.dims) for p in line],
                textposition=[where[precision, p.dims] for p in line],
                # A white halo keeps a label readable where it crosses a line or a cross.
                textfont={"shadow": "0 0 2px white, 0 0 2px white", "color": colour},
                # Labels of points at 100 % sit above the plot area: draw them whole.
                cliponaxis=False,
                name=f"{precision.value} + rescore ×{factor}",
                line={"dash": dash, "color": colour},
                marker={"color": colour},
                hovertemplate="%{text} dims, %{x} B: %{y:.1%}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[p.bytes_per_vector for p in line],
                y=[p.recall_first_stage for p in line],
                mode="markers",
                marker={"symbol": "x", "size": 9, "color": colour},
                name=f"{precision.value} alone",
                hovertemplate="%{x} B: %{y:.1%}<extra>no rescoring</extra>",
            )
        )
    sizes = sorted({p.bytes_per_vector for p in _chosen})
    fig.update_xaxes(
        title_text="bytes per vector searched (log scale)",
        type="log",
        tickvals=sizes,
        ticktext=[f"{b:,}" for b in sizes],
    )
    fig.update_yaxes(title_text=f"recall@{k}", tickformat=".0%", range=[0, 1.1])
    # Beside the plot in presenter mode, where the screen is wide and short.
    legend = (
        {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1}
        if big
        else {"orientation": "h", "y": -0.25, "x": 0}
    )
    fig.update_layout(
        title={"text": f"Recall@{k} against bytes per vector, k × {factor} candidates rescored"},
        legend=legend,
    )
    return _ui.styled_figure(fig, height=PRESENTER_CHART_PX if big else 440, big=big)


def _pipeline_table(chosen: list[PipelinePoint], factor: int) -> None:
    """Every pipeline of the chart as a row."""
    st.dataframe(
        pd.DataFrame(
            {
                "dims": [p.dims for p in chosen],
                "precision": [p.precision.value for p in chosen],
                "bytes per vector": [p.bytes_per_vector for p in chosen],
                "recall alone": [100 * p.recall_first_stage for p in chosen],
                f"recall + rescore ×{factor}": [100 * p.recall_rescored for p in chosen],
            }
        ),
        key="mrl_pipeline_table",
        hide_index=True,
        column_config={"recall alone": PERCENT, f"recall + rescore ×{factor}": PERCENT},
    )


@_state.fragment
def full_pipeline() -> None:
    """Truncate + quantize + oversample + rescore: bytes per vector against recall@k. A
    fragment: its controls rerun only this tab."""
    (c_model, c_k, c_factor), fold = _ui.controls_row([3, 2, 4], 4, SHORT)
    model = _ui.model_choice("mrl_model", ws, where=c_model)
    k = _ui.k_slider("mrl_k", n, where=c_k)
    vs = ws.sets[model]
    factor = c_factor.slider(
        "Oversampling factor",
        1,
        OVERSAMPLES[-1],
        key=_ui.bound("mrl_factor", 4, int, valid=lambda v: v in OVERSAMPLES),
        help="k × factor candidates come from the small vectors; the originals rescore them.",
    )
    points: list[PipelinePoint] = []
    with _ui.guard("Pipeline"):
        points = _pipelines(vs.key, k, vs.vectors)
    chosen = [p for p in points if p.oversample == factor]
    if not chosen:
        return
    big = _ui.presenting()
    fig = _pipeline_figure(vs.key, factor, k, big, chosen)
    _ui.plot(fig, key="mrl_pipeline", styled=True)
    caption = (
        f"{model}. Labels are the dimensions kept. Lines: after rescoring the candidates with "
        f"the original {vs.dims}-d vectors; crosses: the small vectors' own top {k}. Rescoring "
        f"reads only k × {factor} originals per query, so they can stay on disk. The small "
        "vectors are quantized as in the talk: int8 from the global min and max, bits above the "
        "mean of all values, codes ranked by their cosine (a vector database's dot product or "
        "Hamming distance ranks a little differently: see Quantization)."
    )
    if big:  # the chart fills the screen; hover shows each point's numbers
        with fold(HOW):
            st.caption(_ui.md_text(caption))
    else:
        st.caption(_ui.md_text(caption))
        _pipeline_table(chosen, factor)
    _ui.code_expander(
        "import numpy as np\n\n"
        f"# `unit` holds the ({n}, {vs.dims}) unit-length embeddings; `q_short` a query\n"
        "# truncated to the kept dimensions and re-normalised (see the other tabs).\n"
        "# binary as in the talk: 1 where a value is above the mean of all values\n"
        "bits = (short > short.mean()).astype(np.float32)\n"
        "q_bits = (q_short > short.mean()).astype(np.float32)\n"
        "sims = bits @ q_bits / (np.linalg.norm(bits, axis=1) * np.linalg.norm(q_bits))\n"
        f"candidates = np.argsort(-sims)[:{k * factor}]  # cosine of the 0/1 vectors\n"
        f"top = candidates[np.argsort(-(unit[candidates] @ (q / np.linalg.norm(q))))][:{k}]\n",
        where=fold,
    )


view, tab = _ui.view_tabs("mrl_view", VIEWS)
with tab:
    {VIEWS[0]: recall_curves, VIEWS[1]: one_ranking, VIEWS[2]: full_pipeline}[view]()
