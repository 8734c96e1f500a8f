"""AppTest of the Search page's Engines tab (``?search_view=Engines``): the engine list with
reasons, building with progress and Cancel, the measurements table against brute force,
the recall-against-latency sweep, one query's top-k with marks, the scale-lab corpora and
their memory guard, the cloud settings and presenter mode.

Built engines are kept per server, i.e. per test process; tests that must build choose
parameters no other test uses.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import streamlit as st
from hypothesis import given
from hypothesis import strategies as st_

from core import corpora, storage
from core.datasets import load_dataset
from core.embedders.registry import get_embedder
from core.engines import get_engine
from core.errors import ExplorerError
from core.storage import MemInfo
from core.vectors import embed_dataset
from tests import test_fragments as fragments
from tests.event_loop import run_in_own_thread
from tests.page_helpers import array, figures, frames, open_page, plain, plain_table, texts
from views import _engines, _ui

MODEL = "static-minilm-256"  # the sidebar's first default model: the tab's default
server = fragments.server  # a real Streamlit server (module-scoped), for the fragment test
FEW = ["exhaustive", "hnswlib"]


def engines(params: dict | None = None, chosen: list[str] = FEW):
    return open_page(
        "search", {"search_view": "Engines", "engines_chosen": chosen, **(params or {})}
    )


def tables(at, *columns: str):
    """The tab's ``st.table`` tables that have all of ``columns``, as the browser shows them."""
    found = [plain_table(at, i) for i in range(len(at.table))]
    return [t for t in found if set(columns) <= set(t.columns)]


def build(at):
    at.button(key="engines_build").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def brute_force_top(query: str, k: int) -> list[str]:
    """The words dataset's top-k for ``query`` under the static model, by numpy alone."""
    words = load_dataset("words")
    model = get_embedder(MODEL)
    vectors = embed_dataset(words, model).astype(np.float64)
    q = model.embed([query])[0].astype(np.float64)
    cos = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    return [words.labels[i] for i in np.argsort(-cos, kind="stable")[:k]]


def test_the_tab_lists_every_engine_and_waits_for_a_build(monkeypatch):
    real = _engines.list_engines

    def one_missing():
        infos = real()
        gone = dataclasses.replace(infos[-1], available=False, reason="not installed here")
        return [*infos[:-1], gone]

    monkeypatch.setattr(_engines, "list_engines", one_missing)
    at = engines()
    at.multiselect(key="engines_chosen").set_value([]).run()
    assert [i.value for i in at.info] == ["Choose at least one engine."]
    catalogue = tables(at, "engine", "runs here")[0]
    assert catalogue["runs here"].tolist()[-1] == "no: not installed here"
    expected = ["yes" if i.available else f"no: {i.reason}" for i in real()[:-1]]
    assert catalogue["runs here"].tolist()[:-1] == expected
    # Unavailable engines are not offered; exhaustive and hnswlib alone are preselected.
    offered = at.multiselect(key="engines_chosen").options
    assert catalogue["engine"].tolist()[-1] not in offered
    default = open_page("search", {"search_view": "Engines"})
    assert default.multiselect(key="engines_chosen").value == FEW
    assert set(default.multiselect(key="engines_chosen").options) > set(FEW)
    assert "Press **Build engines**" in default.info[0].value


def test_build_measures_every_engine_against_exhaustive():
    at = engines({"engines_k": "5"})
    at = build(at)
    assert not at.error
    table = frames(at, "engine", "ms/query")[0]
    assert table["engine"].tolist() == FEW
    exact = table.iloc[0]
    assert exact["recall@5"] == 1.0
    # 1,114 words × 256 float32 values: 1,024 bytes each, about 1.14 MB.
    assert exact["B/vector"] == 1024 and exact["index MB"] == pytest.approx(1.14, abs=0.01)
    hnsw = table.iloc[1]
    # The talk's values, the swept search parameter first.
    assert (hnsw["search"], hnsw["build (as asked)"]) == ("ef=50", "M=16, ef_construction=200")
    assert 0.9 <= hnsw["recall@5"] <= 1.0 and hnsw["B/vector"] > 1024
    (fig,) = figures(at)
    traces = {t["name"]: t for t in fig["data"]}
    assert array(traces["exhaustive"]["y"]).tolist() == [1.0]
    sweep = (12, 25, 50, 100, 200, 400, 800, 1600)  # 50 × ¼ … 32
    assert traces["hnswlib (ef)"]["text"] == [f"ef={v}" for v in sweep]
    assert all(0 <= r <= 1 for r in array(traces["hnswlib (ef)"]["y"]))
    # The log time axis is labelled in full at 1, 2, 5 × 10^k, spanning every point.
    x_axis, times = fig["layout"]["xaxis"], np.concatenate([array(t["x"]) for t in fig["data"]])
    ticks = np.array(x_axis["tickvals"])
    assert x_axis["ticktext"] == [f"{v:g}" for v in ticks]
    assert ticks.min() <= times.min() * 2.5 and ticks.max() >= times.max() / 2.5
    mantissas = ticks / 10.0 ** np.floor(np.log10(ticks) + 1e-9)
    assert set(np.round(mantissas, 6)) <= {1.0, 2.0, 5.0}
    # The recall axis fits the points (not 0 … 1): from just under the lowest to 1.02.
    recalls = np.concatenate([array(t["y"]) for t in fig["data"]])
    low, high = fig["layout"]["yaxis"]["range"]
    assert low == pytest.approx(min(recalls.min(), 0.9) - 0.02) and high == pytest.approx(1.02)
    # Each curve follows its swept parameter upwards, whatever the latencies do.
    swept = [int(t.split("=")[1]) for t in traces["hnswlib (ef)"]["text"]]
    assert swept == sorted(swept)
    # One query's top-k: the exhaustive column is numpy's brute force; hnswlib marked.
    topk = tables(at, "rank", "exhaustive")[0]
    assert topk["exhaustive"].tolist() == brute_force_top("a loyal dog", 5)
    assert all(cell[0] in "✅↕❌" for cell in topk["hnswlib"])
    assert "Top 5 for 'a loyal dog'" in texts(at)

    # A search parameter changes the measurement without a rebuild; the build is reused.
    at.number_input(key="engines_hnswlib_ef").set_value(5).run()
    again = frames(at, "engine", "ms/query")[0]
    assert again["search"].tolist()[1] == "ef=5"
    assert again["build s"].tolist() == table["build s"].tolist()

    # The query box is the Search page's; an empty one warns.
    at.text_input(key="search_query").set_value("   ").run()
    assert any("The query is empty" in w.value for w in at.warning)


def test_the_sweep_draws_the_rescoring_factor_curve():
    """IVF-PQ re-ranked by the full vectors: its chart curve is the rescoring factor
    (k_factor) swept, and more candidates re-ranked never lowers recall much."""
    chosen = ["exhaustive", "faiss-ivfpq-rerank"]
    at = engines({"engines_k": "10"}, chosen)
    # Every cell probed, so the codes alone limit recall and re-ranking more lifts it.
    at.number_input(key="engines_faiss_ivfpq_rerank_nprobe").set_value(64).run()
    at = build(at)
    assert not at.error
    (fig,) = figures(at)
    traces = {t["name"]: t for t in fig["data"]}
    curve = traces["faiss-ivfpq-rerank (k_factor)"]
    # Around the talk's rescoring factor, 4 (faiss's default, 1, would re-rank nothing).
    assert curve["text"] == [f"k_factor={v}" for v in (1, 2, 4, 8, 16, 32, 64, 100)]
    recalls = array(curve["y"])
    assert recalls[-1] >= 0.95 and recalls[-1] > recalls[0]
    row = frames(at, "engine", "ms/query")[0].set_index("engine").loc["faiss-ivfpq-rerank"]
    assert row["search"] == "k_factor=4, nprobe=64"
    assert row["recall@10"] == pytest.approx(recalls[2], abs=1e-3) and recalls[2] > recalls[0]
    # What the build lowered on 1,114 words × 256 dims is listed under the table.
    assert row["build (as asked)"] == "nlist=256, m=48, nbits=8"
    notes = [plain(c.value) for c in at.caption if "as built" in c.value]
    assert len(notes) == 1 and "m lowered from 48 to 32" in notes[0]
    assert "nlist lowered from 256 to" in notes[0] and "nbits lowered from 8 to" in notes[0]


def test_cancel_keeps_nothing_and_says_so(monkeypatch):
    at = engines({"engines_hnswlib_M": "7"}, chosen=["hnswlib"])
    at.button(key="engines_cancel").click().run()
    assert at.warning[0].value == "Build cancelled; the engines built before it are kept."
    assert _engines.CANCELLED not in at.session_state  # no build of this session was running
    # A Cancel pressed before Build does not stop the next build.
    at.session_state[_engines.CANCELLED] = True
    monkeypatch.setattr(_engines, "_cancelled", cancel_after_the_slot_is_taken)
    # A cancel that arrives while building stops it between chunks: nothing is kept.
    at = build(at)
    assert "Build cancelled" in at.warning[0].value
    assert _engines.CANCELLED not in at.session_state
    assert not at.session_state[_engines.BUILDING].is_set()
    assert "Press **Build engines**" in at.info[0].value
    assert not frames(at, "engine", "ms/query")


def test_synthetic_corpus_and_held_out_queries():
    at = engines({"engines_source": "synthetic", "engines_n": "1000"}, chosen=["exhaustive"])
    at = build(at)
    table = frames(at, "engine", "ms/query")[0]
    assert table["B/vector"].tolist() == [1024] and table["recall@10"].tolist() == [1.0]
    first = tables(at, "rank", "exhaustive")[0]["exhaustive"].tolist()
    assert all(label.startswith("#") for label in first)
    at.slider(key="engines_query").set_value(2).run()
    second = tables(at, "rank", "exhaustive")[0]["exhaustive"].tolist()
    assert second != first
    assert "held-out query 2" in texts(at)


def test_tiled_corpus_marks_the_copies():
    at = engines({"engines_source": "tiled", "engines_n": "2000"}, chosen=["exhaustive"])
    at = build(at)
    assert frames(at, "engine", "ms/query")[0]["B/vector"].tolist() == [1024]
    labels = tables(at, "rank", "exhaustive")[0]["exhaustive"].tolist()
    assert len(labels) == 10 and all(isinstance(x, str) and x for x in labels)


def test_memory_guard_refuses_what_would_not_fit(monkeypatch):
    tiny = MemInfo(total=2 << 30, available=1 << 30)
    monkeypatch.setattr(storage, "read_meminfo", lambda: tiny)
    at = engines({"engines_source": "synthetic", "engines_n": "1000000"})
    assert at.error and plain(at.error[0].value).startswith("Refused: N = 1,000,000")
    assert "engines_build" not in [b.key for b in at.button]  # nothing to build


def test_a_failing_engine_is_reported_and_the_rest_measured(monkeypatch):
    real = _engines.get_engine

    def refusing(name, **params):
        if name == "hnswlib":
            raise ExplorerError("hnswlib refuses for this test.")
        return real(name, **params)

    monkeypatch.setattr(_engines, "get_engine", refusing)
    at = engines({"engines_hnswlib_M": "9"})
    at = build(at)
    assert [plain(e.value) for e in at.error] == ["hnswlib: hnswlib refuses for this test."]
    assert frames(at, "engine", "ms/query")[0]["engine"].tolist() == ["exhaustive"]


def test_bad_deep_links_are_ignored_with_a_warning():
    at = engines({"engines_k": "0", "engines_source": "nowhere"})
    shown = " ".join(w.value for w in at.warning)
    assert "engines_k" in shown and "engines_source" in shown
    assert at.selectbox(key="engines_source").value == "as-is"


def test_cloud_settings_follow_the_choices():
    at = engines()
    code = [c.value for c in at.code]
    assert any('"hnswParameters"' in c and '"m": 10' in c for c in code)  # M=16 moved into 4…10
    assert any("USING hnsw (embedding vector_cosine_ops)" in c for c in code)
    at.radio(key="engines_cloud_quant").set_value("binary")
    at.selectbox(key="engines_cloud_mrl").set_value(128)
    at.slider(key="engines_cloud_over").set_value(8).run()
    code = [c.value for c in at.code]
    azure = next(c for c in code if "vectorSearch" in c)
    assert '"kind": "binaryQuantization"' in azure and '"truncationDimension": 128' in azure
    assert '"defaultOversampling": 8.0' in azure
    pg = next(c for c in code if "CREATE TABLE" in c)
    assert "bit_hamming_ops" in pg and "LIMIT 80" in pg
    at.toggle(key="engines_cloud_rescore").set_value(False)
    at.selectbox(key="engines_cloud_metric").set_value("manhattan").run()
    refused = [plain(w.value) for w in at.warning if "cannot express" in plain(w.value)]
    assert [r.split(" cannot")[0] for r in refused] == ["Azure AI Search", "Azure Cosmos DB"]
    downloads = [b for b in at.get("download_button") if b.key.startswith("engines_download")]
    assert [b.label for b in downloads] == [
        "Download qdrant.txt",
        "Download weaviate.txt",
        "Download pgvector.sql",
    ]  # the systems that have a manhattan metric
    assert "PostgreSQL + pgvector, step by step" in " ".join(e.label for e in at.expander)


@pytest.mark.slow
def test_a_cloud_setting_reruns_its_section_alone_on_a_real_server(server):
    """The cloud settings are a fragment: over a real server's websocket, the oversampling
    slider reruns that section alone, its exports follow it, and the URL keeps every setting
    (its link reopens them)."""

    async def scenario():
        query = {"search_view": "Engines", "engines_cloud_quant": "binary"}
        async with fragments.Session(server.url, "search", query) as tab:
            await tab.run()
            changed = await tab.run("engines_cloud_over", double_array_value=8)
            fragments._only_the_fragment(changed, tab, "engines_cloud_over")
            link = tab.url_query()
        async with fragments.Session(server.url, "search", link) as other:
            return changed, await other.run(), link

    changed, reopened, link = run_in_own_thread(scenario())
    for run in (changed, reopened):
        azure = next(c.code_text for c in run.elements["code"] if "vectorSearch" in c.code_text)
        assert '"defaultOversampling": 8.0' in azure and '"kind": "binaryQuantization"' in azure
    assert link["engines_cloud_over"] == ["8"] and link["engines_cloud_quant"] == ["binary"]
    assert link["search_view"] == ["Engines"] and link["engines_k"] == ["10"]


def test_presenter_mode_draws_the_chart_first():
    at = engines({"present": "1", "engines_hnswlib_ef": "60"}, chosen=["exhaustive"])
    at = build(at)
    (fig,) = figures(at)
    look = (fig["layout"]["height"], fig["layout"]["font"]["size"])
    assert look == (_engines.PRESENTER_CHART, 18)
    # The folded sections are one row of popovers under the chart, the table among them.
    popovers = [p.proto.popover.label for p in at.get("popover")]
    assert popovers == [
        "Every engine",
        "Cloud settings",
        "The table",
        "One query",
        "pgvector, step by step",
    ]
    assert not set(_engines.SHORT) & {e.label for e in at.expander}
    # The chart is cached per content and presenter mode: leaving it redraws it small, and
    # coming back draws the presenter's again.
    for present, look in ((False, (380, 13)), (True, (_engines.PRESENTER_CHART, 18))):
        at.session_state["present"] = present
        at.run()
        (fig,) = figures(at)
        assert (fig["layout"]["height"], fig["layout"]["font"]["size"]) == look


def test_another_model_and_a_second_session_share_the_built_index():
    at = engines({"engines_hnswlib_ef_construction": "90"})
    at.selectbox(key="engines_model").set_value("all-MiniLM-L6-v2").run()
    at = build(at)
    table = frames(at, "engine", "ms/query")[0]
    assert table["B/vector"].tolist()[0] == 384 * 4  # the float32 vectors of MiniLM
    # A second session with the same choices finds the engines built (kept per server).
    other = engines({"engines_hnswlib_ef_construction": "90", "engines_model": "all-MiniLM-L6-v2"})
    again = frames(other, "engine", "ms/query")[0]
    assert again["build s"].tolist() == table["build s"].tolist()
    assert not [i.value for i in other.info if "Press **Build engines**" in i.value]


def test_a_dataset_too_small_to_measure_points_to_the_corpora(monkeypatch):
    monkeypatch.setattr(corpora, "MIN_N", 2000)  # words has 1,114 items
    at = engines()
    assert [plain(e.value) for e in at.error] == [
        "words has 1114 items; measuring engines needs at least 2,000: choose a scale-lab "
        "corpus under Vectors."
    ]


def cancel_after_the_slot_is_taken() -> bool:
    """The build's should_stop when Cancel is pressed while it runs (the build cleared the
    flag when it started)."""
    assert st.session_state[_engines.BUILDING].is_set()
    assert _engines.CANCELLED not in st.session_state
    st.session_state[_engines.CANCELLED] = True
    return True


def test_cancel_waits_for_this_sessions_running_build_before_clearing_its_flag(monkeypatch):
    """With fast reruns, Cancel's run starts while the build's run is still stopping: the
    flag stays until the build has ended, so the build still sees it."""
    monkeypatch.setattr(_engines, "CANCEL_WAIT", 0.2)
    at = engines({"engines_hnswlib_M": "7"}, chosen=["hnswlib"])
    building = threading.Event()
    building.set()  # the stopping run's build
    at.session_state[_engines.BUILDING] = building
    at.button(key="engines_cancel").click().run()
    assert at.warning[0].value == "Build cancelled; the engines built before it are kept."
    assert at.session_state[_engines.CANCELLED]
    building.clear()  # the build ended
    at.run()
    assert at.warning[0].value == "Build cancelled; the engines built before it are kept."
    assert _engines.CANCELLED not in at.session_state
    at.run()
    assert not at.warning


def test_a_scale_lab_corpus_is_made_by_build_and_cancel_stops_it(monkeypatch):
    _engines._corpora().kept.clear()  # the server keeps none
    params = {"engines_source": "synthetic", "engines_n": "2000"}
    at = engines(params, chosen=["exhaustive"])
    key = "synthetic:2000:256"
    assert _engines._corpora().get(key) is None  # opening the tab makes nothing
    assert "Press **Build engines**" in at.info[0].value
    assert "PostgreSQL + pgvector, step by step" not in [e.label for e in at.expander]
    # A Cancel that arrives while the corpus is made stops it: nothing is kept.
    monkeypatch.setattr(_engines, "_cancelled", cancel_after_the_slot_is_taken)
    at = build(at)
    assert "Build cancelled" in at.warning[0].value
    assert _engines._corpora().get(key) is None
    monkeypatch.undo()
    at = build(at)
    corpus = _engines._corpora().get(key)
    assert corpus is not None and corpus.vectors.shape == (2000, 256)
    assert frames(at, "engine", "ms/query")[0]["recall@10"].tolist() == [1.0]
    assert "PostgreSQL + pgvector, step by step" in [e.label for e in at.expander]
    # A kept corpus is not counted again in the memory estimate.
    infos = [i for i in _engines.list_engines() if i.name == "exhaustive"]
    fresh, kept = (_engines._estimate(2000, 256, infos, c) for c in (False, True))
    assert fresh.total - kept.total == 2000 * 256 * 4


def test_one_long_job_per_server():
    at = engines({"engines_hnswlib_M": "11"}, chosen=["hnswlib"])
    jobs = _ui._jobs()
    jobs.slot.acquire()  # another session's build, upload embedding or pgvector run
    jobs.running = "embedding an upload"
    try:
        at = build(at)
    finally:
        jobs.running = ""
        jobs.slot.release()
    busy = "The server is busy with embedding an upload for another session: press again"
    assert [plain(i.value) for i in at.info if "busy" in i.value][0].startswith(busy)
    assert not frames(at, "engine", "ms/query")
    at = build(at)
    assert frames(at, "engine", "ms/query")[0]["engine"].tolist() == ["hnswlib"]


def _small_engine(seed: int):
    vectors = np.random.default_rng(seed).standard_normal((100, 8)).astype(np.float32)
    return get_engine("exhaustive").build(vectors)  # 100 × 8 float32: 3,200 bytes


def test_kept_engines_stay_within_the_byte_budget_and_evicted_ones_close():
    store = _engines._Store()
    a, b, c = (_small_engine(i) for i in range(3))
    assert a.index_bytes == 3200
    assert store.put(("v", "a", ()), a, budget=7000) == []
    assert store.put(("v", "b", ()), b, budget=7000) == []
    with store.using(("v", "a", ())) as used:  # a is now the most recently used
        assert used is a
    assert store.put(("v", "c", ()), c, budget=7000) == [("v", "b", ())]
    assert not b.built and a.built and c.built  # the evicted engine was closed
    assert store.kept_bytes() == 6400 and not store.has(("v", "b", ()))
    # The newest stays even when it alone is over the budget.
    d = _small_engine(3)
    assert store.put(("v", "d", ()), d, budget=100) == [("v", "a", ()), ("v", "c", ())]
    assert d.built and not a.built and not c.built and store.kept_bytes() == 3200


def test_an_engine_in_use_is_closed_only_when_its_last_user_leaves():
    store = _engines._Store()
    a, b = _small_engine(0), _small_engine(1)
    store.put(("v", "a", ()), a, budget=10_000)
    with store.using(("v", "a", ())) as first, store.using(("v", "a", ())) as second:
        assert first is second is a
        assert store.put(("v", "b", ()), b, budget=4000) == [("v", "a", ())]
        assert a.built  # two sessions are still searching it
    assert not a.built
    with store.using(("v", "a", ())) as gone:
        assert gone is None


def test_the_tab_keeps_engines_within_its_memory_budget(monkeypatch):
    monkeypatch.setattr(_engines, "_budget", lambda store, new: 0)  # the newest only
    at = engines({"engines_hnswlib_M": "13"})
    at = build(at)
    assert frames(at, "engine", "ms/query")[0]["engine"].tolist() == ["hnswlib"]


def test_budget_is_a_share_of_the_memory_a_build_may_use(monkeypatch):
    mem = MemInfo(total=10 << 30, available=6 << 30)  # reserve 2 GiB: a build may use 4
    monkeypatch.setattr(storage, "read_meminfo", lambda: mem)
    store = _engines._Store()
    store.put(("v", "a", ()), _small_engine(0), budget=10_000)
    assert _engines._budget(store, 100) == int(_engines.ENGINES_SHARE * ((4 << 30) + 3300))


def test_the_bar_names_the_steps_without_progress(monkeypatch):
    seen: list[str] = []

    class Bar:
        def progress(self, fraction: float, text: str) -> None:
            assert 0.0 <= fraction <= 1.0
            seen.append(text)

    monkeypatch.setitem(_engines.TRAINED_FIRST, "exhaustive", "training nothing")
    monkeypatch.setattr(_engines, "_budget", lambda store, new: 1 << 40)
    vectors = np.random.default_rng(5).standard_normal((300, 8)).astype(np.float32)
    data = _engines._Data(corpora.Corpus(vectors, vectors[:5]), "bar-test", str)
    infos = {i.name: i for i in _engines.list_engines()}
    monkeypatch.setattr(_engines, "_params", lambda info, specs: ())
    for done, name in enumerate(["exhaustive", "hnswlib"]):
        _engines._build_one(data, infos[name], Bar(), done, 2)
    assert seen[0] == "exhaustive: training nothing (no progress to show; Cancel stops it)…"
    assert seen[-1] == "hnswlib: 300 of 300 vectors indexed"


def test_the_job_slot_is_freed_however_the_job_ends():
    jobs = _ui._jobs()
    with pytest.raises(RuntimeError), _ui.server_job("a failing job") as mine:
        assert mine and jobs.running == "a failing job"
        raise RuntimeError("the job failed")
    assert jobs.running == "" and jobs.slot.acquire(blocking=False)
    jobs.slot.release()


def test_the_estimate_counts_the_largest_ivf_training_sample():
    """At 100,000 × 384, faiss-ivfflat's nlist 256 samples 65,536 rows to train on (100 MB);
    engines build one at a time, so only the largest sample is counted."""
    infos = {i.name: i for i in _engines.list_engines()}
    hnsw = _engines._estimate(100_000, 384, [infos["hnswlib"]])
    ivf = [infos["hnswlib"], infos["faiss-ivfflat"], infos["faiss-ivfpq"]]
    with_ivf = _engines._estimate(100_000, 384, ivf)
    sample = 256 * 256 * 384 * 4
    assert with_ivf.total - hnsw.total == 2 * 100_000 * 384 * 4 + sample


@pytest.mark.parametrize(
    ("recalls", "expected_range", "expected_ticks"),
    [
        # One exact point: a tenth under it, ticks every 0.02, none above 1.
        ([1.0], (0.88, 1.02), [0.88, 0.9, 0.92, 0.94, 0.96, 0.98, 1.0]),
        # A sweep from 0.3: the whole climb, ticks every 0.2.
        ([0.3, 0.6, 0.9, 1.0], (0.28, 1.02), [0.4, 0.6, 0.8, 1.0]),
        # Nothing near 1: the axis stops just over the best point.
        ([0.5, 0.62, 0.74], (0.48, 0.76), [0.5, 0.55, 0.6, 0.65, 0.7, 0.75]),
        ([0.0, 0.5], (-0.02, 0.52), [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]),
    ],
)
def test_recall_axis_fits_the_points(recalls, expected_range, expected_ticks):
    axis = _engines.recall_axis(recalls)
    assert axis["range"] == pytest.approx(expected_range)
    assert axis["tickvals"] == pytest.approx(expected_ticks)
    assert axis["ticktext"] == [f"{t:g}" for t in axis["tickvals"]]


def test_recall_axis_without_points_is_plotlys():
    assert _engines.recall_axis([]) == {}


@given(st_.lists(st_.floats(0.0, 1.0), min_size=1, max_size=40))
def test_recall_axis_holds_every_point_and_stops_at_one(recalls):
    axis = _engines.recall_axis(recalls)
    low, high = axis["range"]
    margin = _engines.RECALL_MARGIN
    assert low <= min(recalls) - margin + 1e-9 and max(recalls) + margin <= high + 1e-9
    assert high <= 1.0 + margin + 1e-9 and low >= -margin - 1e-9
    assert high - low >= _engines.RECALL_SPAN + 2 * margin - 1e-9
    ticks = axis["tickvals"]
    assert 3 <= len(ticks) <= 9 and all(max(low, 0) <= t <= min(high, 1) + 1e-9 for t in ticks)
    assert np.allclose(np.diff(ticks), ticks[1] - ticks[0])
