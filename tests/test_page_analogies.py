"""AppTest of Similarity's Analogies tab: answers against a numpy brute force over the candidate
words, the drawing against core.analogy_map, every widget, deep links, presenter mode, unknown
words, and the embed-once flow for a model whose candidates are not cached yet."""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.analogy import (
    analogy,
    analogy_map,
    candidate_dataset,
    frequent_words,
    label_sides,
)
from core.embedders.glove import vocabulary
from core.embedders.registry import get_embedder
from core.vectors import load_cached
from tests import test_fragments as fragments
from tests.event_loop import run_in_own_thread
from tests.page_helpers import (
    APP,
    array,
    figures,
    frames,
    open_page,
    plain,
    presenter_styled,
    texts,
)
from views import _analogies, _ui

GLOVE = "glove-6b-50d"
server = fragments.server  # a real Streamlit server (module-scoped), for the fragment test
STATIC = "static-minilm-256"


def open_tab(**params: str) -> object:
    return open_page("similarity", {"sim_view": "Analogies", **params})


def glove_brute_force(a: str, b: str, c: str) -> tuple[list[str], np.ndarray]:
    """Float64 3CosAdd over the 20,000 candidate words, ranked by a full stable argsort."""
    vocab = vocabulary()
    words = frequent_words()
    raw = np.asarray(vocab.vectors[[vocab.index[w] for w in words]], dtype=np.float64)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    q = np.asarray(vocab.vectors[[vocab.index[w] for w in (a, b, c)]], dtype=np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    target = q[1] - q[0] + q[2]
    sims = unit @ target / np.linalg.norm(target)
    order = [i for i in np.argsort(-sims, kind="stable") if words[i] not in (a, b, c)][:5]
    return [words[i] for i in order], sims[order]


def answers(at) -> tuple[list[str], np.ndarray]:
    table = frames(at, "answer", "cosine")[0]
    return table["answer"].tolist(), table["cosine"].to_numpy()


def test_default_question_is_answered_queen_like_brute_force():
    at = open_tab()
    words, scores = answers(at)
    expected, expected_scores = glove_brute_force("man", "king", "woman")
    assert words == expected and words[0] == "queen"
    np.testing.assert_allclose(scores, expected_scores, atol=2e-6)
    assert at.selectbox(key="ana_model").value == GLOVE
    assert "king − man + woman ≈ **queen**" in texts(at)
    assert "trained to place whole sentences by meaning" in texts(at)
    assert not at.error


def test_the_drawing_is_the_analogy_map():
    at = open_tab()
    fig = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("PCA"))
    glove = get_embedder(GLOVE)
    from core.analogy import glove_candidates

    drawn = analogy_map(analogy("man", "king", "woman", glove.embed, glove_candidates()))
    traces = {t["name"]: t for t in fig["data"]}
    question, answers_trace = traces["the question"], traces["answers"]
    np.testing.assert_allclose(array(question["x"]), drawn.coords[:3, 0], atol=1e-6)
    np.testing.assert_allclose(array(answers_trace["y"]), drawn.coords[4:, 1], atol=1e-6)
    assert question["text"] == ["man", "king", "woman"]
    assert answers_trace["text"][0] == "queen"
    arrows = fig["layout"]["annotations"]
    (a_x, a_y), (b_x, b_y) = drawn.coords[0], drawn.coords[1]
    assert (arrows[0]["ax"], arrows[0]["ay"]) == pytest.approx((a_x, a_y))
    assert (arrows[0]["x"], arrows[0]["y"]) == pytest.approx((b_x, b_y))
    c, target = drawn.coords[2], drawn.coords[3]
    assert (arrows[1]["ax"], arrows[1]["x"]) == pytest.approx((c[0], target[0]))
    assert {"a → b", "c → b − a + c"} <= set(traces)


def test_other_local_models_answer_the_same_question():
    at = open_tab()
    others = frames(at, STATIC)[0]
    static = get_embedder(STATIC)
    cached = load_cached(candidate_dataset(), static)
    if cached is None:
        pytest.skip("the static model's candidate vectors are not cached (python -m core.analogy)")
    from core.analogy import Candidates, unit_rows

    expected = analogy(
        "man", "king", "woman", static.embed, Candidates(frequent_words(), unit_rows(cached))
    )
    shown = [cell.rsplit(" ", 1)[0] for cell in others[STATIC]]
    assert shown == list(expected.words)
    assert others[STATIC].iloc[0].endswith(f" {expected.scores[0]:.2f}")
    assert GLOVE not in others.columns


def test_typing_new_words_and_switching_model():
    at = open_tab()
    at.text_input(key="ana_a").input("paris")
    at.text_input(key="ana_b").input("france")
    at.text_input(key="ana_c").input("Rome").run()
    assert not at.exception
    words, _ = answers(at)
    assert words == glove_brute_force("paris", "france", "rome")[0] and words[0] == "italy"
    at.selectbox(key="ana_model").set_value(STATIC).run()
    assert not at.exception
    assert GLOVE in frames(at, GLOVE)[0].columns  # GloVe now sits with the others
    assert "france − paris + Rome ≈" in texts(at)


def test_each_question_is_embedded_once_per_server(monkeypatch):
    """Answers are kept per server by question, model version and candidates: changing the
    model, or a second session asking the same question, embeds nothing; a new word makes
    every model that answers embed the new question once."""
    question = {"ana_a": "cold", "ana_b": "winter", "ana_c": "hot"}
    at = open_tab(**question)
    calls: list[tuple[str, list[str]]] = []
    for model in _analogies.local_models():
        emb = get_embedder(model)

        def counted(texts, real=emb.embed, model=model):
            calls.append((model, list(texts)))
            return real(texts)

        monkeypatch.setattr(emb, "embed", counted)
    before = answers(at)
    at.selectbox(key="ana_model").set_value(STATIC).run()
    other = open_tab(**question)
    assert calls == [] and not other.exception
    words, scores = answers(other)
    assert words == before[0] and np.array_equal(scores, before[1])
    asked = {GLOVE, *frames(other, STATIC)[0].columns}
    other.text_input(key="ana_c").input("dry").run()
    assert sorted(m for m, _ in calls) == sorted(asked)
    assert {tuple(texts) for _, texts in calls} == {("cold", "winter", "dry")}
    assert answers(other)[0] == glove_brute_force("cold", "winter", "dry")[0]


def test_every_widget_reaches_the_url_and_the_link_reopens_the_view():
    at = open_tab()
    at.text_input(key="ana_a").input("paris")
    at.text_input(key="ana_b").input("france")
    at.text_input(key="ana_c").input("tokyo")
    at.selectbox(key="ana_model").set_value(STATIC).run()
    link = {key: at.query_params[key] for key in ("ana_a", "ana_b", "ana_c", "ana_model")}
    assert link == {"ana_a": "paris", "ana_b": "france", "ana_c": "tokyo", "ana_model": STATIC}
    again = open_tab(**link)
    assert answers(again)[0] == answers(at)[0]
    assert texts(again) == texts(at)


@pytest.mark.slow
def test_a_new_word_reruns_the_tab_alone_on_a_real_server(server) -> None:
    """The tab is a fragment: over a real server's websocket, a new c reruns it alone, with
    GloVe's brute-force answers, and the URL keeps every setting (its link reopens them)."""

    async def scenario() -> tuple[fragments.Run, fragments.Run, dict[str, list[str]]]:
        query = {"sim_view": "Analogies"}
        async with fragments.Session(server.url, "similarity", query) as tab:
            await tab.run()
            changed = await tab.run("ana_c", string_value="girl")
            fragments._only_the_fragment(changed, tab, "ana_c")
            link = tab.url_query()
        async with fragments.Session(server.url, "similarity", link) as other:
            return changed, await other.run(), link

    changed, reopened, link = run_in_own_thread(scenario())
    expected = glove_brute_force("man", "king", "girl")[0]
    for run in (changed, reopened):
        top = next(f for f in run.frames() if "answer" in f.columns)
        assert top["answer"].tolist() == expected
    assert link["ana_c"] == ["girl"] and link["ana_a"] == ["man"] and link["ana_b"] == ["king"]
    assert link["sim_view"] == ["Analogies"] and link["ana_model"] == [GLOVE]


def test_a_word_glove_does_not_know_is_named():
    at = open_tab(ana_b="zqxvbw")
    assert not at.exception
    assert any("knows none of the words of 'zqxvbw'" in plain(e.value) for e in at.error)
    assert not frames(at, "answer", "cosine")


def test_skipped_words_of_a_phrase_are_listed():
    at = open_tab(ana_c="young zqxvbw woman")
    assert not at.exception and not at.error
    assert "skipped words it does not know: zqxvbw" in texts(at)


def test_an_empty_word_asks_for_three_words():
    at = open_tab()
    at.text_input(key="ana_b").input("  ").run()
    assert not at.exception
    assert any("Type three words" in w.value for w in at.warning)


def test_deep_link_and_a_bad_model_in_the_link():
    at = open_tab(ana_a="good", ana_b="better", ana_c="bad", ana_model=STATIC)
    assert at.selectbox(key="ana_model").value == STATIC
    assert at.text_input(key="ana_c").value == "bad"
    assert at.query_params["ana_model"] == STATIC
    at = open_tab(ana_model="no-such-model")
    assert at.selectbox(key="ana_model").value == GLOVE
    assert any("Ignored the link's" in w.value for w in at.warning)


def test_presenter_mode_keeps_the_chart_and_drops_the_long_caption():
    at = open_tab(present="1")
    assert presenter_styled(at)
    assert figures(at) and "Answers come from the" not in texts(at)
    # The code folds under the other models' answers, in their column beside the drawing.
    (beside,) = [c for c in at.columns if "The same in Python" in [e.label for e in c.expander]]
    assert beside.dataframe and not beside.get("plotly_chart")
    # Short rows leave room for the note and the code (also beside an "Ask … too" button).
    assert [t.proto.row_height for t in at.dataframe] == [34, 34]
    assert "offsets such as man → king" in " ".join(c.value for c in beside.caption)
    assert "Answers come from the 20,000" in texts(open_tab())


def test_the_cached_drawing_follows_presenter_mode_and_the_question():
    """The drawing is built once per question, model and presenter mode: each session sees
    its own question's, in its own mode, both ways."""
    at = open_tab(ana_c="girl")
    looks = []
    for present in (True, False, True):
        at.session_state["present"] = present
        at.run()
        fig = next(f for f in figures(at) if "PCA" in f["layout"]["xaxis"]["title"]["text"])
        looks.append((fig["layout"]["height"], fig["layout"]["font"]["size"]))
        assert [t for t in fig["data"] if t["name"] == "the question"][0]["text"][2] == "girl"
    assert looks == [(360, 18), (420, 13), (360, 18)]
    other = open_tab(ana_c="boy")
    fig = next(f for f in figures(other) if "PCA" in f["layout"]["xaxis"]["title"]["text"])
    assert [t for t in fig["data"] if t["name"] == "the question"][0]["text"] == [
        "man",
        "king",
        "boy",
    ]


def test_models_without_cached_candidates_wait_for_a_click(tmp_path, monkeypatch):
    """With 300 candidate words nobody has embedded yet and a zero-second threshold, the
    static model waits for the button; Cancel says so; the button embeds and answers."""
    get_embedder(STATIC)  # loaded from the real cache before the cache moves
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_analogies, "CANDIDATES", 300)
    monkeypatch.setattr(_analogies, "AT_ONCE_SECONDS", -1.0)
    monkeypatch.setattr(_analogies, "local_models", lambda: [GLOVE, STATIC])
    at = open_tab(ana_model=STATIC)  # the chosen model itself waits: no answers yet
    assert not frames(at, "answer", "cosine") and at.button(key="ana_embed")
    at.selectbox(key="ana_model").set_value(GLOVE).run()
    assert "Not yet asked: static-minilm-256, which must first embed the 300" in texts(at)
    assert not frames(at, STATIC)
    at.button(key="ana_cancel").click().run()
    assert any("Embedding cancelled" in w.value for w in at.warning)
    _ui._jobs().slot.acquire()  # another session holds the server's long-job slot
    try:
        at.button(key="ana_embed").click().run()
    finally:
        _ui._jobs().slot.release()
    assert any("The server is busy with another long job" in i.value for i in at.info)
    assert not frames(at, STATIC)
    at.button(key="ana_embed").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert (
        frames(at, STATIC) and load_cached(candidate_dataset(300), get_embedder(STATIC)) is not None
    )
    words, _ = answers(at)
    assert len(words) == 5 and set(words) <= set(frequent_words(300))


def page_views() -> list[tuple[str, str | None, str | None]]:
    """(page, tab key, tab label) for every page and each of its tabs, read from views/."""
    out: list[tuple[str, str | None, str | None]] = []
    for page in ("home", "embed", "similarity", "search", "metrics", "quantization", "mrl"):
        source = (APP.parent / "views" / f"{page}.py").read_text()
        key = re.search(r'view_tabs\("(\w+)", VIEWS', source)
        if key is None:
            out.append((page, None, None))
            continue
        views = next(
            ast.literal_eval(node.value)
            for node in ast.parse(source).body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "VIEWS"
        )
        out.extend((page, key.group(1), view) for view in views)
    return out


BLIND_TITLES = "'Zootopia', 'Godmothered', 'Sneakerella'"


@pytest.mark.parametrize("data", ["words", "movies:title", "movies:title+description"])
def test_glove_alone_on_every_page_and_tab(data):
    """GloVe is not unit length and cannot embed three made-up film titles: every page and
    tab still runs, and on movie titles each says which titles, instead of failing."""
    name, _, field = data.partition(":")
    for page, key, view in page_views():
        at = AppTest.from_file(str(APP), default_timeout=300)
        at.query_params.update({"dataset": name, "models": [GLOVE]})
        if field:
            at.query_params["field"] = field
        if key:
            at.query_params[key] = view
        at.switch_page(f"views/{page}.py").run()
        where = f"{data} {page} {view}"
        assert not at.exception, (where, [e.message for e in at.exception])
        errors = [plain(e.value) for e in at.error]
        if field == "title":  # pages that use the dataset's vectors name the three titles
            assert all(BLIND_TITLES in e for e in errors), (where, errors)
            assert errors or page != "similarity", where
        else:
            assert not errors, (where, errors)
        if data == "words" and view == "Two texts":
            pair = frames(at, "a · b")[0].set_index("model")
            assert pair.loc[GLOVE, "cosine"] == pytest.approx(0.7839, abs=5e-5)


def test_spread_of_dog_shows_each_model_its_own_range():
    """Issue 13's lesson: GloVe's similarities to "dog" reach below 0, MiniLM's sit between
    about 0.1 and 0.8 (the words dataset, Similarity's Spread tab)."""
    at = open_page(
        "similarity",
        {"sim_view": "Spread", "sim_target": "dog", "models": [GLOVE, "all-MiniLM-L6-v2"]},
    )
    table = frames(at, "lowest", "highest")[0].set_index("model")
    assert table.loc[GLOVE, "lowest"] < 0 < table.loc["all-MiniLM-L6-v2", "lowest"]
    assert 0.05 < table.loc["all-MiniLM-L6-v2", "lowest"] < 0.15
    assert 0.75 < table.loc["all-MiniLM-L6-v2", "highest"] < 0.85


def test_embed_page_lists_the_words_glove_left_out():
    at = open_page("embed", {"embed_text": "the queen of zqxvbw", "models": [GLOVE]})
    assert "Not in its vocabulary, left out of the average: zqxvbw." in texts(at)
    assert texts(at).count("Not in its vocabulary") == 1  # only GloVe skips words
    at.text_input(key="embed_text").input("zqxvbw").run()
    assert not at.exception
    assert any("knows none of the words of 'zqxvbw'" in plain(e.value) for e in at.error)


def test_the_python_shown_gives_the_same_answers():
    from core.analogy import glove_candidates

    at = open_tab(ana_c=" Woman ")
    code = next(c.value for c in at.code if "target = b - a + c" in c.value)
    candidates = glove_candidates()
    scope = {"words": list(candidates.words), "unit": candidates.unit}
    exec(code, scope)  # the page's own snippet, run on the same candidates
    assert scope["answers"] == answers(at)[0]


def test_the_drawing_keeps_every_label_inside_its_axes():
    at = open_tab(present="1")
    fig = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("PCA"))
    points = [t for t in fig["data"] if t["mode"] in ("markers", "markers+text")]
    xs = np.concatenate([array(t["x"]) for t in points])
    ys = np.concatenate([array(t["y"]) for t in points])
    (x0, x1), (y0, y1) = fig["layout"]["xaxis"]["range"], fig["layout"]["yaxis"]["range"]
    # Each axis reaches 15 % of the points' extent past the outermost point ("woman").
    assert x0 == pytest.approx(xs.min() - 0.15 * np.ptp(xs))
    assert x1 == pytest.approx(xs.max() + 0.15 * np.ptp(xs))
    assert y0 == pytest.approx(ys.min() - 0.15 * np.ptp(ys))
    assert y1 == pytest.approx(ys.max() + 0.15 * np.ptp(ys))
    assert all(t["cliponaxis"] is False for t in points if t["mode"] == "markers+text")
    # Each name leans away from its nearest point (core.analogy.label_sides).
    named = {t["name"]: t for t in fig["data"]}
    order = [named[n] for n in ("the question", "b − a + c", "answers")]
    xy = np.column_stack([np.concatenate([array(t[axis]) for t in order]) for axis in "xy"])
    sides = label_sides(xy)
    assert named["the question"]["textposition"] == sides[:3]
    assert named["answers"]["textposition"] == sides[4:]


def _kinds(node) -> list[str]:
    """Element and block kinds under ``node``, depth first in page order."""
    children = getattr(node, "children", None)
    if not isinstance(children, dict):
        return [node.type]
    return [node.type, *(k for i in sorted(children) for k in _kinds(children[i]))]


def test_presenter_mode_offers_the_waiting_models_beside_the_answer(tmp_path, monkeypatch):
    """In presenter mode the offer to embed a waiting model is a popover on the answer's
    line (not under the tables, at the screen's bottom edge), and its button still works."""
    get_embedder(STATIC)  # loaded from the real cache before the cache moves
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_analogies, "CANDIDATES", 300)
    monkeypatch.setattr(_analogies, "AT_ONCE_SECONDS", -1.0)
    monkeypatch.setattr(_analogies, "local_models", lambda: [GLOVE, STATIC])
    at = open_tab(present="1")
    (popover,) = at.get("popover")
    assert popover.proto.popover.label == plain(f"Ask {STATIC} too").replace("-", "\\-")
    # The popover comes before the drawing and the tables, on the answer's line.
    order = [
        kind for kind in _kinds(at.main) if kind in ("popover", "plotly_chart", "arrow_data_frame")
    ]
    assert order[0] == "popover", order
    assert not frames(at, STATIC)
    at.button(key="ana_embed").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert frames(at, STATIC) and not at.get("popover")
