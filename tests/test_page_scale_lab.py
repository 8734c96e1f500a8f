"""AppTest of the scale lab section (``tests/scale_lab_app.py``: the words dataset under the
static model) at small N: build and plot, refusal of what would not fit, cancel and the
synthetic source, the talk's HNSW settings and deep links, the sentence on why int8 was slower
(with a stand-in runner whose numbers are known), presenter mode's one figure at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core import scalelab, storage
from core.scalelab import BuildStat, LabConfig, LabResult, LatencyPoint, size_ladder
from core.search import Method
from core.storage import MemInfo
from tests.page_helpers import array, figures, frames, plain
from views import _ui

GIB = 1 << 30
LAB_APP = Path(__file__).resolve().parent / "scale_lab_app.py"


def lab_app() -> AppTest:
    at = AppTest.from_file(str(LAB_APP), default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_app_builds_at_small_n_and_plots_the_numbers():
    at = lab_app()
    assert "Press **Build and measure**" in at.info[0].value
    at.select_slider(key="scale_n").set_value(2000)
    at.button(key="scale_build").click().run()
    assert not at.exception and not at.error
    latency, tradeoff, memory = figures(at)
    names = [m.value for m in Method]
    assert [t["name"] for t in latency["data"]] == names
    for trace in latency["data"]:
        np.testing.assert_array_equal(array(trace["x"]), [1000, 2000])
    # Time ticks at 1, 2 and 5 times powers of ten, labelled in full, around every point.
    y_axis = latency["layout"]["yaxis"]
    ticks = np.array(y_axis["tickvals"])
    mantissa = ticks / 10.0 ** np.floor(np.log10(ticks) + 1e-9)
    np.testing.assert_allclose(mantissa, np.round(mantissa))
    assert set(np.round(mantissa)) <= {1, 2, 5}
    assert y_axis["ticktext"] == [f"{v:g}" for v in ticks]
    times = np.concatenate([array(t["y"]) for t in latency["data"]])
    assert ticks.min() <= 2.5 * times.min() and ticks.max() >= times.max() / 2.5
    exact = next(t for t in tradeoff["data"] if t["name"] == "exhaustive float32")
    assert array(exact["y"]).tolist() == [1.0]
    assert [array(t["x"]).size for t in tradeoff["data"]] == [1, 5, 5, 6]
    # Memory bars: 2,000 vectors of 256 dims (static-minilm-256), in MB.
    vectors_mb, codes_mb = (
        2000 * 256 * 4 / 1e6,
        {"int8 + rescore": 0.512, "binary + rescore": 0.064},
    )
    index, kept = memory["data"]
    assert list(index["x"]) == names
    np.testing.assert_allclose(array(index["y"])[:3], [vectors_mb, *codes_mb.values()])
    np.testing.assert_allclose(array(kept["y"])[:3], [0, vectors_mb, vectors_mb])
    table = frames(at, "method", "bytes per vector")[0]
    assert table["bytes per vector"].tolist()[:3] == [1024, 1024 + 256, 1024 + 32]
    assert table["recall@10"].tolist()[0] == 1.0

    # Another session with the same choices gets the server's cached result at once.
    again = lab_app()
    again.select_slider(key="scale_n").set_value(2000).run()
    assert len(figures(again)) == 3 and not again.info


def test_app_refuses_what_would_not_fit(monkeypatch):
    monkeypatch.setattr(storage, "read_meminfo", lambda: MemInfo(2 * GIB, GIB + 300_000_000))
    at = lab_app()
    at.select_slider(key="scale_n").set_value(1_000_000).run()
    assert at.error[0].value.startswith("Refused: N = 1,000,000 × 256 needs about")
    assert "choose N ≤ " in at.error[0].value
    assert at.button(key="scale_build").disabled


def test_app_cancel_and_synthetic_source():
    at = lab_app()
    at.button(key="scale_cancel").click().run()
    assert at.warning[0].value == "Build cancelled; nothing was kept."
    at.radio(key="scale_source").set_value("synthetic")
    at.multiselect(key="scale_methods").set_value(["exhaustive float32", "binary + rescore"])
    at.select_slider(key="scale_n").set_value(1000)
    at.button(key="scale_build").click().run()
    assert not at.exception and not at.error and not at.warning
    latency = figures(at)[0]
    assert [t["name"] for t in latency["data"]] == ["exhaustive float32", "binary + rescore"]
    assert latency["layout"]["xaxis"]["type"] == latency["layout"]["yaxis"]["type"] == "log"


def test_hnsw_settings_default_to_the_talks_and_a_deep_link_sets_them():
    at = lab_app()
    keys = ("scale_m", "scale_efc", "scale_ef")
    assert [at.select_slider(key=k).value for k in keys] == [16, 200, 50]
    for key, talk in zip(keys, ("16", "200", "50"), strict=True):
        assert talk in at.select_slider(key=key).options  # one move reaches the talk's value
    at = AppTest.from_file(str(LAB_APP), default_timeout=120)
    at.query_params.update(scale_m="32", scale_efc="100", scale_ef="200", scale_n="1000")
    at.run()
    assert not at.warning
    assert [at.select_slider(key=k).value for k in keys] == [32, 100, 200]
    at.button(key="scale_build").click().run()
    assert not at.exception and not at.error
    assert any("HNSW uses ef = 200" in c.value for c in at.caption)
    at = AppTest.from_file(str(LAB_APP), default_timeout=120)
    at.query_params["scale_ef"] = "64"  # not a stop of the slider
    at.run()
    assert "scale_ef='64'" in at.warning[0].value
    assert at.select_slider(key="scale_ef").value == 50


def fake_run(slow_int8: tuple[int, ...]):
    """A stand-in for scalelab.run_lab: float32 takes 0.1 ms per 1,000 vectors, int8 +
    rescore twice that at the N in ``slow_int8`` and half of it elsewhere."""

    def run_lab(config: LabConfig, *args, **kwargs) -> LabResult:
        latency = []
        for n in size_ladder(config.n):
            exact = 0.1 * n / 1000
            for method in config.methods:
                ms = exact
                if method is Method.INT8:
                    ms = 2 * exact if n in slow_int8 else exact / 2
                latency.append(LatencyPoint(method, n, ms, 1.0))
        builds = tuple(BuildStat(m, 0.1, 1000, 0) for m in config.methods)
        estimate = storage.estimate_memory(config.n, config.dims, config.methods, config.hnsw_m)
        return LabResult(config, estimate, tuple(latency), (), builds, 1.0)

    return run_lab


def test_the_lab_says_why_int8_was_slower_at_small_n(monkeypatch):
    monkeypatch.setattr(scalelab, "run_lab", fake_run(slow_int8=(1000, 5000, 50_000)))
    at = lab_app()
    at.radio(key="scale_source").set_value("synthetic")
    at.multiselect(key="scale_methods").set_value(["exhaustive float32", "int8 + rescore"])
    at.select_slider(key="scale_n").set_value(50_000)
    at.button(key="scale_build").click().run()
    assert not at.exception and not at.error
    (why,) = [m.value for m in at.markdown if "slower than exhaustive float32" in m.value]
    # Only below the compiled kernels' threshold (20,000 rows) is the reason the numpy scan.
    assert why.startswith(
        "int8 + rescore is slower than exhaustive float32 here at N = 1,000, 5,000 "
    )
    assert "below 20,000 vectors its codes are scanned in plain numpy" in why
    monkeypatch.setattr(scalelab, "run_lab", fake_run(slow_int8=()))
    at.select_slider(key="scale_n").set_value(20_000)
    at.button(key="scale_build").click().run()
    assert not [m for m in at.markdown if "slower than exhaustive" in m.value]


def test_presenter_mode_folds_the_intro_and_shows_one_figure_at_a_time(monkeypatch):
    monkeypatch.setattr(scalelab, "run_lab", fake_run(slow_int8=(1000,)))
    at = AppTest.from_file(str(LAB_APP), default_timeout=120)
    at.query_params.update(present="1", scale_source="synthetic", scale_n="2000")
    at.run()
    assert not at.exception
    assert not at.subheader
    assert [e.label for e in at.expander] == [
        "What the scale lab measures",
        "HNSW and rescoring settings",
    ]
    assert at.radio(key="scale_source").options == ["dataset, tiled", "synthetic", ".npy upload"]
    # The memory estimate moves into the Build button's tooltip.
    assert not [c for c in at.caption if c.value.startswith("Estimated peak memory")]
    assert at.button(key="scale_build").help.startswith("Estimated peak memory for N = 2,000")
    at.button(key="scale_build").click().run()
    assert not at.exception and not at.error
    assert at.radio(key="scale_show").value == "Latency against N"
    assert at.radio(key="scale_show").options == ["Latency", "Recall", "Memory", "Table"]
    (latency,) = figures(at)
    assert latency["layout"]["height"] == 250 and latency["layout"]["title"]["text"].startswith(
        "Latency"
    )
    assert "int8 + rescore is slower" in at.caption[-1].value
    at.radio(key="scale_show").set_value("Memory").run()
    (memory,) = figures(at)
    assert memory["layout"]["title"]["text"].startswith("Memory per method")
    at.radio(key="scale_show").set_value("Table").run()
    assert not figures(at) and len(frames(at, "method")[0]) == 4
    assert at.caption[-1].value.startswith("Measured in 1.0 s: 50 queries, each alone")


def test_a_scale_lab_build_waits_for_the_servers_one_long_job_slot():
    """An engine build, pgvector run or upload embedding of another session holds the slot:
    the lab does not run beside it on the server's cores."""
    at = lab_app()
    jobs = _ui._jobs()
    jobs.slot.acquire()
    jobs.running = "an engine build"
    try:
        at.button(key="scale_build").click().run()
    finally:
        jobs.running = ""
        jobs.slot.release()
    busy = "The server is busy with an engine build for another session: press again"
    assert [plain(i.value) for i in at.info if "busy" in i.value][0].startswith(busy)
    assert not figures(at)
    at.button(key="scale_build").click().run()  # once the slot is free, the lab runs
    assert figures(at) and not jobs.running and jobs.slot.acquire(blocking=False)
    jobs.slot.release()
