"""The Similarity page's Map tab: every point of the dataset on a 2-D/3-D WebGL map, coloured
by any column, filtered, clustered, with box and lasso selection.

The computation lives in ``core.project`` (projections), ``core.mapview`` (colours, sampling,
filters, selection) and ``core.clusters`` (HDBSCAN and c-TF-IDF names); this module only lays
out widgets and figures. Projections and clusterings are kept per server in a small LRU keyed
by content (``VectorSet.key`` and the settings), filled with a progress bar on a miss.
"""

from __future__ import annotations

import html
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from core import mapview
from core.child import run_in_child
from core.clusters import MAX_ROWS as CLUSTER_ROWS
from core.clusters import Clustering, ClusterSpace, cluster
from core.datasets import Dataset
from core.mapview import (
    Colouring,
    ColumnKind,
    MapRows,
    category_mask,
    centroid,
    colour_by,
    dataset_columns,
    distinct_values,
    range_mask,
    rows_to_draw,
    selected_rows,
)
from core.project import (
    MAX_ROWS,
    Projection,
    ProjectionResult,
    available_projections,
    project_bounded,
)
from core.search import exhaustive_search
from core.vectors import VectorSet, array_digest
from views import _ui
from views._gl_map import GlBase, base_json, gl_map

PROJECTION_NAMES = {Projection.PCA: "PCA", Projection.TSNE: "t-SNE", Projection.UMAP: "UMAP"}
# Fourteen colours that stay apart on white (the words dataset has 14 categories), then
# plotly's 24-colour set for columns with more.
CATEGORY_COLOURS = [
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
    "#469990", "#9a6324", "#800000", "#808000", "#000075", "#a9a9a9", "#bfef45",
    *plotly.colors.qualitative.Dark24,
]  # fmt: skip
GREY = "#b0b0b0"  # "other", "(missing)" and noise
MAP_NAMED = 5  # neighbours named on the map; the others on hover
CLUSTER_COLUMN = "cluster"
CLUSTER_CHOICES = ("off", ClusterSpace.MAP.value, ClusterSpace.VECTORS.value)
NO_FILTER = "(none)"
MIN_SIZE_MAX = 500  # the largest "smallest cluster" on offer
SELECTION_SHOWN = 500  # rows of the selection table
JOB_TIME_LIMIT = 1800.0  # seconds: a t-SNE, UMAP or HDBSCAN child is stopped after this
_CANCELLED = "_sim_map_cancelled"  # session state: keys of the jobs this session cancelled
PRESENTER_HEIGHT = 370  # px: the map, its controls and one folded expander fill 1280x720
DENSE_POINTS = 20_000  # above this many points every marker is 3 px
GL_MAP_POINTS = 20_000  # above this many points the map updates in place (views._gl_map)
_LAST_MAP = "_sim_map_last"  # session state: what the map drew last, for exports
MAP_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["toImage", "autoScale2d"]}

T = TypeVar("T")


class _Memo:
    """A small thread-safe LRU shared by every session of the server (keys name content)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple, Any] = OrderedDict()
        self.lock = threading.Lock()
        # One build at a time: a class that changes the colour together builds it once.
        self.building = threading.Lock()

    def peek(self, key: tuple) -> Any:
        """The value kept under ``key`` (now the most recent), or None."""
        with self.lock:
            if key not in self.items:
                return None
            self.items.move_to_end(key)
            return self.items[key]

    def put(self, key: tuple, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def get(self, key: tuple, compute: Callable[[], T]) -> T:
        """The value under ``key``, computed (by one session at a time) when missing."""
        found = self.peek(key)
        if found is not None:
            return found
        with self.building:
            found = self.peek(key)  # another session may have built it meanwhile
            if found is not None:
                return found
            value = compute()
            self.put(key, value)
        return value


@st.cache_resource
def _memo() -> _Memo:
    return _Memo(32)


@st.cache_resource
def _durations() -> dict[str, tuple[float, int]]:
    """Per kind of job ("tsne", "umap", "hdbscan vectors", ...): the seconds and rows of its
    last run on this server, for the next run's estimate."""
    return {}


def _estimate(kind: str, rows: int) -> float | None:
    """Seconds a ``kind`` job on ``rows`` rows should take: the last one's, scaled by rows
    (these jobs grow a little faster than the rows; the caps keep sizes close); None before
    the first."""
    last = _durations().get(kind)
    return None if last is None else last[0] * rows / last[1]


def _in_child(
    slot: str, key: tuple, what: str, kind: str, rows: int, job: Callable[[], T], meanwhile: str
) -> T | None:
    """``job()`` (a module-level function or a partial of one) computed in a child process
    that Cancel ends, kept per server under ``key`` (content and settings). While it runs:
    the server's one long-job slot, a bar with the seconds so far against the estimate,
    and a Cancel button (``slot`` names the buttons). None when this session cancelled it
    (the note says what the map shows ``meanwhile``; a button runs it again) or another
    session's job holds the slot."""
    found = _memo().peek(key)
    if found is not None:
        return found
    cancelled: set[tuple] = st.session_state.setdefault(_CANCELLED, set())
    if key in cancelled:
        note, again = st.columns([4, 1], vertical_alignment="center")
        note.warning(_ui.md_text(f"{what}: cancelled. {meanwhile}"))
        again.button(
            "Run again", key=f"sim_map_again_{slot}", on_click=cancelled.discard, args=(key,)
        )
        return None
    with _ui.server_job(what) as mine:
        if not mine:
            return None
        left, right = st.columns([5, 1], vertical_alignment="bottom")
        bar = left.progress(0.0, text=_ui.md_text(f"{what}…"))
        right.button("Cancel", key=f"sim_map_cancel_{slot}", on_click=cancelled.add, args=(key,))
        expected = _estimate(kind, rows)

        def wait(seconds: float) -> None:
            # Each update is also where Streamlit stops the run for a Cancel or a rerun.
            about = f" of about {expected:.0f} s" if expected else " (no estimate yet)"
            share = min(seconds / expected, 0.99) if expected else 0.0
            bar.progress(share, text=_ui.md_text(f"{what}: {seconds:.0f} s{about}"))

        start = time.perf_counter()
        try:
            value = run_in_child(job, wait=wait, time_limit=JOB_TIME_LIMIT)
        finally:
            left.empty()
            right.empty()
    _durations()[kind] = (time.perf_counter() - start, rows)
    _memo().put(key, value)
    return value


def _projection_key(vs: VectorSet, method: str, n_components: int) -> tuple:
    """What a projection's content depends on: the vectors, the method, the dimensions and
    the method's row cap."""
    return ("projection", vs.key, method, n_components, MAX_ROWS[method])


def _projection(vs: VectorSet, method: str, n_components: int) -> ProjectionResult | None:
    """``vs`` projected (kept per server by content). PCA runs here (it is quick at any
    size); t-SNE and UMAP in a child process that Cancel stops. None when cancelled."""
    cap = MAX_ROWS[method]
    key = _projection_key(vs, method, n_components)
    if method == Projection.PCA.value:
        return _memo().get(key, lambda: project_bounded(vs.vectors, method, n_components, seed=0))
    rows = len(vs.dataset) if cap is None else min(cap, len(vs.dataset))
    name = PROJECTION_NAMES[Projection(method)]
    what = f"{name} of {rows:,} vectors"
    job = partial(project_bounded, vs.vectors, method, n_components, seed=0, max_rows=cap)
    return _in_child("projection", key, what, method, rows, job, "The map shows PCA meanwhile.")


def _clustering(
    vs: VectorSet, result: ProjectionResult, space: str, min_size: int
) -> Clustering | None:
    """HDBSCAN of the projected rows (their vectors or their map coordinates) in a child
    process that Cancel stops, kept per server; None when cancelled."""
    rows = _projected_rows(result, len(vs.dataset))
    key = _cluster_key(vs, result, space, min_size)
    points = result.coords if space == ClusterSpace.MAP.value else vs.vectors[rows]
    texts = [vs.dataset.texts[i] for i in rows]
    fitted = min(rows.size, CLUSTER_ROWS[space])
    what = f"HDBSCAN on the {space} of {fitted:,} points"
    job = partial(cluster, points, texts, space, min_size, max_rows=CLUSTER_ROWS[space])
    meanwhile = "The map shows no clusters meanwhile."
    return _in_child("clusters", key, what, f"hdbscan {space}", fitted, job, meanwhile)


def _cluster_key(vs: VectorSet, result: ProjectionResult, space: str, min_size: int) -> tuple:
    """What a clustering's content depends on: the vectors, the projection (method, dims,
    its sample), the space, the smallest cluster and the row cap."""
    sample = None if result.rows is None else array_digest(result.rows)
    projection = (result.method.value, result.coords.shape[1], sample)
    return ("clusters", vs.key, *projection, space, min_size, CLUSTER_ROWS[space])


def _projected_rows(result: ProjectionResult, n: int) -> np.ndarray:
    return np.arange(n) if result.rows is None else result.rows


@dataclass(frozen=True)
class _Trace:
    """One drawn trace: its name and the dataset rows of its points, in order."""

    name: str
    rows: np.ndarray


def _escaped(values: Sequence[Any]) -> np.ndarray:
    """``values`` as text plotly shows as text (``&``, ``<``, ``>`` escaped), a str array."""
    return np.array([html.escape(str(v), quote=False) for v in values], dtype=str)


@dataclass(frozen=True)
class _Columns:
    """The columns the map can use (``values``: name -> one value per row) and what names
    their content for caches: the dataset's fingerprint, plus ``cluster_key`` (the vectors
    and settings HDBSCAN ran with) for the cluster column."""

    dataset: Dataset
    values: dict[str, Sequence[Any]]
    cluster_key: tuple = ()

    def key(self, name: str) -> tuple:
        return (self.dataset.fingerprint, name, self.cluster_key if name == CLUSTER_COLUMN else ())

    def colouring(self, name: str) -> Colouring:
        """How column ``name`` colours the map (computed once per content)."""
        return _memo().get(("colour", *self.key(name)), lambda: colour_by(name, self.values[name]))


def hover_texts(columns: _Columns, hover: list[str]) -> np.ndarray:
    """Every row's hover text, a str array ``(n,)``: its label, then one line per ``hover``
    column, all escaped. Each part is built once per content and joined with numpy: one
    string per point is far cheaper to send than a table of hover values."""
    memo = _memo()
    dataset = columns.dataset
    text = memo.get(("labels", dataset.fingerprint), lambda: _escaped(dataset.labels))
    for name in hover:

        def line(name: str = name) -> np.ndarray:
            head = f"<br>{html.escape(name, quote=False)}: "
            return np.char.add(head, _escaped(columns.values[name]))

        text = np.char.add(text, memo.get(("hover", *columns.key(name)), line))
    return text


def marker_size(n: int, three_d: bool) -> int:
    """Marker diameter (px) for a map of ``n`` points: smaller as the map fills. Without a
    GPU (a headless browser, many laptops' software WebGL) drawing is bound by the pixels
    filled, and at 100k points 3-px markers draw in about half the time of 5-px ones."""
    if n > DENSE_POINTS:
        return 3
    if n > 5_000:
        return 3 if three_d else 5
    return 4 if three_d else 7


def map_figure(
    coords: np.ndarray,
    rows: np.ndarray,
    colouring: Colouring,
    texts: np.ndarray,
    near: list[int],
    target_row: int | None,
    big: bool = False,
    base: bool = True,
    overlay: bool = True,
) -> tuple[go.Figure, list[_Trace]]:
    """The WebGL map of dataset ``rows`` (``coords`` holds one row of coordinates per dataset
    row, NaN where not projected; ``texts`` each row's escaped hover text, its label first):
    one trace per colour (or one with a colour scale), the target's ``near`` neighbours and
    the target on top. Every string in it is escaped here, so the figure needs no
    :func:`views._ui.escape_figure_text`. Returns the figure and its data traces, in order,
    for reading a selection. Without ``base`` the figure leaves out the data traces, without
    ``overlay`` the neighbours and the target (the in-place map sends them apart)."""
    three_d = coords.shape[1] == 3
    scatter = go.Scatter3d if three_d else go.Scattergl
    size = marker_size(rows.size, three_d)
    template = "%{hovertext}<extra>%{fullData.name}</extra>"
    labels = np.array(
        [t.split("<br>", 1)[0] for t in texts[near + ([] if target_row is None else [target_row])]],
        dtype=str,
    )

    def trace(picked: np.ndarray, name: str, **style: Any) -> go.BaseTraceType:
        xyz = {"x": coords[picked, 0].astype(np.float32), "y": coords[picked, 1].astype(np.float32)}
        if three_d:
            xyz["z"] = coords[picked, 2].astype(np.float32)
        return scatter(
            **xyz,
            name=html.escape(name, quote=False),
            hovertext=texts[picked],
            hovertemplate=template,
            **style,
        )

    groups: list[_Trace] = []
    fig = go.Figure()
    if not base:
        pass
    elif colouring.kind is ColumnKind.NUMERIC:
        numbers = colouring.numbers if colouring.numbers is not None else np.empty(0)
        finite = rows[~np.isnan(numbers[rows])]
        marker = {
            "size": size,
            "color": numbers[finite].astype(np.float32),
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": html.escape(colouring.column)}, "thickness": 12},
            "opacity": 0.8,
        }
        groups.append(_Trace(colouring.column, finite))
        fig.add_trace(trace(finite, colouring.column, mode="markers", marker=marker))
        missing = rows[np.isnan(numbers[rows])]
        if missing.size:
            groups.append(_Trace("(missing)", missing))
            fig.add_trace(
                trace(missing, "(missing)", mode="markers", marker={"size": size, "color": GREY})
            )
    else:
        codes = colouring.codes[rows]
        for code, name in enumerate(colouring.names):
            picked = rows[codes == code]
            if not picked.size:
                continue
            grey = name.startswith(("other", "(missing)", "noise"))
            colour = GREY if grey else CATEGORY_COLOURS[code % len(CATEGORY_COLOURS)]
            groups.append(_Trace(name, picked))
            fig.add_trace(
                trace(
                    picked,
                    name,
                    mode="markers",
                    marker={"size": size, "color": colour, "opacity": 0.75},
                )
            )
    if overlay:
        _mark_target(fig, trace, coords, near, target_row, labels, size, big)
    fig.update_layout(
        legend={"itemsizing": "constant", "font": {"size": 15 if big else 11}},
        dragmode="lasso" if not three_d else "orbit",
        # What Streamlit's chart sets for a selectable chart, and the component needs too.
        clickmode="event",
        hovermode="closest",
        uirevision="map",  # keep the user's zoom across reruns
    )
    return fig, groups


def _mark_target(
    fig: go.Figure,
    trace: Callable[..., go.BaseTraceType],
    coords: np.ndarray,
    near: list[int],
    target_row: int | None,
    labels: np.ndarray,
    size: float,
    big: bool,
) -> None:
    """Add the neighbours' rings and the target's diamond (``trace`` makes a trace of rows),
    in WebGL like the points, after them so on top of them; and the names of the target and
    the closest ``MAP_NAMED`` neighbours (``labels``: the neighbours', then the target's).
    On a 2-D map the names are annotations, with a white halo: plotly draws every WebGL
    trace above every SVG one, so SVG text was hidden under a dense cloud of points."""
    three_d = coords.shape[1] == 3
    font = {"size": 15 if big else 12}
    rows = [*near, *([] if target_row is None else [target_row])]
    # The closest neighbours, alternately above and below (close names overlap less), and
    # the target, below.
    named = [i for i in range(len(rows)) if i < MAP_NAMED or i == len(near)]
    above = [i < len(near) and i % 2 == 0 for i in range(len(rows))]
    text = [str(labels[i]) if i in named else "" for i in range(len(rows))]

    def style(part: slice) -> dict[str, Any]:
        if not three_d:
            return {"mode": "markers"}
        return {
            "mode": "markers+text",
            "text": text[part],
            "textposition": ["top center" if a else "bottom center" for a in above[part]],
            "textfont": font,
        }

    if near:
        ring = {"size": size + 6, "color": "rgba(0,0,0,0)", "line": {"width": 2}}
        fig.add_trace(
            trace(np.asarray(near), "neighbours", marker=ring, **style(slice(0, len(near))))
        )
    if target_row is not None:
        diamond = {"size": size + (5 if three_d else 10), "symbol": "diamond", "color": "#111"}
        fig.add_trace(
            trace(
                np.asarray([target_row]), "target", marker=diamond, **style(slice(len(near), None))
            )
        )
    if three_d:
        return
    for i in named:
        fig.add_annotation(
            x=float(coords[rows[i], 0]),
            y=float(coords[rows[i], 1]),
            text=text[i],
            showarrow=False,
            yshift=(1 if above[i] else -1) * (size / 2 + (14 if big else 11)),
            # A white halo, not a white box: a name keeps readable over the points and
            # hides no marker under it (the target's diamond among them).
            font={**font, "shadow": "0 0 3px white, 0 0 3px white, 0 0 2px white"},
        )


def _panel(where: Any, label: str) -> Any:
    """A popover named ``label`` in ``where``; a plain container when ``where`` is itself
    presenter mode's popover (popovers do not nest)."""
    if _ui.presenting():
        where.caption(label)
        return where.container()
    return where.popover(label, width="stretch")


def _colour_controls(columns: _Columns, where: Sequence[Any]) -> tuple[str, list[str], np.ndarray]:
    """Colour column, hover columns and the filter; returns them and the filter's mask."""
    c_colour, c_hover, c_filter = where
    names = list(columns.values)
    colour_key = _ui.bound("sim_map_colour", names[0], valid=lambda v: v in names)
    _ui.keep_choice(colour_key, names)
    colour = str(c_colour.selectbox("Colour by", names, key=colour_key))
    hover = c_hover.multiselect(
        "Show on hover",
        names,
        key=_ui.bound("sim_map_hover", [], valid=lambda v: all(c in names for c in v)),
    )
    hover = [c for c in hover if c in columns.values]
    mask = np.ones(len(columns.dataset), dtype=bool)
    with _panel(c_filter, "Filter"):
        choices = [NO_FILTER, *names]
        filter_key = _ui.bound("sim_map_filter", NO_FILTER, valid=lambda v: v in choices)
        _ui.keep_choice(filter_key, choices)
        column = str(st.selectbox("Filter by column", choices, key=filter_key))
        if column != NO_FILTER:
            values = columns.values[column]
            numbers = columns.colouring(column).numbers
            if numbers is not None:
                low, high = float(np.nanmin(numbers)), float(np.nanmax(numbers))
                if low < high:
                    chosen = st.slider(
                        "Range", low, high, (low, high), key=f"sim_map_range_{column}"
                    )
                    mask = range_mask(numbers, *chosen)
            else:
                options = distinct_values(values)
                keep = st.multiselect(
                    "Keep the items whose value is", options, key=f"sim_map_keep_{column}"
                )
                if keep:
                    mask = category_mask(values, keep)
    return colour, hover, mask


def _cluster_controls(where: Any, n: int) -> tuple[str, int]:
    """Where HDBSCAN runs (or off) and its smallest cluster size (by default about 1/200 of
    the ``n`` points, so a big dataset is not cut into thousands of specks)."""
    default = min(MIN_SIZE_MAX, max(5, min(n, CLUSTER_ROWS["map"]) // 200))
    with _panel(where, "Clusters"):
        space = st.radio(
            "HDBSCAN on",
            CLUSTER_CHOICES,
            key=_ui.bound("sim_map_clusters", "off", valid=lambda v: v in CLUSTER_CHOICES),
            horizontal=True,
            help="The map is faster; the vectors are truer. Above "
            f"{CLUSTER_ROWS['map']:,} (map) or {CLUSTER_ROWS['vectors']:,} (vectors) points "
            "HDBSCAN runs on a sample and the rest join their nearest point's cluster. Each "
            "cluster is named by its most distinctive words (c-TF-IDF).",
            # Turning clusters on shows them at once.
            on_change=lambda: st.session_state.update(
                {"sim_map_colour": CLUSTER_COLUMN}
                if st.session_state.get("sim_map_clusters") != "off"
                else {}
            ),
        )
        min_size = st.slider(
            "Smallest cluster",
            2,
            MIN_SIZE_MAX,
            key=_ui.bound("sim_map_min_size", default, int, valid=lambda v: 2 <= v <= MIN_SIZE_MAX),
        )
    return str(space), int(min_size)


def dataset_map(ws: _ui.Workspace) -> None:
    """The dataset projected to 2-D or 3-D: coloured by a column, filtered, clustered; the
    target and its k neighbours marked; a box or lasso selection listed below."""
    labels = ws.dataset.labels
    methods = [p.value for p in available_projections()]
    if _ui.presenting():
        # One row, the rarer settings in a popover, so the map fits a 1280x720 screen.
        c_target, c_k, c_method, c_colour, c_dims, c_more = st.columns([3, 2, 2, 3, 2, 2])
        more: Any = c_more.popover("More", width="stretch")
        c_model = c_hover = c_filter = c_clusters = more
    else:
        c_target, c_k, c_model, c_method, c_dims = st.columns([3, 2, 3, 2, 2])
        c_colour, c_hover, c_filter, c_clusters = st.columns([3, 4, 2, 2])
    target = _ui.target_input("sim_target", ws, c_target)
    exclude = _ui.target_index(ws.dataset, target)
    k = _ui.k_slider("sim_k", len(labels), where=c_k)
    proj_model = _ui.model_choice("sim_proj_model", ws, where=c_model)
    caps = {m: MAX_ROWS[m] for m in methods}
    method = c_method.selectbox(
        "Projection",
        methods,
        key=_ui.bound("sim_proj", Projection.PCA.value, valid=lambda v: v in methods),
        format_func=lambda v: PROJECTION_NAMES[Projection(v)],
        help="PCA is instant at any size. t-SNE and UMAP run on demand (a progress bar, then "
        f"cached) on at most {caps.get('tsne') or 0:,} and {caps.get('umap') or 0:,} points.",
    )
    n_components = int(
        c_dims.radio(
            "Dimensions",
            [2, 3],
            horizontal=True,
            key=_ui.bound("sim_proj_dims", 2, int, valid=lambda v: v in (2, 3)),
        )
    )
    vs = ws.sets[proj_model]
    space, min_size = _cluster_controls(c_clusters, len(labels))
    with _ui.guard("Projection"):
        # Until a cancelled (or queued) t-SNE or UMAP runs, the map shows PCA.
        result = _projection(vs, method, n_components) or _projection(vs, "pca", n_components)
        assert result is not None  # PCA runs here, never in a child
        values: dict[str, Sequence[Any]] = dict(dataset_columns(ws.dataset))
        clusters = None
        cluster_key: tuple = ()
        if space != "off":
            with _ui.guard("Clusters"):
                clusters = _clustering(vs, result, space, min_size)
                if clusters is not None:
                    values[CLUSTER_COLUMN] = _cluster_column(clusters, result, len(labels))
                    cluster_key = _cluster_key(vs, result, space, min_size)
        columns = _Columns(ws.dataset, values, cluster_key)
        colour, hover, mask = _colour_controls(columns, (c_colour, c_hover, c_filter))
        _draw(ws, vs, result, columns, colour, hover, mask, target, exclude, k, clusters)


def _cluster_column(clusters: Clustering, result: ProjectionResult, n: int) -> tuple[str, ...]:
    """Every dataset row's cluster name ("not projected" for rows outside a sample)."""
    names = np.full(n, "not projected", dtype=object)
    names[_projected_rows(result, n)] = clusters.names()
    return tuple(names)


def _draw(
    ws: _ui.Workspace,
    vs: VectorSet,
    result: ProjectionResult,
    columns: _Columns,
    colour: str,
    hover: list[str],
    mask: np.ndarray,
    target: str,
    exclude: int | None,
    k: int,
    clusters: Clustering | None,
) -> None:
    """The map, its notes and Python (folded together in presenter mode) and the
    selection panel."""
    n = len(ws.dataset)
    projected = _projected_rows(result, n)
    coords = np.full((n, result.coords.shape[1]), np.nan)
    coords[projected] = result.coords
    in_sample = np.zeros(n, dtype=bool)
    in_sample[projected] = True
    colouring = columns.colouring(colour)
    shown: MapRows = rows_to_draw(mask & in_sample, colouring.codes, mapview.MAX_POINTS)
    near: list[int] = []
    if not target.strip():
        st.warning("The target is empty: type a word, a title or a sentence to mark it.")
    else:
        with _ui.guard(vs.model):
            q = vs.vector_for(target)
            near = exhaustive_search(q, vs.vectors, k, exclude=exclude).ids[0].tolist()
    big = _ui.presenting()
    texts = hover_texts(columns, hover)
    three_d = result.coords.shape[1] == 3
    draw = partial(map_figure, coords, shown.rows, colouring, texts, near, exclude, big)
    if shown.rows.size > GL_MAP_POINTS:
        # Every point once per content, kept per server; each rerun builds only the overlay.
        key = (
            "map base",
            _projection_key(vs, result.method.value, result.coords.shape[1]),
            None if result.rows is None else array_digest(result.rows),
            array_digest(shown.rows),
            columns.key(colour),
            tuple(columns.key(h) for h in hover),
        )
        base, groups = _bases().get(key, partial(_gl_base, draw))
        overlay = _styled(draw(base=False)[0], big)
        points = gl_map(base, overlay, "sim_map_gl", MAP_CONFIG)
    else:
        fig, groups = draw()
        points = _chart(_styled(fig, big), three_d)
    st.session_state[_LAST_MAP] = {
        "key": vs.key,
        "coords": coords,
        "cluster": None if clusters is None else _cluster_ids(clusters, result, n),
    }
    # The presenter says what the notes say: folded with the Python, they leave the screen
    # to the map.
    about = st.expander("About this map") if big else st.container()
    about.caption(_ui.md_text(_notes(ws, vs, result, shown, colouring, clusters, three_d)))
    rows = selected_rows(points, [g.rows for g in groups])
    if rows.size:
        selection_panel(ws, vs, rows, columns.values, k)
    code = _code(result.method.value, result.coords.shape[1])
    if big:
        about.code(code, language="python")
    else:
        _ui.code_expander(code)


def _styled(fig: go.Figure, big: bool) -> go.Figure:
    figure = _ui.style_figure(fig, PRESENTER_HEIGHT if big else 540, big=big)
    if big:
        figure.update_layout(margin={"t": 30})  # the mode bar still clears the legend
    return figure


@st.cache_resource
def _bases() -> _Memo:
    """The in-place map's base traces (a few MB of JSON each at 100k points), per content."""
    return _Memo(4)


def _gl_base(draw: Callable[..., tuple[go.Figure, list[_Trace]]]) -> tuple[GlBase, list[_Trace]]:
    fig, groups = draw(overlay=False)
    return base_json(fig), groups


def _chart(figure: go.Figure, three_d: bool) -> list[dict[str, Any]]:
    """The map as an ``st.plotly_chart``; returns its box or lasso selection as plotly
    points. Streamlit mounts a new chart whenever the figure changes, so above
    :data:`GL_MAP_POINTS` points the map is the in-place component (``views._gl_map``)."""
    event = st.plotly_chart(
        figure,
        key="sim_map",
        width="stretch",
        config=MAP_CONFIG,
        on_select="ignore" if three_d else "rerun",
        selection_mode=("box", "lasso"),
    )
    # A 2-D map with on_select returns its selection state; a 3-D one, a plain element.
    selection = event.get("selection", {}) if isinstance(event, dict) else {}
    return list(selection.get("points", []))


def _cluster_ids(clusters: Clustering, result: ProjectionResult, n: int) -> np.ndarray:
    ids = np.full(n, -1, dtype=np.int64)
    ids[_projected_rows(result, n)] = clusters.ids
    return ids


def _notes(
    ws: _ui.Workspace,
    vs: VectorSet,
    result: ProjectionResult,
    shown: MapRows,
    colouring: Colouring,
    clusters: Clustering | None,
    three_d: bool,
) -> str:
    """One caption: what is drawn, how faithful it is, and what was sampled or grouped."""
    n = len(ws.dataset)
    name = PROJECTION_NAMES[result.method]
    parts = [
        f"{name} of {n:,} {ws.dataset.name} vectors ({vs.dims} dims) to "
        f"{result.coords.shape[1]}-D; trustworthiness {result.trustworthiness:.3f}"
    ]
    if result.explained_variance is not None:
        parts.append(f"the axes keep {sum(result.explained_variance):.1%} of the variance")
    if result.rows is not None:
        parts.append(f"{name} ran on a random sample of {result.rows.size:,} of the {n:,} points")
    if shown.sampled:
        parts.append(
            f"showing a sample of {shown.rows.size:,} of {shown.matching:,} points, stratified "
            f"by {colouring.column} (the map draws at most {mapview.MAX_POINTS:,})"
        )
    elif shown.matching < n:
        parts.append(f"{shown.matching:,} points shown")
    if colouring.grouped:
        parts.append(f"{colouring.grouped:,} rarer values of {colouring.column} drawn as other")
    if clusters is not None:
        noise = int((clusters.ids == -1).sum())
        parts.append(
            f"{clusters.count} clusters on the {clusters.space.value}, {noise:,} points noise "
            f"({clusters.seconds:.1f} s)"
        )
        if clusters.sampled is not None:
            parts.append(
                f"HDBSCAN ran on a random sample of {clusters.sampled:,} points; every other "
                "point joined the cluster of its nearest sampled point"
            )
    if result.note:
        parts.append(result.note)
    tail = (
        "Drag a box or a lasso to list points."
        if not three_d
        else "Selection works on the 2-D map."
    )
    return "; ".join(parts) + ". Distances on the map are approximate. " + tail


def selection_panel(
    ws: _ui.Workspace, vs: VectorSet, rows: np.ndarray, columns: dict[str, Sequence[Any]], k: int
) -> None:
    """The selected items with their metadata, a search within them and the neighbours of
    their centroid (exact cosine search, as on the Search page)."""
    labels = ws.dataset.labels
    st.markdown(f"**{rows.size:,} selected**")
    table = pd.DataFrame(
        {"item": [labels[i] for i in rows[:SELECTION_SHOWN]]}
        | {c: [v[i] for i in rows[:SELECTION_SHOWN]] for c, v in columns.items()}
    )
    st.dataframe(table, key="sim_map_selected", hide_index=True, height=210)
    if rows.size > SELECTION_SHOWN:
        st.caption(f"The first {SELECTION_SHOWN:,} of {rows.size:,} selected items.")
    left, right = st.columns(2)
    query = left.text_input("Search within the selection", key="sim_map_query")
    ranked_k = min(k, rows.size)
    if query.strip():
        with _ui.guard(vs.model):
            found = exhaustive_search(vs.vector_for(query), vs.vectors[rows], ranked_k)
            left.dataframe(
                _ui.ranking_frame(rows[found.ids[0]], found.scores[0], labels),
                key="sim_map_within",
                hide_index=True,
            )
    right.markdown("Neighbours of the selection's centroid")
    with _ui.guard("Centroid"):
        nearest = exhaustive_search(centroid(vs.vectors, rows), vs.vectors, min(k, len(labels)))
        frame = _ui.ranking_frame(nearest.ids[0], nearest.scores[0], labels)
        frame["selected"] = np.isin(nearest.ids[0], rows)
        right.dataframe(frame, key="sim_map_centroid", hide_index=True)


def current_map(vs: VectorSet) -> dict[str, np.ndarray]:
    """The last map this session drew of ``vs``, as export columns: ``x``, ``y`` (and ``z``)
    float64 ``(n,)``, NaN for rows not projected, and ``cluster`` int64 ``(n,)`` (``-1``
    noise) when clusters were on. Empty when this session has not drawn ``vs``."""
    last = st.session_state.get(_LAST_MAP)
    if not last or last["key"] != vs.key:
        return {}
    coords = last["coords"]
    out = {axis: coords[:, i] for i, axis in enumerate("xyz"[: coords.shape[1]])}
    if last["cluster"] is not None:
        out[CLUSTER_COLUMN] = last["cluster"]
    return out


def _code(method: str, n_components: int) -> str:
    """Python for the current projection and its trustworthiness."""
    fit = {
        Projection.PCA.value: f"PCA(n_components={n_components}).fit_transform(vectors)",
        Projection.TSNE.value: f"TSNE(n_components={n_components}, metric='cosine', "
        "init='pca', random_state=0).fit_transform(vectors)",
        Projection.UMAP.value: f"umap.UMAP(n_components={n_components}, metric='cosine', "
        "random_state=0).fit_transform(vectors)",
    }[method]
    return (
        "from sklearn.decomposition import PCA\n"
        "from sklearn.manifold import TSNE, trustworthiness\n"
        "import umap\n\n"
        "# `vectors` holds the dataset's (n, d) embeddings.\n"
        f"coords = {fit}\n"
        "print(trustworthiness(vectors, coords, n_neighbors=5, metric='cosine'))\n"
    )
