"""Quantization: the same vectors in int8 or in bits, what that costs in ranking and saves in
memory, and how oversampling and rescoring win the ranking back."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

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
from core.vectors import array_digest
from views import _state, _ui

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
# Presenter mode: each tab is one 1280x720 screen, so its layout is chosen for that screen.
BIG = _ui.presenting()
# Table rows in presenter mode: its larger type makes Streamlit's rows 42 px, and a top 10
# must fit under the controls.
ROW = 32 if BIG else None

# Presenter mode's larger type needs shorter option labels to fit one row (help has the rest).
SHORT_CENTERS = {
    Center.ZERO.value: "0",
    Center.MEAN.value: "mean of all",
    Center.DIM_MEAN.value: "per-dim mean",
    Center.DIM_MEDIAN.value: "per-dim median",
}
SHORT_SCORES = {CodeScore.COSINE.value: "cosine (talk)", CodeScore.NATIVE.value: "dot / Hamming"}
centers, scores = (SHORT_CENTERS, SHORT_SCORES) if BIG else (CENTERS, SCORES)

# Presenter mode: one row, the precision radio with room for its two options side by side
# and the model's name and the toggle's label whole. Normal mode: two rows, since six
# controls in one row beside the open sidebar cut the model's name and the labels short.
if BIG:
    *row, c_precision, c_setting, c_score = st.columns([4.4, 2.2, 2.2, 3.3, 4, 3.6])
else:
    row = st.columns([3, 3, 2])
    c_precision, c_setting, c_score = st.columns([2, 3, 3], vertical_alignment="bottom")
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
            "A bit is 1 above" if BIG else "Centre: a bit is 1 above",
            list(CENTERS),
            format_func=centers.__getitem__,
            key=_ui.bound("quant_center", Center.MEAN.value, valid=lambda v: v in CENTERS),
            help="The centre a value is compared with: 0, the mean of all values, or each "
            "dimension's own mean or median.",
        )
    )
    per_dim = False
else:
    per_dim = c_setting.toggle(
        "Per-dim range" if BIG else "Range per dimension",
        key=_ui.bound("quant_perdim", False, _ui.as_bool),
        help="Calibrate each dimension on its own min..max instead of one global range.",
    )
    center = Center.ZERO.value
score = str(
    c_score.selectbox(
        "Rank the codes by",
        list(SCORES),
        format_func=scores.__getitem__,
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


@st.cache_resource(show_spinner=False, max_entries=64)
def _code_figure(index_key: tuple, query_digest: str, big: bool, _view: CodeView) -> go.Figure:
    """The target's values as floats and as codes, styled: built once per quantized set
    (``index_key``), target vector (``query_digest``) and presenter mode, then shared."""
    dims = np.arange(_view.values.shape[0])
    binary = _view.thresholds is not None  # bits have centres, int8 codes a range
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1 if big else 0.14,
        subplot_titles=[
            "float values (bars) and "
            + ("the centre (line)" if binary else "the value each int8 code stands for (dots)"),
            ("bits (1 = above the centre)" if binary else "int8 codes (−128…127)")
            + (" by dimension" if big else ""),
        ],
    )
    fig.add_trace(_ui.value_bars(dims, _view.values, "float"), row=1, col=1)
    if binary:
        fig.add_trace(
            go.Scatter(x=dims, y=_view.thresholds, name="centre", mode="lines"), row=1, col=1
        )
    else:
        fig.add_trace(
            go.Scatter(
                x=dims, y=_view.restored, name="int8 level", mode="markers", marker={"size": 4}
            ),
            row=1,
            col=1,
        )
    codes = Precision.BINARY.value if binary else Precision.INT8.value
    fig.add_trace(_ui.value_bars(dims, _view.codes, codes), row=2, col=1)
    if big:  # the axis title is in the panel's title; three ticks a panel keep theirs apart
        fig.update_yaxes(nticks=3, tickfont={"size": 16})
        fig.update_xaxes(tickfont={"size": 16})
    else:
        fig.update_xaxes(title_text="dimension", row=2, col=1)
    fig.update_layout(showlegend=False)
    return _ui.styled_figure(fig, height=272 if big else 360, big=big)


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


# Each tab returns where a presenter's row of code popovers goes: a free spot beside its
# table or numbers (None: under the tab, where the code's expanders go in normal mode).


def before_and_after() -> Any:
    """The target's values as floats and as codes: bars of every dimension, then a table
    (with the code's popovers beside it in presenter mode)."""
    query, _ = _query()
    if query is None or index is None:
        return None
    view: CodeView | None = None
    with _ui.guard("Quantizing the target"):
        view = code_view(index, query)
    if view is None:
        return None
    figure = _code_figure(key, array_digest(query), BIG, view)
    _ui.plot(figure, key="quant_bars", styled=True)
    rows = {"float": view.values[:FIRST], "bit" if binary else "int8": view.codes[:FIRST]}
    # Binary codes have centres, int8 codes a range; in presenter mode the chart's line or
    # dots show them, and two table rows leave the chart room.
    if not BIG and view.thresholds is not None:
        rows["centre"] = view.thresholds[:FIRST]
    elif not BIG:
        rows["back to float"] = view.restored[:FIRST]
    c_values, row = st.columns([3, 1]) if BIG else (st, None)
    c_values.dataframe(
        pd.DataFrame(rows).T.rename(columns=lambda d: f"dim {d}"),
        key="quant_values",
        row_height=ROW,
        width="stretch",
        column_config={f"dim {d}": SCORE for d in range(FIRST)},
    )
    stats = _summary(vs.key, vs.vectors)
    extremes = (
        f"min {stats.low:.4f}, max {stats.high:.4f} (int8's range), mean {stats.mean:.4f} "
        '(binary\'s "mean" centre)'
    )
    if BIG:  # one line: the presenter says the rest
        st.caption(f"Over all {vs.vectors.size:,} numbers of the unit vectors: {extremes}.")
        return row
    st.caption(
        _ui.md_text(
            f"The first {FIRST} of {view.values.shape[0]} values of {target.strip()!r}, "
            "normalised to unit length before quantizing (rankings are by cosine). Over all "
            f"{vs.vectors.size:,} numbers of the dataset: {extremes}."
        )
    )
    return None


# Why a vector database's ranking of the codes can differ from the talk's, per precision.
DIFFERS = {
    Precision.INT8.value: "the dot product favours code vectors of large magnitude, cosine "
    "divides by each one's length",
    Precision.BINARY.value: "Hamming also counts the 0s two vectors share, cosine only their "
    "shared 1s relative to how many 1s each has",
}


def _score_note() -> str:
    """How the codes' scores in the tables were computed (and why the other way differs)."""
    native = "integer dot product of the codes" if not binary else "Hamming distance of the bits"
    if by_cosine:
        note = f"{precision} score: cosine similarity of the codes, as in the talk"
        other = f"a vector database's {native}"
    else:
        lower = " (bits that differ, lower is closer)" if binary else ""
        note = f"{precision} score: {native}{lower}, as a vector database ranks"
        other = "the talk's cosine of the codes"
    if BIG:
        return note + "."
    return (
        f"{note}. {other.capitalize()} can order some neighbours differently: {DIFFERS[precision]}."
    )


SCORE_WIDTH = 116  # px: the widest score header, "rescored score", whole
TOP_K_SHARE = 3 / 4  # of the width, the top-k table's in presenter mode (its numbers beside)
WIDE_ITEM = 250  # px: an item column of a full-width table (most titles whole)


def _score_width(name: str) -> int:
    """Width in px of a score column: its header whole (about 7 px a character)."""
    return 7 * len(name) + 18


def _item_width(share: float, scores: int) -> int:
    """Width in px of each of a presenter table's two item columns, the table taking
    ``share`` of the 1090-px content column beside its rank, mark and ``scores`` columns."""
    return int((1090 * share - 45 - 50 - scores * SCORE_WIDTH - 20) // 2)


def _ranking_columns(
    *numbers: str,
    items: tuple[str, ...] = (),
    cosines: tuple[str, ...] = (),
    item_width: int = WIDE_ITEM,
) -> dict[str, Any]:
    """Column widths in px for a ranking table: a narrow rank and mark, score columns just
    wide enough for their numbers (``cosines`` with 4 significant digits), ``item_width``
    for the ``items`` columns; a wider table stretches them all, and long titles never
    push the scores out of sight. In presenter mode the page knows its tables' widths and
    gives the items the rest."""
    config: dict[str, Any] = {
        "rank": st.column_config.NumberColumn(width=45),
        "mark": st.column_config.TextColumn(width=50),
        **{name: st.column_config.TextColumn(width=item_width) for name in items},
    }
    for name in numbers:
        config[name] = st.column_config.NumberColumn(
            format="%.4g" if name in cosines else None, width=_score_width(name)
        )
    return config


def top_k() -> Any:
    """The target's float top k against its top k by codes, and recall over every item. In
    presenter mode the three numbers sit in a narrow column beside the table, the code's
    popovers under them; otherwise in a row above it, so the table has the page's width
    (whole titles, every score)."""
    found = _neighbors(1)
    if found is None:
        return None
    exact, quantized = found
    ranks = compare_rankings(exact.ids[0].tolist(), quantized.quantized_top_k[0].tolist(), labels)
    c_stats = None
    if BIG:
        c_table, c_stats = st.columns([TOP_K_SHARE, 1 - TOP_K_SHARE])
        stats = [c_stats] * 3
    else:
        stats = list(st.columns(3))
        c_table = st.container()
    table = _ui.comparison_frame(
        ranks, exact.scores[0], quantized.candidates.scores[0, :k], "float", precision
    )
    code_score = f"{precision} score"
    c_table.dataframe(
        table,
        key="quant_topk",
        row_height=ROW,
        hide_index=True,
        width="stretch",
        column_config=_ranking_columns(
            "float score",
            code_score,
            items=("float", precision),
            item_width=_item_width(TOP_K_SHARE, 2) if BIG else WIDE_ITEM,
            cosines=("float score", code_score) if by_cosine else ("float score",),
        ),
    )
    _ui.download_table(table, "quantization_top_k", c_table)
    legend = (  # one line on a presenter's screen
        f"✅ same rank · ↕ another rank · ❌ not in the float top {k}"
        if BIG
        else _ui.MARKS_LEGEND.format(reference="float")
    )
    c_table.caption(f"{legend}. {_score_note()}")
    stats[0].metric(f"overlap@{k}", f"{ranks.overlap_at_k:.0%}")
    stats[1].metric("rank correlation", f"{ranks.spearman:.2f}", help="Spearman, over both lists.")
    points = _recall_points()
    if points:
        stats[2].metric(
            f"recall@{k}, every item",
            f"{points[0].recall_first_stage:.1%}",
            help=f"Each of the {n:,} items searches the other {n - 1:,}; the mean share of "
            f"its exact float top {k} that the {precision} search returns.",
        )
    return c_stats


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


@st.cache_resource(show_spinner=False, max_entries=64)
def _factor_figure(
    index_key: tuple, precision: str, k: int, factor: int, big: bool, _points: list[PipelinePoint]
) -> go.Figure:
    """Recall@k after rescoring against the oversampling factor: the chosen factor circled,
    the codes alone (factor 1) labelled, exact float search as the 100 % line. Styled, and
    built once per quantized set (``index_key``, whose codes are ``precision``), k, factor
    and presenter mode."""
    chosen = {p.oversample: p for p in _points}[factor]
    fig = go.Figure(
        go.Scatter(
            x=[p.oversample for p in _points],
            y=[p.recall_rescored for p in _points],
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
    if factor != 1:
        alone = _points[0].recall_first_stage
        fig.add_annotation(
            x=1,
            y=alone,
            text=f"{precision} alone: {alone:.1%}",
            showarrow=False,
            xanchor="left",
            xshift=10,
        )
    fig.add_hline(
        y=1.0,
        line={"dash": "dot", "width": 1},
        annotation_text="float32 (exact)",
        annotation_position="top left",
    )
    fig.update_xaxes(title_text="oversampling factor", dtick=1)
    fig.update_yaxes(
        title_text=f"recall@{k}" if big else f"recall@{k}, every item as query", tickformat=".0%"
    )
    fig.update_layout(showlegend=False)
    return _ui.styled_figure(fig, height=250 if big else 320, big=big)


def _factor_slider(where: Any) -> int:
    """The oversampling factor's slider in ``where``."""
    _factor_setting()
    label = (
        "Oversampling factor: k × factor candidates"
        if BIG
        else "Oversampling factor: fetch k × factor candidates by codes, rescore them with floats"
    )
    return int(where.slider(label, 1, FACTORS[-1], key="quant_factor"))


def _recall_metrics(points: list[PipelinePoint], factor: int, where: Sequence[Any]) -> None:
    """Recall@k of float32, the codes alone and the codes rescored, in the three ``where``."""
    c_float, c_alone, c_rescored = where
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


def _candidates_table(quantized: RescoreResult) -> None:
    """The codes' candidates, best first, with what rescoring did to each."""
    status = _status(quantized)
    ids = quantized.candidates.ids[0]
    st.dataframe(
        pd.DataFrame(
            {
                "rank": range(1, quantized.candidates.k + 1),
                "item": [labels[i] for i in ids],
                f"{precision} score": quantized.candidates.scores[0],
                "after rescoring": [status(int(i)) for i in ids],
            }
        ),
        key="quant_candidates",
        row_height=ROW,
        hide_index=True,
        width="stretch",
        height=min(35 * quantized.candidates.k + 40, 390),
        column_config=_ranking_columns(
            f"{precision} score",
            items=("item",),
            item_width=WIDE_ITEM,
            cosines=(f"{precision} score",) if by_cosine else (),
        ),
    )


def oversample_and_rescore() -> Any:
    """k × factor candidates by codes, rescored with the floats: recall against the factor
    first, then what rescoring rescued and dropped for the target. In presenter mode the
    curve (with the recalls on it) sits beside the rescored top k, the candidates in a
    popover, the code's popovers beside the line under the table."""
    if BIG:
        c_curve, c_result = st.columns([1, 2])
        factor = _factor_slider(c_curve)
    else:
        c_slider, *c_metrics = st.columns([3, 1, 1, 1])
        factor = _factor_slider(c_slider)
        c_curve = c_result = st.container()  # in page order: the curve, then the result
    points = _recall_points()
    if points:
        if not BIG:
            _recall_metrics(points, factor, c_metrics)
        with c_curve:
            figure = _factor_figure(key, precision, k, factor, BIG, points)
            _ui.plot(figure, key="quant_recall_curve", styled=True)
    found = _neighbors(factor)
    if found is None:
        return None
    exact, quantized = found
    heading = f"{quantized.candidates.k} candidates by {precision}"
    if not BIG:
        c_result.markdown(f"**Rescored top {k}** against the float top {k}")
    final = compare_rankings(exact.ids[0].tolist(), quantized.final.ids[0].tolist(), labels)
    frame = _ui.comparison_frame(
        final, exact.scores[0], quantized.final.scores[0], "float", "rescored"
    )
    c_result.dataframe(
        frame,
        key="quant_rescored",
        row_height=ROW,
        hide_index=True,
        width="stretch",
        column_config=_ranking_columns(
            "float score",
            "rescored score",
            items=("float", "rescored"),
            cosines=("float score", "rescored score"),
            item_width=_item_width(2 / 3, 1) if BIG else WIDE_ITEM,
        ),
        # Presenter mode: the float scores are the rescored ones wherever the mark is ✅.
        column_order=[c for c in frame.columns if c != "float score"] if BIG else None,
    )
    rescued, dropped = quantized.rescued().tolist(), quantized.dropped().tolist()
    overlap = f"overlap with the float top {k}: {final.overlap_at_k:.0%}."
    if BIG:  # the names are in the candidates' popover
        c_note, row = c_result.columns([1.4, 1])
        c_note.markdown(
            f"Rescoring **rescued** {len(rescued)} and **dropped** {len(dropped)}; {overlap}"
        )
        # A popover, not an expander: a folded expander still lays out its table.
        with c_curve.popover(heading):
            _candidates_table(quantized)
        return row
    names = ", ".join(labels[i] for i in sorted(rescued)) or "none"
    lost = ", ".join(labels[i] for i in sorted(dropped)) or "none"
    st.markdown(
        f"Rescoring **rescued** {len(rescued)} ({_ui.md_text(names)}) and **dropped** "
        f"{len(dropped)} ({_ui.md_text(lost)}); {overlap}"
    )
    # The candidates under the result, full width: beside it, neither table kept its scores.
    st.markdown(f"**{heading}**")
    _candidates_table(quantized)
    return None


def _storage_table() -> None:
    """Bytes of one of the dataset's vectors and of all of them, in every precision."""
    table = make_storage_table(n, vs.dims)
    ratio = st.column_config.NumberColumn(format="%.3f×")
    frame = pd.DataFrame(
        {
            "precision": [r.precision.value for r in table],
            "bytes per vector": [r.bytes_per_vector for r in table],
            f"{n:,} vectors": [format_bytes(r.bytes_total) for r in table],
            # A size ratio reads better than a negative "saving" for the larger formats.
            "size vs float32": [1 - r.saved_vs_float32 / 100 for r in table],
            "size vs float64": [1 - r.saved_vs_float64 / 100 for r in table],
        }
    )
    st.dataframe(
        frame,
        key="quant_storage",
        row_height=ROW,
        hide_index=True,
        width="stretch",
        column_config={"size vs float32": ratio, "size vs float64": ratio},
        # Half a presenter screen holds four columns whole.
        column_order=list(frame.columns[:-1]) if BIG else None,
    )
    st.caption(
        f"One {vs.dims}-d vector held on its own (a numpy array with its header, or a Python "
        f"list with its float objects); the {n:,} vectors as one matrix count the numbers only."
    )


def _python_list_note(dims: int) -> None:
    """``sys.getsizeof`` of a Python list of ``dims`` floats against its size with the floats."""
    st.caption(
        f"A Python list of {dims:,} floats: `sys.getsizeof` says "
        f"{python_list_bytes(dims, include_floats=False):,} B, only the list's array of "
        f"pointers; with the {dims:,} float objects they point to it is "
        f"{python_list_bytes(dims):,} B."
    )


def _calculator(where: Any) -> int:
    """N vectors of d dimensions at a precision, with an index's overhead per vector; returns
    the dimensions."""
    if BIG:  # two inputs a row in the half screen beside the table
        c_n, c_dims = where.columns(2)
        c_prec, c_over = where.columns(2)
        c_keep = where
    else:
        where.subheader("Storage calculator")
        c_n, c_dims, c_prec, c_keep, c_over = where.columns(5)
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
    overhead = c_over.number_input(
        "index overhead, B per vector",
        0.0,
        1e6,
        step=1.0,
        key=_ui.bound("quant_calc_overhead", 0.0, float, valid=lambda v: 0 <= v <= 1e6),
        help="What a vector database stores beside each vector (ids, links, bookkeeping). "
        "27.5 B with N = 200,000 and 1536 dimensions gives the talk's Azure AI Search index: "
        "1177.12 MiB float32 (reported: 1177.12 MB), 298.21 MiB int8 (298.519 MB) and "
        "41.87 MiB binary (41.8636 MB), 74.67 % and 96.44 % smaller (reported: 74.64 % and "
        "96.44 %); the portal's MB are MiB, 2²⁰ B. No single overhead matches all three: the "
        "int8 index was 0.3 MB (1.6 B a vector) larger than the others predict.",
    )
    keep = c_keep.toggle(
        "keep float32 originals for rescoring",
        key=_ui.bound("quant_calc_keep", False, _ui.as_bool),
    )
    with where, _ui.guard("Calculator"):
        total = index_bytes(int(calc_n), int(calc_dims), calc_precision, keep, overhead)
        baseline = index_bytes(int(calc_n), int(calc_dims), Precision.FLOAT32, False, overhead)
        change = f"{100 * (total / baseline - 1):+.2f}% vs float32"
        color = "off" if total == baseline else "inverse"  # no red arrow for "+0.00%"
        label = f"{int(calc_n):,} × {int(calc_dims):,} at {calc_precision}" + (
            " + float32 copy" if keep and calc_precision in QUANTIZED else ""
        )
        value = f"{format_bytes(total)} = {total / 2**20:,.2f} MiB"
        if BIG:  # float32's size in the change's line: one metric in half a screen
            where.metric(
                label,
                value,
                delta=f"{change} ({baseline / 2**20:,.2f} MiB)",
                delta_color=color,
            )
        else:
            c_total, c_base = where.columns(2)
            c_total.metric(label, value, delta=change, delta_color=color)
            c_base.metric(
                "float32 for comparison", f"{format_bytes(baseline)} = {baseline / 2**20:,.2f} MiB"
            )
    return int(calc_dims)


def storage() -> Any:
    """Bytes per vector and for the dataset in every precision, and a calculator (beside the
    table in presenter mode, the code's popovers under it; under the table otherwise)."""
    if BIG:
        c_table, c_calc = st.columns(2)
        dims = _calculator(c_calc)
        with c_table:
            _storage_table()
            _python_list_note(dims)
        return c_calc
    _storage_table()
    _python_list_note(_calculator(st.container()))
    return None


def _talk_code(factor: int) -> str:
    """The current search in plain Python with the talk's function names: quantize every
    vector, rank by the codes, keep k × ``factor`` candidates, rescore them with the floats."""
    row = _ui.target_index(ws.dataset, target)
    label = target.strip()
    if binary:
        per_dim_centre = center in (Center.DIM_MEAN.value, Center.DIM_MEDIAN.value)
        quantize = (
            "def binary_quantization(vector, centers):\n"
            '    """One bit a value: 1 above its dimension\'s centre, else 0."""\n'
            "    return [1 if x > c else 0 for x, c in zip(vector, centers)]\n\n"
            if per_dim_centre
            else "def binary_quantization(vector, center):\n"
            '    """One bit a value: 1 above the centre, else 0."""\n'
            "    return [1 if x > center else 0 for x in vector]\n\n"
        )
        quantize += {
            Center.ZERO.value: "center = 0.0\n",
            Center.MEAN.value: "all_values = [x for v in vectors.values() for x in v]\n"
            "center = sum(all_values) / len(all_values)  # the global mean\n",
            Center.DIM_MEAN.value: "columns = list(zip(*vectors.values()))\n"
            "centers = [statistics.mean(d) for d in columns]\n",
            Center.DIM_MEDIAN.value: "columns = list(zip(*vectors.values()))\n"
            "centers = [statistics.median(d) for d in columns]\n",
        }[center]
        arguments = "centers" if per_dim_centre else "center"
        quantize += (
            f"codes = {{label: binary_quantization(v, {arguments})\n"
            "         for label, v in vectors.items()}\n"
            f"query_code = binary_quantization(query, {arguments})\n"
        )
    else:
        quantize = (
            "def scalar_quantization(vector, min_values, max_values):\n"
            '    """int8 codes: each dimension\'s range onto [0, 1], x 255, rounded, - 128."""\n'
            "    return [\n"
            "        round((x - low) / (high - low) * 255) - 128\n"
            "        for x, low, high in zip(vector, min_values, max_values)\n"
            "    ]\n\n"
            "columns = list(zip(*vectors.values()))  # one range per dimension\n"
            "min_values, max_values = [min(d) for d in columns], [max(d) for d in columns]\n"
            if per_dim
            else "def scalar_quantization(vector, min_value, max_value):\n"
            '    """int8 codes: the range onto [0, 1], times 255, rounded, minus 128."""\n'
            "    scale = max_value - min_value\n"
            "    return [round((x - min_value) / scale * 255) - 128 for x in vector]\n\n"
            "all_values = [x for v in vectors.values() for x in v]\n"
            "min_values, max_values = min(all_values), max(all_values)  # the global range\n"
        )
        quantize += (
            "codes = {label: scalar_quantization(v, min_values, max_values) "
            "for label, v in vectors.items()}\n"
            "query_code = scalar_quantization(query, min_values, max_values)\n"
        )
    if by_cosine:
        score, order = "cosine_similarity", "reverse=True"
    elif binary:
        score, order = "hamming_distance", "reverse=False"  # fewer differing bits first
    else:
        score, order = "dot_product", "reverse=True"
    functions = (
        "def dot_product(v1, v2):\n"
        "    return sum(a * b for a, b in zip(v1, v2))\n\n"
        "def cosine_similarity(v1, v2):\n"
        "    return dot_product(v1, v2) / math.sqrt(dot_product(v1, v1) * dot_product(v2, v2))\n\n"
    )
    if score == "hamming_distance":
        functions += (
            "def hamming_distance(b1, b2):\n    return sum(x != y for x, y in zip(b1, b2))\n\n"
        )
    own = (
        f"query = vectors[{label!r}]\n"
        if row is not None
        else f"query = normalize(...)  # the embedding of {label!r}\n"
    )
    others = (
        f"[label for label in codes if label != {label!r}]" if row is not None else "list(codes)"
    )
    return (
        "import math\n"
        + ("import statistics\n" if binary and center.startswith("dim-") else "")
        + f"\n# `vectors`: {{label: list of {vs.dims} floats}} for the {n:,} items of "
        f"{ws.dataset.name}.\n"
        "def normalize(vector):\n"
        "    length = math.sqrt(sum(x * x for x in vector))\n"
        "    return [x / length for x in vector]\n\n"
        "vectors = {label: normalize(v) for label, v in vectors.items()}\n"
        + own
        + "\n"
        + functions
        + quantize
        + f"\n# Rank by the codes; keep k × {factor} candidates, rescore them with the floats\n"
        f"ranking = sorted({others}, key=lambda label: {score}(query_code, codes[label]), "
        f"{order})\n"
        f"candidates = ranking[:{k * factor}]\n"
        "top = sorted(candidates, key=lambda label: cosine_similarity(query, vectors[label]), "
        f"reverse=True)[:{k}]\n"
    )


def _numpy_code(factor: int) -> str:
    """The same search in numpy, on the whole matrix at once."""
    row = _ui.target_index(ws.dataset, target)
    if binary:
        quantize = {
            Center.ZERO.value: "centre = 0.0\n",
            Center.MEAN.value: "centre = unit.mean()\n",
            Center.DIM_MEAN.value: "centre = unit.mean(axis=0)\n",
            Center.DIM_MEDIAN.value: "centre = np.median(unit, axis=0)\n",
        }[center]
        if by_cosine:
            quantize += (
                "codes, q_code = (unit > centre).astype(float), (q > centre).astype(float)\n"
            )
        else:
            quantize += (
                "codes = np.packbits(unit > centre, axis=1)  # 8 bits a byte\n"
                "q_code = np.packbits(q > centre)\n"
                "# Hamming distance: fewer differing bits = closer\n"
                "score = -np.bitwise_count(codes ^ q_code).sum(axis=1).astype(float)\n"
            )
    else:
        quantize = (
            "low, high = unit.min(axis=0), unit.max(axis=0)  # per dimension\n"
            if per_dim
            else "low, high = unit.min(), unit.max()\n"
        ) + (
            "step = (high - low) / 255\n"
            "codes = (np.clip(np.rint((unit - low) / step), 0, 255) - 128).astype(np.int8)\n"
            "q_code = (np.clip(np.rint((q - low) / step), 0, 255) - 128).astype(np.int8)\n"
        )
        if not by_cosine:
            quantize += "score = (codes.astype(np.int32) @ q_code.astype(np.int32)).astype(float)\n"
    if by_cosine:
        quantize += (
            "# cosine similarity of the codes taken as ordinary vectors\n"
            "c = codes.astype(float)\n"
            "score = (c @ q_code) / (np.linalg.norm(c, axis=1) * np.linalg.norm(q_code))\n"
        )
    own = f"score[{row}] = -np.inf  # the target itself\n" if row is not None else ""
    return (
        "import numpy as np\n\n"
        f"# `vectors`: the ({n}, {vs.dims}) matrix of {ws.dataset.name}; `q`: the target's.\n"
        "unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)\n"
        "q = q / np.linalg.norm(q)\n"
        + quantize
        + own
        + f"\n# Keep k × {factor} candidates, then rescore them with the floats\n"
        f'candidates = np.argsort(-score, kind="stable")[:{k * factor}]\n'
        f'top = candidates[np.argsort(-(unit[candidates] @ q), kind="stable")][:{k}]\n'
    )


TALK_CODE, NUMPY_CODE = "The same in Python, as the talk's notebooks", "The same in numpy"
SHORT = {TALK_CODE: "Python", NUMPY_CODE: "numpy"}  # their popovers in presenter mode


def python_code(row: Any) -> None:
    """The current search in code: the talk's plain functions first, numpy second; in
    presenter mode a popover each, side by side in ``row`` (under the tab when None)."""
    if not target.strip():
        return
    factor = _factor_setting()
    with contextlib.nullcontext() if row is None else row:
        fold = _ui.Folds(SHORT)
    _ui.code_expander(_talk_code(factor), TALK_CODE, where=fold)
    _ui.code_expander(_numpy_code(factor), NUMPY_CODE, where=fold)


@_state.fragment
def section(view: str) -> None:
    """The open tab and the code of the current search. A fragment: a widget inside it (the
    oversampling factor, the calculator) reruns only this, not the sidebar and the controls
    above; its keys reach the URL at once (``_ui.bound`` outside a full run)."""
    row = {
        VIEWS[0]: before_and_after,
        VIEWS[1]: top_k,
        VIEWS[2]: oversample_and_rescore,
        VIEWS[3]: storage,
    }[view]()
    python_code(row)


view, tab = _ui.view_tabs("quant_view", VIEWS)
with tab:
    section(view)
