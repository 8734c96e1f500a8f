"""Similarity: cosine of two texts, a target's neighbours per model, how similarities spread,
and the dataset on a 2-D/3-D map."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from core.similarity import TargetNeighbors, compare_pair, shared_histogram, target_neighbors
from views import _ui
from views._analogies import render_analogies
from views._map import dataset_map

NUMBER = st.column_config.NumberColumn(format="%.3f")


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
            out[model] = target_neighbors(vs.vector_for(target), vs.vectors, k, exclude)
    return out


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
    _ui.code_expander(
        "import numpy as np\n\n"
        + _ui.embed_code(ws.models[0], [text_a, text_b], var="ab")
        + "a, b = ab\n"
        + "cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))\n"
    )


def neighbors() -> None:
    """The target's most and least similar items, one column per model."""
    left, right = st.columns([2, 1])
    target, exclude = _target(left)
    k = _ui.k_slider("sim_k", len(labels), where=right)
    found = _neighbors(target, k, exclude)
    for column, (model, nb) in zip(st.columns(max(1, len(found))), found.items(), strict=False):
        with column:
            st.markdown(f"**{_ui.md_text(model)}**")
            most, least = st.columns(2)
            for where, name, ranked in ((most, "most", nb.most), (least, "least", nb.least)):
                where.caption(f"{name} similar")
                table = _ui.ranking_frame(ranked.ids[0], ranked.scores[0], labels)
                where.dataframe(
                    table,
                    key=f"sim_{name}_{model}",
                    hide_index=True,
                    column_config={
                        "similarity": NUMBER,
                        "rank": st.column_config.NumberColumn("#"),
                    },
                )
                _ui.download_table(table, f"{name}_similar_{model}", where)
    if exclude is None and found:
        st.caption(
            _ui.md_text(
                f"{target.strip()!r} is not an item of {ws.dataset.name}: embedded as text."
            )
        )
    _ui.code_expander(
        _sims_code(target)
        + "order = np.argsort(-sims)  # (drop the target itself if it is an item)\n"
        + f"most_similar, least_similar = order[:{k}], order[::-1][:{k}]\n"
    )


def _ranges(found: dict[str, TargetNeighbors], hist: Any, threshold: float, target: str) -> None:
    """One row per model on one cosine axis: the box holds the middle half of the target's
    similarities, the whiskers reach the lowest and highest item (named on hover)."""
    # Boxes first, so each model keeps the colour it has in the histogram below.
    fig = go.Figure(
        [
            go.Box(x=s.values, name=s.name, orientation="h", boxpoints=False, hoverinfo="x")
            for s in hist.series
        ]
    )
    for s in hist.series:
        nb = found[s.name]
        lowest, highest = labels[int(nb.least.ids[0, 0])], labels[int(nb.most.ids[0, 0])]
        fig.add_trace(
            go.Scatter(
                x=[s.low, s.high],
                y=[s.name, s.name],
                mode="markers+text",
                text=[lowest, highest],
                textposition=["middle left", "middle right"],
                marker={"size": 9, "color": "#111", "symbol": "line-ns-open"},
                hovertemplate="%{text}: %{x:.3f}<extra>%{y}</extra>",
                showlegend=False,
            )
        )
    fig.add_vline(x=0, line_width=1, line_color="#888")
    fig.add_vline(x=threshold, line_dash="dash", line_width=2)
    fig.update_layout(
        showlegend=False,
        xaxis_title=f"range per model: {target.strip()!r} against every other item (cosine)",
        xaxis_range=[min(-0.3, hist.edges[0]) - 0.25, 1.25],
        yaxis={"autorange": "reversed"},
    )
    _ui.plot(fig, key="sim_ranges", height=90 + 60 * len(hist.series))


def spread() -> None:
    """Histogram of the target's similarity to every item per model, with a threshold."""
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
    _ranges(found, hist, threshold, target)
    fig = go.Figure(
        [go.Bar(x=hist.centers, y=s.counts, name=s.name, opacity=0.65) for s in hist.series]
    )
    fig.add_vline(
        x=threshold,
        line_dash="dash",
        line_width=2,
        annotation_text=f"t = {threshold:.2f}",
        annotation_position="top",
    )
    fig.update_layout(
        barmode="overlay",
        bargap=0,
        xaxis_title=f"cosine similarity to {target.strip()!r}",
        yaxis_title="items",
        xaxis_range=[hist.edges[0], hist.edges[-1]],
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    _ui.plot(fig, key="sim_histogram", height=380)
    st.dataframe(
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
        ],
        key="sim_threshold_table",
        hide_index=True,
        column_config={c: NUMBER for c in ("lowest", "median", "highest")},
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
    _ui.code_expander(_sims_code(target) + f"passing = int((sims >= {threshold:.2f}).sum())\n")


view, tab = _ui.view_tabs("sim_view", VIEWS)
with tab:
    {
        "Two texts": two_texts,
        "Neighbours": neighbors,
        "Spread": spread,
        "Map": lambda: dataset_map(ws),
        "Analogies": render_analogies,
    }[view]()
