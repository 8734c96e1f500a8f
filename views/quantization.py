"""Quantization: the same vectors in int8 or in bits, what that costs in ranking and saves in
memory, and how oversampling and rescoring win the ranking back."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.compare import compare_rankings
from core.pipeline import PipelinePoint, pipeline_points
from core.quantize import (
    Center,
    CodeScore,
    CodeView,
    Precision,
    QuantizedIndex,
    RescoreResult,
    ValueSummary,
    code_view,
    quantized_neighbors,
    value_summary,
)
from core.search import exhaustive_search
from core.storage import format_bytes, index_bytes, python_list_bytes
from core.storage import storage_table as make_storage_table
from core.topk import SearchResult
from views import _ui

QUANTIZED = [Precision.INT8.value, Precision.BINARY.value]
CENTERS = {
    Center.ZERO.value: "0",
    Center.MEAN.value: "mean of all values",
    Center.DIM_MEAN.value: "each dimension's mean",
    Center.DIM_MEDIAN.value: "each dimension's median",
}
SCORES = {
    CodeScore.COSINE.value: "cosine of the codes (the talk)",
    CodeScore.NATIVE.value: "as a vector database (dot / Hamming)",
}
FACTORS = range(1, 11)
FIRST = 8  # values listed in the before/after table
SCORE = st.column_config.NumberColumn(format="%.4g")

_ui.page_intro(
    "Quantization",
    "A float32 vector spends 4 bytes on every number. Scalar quantization maps each number to "
    "one of 256 levels (int8, 1 byte); binary quantization keeps one bit: is the number above "
    "a centre? Searches over the small codes are fast and cheap but only approximate; fetching "
    "more candidates (oversampling) and rescoring them with the float vectors wins back the "
    "exact ranking.",
    r"\text{int8: } q_i = \operatorname{round}\!\Big(255\,\frac{x_i - \min}{\max - \min}\Big)"
    r" - 128 \qquad \text{binary: } b_i = [\,x_i > c_i\,]",
)


@st.cache_resource(show_spinner="Quantizing the dataset…", max_entries=32)
def _index(
    vectors_key: str, precision: str, center: str, per_dim: bool, score: str, _vectors
) -> QuantizedIndex:
    """``_vectors`` quantized; ``vectors_key`` (``VectorSet.key``) names them by content."""
    return QuantizedIndex.build(_vectors, precision, center, per_dimension=per_dim, score=score)


@st.cache_data(show_spinner="Measuring recall with every item as a query…", max_entries=32)
def _recall(
    vectors_key: str, precision: str, center: str, per_dim: bool, score: str, k: int, _vectors
) -> list[PipelinePoint]:
    dims = _vectors.shape[1]
    return pipeline_points(_vectors, k, [dims], [precision], FACTORS, center, per_dim, score)


ws = _ui.workspace()
labels = ws.dataset.labels
n = len(labels)
VIEWS = ("Before and after", "Top-k", "Oversample and rescore", "Storage")

*row, c_precision, c_setting, c_score = st.columns([3, 3, 2, 2, 3, 3])
model, target, k = _ui.target_controls("quant", ws, row)
# str(): a radio or selectbox types its value Optional, but a bound key always holds an option.
precision = str(
    c_precision.radio(
        "Precision",
        QUANTIZED,
        key=_ui.bound("quant_precision", Precision.INT8.value, valid=lambda v: v in QUANTIZED),
        horizontal=True,
    )
)
binary = precision == Precision.BINARY.value
if binary:
    center = str(
        c_setting.selectbox(
            "Centre: a bit is 1 above",
            list(CENTERS),
            format_func=CENTERS.__getitem__,
            key=_ui.bound("quant_center", Center.MEAN.value, valid=lambda v: v in CENTERS),
        )
    )
    per_dim = False
else:
    per_dim = c_setting.toggle(
        "Range per dimension",
        key=_ui.bound("quant_perdim", False, _ui.as_bool),
        help="Calibrate each dimension on its own min..max instead of one global range.",
    )
    center = Center.ZERO.value
score = str(
    c_score.selectbox(
        "Rank the codes by",
        list(SCORES),
        format_func=SCORES.__getitem__,
        key=_ui.bound("quant_score", CodeScore.COSINE.value, valid=lambda v: v in SCORES),
        help="The talk's notebooks rank int8 codes and 0/1 bits by cosine similarity, like "
        "any vectors; a vector database ranks int8 codes by their integer dot product and "
        "bits by Hamming distance. The two can order neighbours differently: cosine divides "
        "by each code vector's length, and Hamming also counts the 0s two vectors share.",
    )
)
by_cosine = score == CodeScore.COSINE.value
vs = ws.sets[model]
key = (vs.key, precision, center, per_dim, score)

index: QuantizedIndex | None = None
with _ui.guard("Quantizing"):
    index = _index(*key, vs.vectors)


def _code_figure(view: CodeView) -> go.Figure:
    dims = np.arange(view.values.shape[0])
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.14,
        subplot_titles=[
            "float values (bars) and "
            + ("the centre (line)" if binary else "the value each int8 code stands for (dots)"),
            "bits (1 = above the centre)" if binary else "int8 codes (−128…127)",
        ],
    )
    fig.add_trace(_ui.value_bars(dims, view.values, "float"), row=1, col=1)
    if binary:
        fig.add_trace(
            go.Scatter(x=dims, y=view.thresholds, name="centre", mode="lines"), row=1, col=1
        )
    else:
        fig.add_trace(
            go.Scatter(
                x=dims, y=view.restored, name="int8 level", mode="markers", marker={"size": 4}
            ),
            row=1,
            col=1,
        )
    fig.add_trace(_ui.value_bars(dims, view.codes, precision), row=2, col=1)
    fig.update_xaxes(title_text="dimension", row=2, col=1)
    fig.update_layout(showlegend=False)
    return fig


def _query() -> tuple[np.ndarray | None, int | None]:
    """The target's vector and dataset row, or a warning and None."""
    return _ui.target_query(vs, target) if index is not None else (None, None)


def _neighbors(factor: int) -> tuple[SearchResult, RescoreResult] | None:
    """The target's exact float top k, and its quantized candidates (k × factor) rescored."""
    query, exclude = _query()
    if query is None or index is None:
        return None
    with _ui.guard("Search"):
        exact = exhaustive_search(query, vs.vectors, k, exclude=exclude)
        return exact, quantized_neighbors(index, query, k, factor, exclude)
    return None


def _factor_setting() -> int:
    """The oversampling factor (its slider is on the rescoring tab; the URL elsewhere)."""
    return int(st.session_state[_ui.bound("quant_factor", 4, int, valid=lambda v: v in FACTORS)])


def before_and_after() -> None:
    """The target's values as floats and as codes: bars of every dimension, then a table."""
    query, _ = _query()
    if query is None or index is None:
        return
    view: CodeView | None = None
    with _ui.guard("Quantizing the target"):
        view = code_view(index, query)
    if view is None:
        return
    _ui.plot(_code_figure(view), key="quant_bars", height=360)
    rows = {"float": view.values[:FIRST], "bit" if binary else "int8": view.codes[:FIRST]}
    if view.thresholds is not None:  # binary codes have centres, int8 codes a range
        rows["centre"] = view.thresholds[:FIRST]
    else:
        rows["back to float"] = view.restored[:FIRST]
    st.dataframe(
        pd.DataFrame(rows).T.rename(columns=lambda d: f"dim {d}"),
        key="quant_values",
        width="stretch",
        column_config={f"dim {d}": SCORE for d in range(FIRST)},
    )
    stats = _summary(vs.key, vs.vectors)
    st.caption(
        _ui.md_text(
            f"The first {FIRST} of {view.values.shape[0]} values of {target.strip()!r}, "
            "normalised to unit length before quantizing (rankings are by cosine). Over all "
            f"{vs.vectors.size:,} numbers of the dataset: min {stats.low:.4f}, max "
            f"{stats.high:.4f} (int8's range), mean {stats.mean:.4f} (binary's \"mean\" centre)."
        )
    )


def top_k() -> None:
    """The target's float top k against its top k by codes, and recall over every item."""
    found = _neighbors(1)
    if found is not None:
        exact, quantized = found
        ranks = compare_rankings(
            exact.ids[0].tolist(), quantized.quantized_top_k[0].tolist(), labels
        )
        c_table, c_stats = st.columns([3, 1])
        table = _ui.comparison_frame(
            ranks, exact.scores[0], quantized.candidates.scores[0, :k], "float", precision
        )
        c_table.dataframe(
            table,
            key="quant_topk",
            hide_index=True,
            width="stretch",
            column_config={"float score": SCORE},
        )
        _ui.download_table(table, "quantization_top_k", c_table)
        if by_cosine:
            scored = f". {precision} score: cosine similarity of the codes, as in the talk."
        elif binary:
            scored = ". binary score: bits that differ (Hamming distance, lower is closer)."
        else:
            scored = ". int8 score: integer dot product of the codes."
        c_table.caption(_ui.MARKS_LEGEND.format(reference="float") + scored)
        c_stats.metric(f"overlap@{k}", f"{ranks.overlap_at_k:.0%}")
        c_stats.metric(
            "rank correlation", f"{ranks.spearman:.2f}", help="Spearman, over both lists."
        )
        points = _recall_points()
        if points:
            c_stats.metric(
                f"recall@{k}, every item",
                f"{points[0].recall_first_stage:.1%}",
                help=f"Each of the {n:,} items searches the other {n - 1:,}; the mean share of "
                f"its exact float top {k} that the {precision} search returns.",
            )


@st.cache_data(max_entries=32)
def _summary(vectors_key: str, _vectors: np.ndarray) -> ValueSummary:
    """The global min, max and mean of the numbers quantized (unit-length vectors)."""
    return value_summary(_vectors)


def _recall_points() -> list[PipelinePoint]:
    """Recall@k over every item as the query, for each oversampling factor."""
    with _ui.guard("Recall"):
        return _recall(*key, k, vs.vectors)
    return []


def _status(found: RescoreResult) -> Callable[[int], str]:
    """What rescoring did to a candidate: rescued into the top k, dropped from it, or kept."""
    rescued, dropped = set(found.rescued().tolist()), set(found.dropped().tolist())
    final_ids = set(found.final.ids[0].tolist())

    def status(item: int) -> str:
        if item in rescued:
            return "rescued ⬆"
        if item in dropped:
            return "dropped ⬇"
        return "kept" if item in final_ids else ""

    return status


def _factor_figure(points: list[PipelinePoint], factor: int) -> go.Figure:
    """Recall@k after rescoring against the oversampling factor, the chosen one circled."""
    chosen = {p.oversample: p for p in points}[factor]
    fig = go.Figure(
        go.Scatter(
            x=[p.oversample for p in points],
            y=[p.recall_rescored for p in points],
            mode="lines+markers",
            name=f"{precision} + rescore",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[factor],
            y=[chosen.recall_rescored],
            mode="markers+text",
            marker={"size": 16, "symbol": "circle-open", "line": {"width": 3}},
            text=[f"×{factor}: {chosen.recall_rescored:.1%}"],
            textposition="bottom right",
            name="chosen factor",
        )
    )
    fig.update_xaxes(title_text="oversampling factor", dtick=1)
    fig.update_yaxes(title_text=f"recall@{k}, every item as query", tickformat=".0%")
    fig.update_layout(showlegend=False)
    return fig


def oversample_and_rescore() -> None:
    """k × factor candidates by codes, rescored with the floats: recall against the factor
    first, then what rescoring rescued and dropped for the target."""
    c_factor, c_float, c_alone, c_rescored = st.columns([3, 1, 1, 1])
    _factor_setting()
    factor = c_factor.slider(
        "Oversampling factor: fetch k × factor candidates by codes, rescore them with floats",
        1,
        FACTORS[-1],
        key="quant_factor",
    )
    points = _recall_points()
    if points:
        by_factor = {p.oversample: p for p in points}
        c_float.metric(
            "float32 (exact)",
            "100%",
            help=f"recall@{k}: each of the {n:,} items searches the other {n - 1:,}; the mean "
            f"share of its exact float top {k} that the search returns.",
        )
        c_alone.metric(f"{precision} alone", f"{by_factor[1].recall_first_stage:.1%}")
        c_rescored.metric(
            f"{precision} + rescore ×{factor}", f"{by_factor[factor].recall_rescored:.1%}"
        )
    if points:
        _ui.plot(_factor_figure(points, factor), key="quant_recall_curve", height=320)
    found = _neighbors(factor)
    if found is not None:
        exact, quantized = found
        status = _status(quantized)
        c_cand, c_final = st.columns([2, 3])
        c_cand.markdown(f"**{quantized.candidates.k} candidates by {precision}**")
        c_cand.dataframe(
            pd.DataFrame(
                {
                    "rank": range(1, quantized.candidates.k + 1),
                    "item": [labels[i] for i in quantized.candidates.ids[0]],
                    f"{precision} score": quantized.candidates.scores[0],
                    "after rescoring": [status(int(i)) for i in quantized.candidates.ids[0]],
                }
            ),
            key="quant_candidates",
            hide_index=True,
            width="stretch",
            height=min(35 * quantized.candidates.k + 40, 390),
        )
        c_final.markdown(f"**Rescored top {k}** against the float top {k}")
        final = compare_rankings(exact.ids[0].tolist(), quantized.final.ids[0].tolist(), labels)
        c_final.dataframe(
            _ui.comparison_frame(
                final, exact.scores[0], quantized.final.scores[0], "float", "rescored"
            ),
            key="quant_rescored",
            hide_index=True,
            width="stretch",
            column_config={"float score": SCORE, "rescored score": SCORE},
        )
        rescued, dropped = quantized.rescued().tolist(), quantized.dropped().tolist()
        names = ", ".join(labels[i] for i in sorted(rescued)) or "none"
        lost = ", ".join(labels[i] for i in sorted(dropped)) or "none"
        st.markdown(
            f"Rescoring **rescued** {len(rescued)} ({names}) and **dropped** {len(dropped)} "
            f"({lost}); overlap with the float top {k}: {final.overlap_at_k:.0%}."
        )


def storage() -> None:
    """Bytes per vector and for the dataset in every precision, and a calculator."""
    table = make_storage_table(n, vs.dims)
    st.dataframe(
        pd.DataFrame(
            {
                "precision": [r.precision.value for r in table],
                "bytes per vector": [r.bytes_per_vector for r in table],
                f"{n:,} vectors": [format_bytes(r.bytes_total) for r in table],
                # A size ratio reads better than a negative "saving" for the larger formats.
                "size vs float32": [1 - r.saved_vs_float32 / 100 for r in table],
                "size vs float64": [1 - r.saved_vs_float64 / 100 for r in table],
            }
        ),
        key="quant_storage",
        hide_index=True,
        column_config={
            "size vs float32": st.column_config.NumberColumn(format="%.3f×"),
            "size vs float64": st.column_config.NumberColumn(format="%.3f×"),
        },
    )
    st.caption(
        f"One {vs.dims}-d vector held on its own (with numpy's array header, or as a Python "
        f"list of float objects); the whole matrix of {n:,} counts the numbers only. "
        f"`sys.getsizeof` of a Python list of {vs.dims} floats says "
        f"{python_list_bytes(vs.dims, include_floats=False):,} B: that is only the list's array "
        f"of pointers; with the {vs.dims} float objects they point to it is "
        f"{python_list_bytes(vs.dims):,} B."
    )
    st.subheader("Storage calculator")
    c_n, c_dims, c_prec, c_keep, c_over = st.columns(5)
    calc_n = c_n.number_input(
        "vectors (N)",
        1,
        10**12,
        step=100_000,
        key=_ui.bound("quant_calc_n", 1_000_000, int, valid=lambda v: 1 <= v <= 10**12),
    )
    calc_dims = c_dims.number_input(
        "dimensions",
        1,
        65_536,
        key=_ui.bound("quant_calc_dims", 1536, int, valid=lambda v: 1 <= v <= 65_536),
    )
    stored = [p.value for p in Precision if p is not Precision.PYTHON_LIST]
    calc_precision = c_prec.selectbox(
        "precision",
        stored,
        key=_ui.bound("quant_calc_precision", Precision.INT8.value, valid=lambda v: v in stored),
    )
    keep = c_keep.toggle(
        "keep float32 originals for rescoring",
        key=_ui.bound("quant_calc_keep", False, _ui.as_bool),
    )
    overhead = c_over.number_input(
        "index overhead, B per vector",
        0.0,
        1e6,
        step=1.0,
        key=_ui.bound("quant_calc_overhead", 0.0, float, valid=lambda v: 0 <= v <= 1e6),
        help="What a vector database stores beside each vector (ids, links, bookkeeping). "
        "27.5 B with N = 200,000 and 1536 dimensions gives the talk's Azure AI Search index "
        "sizes to within 0.2 %: 1177.12 MB float32, 298.519 MB int8, 41.8636 MB binary (the "
        "portal's MB are MiB, 2²⁰ B).",
    )
    with _ui.guard("Calculator"):
        total = index_bytes(int(calc_n), int(calc_dims), calc_precision, keep, overhead)
        baseline = index_bytes(int(calc_n), int(calc_dims), Precision.FLOAT32, False, overhead)
        c_total, c_base = st.columns(2)
        c_total.metric(
            f"{int(calc_n):,} × {int(calc_dims):,} at {calc_precision}"
            + (" + float32 copy" if keep and calc_precision in QUANTIZED else ""),
            f"{format_bytes(total)} = {total / 2**20:,.2f} MiB",
            delta=f"{100 * (total / baseline - 1):+.2f}% vs float32",
            delta_color="inverse",
        )
        c_base.metric(
            "float32 for comparison", f"{format_bytes(baseline)} = {baseline / 2**20:,.2f} MiB"
        )


def python_code() -> None:
    """The quantized search in numpy, for the current inputs."""
    factor = _factor_setting()
    _ui.code_expander(
        "import numpy as np\n\n"
        f"# `vectors` holds the ({n}, {vs.dims}) embeddings of {ws.dataset.name}; "
        "`q` the target's.\n"
        "unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)\n"
        "q = q / np.linalg.norm(q)\n"
        + (
            "# Binary: one bit per dimension, packed 8 to a byte; compare by differing bits\n"
            + {
                Center.ZERO.value: "centre = 0.0\n",
                Center.MEAN.value: "centre = unit.mean()\n",
                Center.DIM_MEAN.value: "centre = unit.mean(axis=0)\n",
                Center.DIM_MEDIAN.value: "centre = np.median(unit, axis=0)\n",
            }[center]
            + "codes = np.packbits(unit > centre, axis=1)\n"
            "q_code = np.packbits(q > centre)\n"
            "# fewer differing bits = closer\n"
            "score = -np.bitwise_count(codes ^ q_code).sum(axis=1)\n"
            if binary
            else "# int8: map the calibrated range onto 256 levels\n"
            + (
                "low, high = unit.min(axis=0), unit.max(axis=0)  # per dimension\n"
                if per_dim
                else "low, high = unit.min(), unit.max()\n"
            )
            + "step = (high - low) / 255\n"
            "codes = (np.clip(np.rint((unit - low) / step), 0, 255) - 128).astype(np.int8)\n"
            "q_code = (np.clip(np.rint((q - low) / step), 0, 255) - 128).astype(np.int8)\n"
            "score = codes.astype(np.int32) @ q_code.astype(np.int32)\n"
        )
        + f"\n# Oversample: keep k × {factor} candidates, then rescore them with the floats\n"
        f"candidates = np.argsort(-score)[:{k * factor}]\n"
        f"top = candidates[np.argsort(-(unit[candidates] @ q))][:{k}]\n"
    )


view, tab = _ui.view_tabs("quant_view", VIEWS)
with tab:
    {
        VIEWS[0]: before_and_after,
        VIEWS[1]: top_k,
        VIEWS[2]: oversample_and_rescore,
        VIEWS[3]: storage,
    }[view]()
    python_code()
