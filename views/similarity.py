"""Similarity: cosine of two texts, a target's neighbours per model, how similarities spread,
and the dataset on a 2-D/3-D map."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.similarity import (
    SharedHistogram,
    TargetNeighbors,
    compare_pair,
    shared_histogram,
    target_neighbors,
)
from core.topk import SearchResult
from core.vectors import VectorSet
from views import _snippets, _ui
from views._analogies import render_analogies
from views._map import dataset_map

NUMBER = st.column_config.NumberColumn(format="%.3f")
# Ranked tables: a narrow rank and a score wide enough for "-0.163", the item takes the rest.
RANKED = {
    "rank": st.column_config.NumberColumn("#", width=44),
    "item": st.column_config.TextColumn(width="medium"),
    "similarity": st.column_config.NumberColumn(format="%.3f", width=92),
}
# Presenter mode: the content's width at 1280 px and the gap between columns, px. A table's
# rank column (up to "10") and score column (a score such as "-0.163", headed "cosine") are
# narrow; its item column, headed by the model's name, takes the rest of its share.
SCREEN_PX, GAP_PX = 1090, 19
RANK_PX, SCORE_PX = 36, 68
# The item column's floor, px: with six or more models side by side the tables run wider
# than the screen (it scrolls sideways) rather than shrinking their items to nothing.
MIN_ITEM_PX = 80
# A header's padding and its letters' mean width at presenter type size, px (measured in
# Chromium): a model's name longer than its column holds is cut, whole in the tooltip.
HEADER_PAD_PX, LETTER_PX = 18, 7.6
# Presenter mode: rows of this many px (Streamlit's default is 42 at presenter type size)
# and at most this many rows in view, so the top 10 and the controls share one screen.
ROW_PX, ROWS_SHOWN = 32, 10
# The header row keeps its own height (42 px at presenter type size), plus the borders.
HEADER_PX = 44
# Item names drawn on a chart keep at most this many characters (whole on hover).
SHORT = 16
# A range chart's highest item above this cosine is named leftwards (no room to its right).
NEAR_END = 0.75
# Targets' neighbours kept for every session (a few KB each).
NEIGHBOR_ENTRIES = 512


_ui.page_intro(
    "Similarity",
    "Two texts are similar for a model when their vectors point the same way. Cosine "
    "similarity measures that angle: 1 for the same direction, 0 for unrelated (at right "
    "angles). It is the dot product of the two vectors divided by their lengths.",
    r"\cos(\mathbf{a}, \mathbf{b}) = \frac{\mathbf{a} \cdot \mathbf{b}}"
    r"{\lVert \mathbf{a} \rVert \, \lVert \mathbf{b} \rVert}"
    r" = \frac{\sum_i a_i b_i}{\sqrt{\sum_i a_i^2} \, \sqrt{\sum_i b_i^2}}",
)

ws = _ui.workspace()
labels = ws.dataset.labels
VIEWS = ("Two texts", "Neighbours", "Spread", "Map", "Analogies")


def _target(where: Any) -> tuple[str, int | None]:
    """The target text box (an item or free text), bound to the URL; returns the text and its
    dataset row (None for free text)."""
    target = _ui.target_input("sim_target", ws, where)
    return target, _ui.target_index(ws.dataset, target)


def _neighbors(target: str, k: int, exclude: int | None) -> dict[str, TargetNeighbors]:
    """Each model's most/least similar items and similarity to every other item; warns and
    returns nothing for an empty target."""
    if not target.strip():
        st.warning("The target is empty: type a word, a title or a sentence.")
        return {}
    out: dict[str, TargetNeighbors] = {}
    for model, vs in ws.sets.items():
        with _ui.guard(model):
            out[model] = _shared_neighbors(vs.key, target.strip(), k, exclude, vs)
    return out


@st.cache_resource(max_entries=NEIGHBOR_ENTRIES, show_spinner=False)
def _shared_neighbors(
    key: str, target: str, k: int, exclude: int | None, _vs: VectorSet
) -> TargetNeighbors:
    """``target_neighbors`` of ``target`` in ``_vs``, once per server for every session:
    keyed by the vectors' content (``key``, ``VectorSet.key``), the target, ``k`` and the
    item left out. A class opening the same link, or moving k to the same values, shares one
    computation (a fifth of a Neighbours page's first run)."""
    found = target_neighbors(_vs.vector_for(target), _vs.vectors, k, exclude)
    most, least = found.most, found.least
    for array in (found.similarities, most.ids, most.scores, least.ids, least.scores):
        array.flags.writeable = False
    return found


def _sims_code(target: str) -> str:
    """Python for one target's similarity to every item."""
    return (
        "import numpy as np\n\n"
        "# `vectors` holds the dataset's (n, d) embeddings.\n"
        + _ui.embed_code(ws.models[0], [target], var="q")
        + "sims = vectors @ q[0] / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q[0]))\n"
    )


def two_texts() -> None:
    """Cosine of two typed texts, with the dot product and norms that make it."""
    left, right = st.columns(2)
    text_a = left.text_input("First text", key=_ui.bound("sim_a", "king"))
    text_b = right.text_input("Second text", key=_ui.bound("sim_b", "queen"))
    if not (text_a.strip() and text_b.strip()):
        st.warning("Type two texts (words, titles or sentences) to compare them.")
        return
    pairs = []
    for model, vs in ws.sets.items():
        with _ui.guard(model):
            m = compare_pair(vs.vector_for(text_a), vs.vector_for(text_b))
            pairs.append(
                {
                    "model": model,
                    "a · b": m.dot,
                    "‖a‖": m.norm_a,
                    "‖b‖": m.norm_b,
                    "cosine": m.cosine,
                }
            )
    if pairs:
        st.dataframe(
            pairs,
            key="sim_pair_table",
            hide_index=True,
            column_config={c: NUMBER for c in ("a · b", "‖a‖", "‖b‖", "cosine")},
        )
        st.caption("cosine = (a · b) / (‖a‖ ‖b‖); for unit-length vectors it is just a · b.")
    setup = _ui.embed_code(ws.models[0], [text_a, text_b]) + "v1, v2 = vectors\n"
    _ui.code_expander(_snippets.cosine_similarity_code(setup))


# Where a ranked table is drawn: beside the sidebar ("page"), on a presenter's screen
# ("screen"), or inside a folded presenter expander ("folded": a static table, which is
# laid out at once, unlike a data grid that waits until it is unfolded).
Layout = Literal["page", "screen", "folded"]


def _ranked_table(
    where: Any, model: str, name: str, ranked: SearchResult, layout: Layout, per_row: int
) -> None:
    """One model's ``name`` ("most"/"least") similar items as a table in ``where``, one of
    ``per_row`` tables side by side. On a presenter's screen the item column is headed by
    the model, as wide as the table allows, and the rows are short, so a top 10 fits under
    the controls."""
    table = _ui.ranking_frame(ranked.ids[0], ranked.scores[0], labels)
    key = f"sim_{name}_{model}"
    if layout == "folded":
        # st.table's headers are markdown: "#" alone would be an empty heading.
        shown = table.rename(columns={"rank": _ui.md_text("#"), "item": _ui.md_text(model)})
        where.table(shown.style.format({"similarity": "{:.3f}"}).hide(axis="index"))
    elif layout == "screen":
        rows = min(len(table), ROWS_SHOWN)
        item_px = _item_px(per_row)
        where.dataframe(
            table,
            key=key,
            hide_index=True,
            column_config={
                "rank": st.column_config.NumberColumn("#", width=RANK_PX),
                "item": st.column_config.TextColumn(
                    _short(model, int((item_px - HEADER_PAD_PX) / LETTER_PX)),
                    width=item_px,
                    help=_ui.md_text(f"{model}: the {name} similar items to the target."),
                ),
                "similarity": st.column_config.NumberColumn(
                    "cosine", format="%.3f", width=SCORE_PX
                ),
            },
            row_height=ROW_PX,
            height=HEADER_PX + rows * ROW_PX,
        )
    else:
        where.dataframe(table, key=key, hide_index=True, column_config=RANKED)
        _ui.download_table(table, f"{name}_similar_{model}", where)


def _item_px(per_row: int) -> int:
    """Presenter mode: the item column's width, px, in one of ``per_row`` tables side by
    side (a table's share of the screen less its rank and score columns and borders)."""
    share = (SCREEN_PX - GAP_PX * (per_row - 1)) // per_row
    return max(MIN_ITEM_PX, share - RANK_PX - SCORE_PX - 2)


# A folded presenter expander is half the screen wide: at most this many tables side by side
# there, the others on the rows below.
FOLDED_PER_ROW = 2


def _ranked_row(found: dict[str, TargetNeighbors], name: str, layout: Layout) -> None:
    """Every model's ``name`` similar items side by side, on a presenter's screen (in rows
    of ``FOLDED_PER_ROW`` inside a folded expander)."""
    per_row = max(1, len(found) if layout == "screen" else min(len(found), FOLDED_PER_ROW))
    items = list(found.items())
    for start in range(0, len(items), per_row):
        row = items[start : start + per_row]
        for where, (model, nb) in zip(st.columns(per_row), row, strict=False):
            ranked = nb.most if name == "most" else nb.least
            _ranked_table(where, model, name, ranked, layout, per_row)


def neighbors() -> None:
    """The target's most and least similar items per model: in presenter mode the most
    similar on screen, the least similar and the code folded under them."""
    left, right = st.columns([2, 1])
    target, exclude = _target(left)
    k = _ui.k_slider("sim_k", len(labels), where=right)
    found = _neighbors(target, k, exclude)
    code = _snippets.most_similar_code(
        _ui.embed_code(ws.models[0], [target], var="q") + "target_vector = q[0]\n",
        target.strip(),
        k,
    )
    if _ui.presenting():
        if found:
            _ranked_row(found, "most", "screen")
        least, code_col = st.columns(2)
        if found:
            with least.expander("Least similar"):
                _ranked_row(found, "least", "folded")
        with code_col:
            _ui.code_expander(code)
        return
    # Beside the sidebar: a row per model, its most and least similar side by side, each
    # table half the width so a title and its score both show.
    for model, nb in found.items():
        st.markdown(f"**{_ui.md_text(model)}**")
        for where, name, ranked in zip(
            st.columns(2), ("most", "least"), (nb.most, nb.least), strict=True
        ):
            where.caption(f"{name} similar")
            _ranked_table(where, model, name, ranked, "page", 2)
    if exclude is None and found:
        st.caption(
            _ui.md_text(
                f"{target.strip()!r} is not an item of {ws.dataset.name}: embedded as text."
            )
        )
    _ui.code_expander(code)


def _short(label: str, most: int = SHORT) -> str:
    """``label`` cut to ``most`` characters (one at least), an ellipsis marking the cut."""
    most = max(1, most)
    return label if len(label) <= most else label[: most - 1].rstrip() + "…"


def _ranges(
    found: dict[str, TargetNeighbors],
    hist: SharedHistogram,
    threshold: float,
    target: str,
    height: int,
) -> None:
    """One row per model on one cosine axis: the box holds the middle half of the target's
    similarities, the whiskers reach the lowest and highest item (named beside them)."""
    # Boxes first, so each model keeps the colour it has in the histogram.
    fig = go.Figure(
        [
            go.Box(x=s.values, name=s.name, orientation="h", boxpoints=False, hoverinfo="x")
            for s in hist.series
        ]
    )
    for s in hist.series:
        nb = found[s.name]
        ends = [labels[int(nb.least.ids[0, 0])], labels[int(nb.most.ids[0, 0])]]
        fig.add_trace(
            go.Scatter(
                x=[s.low, s.high],
                y=[s.name, s.name],
                mode="markers+text",
                # Above each end and away from the box: the lowest leftwards (into the
                # axis labels' column if need be), the highest rightwards unless it is near
                # the axis' end. A long title is shortened (whole on hover).
                text=[_short(e) for e in ends],
                customdata=ends,
                textposition=["top left", "top left" if s.high > NEAR_END else "top right"],
                cliponaxis=False,
                marker={"size": 9, "color": "#111", "symbol": "line-ns-open"},
                hovertemplate="%{customdata}: %{x:.3f}<extra>%{y}</extra>",
                showlegend=False,
            )
        )
    fig.add_vline(x=0, line_width=1, line_color="#888")
    fig.add_vline(x=threshold, line_dash="dash", line_width=2)
    shown = repr(target.strip())
    fig.update_layout(
        showlegend=False,
        xaxis_title=f"range of the cosine to {shown} per model"
        if _ui.presenting()
        else f"range per model: {shown} against every other item (cosine)",
        xaxis_range=[min(-0.3, hist.edges[0]) - 0.2, 1.2],
        yaxis={"autorange": "reversed"},
    )
    _ui.plot(fig, key="sim_ranges", height=height)


def _histogram(hist: SharedHistogram, threshold: float, target: str, height: int) -> None:
    """Each model's similarities to the target binned on one axis, the threshold dashed."""
    fig = go.Figure(
        [go.Bar(x=hist.centers, y=s.counts, name=s.name, opacity=0.65) for s in hist.series]
    )
    # The threshold is named in the legend, beside the models: a note over its line would
    # sit on the legend whenever t falls under a model's name.
    fig.add_vline(x=threshold, line_dash="dash", line_width=2, line_color="#111")
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="lines",
            line={"dash": "dash", "width": 2, "color": "#111"},
            name=f"t = {threshold:.2f}",
        )
    )
    fig.update_layout(
        barmode="overlay",
        bargap=0,
        xaxis_title=f"cosine similarity to {target.strip()!r}",
        yaxis_title="items",
        xaxis_range=[hist.edges[0], hist.edges[-1]],
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    _ui.plot(fig, key="sim_histogram", height=height)


def _counts(hist: SharedHistogram, threshold: float, folded: bool) -> None:
    """The table of items at or over the threshold per model (static when ``folded`` in a
    presenter's expander), and what it means."""
    frame = pd.DataFrame(
        [
            {
                "model": c.name,
                f"items ≥ {threshold:.2f}": c.passing,
                "share": f"{c.fraction:.1%}",
                "lowest": s.low,
                "median": s.median,
                "highest": s.high,
            }
            for c, s in zip(hist.at_threshold(threshold), hist.series, strict=True)
        ]
    )
    scores = ("lowest", "median", "highest")
    if folded:
        st.table(frame.style.format(dict.fromkeys(scores, "{:.3f}")).hide(axis="index"))
    else:
        st.dataframe(
            frame,
            key="sim_threshold_table",
            hide_index=True,
            column_config=dict.fromkeys(scores, NUMBER),
        )
    ranges = "; ".join(
        f"{s.name} from {s.low:.2f} to {s.high:.2f} (median {s.median:.2f})" for s in hist.series
    )
    st.markdown(
        f"Similarities run {ranges}. Each model has its own range, so a fixed cut-off such as "
        f"{threshold:.2f} keeps a different share of the data in each: compare a similarity "
        "with the model's own distribution, not with a number from another model."
        if len(hist.series) > 1
        else f"Similarities run {ranges}. Another model would give another range: add one in "
        "the sidebar to compare."
    )


# Presenter mode: both Spread charts side by side at this height, under the controls.
SPREAD_PX = 360


def spread() -> None:
    """Each model's range of similarities to the target and their histogram, with a
    threshold: in presenter mode the two charts side by side and the counts folded."""
    left, right = st.columns([2, 1])
    target, exclude = _target(left)
    threshold = right.slider(
        "Threshold t: count the items with similarity ≥ t",
        -1.0,
        1.0,
        step=0.01,
        key=_ui.bound("sim_threshold", 0.5, float, valid=lambda v: -1.0 <= v <= 1.0),
    )
    found = _neighbors(target, 1, exclude)
    if not found:
        return
    hist = shared_histogram({m: nb.others for m, nb in found.items()})
    code = _sims_code(target) + f"passing = int((sims >= {threshold:.2f}).sum())\n"
    if _ui.presenting():
        ranges_col, hist_col = st.columns(2)
        with ranges_col:
            _ranges(found, hist, threshold, target, SPREAD_PX)
        with hist_col:
            _histogram(hist, threshold, target, SPREAD_PX)
        counts_col, code_col = st.columns(2)
        with counts_col.expander(f"Items ≥ {threshold:.2f} per model"):
            _counts(hist, threshold, folded=True)
        with code_col:
            _ui.code_expander(code)
        return
    _ranges(found, hist, threshold, target, 90 + 60 * len(hist.series))
    _histogram(hist, threshold, target, 380)
    _counts(hist, threshold, folded=False)
    _ui.code_expander(code)


view, tab = _ui.view_tabs("sim_view", VIEWS)
with tab:
    {
        "Two texts": two_texts,
        "Neighbours": neighbors,
        "Spread": spread,
        "Map": lambda: dataset_map(ws),
        "Analogies": render_analogies,
    }[view]()
