"""Similarity: cosine of two texts, a target's neighbours per model, how similarities spread,
and the dataset on a 2-D/3-D map."""

from __future__ import annotations

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from core.datasets import Dataset
from core.project import Projection, ProjectionResult, available_projections, project
from core.similarity import TargetNeighbours, compare_pair, shared_histogram, target_neighbours
from views import _ui

PROJECTION_NAMES = {Projection.PCA: "PCA", Projection.TSNE: "t-SNE", Projection.UMAP: "UMAP"}
NUMBER = st.column_config.NumberColumn(format="%.3f")


@st.cache_data(show_spinner="Projecting the dataset (once per model and method)…", max_entries=32)
def _projection(vectors: np.ndarray, method: str, n_components: int) -> ProjectionResult:
    return project(vectors, method, n_components=n_components, seed=0)


def _map_figure(
    coords: np.ndarray, dataset: Dataset, near: list[int], target_row: int | None
) -> go.Figure:
    """Points coloured by category; the target and its neighbours drawn larger and labelled."""
    three_d = coords.shape[1] == 3
    scatter = go.Scatter3d if three_d else go.Scatter

    def trace(rows: list[int], name: str, **style: object) -> go.BaseTraceType:
        xyz = {"x": coords[rows, 0], "y": coords[rows, 1]}
        if three_d:
            xyz["z"] = coords[rows, 2]
        return scatter(
            **xyz,
            name=name,
            hovertext=[dataset.labels[i] for i in rows],
            hoverinfo="text+name",
            **style,
        )

    fig = go.Figure()
    small = 3 if three_d else 6
    # The words dataset has more categories than the app's six-colour cycle.
    palette = plotly.colors.qualitative.Dark24
    for n, category in enumerate(sorted(set(dataset.categories))):
        rows = [i for i, c in enumerate(dataset.categories) if c == category]
        marker = {"size": small, "opacity": 0.7, "color": palette[n % len(palette)]}
        fig.add_trace(trace(rows, category, mode="markers", marker=marker))
    if near:
        fig.add_trace(
            trace(
                near,
                "neighbours",
                mode="markers+text",
                text=[dataset.labels[i] for i in near],
                # Alternate above and below so that labels of close neighbours overlap less.
                textposition=[("top center", "bottom center")[i % 2] for i in range(len(near))],
                marker={"size": small + 6, "color": "rgba(0,0,0,0)", "line": {"width": 2}},
            )
        )
    if target_row is not None:
        fig.add_trace(
            trace(
                [target_row],
                "target",
                mode="markers+text",
                text=[dataset.labels[target_row]],
                textposition="bottom center",
                marker={
                    "size": small + (5 if three_d else 10),
                    "symbol": "diamond",
                    "color": "#111",
                },
            )
        )
    fig.update_layout(legend={"itemsizing": "constant"})
    return fig


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

# ---------------------------------------------------------------- two texts

st.subheader("Two texts")
left, right = st.columns(2)
text_a = left.text_input("First text", key=_ui.bound("sim_a", "king"))
text_b = right.text_input("Second text", key=_ui.bound("sim_b", "queen"))
if not (text_a.strip() and text_b.strip()):
    st.warning("Type two texts (words, titles or sentences) to compare them.")
else:
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

# ---------------------------------------------------------------- a target's neighbours

st.subheader("Most and least similar")
default_target = "queen" if "queen" in labels else labels[0]
left, right = st.columns([2, 1])
target = left.text_input(
    "Target",
    key=_ui.bound("sim_target", default_target),
    help=f"An item of {ws.dataset.name} (e.g. {', '.join(labels[:3])}) or any text.",
)
k = _ui.k_slider("sim_k", len(labels), where=right)
_ui.publish("sim_a", "sim_b", "sim_target", "sim_k")

neighbours: dict[str, TargetNeighbours] = {}
threshold = 0.5  # the slider below replaces it once there are similarities to count
exclude = _ui.target_index(ws.dataset, target)
if not target.strip():
    st.warning("The target is empty: type a word, a title or a sentence.")
else:
    for column, (model, vs) in zip(st.columns(len(ws.sets)), ws.sets.items(), strict=True):
        with column, _ui.guard(model):
            nb = target_neighbours(vs.vector_for(target), vs.vectors, k, exclude)
            neighbours[model] = nb
            st.markdown(f"**{model}**: most similar")
            st.dataframe(
                _ui.ranking_frame(nb.most.ids[0], nb.most.scores[0], labels),
                key=f"sim_most_{model}",
                hide_index=True,
                column_config={"similarity": NUMBER},
            )
            st.markdown("least similar")
            st.dataframe(
                _ui.ranking_frame(nb.least.ids[0], nb.least.scores[0], labels),
                key=f"sim_least_{model}",
                hide_index=True,
                column_config={"similarity": NUMBER},
            )
    if exclude is None and neighbours:
        st.caption(f"{target.strip()!r} is not an item of {ws.dataset.name}: embedded as text.")

# ---------------------------------------------------------------- distribution and threshold

if neighbours:
    st.subheader(f"How similar is everything else to {target.strip()!r}?")
    hist = shared_histogram({m: nb.others for m, nb in neighbours.items()})
    threshold = st.slider(
        "Threshold t: count the items with similarity ≥ t",
        -1.0,
        1.0,
        step=0.01,
        key=_ui.bound("sim_threshold", 0.5, float, valid=lambda v: -1.0 <= v <= 1.0),
    )
    _ui.publish("sim_threshold")
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
    _ui.plot(fig, key="sim_histogram")
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

# ---------------------------------------------------------------- projection


st.subheader("The dataset on a map")
methods = [p.value for p in available_projections()]
c_model, c_method, c_dims = st.columns(3)
proj_model = _ui.model_choice("sim_proj_model", ws, where=c_model)
method = c_method.selectbox(
    "Projection",
    methods,
    key=_ui.bound("sim_proj", Projection.PCA.value, valid=lambda v: v in methods),
    format_func=lambda v: PROJECTION_NAMES[Projection(v)],
    help="PCA is instant; t-SNE takes a few seconds the first time (then cached).",
)
n_components = c_dims.radio(
    "Dimensions",
    [2, 3],
    horizontal=True,
    key=_ui.bound("sim_proj_dims", 2, int, valid=lambda v: v in (2, 3)),
)
_ui.publish("sim_proj_model", "sim_proj", "sim_proj_dims")
with _ui.guard("Projection"):
    result = _projection(ws.sets[proj_model].vectors, method, n_components)
    near = neighbours[proj_model].most.ids[0].tolist() if proj_model in neighbours else []
    _ui.plot(_map_figure(result.coords, ws.dataset, near, exclude), key="sim_map", height=560)
    trust, variance = st.columns(2)
    trust.metric(
        "trustworthiness",
        f"{result.trustworthiness:.3f}",
        help=f"1.0 when each point's {result.n_neighbors} nearest neighbours on the map are "
        "also near it in the full space (sklearn.manifold.trustworthiness). Lower means the "
        "flat picture invents neighbourhoods.",
    )
    if result.explained_variance is not None:
        variance.metric("variance kept by the axes", f"{sum(result.explained_variance):.1%}")
    st.caption(
        f"{PROJECTION_NAMES[result.method]} of {len(labels)} {ws.dataset.name} vectors "
        f"({ws.sets[proj_model].dims} dims) down to {n_components}. Distances on the map are "
        "only approximate: check the tables above for the real similarities."
    )

code_model = ws.models[0]
_ui.code_expander(
    "import numpy as np\n\n"
    + _ui.embed_code(code_model, [text_a, text_b], var="ab")
    + "a, b = ab\n"
    + "cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))\n\n"
    + "# A target against every item: `vectors` holds the dataset's (n, d) embeddings.\n"
    + _ui.embed_code(code_model, [target], var="q")
    + "sims = vectors @ q[0] / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q[0]))\n"
    + "order = np.argsort(-sims)  # (drop the target itself if it is an item)\n"
    + f"most_similar, least_similar = order[:{k}], order[::-1][:{k}]\n"
    + f"passing = int((sims >= {threshold:.2f}).sum())\n\n"
    + "from sklearn.decomposition import PCA\n"
    + "from sklearn.manifold import TSNE, trustworthiness\n\n"
    + (
        f"coords = PCA(n_components={n_components}).fit_transform(vectors)\n"
        if method == Projection.PCA.value
        else f"coords = TSNE(n_components={n_components}, metric='cosine', init='pca', "
        "random_state=0).fit_transform(vectors)\n"
    )
    + "print(trustworthiness(vectors, coords, n_neighbors=5, metric='cosine'))\n"
)
