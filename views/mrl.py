"""MRL: keep only the first dimensions of every vector, and see which models survive it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.compare import compare_rankings
from core.datasets import Dataset, list_datasets
from core.embedders.registry import LOCAL_FACTORIES
from core.mrl import CurvePoint, ranking_at_dims, recall_curve, standard_dims
from core.pipeline import PIPELINE_PRECISIONS, PipelinePoint, pipeline_points
from core.quantize import Precision
from core.storage import payload_bytes
from core.vectors import VectorSet, embed_dataset
from views import _ui

FACTORS = range(1, 11)
PERCENT = st.column_config.NumberColumn(format="%.1f%%")  # of values in percent
# One colour, dash and label position per precision, so labels of lines that meet do not collide.
STYLE = {
    Precision.FLOAT32: ("#1f4fd1", "solid", "top left"),
    Precision.INT8: ("#11853b", "dash", "bottom center"),
    Precision.BINARY: ("#c79100", "dot", "top center"),
}

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
def _curve(vectors_key: str, k: int, sizes: tuple[int, ...], _vectors) -> list:
    """Recall against dimensions for ``_vectors``, named by content by ``vectors_key``."""
    return recall_curve(_vectors, sizes, k)


@st.cache_data(show_spinner="Running every pipeline over every item (once)…", max_entries=16)
def _pipelines(vectors_key: str, k: int, _vectors) -> list[PipelinePoint]:
    sizes = standard_dims(_vectors.shape[1])
    return pipeline_points(_vectors, k, sizes, PIPELINE_PRECISIONS, FACTORS)


@st.cache_resource(show_spinner="Embedding the dataset with another model (once)…", max_entries=16)
def _local_vectors(key: str, _dataset: Dataset, model: str) -> np.ndarray:
    """``_dataset`` under the local ``model``; ``key`` names both by content (the dataset's
    fingerprint, the model's name and version)."""
    vectors = embed_dataset(_dataset, _ui.embedder(model))
    vectors.flags.writeable = False
    return vectors


def _curve_sets() -> dict[str, VectorSet]:
    """The sidebar's models and, when the toggle is on, every other local model: the models
    the recall curves compare. Bundled datasets only (an upload would be embedded again)."""
    sets = dict(ws.sets)
    if ws.dataset.name not in list_datasets():
        return sets
    if not st.toggle(
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


ws = _ui.workspace()
labels = ws.dataset.labels
n = len(labels)
VIEWS = ("Recall curves", "One ranking", "Full pipeline")

*row, c_dims = st.columns([3, 4, 2, 3])
model, target, k = _ui.target_controls("mrl", ws, row)
vs = ws.sets[model]
_ui.bound("mrl_dims", min(64, vs.dims), int, valid=lambda v: 1 <= v <= vs.dims)
_ui.clamp_state("mrl_dims", 1, vs.dims)
if vs.dims == 1:
    # A slider from 1 to 1 fails; with one value there is nothing to truncate.
    c_dims.info("These vectors have 1 dimension: there is nothing to truncate.")
    dims = 1
else:
    dims = int(
        c_dims.slider(
            f"Dimensions kept (of {vs.dims})",
            1,
            vs.dims,
            key="mrl_dims",
            help="The first m values of every vector, re-normalised to unit length.",
        )
    )
kind = _kind(vs)


def one_ranking() -> None:
    """The target's top k at ``dims`` dimensions against its top k at full size."""
    query, exclude = _ui.target_query(vs, target)
    if query is None:
        return
    with _ui.guard(model):
        full = ranking_at_dims(vs.vectors, query, vs.dims, k, exclude)
        short = ranking_at_dims(vs.vectors, query, dims, k, exclude)
        ranks = compare_rankings(full.ids[0].tolist(), short.ids[0].tolist(), labels)
        c_table, c_stats = st.columns([3, 1])
        table = _ui.comparison_frame(
            ranks, full.scores[0], short.scores[0], f"{vs.dims} dims", f"{dims} dims"
        )
        c_table.dataframe(
            table,
            key="mrl_ranking",
            hide_index=True,
            width="stretch",
            column_config={
                f"{vs.dims} dims score": st.column_config.NumberColumn(format="%.4f"),
                f"{dims} dims score": st.column_config.NumberColumn(format="%.4f"),
            },
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
        c_stats.caption(_ui.md_text(f"{model}: {kind}."))


def recall_curves() -> None:
    """Recall@k against dimensions kept, one curve per model, the current cut marked."""
    sets = _curve_sets()
    fig = go.Figure()
    marks = []
    for name, other in sets.items():
        with _ui.guard(name):
            sizes = standard_dims(other.dims)
            curve: list[CurvePoint] = _curve(other.key, k, sizes, other.vectors)
            fig.add_trace(
                go.Scatter(
                    x=[p.dims for p in curve],
                    y=[p.recall_at_k for p in curve],
                    mode="lines+markers",
                    name=f"{name} ({_kind(other)})",
                    hovertemplate="%{x} dims: %{y:.1%}<extra>%{fullData.name}</extra>",
                )
            )
            if dims <= other.dims:
                (here,) = _curve(other.key, k, (dims,), other.vectors)
                marks.append((name, here.recall_at_k))
    if not fig.data:
        return
    fig.add_vline(x=dims, line_dash="dash", line_color="#555")
    # Annotations on a log axis take log10 of the value (shapes take the value itself).
    fig.add_annotation(
        x=math.log10(dims), y=0.03, text=f"{dims} dims kept", showarrow=False, xanchor="left"
    )
    ticks = sorted({d for s in sets.values() for d in standard_dims(s.dims)})
    fig.update_xaxes(title_text="dimensions kept (log scale)", type="log", tickvals=ticks)
    fig.update_yaxes(title_text=f"recall@{k}", tickformat=".0%", range=[0, 1.02])
    fig.update_layout(
        title={"text": f"Recall@{k} against dimensions, every item as the query"},
        legend={"orientation": "h", "y": -0.25, "x": 0},
    )
    _ui.plot(fig, key="mrl_curves", height=400)
    for column, (name, recall) in zip(st.columns(max(1, len(marks))), marks, strict=False):
        column.metric(_ui.md_text(f"{name} at {dims} dims"), f"{recall:.1%}")
    st.caption(
        f"For each size, every one of the {n:,} items searches the others with truncated "
        f"vectors; recall@{k} is the mean share of its full-size top {k} found. A model with "
        "ordered dimensions keeps its neighbours with far fewer numbers."
    )


def _pipeline_figure(chosen: list[PipelinePoint], factor: int) -> go.Figure:
    """Recall@k against bytes per vector: a line per precision after rescoring (labelled
    with the dimensions kept), crosses for the small vectors alone."""
    fig = go.Figure()
    for precision in PIPELINE_PRECISIONS:
        line = [p for p in chosen if p.precision is precision]
        colour, dash, where = STYLE[precision]
        fig.add_trace(
            go.Scatter(
                x=[p.bytes_per_vector for p in line],
                y=[p.recall_rescored for p in line],
                mode="lines+markers+text",
                text=[str(p.dims) for p in line],
                textposition=where,
                textfont={"shadow": "auto"},
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
    fig.update_xaxes(title_text="bytes per vector searched (log scale)", type="log")
    fig.update_yaxes(title_text=f"recall@{k}", tickformat=".0%", range=[0, 1.08])
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig


def full_pipeline() -> None:
    """Truncate + quantize + oversample + rescore: bytes per vector against recall@k."""
    factor = st.slider(
        f"Oversampling factor for {model}: k × factor candidates from the small vectors, "
        "rescored with the originals",
        1,
        FACTORS[-1],
        key=_ui.bound("mrl_factor", 4, int, valid=lambda v: v in FACTORS),
    )
    points: list[PipelinePoint] = []
    with _ui.guard("Pipeline"):
        points = _pipelines(vs.key, k, vs.vectors)
    chosen = [p for p in points if p.oversample == factor]
    if not chosen:
        return
    height = 380 if _ui.presenting() else 440
    _ui.plot(_pipeline_figure(chosen, factor), key="mrl_pipeline", height=height)
    st.caption(
        "Labels are the dimensions kept. Lines: after rescoring the candidates with the "
        f"original {vs.dims}-d vectors; crosses: the small vectors' own top {k}. Rescoring "
        f"reads only k × {factor} originals per query, so they can stay on disk."
    )
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
    _ui.code_expander(
        "import numpy as np\n\n"
        f"# `unit` holds the ({n}, {vs.dims}) unit-length embeddings; `q_short` a query\n"
        "# truncated to the kept dimensions and re-normalised (see the other tabs).\n"
        "codes = np.packbits(short > 0, axis=1)  # binary: 1 bit per kept dimension\n"
        "q_code = np.packbits(q_short > 0)\n"
        f"candidates = np.argsort(np.bitwise_count(codes ^ q_code).sum(axis=1))[:{k * factor}]\n"
        f"top = candidates[np.argsort(-(unit[candidates] @ (q / np.linalg.norm(q))))][:{k}]\n"
    )


view, tab = _ui.view_tabs("mrl_view", VIEWS)
with tab:
    {VIEWS[0]: recall_curves, VIEWS[1]: one_ranking, VIEWS[2]: full_pipeline}[view]()
    if view != VIEWS[2]:
        _ui.code_expander(
            "import numpy as np\n\n"
            f"# `vectors` holds the ({n}, {vs.dims}) embeddings of {ws.dataset.name}; "
            "`q` the target's.\n"
            f"short = vectors[:, :{dims}]\n"
            "short = short / np.linalg.norm(short, axis=1, keepdims=True)\n"
            f"q_short = q[:{dims}] / np.linalg.norm(q[:{dims}])\n"
            f"top = np.argsort(-(short @ q_short))[:{k}]\n"
            "\n# With OpenAI text-embedding-3 models the server truncates for you:\n"
            "# client.embeddings.create(model='text-embedding-3-small', input=[...], "
            f"dimensions={dims})\n"
        )
