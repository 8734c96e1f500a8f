"""The frame every page shares: sidebar choices, deep links, presenter mode, cached data.

Pages import from here and from ``core``; nothing here does maths. URL state (``bound``,
``as_bool``) lives in ``views._state`` and is re-exported here.
"""

from __future__ import annotations

import contextlib
import html
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

import core
from core.compare import RankComparison
from core.datasets import Dataset, TextField, list_datasets, load_dataset, preferred_model
from core.errors import ExplorerError, ProviderError
from core.exporters import table_csv
from core.models_table import ModelRow, model_table, table_records, talk_rows
from core.vectors import VectorSet, embed_dataset
from views._remote import (
    Paused,
    check_paused,
    pause,
    remote_form,
    remote_vectors,
    session_models,
)
from views._snippets import openai_embeddings_call
from views._state import as_bool, bound, stop
from views._text import md_text

UPLOAD = "upload"
DEFAULT_MODELS = ["static-minilm-256", "all-MiniLM-L6-v2"]

# ---------------------------------------------------------------- deep links


def view_tabs(key: str, labels: Sequence[str], default: str | None = None) -> tuple[str, Any]:
    """Tabs of which only the open one runs: returns its label and its container.

    A page split this way reruns only the section in view, and in presenter mode each section
    is one screen. The open tab (``default``, else the first) is bound to the URL
    (``?key=label``) like every widget."""
    bound(key, default or labels[0], valid=lambda v: v in labels)
    keep_choice(key, labels)
    tabs = st.tabs(list(labels), key=key, on_change="rerun")
    label = str(st.session_state[key])
    return label, tabs[list(labels).index(label)]


# ---------------------------------------------------------------- presenter mode


def presenting() -> bool:
    """True when presenter mode is on (sidebar toggle or ``?present=1``)."""
    if "present" in st.session_state:
        return bool(st.session_state["present"])
    try:
        return as_bool(st.query_params.get("present", "0"))
    except ValueError:
        return False


# Streamlit's default top padding (6rem) wastes a sixth of a 720-px screen; the header bar
# (about 3.75rem) must still clear the title.
# Tables keep their first two columns (a model's name, where it runs) on one line.
_TABLE_CSS = """
[data-testid="stTable"] :is(td, th):nth-child(-n+2),
[data-testid="stTable"] :is(td, th):nth-child(-n+2) * {
  white-space: nowrap; word-break: keep-all; overflow-wrap: normal;
}
"""
_CSS = f"""
<style>
.block-container {{ padding-top: 3.6rem; }}
{_TABLE_CSS}</style>
"""
# In presenter mode the header bar only keeps its two corner buttons, which sit beside the
# content column, so the page can start near the top of the screen.
_PRESENTER_CSS = f"""
<style>
html {{ font-size: 19px; }}
[data-testid="stHeader"] {{ background: transparent; pointer-events: none; }}
[data-testid="stHeader"] button {{ pointer-events: auto; }}
.block-container {{ padding-top: 1rem; max-width: 100%; }}
h1 {{ font-size: 1.7rem !important; padding-bottom: 0.2rem !important; }}
h2 {{ font-size: 1.35rem !important; }}
{_TABLE_CSS}</style>
"""


# The app's plot template, set once per process: naming it in every figure's layout costs
# about 12 ms of plotly validation per figure on every rerun.
pio.templates.default = "plotly_white"


def style_figure(fig: go.Figure, height: int | None = None, *, big: bool) -> go.Figure:
    """Apply the app's plot look; bigger type and stronger colours in presenter mode
    (``big``: a figure cached per server is styled by its arguments, not the session)."""
    fig.update_layout(
        font={"size": 18 if big else 13, "color": "#111"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"font": {"size": 16 if big else 12}},
        height=height or (420 if big else 380),
        colorway=["#1f4fd1", "#d1451f", "#11853b", "#8a2fb8", "#c79100", "#008b8b"],
    )
    return fig


def value_bars(
    x: Sequence[int] | np.ndarray, y: Sequence[float] | np.ndarray, name: str, **kw: Any
) -> go.Scatter:
    """One bar per value, drawn as a single filled step line: it looks like touching bars,
    and the browser redraws one path instead of hundreds of rectangles on every rerun."""
    return go.Scatter(
        x=x, y=y, name=name, mode="lines", line={"shape": "hvh", "width": 1}, fill="tozeroy", **kw
    )


def log_ticks(values: Sequence[float]) -> dict[str, list]:
    """Axis settings for a log axis over the positive ``values``: ticks at 1, 2 and 5 times
    powers of ten, labelled in full (plotly labels a log axis's minor ticks with one digit,
    "5" for 0.05); empty when no value is positive."""
    positive = [v for v in values if v > 0]
    if not positive:
        return {}
    low, high = min(positive) / 1.5, max(positive) * 1.5
    ticks = [
        step * 10.0**exponent
        for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for step in (1, 2, 5)
        if low <= step * 10.0**exponent <= high
    ]
    return {"tickvals": ticks, "ticktext": [f"{v:g}" for v in ticks]}


# Trace fields whose strings plotly draws as HTML: names, point text and hover, category
# ticks, hover data.
_TRACE_TEXT = ("name", "text", "hovertext", "x", "y", "z", "customdata")


def _escaped(value: Any) -> Any:
    """``value`` with ``&``, ``<`` and ``>`` escaped in every string it holds; numbers as
    they are (the same object when nothing is a string)."""
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, np.ndarray):
        return _escaped(value.tolist()) if value.dtype.kind in "OUS" else value
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value


def escape_figure_text(fig: go.Figure) -> go.Figure:
    """Show every string a figure draws as text: labels, file names and queries come from
    users, and plotly renders ``<a href>`` or ``<span style>`` in them. Hover templates are
    the app's own and keep their markup (they refer to names as ``%{fullData.name}``)."""
    for trace in fig.data:
        for name in _TRACE_TEXT:
            value = getattr(trace, name, None)
            if isinstance(value, str) or (
                isinstance(value, list | tuple | np.ndarray) and _holds_text(value)
            ):
                trace[name] = _escaped(value)
    layout = fig.layout
    if layout.title.text:
        layout.title.text = _escaped(layout.title.text)
    fig.for_each_xaxis(lambda ax: ax.update(title_text=_escaped(ax.title.text)))
    fig.for_each_yaxis(lambda ax: ax.update(title_text=_escaped(ax.title.text)))
    for note in layout.annotations:
        note.text = _escaped(note.text)
    return fig


def _holds_text(values: Sequence[Any] | np.ndarray) -> bool:
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "OUS"
    return any(isinstance(v, str) or isinstance(v, list | tuple) for v in values)


def styled_figure(fig: go.Figure, height: int | None = None, *, big: bool) -> go.Figure:
    """``fig`` with the app's style (presenter mode's when ``big``) and its text escaped, as
    :func:`plot` draws it: build a figure once per content key (``big`` in the key) with
    this, cache it, and draw it with ``plot(styled=True)``."""
    return style_figure(escape_figure_text(fig), height, big=big)


def plot(fig: go.Figure, key: str, height: int | None = None, styled: bool = False) -> None:
    """Render a plotly figure full-width with the app's style, its text shown as text.
    ``styled``: ``fig`` came from :func:`styled_figure` (built once and cached, with the style of
    presenter mode or not as it was then), so it is drawn unchanged and ``height`` unused."""
    # No hover toolbar: it clutters a projected screen, and leaving it out takes about 35 ms
    # off every rerun that redraws a chart. Drag to zoom and double-click to reset still work.
    config = {"displayModeBar": False}
    figure = fig if styled else styled_figure(fig, height, big=presenting())
    st.plotly_chart(figure, key=key, width="stretch", config=config)


# ---------------------------------------------------------------- page frame


def page_intro(title: str, text: str, formula: str | None = None) -> None:
    """Title, two or three plain sentences, and the formula (LaTeX) when there is one.

    In presenter mode the sentences and the formula fold into an expander (the presenter says
    them), so the page's first figure fits on a 1280x720 screen; on a tour step the step's
    controls and caption take the expander's place. Off presenter mode they sit above the
    title."""
    from views import _tour  # it builds on this module

    big = presenting()
    st.markdown(_PRESENTER_CSS if big else _CSS, unsafe_allow_html=True)
    if not big:
        _tour.controls(st)
        st.title(title)
        st.markdown(text)
        if formula:
            st.latex(formula)
        return
    # About 11 characters of a presenter title fit in a quarter of the width; a longer title
    # gets a wider column rather than a second line, a short one leaves the room to the tour's
    # caption or the introduction.
    heading, about = st.columns([max(0.5, len(title) / 11), 3], vertical_alignment="center")
    heading.title(title)
    if _tour.controls(about):
        return  # the step's caption says what the page shows
    with about.expander("What this page shows"):
        st.markdown(text)
        if formula:
            st.latex(formula)


def code_expander(code: str, label: str = "The same in Python", where: Folds | None = None) -> None:
    """An expander with the equivalent Python for the current inputs (or ``where``'s fold
    named ``label``)."""
    with (where or st.expander)(label):
        st.code(code, language="python")


class Folds:
    """A view's folded sections (code, explanations, secondary tables): an expander where
    each is asked for; in presenter mode a popover each, side by side in one row placed where
    the ``Folds`` is made (folded headers one under another run past a 1280x720 screen).
    ``short`` maps each section's label to its popover's, in the row's order."""

    def __init__(self, short: dict[str, str]) -> None:
        self.short = short
        self.row = dict(zip(short, st.columns(len(short)), strict=True)) if presenting() else {}

    def __call__(self, label: str) -> Any:
        """The container of section ``label`` (use it in a ``with``)."""
        if not self.row:
            return st.expander(label)
        return self.row[label].popover(self.short[label], width="stretch")


def controls_row(
    widths: list[float], folds: float, short: dict[str, str], **row: Any
) -> tuple[list[Any], Folds]:
    """A row of controls (``widths``; ``row``: ``st.columns``'s other arguments) and the
    view's folded sections (``short``, as :class:`Folds` takes it): in presenter mode their
    popovers sit side by side at the row's end, in a column ``folds`` wide (level with the
    inputs unless ``row`` says otherwise); expanders under the view otherwise."""
    if not presenting():
        return st.columns(widths, **row), Folds(short)
    *columns, c_folds = st.columns([*widths, folds], **{"vertical_alignment": "bottom", **row})
    with c_folds:
        return columns, Folds(short)


@contextlib.contextmanager
def guard(what: str = "") -> Iterator[None]:
    """Turn an ExplorerError inside the block into ``st.error`` (a paused hosted model into
    ``st.warning``); the rest of the page runs on. A hosted model that failed is paused."""
    try:
        yield
    except Paused as exc:
        st.warning(md_text(exc))
    except ExplorerError as exc:
        if isinstance(exc, ProviderError):
            pause(exc)
        st.error(md_text(f"{what}{': ' if what else ''}{exc}"))


# ---------------------------------------------------------------- one long job per server


@dataclass
class _Jobs:
    """The server's one slot for long CPU-heavy jobs, and what holds it."""

    slot: threading.Lock = field(default_factory=threading.Lock)
    running: str = ""


@st.cache_resource(show_spinner=False)
def _jobs() -> _Jobs:
    return _Jobs()


@contextlib.contextmanager
def server_job(what: str) -> Iterator[bool]:
    """Hold the server's slot for a long job (``what`` names it, e.g. "an engine build"):
    yields True while this session holds it; when another session does, says which job
    runs and yields False (the caller stops and the user presses again later).

    Engine builds, pgvector runs and the embeddings of uploads and analogy candidates share
    this one slot: on a 2-core server two of them at once would each run at half speed and
    slow every other session down. The slot is freed however the block ends (an error, a
    Cancel, Streamlit stopping the run)."""
    jobs = _jobs()
    if not jobs.slot.acquire(blocking=False):
        busy = jobs.running or "another long job"
        st.info(
            md_text(
                f"The server is busy with {busy} for another session: press again "
                "when it ends (one long job runs at a time)."
            )
        )
        yield False
        return
    jobs.running = what
    try:
        yield True
    finally:
        jobs.running = ""
        jobs.slot.release()


# ---------------------------------------------------------------- data and models


@st.cache_resource(show_spinner="Loading the model…")
def registry_model(name: str) -> core.Embedder:
    """A model, loaded once per server process."""
    return core.get_embedder(name)


@st.cache_resource(show_spinner="Embedding the dataset (once; then cached on disk)…")
def _bundled_vectors(dataset_name: str, text_field: str, model: str) -> np.ndarray:
    dataset = load_dataset(dataset_name, text_field)
    vectors = embed_dataset(dataset, registry_model(model))
    vectors.flags.writeable = False
    return vectors


@dataclass(frozen=True)
class Workspace:
    """What the sidebar chose: a dataset and one or more models' vectors of it."""

    dataset: Dataset
    sets: dict[str, VectorSet]

    @property
    def models(self) -> list[str]:
        return list(self.sets)

    def first(self) -> VectorSet:
        return next(iter(self.sets.values()))


def sidebar() -> None:
    """Draw the shared sidebar (called by ``explorer_app.py`` before every page), after the
    tour bar when the URL asks for a step of the talk."""
    from views import _tour  # it builds on this module

    _tour.bar()
    sb = st.sidebar
    choices = [*list_datasets(), UPLOAD]
    sb.selectbox(
        "Dataset",
        choices,
        key=bound("dataset", "words", valid=lambda v: v in choices),
        format_func=lambda v: "Upload a file…" if v == UPLOAD else v,
    )
    fields = [f.value for f in TextField]
    if st.session_state["dataset"] == "movies":
        sb.radio(
            "Embed each movie as",
            fields,
            key=bound("field", TextField.TITLE.value, valid=lambda v: v in fields),
            horizontal=True,
            help="The title alone (as in the talk) or the title with a one-line description.",
        )
    if st.session_state["dataset"] == UPLOAD:
        from views import _upload  # it builds on this module

        _upload.sidebar_uploads(sb)
    models_slot = sb.container()
    remote_form()
    available = [*core.list_embedders(), *session_models()]
    models_slot.multiselect(
        "Models",
        available,
        key=bound(
            "models",
            [m for m in DEFAULT_MODELS if m in available],
            valid=lambda v: bool(v) and all(m in available for m in v),
        ),
        help="Pages that compare models show each one side by side.",
    )
    sb.toggle("Presenter mode", key=bound("present", False, as_bool))


def workspace() -> Workspace:
    """The dataset and vectors the sidebar chose. Stops the page with a message when there
    is nothing usable yet (no upload, a bad file, no model)."""
    models = list(st.session_state.get("models") or [])
    name = st.session_state.get("dataset", "words")
    from views import _upload  # it builds on this module

    if name == UPLOAD:
        ws = _upload.workspace(models)
    else:
        if not models:
            st.info("Choose at least one model in the sidebar.")
            stop()
        field = st.session_state.get("field", TextField.TITLE.value)
        dataset = load_dataset(name, field)
        ws = Workspace(
            dataset, vector_sets(dataset, models, lambda m: _bundled_vectors(name, field, m))
        )
    _upload.dataset_downloads(ws)
    return ws


# Uploaded texts a local model embeds in about this many seconds or less are embedded at once;
# longer ones wait until the user has seen the estimate and pressed Embed.
EMBED_AT_ONCE_SECONDS = 5.0


def embedder(name: str) -> core.Embedder:
    """A model by name: one this session added with the sidebar form, else a server-wide one
    (loaded once per server). Raises :class:`Paused` for a hosted model set aside after a
    failure in this session."""
    check_paused(name)
    return session_models().get(name) or registry_model(name)


def vector_sets(
    dataset: Dataset, models: list[str], local_vectors: Callable[[str], np.ndarray | None]
) -> dict[str, VectorSet]:
    """Each model's vectors of ``dataset``: local models at once (cached), hosted ones once the
    user has seen the token cost and confirmed. Stops the page when none is ready."""
    sets = {}
    for m in models:
        with guard(m):
            emb = embedder(m)
            vectors = local_vectors(m) if emb.local else remote_vectors(dataset, emb)
            if vectors is not None:
                sets[m] = VectorSet(dataset, m, vectors, emb)
    if not sets:
        stop()
    return sets


# ---------------------------------------------------------------- helpers several pages use


def clamp_state(key: str, low: int | float, high: int | float) -> None:
    """Pull widget ``key``'s stored value into ``[low, high]`` before the widget is drawn, so a
    slider whose range shrank with the data (or a deep link) does not fail."""
    value = st.session_state.get(key)
    if isinstance(value, int | float):
        # Written back even when in range: a slider whose range changed is a new widget to
        # Streamlit, which would otherwise restart it at its minimum.
        st.session_state[key] = min(max(value, low), high)


def keep_choice(key: str, options: Sequence[Any]) -> None:
    """Reset widget ``key`` to the first option when its stored value is no longer offered
    (e.g. the sidebar's models changed under a page's model selectbox)."""
    if key in st.session_state and st.session_state[key] not in options and options:
        st.session_state[key] = options[0]


K_MAX = 50


def k_slider(key: str, items: int, default: int = 10, label: str = "k", where: Any = st) -> int:
    """A URL-bound slider for k from 1 to ``min(K_MAX, items - 1)`` (an item is not its own
    neighbour); with two items there is nothing to choose and k is 1."""
    high = max(1, min(K_MAX, items - 1))
    bound(key, min(default, high), int, valid=lambda v: 1 <= v <= high)
    clamp_state(key, 1, high)
    if high == 1:
        where.caption("k = 1: the dataset has only two items.")
        return 1
    return int(where.slider(label, 1, high, key=key, help=f"1 to {high} of {items} items."))


def target_index(dataset: Dataset, target: str) -> int | None:
    """Row of ``target`` when it is one of the dataset's labels, else None (free text)."""
    label = target.strip()
    return dataset.index_of(label) if label in dataset.labels else None


def target_controls(
    prefix: str, ws: Workspace, row: Sequence[Any] | None = None
) -> tuple[str, str, int]:
    """The row most pages start with: model, target (an item or free text) and k, bound to
    ``<prefix>_model``, ``<prefix>_target`` and ``<prefix>_k`` in the URL. ``row`` gives
    the three containers when the page adds more controls to the same row."""
    c_model, c_target, c_k = row or st.columns([1, 2, 1])
    model = model_choice(f"{prefix}_model", ws, where=c_model)
    target = target_input(f"{prefix}_target", ws, where=c_target)
    k = k_slider(f"{prefix}_k", len(ws.dataset.labels), default=10, where=c_k)
    return model, target, k


def target_input(key: str, ws: Workspace, where: Any = st) -> str:
    """A URL-bound text box for the target: an item of the dataset ("queen" when it has one)
    or any text."""
    from views import _upload  # it builds on this module

    labels = ws.dataset.labels
    target = str(
        where.text_input(
            "Target",
            key=bound(key, "queen" if "queen" in labels else labels[0]),
            help=md_text(f"An item of {ws.dataset.name} (e.g. {', '.join(labels[:3])}) or text."),
        )
    )
    with where:
        _upload.free_text_notice(ws, key, target)
    return target


def target_query(vs: VectorSet, target: str) -> tuple[np.ndarray | None, int | None]:
    """The target's ``(1, dims)`` vector and its dataset row (None for free text); warns and
    returns None for the vector when the target is empty or cannot be embedded."""
    if not target.strip():
        st.warning("The target is empty: type a word, a title or a sentence.")
        return None, None
    with guard(vs.model):
        return vs.vector_for(target), target_index(vs.dataset, target)
    return None, None


def model_choice(key: str, ws: Workspace, where: Any = st, prefer: str | None = None) -> str:
    """A URL-bound selectbox of the workspace's models, starting at ``prefer`` when it is one
    of them, else at the dataset's preferred model (``core.datasets.preferred_model``);
    returns the chosen model."""
    default = prefer if prefer in ws.models else preferred_model(ws.dataset.name, ws.models)
    keep_choice(bound(key, default, valid=lambda v: v in ws.models), ws.models)
    return str(where.selectbox("Model", ws.models, key=key))


MARKS_LEGEND = (
    "✅ same rank as in {reference} · ↕ in the {reference} top-k at another rank · "
    "❌ not in the {reference} top-k"
)


def comparison_frame(
    ranks: RankComparison,
    reference_scores: Sequence[float] | np.ndarray,
    variant_scores: Sequence[float] | np.ndarray,
    reference: str,
    variant: str,
) -> pd.DataFrame:
    """Two top-k lists side by side: rank, both lists' items, the mark of the variant's item
    against the reference list, then both scores (items and marks first, so long labels do
    not push the marks out of a narrow table)."""
    return pd.DataFrame(
        {
            "rank": [r.rank for r in ranks.rows],
            reference: [r.reference_label for r in ranks.rows],
            variant: [r.variant_label for r in ranks.rows],
            "mark": [r.mark.value for r in ranks.rows],
            f"{reference} score": [float(s) for s in reference_scores],
            f"{variant} score": [float(s) for s in variant_scores],
        }
    )


def embed_code(model: str, texts: list[str], var: str = "vectors") -> str:
    """Python that puts the ``(len(texts), dims)`` embeddings of ``texts`` under ``model`` in
    ``var``: the openai SDK for remote models, this project's numpy models for local ones."""
    try:
        remote = not embedder(model).local
    except ExplorerError:
        remote = False
    if remote:
        return openai_embeddings_call(model, repr(texts)) + (
            f"{var} = np.array([item.embedding for item in response.data])\n"
        )
    return (
        "from core.embedders.registry import get_embedder  # this project's numpy models\n\n"
        f"{var} = get_embedder({model!r}).embed({texts!r})  # float32 (n, dims)\n"
    )


def ranking_frame(
    ids: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    score_name: str = "similarity",
    marks: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A ranked table: rank (from 1), item label, score and optionally a ``mark`` column
    (✅/↕/❌ against a reference ranking)."""
    frame = pd.DataFrame(
        {
            "rank": range(1, len(ids) + 1),
            "item": [labels[int(i)] for i in ids],
            score_name: [float(s) for s in scores],
        }
    )
    if marks is not None:
        frame["mark"] = list(marks)
    return frame


def download_table(frame: pd.DataFrame, name: str, where: Any = st) -> None:
    """A button that downloads ``frame`` as ``<name>.csv``, its text cells neutralised so a
    spreadsheet shows formulas as text (``core.exporters.table_csv``); written on click. Not
    in presenter mode, where the screen is for the room."""
    if presenting():
        return
    where.download_button(
        "Download CSV",
        lambda: table_csv([str(c) for c in frame.columns], frame.to_numpy().tolist()),
        file_name=f"{file_stem(name)}.csv",
        mime="text/csv",
        key=f"download_{name}",
        on_click="ignore",
    )


def file_stem(text: str) -> str:
    """``text`` as a safe file name stem: letters, digits, ``-``, ``_`` and ``.`` kept, any
    other character a ``-``; at most 80 characters."""
    kept = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)
    return kept.strip("-.")[:80] or "table"


def show_models(extra: Sequence[ModelRow] = (), note: str = "") -> tuple[ModelRow, ...]:
    """Draw the table of every model the app knows: local ones, hosted ones (configured in
    the environment or added with this session's sidebar form), ``extra`` rows (uploaded
    files), then the talk's models as reference facts; ``note`` (the app's markdown) under it;
    descriptions and load errors in an expander. Presenter mode shows fewer columns in
    shorter rows, up to ten at once (then a scroll), and moves ``note`` into the
    expander. Returns the rows."""
    names = [*core.list_embedders(), *session_models()]
    rows = (*model_table(dict.fromkeys(names), embedder), *extra, *talk_rows())
    compact = presenting()
    frame = pd.DataFrame(table_records(rows, compact=compact))
    # Up to ten rows (twelve in normal mode) under the header, then the table scrolls; the
    # header keeps presenter mode's larger type, rows are 30 px.
    row, header = (30, 46) if compact else (35, 38)
    height = row * min(len(rows), 10 if compact else 12) + header
    st.dataframe(frame, hide_index=True, height=height, width="stretch", row_height=row)
    if note and not compact:
        st.caption(note)
    with st.expander("What each model is"):
        if note and compact:
            st.caption(note)
        for r in rows:
            about = r.description if r.available else f"⚠️ cannot load here: {r.error}"
            st.markdown(f"**{md_text(r.name)}** ({r.kind.value}): {md_text(about)}")
    return rows
