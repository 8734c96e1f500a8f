"""The Analogies tab of the Similarity page: a : b :: c : ? answered by b − a + c, drawn in
2-D, and the same question asked of the other local models. The maths is in
``core.analogy``; this module draws widgets and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import core
from core.analogy import (
    CANDIDATES,
    Analogy,
    Candidates,
    analogy,
    analogy_map,
    candidate_dataset,
    glove_candidates,
    label_sides,
    unit_rows,
)
from core.embedders.glove import NAME as GLOVE
from core.embedders.registry import LOCAL_FACTORIES
from core.vectors import embed_dataset, embedding_seconds, is_cached
from views import _state, _ui

NUMBER = st.column_config.NumberColumn(format="%.3f")
ARROWS = {"a → b": "#1f4fd1", "c → b − a + c": "#d1451f"}
# Table rows in presenter mode, px (Streamlit's own are 42 at presenter type size).
PRESENT_ROW_PX = 34
# The drawing's axes reach this share of the points' extent past the outermost point.
PAD = 0.15
_CANCELLED = "ana_embed_cancelled"
# A model that embeds the candidate words in about this many seconds or less does so at once;
# a slower one waits for a click (it runs once per model per server, then comes from disk).
AT_ONCE_SECONDS = 5.0
WHY = (
    "Sentence models usually answer worse: they were trained to place whole sentences by "
    "meaning, not to make the offset from man to king the same as from woman to queen, and a "
    "single word is an unusual input for them."
)
# The same on a projector, where the presenter says the rest: two lines beside the tables.
WHY_SHORT = (
    "Sentence models usually answer worse: they were trained to place whole sentences, not "
    "to keep word offsets such as man → king equal."
)


def local_models() -> list[str]:
    """Every model that runs here (hosted ones would be paid to embed 20,000 words)."""
    return [m for m in core.list_embedders() if m in LOCAL_FACTORIES]


@st.cache_resource(show_spinner="Reading the candidate words' vectors…", max_entries=8)
def _candidates(fingerprint: str, model: str, version: str) -> Candidates:
    """The candidate words under ``model`` (keyed by the words' fingerprint and the model's
    version): GloVe's own rows, else the model's cached vectors of them."""
    if model == GLOVE:
        return glove_candidates(CANDIDATES)
    dataset = candidate_dataset(CANDIDATES)
    return Candidates(dataset.texts, unit_rows(embed_dataset(dataset, core.get_embedder(model))))


@st.cache_data(show_spinner="Timing the model on a sample of the words…", max_entries=8)
def _seconds(fingerprint: str, model: str, version: str) -> float:
    """Estimated seconds for ``model`` to embed every candidate word (timed on a sample)."""
    return embedding_seconds(candidate_dataset(CANDIDATES), core.get_embedder(model))


def _ready(model: str) -> bool:
    """Whether ``model``'s candidates are GloVe's, cached on disk, or quick to embed."""
    dataset = candidate_dataset(CANDIDATES)
    emb = core.get_embedder(model)
    quick = model == GLOVE or is_cached(dataset, emb)
    return quick or _seconds(dataset.fingerprint, model, emb.version) <= AT_ONCE_SECONDS


@st.cache_data(show_spinner=False, max_entries=256)
def _answer(question: tuple[str, str, str], model: str, version: str, fingerprint: str) -> Analogy:
    """``model``'s answers to ``question`` (stripped words), keyed by the words, the model's
    version and the candidates' fingerprint: computed once per server, whichever session
    asks (a class that types the same question, or changes only the model, embeds nothing)."""
    candidates = _candidates(fingerprint, model, version)
    return analogy(*question, core.get_embedder(model).embed, candidates)


def _asked(
    question: tuple[str, str, str], model: str
) -> tuple[tuple[str, str, str], str, str, str]:
    """The cache key of ``model``'s answers to ``question``: the stripped words, the model,
    its version and the candidates' fingerprint."""
    words = (question[0].strip(), question[1].strip(), question[2].strip())
    version = core.get_embedder(model).version
    return words, model, version, candidate_dataset(CANDIDATES).fingerprint


def _ask(question: tuple[str, str, str], models: list[str]) -> tuple[dict[str, Analogy], list[str]]:
    """Every model's answers, in ``models``' order, and the models whose candidates still
    wait for the button; a model's error is shown under its name."""
    answers: dict[str, Analogy] = {}
    missing = []
    for m in models:
        with _ui.guard(m):
            if _ready(m):
                answers[m] = _answer(*_asked(question, m))
            else:
                missing.append(m)
    return answers, missing


def _embed_missing(missing: list[str]) -> None:
    """Offer to embed the candidate words for ``missing`` models, with progress and Cancel."""
    dataset = candidate_dataset(CANDIDATES)
    seconds = sum(_seconds(dataset.fingerprint, m, core.get_embedder(m).version) for m in missing)
    st.caption(
        _ui.md_text(
            f"Not yet asked: {', '.join(missing)}, which must first embed the {len(dataset):,} "
            f"candidate words (about {seconds:,.0f} s, once per server; then cached on disk)."
        )
    )
    start_col, cancel_col = st.columns(2)
    start = start_col.button("Embed the words", key="ana_embed", type="primary")
    cancel_col.button(
        "Cancel",
        key="ana_cancel",
        on_click=lambda: st.session_state.update({_CANCELLED: True}),
    )
    if st.session_state.pop(_CANCELLED, False) and not start:
        st.warning("Embedding cancelled; models already finished keep their vectors.")
    if not start:
        return
    with _ui.server_job("embedding the analogy words") as mine:
        if not mine:
            return
        bar = st.progress(0.0)
        for model in missing:

            def progress(done: int, total: int, model: str = model) -> None:
                text = _ui.md_text(f"{model}: {done:,} of {total:,} words")
                bar.progress(done / total, text=text)

            embed_dataset(dataset, core.get_embedder(model), on_progress=progress)
    bar.empty()
    st.rerun()


@st.cache_resource(max_entries=64, show_spinner=False)
def _drawing(
    question: tuple[str, str, str], model: str, version: str, fingerprint: str, big: bool
) -> go.Figure:
    """:func:`_figure` of ``model``'s answers to ``question`` (keyed as :func:`_answer`),
    styled for presenter mode (``big``) or not: built once per server for each content, as
    plotly takes longer to build it than the rest of the tab takes to run. Shared by every
    session and never changed after."""
    figure = _figure(_answer(question, model, version, fingerprint))
    return _ui.styled_figure(figure, 360 if big else 420, big=big)


def _figure(result: Analogy) -> go.Figure:
    """The question, b − a + c and the answers in the 2-D PCA of those points, with the
    arrows a → b and c → b − a + c (equal on the map, as in the full space)."""
    drawn = analogy_map(result)
    xy = drawn.coords
    sides = label_sides(xy)  # each name leans away from its nearest point
    fig = go.Figure()
    for (tail, head), (name, colour) in zip(((0, 1), (2, 3)), ARROWS.items(), strict=True):
        fig.add_annotation(
            x=xy[head, 0],
            y=xy[head, 1],
            ax=xy[tail, 0],
            ay=xy[tail, 1],
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowwidth=2.5,
            arrowcolor=colour,
            text="",
        )
        fig.add_trace(
            go.Scatter(x=[None], y=[None], mode="lines", line={"color": colour}, name=name)
        )
    fig.add_trace(
        go.Scatter(
            x=xy[:3, 0],
            y=xy[:3, 1],
            mode="markers+text",
            text=list(drawn.labels[:3]),
            textposition=sides[:3],
            marker={"size": 12, "color": "#111"},
            name="the question",
            showlegend=False,  # named on the chart; the legend keeps to the arrows
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xy[3:4, 0],
            y=xy[3:4, 1],
            mode="markers",
            marker={"size": 14, "symbol": "x", "color": "#d1451f"},
            name="b − a + c",
            hovertext=[drawn.labels[3]],
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xy[4:, 0],
            y=xy[4:, 1],
            mode="markers+text",
            text=list(drawn.labels[4:]),
            textposition=sides[4:],
            textfont={"shadow": "auto"},
            marker={"size": 9, "color": "#11853b"},
            name="answers",
            showlegend=False,
        )
    )
    # Labels are drawn past the plot's edge rather than cut (cliponaxis), and the axes reach
    # a margin beyond the outermost points, so a name beside one ("woman") stays whole.
    fig.update_traces(cliponaxis=False, selector={"mode": "markers+text"})
    low, high = xy.min(axis=0), xy.max(axis=0)
    pad = PAD * np.maximum(high - low, 1e-9)
    fig.update_layout(
        xaxis_title=f"PCA axis 1 ({drawn.variance[0]:.0%} of these points' spread)",
        yaxis_title=f"axis 2 ({drawn.variance[1]:.0%})",
        xaxis_range=[low[0] - pad[0], high[0] + pad[0]],
        yaxis_range=[low[1] - pad[1], high[1] + pad[1]],
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def _answers_frame(results: dict[str, Analogy]) -> pd.DataFrame:
    """One column per model: its answers, best first, each followed by its cosine."""
    return pd.DataFrame(
        {
            model: [f"{w} {s:.2f}" for w, s in zip(r.words, r.scores, strict=True)]
            for model, r in results.items()
        }
    )


def _code(question: tuple[str, str, str], model: str) -> str:
    """Python for the same answer with numpy (given the candidates ``words`` and ``unit``)."""
    a, b, c = (w.strip().lower() for w in question)
    return (
        "import numpy as np\n\n"
        "# `words`: the candidate words; `unit`: their (n, d) vectors, each scaled to length 1.\n"
        + _ui.embed_code(model, list(question), var="abc")
        + "a, b, c = abc / np.linalg.norm(abc, axis=1, keepdims=True)\n"
        + "target = b - a + c\n"
        + "cosines = unit @ target / np.linalg.norm(target)\n"
        + f"asked = {{{a!r}, {b!r}, {c!r}}}\n"
        + "answers = [words[i] for i in np.argsort(-cosines) if words[i] not in asked][:5]\n"
    )


@_state.fragment
def render_analogies() -> None:
    """The tab: three words and a model in, the top-5 answers, the drawing and other models'
    answers to the same question out. A fragment: a change of its words or model reruns this
    tab alone."""
    models = local_models()
    c_a, c_b, c_c, c_model = st.columns([2, 2, 2, 3])
    a = c_a.text_input("a", key=_ui.bound("ana_a", "man"), help="a is to b …")
    b = c_b.text_input("is to b", key=_ui.bound("ana_b", "king"))
    c = c_c.text_input("as c is to ?", key=_ui.bound("ana_c", "woman"))
    _ui.keep_choice(
        _ui.bound("ana_model", GLOVE if GLOVE in models else models[0], valid=models.__contains__),
        models,
    )
    model = str(c_model.selectbox("Model", models, key="ana_model"))
    question = (a, b, c)
    if not all(w.strip() for w in question):
        st.warning("Type three words: a is to b as c is to ?")
        return
    answers, missing = _ask(question, [model, *(o for o in models if o != model)])
    main = answers.get(model)
    if main is None:  # its error is shown; or its candidates wait for the button
        if model in missing:
            _embed_missing(missing)
        return
    unknown = [w for q in question for w in core.get_embedder(model).unknown_words(q)]
    if unknown:
        st.caption(_ui.md_text(f"{model} skipped words it does not know: {', '.join(unknown)}."))
    headline = (
        _ui.md_text(f"{b.strip()} − {a.strip()} + {c.strip()} ≈ ")
        + f"**{_ui.md_text(main.words[0])}** (cosine {main.scores[0]:.3f} under "
        + f"{_ui.md_text(model)})"
    )
    presenting = _ui.presenting()
    if missing and presenting:  # the offer folds into a button beside the answer line
        line, offer = st.columns([3, 1], vertical_alignment="center")
        line.markdown(headline)
        label = f"Ask {missing[0]} too" if len(missing) == 1 else f"Ask {len(missing)} more models"
        with offer.popover(_ui.md_text(label), width="stretch"):
            _embed_missing(missing)
    else:
        st.markdown(headline)
    if presenting:  # three columns: the drawing and both tables on one 1280x720 screen
        drawing, top, others_col = st.columns([4, 2, 5])
    else:  # beside the sidebar: a wider drawing, the other models below
        drawing, top = st.columns([3, 2])
        others_col = st.container()
    # Short rows on a projector leave room under the tables for the note and the code,
    # also when the "Ask … too" button makes the answer's line taller.
    row_height = PRESENT_ROW_PX if presenting else None
    with drawing:
        _ui.plot(_drawing(*_asked(question, model), presenting), key="ana_map", styled=True)
    top.dataframe(
        pd.DataFrame({"answer": main.words, "cosine": main.scores}),
        key="ana_top",
        hide_index=True,
        column_config={"cosine": NUMBER},
        row_height=row_height,
    )
    with others_col:
        others = {m: r for m, r in answers.items() if m != model}
        if others:
            if not presenting:  # on a projector the models' names head the table
                st.caption("The same question, asked of the other local models:")
            st.dataframe(
                _answers_frame(others), key="ana_others", hide_index=True, row_height=row_height
            )
        st.caption(WHY_SHORT if presenting else WHY)
        if presenting:  # under the note, whole on the screen rather than cut at its edge
            _ui.code_expander(_code(question, model))
            return
        if missing:
            _embed_missing(missing)
    st.caption(
        _ui.md_text(
            f"Answers come from the {CANDIDATES:,} most frequent a–z words of GloVe's "
            "vocabulary, the question's words left out, ranked by cosine with "
            "b̂ − â + ĉ (each input scaled to length 1 first: 3CosAdd). The map is a PCA of "
            "just these points, so the two arrows are equal there as in the full space."
        )
    )
    _ui.code_expander(_code(question, model))
