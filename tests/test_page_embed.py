"""AppTest of the Embed page: each model's numbers and bars, checked against the reference
MiniLM vectors and against the models called directly; the table of every model."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.embedders.registry import LOCAL_FACTORIES, get_embedder
from tests.page_helpers import array, figures, open_page, plain

REF = Path(__file__).resolve().parents[1].parent / "shared" / "ref"
MODELS = ["static-minilm-256", "all-MiniLM-L6-v2"]  # the sidebar's default choice
# Every local model, shortest vectors first, as the page orders them by default.
LOCAL = sorted(LOCAL_FACTORIES, key=lambda m: get_embedder(m).dims)
TWO = {"embed_all": "0"}  # only the sidebar's models
# First values of sentence-transformers' all-MiniLM-L6-v2 vector for "queen", rounded to 5
# decimals from ../shared/ref/minilm_reference.json, so a check runs without ../shared too.
QUEEN_MINILM_FIRST = [0.03549, -0.0656, -0.00993, 0.03159, -0.01339, 0.02889]


@pytest.fixture(scope="module")
def reference() -> dict[str, list[float]]:
    path = REF / "minilm_reference.json"
    if not path.exists():
        pytest.skip("../shared/ref is absent")
    return json.loads(path.read_text())["vectors"]


def _bars(at) -> dict[str, np.ndarray]:
    return {t["name"]: array(t["y"]) for t in figures(at)[0]["data"]}


def test_default_shows_queen_in_every_local_model() -> None:
    at = open_page("embed")
    assert at.text_input(key="embed_text").value == "queen"
    assert at.toggle(key="embed_all").value is True
    dims = [int(m.value) for m in at.metric if m.label == "dimensions"]
    assert dims == sorted(get_embedder(m).dims for m in LOCAL)
    assert {50, 256, 384} <= set(dims)
    bars = _bars(at)
    assert list(bars) == LOCAL
    for model, values in bars.items():
        direct = get_embedder(model).embed(["queen"])[0]
        np.testing.assert_allclose(values, direct, rtol=1e-6)
        norm = next(
            m.value
            for i, m in enumerate(at.metric)
            if m.label == "norm ‖v‖" and i // 3 == LOCAL.index(model)
        )
        assert float(norm) == pytest.approx(np.linalg.norm(direct), abs=1e-4)
    assert [plain(s.value) for s in at.subheader][: len(LOCAL)] == LOCAL
    timing = _timing(at)
    assert all(ms > 0 for ms in _milliseconds(timing).values())
    assert set(_milliseconds(timing)) == set(LOCAL)
    # A rerun takes the vectors from the cache and shows the time embedding took, not the
    # cache lookup's.
    at.run()
    assert _timing(at) == timing


def _timing(at) -> str:
    return next(plain(c.value) for c in at.caption if c.value.startswith("Time to embed"))


def _milliseconds(timing: str) -> dict[str, float]:
    """``{model: ms}`` of the timing caption's measured entries."""
    found = re.findall(r"(?:: | · )(\S+) ([\d,.]+) ms", timing)
    return {model: float(ms.replace(",", "")) for model, ms in found}


def test_the_toggle_limits_the_page_to_the_sidebars_models() -> None:
    at = open_page("embed")
    at.toggle(key="embed_all").set_value(False).run()
    assert not at.exception
    assert list(_bars(at)) == MODELS
    assert [m.value for m in at.metric if m.label == "norm ‖v‖"] == ["1.0000", "1.0000"]
    at.sidebar.multiselect(key="models").set_value([]).run()
    assert not at.exception
    assert any("turn on every local model" in i.value for i in at.info)


def test_minilm_first_values_match_sentence_transformers() -> None:
    at = open_page("embed")
    np.testing.assert_allclose(_bars(at)["all-MiniLM-L6-v2"][:6], QUEEN_MINILM_FIRST, atol=2e-4)
    listed = [m.value for m in at.markdown if m.value.startswith("First 8 values")]
    assert "+0.0355, -0.0656, -0.0099, +0.0316" in listed[LOCAL.index("all-MiniLM-L6-v2")]


def test_minilm_bars_match_the_reference_vector(reference) -> None:
    at = open_page("embed")
    shown = _bars(at)["all-MiniLM-L6-v2"]
    ref = np.array(reference["queen"])
    assert shown @ ref / (np.linalg.norm(shown) * np.linalg.norm(ref)) >= 0.9999


def test_json_copy_holds_the_same_vector() -> None:
    at = open_page("embed", TWO)
    assert not [c for c in at.get("code") if c.proto.language == "json"]  # only when asked
    at.toggle(key="embed_json").set_value(True).run()
    assert at.query_params["embed_json"] == "1"
    payloads = [json.loads(c.proto.code_text) for c in at.get("code") if c.proto.language == "json"]
    assert [list(p) for p in payloads] == [["queen"], ["queen"]]
    bars = _bars(at)
    for payload, model in zip(payloads, MODELS, strict=True):
        np.testing.assert_array_equal(np.array(payload["queen"], dtype=np.float32), bars[model])
    assert len(at.get("download_button")) == 2


def test_long_text_warns_about_truncation(reference) -> None:
    long_text = next(t for t in reference if len(t) > 1000)
    at = open_page("embed", TWO)
    at.text_input(key="embed_text").input(long_text).run()
    assert not at.exception
    assert any("only read the first 256" in w.value for w in at.warning)
    shown = _bars(at)["all-MiniLM-L6-v2"]
    ref = np.array(reference[long_text])
    assert shown @ ref / np.linalg.norm(ref) >= 0.9999


def _table(at) -> pd.DataFrame:
    return at.dataframe[0].value.set_index("model")


def test_empty_text_warns_and_the_model_table_still_shows() -> None:
    at = open_page("embed")
    at.text_input(key="embed_text").input("  ").run()
    assert not at.exception
    assert any("text is empty" in w.value for w in at.warning)
    assert not at.get("plotly_chart")
    assert set(LOCAL) <= set(_table(at).index)


def test_model_table_lists_every_model_with_its_facts() -> None:
    at = open_page("embed")
    table = _table(at)
    assert table.loc["static-minilm-256", "dimensions"] == "256"
    assert table.loc["all-MiniLM-L6-v2", "max input (tokens)"] == "256"
    assert table.loc["static-minilm-256", "MRL (truncatable)"] == "yes"
    for model in LOCAL:
        assert table.loc[model, "kind"] == "local"
        assert table.loc[model, "size on disk"].endswith("MB")
    talk = table[table["kind"] == "reference (the talk)"]
    assert talk.loc["text-embedding-3-large", "dimensions"] == "256–3072"
    assert talk.loc["text-embedding-ada-002", "MTEB avg"] == "61.0 %"
    assert talk.loc["word2vec", "dimensions"] == "300"
    about = " ".join(m.value for m in at.markdown)
    assert "MiniLM" in about and "not run here" in talk.loc["word2vec", "runs"]
    if "glove-6b-50d" in table.index:
        assert table.loc["glove-6b-50d", "encodes"].startswith("words")


def test_one_model_from_a_deep_link() -> None:
    at = open_page("embed", {"embed_text": "king", "models": "all-MiniLM-L6-v2", **TWO})
    assert at.text_input(key="embed_text").value == "king"
    bars = _bars(at)
    assert list(bars) == ["all-MiniLM-L6-v2"]
    np.testing.assert_allclose(
        bars["all-MiniLM-L6-v2"], get_embedder("all-MiniLM-L6-v2").embed(["king"])[0], rtol=1e-6
    )
    code = at.get("code")[-1].proto.code_text
    assert "get_embedder('all-MiniLM-L6-v2').embed(['king'])" in code


def test_presenter_mode() -> None:
    at = open_page("embed", {"present": "1"})
    figure = figures(at)[0]["layout"]
    assert figure["font"]["size"] == 18
    # Every model's bars share the screen between the text box and one row of controls.
    assert figure["height"] == 440
    assert any("<style>" in m.value for m in at.markdown)


def _vector_file(name: str, labels: list[str], dims: int, unit: bool, seed: int):
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(len(labels), dims)).astype(np.float32)
    if unit:
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    data = {label: [float(v) for v in row] for label, row in zip(labels, rows, strict=True)}
    return (name, json.dumps(data).encode(), "application/json"), rows


def test_uploaded_vector_files_show_their_stored_vectors_and_join_the_table() -> None:
    labels = ["queen", "king", "dog", "cat"]
    small, small_rows = _vector_file("small.json", labels, 8, unit=True, seed=1)
    raw, raw_rows = _vector_file("raw.json", labels, 12, unit=False, seed=2)
    at = open_page("embed", {"dataset": "upload", "embed_all": "0"})
    at.sidebar.file_uploader(key="upload_file").set_value([small, raw]).run()
    assert not at.exception, [e.message for e in at.exception]
    bars = _bars(at)
    uploaded = [m for m in bars if "small.json" in m or "raw.json" in m]
    assert len(uploaded) == 2
    shown = {("small" if "small" in m else "raw"): bars[m] for m in uploaded}
    np.testing.assert_array_equal(shown["small"], small_rows[0])
    np.testing.assert_array_equal(shown["raw"], raw_rows[0])
    # Nothing embedded the stored vectors here: no time is shown for them.
    timing = _timing(at)
    assert timing.count("– (stored in the file)") == 2
    assert not set(_milliseconds(timing)) & set(uploaded)
    table = _table(at)
    rows = table[table["kind"] == "uploaded"]
    assert sorted(rows["dimensions"]) == ["12", "8"]
    assert sorted(rows["unit length"]) == ["no", "yes"]
    # Free text is not an item of the files: said, not faked.
    at.text_input(key="embed_text").input("a royal woman").run()
    assert not at.exception
    assert any("cannot embed new text" in plain(i.value) for i in at.info)
    assert not [m for m in _bars(at) if "json" in m]


@pytest.fixture
def classroom_server(tmp_path, monkeypatch):
    """The classroom embeddings server on loopback serving static-minilm-256, with a private
    disk cache for hosted vectors: its base URL."""
    from core.serve import ServeSettings, create_app, load_local_models, serve_in_thread

    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    app = create_app(load_local_models(["static-minilm-256"]), ServeSettings(api_key="sk-t-1"))
    with serve_in_thread(app) as url:
        yield url


def test_a_hosted_models_time_says_when_its_vector_came_from_its_disk_cache(classroom_server):
    at = open_page("embed", {"models": "static-minilm-256", "embed_all": "0"})
    at.selectbox(key="rf_provider").select("compatible")
    at.text_input(key="rf_model").input("static-minilm-256")
    at.text_input(key="rf_base_url").input(f"{classroom_server}/v1")
    at.text_input(key="rf_key").input("sk-t-1")
    next(b for b in at.button if b.label == "Add model").click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    hosted = "compatible:static-minilm-256"
    first = _timing(at)
    assert hosted in _milliseconds(first) and "disk cache" not in first
    at.text_input(key="embed_text").input("king").run()
    at.text_input(key="embed_text").input("queen").run()  # sent once already: on disk now
    again = _timing(at)
    assert f"{hosted} " in again and "(read from its disk cache)" in again
    assert _milliseconds(again)["static-minilm-256"] == _milliseconds(first)["static-minilm-256"]


def _code(at) -> str:
    (code,) = [c.proto.code_text for c in at.get("code") if c.proto.language == "python"]
    return code


def test_code_starts_with_the_talks_openai_call_then_this_projects_models() -> None:
    at = open_page("embed", TWO)
    code = _code(at)
    call = (
        "response = openai_client.embeddings.create(model='text-embedding-3-small', "
        "input=['queen'], dimensions=256)"
    )
    assert call in code
    assert code.index(call) < code.index("get_embedder('static-minilm-256').embed(['queen'])")
    assert "get_embedder('all-MiniLM-L6-v2').embed(['queen'])" in code
    ast.parse(code)  # one runnable snippet


def test_a_hosted_text_embedding_3_model_shows_the_talks_call_with_its_dimensions(
    tmp_path, monkeypatch
) -> None:
    from core.serve import ServeSettings, create_app, serve_in_thread

    # A stand-in for OpenAI on loopback: static-minilm-256 (MRL-ordered) under the talk's name.
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    served = {"text-embedding-3-small": get_embedder("static-minilm-256")}
    app = create_app(served, ServeSettings(api_key="sk-t-1"))
    with serve_in_thread(app) as url:
        at = open_page("embed", {"models": "static-minilm-256", "embed_all": "0"})
        at.selectbox(key="rf_provider").select("compatible")
        at.text_input(key="rf_model").input("text-embedding-3-small")
        at.text_input(key="rf_base_url").input(f"{url}/v1")
        at.text_input(key="rf_key").input("sk-t-1")
        at.number_input(key="rf_dims").set_value(128)
        next(b for b in at.button if b.label == "Add model").click()
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(figures(at)[0]["data"]) == 2
    code = _code(at)
    assert (
        "openai_client.embeddings.create(model='text-embedding-3-small', input=['queen'], "
        "dimensions=128)" in code
    )
    assert "dimensions=256" not in code  # the talk's example only stands in for no model
    assert code.count("embeddings.create") == 1
    assert "get_embedder('static-minilm-256').embed(['queen'])" in code


def test_presenter_mode_folds_the_numbers_into_a_popover_and_links_to_homes_table() -> None:
    at = open_page("embed", {"present": "1"})
    (numbers,) = at.get("popover")
    assert numbers.proto.popover.label == "Each model's numbers"
    assert [plain(s.value) for s in numbers.subheader] == LOCAL
    assert {m.label for m in numbers.metric} >= {"dimensions", "norm ‖v‖", "tokens"}
    assert not at.dataframe and "Every model, one table" not in [s.value for s in at.subheader]
    (home,) = at.get("page_link")
    assert home.proto.label == "Every model, one table"
    assert home.proto.page == ""  # the default page, Home
    assert "openai_client.embeddings.create" in _code(at)


def test_a_rerun_on_the_same_text_reuses_the_chart() -> None:
    at = open_page("embed", TWO)
    first = figures(at)[0]
    at.text_input(key="embed_text").input("king").run()
    assert figures(at)[0] != first
    at.text_input(key="embed_text").input("queen").run()
    assert figures(at)[0] == first


def test_presenter_mode_lists_the_first_values_of_one_or_two_models() -> None:
    at = open_page("embed", {"present": "1", "embed_all": "0", "embed_text": "dog"})
    assert figures(at)[0]["layout"]["height"] == 440 - 2 * 52
    bars = _bars(at)
    for model in MODELS:
        lines = [plain(m.value) for m in at.main.markdown]
        (line,) = [x for x in lines if x.startswith(f"**{model}**: ")]
        first = [float(v) for v in re.findall(r"[+-]\d\.\d{4}", line)]
        np.testing.assert_allclose(first, bars[model][:8], atol=5e-5)
    every = open_page("embed", {"present": "1"})  # four models: the chart takes the room
    assert figures(every)[0]["layout"]["height"] == 440
    assert not [m for m in every.main.markdown if plain(m.value).startswith("**all-MiniLM")]


def test_the_chart_follows_presenter_mode_both_ways() -> None:
    """The bars are built once per (vectors, presenter mode, height) and shared: switching
    presenter mode off restyles them at the normal height, and on again back."""
    at = open_page("embed", {"present": "1"})
    big = figures(at)[0]
    at.toggle(key="present").set_value(False).run()
    plain = figures(at)[0]
    n = len(plain["data"])
    assert (big["layout"]["font"]["size"], plain["layout"]["font"]["size"]) == (18, 13)
    assert plain["layout"]["height"] == 100 + 170 * n
    for a, b in zip(big["data"], plain["data"], strict=True):
        assert a["name"] == b["name"]
        np.testing.assert_array_equal(array(a["y"]), array(b["y"]))
    at.toggle(key="present").set_value(True).run()
    assert figures(at)[0]["layout"]["height"] == 440
