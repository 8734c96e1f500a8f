"""The Engines tab of the Search page: the talk's table of ANN engines, run on this machine.

For the sidebar's dataset and a model (or a scale-lab corpus of 1k … 1M vectors) the user
picks engines from :func:`core.list_engines` and builds them (progress, Cancel, one build at
a time per server, built indexes cached per server by content); then one table of build
time, index size, latency and recall@k against exhaustive search, a recall-against-latency
chart over each engine's search parameter, one query's top-k from every engine beside the
exhaustive one, and the same choices exported for the systems that only run in a cloud
(:mod:`core.cloud_configs`). The numbers come from ``core`` (the engines, exhaustive search,
recall, rank comparison, the cloud configurations); this module runs them and draws.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import corpora, storage
from core.cloud_configs import CloudSettings, Quantization, export_all
from core.compare import compare_rankings
from core.corpora import Cancelled, Corpus, synthetic_corpus, tiled_corpus
from core.engines import Engine, EngineInfo, ParamSpec, get_engine, list_engines
from core.errors import ExplorerError
from core.metrics import Metric
from core.search import Method, exhaustive_search, recall_at_k
from core.storage import format_bytes
from views import _ui
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
# Batches of the queries timed per measurement; the fastest counts.
REPEATS = 3
# Values of an engine's first search parameter on the recall-against-latency curve, as
# multiples of the current one (clipped to the parameter's range).
SWEEP = (0.25, 0.5, 1, 2, 4, 8, 16, 32)
CANCELLED = "engines_cancelled"
CLOUD_TRUNCATE = (0, 64, 128, 256, 512, 768, 1024)


@dataclass(frozen=True)
class _Data:
    """The vectors to index, their held-out queries, a content key and row labels."""

    corpus: Corpus
    key: str
    label: Callable[[int], str]


@dataclass
class _Built:
    """A built engine shared by the server's sessions; ``lock`` serialises its searches
    (engines set their search parameters on the index before querying)."""

    engine: Engine
    lock: threading.Lock


@dataclass(frozen=True)
class _Row:
    """One engine's measurements with its current parameters."""

    name: str
    params: str
    build_s: float
    index_bytes: int
    ms: float
    recall: float


BuildKey = tuple[str, str, tuple[tuple[str, float], ...]]
# Built engines kept per server; the oldest is dropped (and freed once no session uses it).
KEEP = 24


@dataclass
class _Store:
    """Server-wide: built engines by (vectors key, engine, build parameters), and a lock so
    only one build runs at a time (two large builds could each pass the memory check)."""

    built: OrderedDict[BuildKey, _Built] = field(default_factory=OrderedDict)
    building: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: BuildKey) -> _Built | None:
        return self.built.get(key)

    def put(self, key: BuildKey, built: _Built) -> None:
        self.built[key] = built
        while len(self.built) > KEEP:
            self.built.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _store() -> _Store:
    return _Store()


@st.cache_resource(show_spinner="Making the corpus (once per choice)…", max_entries=2)
def _corpus(key: str, source: str, n: int, dims: int, _base: np.ndarray | None) -> Corpus:
    """The corpus ``key`` names: the base as it is or tiled to ``n`` rows, or synthetic."""
    if source == SYNTHETIC:
        return synthetic_corpus(n, dims, N_QUERIES)
    assert _base is not None
    return tiled_corpus(_base, n if source == TILED else len(_base), N_QUERIES)


@st.cache_data(show_spinner=False, max_entries=8)
def _truth(data_key: str, k: int, _data: Corpus) -> np.ndarray:
    """The exhaustive top-k ids ``(queries, k)`` of the held-out queries."""
    return exhaustive_search(_data.queries, _data.vectors, k).ids


def _measure(
    built: _Built, queries: np.ndarray, k: int, **search: float
) -> tuple[float, np.ndarray]:
    """Milliseconds per query (the best of ``REPEATS`` batches, over the batch's size: the
    first call also pays for warming caches) and the ``(q, k)`` ids."""
    with built.lock:
        runs = [built.engine.search(queries, k, **search) for _ in range(REPEATS)]
    return 1000 * min(r.seconds for r in runs) / len(queries), runs[0].ids


@st.cache_data(show_spinner=False, max_entries=512)
def _point(
    data_key: str, name: str, build: tuple, search: tuple, k: int, _built: _Built, _data: Corpus
) -> tuple[float, float]:
    """(ms per query, recall@k) of a built engine at search parameters ``search``."""
    ms, ids = _measure(_built, _data.queries, k, **dict(search))
    return ms, recall_at_k(_truth(data_key, k, _data), ids)


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


def _data(source: str, n: int, vs) -> _Data:
    """The chosen vectors, queries and labels; raises ExplorerError for what cannot be made."""
    labels = vs.dataset.labels
    m = len(labels)
    if source == SYNTHETIC:
        key = f"synthetic:{n}:{vs.dims}"
        return _Data(_corpus(key, source, n, vs.dims, None), key, lambda i: f"#{i}")
    if source == AS_IS and m < corpora.MIN_N:
        raise ExplorerError(
            f"{vs.dataset.name} has {m} items; measuring engines needs at least {corpora.MIN_N:,}: "
            "choose a scale-lab corpus under Vectors."
        )
    size = n if source == TILED else m
    key = f"{source}:{size}:{vs.key}"
    corpus = _corpus(key, source, size, vs.dims, vs.vectors)
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


def _build_all(data: _Data, chosen: list[EngineInfo]) -> None:
    """Build every chosen engine not built yet, one bar for all, stoppable by Cancel."""
    store = _store()
    missing = [i for i in chosen if store.get(_key(data, i)) is None]
    if not missing:
        return
    if not store.building.acquire(blocking=False):
        st.info("Another engine build is running on this server: try again when it ends.")
        return
    try:
        bar = st.progress(0.0, text="Starting…")
        for done, info in enumerate(missing):

            def report(fraction: float, text: str, done: int = done) -> None:
                bar.progress((done + fraction) / len(missing), text=text)

            with _ui.guard(info.name):
                key = _key(data, info)
                engine = get_engine(info.name, **dict(key[2]))
                engine.build(
                    data.corpus.vectors,
                    Metric.COSINE,
                    progress=report,
                    should_stop=lambda: bool(st.session_state.get(CANCELLED)),
                )
                store.put(key, _Built(engine, threading.Lock()))
        bar.empty()
    except Cancelled:
        st.warning("Build cancelled; the engines built before it are kept.")
    finally:
        store.building.release()


def _measure_all(data: _Data, chosen: list[EngineInfo], k: int) -> list[_Row]:
    rows = []
    for info in chosen:
        built = _store().get(_key(data, info))
        if built is None:
            continue
        build, search = _params(info, info.build_params), _params(info, info.search_params)
        with _ui.guard(info.name):
            ms, recall = _point(data.key, info.name, build, search, k, built, data.corpus)
            engine = built.engine
            params = _describe(build + search)
            size = engine.index_bytes
            rows.append(_Row(info.name, params, engine.build_seconds, size, ms, recall))
    return rows


def _table(rows: list[_Row], n: int, k: int) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "engine": r.name,
                "parameters": r.params,
                "build s": round(r.build_s, 3),
                "index MB": round(r.index_bytes / 1e6, 2),
                "B/vector": round(r.index_bytes / n),
                "ms/query": round(r.ms, 4),
                f"recall@{k}": round(r.recall, 3),
            }
            for r in rows
        ]
    )


def _sweep_values(spec: ParamSpec, value: float) -> list[float]:
    """The first search parameter's values on the curve: ``SWEEP`` × the current value."""
    values = {spec.kind(min(max(value * f, spec.min), spec.max)) for f in SWEEP}
    return sorted(values)


def _tradeoff_figure(data: _Data, chosen: list[EngineInfo], k: int) -> go.Figure:
    fig = go.Figure()
    for info in chosen:
        built = _store().get(_key(data, info))
        if built is None:
            continue
        build, search = _params(info, info.build_params), dict(_params(info, info.search_params))
        first = info.search_params[0] if info.search_params else None
        values = _sweep_values(first, search[first.name]) if first else [None]
        xs, ys, text = [], [], []
        for value in values:
            point = dict(search) | ({first.name: value} if first else {})
            try:
                ms, recall = _point(
                    data.key, info.name, build, tuple(point.items()), k, built, data.corpus
                )
            except ExplorerError:
                continue  # e.g. too narrow a search to find k neighbours
            xs.append(ms)
            ys.append(recall)
            text.append(f"{first.name}={value:g}" if first else "exact")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                text=text,
                name=info.name,
                mode="lines+markers" if len(xs) > 1 else "markers",
                hovertemplate="%{text}<br>%{x:.3g} ms<br>recall %{y:.3f}",
            )
        )
    fig.update_xaxes(title_text="ms per query (log scale)", type="log")
    fig.update_yaxes(title_text=f"recall@{k}", range=[0, 1.05])
    fig.update_layout(title="Recall against latency, each engine's search parameter swept")
    return fig


def _query(data: _Data, source: str, vs) -> tuple[np.ndarray, str] | None:
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


def _side_by_side(data: _Data, chosen: list[EngineInfo], k: int, source: str, vs) -> None:
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
        built = _store().get(_key(data, info))
        if built is None or info.name == REFERENCE:
            continue
        with _ui.guard(info.name):
            _, ids = _measure(built, vector, k, **dict(_params(info, info.search_params)))
            shown: dict[Hashable, str] = {int(i): data.label(int(i)) for i in (*exact, *ids[0])}
            ranks = compare_rankings(exact.tolist(), ids[0].tolist(), shown)
            columns[info.name] = [f"{r.mark.value} {r.variant_label}" for r in ranks.rows]
    _static_table(pd.DataFrame(columns))
    st.caption(_ui.md_text(f"Top {k} for {what}. ") + _ui.MARKS_LEGEND.format(reference=REFERENCE))


def _cloud_settings(dims: int) -> None:
    """The current choices as each cloud system's configuration: code, notes, download."""
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
    hnsw = next((i for i in list_engines() if i.name == "hnswlib"), None)
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


def _pgvector_section(data: _Data, source: str, vs) -> None:
    """The pgvector steps, drawn by ``views/_pgvector.py`` (its own module, imported only
    here: the tab works without it)."""
    try:
        from views import _pgvector
    except ImportError as exc:
        st.info(_ui.md_text(f"PostgreSQL + pgvector, step by step, is not available: {exc}"))
        return
    labels = vs.dataset.labels if source == AS_IS else None
    _pgvector.pgvector_section(data.corpus.vectors, labels, key="engines_pg", vectors_key=data.key)


def render_engines(ws: _ui.Workspace) -> None:
    """Draw the Engines tab for the workspace's dataset and models."""
    if not _ui.presenting():  # the tab's label says it; a presenter screen needs the room
        st.subheader("Engines: the talk's ANN table, measured here")
    source, n, model, k = _choose_source(ws)
    vs = ws.sets[model]
    infos = list_engines()
    available = [i.name for i in infos if i.available]
    c_engines, c_build, c_cancel = st.columns([6, 1.4, 1], vertical_alignment="bottom")
    names = c_engines.multiselect(
        "Engines",
        available,
        key=_ui.bound("engines_chosen", available, valid=lambda v: set(v) <= set(available)),
        help="Engines that cannot run here are listed, with the reason, under 'Every engine'.",
    )
    chosen = [i for i in infos if i.name in names]
    results = st.container()  # above the expanders below, filled once they are drawn
    with st.expander("Every engine, and its parameters"):
        _engine_table(infos)
        _param_widgets(chosen)
    with results:
        data = _results(source, n, vs, k, chosen, c_build, c_cancel)
    with st.expander("Settings for the systems that only run in a cloud"):
        _cloud_settings(vs.dims)
    if data is not None:
        with st.expander("PostgreSQL + pgvector, step by step"):
            _pgvector_section(data, source, vs)


# Algorithms whose index is a graph (with its own vector copy); every other engine keeps at
# least one normalised float32 copy of the vectors while it builds.
GRAPHS = ("HNSW", "Vamana (DiskANN)")


def _estimate(n: int, dims: int, chosen: list[EngineInfo]) -> storage.MemoryEstimate:
    """The scale lab's memory estimate, with one part per chosen engine: a graph (at M = 32,
    more than any default here) or a float32 copy."""
    base = storage.estimate_memory(n, dims, [Method.EXACT])
    graph, copy = n * storage.hnsw_bytes_per_vector(dims, 32), n * dims * 4
    parts = tuple(
        (Method.HNSW, graph) if i.algorithm in GRAPHS else (Method.EXACT, copy) for i in chosen
    )
    return replace(base, methods=parts)


def _results(
    source: str, n: int, vs, k: int, chosen: list[EngineInfo], c_build, c_cancel
) -> _Data | None:
    """Build buttons, the table, the chart and one query's top-k; the data when it exists."""
    if not chosen:
        st.info("Choose at least one engine.")
        return None
    estimate = _estimate(n, vs.dims, chosen)
    try:
        storage.check_fits(estimate, storage.read_meminfo())
        data = _data(source, n, vs)
    except ExplorerError as exc:
        st.error(_ui.md_text(exc))
        return None
    build = c_build.button("Build engines", key="engines_build", type="primary")
    c_cancel.button("Cancel", key="engines_cancel", on_click=_request_cancel)
    about = (
        f"{n:,} vectors × {vs.dims} dims, {N_QUERIES} held-out queries, estimated peak memory "
        f"{format_bytes(estimate.total, 1)}. Latency: the best of {REPEATS} batches of "
        f"{N_QUERIES} queries, per query; recall@{k} against exhaustive search of the same "
        "vectors. Up and to the left is better."
    )
    if build:
        _build_all(data, chosen)  # its cancel check reads the flag Cancel sets
    elif st.session_state.get(CANCELLED):
        st.warning("Build cancelled; the engines built before it are kept.")
    st.session_state.pop(CANCELLED, None)
    rows = _measure_all(data, chosen, k)
    if not rows:
        st.info("Press **Build engines**: built indexes are kept on this server for these choices.")
        return data
    table = _table(rows, n, k)
    if _ui.presenting():
        _ui.plot(_tradeoff_figure(data, chosen, k), key="engines_tradeoff", height=300)
        with st.expander("The table"):
            _static_table(table)
            st.caption(about)
    else:
        st.dataframe(table, key="engines_table", hide_index=True, width="stretch")
        _ui.plot(_tradeoff_figure(data, chosen, k), key="engines_tradeoff")
        st.caption(about)
    with st.expander("One query, every engine's top-k"):
        _side_by_side(data, chosen, k, source, vs)
    return data
