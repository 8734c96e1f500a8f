"""AppTest of the Quantization page: codes, rankings and recall against numpy brute force (int8
codes and Hamming distances computed here from scratch), storage against sys.getsizeof of real
objects, the calculator, deep links, presenter mode and bad input."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tests.page_helpers import (
    array,
    figures,
    frames,
    metrics,
    open_page,
    presenter_styled,
    show_tab,
    texts,
)

STATIC = "static-minilm-256"
BEFORE, TOP_K, RESCORE, STORAGE = "Before and after", "Top-k", "Oversample and rescore", "Storage"


def show(at, view: str):
    return show_tab(at, "quant_view", view)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def int8_codes(unit: np.ndarray, per_dim: bool = False) -> np.ndarray:
    axis = 0 if per_dim else None
    low, high = unit.min(axis=axis), unit.max(axis=axis)
    return (np.clip(np.rint((unit - low) / ((high - low) / 255)), 0, 255) - 128).astype(np.int64)


def ranked(scores: np.ndarray, higher_is_closer: bool) -> np.ndarray:
    """Each row's columns best first (ties: lower column), the diagonal (self) last."""
    key = -scores if higher_is_closer else scores.astype(np.float64)
    key = key.astype(np.float64)
    np.fill_diagonal(key, np.inf)
    return np.argsort(key, axis=1, kind="stable")


def overlap(reference: np.ndarray, found: np.ndarray) -> float:
    return float(
        np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(reference, found, strict=True)])
    )


def hamming(bits: np.ndarray) -> np.ndarray:
    b = bits.astype(np.int64)
    return b @ (1 - b).T + (1 - b) @ b.T


def code_cosines(codes: np.ndarray) -> np.ndarray:
    """Cosine similarity of code vectors taken as ordinary vectors (the talk's notebooks)."""
    c = codes.astype(np.float64)
    return unit(c) @ unit(c).T


@pytest.mark.parametrize("score", ["cosine", "native"])
def test_int8_values_ranking_and_recall(words_static_unit, score: str) -> None:
    labels, unit = words_static_unit
    # The default ranks codes by their cosine, as the talk does; "native" by the int8 dot product.
    at = open_page("quantization", {} if score == "cosine" else {"quant_score": score})
    row = labels.index("queen")
    codes = int8_codes(unit)
    values = frames(at, "dim 0", "dim 7")[0]
    np.testing.assert_allclose(values.loc["float"], unit[row, :8], atol=1e-6)
    assert values.loc["int8"].astype(int).tolist() == codes[row, :8].tolist()
    np.testing.assert_allclose(
        values.loc["back to float"], unit[row, :8], atol=(unit.max() - unit.min()) / 510 + 1e-6
    )

    sims = unit @ unit.T
    dots = code_cosines(codes) if score == "cosine" else codes @ codes.T
    float_order, int8_order = ranked(sims, True), ranked(dots, True)
    table = frames(show(at, TOP_K), "float", "int8", "mark")[0]
    assert table["float"].tolist() == [labels[i] for i in float_order[row, :10]]
    assert table["int8"].tolist() == [labels[i] for i in int8_order[row, :10]]
    np.testing.assert_allclose(table["int8 score"], dots[row, int8_order[row, :10]], rtol=1e-6)
    np.testing.assert_allclose(table["float score"], sims[row, float_order[row, :10]], atol=1e-5)
    exact = table["float"].tolist()
    expected_marks = [
        "❌" if item not in exact else ("✅" if exact.index(item) == i else "↕")
        for i, item in enumerate(table["int8"])
    ]
    assert table["mark"].tolist() == expected_marks

    reference = float_order[:, :10]
    shown = metrics(at)
    assert shown["overlap@10"] == f"{np.mean([x in exact for x in table['int8']]):.0%}"
    assert shown["recall@10, every item"] == f"{overlap(reference, int8_order[:, :10]):.1%}"
    shown = metrics(show(at, RESCORE))
    assert shown["int8 alone"] == f"{overlap(reference, int8_order[:, :10]):.1%}"
    # Rescoring k x 4 candidates with the floats keeps exactly the reference items among them.
    assert shown["int8 + rescore ×4"] == f"{overlap(reference, int8_order[:, :40]):.1%}"


def test_binary_talk_default_mean_center_and_code_cosine(words_static_unit) -> None:
    labels, unit = words_static_unit
    at = open_page("quantization", {"quant_precision": "binary"})
    assert at.selectbox(key="quant_center").value == "mean"
    row = labels.index("queen")
    bits = unit > unit.mean()
    assert frames(at, "dim 0", "dim 7")[0].loc["bit"].astype(int).tolist() == (
        bits[row, :8].astype(int).tolist()
    )
    cos = code_cosines(bits)
    order = ranked(cos, True)
    table = frames(show(at, TOP_K), "float", "binary", "mark")[0]
    assert table["binary"].tolist() == [labels[i] for i in order[row, :10]]
    np.testing.assert_allclose(table["binary score"], cos[row, order[row, :10]], rtol=1e-6)


def test_binary_with_median_center(words_static_unit) -> None:
    labels, unit = words_static_unit
    at = open_page("quantization", {"quant_score": "native"})
    at.radio(key="quant_precision").set_value("binary").run()
    at.selectbox(key="quant_center").set_value("dim-median").run()
    assert not at.exception
    row = labels.index("queen")
    median = np.median(unit, axis=0)
    bits = unit > median
    values = frames(at, "dim 0", "dim 7")[0]
    assert values.loc["bit"].astype(int).tolist() == bits[row, :8].astype(int).tolist()
    np.testing.assert_allclose(values.loc["centre"], median[:8], atol=1e-6)
    bars = figures(at)[0]
    # Floats and bits as bars (filled steps), the centre as a line.
    assert [t.get("line", {}).get("shape") for t in bars["data"]] == ["hvh", None, "hvh"]
    assert array(bars["data"][2]["y"]).tolist() == bits[row].astype(int).tolist()
    dist = hamming(bits)
    order = ranked(dist, False)
    table = frames(show(at, TOP_K), "float", "binary", "mark")[0]
    assert table["binary"].tolist() == [labels[i] for i in order[row, :10]]
    assert table["binary score"].tolist() == dist[row, order[row, :10]].tolist()
    reference = ranked(unit @ unit.T, True)[:, :10]
    assert metrics(show(at, RESCORE))["binary alone"] == f"{overlap(reference, order[:, :10]):.1%}"


def test_per_dimension_calibration(words_static_unit) -> None:
    labels, unit = words_static_unit
    at = open_page("quantization")
    at.toggle(key="quant_perdim").set_value(True).run()
    assert not at.exception
    values = frames(at, "dim 0", "dim 7")[0]
    codes = int8_codes(unit, per_dim=True)
    assert values.loc["int8"].astype(int).tolist() == codes[labels.index("queen"), :8].tolist()


def test_oversample_and_rescore_tables(words_static_unit) -> None:
    labels, unit = words_static_unit
    at = open_page("quantization", {"quant_view": RESCORE})
    at.slider(key="quant_k").set_value(5)
    at.slider(key="quant_factor").set_value(3).run()
    assert not at.exception
    row = labels.index("queen")
    order = ranked(code_cosines(int8_codes(unit)), True)[row]
    candidates = frames(at, "item", "int8 score", "after rescoring")[0]
    assert candidates["item"].tolist() == [labels[i] for i in order[:15]]
    cand_ids = order[:15]
    best = cand_ids[np.argsort(-(unit[cand_ids] @ unit[row]), kind="stable")[:5]]
    rescored = frames(at, "float", "rescored", "mark")[0]
    assert rescored["rescored"].tolist() == [labels[i] for i in best]
    quantized_top = set(order[:5])
    expected = []
    for i in cand_ids:
        if i in best and i not in quantized_top:
            expected.append("rescued ⬆")
        elif i in quantized_top and i not in best:
            expected.append("dropped ⬇")
        else:
            expected.append("kept" if i in best else "")
    assert candidates["after rescoring"].tolist() == expected
    assert f"rescued** {expected.count('rescued ⬆')}" in texts(at)
    curve = next(f for f in figures(at) if "oversampling" in str(f["layout"]["xaxis"]))
    reference = ranked(unit @ unit.T, True)[:, :5]
    full_order = ranked(code_cosines(int8_codes(unit)), True)
    xs = list(range(1, 11))
    expected_curve = [overlap(reference, full_order[:, : 5 * f]) for f in xs]
    np.testing.assert_allclose(array(curve["data"][0]["y"]), expected_curve)


def test_storage_table_matches_real_objects(words_static_unit) -> None:
    labels, unit = words_static_unit
    at = open_page("quantization", {"quant_view": STORAGE})
    table = frames(at, "precision", "bytes per vector")[0].set_index("precision")
    d = unit.shape[1]
    floats = [float(i) for i in range(d)]
    assert table.loc["python-list", "bytes per vector"] == sys.getsizeof(floats) + sum(
        sys.getsizeof(x) for x in floats
    )
    assert table.loc["float64", "bytes per vector"] == sys.getsizeof(np.zeros(d))
    assert table.loc["float32", "bytes per vector"] == sys.getsizeof(np.zeros(d, np.float32))
    assert table.loc["int8", "bytes per vector"] == sys.getsizeof(np.zeros(d, np.int8))
    assert table.loc["binary", "bytes per vector"] == sys.getsizeof(np.packbits(np.zeros(d, bool)))
    assert table.loc["int8", "size vs float32"] == pytest.approx(0.25)
    assert table.loc["binary", "size vs float32"] == pytest.approx(1 / 32)
    assert table.loc["float32", "size vs float64"] == pytest.approx(0.5)


def test_storage_calculator() -> None:
    at = open_page("quantization", {"quant_view": STORAGE})
    shown = metrics(at)
    # Defaults: 1,000,000 x 1,536 at int8 = 1.536e9 B; float32 = 6.144e9 B.
    assert shown["1,000,000 × 1,536 at int8"] == f"1.54 GB = {1.536e9 / 2**20:,.2f} MiB"
    assert shown["float32 for comparison"] == f"6.14 GB = {6.144e9 / 2**20:,.2f} MiB"
    at.number_input(key="quant_calc_n").set_value(2_000)
    at.number_input(key="quant_calc_dims").set_value(384)
    at.selectbox(key="quant_calc_precision").set_value("binary")
    at.toggle(key="quant_calc_keep").set_value(True).run()
    assert not at.exception
    # 2,000 x (48 B of bits + 1,536 B of float32 originals) = 3.168 MB.
    label = "2,000 × 384 at binary + float32 copy"
    assert metrics(at)[label] == f"3.17 MB = {3_168_000 / 2**20:,.2f} MiB"
    delta = next(m for m in at.metric if m.label == label).proto.delta
    assert delta == f"{100 * (3_168_000 / 3_072_000 - 1):+.2f}% vs float32"


def test_storage_calculator_reproduces_the_talks_azure_index() -> None:
    # The talk's Azure AI Search index: 1177.12 MB float32, 298.519 MB int8, 41.8636 MB
    # binary (MiB), i.e. 74.64 % and 96.44 % smaller. 200,000 vectors of 1536 dimensions with
    # 27.5 B of index overhead each reproduce those within 0.2 %.
    params = {"quant_view": STORAGE, "quant_calc_n": "200000", "quant_calc_overhead": "27.5"}
    talk = {"float32": 1177.12, "int8": 298.519, "binary": 41.8636}
    for precision, mib in talk.items():
        at = open_page("quantization", {**params, "quant_calc_precision": precision})
        label = f"200,000 × 1,536 at {precision}"
        shown = metrics(at)[label]
        assert float(shown.split("= ")[1].removesuffix(" MiB").replace(",", "")) == (
            pytest.approx(mib, rel=2e-3)
        )
        if precision != "float32":
            delta = next(m for m in at.metric if m.label == label).proto.delta
            saved = 100 * (1 - mib / talk["float32"])
            assert -float(delta.split("%")[0]) == pytest.approx(saved, abs=0.05)


@pytest.mark.parametrize("dims", [1536, 384])
def test_python_list_sizes_explained(dims: int) -> None:
    # The calculator's dimensions (the talk's 1536 by default): sys.getsizeof of a list parsed
    # from JSON (as an API response arrives) is the talk's 12,728 B; its floats make 49,592 B.
    floats = json.loads(json.dumps(np.random.default_rng(0).normal(size=dims).tolist()))
    at = open_page("quantization", {"quant_view": STORAGE, "quant_calc_dims": str(dims)})
    caption = texts(at)
    pointers, deep = sys.getsizeof(floats), sys.getsizeof(floats) + 24 * dims
    assert f"says {pointers:,} B, only the list's array of pointers" in caption
    assert f"float objects they point to it is {deep:,} B" in caption
    if dims == 1536:
        assert (pointers, deep) == (12_728, 49_592)


def test_deep_link_restores_the_view() -> None:
    params = {
        "quant_precision": "binary",
        "quant_center": "dim-mean",
        "quant_score": "native",
        "quant_k": "4",
        "quant_factor": "2",
        "quant_target": "king",
        "quant_calc_dims": "768",
    }
    at = open_page("quantization", {**params, "quant_view": RESCORE})
    assert at.radio(key="quant_precision").value == "binary"
    assert at.selectbox(key="quant_center").value == "dim-mean"
    assert at.selectbox(key="quant_score").value == "native"
    assert at.slider(key="quant_factor").value == 2
    assert at.text_input(key="quant_target").value == "king"
    assert len(frames(at, "item", "binary score", "after rescoring")[0]) == 8
    assert "1,000,000 × 768 at int8" in metrics(show(at, STORAGE))
    assert at.query_params["quant_view"] == STORAGE


def test_presenter_mode_and_free_text_target() -> None:
    at = open_page("quantization", {"present": "1", "quant_target": "a royal lady"})
    assert presenter_styled(at)
    assert figures(at)[0]["layout"]["font"]["size"] == 18
    table = frames(show(at, TOP_K), "float", "int8", "mark")[0]
    assert len(table) == 10


@pytest.mark.parametrize("target", ["", "  "])
def test_empty_target_warns_and_the_rest_still_works(target) -> None:
    at = open_page("quantization")
    at.text_input(key="quant_target").input(target).run()
    assert not at.exception
    assert any("target is empty" in w.value for w in at.warning)
    assert not figures(at)
    assert not frames(show(at, TOP_K), "float", "int8", "mark")
    assert any("target is empty" in w.value for w in at.warning)
    # Recall over every item does not need the target, nor does storage.
    assert "int8 alone" in metrics(show(at, RESCORE))
    assert frames(show(at, STORAGE), "precision", "bytes per vector")
    assert "float32 for comparison" in metrics(at)


def test_bad_deep_link_values_are_ignored_with_a_warning() -> None:
    at = open_page(
        "quantization",
        {
            "quant_precision": "int4",
            "quant_score": "hamming-ish",
            "quant_factor": "99",
            "quant_calc_n": "-5",
            "quant_view": STORAGE,
        },
    )
    warnings = " ".join(w.value for w in at.warning)
    for key in (
        "quant_precision='int4'",
        "quant_score='hamming-ish'",
        "quant_factor='99'",
        "quant_calc_n='-5'",
    ):
        assert key in warnings
    assert at.radio(key="quant_precision").value == "int8"
    assert at.selectbox(key="quant_score").value == "cosine"
    assert at.number_input(key="quant_calc_n").value == 1_000_000
    assert show(at, RESCORE).slider(key="quant_factor").value == 4


def test_imported_vectors() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 40))
    data = {f"item{i}": v.round(5).tolist() for i, v in enumerate(vectors)}
    at = open_page("quantization", {"dataset": "upload"})
    upload = ("vecs.json", json.dumps(data).encode(), "application/json")
    at.sidebar.file_uploader(key="upload_file").set_value(upload).run()
    assert not at.exception
    # The default target falls back to the first item; k stops at 29 others.
    assert at.text_input(key="quant_target").value == "item0"
    assert at.slider(key="quant_k").max == 29
    u = unit(np.array(list(data.values())))
    order = ranked(u @ u.T, True)
    table = frames(show(at, TOP_K), "float", "int8", "mark")[0]
    assert table["float"].tolist() == [f"item{i}" for i in order[0, :10]]
    assert frames(show(at, STORAGE), "precision", "bytes per vector")[0].shape[0] == 5


def _codes(at) -> tuple[str, str]:
    """The page's two code expanders: the talk's plain Python, then numpy."""
    shown = [c.value for c in at.code]
    assert len(shown) == 2, shown
    assert "def scalar_quantization" in shown[0] or "def binary_quantization" in shown[0]
    assert "import numpy as np" in shown[1]
    return shown[0], shown[1]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"quant_score": "native"},
        {"quant_perdim": "1"},
        {"quant_precision": "binary"},
        {"quant_precision": "binary", "quant_score": "native"},
        {"quant_precision": "binary", "quant_center": "dim-median"},
        {"quant_precision": "binary", "quant_center": "zero", "quant_score": "native"},
    ],
)
def test_code_expanders_reproduce_the_tables(words, params: dict[str, str]) -> None:
    # Both snippets, run as shown on the model's float32 vectors, find the page's candidates
    # (k x factor by codes) and its rescored top k. Codes often tie (0/1 vectors share counts
    # of 1s), and float rounding orders exact ties either way: lists are compared by score.
    labels, vectors = words
    static = vectors["static-minilm-256"]
    at = open_page("quantization", {"quant_view": RESCORE, "quant_factor": "2", **params})
    talk, numpy_code = _codes(at)
    precision = at.radio(key="quant_precision").value
    candidates = frames(at, "item", f"{precision} score", "after rescoring")[0]["item"].tolist()
    rescored = frames(at, "float", "rescored", "mark")[0]["rescored"].tolist()
    assert len(candidates) == 20 and len(rescored) == 10
    # The talk's functions take {label: list of floats}, as its notebooks load them from JSON.
    space: dict = {"vectors": dict(zip(labels, static.tolist(), strict=True))}
    exec(talk, space)
    native = params.get("quant_score") == "native"
    name = (
        "cosine_similarity"
        if not native
        else ("hamming_distance" if precision == "binary" else "dot_product")
    )

    def by_code(items: list[str]) -> list[float]:
        return [space[name](space["query_code"], space["codes"][i]) for i in items]

    def by_float(items: list[str]) -> list[float]:
        return [space["cosine_similarity"](space["query"], space["vectors"][i]) for i in items]

    np.testing.assert_allclose(by_code(space["candidates"]), by_code(candidates), atol=1e-9)
    np.testing.assert_allclose(by_float(space["top"]), by_float(rescored), atol=1e-9)
    assert "queen" not in space["candidates"]
    row = labels.index("queen")
    space = {"vectors": static, "q": static[row]}
    exec(numpy_code, space)
    ids = {label: i for i, label in enumerate(labels)}
    score = space["score"]
    np.testing.assert_allclose(
        score[space["candidates"]], score[[ids[i] for i in candidates]], atol=1e-6
    )
    assert [labels[i] for i in space["top"]] == rescored


def test_code_expanders_for_free_text_and_an_empty_target() -> None:
    at = open_page("quantization", {"quant_target": "a royal lady"})
    talk, numpy_code = _codes(at)
    assert [e.label for e in at.main.expander] == [
        "The same in Python, as the talk's notebooks",
        "The same in numpy",
    ]
    assert "# the embedding of 'a royal lady'" in talk and "list(codes)" in talk
    assert "-np.inf" not in numpy_code  # nothing to leave out
    at.text_input(key="quant_target").input("").run()
    assert not at.code


def test_presenter_binary_controls_and_table() -> None:
    at = open_page("quantization", {"present": "1", "quant_precision": "binary"})
    centre = at.selectbox(key="quant_center")
    assert centre.label == "A bit is 1 above"
    assert centre.options == ["0", "mean of all", "per-dim mean", "per-dim median"]
    centre.set_value("dim-median").run()
    assert not at.exception
    assert list(frames(at, "dim 0")[0].index) == ["float", "bit"]
    assert at.query_params["quant_center"] == "dim-median"


@pytest.mark.parametrize("view", [BEFORE, TOP_K, RESCORE, STORAGE])
def test_presenter_layouts(view: str) -> None:
    at = open_page("quantization", {"present": "1", "quant_view": view})
    assert presenter_styled(at)
    # The code is a row of two popovers beside the tab's table or numbers, not two expanders
    # whose headers ran past a 1280x720 screen (the rescoring tab's candidates come first).
    popovers = [p.proto.popover.label for p in at.get("popover")]
    assert popovers[-2:] == ["Python", "numpy"]
    assert [e.label for e in at.main.expander] == ["What this page shows"]
    _codes(at)
    if view == BEFORE:
        assert figures(at)[0]["layout"]["height"] == 272
        assert any("min " in c.value and "mean " in c.value for c in at.caption)
        # Two table rows; the chart's dots show what each code stands for.
        assert list(frames(at, "dim 0")[0].index) == ["float", "int8"]
        # Short labels keep the control row on one line.
        assert at.toggle(key="quant_perdim").label == "Per-dim range"
        assert at.selectbox(key="quant_score").options == ["cosine (talk)", "dot / Hamming"]
    elif view == TOP_K:
        assert len(frames(at, "float", "int8", "mark")[0]) == 10
        # No download button on a presenter's screen.
        assert "download_quantization_top_k" not in [b.key for b in at.get("download_button")]
    elif view == RESCORE:
        # The curve carries the recalls the metrics show in normal mode.
        assert not at.metric
        curve = figures(at)[0]
        notes = " ".join(a["text"] for a in curve["layout"]["annotations"])
        assert "int8 alone" in notes and "float32 (exact)" in notes
        assert frames(at, "item", "int8 score", "after rescoring")  # in the popover
        assert len(frames(at, "float", "rescored", "mark")[0]) == 10
        assert "rescued** " in texts(at) and "(" not in texts(at).split("rescued**")[1]
    else:
        assert frames(at, "precision", "bytes per vector")
        assert "1,000,000 × 1,536 at int8" in metrics(at)
        delta = next(m for m in at.metric if m.label == "1,000,000 × 1,536 at int8").proto.delta
        assert delta == f"-75.00% vs float32 ({6.144e9 / 2**20:,.2f} MiB)"
        assert "12,728 B" in texts(at)


def test_calculator_shows_no_change_arrow_for_float32_itself() -> None:
    from streamlit.proto.Metric_pb2 import Metric

    at = open_page("quantization", {"quant_view": "Storage", "quant_calc_precision": "float32"})
    same = next(m for m in at.metric if "at float32" in m.label)
    at = open_page("quantization", {"quant_view": "Storage", "quant_calc_precision": "int8"})
    smaller = next(m for m in at.metric if "at int8" in m.label)
    assert "+0.00%" in same.proto.delta and "-" in smaller.proto.delta
    gray, green = (Metric.MetricColor.Value(c) for c in ("GRAY", "GREEN"))
    assert (same.proto.color, smaller.proto.color) == (gray, green)  # not a red "+0.00%"


def control_rows(at) -> list[list[str]]:
    """The keys of the widgets in each row of columns directly under the page's title."""
    rows = []
    for block in at.main.children.values():
        if getattr(block, "type", None) != "flex_container":
            continue
        keys = [w.key for col in block.children.values() for w in col.children.values()]
        rows.append([k for k in keys if k])
    return [r for r in rows if r]


def test_normal_mode_controls_in_two_rows_presenter_mode_in_one() -> None:
    # Six controls in one row beside the open sidebar cut "static-minilm-256" and the labels.
    at = open_page("quantization")
    assert control_rows(at) == [
        ["quant_model", "quant_target", "quant_k"],
        ["quant_precision", "quant_perdim", "quant_score"],
    ]
    at.radio(key="quant_precision").set_value("binary").run()
    assert control_rows(at)[1] == ["quant_precision", "quant_center", "quant_score"]
    at = open_page("quantization", {"present": "1"})
    assert control_rows(at) == [
        ["quant_model", "quant_target", "quant_k", "quant_precision", "quant_perdim", "quant_score"]
    ]


def test_cached_bars_follow_the_content_in_two_sessions(words, words_static_unit) -> None:
    """The code bars are built once per (quantized set, target vector) and shared by the
    sessions: two sessions with the same target and different models, or the same model and
    a changed target, each see the bars of their own vectors."""
    labels, vectors = words
    _, unit = words_static_unit
    static = open_page("quantization")
    minilm = open_page("quantization", {"quant_model": "all-MiniLM-L6-v2"})
    for at, model in ((static, STATIC), (minilm, "all-MiniLM-L6-v2")):
        v = vectors[model][labels.index("queen")].astype(np.float64)
        floats = array(figures(at)[0]["data"][0]["y"])
        np.testing.assert_allclose(floats, v / np.linalg.norm(v), atol=1e-6)
    static.text_input(key="quant_target").input("king").run()
    codes = int8_codes(unit)[labels.index("king")]
    assert array(figures(static)[0]["data"][2]["y"]).tolist() == codes.tolist()
    static.text_input(key="quant_target").input("queen").run()
    again = array(figures(static)[0]["data"][2]["y"])
    assert again.tolist() == int8_codes(unit)[labels.index("queen")].tolist()
    # The same figure in presenter mode is another entry (larger type), not the normal one.
    assert figures(open_page("quantization", {"present": "1"}))[0]["layout"]["font"]["size"] == 18
    assert figures(static)[0]["layout"]["font"]["size"] == 13


def test_section_widgets_round_trip_through_the_url() -> None:
    """The factor slider and the calculator sit in the tab's fragment; their values reach the
    URL and a link made of it reopens the same numbers."""
    at = open_page("quantization", {"quant_view": RESCORE})
    at.slider(key="quant_factor").set_value(6).run()
    shown = metrics(at)
    assert at.query_params["quant_factor"] == "6"
    again = open_page("quantization", dict(at.query_params))
    assert metrics(again) == shown
    assert figures(again) == figures(at)
    show(at, STORAGE)
    at.number_input(key="quant_calc_n").set_value(250_000)
    at.selectbox(key="quant_calc_precision").set_value("binary")
    at.toggle(key="quant_calc_keep").set_value(True).run()
    assert not at.exception
    params = dict(at.query_params)
    assert (params["quant_calc_n"], params["quant_calc_precision"]) == ("250000", "binary")
    assert params["quant_calc_keep"] == "1"
    again = open_page("quantization", params)
    assert "250,000 × 1,536 at binary + float32 copy" in metrics(again)
    assert metrics(again) == metrics(at)
