"""AppTest of the Metrics page: the talk's numbers for the default vectors, the drawing, the
top-k under each metric against a numpy brute force, and the live unit-length check."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest

from tests.page_helpers import array, figures, frames, metrics, open_page, plain, show_tab, texts

METRICS = ["cosine", "dot", "euclidean", "manhattan"]


REAL, CHECK = "On real data", "Unit length, checked"


def test_default_vectors_normalized_show_the_talk_numbers() -> None:
    at = open_page("metrics")
    shown = metrics(at)
    assert shown["euclidean"] == "0.655"
    assert shown["manhattan"] == "1.07"
    assert shown["dot product"] == "0.786"
    assert shown["cosine similarity"] == "0.786"
    assert shown["cosine distance"] == "0.214"
    assert "‖a‖ = 3.7416573867739413, ‖b‖ = 3.7416573867739413" in texts(at)
    code = at.get("code")[0].proto.code_text
    assert code.index("def cosine_similarity(v1, v2):") < code.index("np.linalg.norm")
    assert "v1 = [1, 2, 3]  # vector a\nv2 = [3, 1, 2]  # vector b\n" in code
    assert "# euclidean 0.655" in code and "# cosine distance 0.214" in code
    # The snippet runs and prints the page's numbers: the talk's cosine, its numpy
    # one-liner, the magnitudes, then the other measures on the unit vectors.
    cos = 11 / 14
    assert run_snippet(code) == pytest.approx(
        [cos, cos, math.sqrt(14), math.sqrt(14), math.sqrt(2 - 2 * cos), 1.07, cos, 1 - cos],
        abs=5e-3,
    )


def run_snippet(code: str) -> list[float]:
    """Run a code expander's snippet; every number it prints, in order."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<snippet>", "exec"), {})  # noqa: S102
    return [float(x) for line in out.getvalue().splitlines() for x in line.split()]


def test_unnormalized_vectors_and_the_3d_drawing() -> None:
    at = open_page("metrics")
    at.toggle(key="met_norm").set_value(False).run()
    assert not at.exception
    shown = metrics(at)
    assert shown["euclidean"] == f"{math.sqrt(6):.3g}"  # 2.45
    assert shown["manhattan"] == "4"
    assert shown["dot product"] == "11"
    assert shown["cosine similarity"] == "0.786"  # the angle does not depend on length
    assert "‖a‖ = 3.7416573867739413" in texts(at)
    fig = figures(at)[0]
    assert {t["type"] for t in fig["data"]} == {"scatter3d"}
    by_name = {t["name"]: t for t in fig["data"]}
    np.testing.assert_allclose(array(by_name["a"]["x"]), [0, 1])
    np.testing.assert_allclose(array(by_name["b"]["z"]), [0, 2])
    taxicab = by_name["manhattan 4"]
    path = np.stack([array(taxicab[c]) for c in "xyz"], axis=1)
    np.testing.assert_allclose(path, [[1, 2, 3], [3, 2, 3], [3, 1, 3], [3, 1, 2]])
    assert "euclidean 2.45" in by_name
    # Titled axes whose ranges reach past the origin and both tips, so that two axes' first
    # ticks do not meet at the box's corner.
    scene = fig["layout"]["scene"]
    for i, name in enumerate("xyz"):
        axis = scene[f"{name}axis"]
        assert axis["title"]["text"] == name
        low, high = axis["range"]
        assert low < 0 and high > [3, 2, 3][i]
    code = at.get("code")[0].proto.code_text
    assert "unit length" not in code
    assert run_snippet(code)[4:] == pytest.approx([math.sqrt(6), 4, 11, 1 - 11 / 14])


def test_edited_2d_vectors_draw_a_flat_picture_with_the_right_angle() -> None:
    at = open_page("metrics")
    at.text_input(key="met_a").input("1, 0")
    at.text_input(key="met_b").input("0, 2").run()
    assert not at.exception
    shown = metrics(at)
    assert shown["euclidean"] == f"{math.sqrt(2):.3g}"
    assert shown["cosine similarity"] == "0"
    fig = figures(at)[0]
    assert {t["type"] for t in fig["data"]} == {"scatter"}
    assert any(t["name"].startswith("angle 90.0°") for t in fig["data"])


def test_four_values_are_measured_but_not_drawn() -> None:
    at = open_page("metrics")
    at.text_input(key="met_a").input("1, 2, 3, 4")
    at.text_input(key="met_b").input("4, 3, 2, 1").run()
    assert not at.exception
    assert metrics(at)["cosine similarity"] == f"{20 / 30:.3g}"
    assert any("needs 2 or 3" in i.value for i in at.info)
    assert not figures(at)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ("1, x, 3", "3, 1, 2", "value 2 is 'x'"),
        ("1, 2", "3, 1, 2", "2 and 3 values"),
        ("", "1", "empty"),
    ],
)
def test_bad_vectors_give_an_error_and_the_rest_of_the_page_works(
    a: str, b: str, message: str
) -> None:
    at = open_page("metrics")
    at.text_input(key="met_a").input(a)
    at.text_input(key="met_b").input(b).run()
    assert not at.exception
    assert any(message in plain(e.value) for e in at.error)
    assert "euclidean" not in metrics(at)
    # The other tabs do not depend on the typed vectors.
    assert len(show_tab(at, "met_view", REAL).dataframe) == 4
    assert len(show_tab(at, "met_view", CHECK).dataframe) == 1


def _brute_top(vectors: np.ndarray, row: int, k: int) -> dict[str, list[int]]:
    q = vectors[row].astype(np.float64)
    v = vectors.astype(np.float64)
    scores = {
        "cosine": -(v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q)),
        "dot": -(v @ q),
        "euclidean": np.linalg.norm(v - q, axis=1),
        "manhattan": np.abs(v - q).sum(axis=1),
    }
    out = {}
    for name, s in scores.items():
        s[row] = np.inf
        out[name] = np.argsort(s, kind="stable")[:k].tolist()
    return out


def test_top_k_under_each_metric_matches_a_numpy_brute_force(words) -> None:
    at = open_page("metrics", {"met_target": "cat", "met_k": "7", "met_view": REAL})
    labels, vectors = words
    model = at.selectbox(key="met_model").value
    expected = _brute_top(vectors[model], labels.index("cat"), 7)
    rankings = dict(zip(METRICS, frames(at, "mark"), strict=True))
    for name, frame in rankings.items():
        assert frame["item"].tolist() == [labels[i] for i in expected[name]], name
        assert "cat" not in frame["item"].tolist()
    assert set(rankings["cosine"]["mark"]) == {"✅"}
    # Unit-length vectors: dot and euclidean order the items exactly like cosine.
    assert set(rankings["dot"]["mark"]) == {"✅"}
    assert set(rankings["euclidean"]["mark"]) == {"✅"}
    assert rankings["euclidean"].columns.tolist() == ["rank", "item", "distance", "mark"]


def test_switching_model_and_k_updates_the_rankings(words) -> None:
    at = open_page("metrics", {"met_view": REAL})
    at.selectbox(key="met_model").set_value("all-MiniLM-L6-v2")
    at.slider(key="met_k").set_value(3).run()
    assert not at.exception
    labels, vectors = words
    expected = _brute_top(vectors["all-MiniLM-L6-v2"], labels.index("queen"), 3)
    cosine = frames(at, "mark")[0]
    assert cosine["item"].tolist() == [labels[i] for i in expected["cosine"]]
    assert at.query_params["met_model"] == "all-MiniLM-L6-v2"
    assert at.query_params["met_k"] == "3"


def test_live_check_holds_on_unit_models_and_fails_unnormalized() -> None:
    at = open_page("metrics", {"met_view": CHECK})
    table = frames(at, "statement")[0].set_index("vectors")
    for model in ("static-minilm-256", "all-MiniLM-L6-v2"):
        assert table.loc[model, "statement"] == "✅ holds"
        assert table.loc[model, "largest | cos − dot |"] < 1e-3
    raw = table.loc["all-MiniLM-L6-v2, unnormalised"]
    assert raw["statement"] == "❌ fails"
    assert raw["largest | ‖v‖ − 1 |"] > 0.1
    at.toggle(key="met_raw").set_value(False).run()
    table = frames(at, "statement")[0]
    assert "all-MiniLM-L6-v2, unnormalised" not in table["vectors"].tolist()


def test_free_text_and_empty_targets() -> None:
    at = open_page("metrics", {"met_target": "a small furry pet", "met_view": REAL})
    cosine = frames(at, "mark")[0]
    assert len(cosine) == 10
    at.text_input(key="met_target").input("   ").run()
    assert not at.exception
    assert any("target is empty" in w.value for w in at.warning)
    assert not frames(at, "mark")


def test_deep_link_restores_the_view_and_ignores_an_impossible_k() -> None:
    at = open_page("metrics", {"met_a": "1, 0", "met_b": "0, 1", "met_norm": "0", "met_k": "5000"})
    assert at.text_input(key="met_a").value == "1, 0"
    assert at.toggle(key="met_norm").value is False
    assert metrics(at)["manhattan"] == "2"
    show_tab(at, "met_view", REAL)
    assert any("met_k" in w.value for w in at.warning)
    assert at.slider(key="met_k").value == 10


def test_presenter_mode_uses_large_plot_type() -> None:
    at = open_page("metrics", {"present": "1"})
    assert figures(at)[0]["layout"]["font"]["size"] == 18
    assert metrics(at)["euclidean"] == "0.655"


def test_presenter_mode_shows_every_number_and_one_table_of_the_four_rankings(words) -> None:
    at = open_page("metrics", {"present": "1"})
    assert metrics(at) == {
        "euclidean": "0.655",
        "manhattan": "1.07",
        "dot product": "0.786",
        "cosine similarity": "0.786",
        "cosine distance": "0.214",
    }
    assert "‖a‖ = 3.7416573867739413, ‖b‖ = 3.7416573867739413" in texts(at)
    normal = frames(show_tab(open_page("metrics", {"met_target": "cat"}), "met_view", REAL), "mark")
    show_tab(at, "met_view", REAL)
    at.text_input(key="met_target").input("cat").run()
    assert not at.exception
    (table,) = [df.value for df in at.dataframe]
    by_metric = dict(zip(METRICS, normal, strict=True))
    cosine_items = by_metric["cosine"]["item"].tolist()
    assert table["rank"].tolist() == list(range(1, 11))
    assert table["cosine"].tolist() == cosine_items
    for name in METRICS[1:]:
        frame = by_metric[name]
        kept = len(set(frame["item"]) & set(cosine_items)) / len(cosine_items)
        column = table[f"{name} · {kept:.0%}"]
        assert column.tolist() == [
            f"{i} {m}" for i, m in zip(frame["item"], frame["mark"], strict=True)
        ]
    assert table.columns.tolist()[:2] == ["rank", "cosine"] and len(table.columns) == 5


def test_the_drawing_follows_presenter_mode_both_ways() -> None:
    """The drawing is built once per (typed vectors, Normalise, presenter mode, height) and
    shared: switching presenter mode off and on restyles it, the data stays."""
    at = open_page("metrics", {"present": "1"})
    big = figures(at)[0]
    at.toggle(key="present").set_value(False).run()
    plain = figures(at)[0]
    assert (big["layout"]["font"]["size"], plain["layout"]["font"]["size"]) == (18, 13)
    assert (big["layout"]["height"], plain["layout"]["height"]) == (470, 520)
    for a, b in zip(big["data"], plain["data"], strict=True):
        np.testing.assert_array_equal(array(a["x"]), array(b["x"]))
    at.toggle(key="present").set_value(True).run()
    assert figures(at)[0]["layout"]["font"]["size"] == 18
