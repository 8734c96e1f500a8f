"""The Engines tab of the Search page: the talk's table of ANN engines, run on this machine.

For the sidebar's dataset and a model (or a scale-lab corpus of 1k … 1M vectors) the user
picks engines from :func:`core.list_engines` and builds them (progress, Cancel, one build at
a time per server, built indexes kept per server by content within a memory budget); then
one table of build time, index size, latency and recall@k against exhaustive search, a
recall-against-latency chart over each engine's search parameter, one query's top-k from
every engine beside the exhaustive one, and the same choices exported for the systems that
only run in a cloud (:mod:`core.cloud_configs`). The engines, exhaustive search, recall, rank
comparison and cloud configurations are ``core``'s; the loop that times the engines and
sweeps their search parameter is still here (see the review's item 6).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core import corpora, storage
from core.cloud_configs import CloudSettings, Quantization, export_all
from core.compare import compare_rankings
from core.corpora import Cancelled, Corpus, synthetic_corpus, tiled_corpus
from core.engines import Engine, EngineInfo, ParamSpec, get_engine, list_engines
from core.engines.faisslib import training_sample_bytes
from core.engines.measure import measure, sweep_values
from core.errors import ExplorerError
from core.metrics import Metric
from core.search import Method, exhaustive_search
from core.storage import format_bytes
from core.vectors import VectorSet
from views import _pgvector, _state, _ui
from views._scale_lab import N_CHOICES

REFERENCE = "exhaustive"
# Where the vectors come from: the dataset as it is, or one of the scale lab's corpora.
AS_IS, TILED, SYNTHETIC = "as-is", "tiled", "synthetic"
SOURCES = {
    AS_IS: "this dataset's vectors",
    TILED: "scale lab: this dataset tiled with noise",
    SYNTHETIC: "scale lab: synthetic clusters",
}
N_QUERIES = 50
CANCELLED = "engines_cancelled"
CLOUD_TRUNCATE = (0, 64, 128, 256, 512, 768, 1024)
# Preselected: the reference and one graph; the user adds the rest (a click on Build then
# stays a short job, and PostgreSQL starts only when a pgvector engine is chosen).
PRESELECTED = (REFERENCE, "hnswlib")
# Kept built engines may hold this share of the memory a build may use (what is available
# beyond the machine's reserve, plus what the kept engines hold); the least recently used
# go first and are closed.
ENGINES_SHARE = 0.5
# Scale-lab corpora kept per server (each up to 1M × d float32: 3 GB at 768 dims).
KEEP_CORPORA = 2
# Engines that train k-means before the vectors go in, with no progress to show (it samples
# the rows: 1.6 s for ivfflat and 8.5 s for ivfpq at 1M × 384 on a quiet server); a large
# sample trains in a child process that Cancel kills, a small one takes about a second.
TRAINED_FIRST = {
    "faiss-ivfflat": "training k-means for the cells",
    "faiss-ivfpq": "training k-means for the cells and the PQ codebooks",
    "faiss-ivfpq-rerank": "training k-means for the cells and the PQ codebooks",
}
# What the bar adds while one of those steps runs. A step in a child process (a large
# training sample; diskann's graph, 38 s at 50k × 384) reports its seconds to the bar itself.
NO_PROGRESS = "no progress to show; Cancel stops it"
# Session state: a threading.Event set while this session's build runs (Cancel's flag is
# cleared only after). An Event, cleared without touching session state: once Streamlit has
# asked a run to stop, every session-state access in it raises again.
BUILDING = "engines_building"
# Seconds a run waits for this session's cancelled build to end before it clears the flag
# (the build stops at its bar's next update, within a poll of 0.1 s).
CANCEL_WAIT = 5.0


@dataclass(frozen=True)
class _Data:
    """The vectors to index, their held-out queries, a content key and row labels."""

    corpus: Corpus
    key: str
    label: Callable[[int], str]


@dataclass(frozen=True)
class _Row:
    """One engine's measurements with its current parameters."""

    name: str
    search: str  # search parameters, the swept one first
    build: str
    build_s: float
    index_bytes: int
    ms: float
    recall: float
    notes: tuple[str, ...]  # what the build changed (e.g. a lowered nlist), Engine.notes


BuildKey = tuple[str, str, tuple[tuple[str, float], ...]]


@dataclass
class _Kept:
    """A built engine kept for every session: its size when kept, the sessions using it
    now, and whether it was evicted (closed when its last user leaves)."""

    engine: Engine
    bytes: int
    users: int = 0
    evicted: bool = False


@dataclass
class _Store:
    """Server-wide: built engines by (vectors key, engine, build parameters), least recently
    used first, within a budget of bytes (:meth:`put`)."""

    kept: OrderedDict[BuildKey, _Kept] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kept_bytes(self) -> int:
        """The kept engines' index bytes."""
        with self.lock:
            return sum(item.bytes for item in self.kept.values())

    def has(self, key: BuildKey) -> bool:
        with self.lock:
            return key in self.kept

    @contextmanager
    def using(self, key: BuildKey) -> Iterator[Engine | None]:
        """The engine kept under ``key`` (None if there is none) for the block: an engine
        evicted meanwhile is closed only after its last user's block ends."""
        with self.lock:
            item = self.kept.get(key)
            if item is not None:
                item.users += 1
                self.kept.move_to_end(key)
        if item is None:
            yield None
            return
        try:
            yield item.engine
        finally:
            with self.lock:
                item.users -= 1
                done = item.evicted and item.users == 0
            if done:
                item.engine.close()

    def put(self, key: BuildKey, engine: Engine, budget: int) -> list[BuildKey]:
        """Keep ``engine``, then evict the least recently used engines until the kept
        ``index_bytes`` are within ``budget`` (the newest stays, whatever its size); evicted
        engines are closed once unused. Returns the evicted keys."""
        with self.lock:
            replaced = self.kept.pop(key, None)
            self.kept[key] = _Kept(engine, engine.index_bytes)
            gone = [replaced] if replaced is not None else []
            evicted = []
            total = sum(item.bytes for item in self.kept.values())
            while total > budget and len(self.kept) > 1:
                old, item = self.kept.popitem(last=False)
                total -= item.bytes
                evicted.append(old)
                gone.append(item)
            for item in gone:
                item.evicted = True
            idle = [item for item in gone if item.users == 0]
        for item in idle:
            item.engine.close()
        return evicted


@st.cache_resource(show_spinner=False)
def _store() -> _Store:
    return _Store()


def _budget(store: _Store, new: int = 0) -> int:
    """Bytes the kept engines may hold: ``ENGINES_SHARE`` of what a build may use now
    (available memory beyond the reserve) plus what they hold already, with the ``new``
    bytes of an engine just built (already out of the available memory)."""
    return int(ENGINES_SHARE * (storage.read_meminfo().budget + store.kept_bytes() + new))


@dataclass
class _Corpora:
    """Server-wide: the corpora made for the tab by content key, at most ``KEEP_CORPORA``
    (the least recently used goes)."""

    kept: OrderedDict[str, Corpus] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str) -> Corpus | None:
        with self.lock:
            corpus = self.kept.get(key)
            if corpus is not None:
                self.kept.move_to_end(key)
            return corpus

    def put(self, key: str, corpus: Corpus) -> None:
        with self.lock:
            self.kept[key] = corpus
            while len(self.kept) > KEEP_CORPORA:
                self.kept.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _corpora() -> _Corpora:
    return _Corpora()


@st.cache_data(show_spinner=False, max_entries=8)
def _truth(data_key: str, k: int, _data: Corpus) -> np.ndarray:
    """The exhaustive top-k ids ``(queries, k)`` of the held-out queries."""
    return exhaustive_search(_data.queries, _data.vectors, k).ids


@st.cache_data(show_spinner=False, max_entries=512)
def _point(
    data_key: str, name: str, build: tuple, search: tuple, k: int, _engine: Engine, _data: Corpus
) -> tuple[float, float]:
    """(ms per query, recall@k) of a built engine at search parameters ``search``. Engines
    guard their own index (or take search parameters per call), so sessions may search one
    at once."""
    found = measure(_engine, _data.queries, _truth(data_key, k, _data), k, **dict(search))
    return found.ms_per_query, found.recall


def _slug(name: str) -> str:
    return name.replace("-", "_")


def _param_key(info: EngineInfo, spec: ParamSpec) -> str:
    return f"engines_{_slug(info.name)}_{spec.name}"


def _param_value(info: EngineInfo, spec: ParamSpec) -> float:
    """A parameter's widget value (the talk's value, else the library default, at first)."""
    start = spec.talk if spec.talk is not None else spec.default
    key = _ui.bound(
        _param_key(info, spec), start, spec.kind, valid=lambda v: spec.min <= v <= spec.max
    )
    return st.session_state[key]


def _params(info: EngineInfo, specs: tuple[ParamSpec, ...]) -> tuple[tuple[str, float], ...]:
    return tuple((p.name, _param_value(info, p)) for p in specs)


def _describe(params: tuple[tuple[str, float], ...]) -> str:
    return ", ".join(f"{n}={v:g}" for n, v in params) or "—"


def _corpus_key(source: str, n: int, vs: VectorSet) -> str:
    """What the corpus depends on: the source, its size and (unless synthetic) the vectors'
    content. Raises ExplorerError when the dataset is too small to measure as it is."""
    if source == SYNTHETIC:
        return f"synthetic:{n}:{vs.dims}"
    m = len(vs.dataset.labels)
    if source == AS_IS and m < corpora.MIN_N:
        raise ExplorerError(
            f"{vs.dataset.name} has {m} items; measuring engines needs at least {corpora.MIN_N:,}: "
            "choose a scale-lab corpus under Vectors."
        )
    return f"{source}:{n if source == TILED else m}:{vs.key}"


def _data(
    source: str,
    n: int,
    vs: VectorSet,
    progress: corpora.Progress | None = None,
    should_stop: corpora.ShouldStop | None = None,
) -> _Data:
    """The chosen vectors, queries and labels: the server's kept corpus, else made now
    (``progress`` and ``should_stop`` follow the making; Cancelled when stopped)."""
    key = _corpus_key(source, n, vs)
    labels = vs.dataset.labels
    m = len(labels)
    corpus = _corpora().get(key)
    if corpus is None:
        if source == SYNTHETIC:
            corpus = synthetic_corpus(
                n, vs.dims, N_QUERIES, should_stop=should_stop, progress=progress
            )
        else:
            size = n if source == TILED else m
            corpus = tiled_corpus(
                vs.vectors, size, N_QUERIES, should_stop=should_stop, progress=progress
            )
        _corpora().put(key, corpus)
    if source == SYNTHETIC:
        return _Data(corpus, key, lambda i: f"#{i}")
    # Rows past the dataset are noisy copies of row i % m: marked with a prime.
    return _Data(corpus, key, lambda i: labels[i] if i < m else f"{labels[i % m]}′")


def _choose_source(ws: _ui.Workspace) -> tuple[str, int, str, int]:
    """Vectors, N, model and k, on one row."""
    c_source, c_n, c_model, c_k = st.columns([3, 2, 2, 2])
    source = c_source.selectbox(
        "Vectors",
        list(SOURCES),
        format_func=lambda v: SOURCES[v],
        key=_ui.bound("engines_source", AS_IS, valid=lambda v: v in SOURCES),
    )
    n = len(ws.dataset.labels)
    if source != AS_IS:
        n = c_n.select_slider(
            "N (vectors)",
            N_CHOICES,
            key=_ui.bound("engines_n", 10_000, int, valid=lambda v: v in N_CHOICES),
            format_func=lambda v: f"{v:,}",
        )
    else:
        c_n.metric("N (vectors)", f"{n:,}")
    model = _ui.model_choice("engines_model", ws, where=c_model)
    k = _ui.k_slider("engines_k", n, default=10, where=c_k)
    return str(source), int(n), model, k


def _engine_table(infos: list[EngineInfo]) -> None:
    rows = [
        {
            "engine": i.name,
            "algorithm": i.algorithm,
            "library": i.library,
            "deployed in": i.where_deployed,
            "runs here": "yes" if i.available else f"no: {i.reason}",
        }
        for i in infos
    ]
    _static_table(pd.DataFrame(rows))


def _static_table(frame: pd.DataFrame) -> None:
    """A table drawn at once (also inside a closed expander, where a data grid waits to be
    shown): ``st.table``, its text cells escaped because they are markdown there."""
    st.table(frame.map(lambda v: _ui.md_text(v) if isinstance(v, str) else v))


def _param_widgets(chosen: list[EngineInfo]) -> None:
    for info in chosen:
        if not info.params:
            continue
        name, about = _ui.md_text(info.name), _ui.md_text(f"{info.algorithm}, {info.library}")
        st.markdown(f"**{name}** ({about})")
        for column, spec in zip(st.columns(max(3, len(info.params))), info.params, strict=False):
            _param_value(info, spec)
            column.number_input(
                spec.name,
                min_value=spec.kind(spec.min),
                max_value=spec.kind(spec.max),
                key=_param_key(info, spec),
                help=spec.help
                + f" Library default {spec.default:g}"
                + (f", talk {spec.talk:g}." if spec.talk is not None else "."),
            )


def _request_cancel() -> None:
    st.session_state[CANCELLED] = True


def _key(data: _Data, info: EngineInfo) -> BuildKey:
    """What a built index depends on: the vectors (by content), the engine, its build
    parameters."""
    return data.key, info.name, _params(info, info.build_params)


def _cancelled() -> bool:
    return bool(st.session_state.get(CANCELLED))


def _build_all(source: str, n: int, vs: VectorSet, chosen: list[EngineInfo]) -> None:
    """Make the corpus unless kept, then build every chosen engine not built yet: one bar,
    stoppable by Cancel, in the server's one long-job slot."""
    store = _store()
    key = _corpus_key(source, n, vs)
    missing = [i for i in chosen if not store.has((key, i.name, _params(i, i.build_params)))]
    if not missing and _corpora().get(key) is not None:
        return
    with _ui.server_job("an engine build") as mine:
        if not mine:
            return
        st.session_state.pop(CANCELLED, None)  # a Cancel pressed before this build
        building = _building()
        building.set()
        bar = st.progress(0.0, text="Starting…")
        try:

            def making(fraction: float, text: str) -> None:
                bar.progress(fraction, text=f"Making the corpus: {text}")

            data = _data(source, n, vs, progress=making, should_stop=_cancelled)
            for done, info in enumerate(missing):
                _build_one(data, info, bar, done, len(missing))
            bar.empty()
        except Cancelled:
            st.session_state.pop(CANCELLED, None)
            st.warning("Build cancelled; the engines built before it are kept.")
        finally:
            building.clear()


def _building() -> threading.Event:
    """This session's "a build runs" event."""
    event = st.session_state.get(BUILDING)
    if not isinstance(event, threading.Event):
        event = st.session_state[BUILDING] = threading.Event()
    return event


def _cancel_seen() -> bool:
    """Whether Cancel was pressed: then the flag is cleared once this session's build has
    ended (with fast reruns, Cancel's run starts while the build's run is still stopping;
    clearing the flag before it stops would let it go on)."""
    if not _cancelled():
        return False
    building = _building()
    deadline = time.monotonic() + CANCEL_WAIT
    while building.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not building.is_set():
        st.session_state.pop(CANCELLED, None)
    return True


def _build_one(data: _Data, info: EngineInfo, bar: DeltaGenerator, done: int, count: int) -> None:
    """Build and keep one engine, the bar at ``done`` of ``count``; a step that shows no
    progress (training first, or the graph after the last vector) is named as such."""

    def report(fraction: float, text: str) -> None:
        bar.progress(min(1.0, (done + fraction) / count), text=text)

    first = TRAINED_FIRST.get(info.name)
    starting = f"{first} ({NO_PROGRESS})" if first else "starting"
    bar.progress(done / count, text=f"{info.name}: {starting}…")
    with _ui.guard(info.name):
        key = _key(data, info)
        engine = get_engine(info.name, **dict(key[2]))
        engine.build(data.corpus.vectors, Metric.COSINE, progress=report, should_stop=_cancelled)
        store = _store()
        store.put(key, engine, _budget(store, engine.index_bytes))


def _measure_all(data: _Data, chosen: list[EngineInfo], k: int) -> list[_Row]:
    rows = []
    for info in chosen:
        with _store().using(_key(data, info)) as engine:
            if engine is None:
                continue
            build, search = _params(info, info.build_params), _params(info, info.search_params)
            with _ui.guard(info.name):
                ms, recall = _point(data.key, info.name, build, search, k, engine, data.corpus)
                size = engine.index_bytes
                rows.append(
                    _Row(
                        info.name,
                        _describe(search),
                        _describe(build),
                        engine.build_seconds,
                        size,
                        ms,
                        recall,
                        tuple(engine.notes),
                    )
                )
    return rows


def _table(rows: list[_Row], n: int, k: int) -> pd.DataFrame:
    """One row per engine: its search parameters and the measurements first (they stay in
    view on a narrow screen), the build parameters last."""
    return pd.DataFrame(
        [
            {
                "engine": r.name,
                "search": r.search,
                f"recall@{k}": round(r.recall, 3),
                "ms/query": round(r.ms, 4),
                "build s": round(r.build_s, 3),
                "index MB": round(r.index_bytes / 1e6, 2),
                "B/vector": round(r.index_bytes / n),
                "build (as asked)": r.build,
            }
            for r in rows
        ]
    )


def _notes(rows: list[_Row]) -> None:
    """What each build changed from the parameters asked for, under the table."""
    for r in rows:
        if r.notes:
            st.caption(_ui.md_text(f"{r.name} as built: {' '.join(r.notes)}"))


# One engine's curve on the chart: its legend name, then (ms, recall, label) per point.
Curve = tuple[str, tuple[float, ...], tuple[float, ...], tuple[str, ...]]


def _tradeoff_figure(
    data: _Data, chosen: list[EngineInfo], k: int, height: int | None
) -> go.Figure:
    """The recall-against-latency chart of the built ``chosen`` engines, each engine's first
    search parameter swept (the points are measured once per server and cached)."""
    curves: list[Curve] = []
    for info in chosen:
        with _store().using(_key(data, info)) as engine:
            if engine is None:
                continue
            xs, ys, text = _sweep(data, info, k, engine)
        # The swept parameter in the legend: "faiss-ivfpq-rerank (k_factor)".
        first = info.search_params[0].name if info.search_params else None
        name = f"{info.name} ({first})" if first else info.name
        curves.append((name, tuple(xs), tuple(ys), tuple(text)))
    return _tradeoff(tuple(curves), k, _ui.presenting(), height)


@st.cache_resource(max_entries=64, show_spinner=False)
def _tradeoff(curves: tuple[Curve, ...], k: int, big: bool, height: int | None) -> go.Figure:
    """The chart of ``curves``, styled (presenter mode ``big`` or not, ``height`` px): built
    once per server for each content, since plotly takes longer to build it than the cached
    measurements take to read. Shared by every session and never changed after."""
    fig = go.Figure()
    for name, xs, ys, text in curves:
        # In the order of the swept parameter (ascending), as measured: a noisy latency may
        # step back to the left, but the line still follows the parameter.
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                text=text,
                name=name,
                mode="lines+markers" if len(xs) > 1 else "markers",
                hovertemplate="%{text}<br>%{x:.3g} ms<br>recall %{y:.3f}",
            )
        )
    times = [x for _, xs, _, _ in curves for x in xs]
    recalls = [y for _, _, ys, _ in curves for y in ys]
    fig.update_xaxes(title_text="ms per query (log scale)", type="log", **_ui.log_ticks(times))
    fig.update_yaxes(title_text=f"recall@{k}", **recall_axis(recalls))
    # The first search parameter: ef, nprobe, L, probes, or a rescoring factor
    # (pgvector-binary's oversample, faiss-ivfpq-rerank's k_factor).
    fig.update_layout(title="Recall against latency, each engine's search parameter swept")
    return _ui.styled_figure(fig, height, big=big)


# The recall axis reaches this far past the highest and lowest point, and spans at least
# ``RECALL_SPAN``, so a sweep between 0.9 and 1.0 fills the chart rather than its top tenth,
# and one point at 1.0 does not look like a wide spread.
RECALL_MARGIN, RECALL_SPAN = 0.02, 0.1


def recall_axis(recalls: Sequence[float]) -> dict[str, list]:
    """Axis settings for recall values in [0, 1]: a range from the lowest point to the
    highest (at most 1), at least ``RECALL_SPAN`` wide, shown ``RECALL_MARGIN`` beyond
    both; ticks at a round step inside it and inside [0, 1] (none above 1: no recall is).
    Empty for no values."""
    if not recalls:
        return {}
    high = min(max(recalls), 1.0)
    low = max(min(min(recalls), high - RECALL_SPAN), 0.0)
    high = max(high, low + RECALL_SPAN)  # all near 0: the span grows upwards
    step = next(s for s in (0.02, 0.05, 0.1, 0.2) if (high - low) / s <= 6)
    shown = (low - RECALL_MARGIN, high + RECALL_MARGIN)
    first = math.ceil(round(max(shown[0], 0.0) / step, 9)) * step
    count = math.floor(round((min(shown[1], 1.0) - first) / step, 9)) + 1
    ticks = [round(first + i * step, 9) for i in range(count)]
    return {
        "range": list(shown),
        "tickvals": ticks,
        "ticktext": [f"{t:g}" for t in ticks],
    }


def _sweep(
    data: _Data, info: EngineInfo, k: int, engine: Engine
) -> tuple[list[float], list[float], list[str]]:
    """(ms, recall, label) of ``engine`` at each value of its first search parameter."""
    build, search = _params(info, info.build_params), dict(_params(info, info.search_params))
    first = info.search_params[0] if info.search_params else None
    values = sweep_values(first, search[first.name]) if first else [None]
    xs, ys, text = [], [], []
    for value in values:
        point = dict(search) | ({first.name: value} if first else {})
        try:
            ms, recall = _point(
                data.key, info.name, build, tuple(point.items()), k, engine, data.corpus
            )
        except ExplorerError:
            continue  # e.g. too narrow a search to find k neighbours
        xs.append(ms)
        ys.append(recall)
        text.append(f"{first.name}={value:g}" if first else "exact")
    return xs, ys, text


def _query(data: _Data, source: str, vs: VectorSet) -> tuple[np.ndarray, str] | None:
    """One query vector and how to name it: the Search page's query for the dataset as it
    is, else a held-out query of the corpus."""
    if source == AS_IS:
        text = st.text_input("Query", key=_ui.bound("search_query", "a loyal dog"))
        if not text.strip():
            st.warning("The query is empty: type a word, a title or a sentence.")
            return None
        with _ui.guard(vs.model):
            return vs.vector_for(text), repr(text.strip())
        return None
    count = len(data.corpus.queries)
    number = st.slider(
        "Held-out query",
        1,
        count,
        key=_ui.bound("engines_query", 1, int, valid=lambda v: 1 <= v <= count),
    )
    return data.corpus.queries[number - 1 : number], f"held-out query {number}"


def _side_by_side(
    data: _Data, chosen: list[EngineInfo], k: int, source: str, vs: VectorSet
) -> None:
    found = _query(data, source, vs)
    if found is None:
        return
    vector, what = found
    exact = exhaustive_search(vector, data.corpus.vectors, k).ids[0]
    columns: dict[str, list] = {
        "rank": list(range(1, k + 1)),
        REFERENCE: [data.label(int(i)) for i in exact],
    }
    for info in chosen:
        if info.name == REFERENCE:
            continue
        with _store().using(_key(data, info)) as engine, _ui.guard(info.name):
            if engine is None:
                continue
            ids = engine.search(vector, k, **dict(_params(info, info.search_params))).ids
            shown: dict[Hashable, str] = {int(i): data.label(int(i)) for i in (*exact, *ids[0])}
            ranks = compare_rankings(exact.tolist(), ids[0].tolist(), shown)
            columns[info.name] = [f"{r.mark.value} {r.variant_label}" for r in ranks.rows]
    _static_table(pd.DataFrame(columns))
    st.caption(_ui.md_text(f"Top {k} for {what}. ") + _ui.MARKS_LEGEND.format(reference=REFERENCE))


@_state.fragment
def _cloud_settings(dims: int, infos: list[EngineInfo]) -> None:
    """The current choices as each cloud system's configuration: code, notes, download
    (HNSW's settings from the hnswlib engine's among ``infos``). A fragment: its own widgets
    rerun this section alone, not the measurements above it."""
    c_q, c_metric, c_over, c_mrl, c_rescore = st.columns([2.4, 2, 2, 2, 1.6])
    quantization = c_q.radio(
        "Quantization",
        [q.value for q in Quantization],
        key=_ui.bound("engines_cloud_quant", "none", valid=lambda v: v in set(Quantization)),
        horizontal=True,
    )
    metric = c_metric.selectbox(
        "Metric",
        [m.value for m in Metric],
        key=_ui.bound("engines_cloud_metric", "cosine", valid=lambda v: v in set(Metric)),
    )
    oversampling = c_over.slider(
        "Oversampling (× k)",
        1,
        20,
        key=_ui.bound("engines_cloud_over", 4, int, valid=lambda v: 1 <= v <= 20),
    )
    options = [t for t in CLOUD_TRUNCATE if t < dims]
    truncate = c_mrl.selectbox(
        "MRL truncation",
        options,
        format_func=lambda t: "none" if t == 0 else f"first {t} dims",
        key=_ui.bound("engines_cloud_mrl", 0, int, valid=lambda v: v in options),
    )
    rescore = c_rescore.toggle("Rescore", key=_ui.bound("engines_cloud_rescore", True, _ui.as_bool))
    hnsw = next((i for i in infos if i.name == "hnswlib"), None)
    m, efc, ef = (int(_param_value(hnsw, p)) for p in hnsw.params) if hnsw else (16, 200, 50)
    with _ui.guard("Cloud settings"):
        settings = CloudSettings(
            dims=dims,
            metric=Metric.coerce(str(metric)),
            m=m,
            ef_construction=efc,
            ef_search=ef,
            quantization=Quantization.coerce(str(quantization)),
            rescore=bool(rescore),
            oversampling=float(oversampling),
            truncate_to=int(truncate) or None,
            k=int(st.session_state.get("engines_k", 10)),
        )
        st.caption(
            f"HNSW M = {m}, ef_construction = {efc}, ef = {ef} from the hnswlib engine's "
            "settings above; values outside a system's documented range are moved into it "
            "and a note says so."
        )
        exports = export_all(settings)
        for tab, export in zip(st.tabs([e.system for e in exports]), exports, strict=True):
            with tab:
                if export.config is None:
                    st.warning(_ui.md_text(f"{export.system} cannot express this: {export.reason}"))
                    continue
                config = export.config
                st.caption(_ui.md_text(f"Format: {config.source}"))
                for note in config.notes:
                    st.caption(_ui.md_text(f"⚠️ {note}"))
                st.code(config.text, language=config.language)
                st.download_button(
                    f"Download {config.filename}",
                    config.text,
                    file_name=config.filename,
                    key=f"engines_download_{_slug(config.filename)}",
                    on_click="ignore",
                )


def _pgvector_section(data: _Data, source: str, vs: VectorSet) -> None:
    """The pgvector steps, drawn by ``views/_pgvector.py``."""
    labels = vs.dataset.labels if source == AS_IS else None
    _pgvector.pgvector_section(data.corpus.vectors, labels, key="engines_pg", vectors_key=data.key)


PRESENTER_CHART = 270  # px: the built view's chart, with the row of popovers under it, in 720
# The tab's folded sections, and their names on a presenter's row of popovers.
TABLE, ONE_QUERY = "The table", "One query, every engine's top-k"
EVERY_ENGINE, CLOUD = (
    "Every engine, and its parameters",
    "Settings for the systems that only run in a cloud",
)
PGVECTOR = "PostgreSQL + pgvector, step by step"
SHORT = {  # in this order on the row: the first two are there before any build
    EVERY_ENGINE: "Every engine",
    CLOUD: "Cloud settings",
    TABLE: "The table",
    ONE_QUERY: "One query",
    PGVECTOR: "pgvector, step by step",
}


def render_engines(ws: _ui.Workspace) -> None:
    """Draw the Engines tab for the workspace's dataset and models."""
    if not _ui.presenting():  # the tab's label says it; a presenter screen needs the room
        st.subheader("Engines: the talk's ANN table, measured here")
    source, n, model, k = _choose_source(ws)
    vs = ws.sets[model]
    infos = list_engines()
    available = [i.name for i in infos if i.available]
    preselected = [name for name in PRESELECTED if name in available]
    c_engines, c_build, c_cancel = st.columns([6, 1.4, 1], vertical_alignment="bottom")
    names = c_engines.multiselect(
        "Engines",
        available,
        key=_ui.bound("engines_chosen", preselected, valid=lambda v: set(v) <= set(available)),
        help="Engines that cannot run here are listed, with the reason, under 'Every engine'. "
        "Add the others here: each one adds to the build's time.",
    )
    chosen = [i for i in infos if i.name in names]
    results = st.container()  # above the folded sections below, filled once they are drawn
    fold = _ui.Folds(SHORT)
    with fold(EVERY_ENGINE):
        _engine_table(infos)
        _param_widgets(chosen)
    with results:
        data = _results(source, n, vs, k, chosen, c_build, c_cancel, fold)
    with fold(CLOUD):
        _cloud_settings(vs.dims, infos)
    if data is not None:
        with fold(PGVECTOR):
            _pgvector_section(data, source, vs)


# Algorithms whose index is a graph (with its own vector copy); every other engine keeps at
# least one normalised float32 copy of the vectors while it builds.
GRAPHS = ("HNSW", "Vamana (DiskANN)")


def _estimate(
    n: int, dims: int, chosen: list[EngineInfo], corpus_kept: bool = False
) -> storage.MemoryEstimate:
    """The scale lab's memory estimate, with one part per chosen engine: a graph (at M = 32,
    more than any default here) or a float32 copy; and the largest training sample an IVF
    engine copies (engines build one at a time, so only one sample exists at once). A corpus
    the server keeps already is in use memory (outside what is available), so it is not
    counted again."""
    base = storage.estimate_memory(n, dims, [Method.EXACT])
    graph, copy = n * storage.hnsw_bytes_per_vector(dims, 32), n * dims * 4
    parts = tuple(
        (Method.HNSW, graph) if i.algorithm in GRAPHS else (Method.EXACT, copy) for i in chosen
    )
    trains = [i for i in chosen if any(p.name == "nlist" for p in i.build_params)]
    sample = max(
        (training_sample_bytes(n, dims, dict(_params(i, i.build_params))) for i in trains),
        default=0,
    )
    if sample:
        parts += ((Method.EXACT, sample),)
    return replace(base, methods=parts, corpus=0 if corpus_kept else base.corpus)


def _results(
    source: str,
    n: int,
    vs: VectorSet,
    k: int,
    chosen: list[EngineInfo],
    c_build: DeltaGenerator,
    c_cancel: DeltaGenerator,
    fold: _ui.Folds,
) -> _Data | None:
    """Build buttons, the table, the chart and one query's top-k (folded by ``fold``); the
    data when it exists."""
    if not chosen:
        st.info("Choose at least one engine.")
        return None
    try:
        key = _corpus_key(source, n, vs)
        kept = _corpora().get(key) is not None
        storage.check_fits(_estimate(n, vs.dims, chosen, kept), storage.read_meminfo())
        # The dataset as it is is made at once; a scale-lab corpus only by Build (it is long).
        data = _data(source, n, vs) if source == AS_IS or kept else None
    except ExplorerError as exc:
        st.error(_ui.md_text(exc))
        return None
    estimate = _estimate(n, vs.dims, chosen)
    build = c_build.button("Build engines", key="engines_build", type="primary")
    c_cancel.button("Cancel", key="engines_cancel", on_click=_request_cancel)
    about = (
        f"{n:,} vectors × {vs.dims} dims, {N_QUERIES} held-out queries, estimated peak memory "
        f"{format_bytes(estimate.total, 1)}. Latency: the median of {N_QUERIES} "
        f"one-query searches; recall@{k} against exhaustive search of the same "
        "vectors. Up and to the left is better."
    )
    if build:
        _build_all(source, n, vs, chosen)  # its cancel check reads the flag Cancel sets
    elif _cancel_seen():
        st.warning("Build cancelled; the engines built before it are kept.")
    if data is None and _corpora().get(key) is not None:  # made by this run's build
        data = _data(source, n, vs)
    rows = _measure_all(data, chosen, k) if data is not None else []
    if data is None or not rows:
        st.info("Press **Build engines**: built indexes are kept on this server for these choices.")
        return data
    table = _table(rows, n, k)
    if _ui.presenting():
        chart = _tradeoff_figure(data, chosen, k, PRESENTER_CHART)
        _ui.plot(chart, key="engines_tradeoff", styled=True)
        with fold(TABLE):
            _static_table(table)
            _notes(rows)
            st.caption(about)
    else:
        st.dataframe(table, key="engines_table", hide_index=True, width="stretch")
        _notes(rows)
        _ui.plot(_tradeoff_figure(data, chosen, k, None), key="engines_tradeoff", styled=True)
        st.caption(about)
    with fold(ONE_QUERY):
        _side_by_side(data, chosen, k, source, vs)
    return data
