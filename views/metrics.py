"""Metrics: euclidean, manhattan, dot and cosine on two small vectors you edit, then on real
data, with a live check of what unit length guarantees."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.datasets import Dataset
from core.metrics import Metric
from core.similarity import (
    RAW_MODEL,
    MetricRanking,
    PairMetrics,
    UnitCheck,
    angle_arc,
    check_unit_identities,
    compare_pair,
    dataset_unnormalized,
    parse_vector,
    rank_by_metrics,
    taxicab_path,
)
from views import _state, _ui
from views._snippets import cosine_similarity_code

NUMBER = st.column_config.NumberColumn(format="%.3f")
CHECK_K = 10
# px in presenter mode: a table row, and the header (its type is larger): ten rows fit.
PRESENTER_ROW, PRESENTER_HEADER = 32, 46
SCORE_KIND = {
    Metric.COSINE: "similarity",
    Metric.DOT: "similarity",
    Metric.EUCLIDEAN: "distance",
    Metric.MANHATTAN: "distance",
}


@st.cache_data(show_spinner="Checking every item against all the others (once)…", max_entries=32)
def _unit_check(vectors: np.ndarray, k: int) -> UnitCheck:
    return check_unit_identities(vectors, k)


@st.cache_data(show_spinner=f"Embedding the dataset with {RAW_MODEL}, unnormalised (once)…")
def _raw_vectors(fingerprint: str, _dataset: Dataset) -> np.ndarray:
    """The dataset (by its texts' ``fingerprint``) under RAW_MODEL before normalisation, read
    from the vector disk cache when stored (``python -m core.similarity`` stores the bundled
    ones)."""
    return dataset_unnormalized(_dataset, _ui.embedder(RAW_MODEL))


def _scene_axis(title: str, values: np.ndarray) -> dict[str, object]:
    """A 3-D axis titled ``title`` over ``values`` (the origin and both tips along it), its
    range padded at both ends: where two axes meet at the box's corner, their first ticks
    then sit apart instead of printing on top of each other."""
    low, high = float(min(values.min(), 0.0)), float(max(values.max(), 0.0))
    pad = 0.15 * ((high - low) or 1.0)
    return {
        "title": {"text": title, "font": {"size": 18}},
        "range": [low - pad, high + pad],
        "nticks": 4,
        "tickfont": {"size": 13},
    }


@st.cache_resource(max_entries=64, show_spinner=False)
def _drawing(
    typed_a: bytes, typed_b: bytes, normalize: bool, big: bool, height: int, _pair: PairMetrics
) -> go.Figure:
    """The styled drawing of ``_pair``, built once per server for the vectors as typed (float64
    bytes), the Normalise choice (which make the pair), presenter mode and height."""
    return _ui.styled_figure(_vector_figure(_pair), height, big=big)


def _vector_figure(m: PairMetrics) -> go.Figure:
    """The two vectors from the origin, the straight line, the taxicab path and the angle."""
    three_d = m.a.size == 3
    scatter = go.Scatter3d if three_d else go.Scatter

    def line(points: np.ndarray, name: str, **style: object) -> go.BaseTraceType:
        xyz = {"x": points[:, 0], "y": points[:, 1]}
        if three_d:
            xyz["z"] = points[:, 2]
        return scatter(**xyz, name=name, **style)

    origin = np.zeros_like(m.a)
    arc = angle_arc(m.a, m.b, radius=0.35 * min(m.norm_a, m.norm_b))
    arrows = [
        line(
            np.stack([origin, tip]),
            name,
            mode="lines+markers+text",
            text=["", name],
            textposition="top center",
            textfont={"size": 18},
            line={"width": 5},
            marker={"size": [1, 9]},
        )
        for name, tip in (("a", m.a), ("b", m.b))
    ]
    measures = [
        line(np.stack([m.a, m.b]), f"euclidean {m.euclidean:.3g}", line={"dash": "dash"}),
        line(taxicab_path(m.a, m.b), f"manhattan {m.manhattan:.3g}", line={"dash": "dot"}),
        line(arc, f"angle {m.angle_degrees:.1f}° (cos {m.cosine:.3g})", line={"dash": "solid"}),
    ]
    for trace in measures:
        trace.update(mode="lines", line_width=4)
    fig = go.Figure([*arrows, *measures])
    # Below the drawing, so the drawing gets the column's whole width.
    legend = {"orientation": "h", "yanchor": "top", "y": -0.02, "x": 0}
    if three_d:
        points = np.vstack([origin, m.a, m.b])
        fig.update_layout(
            scene={
                "aspectmode": "data",
                # Far enough that the box and its axis titles stay inside the drawing.
                "camera": {"eye": {"x": 1.6, "y": 1.6, "z": 1.0}, "center": {"z": -0.12}},
                **{f"{name}axis": _scene_axis(name, points[:, i]) for i, name in enumerate("xyz")},
            },
            legend=legend,
        )
    else:
        fig.update_layout(legend=legend, xaxis_title="dimension 1", yaxis_title="dimension 2")
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


_ui.page_intro(
    "Metrics",
    "Euclidean distance is the straight line between two vectors' tips, manhattan distance "
    "the path along the axes, the dot product multiplies them value by value, and cosine "
    "keeps only the angle. Edit the vectors and watch each number change.",
    r"d_2 = \sqrt{\textstyle\sum_i (a_i - b_i)^2} \qquad d_1 = \textstyle\sum_i |a_i - b_i|"
    r"\qquad \mathbf{a} \cdot \mathbf{b} = \textstyle\sum_i a_i b_i \qquad "
    r"\cos = \dfrac{\mathbf{a} \cdot \mathbf{b}}"
    r"{\lVert \mathbf{a} \rVert\,\lVert \mathbf{b} \rVert}"
    r"\qquad d_{\cos} = 1 - \cos",
)

VIEWS = ("Two vectors", "On real data", "Unit length, checked")


def _range_warning(pair: PairMetrics) -> None:
    """Say so when a measure left float64's range (inf) or vanished below it (0)."""
    measures = {"euclidean": pair.euclidean, "manhattan": pair.manhattan, "dot": pair.dot}
    over = [name for name, value in measures.items() if not np.isfinite(value)]
    under = pair.euclidean == 0 and not np.array_equal(pair.a, pair.b)
    if over or under:
        names = over or ["euclidean"]
        shows = f"{'shows' if len(names) == 1 else 'show'} {'inf' if over else '0'}"
        st.warning(
            f"Out of float64's range: {', '.join(names)} {shows}, because squares and "
            f"products of numbers this {'large overflow' if over else 'small underflow'}. "
            "Cosine and the angle are computed on rescaled vectors and are right; tick "
            "Normalise or use smaller numbers."
        )


@_state.fragment
def two_vectors() -> None:
    """Two small vectors typed by the user: every metric, and a drawing in 2-D or 3-D (a
    change reruns this tab alone)."""
    big = _ui.presenting()
    # Presenter mode: half the width for the numbers, three to a row, so that they and the
    # magnitudes fit above the fold beside the drawing.
    controls, drawing = st.columns([1, 1] if big else [1, 1.3], gap="large")
    with controls:
        left, right = st.columns(2)
        text_a = left.text_input("Vector a", key=_ui.bound("met_a", "1, 2, 3"))
        text_b = right.text_input("Vector b", key=_ui.bound("met_b", "3, 1, 2"))
        normalize = st.toggle(
            "Normalise",
            key=_ui.bound("met_norm", True, _ui.as_bool),
            help="Divide each vector by its length, as most embedding models do.",
        )

    pair: PairMetrics | None = None
    with controls, _ui.guard("Vectors"):
        typed = parse_vector(text_a, "vector a"), parse_vector(text_b, "vector b")
        pair = compare_pair(*typed, normalize)
    if pair is None:
        return
    with controls:
        per_row = 3 if big else 2
        cells = [cell for _ in range(0, 5, per_row) for cell in st.columns(per_row)]
        cells[0].metric("euclidean", f"{pair.euclidean:.3g}", help="The straight line a → b.")
        cells[1].metric("manhattan", f"{pair.manhattan:.3g}", help="Along the axes, one at a time.")
        cells[2].metric("dot product", f"{pair.dot:.3g}", help="Σ aᵢbᵢ")
        cells[3].metric(
            "cosine similarity", f"{pair.cosine:.3g}", help=f"{pair.angle_degrees:.1f}°"
        )
        cells[4].metric("cosine distance", f"{pair.cosine_distance:.3g}", help="1 − cosine")
        _range_warning(pair)
        lengths = f"Magnitudes as typed: ‖a‖ = {pair.magnitude_a!r}, ‖b‖ = {pair.magnitude_b!r}."
        if normalize:
            shown = [", ".join(f"{v:.3f}" for v in x) for x in (pair.a, pair.b)]
            st.caption(
                f"{lengths} Compared as a = [{shown[0]}], b = [{shown[1]}], each divided by "
                "its magnitude to length 1. Then the dot product equals the cosine and "
                "euclidean² = 2 − 2·cosine."
            )
        else:
            st.caption(lengths)
    with drawing:
        if pair.a.size in (2, 3):
            with _ui.guard("Drawing"):
                # Fits beside the controls of a 1280x720 screen in presenter mode.
                a, b = (np.asarray(v, dtype=np.float64).tobytes() for v in typed)
                drawing_fig = _drawing(a, b, normalize, big, 470 if big else 520, pair)
                _ui.plot(drawing_fig, key="met_drawing", styled=True)
        else:
            st.info(f"These vectors have {pair.a.size} values: the drawing needs 2 or 3.")
    _ui.code_expander(pair_code(*typed, pair))


def _listed(values: np.ndarray) -> str:
    """``values`` as a Python list literal, each number as short as it reads back exactly."""
    return "[" + ", ".join(np.format_float_positional(v, trim="-") for v in values) + "]"


def pair_code(a: np.ndarray, b: np.ndarray, pair: PairMetrics) -> str:
    """The talk's ``cosine_similarity(v1, v2)`` on the vectors as typed (``a``, ``b``), its
    numpy one-liner, then every other measure with numpy, each line's value as a comment."""
    setup = f"v1 = {_listed(a)}  # vector a\nv2 = {_listed(b)}  # vector b\n"
    return (
        cosine_similarity_code(setup)
        + f"print(np.linalg.norm(a), np.linalg.norm(b))  # magnitudes {pair.magnitude_a!r}, "
        f"{pair.magnitude_b!r}\n"
        + (
            "a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)  # unit length\n"
            if pair.normalized
            else ""
        )
        + f"print(np.linalg.norm(a - b))  # euclidean {pair.euclidean:.3g}\n"
        f"print(np.abs(a - b).sum())  # manhattan {pair.manhattan:.3g}\n"
        f"print(a @ b)  # dot {pair.dot:.3g}\n"
        f"print(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))  # cosine distance "
        f"{pair.cosine_distance:.3g}\n"
    )


@_state.fragment
def real_data(ws: _ui.Workspace) -> None:
    """A target's top k under each metric, marked against cosine's (a change reruns this tab
    alone)."""
    labels = ws.dataset.labels
    model, target, k = _ui.target_controls("met", ws)
    vs = ws.sets[model]
    query, exclude = _ui.target_query(vs, target)
    if query is None:
        return
    rankings: tuple[MetricRanking, ...] = ()
    with _ui.guard(model):
        rankings = rank_by_metrics(query, vs.vectors, k, exclude, labels)
    if not rankings:
        return
    if _ui.presenting():
        # One table, one column per metric, so all four top-10s fit one 1280x720 screen.
        st.dataframe(
            side_by_side(rankings),
            key="met_rank_all",
            hide_index=True,
            row_height=PRESENTER_ROW,
            height=PRESENTER_ROW * min(k, 10) + PRESENTER_HEADER,
        )
        legend, code = st.columns([3, 2], vertical_alignment="center")
        legend.caption(_ui.MARKS_LEGEND.format(reference="cosine"))
        with code:
            _real_data_code(k)
        return
    # Two tables per row, so that every column (the mark included) stays readable.
    cells = [cell for _ in range(0, len(rankings), 2) for cell in st.columns(2)]
    for cell, r in zip(cells, rankings, strict=False):
        with cell:
            st.markdown(
                f"**{r.metric.value}** ({SCORE_KIND[r.metric]}): "
                f"{r.comparison.overlap_at_k:.0%} of cosine's top-{k}"
            )
            st.dataframe(
                _ui.ranking_frame(
                    r.result.ids[0],
                    r.result.scores[0],
                    labels,
                    score_name=SCORE_KIND[r.metric],
                    marks=[row.mark.value for row in r.comparison.rows],
                ),
                key=f"met_rank_{r.metric.value}",
                hide_index=True,
                column_config={SCORE_KIND[r.metric]: NUMBER},
            )
    st.caption(_ui.MARKS_LEGEND.format(reference="cosine"))
    _real_data_code(k)


def side_by_side(rankings: Sequence[MetricRanking]) -> pd.DataFrame:
    """Every metric's top-k as one column of items, each after the first marked against it
    (cosine's), its header giving the share of the first's top-k it keeps."""
    columns: dict[str, list[object]] = {"rank": [row.rank for row in rankings[0].comparison.rows]}
    for i, r in enumerate(rankings):
        rows = r.comparison.rows
        if i == 0:
            columns[r.metric.value] = [row.variant_label for row in rows]
        else:
            header = f"{r.metric.value} · {r.comparison.overlap_at_k:.0%}"
            columns[header] = [f"{row.variant_label} {row.mark.value}" for row in rows]
    return pd.DataFrame(columns)


def _real_data_code(k: int) -> None:
    """The code expander of the four top-``k`` rankings in numpy."""
    _ui.code_expander(
        "import numpy as np\n\n"
        "# `vectors` (n, d) holds the dataset's embeddings, `q` (d,) the target's.\n"
        "scores = {\n"
        "    'cosine': vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q)),\n"
        "    'dot': vectors @ q,\n"
        "    'euclidean': -np.linalg.norm(vectors - q, axis=1),  # negated: higher = closer\n"
        "    'manhattan': -np.abs(vectors - q).sum(axis=1),\n"
        "}\n"
        f"top = {{name: np.argsort(-s)[:{k}] for name, s in scores.items()}}\n"
    )


@_state.fragment
def unit_length_check(ws: _ui.Workspace) -> None:
    """On unit vectors cosine = dot and the euclidean ranking is cosine's: checked on every
    model's vectors, and shown failing on vectors that are not unit length (the toggle
    reruns this tab alone)."""
    st.latex(
        r"\lVert \mathbf{u} \rVert = \lVert \mathbf{v} \rVert = 1 \;\Rightarrow\; "
        r"\cos(\mathbf{u}, \mathbf{v}) = \mathbf{u} \cdot \mathbf{v}, \quad "
        r"\lVert \mathbf{u} - \mathbf{v} \rVert^2 = 2 - 2 \cos(\mathbf{u}, \mathbf{v})"
    )
    with_raw = st.toggle(
        f"Also check {RAW_MODEL} before its final normalisation step",
        key=_ui.bound("met_raw", True, _ui.as_bool),
        help="The same model's mean-pooled vectors, not divided by their length: a real model "
        "output that is not unit length.",
    )
    check_k = min(CHECK_K, len(ws.dataset.labels) - 1)
    checks: dict[str, UnitCheck] = {}
    for name, vset in ws.sets.items():
        with _ui.guard(name):
            checks[name] = _unit_check(vset.vectors, check_k)
    if with_raw:
        with _ui.guard(f"{RAW_MODEL} unnormalised"):
            checks[f"{RAW_MODEL}, unnormalised"] = _unit_check(
                _raw_vectors(ws.dataset.fingerprint, ws.dataset), check_k
            )
    if not checks:
        return
    st.dataframe(
        [
            {
                "vectors": name,
                "largest | ‖v‖ − 1 |": c.max_norm_error,
                "largest | cos − dot |": c.max_cos_dot_gap,
                f"euclidean top-{c.k} = cosine top-{c.k}": f"{c.same_ranking:.1%} of items",
                "statement": "✅ holds" if c.holds else "❌ fails",
            }
            for name, c in checks.items()
        ],
        key="met_check_table",
        hide_index=True,
        column_config={
            "largest | ‖v‖ − 1 |": st.column_config.NumberColumn(format="%.2e"),
            "largest | cos − dot |": st.column_config.NumberColumn(format="%.2e"),
        },
    )
    first = next(iter(checks.values()))
    st.caption(
        f"Each of {first.queries} items ranked all {first.items - 1} others by cosine and by "
        "euclidean distance. Vectors that are not unit length break both halves: the dot "
        "product then favours long vectors, and the straight-line distance mixes length "
        "with direction."
    )


view, tab = _ui.view_tabs("met_view", VIEWS)
with tab:
    if view == VIEWS[0]:
        two_vectors()
    else:
        # Outside the tab's fragment: the workspace draws the sidebar's download buttons.
        (real_data if view == VIEWS[1] else unit_length_check)(_ui.workspace())
