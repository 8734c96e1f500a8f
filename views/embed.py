"""Embed: one text in, one vector out per model, side by side (every local model by default:
vectors vary across models), and the table of every model the app knows."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.embedders.registry import LOCAL_FACTORIES
from core.embedders.remote import RemoteEmbedder
from core.errors import ExplorerError
from core.models_table import EmbeddedText, embed_text, stored_text
from core.vectors import VectorSet
from views import _models, _snippets, _state, _ui
from views.registry import PAGES

FIRST = 8  # values listed under each model
PRESENTER_CHART = 440  # px: the chart between the text box and one row of popovers at 720
TALK_MODEL, TALK_DIMENSIONS = "text-embedding-3-small", 256  # the talk's MRL example


@st.cache_resource(max_entries=64, show_spinner=False)
def _bars(results: tuple[EmbeddedText, ...], big: bool, height: int) -> go.Figure:
    """Every value of every vector as a bar, one row per model, on one value scale, styled;
    built once per server for each content (models, text and vectors), presenter mode and
    height, since plotly takes longer to build it than the whole rest of the page takes to
    run. Shared by every session and never changed after."""
    fig = make_subplots(
        rows=len(results),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12 / len(results),
        subplot_titles=[
            f"{r.model}: {r.dims} values, norm {r.norm:.3f}, "
            + ("from the file" if r.stored else f"{r.tokens} token{'s' if r.tokens != 1 else ''}")
            for r in results
        ],
    )
    for i, r in enumerate(results, start=1):
        fig.add_trace(
            _ui.value_bars(
                np.arange(r.dims),
                r.vector,
                r.model,
                hovertemplate="dimension %{x}: %{y:.4f}<extra>%{fullData.name}</extra>",
            ),
            row=i,
            col=1,
        )
    # One value scale for every model, so their ranges compare at a glance.
    fig.update_yaxes(matches="y", zeroline=True)
    fig.update_xaxes(title_text="dimension", row=len(results), col=1)
    fig.update_layout(showlegend=False)
    return _ui.styled_figure(fig, height, big=big)


def _timings(results: list[EmbeddedText], from_disk: set[str]) -> str:
    """Each model's embedding time, measured when it embedded the text (a local model's
    vector is then reused with that time); "–" for a stored vector, which nothing embedded
    here, and a note for a hosted model's vector read from its disk cache."""
    parts = []
    for r in results:
        if r.seconds is None:
            parts.append(f"{r.model} – (stored in the file)")
        elif r.model in from_disk:
            parts.append(f"{r.model} {1000 * r.seconds:,.1f} ms (read from its disk cache)")
        else:
            parts.append(f"{r.model} {1000 * r.seconds:,.1f} ms")
    return " · ".join(parts)


def _first_values(r: EmbeddedText) -> str:
    """The first ``FIRST`` values of ``r``'s vector as inline code, e.g. ``[+0.0355, …]``."""
    return "`[" + ", ".join(f"{v:+.4f}" for v in r.vector[:FIRST]) + ", …]`"


def _details(r: EmbeddedText, key: str) -> None:
    """One model's numbers, first values and download button."""
    st.subheader(_ui.md_text(r.model))
    dims, norm, tokens = st.columns(3)
    dims.metric("dimensions", r.dims)
    norm.metric("norm ‖v‖", f"{r.norm:.4f}")
    if r.stored:
        tokens.metric("tokens", "–", help="A vector from the uploaded file: no model read it here.")
    else:
        tokens.metric("tokens", r.tokens, help=f"The model reads up to {r.max_tokens}.")
    if r.truncated:
        st.warning(
            f"{r.tokens} tokens: the model only read the first {r.max_tokens}; the rest of the "
            "text did not change the vector."
        )
    unknown = [] if r.stored else _ui.embedder(r.model).unknown_words(r.text)
    if unknown:
        st.caption(
            _ui.md_text(f"Not in its vocabulary, left out of the average: {', '.join(unknown)}.")
        )
    st.markdown(f"First {FIRST} values: {_first_values(r)}")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{r.text[:40]}-{r.model}").strip("-")
    st.download_button(
        "Download the vector (JSON)",
        data=r.to_json(),
        file_name=f"{slug}.json",
        mime="application/json",
        key=key,
        on_click="ignore",
    )


def _numbers(results: list[EmbeddedText], from_disk: set[str], per_row: int) -> None:
    """The times, then each model's numbers and download (``per_row`` models to a row), and
    every vector as JSON to copy when asked."""
    st.caption(_ui.md_text(f"Time to embed: {_timings(results, from_disk)}."))
    for start in range(0, len(results), per_row):
        row = results[start : start + per_row]
        for column, r in zip(st.columns(len(row)), row, strict=True):
            with column:
                _details(r, key=f"embed_download_{r.model}")
    # Drawn on request only: highlighting and wrapping a JSON block of hundreds of numbers
    # per model kept the browser busy about 0.2 s longer on every rerun of the text box.
    if st.toggle(
        "Show every vector as JSON, to copy", key=_ui.bound("embed_json", False, _ui.as_bool)
    ):
        for r in results:
            st.caption(_ui.md_text(r.model))
            st.code(r.to_json(), language="json", wrap_lines=True, height=160)


def _code(results: list[EmbeddedText]) -> None:
    """The code expander: the talk's OpenAI call for text-embedding-3 models first (the talk's
    own model as an example when none is chosen), then this project's models."""
    text = results[0].text if results else "queen"
    talk = {r.model: call for r in results if (call := _talk_call(r)) is not None}
    calls = list(talk.values()) or [
        "# The talk's call (needs an OpenAI key: the sidebar's hosted-model form adds one).\n"
        + _snippets.openai_embeddings_code(TALK_MODEL, [text], TALK_DIMENSIONS)
    ]
    here = [
        _ui.embed_code(r.model, [r.text], var="vectors")
        + "vector = vectors[0]\n"
        + f"print(len(vector), np.linalg.norm(vector), vector[:8])  # {r.dims} {r.norm:.4f} …\n"
        for r in results
        if not r.stored and r.model not in talk
    ]
    _ui.code_expander("\n".join([*calls, *(["import numpy as np\n", *here] if here else [])]))


def _talk_call(r: EmbeddedText) -> str | None:
    """The talk's OpenAI call for ``r`` when its model is a hosted one that takes
    ``dimensions`` (text-embedding-3), asking for the model's configured width or the talk's
    256; else None."""
    if r.stored:
        return None
    try:
        emb = _ui.embedder(r.model)
    except ExplorerError:
        return None
    if not isinstance(emb, RemoteEmbedder) or not emb.supports_mrl:
        return None
    dims = emb.config.dimensions or TALK_DIMENSIONS
    return _snippets.openai_embeddings_code(emb.config.model, [r.text], dims)


_ui.page_intro(
    "Embed",
    "An embedding model turns a text into a fixed-length list of numbers: its vector. Each "
    "model has its own length and its own way of spreading the values, so only vectors from "
    "the same model can be compared.",
    r"\mathrm{embed}(\text{text}) = \mathbf{v} = (v_1, \dots, v_d), \qquad "
    r"\lVert \mathbf{v} \rVert = \sqrt{v_1^2 + \dots + v_d^2}",
)


@_state.fragment
def text_and_vectors(uploaded: dict[str, VectorSet]) -> None:
    """The text box and toggle, the chart, each model's numbers, the model table and the
    code: a change of the text or a toggle reruns this section alone."""
    c_text, c_all = st.columns([3, 1], vertical_alignment="bottom")
    text = c_text.text_input(
        "Text to embed",
        key=_ui.bound("embed_text", "queen"),
        help="A word, a title or a sentence; each model embeds it.",
    )
    every_local = c_all.toggle(
        "Every local model",
        key=_ui.bound("embed_all", True, _ui.as_bool),
        help="On: every model on this machine, plus the sidebar's hosted ones. "
        "Off: only the models chosen in the sidebar.",
    )
    chosen = list(st.session_state.get("models") or [])
    models = list(dict.fromkeys([*LOCAL_FACTORIES, *chosen] if every_local else chosen))

    results: list[EmbeddedText] = []
    from_disk: set[str] = set()  # hosted models whose vector for this text was on disk already
    if not text.strip():
        st.warning("The text is empty: type a word or a sentence to see its vector.")
    elif not models and not uploaded:
        st.info("Choose at least one model in the sidebar, or turn on every local model.")
    else:
        for model in models:
            with _ui.guard(model):
                emb = _ui.embedder(model)
                if (
                    isinstance(emb, RemoteEmbedder)
                    and not emb.estimate_tokens([text]).texts_to_send
                ):
                    from_disk.add(model)
                results.append(embed_text(emb, text))
        missing = []
        for model, vs in uploaded.items():
            found = stored_text(model, vs.dataset.labels, vs.vectors, text)
            if found is None:
                missing.append(model)
            else:
                results.append(found)
        if missing:
            st.info(
                _ui.md_text(
                    f"{text.strip()!r} is not an item of {', '.join(missing)}: uploaded vectors "
                    "cannot embed new text (no model here made them). Type one of the file's items "
                    "to see its stored vector."
                )
            )
        # Shortest vectors first: the lengths differ as much as the values.
        results.sort(key=lambda r: r.dims)

    big = _ui.presenting()
    if results:
        # Presenter mode: the chart takes the screen below the text box, everything else folds
        # into one row (the numbers' popover, a link to Home's model table, the code expander),
        # so that it all fits 1280x720. One or two models (the talk's "dog" -> floats) also get
        # their first values under the chart.
        listed = results if big and len(results) <= 2 else []
        height = PRESENTER_CHART - 52 * len(listed) if big else 100 + 170 * len(results)
        # The chart does not show the embedding's time: keyed without it, a hosted model's
        # chart (timed afresh on every run) is built once too.
        drawn = tuple(replace(r, seconds=None) for r in results)
        _ui.plot(_bars(drawn, big, height), key="embed_bars", styled=True)
        for r in listed:
            st.markdown(f"**{_ui.md_text(r.model)}**: {_first_values(r)}")
        if big:
            numbers, table, code = st.columns(3)
            with numbers.popover("Each model's numbers", width="stretch"):
                _numbers(results, from_disk, per_row=1)
            # The table is Home's slide of the talk: a popover is too narrow for its columns.
            home = next(p for p in PAGES if p.default)
            table.page_link(home.path, label="Every model, one table", icon=home.icon)
            with code:
                _code(results)
        else:
            _numbers(results, from_disk, per_row=3)
    if not big or not results:
        st.subheader("Every model, one table")
        _ui.show_models(_models.uploaded_rows(uploaded))
        _code(results)


# Outside the fragment: with an upload, this reads the workspace, which draws the sidebar's
# download buttons.
text_and_vectors(_models.uploaded_sets())
