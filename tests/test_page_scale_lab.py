"""AppTest of the scale lab section (``tests/scale_lab_app.py``: the words dataset under the
static model) at small N: build and plot, refusal of what would not fit, cancel and the
synthetic source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core import storage
from core.search import Method
from core.storage import MemInfo
from tests.page_helpers import array, figures, frames

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
